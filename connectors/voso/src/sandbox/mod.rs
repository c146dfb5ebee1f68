//! A fake Voso built from the README's assumed contract (never from the
//! client): key + secret logins with expiring tokens, 10 calls/s per shop
//! (429 with `Retry-After`), product validation naming the field, SKUs
//! unique per shop, batches of at most 50 with per-item results, orders by
//! update time with window-bound cursors, signed pushes, and the shared
//! control API of the sandbox kit.

mod api;
mod state;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chosync_connector::clock::{Clock, SystemClock};
use chosync_connector::sandbox::{self, Kit, Platform};
use serde_json::{Value, json};

use crate::sign;
pub use state::{ApiError, State};

#[derive(Clone)]
pub struct SandboxConfig {
    pub seed: u64,
    /// Calls per second per shop (the contract: 10).
    pub rate: NonZeroU32,
    pub key: String,
    pub secret: String,
    /// How long a token lives (the contract's `expires_in`).
    pub token_ttl: chrono::Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            rate: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            key: "voso_sandbox_key".into(),
            secret: "voso_sandbox_secret_5f2a9c0e7b3d4a1f".into(),
            token_ttl: chrono::Duration::hours(2),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The one shop the sandbox serves (quotas are counted under its name).
pub const SHOP: &str = "voso-shop";

pub struct VosoSandbox {
    config: SandboxConfig,
    kit: Arc<Kit>,
    state: Mutex<State>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub sandbox: Arc<VosoSandbox>,
    pub task: tokio::task::JoinHandle<()>,
}

impl VosoSandbox {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self {
            kit: Kit::new(config.seed, config.rate),
            config,
            state: Mutex::new(State::default()),
        })
    }

    pub async fn start(config: SandboxConfig, port: u16) -> std::io::Result<Running> {
        let sandbox = Self::new(config);
        let (addr, task) = sandbox::serve(sandbox.clone().router(), port).await?;
        Ok(Running {
            addr,
            base_url: format!("http://{addr}"),
            sandbox,
            task,
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        let platform: Arc<dyn Platform> = self.clone();
        sandbox::router(self.kit.clone(), platform, api::routes(self))
    }

    pub fn kit(&self) -> &Kit {
        &self.kit
    }

    /// What a buyer can buy of `sku` now; `None` when no product carries it.
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        self.state().buyable(sku)
    }

    pub fn key(&self) -> &str {
        &self.config.key
    }

    pub fn secret(&self) -> &str {
        &self.config.secret
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }

    /// Pushes `order.updated` for `order_id`, signed as the contract says.
    fn push_order(&self, order_id: &str) {
        let now = self.now();
        let body = json!({ "event": "order.updated", "order_id": order_id, "sent_at": now })
            .to_string()
            .into_bytes();
        let timestamp = now.timestamp();
        let signature = sign::signature(self.config.secret.as_bytes(), timestamp, &body);
        self.kit.deliver_webhook(
            body,
            vec![
                (sign::TIMESTAMP_HEADER, timestamp.to_string()),
                (sign::SIGNATURE_HEADER, signature),
                ("content-type", "application/json".into()),
            ],
        );
    }
}

impl Platform for VosoSandbox {
    fn listings(&self) -> Value {
        let state = self.state();
        json!(state.products.values().collect::<Vec<_>>())
    }

    fn place_order(&self, sku: &str, quantity: i64) -> Result<String, String> {
        let now = self.now();
        let id = self.state().place_order(sku, quantity, now)?;
        self.push_order(&id);
        Ok(id)
    }

    fn cancel_order(&self, order_id: &str, _reason: Option<&str>) -> Result<(), String> {
        let now = self.now();
        self.state().cancel_order(order_id, now)?;
        self.push_order(order_id);
        Ok(())
    }

    fn ship_order(&self, order_id: &str) -> Result<(), String> {
        let now = self.now();
        self.state().ship_order(order_id, now)?;
        self.push_order(order_id);
        Ok(())
    }

    fn set_seller_stock(&self, sku: &str, stock: i64) -> Result<(), String> {
        self.state()
            .set_item("stock", &json!({ "sku": sku, "stock": stock }))
            .map(|_| ())
            .map_err(|(_, e)| e.message)
    }

    fn expire_access_tokens(&self) {
        let now = self.now();
        for expiry in self.state().tokens.values_mut() {
            *expiry = now;
        }
    }

    fn revoke_authorization(&self) {
        let mut state = self.state();
        state.tokens.clear();
        state.revoked = true;
    }
}
