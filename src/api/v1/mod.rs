//! The operator API, `/api/v1`: bearer tokens (viewer reads, operator
//! writes), JSON errors, every write audited. Each handler calls the same
//! domain functions as the CLI.

pub mod alerts;
pub mod catalogue;
pub mod channels;
pub mod log;
pub mod orders;
pub mod products;
pub mod stock;
pub mod views;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::ApiState;
use super::error::ApiError;
use crate::access::{Caller, Role, authenticate};
use crate::store::access::NewAudit;

pub use catalogue::{UPLOAD_LIMIT_BYTES, upload_name};

/// Largest JSON body a request may carry (uploads have their own limit).
pub const JSON_LIMIT_BYTES: usize = 256 * 1024;

/// Page sizes: the default and the most a request may ask for.
pub const PAGE: i64 = 100;
pub const MAX_PAGE: i64 = 1000;

/// One page of a list, and where the next starts (`None`: this is the last).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of at most `limit` items: a full one names where the next starts.
    pub fn new(items: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = (items.len() as i64 == limit)
            .then(|| items.last().map(cursor_of))
            .flatten();
        Self { items, next_cursor }
    }
}

/// A page size as asked, kept within bounds.
pub fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(PAGE).clamp(1, MAX_PAGE)
}

/// A short account of what a write did, for the audit log (handlers put it
/// in the answer's extensions).
#[derive(Debug, Clone)]
pub struct Audit(pub String);

/// Adds the audit line to an answer.
pub fn audited(response: impl IntoResponse, summary: impl Into<String>) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Audit(summary.into()));
    response
}

pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route("/products", get(products::list).post(products::create))
        .route(
            "/products/{id}",
            get(products::get)
                .put(products::update)
                .delete(products::deactivate),
        )
        .route(
            "/catalogue",
            get(catalogue::export)
                .post(catalogue::upload)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES)),
        )
        .route("/stock", get(stock::levels))
        .route("/stock/{sku}", get(stock::one))
        .route("/stock/{sku}/adjust", post(stock::adjust))
        .route("/channels", get(channels::list))
        .route("/channels/{id}/pause", post(channels::pause))
        .route("/channels/{id}/resume", post(channels::resume))
        .route("/channels/{id}/sync", post(channels::sync_now))
        .route("/channels/{id}/skus/{sku}/retry", post(channels::retry_sku))
        .route("/channels/{id}/plan", get(channels::plan))
        .route("/runs", get(views::runs))
        .route("/log", get(log::list))
        .route("/log/tail", get(log::tail))
        .route("/orders", get(orders::list))
        .route("/orders/{channel}/{id}", get(orders::one))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/explain/{sku}", get(views::explain))
        .route("/schedules", get(views::schedules))
        .route("/audit", get(views::audit))
        .fallback(super::error::no_route)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(JSON_LIMIT_BYTES));
    Router::new()
        .route("/openapi.json", get(super::openapi::serve))
        .merge(api)
        .with_state(state)
}

/// Authenticates the caller, lets a viewer only read, and records every
/// write (allowed or not) in the audit log.
async fn guard(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let caller = match bearer(request.headers()) {
        None => None,
        Some(token) => match authenticate(state.store.as_ref(), token).await {
            Ok(caller) => caller,
            Err(err) => return ApiError::from(err).into_response(),
        },
    };
    let Some(caller) = caller else {
        return ApiError::unauthorized().into_response();
    };
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let writes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if writes && caller.role < Role::Operator {
        let response = ApiError::forbidden().into_response();
        record(
            &state,
            &caller,
            &method,
            &path,
            response.status(),
            "refused: viewer token",
        )
        .await;
        return response;
    }
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    if writes {
        let summary = response
            .extensions()
            .get::<Audit>()
            .map_or_else(String::new, |a| a.0.clone());
        record(&state, &caller, &method, &path, response.status(), &summary).await;
    }
    response
}

/// Records a write in the audit log (the API's and the dashboard's).
pub(crate) async fn record(
    state: &ApiState,
    caller: &Caller,
    method: &Method,
    path: &str,
    status: axum::http::StatusCode,
    summary: &str,
) {
    let entry = NewAudit {
        token_id: Some(caller.token_id),
        actor: caller.name.clone(),
        method: method.to_string(),
        path: path.to_string(),
        status: i64::from(status.as_u16()),
        summary: summary.to_string(),
    };
    if let Err(err) = state.store.record_audit(&entry).await {
        tracing::error!(%err, path, "could not record a write in the audit log");
    }
}

/// Wakes every channel's worker: a write here (stock, catalogue) made work
/// for them, and on SQLite nothing else tells them at once.
pub fn wake_all(state: &ApiState) {
    for channel in state.channels.keys() {
        state.workers.wake(channel);
    }
}

/// An optional JSON body: none (or an empty one) is `T::default()`.
pub fn optional_body<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|err| ApiError::invalid(format!("the body is not the JSON expected: {err}")))
}

/// The token of `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
