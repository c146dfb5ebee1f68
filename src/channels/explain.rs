//! `chosync explain SKU`: everything chosync knows of one SKU on every
//! channel — what the catalogue says, what each channel should show after its
//! rules, what it shows as last acknowledged, the work waiting and why, and
//! the last calls that concerned it. The first place an operator looks when a
//! marketplace shows something unexpected.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{Failure, say};
use crate::settings::Settings;
use crate::store::{CatalogueRow, ListingState, LogEntry, LogFilter, PushTask, Store};

/// Calls shown per channel.
const RECENT_CALLS: i64 = 5;

#[derive(Debug, Serialize)]
struct Explained {
    sku: String,
    product_id: String,
    name: String,
    options: Vec<String>,
    status: String,
    price: i64,
    on_hand: i64,
    reserved: i64,
    channels: Vec<OnChannel>,
}

#[derive(Debug, Serialize)]
struct OnChannel {
    channel: String,
    enabled: bool,
    /// Price and stock after the channel's rules.
    wanted_price: i64,
    wanted_stock: i64,
    /// As last acknowledged by the platform (none before the first push).
    listing: Option<ListingState>,
    /// Work waiting, with what caused it and when it may run.
    work: Vec<Work>,
    recent_calls: Vec<LogEntry>,
}

#[derive(Debug, Serialize)]
struct Work {
    aspect: String,
    version: i64,
    attempts: i64,
    not_before: DateTime<Utc>,
    cause: String,
}

pub(crate) async fn explain(
    settings: &Settings,
    store: &dyn Store,
    sku: &str,
    json: bool,
) -> Result<(), Failure> {
    let row = catalogue_row(store, sku)
        .await?
        .ok_or_else(|| Failure::invalid(vec![format!("error: unknown SKU \"{sku}\"")]))?;
    let mut channels = Vec::new();
    for channel in &settings.channels {
        let id = &channel.id;
        let listing = store.listing_states(id).await?.remove(sku);
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
            wanted_stock: channel.stock.apply(row.on_hand - row.reserved),
            listing,
            work,
            recent_calls: store.sync_log(&filter).await?,
        });
    }
    let explained = Explained {
        sku: sku.to_string(),
        product_id: row.product.product_id.clone(),
        name: row.product.name.clone(),
        options: row.variant.option_values.clone(),
        status: row.product.status.as_str().to_string(),
        price: row.variant.price,
        on_hand: row.on_hand,
        reserved: row.reserved,
        channels,
    };
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&explained).unwrap_or_default()
        );
    } else {
        print(&explained);
    }
    Ok(())
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

async fn catalogue_row(store: &dyn Store, sku: &str) -> Result<Option<CatalogueRow>, Failure> {
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

fn print(e: &Explained) {
    let options = if e.options.is_empty() {
        String::new()
    } else {
        format!(" · {}", e.options.join(" / "))
    };
    say!("{}  {} ({}){options}", e.sku, e.name, e.product_id);
    say!(
        "  catalogue: {} VND, on hand {}, reserved {}, {}",
        e.price,
        e.on_hand,
        e.reserved,
        e.status
    );
    let shown = |v: Option<i64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    for c in &e.channels {
        let enabled = if c.enabled { "" } else { " (disabled)" };
        say!("{}{enabled}:", c.channel);
        match &c.listing {
            None => say!("  not listed yet"),
            Some(l) => {
                let at = l
                    .listing_id
                    .as_deref()
                    .map_or_else(|| "not listed".to_string(), |id| format!("listing {id}"));
                let quarantined = if l.quarantined { ", quarantined" } else { "" };
                say!("  {at}: {}{quarantined}", l.status);
                if let Some(error) = &l.last_error {
                    say!("  last error: {error}");
                }
            }
        }
        let (price, stock) = c
            .listing
            .as_ref()
            .map_or((None, None), |l| (l.price, l.stock));
        say!(
            "  price {} VND (wanted {}), stock {} (wanted {})",
            shown(price),
            c.wanted_price,
            shown(stock),
            c.wanted_stock
        );
        for w in &c.work {
            say!(
                "  waiting: {} v{}, {} failed attempts, not before {}, caused by {}",
                w.aspect,
                w.version,
                w.attempts,
                w.not_before.format("%Y-%m-%d %H:%M:%S UTC"),
                w.cause
            );
        }
        for call in &c.recent_calls {
            say!(
                "  {}  {} {} {}",
                call.created_at.format("%Y-%m-%d %H:%M:%S"),
                call.call.action,
                call.call.outcome,
                call.call.message.as_deref().unwrap_or("")
            );
        }
    }
}
