//! One typed event per attempt: the sync log's raw material. It never carries
//! a secret: no URL (query strings hold signatures and tokens), no body.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptEvent {
    pub channel: String,
    /// The platform path without host or query, e.g. `/api/v2/product/update_stock`.
    pub endpoint: String,
    /// `ok` or a `ConnectorError` kind.
    pub outcome: &'static str,
    pub attempt: u32,
    pub http_status: Option<u16>,
    pub platform_code: Option<String>,
    pub message: Option<String>,
    #[serde(with = "millis")]
    pub latency: Duration,
    pub request_id: Option<String>,
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// Where attempt events go (the sync log, metrics, a test).
pub trait EventSink: Send + Sync {
    fn record(&self, event: &AttemptEvent);
}

/// Logs each attempt through `tracing` only.
pub struct LogOnly;

impl EventSink for LogOnly {
    fn record(&self, _: &AttemptEvent) {}
}

/// Keeps every event, for tests and benchmarks.
#[derive(Default)]
pub struct Recorded(Mutex<Vec<AttemptEvent>>);

impl Recorded {
    pub fn events(&self) -> Vec<AttemptEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The events so far, leaving none behind (one batch's worth at a time).
    pub fn take(&self) -> Vec<AttemptEvent> {
        self.0
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}

impl EventSink for Recorded {
    fn record(&self, event: &AttemptEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event.clone());
        }
    }
}
