//! Reading the seller centre's times: Vietnam's (UTC+07:00) unless the text
//! carries its own offset.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// How an XLSX date cell is handed on as text: its wall-clock time.
pub const CELL_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Vietnam's offset; it has kept no daylight saving time since 1975.
pub const VIETNAM: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    // Evaluated at compile time: never reached at run time.
    None => panic!("UTC+07:00 is a valid offset"),
};

/// `text` read with `format`: with its offset if it has one, else as
/// Vietnam's time; a format of dates only reads as that day's midnight.
pub fn read_time(format: &str, text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_str(text, format) {
        return Some(at.with_timezone(&Utc));
    }
    let local = NaiveDateTime::parse_from_str(text, format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, format)
                .ok()
                .and_then(|day| day.and_hms_opt(0, 0, 0))
        })?;
    VIETNAM
        .from_local_datetime(&local)
        .single()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("a test time")
    }

    #[test]
    fn times_without_an_offset_are_vietnams() {
        assert_eq!(
            read_time("%d/%m/%Y %H:%M", "14/03/2026 09:26"),
            Some(utc("2026-03-14T02:26:00Z"))
        );
    }

    #[test]
    fn a_time_with_its_offset_keeps_it() {
        assert_eq!(
            read_time("%Y-%m-%d %H:%M:%S %z", "2026-03-14 09:26:00 +0000"),
            Some(utc("2026-03-14T09:26:00Z"))
        );
    }

    #[test]
    fn a_format_of_dates_reads_the_days_midnight_and_nonsense_reads_nothing() {
        assert_eq!(
            read_time("%d/%m/%Y", "14/03/2026"),
            Some(utc("2026-03-13T17:00:00Z"))
        );
        assert_eq!(read_time("%d/%m/%Y %H:%M", "hôm qua"), None);
    }
}
