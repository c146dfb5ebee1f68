//! The Shopee connector against the Shopee sandbox, over real loopback HTTP.

mod common;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chosync::clock::{Clock, FixedClock, SystemClock};
use chosync_connector::credentials::{CredentialStore, MemoryCredentials, TokenPair};
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, OrderState, OrderWindow, PriceSet, RemoteListing,
    StockSet, VariantDraft, WebhookHint,
};
use chosync_connector::events::{AttemptEvent, Recorded};
use chosync_connector::http::{HttpConfig, RetryPolicy};
use chosync_connector::sandbox::Platform;
use chosync_connector::{Connector, ConnectorError, Limits};
use chosync_shopee::dto::LostPushes;
use chosync_shopee::sandbox::{Running, SandboxConfig, ShopeeSandbox};
use chosync_shopee::{Shopee, ShopeeConfig};
use secrecy::ExposeSecret;
use serde_json::Value;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

struct World {
    running: Running,
    shopee: Shopee,
    events: Arc<Recorded>,
    credentials: Arc<MemoryCredentials>,
    sandbox: common::control::Control,
}

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

fn fast_retries() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(2),
        retry: RetryPolicy {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            deadline: Duration::from_secs(60),
            max_attempts: 12,
        },
    }
}

async fn world(sandbox: SandboxConfig, client_rate: u32, clock: Arc<dyn Clock>) -> World {
    let running = ShopeeSandbox::start(sandbox, 0)
        .await
        .expect("sandbox starts");
    let (shopee, events, credentials) = connect(
        &running,
        &running.credentials.partner_key,
        client_rate,
        clock,
    );
    shopee
        .authorize(&running.credentials.code)
        .await
        .expect("authorize with the sandbox's code");
    World {
        sandbox: common::control::Control::new(running.addr),
        running,
        shopee,
        events,
        credentials,
    }
}

const CALLBACK: &str = "https://erp.example.vn/webhooks/shopee-test";

fn connect(
    running: &Running,
    partner_key: &str,
    client_rate: u32,
    clock: Arc<dyn Clock>,
) -> (Shopee, Arc<Recorded>, Arc<MemoryCredentials>) {
    connect_with_callback(running, partner_key, client_rate, clock, CALLBACK)
}

fn connect_with_callback(
    running: &Running,
    partner_key: &str,
    client_rate: u32,
    clock: Arc<dyn Clock>,
    callback: &str,
) -> (Shopee, Arc<Recorded>, Arc<MemoryCredentials>) {
    let events = Arc::new(Recorded::default());
    let credentials = Arc::new(MemoryCredentials::default());
    let config = ShopeeConfig {
        channel: "shopee-test".into(),
        base_url: running.base_url.clone(),
        partner_id: running.credentials.partner_id,
        partner_key: partner_key.to_string().into(),
        shop_id: running.credentials.shop_id,
        callback_url: Some(callback.into()),
        limits: Limits::shared("shop", rate(client_rate)),
        http: fast_retries(),
        tier_wait: chosync_shopee::TIER_WAIT,
    };
    let shopee =
        Shopee::new(config, credentials.clone(), events.clone(), clock).expect("connector");
    (shopee, events, credentials)
}

fn default_sandbox() -> SandboxConfig {
    SandboxConfig {
        rate: rate(200),
        ..SandboxConfig::default()
    }
}

/// The usual world: the sandbox at 200 calls/s, the client at 100, wall time.
async fn default_world() -> World {
    world(default_sandbox(), 100, Arc::new(SystemClock)).await
}

/// A world whose sandbox and client share a clock that stands at `start`
/// (RFC 3339) until a test moves it.
async fn world_at(start: &str) -> (World, Arc<FixedClock>) {
    let start = chrono::DateTime::parse_from_rfc3339(start)
        .expect("time")
        .to_utc();
    let clock = Arc::new(FixedClock::new(start));
    let sandbox = SandboxConfig {
        clock: clock.clone(),
        ..default_sandbox()
    };
    (world(sandbox, 100, clock.clone()).await, clock)
}

impl World {
    async fn listings(&self) -> Vec<Value> {
        let value = self.sandbox.inspect("/_sandbox/listings").await;
        value.as_array().cloned().unwrap_or_default()
    }

    /// The item the sandbox holds under `item_sku`.
    async fn held_item(&self, item_sku: &str) -> Value {
        self.listings()
            .await
            .into_iter()
            .find(|i| i["item_sku"] == item_sku)
            .expect("item held")
    }

    async fn image(&self) -> String {
        self.shopee
            .upload_image("que.png", PNG.to_vec())
            .await
            .expect("upload")
    }

    async fn create(&self, draft: &ListingDraft) -> RemoteListing {
        self.shopee
            .upsert_listing(draft, None)
            .await
            .expect("create")
    }

    /// A new single-variant item for `sku`, with a new image.
    async fn create_single(&self, sku: &str) -> RemoteListing {
        let image = self.image().await;
        self.create(&single_draft(&image, sku)).await
    }

    /// How many attempts so far `which` picks.
    fn events_where(&self, which: impl Fn(&AttemptEvent) -> bool) -> usize {
        self.events.events().iter().filter(|e| which(e)).count()
    }

    async fn stored_tokens(&self) -> TokenPair {
        self.credentials
            .load("shopee-test")
            .await
            .expect("load")
            .expect("tokens")
    }
}

fn stock_set(listing: &RemoteListing, sku: &str, quantity: i64) -> StockSet {
    StockSet {
        sku: sku.into(),
        at: listing.at(sku).expect("ref"),
        quantity,
    }
}

fn price_set(listing: &RemoteListing, sku: &str, price: i64) -> PriceSet {
    PriceSet {
        sku: sku.into(),
        at: listing.at(sku).expect("ref"),
        price,
    }
}

fn assert_all_ok(outcomes: &[ItemOutcome]) {
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
}

fn variant(sku: &str, option_values: &[&str], price: i64, stock: i64) -> VariantDraft {
    VariantDraft {
        sku: sku.into(),
        option_values: option_values.iter().map(|v| v.to_string()).collect(),
        price,
        stock,
    }
}

/// Cinnamon oil in three sizes and two packs: 2 tiers, 6 models.
fn oil_draft(image: &str) -> ListingDraft {
    let mut variants = Vec::new();
    for (size, price) in [("10 ml", 85_000), ("50 ml", 290_000), ("100 ml", 400_000)] {
        for pack in ["Chai", "Hộp quà"] {
            let extra = if pack == "Chai" { 0 } else { 20_000 };
            variants.push(VariantDraft {
                sku: format!(
                    "TDQ-{}-{}",
                    size.replace(' ', ""),
                    if pack == "Chai" { "C" } else { "H" }
                ),
                option_values: vec![size.into(), pack.into()],
                price: price + extra,
                stock: 10,
            });
        }
    }
    ListingDraft {
        product_key: "TD-QUE".into(),
        title: "Tinh dầu quế Bắc Kạn nguyên chất".into(),
        description: "Tinh dầu quế chưng cất từ vỏ quế rừng Bắc Kạn, thơm ấm, dùng xông phòng."
            .into(),
        category_id: "100150".into(),
        brand: Some("HTX Tinh dầu Ba Bể".into()),
        // Mandatory for essential oils (100150).
        attributes: vec![("100037".into(), "Việt Nam".into())],
        images: vec![image.into()],
        weight_g: 120,
        dimensions_cm: Some([5, 5, 12]),
        logistics: vec!["50018".into()],
        option_names: vec!["Dung tích".into(), "Đóng gói".into()],
        variants,
        listed: true,
    }
}

