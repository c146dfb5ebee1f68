//! When each kind of work runs for a channel: cron expressions read in the
//! cooperative's time zone (`[schedule] timezone`, default Asia/Ho_Chi_Minh),
//! seconds first (6 fields, or 7 with a year), day-of-week names such as
//! `MON-FRI` (numbers count from 1 = Sunday, unlike Unix cron).
//!
//! This module decides *when*: the next fire times of an expression
//! ([`fire`]), which tick is due given the last one claimed ([`due`]) and the
//! overview `check-config` and `chosync schedules` print ([`overview`]).
//! Ticks are claimed in the store (`ScheduleStore`), once across replicas;
//! the daemon's workers fire them (`daemon::ticks`, `daemon::worker`).

pub mod due;
pub mod fire;
pub mod overview;
mod zone;

use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use zone::Zone;

/// `[schedule]`: what every channel's schedules share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSettings {
    /// The IANA zone the expressions are read in; times are stored in UTC.
    pub timezone: Zone,
}

/// A kind of scheduled work; each channel has one schedule per kind.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Catalogue,
    Stock,
    Price,
    Orders,
    Reconcile,
    Tokens,
    Prune,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Catalogue,
        Kind::Stock,
        Kind::Price,
        Kind::Orders,
        Kind::Reconcile,
        Kind::Tokens,
        Kind::Prune,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Catalogue => "catalogue",
            Kind::Stock => "stock",
            Kind::Price => "price",
            Kind::Orders => "orders",
            Kind::Reconcile => "reconcile",
            Kind::Tokens => "tokens",
            Kind::Prune => "prune",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel's schedules (`schedule = { stock = "0 */10 * * * *" }`). The
/// defaults stay well inside the platforms' quotas: event-driven pushes and
/// order webhooks never wait for a tick, these are the backstops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedules {
    /// Listings: creates and content (every 6 hours).
    pub catalogue: String,
    /// The periodic stock push (every 10 minutes); orders push stock as they come.
    pub stock: String,
    /// Prices (every 30 minutes).
    pub price: String,
    /// The order poll (every minute), the backstop to the platforms' pushes.
    pub orders: String,
    /// Platform stock against chosync's (nightly, 02:30).
    pub reconcile: String,
    /// Access tokens refreshed before they expire (every 10 minutes).
    pub tokens: String,
    /// The sync log pruned past its retention (daily, 03:15).
    pub prune: String,
}

impl Default for Schedules {
    fn default() -> Self {
        Self {
            catalogue: "0 0 */6 * * *".into(),
            stock: "0 */10 * * * *".into(),
            price: "0 */30 * * * *".into(),
            orders: "0 * * * * *".into(),
            reconcile: "0 30 2 * * *".into(),
            tokens: "0 */10 * * * *".into(),
            prune: "0 15 3 * * *".into(),
        }
    }
}

impl Schedules {
    /// The expression of one kind.
    pub fn expression(&self, kind: Kind) -> &str {
        match kind {
            Kind::Catalogue => &self.catalogue,
            Kind::Stock => &self.stock,
            Kind::Price => &self.price,
            Kind::Orders => &self.orders,
            Kind::Reconcile => &self.reconcile,
            Kind::Tokens => &self.tokens,
            Kind::Prune => &self.prune,
        }
    }

    /// One kind's schedule, parsed.
    pub fn schedule(&self, kind: Kind) -> Result<cron::Schedule, String> {
        parse(self.expression(kind))
    }

    /// Every expression that is not a valid schedule: (key, why).
    pub fn problems(&self) -> Vec<(String, String)> {
        Kind::ALL
            .into_iter()
            .filter_map(|kind| {
                self.schedule(kind)
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
            prune: "0 0 3 * * Funday".into(),
            ..Schedules::default()
        };
        let problems = schedules.problems();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["schedule.catalogue", "schedule.stock", "schedule.prune"]
        );
        assert!(problems[1].1.contains("\"*/5 * * *\" is not a schedule"));
    }

    #[test]
    fn every_kind_has_its_own_key() {
        let schedules = Schedules::default();
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "catalogue",
                "stock",
                "price",
                "orders",
                "reconcile",
                "tokens",
                "prune"
            ]
        );
        assert_eq!(schedules.expression(Kind::Orders), "0 * * * * *");
        assert_eq!(schedules.expression(Kind::Tokens), "0 */10 * * * *");
    }
}
