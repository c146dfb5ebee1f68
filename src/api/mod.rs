//! The daemon's HTTP side: platform pushes at `/webhooks/{channel}`,
//! `/healthz` and `/readyz` for whoever supervises the process, and the
//! operator API at `/api/v1`.

mod dashboard;
pub mod error;
mod health;
pub mod openapi;
pub mod v1;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::channels::prepare::LiveChannel;
use crate::store::Store;

/// What the HTTP side needs of the process serving it.
pub trait Workers: Send + Sync {
    /// Work for `channel` was just recorded (a push's hints).
    fn wake(&self, channel: &str);
    /// This replica's part in the work.
    fn state(&self) -> WorkState;
}

/// A replica's part in the work, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkState {
    /// The replica knows its part (it has met the others once).
    pub settled: bool,
    /// Waits while another daemon works the (SQLite) database.
    pub standby: bool,
    pub channels: BTreeMap<String, ChannelWork>,
}

/// Where a channel's work happens, seen from this replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelWork {
    /// Owned here, its worker running.
    Running,
    /// Owned here, its worker not (yet, or any more) running.
    Stopped,
    /// Owned by another replica, or by none yet.
    Elsewhere,
}

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<crate::settings::Settings>,
    /// Turns true when the daemon stops: long-lived answers (the log's live
    /// tail) end then.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The enabled channels by id: pushes to any other id are answered 404.
    pub channels: Arc<BTreeMap<String, Arc<LiveChannel>>>,
    pub workers: Arc<dyn Workers>,
    /// When each channel last had a refused push logged and alerted: once
    /// a minute at most, so forged requests cannot flood the store or log.
    pub refusals: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}

/// Largest request body read: platform pushes are well under a kilobyte.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: ApiState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/{channel}", post(webhooks::receive))
        .route("/webhooks/{channel}/{key}", post(webhooks::receive_keyed))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .merge(webhooks)
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .with_state(state.clone())
        .nest("/api/v1", v1::router(state.clone()))
        .merge(dashboard::router(state))
}
