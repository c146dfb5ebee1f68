//! The daemon's task that delivers open alerts to the configured webhook
//! targets (`crate::alerts`). Every replica runs it; each delivery is
//! claimed in the database, so one replica sends it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::alerts::{ResolvedTarget, Retry, bounded, deliver_open};
use crate::store::Store;

pub(super) struct Deliveries {
    pub store: Arc<dyn Store>,
    pub targets: Vec<ResolvedTarget>,
    pub interval: Duration,
    pub replica: String,
    /// Deliveries older than this are forgotten (the sync log's retention).
    pub retention: Duration,
}

/// How often old deliveries are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(3600);

impl Deliveries {
    /// How often open alerts are looked at: a new alert goes out within
    /// this, and a short interval (tests) is kept to.
    fn every(&self) -> Duration {
        (self.interval / 4).clamp(Duration::from_millis(500), Duration::from_secs(15))
    }

    /// Delivers until `stopping` turns true; a delivery in flight then is
    /// dropped (its claim stands until the interval passes).
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        if self.targets.is_empty() {
            // Nothing to deliver; ending early would read as a failure.
            let _ = stopping.wait_for(|s| *s).await;
            return;
        }
        let client = match reqwest::Client::builder()
            .user_agent(concat!("chosync/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(err = %err.without_url(), "alerts: no HTTP client; nothing is delivered");
                let _ = stopping.wait_for(|s| *s).await;
                return;
            }
        };
        let retry = Retry::default();
        let mut forgotten: Option<std::time::Instant> = None;
        loop {
            if forgotten.is_none_or(|at| at.elapsed() >= FORGET_EVERY) {
                forgotten = Some(std::time::Instant::now());
                let before = self.store.now() - bounded(self.retention.max(self.interval));
                if let Err(err) = self.store.forget_alert_deliveries(before).await {
                    tracing::warn!(%err, "alerts: old deliveries could not be forgotten");
                }
            }
            let round = deliver_open(
                self.store.as_ref(),
                &client,
                &self.targets,
                self.interval,
                &self.replica,
                &retry,
            );
            tokio::select! {
                done = round => match done {
                    Ok(done) if done.failed > 0 => tracing::warn!(
                        delivered = done.delivered, failed = done.failed,
                        "alerts: some deliveries failed (see `chosync logs`)"
                    ),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(%err, "alerts: delivery round failed"),
                },
                _ = stopping.wait_for(|s| *s) => return,
            }
            tokio::select! {
                () = tokio::time::sleep(self.every()) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    }
}
