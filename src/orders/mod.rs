//! Orders in. What a platform's push names (kept as hints before the push is
//! answered) and what the poll finds are fetched from the platform — a push
//! body is never trusted as state — and recorded; the store applies each
//! line's stock effects exactly once and marks every channel's stock work.
//! Each import is a sync run of kind `orders` with its calls in the log.

use std::collections::BTreeSet;
use std::time::Instant;

use chosync_connector::ConnectorError;
use chosync_connector::dto::OrderWindow;
use serde::Serialize;

use crate::settings::OrderSettings;
use crate::store::orders::{AlertKind, NewAlert, OrderImport};
use crate::store::{RunCounts, Store, StoreError};
use crate::sync::{CallLog, Channel};

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("channel {channel}: {error}")]
    Platform {
        channel: String,
        error: ConnectorError,
    },
    /// The channel's credentials are dead: refused before any call.
    #[error(transparent)]
    Paused(#[from] crate::channels::tokens::Paused),
}

/// The outcome of an orders file a spreadsheet channel refused whole.
const REFUSED_FILE: &str = chosync_spreadsheet::REJECTED;

/// What one import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderReport {
    pub channel: String,
    pub run_id: i64,
    /// Orders fetched from the platform.
    pub fetched: usize,
    /// Orders seen for the first time.
    pub new: usize,
    /// Orders whose lines moved stock.
    pub changed: usize,
    /// Effects applied (a reserve, a release, …).
    pub effects: usize,
    /// Fetched versions older than the one recorded (nothing changed).
    pub stale: usize,
    /// Lines waiting for a SKU the catalogue does not know, by platform SKU.
    pub waiting: BTreeSet<String>,
    /// SKUs reserved above what is on hand.
    pub oversold: BTreeSet<String>,
    /// Waiting lines that took effect now that their SKU exists.
    pub settled: usize,
    /// Orders the store could not record (alerted; tried again next time).
    pub failed: BTreeSet<String>,
    pub seconds: f64,
}

/// Where the order ids of an import come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Only the hints verified pushes left.
    Hints,
    /// The poll: orders updated since the cursor (less the overlap), lost
    /// pushes, hints, and lines waiting for their SKU.
    Poll,
}

/// Fetches and records the orders `source` names on one channel. A failure
/// leaves hints and the cursor as they were (the next import takes them
/// again) and raises an `order_import_failing` alert; a success clears it.
pub async fn import(
    store: &dyn Store,
    channel: &Channel<'_>,
    source: Source,
    settings: &OrderSettings,
    trigger: &str,
) -> Result<OrderReport, OrderError> {
    let id = channel.settings.id.as_str();
    if let Some(paused) = crate::channels::tokens::paused(store, id).await? {
        return Err(paused.into());
    }
    let started = Instant::now();
    let hints = store.order_hints(id).await?;
    if source == Source::Hints && hints.is_empty() {
        return Ok(OrderReport {
            channel: id.to_string(),
            ..OrderReport::default()
        });
    }
    let run_id = store.start_free_run(id, "orders", trigger).await?;
    let call = channel.events.next_id();
    let mut report = OrderReport {
        channel: id.to_string(),
        run_id,
        ..OrderReport::default()
    };
    let result = CallLog::scoped(
        call,
        fetch_and_record(store, channel, source, settings, &hints, &mut report),
    )
    .await;
    // A refresh refused for good while fetching pauses the channel now.
    if let Err(err) = crate::channels::tokens::pause_if_refused(store, channel).await {
        tracing::warn!(channel = id, %err, "could not pause the channel");
    }
    let events = channel.events.take(call);
    let counts = RunCounts {
        pushed: report.changed as i64,
        skipped: (report.fetched - report.changed.min(report.fetched)) as i64,
        failed: i64::from(result.is_err()),
        calls: events.len() as i64,
        throttled: events
            .iter()
            .filter(|e| e.outcome == "rate_limited")
            .count() as i64,
        ..RunCounts::default()
    };
    let rows: Vec<_> = events
        .iter()
        .map(|e| crate::sync::log_row(e, "", "orders"))
        .collect();
    store.log_calls(run_id, id, &rows).await?;
    for refused in events.iter().filter(|e| e.outcome == REFUSED_FILE) {
        // An orders file refused whole waits for a person to mend it.
        store
            .raise_alert(&NewAlert {
                kind: AlertKind::OrderImportFailing,
                channel: id.to_string(),
                subject: refused.endpoint.clone(),
                message: format!(
                    "{} of {id} was refused whole, nothing of it recorded: {}",
                    refused.endpoint,
                    refused.message.as_deref().unwrap_or("see its .errors.txt")
                ),
            })
            .await?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => {
            store.finish_run(run_id, "ok", &counts, None).await?;
            store
                .resolve_alert(AlertKind::OrderImportFailing, id, "")
                .await?;
            Ok(report)
        }
        Err(err) => {
            let message = err.to_string();
            store
                .finish_run(run_id, "failed", &counts, Some(&message))
                .await?;
            store
                .raise_alert(&NewAlert {
                    kind: AlertKind::OrderImportFailing,
                    channel: id.to_string(),
                    subject: String::new(),
                    message: format!("orders of {id} could not be imported: {message}"),
                })
                .await?;
            Err(err)
        }
    }
}