fn single_draft(image: &str, sku: &str) -> ListingDraft {
    ListingDraft {
        product_key: format!("P-{sku}"),
        title: format!("Miến dong Côn Minh {sku}"),
        description: "Miến dong riềng đỏ Côn Minh, sợi dai, không chất tẩy trắng.".into(),
        category_id: "100210".into(),
        brand: None,
        // Mandatory for foods (100210).
        attributes: vec![("100095".into(), "12 tháng".into())],
        images: vec![image.into()],
        weight_g: 520,
        dimensions_cm: None,
        logistics: vec!["50018".into()],
        option_names: vec![],
        variants: vec![VariantDraft {
            sku: sku.into(),
            option_values: vec![],
            price: 65_000,
            stock: 300,
        }],
        listed: true,
    }
}

#[tokio::test]
async fn an_item_with_two_tiers_and_six_models_is_created_priced_stocked_and_listed() {
    let w = world(default_sandbox(), 50, Arc::new(SystemClock)).await;
    let image = w.image().await;
    let oil = w.create(&oil_draft(&image)).await;
    assert_eq!(oil.variants.len(), 6);
    assert_eq!(oil.listing_sku.as_deref(), Some("TD-QUE"));
    let noodles = w.create(&single_draft(&image, "MD-500G")).await;
    assert_eq!(noodles.variants[0].variant_id, "0");

    // Stock for all 7 SKUs: one call per item.
    let mut stock: Vec<StockSet> = oil
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| stock_set(&oil, &v.sku, 40 + i as i64))
        .collect();
    stock.push(stock_set(&noodles, "MD-500G", 7));
    let outcomes = w.shopee.set_stock(&stock).await;
    assert_all_ok(&outcomes);
    assert_eq!(
        outcomes.iter().map(|o| o.sku.as_str()).collect::<Vec<_>>(),
        stock.iter().map(|s| s.sku.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(w.sandbox.calls("/api/v2/product/update_stock").await, 2);

    let prices: Vec<PriceSet> = oil
        .variants
        .iter()
        .map(|v| price_set(&oil, &v.sku, v.price + 1_000))
        .collect();
    let outcomes = w.shopee.set_price(&prices).await;
    assert_all_ok(&outcomes);
    assert_eq!(w.sandbox.calls("/api/v2/product/update_price").await, 1);

    let page = w.shopee.list_remote_listings(None).await.expect("list");
    assert_eq!(page.items.len(), 2);
    let listed: &RemoteListing = page
        .items
        .iter()
        .find(|l| l.listing_id == oil.listing_id)
        .expect("oil listed");
    let first = listed.variant("TDQ-10ml-C").expect("model");
    assert_eq!((first.price, first.stock), (86_000, 40));
    let single = page
        .items
        .iter()
        .find(|l| l.carries("MD-500G"))
        .expect("noodles");
    assert_eq!(single.variants[0].stock, 7);

    // The sandbox holds what the connector says.
    let models = &w.held_item("TD-QUE").await["models"];
    assert_eq!(models.as_array().map(Vec::len), Some(6));
}

#[tokio::test]
async fn more_than_fifty_models_are_sent_in_calls_of_fifty() {
    let w = default_world().await;
    let item = w.create_single("HD-1KG").await;
    let listing_id = item.listing_id.clone();
    let many: Vec<StockSet> = (0..60)
        .map(|i| StockSet {
            sku: format!("GHOST-{i}"),
            at: chosync_connector::dto::RemoteRef {
                listing_id: listing_id.clone(),
                variant_id: (900_000 + i).to_string(),
            },
            quantity: 1,
        })
        .collect();
    let outcomes = w.shopee.set_stock(&many).await;
    assert_eq!(outcomes.len(), 60);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.result, Err(ConnectorError::NotFound(_))))
    );
    assert_eq!(w.sandbox.calls("/api/v2/product/update_stock").await, 2);
}

#[tokio::test]
async fn forty_days_of_orders_are_read_in_fifteen_day_windows_and_detailed_in_fifties() {
    let (w, clock) = world_at("2026-10-01T08:00:00+07:00").await;
    let start = clock.now();
    w.create_single("GBT-5KG").await;
    let mut ids = Vec::new();
    for _day in 0..40 {
        for _ in 0..3 {
            ids.push(w.running.sandbox.place_order("GBT-5KG", 1).expect("order"));
        }
        clock.advance(chrono::Duration::days(1));
    }
    // Forty days on, the 30-day refresh token has lapsed: the seller authorizes again.
    let code = w.running.sandbox.issue_code();
    w.shopee.authorize(&code).await.expect("re-authorize");
    let window = OrderWindow {
        from: start - chrono::Duration::hours(1),
        to: clock.now(),
    };
    let refs = w.shopee.list_orders(window).await.expect("orders");
    let mut found: Vec<String> = refs.iter().map(|r| r.order_id.clone()).collect();
    found.sort();
    found.dedup();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(found, expected);
    assert!(w.sandbox.calls("/api/v2/order/get_order_list").await >= 3);

    let orders = w.shopee.get_orders(&ids).await.expect("details");
    assert_eq!(orders.len(), 120);
    assert_eq!(w.sandbox.calls("/api/v2/order/get_order_detail").await, 3);
    assert!(orders.iter().all(|o| o.state == OrderState::Paid
        && o.lines[0].sku == "GBT-5KG"
        && o.lines[0].quantity == 1));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_work_continues() {
    let (w, clock) = world_at("2026-11-29T08:00:00+07:00").await;
    w.shopee
        .list_remote_listings(None)
        .await
        .expect("before expiry");
    clock.advance(chrono::Duration::hours(4) + chrono::Duration::minutes(1));
    let (a, b) = tokio::join!(
        w.shopee.list_remote_listings(None),
        w.shopee.list_remote_listings(None)
    );
    a.expect("after expiry");
    b.expect("after expiry, concurrently");
    assert_eq!(w.sandbox.calls("/api/v2/auth/access_token/get").await, 1);
}

#[tokio::test]
async fn a_spent_refresh_token_is_refused_as_unauthorized() {
    let w = default_world().await;
    let old = w.stored_tokens().await;
    w.shopee.refresh_credentials().await.expect("first refresh");
    // A second copy of the channel still holding the spent refresh token.
    let (stale, _, stale_store) = connect(
        &w.running,
        &w.running.credentials.partner_key,
        100,
        Arc::new(SystemClock),
    );
    stale_store.save("shopee-test", &old).await.expect("seed");
    let err = stale.refresh_credentials().await.expect_err("spent");
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m) if m.contains("error_shop_refresh_token")),
        "{err}"
    );
    w.shopee
        .list_remote_listings(None)
        .await
        .expect("the live channel still works");
}

#[tokio::test]
async fn a_wrong_partner_key_is_rejected_as_a_bad_signature() {
    let running = ShopeeSandbox::start(default_sandbox(), 0)
        .await
        .expect("sandbox");
    let (shopee, events, _) = connect(&running, "not-the-partner-key", 100, Arc::new(SystemClock));
    let err = shopee
        .authorize(&running.credentials.code)
        .await
        .expect_err("wrong key");
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m) if m.starts_with("error_sign")),
        "{err}"
    );
    assert_eq!(running.sandbox.kit().stats().rejected_signatures, 1);
    let recorded = events.events();
    assert_eq!(recorded.len(), 1, "not retried");
    assert_eq!(recorded[0].platform_code.as_deref(), Some("error_sign"));
}

