//! Shops on sandboxes for stories that need several channels at once: each
//! a sandbox on loopback, its channel registered and authorized, and what
//! its listings show.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chosync::channels::client::ChannelClient;
use chosync::store::ChannelRegistration;
use chosync::sync::{CallLog, Channel};
use chosync_connector::clock::SystemClock;
use chosync_lazada::{Lazada, LazadaConfig};
use chosync_shopee::{Shopee, ShopeeConfig};
use serde_json::{Value, json};

use super::TestDb;
use super::control::Control;
use super::rig::{self, Rig};

pub enum Sandbox {
    Shopee(chosync_shopee::sandbox::Running),
    Lazada(chosync_lazada::sandbox::Running),
}

pub struct Shop {
    pub sandbox: Sandbox,
    pub rig: Rig,
    pub control: Control,
}

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// A Shopee shop as channel `id`; `stock` is its stock rule's TOML.
pub async fn shopee(db: &TestDb, id: &str, stock: &str) -> Shop {
    shopee_on(db, id, stock, shopee_sandbox(), None).await
}

/// The Shopee sandbox the stories use: quick, with room for bursts.
pub fn shopee_sandbox() -> chosync_shopee::sandbox::SandboxConfig {
    chosync_shopee::sandbox::SandboxConfig {
        rate: rate(200),
        tier_wait: Duration::from_millis(50),
        ..Default::default()
    }
}

