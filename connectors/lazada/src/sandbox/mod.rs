//! A fake Lazada Open Platform that checks what Lazada checks and answers in
//! the shapes of Lazada's documented samples: upper-case signatures over
//! sorted parameters (with or without empty ones, as the official SDKs
//! differ), millisecond timestamps within ±7200 s, app key and access token
//! (with expiry), `payload` in JSON or XML, a category's mandatory
//! attributes, declared variations and sale props, new SKUs joining a
//! product through `AssociatedSku`, at most 50 SKUs per stock or price call
//! (E204), order offsets up to 5,000, per seller throttling (`ApiCallLimit`,
//! a 1 s ban), QC (new products `Pending QC`, then `Active`),
//! withheld/occupied/real stock, and signed trade-order, reverse-order and
//! token-expiration pushes. The documents each shape comes from, and the
//! sandbox's own choices where they are silent, are in the crate README.

mod api;
mod payload;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use chosync_connector::clock::{Clock, SystemClock};
use chosync_connector::sandbox::{self, Kit, Platform};
use serde::Serialize;
use serde_json::{Value, json};

use crate::sign;
pub use state::State;

#[derive(Clone)]
pub struct SandboxConfig {
    pub seed: u64,
    /// Inventory and price calls per second per seller (documented: 50).
    pub inventory_rate: NonZeroU32,
    /// Other calls per second per seller (the sandbox's choice: 10).
    pub other_rate: NonZeroU32,
    pub app_key: String,
    pub app_secret: String,
    pub seller_id: String,
    /// Test apps: access 7 days, refresh 30 days.
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: chrono::Duration,
    /// How long new products stay in QC (`pending`) before going `active`.
    pub qc_delay: Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let rate = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            seed: 7,
            inventory_rate: rate(50),
            other_rate: rate(10),
            app_key: "120001".into(),
            app_secret: "sandbox_app_secret_9d1e7c3a5b2f4e6d8c0a1b3c5d7e9f01".into(),
            seller_id: "200987654".into(),
            access_ttl: chrono::Duration::days(7),
            refresh_ttl: chrono::Duration::days(30),
            qc_delay: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub app_key: String,
    pub app_secret: String,
    /// An authorization code `/auth/token/create` will exchange (30 minutes).
    pub code: String,
}

pub struct LazadaSandbox {
    config: SandboxConfig,
    kit: Arc<Kit>,
    state: Mutex<State>,
}

pub struct Running {
    pub addr: SocketAddr,
    /// The API host and, for this sandbox, the auth host too.
    pub base_url: String,
    pub auth_url: String,
    pub credentials: Credentials,
    pub sandbox: Arc<LazadaSandbox>,
    pub task: tokio::task::JoinHandle<()>,
}