/// `calls` stock pushes at once to one new item, each of which must succeed,
/// with the sandbox allowing `sandbox_rate` calls a second and the client set
/// to `client_rate`; the world and the sandbox's stats after.
async fn hammered(sandbox_rate: u32, client_rate: u32, calls: usize) -> (World, Value) {
    let sandbox = SandboxConfig {
        rate: rate(sandbox_rate),
        ..SandboxConfig::default()
    };
    let w = world(sandbox, client_rate, Arc::new(SystemClock)).await;
    let item = w.create_single("MD-1KG").await;
    let at = item.at(&item.variants[0].sku).expect("ref");
    let tasks = (0..calls).map(|i| {
        let item = StockSet {
            sku: "MD-1KG".into(),
            at: at.clone(),
            quantity: (i % 50) as i64,
        };
        let shopee = &w.shopee;
        async move { shopee.set_stock(&[item]).await }
    });
    for outcomes in futures_util::future::join_all(tasks).await {
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    }
    let stats = w.sandbox.stats().await;
    (w, stats)
}

#[tokio::test]
async fn a_client_at_the_sandbox_rate_is_never_throttled() {
    let (_w, stats) = hammered(100, 100, 500).await;
    assert_eq!(stats["throttled"], 0, "{stats}");
    assert_eq!(stats["calls"]["/api/v2/product/update_stock"], 500);
    // Evenly spaced: no second sees more than the quota (give or take scheduling jitter).
    let peak = stats["peak_rps"]["shop:14701711"].as_u64().unwrap_or(0);
    assert!(peak > 0 && peak <= 110, "{stats}");
}

