//! Persistence behind one trait with domain methods, and two engines:
//! embedded SQLite (one machine) and PostgreSQL (several replicas).

/// SELECT lists both engines share; each engine supplies its image aggregate
/// (`group_concat` / `string_agg`, ordered by position, `|`-joined: an imported
/// image location never contains `|`).
macro_rules! variant_columns {
    ($images:expr) => {
        concat!(
            "v.sku, v.product_id, v.position, v.option1_value, v.option2_value, v.price, \
             v.weight_g, v.length_mm, v.width_mm, v.height_mm, v.barcode, ",
            $images,
            " AS images, v.content_hash, v.price_hash, COALESCE(s.on_hand, 0) AS on_hand, \
             COALESCE(s.reserved, 0) AS reserved "
        )
    };
}

macro_rules! catalogue_query {
    ($images:expr, $order:expr) => {
        catalogue_query!($images, "", $order)
    };
    ($images:expr, $filter:expr, $order:expr) => {
        concat!(
            "SELECT p.product_id AS p_id, p.name, p.description, p.category, p.brand, p.origin, \
             p.status, p.option1_name, p.option2_name, ",
            variant_columns!($images),
            ", (SELECT COALESCE(MAX(id), 0) FROM stock_movements) AS ledger_mark \
             FROM variants v JOIN products p ON p.product_id = v.product_id \
             LEFT JOIN stock_levels s ON s.sku = v.sku ",
            $filter,
            " ORDER BY ",
            $order
        )
    };
}

/// One page of products (`$5` at most, by id after `$1`) with their
/// variants, filtered by category `$2`, status `$3`, a lowercase `LIKE`
/// pattern `$4` over name, product id and SKUs, and an exact id `$6`.
macro_rules! product_page {
    () => {
        "WHERE v.product_id IN (SELECT p2.product_id FROM products p2 \
         WHERE p2.product_id > $1 \
         AND (CAST($2 AS TEXT) IS NULL OR p2.category = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR p2.status = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR lower(p2.name) LIKE $4 ESCAPE '\\' \
              OR lower(p2.product_id) LIKE $4 ESCAPE '\\' \
              OR EXISTS (SELECT 1 FROM variants w WHERE w.product_id = p2.product_id \
                         AND lower(w.sku) LIKE $4 ESCAPE '\\')) \
         AND (CAST($6 AS TEXT) IS NULL OR p2.product_id = $6) \
         ORDER BY p2.product_id LIMIT $5)"
    };
}

/// The products with pending work on channel `$1`: a pass reads their rows
/// only (a listing carries all of a product's SKUs).
macro_rules! with_work {
    () => {
        "WHERE v.product_id IN (SELECT w.product_id FROM variants w \
         JOIN push_tasks t ON t.sku = w.sku \
         WHERE t.channel = $1 AND t.desired_version > t.done_version)"
    };
}

#[macro_use]
pub mod orders;
pub use orders::OrderStore;
#[macro_use]
pub mod schedule;
pub use schedule::ScheduleStore;
#[macro_use]
pub mod replicas;
pub use replicas::ReplicaStore;
#[macro_use]
pub mod pause;
pub use pause::{Authorization, Pause, PauseStore};
#[macro_use]
pub mod access;
pub use access::AccessStore;
#[macro_use]
pub mod monitor;
pub use monitor::MonitorStore;
#[macro_use]
mod shared;
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalogue::model::{Product, Variant};
use crate::clock::Clock;
use crate::inventory::{MovementKind, NewMovement};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unknown SKU \"{0}\"")]
    UnknownSku(String),
    #[error(
        "stock of {sku} would fall to {would_be}; stock cannot go below zero (on hand: {on_hand})"
    )]
    NegativeStock {
        sku: String,
        on_hand: i64,
        would_be: i64,
    },
    /// Holds the URL with any password masked.
    #[error("database URL \"{0}\" is not supported; use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Aborted(String),
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// The pass's lease ran out and another took the channel: nothing of
    /// this pass is recorded any more.
    #[error("the lease on channel {0} was lost; another pass may own it now")]
    LeaseLost(String),
    /// A call the caller bounds in time did not answer in time.
    #[error("database: {0} did not answer in time")]
    TimedOut(&'static str),
}

/// What the store holds for a variant: to decide whether an import changes it,
/// and to keep fields whose column a file leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantState {
    pub variant: Variant,
    pub content_hash: String,
    pub price_hash: String,
    pub on_hand: i64,
    pub reserved: i64,
}

/// A stored product, and the position its next new variant takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProduct {
    pub product: Product,
    pub next_position: i64,
}

/// A variant ready to be written, with its aspect hashes.
#[derive(Debug, Clone)]
pub struct VariantRecord {
    pub variant: Variant,
    pub content_hash: String,
    pub price_hash: String,
}

/// A stock change made in an exported sheet: the movement and the sheet's
/// ledger mark, so importing the sheet again records it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetChange {
    pub movement: NewMovement,
    pub mark: i64,
}

/// A catalogue rule broken by the state a write would leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    ProductWithoutVariants {
        product_id: String,
    },
    OptionsMismatch {
        sku: String,
        product_id: String,
    },
    DuplicateOptions {
        product_id: String,
        skus: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockRow {
    pub sku: String,
    pub product_id: String,
    pub name: String,
    pub option_values: Vec<String>,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StockMovement {
    pub id: i64,
    pub sku: String,
    pub delta: i64,
    pub kind: MovementKind,
    pub reason: String,
    pub source: String,
    pub external_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One exported line: a variant with its product and stock on hand.
#[derive(Debug, Clone)]
pub struct CatalogueRow {
    pub product: Product,
    pub variant: Variant,
    pub on_hand: i64,
    pub reserved: i64,
    /// The newest ledger movement in the snapshot the row was read from (0:
    /// none yet): an export records where the ledger stood.
    pub ledger_mark: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogueSummary {
    pub products: i64,
    pub skus: i64,
    pub units_on_hand: i64,
}

/// What a push task brings up to date on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Aspect {
    Content,
    Price,
    Stock,
}

impl Aspect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Content => "content",
            Self::Price => "price",
            Self::Stock => "stock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "content" => Some(Self::Content),
            "price" => Some(Self::Price),
            "stock" => Some(Self::Stock),
            _ => None,
        }
    }
}

