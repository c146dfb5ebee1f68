//! Numbers as people type them in Vietnamese spreadsheets.
//!
//! `120.000`, `120,000`, `120.000 ₫`, `120000 VND` all mean 120000: in VND a dot or a
//! comma followed by exactly three digits groups thousands. Anything else after a
//! separator is a fractional part, which whole-number fields refuse.

use super::file::Cell;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    NotANumber,
    Fractional,
    TooLarge,
}

/// Largest whole number accepted: exact as a spreadsheet number (2^53 ≈ 9.007e15),
/// so an exported XLSX reads back the same.
pub const MAX_WHOLE: i64 = 9_000_000_000_000_000;

const CURRENCY_MARKS: [&str; 6] = ["vnđ", "vnd", "đồng", "dong", "₫", "đ"];

/// Removes a currency mark (before or after the digits) and all spaces.
fn strip_currency(text: &str) -> String {
    let mut s: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
        .collect::<String>()
        .to_lowercase();
    for mark in CURRENCY_MARKS {
        if let Some(rest) = s.strip_suffix(mark) {
            s = rest.to_string();
        } else if let Some(rest) = s.strip_prefix(mark) {
            s = rest.to_string();
        }
    }
    s
}

/// A whole number written with optional thousands grouping and sign.
fn parse_grouped(text: &str) -> Result<i64, NumberError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return Err(NumberError::NotANumber);
    }
    let separators: Vec<char> = digits.chars().filter(|c| *c == '.' || *c == ',').collect();
    if digits
        .chars()
        .any(|c| !(c.is_ascii_digit() || c == '.' || c == ','))
    {
        return Err(NumberError::NotANumber);
    }
    if !separators.is_empty() {
        let mixed = separators.iter().any(|c| *c != separators[0]);
        let groups: Vec<&str> = digits.split(['.', ',']).collect();
        let grouped = !mixed
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            return if groups.iter().all(|g| !g.is_empty()) {
                Err(NumberError::Fractional)
            } else {
                Err(NumberError::NotANumber)
            };
        }
    }
    let plain: String = digits.chars().filter(char::is_ascii_digit).collect();
    let value = bounded(&plain)?;
    Ok(if negative { -value } else { value })
}

/// ASCII digits as a whole number no larger than `MAX_WHOLE`.
fn bounded(digits: &str) -> Result<i64, NumberError> {
    match digits.parse::<i64>() {
        Ok(value) if value <= MAX_WHOLE => Ok(value),
        _ => Err(NumberError::TooLarge),
    }
}

/// A whole number from a cell; numeric spreadsheet cells are taken as they are.
pub fn whole(cell: &Cell) -> Result<i64, NumberError> {
    match cell.number {
        Some(n) if !n.is_finite() => Err(NumberError::NotANumber),
        Some(n) if n.fract() != 0.0 => Err(NumberError::Fractional),
        Some(n) if n.abs() <= MAX_WHOLE as f64 => Ok(n as i64),
        Some(_) => Err(NumberError::TooLarge),
        None => {
            // Plain digits, as most cells are: without building the text the
            // currency and grouping rules need.
            let plain = cell.text.trim();
            if (1..=16).contains(&plain.len()) && plain.bytes().all(|b| b.is_ascii_digit()) {
                return bounded(plain);
            }
            parse_grouped(&strip_currency(&cell.text))
        }
    }
}

/// A price in whole VND.
pub fn vnd(cell: &Cell) -> Result<i64, NumberError> {
    whole(cell)
}

/// A length in centimetres with at most one decimal, returned in millimetres.
pub fn centimetres_as_mm(cell: &Cell) -> Result<i64, NumberError> {
    let text: String = match cell.number {
        Some(n) => format!("{n}"),
        None => cell
            .text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == ',' { '.' } else { c })
            .collect(),
    };
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    if int.is_empty() || !int.chars().all(|c| c.is_ascii_digit()) {
        return Err(NumberError::NotANumber);
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(NumberError::NotANumber);
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 1 {
        return Err(NumberError::Fractional);
    }
    let whole: i64 = int.parse().map_err(|_| NumberError::TooLarge)?;
    let tenth: i64 = frac.parse().unwrap_or(0);
    whole
        .checked_mul(10)
        .and_then(|mm| mm.checked_add(tenth))
        .filter(|mm| *mm <= MAX_WHOLE)
        .ok_or(NumberError::TooLarge)
}

/// Millimetres written back as centimetres, the way `centimetres_as_mm` reads them.
pub fn mm_as_centimetres(mm: i64) -> String {
    if mm % 10 == 0 {
        (mm / 10).to_string()
    } else {
        format!("{}.{}", mm / 10, mm % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::text(s)
    }

    #[test]
    fn every_way_of_writing_a_vnd_price_means_the_same() {
        for s in [
            "120000",
            "120.000",
            "120,000",
            "120.000 ₫",
            "120.000đ",
            "120000 VND",
            "120 000",
            "₫120.000",
            "120.000 VNĐ",
        ] {
            assert_eq!(vnd(&text(s)), Ok(120_000), "{s}");
        }
        assert_eq!(vnd(&text("1.250.000")), Ok(1_250_000));
        assert_eq!(vnd(&Cell::number(120_000.0)), Ok(120_000));
    }

    #[test]
    fn fractions_are_refused() {
        for s in ["12,5", "120.5", "120000.00", "1,2345", "120.000,50"] {
            assert_eq!(vnd(&text(s)), Err(NumberError::Fractional), "{s}");
        }
        assert_eq!(vnd(&Cell::number(12.5)), Err(NumberError::Fractional));
    }

    #[test]
    fn numbers_beyond_what_a_spreadsheet_holds_exactly_are_refused() {
        assert_eq!(vnd(&text("9.000.000.000.000.000")), Ok(MAX_WHOLE));
        assert_eq!(vnd(&text("12345678901234567")), Err(NumberError::TooLarge));
        assert_eq!(
            vnd(&text("99999999999999999999999")),
            Err(NumberError::TooLarge)
        );
        assert_eq!(vnd(&Cell::number(1e17)), Err(NumberError::TooLarge));
    }

    #[test]
    fn garbage_is_not_a_number() {
        for s in ["", "abc", "12a", "1..000", ".000", "--5", "12k"] {
            assert_eq!(vnd(&text(s)), Err(NumberError::NotANumber), "{s}");
        }
    }

    #[test]
    fn centimetres_keep_one_decimal() {
        assert_eq!(centimetres_as_mm(&text("12")), Ok(120));
        assert_eq!(centimetres_as_mm(&text("2,5")), Ok(25));
        assert_eq!(centimetres_as_mm(&Cell::number(2.5)), Ok(25));
        assert_eq!(
            centimetres_as_mm(&text("2.55")),
            Err(NumberError::Fractional)
        );
        assert_eq!(centimetres_as_mm(&text(" 12 ")), Ok(120));
        assert_eq!(mm_as_centimetres(25), "2.5");
        assert_eq!(mm_as_centimetres(120), "12");
    }
}
