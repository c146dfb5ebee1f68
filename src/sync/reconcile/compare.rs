//! One reconcile's comparison: what chosync knows of a channel's SKUs, each
//! SKU the platform shows classified against it, and the drift alerts that
//! follow.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chosync_connector::dto::RemoteListing;

use super::{Finding, Known, ReconcileReport, Seen, Work, classify};
use crate::store::orders::{AlertKind, NewAlert};
use crate::store::{Aspect, BatchRecord, ListingState, LogRow, Store, StoreError};
use crate::sync::{Channel, timed};

/// What chosync knows of the channel's SKUs, read before comparing.
pub(super) struct Knowledge {
    states: HashMap<String, ListingState>,
    /// SKU → the stock the channel's rule makes of the ledger.
    wanted: HashMap<String, i64>,
    work: HashMap<String, Work>,
    /// SKUs with an open drift alert on the channel.
    alerted: BTreeSet<String>,
}

impl Knowledge {
    pub(super) async fn gather(
        store: &dyn Store,
        channel: &Channel<'_>,
    ) -> Result<Self, StoreError> {
        let id = channel.settings.id.as_str();
        let rule = &channel.settings.stock;
        let allocation = &channel.allocation.settings;
        let mut wanted = HashMap::new();
        let mut partitioned = BTreeSet::new();
        let mut visit = |row: crate::store::CatalogueRow| {
            let sellable = row.on_hand - row.reserved;
            let policy = allocation.policy(&row.product.product_id, &row.product.category);
            if policy.mode_at(sellable) == crate::inventory::allocation::Mode::Partitioned {
                partitioned.insert(row.variant.sku.clone());
            }
            wanted.insert(row.variant.sku, rule.apply(sellable));
            Ok(())
        };
        timed("catalogue", store.for_each_catalogue_row(&mut visit)).await?;
        let states = timed("listing states", store.listing_states(id)).await?;
        // A partitioned SKU's channel is to show its share, as last set by
        // the pass that claimed it, not all the rule makes of the ledger.
        for sku in &partitioned {
            let share = states.get(sku).and_then(|s| s.stock).unwrap_or(0);
            wanted.insert(sku.clone(), share);
        }
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
pub(super) fn compare(
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
pub(super) async fn alert(
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
