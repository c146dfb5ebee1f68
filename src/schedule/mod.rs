//! When each kind of sync runs for a channel: cron expressions read in the
//! cooperative's time zone (Asia/Ho_Chi_Minh), seconds first (6 fields, or 7
//! with a year), day-of-week names such as `MON-FRI` (numbers count from
//! 1 = Sunday, unlike Unix cron). `check-config` validates them now; the
//! daemon (`chosync run`, not built yet) is what will fire them — until then
//! passes run when `chosync sync` is called.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use serde::{Deserialize, Serialize};

/// A channel's schedules (`schedule = { stock = "0 */10 * * * *" }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedules {
    /// Listings: creates and content.
    pub catalogue: String,
    /// The periodic stock push; orders push stock as they come, this is the backstop.
    pub stock: String,
    pub price: String,
}

impl Default for Schedules {
    fn default() -> Self {
        Self {
            catalogue: "0 0 */6 * * *".into(),
            stock: "0 */10 * * * *".into(),
            price: "0 */30 * * * *".into(),
        }
    }
}

impl Schedules {
    fn each(&self) -> [(&'static str, &str); 3] {
        [
            ("catalogue", &self.catalogue),
            ("stock", &self.stock),
            ("price", &self.price),
        ]
    }

    /// Every expression that is not a valid schedule: (key, why).
    pub fn problems(&self) -> Vec<(String, String)> {
        self.each()
            .into_iter()
            .filter_map(|(kind, expression)| {
                parse(expression)
                    .err()
                    .map(|why| (format!("schedule.{kind}"), why))
            })
            .collect()
    }

    /// The next time `kind` fires after `after`, if its expression is valid
    /// and ever fires again.
    pub fn next(&self, kind: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (_, expression) = self.each().into_iter().find(|(k, _)| *k == kind)?;
        let schedule = parse(expression).ok()?;
        let local = after.with_timezone(&Ho_Chi_Minh);
        schedule.after(&local).next().map(|t| t.with_timezone(&Utc))
    }
}

fn parse(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression).map_err(|e| {
        format!(
            "\"{expression}\" is not a schedule ({e}); write seconds first, e.g. \"0 */30 * * * *\" for every 30 minutes"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid time")
            .to_utc()
    }

    #[test]
    fn the_defaults_are_valid_and_fire_in_vietnamese_time() {
        let schedules = Schedules::default();
        assert!(schedules.problems().is_empty());
        // 10:07 in Hà Nội: the next 6-hourly catalogue run is at 12:00 there.
        let next = schedules.next("catalogue", at("2026-11-29T10:07:00+07:00"));
        assert_eq!(next, Some(at("2026-11-29T12:00:00+07:00")));
        assert_eq!(
            schedules.next("stock", at("2026-11-29T10:07:00+07:00")),
            Some(at("2026-11-29T10:10:00+07:00"))
        );
    }

    #[test]
    fn weekday_names_and_bad_expressions() {
        let schedules = Schedules {
            price: "0 30 8 * * MON-FRI".into(),
            stock: "*/5 * * *".into(),
            catalogue: "0 0 25 * * *".into(),
        };
        // Sunday 29 November 2026: the next weekday run is Monday 08:30.
        assert_eq!(
            schedules.next("price", at("2026-11-29T09:00:00+07:00")),
            Some(at("2026-11-30T08:30:00+07:00"))
        );
        let problems = schedules.problems();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["schedule.catalogue", "schedule.stock"]);
        assert!(problems[1].1.contains("\"*/5 * * *\" is not a schedule"));
        assert_eq!(
            schedules.next("stock", at("2026-11-29T09:00:00+07:00")),
            None
        );
    }
}
