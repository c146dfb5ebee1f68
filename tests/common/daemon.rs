//! A daemon story's set-up: Shopee and Lazada sandboxes on loopback (and
//! Sendo and Voso with `with_all_platforms`), a configuration naming them (as
//! an operator writes it), every channel authorized and the demo catalogue
//! listed on each, and `chosync run` — in this process (`start`) or as a
//! child process (`spawn`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chosync::channels::client::ChannelClient;
use chosync::channels::prepare;
use chosync::settings::Settings;
use chosync::store::Store;
use chosync::sync::{CallLog, Options, sync_channel};
use chosync_connector::clock::SystemClock;
use chosync_shopee::{Shopee, ShopeeConfig};
use serde_json::Value;

use super::TestDb;
use super::control::Control;

pub const SHOPEE: &str = "shopee-demo";
pub const LAZADA: &str = "lazada-demo";
pub const SENDO: &str = "sendo-demo";
pub const VOSO: &str = "voso-demo";

/// The stories' schedules: the order poll hourly (it runs once at start),
/// the other kinds not before 2099, so that only what a story does
/// happens. Stories of the schedules set their own.
pub const QUIET: &str = r#"{ orders = "0 0 * * * *", catalogue = "0 0 0 1 1 * 2099", stock = "0 0 0 1 1 * 2099", price = "0 0 0 1 1 * 2099", reconcile = "0 0 0 1 1 * 2099", tokens = "0 0 0 1 1 * 2099", prune = "0 0 0 1 1 * 2099" }"#;

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub settings: Settings,
    /// The daemon's store: the test database on the wall clock.
    pub store: Arc<dyn Store>,
    pub url: String,
    pub shopee: chosync_shopee::sandbox::Running,
    pub lazada: chosync_lazada::sandbox::Running,
    pub sendo: Option<chosync_sendo::sandbox::Running>,
    pub voso: Option<chosync_voso::sandbox::Running>,
    /// Where the daemon listens.
    pub addr: std::net::SocketAddr,
    listener: Option<tokio::net::TcpListener>,
}

/// A daemon running in this process, stopped by `stop`.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), chosync::daemon::DaemonError>>,
}

