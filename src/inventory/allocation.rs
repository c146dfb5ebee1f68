//! `[allocation]`: how a SKU's sellable stock is shared among the channels
//! that list it, per product group.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::channels::ChannelSettings;
use crate::channels::rules::StockRule;
use crate::settings::{SettingProblem, Settings};

/// How the channels of a SKU share its sellable units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every channel is offered all sellable units less its buffer: fewest
    /// missed sales, but two channels may sell the same last unit.
    #[default]
    Shared,
    /// What all channels show together never exceeds the sellable units.
    Partitioned,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllocationSettings {
    /// The mode of products no group names.
    pub mode: Mode,
    /// Below this many sellable units, `shared` turns `partitioned` (0: never).
    pub low_stock_threshold: i64,
    pub groups: Vec<AllocationGroup>,
}

/// Products that share a mode: named by id, or by category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllocationGroup {
    pub name: String,
    pub categories: Vec<String>,
    /// Product ids; a product named here belongs to this group whatever its category.
    pub products: Vec<String>,
    /// The section's mode when left out.
    pub mode: Option<Mode>,
    /// The section's threshold when left out.
    pub low_stock_threshold: Option<i64>,
}

/// What a channel's pass knows of the allocation: the section, and each
/// configured channel's stock rule and whether it is enabled.
#[derive(Debug, Clone, Default)]
pub struct Allocation {
    pub settings: AllocationSettings,
    pub channels: BTreeMap<String, (bool, StockRule)>,
}

/// Every SKU shared: each channel shows its rule applied to all sellable units.
pub static SHARED: Allocation = Allocation {
    settings: AllocationSettings {
        mode: Mode::Shared,
        low_stock_threshold: 0,
        groups: Vec::new(),
    },
    channels: BTreeMap::new(),
};

impl Allocation {
    pub fn new(settings: &Settings) -> Self {
        Self {
            settings: settings.allocation.clone(),
            channels: settings
                .channels
                .iter()
                .map(|c| (c.id.clone(), (c.enabled, c.stock.clone())))
                .collect(),
        }
    }
}

/// The allocation a product follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    pub low_stock_threshold: i64,
}

impl Policy {
    /// The mode at `sellable` units: `shared` runs low into `partitioned`.
    pub fn mode_at(self, sellable: i64) -> Mode {
        match self.mode {
            Mode::Shared if sellable < self.low_stock_threshold => Mode::Partitioned,
            mode => mode,
        }
    }
}

impl AllocationSettings {
    /// Whether some SKU may ever be partitioned: if not, a pass needs to read
    /// nothing of the other channels.
    pub fn may_partition(&self) -> bool {
        let section = Policy {
            mode: self.mode,
            low_stock_threshold: self.low_stock_threshold,
        };
        std::iter::once(section)
            .chain(self.groups.iter().map(|g| self.policy_of(g)))
            .any(|p| p.mode == Mode::Partitioned || p.low_stock_threshold > 0)
    }

    /// The policy of a product: the group naming its id, else the group
    /// naming its category, else the section's.
    pub fn policy(&self, product_id: &str, category: &str) -> Policy {
        let by_id = self
            .groups
            .iter()
            .find(|g| g.products.iter().any(|p| p == product_id));
        let by_category = || {
            self.groups
                .iter()
                .find(|g| g.categories.iter().any(|c| c == category))
        };
        match by_id.or_else(by_category) {
            Some(group) => self.policy_of(group),
            None => Policy {
                mode: self.mode,
                low_stock_threshold: self.low_stock_threshold,
            },
        }
    }

    fn policy_of(&self, group: &AllocationGroup) -> Policy {
        Policy {
            mode: group.mode.unwrap_or(self.mode),
            low_stock_threshold: group
                .low_stock_threshold
                .unwrap_or(self.low_stock_threshold),
        }
    }

    /// Changes whenever what a channel is allotted may change: the section,
    /// or any channel's weight or rule (the others' shares move with it).
    /// Empty while nothing is ever partitioned, so shared channels' hashes
    /// stay as they were.
    pub fn fingerprint(&self, channels: &[ChannelSettings]) -> String {
        use sha2::{Digest, Sha256};
        if !self.may_partition() {
            return String::new();
        }
        let mut hasher = Sha256::new();
        hasher.update(format!("{self:?}\n").as_bytes());
        for channel in channels {
            let line = format!("{} {} {:?}\n", channel.id, channel.enabled, channel.stock);
            hasher.update(line.as_bytes());
        }
        format!("+{}", hex::encode(hasher.finalize()))
    }

