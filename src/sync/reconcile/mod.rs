//! `chosync reconcile`: each channel's stock as the platform shows it, read
//! through its batch read endpoints, against what chosync last set and what
//! it wants now. Differences are classified (`classify`), logged in the sync
//! log under a run of kind `reconcile`, alerted when nothing of chosync's
//! own explains them, and corrected by a stock push in the same lease. The
//! channel's lease is held throughout: only its owner reads and pushes.

mod classify;
mod compare;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chosync_connector::ConnectorError;
use chosync_connector::dto::RemoteListing;
use serde::Serialize;

pub use classify::{Class, Known, Seen, Verdict, Work, classify};

use super::{
    CallLog, Channel, Kind, Options, Pass, SyncError, give_back, keep_lease, log_row,
    pause_if_refused, refuse_paused, run_pass, take_lease, timed, under_lease,
};
use crate::channels::ChannelError;
use crate::channels::prepare::prepare;
use crate::settings::Settings;
use crate::store::{BatchRecord, RunCounts, Store, StoreError};
use compare::{Knowledge, alert, compare};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("channel {channel}: reading its listings: {error}")]
    Platform {
        channel: String,
        error: ConnectorError,
    },
    /// The order import that comes first failed: without it an order the
    /// platform took would read as a seller-centre change.
    #[error(transparent)]
    Orders(#[from] crate::orders::OrderError),
}

impl From<StoreError> for ReconcileError {
    fn from(err: StoreError) -> Self {
        Self::Sync(SyncError::Store(err))
    }
}

/// One SKU whose stock differs.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub sku: String,
    pub class: Class,
    /// What the platform shows, and the units it holds or locks.
    pub remote: i64,
    pub held: i64,
    pub locked: i64,
    pub last_set: Option<i64>,
    pub wanted: i64,
    /// The stock pushed to correct it (none: left as it is).
    pub push: Option<i64>,
}

/// What one reconcile of a channel found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    pub channel: String,
    pub run_id: i64,
    /// Listings read from the platform, and their SKUs.
    pub listings: usize,
    pub skus: usize,
    pub matching: usize,
    pub differences: BTreeMap<Class, usize>,
    pub findings: Vec<Finding>,
    /// Platform SKUs chosync holds no listing state for: reported, never touched.
    pub unmanaged: Vec<String>,
    /// SKUs chosync lists there that the platform did not show.
    pub missing: Vec<String>,
    /// Corrections the platform now shows (pushed in this reconcile).
    pub corrected: usize,
    pub alerts_raised: usize,
    pub alerts_resolved: usize,
    pub seconds: f64,
}

impl ReconcileReport {
    pub fn different(&self) -> usize {
        self.differences.values().sum()
    }
}

/// How one channel's reconcile went.
#[derive(Debug)]
pub struct ChannelReconcile {
    pub channel: String,
    pub result: Result<ReconcileReport, ReconcileError>,
}

/// Reconciles the channel named `only`, or every enabled one, side by side.
pub async fn reconcile_channels(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    options: &Options,
) -> Result<Vec<ChannelReconcile>, ChannelError> {
    let channels = prepare(settings, store, only, || Arc::new(CallLog::default()))?;
    let allocation = crate::inventory::allocation::Allocation::new(settings);
    let allocation = &allocation;
    let runs = channels.iter().map(|channel| async move {
        let pass = Channel {
            settings: channel.settings,
            mapping: &channel.mapping,
            client: &channel.client,
            events: channel.events.clone(),
            allocation,
        };
        // Orders first: a Shopee order lowers seller stock at once, and one
        // not imported yet would read as a change made in the seller centre.
        let source = crate::orders::Source::Poll;
        crate::orders::import(
            store.as_ref(),
            &pass,
            source,
            &settings.orders,
            &options.trigger,
        )
        .await?;
        reconcile_channel(store.as_ref(), &pass, options).await
    });
    let results = futures_util::future::join_all(runs).await;
    Ok(channels
        .iter()
        .zip(results)
        .map(|(channel, result)| ChannelReconcile {
            channel: channel.settings.id.clone(),
            result,
        })
        .collect())
}

/// Runs that a reconcile cut short must mark failed.
#[derive(Default)]
struct Runs {
    /// The reconcile's own run while it is open.
    open: Option<i64>,
    /// The stock pass that pushes the corrections.
    pass: Option<Pass>,
}

