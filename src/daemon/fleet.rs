//! The replica's side of sharing the channels: it beats in the `replicas`
//! table every third of the lease period, holds the leases of its fair
//! share of channels (`share`) with one worker each, renews them on the same
//! beat, gives extras back when others join (the worker finishes its pass
//! first) and takes channels whose owner stopped renewing as soon as their
//! lease runs out. A worker whose lease was lost stops at once: its records
//! would be refused by the lease fence anyway.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::RESTART_PAUSE;
use super::share::{fair_share, preference};
use super::wake::Signals;
use super::worker::Worker;
use crate::channels::prepare::LiveChannel;
use crate::store::{LeaseGrant, Store, StoreError};
use crate::sync::timed;

/// How this process is known to the others.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Host and listening address: stable across restarts (a daemon back
    /// after a crash takes its own leases again at once), and unique while
    /// it runs (no two processes listen on one address).
    pub id: String,
    pub host: String,
    pub pid: i64,
}

impl Identity {
    pub fn new(listen: &str) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        Self {
            id: format!("{host}/{listen}"),
            host,
            pid: i64::from(std::process::id()),
        }
    }
}

/// Makes a channel's worker, given its own stop and abandon signals.
pub type WorkerMaker = Box<
    dyn Fn(Arc<LiveChannel>, watch::Receiver<bool>, watch::Receiver<bool>) -> Worker + Send + Sync,
>;

pub struct Fleet {
    pub identity: Identity,
    pub store: Arc<dyn Store>,
    pub channels: BTreeMap<String, Arc<LiveChannel>>,
    /// How many replicas work at once: 1 on SQLite, any number on PostgreSQL.
    pub active_limit: usize,
    pub lease: Duration,
    pub signals: Arc<Signals>,
    pub worker: WorkerMaker,
}

/// Why a crew is winding down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    No,
    /// Its lease goes back once the worker has finished.
    GiveBack,
    /// Its lease is gone already.
    Lost,
}

/// A channel's worker as the fleet holds it; aborted if dropped (a fleet
/// that panicked leaves no worker behind to run twice beside its successor's).
struct Crew {
    stop: watch::Sender<bool>,
    abandon: watch::Sender<bool>,
    task: JoinHandle<()>,
    leaving: Leaving,
    /// Until when the lease surely holds, counted from before the last
    /// renewal was asked: past it the worker stops, renewed or not.
    held_until: Instant,
}

