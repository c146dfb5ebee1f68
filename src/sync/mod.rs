//! One sync pass of a channel: the pending work of the outbox, rendered
//! through the channel's rules and mapping, pushed through its connector in the
//! platform's batches, and recorded — listing state, finished tasks and every
//! platform call — in one short transaction per batch. No transaction is open
//! during a call.

pub mod allot;
mod calls;
mod channels;
pub mod log;
mod plan;
pub mod reconcile;
mod render;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chosync_connector::ConnectorError;
use chosync_connector::dto::{PriceSet, RemoteListing, RemoteRef, RemoteVariant, StockSet};
use chosync_connector::events::AttemptEvent;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::catalogue::model::Status;
use crate::channels::ChannelSettings;
use crate::channels::client::ChannelClient;
use crate::channels::mapping::Mapping;
use crate::channels::rules::StockRule;
use crate::inventory::allocation::Allocation;
use crate::inventory::split;
use crate::store::{
    Aspect, BatchRecord, CatalogueRow, LeaseGrant, ListingState, LogRow, PushTask, RunCounts,
    Store, StoreError,
};
pub use calls::CallLog;
use calls::UNSCOPED;
pub use channels::{ChannelPass, ChannelPlan, plan_channels, sync_channels};
pub use plan::{Change, GUARD_PERCENT, Plan, PlannedListing};
pub use render::Rendered;

/// Which work a pass takes on (`chosync sync --kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Kind {
    #[default]
    All,
    /// Listings: creates and content.
    Catalogue,
    Stock,
    Price,
    /// Orders: poll each channel's orders and apply them (no pushes).
    Orders,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Catalogue => "catalogue",
            Self::Stock => "stock",
            Self::Price => "price",
            Self::Orders => "orders",
        }
    }

    fn takes(self, aspect: Aspect) -> bool {
        match self {
            Self::All => true,
            Self::Catalogue => aspect == Aspect::Content,
            Self::Stock => aspect == Aspect::Stock,
            Self::Price => aspect == Aspect::Price,
            Self::Orders => false,
        }
    }
}

/// Follows a pass: how many tasks it took on, and as they are settled.
pub trait SyncProgress: Send + Sync {
    fn start(&self, channel: &str, tasks: u64);
    fn settled(&self, tasks: u64);
}

/// No progress shown.
pub struct Quiet;

impl SyncProgress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn settled(&self, _: u64) {}
}

/// How a pass is run.
#[derive(Clone)]
pub struct Options {
    /// Who asked: `cli`, `schedule`, `test`, …
    pub trigger: String,
    pub kind: Kind,
    /// Push even what the blast-radius guard would refuse.
    pub force: bool,
    /// How long the channel's lease lasts without renewal: a pass that died
    /// holds the channel this long at most.
    pub lease: Duration,
    pub progress: Arc<dyn SyncProgress>,
    /// When it turns true the pass stops where it is, as if its lease had
    /// run out (its work stays pending), and releases the channel: the
    /// daemon's shutdown once its grace period is over.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// The daemon replica that owns the channel: the pass runs under the
    /// replica's lease (it must still hold it) and leaves it held.
    pub holder: Option<String>,
}

impl Options {
    pub fn new(trigger: &str) -> Self {
        Self {
            trigger: trigger.to_string(),
            kind: Kind::All,
            force: false,
            lease: DEFAULT_LEASE,
            progress: Arc::new(Quiet),
            stop: None,
            holder: None,
        }
    }
}

/// How long work a pass could not act on waits before a pass looks again
/// (a stock value for a listing not made yet, a partitioned raise with no
/// room); a newer version of it is due at once.
pub const UNWORKED_WAIT: Duration = Duration::from_secs(60);

/// Long enough to ride out a slow database; short enough that a dead pass
/// holds up its channel for a minute at most.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blast-radius guard stopped the pass before any call.
    #[error("{0}")]
    Refused(String),
    /// Another pass (this process or another) holds the channel.
    #[error(
        "channel {channel} is being synced by another pass, or worked by a running `chosync run` (its lease runs until {until}, renewed while it works); try again later, or leave it to the daemon"
    )]
    Busy {
        channel: String,
        until: DateTime<Utc>,
    },
    /// Stopped by `Options::stop` before it finished; its work stays pending.
    #[error("the pass on {0} was stopped before it finished; its work stays pending")]
    Stopped(String),
    /// The channel's credentials are dead: refused before any call.
    #[error(transparent)]
    Paused(#[from] crate::channels::tokens::Paused),
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncSummary {
    pub channel: String,
    pub run_id: i64,
    #[serde(flatten)]
    pub counts: RunCounts,
    /// Work waiting after a failure, not due yet (`sync --retry` takes it now).
    pub deferred: usize,
    pub seconds: f64,
}

/// What one pass needs of a channel.
pub struct Channel<'a> {
    pub settings: &'a ChannelSettings,
    pub mapping: &'a Mapping,
    pub client: &'a ChannelClient,
    /// The sink the client's connector reports its attempts to.
    pub events: Arc<CallLog>,
    /// How the channels listing a SKU share its stock.
    pub allocation: &'a Allocation,
}

/// The work of one pass, gathered before any call.
struct Pass {
    run_id: i64,
    /// The lease every record of the pass is fenced by.
    owner: String,
    tasks: HashMap<(String, Aspect), PushTask>,
    rows: BTreeMap<String, CatalogueRow>,
    /// Each product's SKUs, in their catalogue order.
    products: HashMap<String, Vec<String>>,
    /// The listing states of the SKUs of products with work (any kind).
    states: HashMap<String, ListingState>,
    /// SKUs live on the channel when the pass began (the guard's base).
    live: i64,
    /// Catalogue image → the channel's reference for it.
    images: HashMap<String, String>,
    counts: RunCounts,
    progress: Arc<dyn SyncProgress>,
    /// The channel's listings by SKU and listing SKU, once read (for adoption).
    remote: Option<HashMap<String, RemoteListing>>,
    /// Tasks not due yet (backoff after a failure).
    deferred: usize,
    /// The channel's share of each SKU whose units are partitioned (see
    /// `allot`); the other SKUs are shared.
    allotted: HashMap<String, i64>,
}

/// Longest a store call of a pass may take: past it the pass stops (its
/// work stays pending) rather than hold its channel on a stuck database. A
/// call cut off after its commit stands: a lease taken that way lapses after
/// one lease period; a batch recorded that way is in, though the run says
/// `failed`. The lease's own deadline may stop the pass sooner.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// A store call of a pass (or of the daemon's fleet), bounded by
/// `STORE_TIMEOUT`.
pub(crate) async fn timed<T>(
    what: &'static str,
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(STORE_TIMEOUT, call)
        .await
        .unwrap_or(Err(StoreError::TimedOut(what)))
}

