//! `/healthz`: the process answers. `/readyz`: the store answers, this
//! replica is not a standby, and the worker of every channel it owns runs.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiState;

/// A store slower than this counts as not answering.
const STORE_DEADLINE: Duration = Duration::from_secs(2);

pub(super) async fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

pub(super) async fn ready(State(state): State<ApiState>) -> Response {
    let store = match tokio::time::timeout(STORE_DEADLINE, state.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(%err, "readiness: the store does not answer");
            false
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer in time");
            false
        }
    };
    let work = state.workers.state();
    let ready = store
        && work.settled
        && !work.standby
        && work
            .channels
            .values()
            .all(|w| *w != super::ChannelWork::Stopped);
    let body = json!({
        "ready": ready,
        "store": if store { "ok" } else { "unavailable" },
        "role": match (work.settled, work.standby) {
            (false, _) => "starting",
            (true, true) => "standby",
            (true, false) => "active",
        },
        "workers": work.channels,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
