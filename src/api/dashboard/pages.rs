//! The read pages: overview, the SKU × channel matrix, explain, orders,
//! stock and alerts.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::forms::urlencode;
use super::{Lang, Session, layout, money, problem};
use crate::api::ApiState;
use crate::channels::status::{ChannelState, ChannelStatus, statuses};
use crate::store::orders::{Alert, OrderFilter};
use crate::store::{ListingState, LogFilter, ProductFilter};

fn failed(session: &Session, err: &dyn std::fmt::Display) -> Response {
    tracing::error!(%err, "dashboard page failed");
    problem(
        session,
        StatusCode::INTERNAL_SERVER_ERROR,
        session.lang.t(
            "Không đọc được dữ liệu; xem nhật ký của chosync.",
            "Could not read the data; see chosync's log.",
        ),
    )
}

/// In sync, working, paused or failing, in words and as a CSS class.
fn state_of(l: Lang, c: &ChannelStatus) -> (&'static str, &'static str) {
    let failing = match (c.health.last_error_at, c.health.last_success) {
        (Some(error), Some(ok)) => error > ok,
        (Some(_), None) => true,
        _ => false,
    };
    match &c.state {
        ChannelState::Paused { .. } => ("paused", l.t("Tạm dừng", "Paused")),
        ChannelState::Standby => ("standby", l.t("Chờ", "Standby")),
        ChannelState::Active if failing => ("failing", l.t("Đang lỗi", "Failing")),
        ChannelState::Active if c.health.queued_tasks > 0 => {
            ("working", l.t("Đang đồng bộ", "Working"))
        }
        ChannelState::Active => ("in-sync", l.t("Đã đồng bộ", "In sync")),
    }
}

fn alert_table(session: &Session, alerts: &[Alert]) -> Markup {
    let l = session.lang;
    html! {
        @if alerts.is_empty() { p.quiet { (l.t("Không có cảnh báo nào đang mở.", "No open alerts.")) } }
        @else {
            table.alerts { tbody { @for a in alerts { tr data-alert=(a.id) {
                td.kind { (a.kind) }
                td { (a.channel) }
                td { (a.subject) }
                td.message { (a.message) }
                td { (session.time(a.last_seen_at)) " ×" (a.count) }
                td { @if a.acknowledged_at.is_none() && session.may_write() {
                    form.inline method="post" action=(format!("/alerts/{}/ack", a.id)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button { (l.t("Đã xem", "Acknowledge")) }
                    }
                } @else if let Some(by) = &a.acknowledged_by { (l.t("đã xem: ", "seen by ")) (by) } }
            } } } }
        }
    }
}

pub(super) async fn overview(State(state): State<ApiState>, session: Session) -> Response {
    let l = session.lang;
    let channels = match statuses(&state.settings, &state.store).await {
        Ok(c) => c,
        Err(err) => return failed(&session, &err),
    };
    let alerts = match state.store.alerts(false).await {
        Ok(a) => a,
        Err(err) => return failed(&session, &err),
    };
    let hour_ago = state.store.now() - chrono::Duration::hours(1);
    let mut failures = HashMap::new();
    for c in &channels {
        let filter = LogFilter {
            channel: Some(c.id.clone()),
            since: Some(hour_ago),
            errors_only: true,
            limit: 10_000,
            ..LogFilter::default()
        };
        match state.store.sync_log(&filter).await {
            Ok(rows) => failures.insert(c.id.clone(), rows.len()),
            Err(err) => return failed(&session, &err),
        };
    }
    let never = l.t("chưa có", "never");
    let body = html! {
        section #alerts {
            h2 { (l.t("Cảnh báo đang mở", "Open alerts")) " (" (alerts.len()) ")" }
            (alert_table(&session, &alerts))
        }
        section {
            h2 { (l.t("Kênh bán", "Channels")) }
            div.scroll { table #channels {
                thead { tr {
                    th { (l.t("Kênh", "Channel")) } th { (l.t("Trạng thái", "State")) }
                    th { (l.t("Đồng bộ thành công gần nhất", "Last successful sync")) }
                    th { (l.t("Việc đang chờ", "Work waiting")) }
                    th { (l.t("Đang giữ lại", "Held back")) }
                    th { (l.t("Lỗi trong 1 giờ", "Failures, last hour")) }
                    th { (l.t("Token hết hạn", "Token expires")) }
                    th { (l.t("Lan truyền đơn → tồn (p50 / p99, 1 giờ)", "Order → stock (p50 / p99, last hour)")) }
                } }
                tbody { @for c in &channels {
                    @let (class, label) = state_of(l, c);
                    tr data-channel=(c.id) class=(class) {
                        td { strong { (c.id) } br; small { (format!("{:?}", c.platform).to_lowercase()) } }
                        td.state { (label)
                            @if let ChannelState::Paused { reason, .. } = &c.state { br; small { (reason) } }
                            @if class == "failing" { @if let Some(e) = &c.health.last_error { br; small.reason { (e) } } } }
                        td { @match c.health.last_success { Some(t) => (session.time(t)), None => (never) } }
                        td.num { (c.health.queued_tasks) }
                        td.num { (c.health.quarantined_skus) }
                        td.num { (failures.get(&c.id).copied().unwrap_or(0)) }
                        td { @match c.access_expires_at { Some(t) => (session.time(t)),
                              None => (if c.authorized { "—" } else { l.t("chưa cấp quyền", "not authorized") }) } }
                        td { @match crate::metrics::recent::percentiles(&c.id) {
                            Some((p50, p99, n)) => (format!("{p50:.1} s / {p99:.1} s ({n})")),
                            None => "—" } }
                    }
                } }
            } }
        }
    };
    layout(&session, l.t("Tổng quan", "Overview"), None, body).into_response()
}