/// A Shopee shop on a sandbox configured so; `callback_url` is where its
/// pushes are registered (Shopee signs them with it).
pub async fn shopee_on(
    db: &TestDb,
    id: &str,
    stock: &str,
    config: chosync_shopee::sandbox::SandboxConfig,
    callback_url: Option<String>,
) -> Shop {
    use chosync_shopee::sandbox::ShopeeSandbox;
    let running = ShopeeSandbox::start(config, 0).await.expect("sandbox");
    rig::register(db, id).await;
    let settings = rig::settings(&format!(
        "id = \"{id}\"\nplatform = \"shopee\"\nbase_url = \"{}\"\npartner_id = 2001887\n\
         shop_id = 14701711\nstock = {{ {} }}\n",
        running.base_url,
        if stock.is_empty() {
            "buffer = 1"
        } else {
            stock
        }
    ));
    let events = Arc::new(CallLog::default());
    let shopee = Shopee::new(
        ShopeeConfig {
            channel: id.into(),
            base_url: running.base_url.clone(),
            partner_id: running.credentials.partner_id,
            partner_key: running.credentials.partner_key.clone().into(),
            shop_id: running.credentials.shop_id,
            callback_url,
            limits: chosync_connector::Limits::shared("shop", rate(200)),
            http: rig::quick_http(),
            tier_wait: Duration::from_millis(50),
        },
        rig::credentials(db),
        events.clone(),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let code = running.credentials.code.clone();
    let client = ChannelClient::Shopee(shopee);
    let rig = Rig::authorized(settings, "shopee-demo.toml", client, events, &code).await;
    Shop {
        control: Control::new(running.addr),
        sandbox: Sandbox::Shopee(running),
        rig,
    }
}

/// A Lazada shop as channel `id`; `stock` is its stock rule's TOML.
pub async fn lazada(db: &TestDb, id: &str, stock: &str) -> Shop {
    lazada_on(db, id, stock, lazada_sandbox()).await
}

/// The Lazada sandbox the stories use: quick, no QC wait.
pub fn lazada_sandbox() -> chosync_lazada::sandbox::SandboxConfig {
    chosync_lazada::sandbox::SandboxConfig {
        inventory_rate: rate(500),
        other_rate: rate(200),
        qc_delay: Duration::ZERO,
        ..Default::default()
    }
}

/// A Lazada shop on a sandbox configured so.
pub async fn lazada_on(
    db: &TestDb,
    id: &str,
    stock: &str,
    config: chosync_lazada::sandbox::SandboxConfig,
) -> Shop {
    use chosync_lazada::sandbox::LazadaSandbox;
    let running = LazadaSandbox::start(config, 0).await.expect("sandbox");
    rig::register(db, id).await;
    let settings = rig::settings(&format!(
        "id = \"{id}\"\nplatform = \"lazada\"\nbase_url = \"{}\"\nauth_url = \"{}\"\n\
         app_key = \"{}\"\nstock = {{ {} }}\n",
        running.base_url,
        running.auth_url,
        running.credentials.app_key,
        if stock.is_empty() {
            "buffer = 2"
        } else {
            stock
        }
    ));
    let events = Arc::new(CallLog::default());
    let lazada = Lazada::new(
        LazadaConfig {
            channel: id.into(),
            base_url: running.base_url.clone(),
            auth_url: running.auth_url.clone(),
            app_key: running.credentials.app_key.clone(),
            app_secret: running.credentials.app_secret.clone().into(),
            limits: LazadaConfig::default_limits()
                .with_rate("inventory", rate(450))
                .with_rate("other", rate(180)),
            http: rig::quick_http(),
        },
        rig::credentials(db),
        events.clone(),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let code = running.credentials.code.clone();
    let client = ChannelClient::Lazada(lazada);
    let rig = Rig::authorized(settings, "lazada-demo.toml", client, events, &code).await;
    Shop {
        control: Control::new(running.addr),
        sandbox: Sandbox::Lazada(running),
        rig,
    }
}

/// Enables these shops' channels together (registering a channel alone
/// disables the others, as a config without them would).
pub async fn enable(db: &TestDb, shops: &[&Shop]) {
    let channels: Vec<ChannelRegistration> = shops
        .iter()
        .map(|shop| ChannelRegistration {
            id: shop.id().to_string(),
            enabled: true,
            config_hash: "h1".into(),
        })
        .collect();
    db.store
        .register_channels(&channels)
        .await
        .expect("register");
}

impl Shop {
    pub fn channel(&self) -> Channel<'_> {
        self.rig.channel()
    }

    pub fn id(&self) -> &str {
        &self.rig.settings.id
    }

    /// Price and stock (Lazada: sellable) of every SKU the sandbox lists.
    pub async fn shown(&self) -> HashMap<String, (i64, i64)> {
        let listings = self.control.inspect("/_sandbox/listings").await;
        let listings = listings.as_array().cloned().unwrap_or_default();
        let mut shown = HashMap::new();
        let number = |v: &Value| v.as_f64().map_or(-1, |p| p.round() as i64);
        match self.sandbox {
            Sandbox::Shopee(_) => {
                for item in listings.iter().filter(|i| i["status"] == "NORMAL") {
                    let models = item["models"].as_array().filter(|m| !m.is_empty());
                    let entries = match models {
                        Some(models) => models.iter().map(|m| (&m["sku"], m)).collect(),
                        None => vec![(&item["item_sku"], item)],
                    };
                    for (sku, v) in entries {
                        shown.insert(
                            sku.as_str().unwrap_or_default().to_string(),
                            (number(&v["price"]), number(&v["stock"])),
                        );
                    }
                }
            }
            Sandbox::Lazada(_) => {
                for product in &listings {
                    for sku in product["skus"].as_array().into_iter().flatten() {
                        shown.insert(
                            sku["SellerSku"].as_str().unwrap_or_default().to_string(),
                            (number(&sku["price"]), number(&sku["Available"])),
                        );
                    }
                }
            }
        }
        shown
    }

    /// Stock `sku` shows on the platform.
    pub async fn stock_of(&self, sku: &str) -> Option<i64> {
        self.shown().await.get(sku).map(|(_, stock)| *stock)
    }

    /// A buyer orders; the sandbox's order id, or why it refused.
    pub async fn place(&self, sku: &str, quantity: i64) -> Result<String, String> {
        let answer = self
            .control
            .control(
                "/_sandbox/orders",
                json!({ "sku": sku, "quantity": quantity }),
            )
            .await;
        answer["order_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| answer.to_string())
    }

    pub async fn cancel(&self, order: &str) {
        let answer = self
            .control
            .control(&format!("/_sandbox/orders/{order}/cancel"), json!({}))
            .await;
        assert!(answer.get("error").is_none(), "cancel {order}: {answer}");
    }

    pub async fn ship(&self, order: &str) {
        let answer = self
            .control
            .control(&format!("/_sandbox/orders/{order}/ship"), json!({}))
            .await;
        assert!(answer.get("error").is_none(), "ship {order}: {answer}");
    }

    pub fn kit(&self) -> &chosync_connector::sandbox::Kit {
        match &self.sandbox {
            Sandbox::Shopee(r) => r.sandbox.kit(),
            Sandbox::Lazada(r) => r.sandbox.kit(),
        }
    }
}
