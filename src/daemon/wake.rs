//! How a channel's worker learns of new work without polling the outbox in
//! a loop:
//! - in this process, whatever records work or hints (a push's hints, an
//!   order import's stock effects) signals the channel's `Notify`;
//! - on PostgreSQL, migration 0010's triggers `NOTIFY chosync_work` with the
//!   channel id on every write that marks work or adds a hint, from any
//!   process (`chosync import`, `chosync stock adjust`, another replica), and
//!   `relay` hands them to the workers;
//! - on SQLite, where no other process can signal this one, each worker
//!   looks for due work and hints every `SQLITE_BACKSTOP` anyway.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

/// Longest a worker sleeps without looking for work on SQLite, where a
/// change made by another process cannot wake it.
pub const SQLITE_BACKSTOP: Duration = Duration::from_secs(2);

/// The same on PostgreSQL, where notifications wake the workers: only a
/// safety net for a notification lost while the listener reconnected.
pub const POSTGRES_BACKSTOP: Duration = Duration::from_secs(30);

/// The channel PostgreSQL notifies on (migration 0010).
pub const NOTIFY_CHANNEL: &str = "chosync_work";

/// Each worker's doorbell, whether this replica owns its channel and the
/// worker runs, and whether the replica stands by.
#[derive(Default)]
pub struct Signals {
    by_channel: BTreeMap<String, Signal>,
    standby: AtomicBool,
    /// The fleet has looked once: until then no channel's place is known.
    settled: AtomicBool,
}

#[derive(Default)]
struct Signal {
    notify: Arc<Notify>,
    owned: AtomicBool,
    running: AtomicBool,
}

impl Signals {
    pub fn new<'a>(channels: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            by_channel: channels
                .into_iter()
                .map(|id| (id.clone(), Signal::default()))
                .collect(),
            standby: AtomicBool::new(false),
            settled: AtomicBool::new(false),
        }
    }

    /// The doorbell of `channel`'s worker (a spare one for an unknown id).
    pub fn doorbell(&self, channel: &str) -> Arc<Notify> {
        self.by_channel
            .get(channel)
            .map(|s| s.notify.clone())
            .unwrap_or_default()
    }

    /// Wakes every worker: stock effects of an order mark every channel.
    pub fn wake_all(&self) {
        for signal in self.by_channel.values() {
            signal.notify.notify_one();
        }
    }

    pub fn set_running(&self, channel: &str, running: bool) {
        if let Some(signal) = self.by_channel.get(channel) {
            signal.running.store(running, Ordering::Relaxed);
        }
    }

    pub fn set_owned(&self, channel: &str, owned: bool) {
        if let Some(signal) = self.by_channel.get(channel) {
            signal.owned.store(owned, Ordering::Relaxed);
        }
    }

    /// After each look of the fleet: whether this replica stands by.
    pub fn set_standby(&self, standby: bool) {
        self.standby.store(standby, Ordering::Relaxed);
        self.settled.store(true, Ordering::Relaxed);
    }
}

impl crate::api::Workers for Signals {
    /// A worker busy with a pass keeps the wake-up (`Notify` stores one) and
    /// looks again when the pass ends.
    fn wake(&self, channel: &str) {
        if let Some(signal) = self.by_channel.get(channel) {
            signal.notify.notify_one();
        }
    }

    fn state(&self) -> crate::api::WorkState {
        crate::api::WorkState {
            settled: self.settled.load(Ordering::Relaxed),
            standby: self.standby.load(Ordering::Relaxed),
            channels: self
                .by_channel
                .iter()
                .map(|(id, s)| {
                    let work = match (
                        s.owned.load(Ordering::Relaxed),
                        s.running.load(Ordering::Relaxed),
                    ) {
                        (true, true) => crate::api::ChannelWork::Running,
                        (true, false) => crate::api::ChannelWork::Stopped,
                        (false, _) => crate::api::ChannelWork::Elsewhere,
                    };
                    (id.clone(), work)
                })
                .collect(),
        }
    }
}

/// Relays PostgreSQL's `chosync_work` notifications to the workers until
/// `stopping`. Notifications sent while the connection was down are lost,
/// so every worker is woken once it is back.
pub async fn relay(url: String, signals: Arc<Signals>, mut stopping: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        let listened = async {
            let mut listener = PgListener::connect(&url).await?;
            listener.listen(NOTIFY_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = tokio::select! {
            _ = stopping.wait_for(|s| *s) => return,
            listened = listened => listened,
        };
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(err) => {
                failures += 1;
                let delay = Duration::from_secs(1 << failures.min(5));
                tracing::warn!(%err, retry_in = ?delay, "cannot listen for work notifications");
                tokio::select! {
                    _ = stopping.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        if failures > 0 {
            tracing::info!("listening for work notifications again");
        }
        failures = 0;
        // Work may have been marked before the listener was up.
        signals.wake_all();
        loop {
            let received = tokio::select! {
                _ = stopping.wait_for(|s| *s) => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    crate::api::Workers::wake(signals.as_ref(), notification.payload());
                }
                // The connection dropped: listen afresh (then wake everyone).
                Ok(None) => {
                    tracing::warn!("work notifications interrupted; listening again");
                    break;
                }
                Err(err) => {
                    tracing::warn!(%err, "work notifications failed; listening again");
                    break;
                }
            }
        }
        // A connection that keeps dropping is not retried in a tight loop.
        tokio::select! {
            _ = stopping.wait_for(|s| *s) => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