#[derive(Deserialize)]
pub(super) struct MatrixQuery {
    q: Option<String>,
    cursor: Option<String>,
}

/// What a cell shows: the channel's value vs chosync's wanted one.
fn cell(
    session: &Session,
    channel: &str,
    sku: &str,
    wanted: (i64, i64),
    listing: Option<&ListingState>,
) -> Markup {
    let l = session.lang;
    let held = listing.is_some_and(|s| s.quarantined);
    let differs = listing.is_none_or(|s| s.price != Some(wanted.0) || s.stock != Some(wanted.1));
    let class = match (held, differs) {
        (true, _) => "cell held",
        (false, true) => "cell differs",
        (false, false) => "cell ok",
    };
    html! {
        td class=(class) data-sku=(sku) data-channel=(channel) {
            @match listing {
                None => { span.quiet { (l.t("chưa đăng", "not listed")) } }
                Some(s) => {
                    span.shown { (s.price.map_or("?".into(), money)) " · " (s.stock.map_or("?".into(), |n| n.to_string())) }
                }
            }
            @if differs { br; small.wanted { (l.t("muốn: ", "wanted: ")) (money(wanted.0)) " · " (wanted.1) } }
            @if let Some(s) = listing.filter(|_| held) {
                br; span.reason { (s.last_error.as_deref().unwrap_or("")) }
                @if session.may_write() { (push_again(session, channel, sku)) }
            }
        }
    }
}

fn push_again(session: &Session, channel: &str, sku: &str) -> Markup {
    html! {
        form.push-again.inline method="post" action=(format!("/push-again/{}/{}", urlencode(channel), urlencode(sku))) {
            input type="hidden" name="csrf" value=(session.csrf);
            button { (session.lang.t("Đẩy lại", "Push again")) }
        }
    }
}

