//! Batched per-item writes (stock, price): each item is sent once, with the
//! last value asked for it, and every input gets one outcome, in input order,
//! whatever became of the call that carried it.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use crate::ConnectorError;
use crate::dto::ItemOutcome;

/// Each key once, in key order, with the index of the last input naming it:
/// a key asked for twice is sent once, with the last value (platforms refuse
/// a key repeated in one call, or apply the repeats in any order).
pub fn last_per_key<K: Ord>(keys: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut last = BTreeMap::new();
    for (index, key) in keys.into_iter().enumerate() {
        last.insert(key, index);
    }
    last
}

/// What became of each key sent, gathered call by call and handed back per
/// input.
#[derive(Debug)]
pub struct BatchOutcomes<K> {
    by_key: HashMap<K, Result<(), ConnectorError>>,
}

impl<K> Default for BatchOutcomes<K> {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash> BatchOutcomes<K> {
    /// Records one call's answer for the keys it carried: the call's own
    /// error for every one of them when it failed as a whole (partial failure
    /// is normal, a lost call is not a success), else what `outcome` reads
    /// for each key from the answer.
    pub fn record<A>(
        &mut self,
        keys: impl IntoIterator<Item = K>,
        answer: &Result<A, ConnectorError>,
        outcome: impl Fn(&A, &K) -> Result<(), ConnectorError>,
    ) {
        for key in keys {
            let result = match answer {
                Err(err) => Err(err.clone()),
                Ok(answer) => outcome(answer, &key),
            };
            self.by_key.insert(key, result);
        }
    }

    /// One outcome per input (its SKU and its key), in input order; an input
    /// whose key no recorded call carried was not sent, which is transient.
    pub fn per_input<'a>(
        &self,
        inputs: impl IntoIterator<Item = (&'a str, K)>,
    ) -> Vec<ItemOutcome> {
        inputs
            .into_iter()
            .map(|(sku, key)| ItemOutcome {
                sku: sku.to_string(),
                result: self
                    .by_key
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| Err(ConnectorError::Transient("not sent".into()))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_asked_twice_is_kept_once_with_its_last_index() {
        let last = last_per_key(["B", "A", "B", "C"]);
        assert_eq!(
            last.into_iter().collect::<Vec<_>>(),
            [("A", 1), ("B", 2), ("C", 3)]
        );
    }

    #[test]
    fn every_input_gets_its_keys_outcome_in_input_order() {
        let refused = ConnectorError::Rejected {
            code: "E1".into(),
            field: None,
            message: "no".into(),
        };
        let lost = ConnectorError::Ambiguous("timed out".into());
        let mut outcomes = BatchOutcomes::default();
        let answer: Result<Vec<&str>, ConnectorError> = Ok(vec!["B"]);
        outcomes.record(["A", "B"], &answer, |refusing, key| {
            if refusing.contains(key) {
                Err(refused.clone())
            } else {
                Ok(())
            }
        });
        outcomes.record(["C"], &Err::<Vec<&str>, _>(lost.clone()), |_, _| Ok(()));
        let got = outcomes.per_input([
            ("b", "B"),
            ("a", "A"),
            ("a again", "A"),
            ("c", "C"),
            ("d", "D"),
        ]);
        let got: Vec<(&str, Result<(), ConnectorError>)> = got
            .iter()
            .map(|o| (o.sku.as_str(), o.result.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("b", Err(refused)),
                ("a", Ok(())),
                ("a again", Ok(())),
                ("c", Err(lost)),
                ("d", Err(ConnectorError::Transient("not sent".into()))),
            ]
        );
    }
}
