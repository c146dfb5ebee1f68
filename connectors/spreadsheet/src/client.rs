//! The spreadsheet channel as a `Connector`: the "platform" is the state
//! file, every write renders the bulk-upload sheet again, and orders come
//! from files dropped into the inbox folder.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use chosync_connector::clock::Clock;
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, Order, OrderRef, OrderWindow, Page, PriceSet,
    RemoteListing, StockSet, WebhookHint,
};
use chosync_connector::events::{AttemptEvent, EventSink};
use chosync_connector::{BatchScope, Capabilities, Connector, ConnectorError, Limits};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use tokio::sync::Mutex;

use crate::atomic::write_atomically;
use crate::inbox::{Problem, read_orders};
use crate::layout::{FileFormat, OrdersLayout, SheetLayout};
use crate::sheet::{render, write_sheet};
use crate::state::{self, HeldListing, HeldVariant, Listings, state_path};
use crate::table::FileError;

/// Listings per page of `list_remote_listings`.
pub const LISTING_PAGE: usize = 100;
/// Items per stock or price call: one file write carries them all.
pub const ITEMS_PER_CALL: usize = 1000;
/// Where refused orders files go, inside the inbox.
pub const REJECTED: &str = "rejected";
/// Where imported orders files go, inside the inbox.
pub const IMPORTED: &str = "imported";

/// One spreadsheet channel.
#[derive(Debug, Clone)]
pub struct SpreadsheetConfig {
    pub channel: String,
    /// Where the sheet is written (and its state kept, in `.chosync/`).
    pub folder: PathBuf,
    /// Where exported orders files are dropped.
    pub inbox: PathBuf,
    pub layout: SheetLayout,
    /// `None`: the channel imports no orders.
    pub orders: Option<OrdersLayout>,
}

pub struct Spreadsheet {
    config: Arc<SpreadsheetConfig>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    /// `None` until first used: loading reads the state file.
    held: Mutex<Option<Listings>>,
    inbox: Mutex<InboxRound>,
}

/// What the last `list_orders` read: the orders of the good files, and
/// those files, for `archive_read`.
#[derive(Default)]
struct InboxRound {
    orders: HashMap<String, Order>,
    read: Vec<ReadFile>,
}

/// An inbox file as it was when read: it is archived only if still so.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadFile {
    path: PathBuf,
    name: String,
    modified: SystemTime,
    len: u64,
}