#[tokio::test]
async fn a_client_set_too_fast_backs_off_and_still_completes() {
    let (w, stats) = hammered(50, 400, 300).await;
    assert!(stats["throttled"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert!(w.events_where(|e| e.outcome == "rate_limited") > 0);
}

#[tokio::test]
async fn twenty_percent_failures_still_end_in_exactly_one_item_each() {
    let w = default_world().await;
    let image = w.image().await;
    w.sandbox
        .faults(serde_json::json!({ "error_rate": 0.1, "timeout_rate": 0.1 }))
        .await;
    for sku in ["MD-500G", "MD-1KG", "HD-500G"] {
        let listing = w
            .shopee
            .upsert_listing(&single_draft(&image, sku), None)
            .await
            .expect("create under faults");
        let outcomes = w.shopee.set_stock(&[stock_set(&listing, sku, 11)]).await;
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    }
    w.sandbox.faults(serde_json::json!({})).await;
    let held = w.listings().await;
    for sku in ["MD-500G", "MD-1KG", "HD-500G"] {
        let twins: Vec<&Value> = held.iter().filter(|i| i["item_sku"] == sku).collect();
        assert_eq!(twins.len(), 1, "{sku}: {held:?}");
        assert_eq!(twins[0]["stock"], 11);
    }
    assert!(
        w.events_where(|e| e.outcome != "ok") > 0,
        "faults were injected"
    );
}

#[tokio::test]
async fn a_timed_out_add_item_is_adopted_not_created_twice() {
    let w = default_world().await;
    let image = w.image().await;
    w.sandbox
        .faults(serde_json::json!({ "timeout_rate": 1.0, "only": "/api/v2/product/add_item" }))
        .await;
    let oil = w
        .shopee
        .upsert_listing(&oil_draft(&image), None)
        .await
        .expect("adopted");
    assert_eq!(oil.variants.len(), 6);
    assert_eq!(w.sandbox.calls("/api/v2/product/add_item").await, 1);
    assert_eq!(w.listings().await.len(), 1);
    assert_eq!(w.events_where(|e| e.outcome == "ambiguous"), 1);
}

#[tokio::test]
async fn pushes_are_signed_like_shopee_and_forgeries_are_refused() {
    let w = default_world().await;
    w.create_single("MN-100G").await;

    let receiver = common::webhooks::Receiver::start("/webhooks/shopee-test").await;
    // The sandbox signs with the URL it posts to; the connector must know it.
    let target = receiver.url.clone();
    w.sandbox
        .control(
            "/_sandbox/webhook-target",
            serde_json::json!({ "url": target }),
        )
        .await;
    let order = w
        .sandbox
        .control(
            "/_sandbox/orders",
            serde_json::json!({ "sku": "MN-100G", "quantity": 2 }),
        )
        .await;
    let order_id = order["order_id"].as_str().expect("order id").to_string();

    let (signature, body) = receiver.first().await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", signature.parse().expect("header"));

    let key = w.running.credentials.partner_key.clone();
    let (verifier, _, _) =
        connect_with_callback(&w.running, &key, 100, Arc::new(SystemClock), &target);
    let hint = verifier
        .verify_webhook(&headers, &body)
        .expect("genuine push");
    assert_eq!(
        hint,
        WebhookHint::OrdersChanged {
            order_ids: vec![order_id]
        }
    );

    let mut forged = body.clone();
    forged.extend_from_slice(b" ");
    assert!(matches!(
        verifier.verify_webhook(&headers, &forged),
        Err(ConnectorError::Unauthorized(_))
    ));
    headers.insert("authorization", "00".repeat(32).parse().expect("header"));
    assert!(matches!(
        verifier.verify_webhook(&headers, &body),
        Err(ConnectorError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn orders_cancelled_before_shipping_give_their_stock_back() {
    let w = default_world().await;
    let item = w.create_single("NH-100G").await;
    let order = w.running.sandbox.place_order("NH-100G", 5).expect("order");
    assert_eq!(remote_stock(&w).await, 295);
    w.running
        .sandbox
        .cancel_order(&order, None)
        .expect("cancel");
    assert_eq!(remote_stock(&w).await, 300);
    let shipped = w.running.sandbox.place_order("NH-100G", 1).expect("order");
    w.running.sandbox.ship_order(&shipped).expect("ship");
    assert!(w.running.sandbox.cancel_order(&shipped, None).is_err());
    assert_eq!(remote_stock(&w).await, 299);
    assert_eq!(item.variants[0].stock, 300);
}

async fn remote_stock(w: &World) -> i64 {
    w.shopee
        .list_remote_listings(None)
        .await
        .expect("list")
        .items[0]
        .variants[0]
        .stock
}

#[tokio::test]
async fn lost_pushes_are_read_and_confirmed() {
    let w = default_world().await;
    w.create_single("QS-200G").await;
    let order = w.running.sandbox.place_order("QS-200G", 1).expect("order");
    let lost = w.shopee.lost_pushes().await.expect("lost");
    confirm_the_one_lost_push(&w, &w.shopee, &lost, order).await;
}

/// `lost` is one push, telling of `order`; confirmed through `client`, no
/// lost push is left.
async fn confirm_the_one_lost_push(w: &World, client: &Shopee, lost: &LostPushes, order: String) {
    assert_eq!(lost.push_message_list.len(), 1);
    assert_eq!(
        lost.push_message_list[0].hint(),
        WebhookHint::OrdersChanged {
            order_ids: vec![order]
        }
    );
    client
        .confirm_pushes(lost.last_message_id.expect("id"))
        .await
        .expect("confirm");
    assert!(
        w.shopee
            .lost_pushes()
            .await
            .expect("again")
            .push_message_list
            .is_empty()
    );
}

#[tokio::test]
async fn no_secret_reaches_the_logs_or_the_events() {
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = default_world().await;
    let first_tokens = w.stored_tokens().await;
    let image = w.image().await;
    w.sandbox
        .faults(serde_json::json!({ "error_rate": 0.3 }))
        .await;
    let item = w.create(&single_draft(&image, "GCL-100G")).await;
    w.shopee.refresh_credentials().await.expect("refresh");
    let _ = w.shopee.set_price(&[price_set(&item, "GCL-100G", 1)]).await;
    let (bad, bad_events, _) = connect(&w.running, "wrong-key", 100, Arc::new(SystemClock));
    let refused = bad
        .authorize(&w.running.credentials.code)
        .await
        .expect_err("bad key");
    let last_tokens = w.stored_tokens().await;

    let logs = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
    let events = serde_json::to_string(&w.events.events()).expect("json")
        + &serde_json::to_string(&bad_events.events()).expect("json");
    let errors = refused.to_string();
    assert!(logs.contains("platform call failed"), "the run was logged");
    let secrets = [
        w.running.credentials.partner_key.clone(),
        w.running.credentials.code.clone(),
        first_tokens.access_token.expose_secret().to_string(),
        first_tokens.refresh_token.expose_secret().to_string(),
        last_tokens.access_token.expose_secret().to_string(),
        last_tokens.refresh_token.expose_secret().to_string(),
    ];
    for text in [&logs, &events, &errors] {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
        assert!(!text.contains("sign="), "a signature leaked");
        assert!(!text.contains("access_token="), "a token parameter leaked");
    }
}

#[tokio::test]
async fn a_draft_beyond_shopees_variation_rules_is_refused_before_anything_is_created() {
    let w = default_world().await;
    let image = w.image().await;
    let mut draft = oil_draft(&image);
    draft.variants[5].price = 600_000;
    draft.variants[0].price = 50_000;
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("spread over 5x");
    assert!(
        matches!(err, ConnectorError::Rejected { ref field, .. } if field.as_deref() == Some("price")),
        "{err}"
    );
    assert_eq!(w.sandbox.calls("/api/v2/product/add_item").await, 0);
}

#[tokio::test]
async fn option_values_longer_than_the_item_limit_are_refused_before_anything_is_created() {
    let w = default_world().await;
    let image = w.image().await;
    let mut draft = oil_draft(&image);
    for variant in &mut draft.variants {
        variant.option_values[1] = format!("{} đặc biệt cao cấp", variant.option_values[1]);
    }
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("options too long");
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, ref message, .. }
            if code == "chosync_item_limit" && message.contains("1–20")),
        "{err}"
    );
    assert_eq!(w.sandbox.calls("/api/v2/product/add_item").await, 0);
    assert!(w.listings().await.is_empty());
}

#[tokio::test]
async fn a_sku_asked_twice_in_one_batch_is_sent_once_with_the_last_value() {
    let w = default_world().await;
    let item = w.create_single("MO-1L").await;
    let twice = [5, 9].map(|quantity| stock_set(&item, "MO-1L", quantity));
    let outcomes = w.shopee.set_stock(&twice).await;
    assert_all_ok(&outcomes);
    assert_eq!(w.sandbox.calls("/api/v2/product/update_stock").await, 1);
    assert_eq!(w.listings().await[0]["stock"], 9);
}

const ATTRIBUTE_TREE: &str = "/api/v2/product/get_attribute_tree";

#[tokio::test]
async fn required_attributes_are_the_mandatory_ones_read_once_per_category() {
    let w = default_world().await;
    let origin = vec![AttributeSpec {
        id: "100037".into(),
        name: "Xuất xứ".into(),
        options: Some(
            ["Việt Nam", "Trung Quốc", "Thái Lan", "Hàn Quốc", "Nhật Bản"]
                .map(String::from)
                .to_vec(),
        ),
    }];
    let first = w.shopee.required_attributes("100150").await.expect("oils");
    assert_eq!(first, origin, "the optional 100010 is left out");
    let again = w
        .shopee
        .required_attributes("100150")
        .await
        .expect("cached");
    assert_eq!(again, origin);
    assert_eq!(w.sandbox.calls(ATTRIBUTE_TREE).await, 1, "asked once");
    let foods = w.shopee.required_attributes("100213").await.expect("foods");
    assert_eq!(
        foods,
        vec![AttributeSpec {
            id: "100095".into(),
            name: "Hạn sử dụng".into(),
            options: None,
        }]
    );
    let herbs = w.shopee.required_attributes("100151").await.expect("herbs");
    assert!(herbs.is_empty(), "{herbs:?}");
    assert_eq!(w.sandbox.calls(ATTRIBUTE_TREE).await, 3);

    let parent = w
        .shopee
        .required_attributes("100001")
        .await
        .expect_err("a parent category");
    assert!(
        matches!(parent, ConnectorError::Rejected { ref code, .. } if code == "error_invalid_category"),
        "{parent}"
    );
    let garbled = w
        .shopee
        .required_attributes("Tinh dầu")
        .await
        .expect_err("not a category id");
    assert!(
        matches!(garbled, ConnectorError::Rejected { ref message, .. } if message.contains("Tinh dầu")),
        "{garbled}"
    );
    assert_eq!(
        w.sandbox.calls(ATTRIBUTE_TREE).await,
        4,
        "nothing sent for a non-number"
    );
}

#[tokio::test]
async fn an_item_without_a_mandatory_attribute_is_refused_and_nothing_is_created() {
    let w = default_world().await;
    let image = w.image().await;
    let mut draft = single_draft(&image, "HD-200G");
    draft.category_id = "100213".into();
    let complete = draft.clone();
    draft.attributes.clear();
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("shelf life missing");
    assert!(
        matches!(err, ConnectorError::Rejected { ref message, .. }
            if message.contains("100095") && message.contains("Hạn sử dụng")),
        "{err}"
    );
    // Given with no value, it is still missing.
    draft.attributes = vec![("100095".into(), " ".into())];
    w.shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("shelf life blank");
    assert!(w.listings().await.is_empty(), "nothing created");

    let created = w
        .shopee
        .upsert_listing(&complete, None)
        .await
        .expect("with its shelf life");
    assert!(created.carries("HD-200G"));
    assert_eq!(w.listings().await.len(), 1);
    assert_eq!(w.sandbox.calls("/api/v2/product/add_item").await, 3);
}

const ADD_MODEL: &str = "/api/v2/product/add_model";
const UPDATE_TIERS: &str = "/api/v2/product/update_tier_variation";

/// The oil draft without one of its SKUs: what the item was created with.
fn oil_without(image: &str, sku: &str) -> ListingDraft {
    let mut draft = oil_draft(image);
    draft.variants.retain(|v| v.sku != sku);
    draft
}

fn held_model<'a>(item: &'a Value, sku: &str) -> Vec<&'a Value> {
    item["models"]
        .as_array()
        .map(|models| models.iter().filter(|m| m["sku"] == sku).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_new_size_gets_its_option_appended_then_its_model_added() {
    let w = default_world().await;
    let image = w.image().await;
    let created = w.create(&oil_draft(&image)).await;
    let before = w.held_item("TD-QUE").await;

    let mut grown = oil_draft(&image);
    grown
        .variants
        .push(variant("TDQ-250ml-C", &["250 ml", "Chai"], 420_000, 7));
    let listing = w
        .shopee
        .upsert_listing(&grown, Some(&created))
        .await
        .expect("new size listed");
    assert_eq!(w.sandbox.calls(UPDATE_TIERS).await, 1);
    assert_eq!(w.sandbox.calls(ADD_MODEL).await, 1);

    assert_eq!(listing.variants.len(), 7);
    let new = listing
        .variant("TDQ-250ml-C")
        .expect("the new model comes back");
    assert_ne!(new.variant_id, "0");
    assert!(
        created
            .variants
            .iter()
            .all(|v| v.variant_id != new.variant_id)
    );
    assert_eq!((new.price, new.stock), (420_000, 7));
    for old in &created.variants {
        assert_eq!(listing.at(&old.sku), created.at(&old.sku), "{}", old.sku);
    }

    let held = w.held_item("TD-QUE").await;
    assert_eq!(
        held["tiers"][0]["options"],
        serde_json::json!(["10 ml", "50 ml", "100 ml", "250 ml"])
    );
    assert_eq!(
        held["tiers"][1]["options"],
        serde_json::json!(["Chai", "Hộp quà"])
    );
    let model = held_model(&held, "TDQ-250ml-C");
    assert_eq!(model.len(), 1);
    assert_eq!(model[0]["tier_index"], serde_json::json!([3, 0]));
    assert_eq!(
        (model[0]["price"].as_i64(), model[0]["stock"].as_i64()),
        (Some(420_000), Some(7))
    );
    for old in before["models"].as_array().expect("models") {
        let now = held_model(&held, old["sku"].as_str().unwrap_or(""));
        assert_eq!(now.len(), 1);
        assert_eq!(now[0]["tier_index"], old["tier_index"], "{old}");
        assert_eq!(now[0]["model_id"], old["model_id"]);
    }
    w.running
        .sandbox
        .place_order("TDQ-250ml-C", 2)
        .expect("the new size sells");
}

#[tokio::test]
async fn a_missing_combination_of_known_options_is_only_added() {
    let w = default_world().await;
    let image = w.image().await;
    let created = w.create(&oil_without(&image, "TDQ-100ml-H")).await;
    assert_eq!(created.variants.len(), 5);
    let listing = w
        .shopee
        .upsert_listing(&oil_draft(&image), Some(&created))
        .await
        .expect("the sixth added");
    assert_eq!(w.sandbox.calls(UPDATE_TIERS).await, 0, "no option was new");
    assert_eq!(w.sandbox.calls(ADD_MODEL).await, 1);
    assert_eq!(listing.variants.len(), 6);
    let new = listing.variant("TDQ-100ml-H").expect("returned");
    assert_eq!((new.price, new.stock), (420_000, 10));

    let held = w.held_item("TD-QUE").await;
    let model = held_model(&held, "TDQ-100ml-H");
    assert_eq!(model.len(), 1);
    assert_eq!(model[0]["tier_index"], serde_json::json!([2, 1]));
    assert_eq!(model[0]["model_id"].to_string(), new.variant_id);
}

#[tokio::test]
async fn a_lost_add_model_answer_is_settled_by_reading_never_by_adding_twice() {
    let w = default_world().await;
    let image = w.image().await;
    let created = w.create(&oil_without(&image, "TDQ-100ml-H")).await;
    w.sandbox
        .faults(serde_json::json!({ "timeout_rate": 1.0, "only": ADD_MODEL }))
        .await;
    let listing = w
        .shopee
        .upsert_listing(&oil_draft(&image), Some(&created))
        .await
        .expect("adopted after the lost answer");
    w.sandbox.faults(serde_json::json!({})).await;
    assert_eq!(w.sandbox.calls(ADD_MODEL).await, 1, "not sent again");
    assert!(listing.variant("TDQ-100ml-H").is_some());
    let held = w.held_item("TD-QUE").await;
    assert_eq!(held_model(&held, "TDQ-100ml-H").len(), 1);
    assert_eq!(held["models"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        w.events_where(|e| e.outcome == "ambiguous" && e.endpoint == ADD_MODEL),
        1
    );

    // Asked again, nothing is left to add.
    w.shopee
        .upsert_listing(&oil_draft(&image), Some(&created))
        .await
        .expect("again");
    assert_eq!(w.sandbox.calls(ADD_MODEL).await, 1);
    assert_eq!(
        held_model(&w.held_item("TD-QUE").await, "TDQ-100ml-H").len(),
        1
    );
}

/// `existing` asked to take `draft`'s new SKU `new_sku`, which Shopee cannot
/// do to this live item: the refusal names the SKU and says to re-create.
async fn refused_as_re_create(
    w: &World,
    draft: &ListingDraft,
    existing: &RemoteListing,
    new_sku: &str,
) -> ConnectorError {
    let err = w
        .shopee
        .upsert_listing(draft, Some(existing))
        .await
        .expect_err("refused as a re-create");
    assert!(
        matches!(err, ConnectorError::Rejected { ref message, .. }
            if message.contains("re-created") && message.contains(new_sku)),
        "{err}"
    );
    err
}

#[tokio::test]
async fn new_skus_on_other_axes_or_on_an_item_without_tiers_are_refused_as_re_creates() {
    let w = default_world().await;
    let image = w.image().await;
    let oil = w.create(&oil_draft(&image)).await;
    let noodles = w.create(&single_draft(&image, "MD-500G")).await;
    let writes = |stats: &Value| -> Vec<(String, u64)> {
        stats["calls"]
            .as_object()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|(path, _)| !path.contains("/get_"))
                    .map(|(path, n)| (path.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = writes(&w.sandbox.stats().await);

    // One axis where the item has two.
    let mut one_axis = oil_draft(&image);
    one_axis.option_names = vec!["Dung tích".into()];
    one_axis.variants.retain(|v| v.sku.ends_with("-C"));
    for variant in &mut one_axis.variants {
        variant.option_values.truncate(1);
    }
    one_axis
        .variants
        .push(variant("TDQ-250ml", &["250 ml"], 420_000, 5));
    let err = refused_as_re_create(&w, &one_axis, &oil, "TDQ-250ml").await;
    assert!(
        matches!(err, ConnectorError::Rejected { ref field, .. } if field.as_deref() == Some("variants")),
        "{err}"
    );

    // A single-variant item gaining a sibling.
    let mut sizes = single_draft(&image, "MD-500G");
    sizes.option_names = vec!["Khối lượng".into()];
    sizes.variants[0].option_values = vec!["500 g".into()];
    sizes
        .variants
        .push(variant("MD-1KG", &["1 kg"], 120_000, 4));
    refused_as_re_create(&w, &sizes, &noodles, "MD-1KG").await;

    assert_eq!(
        writes(&w.sandbox.stats().await),
        before,
        "no write was sent"
    );
    assert_eq!(
        w.held_item("TD-QUE").await["models"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
}

const ITEM_LIMIT: &str = "/api/v2/product/get_item_limit";
const BRAND_LIST: &str = "/api/v2/product/get_brand_list";
const CHANNEL_LIST: &str = "/api/v2/logistics/get_channel_list";
const ADD_ITEM: &str = "/api/v2/product/add_item";
const INIT_TIERS: &str = "/api/v2/product/init_tier_variation";

/// Every Shopee API call the sandbox counted so far.
async fn all_calls(w: &World) -> u64 {
    let stats = w.sandbox.stats().await;
    stats["calls"]
        .as_object()
        .map_or(0, |calls| calls.values().filter_map(Value::as_u64).sum())
}

#[tokio::test]
async fn a_create_costs_add_item_and_init_tier_variation_and_reference_data_is_read_once() {
    let w = default_world().await;
    let image = w.image().await;
    let before = all_calls(&w).await;
    let oil = w.create(&oil_draft(&image)).await;
    assert_eq!(oil.variants.len(), 6);
    assert!(oil.variants.iter().all(|v| v.variant_id != "0"), "{oil:?}");
    // The first create of a category also reads its reference data, once.
    for (path, expected) in [
        (ITEM_LIMIT, 1),
        (ATTRIBUTE_TREE, 1),
        (BRAND_LIST, 1),
        (CHANNEL_LIST, 1),
        (ADD_ITEM, 1),
        (INIT_TIERS, 1),
    ] {
        assert_eq!(w.sandbox.calls(path).await, expected, "{path}");
    }
    assert_eq!(all_calls(&w).await - before, 6);

    // The next product with variations: add_item + init_tier_variation only.
    let before = all_calls(&w).await;
    let mut second = oil_draft(&image);
    second.product_key = "TD-HOI".into();
    for variant in &mut second.variants {
        variant.sku = variant.sku.replace("TDQ", "TDH");
    }
    let created = w.create(&second).await;
    assert_eq!(
        all_calls(&w).await - before,
        2,
        "add_item + init_tier_variation"
    );
    let held = w.held_item("TD-HOI").await;
    assert_eq!(held["status"], "NORMAL");
    let models = held["models"].as_array().cloned().unwrap_or_default();
    for variant in &created.variants {
        let model = models
            .iter()
            .find(|m| m["sku"] == variant.sku.as_str())
            .expect("held");
        assert_eq!(model["model_id"].to_string(), variant.variant_id);
        assert_eq!(
            (model["price"].as_i64(), model["stock"].as_i64()),
            (Some(variant.price), Some(10))
        );
    }

    // A single-SKU product in a category already read: add_item alone.
    w.create(&single_draft(&image, "MD-1KG")).await;
    let before = all_calls(&w).await;
    let noodles = w.create(&single_draft(&image, "MD-500G")).await;
    assert_eq!(all_calls(&w).await - before, 1, "add_item only");
    assert_eq!(noodles.variants[0].stock, 300);
    assert_eq!(w.held_item("MD-500G").await["stock"], 300);
}

#[tokio::test]
async fn item_limits_are_read_as_ranges_and_checked_before_writing() {
    let w = default_world().await;
    let image = w.image().await;
    let limit = w.shopee.item_limit("100210").await.expect("limit");
    let name = limit.item_name_length_limit.expect("name limit");
    assert_eq!((name.min_limit, name.max_limit), (Some(1.0), Some(120.0)));
    assert_eq!(
        limit.price_limit.and_then(|p| p.max_limit),
        Some(120_000_000.0)
    );
    let mut draft = single_draft(&image, "MD-200G");
    draft.title = "Miến ".repeat(30);
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("long");
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, ref field, ref message }
            if code == "chosync_item_limit" && field.as_deref() == Some("title") && message.contains("1–120")),
        "{err}"
    );
    draft = single_draft(&image, "MD-200G");
    draft.variants[0].stock = 1_000_000;
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("stock");
    assert!(
        matches!(err, ConnectorError::Rejected { ref field, .. } if field.as_deref() == Some("stock")),
        "{err}"
    );
    assert_eq!(w.sandbox.calls(ITEM_LIMIT).await, 1, "read once");
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 0);
}

#[tokio::test]
async fn a_drop_down_value_is_sent_as_its_option_id_and_a_value_no_option_names_is_refused() {
    let w = default_world().await;
    let image = w.image().await;
    let described = w
        .shopee
        .category_attributes("100150")
        .await
        .expect("attributes");
    let origin = described.iter().find(|a| a.id == "100037").expect("origin");
    assert!(origin.allows("việt nam"));
    assert!(!origin.allows("Viet Nam"));
    let free = described
        .iter()
        .find(|a| a.id == "100010")
        .expect("sub-brand");
    assert_eq!(free.options, None, "free text");

    let mut draft = oil_draft(&image);
    draft.attributes = vec![("100037".into(), "Viet Nam".into())];
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("no such option");
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, ref message, .. }
            if code == "chosync_attribute_value"
                && message.contains("value \"Viet Nam\" is not one of its options (Việt Nam, Trung Quốc")),
        "{err}"
    );
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 0);

    // The sandbox takes a drop-down only by id (it refuses value_id 0), and
    // free text only as a custom value: both kinds in one item.
    draft.attributes = vec![
        ("100037".into(), "Việt Nam".into()),
        ("100010".into(), "Quế rừng".into()),
    ];
    w.create(&draft).await;
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 1);
}

