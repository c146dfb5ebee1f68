//! `chosync reconcile`: each channel's stock as the platform shows it, read
//! through its batch read endpoints, against what chosync last set and what
//! it wants now. Differences are classified (`classify`), logged in the sync
//! log under a run of kind `reconcile`, alerted when nothing of chosync's
//! own explains them, and corrected by a stock push in the same lease. The
//! channel's lease is held throughout: only its owner reads and pushes.

mod classify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use chosync_connector::ConnectorError;
use chosync_connector::dto::RemoteListing;
use serde::Serialize;

pub use classify::{Class, Known, Seen, Verdict, Work, classify};

use super::{
    CallLog, Channel, Kind, Options, Pass, SyncError, keep_lease, log_row, run_pass, timed,
    under_lease,
};
use crate::channels::ChannelError;
use crate::channels::prepare::prepare;
use crate::settings::Settings;
use crate::store::orders::{AlertKind, NewAlert};
use crate::store::{
    Aspect, BatchRecord, LeaseGrant, ListingState, LogRow, RunCounts, Store, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("channel {channel}: reading its listings: {error}")]
    Platform {
        channel: String,
        error: ConnectorError,
    },
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
    let runs = channels.iter().map(|channel| async move {
        let pass = Channel {
            settings: channel.settings,
            mapping: &channel.mapping,
            client: &channel.client,
            events: channel.events.clone(),
        };
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
    let owner = uuid::Uuid::now_v7().to_string();
    let asked = tokio::time::Instant::now();
    let grant = timed(
        "acquire lease",
        store.acquire_lease(id, &owner, options.lease),
    )
    .await?;
    if let LeaseGrant::HeldUntil(until) = grant {
        return Err(SyncError::Busy {
            channel: id.to_string(),
            until,
        }
        .into());
    }
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
    let released = timed("release lease", store.release_lease(id, &owner)).await;
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

/// What chosync knows of the channel's SKUs, read before comparing.
struct Knowledge {
    states: HashMap<String, ListingState>,
    /// SKU → the stock the channel's rule makes of the ledger.
    wanted: HashMap<String, i64>,
    work: HashMap<String, Work>,
    /// SKUs with an open drift alert on the channel.
    alerted: BTreeSet<String>,
}

impl Knowledge {
    async fn gather(store: &dyn Store, channel: &Channel<'_>) -> Result<Self, StoreError> {
        let id = channel.settings.id.as_str();
        let rule = &channel.settings.stock;
        let mut wanted = HashMap::new();
        let mut visit = |row: crate::store::CatalogueRow| {
            wanted.insert(row.variant.sku, rule.apply(row.on_hand - row.reserved));
            Ok(())
        };
        timed("catalogue", store.for_each_catalogue_row(&mut visit)).await?;
        let states = timed("listing states", store.listing_states(id)).await?;
        let mut work: HashMap<String, Work> = timed("pending tasks", store.pending_tasks(id))
            .await?
            .into_iter()
            .filter(|t| t.aspect == Aspect::Stock)
            .map(|t| {
                let work = if t.attempts > 0 {
                    Work::Retrying
                } else {
                    Work::Pending
                };
                (t.sku, work)
            })
            .collect();
        // A stock refusal quarantines the SKU and settles its task.
        for state in states.values() {
            let stock_refused = state
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("stock: "));
            if state.quarantined && stock_refused {
                work.insert(state.sku.clone(), Work::Quarantined);
            }
        }
        let alerted = timed("alerts", store.alerts(false))
            .await?
            .into_iter()
            .filter(|a| a.kind == AlertKind::Drift.as_str() && a.channel == id)
            .map(|a| a.subject)
            .collect();
        Ok(Self {
            states,
            wanted,
            work,
            alerted,
        })
    }
}

/// Compares every SKU the platform shows with what chosync knows; fills the
/// report and the batch (a log row per difference, changed locks) and
/// returns the corrections to push (SKU → stock) and the SKUs shown.
fn compare(
    known: &Knowledge,
    listings: &[RemoteListing],
    report: &mut ReconcileReport,
    batch: &mut BatchRecord,
) -> (BTreeMap<String, i64>, BTreeSet<String>) {
    // Matched by where the SKU lives, not by the SKU the platform shows
    // (a mapping may alias it).
    let by_ref: HashMap<(&str, &str), &ListingState> = known
        .states
        .values()
        .filter_map(|s| Some(((s.listing_id.as_deref()?, s.variant_id.as_deref()?), s)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut corrections = BTreeMap::new();
    report.listings = listings.len();
    for listing in listings {
        for variant in &listing.variants {
            report.skus += 1;
            let key = (listing.listing_id.as_str(), variant.variant_id.as_str());
            let (Some(state), Some(&wanted)) = (
                by_ref.get(&key),
                by_ref.get(&key).and_then(|s| known.wanted.get(&s.sku)),
            ) else {
                report.unmanaged.push(variant.sku.clone());
                continue;
            };
            seen.insert(state.sku.clone());
            let verdict = classify(
                Seen {
                    stock: variant.stock,
                    held: variant.held,
                    locked: variant.locked,
                },
                Known {
                    last_set: state.stock,
                    wanted,
                    work: known.work.get(&state.sku).copied().unwrap_or(Work::None),
                    lock_before: state.stock_lock,
                },
            );
            if verdict.lock != state.stock_lock {
                let mut locked = (*state).clone();
                locked.stock_lock = verdict.lock;
                batch.states.push(locked);
            }
            let Some(class) = verdict.class else {
                report.matching += 1;
                continue;
            };
            let finding = Finding {
                sku: state.sku.clone(),
                class,
                remote: variant.stock,
                held: variant.held,
                locked: variant.locked,
                last_set: state.stock,
                wanted,
                push: verdict.push,
            };
            tracing::info!(
                sku = %finding.sku,
                class = class.as_str(),
                remote = finding.remote,
                wanted,
                "stock differs"
            );
            batch.log.push(finding_row(&finding));
            if let Some(push) = verdict.push {
                corrections.insert(finding.sku.clone(), push);
            }
            *report.differences.entry(class).or_default() += 1;
            report.findings.push(finding);
        }
    }
    report.missing = known
        .states
        .values()
        .filter(|s| s.listing_id.is_some() && s.status == "live" && !seen.contains(&s.sku))
        .map(|s| s.sku.clone())
        .collect();
    report.missing.sort();
    (corrections, seen)
}

/// A difference as the sync log keeps it: under its SKU, its class the outcome.
fn finding_row(f: &Finding) -> LogRow {
    LogRow {
        skus: f.sku.clone(),
        action: "reconcile".into(),
        outcome: f.class.as_str().into(),
        attempt: 0,
        http_status: None,
        platform_code: None,
        message: Some(describe(f)),
        latency_ms: 0,
        request_id: None,
        cause: "reconcile".into(),
    }
}

fn describe(f: &Finding) -> String {
    let last = f
        .last_set
        .map_or_else(|| "nothing".to_string(), |v| v.to_string());
    let mut text = format!(
        "platform shows stock {}, chosync last set {last} and wants {}",
        f.remote, f.wanted
    );
    if f.held > 0 {
        text.push_str(&format!("; orders hold {}", f.held));
    }
    if f.locked > 0 {
        text.push_str(&format!("; a promotion reserves {}", f.locked));
    }
    match f.push {
        Some(push) => text.push_str(&format!("; pushing {push}")),
        None => text.push_str("; left as it is"),
    }
    text
}

/// Raises a drift alert for each difference an operator must hear of, and
/// resolves those of SKUs now found right.
async fn alert(
    store: &dyn Store,
    channel: &str,
    known: &Knowledge,
    seen: &BTreeSet<String>,
    report: &mut ReconcileReport,
) -> Result<(), StoreError> {
    let mut still = BTreeSet::new();
    for finding in &report.findings {
        still.insert(finding.sku.as_str());
        if !finding.class.alerts() {
            continue;
        }
        store
            .raise_alert(&NewAlert {
                kind: AlertKind::Drift,
                channel: channel.to_string(),
                subject: finding.sku.clone(),
                message: format!(
                    "{} on {channel}: {} ({})",
                    finding.sku,
                    describe(finding),
                    finding.class.as_str()
                ),
            })
            .await?;
        report.alerts_raised += 1;
    }
    // Only SKUs read and found right: one the platform did not show stays.
    for sku in &known.alerted {
        if still.contains(sku.as_str()) || !seen.contains(sku) {
            continue;
        }
        store.resolve_alert(AlertKind::Drift, channel, sku).await?;
        report.alerts_resolved += 1;
    }
    Ok(())
}
