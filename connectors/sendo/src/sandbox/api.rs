//! Sendo's endpoints as the sandbox answers them: the envelope on every
//! answer, the bearer check on every `/api/partner/*` call, the shop's quota.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate};
use serde_json::{Value, json};

use super::SendoSandbox;
use super::state::{Cursor, OrderFilter, PageToken, Refusal};
use crate::orders::day_of;

type Shared = Axum<Arc<SendoSandbox>>;

const LOGIN: &str = "/login";
const PRODUCT: &str = "/api/partner/product";
const MASK: &str = "/api/partner/product/update-by-field-mask";
const PRODUCT_SEARCH: &str = "/api/partner/product/search";
const ORDER_SEARCH: &str = "/api/partner/salesorder/search";
const ORDER: &str = "/api/partner/salesorder/{order_number}";
/// The order search's longest status-change range, both days counted (G:
/// `sendo.md` says "at most a 3-day range").
const MAX_WINDOW_DAYS: i64 = 3;

pub fn routes(sandbox: Arc<SendoSandbox>) -> Router {
    Router::new()
        .route(LOGIN, post(login))
        .route(PRODUCT, post(upsert_product).get(get_product))
        .route(MASK, post(update_by_field_mask))
        .route(PRODUCT_SEARCH, post(search_products))
        .route(ORDER_SEARCH, post(search_orders))
        .route(ORDER, get(get_order))
        .with_state(sandbox)
}

fn ok(result: Value) -> Response {
    axum::Json(json!({
        "result": result,
        "success": true,
        "error": null,
        "status_code": 200,
    }))
    .into_response()
}

fn refused(refusal: Refusal) -> Response {
    let mut error = json!({
        "message": refusal.message,
        "details": refusal.details.first().map(|(_, m)| m.clone()),
        "error_details": refusal.details.iter().map(|(property, message)| json!({
            "property_name": property,
            "message": message,
            "value": null,
            "code": property,
        })).collect::<Vec<_>>(),
    });
    if let Some(exp) = refusal.exp {
        error["exp"] = json!(exp);
    }
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        axum::Json(json!({
            "result": null,
            "success": false,
            "error": error,
            "status_code": refusal.status,
        })),
    )
        .into_response()
}

fn answer(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(value) => ok(value),
        Err(refusal) => refused(refusal),
    }
}

fn json_body(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|_| Refusal::new(400, "the body is not JSON"))
}

impl SendoSandbox {
    /// Counts the call, applies the shop's quota, checks the bearer token.
    fn guard(&self, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        self.kit.count_call(path);
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| Refusal::new(401, "Authorization: bearer <token> is required"))?;
        let now = self.now();
        let expiry = self
            .state()
            .tokens
            .get(token)
            .copied()
            .ok_or_else(|| Refusal::new(401, "invalid token"))?;
        if expiry <= now {
            let mut refusal = Refusal::new(401, "token is expired");
            refusal.exp = Some(expiry.timestamp());
            return Err(refusal);
        }
        if !self.kit.admit(&self.config.shop_key) {
            return Err(Refusal::new(429, "too many requests"));
        }
        Ok(())
    }
}

async fn login(Axum(s): Shared, body: Bytes) -> Response {
    s.kit.count_call(LOGIN);
    // One IP: the sandbox serves loopback only.
    if !s.kit.admit_at(
        "127.0.0.1",
        "login:127.0.0.1",
        s.config.login_rate,
        std::time::Duration::ZERO,
    ) {
        return refused(Refusal::new(429, "at most 5 logins a second"));
    }
    answer(json_body(&body).and_then(|body| {
        let (key, secret) = (body["shop_key"].as_str(), body["secret_key"].as_str());
        if key != Some(s.config.shop_key.as_str()) || secret != Some(s.config.secret_key.as_str()) {
            return Err(Refusal::new(401, "shop_key or secret_key is wrong"));
        }
        let mut state = s.state();
        if state.disabled {
            return Err(Refusal::new(401, "the API is turned off for this shop"));
        }
        let now = s.now();
        let expires = now + s.config.token_life;
        let claims = json!({"StoreId": s.config.store_id, "exp": expires.timestamp()});
        let token = format!(
            "{}.{}.{:016x}{:016x}",
            hex::encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            hex::encode(claims.to_string()),
            fastrand::u64(..),
            fastrand::u64(..),
        );
        state.tokens.insert(token.clone(), expires);
        state.logins += 1;
        Ok(json!({ "token": token, "expires": expires.to_rfc3339() }))
    }))
}