/// A configured channel as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRegistration {
    pub id: String,
    pub enabled: bool,
    /// Changes whenever the channel's rules or mapping change.
    pub config_hash: String,
}

/// Work waiting for a channel: the desired version is ahead of the done one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushTask {
    pub channel: String,
    pub sku: String,
    pub aspect: Aspect,
    pub desired_version: i64,
    pub done_version: i64,
    /// Failed attempts since the task last changed (transient failures only).
    pub attempts: i64,
    /// Not pushed before this time (backoff after a failure).
    pub not_before: DateTime<Utc>,
    pub cause: String,
    /// The platform may have changed this value itself since it was last
    /// set (an order there): set it again even if it looks unchanged.
    pub recheck: bool,
    /// When the task was last marked, or last put off (a backoff, a wait).
    pub marked_at: DateTime<Utc>,
}

/// Whether a pass got a channel's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseGrant {
    Granted,
    /// Another owner holds it until then.
    HeldUntil(DateTime<Utc>),
}

/// What a channel holds for a SKU, as last acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ListingState {
    pub sku: String,
    /// The product the listing was made for.
    pub product_id: Option<String>,
    pub listing_id: Option<String>,
    pub variant_id: Option<String>,
    pub content_hash: Option<String>,
    pub price: Option<i64>,
    pub stock: Option<i64>,
    /// pending | live | rejected | delisted
    pub status: String,
    pub quarantined: bool,
    pub last_error: Option<String>,
    /// Stock the platform refuses to go below (a promotion's reservation),
    /// as the last reconcile read it: pushes send at least this much.
    pub stock_lock: Option<i64>,
    /// The ceiling of a stock raise claimed and not yet settled: the channel
    /// may show up to this much (see `Store::claim_stock`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_in_flight: Option<i64>,
}

impl ListingState {
    pub fn new(sku: &str) -> Self {
        Self {
            sku: sku.to_string(),
            product_id: None,
            listing_id: None,
            variant_id: None,
            content_hash: None,
            price: None,
            stock: None,
            status: "pending".into(),
            quarantined: false,
            last_error: None,
            stock_lock: None,
            stock_in_flight: None,
        }
    }
}

/// What one channel shows of a SKU, as the allocation counts it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ShownOn {
    pub channel: String,
    /// As last set.
    pub stock: Option<i64>,
    pub stock_in_flight: Option<i64>,
    pub quarantined: bool,
    pub last_error: Option<String>,
    /// The channel is paused (its credentials are dead): it shows what it
    /// showed, untouched.
    pub paused: bool,
}

/// One platform call as the sync log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogRow {
    pub skus: String,
    pub action: String,
    pub outcome: String,
    pub attempt: i64,
    pub http_status: Option<i64>,
    pub platform_code: Option<String>,
    pub message: Option<String>,
    pub latency_ms: i64,
    pub request_id: Option<String>,
    pub cause: String,
}

/// What one batch changed, recorded in one short transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchRecord {
    pub states: Vec<ListingState>,
    /// Tasks finished at the version the batch worked on (fenced: a newer
    /// version stays pending).
    pub done: Vec<(String, Aspect, i64)>,
    /// Tasks that failed in a way that may pass, tried again after the delay
    /// (unless a newer version arrives first, which is due at once).
    pub retry: Vec<(String, Aspect, i64, std::time::Duration)>,
    /// Tasks the pass could not act on (a stock value for a listing not made
    /// yet, a partitioned raise with no room): looked at again after the
    /// delay, or at once when a newer version arrives; no attempt counted.
    pub wait: Vec<(String, Aspect, i64, std::time::Duration)>,
    pub log: Vec<LogRow>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub pushed: i64,
    pub skipped: i64,
    pub failed: i64,
    pub quarantined: i64,
    pub calls: i64,
    pub throttled: i64,
}

/// One sync run: a pass of one kind over one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunRow {
    pub id: i64,
    pub channel: String,
    /// catalogue | stock | price | orders | reconcile | …
    pub kind: String,
    /// What started it: schedule, push, cli, api, …
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// running | ok | failed | refused | interrupted | …
    pub status: String,
    pub pushed: i64,
    pub skipped: i64,
    pub failed: i64,
    pub quarantined: i64,
    pub calls: i64,
    pub throttled: i64,
    pub error: Option<String>,
}

/// One row of the sync log, as `chosync logs` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogEntry {
    /// Grows with every row: `logs --follow` reads on from the last one seen.
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub channel: String,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub call: LogRow,
}

/// Which products to list, a page at a time (by product id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// Products after this id (the previous page's last).
    pub after: Option<String>,
    pub category: Option<String>,
    /// active | inactive
    pub status: Option<String>,
    /// Part of a name, product id or SKU (letters compared in lower case).
    pub text: Option<String>,
    pub product_id: Option<String>,
    pub limit: i64,
}

