//! What the living demo did, from the three places that know: the buyers
//! (orders placed and cancelled, propagation), the store (orders and their
//! effects recorded, stock pushes in the sync log, oversold SKUs) and the
//! sandboxes (throttled calls, and the stock every channel shows).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::buyers::{Latency, Shop, Simulator};
use crate::settings::Settings;
use crate::store::orders::{AlertKind, OrderFilter};
use crate::store::{LogFilter, Store, StoreError};

/// Enough for any demo's rows; the store caps what it reads anyway.
const ALL: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// How long the buyers bought.
    pub seconds: f64,
    pub orders: Orders,
    /// Stock writes the platforms accepted while the buyers bought (sync log).
    pub stock_pushes: u64,
    /// From an order's creation on its channel until every other channel
    /// shows the stock it leaves.
    pub propagation: Latency,
    /// SKUs reserved above what is on hand, or alerted as oversold.
    pub oversold: u64,
    /// Calls the sandboxes answered "too many requests", since they started.
    pub throttled: u64,
    pub convergence: Convergence,
}

#[derive(Debug, Clone, Serialize)]
pub struct Orders {
    /// By the buyers.
    pub placed: u64,
    pub cancelled: u64,
    /// Orders the platform refused (not for sale, or sold out there first).
    pub refused: u64,
    /// Buyers who found nothing in stock on their channel and bought nothing.
    pub sold_out: u64,
    /// Orders chosync recorded, with their lines and the ledger effects
    /// (reserve, release, …) those lines had.
    pub recorded: u64,
    pub lines: u64,
    pub effects: u64,
    /// SKUs that ran low and got a new harvest while the buyers bought.
    pub restocked: u64,
}

/// Every SKU on every channel against the stock chosync wants it to show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Convergence {
    pub converged: bool,
    /// SKU × channel pairs compared.
    pub checked: u64,
    /// Pairs the channel does not list (quarantined there, say): nothing to show.
    pub not_listed: u64,
    pub mismatches: Vec<String>,
}

impl Summary {
    /// Whether the demo shows the system working: nothing oversold, nothing
    /// throttled, every channel right.
    pub fn healthy(&self) -> bool {
        self.oversold == 0 && self.throttled == 0 && self.convergence.converged
    }

    pub async fn gather(
        store: &dyn Store,
        shops: &[Shop],
        buyers: &Simulator,
        since: DateTime<Utc>,
        seconds: f64,
        convergence: Convergence,
    ) -> Result<Self, StoreError> {
        // The buyers' orders: those before them (the demo's sample order
        // file) are not theirs to count.
        let mut recorded = store
            .orders(&OrderFilter {
                limit: ALL,
                ..Default::default()
            })
            .await?;
        recorded.retain(|o| o.first_seen_at >= since);
        let lines = recorded.iter().flat_map(|o| &o.lines);
        let effects = lines
            .clone()
            .flat_map(|l| l.effects.values())
            .filter(|units| **units != 0)
            .count();
        let log = store
            .sync_log(&LogFilter {
                since: Some(since),
                limit: ALL,
                ..Default::default()
            })
            .await?;
        let stock_pushes = log
            .iter()
            .filter(|e| e.call.outcome == "ok" && e.call.action.contains("stock"))
            .count();
        let mut oversold: BTreeSet<String> = store
            .alerts(true)
            .await?
            .into_iter()
            .filter(|a| a.kind == AlertKind::Oversold.as_str())
            .map(|a| a.subject)
            .collect();
        oversold.extend(
            store
                .stock(None)
                .await?
                .into_iter()
                .filter(|row| row.reserved > row.on_hand)
                .map(|row| row.sku),
        );
        Ok(Self {
            seconds,
            orders: Orders {
                placed: buyers.placed,
                cancelled: buyers.cancelled,
                refused: buyers.refused,
                sold_out: buyers.sold_out,
                recorded: recorded.len() as u64,
                lines: lines.count() as u64,
                effects: effects as u64,
                restocked: 0,
            },
            stock_pushes: stock_pushes as u64,
            propagation: buyers.propagation(),
            oversold: oversold.len() as u64,
            throttled: shops.iter().map(|s| s.stats().throttled).sum(),
            convergence,
        })
    }
}

/// Compares every SKU on every channel with what chosync wants it to show,
/// again and again until they agree or `deadline` passes.
pub async fn converge(
    settings: &Settings,
    store: &dyn Store,
    shops: &[Shop],
    deadline: Instant,
) -> Result<Convergence, StoreError> {
    loop {
        let now = compare(settings, store, shops).await?;
        if now.converged || Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn compare(
    settings: &Settings,
    store: &dyn Store,
    shops: &[Shop],
) -> Result<Convergence, StoreError> {
    let mut out = Convergence::default();
    for row in store.stock(None).await? {
        let explained = crate::channels::explain::explain(settings, store, &row.sku).await?;
        for channel in &explained.channels {
            let Some(shop) = shops.iter().find(|s| s.id == channel.channel) else {
                continue;
            };
            out.checked += 1;
            let live = channel
                .listing
                .as_ref()
                .is_some_and(|l| l.status == "live" && !l.quarantined);
            match shop.buyable(&row.sku) {
                Some(shown) if shown == channel.wanted_stock => {}
                None if !live => out.not_listed += 1,
                shown => out.mismatches.push(format!(
                    "{} shows {} of {}, wanted {}",
                    shop.id,
                    shown.map_or_else(|| "nothing".to_string(), |n| n.to_string()),
                    row.sku,
                    channel.wanted_stock
                )),
            }
        }
    }
    out.converged = out.mismatches.is_empty();
    Ok(out)
}
