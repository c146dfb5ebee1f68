//! One channel's worker, on the replica that owns the channel: a task that
//! sleeps until there is work — a wake-up (see `wake`), a schedule's tick
//! (see `ticks`), deferred work falling due, a retry — then takes the
//! pushes' hints, runs the ticks due, and pushes due work after the
//! debounce, so that a burst of changes goes out in the platform's batches.
//! Every pass runs under the replica's lease on the channel. A failure is
//! logged and retried with backoff; it never reaches another channel's
//! worker.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::ticks::Ticks;
use super::wake::Signals;
use crate::channels::prepare::LiveChannel;
use crate::orders::{self, Source};
use crate::schedule::Kind;
use crate::settings::{OrderSettings, SyncSettings};
use crate::store::schedule::TickOutcome;
use crate::store::{Aspect, Store};
use crate::sync::{self, Options, SyncError, sync_channel};

/// How a worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Waited between noticing due work and pushing it.
    pub debounce: Duration,
    /// Longest sleep without looking for work (see `wake`).
    pub backstop: Duration,
    /// The channel's lease during a pass.
    pub lease: Duration,
}

/// A busy channel (its lease held elsewhere) is asked again after this.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// The kinds of tick a worker fires (all of them).
pub const KINDS: [Kind; 7] = [
    Kind::Tokens,
    Kind::Orders,
    Kind::Stock,
    Kind::Price,
    Kind::Catalogue,
    Kind::Reconcile,
    Kind::Prune,
];

pub struct Worker {
    pub live: Arc<LiveChannel>,
    pub store: Arc<dyn Store>,
    pub signals: Arc<Signals>,
    pub timing: Timing,
    pub orders: OrderSettings,
    pub sync: SyncSettings,
    pub ticks: Ticks,
    /// The replica: whose lease the passes run under, who claims the ticks.
    pub replica: String,
    /// Turns true on SIGTERM or Ctrl-C, or when the channel goes to another
    /// replica: claim nothing more.
    pub stopping: watch::Receiver<bool>,
    /// Turns true once the shutdown's grace period is over, or the lease is
    /// lost: drop what is in flight (its work stays pending; a pass marks
    /// its run).
    pub abandon: watch::Receiver<bool>,
}

/// Whether work is due, and when deferred work will be.
enum Due {
    Now,
    At(Instant),
    Nothing,
}

/// Exponential backoff of one kind of work after failures: 1 s doubling to 5 min.
#[derive(Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    fn ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| until <= now)
    }

    fn failed(&mut self, now: Instant) -> Duration {
        let delay =
            (Duration::from_secs(1) * 2u32.pow(self.failures.min(9))).min(Duration::from_secs(300));
        self.failures += 1;
        self.until = Some(now + delay);
        delay
    }

    fn retry_after(&mut self, now: Instant, delay: Duration) {
        self.until = Some(now + delay);
    }

    fn succeeded(&mut self) {
        *self = Self::default();
    }
}

impl Worker {
    fn id(&self) -> &str {
        &self.live.settings.id
    }

    pub async fn run(mut self) {
        let doorbell = self.signals.doorbell(self.id());
        self.signals.set_running(self.id(), true);
        tracing::info!(channel = self.id(), "worker started");
        self.work(&doorbell).await;
        self.signals.set_running(self.id(), false);
        tracing::info!(channel = self.id(), "worker stopped");
    }