#[tokio::test]
async fn brands_come_from_the_paged_list_and_a_mandatory_one_is_never_sent_as_no_brand() {
    let w = default_world().await;
    let image = w.image().await;
    // Foods have 123 brands, a page of 100 at a time: a brand on the first
    // page costs that page only...
    let mut draft = single_draft(&image, "GA-10KG");
    draft.brand = Some("Nông sản 005".into());
    w.create(&draft).await;
    assert_eq!(w.sandbox.calls(BRAND_LIST).await, 1);
    // ...one on the second page, the next page.
    let mut draft = single_draft(&image, "GA-5KG");
    draft.brand = Some("Nông sản 110".into());
    w.create(&draft).await;
    assert_eq!(w.sandbox.calls(BRAND_LIST).await, 2);
    // A brand the list lacks goes as "No Brand" where a brand is optional.
    let mut draft = single_draft(&image, "GA-2KG");
    draft.brand = Some("Hợp tác xã Không Tên".into());
    w.create(&draft).await;
    assert_eq!(w.sandbox.calls(BRAND_LIST).await, 2, "cached");

    // 100152 requires a brand of its list.
    let mut draft = single_draft(&image, "SN-50G");
    draft.category_id = "100152".into();
    draft.attributes.clear();
    draft.brand = None;
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("no brand");
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, ref field, .. }
            if code == "chosync_brand" && field.as_deref() == Some("brand")),
        "{err}"
    );
    draft.brand = Some("Không Có".into());
    w.shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("not on the list");
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 3, "neither was sent");
    draft.brand = Some("hương ngàn".into());
    w.create(&draft).await;
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 4);
}