impl Spreadsheet {
    /// Refuses a layout with problems, naming every one.
    pub fn new(
        config: SpreadsheetConfig,
        events: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectorError> {
        let mut problems = config.layout.problems();
        if let Some(orders) = &config.orders {
            problems.extend(orders.problems());
        }
        if let Some((first, _)) = problems.first() {
            let message: Vec<String> = problems.iter().map(|(k, m)| format!("{k}: {m}")).collect();
            return Err(ConnectorError::Rejected {
                code: "layout".into(),
                field: Some(first.clone()),
                message: message.join("; "),
            });
        }
        Ok(Self {
            config: Arc::new(config),
            events,
            clock,
            held: Mutex::new(None),
            inbox: Mutex::new(InboxRound::default()),
        })
    }

    /// The bulk-upload sheet this channel writes.
    pub fn sheet_path(&self) -> PathBuf {
        self.config.folder.join(&self.config.layout.file)
    }

    fn state_path(&self) -> PathBuf {
        state_path(&self.config.folder, &self.config.layout.file)
    }

    /// Moves the files the last `list_orders` read to `imported/`, stamped
    /// with the time. chosync calls it once every order of the import is
    /// recorded; a crash before it only means the files are read again,
    /// which the ledger's exactly-once effects make harmless. A file changed
    /// since it was read stays for the next read. Returns how many moved.
    pub async fn archive_read(&self) -> Result<usize, ConnectorError> {
        let mut round = self.inbox.lock().await;
        let stamp = self.clock.now().format("%Y%m%dT%H%M%SZ").to_string();
        let folder = self.config.inbox.join(IMPORTED);
        let files = std::mem::take(&mut round.read);
        let mut moved = 0;
        let mut first_error = None;
        for file in files {
            let started = Instant::now();
            if !unchanged(&file) {
                continue;
            }
            let (folder, stamp) = (folder.clone(), stamp.clone());
            let (from, name) = (file.path.clone(), file.name.clone());
            let result = blocking(move || move_into(&from, &folder, &stamp, &name)).await;
            let endpoint = format!("inbox/{}", file.name);
            match result.and_then(|r| r.map_err(io_error)) {
                Ok(target) => {
                    moved += 1;
                    self.emit(
                        endpoint,
                        Ok(()),
                        format!("archived as {IMPORTED}/{target}"),
                        started,
                    );
                }
                Err(e) => {
                    self.emit(endpoint, Err(&e), "not archived".into(), started);
                    first_error.get_or_insert(e);
                    round.read.push(file);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(moved),
        }
    }

    /// The listings, loaded from the state file on first use.
    async fn loaded<'a>(
        &self,
        held: &'a mut Option<Listings>,
    ) -> Result<&'a mut Listings, ConnectorError> {
        if held.is_none() {
            let path = self.state_path();
            let listings = blocking(move || state::load(&path))
                .await?
                .map_err(io_error)?;
            *held = Some(listings);
        }
        held.as_mut()
            .ok_or_else(|| ConnectorError::Transient("the channel state did not load".into()))
    }

    /// Applies `edit` to the listings and, when it says it changed them,
    /// writes the state file and the sheet. A failed write rolls the
    /// listings back (and the state file, as far as it can) and is returned.
    async fn write_through<T>(
        &self,
        edit: impl FnOnce(&mut Listings) -> (T, bool),
    ) -> Result<T, ConnectorError> {
        let mut held = self.held.lock().await;
        let listings = self.loaded(&mut held).await?;
        let before = listings.clone();
        let (out, changed) = edit(listings);
        if !changed {
            return Ok(out);
        }
        if let Err(e) = self.persist(listings, &before).await {
            *listings = before;
            return Err(e);
        }
        Ok(out)
    }

    /// The state file, then the sheet: the state is the truth the sheet is
    /// rendered from. One event for the pair.
    async fn persist(&self, listings: &Listings, before: &Listings) -> Result<(), ConnectorError> {
        let started = Instant::now();
        let state_file = self.state_path();
        let sheet_file = self.sheet_path();
        let config = self.config.clone();
        let (now, was) = (listings.clone(), before.clone());
        let result = blocking(move || -> Result<usize, FileError> {
            state::save(&state_file, &now)?;
            let rows = render(&config.layout, now.values());
            if let Err(e) = write_sheet(&config.layout, &sheet_file, &rows) {
                // Best effort: the sheet still shows the old state.
                let _ = state::save(&state_file, &was);
                return Err(e);
            }
            Ok(rows.len())
        })
        .await
        .and_then(|r| r.map_err(io_error));
        let endpoint = format!("sheet/{}", self.config.layout.file);
        match result {
            Ok(rows) => {
                let message = format!("{rows} rows, {} listings", listings.len());
                self.emit(endpoint, Ok(()), message, started);
                Ok(())
            }
            Err(e) => {
                self.emit(endpoint, Err(&e), "not written".into(), started);
                Err(e)
            }
        }
    }

    /// Sets one number of each item's variant; one write for the call.
    async fn set_each<I>(
        &self,
        items: &[I],
        sku_of: impl Fn(&I) -> &str,
        apply: impl Fn(&I, &mut HeldVariant) -> Result<(), ConnectorError>,
    ) -> Vec<ItemOutcome> {
        let outcomes = self
            .write_through(|listings| {
                let index = sku_index(listings);
                let results: Vec<Result<(), ConnectorError>> = items
                    .iter()
                    .map(|item| {
                        let sku = sku_of(item);
                        let variant = index
                            .get(sku)
                            .and_then(|key| listings.get_mut(key))
                            .and_then(|l| l.variant_mut(sku))
                            .ok_or_else(|| {
                                ConnectorError::NotFound(format!("no listing holds SKU {sku}"))
                            })?;
                        apply(item, variant)
                    })
                    .collect();
                let changed = results.iter().any(Result::is_ok);
                (results, changed)
            })
            .await;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| ItemOutcome {
                sku: sku_of(item).to_owned(),
                result: match &outcomes {
                    Ok(results) => results.get(i).cloned().unwrap_or(Ok(())),
                    Err(e) => Err(e.clone()),
                },
            })
            .collect()
    }

