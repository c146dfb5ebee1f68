//! `/healthz`: the process answers. `/readyz`: the store answers and every
//! channel's worker runs.

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
    let workers = state.workers.running();
    let ready = store && workers.values().all(|running| *running);
    let body = json!({
        "ready": ready,
        "store": if store { "ok" } else { "unavailable" },
        "workers": workers
            .iter()
            .map(|(channel, running)| {
                (channel.clone(), json!(if *running { "running" } else { "stopped" }))
            })
            .collect::<serde_json::Map<_, _>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