async fn upsert_product(Axum(s): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = s.guard(PRODUCT, &headers) {
        return refused(refusal);
    }
    let product = match json_body(&body) {
        Ok(product) => product,
        Err(refusal) => return refused(refusal),
    };
    let creating = product["id"].as_i64().is_none_or(|id| id == 0);
    let now = s.now();
    let result = s.state().upsert(product, now);
    if creating && result.is_ok() {
        let mut state = s.state();
        if state.lose_creates > 0 {
            state.lose_creates -= 1;
            return (
                StatusCode::OK,
                "<html><body>504 Gateway Time-out</body></html>",
            )
                .into_response();
        }
    }
    answer(result.map(|id| json!(id)))
}

async fn get_product(
    Axum(s): Shared,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(refusal) = s.guard(PRODUCT, &headers) {
        return refused(refusal);
    }
    let state = s.state();
    // The id wins when both are given.
    let found = match (query.get("id"), query.get("sku")) {
        (Some(id), _) => match id.parse::<i64>() {
            Ok(id) => state.products.get(&id),
            Err(_) => return refused(Refusal::field("id", "id must be a number")),
        },
        (None, Some(sku)) => state.product_by_sku(sku),
        (None, None) => return refused(Refusal::field("id", "id or sku is required")),
    };
    match found {
        Some(product) => ok(product.clone()),
        None => refused(Refusal::new(404, "product not found")),
    }
}

async fn update_by_field_mask(Axum(s): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = s.guard(MASK, &headers) {
        return refused(refusal);
    }
    let elements = match json_body(&body) {
        Ok(Value::Array(elements)) => elements,
        Ok(_) => return refused(Refusal::new(400, "the body must be an array of products")),
        Err(refusal) => return refused(refusal),
    };
    let now = s.now();
    let mut state = s.state();
    let results: Vec<Value> = elements
        .iter()
        .map(|element| match state.mask(element, now) {
            Ok(id) => json!({"id": id, "success": true}),
            Err(refusal) => json!({
                "id": element["id"],
                "success": false,
                "message": refusal.message,
                "property_name": refusal.details.first().map(|(p, _)| p.clone()),
            }),
        })
        .collect();
    ok(Value::Array(results))
}

fn page_size(body: &Value) -> usize {
    body["page_size"]
        .as_u64()
        .map_or(50, |n| n.clamp(1, 100) as usize)
}

/// The cursor a search continues: its token's (whose filters win) or a new one.
fn cursor(
    s: &SendoSandbox,
    body: &Value,
    fresh: impl FnOnce() -> Result<Cursor, Refusal>,
) -> Result<PageToken, Refusal> {
    match body["token"].as_str().filter(|t| !t.is_empty()) {
        Some(token) => {
            let held = s.state().page_tokens.get(token).cloned();
            match held {
                Some(held) if held.expires > s.now() => Ok(held),
                _ => Err(Refusal::field(
                    "token",
                    "the token has expired; search again",
                )),
            }
        }
        None => Ok(PageToken {
            cursor: fresh()?,
            page_size: page_size(body),
            expires: s.now(),
        }),
    }
}

fn next_token(s: &SendoSandbox, mut token: PageToken, more: bool) -> Value {
    if !more {
        return Value::Null;
    }
    let mut state = s.state();
    token.expires = s.now() + s.config.page_token_life;
    if state.stale_tokens > 0 {
        state.stale_tokens -= 1;
        token.expires = s.now() - Duration::seconds(1);
    }
    json!(state.page_token(token))
}

async fn search_products(Axum(s): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = s.guard(PRODUCT_SEARCH, &headers) {
        return refused(refusal);
    }
    let result = json_body(&body).and_then(|body| {
        let token = cursor(&s, &body, || {
            Ok(Cursor::Products {
                offset: 0,
                name: body["product_name"].as_str().map(String::from),
            })
        })?;
        let Cursor::Products { offset, name } = &token.cursor else {
            return Err(Refusal::field("token", "not a product search token"));
        };
        let matching: Vec<Value> = s
            .state()
            .products
            .values()
            .filter(|p| {
                name.as_ref().is_none_or(|n| {
                    p["name"]
                        .as_str()
                        .is_some_and(|name| name.to_lowercase().contains(&n.to_lowercase()))
                })
            })
            .cloned()
            .collect();
        let end = (offset + token.page_size).min(matching.len());
        let data: Vec<Value> = matching.get(*offset..end).unwrap_or_default().to_vec();
        let more = end < matching.len();
        let mut next = token.clone();
        next.cursor = Cursor::Products {
            offset: end,
            name: name.clone(),
        };
        Ok(json!({ "data": data, "next_token": next_token(&s, next, more) }))
    });
    answer(result)
}

