//! Alerts: what an operator must see (oversold, unknown SKUs, drift, …),
//! and their acknowledgement.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::audited;
use crate::access::Caller;
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::store::orders::Alert;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Acknowledged alerts too.
    #[serde(default)]
    pub all: bool,
}

/// Open alerts (or all), newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertQuery),
    responses((status = 200, body = Vec<Alert>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    Params(query): Params<AlertQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    Ok(Json(state.store.alerts(query.all).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    /// False when it was acknowledged before.
    pub now: bool,
}

/// Marks an alert as seen; it opens again only if it comes back after chosync resolved it.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts",
    params(("id" = i64, Path)),
    responses((status = 200, body = Acknowledged), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn acknowledge(
    State(state): State<ApiState>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    match state.store.acknowledge_alert(id, &caller.name).await? {
        None => Err(ApiError::not_found(format!("no alert {id}"))),
        Some(now) => Ok(audited(
            Json(Acknowledged { now }),
            format!("acknowledged alert {id}"),
        )),
    }
}