/// Runs one pass under the channel's lease, renewed while it runs. The pass
/// stops — no call is sent — at the moment the lease could have run out
/// without a renewal (the database's clock decides expiry; this process only
/// counts from before it asked, so it stops first). One that dies leaves the
/// channel to the next pass once the lease runs out, its work still pending.
/// A pass that fails after it started marks its run `failed`, with the reason.
pub async fn sync_channel(
    store: &dyn Store,
    channel: &Channel<'_>,
    options: &Options,
) -> Result<SyncSummary, SyncError> {
    let id = channel.settings.id.as_str();
    refuse_paused(store, id).await?;
    let asked = tokio::time::Instant::now();
    let lease = take_lease(store, id, options).await?;
    let owner = lease.owner.clone();
    let renew = keep_lease(options.lease, asked, || {
        store.renew_lease(id, &owner, options.lease)
    });
    let mut pass = None;
    let result = tokio::select! {
        biased;
        () = stopped(options.stop.clone()) => Err(SyncError::Stopped(id.to_string())),
        done = under_lease(renew, run_pass(store, channel, options, &owner, &mut pass)) => {
            done.unwrap_or_else(|| Err(SyncError::Store(StoreError::LeaseLost(id.to_string()))))
        }
    };
    if let (Err(err), Some(pass)) = (&result, &pass)
        && pass.run_id != 0
        && !matches!(err, SyncError::Refused(_))
    {
        let reason = err.to_string();
        let failed = store.finish_run(pass.run_id, "failed", &pass.counts, Some(&reason));
        if let Err(err) = timed("finish run", failed).await {
            tracing::warn!(channel = id, %err, "could not mark the run failed");
        }
    }
    pause_if_refused(store, channel).await;
    // A pass that lost its lease has nothing to release; the pass's own
    // error, if any, is the one to report.
    let released = give_back(store, id, lease).await;
    let summary = result?;
    released?;
    Ok(summary)
}

/// The lease a pass runs under: its own, taken for it and released after,
/// or its daemon replica's (`Options::holder`), checked and left held.
pub(crate) struct PassLease {
    pub owner: String,
    own: bool,
}

/// Takes the pass's lease, or checks that its replica still holds the
/// channel: `Busy` when another holds it, `LeaseLost` when the replica does
/// not any more.
pub(crate) async fn take_lease(
    store: &dyn Store,
    id: &str,
    options: &Options,
) -> Result<PassLease, SyncError> {
    if let Some(holder) = &options.holder {
        let held = timed("renew lease", store.renew_lease(id, holder, options.lease)).await?;
        if !held {
            return Err(StoreError::LeaseLost(id.to_string()).into());
        }
        return Ok(PassLease {
            owner: holder.clone(),
            own: false,
        });
    }
    let owner = uuid::Uuid::now_v7().to_string();
    match timed(
        "acquire lease",
        store.acquire_lease(id, &owner, options.lease),
    )
    .await?
    {
        LeaseGrant::Granted => Ok(PassLease { owner, own: true }),
        LeaseGrant::HeldUntil(until) => Err(SyncError::Busy {
            channel: id.to_string(),
            until,
        }),
    }
}

/// Releases a lease the pass took for itself; a replica's stays held.
pub(crate) async fn give_back(
    store: &dyn Store,
    id: &str,
    lease: PassLease,
) -> Result<(), StoreError> {
    if lease.own {
        timed("release lease", store.release_lease(id, &lease.owner)).await
    } else {
        Ok(())
    }
}

/// A paused channel's work is refused before its lease is taken or any call
/// made: its credentials are dead until the seller authorizes again.
async fn refuse_paused(store: &dyn Store, channel: &str) -> Result<(), SyncError> {
    match timed(
        "channel pause",
        crate::channels::tokens::paused(store, channel),
    )
    .await?
    {
        Some(paused) => Err(SyncError::Paused(paused)),
        None => Ok(()),
    }
}

/// A refresh refused for good during the work pauses the channel now, not
/// at the next tokens check; the work's own outcome is reported either way.
async fn pause_if_refused(store: &dyn Store, channel: &Channel<'_>) {
    let paused = crate::channels::tokens::pause_if_refused(store, channel);
    if let Err(err) = timed("pause if refused", paused).await {
        let id = channel.settings.id.as_str();
        tracing::warn!(channel = id, %err, "could not pause the channel");
    }
}

/// Renews a lease taken when `asked` every third of its length, and returns
/// at the moment it may have run out: a renewal refused, or none confirmed in
/// time (one that fails outright is tried again while the lease holds).
async fn keep_lease<R>(lease: Duration, asked: tokio::time::Instant, mut renew: impl FnMut() -> R)
where
    R: std::future::Future<Output = Result<bool, StoreError>>,
{
    let mut held_until = asked + lease;
    loop {
        let next = (tokio::time::Instant::now() + lease / 3).min(held_until);
        tokio::time::sleep_until(next).await;
        let asked = tokio::time::Instant::now();
        if asked >= held_until {
            return;
        }
        match tokio::time::timeout_at(held_until, renew()).await {
            Ok(Ok(true)) => held_until = asked + lease,
            Ok(Ok(false)) | Err(_) => return,
            Ok(Err(err)) => tracing::warn!(%err, "lease renewal failed"),
        }
    }
}

/// Returns once `stop` turns true; never without one (or once its sender is gone).
async fn stopped(stop: Option<tokio::sync::watch::Receiver<bool>>) {
    if let Some(mut stop) = stop
        && stop.wait_for(|stop| *stop).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

/// Runs `work` until `keeper` says the lease may be gone (`None`). The
/// keeper is polled first, so work woken at the same moment is dropped
/// before it can send another call.
async fn under_lease<T>(
    keeper: impl std::future::Future<Output = ()>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        biased;
        () = keeper => None,
        done = work => Some(done),
    }
}

