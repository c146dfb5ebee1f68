//! Stock levels, and an operator's correction with a reason.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::audited;
use crate::access::Caller;
use crate::api::ApiState;
use crate::api::error::{ApiError, Body};
use crate::inventory::{AdjustError, SkuStock, adjust as adjust_stock, sku_stock};
use crate::store::StockRow;

/// Every SKU's stock: on hand, reserved by orders, available.
#[utoipa::path(get, path = "/api/v1/stock", tag = "stock",
    responses((status = 200, body = Vec<StockRow>)), security(("bearer" = [])))]
pub async fn levels(State(state): State<ApiState>) -> Result<Json<Vec<StockRow>>, ApiError> {
    Ok(Json(state.store.stock(None).await?))
}

/// One SKU's stock with its latest movements.
#[utoipa::path(get, path = "/api/v1/stock/{sku}", tag = "stock",
    params(("sku" = String, Path)),
    responses((status = 200, body = SkuStock), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<SkuStock>, ApiError> {
    Ok(Json(sku_stock(state.store.as_ref(), &sku).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    /// Units added (positive) or taken away (negative).
    pub delta: i64,
    /// Why (kept in the ledger): "kiểm kho", "hàng hỏng", …
    pub reason: String,
}

/// Corrects one SKU's stock by `delta` units, with a reason; every channel
/// listing it is pushed the new level.
#[utoipa::path(post, path = "/api/v1/stock/{sku}/adjust", tag = "stock",
    params(("sku" = String, Path)), request_body = Adjustment,
    responses((status = 200, body = StockRow), (status = 404, body = crate::api::error::ErrorBody),
        (status = 422, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn adjust(
    State(state): State<ApiState>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(sku): Path<String>,
    Body(adjustment): Body<Adjustment>,
) -> Result<Response, ApiError> {
    let source = format!("api:{}", caller.name);
    let row = adjust_stock(
        state.store.as_ref(),
        &sku,
        adjustment.delta,
        &adjustment.reason,
        &source,
    )
    .await
    .map_err(|err| match err {
        AdjustError::Store(err) => ApiError::from(err),
        other => ApiError::invalid(other.to_string()).with_details(serde_json::json!([{
            "field": if matches!(other, AdjustError::NoReason) { "reason" } else { "delta" },
            "reason": other.to_string(),
        }])),
    })?;
    super::wake_all(&state);
    let summary = format!(
        "adjusted {sku} by {:+}: {}",
        adjustment.delta,
        adjustment.reason.trim()
    );
    Ok(audited(Json(row), summary))
}
