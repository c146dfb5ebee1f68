//! Comparing words people typed: seller-centre exports and mapping files may
//! differ in Unicode form (macOS writes decomposed "ệ"), case and spaces.

use unicode_normalization::UnicodeNormalization;

/// The form words are compared in: NFC, trimmed, lower case.
pub fn folded(text: &str) -> String {
    text.trim().nfc().collect::<String>().to_lowercase()
}

/// Whether two words are the same to a person.
pub fn same_words(a: &str, b: &str) -> bool {
    folded(a) == folded(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_and_composed_vietnamese_are_the_same_word() {
        let composed = "Đã hủy";
        let decomposed = "Đa\u{0303} hu\u{0309}y";
        assert_ne!(composed, decomposed);
        assert!(same_words(composed, &format!(" {decomposed} ")));
        assert!(same_words("Chờ Xác Nhận", "chờ xác nhận"));
        assert!(!same_words("Đã hủy", "Đã huy"));
    }
}
