//! A fake Shopee Open Platform v2 that checks what Shopee checks: signatures
//! and timestamps (±5 min), partner/shop/token, 4-hour access tokens and
//! single-use refresh tokens, batch and window limits, cursor paging, VN price
//! rules, leaf categories and their attribute trees (mandatory attributes
//! enforced on `add_item`), the response envelope, per-shop throttling
//! (`error_rate_limit`), fault injection, and signed order pushes.
//! Assumptions beyond `shared/marketplaces/shopee.md` are listed in the crate
//! README.

mod api;
mod state;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chosync_connector::clock::{Clock, SystemClock};
use chosync_connector::sandbox::{self, Kit, Platform};
use serde::Serialize;
use serde_json::{Value, json};

use crate::sign;
pub use state::State;

/// How the sandbox behaves; the defaults are Shopee's documented values.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Makes injected faults reproducible.
    pub seed: u64,
    /// Calls per second per shop before `error_rate_limit` (a burst of this
    /// many is tolerated).
    pub rate: NonZeroU32,
    pub partner_id: i64,
    pub partner_key: String,
    pub shop_id: i64,
    pub access_ttl: chrono::Duration,
    /// Minimum time between `add_item` and `init_tier_variation`.
    pub tier_wait: Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            rate: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            partner_id: 2001887,
            partner_key: "sandbox_partner_key_4f1c2a9e7d3b5a6c8e0f1a2b3c4d5e6f".into(),
            shop_id: 14701711,
            access_ttl: chrono::Duration::hours(4),
            tier_wait: crate::TIER_WAIT,
            clock: Arc::new(SystemClock),
        }
    }
}

/// What a client needs to talk to a running sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub partner_id: i64,
    pub partner_key: String,
    pub shop_id: i64,
    /// An authorization code `/api/v2/auth/token/get` will exchange (10 min).
    pub code: String,
}

pub struct ShopeeSandbox {
    config: SandboxConfig,
    kit: Arc<Kit>,
    state: Mutex<State>,
}

/// A sandbox serving on loopback.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub credentials: Credentials,
    pub sandbox: Arc<ShopeeSandbox>,
    pub task: tokio::task::JoinHandle<()>,
}

