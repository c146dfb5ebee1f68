//! A fake Sendo that checks what `shared/marketplaces/sendo.md` says Sendo
//! checks: logins with the shop's key pair (at most 5 a second per IP) for
//! 8-hour bearer tokens, the response envelope with `error_details`, the
//! product rules (unique SKUs, whole VND, `stock_availability` false at no
//! stock, descriptions of 100–100,000 characters with at most 20 images,
//! frozen statuses), field-mask semantics, the order search's day windows and
//! page tokens, numeric order and payment statuses, `SALESORDER.*` pushes,
//! and 2 calls a second per shop. Where `sendo.md` guesses, so does this
//! sandbox; the crate README lists those places.

mod api;
mod state;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chosync_connector::clock::{Clock, SystemClock};
use chosync_connector::sandbox::{self, Kit, Platform};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub use state::{Refusal, SalesOrder, State};

#[derive(Clone)]
pub struct SandboxConfig {
    pub seed: u64,
    /// Calls per second per shop (Sendo publishes none; `sendo.md` G: 2).
    pub rate: NonZeroU32,
    /// Logins per second per IP (documented: 5).
    pub login_rate: NonZeroU32,
    pub shop_key: String,
    pub secret_key: String,
    pub store_id: i64,
    /// Documented: 8 hours.
    pub token_life: chrono::Duration,
    /// How long an order-search or product-search page token lasts (G).
    pub page_token_life: chrono::Duration,
    pub clock: Arc<dyn Clock>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let rate = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            seed: 7,
            rate: rate(2),
            login_rate: rate(5),
            shop_key: "a1b2c3d4e5f60718293a4b5c6d7e8f90".into(),
            secret_key: "sandbox_secret_5e0c9b8a7f6e5d4c3b2a1908f7e6d5c4".into(),
            store_id: 612345,
            token_life: chrono::Duration::hours(8),
            page_token_life: chrono::Duration::minutes(15),
            clock: Arc::new(SystemClock),
        }
    }
}

pub struct SendoSandbox {
    config: SandboxConfig,
    kit: Arc<Kit>,
    state: Mutex<State>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub sandbox: Arc<SendoSandbox>,
    pub task: tokio::task::JoinHandle<()>,
}

