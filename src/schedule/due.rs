//! Which tick is due: the latest fire time at or before now, unless it (or
//! a later one) was claimed already. Ticks missed while no daemon ran are
//! not replayed one by one: they collapse into that one latest tick, so a
//! daemon back after a night away runs each kind once, not once per tick.
//! A schedule that never ran has its latest fire time due at once (a first
//! start catches up once).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::fire::latest_fire;

/// The fire time to claim now, if any.
pub fn due_tick(
    schedule: &cron::Schedule,
    zone: Tz,
    last_claimed: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let latest = latest_fire(schedule, zone, now)?;
    match last_claimed {
        Some(last) if last >= latest => None,
        _ => Some(latest),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use chrono::TimeDelta;

    use super::*;
    use crate::clock::{Clock, FixedClock};

    const HCM: Tz = Tz::Asia__Ho_Chi_Minh;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").to_utc()
    }

    fn cron(expression: &str) -> cron::Schedule {
        cron::Schedule::from_str(expression).expect("expression")
    }

    /// A daemon's loop on a fake clock: every `step`, claim what is due.
    fn claimed_between(
        schedule: &cron::Schedule,
        mut last: Option<DateTime<Utc>>,
        from: &str,
        to: &str,
        step: TimeDelta,
    ) -> Vec<DateTime<Utc>> {
        let clock = FixedClock::new(at(from));
        let mut claimed = Vec::new();
        while clock.now() <= at(to) {
            if let Some(tick) = due_tick(schedule, HCM, last, clock.now()) {
                claimed.push(tick);
                last = Some(tick);
            }
            clock.advance(step);
        }
        claimed
    }

    #[test]
    fn ticks_fire_at_their_instants_across_the_vietnamese_day_boundary() {
        let every_five = cron("0 */5 * * * *");
        assert_eq!(
            claimed_between(
                &every_five,
                Some(at("2026-12-01T16:50:00Z")),
                "2026-12-01T16:50:07Z",
                "2026-12-01T17:10:59Z",
                TimeDelta::seconds(20),
            ),
            [
                at("2026-12-01T16:55:00Z"),
                at("2026-12-01T17:00:00Z"),
                at("2026-12-01T17:05:00Z"),
                at("2026-12-01T17:10:00Z"),
            ]
        );
        let midnight = cron("0 0 0 * * *");
        assert_eq!(
            claimed_between(
                &midnight,
                Some(at("2026-11-30T17:00:00Z")),
                "2026-12-01T16:58:00Z",
                "2026-12-01T17:03:00Z",
                TimeDelta::seconds(1),
            ),
            [at("2026-12-01T17:00:00Z")],
            "local midnight is 17:00 UTC, claimed once"
        );
        let weekday_midnights = cron("0 0 0 * * MON-FRI");
        assert_eq!(
            claimed_between(
                &weekday_midnights,
                Some(at("2026-12-03T17:00:00Z")),
                "2026-12-04T00:00:00Z",
                "2026-12-07T16:00:00Z",
                TimeDelta::minutes(30),
            ),
            [at("2026-12-06T17:00:00Z")],
            "Saturday and Sunday midnights (local) do not fire; Monday's is Sunday 17:00 UTC"
        );
    }

    #[test]
    fn missed_ticks_collapse_into_one_due_tick() {
        let every_ten = cron("0 */10 * * * *");
        // Down from 10:00 to 10:47:30: 10:10 … 10:40 were missed.
        let now = at("2026-12-01T10:47:30Z");
        let last = Some(at("2026-12-01T10:00:00Z"));
        assert_eq!(
            due_tick(&every_ten, HCM, last, now),
            Some(at("2026-12-01T10:40:00Z"))
        );
        // Once that one is claimed nothing is due until 10:50.
        let last = Some(at("2026-12-01T10:40:00Z"));
        assert_eq!(due_tick(&every_ten, HCM, last, now), None);
        assert_eq!(
            due_tick(&every_ten, HCM, last, at("2026-12-01T10:50:00Z")),
            Some(at("2026-12-01T10:50:00Z"))
        );
        // A night away: the nightly job runs once at start, for last night.
        let nightly = cron("0 30 2 * * *");
        assert_eq!(
            due_tick(
                &nightly,
                HCM,
                Some(at("2026-11-27T19:30:00Z")),
                at("2026-12-01T03:00:00Z")
            ),
            Some(at("2026-11-30T19:30:00Z"))
        );
    }

    #[test]
    fn a_schedule_that_never_ran_catches_up_once_and_a_later_claim_wins() {
        let every_ten = cron("0 */10 * * * *");
        let now = at("2026-12-01T10:47:30Z");
        assert_eq!(
            due_tick(&every_ten, HCM, None, now),
            Some(at("2026-12-01T10:40:00Z"))
        );
        // A claim recorded ahead of this clock (another replica's) is not redone.
        assert_eq!(
            due_tick(&every_ten, HCM, Some(at("2026-12-01T10:50:00Z")), now),
            None
        );
    }
}