impl LazadaSandbox {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self {
            kit: Kit::new(config.seed, config.other_rate),
            state: Mutex::new(State::default()),
            config,
        })
    }

    pub async fn start(config: SandboxConfig, port: u16) -> std::io::Result<Running> {
        let sandbox = Self::new(config);
        let (addr, task) = sandbox::serve(sandbox.clone().router(), port).await?;
        let base_url = format!("http://{addr}/rest");
        Ok(Running {
            addr,
            auth_url: base_url.clone(),
            base_url,
            credentials: sandbox.credentials(),
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

    pub fn credentials(&self) -> Credentials {
        Credentials {
            app_key: self.config.app_key.clone(),
            app_secret: self.config.app_secret.clone(),
            code: self.issue_code(),
        }
    }

    pub fn issue_code(&self) -> String {
        let now = self.now();
        self.state().issue_code(&self.config.app_key, now)
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One trade-order push (message type 0) per order item whose status
    /// changed (guide `webhook-api-trade-order-notifications.md`).
    fn push_items(&self, order_id: &str, items: &[(String, String)]) {
        for (line, status) in items {
            self.push(
                0,
                json!(self.config.seller_id),
                json!({
                    "order_status": status,
                    "trade_order_id": order_id,
                    "trade_order_line_id": line,
                    "status_update_time": self.now().timestamp(),
                }),
            );
        }
    }

    /// A push signed as Lazada signs them: `Authorization` = lower-case hex
    /// HMAC-SHA256(app_secret, app_key + body) (guide `lazada-push-mechanism.md`).
    fn push(&self, message_type: i64, seller_id: Value, data: Value) {
        let body = json!({
            "seller_id": seller_id,
            "message_type": message_type,
            "data": data,
            "timestamp": self.now().timestamp_millis(),
            "site": "lazada_vn",
        });
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        let signature = sign::push(&self.config.app_secret, &self.config.app_key, &raw);
        self.kit.deliver_webhook(
            raw,
            vec![
                ("authorization", signature),
                ("content-type", "application/json".into()),
            ],
        );
    }

    /// What a buyer can buy of `sku` now (sellable: real − withheld −
    /// occupied; benchmarks watch it in process).
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        self.state()
            .products
            .values()
            .flat_map(|p| p.skus.iter())
            .find(|s| s.seller_sku == sku)
            .map(|s| s.sellable())
    }

    /// The buyer pays an unpaid order: its items become `pending`.
    pub fn pay_order(&self, order_id: &str) -> Result<(), String> {
        let lines = self.state().pay_order(order_id, self.now())?;
        self.push_items(order_id, &lines);
        Ok(())
    }

    /// The carrier delivers a shipped order.
    pub fn deliver_order(&self, order_id: &str) -> Result<(), String> {
        let lines = self.state().deliver_order(order_id, self.now())?;
        self.push_items(order_id, &lines);
        Ok(())
    }

    /// The buyer returns a shipped or delivered order: per item a reverse
    /// order (`RTM_INIT`, message type 10, guide `webhook-api-reverse-order.md`,
    /// ids as numbers as in its sample) and the trade-order push of the
    /// return (message type 0 with the reverse ids, guide
    /// `webhook-api-trade-order-notifications.md`). Returns the reverse ids.
    pub fn return_order(&self, order_id: &str) -> Result<Vec<String>, String> {
        let returned = self.state().return_order(order_id, self.now())?;
        let number = |id: &str| id.parse::<i64>().map_or(json!(id), |n| json!(n));
        for (line, reverse) in &returned {
            let when = self.now().timestamp();
            self.push(
                10,
                json!(self.config.seller_id),
                json!({
                    "reverse_order_id": number(reverse),
                    "reverse_status": "RTM_INIT",
                    "trade_order_id": number(order_id),
                    "extraParams": {},
                    "trade_order_line_id": number(line),
                    "seller_id": number(&self.config.seller_id),
                    "reverse_order_line_id": number(reverse),
                    "status_update_time": when,
                }),
            );
            self.push(
                0,
                json!(self.config.seller_id),
                json!({
                    "order_status": "returned",
                    "reverse_order_id": reverse,
                    "reverse_order_line_id": reverse,
                    "status_update_time": when,
                    "trade_order_id": order_id,
                    "trade_order_line_id": line,
                }),
            );
        }
        Ok(returned.into_iter().map(|(_, reverse)| reverse).collect())
    }

    /// Lazada's daily token-expiration alert (message type 8): sent when the
    /// seller's newest access token expires within 48 hours; the sample
    /// writes the top-level `seller_id` as "null" and the expiry in seconds
    /// (guide `webhook-api-authorization-token-expiration-alert.md`).
    /// Returns whether an alert went out.
    pub fn alert_expiring_token(&self) -> bool {
        let now = self.now();
        let Some(expiry) = self
            .state()
            .expiring_access(now, chrono::Duration::hours(48))
        else {
            return false;
        };
        self.push(
            8,
            json!("null"),
            json!({
                "app_key": self.config.app_key,
                "auth_expiry_time": expiry.timestamp(),
                "seller_id": self.config.seller_id,
            }),
        );
        true
    }
}

impl Platform for LazadaSandbox {
    fn listings(&self) -> Value {
        let now = std::time::Instant::now();
        self.state().listings_json(now, self.config.qc_delay)
    }

    fn place_order(&self, sku: &str, quantity: i64) -> Result<String, String> {
        let now = self.now();
        let (order_id, lines) =
            self.state()
                .place_order(sku, quantity, now, self.config.qc_delay)?;
        self.push_items(&order_id, &lines);
        Ok(order_id)
    }

    fn cancel_order(&self, order_id: &str, reason: Option<&str>) -> Result<(), String> {
        let now = self.now();
        let lines = self.state().cancel_order(order_id, reason, now)?;
        self.push_items(order_id, &lines);
        Ok(())
    }

    fn ship_order(&self, order_id: &str) -> Result<(), String> {
        let now = self.now();
        let lines = self.state().ship_order(order_id, now)?;
        self.push_items(order_id, &lines);
        Ok(())
    }
    fn set_seller_stock(&self, sku: &str, stock: i64) -> Result<(), String> {
        let now = self.now();
        self.state().set_sellable(sku, stock, now)
    }

    fn expire_access_tokens(&self) {
        let now = self.now();
        self.state().expire_access(now);
    }

    fn revoke_authorization(&self) {
        self.state().revoke();
    }
}

/// Lazada's error answer (HTTP 200, `code` other than "0").
pub(crate) struct LazadaError {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<Value>,
}

pub(crate) fn fail(code: &'static str, message: impl Into<String>) -> LazadaError {
    LazadaError {
        code,
        message: message.into(),
        detail: None,
    }
}

impl LazadaSandbox {
    fn request_id(&self) -> String {
        format!("{:026x}", self.state().next_request())
    }

    pub(crate) fn answer(&self, result: Result<Value, LazadaError>) -> Response {
        let request_id = self.request_id();
        match result {
            Ok(data) => axum::Json(json!({ "code": "0", "request_id": request_id, "data": data }))
                .into_response(),
            Err(err) => error_body(&request_id, err),
        }
    }

    /// Token APIs answer at the top level.
    pub(crate) fn answer_top(&self, result: Result<Value, LazadaError>) -> Response {
        let request_id = self.request_id();
        match result {
            Ok(mut fields) => {
                fields["code"] = json!("0");
                fields["request_id"] = json!(request_id);
                axum::Json(fields).into_response()
            }
            Err(err) => error_body(&request_id, err),
        }
    }

    /// Whether `sign` matches, computed as either official SDK does: over
    /// every parameter, empty ones included (Python `lazop-sdk`, and the
    /// words of `signature-algorithm.md`: "sort all request parameters"), or
    /// skipping empty values (the Java sample of the same guide). Both SDKs
    /// work against Lazada, so both are accepted.
    fn signed_correctly(&self, path: &str, params: &HashMap<String, String>) -> bool {
        let Some(given) = params.get("sign") else {
            return false;
        };
        let every: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let non_empty: Vec<(&str, &str)> = every
            .iter()
            .copied()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let secret = &self.config.app_secret;
        *given == sign::request(secret, path, &every)
            || *given == sign::request(secret, path, &non_empty)
    }

    /// Counts, throttles and authenticates a call over all its parameters.
    pub(crate) fn admit(
        &self,
        path: &str,
        params: &HashMap<String, String>,
        seller_api: bool,
    ) -> Result<(), LazadaError> {
        self.kit.count_call(path);
        let inventory = matches!(
            path,
            "/product/stock/sellable/update" | "/product/price_quantity/update"
        );
        let (quota, rate) = if inventory {
            ("inventory", self.config.inventory_rate)
        } else {
            ("other", self.config.other_rate)
        };
        let seller = &self.config.seller_id;
        if !self.kit.admit_at(
            seller,
            &format!("{seller}:{quota}"),
            rate,
            Duration::from_secs(1),
        ) {
            return Err(fail(
                "ApiCallLimit",
                "Api access frequency exceeds the limit. this ban will last 1 seconds",
            ));
        }
        if params.get("app_key") != Some(&self.config.app_key) {
            return Err(fail("APP_KEY_INVALID", "The specified app key is invalid."));
        }
        if params.get("sign_method").map(String::as_str) != Some("sha256") {
            return Err(fail("MissingParameter", "sign_method must be sha256."));
        }
        let timestamp: i64 = params
            .get("timestamp")
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| {
                fail(
                    "MissingParameter",
                    "The input parameter timestamp is missing.",
                )
            })?;
        let skew = self
            .now()
            .timestamp_millis()
            .checked_sub(timestamp)
            .map(i64::unsigned_abs);
        if skew.is_none_or(|skew| skew > 7_200_000) {
            return Err(fail(
                "InvalidTimestamp",
                "The timestamp is too far from the server's time.",
            ));
        }
        if !self.signed_correctly(path, params) {
            self.kit.count_rejected_signature();
            return Err(fail(
                "IncompleteSignature",
                "The request signature does not conform to lazada standards.",
            ));
        }
        if seller_api {
            let token = params.get("access_token").map_or("", String::as_str);
            if !self.state().access_valid(token, self.now()) {
                return Err(fail(
                    "IllegalAccessToken",
                    "The specified access token is invalid or expired.",
                ));
            }
        }
        Ok(())
    }
}

fn error_body(request_id: &str, err: LazadaError) -> Response {
    let mut body = json!({
        "code": err.code,
        "type": "ISV",
        "message": err.message,
        "request_id": request_id,
    });
    if let Some(detail) = err.detail {
        body["detail"] = detail;
    }
    axum::Json(body).into_response()
}