impl Running {
    /// Stops the daemon as SIGTERM does, and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), &mut self.task)
            .await
            .expect("the daemon stops in time")
            .expect("daemon task")
            .expect("daemon");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Rig {
    /// Sandboxes, configuration, authorized channels, the demo catalogue
    /// imported and listed on both channels; the daemon not started.
    pub async fn new(db: &TestDb, shutdown_seconds: u32) -> Self {
        Self::build(db, shutdown_seconds, false).await
    }

    /// As `new`, with Sendo and Voso channels besides.
    pub async fn with_all_platforms(db: &TestDb, shutdown_seconds: u32) -> Self {
        Self::build(db, shutdown_seconds, true).await
    }

    async fn build(db: &TestDb, shutdown_seconds: u32, all: bool) -> Self {
        let rate = |n| std::num::NonZeroU32::new(n).expect("rate");
        let shopee = chosync_shopee::sandbox::ShopeeSandbox::start(
            chosync_shopee::sandbox::SandboxConfig {
                rate: rate(200),
                tier_wait: Duration::from_millis(50),
                ..Default::default()
            },
            0,
        )
        .await
        .expect("Shopee sandbox");
        let lazada = chosync_lazada::sandbox::LazadaSandbox::start(
            chosync_lazada::sandbox::SandboxConfig {
                inventory_rate: rate(500),
                other_rate: rate(200),
                qc_delay: Duration::ZERO,
                ..Default::default()
            },
            0,
        )
        .await
        .expect("Lazada sandbox");
        let (sendo, voso) = if all {
            let sendo = chosync_sendo::sandbox::SendoSandbox::start(
                chosync_sendo::sandbox::SandboxConfig {
                    rate: rate(100),
                    ..Default::default()
                },
                0,
            )
            .await
            .expect("Sendo sandbox");
            let voso = chosync_voso::sandbox::VosoSandbox::start(
                chosync_voso::sandbox::SandboxConfig {
                    rate: rate(100),
                    ..Default::default()
                },
                0,
            )
            .await
            .expect("Voso sandbox");
            (Some(sendo), Some(voso))
        } else {
            (None, None)
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dir = tempfile::tempdir().expect("temp dir");
        let secret = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("secret file");
            path
        };
        let shopee_key = secret("shopee.key", &shopee.credentials.partner_key);
        let lazada_secret = secret("lazada.secret", &lazada.credentials.app_secret);
        let mappings = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mappings");
        let config = dir.path().join("chosync.toml");
        let mut text = format!(
            r#"[database]
url = "{url}"

[secrets]
key_file = "{key}"

[server]
listen = "{addr}"
debounce_ms = 50
shutdown_seconds = {shutdown_seconds}

[sync]
lease_seconds = 30

[[channels]]
id = "{SHOPEE}"
platform = "shopee"
base_url = "{shopee_url}"
partner_id = {partner_id}
partner_key = {{ file = "{shopee_key}" }}
shop_id = {shop_id}
callback_url = "http://{addr}/webhooks/{SHOPEE}"
mapping = "{mappings}/shopee-demo.toml"
price = {{ markup_percent = 5, round_to = 1000, rounding = "up" }}
stock = {{ buffer = 1 }}
rate = {{ shop = 150 }}
schedule = {QUIET}

[[channels]]
id = "{LAZADA}"
platform = "lazada"
base_url = "{lazada_url}"
auth_url = "{auth_url}"
app_key = "{app_key}"
app_secret = {{ file = "{lazada_secret}" }}
mapping = "{mappings}/lazada-demo.toml"
price = {{ markup_percent = 8, round_to = 1000, rounding = "nearest" }}
stock = {{ buffer = 2 }}
rate = {{ inventory = 450, other = 180 }}
schedule = {QUIET}
"#,
            url = db.url,
            key = dir.path().join("chosync.key").display(),
            shopee_key = shopee_key.display(),
            lazada_secret = lazada_secret.display(),
            mappings = mappings.display(),
            shopee_url = shopee.base_url,
            partner_id = shopee.credentials.partner_id,
            shop_id = shopee.credentials.shop_id,
            lazada_url = lazada.base_url,
            auth_url = lazada.auth_url,
            app_key = lazada.credentials.app_key,
        );
        if let (Some(sendo), Some(voso)) = (&sendo, &voso) {
            let sendo_secret = secret("sendo.secret", &sendo.sandbox.config().secret_key);
            let voso_secret = secret("voso.secret", voso.sandbox.secret());
            text.push_str(&format!(
                r#"
[[channels]]
id = "{SENDO}"
platform = "sendo"
base_url = "{sendo_url}"
shop_key = "{shop_key}"
secret_key = {{ file = "{sendo_secret}" }}
image_base_url = "https://anh.htx-backan.example/images"
mapping = "{mappings}/sendo-demo.toml"
price = {{ markup_percent = 3, round_to = 1000, rounding = "up" }}
stock = {{ buffer = 1 }}
rate = {{ shop = 80 }}
schedule = {QUIET}

[[channels]]
id = "{VOSO}"
platform = "voso"
base_url = "{voso_url}"
app_key = "{voso_key}"
app_secret = {{ file = "{voso_secret}" }}
image_base_url = "https://anh.htx-backan.example/images"
mapping = "{mappings}/voso-demo.toml"
rate = {{ shop = 80 }}
schedule = {QUIET}
"#,
                sendo_url = sendo.base_url,
                shop_key = sendo.sandbox.config().shop_key,
                sendo_secret = sendo_secret.display(),
                mappings = mappings.display(),
                voso_url = voso.base_url,
                voso_key = voso.sandbox.key(),
                voso_secret = voso_secret.display(),
            ));
        }
        std::fs::write(&config, text).expect("config");
        let settings = Settings::load(Some(&config)).expect("settings");
        let store = chosync::store::open(&db.url, Arc::new(SystemClock))
            .await
            .expect("daemon store");
        store
            .register_channels(&settings.registrations())
            .await
            .expect("register");
        for (channel, code) in [
            (SHOPEE, &shopee.credentials.code),
            (LAZADA, &lazada.credentials.code),
        ] {
            chosync::channels::connect::authorize(&settings, &store, channel, code, None)
                .await
                .expect("authorize");
        }
        if all {
            for channel in [SENDO, VOSO] {
                chosync::channels::connect::connect(&settings, &store, channel)
                    .await
                    .expect("log in with the shop's keys");
            }
        }
        db.import(&super::demo_catalogue()).await.expect("import");
        let rig = Self {
            dir,
            config,
            settings,
            store,
            url: db.url.clone(),
            shopee,
            lazada,
            sendo,
            voso,
            addr,
            listener: Some(listener),
        };
        rig.list_catalogue().await;
        rig
    }

    /// The first listing of the catalogue, before the daemon runs: Shopee's
    /// client waits the platform's 5 s between a create and its variations,
    /// so it is done with a client on the sandbox's shorter wait.
    async fn list_catalogue(&self) {
        let credentials = prepare::credentials(&self.settings, &self.store).expect("credentials");
        let events = Arc::new(CallLog::default());
        let shopee = Shopee::new(
            ShopeeConfig {
                channel: SHOPEE.into(),
                base_url: self.shopee.base_url.clone(),
                partner_id: self.shopee.credentials.partner_id,
                partner_key: self.shopee.credentials.partner_key.clone().into(),
                shop_id: self.shopee.credentials.shop_id,
                callback_url: None,
                limits: chosync_connector::Limits::shared(
                    "shop",
                    std::num::NonZeroU32::new(150).expect("rate"),
                ),
                http: super::rig::quick_http(),
                tier_wait: Duration::from_millis(50),
            },
            credentials,
            events.clone(),
            Arc::new(SystemClock),
        )
        .expect("Shopee client");
        let client = ChannelClient::Shopee(shopee);
        let settings = self.settings.channel(SHOPEE).expect("channel");
        let mapping = settings
            .load_mapping(&self.settings.config_dir)
            .expect("mapping");
        let channel = chosync::sync::Channel {
            settings,
            mapping: &mapping,
            client: &client,
            events,
            allocation: &chosync::inventory::allocation::SHARED,
        };
        let listed = sync_channel(self.store.as_ref(), &channel, &Options::new("test"))
            .await
            .expect("Shopee listed");
        assert_eq!(listed.counts.failed, 0, "{listed:?}");
        for id in self.channel_ids().into_iter().filter(|id| *id != SHOPEE) {
            let prepared = prepare::prepare(&self.settings, &self.store, Some(id), || {
                Arc::new(CallLog::default())
            })
            .expect("client");
            let prepared = &prepared[0];
            let channel = chosync::sync::Channel {
                settings: prepared.settings,
                mapping: &prepared.mapping,
                client: &prepared.client,
                events: prepared.events.clone(),
                allocation: &chosync::inventory::allocation::SHARED,
            };
            let listed = sync_channel(self.store.as_ref(), &channel, &Options::new("test"))
                .await
                .unwrap_or_else(|e| panic!("{id} listed: {e}"));
            assert_eq!(listed.counts.failed, 0, "{id}: {listed:?}");
        }
    }

    /// The channels of this rig.
    pub fn channel_ids(&self) -> Vec<&'static str> {
        let mut ids = vec![SHOPEE, LAZADA];
        if self.sendo.is_some() {
            ids.extend([SENDO, VOSO]);
        }
        ids
    }