pub(super) async fn products(
    State(state): State<ApiState>,
    session: Session,
    Query(query): Query<MatrixQuery>,
) -> Response {
    let l = session.lang;
    let filter = ProductFilter {
        text: query.q.clone().filter(|q| !q.trim().is_empty()),
        after: query.cursor.clone(),
        limit: 50,
        ..ProductFilter::default()
    };
    let rows = match state.store.catalogue_page(&filter).await {
        Ok(rows) => rows,
        Err(err) => return failed(&session, &err),
    };
    let mut listings = Vec::new();
    for channel in &state.settings.channels {
        match state.store.listing_states(&channel.id).await {
            Ok(states) => listings.push((channel, states)),
            Err(err) => return failed(&session, &err),
        }
    }
    let products: std::collections::BTreeSet<_> =
        rows.iter().map(|r| &r.product.product_id).collect();
    let next = (products.len() as i64 == filter.limit)
        .then(|| rows.last().map(|r| r.product.product_id.clone()))
        .flatten();
    let body = html! {
        form.filters method="get" action="/products" {
            input name="q" value=[query.q.as_deref()] placeholder=(l.t("Tìm tên, mã SP hoặc SKU", "Search name, product id or SKU"));
            button { (l.t("Tìm", "Search")) }
        }
        p.quiet { (l.t("Mỗi ô: giá · tồn kho kênh đang hiển thị; “muốn” là giá trị chosync cần đẩy.",
                       "Each cell: price · stock the channel shows; “wanted” is what chosync pushes.")) }
        div.scroll { table #matrix {
            thead { tr { th { "SKU" } @for (c, _) in &listings { th { (c.id) } } } }
            tbody { @for r in &rows {
                @let sku = &r.variant.sku;
                @let sellable = r.on_hand - r.reserved;
                tr {
                    th.sku-cell { a.sku href=(format!("/explain/{}", urlencode(sku))) { (sku) } br;
                        small { (r.product.name) @for v in &r.variant.option_values { " · " (v) } } br;
                        small { (money(r.variant.price)) " · " (l.t("còn ", "available ")) (sellable) } }
                    @for (c, states) in &listings {
                        (cell(&session, &c.id, sku, (c.price.apply(sku, r.variant.price), c.stock.apply(sellable)), states.get(sku)))
                    }
                }
            } }
        } }
        @if let Some(next) = next {
            p { a href=(format!("/products?cursor={}&q={}", urlencode(&next), urlencode(query.q.as_deref().unwrap_or("")))) { (l.t("Trang sau →", "Next page →")) } }
        }
    };
    layout(
        &session,
        l.t("Sản phẩm trên các kênh", "Products on every channel"),
        None,
        body,
    )
    .into_response()
}

#[derive(Deserialize)]
pub(super) struct Pushed {
    pushed: Option<String>,
}

pub(super) async fn explain(
    State(state): State<ApiState>,
    session: Session,
    Path(sku): Path<String>,
    Query(pushed): Query<Pushed>,
) -> Response {
    let l = session.lang;
    let e = match crate::channels::explain::explain(&state.settings, state.store.as_ref(), &sku)
        .await
    {
        Ok(e) => e,
        Err(crate::store::StoreError::UnknownSku(_)) => {
            return problem(&session, StatusCode::NOT_FOUND, &format!("SKU {sku}"));
        }
        Err(err) => return failed(&session, &err),
    };
    let flash = pushed.pushed.map(|c| {
        format!(
            "{} {c}",
            l.t("Đã xếp lịch đẩy lại trên", "Pushing again on")
        )
    });
    let body = html! {
        p { (e.name) @for o in &e.options { " · " (o) } " — " (e.product_id) }
        p { (l.t("Giá", "Price")) " " (money(e.price)) " · " (l.t("tồn", "on hand")) " " (e.on_hand)
            " · " (l.t("giữ cho đơn", "reserved")) " " (e.reserved) " · " (e.status) }
        section #channels { h2 { (l.t("Trên từng kênh", "On each channel")) }
            @for c in &e.channels { div.channel data-channel=(c.channel) {
                h3 { (c.channel) }
                @match &c.listing {
                    None => p.quiet { (l.t("Chưa đăng.", "Not listed yet.")) },
                    Some(s) => {
                        p { (l.t("Kênh hiển thị: ", "Shown: ")) (s.price.map_or("?".into(), money)) " · " (s.stock.map_or("?".into(), |n| n.to_string()))
                            " — " (l.t("muốn: ", "wanted: ")) (money(c.wanted_price)) " · " (c.wanted_stock)
                            " — " (s.status) }
                        @if s.quarantined {
                            p.held { strong { (l.t("Đang giữ lại: ", "Held back: ")) } span.reason { (s.last_error.as_deref().unwrap_or("")) } }
                            @if session.may_write() { (push_again(&session, &c.channel, &e.sku)) }
                        }
                    }
                }
                @for w in &c.work { p.work { (l.t("Đang chờ: ", "Waiting: ")) (w.aspect) " v" (w.version) " — " (w.cause)
                    " (" (w.attempts) " " (l.t("lần lỗi", "failed attempts")) ")" } }
                @if !c.recent_calls.is_empty() { details { summary { (l.t("Lệnh gọi gần đây", "Recent calls")) " (" (c.recent_calls.len()) ")" }
                    ul { @for call in &c.recent_calls { li { (session.time(call.created_at)) " " (call.call.action) " " (call.call.outcome)
                        @if let Some(m) = &call.call.message { " — " (m) } } } } } }
            } }
        }
        section #chain { h2 { (l.t("Chuỗi nguyên nhân", "Causal chain")) }
            h3 { (l.t("Sổ kho", "Ledger")) }
            ul { @for m in &e.movements { li { (session.time(m.created_at)) " " (format!("{:+}", m.delta)) " " (m.kind.as_str()) " — " (m.reason) " (" (m.source) ")" } } }
            h3 { (l.t("Đơn hàng", "Orders")) }
            ul { @for o in &e.order_effects { li { (session.time(o.updated_at)) " " (o.effect) " " (o.quantity) " — " (o.channel) " " (o.order_id) } } }
        }
    };
    layout(&session, &format!("SKU {}", e.sku), flash.as_deref(), body).into_response()
}

