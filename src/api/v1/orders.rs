//! The orders chosync has recorded, with each line's stock effects.

use axum::Json;
use axum::extract::{Path, State};
use chosync_connector::dto::OrderState;
use serde::Deserialize;

use super::page_size;
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::store::orders::{OrderFilter, OrderRecord};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    pub channel: Option<String>,
    /// unpaid | paid | ready_to_ship | shipped | completed | cancelled | returned
    pub status: Option<String>,
    /// Orders (1–1000, default 100), newest seen first.
    pub limit: Option<i64>,
}

/// Recorded orders, newest seen first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = Vec<OrderRecord>), (status = 422, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    Params(query): Params<OrderQuery>,
) -> Result<Json<Vec<OrderRecord>>, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|text| {
            OrderState::parse(text).ok_or_else(|| {
                let names: Vec<&str> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(format!(
                    "status {text:?} is not an order state; use one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()?;
    let filter = OrderFilter {
        channel: query.channel,
        state: status,
        limit: page_size(query.limit),
    };
    Ok(Json(state.store.orders(&filter).await?))
}

/// One order with its lines and the stock effects of each.
#[utoipa::path(get, path = "/api/v1/orders/{channel}/{id}", tag = "orders",
    params(("channel" = String, Path), ("id" = String, Path, description = "the platform's order id")),
    responses((status = 200, body = OrderRecord), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<ApiState>,
    Path((channel, id)): Path<(String, String)>,
) -> Result<Json<OrderRecord>, ApiError> {
    state
        .store
        .order(Some(&channel), &id)
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no order {id} on {channel}")))
}
