//! When an expression fires: read in the schedule's zone, returned in UTC
//! (what the store keeps and compares).

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use chrono_tz::Tz;

/// The next `count` fire times strictly after `after`.
pub fn next_fires(
    schedule: &cron::Schedule,
    zone: Tz,
    after: DateTime<Utc>,
    count: usize,
) -> Vec<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&zone))
        .take(count)
        .map(|t| t.to_utc())
        .collect()
}

/// The latest fire time at or before `now`; `None` if the expression has
/// never fired (a year field in the future).
pub fn latest_fire(
    schedule: &cron::Schedule,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Fire times are whole seconds, and cron looks back from strictly before
    // a whole second: start one second past `now`'s so `now` itself counts.
    let probe = now
        .trunc_subsecs(0)
        .checked_add_signed(TimeDelta::seconds(1))?;
    schedule
        .after(&probe.with_timezone(&zone))
        .next_back()
        .map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const HCM: Tz = Tz::Asia__Ho_Chi_Minh;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").to_utc()
    }

    fn cron(expression: &str) -> cron::Schedule {
        cron::Schedule::from_str(expression).expect("expression")
    }

    #[test]
    fn vietnamese_midnight_fires_at_17_utc_the_day_before() {
        let midnight = cron("0 0 0 * * *");
        assert_eq!(
            next_fires(&midnight, HCM, at("2026-12-01T16:59:59Z"), 2),
            [at("2026-12-01T17:00:00Z"), at("2026-12-02T17:00:00Z")]
        );
        // At the instant itself, it is the latest fire time, not a next one.
        assert_eq!(
            next_fires(&midnight, HCM, at("2026-12-01T17:00:00Z"), 1),
            [at("2026-12-02T17:00:00Z")]
        );
        assert_eq!(
            latest_fire(&midnight, HCM, at("2026-12-01T17:00:00Z")),
            Some(at("2026-12-01T17:00:00Z"))
        );
        assert_eq!(
            latest_fire(&midnight, HCM, at("2026-12-01T16:59:59.999Z")),
            Some(at("2026-11-30T17:00:00Z"))
        );
    }

    #[test]
    fn day_names_are_the_days_of_the_zone_not_of_utc() {
        // Saturday 00:00 in Hồ Chí Minh City is still Friday 17:00 in UTC
        // (2026-12-04 is a Friday).
        let saturday = cron("0 0 0 * * SAT");
        assert_eq!(
            next_fires(&saturday, HCM, at("2026-12-04T16:30:00Z"), 1),
            [at("2026-12-04T17:00:00Z")]
        );
        // Weekday mornings: from Friday after 08:30 the next ones are Monday
        // to Wednesday; Monday 06:00 local is Sunday 23:00 UTC.
        let weekdays = cron("0 30 8 * * MON-FRI");
        assert_eq!(
            next_fires(&weekdays, HCM, at("2026-12-04T02:00:00Z"), 3),
            [
                at("2026-12-07T01:30:00Z"),
                at("2026-12-08T01:30:00Z"),
                at("2026-12-09T01:30:00Z"),
            ]
        );
        let monday_early = cron("0 0 6 * * MON");
        assert_eq!(
            next_fires(&monday_early, HCM, at("2026-12-05T12:00:00Z"), 1),
            [at("2026-12-06T23:00:00Z")]
        );
        assert_eq!(
            latest_fire(&weekdays, HCM, at("2026-12-06T12:00:00Z")),
            Some(at("2026-12-04T01:30:00Z")),
            "over the weekend the latest was Friday's"
        );
    }

    #[test]
    fn an_expression_that_never_fired_has_no_latest_time() {
        let future = cron("0 0 0 1 1 * 2099");
        assert_eq!(latest_fire(&future, HCM, at("2026-12-01T00:00:00Z")), None);
        assert_eq!(
            next_fires(&future, HCM, at("2026-12-01T00:00:00Z"), 3),
            [at("2098-12-31T17:00:00Z")]
        );
    }
}