pub(super) async fn orders(State(state): State<ApiState>, session: Session) -> Response {
    let l = session.lang;
    let orders = match state
        .store
        .orders(&OrderFilter {
            channel: None,
            state: None,
            limit: 200,
        })
        .await
    {
        Ok(o) => o,
        Err(err) => return failed(&session, &err),
    };
    let body = html! { div.scroll { table #orders {
        thead { tr { th { (l.t("Kênh", "Channel")) } th { (l.t("Mã đơn", "Order")) } th { (l.t("Trạng thái", "State")) }
            th { (l.t("Sản phẩm", "Lines")) } th { (l.t("Đặt lúc", "Placed")) } } }
        tbody { @for o in &orders { tr {
            td { (o.channel) } td { (o.order_id) } td { (o.state.as_str()) br; small { (o.platform_status) } }
            td { @for line in &o.lines { (line.sku) " × " (line.quantity - line.cancelled_quantity) br; } }
            td { (session.time(o.placed_at)) }
        } } }
    } } };
    layout(&session, l.t("Đơn hàng", "Orders"), None, body).into_response()
}

#[derive(Deserialize)]
pub(super) struct Adjusted {
    adjusted: Option<String>,
}

pub(super) async fn stock(
    State(state): State<ApiState>,
    session: Session,
    Query(done): Query<Adjusted>,
) -> Response {
    let l = session.lang;
    let rows = match state.store.stock(None).await {
        Ok(rows) => rows,
        Err(err) => return failed(&session, &err),
    };
    let flash = done.adjusted.map(|sku| {
        format!(
            "{} {sku}",
            l.t("Đã điều chỉnh tồn kho của", "Stock adjusted for")
        )
    });
    let body = html! { div.scroll { table #stock {
        thead { tr { th { "SKU" } th { (l.t("Tồn", "On hand")) } th { (l.t("Giữ cho đơn", "Reserved")) } th { (l.t("Còn bán", "Available")) }
            @if session.may_write() { th { (l.t("Điều chỉnh (bắt buộc ghi lý do)", "Adjust (a reason is required)")) } } } }
        tbody { @for r in &rows { tr data-sku=(r.sku) {
            td { a.sku href=(format!("/explain/{}", urlencode(&r.sku))) { (r.sku) } br; small { (r.name) } }
            td.num { (r.on_hand) } td.num { (r.reserved) } td.num { (r.available) }
            @if session.may_write() { td { form.inline.adjust method="post" action=(format!("/stock/{}/adjust", urlencode(&r.sku))) {
                input type="hidden" name="csrf" value=(session.csrf);
                input name="delta" type="number" required placeholder="±" size="4";
                input name="reason" required placeholder=(l.t("lý do", "reason"));
                button { "OK" }
            } } }
        } } }
    } } };
    layout(&session, l.t("Tồn kho", "Stock"), flash.as_deref(), body).into_response()
}

pub(super) async fn alerts(State(state): State<ApiState>, session: Session) -> Response {
    let alerts = match state.store.alerts(true).await {
        Ok(a) => a,
        Err(err) => return failed(&session, &err),
    };
    let body = alert_table(&session, &alerts);
    layout(&session, session.lang.t("Cảnh báo", "Alerts"), None, body).into_response()
}
