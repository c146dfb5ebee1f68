//! Text as the catalogue stores it: NFC, trimmed. Header matching folds further.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// NFC-normalises and trims. Vietnamese typed on macOS or copied from PDFs
/// often arrives decomposed (NFD); marketplaces compare titles byte-wise.
/// Text that is already NFC (nearly all of it) is copied as it is: the quick
/// check costs a table lookup per character, normalising several times that.
pub fn clean(raw: &str) -> String {
    let trimmed = raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if is_nfc_quick(trimmed.chars()) == IsNormalized::Yes {
        return trimmed.to_string();
    }
    trimmed.nfc().collect()
}

/// A key for loose matching: no diacritics, lower case, letters and digits only,
/// so `Khối lượng (g)`, `khoi luong g` and `KHOI_LUONG_G` all meet.
pub fn fold(raw: &str) -> String {
    raw.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Number of characters a marketplace would count (Unicode scalar values after NFC).
pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_vietnamese_becomes_composed() {
        let nfd = "Tinh d\u{1ea7}u que\u{302}".nfd().collect::<String>();
        assert_ne!(nfd, "Tinh dầu quê");
        assert_eq!(clean(&format!("  {nfd}\t")), "Tinh dầu quê");
    }

    #[test]
    fn composed_and_ascii_text_comes_back_as_it_is() {
        for text in ["Tinh dầu quế Bắc Kạn", "SKU-0000001", "Miến dong 500 g", ""] {
            assert_eq!(clean(text), text);
            assert_eq!(clean(text), text.nfc().collect::<String>());
        }
        // Composed letters followed by a lone combining mark are normalised too.
        assert_eq!(clean("que\u{302} ầ"), "quê ầ");
    }

    #[test]
    fn folding_ignores_case_diacritics_and_punctuation() {
        assert_eq!(fold("Khối lượng (g)"), "khoiluongg");
        assert_eq!(fold("MÃ SKU"), "masku");
        assert_eq!(fold("Đơn giá"), "dongia");
        assert_eq!(fold("weight_g"), "weightg");
    }
}