#[tokio::test]
async fn logistics_channels_are_checked_and_sent_with_what_their_fee_type_needs() {
    let w = default_world().await;
    let image = w.image().await;
    let mapped: Vec<String> = [
        "50018",
        "50021",
        "50021:9",
        "50011",
        "50011:25000",
        "50010",
        "77777",
        "GHN",
        "50018:1",
    ]
    .map(String::from)
    .to_vec();
    let problems = w
        .shopee
        .logistics_problems(&mapped)
        .await
        .expect("channels");
    let named: Vec<&str> = problems
        .iter()
        .map(|p| p.split('"').nth(1).unwrap_or(""))
        .collect();
    // A size-priced channel needs its size named: each size has its own fee.
    assert_eq!(
        named,
        [
            "50021", "50021:9", "50011", "50010", "77777", "GHN", "50018:1"
        ],
        "{problems:#?}"
    );
    assert!(problems[2].contains("\"50011:FEE\""), "{}", problems[2]);

    let mut draft = single_draft(&image, "HD-1KG");
    draft.logistics = ["50018", "50021:2", "50011:25000"]
        .map(String::from)
        .to_vec();
    w.create(&draft).await;
    draft = single_draft(&image, "HD-500G");
    draft.logistics = vec!["50010".into()];
    let err = w
        .shopee
        .upsert_listing(&draft, None)
        .await
        .expect_err("disabled");
    assert!(
        matches!(err, ConnectorError::Rejected { ref code, ref message, .. }
            if code == "chosync_logistics" && message.contains("\"50010\" (Viettel Post) is disabled")),
        "{err}"
    );
    assert_eq!(
        w.sandbox.calls(CHANNEL_LIST).await,
        1,
        "read once per client"
    );
    assert_eq!(w.sandbox.calls(ADD_ITEM).await, 1);
}

