//! `chosync plan`: what a sync would do, channel by channel, without a call.

use std::sync::Arc;

use super::{Failure, say};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Kind, Plan, plan_channels};

pub(super) async fn run(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    kind: Kind,
    json: bool,
) -> Result<(), Failure> {
    let mut plans = Vec::new();
    for planned in plan_channels(settings, store, only, kind).await? {
        let plan = planned.plan.map_err(|e| Failure {
            code: 1,
            lines: vec![format!("error: {}: {e}", planned.channel)],
        })?;
        if !json {
            print(&plan);
        }
        plans.push(plan);
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&plans).unwrap_or_default()
        );
    }
    Ok(())
}

fn print(plan: &Plan) {
    say!(
        "{}: create {} listings, update {}, delist {}, {} price and {} stock changes, {} unchanged; at least {} calls",
        plan.channel,
        plan.creates.len(),
        plan.content_updates.len(),
        plan.delists.len(),
        plan.prices.len(),
        plan.stocks.len(),
        plan.unchanged,
        plan.min_calls
    );
    for listing in &plan.creates {
        say!(
            "  create  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    for listing in &plan.content_updates {
        say!(
            "  update  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    for listing in &plan.delists {
        say!(
            "  delist  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    let old = |v: Option<i64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    for change in &plan.prices {
        say!(
            "  price   {}: {} → {} VND",
            change.sku,
            old(change.old),
            change.new
        );
    }
    for change in &plan.stocks {
        say!(
            "  stock   {}: {} → {}",
            change.sku,
            old(change.old),
            change.new
        );
    }
    if plan.deferred > 0 {
        say!(
            "  waiting: {} tasks after failures (backoff; `chosync sync --retry` takes them now)",
            plan.deferred
        );
    }
    if let Some(reason) = plan.guard() {
        say!("  guard: {reason}");
    }
}