impl SendoSandbox {
    pub fn new(config: SandboxConfig) -> Arc<Self> {
        Arc::new(Self {
            kit: Kit::new(config.seed, config.rate),
            state: Mutex::new(State::default()),
            config,
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

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The product as Sendo holds it, by SKU (its own or a variant's).
    pub fn product(&self, sku: &str) -> Option<Value> {
        self.state().product_by_sku(sku).cloned()
    }

    /// What a buyer can buy of `sku` now (0 when not on sale); `None` when
    /// no product carries it.
    pub fn buyable(&self, sku: &str) -> Option<i64> {
        let state = self.state();
        let product = state.product_by_sku(sku)?;
        if product["status"].as_i64() != Some(state::SELLING)
            || product["stock_availability"].as_bool() != Some(true)
        {
            return Some(0);
        }
        let variant = product["variants"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["variant_sku"] == sku));
        Some(match variant {
            Some(v) => v["variant_quantity"].as_i64().unwrap_or(0),
            None => product["stock_quantity"].as_i64().unwrap_or(0),
        })
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        self.state().logins
    }

    /// The next `n` create answers are lost after the product is written.
    pub fn lose_create_answers(&self, n: u32) {
        self.state().lose_creates = n;
    }

    /// Every order-search and product-search page token runs out now.
    pub fn expire_page_tokens(&self) {
        let now = self.now();
        for token in self.state().page_tokens.values_mut() {
            token.expires = now - chrono::Duration::seconds(1);
        }
    }

    /// The next `n` page tokens are issued already expired (a slow client's).
    pub fn issue_stale_page_tokens(&self, n: u32) {
        self.state().stale_tokens = n;
    }

    /// Puts a product in `status` (the seller or Sendo's moderation does).
    pub fn set_product_status(&self, sku: &str, status: i64) -> Result<(), String> {
        let mut state = self.state();
        let id = state
            .product_by_sku(sku)
            .and_then(|p| p["id"].as_i64())
            .ok_or_else(|| format!("no product carries {sku}"))?;
        if let Some(product) = state.products.get_mut(&id) {
            product["status"] = json!(status);
        }
        Ok(())
    }

    /// A buyer orders at `at` (tests place orders in the past).
    pub fn place_order_at(
        &self,
        sku: &str,
        quantity: i64,
        at: DateTime<Utc>,
    ) -> Result<String, String> {
        if quantity <= 0 {
            return Err("quantity must be positive".into());
        }
        let order = {
            let mut state = self.state();
            let id = state
                .product_by_sku(sku)
                .and_then(|p| p["id"].as_i64())
                .ok_or_else(|| format!("no product carries {sku}"))?;
            let product = state
                .products
                .get_mut(&id)
                .ok_or_else(|| format!("no product carries {sku}"))?;
            if product["status"].as_i64() != Some(state::SELLING)
                || product["stock_availability"].as_bool() != Some(true)
            {
                return Err(format!("{sku} is not on sale"));
            }
            let price = take_stock(product, sku, quantity)?;
            let number = state.new_order_number(at);
            let order = SalesOrder {
                number: number.clone(),
                status: 2,
                payment_status: 1,
                payment_method: 1,
                created: at,
                status_changed: at,
                lines: vec![(sku.to_string(), id, quantity, price)],
            };
            state.orders.insert(number, order.clone());
            order
        };
        self.push("SALESORDER.CREATE", order.detail());
        Ok(order.number)
    }

    /// `{type, store_id, shop_key, data}` to the registered URL, unsigned.
    fn push(&self, kind: &str, data: Value) {
        let body = json!({
            "type": kind,
            "store_id": self.config.store_id,
            "shop_key": self.config.shop_key,
            "data": data,
        });
        let raw = serde_json::to_vec(&body).unwrap_or_default();
        self.kit
            .deliver_webhook(raw, vec![("content-type", "application/json".into())]);
    }
}

/// Takes `quantity` of `sku` from `product`'s stock (a simple product's or
/// a variant's): the price it sells at. At no stock left, the product goes
/// off sale as Sendo's rule wants.
fn take_stock(product: &mut Value, sku: &str, quantity: i64) -> Result<i64, String> {
    let change = |have: i64| {
        if have < quantity {
            Err(format!("only {have} of {sku} in stock"))
        } else {
            Ok(have - quantity)
        }
    };
    set_stock(product, sku, change)
}

fn set_stock(
    product: &mut Value,
    sku: &str,
    change: impl Fn(i64) -> Result<i64, String>,
) -> Result<i64, String> {
    let price;
    if product["is_config_variant"].as_bool() == Some(true) {
        let variant = product["variants"]
            .as_array_mut()
            .and_then(|vs| vs.iter_mut().find(|v| v["variant_sku"] == sku))
            .ok_or_else(|| format!("no variant {sku}"))?;
        let left = change(variant["variant_quantity"].as_i64().unwrap_or(0))?;
        variant["variant_quantity"] = json!(left);
        price = variant["variant_price"].as_i64().unwrap_or(0);
        let total: i64 = product["variants"]
            .as_array()
            .map(|vs| {
                vs.iter().fold(0i64, |sum, v| {
                    sum.saturating_add(v["variant_quantity"].as_i64().unwrap_or(0).max(0))
                })
            })
            .unwrap_or(0);
        product["stock_quantity"] = json!(total);
    } else {
        let left = change(product["stock_quantity"].as_i64().unwrap_or(0))?;
        product["stock_quantity"] = json!(left);
        price = product["price"].as_i64().unwrap_or(0);
    }
    if product["stock_quantity"].as_i64().unwrap_or(0) <= 0 {
        product["stock_availability"] = json!(false);
    }
    Ok(price)
}

impl Platform for SendoSandbox {
    fn listings(&self) -> Value {
        Value::Array(self.state().products.values().cloned().collect())
    }

    fn place_order(&self, sku: &str, quantity: i64) -> Result<String, String> {
        self.place_order_at(sku, quantity, self.now())
    }

    /// Cancelled by the buyer; the units go back to stock (G).
    fn cancel_order(&self, order_id: &str, reason: Option<&str>) -> Result<(), String> {
        let now = self.now();
        let order = {
            let mut state = self.state();
            let order = state
                .orders
                .get_mut(order_id)
                .ok_or_else(|| format!("no order {order_id}"))?;
            if !matches!(order.status, 2 | 3) {
                return Err(format!("order {order_id} is in status {}", order.status));
            }
            order.status = 13;
            order.status_changed = now;
            let order = order.clone();
            for (sku, id, quantity, _) in &order.lines {
                if let Some(product) = state.products.get_mut(id) {
                    let _ = set_stock(product, sku, |have| Ok(have.saturating_add(*quantity)));
                }
            }
            order
        };
        self.push(
            "SALESORDER.UPDATE",
            json!({
                "order_number": order.number,
                "order_action": "CANCEL",
                "data": {
                    "order_number": order.number,
                    "cancel_by": "buyer",
                    "order_status": 13,
                    "reason_cancel_code": "1",
                    "cancel_reason": reason.unwrap_or("Đổi ý"),
                    "cancel_date_timestamp": now.timestamp() + 7 * 3600,
                },
            }),
        );
        Ok(())
    }

    /// Handed to the carrier (status 6); Sendo documents no push for it.
    fn ship_order(&self, order_id: &str) -> Result<(), String> {
        let now = self.now();
        let mut state = self.state();
        let order = state
            .orders
            .get_mut(order_id)
            .ok_or_else(|| format!("no order {order_id}"))?;
        if !matches!(order.status, 2 | 3) {
            return Err(format!("order {order_id} is in status {}", order.status));
        }
        order.status = 6;
        order.status_changed = now;
        Ok(())
    }

    fn set_seller_stock(&self, sku: &str, stock: i64) -> Result<(), String> {
        let mut state = self.state();
        let id = state
            .product_by_sku(sku)
            .and_then(|p| p["id"].as_i64())
            .ok_or_else(|| format!("no product carries {sku}"))?;
        let product = state
            .products
            .get_mut(&id)
            .ok_or_else(|| format!("no product carries {sku}"))?;
        set_stock(product, sku, |_| Ok(stock))?;
        if stock > 0 {
            product["stock_availability"] = json!(true);
        }
        Ok(())
    }

    fn expire_access_tokens(&self) {
        let past = self.now() - chrono::Duration::seconds(1);
        for expiry in self.state().tokens.values_mut() {
            *expiry = past;
        }
    }

    /// The seller turns the API off: every token is refused, and so is
    /// every login until it is turned on again.
    fn revoke_authorization(&self) {
        let mut state = self.state();
        state.tokens.clear();
        state.disabled = true;
    }
}
