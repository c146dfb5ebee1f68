//! A daemon story's set-up: Shopee and Lazada sandboxes on loopback, a
//! configuration naming them (as an operator writes it), both channels
//! authorized and the demo catalogue listed on both, and `chosync run` —
//! in this process (`start`) or as a child process (`spawn`).

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
        let text = format!(
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
        db.import(&super::demo_catalogue()).await.expect("import");
        let rig = Self {
            dir,
            config,
            settings,
            store,
            url: db.url.clone(),
            shopee,
            lazada,
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
        let lazada = prepare::prepare(&self.settings, &self.store, Some(LAZADA), || {
            Arc::new(CallLog::default())
        })
        .expect("Lazada client");
        let lazada = &lazada[0];
        let channel = chosync::sync::Channel {
            settings: lazada.settings,
            mapping: &lazada.mapping,
            client: &lazada.client,
            events: lazada.events.clone(),
            allocation: &chosync::inventory::allocation::SHARED,
        };
        sync_channel(self.store.as_ref(), &channel, &Options::new("test"))
            .await
            .expect("Lazada listed");
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

    /// Points both sandboxes' pushes at the daemon.
    pub async fn push_to_daemon(&self) {
        for (control, channel) in [
            (self.shopee_control(), SHOPEE),
            (self.lazada_control(), LAZADA),
        ] {
            control
                .control(
                    "/_sandbox/webhook-target",
                    serde_json::json!({ "url": self.webhook_url(channel) }),
                )
                .await;
        }
    }

    pub fn webhook_url(&self, channel: &str) -> String {
        format!("http://{}/webhooks/{channel}", self.addr)
    }

    /// A buyer's order of `quantity` × `sku` on `channel`'s sandbox; its id.
    pub async fn place(&self, channel: &str, sku: &str, quantity: i64) -> String {
        let control = if channel == SHOPEE {
            self.shopee_control()
        } else {
            self.lazada_control()
        };
        let placed = control
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
        HashMap::from([(SHOPEE, shopee), (LAZADA, lazada)])
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