#[tokio::test]
async fn lost_pushes_are_read_with_a_public_signature_and_their_data_string_decoded() {
    let w = default_world().await;
    w.create_single("QS-500G").await;
    let order = w.running.sandbox.place_order("QS-500G", 1).expect("order");
    // A client of the same partner that holds no shop token at all.
    let key = w.running.credentials.partner_key.clone();
    let (partner_only, _, _) = connect(&w.running, &key, 100, Arc::new(SystemClock));
    let lost = partner_only.lost_pushes().await.expect("public call");
    confirm_the_one_lost_push(&w, &partner_only, &lost, order).await;
    let data = &lost.push_message_list[0].data;
    assert!(data.is_string(), "the schema's data is a string: {data}");
}

#[tokio::test]
async fn a_partly_cancelled_line_and_a_model_bought_twice_are_told_apart() {
    let w = default_world().await;
    w.create_single("TR-100G").await;
    let order = w
        .running
        .sandbox
        .place_order_of(&[("TR-100G", 3), ("TR-100G", 1)])
        .expect("order");
    let read = w
        .shopee
        .get_orders(std::slice::from_ref(&order))
        .await
        .expect("detail");
    let lines = &read[0].lines;
    assert_eq!(lines.len(), 2);
    assert_ne!(lines[0].line_id, lines[1].line_id, "{lines:?}");
    assert_eq!((lines[0].quantity, lines[1].quantity), (3, 1));
    assert_eq!(remote_stock(&w).await, 296);

    // The seller cancels 2 of the 3 units of the first line; the rest ships.
    let cancelled = w
        .sandbox
        .control(
            &format!("/_sandbox/shopee/orders/{order}/cancel-units"),
            serde_json::json!({ "line": 0, "quantity": 2 }),
        )
        .await;
    assert_eq!(cancelled["ok"], true, "{cancelled}");
    let again = w
        .shopee
        .get_orders(std::slice::from_ref(&order))
        .await
        .expect("detail");
    let lines = &again[0].lines;
    assert_eq!(again[0].state, OrderState::Paid);
    assert_eq!(lines[0].line_id, read[0].lines[0].line_id, "stable ids");
    assert_eq!((lines[0].quantity, lines[0].cancelled_quantity), (3, 2));
    assert_eq!(lines[1].cancelled_quantity, 0);
    assert_eq!(remote_stock(&w).await, 298);
}

#[tokio::test]
async fn a_refresh_whose_answer_was_lost_is_not_repeated_blindly_and_pauses_the_channel() {
    let w = default_world().await;
    w.sandbox
        .faults(serde_json::json!({ "timeout_rate": 1.0, "only": "/api/v2/auth/access_token/get" }))
        .await;
    let control = common::control::Control::new(w.running.addr);
    let refresh = tokio::spawn(async move {
        let result = w.shopee.refresh_credentials().await;
        (w, result)
    });
    // Only the first answer is lost: the faults go once the sandbox has done
    // that refresh (and spent the token), before the client's time-out.
    for _ in 0..200 {
        if control.calls("/api/v2/auth/access_token/get").await >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    control.faults(serde_json::json!({})).await;
    let (w, result) = refresh.await.expect("join");
    let err = result.expect_err("the spent token is refused on the second try");
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m)
            if m.starts_with("paused: re-authorize channel shopee-test") && m.contains("error_shop_refresh_token")),
        "{err}"
    );
    assert_eq!(
        w.sandbox.calls("/api/v2/auth/access_token/get").await,
        2,
        "the lost one and one more, no blind retries"
    );
}

#[tokio::test]
async fn items_in_review_or_banned_are_found_so_a_lost_create_is_adopted_not_repeated() {
    let w = default_world().await;
    let reviewing = w.create_single("CH-1KG").await;
    let banned = w.create_single("CH-2KG").await;
    let deleted = w.create_single("CH-3KG").await;
    let sandbox = &w.running.sandbox;
    let id = |l: &RemoteListing| l.listing_id.parse::<i64>().expect("id");
    sandbox
        .set_item_status(id(&reviewing), "REVIEWING")
        .expect("review");
    sandbox.set_item_status(id(&banned), "BANNED").expect("ban");
    sandbox
        .set_item_status(id(&deleted), "SHOPEE_DELETE")
        .expect("delete");
    for (sku, status) in [("CH-1KG", "REVIEWING"), ("CH-2KG", "BANNED")] {
        let found = w.shopee.find_listing_by_sku(sku).await.expect("look-up");
        assert_eq!(found.map(|l| l.status).as_deref(), Some(status), "{sku}");
    }
    assert_eq!(
        w.shopee
            .find_listing_by_sku("CH-3KG")
            .await
            .expect("look-up"),
        None
    );

    // add_item's answer lost while the new item sits in review: adopted.
    w.sandbox
        .faults(serde_json::json!({ "timeout_rate": 1.0, "only": ADD_ITEM }))
        .await;
    let image = w.image().await;
    let sandbox = w.running.sandbox.clone();
    let watcher = tokio::spawn(async move {
        // Shopee puts the new item in review before the client looks it up.
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let held = sandbox.listings();
            if let Some(item) = held
                .as_array()
                .and_then(|items| items.iter().find(|i| i["item_sku"] == "CH-5KG"))
            {
                let item_id = item["item_id"].as_i64().expect("id");
                sandbox
                    .set_item_status(item_id, "REVIEWING")
                    .expect("review");
                return;
            }
        }
    });
    let adopted = w
        .shopee
        .upsert_listing(&single_draft(&image, "CH-5KG"), None)
        .await
        .expect("adopted");
    watcher.await.expect("watcher");
    assert_eq!(adopted.status, "REVIEWING");
    assert_eq!(
        w.sandbox.calls(ADD_ITEM).await,
        4,
        "three creates and the lost one"
    );
    let twins = w
        .listings()
        .await
        .into_iter()
        .filter(|i| i["item_sku"] == "CH-5KG")
        .count();
    assert_eq!(twins, 1);
}

#[test]
fn the_client_keeps_headroom_below_the_assumed_quota() {
    let limits = ShopeeConfig::default_limits();
    assert_eq!(limits.buckets.len(), 1);
    assert_eq!(limits.buckets[0].per_second.get(), 9);
    assert_eq!(SandboxConfig::default().rate.get(), 10);
}

