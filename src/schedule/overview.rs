//! Every channel's schedules with their next fire times and last run, as
//! `check-config` and `chosync schedules` show them (times in the zone).

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;

use super::fire::next_fires;
use super::{Kind, Zone};
use crate::channels::ChannelSettings;
use crate::store::StoreError;
use crate::store::schedule::{ScheduleStore, TickOutcome};

/// One schedule of one channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub channel: String,
    pub enabled: bool,
    pub kind: Kind,
    pub expression: String,
    /// Why the expression is not a schedule (then nothing fires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The next fire times, soonest first.
    pub next: Vec<DateTime<FixedOffset>>,
    /// The latest tick claimed, when the store was read.
    pub last: Option<LastRun>,
}

/// The latest claimed tick of a schedule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastRun {
    pub fire_time: DateTime<FixedOffset>,
    pub claimed_by: String,
    /// `None` while it runs (or if its process died).
    pub finished_at: Option<DateTime<FixedOffset>>,
    pub outcome: Option<TickOutcome>,
    pub note: Option<String>,
}

/// The next `count` fire times after `now` of every schedule of every channel.
pub fn upcoming(
    channels: &[ChannelSettings],
    zone: Zone,
    now: DateTime<Utc>,
    count: usize,
) -> Vec<ScheduleView> {
    let local = |t: DateTime<Utc>| t.with_timezone(&zone.tz()).fixed_offset();
    channels
        .iter()
        .flat_map(|channel| {
            Kind::ALL.into_iter().map(move |kind| {
                let expression = channel.schedule.expression(kind).to_string();
                let (next, problem) = match channel.schedule.schedule(kind) {
                    Ok(schedule) => (
                        next_fires(&schedule, zone.tz(), now, count)
                            .into_iter()
                            .map(local)
                            .collect(),
                        None,
                    ),
                    Err(why) => (Vec::new(), Some(why)),
                };
                ScheduleView {
                    channel: channel.id.clone(),
                    enabled: channel.enabled,
                    kind,
                    expression,
                    problem,
                    next,
                    last: None,
                }
            })
        })
        .collect()
}

/// Every schedule with its next fire time and the last tick claimed.
pub async fn overview(
    channels: &[ChannelSettings],
    zone: Zone,
    store: &dyn ScheduleStore,
    now: DateTime<Utc>,
) -> Result<Vec<ScheduleView>, StoreError> {
    let local = |t: DateTime<Utc>| t.with_timezone(&zone.tz()).fixed_offset();
    let mut views = upcoming(channels, zone, now, 1);
    for view in &mut views {
        view.last = store
            .last_tick(&view.channel, view.kind)
            .await?
            .map(|tick| LastRun {
                fire_time: local(tick.fire_time),
                claimed_by: tick.claimed_by,
                finished_at: tick.finished_at.map(local),
                outcome: tick.outcome,
                note: tick.note,
            });
    }
    Ok(views)
}
