//! Spans of time as the flags take them: `30s`, `30m`, `1h`, `2d`, `1w`
//! (`logs --since`, `demo --duration`).

/// A whole number and one unit letter; none of "1.5h", "1 h" or "-1h".
pub(super) fn parse(text: &str) -> Option<chrono::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n >= 0)?;
    match unit {
        "s" => chrono::Duration::try_seconds(n),
        "m" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        "w" => chrono::Duration::try_weeks(n),
        _ => None,
    }
}

/// `parse` for clap, as a standard duration.
pub(super) fn duration(text: &str) -> Result<std::time::Duration, String> {
    parse(text)
        .and_then(|span| span.to_std().ok())
        .ok_or_else(|| format!("\"{text}\" is not like 30s, 10m, 1h, 2d or 1w"))
}

#[cfg(test)]
mod tests {
    use super::{duration, parse};

    #[test]
    fn a_span_reads_seconds_minutes_hours_days_and_weeks() {
        assert_eq!(parse("20s"), Some(chrono::Duration::seconds(20)));
        assert_eq!(parse("30m"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse(" 1h "), Some(chrono::Duration::hours(1)));
        assert_eq!(parse("2d"), Some(chrono::Duration::days(2)));
        assert_eq!(parse("1w"), Some(chrono::Duration::weeks(1)));
        assert_eq!(duration("0s"), Ok(std::time::Duration::ZERO));
    }

    #[test]
    fn what_is_not_a_span_is_refused() {
        for text in ["", "h", "-1h", "1y", "1.5h", "1 h", "99999999999999w"] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert!(duration("60").is_err());
    }
}