/// Reconciles one channel under its lease (renewed while it runs; no call
/// goes out once it may have run out), then releases it.
pub async fn reconcile_channel(
    store: &dyn Store,
    channel: &Channel<'_>,
    options: &Options,
) -> Result<ReconcileReport, ReconcileError> {
    let id = channel.settings.id.as_str();
    refuse_paused(store, id).await?;
    let asked = tokio::time::Instant::now();
    let lease = take_lease(store, id, options).await?;
    let owner = lease.owner.clone();
    let renew = keep_lease(options.lease, asked, || {
        store.renew_lease(id, &owner, options.lease)
    });
    let mut runs = Runs::default();
    let result = under_lease(renew, reconcile(store, channel, options, &owner, &mut runs))
        .await
        .unwrap_or_else(|| Err(StoreError::LeaseLost(id.to_string()).into()));
    if let Err(err) = &result {
        let reason = err.to_string();
        let open = runs.open.map(|run| (run, RunCounts::default()));
        // A refused pass has marked its own run.
        let refused = matches!(err, ReconcileError::Sync(SyncError::Refused(_)));
        let pass = runs
            .pass
            .as_ref()
            .filter(|p| p.run_id != 0 && !refused)
            .map(|p| (p.run_id, p.counts));
        for (run, counts) in open.into_iter().chain(pass) {
            let failed = store.finish_run(run, "failed", &counts, Some(&reason));
            if let Err(err) = timed("finish run", failed).await {
                tracing::warn!(channel = id, %err, "could not mark the run failed");
            }
        }
    }
    pause_if_refused(store, channel).await;
    let released = give_back(store, id, lease).await;
    let report = result?;
    released?;
    Ok(report)
}

async fn reconcile(
    store: &dyn Store,
    channel: &Channel<'_>,
    options: &Options,
    owner: &str,
    runs: &mut Runs,
) -> Result<ReconcileReport, ReconcileError> {
    let started = Instant::now();
    let id = channel.settings.id.as_str();
    let run_id = timed(
        "start run",
        store.start_run(id, "reconcile", &options.trigger),
    )
    .await?;
    runs.open = Some(run_id);
    let mut report = ReconcileReport {
        channel: id.to_string(),
        run_id,
        ..ReconcileReport::default()
    };
    let call = channel.events.next_id();
    let read = CallLog::scoped(call, read_listings(channel)).await;
    let events = channel.events.take(call);
    let counts = RunCounts {
        calls: events.len() as i64,
        throttled: events
            .iter()
            .filter(|e| e.outcome == "rate_limited")
            .count() as i64,
        ..RunCounts::default()
    };
    let mut batch = BatchRecord {
        log: events.iter().map(|e| log_row(e, "", "reconcile")).collect(),
        ..BatchRecord::default()
    };
    let listings = match read {
        Ok(listings) => listings,
        Err(error) => {
            // The calls that failed are logged with the run.
            timed("record", store.record_batch(id, owner, run_id, &batch)).await?;
            return Err(ReconcileError::Platform {
                channel: id.to_string(),
                error,
            });
        }
    };
    let known = Knowledge::gather(store, channel).await?;
    let (corrections, seen) = compare(&known, &listings, &mut report, &mut batch);
    timed("record", store.record_batch(id, owner, run_id, &batch)).await?;
    alert(store, id, &known, &seen, &mut report).await?;
    let pushes: Vec<String> = corrections.keys().cloned().collect();
    timed(
        "mark corrections",
        store.recheck_stock(id, &pushes, "reconcile"),
    )
    .await?;
    timed("finish run", store.finish_run(run_id, "ok", &counts, None)).await?;
    runs.open = None;
    if !pushes.is_empty() {
        // The corrections go out now, under this lease, as a stock pass of
        // their own (with every other stock work due on the channel).
        let stock = Options {
            kind: Kind::Stock,
            trigger: "reconcile".into(),
            ..options.clone()
        };
        run_pass(store, channel, &stock, owner, &mut runs.pass).await?;
        let states = timed("listing states", store.listing_states(id)).await?;
        report.corrected = corrections
            .iter()
            .filter(|(sku, target)| {
                states
                    .get(*sku)
                    .is_some_and(|s| s.stock == Some(**target) && s.last_error.is_none())
            })
            .count();
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Every listing the platform holds for the channel, page after page.
async fn read_listings(channel: &Channel<'_>) -> Result<Vec<RemoteListing>, ConnectorError> {
    let connector = channel.client.connector();
    let mut listings = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = connector.list_remote_listings(cursor.as_deref()).await?;
        listings.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(listings),
        }
    }
}