fn day(body: &Value, field: &str) -> Result<Option<NaiveDate>, Refusal> {
    match &body[field] {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) => NaiveDate::parse_from_str(text, "%Y/%m/%d")
            .map(Some)
            .map_err(|_| Refusal::field(field, format!("{field} must be yyyy/MM/dd"))),
        _ => Err(Refusal::field(field, format!("{field} must be yyyy/MM/dd"))),
    }
}

fn order_filter(s: &SendoSandbox, body: &Value) -> Result<OrderFilter, Refusal> {
    let status = body["order_status"].as_i64();
    let by_status = (
        day(body, "order_status_date_from")?,
        day(body, "order_status_date_to")?,
    );
    let by_order = (day(body, "order_date_from")?, day(body, "order_date_to")?);
    match (by_status, by_order) {
        ((Some(from), Some(to)), _) => {
            if to < from {
                return Err(Refusal::field(
                    "order_status_date_to",
                    "the range ends before it starts",
                ));
            }
            if (to - from).num_days() + 1 > MAX_WINDOW_DAYS {
                return Err(Refusal::field(
                    "order_status_date_to",
                    "a status-date range may span at most 3 days",
                ));
            }
            Ok(OrderFilter {
                by_status_date: true,
                from,
                to,
                status,
            })
        }
        ((Some(_), None) | (None, Some(_)), _) => Err(Refusal::field(
            "order_status_date_from",
            "both ends of the status-date range are required",
        )),
        (_, (Some(from), Some(to))) => Ok(OrderFilter {
            by_status_date: false,
            from,
            to,
            status,
        }),
        (_, (Some(_), None) | (None, Some(_))) => Err(Refusal::field(
            "order_date_from",
            "both ends of the order-date range are required",
        )),
        _ => {
            // No dates: the last 7 days by order date.
            let today = day_of(s.now());
            Ok(OrderFilter {
                by_status_date: false,
                from: today - Duration::days(6),
                to: today,
                status,
            })
        }
    }
}

async fn search_orders(Axum(s): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = s.guard(ORDER_SEARCH, &headers) {
        return refused(refusal);
    }
    let result = json_body(&body).and_then(|body| {
        let token = cursor(&s, &body, || {
            Ok(Cursor::Orders {
                filter: order_filter(&s, &body)?,
                offset: 0,
            })
        })?;
        let Cursor::Orders { filter, offset } = &token.cursor else {
            return Err(Refusal::field("token", "not an order search token"));
        };
        let mut matching: Vec<_> = s
            .state()
            .orders
            .values()
            .filter(|o| {
                let at = if filter.by_status_date {
                    o.status_changed
                } else {
                    o.created
                };
                let day = day_of(at);
                filter.from <= day
                    && day <= filter.to
                    && filter.status.is_none_or(|st| st == o.status)
            })
            .cloned()
            .collect();
        matching.sort_by(|a, b| (a.status_changed, &a.number).cmp(&(b.status_changed, &b.number)));
        let end = (offset + token.page_size).min(matching.len());
        let data: Vec<Value> = matching
            .get(*offset..end)
            .unwrap_or_default()
            .iter()
            .map(|o| o.detail())
            .collect();
        let more = end < matching.len();
        let mut next = token.clone();
        next.cursor = Cursor::Orders {
            filter: filter.clone(),
            offset: end,
        };
        Ok(json!({ "data": data, "next_token": next_token(&s, next, more) }))
    });
    answer(result)
}

async fn get_order(
    Axum(s): Shared,
    headers: HeaderMap,
    number: Result<Path<String>, PathRejection>,
) -> Response {
    if let Err(refusal) = s.guard("/api/partner/salesorder", &headers) {
        return refused(refusal);
    }
    let Ok(Path(number)) = number else {
        return refused(Refusal::new(404, "order not found"));
    };
    let order = s.state().orders.get(&number).map(|o| o.detail());
    match order {
        Some(detail) => ok(detail),
        None => refused(Refusal::new(404, format!("order {number} not found"))),
    }
}
