//! GTIN check digits (EAN-8, UPC-A, EAN-13): marketplaces reject a wrong one.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BarcodeError {
    NotDigits,
    WrongLength(usize),
    CheckDigit { expected: u32, found: u32 },
}

impl std::fmt::Display for BarcodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotDigits => write!(f, "must contain digits only"),
            Self::WrongLength(n) => write!(
                f,
                "has {n} digits; EAN-8, UPC-A and EAN-13 have 8, 12 or 13"
            ),
            Self::CheckDigit { expected, found } => {
                write!(f, "check digit is {found} but should be {expected}")
            }
        }
    }
}

pub fn validate(code: &str) -> Result<(), BarcodeError> {
    if !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(BarcodeError::NotDigits);
    }
    if !matches!(code.len(), 8 | 12 | 13) {
        return Err(BarcodeError::WrongLength(code.len()));
    }
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    // Weights alternate 3,1,3,… starting from the digit next to the check digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if expected == check[0] {
        Ok(())
    } else {
        Err(BarcodeError::CheckDigit {
            expected,
            found: check[0],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_codes_pass() {
        assert_eq!(validate("8934563138165"), Ok(())); // EAN-13
        assert_eq!(validate("96385074"), Ok(())); // EAN-8
        assert_eq!(validate("036000291452"), Ok(())); // UPC-A
    }

    #[test]
    fn a_wrong_check_digit_names_the_right_one() {
        assert_eq!(
            validate("8934563138166"),
            Err(BarcodeError::CheckDigit {
                expected: 5,
                found: 6
            })
        );
        assert_eq!(validate("89345631381"), Err(BarcodeError::WrongLength(11)));
        assert_eq!(validate("89345A3138165"), Err(BarcodeError::NotDigits));
    }
}
