//! Attempt events sorted by the call that made them. Listings are created and
//! updated several at a time; each call runs in a scope with its own id, so
//! the sync log files every attempt under the SKUs it was for.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chosync_connector::events::{AttemptEvent, EventSink};

tokio::task_local! {
    static CALL: u64;
}

/// The sink a channel's connector reports to during a pass.
#[derive(Default)]
pub struct CallLog {
    calls: Mutex<HashMap<u64, Vec<AttemptEvent>>>,
    last_id: AtomicU64,
}

/// Calls made outside any scope: the pass's own sequential steps.
pub const UNSCOPED: u64 = 0;

impl CallLog {
    /// An id no other call of this log has had.
    pub fn next_id(&self) -> u64 {
        self.last_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Runs `call` with its attempts filed under `id`.
    pub async fn scoped<F: Future>(id: u64, call: F) -> F::Output {
        CALL.scope(id, call).await
    }

    /// Whether attempts are filed under `id`.
    pub fn pending(&self, id: u64) -> bool {
        self.calls
            .lock()
            .map(|calls| calls.get(&id).is_some_and(|e| !e.is_empty()))
            .unwrap_or(false)
    }

    /// The attempts filed under `id` so far, leaving none behind.
    pub fn take(&self, id: u64) -> Vec<AttemptEvent> {
        self.calls
            .lock()
            .map(|mut calls| calls.remove(&id).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl EventSink for CallLog {
    fn record(&self, event: &AttemptEvent) {
        let id = CALL.try_with(|id| *id).unwrap_or(UNSCOPED);
        if let Ok(mut calls) = self.calls.lock() {
            calls.entry(id).or_default().push(event.clone());
        }
    }
}
