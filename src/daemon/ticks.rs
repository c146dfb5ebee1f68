//! A channel's schedules as its worker fires them: which ticks are due now
//! (claimed in the store, once across replicas) and when the next one falls.
//! What each kind of tick does is the worker's (`worker::Worker::tick`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::schedule::due::due_tick;
use crate::schedule::fire::next_fires;
use crate::schedule::{Kind, Schedules};
use crate::store::schedule::Tick;
use crate::store::{Store, StoreError};

pub struct Ticks {
    channel: String,
    zone: Tz,
    schedules: Vec<(Kind, cron::Schedule)>,
    /// The latest fire time claimed per kind, by anyone, as far as known
    /// here (read from the store once, then kept up to date).
    last: HashMap<Kind, Option<DateTime<Utc>>>,
}

impl Ticks {
    /// `channel`'s schedules of `kinds`; an expression that does not parse
    /// (`check-config` names it) is left out with an error in the log.
    pub fn new(channel: &str, schedules: &Schedules, zone: Tz, kinds: &[Kind]) -> Self {
        let schedules = kinds
            .iter()
            .filter_map(|&kind| match schedules.schedule(kind) {
                Ok(schedule) => Some((kind, schedule)),
                Err(why) => {
                    tracing::error!(channel, %kind, %why, "schedule left out");
                    None
                }
            })
            .collect();
        Self {
            channel: channel.to_string(),
            zone,
            schedules,
            last: HashMap::new(),
        }
    }

    /// The ticks due at `now` that this worker claimed (as `claimed_by`),
    /// in the order of `Kind`. Ticks missed while no daemon ran collapse into
    /// one (see `schedule::due`); a tick another replica claimed is skipped.
    pub async fn claim_due(
        &mut self,
        store: &dyn Store,
        claimed_by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Kind, DateTime<Utc>)>, StoreError> {
        let mut claimed = Vec::new();
        for i in 0..self.schedules.len() {
            let (kind, schedule) = self.schedules[i].clone();
            match self.claim(store, claimed_by, now, kind, &schedule).await {
                Ok(ticks) => claimed.extend(ticks),
                // Ticks claimed already are run, not dropped: their claims
                // stand in the store.
                Err(err) if !claimed.is_empty() => {
                    tracing::warn!(channel = %self.channel, %kind, %err, "cannot claim this tick now");
                    break;
                }
                Err(err) => return Err(err),
            }
        }
        Ok(claimed)
    }

    /// The ticks of one schedule due at `now` that this worker claimed: an
    /// orphaned one (see `orphaned`) and the latest due.
    async fn claim(
        &mut self,
        store: &dyn Store,
        claimed_by: &str,
        now: DateTime<Utc>,
        kind: Kind,
        schedule: &cron::Schedule,
    ) -> Result<Vec<(Kind, DateTime<Utc>)>, StoreError> {
        let mut claimed = Vec::new();
        let last = match self.last.get(&kind) {
            Some(last) => *last,
            None => {
                let tick = store.last_tick(&self.channel, kind).await?;
                let last = tick.as_ref().map(|t| t.fire_time);
                self.last.insert(kind, last);
                let newer = due_tick(schedule, self.zone, last, now).is_some();
                if let Some(tick) = tick.filter(|t| t.finished_at.is_none() && !newer)
                    && self.orphaned(store, &tick, claimed_by).await?
                    && store
                        .reclaim_tick(
                            &self.channel,
                            kind,
                            tick.fire_time,
                            &tick.claimed_by,
                            claimed_by,
                        )
                        .await?
                {
                    tracing::info!(channel = %self.channel, %kind, fire_time = %tick.fire_time, from = %tick.claimed_by, "running a tick its claimer never finished");
                    claimed.push((kind, tick.fire_time));
                }
                last
            }
        };
        if let Some(fire) = due_tick(schedule, self.zone, last, now) {
            if store
                .claim_tick(&self.channel, kind, fire, claimed_by)
                .await?
            {
                claimed.push((kind, fire));
            }
            // Claimed here or by another: either way not due here again.
            self.last.insert(kind, Some(fire));
        }
        Ok(claimed)
    }

    /// Whether an unfinished tick's claimer is gone: a replica no longer
    /// alive, or this replica before it restarted (a worker just started
    /// runs nothing yet). A newer tick due supersedes it instead.
    async fn orphaned(&self, store: &dyn Store, tick: &Tick, me: &str) -> Result<bool, StoreError> {
        if tick.claimed_by == me {
            return Ok(true);
        }
        let alive = store.membership().await?;
        Ok(!alive.replicas.iter().any(|r| r.id == tick.claimed_by))
    }

    /// The earliest fire time of any schedule after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedules
            .iter()
            .filter_map(|(_, schedule)| next_fires(schedule, self.zone, now, 1).into_iter().next())
            .min()
    }
}