impl ProductFilter {
    /// `text` as a `LIKE` pattern, its wildcards taken literally.
    pub fn pattern(&self) -> Option<String> {
        self.text.as_ref().map(|text| {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub channel: Option<String>,
    pub sku: Option<String>,
    pub since: Option<DateTime<Utc>>,
    /// Rows recorded before this time only.
    pub until: Option<DateTime<Utc>>,
    pub errors_only: bool,
    /// Rows with this outcome only (ok, rejected, throttled, …).
    pub outcome: Option<String>,
    /// Only rows after this one (`logs --follow`).
    pub after_id: Option<i64>,
    /// Only rows before this one (the next page, newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// A channel's state at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    pub queued_tasks: i64,
    pub quarantined_skus: i64,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// A secret as stored: nonce and ciphertext (see `crate::secrets`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

#[async_trait]
pub trait Store:
    OrderStore + ScheduleStore + ReplicaStore + PauseStore + AccessStore + MonitorStore + Send + Sync
{
    /// Opens one write transaction for a catalogue change; nothing is visible
    /// to others until `commit`, and dropping it rolls back.
    async fn begin_catalogue_write(&self) -> Result<Box<dyn CatalogueWrite>, StoreError>;

    /// Records one stock movement and moves the level with it, atomically.
    async fn record_movement(&self, movement: &NewMovement) -> Result<StockRow, StoreError>;

    async fn stock(&self, sku: Option<&str>) -> Result<Vec<StockRow>, StoreError>;

    /// Newest first.
    async fn movements(&self, sku: &str, limit: i64) -> Result<Vec<StockMovement>, StoreError>;

    /// Every variant with its product and stock, in export order (product, position,
    /// SKU), from one consistent snapshot; `visit` may stop the walk with an error.
    async fn for_each_catalogue_row(
        &self,
        visit: &mut (dyn FnMut(CatalogueRow) -> Result<(), String> + Send),
    ) -> Result<u64, StoreError>;

    async fn summary(&self) -> Result<CatalogueSummary, StoreError>;

    /// A page of products with their variants (rows by product, position).
    async fn catalogue_page(&self, filter: &ProductFilter)
    -> Result<Vec<CatalogueRow>, StoreError>;

    /// Every catalogue row of the products with pending work on `channel`,
    /// in export order.
    async fn catalogue_with_work(&self, channel: &str) -> Result<Vec<CatalogueRow>, StoreError>;

    /// Declares the configured channels — id, enabled, hash of their rules and
    /// mapping — disabling those no longer configured. Every later change marks
    /// work for the enabled ones; a channel that is new, enabled again or whose
    /// rules or mapping changed gets work for every SKU, in the same transaction.
    async fn register_channels(&self, channels: &[ChannelRegistration]) -> Result<(), StoreError>;

    /// The store's clock: the time stored rows are compared with.
    fn now(&self) -> DateTime<Utc>;

    /// Whether the database answers (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The channel's tasks whose desired version is ahead of the done one,
    /// due or deferred (see `PushTask::not_before`).
    async fn pending_tasks(&self, channel: &str) -> Result<Vec<PushTask>, StoreError>;

    /// When the channel's earliest pending task is (or was) due; `None`
    /// without pending work. The daemon asks on every wake-up, so it reads
    /// one row, not the work.
    async fn next_due(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Takes the channel's lease for `ttl` if it is free, has expired or is
    /// already `owner`'s. Starting a pass under it marks runs the channel's
    /// previous owner left `running` as `interrupted`.
    async fn acquire_lease(
        &self,
        channel: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<LeaseGrant, StoreError>;

    /// Extends a lease `owner` still holds; `false` once it is lost.
    async fn renew_lease(
        &self,
        channel: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    async fn release_lease(&self, channel: &str, owner: &str) -> Result<(), StoreError>;

    /// An operator's retry: every quarantined SKU of the channel (or only
    /// `sku`) gets work again and deferred work is due now. Returns the
    /// tasks touched.
    async fn retry_channel(&self, channel: &str, sku: Option<&str>) -> Result<u64, StoreError>;

    /// Sync runs, newest first: of one channel, before run `before_id`.
    async fn sync_runs(
        &self,
        channel: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<RunRow>, StoreError>;

    /// A schedule's backstop: `channel`'s deferred work of `aspect` (waiting
    /// after a failure, or parked by a pass) is due now; quarantined SKUs stay
    /// held. Returns the tasks touched.
    async fn hasten(&self, channel: &str, aspect: Aspect) -> Result<u64, StoreError>;

    /// Stock work for each of `skus` on `channel`, due now, that is pushed
    /// even where the value looks unchanged (recheck).
    async fn recheck_stock(
        &self,
        channel: &str,
        skus: &[String],
        cause: &str,
    ) -> Result<(), StoreError>;

    async fn listing_states(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, ListingState>, StoreError>;

    /// When each SKU's listing on `channel` was last acknowledged (or refused).
    async fn listing_times(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError>;

    /// The listing states of every SKU of the products with pending work on
    /// `channel`: what a pass needs, read in proportion to its work.
    async fn listing_states_with_work(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, ListingState>, StoreError>;

    /// How many SKUs are listed and live on `channel`.
    async fn live_listings(&self, channel: &str) -> Result<i64, StoreError>;

    /// Listing states, finished tasks and log rows of one batch, together,
    /// fenced by the lease: `LeaseLost` (and nothing written) once `owner`
    /// no longer holds the channel.
    async fn record_batch(
        &self,
        channel: &str,
        owner: &str,
        run_id: i64,
        batch: &BatchRecord,
    ) -> Result<(), StoreError>;

    /// Per SKU, every channel that shows it or may be showing it (a set
    /// stock, or an unsettled raise), by channel id.
    async fn shown_on_channels(
        &self,
        skus: &[String],
    ) -> Result<HashMap<String, Vec<ShownOn>>, StoreError>;

    /// Claims the headroom for pushes of partitioned stock on `channel`: per
    /// (SKU, wanted), in a short transaction of its own fenced by the lease,
    /// with the SKU's stock level locked (so orders and other channels'
    /// claims of it wait),
    /// `split::claim` decides what may be pushed given what every other
    /// channel may be showing, and the channel's `stock_in_flight` records
    /// a raise's ceiling before any call. A SKU absent from the answer has no
    /// listing row to record a ceiling on: nothing may be pushed. A push
    /// held short of what is wanted marks stock work for the other channels
    /// listing the SKU, in the same transaction: one above its share comes
    /// down on its next pass and makes the room.
    async fn claim_stock(
        &self,
        channel: &str,
        owner: &str,
        wanted: &[(String, i64)],
    ) -> Result<HashMap<String, crate::inventory::split::Claim>, StoreError>;

    /// Image source → the platform's reference, per channel.
    async fn channel_images(&self, channel: &str) -> Result<HashMap<String, String>, StoreError>;

    async fn save_channel_image(
        &self,
        channel: &str,
        source: &str,
        platform_ref: &str,
    ) -> Result<(), StoreError>;

    async fn start_run(&self, channel: &str, kind: &str, trigger: &str) -> Result<i64, StoreError>;

    /// Newest first.
    async fn sync_log(&self, filter: &LogFilter) -> Result<Vec<LogEntry>, StoreError>;

    async fn channel_health(&self, channel: &str) -> Result<ChannelHealth, StoreError>;

    /// `error`: why a run that did not finish its work (`failed`, `refused`)
    /// stopped.
    async fn finish_run(
        &self,
        run_id: i64,
        status: &str,
        counts: &RunCounts,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Deletes sync log rows, finished runs and schedule ticks (all but each
    /// schedule's latest) older than `before`, of `channel` or of all;
    /// returns how many log rows went.
    async fn prune_sync_log(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        channel: Option<&str>,
    ) -> Result<u64, StoreError>;

    /// Categories that active products use, with how many products use each.
    async fn categories(&self) -> Result<Vec<(String, i64)>, StoreError>;

    async fn sealed_credentials(&self, channel: &str) -> Result<Option<Sealed>, StoreError>;

    /// Replaces the channel's sealed credentials.
    async fn save_sealed_credentials(
        &self,
        channel: &str,
        sealed: &Sealed,
    ) -> Result<(), StoreError>;
}

/// The steps of a catalogue import inside one transaction.
#[async_trait]
pub trait CatalogueWrite: Send {
    /// Stored products among the given ids (absent ids are new).
    async fn stored_products(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, StoredProduct>, StoreError>;

    async fn put_products(&mut self, products: &[(Product, String)]) -> Result<(), StoreError>;

    /// Stored variants among the given SKUs, with stock on hand; on PostgreSQL the
    /// stock rows stay locked until the transaction ends.
    async fn variant_states(
        &mut self,
        skus: &[String],
    ) -> Result<HashMap<String, VariantState>, StoreError>;

    /// Inserts or replaces variants (and their images); new SKUs start with 0 on hand.
    async fn put_variants(&mut self, variants: &[VariantRecord]) -> Result<(), StoreError>;

    /// Marks work for every enabled channel: each (SKU, aspect) changed.
    async fn mark(&mut self, work: &[(String, Aspect)], cause: &str) -> Result<(), StoreError>;

    /// Marks content work for every SKU of these products (a product-level change).
    async fn mark_products(
        &mut self,
        product_ids: &[String],
        cause: &str,
    ) -> Result<(), StoreError>;

    /// Records movements in bulk, each with the ledger mark of the sheet it
    /// came from, if any: each delta was computed from the level
    /// `variant_states` returned in this transaction, so none can go negative.
    async fn record_bulk(
        &mut self,
        movements: &[(&NewMovement, Option<i64>)],
    ) -> Result<(), StoreError>;

    /// Records stock counts in bulk (see `record_bulk`).
    async fn record_counts(&mut self, movements: &[NewMovement]) -> Result<(), StoreError> {
        let unmarked: Vec<(&NewMovement, Option<i64>)> =
            movements.iter().map(|m| (m, None)).collect();
        self.record_bulk(&unmarked).await
    }

    /// The newest movement of the ledger (0: none yet).
    async fn ledger_mark(&mut self) -> Result<i64, StoreError>;

    /// Per (SKU, ledger mark): the sum of the stock changes already recorded
    /// from exported sheets taken at that mark, for these SKUs.
    async fn sheet_changes(
        &mut self,
        skus: &[String],
    ) -> Result<HashMap<(String, i64), i64>, StoreError>;

    /// Records the stock changes made in an exported sheet, each with the
    /// sheet's ledger mark, in bulk: like `record_counts`, each delta was
    /// checked against the level `variant_states` returned.
    async fn record_sheet_changes(&mut self, changes: &[SheetChange]) -> Result<(), StoreError> {
        let marked: Vec<(&NewMovement, Option<i64>)> = changes
            .iter()
            .map(|c| (&c.movement, Some(c.mark)))
            .collect();
        self.record_bulk(&marked).await
    }

    /// Per SKU: movements recorded after the given ledger mark, other than
    /// the changes of sheets taken at that mark (SKUs without any are absent).
    async fn movements_after_mark(
        &mut self,
        marks: &[(String, i64)],
    ) -> Result<HashMap<String, i64>, StoreError>;

    /// Per SKU: movements recorded after `since` (SKUs without any are absent).
    async fn movements_since(
        &mut self,
        skus: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>, StoreError>;

    /// Catalogue rules the pending state breaks.
    async fn violations(&mut self) -> Result<Vec<Violation>, StoreError>;

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Opens (creating if needed) and migrates the database a URL names.
pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, clock).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url, clock).await?))
    } else {
        Err(StoreError::UnsupportedUrl(crate::redact::url(url)))
    }
}

/// Page size for bulk statements: well under both engines' bind-parameter limits.
pub const CHUNK: usize = 500;

/// A bound later than any recorded time (an open end of a time range).
fn far_future() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_214_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a lease taken (or a delay started) at `now` ends.
fn after(now: DateTime<Utc>, ttl: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1))
}

fn options_vec(first: Option<String>, second: Option<String>) -> Vec<String> {
    first.into_iter().chain(second).collect()
}

/// Why a movement that moved no level was refused, given the SKU's level.
/// The cause a stock push names: the movement, its kind and where it came from.
fn movement_cause(id: i64, m: &NewMovement) -> String {
    format!("movement {id} ({}:{})", m.kind.as_str(), m.source)
}

fn refused(m: &NewMovement, on_hand: Option<i64>) -> StoreError {
    match on_hand {
        None => StoreError::UnknownSku(m.sku.clone()),
        Some(on_hand) => StoreError::NegativeStock {
            sku: m.sku.clone(),
            on_hand,
            would_be: on_hand + m.delta,
        },
    }
}

/// A movement for a SKU that does not exist fails its foreign key.
fn unknown_sku_or(err: sqlx::Error, sku: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::UnknownSku(sku.to_string())
        }
        _ => StoreError::Database(err),
    }
}

fn parse_kind(kind: &str) -> Result<MovementKind, StoreError> {
    MovementKind::parse(kind).ok_or_else(|| StoreError::Corrupt {
        table: "stock_movements",
        detail: format!("unknown kind {kind:?}"),
    })
}

fn parse_status(status: &str) -> Result<crate::catalogue::model::Status, StoreError> {
    crate::catalogue::model::Status::parse(status).ok_or_else(|| StoreError::Corrupt {
        table: "products",
        detail: format!("unknown status {status:?}"),
    })
}

/// Column sets both engines select, decoded by sqlx's derived `FromRow`.
mod rows {
    use super::*;

    /// The variant columns of `variant_columns!`.
    #[derive(sqlx::FromRow)]
    pub struct VariantCols {
        pub sku: String,
        pub product_id: String,
        pub position: i64,
        pub option1_value: Option<String>,
        pub option2_value: Option<String>,
        pub price: i64,
        pub weight_g: Option<i64>,
        pub length_mm: Option<i64>,
        pub width_mm: Option<i64>,
        pub height_mm: Option<i64>,
        pub barcode: Option<String>,
        pub images: Option<String>,
        pub content_hash: String,
        pub price_hash: String,
        pub on_hand: i64,
        pub reserved: i64,
    }

    impl VariantCols {
        pub fn into_state(self) -> (String, VariantState) {
            let sku = self.sku.clone();
            let on_hand = self.on_hand;
            let reserved = self.reserved;
            let variant = Variant {
                sku: self.sku,
                product_id: self.product_id,
                position: self.position,
                option_values: options_vec(self.option1_value, self.option2_value),
                price: self.price,
                weight_g: self.weight_g,
                length_mm: self.length_mm,
                width_mm: self.width_mm,
                height_mm: self.height_mm,
                barcode: self.barcode,
                images: self
                    .images
                    .map(|joined| joined.split('|').map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            let state = VariantState {
                variant,
                content_hash: self.content_hash,
                price_hash: self.price_hash,
                on_hand,
                reserved,
            };
            (sku, state)
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct ProductCols {
        #[sqlx(rename = "p_id")]
        pub product_id: String,
        pub name: String,
        pub description: String,
        pub category: String,
        pub brand: String,
        pub origin: String,
        pub status: String,
        pub option1_name: Option<String>,
        pub option2_name: Option<String>,
    }

    impl ProductCols {
        pub fn into_product(self) -> Result<Product, StoreError> {
            Ok(Product {
                product_id: self.product_id,
                name: self.name,
                description: self.description,
                category: self.category,
                brand: self.brand,
                origin: self.origin,
                status: parse_status(&self.status)?,
                option_names: options_vec(self.option1_name, self.option2_name),
            })
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct StoredProductCols {
        #[sqlx(flatten)]
        pub product: ProductCols,
        pub next_position: i64,
    }

    impl StoredProductCols {
        pub fn into_pair(self) -> Result<(String, StoredProduct), StoreError> {
            let product = self.product.into_product()?;
            let id = product.product_id.clone();
            let next_position = self.next_position;
            Ok((
                id,
                StoredProduct {
                    product,
                    next_position,
                },
            ))
        }
    }

    /// One row of `catalogue_query!`.
    #[derive(sqlx::FromRow)]
    pub struct CatalogueCols {
        #[sqlx(flatten)]
        pub product: ProductCols,
        #[sqlx(flatten)]
        pub variant: VariantCols,
        pub ledger_mark: i64,
    }

    impl CatalogueCols {
        pub fn into_row(self) -> Result<CatalogueRow, StoreError> {
            let (_, state) = self.variant.into_state();
            Ok(CatalogueRow {
                product: self.product.into_product()?,
                variant: state.variant,
                on_hand: state.on_hand,
                reserved: state.reserved,
                ledger_mark: self.ledger_mark,
            })
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct TaskCols {
        pub channel: String,
        pub sku: String,
        pub aspect: String,
        pub desired_version: i64,
        pub done_version: i64,
        pub attempts: i64,
        pub not_before: DateTime<Utc>,
        pub cause: String,
        pub recheck: bool,
        pub marked_at: DateTime<Utc>,
    }

    impl TryFrom<TaskCols> for PushTask {
        type Error = StoreError;
        fn try_from(c: TaskCols) -> Result<Self, StoreError> {
            Ok(PushTask {
                aspect: Aspect::parse(&c.aspect).ok_or_else(|| StoreError::Corrupt {
                    table: "push_tasks",
                    detail: format!("unknown aspect {:?}", c.aspect),
                })?,
                channel: c.channel,
                sku: c.sku,
                desired_version: c.desired_version,
                done_version: c.done_version,
                attempts: c.attempts,
                not_before: c.not_before,
                cause: c.cause,
                recheck: c.recheck,
                marked_at: c.marked_at,
            })
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct StockCols {
        pub sku: String,
        pub product_id: String,
        pub name: String,
        pub option1_value: Option<String>,
        pub option2_value: Option<String>,
        pub on_hand: i64,
        pub reserved: i64,
    }

    impl From<StockCols> for StockRow {
        fn from(c: StockCols) -> Self {
            StockRow {
                sku: c.sku,
                product_id: c.product_id,
                name: c.name,
                option_values: options_vec(c.option1_value, c.option2_value),
                available: c.on_hand - c.reserved,
                on_hand: c.on_hand,
                reserved: c.reserved,
            }
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct MovementCols {
        pub id: i64,
        pub sku: String,
        pub delta: i64,
        pub kind: String,
        pub reason: String,
        pub source: String,
        pub external_ref: Option<String>,
        pub created_at: DateTime<Utc>,
    }

    impl TryFrom<MovementCols> for StockMovement {
        type Error = StoreError;
        fn try_from(c: MovementCols) -> Result<Self, StoreError> {
            Ok(StockMovement {
                id: c.id,
                sku: c.sku,
                delta: c.delta,
                kind: parse_kind(&c.kind)?,
                reason: c.reason,
                source: c.source,
                external_ref: c.external_ref,
                created_at: c.created_at,
            })
        }
    }

    #[derive(sqlx::FromRow)]
    pub struct OptionsMismatchCols {
        pub sku: String,
        pub product_id: String,
    }

    #[derive(sqlx::FromRow)]
    pub struct DuplicateCols {
        pub product_id: String,
        pub skus: String,
    }

    /// Gathers the three violation queries' answers.
    pub fn violations(
        empty: Vec<String>,
        mismatched: Vec<OptionsMismatchCols>,
        duplicated: Vec<DuplicateCols>,
    ) -> Vec<Violation> {
        let mut out: Vec<Violation> = empty
            .into_iter()
            .map(|product_id| Violation::ProductWithoutVariants { product_id })
            .collect();
        out.extend(mismatched.into_iter().map(|m| Violation::OptionsMismatch {
            sku: m.sku,
            product_id: m.product_id,
        }));
        out.extend(duplicated.into_iter().map(|d| {
            let mut skus: Vec<String> = d.skus.split(' ').map(str::to_string).collect();
            skus.sort();
            Violation::DuplicateOptions {
                product_id: d.product_id,
                skus,
            }
        }));
        out
    }
}

/// SQL both engines run unchanged (sqlx binds `$N` on SQLite too).
mod sql {
    macro_rules! stock_select {
        () => {
            "SELECT v.sku, v.product_id, p.name, v.option1_value, v.option2_value, \
             COALESCE(s.on_hand, 0) AS on_hand, COALESCE(s.reserved, 0) AS reserved \
             FROM variants v JOIN products p ON p.product_id = v.product_id \
             LEFT JOIN stock_levels s ON s.sku = v.sku "
        };
    }

    pub const STOCK_ALL: &str =
        concat!(stock_select!(), "ORDER BY v.product_id, v.position, v.sku");

    pub const STOCK_ONE: &str = concat!(stock_select!(), "WHERE v.sku = $1");

    /// Raises the desired version of each (channel, SKU, aspect) it touches.
    /// A key already pending takes the newer version: one task per key.
    macro_rules! mark_conflict {
        () => {
            " ON CONFLICT (channel, sku, aspect) DO UPDATE SET \
             desired_version = push_tasks.desired_version + 1, not_before = excluded.not_before, \
             attempts = 0, cause = excluded.cause, updated_at = excluded.updated_at"
        };
    }

    pub const MARK_CONFLICT: &str = mark_conflict!();

    pub const MARK_STOCK: &str = concat!(
        "INSERT INTO push_tasks \
         (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
         SELECT c.id, $1, 'stock', 1, $2, $3, $2 FROM channels c WHERE c.enabled",
        mark_conflict!()
    );

    pub const PENDING_TASKS: &str = "SELECT channel, sku, aspect, desired_version, done_version, \
        CAST(attempts AS BIGINT) AS attempts, not_before, cause, \
        recheck_version > done_version AS recheck, updated_at AS marked_at FROM push_tasks \
        WHERE channel = $1 AND desired_version > done_version ORDER BY sku, aspect";

    pub const NEXT_DUE: &str = "SELECT not_before FROM push_tasks \
        WHERE channel = $1 AND desired_version > done_version ORDER BY not_before LIMIT 1";

    /// Backoff after a failure that may pass; a newer version is due at once.
    pub const RETRY_TASK: &str = "UPDATE push_tasks SET attempts = attempts + 1, \
        not_before = $5, updated_at = $6 \
        WHERE channel = $1 AND sku = $2 AND aspect = $3 AND desired_version = $4";

    /// Work a pass could not act on waits; a newer version is due at once.
    pub const WAIT_TASK: &str = "UPDATE push_tasks SET not_before = $5, updated_at = $6 \
        WHERE channel = $1 AND sku = $2 AND aspect = $3 AND desired_version = $4";

    /// An operator's retry: quarantined SKUs get work again, deferred work is due now.
    pub const RETRY_QUARANTINED: &str = concat!(
        "INSERT INTO push_tasks \
         (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
         SELECT l.channel, l.sku, a.aspect, 1, $2, 'retry', $2 FROM listing_state l \
         CROSS JOIN (SELECT 'content' AS aspect UNION ALL SELECT 'price' UNION ALL SELECT 'stock') a \
         WHERE l.channel = $1 AND l.quarantined AND (CAST($3 AS TEXT) IS NULL OR l.sku = $3)",
        mark_conflict!()
    );

    pub const RETRY_DEFERRED: &str = "UPDATE push_tasks SET not_before = $2 \
        WHERE channel = $1 AND desired_version > done_version AND not_before > $2 \
        AND (CAST($3 AS TEXT) IS NULL OR sku = $3)";

    /// Granted when free, expired, or already the owner's.
    pub const ACQUIRE_LEASE: &str = "INSERT INTO channel_leases (channel, owner, expires_at) \
        VALUES ($1, $2, $3) ON CONFLICT (channel) DO UPDATE SET owner = excluded.owner, \
        expires_at = excluded.expires_at \
        WHERE channel_leases.expires_at <= $4 OR channel_leases.owner = excluded.owner \
        RETURNING owner";

    pub const LEASE_EXPIRY: &str = "SELECT expires_at FROM channel_leases WHERE channel = $1";

    /// Extends a lease still held; also the fence every record of a pass passes.
    pub const RENEW_LEASE: &str = "UPDATE channel_leases SET expires_at = $3 \
        WHERE channel = $1 AND owner = $2 AND expires_at > $4";

    /// Holds the lease row until commit: a record is fenced by the lease.
    pub const FENCE: &str = "UPDATE channel_leases SET owner = owner \
        WHERE channel = $1 AND owner = $2 AND expires_at > $3";

    pub const RELEASE_LEASE: &str = "DELETE FROM channel_leases WHERE channel = $1 AND owner = $2";

    /// Runs left `running` by a pass that died (called under the channel's lease).
    pub const INTERRUPT_RUNS: &str = "UPDATE sync_runs SET status = 'interrupted', \
        finished_at = $2 WHERE channel = $1 AND status = 'running' AND kind <> 'orders'";

    pub const REGISTER_CHANNEL: &str = "INSERT INTO channels (id, enabled, config_hash, updated_at) \
        VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, \
        config_hash = excluded.config_hash, updated_at = excluded.updated_at";

    /// Work for every SKU of one aspect on one channel.
    pub const MARK_ALL: &str = concat!(
        "INSERT INTO push_tasks \
         (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
         SELECT $1, v.sku, $2, 1, $3, $4, $3 FROM variants v WHERE v.sku IS NOT NULL",
        mark_conflict!()
    );

    pub const LISTING_STATES: &str = "SELECT sku, product_id, listing_id, variant_id, \
        content_hash, price, stock, status, quarantined, last_error, stock_lock, stock_in_flight \
        FROM listing_state WHERE channel = $1";

    pub const LISTING_TIMES: &str = "SELECT sku, updated_at FROM listing_state WHERE channel = $1";

    pub const LISTING_STATES_WITH_WORK: &str = concat!(
        "SELECT sku, product_id, listing_id, variant_id, content_hash, price, stock, status, \
         quarantined, last_error, stock_lock, stock_in_flight FROM listing_state \
         WHERE channel = $1 AND sku IN (SELECT v.sku FROM variants v ",
        with_work!(),
        ")"
    );

    /// Every channel listing one SKU (or showing some of it), as the
    /// allocation counts it.
    pub const SHOWN_ON_CHANNELS: &str = "SELECT channel, stock, stock_in_flight, quarantined, \
        last_error, EXISTS (SELECT 1 FROM channel_pauses p \
        WHERE p.channel = listing_state.channel) AS paused FROM listing_state WHERE sku = $1 \
        AND (listing_id IS NOT NULL OR stock IS NOT NULL OR stock_in_flight IS NOT NULL) \
        ORDER BY channel";

    /// Stock work for the other enabled channels listing a SKU: a raise
    /// held back waits for them to come down to their share.
    pub const MARK_OTHERS: &str = concat!(
        "INSERT INTO push_tasks \
         (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
         SELECT l.channel, l.sku, 'stock', 1, $3, $4, $3 FROM listing_state l \
         JOIN channels c ON c.id = l.channel \
         WHERE l.sku = $1 AND l.channel <> $2 AND c.enabled AND l.listing_id IS NOT NULL",
        mark_conflict!()
    );

    /// A claimed raise's ceiling (on the channel's own listing row).
    pub const SET_IN_FLIGHT: &str = "UPDATE listing_state SET stock_in_flight = $3 \
        WHERE channel = $1 AND sku = $2";

    pub const LIVE_LISTINGS: &str = "SELECT COUNT(*) FROM listing_state \
        WHERE channel = $1 AND listing_id IS NOT NULL AND status = 'live'";

    pub const SAVE_LISTING_STATE: &str = "INSERT INTO listing_state (channel, sku, listing_id, \
        variant_id, content_hash, price, stock, status, quarantined, last_error, updated_at, \
        product_id, stock_lock, stock_in_flight) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
        ON CONFLICT (channel, sku) DO UPDATE SET product_id = excluded.product_id, \
        listing_id = excluded.listing_id, variant_id = excluded.variant_id, \
        content_hash = excluded.content_hash, price = excluded.price, stock = excluded.stock, \
        status = excluded.status, quarantined = excluded.quarantined, \
        last_error = excluded.last_error, updated_at = excluded.updated_at, \
        stock_lock = excluded.stock_lock, stock_in_flight = excluded.stock_in_flight";

    /// Stock work for one SKU that pushes even a value that looks unchanged
    /// (reconcile found the platform showing something else).
    pub const RECHECK_STOCK: &str = "INSERT INTO push_tasks \
        (channel, sku, aspect, desired_version, not_before, cause, updated_at, recheck_version) \
        VALUES ($1, $2, 'stock', 1, $3, $4, $3, 1) \
        ON CONFLICT (channel, sku, aspect) DO UPDATE SET \
        desired_version = push_tasks.desired_version + 1, \
        recheck_version = push_tasks.desired_version + 1, not_before = excluded.not_before, \
        attempts = 0, cause = excluded.cause, updated_at = excluded.updated_at";

    /// Fenced: a task whose desired version moved on while it was pushed stays pending.
    pub const FINISH_TASK: &str = "UPDATE push_tasks SET done_version = $4, updated_at = $5 \
        WHERE channel = $1 AND sku = $2 AND aspect = $3 AND done_version < $4";

    pub const LOG_ATTEMPT: &str = "INSERT INTO sync_log (run_id, channel, skus, action, outcome, \
        attempt, http_status, platform_code, message, latency_ms, request_id, cause, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

    pub const CHANNEL_IMAGES: &str =
        "SELECT source, platform_ref FROM channel_images WHERE channel = $1";

    pub const SAVE_CHANNEL_IMAGE: &str = "INSERT INTO channel_images (channel, source, platform_ref) \
        VALUES ($1, $2, $3) ON CONFLICT (channel, source) DO UPDATE SET platform_ref = excluded.platform_ref";

    pub const SYNC_RUNS: &str = "SELECT id, channel, kind, trigger, started_at, finished_at, \
        status, CAST(pushed AS BIGINT) AS pushed, CAST(skipped AS BIGINT) AS skipped, \
        CAST(failed AS BIGINT) AS failed, CAST(quarantined AS BIGINT) AS quarantined, \
        CAST(calls AS BIGINT) AS calls, CAST(throttled AS BIGINT) AS throttled, error \
        FROM sync_runs WHERE (CAST($1 AS TEXT) IS NULL OR channel = $1) AND id < $2 \
        ORDER BY id DESC LIMIT $3";

    pub const START_RUN: &str = "INSERT INTO sync_runs (channel, kind, trigger, started_at, status) \
        VALUES ($1, $2, $3, $4, 'running') RETURNING id";

    pub const FINISH_RUN: &str = "UPDATE sync_runs SET finished_at = $2, status = $3, pushed = $4, \
        skipped = $5, failed = $6, quarantined = $7, calls = $8, throttled = $9, error = $10 \
        WHERE id = $1";

    pub const PRUNE_LOG: &str =
        "DELETE FROM sync_log WHERE created_at < $1 AND ($2 IS NULL OR channel = $2)";

    pub const PRUNE_RUNS: &str = "DELETE FROM sync_runs WHERE finished_at IS NOT NULL \
        AND finished_at < $1 AND ($2 IS NULL OR channel = $2) \
        AND NOT EXISTS (SELECT 1 FROM sync_log l WHERE l.run_id = sync_runs.id)";

    /// Each schedule's latest tick stays: later claims are checked against it.
    pub const PRUNE_TICKS: &str = "DELETE FROM schedule_ticks WHERE fire_time < $1 \
        AND ($2 IS NULL OR channel = $2) AND fire_time < (SELECT MAX(t.fire_time) \
        FROM schedule_ticks t WHERE t.channel = schedule_ticks.channel AND t.kind = schedule_ticks.kind)";

    /// A schedule's backstop: deferred work of one aspect due now.
    pub const HASTEN: &str = "UPDATE push_tasks SET not_before = $2 \
        WHERE channel = $1 AND aspect = $3 AND desired_version > done_version AND not_before > $2";

    /// The SKU filter matches one of a call's space-separated SKUs exactly:
    /// `replace` has no wildcards and folds no case on either engine (`LIKE`
    /// has wildcards, and folds case on SQLite).
    pub const SYNC_LOG: &str = "SELECT id, created_at, channel, skus, action, outcome, \
        CAST(attempt AS BIGINT) AS attempt, CAST(http_status AS BIGINT) AS http_status, \
        platform_code, message, latency_ms, request_id, cause FROM sync_log \
        WHERE (CAST($1 AS TEXT) IS NULL OR channel = $1) \
        AND (CAST($2 AS TEXT) IS NULL \
             OR replace(' ' || skus || ' ', ' ' || $2 || ' ', '') <> ' ' || skus || ' ') \
        AND created_at >= $3 AND (CAST($4 AS INTEGER) = 0 OR outcome <> 'ok') \
        AND id > $6 AND (CAST($7 AS TEXT) IS NULL OR outcome = $7) AND created_at < $8 \
        AND id < $9 ORDER BY id DESC LIMIT $5";

    pub const QUEUED_TASKS: &str = "SELECT COUNT(*) FROM push_tasks \
        WHERE channel = $1 AND desired_version > done_version";

    pub const QUARANTINED: &str =
        "SELECT COUNT(*) FROM listing_state WHERE channel = $1 AND quarantined";

    pub const LAST_SUCCESS: &str = "SELECT created_at FROM sync_log \
        WHERE channel = $1 AND outcome = 'ok' ORDER BY id DESC LIMIT 1";

    pub const LAST_ERROR: &str = "SELECT created_at, message FROM sync_log \
        WHERE channel = $1 AND outcome <> 'ok' ORDER BY id DESC LIMIT 1";

    pub const CATEGORIES: &str = "SELECT category, COUNT(*) AS products FROM products \
        WHERE category <> '' AND status = 'active' GROUP BY category ORDER BY category";

    pub const SEALED_CREDENTIALS: &str =
        "SELECT nonce, ciphertext FROM channel_credentials WHERE channel = $1";

    pub const SAVE_SEALED_CREDENTIALS: &str = "INSERT INTO channel_credentials \
        (channel, nonce, ciphertext, updated_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (channel) DO UPDATE SET nonce = excluded.nonce, \
        ciphertext = excluded.ciphertext, updated_at = excluded.updated_at";

    pub const MOVEMENTS: &str = "SELECT id, sku, delta, kind, reason, source, external_ref, \
        created_at FROM stock_movements WHERE sku = $1 ORDER BY id DESC LIMIT $2";

    pub const SUMMARY: &str = "SELECT (SELECT COUNT(*) FROM products) AS products, \
        (SELECT COUNT(*) FROM variants) AS skus, \
        (SELECT CAST(COALESCE(SUM(on_hand), 0) AS BIGINT) FROM stock_levels) AS units";

    /// Inserts the movement unless its (source, external_ref) was seen before.
    pub const INSERT_MOVEMENT: &str = "INSERT INTO stock_movements \
        (sku, delta, kind, reason, source, external_ref, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7) \
        ON CONFLICT (source, external_ref) WHERE external_ref IS NOT NULL DO NOTHING \
        RETURNING id";

    pub const MOVE_LEVEL: &str = "UPDATE stock_levels SET on_hand = on_hand + $1, updated_at = $2 \
        WHERE sku = $3 AND on_hand + $1 >= 0 RETURNING on_hand";

    pub const LEVEL_OF: &str = "SELECT on_hand FROM stock_levels WHERE sku = $1";

    pub const LEDGER_MARK: &str =
        "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM stock_movements";

    pub const EMPTY_PRODUCTS: &str = "SELECT p.product_id FROM products p WHERE NOT EXISTS \
        (SELECT 1 FROM variants v WHERE v.product_id = p.product_id) ORDER BY p.product_id";

    pub const OPTIONS_MISMATCH: &str = "SELECT v.sku, v.product_id FROM variants v \
        JOIN products p ON p.product_id = v.product_id \
        WHERE (p.option1_name IS NULL) <> (v.option1_value IS NULL) \
        OR (p.option2_name IS NULL) <> (v.option2_value IS NULL) ORDER BY v.sku";

    pub const STORED_PRODUCTS: &str = "SELECT p.product_id AS p_id, p.name, p.description, \
        p.category, p.brand, p.origin, p.status, p.option1_name, p.option2_name, \
        (SELECT COALESCE(MAX(v.position) + 1, 0) FROM variants v \
         WHERE v.product_id = p.product_id) AS next_position FROM products p ";

    pub const PRODUCT_UPSERT_TAIL: &str = " ON CONFLICT (product_id) DO UPDATE SET \
        name = excluded.name, description = excluded.description, category = excluded.category, \
        brand = excluded.brand, origin = excluded.origin, status = excluded.status, \
        option1_name = excluded.option1_name, option2_name = excluded.option2_name, \
        content_hash = excluded.content_hash, updated_at = excluded.updated_at";

    pub const VARIANT_UPSERT_TAIL: &str = " ON CONFLICT (sku) DO UPDATE SET \
        product_id = excluded.product_id, position = excluded.position, \
        option1_value = excluded.option1_value, option2_value = excluded.option2_value, \
        price = excluded.price, weight_g = excluded.weight_g, length_mm = excluded.length_mm, \
        width_mm = excluded.width_mm, height_mm = excluded.height_mm, barcode = excluded.barcode, \
        content_hash = excluded.content_hash, price_hash = excluded.price_hash, \
        updated_at = excluded.updated_at";
}