impl World {
    /// A raw request as another client would send it: shop-signed when
    /// `shop` (access token and shop id in the query), public otherwise.
    async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        shop: bool,
    ) -> reqwest::RequestBuilder {
        let c = &self.running.credentials;
        let ts = SystemClock.now().timestamp();
        let token = self.stored_tokens().await.access_token;
        let token = token.expose_secret();
        let mut common = vec![
            ("partner_id".to_string(), c.partner_id.to_string()),
            ("timestamp".to_string(), ts.to_string()),
        ];
        let sign = if shop {
            common.push(("access_token".into(), token.to_string()));
            common.push(("shop_id".into(), c.shop_id.to_string()));
            chosync_shopee::sign::shop(&c.partner_key, c.partner_id, path, ts, token, c.shop_id)
        } else {
            chosync_shopee::sign::public(&c.partner_key, c.partner_id, path, ts)
        };
        common.push(("sign".into(), sign));
        self.sandbox
            .http
            .request(method, format!("{}{path}", self.running.base_url))
            .query(&common)
            .query(query)
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn the_sandbox_takes_what_other_clients_send() {
    let w = default_world().await;
    let a = w.create_single("BT-1").await.listing_id;
    let b = w.create_single("BT-2").await.listing_id;
    let base_info = "/api/v2/product/get_item_base_info";
    // Arrays repeated (as the SDKs send them) or comma-separated.
    let repeated = [("item_id_list", a.as_str()), ("item_id_list", b.as_str())];
    let joined = format!("{a},{b}");
    for query in [&repeated[..], &[("item_id_list", joined.as_str())][..]] {
        let got = answer(w.raw(reqwest::Method::GET, base_info, query, true).await).await;
        assert_eq!(
            got["response"]["item_list"].as_array().map(Vec::len),
            Some(2),
            "{got}"
        );
    }

    // Public APIs called shop-signed, as congminh1254/shopee-sdk does.
    let part = reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("a.png");
    let form = reqwest::multipart::Form::new().part("image", part);
    let upload = "/api/v2/media_space/upload_image";
    let got = answer(
        w.raw(reqwest::Method::POST, upload, &[], true)
            .await
            .multipart(form),
    )
    .await;
    assert_eq!(got["error"], "", "{got}");
    let lost = "/api/v2/push/get_lost_push_message";
    for shop in [true, false] {
        let got = answer(w.raw(reqwest::Method::GET, lost, &[], shop).await).await;
        assert_eq!(got["error"], "", "{got}");
    }

    // A drop-down refuses a custom value (value_id 0) and an id not its own.
    let image = w.image().await;
    let add = "/api/v2/product/add_item";
    for value in [
        serde_json::json!({ "value_id": 0, "original_value_name": "Việt Nam" }),
        serde_json::json!({ "value_id": 999 }),
    ] {
        let body = serde_json::json!({
            "item_name": "Tinh dầu sả chanh", "description": "Tinh dầu sả chanh nguyên chất, chưng cất thủ công.",
            "original_price": 90000, "weight": 0.1, "category_id": 100150,
            "image": { "image_id_list": [image] }, "logistic_info": [{ "logistic_id": 50018, "enabled": true }],
            "attribute_list": [{ "attribute_id": 100037, "attribute_value_list": [value] }],
        });
        let got = answer(
            w.raw(reqwest::Method::POST, add, &[], true)
                .await
                .json(&body),
        )
        .await;
        assert_eq!(got["error"], "error_param", "{got}");
        assert!(
            got["message"]
                .as_str()
                .is_some_and(|m| m.contains("100037")),
            "{got}"
        );
    }

    // The deprecated tier_variation form of init_tier_variation.
    let body = serde_json::json!({
        "item_id": w.create_single("BT-4").await.listing_id.parse::<i64>().expect("id"),
        "tier_variation": [{ "name": "Size", "option_list": [{ "option": "S" }, { "option": "M" }] }],
        "model": [
            { "tier_index": [0], "original_price": 65000, "model_sku": "BT-4-S", "seller_stock": [{ "stock": 2 }] },
            { "tier_index": [1], "original_price": 70000, "model_sku": "BT-4-M", "seller_stock": [{ "stock": 3 }] },
        ],
    });
    tokio::time::sleep(chosync_shopee::TIER_WAIT).await;
    let init = "/api/v2/product/init_tier_variation";
    let got = answer(
        w.raw(reqwest::Method::POST, init, &[], true)
            .await
            .json(&body),
    )
    .await;
    assert_eq!(got["error"], "", "{got}");
    let models = got["response"]["model"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(models.len(), 2);
    assert!(
        models
            .iter()
            .all(|m| m["model_id"].as_i64().is_some_and(|id| id > 0))
    );
    assert_eq!(
        got["response"]["tier_variation"][0]["option_list"][1]["option"],
        "M"
    );
}

#[tokio::test]
async fn the_sandbox_refuses_the_brand_and_logistics_shopee_refuses() {
    let w = default_world().await;
    let image = w.image().await;
    let add = "/api/v2/product/add_item";
    let item = |category: i64, brand: Value, logistics: Value| {
        serde_json::json!({
            "item_name": "Bánh đa kê", "description": "Bánh đa kê Hà Nội, giòn thơm, làm thủ công.",
            "original_price": 45000, "weight": 0.2, "category_id": category,
            "image": { "image_id_list": [image] }, "brand": brand, "logistic_info": logistics,
            "attribute_list": if category == 100_210 {
                serde_json::json!([{ "attribute_id": 100095, "attribute_value_list": [{ "value_id": 0, "original_value_name": "6 tháng" }] }])
            } else {
                serde_json::json!([])
            },
        })
    };
    let no_brand = serde_json::json!({ "brand_id": 0, "original_brand_name": "No Brand" });
    let spx = serde_json::json!([{ "logistic_id": 50018, "enabled": true }]);
    let refused = [
        // No Brand where the brand is mandatory, and a brand of no list.
        item(100_152, no_brand.clone(), spx.clone()),
        item(
            100_210,
            serde_json::json!({ "brand_id": 42, "original_brand_name": "X" }),
            spx.clone(),
        ),
        // A size-priced channel without its size, a custom-priced one without its fee,
        // a disabled one, an unknown one.
        item(
            100_210,
            no_brand.clone(),
            serde_json::json!([{ "logistic_id": 50021, "enabled": true }]),
        ),
        item(
            100_210,
            no_brand.clone(),
            serde_json::json!([{ "logistic_id": 50011, "enabled": true }]),
        ),
        item(
            100_210,
            no_brand.clone(),
            serde_json::json!([{ "logistic_id": 50010, "enabled": true }]),
        ),
        item(
            100_210,
            no_brand.clone(),
            serde_json::json!([{ "logistic_id": 77777, "enabled": true }]),
        ),
    ];
    for body in refused {
        let got = answer(
            w.raw(reqwest::Method::POST, add, &[], true)
                .await
                .json(&body),
        )
        .await;
        assert_ne!(got["error"], "", "{body}\n{got}");
    }
    let accepted = item(
        100_210,
        no_brand,
        serde_json::json!([
            { "logistic_id": 50021, "enabled": true, "size_id": 2 },
            { "logistic_id": 50011, "enabled": true, "shipping_fee": 25000 },
        ]),
    );
    let got = answer(
        w.raw(reqwest::Method::POST, add, &[], true)
            .await
            .json(&accepted),
    )
    .await;
    assert_eq!(got["error"], "", "{got}");
    assert!(w.listings().await.len() == 1);
}
