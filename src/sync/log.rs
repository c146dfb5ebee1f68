//! The sync log over time: followed as rows are recorded, and pruned.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::settings::SyncSettings;
use crate::store::{LogEntry, LogFilter, Store, StoreError};

/// Row ids a follower looks back over: rows committed out of id order (two
/// passes recording at once) within this window are still shown, once.
const FOLLOW_WINDOW: i64 = 1_000;

/// Rows read at most per look-back.
const FOLLOW_LIMIT: i64 = 10_000;

/// Follows the sync log: first the newest rows that match, then every row
/// recorded after, each once and oldest first.
pub struct LogTail {
    store: Arc<dyn Store>,
    filter: LogFilter,
    shown: BTreeSet<i64>,
    /// The newest row when the tail started, until the first batch is read.
    newest_at_start: Option<i64>,
}

impl LogTail {
    pub async fn start(store: Arc<dyn Store>, filter: LogFilter) -> Result<Self, StoreError> {
        let newest = store.sync_log(&filter).await?.first().map_or(0, |e| e.id);
        // Older rows of the look-back window count as shown, so only rows
        // recorded from now on follow the newest ones.
        let window = LogFilter {
            after_id: Some((newest - FOLLOW_WINDOW).max(0)),
            limit: FOLLOW_LIMIT,
            ..filter.clone()
        };
        let shown = store
            .sync_log(&window)
            .await?
            .into_iter()
            .map(|e| e.id)
            .filter(|id| *id <= newest)
            .collect();
        Ok(Self {
            store,
            filter,
            shown,
            newest_at_start: Some(newest),
        })
    }

    /// Rows not returned before, oldest first: on the first call the newest
    /// rows, then those recorded since the last call.
    pub async fn next_batch(&mut self) -> Result<Vec<LogEntry>, StoreError> {
        let mut entries = self.store.sync_log(&self.filter).await?;
        entries.reverse();
        let newest_at_start = self.newest_at_start.take();
        entries.retain(|e| {
            self.shown.insert(e.id) || newest_at_start.is_some_and(|newest| e.id <= newest)
        });
        let newest = self.shown.last().copied().unwrap_or(0);
        self.shown.retain(|id| *id > newest - FOLLOW_WINDOW);
        self.filter.after_id = Some((newest - FOLLOW_WINDOW).max(0));
        self.filter.limit = self.filter.limit.max(FOLLOW_LIMIT);
        Ok(entries)
    }
}

/// Deletes sync log rows (and finished runs, and old schedule ticks) past
/// the retention period, of one channel (its `prune` schedule) or of all;
/// returns how many log rows went.
pub async fn prune_log(
    store: &dyn Store,
    settings: &SyncSettings,
    channel: Option<&str>,
) -> Result<u64, StoreError> {
    let kept = chrono::Duration::days(i64::from(settings.log_retention_days));
    let pruned = store.prune_sync_log(store.now() - kept, channel).await?;
    if pruned > 0 {
        tracing::info!(
            channel = channel.unwrap_or("all"),
            rows = pruned,
            days = settings.log_retention_days,
            "sync log pruned"
        );
    }
    Ok(pruned)
}