    /// The control API of `channel`'s sandbox.
    pub fn control_of(&self, channel: &str) -> Control {
        match channel {
            SHOPEE => self.shopee_control(),
            LAZADA => self.lazada_control(),
            SENDO => Control::new(self.sendo.as_ref().expect("a Sendo channel").addr),
            VOSO => Control::new(self.voso.as_ref().expect("a Voso channel").addr),
            other => panic!("no channel {other}"),
        }
    }

    /// `chosync run` in this process, on the listener the configuration names.
    pub fn start(&mut self) -> Running {
        let listener = self.listener.take().expect("started once per rig");
        self.start_on(listener)
    }

    /// `chosync run` in this process again, after a stop.
    pub async fn restart(&mut self) -> Running {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind again");
        self.start_on(listener)
    }

    /// A second `chosync run` in this process on the same database, on a
    /// loopback port of its own.
    pub async fn start_another(&self) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.start_on(listener)
    }

    fn start_on(&self, listener: tokio::net::TcpListener) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let settings = self.settings.clone();
        let store = self.store.clone();
        let url = self.url.clone();
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            chosync::daemon::run(&settings, store, &url, listener, stopped).await
        });
        Running {
            stop: Some(stop),
            task,
        }
    }

    /// Frees the daemon's address for a `chosync run` child process.
    pub fn release_listener(&mut self) {
        self.listener = None;
    }

    /// Points every sandbox's pushes at the daemon.
    pub async fn push_to_daemon(&self) {
        for channel in self.channel_ids() {
            self.control_of(channel)
                .control(
                    "/_sandbox/webhook-target",
                    serde_json::json!({ "url": self.webhook_url(channel) }),
                )
                .await;
        }
    }

    /// The URL `channel`'s pushes go to (with its key where pushes are unsigned).
    /// An unknown channel's is `/webhooks/<id>`.
    pub fn webhook_url(&self, channel: &str) -> String {
        let path = match prepare::find(&self.settings, channel) {
            Ok(settings) => prepare::push_path(&self.settings, settings).expect("push path"),
            Err(_) => format!("/webhooks/{channel}"),
        };
        format!("http://{}{path}", self.addr)
    }

    /// A buyer's order of `quantity` × `sku` on `channel`'s sandbox; its id.
    pub async fn place(&self, channel: &str, sku: &str, quantity: i64) -> String {
        let placed = self
            .control_of(channel)
            .control(
                "/_sandbox/orders",
                serde_json::json!({ "sku": sku, "quantity": quantity }),
            )
            .await;
        placed["order_id"]
            .as_str()
            .unwrap_or_else(|| panic!("order not placed: {placed}"))
            .to_string()
    }

    pub fn shopee_control(&self) -> Control {
        Control::new(self.shopee.addr)
    }

    pub fn lazada_control(&self) -> Control {
        Control::new(self.lazada.addr)
    }

    /// Price and stock of every SKU each sandbox shows for sale, by channel.
    pub async fn shown(&self) -> HashMap<&'static str, HashMap<String, (i64, i64)>> {
        let mut shopee = HashMap::new();
        let value = |v: &Value| {
            (
                v["price"].as_i64().unwrap_or(-1),
                v["stock"].as_i64().unwrap_or(-1),
            )
        };
        let items = self.shopee_control().inspect("/_sandbox/listings").await;
        for item in items
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["status"] == "NORMAL")
        {
            match item["models"].as_array().filter(|m| !m.is_empty()) {
                Some(models) => {
                    for m in models {
                        shopee.insert(m["sku"].as_str().unwrap_or_default().to_string(), value(m));
                    }
                }
                None => {
                    shopee.insert(
                        item["item_sku"].as_str().unwrap_or_default().to_string(),
                        value(item),
                    );
                }
            }
        }
        let mut lazada = HashMap::new();
        let products = self.lazada_control().inspect("/_sandbox/listings").await;
        for product in products.as_array().into_iter().flatten() {
            for sku in product["skus"].as_array().into_iter().flatten() {
                let price = sku["price"].as_f64().map_or(-1, |p| p.round() as i64);
                let stock = sku["Available"].as_i64().unwrap_or(-1);
                let seller_sku = sku["SellerSku"].as_str().unwrap_or_default();
                lazada.insert(seller_sku.to_string(), (price, stock));
            }
        }
        let mut shown = HashMap::from([(SHOPEE, shopee), (LAZADA, lazada)]);
        if self.sendo.is_some() {
            shown.insert(SENDO, self.sendo_shown().await);
            shown.insert(VOSO, self.voso_shown().await);
        }
        shown
    }

    /// Sendo's products on sale (status 2), by SKU: a configured product's
    /// variants, else the product's own SKU.
    async fn sendo_shown(&self) -> HashMap<String, (i64, i64)> {
        let mut shown = HashMap::new();
        let products = self.control_of(SENDO).inspect("/_sandbox/listings").await;
        for product in products
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["status"] == 2)
        {
            match product["variants"].as_array().filter(|v| !v.is_empty()) {
                Some(variants) => {
                    for v in variants {
                        shown.insert(
                            v["variant_sku"].as_str().unwrap_or_default().to_string(),
                            (
                                v["variant_price"].as_i64().unwrap_or(-1),
                                v["variant_quantity"].as_i64().unwrap_or(-1),
                            ),
                        );
                    }
                }
                None => {
                    shown.insert(
                        product["sku"].as_str().unwrap_or_default().to_string(),
                        (
                            product["price"].as_i64().unwrap_or(-1),
                            product["stock_quantity"].as_i64().unwrap_or(-1),
                        ),
                    );
                }
            }
        }
        shown
    }

    /// Voso's active products' variants, by SKU.
    async fn voso_shown(&self) -> HashMap<String, (i64, i64)> {
        let products = self.control_of(VOSO).inspect("/_sandbox/listings").await;
        products
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["status"] == "active")
            .flat_map(|p| p["variants"].as_array().into_iter().flatten())
            .map(|v| {
                (
                    v["sku"].as_str().unwrap_or_default().to_string(),
                    (
                        v["price"].as_i64().unwrap_or(-1),
                        v["stock"].as_i64().unwrap_or(-1),
                    ),
                )
            })
            .collect()
    }

    /// Whether every channel shows `sku` at `stock` wanted by its rules from
    /// `available` units, and no work is left anywhere.
    pub async fn shows(&self, sku: &str, available: i64) -> bool {
        let shown = self.shown().await;
        for channel in &self.settings.channels {
            let wanted = channel.stock.apply(available);
            if shown[channel.id.as_str()].get(sku).map(|s| s.1) != Some(wanted) {
                return false;
            }
            match self.store.pending_tasks(&channel.id).await {
                Ok(tasks) if tasks.is_empty() => {}
                _ => return false,
            }
        }
        true
    }

    /// Every SKU on every channel shows what the rules want; no work is left.
    pub async fn assert_converged(&self, db: &TestDb) {
        let shown = self.shown().await;
        for channel in &self.settings.channels {
            super::converged::assert_converged(db, channel, &shown[channel.id.as_str()]).await;
        }
    }

    /// `on_hand - reserved` of `sku`.
    pub async fn available(&self, sku: &str) -> i64 {
        let rows = self.store.stock(Some(sku)).await.expect("stock");
        rows[0].on_hand - rows[0].reserved
    }
}

/// Waits up to `limit` for `condition`, checking every 20 ms.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
