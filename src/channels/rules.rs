//! Per-channel price and stock rules: what a marketplace shows, given the
//! catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Rounding {
    #[default]
    Up,
    Down,
    Nearest,
}

/// Catalogue price × (1 + markup %) + fixed VND, rounded; a per-SKU override wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceRule {
    pub markup_percent: f64,
    pub add_vnd: i64,
    /// Round to a multiple of this many VND (1,000 by default).
    pub round_to: i64,
    pub rounding: Rounding,
    /// SKU → price on this channel, whatever the catalogue says.
    pub overrides: BTreeMap<String, i64>,
}

impl Default for PriceRule {
    fn default() -> Self {
        Self {
            markup_percent: 0.0,
            add_vnd: 0,
            round_to: 1_000,
            rounding: Rounding::Up,
            overrides: BTreeMap::new(),
        }
    }
}

impl PriceRule {
    /// The channel's price for a SKU, in whole VND (never below one rounding step).
    pub fn apply(&self, sku: &str, catalogue_price: i64) -> i64 {
        if let Some(price) = self.overrides.get(sku) {
            return *price;
        }
        let raw =
            catalogue_price as f64 * (1.0 + self.markup_percent / 100.0) + self.add_vnd as f64;
        let step = self.round_to.max(1) as f64;
        let steps = raw / step;
        let rounded = match self.rounding {
            Rounding::Up => steps.ceil(),
            Rounding::Down => steps.floor(),
            Rounding::Nearest => steps.round(),
        } * step;
        (rounded as i64).max(self.round_to.max(1))
    }

    /// What is wrong with the rule, for `check-config`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.round_to <= 0 {
            out.push(("price.round_to".into(), "must be at least 1 VND".into()));
        }
        if !(self.markup_percent > -100.0 && self.markup_percent <= 1_000.0) {
            out.push((
                "price.markup_percent".into(),
                "must be above -100 and at most 1000".into(),
            ));
        }
        for (sku, price) in &self.overrides {
            if *price <= 0 {
                out.push((
                    format!("price.overrides.{sku}"),
                    "must be a price above 0 VND".into(),
                ));
            }
        }
        out
    }
}

/// What a channel may sell of what is available: a share, less a buffer,
/// capped, and nothing at all below a threshold. Monotone, and never more
/// than what is available: the allocation relies on both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StockRule {
    /// Units kept back from this channel.
    pub buffer: i64,
    /// Share of the available units this channel may sell.
    pub percent: f64,
    /// Show at most this many.
    pub max: Option<i64>,
    /// With fewer than this many available, show none.
    pub zero_below: Option<i64>,
    /// This channel's share, against the other channels' weights, when a
    /// SKU's units are partitioned (`[allocation]`).
    pub weight: i64,
}

impl Default for StockRule {
    fn default() -> Self {
        Self {
            buffer: 0,
            percent: 100.0,
            max: None,
            zero_below: None,
            weight: 1,
        }
    }
}

impl StockRule {
    pub fn apply(&self, available: i64) -> i64 {
        if self
            .zero_below
            .is_some_and(|threshold| available < threshold)
        {
            return 0;
        }
        let share = (available.max(0) as f64 * self.percent / 100.0).floor() as i64;
        let shown = (share - self.buffer).max(0);
        self.max.map_or(shown, |max| shown.min(max))
    }

    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.buffer < 0 {
            out.push(("stock.buffer".into(), "must be 0 or more".into()));
        }
        if !(0.0..=100.0).contains(&self.percent) {
            out.push(("stock.percent".into(), "must be between 0 and 100".into()));
        }
        if self.max.is_some_and(|m| m < 0) {
            out.push(("stock.max".into(), "must be 0 or more".into()));
        }
        if self.weight < 1 {
            out.push(("stock.weight".into(), "must be 1 or more".into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_get_the_markup_and_round_to_a_thousand_dong() {
        let rule = PriceRule {
            markup_percent: 5.0,
            ..PriceRule::default()
        };
        assert_eq!(rule.apply("X", 85_000), 90_000); // 89,250 → up
        let down = PriceRule {
            markup_percent: 5.0,
            rounding: Rounding::Down,
            ..PriceRule::default()
        };
        assert_eq!(down.apply("X", 85_000), 89_000);
        let nearest = PriceRule {
            add_vnd: 499,
            rounding: Rounding::Nearest,
            ..PriceRule::default()
        };
        assert_eq!(nearest.apply("X", 65_000), 65_000);
        let mut overridden = PriceRule::default();
        overridden.overrides.insert("TDQ-10ML".into(), 79_000);
        assert_eq!(overridden.apply("TDQ-10ML", 85_000), 79_000);
        assert_eq!(
            PriceRule::default().apply("X", 1),
            1_000,
            "never below one step"
        );
    }

    #[test]
    fn stock_shown_is_a_share_less_a_buffer_capped_and_zero_when_low() {
        let rule = StockRule {
            buffer: 2,
            percent: 50.0,
            max: Some(30),
            zero_below: Some(5),
            weight: 1,
        };
        assert_eq!(rule.apply(100), 30);
        assert_eq!(rule.apply(20), 8);
        assert_eq!(rule.apply(4), 0);
        assert_eq!(rule.apply(-3), 0);
        assert_eq!(StockRule::default().apply(120), 120);
    }

    #[test]
    fn a_channel_weight_below_one_is_a_problem() {
        let rule = StockRule {
            weight: 0,
            ..StockRule::default()
        };
        let keys: Vec<String> = rule.problems().into_iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["stock.weight"]);
        assert!(StockRule::default().problems().is_empty());
    }
}