async fn fetch_and_record(
    store: &dyn Store,
    channel: &Channel<'_>,
    source: Source,
    settings: &OrderSettings,
    hints: &[(String, chrono::DateTime<chrono::Utc>)],
    report: &mut OrderReport,
) -> Result<(), OrderError> {
    let id = channel.settings.id.as_str();
    let platform = |error| OrderError::Platform {
        channel: id.to_string(),
        error,
    };
    let connector = channel.client.connector();
    let mut ids: BTreeSet<String> = hints.iter().map(|(order, _)| order.clone()).collect();
    let mut polled_to = None;
    let mut lost_mark = None;
    if source == Source::Poll {
        let now = store.now();
        let overlap = chrono::Duration::seconds(i64::from(settings.overlap_seconds));
        let from = match store.order_cursor(id).await? {
            Some(cursor) => cursor - overlap,
            None => now - chrono::Duration::hours(i64::from(settings.lookback_hours)),
        };
        let window = OrderWindow { from, to: now };
        let listed = connector.list_orders(window).await.map_err(platform)?;
        for order in listed {
            if !recorded_as(store, id, &order).await? {
                ids.insert(order.order_id);
            }
        }
        let (lost, mark) = channel.client.lost_order_hints().await.map_err(platform)?;
        ids.extend(lost);
        lost_mark = mark;
        polled_to = Some(now);
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let seen_by = match source {
        Source::Hints => "push",
        Source::Poll => "poll",
    };
    let orders = match connector.get_orders(&ids).await {
        Ok(orders) => orders,
        Err(error) => {
            if source == Source::Hints && matches!(error, ConnectorError::Rejected { .. }) {
                // The platform refuses these ids for good: dropped, so they
                // cannot hold up the pushes after them (the poll finds
                // every real order anyway).
                store.drop_order_hints(id, hints).await?;
            }
            return Err(platform(error));
        }
    };
    report.fetched = orders.len();
    for order in &orders {
        isolated(store, channel, order, seen_by, report).await?;
    }
    if source == Source::Poll {
        for order_id in store.waiting_orders(id).await? {
            for stored in store.order(Some(id), &order_id).await? {
                let before = report.effects;
                isolated(store, channel, &stored.as_order(), "settle", report).await?;
                report.settled += usize::from(report.effects > before);
            }
        }
    }
    // The hints of orders not recorded stay: they are tried again.
    let handled: Vec<_> = hints
        .iter()
        .filter(|(order, _)| !report.failed.contains(order))
        .cloned()
        .collect();
    store.drop_order_hints(id, &handled).await?;
    if let Some(polled_to) = polled_to {
        store.save_order_cursor(id, polled_to).await?;
    }
    if let Some(mark) = lost_mark {
        channel.client.confirm_lost(mark).await.map_err(platform)?;
    }
    if source == Source::Poll && report.failed.is_empty() {
        channel.client.orders_recorded().await.map_err(platform)?;
    }
    Ok(())
}

/// Whether `listed` is recorded already at the version and status the
/// platform's list shows: the poll's overlap lists recent orders again and
/// again, and platforms that read one order per call (Sendo, Voso) would
/// spend their quota reading what is known. Where the list names no time
/// (Shopee), the order is read.
async fn recorded_as(
    store: &dyn Store,
    channel: &str,
    listed: &chosync_connector::dto::OrderRef,
) -> Result<bool, StoreError> {
    let Some(updated_at) = listed.updated_at else {
        return Ok(false);
    };
    // PostgreSQL keeps microseconds.
    let updated_at = chrono::SubsecRound::trunc_subsecs(updated_at, 6);
    Ok(store
        .order(Some(channel), &listed.order_id)
        .await?
        .iter()
        .any(|o| o.platform_updated_at >= updated_at && o.platform_status == listed.status))
}

/// Records one order; one the store refuses is alerted by its id and
/// left for the next import, and the others go on.
async fn isolated(
    store: &dyn Store,
    channel: &Channel<'_>,
    order: &chosync_connector::dto::Order,
    seen_by: &str,
    report: &mut OrderReport,
) -> Result<(), OrderError> {
    let Err(err) = record(store, channel, order, seen_by, report).await else {
        return Ok(());
    };
    let id = channel.settings.id.as_str();
    tracing::warn!(channel = id, order = %order.order_id, %err, "order not recorded");
    report.failed.insert(order.order_id.clone());
    store
        .raise_alert(&NewAlert {
            kind: AlertKind::OrderImportFailing,
            channel: id.to_string(),
            subject: order.order_id.clone(),
            message: format!(
                "order {} of {id} could not be recorded: {err}; it is tried again at the next import",
                order.order_id
            ),
        })
        .await?;
    Ok(())
}

async fn record(
    store: &dyn Store,
    channel: &Channel<'_>,
    order: &chosync_connector::dto::Order,
    seen_by: &str,
    report: &mut OrderReport,
) -> Result<(), OrderError> {
    let recorded = store
        .record_order(&OrderImport {
            channel: &channel.settings.id,
            order,
            seen_by,
            restock_returns: channel.settings.restock_returns,
            aliases: &channel.mapping.skus,
        })
        .await?;
    report.new += usize::from(recorded.new);
    report.stale += usize::from(recorded.stale);
    report.changed += usize::from(!recorded.moved.is_empty());
    report.effects += recorded.moved.len();
    report.waiting.extend(recorded.waiting);
    report.oversold.extend(recorded.oversold);
    if !recorded.moved.is_empty() {
        tracing::info!(
            channel = %channel.settings.id,
            order = %order.order_id,
            state = order.state.as_str(),
            effects = recorded.moved.len(),
            "order recorded"
        );
    }
    Ok(())
}

/// One channel's import, or why it failed.
#[derive(Debug)]
pub struct ChannelImport {
    pub channel: String,
    pub result: Result<OrderReport, OrderError>,
}

/// Imports the orders `source` names on the channel `only`, or on every
/// enabled one, side by side.
pub async fn import_channels(
    settings: &crate::settings::Settings,
    store: &std::sync::Arc<dyn Store>,
    only: Option<&str>,
    source: Source,
    trigger: &str,
) -> Result<Vec<ChannelImport>, crate::channels::ChannelError> {
    let channels = crate::channels::prepare::prepare(settings, store, only, || {
        std::sync::Arc::new(CallLog::default())
    })?;
    let allocation = crate::inventory::allocation::Allocation::new(settings);
    let allocation = &allocation;
    let imports = channels.iter().map(|prepared| async move {
        let channel = Channel {
            settings: prepared.settings,
            mapping: &prepared.mapping,
            client: &prepared.client,
            events: prepared.events.clone(),
            allocation,
        };
        import(store.as_ref(), &channel, source, &settings.orders, trigger).await
    });
    let results = futures_util::future::join_all(imports).await;
    Ok(channels
        .iter()
        .zip(results)
        .map(|(prepared, result)| ChannelImport {
            channel: prepared.settings.id.clone(),
            result,
        })
        .collect())
}
