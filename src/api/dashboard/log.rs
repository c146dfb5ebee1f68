//! The sync log page: filters, each call's details, and the live tail
//! (the server renders each new row; the page's script puts it on top).

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Session, layout};
use crate::api::ApiState;
use crate::store::{LogEntry, LogFilter};
use crate::sync::log::LogTail;

#[derive(Debug, Default, Deserialize)]
pub(super) struct LogQuery {
    channel: Option<String>,
    sku: Option<String>,
    outcome: Option<String>,
    /// The live tail: rows after this one (the newest the page shows).
    after: Option<i64>,
}

impl LogQuery {
    fn filter(&self, limit: i64) -> LogFilter {
        let some = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let outcome = some(&self.outcome);
        LogFilter {
            channel: some(&self.channel),
            sku: some(&self.sku),
            errors_only: outcome.as_deref() == Some("error"),
            outcome: outcome.filter(|o| o != "error"),
            limit,
            ..LogFilter::default()
        }
    }
}

const OUTCOMES: [&str; 6] = [
    "ok",
    "rejected",
    "throttled",
    "failed",
    "unauthorized",
    "ambiguous",
];

pub(super) fn row(session: &Session, e: &LogEntry) -> Markup {
    let c = &e.call;
    html! {
        tr data-id=(e.id) data-channel=(e.channel) class=(if c.outcome == "ok" { "row" } else { "row bad" }) {
            td { (session.time(e.created_at)) }
            td { (e.channel) }
            td { (c.action) }
            td.outcome { (c.outcome) }
            td { details { summary { (c.skus.split(' ').take(3).collect::<Vec<_>>().join(" "))
                    @if c.skus.split(' ').count() > 3 { " …" } }
                dl {
                    dt { "SKU" } dd { (c.skus) }
                    dt { "HTTP" } dd { (c.http_status.map_or("-".into(), |s| s.to_string())) }
                    dt { (session.lang.t("Mã nền tảng", "Platform code")) } dd { (c.platform_code.as_deref().unwrap_or("-")) }
                    dt { (session.lang.t("Thông báo", "Message")) } dd { (c.message.as_deref().unwrap_or("-")) }
                    dt { (session.lang.t("Lần thử", "Attempt")) } dd { (c.attempt) }
                    dt { (session.lang.t("Thời gian", "Latency")) } dd { (c.latency_ms) " ms" }
                    dt { "Request id" } dd { (c.request_id.as_deref().unwrap_or("-")) }
                    dt { (session.lang.t("Nguyên nhân", "Cause")) } dd { (c.cause) }
                }
            } }
        }
    }
}

pub(super) async fn page(
    State(state): State<ApiState>,
    session: Session,
    Query(query): Query<LogQuery>,
) -> Response {
    let l = session.lang;
    let rows = match state.store.sync_log(&query.filter(200)).await {
        Ok(rows) => rows,
        Err(err) => {
            tracing::error!(%err, "dashboard log failed");
            Vec::new()
        }
    };
    let newest = rows.first().map_or(0, |e| e.id).to_string();
    let stream = format!(
        "/log/stream?{}",
        serde_urlencoded_pairs(&[
            ("channel", query.channel.as_deref()),
            ("sku", query.sku.as_deref()),
            ("outcome", query.outcome.as_deref()),
            ("after", Some(&newest)),
        ])
    );
    let selected = |a: Option<&str>, b: &str| a == Some(b);
    let body = html! {
        form #log-filter.filters method="get" action="/log" {
            select name="channel" {
                option value="" { (l.t("Mọi kênh", "Every channel")) }
                @for c in &state.settings.channels { option value=(c.id) selected[selected(query.channel.as_deref(), &c.id)] { (c.id) } }
            }
            input name="sku" value=[query.sku.as_deref()] placeholder="SKU";
            select name="outcome" {
                option value="" { (l.t("Mọi kết quả", "Every outcome")) }
                option value="error" selected[selected(query.outcome.as_deref(), "error")] { (l.t("Mọi lỗi", "Every failure")) }
                @for o in OUTCOMES { option value=(o) selected[selected(query.outcome.as_deref(), o)] { (o) } }
            }
            button #filter type="submit" { (l.t("Lọc", "Filter")) }
            span #live.quiet { (l.t("Trực tiếp", "Live")) }
        }
        div.scroll { table #log data-stream=(stream) {
            thead { tr { th { (l.t("Lúc", "At")) } th { (l.t("Kênh", "Channel")) } th { (l.t("Lệnh", "Call")) }
                th { (l.t("Kết quả", "Outcome")) } th { (l.t("Chi tiết", "Details")) } } }
            tbody { @for e in &rows { (row(&session, e)) } }
        } }
    };
    layout(&session, l.t("Nhật ký đồng bộ", "Sync log"), None, body).into_response()
}

fn serde_urlencoded_pairs(pairs: &[(&str, Option<&str>)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            out.append_pair(key, value);
        }
    }
    out.finish()
}

/// New rows as they are recorded (event `row`: the row's HTML, escaped here).
pub(super) async fn stream(
    State(state): State<ApiState>,
    session: Session,
    Query(query): Query<LogQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let filter = query.filter(200);
    let tail = LogTail::start(state.store.clone(), filter)
        .await
        .map_err(|err| crate::api::error::ApiError::from(err).into_response())?;
    // The page shows the rows up to `after` already: only later ones are sent.
    let newest = query.after.unwrap_or(0);
    let events = crate::api::v1::log::entries(tail, state.stopping.clone())
        .filter(move |e| std::future::ready(e.as_ref().is_none_or(|e| e.id > newest)))
        .map(move |entry| {
            Ok(match entry {
                Some(e) => Event::default()
                    .event("row")
                    .id(e.id.to_string())
                    .data(row(&session, &e).into_string()),
                None => Event::default().comment("following"),
            })
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
