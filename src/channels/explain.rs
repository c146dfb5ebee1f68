//! Everything chosync knows of one SKU on every channel — what the catalogue
//! says, what each channel should show after its rules, what it shows as last
//! acknowledged, the work waiting and why, and the last calls that concerned
//! it. The first place an operator looks when a
//! marketplace shows something unexpected.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::inventory::allocation::{Allocation, Mode};
use crate::settings::Settings;
use crate::store::orders::EffectRow;
use crate::store::{CatalogueRow, ListingState, LogEntry, LogFilter, PushTask, Store, StoreError};

/// Calls shown per channel.
const RECENT_CALLS: i64 = 5;

/// Ledger movements and order effects shown.
const RECENT_CHANGES: i64 = 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Explained {
    pub sku: String,
    pub product_id: String,
    pub name: String,
    pub options: Vec<String>,
    pub status: String,
    pub price: i64,
    pub on_hand: i64,
    pub reserved: i64,
    /// The ledger behind `on_hand`, newest first.
    pub movements: Vec<crate::store::StockMovement>,
    /// The order effects behind `reserved` and the sales, newest first.
    pub order_effects: Vec<EffectRow>,
    pub channels: Vec<OnChannel>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnChannel {
    pub channel: String,
    pub enabled: bool,
    /// Price and stock after the channel's rules.
    pub wanted_price: i64,
    pub wanted_stock: i64,
    /// As last acknowledged by the platform (none before the first push).
    pub listing: Option<ListingState>,
    /// Work waiting, with what caused it and when it may run.
    pub work: Vec<Work>,
    pub recent_calls: Vec<LogEntry>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Work {
    pub aspect: String,
    pub version: i64,
    pub attempts: i64,
    pub not_before: DateTime<Utc>,
    pub cause: String,
}

/// What the catalogue, each channel's rules and each platform's last answer
/// say of `sku`.
pub async fn explain(
    settings: &Settings,
    store: &dyn Store,
    sku: &str,
) -> Result<Explained, StoreError> {
    let row = catalogue_row(store, sku)
        .await?
        .ok_or_else(|| StoreError::UnknownSku(sku.to_string()))?;
    let allocation = Allocation::new(settings);
    let sellable = row.on_hand - row.reserved;
    let partitioned = allocation
        .settings
        .policy(&row.product.product_id, &row.product.category)
        .mode_at(sellable)
        == Mode::Partitioned;
    let shown = if partitioned {
        store
            .shown_on_channels(&[sku.to_string()])
            .await?
            .remove(sku)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let since = store.now() - chrono::Duration::days(crate::sync::allot::SALES_DAYS);
    let mut channels = Vec::new();
    for channel in &settings.channels {
        let id = &channel.id;
        let listing = store.listing_states(id).await?.remove(sku);
        // What the pass would want: the rule over all sellable units, or
        // under `partitioned` the channel's share.
        let mut wanted = channel.stock.apply(sellable);
        if partitioned {
            let state = listing.clone().unwrap_or_else(|| ListingState::new(sku));
            let share =
                crate::sync::allot::share(store, channel, &allocation, &row, &state, &shown, since);
            wanted = share.await?.unwrap_or(wanted);
        }
        let work = store
            .pending_tasks(id)
            .await?
            .into_iter()
            .filter(|t| t.sku == sku)
            .map(Work::from)
            .collect();
        let filter = LogFilter {
            channel: Some(id.clone()),
            sku: Some(sku.to_string()),
            limit: RECENT_CALLS,
            ..Default::default()
        };
        channels.push(OnChannel {
            channel: id.clone(),
            enabled: channel.enabled,
            wanted_price: channel.price.apply(sku, row.variant.price),
            // A promotion's lock (recorded by reconcile) raises what is sent.
            wanted_stock: listing
                .as_ref()
                .map_or(wanted, |l| crate::sync::stock_to_push(wanted, l)),
            listing,
            work,
            recent_calls: store.sync_log(&filter).await?,
        });
    }
    Ok(Explained {
        sku: sku.to_string(),
        product_id: row.product.product_id.clone(),
        name: row.product.name.clone(),
        options: row.variant.option_values.clone(),
        status: row.product.status.as_str().to_string(),
        price: row.variant.price,
        on_hand: row.on_hand,
        reserved: row.reserved,
        movements: store.movements(sku, RECENT_CHANGES).await?,
        order_effects: store.sku_effects(sku, RECENT_CHANGES).await?,
        channels,
    })
}

impl From<PushTask> for Work {
    fn from(t: PushTask) -> Self {
        Self {
            aspect: t.aspect.as_str().to_string(),
            version: t.desired_version,
            attempts: t.attempts,
            not_before: t.not_before,
            cause: t.cause,
        }
    }
}

async fn catalogue_row(store: &dyn Store, sku: &str) -> Result<Option<CatalogueRow>, StoreError> {
    let mut found = None;
    store
        .for_each_catalogue_row(&mut |row| {
            if row.variant.sku == sku {
                found = Some(row);
            }
            Ok(())
        })
        .await?;
    Ok(found)
}