    fn emit(
        &self,
        endpoint: String,
        result: Result<(), &ConnectorError>,
        message: String,
        started: Instant,
    ) {
        self.emit_outcome(
            endpoint,
            result.map_or_else(ConnectorError::kind, |_| "ok"),
            message,
            started,
        );
    }

    fn emit_outcome(
        &self,
        endpoint: String,
        outcome: &'static str,
        message: String,
        started: Instant,
    ) {
        self.events.record(&AttemptEvent {
            channel: self.config.channel.clone(),
            endpoint,
            outcome,
            attempt: 1,
            http_status: None,
            platform_code: None,
            message: Some(message),
            latency: started.elapsed(),
            request_id: None,
        });
    }

    /// Reads one inbox file: its orders, or it is moved to `rejected/`
    /// with its problems beside it.
    async fn read_file(&self, layout: &OrdersLayout, file: &ReadFile) -> Option<Vec<Order>> {
        let started = Instant::now();
        let endpoint = format!("inbox/{}", file.name);
        let modified = DateTime::<Utc>::from(file.modified);
        let (layout, path) = (layout.clone(), file.path.clone());
        let read = match blocking(move || read_orders(&layout, &path, modified)).await {
            Ok(read) => read,
            Err(e) => {
                self.emit(endpoint, Err(&e), "not read".into(), started);
                return None;
            }
        };
        match read {
            Ok(orders) => {
                self.emit(
                    endpoint,
                    Ok(()),
                    format!("{} orders", orders.len()),
                    started,
                );
                Some(orders)
            }
            Err(problems) => {
                let count = problems.len();
                let rejected = self.config.inbox.join(REJECTED);
                let path = file.path.clone();
                let name = file.name.clone();
                let moved = blocking(move || reject(&path, &rejected, &name, &problems)).await;
                match moved.and_then(|r| r.map_err(io_error)) {
                    Ok(()) => self.emit_outcome(
                        endpoint,
                        "rejected",
                        format!(
                            "{count} problems; moved to {REJECTED}/ with {}.errors.txt",
                            file.name
                        ),
                        started,
                    ),
                    Err(e) => self.emit(
                        endpoint,
                        Err(&e),
                        format!("{count} problems; could not be moved to {REJECTED}/"),
                        started,
                    ),
                }
                None
            }
        }
    }
}

/// SKU → product key of the listing holding it.
fn sku_index(listings: &Listings) -> HashMap<String, String> {
    listings
        .values()
        .flat_map(|l| {
            l.variants
                .iter()
                .map(|v| (v.sku.clone(), l.product_key.clone()))
        })
        .collect()
}

/// Runs file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ConnectorError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ConnectorError::Transient(format!("file task failed: {e}")))
}

/// A local file failure: disks fill and shares come back, so it may pass.
fn io_error(e: FileError) -> ConnectorError {
    ConnectorError::Transient(e.to_string())
}

fn unchanged(file: &ReadFile) -> bool {
    std::fs::metadata(&file.path)
        .is_ok_and(|m| m.len() == file.len && m.modified().ok() == Some(file.modified))
}

/// Creates `folder` (inside an existing inbox) if needed.
fn ensure_folder(folder: &Path) -> Result<(), FileError> {
    match std::fs::create_dir(folder) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(FileError::new(folder, e)),
        _ => Ok(()),
    }
}

/// Moves `from` into `folder` as `<stamp>-<name>` (`<stamp>-2-<name>` and
/// so on when taken: never over another file, and still in time order);
/// returns the name it got.
fn move_into(from: &Path, folder: &Path, stamp: &str, name: &str) -> Result<String, FileError> {
    ensure_folder(folder)?;
    let mut target = format!("{stamp}-{name}");
    let mut n = 1;
    while folder.join(&target).exists() {
        n += 1;
        target = format!("{stamp}-{n}-{name}");
    }
    std::fs::rename(from, folder.join(&target)).map_err(|e| FileError::new(from, e))?;
    Ok(target)
}

