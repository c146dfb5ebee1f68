//! When each kind of sync runs for a channel: cron expressions, to be read
//! in the cooperative's time zone (Asia/Ho_Chi_Minh), seconds first (6 fields, or 7
//! with a year), day-of-week names such as `MON-FRI` (numbers count from
//! 1 = Sunday, unlike Unix cron). `check-config` validates them now; the
//! daemon (`chosync run`, not built yet) is what will fire them — until then
//! passes run when `chosync sync` is called.

use std::str::FromStr;

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

    #[test]
    fn the_defaults_and_weekday_names_are_valid_and_bad_expressions_are_named() {
        assert!(Schedules::default().problems().is_empty());
        let schedules = Schedules {
            price: "0 30 8 * * MON-FRI".into(),
            stock: "*/5 * * *".into(),
            catalogue: "0 0 25 * * *".into(),
        };
        let problems = schedules.problems();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["schedule.catalogue", "schedule.stock"]);
        assert!(problems[1].1.contains("\"*/5 * * *\" is not a schedule"));
    }
}
