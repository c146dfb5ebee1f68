//! Who works which channels: each active replica owns up to its fair share,
//! the channel count divided by the active replicas, rounded up (so every
//! channel has room for an owner). On SQLite one daemon is active — the
//! oldest alive — and the others wait as standbys. Each replica ranks the
//! channels by a hash of (replica, channel): it claims its best-ranked first
//! and gives back its worst-ranked, so replicas do not chase the same ones.

use std::hash::{Hash, Hasher};

use crate::store::replicas::Replica;

/// `me`'s share of `channels` among the `live` replicas (oldest first), of
/// which the first `active_limit` work; `None` when `me` is a standby.
pub fn fair_share(
    me: &str,
    live: &[Replica],
    active_limit: usize,
    channels: usize,
) -> Option<usize> {
    let active = &live[..live.len().min(active_limit)];
    if !active.iter().any(|r| r.id == me) {
        return None;
    }
    Some(channels.div_ceil(active.len()))
}

/// How much `replica` wants `channel`: higher first.
pub fn preference(replica: &str, channel: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (replica, channel).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn replicas(ids: &[&str]) -> Vec<Replica> {
        ids.iter()
            .map(|id| Replica {
                id: (*id).to_string(),
                host: "h".into(),
                pid: 1,
                started_at: DateTime::<Utc>::UNIX_EPOCH,
                heartbeat_at: DateTime::<Utc>::UNIX_EPOCH,
                expires_at: DateTime::<Utc>::UNIX_EPOCH,
            })
            .collect()
    }

    #[test]
    fn shares_cover_every_channel_and_a_standby_owns_none() {
        let live = replicas(&["a", "b", "c"]);
        for channels in 0..10 {
            let shares: Vec<usize> = ["a", "b", "c"]
                .iter()
                .filter_map(|me| fair_share(me, &live, usize::MAX, channels))
                .collect();
            assert_eq!(shares.len(), 3);
            assert!(shares.iter().sum::<usize>() >= channels);
            assert!(shares.iter().all(|s| *s <= channels.div_ceil(3)));
        }
        // SQLite: the oldest works every channel, the others stand by.
        assert_eq!(fair_share("a", &live, 1, 4), Some(4));
        assert_eq!(fair_share("b", &live, 1, 4), None);
        assert_eq!(fair_share("z", &live, usize::MAX, 4), None, "not alive");
    }

    #[test]
    fn preferences_differ_between_replicas() {
        let channels = ["shopee-1", "shopee-2", "lazada-1", "lazada-2"];
        let rank = |replica: &str| {
            let mut ranked = channels.to_vec();
            ranked.sort_by_key(|c| std::cmp::Reverse(preference(replica, c)));
            ranked
        };
        assert_eq!(rank("a"), rank("a"), "stable");
        assert!(
            ["b", "c", "d", "e"].iter().any(|r| rank(r) != rank("a")),
            "the ranking depends on the replica"
        );
    }
}