/// Writes the problems beside where the file goes, then moves it there: an
/// operator never finds a refused file without its reasons.
fn reject(path: &Path, folder: &Path, name: &str, problems: &[Problem]) -> Result<(), FileError> {
    ensure_folder(folder)?;
    let mut text: String = problems.iter().map(|p| format!("{p}\n")).collect();
    if text.is_empty() {
        text.push_str("file: refused\n");
    }
    let errors = folder.join(format!("{name}.errors.txt"));
    write_atomically(&errors, text.as_bytes()).map_err(|e| FileError::new(&errors, e))?;
    std::fs::rename(path, folder.join(name)).map_err(|e| FileError::new(path, e))
}

/// The inbox's orders files (`.csv`, `.xlsx`), by name; folders and other
/// files are left alone.
fn inbox_files(inbox: &Path) -> Result<Vec<ReadFile>, FileError> {
    let entries = std::fs::read_dir(inbox).map_err(|e| FileError::new(inbox, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| FileError::new(inbox, e))?;
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !meta.is_file() || is_scratch(&name) || FileFormat::of(&path).is_none() {
            continue;
        }
        files.push(ReadFile {
            path,
            name,
            modified: meta
                .modified()
                .map_err(|e| FileError::new(&entry.path(), e))?,
            len: meta.len(),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Files of a writer at work, not exports: temp files (ours, a copy in
/// progress) and office lock files (`.~lock.x.csv#`, Excel's `~$x.xlsx`).
fn is_scratch(name: &str) -> bool {
    name.starts_with('.') || name.starts_with("~$")
}

fn rejected(code: &str, field: &str, message: String) -> ConnectorError {
    ConnectorError::Rejected {
        code: code.into(),
        field: Some(field.into()),
        message,
    }
}

/// What a draft must be for the sheet to show it, and the channel to find it.
fn draft_problem(draft: &ListingDraft, listings: &Listings) -> Option<ConnectorError> {
    if draft.product_key.trim().is_empty() {
        return Some(rejected(
            "empty_key",
            "product_key",
            "the product key is empty".into(),
        ));
    }
    if draft.variants.is_empty() {
        return Some(rejected(
            "no_variants",
            "variants",
            "a listing needs a variant: the sheet has a row per SKU".into(),
        ));
    }
    for variant in &draft.variants {
        if variant.sku.trim().is_empty() {
            return Some(rejected(
                "empty_sku",
                "sku",
                "a variant's SKU is empty".into(),
            ));
        }
        if let Some(other) = listings
            .values()
            .find(|l| l.product_key != draft.product_key && l.variant(&variant.sku).is_some())
        {
            return Some(rejected(
                "sku_taken",
                "sku",
                format!(
                    "SKU {} is already in listing {}",
                    variant.sku, other.product_key
                ),
            ));
        }
    }
    None
}

#[async_trait]
impl Connector for Spreadsheet {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            stock_batch: ITEMS_PER_CALL,
            price_batch: ITEMS_PER_CALL,
            batch_scope: BatchScope::AcrossListings,
            webhooks: false,
            max_title_chars: 1000,
            max_variants: 1000,
            // A dropped file is news whatever its dates: no window splitting.
            order_window: Duration::from_secs(10 * 366 * 24 * 3600),
            order_detail_batch: ITEMS_PER_CALL,
        }
    }

    /// Nothing remote to protect; a bound against a runaway loop only.
    fn default_limits(&self) -> Limits {
        Limits::shared("files", NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))
    }

    async fn refresh_credentials(&self) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn upload_image(&self, name: &str, _bytes: Vec<u8>) -> Result<String, ConnectorError> {
        Err(rejected(
            "not_supported",
            "images",
            format!("spreadsheet channels take image URLs or paths as given, not uploads ({name})"),
        ))
    }

    async fn upsert_listing(
        &self,
        draft: &ListingDraft,
        _existing: Option<&RemoteListing>,
    ) -> Result<RemoteListing, ConnectorError> {
        let words = self.config.layout.status_words();
        self.write_through(|listings| {
            if let Some(problem) = draft_problem(draft, listings) {
                return (Err(problem), false);
            }
            let held = HeldListing::from_draft(draft, listings.get(&draft.product_key));
            let remote = held.remote(words);
            listings.insert(draft.product_key.clone(), held);
            (Ok(remote), true)
        })
        .await?
    }

    async fn required_attributes(&self, _: &str) -> Result<Vec<AttributeSpec>, ConnectorError> {
        Ok(Vec::new())
    }

    async fn find_listing_by_sku(
        &self,
        sku: &str,
    ) -> Result<Option<RemoteListing>, ConnectorError> {
        let mut held = self.held.lock().await;
        let listings = self.loaded(&mut held).await?;
        let words = self.config.layout.status_words();
        Ok(listings
            .values()
            .find(|l| l.product_key == sku || l.variant(sku).is_some())
            .map(|l| l.remote(words)))
    }

    async fn set_stock(&self, items: &[StockSet]) -> Vec<ItemOutcome> {
        self.set_each(
            items,
            |item| &item.sku,
            |item, variant| {
                if item.quantity < 0 {
                    return Err(rejected(
                        "negative_stock",
                        "stock",
                        format!("stock {} is below 0", item.quantity),
                    ));
                }
                variant.stock = item.quantity;
                Ok(())
            },
        )
        .await
    }

    async fn set_price(&self, items: &[PriceSet]) -> Vec<ItemOutcome> {
        self.set_each(
            items,
            |item| &item.sku,
            |item, variant| {
                if item.price <= 0 {
                    return Err(rejected(
                        "price_not_positive",
                        "price",
                        format!("price {} ₫ is not above 0", item.price),
                    ));
                }
                variant.price = item.price;
                Ok(())
            },
        )
        .await
    }

    async fn list_remote_listings(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<RemoteListing>, ConnectorError> {
        let offset = match cursor {
            None => 0,
            Some(text) => text.parse::<usize>().map_err(|_| {
                rejected(
                    "bad_cursor",
                    "cursor",
                    format!("\"{text}\" is not a listing offset"),
                )
            })?,
        };
        let mut held = self.held.lock().await;
        let listings = self.loaded(&mut held).await?;
        let words = self.config.layout.status_words();
        let items: Vec<RemoteListing> = listings
            .values()
            .skip(offset)
            .take(LISTING_PAGE)
            .map(|l| l.remote(words))
            .collect();
        let end = offset.saturating_add(items.len());
        let next = (end < listings.len()).then(|| end.to_string());
        Ok(Page { items, next })
    }

    /// Every orders file in the inbox, whatever the window: a dropped file
    /// is news. Good files' orders are kept for `get_orders`; an order in
    /// two files is taken from the later update (the later file on a tie).
    async fn list_orders(&self, _window: OrderWindow) -> Result<Vec<OrderRef>, ConnectorError> {
        let Some(layout) = &self.config.orders else {
            return Ok(Vec::new());
        };
        let mut round = self.inbox.lock().await;
        let inbox = self.config.inbox.clone();
        let files = blocking(move || inbox_files(&inbox))
            .await?
            .map_err(io_error)?;
        let mut orders: HashMap<String, Order> = HashMap::new();
        let mut seen: Vec<String> = Vec::new();
        let mut read = Vec::new();
        for file in files {
            let Some(file_orders) = self.read_file(layout, &file).await else {
                continue;
            };
            for order in file_orders {
                match orders.get(&order.order_id) {
                    Some(held) if held.updated_at > order.updated_at => {}
                    Some(_) => {
                        orders.insert(order.order_id.clone(), order);
                    }
                    None => {
                        seen.push(order.order_id.clone());
                        orders.insert(order.order_id.clone(), order);
                    }
                }
            }
            read.push(file);
        }
        let refs = seen
            .iter()
            .filter_map(|id| orders.get(id))
            .map(|o| OrderRef {
                order_id: o.order_id.clone(),
                status: o.platform_status.clone(),
                updated_at: Some(o.updated_at),
            })
            .collect();
        *round = InboxRound { orders, read };
        Ok(refs)
    }

    async fn get_orders(&self, ids: &[String]) -> Result<Vec<Order>, ConnectorError> {
        let round = self.inbox.lock().await;
        Ok(ids
            .iter()
            .filter_map(|id| round.orders.get(id).cloned())
            .collect())
    }

    fn verify_webhook(&self, _: &HeaderMap, _: &[u8]) -> Result<WebhookHint, ConnectorError> {
        Err(ConnectorError::Unauthorized(
            "spreadsheet channels take no pushes".into(),
        ))
    }
}