impl ShopeeSandbox {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self {
            kit: Kit::new(config.seed, config.rate),
            state: Mutex::new(State::default()),
            config,
        })
    }

    /// Starts serving on 127.0.0.1:`port` (0: any free port).
    pub async fn start(config: SandboxConfig, port: u16) -> std::io::Result<Running> {
        let sandbox = Self::new(config);
        let (addr, task) = sandbox::serve(sandbox.clone().router(), port).await?;
        let credentials = sandbox.credentials();
        Ok(Running {
            addr,
            base_url: format!("http://{addr}"),
            credentials,
            sandbox,
            task,
        })
    }

    pub fn router(self: Arc<Self>) -> Router {
        let platform: Arc<dyn Platform> = self.clone();
        sandbox::router(self.kit.clone(), platform, api::routes(self.clone()))
            .merge(api::control(self))
    }

    pub fn kit(&self) -> &Kit {
        &self.kit
    }

    /// The test credentials, with a fresh authorization code.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            partner_id: self.config.partner_id,
            partner_key: self.config.partner_key.clone(),
            shop_id: self.config.shop_id,
            code: self.issue_code(),
        }
    }

    /// A new single-use authorization code, as after a seller's consent.
    pub fn issue_code(&self) -> String {
        let now = self.now();
        self.state().issue_code(now)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Puts an item in a status only Shopee sets (`REVIEWING`, `BANNED`,
    /// `SHOPEE_DELETE`), as its review or moderation would.
    pub fn set_item_status(&self, item_id: i64, status: &str) -> Result<(), String> {
        let mut state = self.state();
        let item = state
            .items
            .get_mut(&item_id)
            .ok_or_else(|| format!("no item {item_id}"))?;
        item.status = status.to_string();
        Ok(())
    }

    /// A promotion reserves `reserved` units of `sku`'s seller stock.
    pub fn reserve_for_promotion(&self, sku: &str, reserved: i64) -> Result<(), String> {
        self.state().reserve_for_promotion(sku, reserved)
    }

    /// What a buyer can buy of `sku` now (benchmarks watch it in process).
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        self.state().buyable(sku)
    }

    /// A buyer orders several lines at once (the same SKU may come twice).
    pub fn place_order_of(&self, lines: &[(&str, i64)]) -> Result<String, String> {
        let now = self.now().timestamp();
        let (sn, status) = self.state().place_order_of(lines, now)?;
        self.push_order(&sn, &status, now);
        Ok(sn)
    }

    /// The seller cancels `quantity` units of line `line` (0-based, in
    /// `item_list` order) of an order not yet shipped; the rest goes on.
    pub fn cancel_units(&self, order_sn: &str, line: usize, quantity: i64) -> Result<(), String> {
        let now = self.now().timestamp();
        self.state().cancel_units(order_sn, line, quantity, now)?;
        self.push_order(order_sn, "READY_TO_SHIP", now);
        Ok(())
    }

    /// Sends an order-status push (code 3), signed as Shopee signs it; kept as
    /// a lost push when no target is registered.
    fn push_order(&self, order_sn: &str, status: &str, update_time: i64) {
        let body = json!({
            "data": {
                "ordersn": order_sn,
                "status": status,
                "completed_scenario": "",
                "update_time": update_time,
            },
            "shop_id": self.config.shop_id,
            "code": 3,
            "timestamp": self.now().timestamp(),
        });
        self.deliver(body);
    }

    /// Shopee's authorization-expiry push (code 12), sent 7 days ahead: a
    /// partner-level push (no `shop_id`) naming the shops whose
    /// authorization ends before `expire_before` (Unix seconds).
    pub fn push_authorization_expiry(&self, expire_before: i64) {
        let body = json!({
            "data": {
                "merchant_expire_soon": [],
                "shop_expire_soon": [self.config.shop_id],
                "expire_before": expire_before,
                "page_no": 1,
                "total_page": 1,
            },
            "code": 12,
            "timestamp": self.now().timestamp(),
        });
        self.deliver(body);
    }

    /// Sends a push signed as Shopee signs it; kept as a lost push when no
    /// target is registered.
    fn deliver(&self, body: Value) {
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        match self.kit.webhook_target() {
            Some(url) => {
                let signature = sign::push(&self.config.partner_key, &url, &raw);
                self.kit.deliver_webhook(
                    raw,
                    vec![
                        ("authorization", signature),
                        ("content-type", "application/json".into()),
                    ],
                );
            }
            None => self.state().lose_push(lost_form(body)),
        }
    }
}

/// A push as `get_lost_push_message` lists it: `data` is a string
/// (`schemas/v2.push.get_lost_push_message.json`), the push's data
/// JSON-encoded.
fn lost_form(mut push: Value) -> Value {
    let data = serde_json::to_string(&push["data"]).unwrap_or_default();
    push["data"] = Value::String(data);
    push
}

impl Platform for ShopeeSandbox {
    fn listings(&self) -> Value {
        self.state().listings_json()
    }

    fn place_order(&self, sku: &str, quantity: i64) -> Result<String, String> {
        let now = self.now().timestamp();
        let (sn, status) = self.state().place_order(sku, quantity, now)?;
        self.push_order(&sn, &status, now);
        Ok(sn)
    }

    fn cancel_order(&self, order_sn: &str, reason: Option<&str>) -> Result<(), String> {
        let now = self.now().timestamp();
        self.state().cancel_order(order_sn, reason, now)?;
        self.push_order(order_sn, "CANCELLED", now);
        Ok(())
    }

    fn ship_order(&self, order_sn: &str) -> Result<(), String> {
        let now = self.now().timestamp();
        self.state().ship_order(order_sn, now)?;
        self.push_order(order_sn, "SHIPPED", now);
        Ok(())
    }

    fn set_seller_stock(&self, sku: &str, stock: i64) -> Result<(), String> {
        let now = self.now().timestamp();
        self.state().set_seller_stock(sku, stock, now)
    }

    fn expire_access_tokens(&self) {
        let now = self.now();
        self.state().expire_access(now);
    }

    fn revoke_authorization(&self) {
        self.state().revoke();
    }
}

/// Shopee's error answer: HTTP 200 with the error inside, except where noted.
pub(crate) struct ShopeeError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn fail(code: &'static str, message: impl Into<String>) -> ShopeeError {
    ShopeeError {
        status: StatusCode::OK,
        code,
        message: message.into(),
    }
}