    /// What is wrong with the section, for `check-config`.
    pub fn problems(&self) -> Vec<SettingProblem> {
        let mut out = Vec::new();
        let mut problem = |key: String, message: &str| {
            out.push(SettingProblem {
                key,
                message: message.to_string(),
            })
        };
        if self.low_stock_threshold < 0 {
            problem(
                "allocation.low_stock_threshold".into(),
                "must be 0 (never) or more",
            );
        }
        // A product or category in two groups would follow whichever comes first.
        let mut products: BTreeMap<&str, usize> = BTreeMap::new();
        let mut categories: BTreeMap<&str, usize> = BTreeMap::new();
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        for group in &self.groups {
            let key = |name: &str| format!("allocation.groups.{}.{name}", group.name);
            if group.name.trim().is_empty() {
                problem("allocation.groups.name".into(), "must not be empty");
            } else if names.insert(&group.name, 0).is_some() {
                problem(key("name"), "is used by more than one group");
            }
            if group.categories.is_empty() && group.products.is_empty() {
                problem(
                    key("categories"),
                    "the group names no categories and no products: it matches nothing",
                );
            }
            if group.low_stock_threshold.is_some_and(|t| t < 0) {
                problem(key("low_stock_threshold"), "must be 0 (never) or more");
            }
            for product in &group.products {
                *products.entry(product).or_default() += 1;
            }
            for category in &group.categories {
                *categories.entry(category).or_default() += 1;
            }
        }
        for (product, _) in products.iter().filter(|(_, n)| **n > 1) {
            problem(
                format!("allocation.groups.products.{product}"),
                "is named by more than one group",
            );
        }
        for (category, _) in categories.iter().filter(|(_, n)| **n > 1) {
            problem(
                format!("allocation.groups.categories.{category}"),
                "is named by more than one group",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AllocationSettings {
        AllocationSettings {
            mode: Mode::Shared,
            low_stock_threshold: 5,
            groups: vec![
                AllocationGroup {
                    name: "honey".into(),
                    categories: vec!["Mật ong".into()],
                    mode: Some(Mode::Partitioned),
                    ..AllocationGroup::default()
                },
                AllocationGroup {
                    name: "gifts".into(),
                    products: vec!["MO-RUNG".into()],
                    low_stock_threshold: Some(20),
                    ..AllocationGroup::default()
                },
            ],
        }
    }

    #[test]
    fn a_product_named_by_id_follows_its_group_over_its_categorys() {
        let s = settings();
        assert_eq!(s.policy("MO-RUNG", "Mật ong").low_stock_threshold, 20);
        assert_eq!(s.policy("MO-RUNG", "Mật ong").mode, Mode::Shared);
        assert_eq!(s.policy("MO-HOA", "Mật ong").mode, Mode::Partitioned);
        assert_eq!(
            s.policy("TRA", "Trà"),
            Policy {
                mode: Mode::Shared,
                low_stock_threshold: 5
            }
        );
    }

    #[test]
    fn shared_turns_partitioned_below_its_threshold_only() {
        let policy = settings().policy("TRA", "Trà");
        assert_eq!(policy.mode_at(4), Mode::Partitioned);
        assert_eq!(policy.mode_at(5), Mode::Shared);
        let never = AllocationSettings::default().policy("TRA", "Trà");
        assert_eq!(never.mode_at(0), Mode::Shared);
        assert!(!AllocationSettings::default().may_partition());
        assert!(settings().may_partition());
    }

    #[test]
    fn overlapping_or_empty_groups_are_named() {
        let mut s = settings();
        s.low_stock_threshold = -1;
        s.groups.push(AllocationGroup {
            name: "honey".into(),
            categories: vec!["Mật ong".into()],
            ..AllocationGroup::default()
        });
        s.groups.push(AllocationGroup {
            name: "empty".into(),
            low_stock_threshold: Some(-2),
            ..AllocationGroup::default()
        });
        let keys: Vec<String> = s.problems().into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "allocation.low_stock_threshold",
                "allocation.groups.honey.name",
                "allocation.groups.empty.categories",
                "allocation.groups.empty.low_stock_threshold",
                "allocation.groups.categories.Mật ong",
            ]
        );
    }
}
