//! Channels: health at a glance, pause and resume, sync now, a held-back
//! SKU pushed again, and the plan of what a sync would do.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{audited, optional_body};
use crate::access::Caller;
use crate::api::ApiState;
use crate::api::error::{ApiError, Params};
use crate::channels::status::{ChannelStatus, statuses};
use crate::store::{Aspect, Pause};
use crate::sync::{Kind, Plan, plan_channels};

/// Every configured channel: state, authorization, work waiting, last success and error.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = Vec<ChannelStatus>)), security(("bearer" = [])))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<ChannelStatus>>, ApiError> {
    Ok(Json(statuses(&state.settings, &state.store).await?))
}

fn known(state: &ApiState, id: &str) -> Result<(), ApiError> {
    if state.settings.channels.iter().any(|c| c.id == id) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no channel \"{id}\"")))
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Why (shown to every operator while the channel is paused).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Stops pushing to and polling a channel until it is resumed; what it
/// shows stays as it is.
#[utoipa::path(post, path = "/api/v1/channels/{id}/pause", tag = "channels",
    params(("id" = String, Path)), request_body(content = PauseRequest, content_type = "application/json"),
    responses((status = 200, body = Pause), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn pause(
    State(state): State<ApiState>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    known(&state, &id)?;
    let request: PauseRequest = optional_body(&body)?;
    let why = request
        .reason
        .map(|r| crate::catalogue::text::clean(&r))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "no reason given".into());
    let reason = format!("paused by {}: {why}", caller.name);
    let pause = state.store.pause_channel(&id, &reason).await?;
    state.workers.wake(&id);
    Ok(audited(Json(pause), format!("paused {id}: {why}")))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resumed {
    /// Whether the channel was paused.
    pub was_paused: bool,
}

/// Ends a channel's pause: its work goes on.
#[utoipa::path(post, path = "/api/v1/channels/{id}/resume", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = Resumed), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    known(&state, &id)?;
    let was_paused = state.store.resume_channel(&id).await?;
    state.workers.wake(&id);
    Ok(audited(
        Json(Resumed { was_paused }),
        format!("resumed {id}"),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Also give held-back (quarantined) SKUs another try.
    #[serde(default)]
    pub retry: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Hastened {
    /// Pieces of work made due now (the channel's worker takes them at once).
    pub tasks: u64,
}

/// Makes the channel's waiting work due now and wakes its worker.
#[utoipa::path(post, path = "/api/v1/channels/{id}/sync", tag = "channels",
    params(("id" = String, Path)), request_body(content = SyncRequest, content_type = "application/json"),
    responses((status = 202, body = Hastened), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync_now(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    known(&state, &id)?;
    let retry = optional_body::<SyncRequest>(&body)?.retry;
    let mut tasks = 0;
    if retry {
        tasks += state.store.retry_channel(&id, None).await?;
    }
    for aspect in [Aspect::Content, Aspect::Price, Aspect::Stock] {
        tasks += state.store.hasten(&id, aspect).await?;
    }
    state.workers.wake(&id);
    Ok(audited(
        (axum::http::StatusCode::ACCEPTED, Json(Hastened { tasks })),
        format!(
            "sync now on {id}{}",
            if retry { " (with retry)" } else { "" }
        ),
    ))
}

/// Pushes a held-back (quarantined) SKU again, after its data was fixed or
/// the platform's problem passed.
#[utoipa::path(post, path = "/api/v1/channels/{id}/skus/{sku}/retry", tag = "channels",
    params(("id" = String, Path), ("sku" = String, Path)),
    responses((status = 202, body = Hastened), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_sku(
    State(state): State<ApiState>,
    Path((id, sku)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    known(&state, &id)?;
    if state.store.stock(Some(&sku)).await?.is_empty() {
        return Err(ApiError::not_found(format!("unknown SKU \"{sku}\"")));
    }
    let tasks = state.store.retry_channel(&id, Some(&sku)).await?;
    state.workers.wake(&id);
    Ok(audited(
        (axum::http::StatusCode::ACCEPTED, Json(Hastened { tasks })),
        format!("push {sku} again on {id}"),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    /// all (default) | catalogue | stock | price
    pub kind: Option<String>,
}

/// What a sync would do now — creates, updates, price and stock changes
/// (old → new) and the calls it takes — without calling the platform.
#[utoipa::path(get, path = "/api/v1/channels/{id}/plan", tag = "channels",
    params(("id" = String, Path), PlanQuery),
    responses((status = 200, body = Plan), (status = 404, body = crate::api::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn plan(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Params(query): Params<PlanQuery>,
) -> Result<Json<Plan>, ApiError> {
    known(&state, &id)?;
    let kind = match query.kind.as_deref().unwrap_or("all") {
        "all" => Kind::All,
        "catalogue" => Kind::Catalogue,
        "stock" => Kind::Stock,
        "price" => Kind::Price,
        other => {
            return Err(ApiError::invalid(format!(
                "kind {other:?}: use all, catalogue, stock or price"
            )));
        }
    };
    let planned = plan_channels(&state.settings, &state.store, Some(&id), kind)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::invalid(format!("channel {id} is disabled: nothing to plan")))?;
    Ok(Json(planned.plan?))
}
