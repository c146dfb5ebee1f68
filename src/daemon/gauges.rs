//! The daemon's task that keeps the database-computed gauges fresh
//! (`crate::metrics::gauges`): once at start, then every 15 seconds, so a
//! scrape reads memory only.

use std::sync::Arc;
use std::time::Duration;

use chosync_connector::credentials::CredentialStore;
use tokio::sync::watch;

use crate::metrics::gauges::{self, Watched};
use crate::store::Store;

/// How often the gauges are read from the database.
pub const EVERY: Duration = Duration::from_secs(15);

/// A store slower than this is left for the next round.
const DEADLINE: Duration = Duration::from_secs(10);

pub(super) struct Gauges {
    pub store: Arc<dyn Store>,
    pub channels: Vec<Watched>,
    pub credentials: Arc<dyn CredentialStore>,
}

impl Gauges {
    /// Refreshes until `stopping` turns true.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        loop {
            let refresh = gauges::refresh(
                self.store.as_ref(),
                &self.channels,
                self.credentials.as_ref(),
            );
            match tokio::time::timeout(DEADLINE, refresh).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(%err, "metrics: the gauges could not be read"),
                Err(_) => tracing::warn!("metrics: reading the gauges timed out"),
            }
            tokio::select! {
                () = tokio::time::sleep(EVERY) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }
}
