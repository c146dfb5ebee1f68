//! What a pass would do, worked out without a single platform call: the
//! listings it would create or update, the price and stock values it would
//! change (old → new) and the fewest calls that takes. `chosync plan` prints
//! it; the blast-radius guard reads it before a pass pushes anything.

use std::collections::{BTreeMap, BTreeSet};

use chosync_connector::BatchScope;
use serde::Serialize;

use super::Pass;
use crate::catalogue::model::Status;
use crate::channels::ChannelSettings;
use crate::channels::client::ChannelClient;
use crate::store::Aspect;

/// Share of a channel's live listings a pass may zero or delist without `--force`.
pub const GUARD_PERCENT: usize = 20;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Plan {
    pub channel: String,
    /// Products to list, with their SKUs.
    pub creates: Vec<PlannedListing>,
    /// Listed products whose content has work (unchanged ones cost no call).
    pub content_updates: Vec<PlannedListing>,
    /// Listed products made inactive in the catalogue: taken off sale.
    pub delists: Vec<PlannedListing>,
    pub prices: Vec<Change>,
    pub stocks: Vec<Change>,
    /// Work whose value the channel already shows: settled without a call.
    pub unchanged: usize,
    /// Work waiting after a failure, not due yet (not in this plan).
    pub deferred: usize,
    /// SKUs listed and live on the channel.
    pub live: usize,
    /// Live SKUs whose shown stock would drop to zero.
    pub zeroed: usize,
    /// Live SKUs the delists take off sale.
    pub delisted: usize,
    /// The fewest calls these changes take (creates count one call each;
    /// platforms that add variations in a second step take more).
    pub min_calls: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedListing {
    pub product_id: String,
    pub skus: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub sku: String,
    pub old: Option<i64>,
    pub new: i64,
}

impl Plan {
    /// Why the pass must not run without `--force`, if it must not.
    pub fn guard(&self) -> Option<String> {
        let hit = self.zeroed + self.delisted;
        (self.live > 0 && hit * 100 > self.live * GUARD_PERCENT).then(|| {
            format!(
                "{}: this sync would set the stock of {} and delist {} of {} live listings (together more than {GUARD_PERCENT} %); \
                 check the catalogue and stock rule with `chosync plan --channel {}`, then run `chosync sync --force` if it is intended",
                self.channel, self.zeroed, self.delisted, self.live, self.channel
            )
        })
    }
}

pub(super) fn plan(pass: &Pass, settings: &ChannelSettings, client: &ChannelClient) -> Plan {
    let capabilities = client.connector().capabilities();
    let mut plan = Plan {
        channel: settings.id.clone(),
        creates: Vec::new(),
        content_updates: Vec::new(),
        delists: Vec::new(),
        prices: Vec::new(),
        stocks: Vec::new(),
        unchanged: 0,
        deferred: pass.deferred,
        live: usize::try_from(pass.live).unwrap_or(0),
        zeroed: 0,
        delisted: 0,
        min_calls: 0,
    };
    let products: BTreeSet<&str> = pass
        .tasks
        .keys()
        .filter_map(|(sku, _)| pass.rows.get(sku))
        .map(|row| row.variant.product_id.as_str())
        .collect();
    for product_id in products {
        let skus: Vec<String> = pass
            .product_rows(product_id)
            .iter()
            .map(|r| r.variant.sku.clone())
            .collect();
        let listing = PlannedListing {
            product_id: product_id.to_string(),
            skus,
        };
        let active = pass
            .product_rows(product_id)
            .first()
            .is_some_and(|r| r.product.status == Status::Active);
        if !pass.listed(product_id) {
            if active && pass.has_listing_work(product_id) {
                plan.creates.push(listing);
            }
        } else if !active
            && listing
                .skus
                .iter()
                .any(|sku| pass.state(sku).status != "delisted")
            && listing
                .skus
                .iter()
                .any(|sku| pass.task(sku, Aspect::Content).is_some())
        {
            plan.delisted += listing
                .skus
                .iter()
                .filter(|sku| pass.state(sku).status == "live")
                .count();
            plan.delists.push(listing);
        } else if listing
            .skus
            .iter()
            .any(|sku| pass.task(sku, Aspect::Content).is_some())
        {
            plan.content_updates.push(listing);
        }
    }
    // A SKU both zeroed and delisted counts once, as delisted.
    let delisting: BTreeSet<&str> = plan
        .delists
        .iter()
        .flat_map(|l| l.skus.iter().map(String::as_str))
        .collect();
    // Listing per SKU, to count calls on platforms that batch per listing.
    let mut price_listings: BTreeMap<String, usize> = BTreeMap::new();
    let mut stock_listings: BTreeMap<String, usize> = BTreeMap::new();
    for (sku, aspect) in pass.tasks.keys() {
        let (Some(row), state) = (pass.rows.get(sku), pass.state(sku)) else {
            continue;
        };
        let Some(listing_id) = state.listing_id.clone() else {
            continue;
        };
        let (old, new, changes, listings) = match aspect {
            Aspect::Content => continue,
            Aspect::Price => (
                state.price,
                settings.price.apply(sku, row.variant.price),
                &mut plan.prices,
                &mut price_listings,
            ),
            Aspect::Stock => (
                state.stock,
                super::stock_to_push(pass.wanted_stock(row, &settings.stock), &state),
                &mut plan.stocks,
                &mut stock_listings,
            ),
        };
        if old == Some(new) {
            plan.unchanged += 1;
            continue;
        }
        if *aspect == Aspect::Stock
            && new == 0
            && !delisting.contains(sku.as_str())
            && old.is_none_or(|o| o > 0)
            && state.status == "live"
        {
            plan.zeroed += 1;
        }
        changes.push(Change {
            sku: sku.clone(),
            old,
            new,
        });
        *listings.entry(listing_id).or_default() += 1;
    }
    plan.prices.sort_by(|a, b| a.sku.cmp(&b.sku));
    plan.stocks.sort_by(|a, b| a.sku.cmp(&b.sku));
    let calls = |listings: &BTreeMap<String, usize>, batch: usize| -> usize {
        let batch = batch.max(1);
        match capabilities.batch_scope {
            BatchScope::OneListing => listings.values().map(|n| n.div_ceil(batch)).sum(),
            BatchScope::AcrossListings => listings.values().sum::<usize>().div_ceil(batch),
        }
    };
    plan.min_calls = plan.creates.len()
        + plan.content_updates.len()
        + plan.delists.len()
        + calls(&price_listings, capabilities.price_batch)
        + calls(&stock_listings, capabilities.stock_batch);
    plan
}
