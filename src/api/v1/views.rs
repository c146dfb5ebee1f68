//! Read-only views: explain a SKU, the schedules, sync runs, the audit log.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::{Page, page_size};
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::channels::explain::{Explained, explain as explain_sku};
use crate::schedule::overview::{ScheduleView, overview};
use crate::store::RunRow;
use crate::store::access::AuditEntry;

/// One SKU on every channel — the causal chain: catalogue values, ledger
/// movements, order effects, what each channel should and does show, the
/// work waiting and why, and its last calls.
#[utoipa::path(get, path = "/api/v1/explain/{sku}", tag = "catalogue",
    params(("sku" = String, Path)),
    responses((status = 200, body = Explained), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn explain(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<Explained>, ApiError> {
    Ok(Json(
        explain_sku(&state.settings, state.store.as_ref(), &sku).await?,
    ))
}

/// Every channel's schedules: the expression, the next fire time (in
/// `[schedule] timezone`) and the last tick.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "channels",
    responses((status = 200, body = Vec<ScheduleView>)), security(("bearer" = [])))]
pub async fn schedules(State(state): State<ApiState>) -> Result<Json<Vec<ScheduleView>>, ApiError> {
    let settings = &state.settings;
    Ok(Json(
        overview(
            &settings.channels,
            settings.schedule.timezone,
            state.store.as_ref(),
            state.store.now(),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    pub channel: Option<String>,
    /// From the previous page's `next_cursor` (newest first).
    pub cursor: Option<i64>,
    /// Runs per page (1–1000, default 100).
    pub limit: Option<i64>,
}

/// Sync runs (passes, order imports, reconciles), newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "log", params(RunQuery),
    responses((status = 200, body = Page<RunRow>)), security(("bearer" = [])))]
pub async fn runs(
    State(state): State<ApiState>,
    Params(query): Params<RunQuery>,
) -> Result<Json<Page<RunRow>>, ApiError> {
    let limit = page_size(query.limit);
    let items = state
        .store
        .sync_runs(query.channel.as_deref(), query.cursor, limit)
        .await?;
    Ok(Json(Page::new(items, limit, |r| r.id.to_string())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// From the previous page's `next_cursor` (newest first).
    pub cursor: Option<i64>,
    pub limit: Option<i64>,
}

/// Every write made through the API or the dashboard: who, what, when.
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>)), security(("bearer" = [])))]
pub async fn audit(
    State(state): State<ApiState>,
    Params(query): Params<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let limit = page_size(query.limit);
    let items = state.store.audit_log(query.cursor, limit).await?;
    Ok(Json(Page::new(items, limit, |r| r.id.to_string())))
}
