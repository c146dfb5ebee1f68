//! The HTTP face of the assumed contract. Every handler counts the call,
//! applies the shop's quota, checks the token, then the body; any input
//! gets an envelope answer, never a panic.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as Axum};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::VosoSandbox;
use super::state::{self, ApiError, MAX_BATCH, MAX_ORDER_WINDOW_DAYS};

type Shared = Axum<Arc<VosoSandbox>>;

pub fn routes(sandbox: Arc<VosoSandbox>) -> Router {
    Router::new()
        .route("/v1/auth/token", post(token))
        .route("/v1/products", get(list_products).post(create_product))
        .route("/v1/products/{id}", put(update_product))
        .route("/v1/skus/{sku}", get(by_sku))
        .route("/v1/stock", post(set_stock))
        .route("/v1/prices", post(set_prices))
        .route("/v1/orders", get(list_orders))
        .route("/v1/orders/{id}", get(order))
        .with_state(sandbox)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        let mut response = (status, axum::Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        response
    }
}

type Answer = Result<Response, ApiError>;

fn ok(value: Value) -> Answer {
    Ok(axum::Json(value).into_response())
}

impl VosoSandbox {
    /// Counts the call and applies the shop's quota.
    fn admit(&self, endpoint: &str) -> Result<(), ApiError> {
        self.kit.count_call(endpoint);
        if self.kit.admit(super::SHOP) {
            Ok(())
        } else {
            Err(ApiError::rate_limited())
        }
    }

    /// Counts, throttles, and checks the bearer token.
    fn gate(&self, endpoint: &str, headers: &HeaderMap) -> Result<(), ApiError> {
        self.admit(endpoint)?;
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let now = self.now();
        match self.state().tokens.get(token) {
            Some(expiry) if *expiry > now => Ok(()),
            Some(_) => Err(ApiError::unauthorized("token expired")),
            None => Err(ApiError::unauthorized("unknown token")),
        }
    }
}

fn unreadable_query(_: QueryRejection) -> ApiError {
    ApiError::validation("query", "unreadable query string")
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::validation("body", "not a JSON document"))
}

async fn token(Axum(sandbox): Shared, body: Bytes) -> Answer {
    sandbox.admit("/v1/auth/token")?;
    let body = json_body(&body)?;
    let text = |field: &str| body.get(field).and_then(Value::as_str).unwrap_or_default();
    if sandbox.state().revoked {
        return Err(ApiError::unauthorized("access revoked for this shop"));
    }
    if text("key") != sandbox.config.key || text("secret") != sandbox.config.secret {
        return Err(ApiError::unauthorized("wrong key or secret"));
    }
    let ttl = sandbox.config.token_ttl;
    let expires_at = sandbox.now() + ttl;
    let entropy = token_entropy(&sandbox);
    let token = sandbox.state().issue_token(expires_at, entropy);
    ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": ttl.num_seconds() }))
}

fn token_entropy(sandbox: &VosoSandbox) -> u64 {
    // Unguessable enough for a sandbox; a real platform would use a CSPRNG.
    let nanos = sandbox.now().timestamp_nanos_opt().unwrap_or_default() as u64;
    nanos ^ sandbox.config.seed.rotate_left(17)
}

fn number(query: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match query.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::validation(name, format!("{name} must be a whole number"))),
    }
}

async fn list_products(
    Axum(sandbox): Shared,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    sandbox.gate("/v1/products", &headers)?;
    let Query(query) = query.map_err(unreadable_query)?;
    let page = number(&query, "page", 1)?;
    let page_size = number(&query, "page_size", 20)?;
    if page < 1 {
        return Err(ApiError::validation("page", "page starts at 1"));
    }
    if !(1..=100).contains(&page_size) {
        return Err(ApiError::validation("page_size", "page_size must be 1-100"));
    }
    let state = sandbox.state();
    let skip = (page - 1).saturating_mul(page_size);
    let items: Vec<_> = state
        .products
        .values()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .collect();
    ok(
        json!({ "items": items, "page": page, "page_size": page_size, "total": state.products.len() }),
    )
}

