//! The sync log: every platform call, filtered and paged, and followed live
//! over Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use serde::Deserialize;

use super::{Page, page_size};
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::store::{LogEntry, LogFilter};
use crate::sync::log::LogTail;

/// How often the live tail looks for new rows.
const TAIL_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    pub channel: Option<String>,
    /// Calls that carried this SKU.
    pub sku: Option<String>,
    /// ok | rejected | throttled | failed | … ; `error` for every outcome but ok.
    pub outcome: Option<String>,
    /// Rows recorded at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Rows recorded before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// From the previous page's `next_cursor` (newest first).
    pub cursor: Option<String>,
    /// Rows per page (1–1000, default 100).
    pub limit: Option<i64>,
}

impl LogQuery {
    fn filter(self) -> Result<LogFilter, ApiError> {
        let before_id = self
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!("cursor {c:?} is not one this API gave"))
                })
            })
            .transpose()?;
        let (errors_only, outcome) = match self.outcome.as_deref() {
            Some("error") => (true, None),
            _ => (false, self.outcome),
        };
        Ok(LogFilter {
            channel: self.channel,
            sku: self.sku,
            since: self.since,
            until: self.until,
            errors_only,
            outcome,
            before_id,
            limit: page_size(self.limit),
            ..LogFilter::default()
        })
    }
}

/// The sync log, newest first, a page at a time. Rows never carry a secret.
#[utoipa::path(get, path = "/api/v1/log", tag = "log", params(LogQuery),
    responses((status = 200, body = Page<LogEntry>), (status = 422, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    Params(query): Params<LogQuery>,
) -> Result<Json<Page<LogEntry>>, ApiError> {
    let filter = query.filter()?;
    let items = state.store.sync_log(&filter).await?;
    Ok(Json(Page::new(items, filter.limit, |e| e.id.to_string())))
}

/// The log followed live: first the newest matching rows, then each row as
/// it is recorded (event `log`, data: the row as JSON, id: the row's id).
#[utoipa::path(get, path = "/api/v1/log/tail", tag = "log", params(LogQuery),
    responses((status = 200, description = "text/event-stream of `log` events", content_type = "text/event-stream")),
    security(("bearer" = [])))]
pub async fn tail(
    State(state): State<ApiState>,
    Params(query): Params<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut filter = query.filter()?;
    filter.before_id = None;
    filter.until = None;
    let tail = LogTail::start(state.store.clone(), filter).await?;
    Ok(Sse::new(stream(tail, state.stopping.clone())).keep_alive(KeepAlive::default()))
}

/// The tail's rows, oldest first, until the daemon stops (a stream left
/// open would hold its shutdown); `None` now and then while nothing comes,
/// so a closed connection is noticed.
pub(crate) fn entries(
    tail: LogTail,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Option<LogEntry>> {
    let pending: std::collections::VecDeque<LogEntry> = Default::default();
    futures_util::stream::unfold(
        (tail, pending, stopping, true),
        |(mut tail, mut pending, mut stopping, first)| async move {
            loop {
                if let Some(entry) = pending.pop_front() {
                    return Some((Some(entry), (tail, pending, stopping, false)));
                }
                if *stopping.borrow() {
                    return None;
                }
                if !first {
                    tokio::select! {
                        () = tokio::time::sleep(TAIL_EVERY) => {}
                        _ = stopping.changed() => return None,
                    }
                }
                match tail.next_batch().await {
                    Ok(batch) => pending.extend(batch),
                    Err(err) => tracing::warn!(%err, "log tail: the store did not answer"),
                }
                if pending.is_empty() && first {
                    return Some((None, (tail, pending, stopping, false)));
                }
            }
        },
    )
}

/// The tail as Server-Sent Events: event `log`, the row as JSON.
fn stream(
    tail: LogTail,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    use futures_util::StreamExt;
    entries(tail, stopping).map(|entry| {
        Ok(match entry {
            Some(entry) => Event::default()
                .event("log")
                .id(entry.id.to_string())
                .json_data(&entry)
                .unwrap_or_else(|_| Event::default().comment("unserialisable row")),
            None => Event::default().comment("following"),
        })
    })
}