    async fn work(&mut self, doorbell: &Notify) {
        let mut hints_backoff = Backoff::default();
        let mut push_backoff = Backoff::default();
        let mut tick_backoff = Backoff::default();
        let mut due_at = None;
        let mut paused = false;
        while !*self.stopping.borrow() {
            // A paused channel waits for the seller's new authorization (from
            // any process): nothing is asked of its platform meanwhile.
            match crate::channels::tokens::paused(self.store.as_ref(), self.id()).await {
                Ok(pause) => {
                    if pause.is_some() != paused {
                        paused = pause.is_some();
                        match &pause {
                            Some(pause) => tracing::warn!(channel = self.id(), %pause, "paused"),
                            None => tracing::info!(channel = self.id(), "resumed"),
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(channel = self.id(), %err, "cannot read whether the channel is paused")
                }
            }
            if paused {
                tokio::select! {
                    _ = self.stopping.wait_for(|s| *s) => return,
                    () = doorbell.notified() => {}
                    () = tokio::time::sleep(self.timing.backstop) => {}
                }
                continue;
            }
            if tick_backoff.ready(Instant::now()) {
                match self.run_ticks().await {
                    None => return,
                    Some(true) => tick_backoff.succeeded(),
                    Some(false) => {
                        let delay = tick_backoff.failed(Instant::now());
                        tracing::warn!(channel = self.id(), retry_in = ?delay, "cannot claim the schedules' ticks");
                    }
                }
            }
            if hints_backoff.ready(Instant::now()) {
                match self.import(Source::Hints).await {
                    None => return,
                    Some(true) => hints_backoff.succeeded(),
                    Some(false) => {
                        let delay = hints_backoff.failed(Instant::now());
                        tracing::info!(channel = self.id(), retry_in = ?delay, "pushed orders retried later");
                    }
                }
            }
            if push_backoff.ready(Instant::now()) {
                due_at = None;
                match self.due().await {
                    Ok(Due::Nothing) => {}
                    Ok(Due::At(at)) => due_at = Some(at),
                    Ok(Due::Now) => {
                        if !self.debounce().await {
                            return;
                        }
                        // Work a pass cannot act on is parked in the store
                        // (see `sync::UNWORKED_WAIT`): `next_due` moves on.
                        if !self
                            .push(&mut push_backoff, sync::Kind::All, "daemon")
                            .await
                        {
                            return;
                        }
                    }
                    Err(err) => {
                        let delay = push_backoff.failed(Instant::now());
                        tracing::warn!(channel = self.id(), %err, retry_in = ?delay, "cannot read the channel's work");
                    }
                }
            }
            // Times already past were acted on above, or wait for a backoff
            // that has its own time here: only future ones count.
            let now = Instant::now();
            let backstop = now + self.timing.backstop;
            let next_tick = self.ticks.next(self.store.now()).map(|at| self.instant(at));
            let wake_at = [
                next_tick,
                due_at,
                hints_backoff.until,
                push_backoff.until,
                tick_backoff.until,
            ]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .fold(backstop, Instant::min);
            tokio::select! {
                _ = self.stopping.wait_for(|s| *s) => return,
                () = doorbell.notified() => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    /// When the store's clock shows `at`, on this process's timer.
    fn instant(&self, at: DateTime<Utc>) -> Instant {
        Instant::now() + (at - self.store.now()).to_std().unwrap_or_default()
    }

    /// Claims the ticks due and runs them; `None` when abandoned at
    /// shutdown, `Some(false)` when the ticks could not be claimed.
    async fn run_ticks(&mut self) -> Option<bool> {
        let now = self.store.now();
        let claimed = match self
            .ticks
            .claim_due(self.store.as_ref(), &self.replica, now)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(channel = self.id(), %err, "cannot claim ticks");
                return Some(false);
            }
        };
        for (kind, fire_time) in claimed {
            tracing::info!(channel = self.id(), %kind, %fire_time, "schedule tick");
            let (outcome, note) = match self.tick(kind).await? {
                Ok(()) => (TickOutcome::Done, None),
                Err(why) => {
                    tracing::warn!(channel = self.id(), %kind, %why, "scheduled work failed");
                    (TickOutcome::Failed, Some(why))
                }
            };
            let finished =
                self.store
                    .finish_tick(self.id(), kind, fire_time, outcome, note.as_deref());
            if let Err(err) = finished.await {
                tracing::warn!(channel = self.id(), %kind, %err, "cannot record the tick's end");
            }
        }
        Some(true)
    }

    /// One tick's work; `None` when abandoned at shutdown.
    async fn tick(&mut self, kind: Kind) -> Option<Result<(), String>> {
        let aspect = match kind {
            Kind::Orders => {
                return self.import(Source::Poll).await.map(|ok| {
                    ok.then_some(())
                        .ok_or_else(|| "the order poll failed".to_string())
                });
            }
            Kind::Prune => {
                let pruned = sync::log::prune_log(self.store.as_ref(), &self.sync, Some(self.id()));
                return Some(pruned.await.map(drop).map_err(|e| e.to_string()));
            }
            Kind::Reconcile => return self.reconcile().await,
            Kind::Tokens => return Some(self.check_tokens().await),
            Kind::Stock => Aspect::Stock,
            Kind::Price => Aspect::Price,
            Kind::Catalogue => Aspect::Content,
        };
        // The backstop: work waiting after a failure, or parked by a pass,
        // is due now, and a pass of that kind runs.
        if let Err(err) = self.store.hasten(self.id(), aspect).await {
            return Some(Err(err.to_string()));
        }
        let kind = match aspect {
            Aspect::Stock => sync::Kind::Stock,
            Aspect::Price => sync::Kind::Price,
            Aspect::Content => sync::Kind::Catalogue,
        };
        let mut backoff = Backoff::default();
        if !self.push(&mut backoff, kind, "schedule").await {
            return None;
        }
        Some(if backoff.failures == 0 {
            Ok(())
        } else {
            Err(format!("the {} pass failed", kind.as_str()))
        })
    }

    /// Refreshes the access token ahead of expiry and raises the alerts of
    /// an authorization near its end; a refresh refused for good pauses the
    /// channel (see `channels::tokens`).
    async fn check_tokens(&self) -> Result<(), String> {
        let channel = self.live.pass();
        match crate::channels::tokens::check(self.store.as_ref(), &channel).await {
            Ok(report) => {
                tracing::info!(channel = self.id(), check = ?report.check, expiring = report.expiring, "tokens checked");
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        }
    }

    /// Orders first (one not imported yet would read as a change made in the
    /// seller centre), then the channel's stock against chosync's.
    async fn reconcile(&mut self) -> Option<Result<(), String>> {
        if !self.import(Source::Poll).await? {
            return Some(Err("the order poll before reconciling failed".into()));
        }
        let options = self.options("schedule", sync::Kind::All);
        let channel = self.live.pass();
        let reconcile = sync::reconcile::reconcile_channel(self.store.as_ref(), &channel, &options);
        Some(match reconcile.await {
            Ok(report) => {
                tracing::info!(channel = self.id(), ?report, "reconciled");
                Ok(())
            }
            Err(err) => Err(err.to_string()),
        })
    }

    fn options(&self, trigger: &str, kind: sync::Kind) -> Options {
        Options {
            kind,
            lease: self.timing.lease,
            stop: Some(self.abandon.clone()),
            holder: Some(self.replica.clone()),
            ..Options::new(trigger)
        }
    }

    /// Imports the orders `source` names; `None` when abandoned at shutdown,
    /// else whether it went well.
    async fn import(&mut self, source: Source) -> Option<bool> {
        let trigger = match source {
            Source::Hints => "push",
            Source::Poll => "poll",
        };
        let channel = self.live.pass();
        let import = orders::import(self.store.as_ref(), &channel, source, &self.orders, trigger);
        let result = tokio::select! {
            biased;
            _ = self.abandon.wait_for(|a| *a) => return None,
            result = import => result,
        };
        match result {
            Ok(report) => {
                if report.effects > 0 {
                    // The effects marked stock work on every channel.
                    self.signals.wake_all();
                }
                Some(true)
            }
            Err(err) => {
                tracing::warn!(channel = self.id(), %err, "order import failed");
                Some(false)
            }
        }
    }

    async fn due(&self) -> Result<Due, crate::store::StoreError> {
        let Some(first) = self.store.next_due(self.id()).await? else {
            return Ok(Due::Nothing);
        };
        let now = self.store.now();
        if first <= now {
            return Ok(Due::Now);
        }
        let wait = (first - now).to_std().unwrap_or_default();
        Ok(Due::At(Instant::now() + wait))
    }

    /// Waits the debounce, so that changes made meanwhile join the pass;
    /// `false` when the daemon is stopping.
    async fn debounce(&mut self) -> bool {
        tokio::select! {
            _ = self.stopping.wait_for(|s| *s) => false,
            () = tokio::time::sleep(self.timing.debounce) => true,
        }
    }

    /// One pass; `false` when it was stopped by the shutdown.
    async fn push(&mut self, backoff: &mut Backoff, kind: sync::Kind, trigger: &str) -> bool {
        let options = self.options(trigger, kind);
        let channel = self.live.pass();
        match sync_channel(self.store.as_ref(), &channel, &options).await {
            Ok(summary) => {
                let c = &summary.counts;
                tracing::info!(
                    channel = self.id(),
                    pushed = c.pushed,
                    unchanged = c.skipped,
                    failed = c.failed,
                    quarantined = c.quarantined,
                    calls = c.calls,
                    seconds = summary.seconds,
                    "pass done"
                );
                backoff.succeeded();
                true
            }
            Err(SyncError::Stopped(_)) => false,
            Err(SyncError::Busy { until, .. }) => {
                tracing::debug!(channel = self.id(), %until, "channel busy; trying again shortly");
                backoff.retry_after(Instant::now(), BUSY_RETRY);
                true
            }
            Err(err) => {
                let delay = backoff.failed(Instant::now());
                tracing::warn!(channel = self.id(), %err, retry_in = ?delay, "pass failed");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_kind_of_work_backs_off_from_a_second_to_five_minutes_and_a_success_resets_it() {
        let now = Instant::now();
        let mut backoff = Backoff::default();
        assert!(backoff.ready(now));
        let delays: Vec<u64> = (0..12).map(|_| backoff.failed(now).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert!(!backoff.ready(now + Duration::from_secs(299)));
        assert!(backoff.ready(now + Duration::from_secs(300)));
        backoff.succeeded();
        assert!(backoff.ready(now));
        assert_eq!(backoff.failed(now), Duration::from_secs(1));
    }
}