async fn create_product(Axum(sandbox): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    sandbox.gate("/v1/products", &headers)?;
    let write = state::product_write(&json_body(&body)?)?;
    let product = sandbox.state().create(write)?;
    Ok((StatusCode::CREATED, axum::Json(product)).into_response())
}

async fn update_product(
    Axum(sandbox): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    sandbox.gate("/v1/products/{id}", &headers)?;
    let id = id
        .parse::<u64>()
        .map_err(|_| ApiError::not_found("no such product"))?;
    let write = state::product_write(&json_body(&body)?)?;
    let product = sandbox.state().update(id, write)?;
    ok(json!(product))
}

async fn by_sku(Axum(sandbox): Shared, headers: HeaderMap, Path(sku): Path<String>) -> Answer {
    sandbox.gate("/v1/skus/{sku}", &headers)?;
    let state = sandbox.state();
    let product = state
        .product_of(&sku)
        .ok_or_else(|| ApiError::not_found("no product carries this sku"))?;
    ok(json!(product))
}

async fn set_stock(Axum(sandbox): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    sandbox.gate("/v1/stock", &headers)?;
    batch(&sandbox, "stock", &body)
}

async fn set_prices(Axum(sandbox): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    sandbox.gate("/v1/prices", &headers)?;
    batch(&sandbox, "price", &body)
}

fn batch(sandbox: &VosoSandbox, field: &str, body: &Bytes) -> Answer {
    let body = json_body(body)?;
    let items = body
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("items", "items must be a list"))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::validation("items", "1-50 items per call"));
    }
    let mut state = sandbox.state();
    let results: Vec<Value> = items
        .iter()
        .map(|item| match state.set_item(field, item) {
            Ok(sku) => json!({ "sku": sku, "ok": true }),
            Err((sku, err)) => {
                let mut error = json!({ "code": err.code, "message": err.message });
                if let Some(f) = err.field {
                    error["field"] = json!(f);
                }
                json!({ "sku": sku, "ok": false, "error": error })
            }
        })
        .collect();
    ok(json!({ "results": results }))
}

fn time(query: &HashMap<String, String>, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let text = query
        .get(name)
        .ok_or_else(|| ApiError::validation(name, format!("{name} is required")))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::validation(name, format!("{name} must be RFC 3339")))
}

async fn list_orders(
    Axum(sandbox): Shared,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    sandbox.gate("/v1/orders", &headers)?;
    let Query(query) = query.map_err(unreadable_query)?;
    let from = time(&query, "updated_from")?;
    let to = time(&query, "updated_to")?;
    if to <= from {
        return Err(ApiError::validation(
            "updated_to",
            "updated_to must be after updated_from",
        ));
    }
    if to - from > chrono::Duration::days(MAX_ORDER_WINDOW_DAYS) {
        return Err(ApiError::validation(
            "updated_to",
            "a window spans at most 7 days",
        ));
    }
    let offset = match query.get("cursor") {
        None => 0,
        Some(c) => state::cursor_offset(c, from, to).ok_or_else(|| {
            ApiError::validation("cursor", "cursor does not belong to this window")
        })?,
    };
    let state = sandbox.state();
    let (page, next) = state.orders_between(from, to, offset);
    let items: Vec<Value> = page
        .iter()
        .map(|o| json!({ "id": o.id, "status": o.status, "updated_at": o.updated_at }))
        .collect();
    let next_cursor = next.map(|n| state::cursor(from, to, n));
    ok(json!({ "items": items, "next_cursor": next_cursor }))
}

async fn order(Axum(sandbox): Shared, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    sandbox.gate("/v1/orders/{id}", &headers)?;
    let mut state = sandbox.state();
    let order = state
        .order_mut(&id)
        .ok_or_else(|| ApiError::not_found("no such order"))?;
    ok(json!(order))
}