pub(crate) fn request_id(sandbox: &ShopeeSandbox) -> String {
    format!("{:032x}", sandbox.state().next_request())
}

pub(crate) fn envelope(sandbox: &ShopeeSandbox, result: Result<Value, ShopeeError>) -> Response {
    let request_id = request_id(sandbox);
    match result {
        Ok(response) => axum::Json(json!({
            "request_id": request_id,
            "error": "",
            "message": "",
            "response": response,
        }))
        .into_response(),
        Err(err) => error_response(&request_id, err),
    }
}

/// Auth APIs answer at the top level.
pub(crate) fn top_level(sandbox: &ShopeeSandbox, result: Result<Value, ShopeeError>) -> Response {
    let request_id = request_id(sandbox);
    match result {
        Ok(mut fields) => {
            fields["request_id"] = json!(request_id);
            fields["error"] = json!("");
            fields["message"] = json!("");
            axum::Json(fields).into_response()
        }
        Err(err) => error_response(&request_id, err),
    }
}

fn error_response(request_id: &str, err: ShopeeError) -> Response {
    (
        err.status,
        axum::Json(json!({
            "request_id": request_id,
            "error": err.code,
            "message": err.message,
        })),
    )
        .into_response()
}

/// How a call must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// `partner_id+path+timestamp`, no shop parameters.
    Public,
    /// `+access_token+shop_id`, both in the query too.
    Shop,
    /// A Public API that SDKs call shop-signed (congminh1254/shopee-sdk
    /// sends `media_space/upload_image` and the `push` APIs with `auth:
    /// true`): shop-signed when shop parameters come, public otherwise.
    Either,
}

impl ShopeeSandbox {
    /// Counts, throttles and authenticates a call signed as `signing` says.
    pub(crate) fn admit(
        &self,
        path: &str,
        query: &std::collections::HashMap<String, String>,
        signing: Signing,
    ) -> Result<(), ShopeeError> {
        let shop = match signing {
            Signing::Public => false,
            Signing::Shop => true,
            Signing::Either => query.contains_key("access_token") || query.contains_key("shop_id"),
        };
        self.kit.count_call(path);
        let key = if shop {
            format!("shop:{}", query.get("shop_id").map_or("", String::as_str))
        } else {
            format!(
                "partner:{}",
                query.get("partner_id").map_or("", String::as_str)
            )
        };
        if !self.kit.admit(&key) {
            return Err(fail(
                "error_rate_limit",
                "Too many requests, exceeds the rate limit of this API.",
            ));
        }
        let number = |name: &str| -> Result<i64, ShopeeError> {
            let raw = query
                .get(name)
                .ok_or_else(|| fail("error_param", format!("There is no {name} in query.")))?;
            raw.parse::<i64>()
                .ok()
                .filter(|n| (0..=4_294_967_295).contains(n))
                .ok_or_else(|| fail("error_param", format!("Invalid {name}.")))
        };
        let partner_id = number("partner_id")?;
        let timestamp = number("timestamp")?;
        if partner_id != self.config.partner_id {
            return Err(fail("invalid_partner_id", "Invalid partner_id."));
        }
        if (self.now().timestamp() - timestamp).abs() > 300 {
            return Err(fail("error_param", "Timestamp is expired."));
        }
        let given = query.get("sign").map_or("", String::as_str);
        let key = &self.config.partner_key;
        let expected = if shop {
            let shop_id = number("shop_id")?;
            let token = query
                .get("access_token")
                .ok_or_else(|| fail("error_param", "There is no access_token in query."))?;
            if shop_id != self.config.shop_id {
                return Err(fail("error_auth", "No permission to current shop_id."));
            }
            sign::shop(key, partner_id, path, timestamp, token, shop_id)
        } else {
            sign::public(key, partner_id, path, timestamp)
        };
        if given != expected {
            self.kit.count_rejected_signature();
            return Err(fail("error_sign", "Wrong sign."));
        }
        if shop {
            let token = query.get("access_token").map_or("", String::as_str);
            if !self.state().access_valid(token, self.now()) {
                return Err(fail("invalid_acceess_token", "Invalid access_token."));
            }
        }
        Ok(())
    }
}
