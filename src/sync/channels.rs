//! Passes and plans over several configured channels, as every shell (the
//! CLI, the daemon, the API) runs them.

use std::sync::Arc;

use super::{CallLog, Channel, Kind, Options, Plan, SyncError, SyncProgress, SyncSummary};
use crate::channels::prepare::prepare;
use crate::channels::{ChannelError, ChannelSettings};
use crate::inventory::allocation::Allocation;
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// How one channel's pass went.
#[derive(Debug)]
pub struct ChannelPass {
    pub channel: String,
    pub result: Result<SyncSummary, SyncError>,
}

/// One pass on the channel named `only`, or on every enabled one; with
/// `retry`, quarantined SKUs first get another try and work waiting after a
/// failure is due now. `progress` gives each channel's pass its own report.
pub async fn sync_channels(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    retry: bool,
    options: &Options,
    progress: impl Fn(&ChannelSettings) -> Arc<dyn SyncProgress>,
) -> Result<Vec<ChannelPass>, ChannelError> {
    let channels = prepare(settings, store, only, || Arc::new(CallLog::default()))?;
    let allocation = Allocation::new(settings);
    let allocation = &allocation;
    // One worker per channel: the channels' passes run side by side, each
    // within its own platform's limits.
    let passes = channels.iter().map(|channel| {
        let options = Options {
            progress: progress(channel.settings),
            ..options.clone()
        };
        async move {
            let id = &channel.settings.id;
            if retry {
                let touched = store.retry_channel(id, None).await?;
                tracing::info!(channel = %id, tasks = touched, "retry requested");
            }
            let pass = Channel {
                settings: channel.settings,
                mapping: &channel.mapping,
                client: &channel.client,
                events: channel.events.clone(),
                allocation,
            };
            super::sync_channel(store.as_ref(), &pass, &options).await
        }
    });
    let results = futures_util::future::join_all(passes).await;
    Ok(channels
        .iter()
        .zip(results)
        .map(|(channel, result)| ChannelPass {
            channel: channel.settings.id.clone(),
            result,
        })
        .collect())
}

/// One channel's plan, or why it could not be worked out.
#[derive(Debug)]
pub struct ChannelPlan {
    pub channel: String,
    pub plan: Result<Plan, StoreError>,
}

/// What a pass of `kind` would do now on the channel named `only`, or on
/// every enabled one, channel after channel; the first that fails ends the list.
pub async fn plan_channels(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    kind: Kind,
) -> Result<Vec<ChannelPlan>, ChannelError> {
    let mut plans = Vec::new();
    let allocation = Allocation::new(settings);
    for channel in prepare(settings, store, only, || Arc::new(CallLog::default()))? {
        let plan = super::plan_channel(
            store.as_ref(),
            channel.settings,
            &allocation,
            &channel.client,
            kind,
        )
        .await;
        let failed = plan.is_err();
        plans.push(ChannelPlan {
            channel: channel.settings.id.clone(),
            plan,
        });
        if failed {
            break;
        }
    }
    Ok(plans)
}