/// The pass's work, kept in `slot` so that a pass cut short still has its
/// run and counts to record.
async fn run_pass(
    store: &dyn Store,
    channel: &Channel<'_>,
    options: &Options,
    owner: &str,
    slot: &mut Option<Pass>,
) -> Result<SyncSummary, SyncError> {
    let started = Instant::now();
    let id = channel.settings.id.as_str();
    let pass = slot.insert(gather(store, id, options.kind).await?);
    pass.owner = owner.to_string();
    allot::allot(store, pass, channel.settings, channel.allocation).await?;
    let refusal = plan::plan(pass, channel.settings, channel.client).guard();
    pass.run_id = timed(
        "start run",
        store.start_run(id, options.kind.as_str(), &options.trigger),
    )
    .await?;
    if let Some(reason) = refusal.filter(|_| !options.force) {
        let counts = RunCounts::default();
        timed(
            "finish run",
            store.finish_run(pass.run_id, "refused", &counts, Some(&reason)),
        )
        .await?;
        return Err(SyncError::Refused(reason));
    }
    pass.progress = options.progress.clone();
    pass.progress.start(id, pass.tasks.len() as u64);
    // Priority: stock decreases, creates, stock increases, prices, content.
    push_stock(store, channel, pass, Some(Direction::Down)).await?;
    push_listings(store, channel, pass, true).await?;
    push_stock(store, channel, pass, Some(Direction::Up)).await?;
    push_prices(store, channel, pass).await?;
    push_listings(store, channel, pass, false).await?;
    // Values the content step found shown otherwise than wanted (a variant an
    // earlier attempt added): set now, not a pass later.
    push_stock(store, channel, pass, None).await?;
    push_prices(store, channel, pass).await?;
    // Work this pass could not act on waits a while (a newer version is due
    // at once), so the daemon does not run pass after pass for it.
    let wait: Vec<_> = pass
        .tasks
        .values()
        .map(|t| (t.sku.clone(), t.aspect, t.desired_version, UNWORKED_WAIT))
        .collect();
    if !wait.is_empty() {
        let batch = BatchRecord {
            wait,
            ..BatchRecord::default()
        };
        pass.record(store, channel, batch, "", "waiting").await?;
    }
    let status = if pass.counts.failed > 0 {
        "partial"
    } else {
        "ok"
    };
    timed(
        "finish run",
        store.finish_run(pass.run_id, status, &pass.counts, None),
    )
    .await?;
    Ok(SyncSummary {
        channel: id.to_string(),
        run_id: pass.run_id,
        counts: pass.counts,
        deferred: pass.deferred,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What a pass of `kind` would do now, without any call.
pub async fn plan_channel(
    store: &dyn Store,
    settings: &ChannelSettings,
    allocation: &Allocation,
    client: &ChannelClient,
    kind: Kind,
) -> Result<Plan, StoreError> {
    let mut pass = gather(store, &settings.id, kind).await?;
    allot::allot(store, &mut pass, settings, allocation).await?;
    Ok(plan::plan(&pass, settings, client))
}

/// The pending work of `kind`, with the catalogue rows and listing states it needs.
async fn gather(store: &dyn Store, id: &str, kind: Kind) -> Result<Pass, StoreError> {
    let now = store.now();
    let (tasks, deferred): (Vec<PushTask>, Vec<PushTask>) =
        timed("pending tasks", store.pending_tasks(id))
            .await?
            .into_iter()
            .filter(|t| kind.takes(t.aspect))
            .partition(|t| t.not_before <= now);
    let tasks: HashMap<(String, Aspect), PushTask> = tasks
        .into_iter()
        .map(|t| ((t.sku.clone(), t.aspect), t))
        .collect();
    let wanted: BTreeSet<String> = tasks.keys().map(|(sku, _)| sku.clone()).collect();
    let mut rows = BTreeMap::new();
    if !wanted.is_empty() {
        for row in timed("catalogue", store.catalogue_with_work(id)).await? {
            rows.insert(row.variant.sku.clone(), row);
        }
        // Kept: the rows of products with work of this pass (its kind, due).
        let busy: BTreeSet<String> = wanted
            .iter()
            .filter_map(|sku| rows.get(sku))
            .map(|row| row.variant.product_id.clone())
            .collect();
        rows.retain(|_, row| busy.contains(&row.variant.product_id));
    }
    let mut products: HashMap<String, Vec<&CatalogueRow>> = HashMap::new();
    for row in rows.values() {
        products
            .entry(row.variant.product_id.clone())
            .or_default()
            .push(row);
    }
    let products = products
        .into_iter()
        .map(|(id, mut rows)| {
            rows.sort_by_key(|r| r.variant.position);
            (id, rows.iter().map(|r| r.variant.sku.clone()).collect())
        })
        .collect();
    Ok(Pass {
        run_id: 0,
        owner: String::new(),
        deferred: deferred.len(),
        tasks,
        rows,
        products,
        states: timed("listing states", store.listing_states_with_work(id)).await?,
        live: timed("live listings", store.live_listings(id)).await?,
        images: timed("channel images", store.channel_images(id)).await?,
        counts: RunCounts::default(),
        progress: Arc::new(Quiet),
        remote: None,
        allotted: HashMap::new(),
    })
}

impl Pass {
    fn task(&self, sku: &str, aspect: Aspect) -> Option<&PushTask> {
        self.tasks.get(&(sku.to_string(), aspect))
    }

    fn state(&self, sku: &str) -> ListingState {
        self.states
            .get(sku)
            .cloned()
            .unwrap_or_else(|| ListingState::new(sku))
    }

    /// The stock the channel should show of a SKU: its share when the SKU
    /// is partitioned, else its rule applied to every sellable unit.
    fn wanted_stock(&self, row: &CatalogueRow, rule: &StockRule) -> i64 {
        self.allotted
            .get(&row.variant.sku)
            .copied()
            .unwrap_or_else(|| rule.apply(row.on_hand - row.reserved))
    }

    /// Per SKU of a listing call: the stock it carries and the stock wanted.
    /// A partitioned SKU's listing carries no more than the channel shows
    /// already: a raise goes through the stock step's claim.
    fn listing_stocks(
        &self,
        rows: &[CatalogueRow],
        rule: &StockRule,
    ) -> HashMap<String, (i64, i64)> {
        rows.iter()
            .map(|row| {
                let sku = &row.variant.sku;
                let wanted = self.wanted_stock(row, rule);
                let carried = if self.allotted.contains_key(sku) {
                    wanted.min(self.state(sku).stock.unwrap_or(0))
                } else {
                    wanted
                };
                (sku.clone(), (carried, wanted))
            })
            .collect()
    }

    /// The SKUs of `product` in the catalogue, in order.
    fn product_rows(&self, product_id: &str) -> Vec<&CatalogueRow> {
        self.products
            .get(product_id)
            .into_iter()
            .flatten()
            .filter_map(|sku| self.rows.get(sku))
            .collect()
    }

    /// Whether the product has a listing on the channel (one of its SKUs is
    /// listed, and listed as part of this product).
    fn listed(&self, product_id: &str) -> bool {
        self.product_rows(product_id).iter().any(|r| {
            let state = self.state(&r.variant.sku);
            state.listing_id.is_some()
                && state.product_id.as_deref().is_none_or(|p| p == product_id)
        })
    }

    /// Whether the product has content or price work in this pass: only that
    /// can make (or change the answer to) a create. Stock alone waits for it —
    /// a create carries the stock of its time — so a refused or backed-off
    /// create is not retried because stock moved.
    fn has_listing_work(&self, product_id: &str) -> bool {
        self.product_rows(product_id).iter().any(|r| {
            [Aspect::Content, Aspect::Price]
                .iter()
                .any(|a| self.task(&r.variant.sku, *a).is_some())
        })
    }

    /// A SKU of the product that is listed here under another product.
    fn moved_sku(&self, product_id: &str) -> Option<(String, String)> {
        self.product_rows(product_id).iter().find_map(|r| {
            let state = self.state(&r.variant.sku);
            let owner = state.product_id.filter(|p| p != product_id)?;
            state.listing_id.as_ref()?;
            Some((r.variant.sku.clone(), owner))
        })
    }

    /// An order's stock acknowledged on the channel: the time from its
    /// movement's record (when it marked the task) to now goes to the
    /// propagation histogram. Only a task finished at the version the order
    /// marked, on its first try, measures that: a backoff or a wait moves
    /// the mark.
    fn observe_propagation(
        &self,
        store: &dyn Store,
        channel: &str,
        done: &[(String, Aspect, i64)],
    ) {
        let now = store.now();
        for (sku, aspect, version) in done {
            if *aspect == Aspect::Stock
                && let Some(task) = self.tasks.get(&(sku.clone(), *aspect))
                && task.desired_version == *version
                && task.attempts == 0
                && task.cause.starts_with(crate::store::orders::ORDER_CAUSE)
            {
                let seconds = (now - task.marked_at).num_milliseconds() as f64 / 1000.0;
                crate::metrics::propagated(channel, seconds);
            }
        }
    }

    /// Records a batch and keeps the new states for the rest of the pass.
    async fn record(
        &mut self,
        store: &dyn Store,
        channel: &Channel<'_>,
        batch: BatchRecord,
        skus: &str,
        cause: &str,
    ) -> Result<(), StoreError> {
        self.record_call(store, channel, batch, skus, cause, UNSCOPED)
            .await
    }

    /// Records a batch with the attempts of call `call`.
    async fn record_call(
        &mut self,
        store: &dyn Store,
        channel: &Channel<'_>,
        mut batch: BatchRecord,
        skus: &str,
        cause: &str,
        call: u64,
    ) -> Result<(), StoreError> {
        let events = channel.events.take(call);
        if events.is_empty()
            && batch.states.is_empty()
            && batch.done.is_empty()
            && batch.retry.is_empty()
            && batch.wait.is_empty()
        {
            return Ok(());
        }
        self.counts.calls += events.len() as i64;
        self.counts.throttled += events
            .iter()
            .filter(|e| e.outcome == "rate_limited")
            .count() as i64;
        batch.log = events.iter().map(|e| log_row(e, skus, cause)).collect();
        let record = store.record_batch(&channel.settings.id, &self.owner, self.run_id, &batch);
        timed("record batch", record).await?;
        self.observe_propagation(store, &channel.settings.id, &batch.done);
        for state in batch.states {
            self.states.insert(state.sku.clone(), state);
        }
        let before = self.tasks.len();
        // Finished, deferred by a backoff, or waiting: settled for this pass.
        let retried = batch
            .retry
            .iter()
            .chain(&batch.wait)
            .map(|(sku, aspect, _, _)| (sku, aspect));
        for (sku, aspect) in batch.done.iter().map(|(s, a, _)| (s, a)).chain(retried) {
            self.tasks.remove(&(sku.clone(), *aspect));
        }
        self.progress.settled((before - self.tasks.len()) as u64);
        Ok(())
    }
}

pub(crate) fn log_row(event: &AttemptEvent, skus: &str, cause: &str) -> LogRow {
    LogRow {
        skus: skus.to_string(),
        action: event.endpoint.clone(),
        outcome: event.outcome.to_string(),
        attempt: i64::from(event.attempt),
        http_status: event.http_status.map(i64::from),
        platform_code: event.platform_code.clone(),
        message: event.message.clone(),
        latency_ms: event.latency.as_millis() as i64,
        request_id: event.request_id.clone(),
        cause: cause.to_string(),
    }
}

/// A refusal of one aspect: settled until the data changes. The error names
/// the aspect so that a later success of that aspect lifts the quarantine.
fn quarantine(state: &mut ListingState, aspect: Aspect, error: &str) {
    state.quarantined = true;
    state.status = "rejected".into();
    state.last_error = Some(format!("{}: {error}", aspect.as_str()));
}

/// A success of `aspect` clears the error (and quarantine) that aspect caused.
/// `on_sale`: whether the listing is for sale (the product is active), so a
/// lifted quarantine leaves a taken-off-sale listing `delisted`.
fn clear(state: &mut ListingState, aspect: Aspect, on_sale: bool) {
    let prefix = format!("{}: ", aspect.as_str());
    if state
        .last_error
        .as_deref()
        .is_some_and(|e| e.starts_with(&prefix))
    {
        state.last_error = None;
        if state.quarantined {
            state.quarantined = false;
            state.status = if on_sale { "live" } else { "delisted" }.into();
        }
    }
}

const ALL_ASPECTS: [Aspect; 3] = [Aspect::Content, Aspect::Price, Aspect::Stock];

/// Listing calls in flight at once: a Shopee create waits seconds between
/// its steps, so one at a time would leave the rate limit idle.
const CONCURRENT_LISTINGS: usize = 32;

/// Creates (`creating`) listings for unlisted products with any work, or
/// updates the listings of products with content work. Each product is
/// prepared (rendered, images hosted) in turn, its call made alongside
/// others', and its result recorded as soon as it returns.
async fn push_listings(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    creating: bool,
) -> Result<(), StoreError> {
    let products: BTreeSet<String> = pass
        .tasks
        .keys()
        .filter(|(_, aspect)| creating || *aspect == Aspect::Content)
        .filter_map(|(sku, _)| pass.rows.get(sku))
        .map(|row| row.variant.product_id.clone())
        .filter(|product_id| pass.listed(product_id) != creating)
        .collect();
    let connector = channel.client.connector();
    let log = channel.events.clone();
    // Three parts run side by side: products are prepared a handful at a
    // time, their calls made (several at once) and each result recorded as
    // it returns — so the first calls go out before the last product is ready.
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
    let calls = async move {
        let jobs = futures_util::stream::poll_fn(move |cx| queued.poll_recv(cx));
        let mut calls = jobs
            .map(|job| {
                let id = log.next_id();
                CallLog::scoped(id, async move {
                    let result = connector
                        .upsert_listing(&job.rendered.draft, job.existing.as_ref())
                        .await;
                    (id, job, result)
                })
            })
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some(done) = calls.next().await {
            if sender.send(done).is_err() {
                break; // recording failed; the pass stops
            }
        }
    };
    // Owns the queue and the results: if recording fails, both close and
    // the calls stop at their next result.
    let recording = async move {
        let mut products = products.into_iter();
        let mut queue = Some(queue);
        let mut unsettled = 0usize;
        loop {
            if let Some(sending) = queue
                .as_ref()
                .filter(|_| unsettled < 2 * CONCURRENT_LISTINGS)
            {
                let chunk: Vec<String> = products.by_ref().take(CONCURRENT_LISTINGS).collect();
                if chunk.is_empty() {
                    queue = None; // all prepared: the calls end once these return
                    continue;
                }
                let mut jobs = Vec::new();
                let mut marks = BatchRecord::default();
                for product_id in chunk {
                    let job = prepare(store, channel, pass, &product_id, creating, &mut marks);
                    jobs.extend(job.await?);
                }
                // One transaction for the chunk's `creating` marks, before its calls.
                pass.record(store, channel, marks, "", "").await?;
                unsettled += jobs.len();
                for job in jobs {
                    if sending.send(job).is_err() {
                        return Ok(());
                    }
                }
                continue;
            }
            match results.recv().await {
                Some((id, job, result)) => {
                    unsettled -= 1;
                    finish(store, channel, pass, job, result, id).await?;
                }
                None => return Ok::<(), StoreError>(()),
            }
        }
    };
    let ((), recorded) = tokio::join!(calls, recording);
    recorded
}

/// A product ready for its listing call.
struct Job {
    product_id: String,
    rows: Vec<CatalogueRow>,
    skus: String,
    cause: String,
    rendered: Rendered,
    existing: Option<RemoteListing>,
    /// A listing a cut-off create left behind, taken over.
    adopted: bool,
    /// SKUs the call gives a variant for the first time.
    new_variants: BTreeSet<String>,
    /// The tasks a success finishes.
    settled: Vec<(String, Aspect, i64)>,
}

/// Renders a product and decides its call; records (and returns `None` for)
/// a product that needs none or cannot be listed.
async fn prepare(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    product_id: &str,
    creating: bool,
    marks: &mut BatchRecord,
) -> Result<Option<Job>, StoreError> {
    let rows: Vec<CatalogueRow> = pass.product_rows(product_id).into_iter().cloned().collect();
    let skus = rows
        .iter()
        .map(|r| r.variant.sku.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let cause = rows
        .iter()
        .find_map(|r| {
            ALL_ASPECTS
                .iter()
                .find_map(|a| pass.task(&r.variant.sku, *a))
        })
        .map_or_else(String::new, |t| t.cause.clone());
    let pending = |pass: &Pass, aspects: &[Aspect]| -> Vec<(String, Aspect, i64)> {
        rows.iter()
            .flat_map(|r| aspects.iter().map(|a| (r.variant.sku.clone(), *a)))
            .filter_map(|(sku, aspect)| {
                pass.task(&sku, aspect)
                    .map(|t| (sku, aspect, t.desired_version))
            })
            .collect()
    };
    let mut batch = BatchRecord::default();
    let refuse = |pass: &mut Pass, batch: &mut BatchRecord, reason: &str| {
        for row in &rows {
            let mut state = pass.state(&row.variant.sku);
            quarantine(&mut state, Aspect::Content, reason);
            batch.states.push(state);
        }
        batch.done = pending(pass, &ALL_ASPECTS);
        pass.counts.quarantined += rows.len() as i64;
    };
    let active = rows
        .first()
        .is_some_and(|r| r.product.status == Status::Active);
    let half_made = rows
        .iter()
        .any(|r| pass.state(&r.variant.sku).status == "creating");
    if creating && half_made && !pass.has_listing_work(product_id) {
        // Only stock work, while a cut-off create may have left a listing:
        // left pending for the pass that adopts it, which reads what it
        // shows; counted as waiting, like work in a backoff.
        let waiting = pending(pass, &ALL_ASPECTS);
        for (sku, aspect, _) in &waiting {
            pass.tasks.remove(&(sku.clone(), *aspect));
        }
        pass.deferred += waiting.len();
        pass.progress.settled(waiting.len() as u64);
        return Ok(None);
    }
    if creating && (!active || !pass.has_listing_work(product_id)) && !half_made {
        // Inactive and never listed here (nothing to list, nothing to take off
        // sale), or only stock work of a product no listing shows (the create
        // carries the stock of its time): settled without a call.
        batch.done = pending(pass, &ALL_ASPECTS);
        pass.counts.skipped += rows.len() as i64;
        pass.record(store, channel, batch, &skus, &cause).await?;
        return Ok(None);
    }
    if let Some((sku, owner)) = pass.moved_sku(product_id) {
        let reason = format!(
            "SKU {sku} is listed on {} as part of product {owner}; remove it from that listing on the platform, then re-import",
            channel.settings.id
        );
        refuse(pass, &mut batch, &reason);
        pass.record(store, channel, batch, &skus, &cause).await?;
        return Ok(None);
    }
    let stocks = pass.listing_stocks(&rows, &channel.settings.stock);
    let rendered = match render::listing(store, channel, &mut pass.images, &rows, &stocks).await {
        Ok(rendered) => rendered,
        Err(RenderError::Store(err)) => return Err(err),
        Err(RenderError::Failed(err)) => {
            let tasks = pending(pass, &ALL_ASPECTS);
            let skus_of = rows.iter().map(|r| r.variant.sku.as_str());
            settle_failure(pass, &mut batch, Aspect::Content, &err, skus_of, &tasks);
            pass.record(store, channel, batch, &skus, &cause).await?;
            return Ok(None);
        }
        Err(RenderError::Refused(reason)) => {
            refuse(pass, &mut batch, &reason);
            pass.record(store, channel, batch, &skus, &cause).await?;
            return Ok(None);
        }
    };
    // The listing to update: ours, or on a create one a previous pass may
    // have made before it could record it (a create that timed out).
    let existing = if creating {
        match adopt(channel, pass, &rows).await {
            Ok(found) => found,
            Err(err) => {
                let tasks = pending(pass, &ALL_ASPECTS);
                let skus_of = rows.iter().map(|r| r.variant.sku.as_str());
                settle_failure(pass, &mut batch, Aspect::Content, &err, skus_of, &tasks);
                pass.record(store, channel, batch, &skus, &cause).await?;
                return Ok(None);
            }
        }
    } else {
        let unchanged = rows.iter().all(|r| {
            pass.state(&r.variant.sku).content_hash.as_deref()
                == Some(rendered.content_hash.as_str())
        });
        if unchanged {
            batch.done = pending(pass, &[Aspect::Content]);
            pass.counts.skipped += rows.len() as i64;
            pass.record(store, channel, batch, &skus, &cause).await?;
            return Ok(None);
        }
        Some(remote_of(pass, &rows))
    };
    let adopted = creating && existing.is_some();
    if creating && !active && !adopted {
        // A create cut off before it reached the platform, then deactivated.
        batch.done = pending(pass, &ALL_ASPECTS);
        batch.states = rows
            .iter()
            .map(|r| {
                let mut state = pass.state(&r.variant.sku);
                state.status = "pending".into();
                state
            })
            .collect();
        pass.counts.skipped += rows.len() as i64;
        pass.record(store, channel, batch, &skus, &cause).await?;
        return Ok(None);
    }
    if creating && !adopted {
        // Marked before the call: if the pass dies mid-create, the next one
        // looks for the listing before creating it again.
        batch.states = rows
            .iter()
            .map(|r| {
                let mut state = pass.state(&r.variant.sku);
                state.status = "creating".into();
                state.product_id = Some(product_id.to_string());
                state
            })
            .collect();
    }
    if channel.events.pending(UNSCOPED) {
        // Image uploads and look-ups made while preparing: logged under this product.
        pass.record(store, channel, batch, &skus, &cause).await?;
    } else {
        marks.states.append(&mut batch.states);
    }
    // SKUs the call gives a variant for the first time get the draft's price
    // and stock with it; an adopted listing keeps the platform's until pushed.
    let new_variants: BTreeSet<String> = rows
        .iter()
        .map(|r| r.variant.sku.clone())
        .filter(|sku| !adopted && pass.state(sku).variant_id.is_none())
        .collect();
    let settled: Vec<(String, Aspect, i64)> = pending(pass, &ALL_ASPECTS)
        .into_iter()
        .filter(|(sku, aspect, _)| *aspect == Aspect::Content || new_variants.contains(sku))
        .collect();
    Ok(Some(Job {
        product_id: product_id.to_string(),
        rows,
        skus,
        cause,
        rendered,
        existing,
        adopted,
        new_variants,
        settled,
    }))
}

/// Records the outcome of a product's listing call.
async fn finish(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    job: Job,
    result: Result<RemoteListing, ConnectorError>,
    call: u64,
) -> Result<(), StoreError> {
    let mut batch = BatchRecord::default();
    match result {
        Ok(remote) => {
            let mut settled = job.settled;
            for row in &job.rows {
                let sku = &row.variant.sku;
                let mut state = pass.state(sku);
                let Some(at) = remote.at(sku) else {
                    // Not in what the platform answered: left pending (and, on a
                    // create, still `creating`, so the next pass looks for it).
                    settled.retain(|(s, _, _)| s != sku);
                    state.last_error = Some(format!(
                        "content: listing {} came back without SKU {sku}",
                        remote.listing_id
                    ));
                    batch.states.push(state);
                    pass.counts.failed += 1;
                    continue;
                };
                state.listing_id = Some(at.listing_id);
                state.variant_id = Some(at.variant_id);
                state.product_id = Some(job.product_id.clone());
                state.content_hash = Some(job.rendered.content_hash.clone());
                if job.new_variants.contains(sku) || job.adopted {
                    // What the platform shows now: set by this call, or found
                    // (a cut-off create, or a variant an earlier attempt
                    // added). Work on a value it does not show as wanted stays
                    // pending for the value steps.
                    let shown = remote.variant(sku);
                    state.price = shown.map(|v| v.price);
                    state.stock = shown.map(|v| v.stock);
                    let values = [
                        (Aspect::Price, job.rendered.prices.get(sku), state.price),
                        (Aspect::Stock, job.rendered.stocks.get(sku), state.stock),
                    ];
                    for (aspect, wanted, shown) in values {
                        if wanted.copied() == shown {
                            clear(&mut state, aspect, job.rendered.draft.listed);
                        } else {
                            settled.retain(|(s, a, _)| s != sku || *a != aspect);
                        }
                    }
                }
                clear(&mut state, Aspect::Content, job.rendered.draft.listed);
                if !state.quarantined {
                    let listed = job.rendered.draft.listed;
                    state.status = if listed { "live" } else { "delisted" }.into();
                }
                batch.states.push(state);
                pass.counts.pushed += 1;
            }
            batch.done = settled;
        }
        Err(err) => {
            let skus_of = job.rows.iter().map(|r| r.variant.sku.as_str());
            settle_failure(
                pass,
                &mut batch,
                Aspect::Content,
                &err,
                skus_of,
                &job.settled,
            );
        }
    }
    pass.record_call(store, channel, batch, &job.skus, &job.cause, call)
        .await
}

/// On a create, the listing a previous pass created but could not record:
/// looked for only when that pass marked the product `creating`.
/// The channel's listings are read once per pass, the first time one is needed.
async fn adopt(
    channel: &Channel<'_>,
    pass: &mut Pass,
    rows: &[CatalogueRow],
) -> Result<Option<RemoteListing>, ConnectorError> {
    let Some(first) = rows
        .iter()
        .find(|r| pass.state(&r.variant.sku).status == "creating")
    else {
        return Ok(None);
    };
    if pass.remote.is_none() {
        let mut index = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = channel
                .client
                .connector()
                .list_remote_listings(cursor.as_deref())
                .await?;
            for listing in page.items {
                let keys = listing.variants.iter().map(|v| v.sku.clone());
                for key in keys.chain(listing.listing_sku.clone()) {
                    index.insert(key, listing.clone());
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        pass.remote = Some(index);
    }
    let index = pass.remote.as_ref();
    // By a SKU, or (cut off before its variants existed) by the product's key.
    Ok([&first.variant.sku, &first.variant.product_id]
        .into_iter()
        .find_map(|key| index.and_then(|i| i.get(key)).cloned()))
}

/// A failed call: a refusal quarantines its SKUs (their `tasks` are settled
/// until their data changes); anything else leaves the tasks pending, tried
/// again after a backoff that grows with each failure.
fn settle_failure<'a>(
    pass: &mut Pass,
    batch: &mut BatchRecord,
    aspect: Aspect,
    err: &ConnectorError,
    skus: impl Iterator<Item = &'a str>,
    tasks: &[(String, Aspect, i64)],
) {
    match err {
        ConnectorError::Rejected { .. } | ConnectorError::NotFound(_) => {
            for sku in skus {
                let mut state = pass.state(sku);
                quarantine(&mut state, aspect, &err.to_string());
                batch.states.push(state);
                pass.counts.quarantined += 1;
            }
            batch.done.extend(tasks.iter().cloned());
        }
        _ => {
            for sku in skus {
                let mut state = pass.state(sku);
                if !state.quarantined {
                    // A quarantine's reason stays until its aspect succeeds.
                    state.last_error = Some(format!("{}: {err}", aspect.as_str()));
                }
                batch.states.push(state);
                pass.counts.failed += 1;
            }
            for (sku, task_aspect, version) in tasks {
                let attempts = pass.task(sku, *task_aspect).map_or(0, |t| t.attempts);
                let delay = backoff(attempts);
                batch
                    .retry
                    .push((sku.clone(), *task_aspect, *version, delay));
            }
        }
    }
}

/// Half a minute after the first failure, doubling up to an hour.
pub fn backoff(failures_before: i64) -> Duration {
    let doublings = u32::try_from(failures_before.clamp(0, 7)).unwrap_or(7);
    (Duration::from_secs(30) * 2u32.pow(doublings)).min(Duration::from_secs(3600))
}

/// The platform's view of a product's listing, from the acknowledged states.
fn remote_of(pass: &Pass, rows: &[CatalogueRow]) -> RemoteListing {
    let states: Vec<ListingState> = rows.iter().map(|r| pass.state(&r.variant.sku)).collect();
    RemoteListing {
        listing_id: states
            .iter()
            .find_map(|s| s.listing_id.clone())
            .unwrap_or_default(),
        listing_sku: None,
        status: "live".into(),
        title: String::new(),
        variants: states
            .iter()
            .filter_map(|s| {
                Some(RemoteVariant {
                    sku: s.sku.clone(),
                    variant_id: s.variant_id.clone()?,
                    price: s.price.unwrap_or(0),
                    stock: s.stock.unwrap_or(0),
                    ..RemoteVariant::default()
                })
            })
            .collect(),
    }
}

/// Which way a stock step moves the values it pushes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Down,
    Up,
}

/// Pushes the stock of each SKU with stock work going `only` one way (down
/// goes first: a sale elsewhere must not be sold twice), or any.
async fn push_stock(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    only: Option<Direction>,
) -> Result<(), StoreError> {
    let rule = &channel.settings.stock;
    let wanted = |pass: &Pass, row: &CatalogueRow, state: &ListingState| {
        let quantity = stock_to_push(pass.wanted_stock(row, rule), state);
        let down = state.stock.is_some_and(|old| quantity < old);
        let direction = if down { Direction::Down } else { Direction::Up };
        (state.stock == Some(quantity) || only.is_none_or(|o| o == direction)).then_some(quantity)
    };
    push_values(store, channel, pass, Aspect::Stock, wanted).await
}

/// What a channel is sent for `wanted`: never below the stock a promotion
/// locks there (the platform refuses less), which reconcile records.
pub fn stock_to_push(wanted: i64, state: &ListingState) -> i64 {
    state.stock_lock.map_or(wanted, |lock| wanted.max(lock))
}

async fn push_prices(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
) -> Result<(), StoreError> {
    let rule = &channel.settings.price;
    let wanted = |_: &Pass, row: &CatalogueRow, _: &ListingState| {
        Some(rule.apply(&row.variant.sku, row.variant.price))
    };
    push_values(store, channel, pass, Aspect::Price, wanted).await
}

/// Sets the value `wanted` gives (`None`: not in this step) of each listed
/// SKU with `aspect` work; values the channel already shows cost no call.
async fn push_values(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    aspect: Aspect,
    wanted: impl Fn(&Pass, &CatalogueRow, &ListingState) -> Option<i64>,
) -> Result<(), StoreError> {
    let shown = |state: &ListingState| match aspect {
        Aspect::Stock => state.stock,
        _ => state.price,
    };
    let mut items: Vec<(String, RemoteRef, i64, i64)> = Vec::new();
    let mut skipped = Vec::new();
    for ((sku, task_aspect), task) in &pass.tasks {
        if *task_aspect != aspect {
            continue;
        }
        let (Some(row), state) = (pass.rows.get(sku), pass.state(sku)) else {
            continue;
        };
        let (Some(listing_id), Some(variant_id)) =
            (state.listing_id.clone(), state.variant_id.clone())
        else {
            continue;
        };
        let Some(value) = wanted(pass, row, &state) else {
            continue;
        };
        // A partitioned SKU's unsettled push (a ceiling still counted, or a
        // failure that keeps the channel out of reach) is set again though
        // the value is the same: only a success settles it. So is a value
        // the platform may have changed itself (an order there).
        let settled = aspect != Aspect::Stock
            || !pass.allotted.contains_key(sku)
            || split::settled(state.stock_in_flight, state.last_error.as_deref());
        if !task.recheck && !split::worth_pushing(shown(&state), value, settled) {
            skipped.push((sku.clone(), aspect, task.desired_version));
            continue;
        }
        let at = RemoteRef {
            listing_id,
            variant_id,
        };
        items.push((sku.clone(), at, value, task.desired_version));
    }
    if !skipped.is_empty() {
        pass.counts.skipped += skipped.len() as i64;
        let batch = BatchRecord {
            done: skipped,
            ..BatchRecord::default()
        };
        pass.record(store, channel, batch, "", "unchanged").await?;
    }
    let unfinished = match aspect {
        Aspect::Stock => claim_partitioned(store, channel, pass, &mut items).await?,
        _ => HashSet::new(),
    };
    if items.is_empty() {
        return Ok(());
    }
    let connector = channel.client.connector();
    let outcomes = match aspect {
        Aspect::Stock => {
            let sets: Vec<StockSet> = items
                .iter()
                .map(|(sku, at, quantity, _)| StockSet {
                    sku: sku.clone(),
                    at: at.clone(),
                    quantity: *quantity,
                })
                .collect();
            connector.set_stock(&sets).await
        }
        _ => {
            let sets: Vec<PriceSet> = items
                .iter()
                .map(|(sku, at, price, _)| PriceSet {
                    sku: sku.clone(),
                    at: at.clone(),
                    price: *price,
                })
                .collect();
            connector.set_price(&sets).await
        }
    };
    let values: HashMap<String, i64> = items
        .iter()
        .map(|(sku, _, value, _)| (sku.clone(), *value))
        .collect();
    let versions: Vec<(String, i64)> = items
        .iter()
        .map(|(sku, _, _, version)| (sku.clone(), *version))
        .collect();
    apply_outcomes(
        store,
        channel,
        pass,
        aspect,
        &versions,
        &outcomes,
        |state, sku| {
            let value = values.get(sku).copied();
            match aspect {
                Aspect::Stock => {
                    // Landed: the channel shows this, and nothing else is in flight.
                    state.stock = value;
                    state.stock_in_flight = None;
                }
                _ => state.price = value,
            }
            !unfinished.contains(sku)
        },
    )
    .await
}

/// Claims the headroom for the pushes of partitioned SKUs among `items`
/// before any call (see `Store::claim_stock`): each is pushed only as far as
/// its claim grants, and dropped when that is what the channel was last set
/// to and nothing is left to settle. Returns the SKUs pushed (or dropped)
/// short of what is wanted: their task stays pending for a later pass.
async fn claim_partitioned(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    items: &mut Vec<(String, RemoteRef, i64, i64)>,
) -> Result<HashSet<String>, StoreError> {
    let wanted: Vec<(String, i64)> = items
        .iter()
        .filter(|(sku, _, _, _)| pass.allotted.contains_key(sku))
        .map(|(sku, _, value, _)| (sku.clone(), *value))
        .collect();
    let mut short = HashSet::new();
    if wanted.is_empty() {
        return Ok(short);
    }
    let claim = store.claim_stock(&channel.settings.id, &pass.owner, &wanted);
    let granted = timed("claim stock", claim).await?;
    let claimed: HashSet<&str> = wanted.iter().map(|(sku, _)| sku.as_str()).collect();
    let mut kept = Vec::with_capacity(items.len());
    for mut item in items.drain(..) {
        if !claimed.contains(item.0.as_str()) {
            kept.push(item);
            continue;
        }
        let Some(claim) = granted.get(&item.0) else {
            continue;
        };
        if claim.push < item.2 {
            short.insert(item.0.clone());
        }
        item.2 = claim.push;
        let mut state = pass.state(&item.0);
        let settled = split::settled(state.stock_in_flight, state.last_error.as_deref());
        if !split::worth_pushing(state.stock, claim.push, settled) {
            continue; // no room to raise: left pending
        }
        // Kept with the state, so a failed push's record keeps it counted.
        state.stock_in_flight = claim.in_flight;
        pass.states.insert(item.0.clone(), state);
        kept.push(item);
    }
    *items = kept;
    Ok(short)
}

/// Per-item outcomes of a stock or price call, recorded as one batch. `set`
/// records a success on the state and says whether it finishes the task (a
/// push held short of what is wanted does not).
async fn apply_outcomes(
    store: &dyn Store,
    channel: &Channel<'_>,
    pass: &mut Pass,
    aspect: Aspect,
    items: &[(String, i64)],
    outcomes: &[chosync_connector::dto::ItemOutcome],
    set: impl Fn(&mut ListingState, &str) -> bool,
) -> Result<(), StoreError> {
    let mut batch = BatchRecord::default();
    let versions: HashMap<&str, i64> = items.iter().map(|(sku, v)| (sku.as_str(), *v)).collect();
    for outcome in outcomes {
        let version = versions.get(outcome.sku.as_str()).copied().unwrap_or(0);
        match &outcome.result {
            Ok(()) => {
                let mut state = pass.state(&outcome.sku);
                let finished = set(&mut state, &outcome.sku);
                let on_sale = pass
                    .rows
                    .get(&outcome.sku)
                    .is_none_or(|r| r.product.status == Status::Active);
                clear(&mut state, aspect, on_sale);
                batch.states.push(state);
                if finished {
                    batch.done.push((outcome.sku.clone(), aspect, version));
                }
                pass.counts.pushed += 1;
            }
            Err(err) => {
                let settled = [(outcome.sku.clone(), aspect, version)];
                settle_failure(
                    pass,
                    &mut batch,
                    aspect,
                    err,
                    std::iter::once(outcome.sku.as_str()),
                    &settled,
                );
            }
        }
    }
    let skus = items
        .iter()
        .map(|(s, _)| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let cause = items
        .first()
        .and_then(|(sku, _)| pass.task(sku, aspect))
        .map_or_else(String::new, |t| t.cause.clone());
    pass.record(store, channel, batch, &skus, &cause).await
}

pub enum RenderError {
    /// The product cannot be listed here as it is (unmapped category, …).
    Refused(String),
    /// An image upload failed in a way that may pass.
    Failed(ConnectorError),
    Store(StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(aspect: Aspect) -> ListingState {
        let mut state = ListingState::new("MD-500G");
        state.listing_id = Some("3000000026".into());
        quarantine(&mut state, aspect, "too dear");
        state
    }

    #[test]
    fn a_success_lifts_only_the_quarantine_its_aspect_caused() {
        let mut state = refused(Aspect::Price);
        clear(&mut state, Aspect::Stock, true);
        assert!(state.quarantined && state.status == "rejected");
        clear(&mut state, Aspect::Price, true);
        assert_eq!(
            (state.quarantined, state.status.as_str(), state.last_error),
            (false, "live", None)
        );
        // A listing taken off sale stays so when its quarantine lifts.
        let mut state = refused(Aspect::Price);
        clear(&mut state, Aspect::Price, false);
        assert_eq!(state.status, "delisted");
    }

    /// Work that sends a call every 100 ms, under a lease of 3 s whose first
    /// renewal succeeds and whose later ones never answer: returns the times
    /// calls went out, and when the pass stopped.
    async fn calls_under_a_stuck_lease() -> (Vec<tokio::time::Instant>, tokio::time::Instant) {
        let start = tokio::time::Instant::now();
        let renewals = std::sync::atomic::AtomicU32::new(0);
        let keeper = keep_lease(Duration::from_secs(3), start, || {
            let first = renewals.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if !first {
                    std::future::pending::<()>().await;
                }
                Ok(true)
            }
        });
        let mut sent = Vec::new();
        let work = async {
            loop {
                sent.push(tokio::time::Instant::now());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let stopped: Option<()> = under_lease(keeper, work).await;
        assert!(stopped.is_none(), "the work never ends on its own");
        (sent, tokio::time::Instant::now())
    }

    #[tokio::test(start_paused = true)]
    async fn no_call_goes_out_once_the_lease_may_have_run_out() {
        let start = tokio::time::Instant::now();
        let (sent, stopped) = calls_under_a_stuck_lease().await;
        // Renewed at 1 s (held until 4 s); the renewal at 2 s never answers.
        let held_until = start + Duration::from_secs(4);
        assert_eq!(stopped, held_until);
        assert!(sent.iter().all(|t| *t < held_until), "{:?}", sent.last());
        assert_eq!(sent.len(), 40);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_renewal_stops_the_pass_at_once() {
        let start = tokio::time::Instant::now();
        keep_lease(Duration::from_secs(3), start, || async { Ok(false) }).await;
        assert_eq!(tokio::time::Instant::now(), start + Duration::from_secs(1));
    }

    #[test]
    fn backoff_doubles_from_half_a_minute_to_an_hour() {
        let seconds: Vec<u64> = (0..9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(seconds, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(-3).as_secs(), 30);
    }
}
