//! The stock a pass wants on its channel for each SKU whose units are
//! partitioned: what `inventory::split::allocate` gives the channel, given
//! every channel that shows the SKU. Shared SKUs are not looked up at all.

use super::{Pass, timed};
use crate::channels::ChannelSettings;
use crate::inventory::allocation::{Allocation, Mode};
use crate::inventory::split::{self, Listed};
use crate::store::{CatalogueRow, ShownOn, Store, StoreError};

/// Fills `pass.allotted` with the channel's share of each partitioned SKU.
pub(super) async fn allot(
    store: &dyn Store,
    pass: &mut Pass,
    settings: &ChannelSettings,
    allocation: &Allocation,
) -> Result<(), StoreError> {
    if !allocation.settings.may_partition() {
        return Ok(());
    }
    let partitioned: Vec<&CatalogueRow> = pass
        .rows
        .values()
        .filter(|row| {
            let policy = allocation
                .settings
                .policy(&row.product.product_id, &row.product.category);
            policy.mode_at(row.on_hand - row.reserved) == Mode::Partitioned
        })
        .collect();
    if partitioned.is_empty() {
        return Ok(());
    }
    let skus: Vec<String> = partitioned.iter().map(|r| r.variant.sku.clone()).collect();
    let shown = timed("shown on channels", store.shown_on_channels(&skus)).await?;
    // The channel that sells most (over the last 30 days) gets the remainder.
    let since = store.now() - chrono::Duration::days(SALES_DAYS);
    let mut allotted = Vec::with_capacity(partitioned.len());
    for row in partitioned {
        let sku = &row.variant.sku;
        let shown = shown.get(sku).map_or(&[][..], Vec::as_slice);
        let state = pass.state(sku);
        if let Some(share) = share(store, settings, allocation, row, &state, shown, since).await? {
            allotted.push((sku.clone(), share));
        }
    }
    pass.allotted.extend(allotted);
    Ok(())
}

/// The channel's share of a partitioned SKU: `settings`' channel, its own
/// listing state `state`, and every channel `shown` to show the SKU.
pub async fn share(
    store: &dyn Store,
    settings: &ChannelSettings,
    allocation: &Allocation,
    row: &CatalogueRow,
    state: &crate::store::ListingState,
    shown: &[ShownOn],
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<i64>, StoreError> {
    let sku = &row.variant.sku;
    let sold = timed("units sold", store.units_sold(sku, since)).await?;
    let mut listed: Vec<Listed> = shown
        .iter()
        .map(|on| other(on, settings, allocation))
        .collect();
    if !listed.iter().any(|l| l.channel == settings.id) {
        listed.push(Listed {
            channel: settings.id.clone(),
            rule: settings.stock.clone(),
            shown: state.stock,
            in_flight: state.stock_in_flight,
            reachable: true,
            sold: 0,
        });
    }
    for l in &mut listed {
        l.sold = sold.get(&l.channel).copied().unwrap_or(0);
    }
    let shares = split::allocate(row.on_hand - row.reserved, Mode::Partitioned, &listed);
    let own = listed.iter().position(|l| l.channel == settings.id);
    Ok(own.and_then(|i| shares.get(i)).copied())
}

/// Days of orders that say which channel sells a SKU most.
pub const SALES_DAYS: i64 = 30;

/// A channel showing the SKU. Another channel is out of reach when it is
/// disabled or no longer configured (its listing still sells), paused (its
/// credentials are dead: nothing can be sent to it), or when its listing of
/// the SKU is quarantined or its last stock push failed: what it shows
/// stays put, so its units stay counted as shown. The pass's own channel is
/// always in reach: it is about to push.
fn other(on: &ShownOn, settings: &ChannelSettings, allocation: &Allocation) -> Listed {
    let own = on.channel == settings.id;
    let configured = allocation.channels.get(&on.channel);
    let enabled = configured.is_some_and(|(enabled, _)| *enabled) && !on.paused;
    let reachable = own || split::reachable(enabled, on.quarantined, on.last_error.as_deref());
    let rule = match configured {
        _ if own => settings.stock.clone(),
        Some((_, rule)) => rule.clone(),
        None => Default::default(),
    };
    Listed {
        channel: on.channel.clone(),
        rule,
        shown: on.stock,
        in_flight: on.stock_in_flight,
        reachable,
        sold: 0,
    }
}