impl Crew {
    /// The lease is gone (or may be): stop at once, work in flight too.
    fn lose(&mut self) {
        self.leaving = Leaving::Lost;
        let _ = self.stop.send(true);
        let _ = self.abandon.send(true);
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What stopping a pass that outlived the grace period may take: marking its
/// run and releasing its lease.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

/// How often a fleet with crews winding down looks whether they have ended.
const LEAVING_CHECK: Duration = Duration::from_millis(200);

impl Fleet {
    /// Shares the channels until `stopping`, then stops its workers — letting
    /// work in flight finish within `grace` — releases its leases and leaves.
    pub async fn run(self, mut stopping: watch::Receiver<bool>, grace: Duration) {
        let mut crews: BTreeMap<String, Crew> = BTreeMap::new();
        let mut standby = None;
        while !*stopping.borrow() {
            let beat = Instant::now() + self.lease / 3;
            let wake = match self.look(&mut crews, &mut standby).await {
                Ok(wake) => wake.min(beat),
                Err(err) => {
                    tracing::warn!(%err, "cannot reach the other replicas; trying again");
                    beat
                }
            };
            tokio::select! {
                _ = stopping.wait_for(|s| *s) => break,
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        self.shut_down(crews, grace).await;
    }

    /// One beat: settle crews that ended, renew, give back or claim to the
    /// fair share. Returns when to look again before the next beat.
    async fn look(
        &self,
        crews: &mut BTreeMap<String, Crew>,
        standby: &mut Option<bool>,
    ) -> Result<Instant, StoreError> {
        let me = &self.identity;
        self.settle(crews).await;
        // Renewed first: a heartbeat that fails must not leave the leases
        // to run out under workers that go on.
        self.renew(crews).await;
        let membership = timed(
            "replica heartbeat",
            self.store.heartbeat(&me.id, &me.host, me.pid, self.lease),
        )
        .await?;
        let looked = Instant::now();
        let share = fair_share(
            &me.id,
            &membership.replicas,
            self.active_limit,
            self.channels.len(),
        );
        if *standby != Some(share.is_none()) {
            *standby = Some(share.is_none());
            match share {
                None => tracing::warn!(
                    replica = %me.id,
                    "standby: another chosync daemon works this SQLite database; this one takes over if it stops"
                ),
                Some(share) => tracing::info!(
                    replica = %me.id,
                    replicas = membership.replicas.len(),
                    share,
                    "active"
                ),
            }
        }
        let standing_by = share.is_none();
        let share = share.unwrap_or(0);
        let mut working: Vec<&String> = crews
            .iter()
            .filter(|(_, c)| c.leaving == Leaving::No)
            .map(|(id, _)| id)
            .collect();
        let mut wake = None;
        if working.len() > share {
            working.sort_by_key(|c| preference(&me.id, c));
            let extras: Vec<String> = working[..working.len() - share]
                .iter()
                .map(|c| (*c).clone())
                .collect();
            for channel in extras {
                if let Some(crew) = crews.get_mut(&channel) {
                    tracing::info!(
                        channel,
                        "giving the channel back: more replicas share the work"
                    );
                    crew.leaving = Leaving::GiveBack;
                    let _ = crew.stop.send(true);
                }
            }
        } else if working.len() < share {
            let mut wanted = share - working.len();
            let held_elsewhere: BTreeMap<&str, _> = membership
                .leases
                .iter()
                .filter(|l| l.owner != me.id)
                .map(|l| (l.channel.as_str(), l.expires_at))
                .collect();
            let mut free: Vec<&String> = self
                .channels
                .keys()
                .filter(|c| !crews.contains_key(*c) && !held_elsewhere.contains_key(c.as_str()))
                .collect();
            free.sort_by_key(|c| std::cmp::Reverse(preference(&me.id, c)));
            for channel in free {
                if wanted == 0 {
                    break;
                }
                let asked = Instant::now();
                let acquired = self.store.acquire_lease(channel, &me.id, self.lease);
                match timed("acquire lease", acquired).await? {
                    LeaseGrant::Granted => {
                        self.start(crews, channel, Duration::ZERO, asked);
                        wanted -= 1;
                    }
                    LeaseGrant::HeldUntil(_) => {}
                }
            }
            // Still short: look again the moment the first lease held
            // elsewhere runs out (its owner may have stopped).
            if wanted > 0 {
                wake = held_elsewhere
                    .values()
                    .filter_map(|until| (*until - membership.now).to_std().ok())
                    .min()
                    .map(|left| looked + left + Duration::from_millis(50));
            }
        }
        // Another replica that stops beating changes the shares: look the
        // moment its row runs out, not a beat later.
        let gone_at = membership
            .replicas
            .iter()
            .filter(|r| r.id != me.id)
            .filter_map(|r| (r.expires_at - membership.now).to_std().ok())
            .min()
            .map(|left| looked + left + Duration::from_millis(50));
        wake = [wake, gone_at].into_iter().flatten().min();
        // Renewals failing: stop each worker when its lease may run out.
        let deadline = crews
            .values()
            .filter(|c| c.leaving != Leaving::Lost)
            .map(|c| c.held_until)
            .min();
        wake = [wake, deadline].into_iter().flatten().min();
        if crews.values().any(|c| c.leaving != Leaving::No) {
            let soon = Instant::now() + LEAVING_CHECK;
            wake = Some(wake.map_or(soon, |w| w.min(soon)));
        }
        // Told once the channels are taken: `/readyz` waits for this.
        self.signals.set_standby(standing_by);
        Ok(wake.unwrap_or(looked + self.lease / 3))
    }

    /// Renews the lease of every crew still holding one (one being given
    /// back too: its worker may be in a pass); a crew whose lease was refused,
    /// or may have run out unrenewed, stops at once.
    async fn renew(&self, crews: &mut BTreeMap<String, Crew>) {
        for (channel, crew) in crews.iter_mut() {
            if crew.leaving == Leaving::Lost {
                continue;
            }
            let asked = Instant::now();
            let renewal = self
                .store
                .renew_lease(channel, &self.identity.id, self.lease);
            match timed("renew lease", renewal).await {
                Ok(true) => crew.held_until = asked + self.lease,
                Ok(false) => {
                    tracing::warn!(
                        channel,
                        "lease lost: another replica may own the channel now"
                    );
                    crew.lose();
                }
                Err(err) => tracing::warn!(channel, %err, "lease renewal failed; trying again"),
            }
            if crew.leaving != Leaving::Lost && Instant::now() >= crew.held_until {
                tracing::warn!(
                    channel,
                    "lease not renewed in time: stopping the channel's worker"
                );
                crew.lose();
            }
        }
    }

    /// Crews whose worker ended: one given back releases its lease, a lost
    /// one just goes, and one that ended on its own (a panic) starts again.
    async fn settle(&self, crews: &mut BTreeMap<String, Crew>) {
        let ended: Vec<String> = crews
            .iter()
            .filter(|(_, c)| c.task.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for channel in ended {
            let Some(crew) = crews.remove(&channel) else {
                continue;
            };
            match crew.leaving {
                Leaving::No => {
                    tracing::error!(
                        channel,
                        "the channel's worker ended unexpectedly; starting it again"
                    );
                    // Its lease still holds as far as last renewed.
                    let renewed = crew.held_until.checked_sub(self.lease);
                    self.start(
                        crews,
                        &channel,
                        RESTART_PAUSE,
                        renewed.unwrap_or_else(Instant::now),
                    );
                }
                Leaving::GiveBack => {
                    self.release(&channel).await;
                    self.signals.set_owned(&channel, false);
                }
                Leaving::Lost => self.signals.set_owned(&channel, false),
            }
        }
    }

    /// Starts `channel`'s worker under the lease taken (or renewed) when
    /// `asked`.
    fn start(
        &self,
        crews: &mut BTreeMap<String, Crew>,
        channel: &str,
        pause: Duration,
        asked: Instant,
    ) {
        let Some(live) = self.channels.get(channel) else {
            return;
        };
        let (stop, stop_rx) = watch::channel(false);
        let (abandon, abandon_rx) = watch::channel(false);
        let worker = (self.worker)(live.clone(), stop_rx, abandon_rx);
        let task = tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            worker.run().await;
        });
        self.signals.set_owned(channel, true);
        tracing::info!(channel, replica = %self.identity.id, "channel taken");
        crews.insert(
            channel.to_string(),
            Crew {
                stop,
                abandon,
                task,
                leaving: Leaving::No,
                held_until: asked + self.lease,
            },
        );
    }

    async fn release(&self, channel: &str) {
        let released = timed(
            "release lease",
            self.store.release_lease(channel, &self.identity.id),
        )
        .await;
        if let Err(err) = released {
            tracing::warn!(channel, %err, "cannot release the lease; it runs out by itself");
        }
    }

    async fn shut_down(self, mut crews: BTreeMap<String, Crew>, grace: Duration) {
        for crew in crews.values() {
            let _ = crew.stop.send(true);
        }
        if !self.all_ended(&mut crews, grace).await {
            tracing::warn!("work in flight outlived the grace period: dropped, it stays pending");
            for crew in crews.values() {
                let _ = crew.abandon.send(true);
            }
            if !self.all_ended(&mut crews, ABANDON_GRACE).await {
                // Ended for sure before the leases go back: no other
                // replica may take a channel while its old worker runs.
                for crew in crews.values_mut() {
                    crew.task.abort();
                    if !crew.task.is_finished() {
                        let _ = (&mut crew.task).await;
                    }
                }
            }
        }
        for (channel, crew) in &crews {
            if crew.leaving != Leaving::Lost {
                self.release(channel).await;
            }
            self.signals.set_owned(channel, false);
        }
        drop(crews);
        if let Err(err) = timed("leave", self.store.leave(&self.identity.id)).await {
            tracing::warn!(%err, "cannot remove this replica's row; it expires by itself");
        }
    }

    /// Waits up to `limit` for every crew's worker to end.
    async fn all_ended(&self, crews: &mut BTreeMap<String, Crew>, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        for crew in crews.values_mut() {
            // A handle polled to its end is not polled again.
            if crew.task.is_finished() {
                continue;
            }
            if tokio::time::timeout_at(deadline, &mut crew.task)
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }
}
