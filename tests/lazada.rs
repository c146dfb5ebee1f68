//! The Lazada connector against the Lazada sandbox, over real loopback HTTP.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chosync::clock::{Clock, FixedClock, SystemClock};
use chosync_connector::credentials::{CredentialStore, MemoryCredentials, TokenPair};
use chosync_connector::dto::{
    AttributeSpec, ItemOutcome, ListingDraft, OrderRef, OrderState, OrderWindow, PriceSet,
    RemoteListing, StockSet, VariantDraft, WebhookHint,
};
use chosync_connector::events::{AttemptEvent, Recorded};
use chosync_connector::http::{HttpConfig, RetryPolicy};
use chosync_connector::sandbox::{Faults, Platform};
use chosync_connector::{Bucket, Connector, ConnectorError, EndpointClass, Limits};
use chosync_lazada::sandbox::{LazadaSandbox, Running, SandboxConfig};
use chosync_lazada::{Lazada, LazadaConfig};
use secrecy::ExposeSecret;
use serde_json::Value;

struct World {
    running: Running,
    lazada: Lazada,
    events: Arc<Recorded>,
    credentials: Arc<MemoryCredentials>,
    sandbox: common::control::Control,
}

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

fn limits(inventory: u32, other: u32) -> Limits {
    use EndpointClass::*;
    Limits {
        buckets: vec![
            Bucket {
                name: "inventory",
                per_second: rate(inventory),
                classes: vec![Inventory],
            },
            Bucket {
                name: "other",
                per_second: rate(other),
                classes: vec![Auth, Catalogue, Orders, Media, Push],
            },
        ],
    }
}

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        other_rate: rate(100),
        // QC is instant here; the QC test sets its own delay.
        qc_delay: Duration::ZERO,
        ..SandboxConfig::default()
    }
}

fn connect(
    running: &Running,
    secret: &str,
    limits: Limits,
    clock: Arc<dyn Clock>,
) -> (Lazada, Arc<Recorded>, Arc<MemoryCredentials>) {
    let events = Arc::new(Recorded::default());
    let credentials = Arc::new(MemoryCredentials::default());
    let config = LazadaConfig {
        channel: "lazada-test".into(),
        base_url: running.base_url.clone(),
        auth_url: running.auth_url.clone(),
        app_key: running.credentials.app_key.clone(),
        app_secret: secret.to_string().into(),
        limits,
        http: HttpConfig {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                first_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(1),
                deadline: Duration::from_secs(60),
                max_attempts: 12,
            },
        },
    };
    let lazada =
        Lazada::new(config, credentials.clone(), events.clone(), clock).expect("connector");
    (lazada, events, credentials)
}

async fn world_with(config: SandboxConfig, client: Limits, clock: Arc<dyn Clock>) -> World {
    let running = LazadaSandbox::start(config, 0).await.expect("sandbox");
    let secret = running.credentials.app_secret.clone();
    let (lazada, events, credentials) = connect(&running, &secret, client, clock);
    lazada
        .authorize(&running.credentials.code)
        .await
        .expect("authorize");
    World {
        sandbox: common::control::Control::new(running.addr),
        running,
        lazada,
        events,
        credentials,
    }
}

async fn world() -> World {
    world_with(sandbox_config(), limits(50, 100), Arc::new(SystemClock)).await
}

/// A world whose sandbox and client share a clock that stands at `start`
/// (RFC 3339) until a test moves it.
async fn world_at(start: &str, client: Limits) -> (World, Arc<FixedClock>) {
    let start = chrono::DateTime::parse_from_rfc3339(start)
        .expect("time")
        .to_utc();
    let clock = Arc::new(FixedClock::new(start));
    let sandbox = SandboxConfig {
        clock: clock.clone(),
        ..sandbox_config()
    };
    (world_with(sandbox, client, clock.clone()).await, clock)
}

impl World {
    /// The orders listed from a minute before `start` up to `clock`'s now.
    async fn orders_since(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        clock: &FixedClock,
    ) -> Vec<OrderRef> {
        self.lazada
            .list_orders(OrderWindow {
                from: start - chrono::Duration::minutes(1),
                to: clock.now(),
            })
            .await
            .expect("orders")
    }

    async fn listings(&self) -> Value {
        self.sandbox.inspect("/_sandbox/listings").await
    }

    /// Every SKU the sandbox holds with this SellerSku, over all products.
    async fn held(&self, seller_sku: &str) -> Vec<Value> {
        let all = self.listings().await;
        all.as_array()
            .into_iter()
            .flatten()
            .flat_map(|p| p["skus"].as_array().cloned().unwrap_or_default())
            .filter(|s| s["SellerSku"] == seller_sku)
            .collect()
    }

    async fn sku(&self, seller_sku: &str) -> Value {
        self.held(seller_sku)
            .await
            .into_iter()
            .next()
            .expect("sku held")
    }

    async fn image(&self) -> String {
        let images = self
            .lazada
            .lazada_images(&["https://cdn.htx-backan.vn/mien-dong.jpg".to_string()])
            .await
            .expect("migrate");
        images[0].clone()
    }

    async fn create(&self, draft: &ListingDraft) -> RemoteListing {
        self.lazada
            .upsert_listing(draft, None)
            .await
            .expect("create")
    }

    /// Whether any attempt so far is one `which` picks.
    fn any_event(&self, which: impl Fn(&AttemptEvent) -> bool) -> bool {
        self.events.events().iter().any(which)
    }

    async fn stored_tokens(&self) -> TokenPair {
        self.credentials
            .load("lazada-test")
            .await
            .expect("load")
            .expect("pair")
    }

    /// A seller call made outside the connector, as an SDK would: the system
    /// parameters and `params` signed over every parameter (Python
    /// `lazop-sdk`) or, with `skip_empty`, over the non-empty ones (the Java
    /// sample of `signature-algorithm.md`); GET in the query, POST as a form.
    async fn raw(
        &self,
        post: bool,
        path: &str,
        params: &[(&str, &str)],
        skip_empty: bool,
    ) -> Value {
        let tokens = self.stored_tokens().await;
        let timestamp = SystemClock.now().timestamp_millis().to_string();
        let key = self.running.credentials.app_key.clone();
        let mut all: Vec<(&str, &str)> = vec![
            ("app_key", key.as_str()),
            ("timestamp", timestamp.as_str()),
            ("sign_method", "sha256"),
            ("access_token", tokens.access_token.expose_secret()),
        ];
        all.extend_from_slice(params);
        let signed: Vec<(&str, &str)> = all
            .iter()
            .copied()
            .filter(|(_, v)| !skip_empty || !v.is_empty())
            .collect();
        let sign =
            chosync_lazada::sign::request(&self.running.credentials.app_secret, path, &signed);
        all.push(("sign", sign.as_str()));
        let url = format!("{}{path}", self.running.base_url);
        let request = if post {
            self.sandbox.http.post(url).form(&all)
        } else {
            self.sandbox.http.get(url).query(&all)
        };
        request
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("JSON")
    }
}

fn assert_all_ok(outcomes: &[ItemOutcome]) {
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
}

fn stock_set(listing: &RemoteListing, sku: &str, quantity: i64) -> StockSet {
    StockSet {
        sku: sku.into(),
        at: listing.at(sku).expect("ref"),
        quantity,
    }
}

fn draft(product: &str, image: &str, sizes: &[&str], packs: &[&str], stock: i64) -> ListingDraft {
    let mut variants = Vec::new();
    for size in sizes {
        for pack in packs {
            let mut option_values = vec![size.to_string()];
            if !pack.is_empty() {
                option_values.push(pack.to_string());
            }
            variants.push(VariantDraft {
                sku: format!(
                    "{product}-{}{}",
                    size.replace(' ', ""),
                    pack.replace(' ', "")
                ),
                option_values,
                price: 65_000,
                stock,
            });
        }
    }
    let mut option_names = vec!["Khối lượng".to_string()];
    if packs.iter().any(|p| !p.is_empty()) {
        option_names.push("Đóng gói".into());
    }
    ListingDraft {
        product_key: product.into(),
        title: format!("Miến dong Côn Minh {product}"),
        description: "<p>Miến dong riềng đỏ Côn Minh, sợi dai, không chất tẩy trắng.</p>".into(),
        category_id: "10000150".into(),
        // Lazada's id of "No Brand".
        brand: Some("94125".into()),
        // Mandatory in the sandbox's category 10000150.
        attributes: vec![("warranty_type".into(), "Không bảo hành".into())],
        images: vec![image.into()],
        weight_g: 520,
        dimensions_cm: Some([25, 15, 5]),
        logistics: vec![],
        option_names,
        variants,
        listed: true,
    }
}

#[tokio::test]
async fn a_product_with_four_skus_is_created_then_passes_qc() {
    let w = world_with(
        SandboxConfig {
            qc_delay: Duration::from_millis(300),
            ..sandbox_config()
        },
        limits(50, 100),
        Arc::new(SystemClock),
    )
    .await;
    let image = w.image().await;
    let listing = w
        .create(&draft(
            "MD",
            &image,
            &["500 g", "1 kg"],
            &["Túi", "Hộp"],
            30,
        ))
        .await;
    assert_eq!(listing.variants.len(), 4);
    assert_eq!(listing.status, "Pending QC");
    // The create's answer named the product and every SKU: nothing was read back.
    assert_eq!(w.sandbox.calls("/product/create").await, 1);
    assert_eq!(w.sandbox.calls("/product/item/get").await, 0);
    assert_eq!(w.sandbox.calls("/products/get").await, 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = w
        .lazada
        .find_listing_by_sku("MD-1kgHộp")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(again.status, "Active");
    assert_eq!(again.listing_id, listing.listing_id);
    for variant in &listing.variants {
        assert_eq!(
            again.variant(&variant.sku),
            Some(variant),
            "{}",
            variant.sku
        );
    }
    assert_eq!(again.variant("MD-500gTúi").expect("sku").stock, 30);
}

#[tokio::test]
async fn one_hundred_and_twenty_skus_of_forty_products_go_in_three_calls() {
    let w = world().await;
    let image = w.image().await;
    let mut listings: Vec<RemoteListing> = Vec::new();
    for n in 0..40 {
        let product = format!("P{n:02}");
        let sizes = draft(&product, &image, &["200 g", "500 g", "1 kg"], &[""], 5);
        listings.push(w.create(&sizes).await);
    }
    let stock: Vec<StockSet> = listings
        .iter()
        .flat_map(|l| l.variants.iter().map(move |v| stock_set(l, &v.sku, 17)))
        .collect();
    assert_eq!(stock.len(), 120);
    let outcomes = w.lazada.set_stock(&stock).await;
    assert_all_ok(&outcomes);
    assert_eq!(w.sandbox.calls("/product/stock/sellable/update").await, 3);
    let prices: Vec<PriceSet> = stock
        .iter()
        .map(|s| PriceSet {
            sku: s.sku.clone(),
            at: s.at.clone(),
            price: 70_000,
        })
        .collect();
    let outcomes = w.lazada.set_price(&prices).await;
    assert_all_ok(&outcomes);
    assert_eq!(w.sandbox.calls("/product/price_quantity/update").await, 3);
    let held = w.sku("P39-1kg").await;
    assert_eq!(
        (held["Available"].as_i64(), held["price"].as_f64()),
        (Some(17), Some(70_000.0))
    );
}

#[tokio::test]
async fn more_than_five_thousand_orders_are_read_by_moving_the_window() {
    let (w, clock) = world_at("2026-11-01T08:00:00+07:00", limits(50, 1000)).await;
    let start = clock.now();
    let image = w.image().await;
    w.create(&draft("GBT", &image, &["5 kg"], &[""], 10_000))
        .await;
    let mut ids = Vec::new();
    for n in 0..5_300 {
        ids.push(w.running.sandbox.place_order("GBT-5kg", 1).expect("order"));
        if n % 7 == 0 {
            clock.advance(chrono::Duration::seconds(1));
        }
    }
    let found = w.orders_since(start, &clock).await;
    let mut got: Vec<String> = found.iter().map(|o| o.order_id.clone()).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    assert!(w.sandbox.calls("/orders/get").await >= 54);
}

#[tokio::test]
async fn two_units_of_one_sku_are_two_order_items() {
    let w = world().await;
    let image = w.image().await;
    w.create(&draft("HD", &image, &["500 g"], &[""], 10)).await;
    let id = w.running.sandbox.place_order("HD-500g", 2).expect("order");
    let orders = w
        .lazada
        .get_orders(std::slice::from_ref(&id))
        .await
        .expect("items");
    let units: i64 = orders[0]
        .lines
        .iter()
        .filter(|l| l.sku == "HD-500g")
        .map(|l| l.quantity)
        .sum();
    assert_eq!(units, 2);
    assert_eq!(orders[0].lines.len(), 2);
    assert_ne!(orders[0].lines[0].line_id, orders[0].lines[1].line_id);
}

#[tokio::test]
async fn sellable_stock_after_a_push_is_the_allotted_quantity_even_while_an_unpaid_order_holds_some()
 {
    let w = world().await;
    let image = w.image().await;
    let listing = w.create(&draft("MN", &image, &["100 g"], &[""], 10)).await;
    let order = w
        .running
        .sandbox
        .place_order("MN-100g", 3)
        .expect("unpaid order");
    assert_eq!(w.sku("MN-100g").await["Available"], 7);
    let outcomes = w
        .lazada
        .set_stock(&[stock_set(&listing, "MN-100g", 20)])
        .await;
    assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    let held = w.sku("MN-100g").await;
    let warehouse = &held["multiWarehouseInventories"][0];
    assert_eq!(
        (
            held["Available"].as_i64(),
            warehouse["sellableQuantity"].as_i64(),
            warehouse["withholdQuantity"].as_i64(),
            warehouse["totalQuantity"].as_i64(),
        ),
        (Some(20), Some(20), Some(3), Some(23))
    );
    // Read back through the documented fields, not Lazada's total.
    let read = w
        .lazada
        .find_listing_by_sku("MN-100g")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(read.variant("MN-100g").map(|v| v.stock), Some(20));
    // Cancelling before shipping releases the hold.
    w.running
        .sandbox
        .cancel_order(&order, None)
        .expect("cancel");
    assert_eq!(w.sku("MN-100g").await["Available"], 23);
    // An out-of-stock cancellation sets the stock to 0, as Lazada does.
    let second = w.running.sandbox.place_order("MN-100g", 1).expect("order");
    w.sandbox
        .control(
            &format!("/_sandbox/orders/{second}/cancel"),
            serde_json::json!({ "reason": "out_of_stock" }),
        )
        .await;
    assert_eq!(w.sku("MN-100g").await["Available"], 0);
}

/// `calls` stock pushes at once to one new SKU, each of which must succeed,
/// with the client's limits `client`; the world and the sandbox's stats after.
async fn hammered(client: Limits, calls: usize) -> (World, Value) {
    let w = world_with(sandbox_config(), client, Arc::new(SystemClock)).await;
    let image = w.image().await;
    let listing = w.create(&draft("TRA", &image, &["100 g"], &[""], 5)).await;
    let sku = listing.variants[0].sku.clone();
    let tasks = (0..calls).map(|i| {
        let item = stock_set(&listing, &sku, (i % 40) as i64);
        let lazada = &w.lazada;
        async move { lazada.set_stock(&[item]).await }
    });
    for outcomes in futures_util::future::join_all(tasks).await {
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    }
    let stats = w.sandbox.stats().await;
    (w, stats)
}

#[tokio::test]
async fn a_client_at_its_default_limits_is_never_throttled() {
    let (_w, stats) = hammered(LazadaConfig::default_limits(), 500).await;
    assert_eq!(stats["throttled"], 0, "{stats}");
    assert_eq!(stats["calls"]["/product/stock/sellable/update"], 500);
}

#[tokio::test]
async fn a_client_set_too_fast_is_banned_backs_off_and_completes() {
    let (w, stats) = hammered(limits(400, 100), 200).await;
    assert!(stats["throttled"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert!(w.any_event(|e| e.platform_code.as_deref() == Some("ApiCallLimit")));
}

#[tokio::test]
async fn twenty_percent_failures_still_end_in_one_product_per_sku() {
    let w = world().await;
    let image = w.image().await;
    w.sandbox
        .faults(serde_json::json!({ "error_rate": 0.1, "timeout_rate": 0.1 }))
        .await;
    for product in ["A1", "A2", "A3"] {
        let listing = w
            .lazada
            .upsert_listing(&draft(product, &image, &["1 kg"], &[""], 4), None)
            .await
            .expect("create under faults");
        let sku = format!("{product}-1kg");
        let outcomes = w.lazada.set_stock(&[stock_set(&listing, &sku, 9)]).await;
        assert!(outcomes[0].result.is_ok(), "{outcomes:?}");
    }
    w.sandbox.faults(serde_json::json!({})).await;
    let all = w.listings().await;
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    for product in ["A1", "A2", "A3"] {
        assert_eq!(w.sku(&format!("{product}-1kg")).await["Available"], 9);
    }
    assert!(w.any_event(|e| e.outcome != "ok"), "faults were injected");
}

#[tokio::test]
async fn a_timed_out_create_is_adopted_by_seller_sku() {
    let w = world().await;
    let image = w.image().await;
    w.sandbox
        .faults(serde_json::json!({ "timeout_rate": 1.0, "only": "/rest/product/create" }))
        .await;
    let listing = w
        .lazada
        .upsert_listing(&draft("QS", &image, &["200 g"], &[""], 4), None)
        .await
        .expect("adopted");
    assert_eq!(listing.variants[0].sku, "QS-200g");
    assert_eq!(w.sandbox.calls("/product/create").await, 1);
}

#[tokio::test]
async fn a_wrong_app_secret_is_refused_as_a_bad_signature() {
    let running = LazadaSandbox::start(sandbox_config(), 0)
        .await
        .expect("sandbox");
    let (lazada, events, _) = connect(
        &running,
        "not-the-secret",
        limits(50, 100),
        Arc::new(SystemClock),
    );
    let err = lazada
        .authorize(&running.credentials.code)
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m) if m.starts_with("IncompleteSignature")),
        "{err}"
    );
    assert_eq!(running.sandbox.kit().stats().rejected_signatures, 1);
    assert_eq!(events.events().len(), 1, "not retried");
}

#[tokio::test]
async fn tokens_refresh_without_extending_the_refresh_expiry() {
    let w = world().await;
    let before = w.stored_tokens().await;
    w.lazada.refresh_credentials().await.expect("refresh");
    let after = w.stored_tokens().await;
    assert_ne!(
        before.access_token.expose_secret(),
        after.access_token.expose_secret()
    );
    let drift = (after.refresh_expires_at.expect("expiry")
        - before.refresh_expires_at.expect("expiry"))
    .num_seconds();
    assert!(drift.abs() <= 2, "refresh expiry kept: {drift}s");
    w.lazada
        .find_listing_by_sku("NOTHING")
        .await
        .expect("the new token works");
}

#[tokio::test]
async fn images_are_migrated_once() {
    let w = world().await;
    let sources: Vec<String> = (1..=3)
        .map(|n| format!("https://cdn.htx-backan.vn/{n}.jpg"))
        .collect();
    let first = w.lazada.lazada_images(&sources).await.expect("migrate");
    let again = w.lazada.lazada_images(&sources).await.expect("cached");
    assert_eq!(first, again);
    assert!(
        first
            .iter()
            .all(|u| u.starts_with("https://vn-live.slatic.net/"))
    );
    assert_eq!(w.sandbox.calls("/images/migrate").await, 1);
    let err = w
        .lazada
        .lazada_images(&["https://127.0.0.1:8080/x.jpg".to_string()])
        .await
        .expect_err("IP literal");
    assert!(matches!(err, ConnectorError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn the_sandbox_accepts_an_xml_payload_as_lazada_does() {
    let w = world().await;
    let image = w.image().await;
    let listing = w.create(&draft("XML", &image, &["1 kg"], &[""], 4)).await;
    let remote = listing.variant("XML-1kg").expect("sku");
    let payload = format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?><Request><Product><Skus><Sku><ItemId>{}</ItemId><SkuId>{}</SkuId><SellerSku>XML-1kg</SellerSku><Price>185000</Price><Quantity>42</Quantity></Sku></Skus></Product></Request>"#,
        listing.listing_id, remote.variant_id
    );
    let answer = w
        .raw(
            true,
            "/product/price_quantity/update",
            &[("payload", payload.as_str())],
            false,
        )
        .await;
    assert_eq!(answer["code"], "0", "{answer}");
    let held = w.sku("XML-1kg").await;
    assert_eq!(
        (held["price"].as_f64(), held["quantity"].as_i64()),
        (Some(185_000.0), Some(42))
    );
}

#[tokio::test]
async fn pushes_are_verified_and_forgeries_refused() {
    let w = world().await;
    let image = w.image().await;
    w.create(&draft("NH", &image, &["200 g"], &[""], 4)).await;
    let receiver = common::webhooks::Receiver::start("/webhooks/lazada-test").await;
    w.sandbox
        .control(
            "/_sandbox/webhook-target",
            serde_json::json!({ "url": receiver.url }),
        )
        .await;
    let order = w.running.sandbox.place_order("NH-200g", 1).expect("order");
    let (signature, body) = receiver.first().await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", signature.parse().expect("header"));
    assert_eq!(
        w.lazada.verify_webhook(&headers, &body).expect("genuine"),
        WebhookHint::OrdersChanged {
            order_ids: vec![order]
        }
    );
    let mut forged = body.clone();
    forged.extend_from_slice(b" ");
    assert!(matches!(
        w.lazada.verify_webhook(&headers, &forged),
        Err(ConnectorError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn an_unlisted_draft_sets_its_skus_inactive_and_a_listed_one_active_again() {
    let w = world().await;
    let image = w.image().await;
    let mut draft = draft("HD", &image, &["500 g", "1 kg"], &[""], 6);
    let listing = w.create(&draft).await;
    assert_eq!(w.sku("HD-500g").await["Status"], "active");
    draft.listed = false;
    w.lazada
        .upsert_listing(&draft, Some(&listing))
        .await
        .expect("delist");
    for sku in ["HD-500g", "HD-1kg"] {
        assert_eq!(w.sku(sku).await["Status"], "inactive", "{sku}");
    }
    draft.listed = true;
    w.lazada
        .upsert_listing(&draft, Some(&listing))
        .await
        .expect("relist");
    assert_eq!(w.sku("HD-1kg").await["Status"], "active");
}

#[tokio::test]
async fn required_attributes_are_asked_once_per_category_and_leave_out_what_the_draft_fills() {
    let w = world().await;
    let oils = w
        .lazada
        .required_attributes("10000150")
        .await
        .expect("attributes");
    // name, description and brand are mandatory too, but the connector fills
    // them; the sale prop goes per SKU.
    assert_eq!(
        oils,
        vec![AttributeSpec {
            id: "warranty_type".into(),
            name: "Loại bảo hành".into(),
            options: None,
        }]
    );
    let again = w
        .lazada
        .required_attributes("10000150")
        .await
        .expect("cached");
    assert_eq!(again, oils);
    assert_eq!(w.sandbox.calls("/category/attributes/get").await, 1);
    let tea = w
        .lazada
        .required_attributes("10000161")
        .await
        .expect("attributes");
    assert_eq!(
        tea.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["shelf_life"]
    );
    let err = w
        .lazada
        .required_attributes("10000000")
        .await
        .expect_err("not a leaf");
    assert!(
        matches!(&err, ConnectorError::Rejected { message, .. } if message.contains("leaf")),
        "{err}"
    );
    assert_eq!(w.sandbox.calls("/category/attributes/get").await, 3);
    let err = w
        .lazada
        .required_attributes("Sức khỏe > Tinh dầu")
        .await
        .expect_err("not an id");
    assert!(
        matches!(&err, ConnectorError::Rejected { field: Some(f), .. } if f == "category_id"),
        "{err}"
    );
    assert_eq!(
        w.sandbox.calls("/category/attributes/get").await,
        3,
        "no call"
    );
}

#[tokio::test]
async fn a_create_without_a_mandatory_attribute_is_refused_and_nothing_is_created() {
    let w = world().await;
    let image = w.image().await;
    let mut bare = draft("BH", &image, &["10 ml"], &[""], 5);
    for attributes in [vec![], vec![("warranty_type".into(), "  ".into())]] {
        bare.attributes = attributes;
        let err = w
            .lazada
            .upsert_listing(&bare, None)
            .await
            .expect_err("warranty_type is mandatory");
        assert!(
            matches!(
                &err,
                ConnectorError::Rejected { field: Some(f), message, .. }
                    if f == "warranty_type" && message.contains("warranty_type")
            ),
            "{err}"
        );
    }
    assert_eq!(w.listings().await.as_array().map(Vec::len), Some(0));
    assert!(
        w.lazada
            .find_listing_by_sku("BH-10ml")
            .await
            .expect("lookup")
            .is_none()
    );
    let listing = w
        .lazada
        .upsert_listing(&draft("BH", &image, &["10 ml"], &[""], 5), None)
        .await
        .expect("created with the attribute");
    assert_eq!(listing.variants[0].sku, "BH-10ml");
    let all = w.listings().await;
    assert_eq!(all[0]["attributes"]["warranty_type"], "Không bảo hành");
}

/// The draft new SKUs are added to: `500 g` and `1 kg`.
fn two_sizes(product: &str, image: &str) -> ListingDraft {
    draft(product, image, &["500 g", "1 kg"], &[""], 8)
}

/// `two_sizes` with a third size, `2 kg`, at its own price and stock.
fn grown(product: &str, image: &str) -> ListingDraft {
    let mut grown = draft(product, image, &["500 g", "1 kg", "2 kg"], &[""], 8);
    grown.variants[2].price = 120_000;
    grown.variants[2].stock = 15;
    grown
}

#[tokio::test]
async fn a_new_size_joins_the_live_product_through_associated_sku() {
    let w = world().await;
    let image = w.image().await;
    let listing = w.create(&two_sizes("MX", &image)).await;
    let updated = w
        .lazada
        .upsert_listing(&grown("MX", &image), Some(&listing))
        .await
        .expect("a third SKU");
    assert_eq!(w.sandbox.calls("/product/create").await, 2);
    assert_eq!(w.sandbox.calls("/product/update").await, 1);
    let all = w.listings().await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(all[0]["item_id"], listing.listing_id.as_str());
    assert_eq!(all[0]["skus"].as_array().map(Vec::len), Some(3));
    let new = w.sku("MX-2kg").await;
    assert_eq!(
        (new["price"].as_f64(), new["Available"].as_i64()),
        (Some(120_000.0), Some(15))
    );
    assert_eq!(updated.listing_id, listing.listing_id);
    let mut skus: Vec<&str> = updated.variants.iter().map(|v| v.sku.as_str()).collect();
    skus.sort();
    assert_eq!(skus, ["MX-1kg", "MX-2kg", "MX-500g"]);
    let added = updated.variant("MX-2kg").expect("new SKU");
    assert_eq!(added.variant_id, new["SkuId"].to_string());
    assert_eq!((added.price, added.stock), (120_000, 15));
    for sku in ["MX-500g", "MX-1kg"] {
        assert_eq!(
            updated.variant(sku).map(|v| &v.variant_id),
            listing.variant(sku).map(|v| &v.variant_id),
            "{sku} keeps its SkuId"
        );
    }
}

#[tokio::test]
async fn a_lost_answer_to_an_associated_create_is_settled_by_reading_the_product() {
    let w = world().await;
    let image = w.image().await;
    let listing = w.create(&two_sizes("MT", &image)).await;
    // Every create answer from now on is lost (after the 2 s client time-out).
    w.running.sandbox.kit().set_faults(Faults {
        timeout_rate: 1.0,
        only: Some("/rest/product/create".into()),
        ..Faults::default()
    });
    let updated = w
        .lazada
        .upsert_listing(&grown("MT", &image), Some(&listing))
        .await
        .expect("adopted after reading the product");
    assert!(updated.variant("MT-2kg").is_some(), "{updated:?}");
    assert!(
        w.any_event(|e| e.endpoint == "/product/create" && e.outcome == "ambiguous"),
        "the answer was lost"
    );
    assert_eq!(w.sandbox.calls("/product/create").await, 2);
    assert_eq!(w.held("MT-2kg").await.len(), 1);
    // The caller still holds the listing from before: the SKU is found on
    // the product, not sent again.
    w.lazada
        .upsert_listing(&grown("MT", &image), Some(&listing))
        .await
        .expect("stale listing");
    assert_eq!(w.sandbox.calls("/product/create").await, 2);
    assert_eq!(w.held("MT-2kg").await.len(), 1);
    assert_eq!(w.sku("MT-2kg").await["Available"], 15);
}

#[tokio::test]
async fn new_skus_with_other_sale_prop_names_are_refused_without_a_write() {
    let w = world().await;
    let image = w.image().await;
    let listing = w.create(&two_sizes("MV", &image)).await;
    let mut other_axis = grown("MV", &image);
    other_axis.option_names = vec!["Trọng lượng".into()];
    let err = w
        .lazada
        .upsert_listing(&other_axis, Some(&listing))
        .await
        .expect_err("different sale props");
    assert!(
        matches!(
            &err,
            ConnectorError::Rejected { code, message, .. }
                if code == "chosync_sale_props" && message.contains("re-created")
        ),
        "{err}"
    );
    assert_eq!(w.sandbox.calls("/product/create").await, 1);
    assert_eq!(w.sandbox.calls("/product/update").await, 0);
    assert_eq!(w.held("MV-2kg").await.len(), 0);
}

#[tokio::test]
async fn full_pages_of_products_with_millisecond_times_are_walked_to_the_end() {
    let w = world().await;
    let image = w.image().await;
    for n in 0..60 {
        w.create(&draft(&format!("PG{n:02}"), &image, &["1 kg"], &[""], n))
            .await;
    }
    // One call per product: the create's answer is the listing.
    assert_eq!(w.sandbox.calls("/product/create").await, 60);
    let product = &w.listings().await[0];
    let millis = product["updated_time"].as_str().expect("a string");
    assert!(
        millis.len() == 13 && millis.bytes().all(|b| b.is_ascii_digit()),
        "{millis}"
    );
    let (mut cursor, mut seen, mut pages) = (None, Vec::new(), 0);
    loop {
        let page = w
            .lazada
            .list_remote_listings(cursor.as_deref())
            .await
            .expect("a page decodes");
        pages += 1;
        seen.extend(page.items);
        match page.next {
            Some(next) if pages < 10 => cursor = Some(next),
            _ => break,
        }
    }
    assert!(pages >= 2, "a full page was read and continued");
    assert_eq!(seen.len(), 60, "each product once");
    for n in 0..60 {
        let sku = format!("PG{n:02}-1kg");
        let listing = seen.iter().find(|l| l.carries(&sku)).expect("listed");
        assert_eq!(listing.variant(&sku).map(|v| v.stock), Some(n), "{sku}");
    }
}

#[tokio::test]
async fn order_item_times_are_read_from_epoch_milliseconds() {
    let (w, clock) = world_at("2026-11-01T08:00:00.250+07:00", limits(50, 100)).await;
    let start = clock.now();
    let image = w.image().await;
    w.create(&draft("TM", &image, &["1 kg"], &[""], 5)).await;
    let id = w.running.sandbox.place_order("TM-1kg", 1).expect("order");
    clock.advance(chrono::Duration::milliseconds(1_500));
    w.running.sandbox.pay_order(&id).expect("paid");
    let found = w.orders_since(start, &clock).await;
    assert_eq!(found.len(), 1);
    let orders = w
        .lazada
        .get_orders(std::slice::from_ref(&id))
        .await
        .expect("items");
    assert_eq!(
        (orders[0].created_at, orders[0].updated_at),
        (start, start + chrono::Duration::milliseconds(1_500))
    );
}

#[tokio::test]
async fn custom_options_are_declared_and_a_mapped_option_goes_as_the_standard_sale_prop() {
    let w = world().await;
    let image = w.image().await;
    let mut sizes = draft("VR", &image, &["500 g", "1 kg"], &["Túi", "Hộp"], 5);
    // The channel's mapping says the "Khối lượng" option is the category's `size`.
    sizes
        .attributes
        .push(("saleProp:Khối lượng".into(), "size".into()));
    w.create(&sizes).await;
    let product = &w.listings().await[0];
    assert_eq!(
        product["variation"]["Variation1"],
        serde_json::json!({ "name": "size", "label": "Kích cỡ", "hasImage": false, "customize": false, "options": ["500 g", "1 kg"] })
    );
    assert_eq!(
        product["variation"]["Variation2"],
        serde_json::json!({ "name": "Đóng gói", "label": "Đóng gói", "hasImage": false, "customize": true, "options": ["Túi", "Hộp"] })
    );
    assert_eq!(
        w.sku("VR-1kgHộp").await["saleProp"],
        serde_json::json!({ "size": "1 kg", "Đóng gói": "Hộp" })
    );
    assert!(
        product["attributes"]
            .as_object()
            .is_some_and(|a| a.keys().all(|k| !k.starts_with("saleProp"))),
        "the mapping entry is not an attribute: {product}"
    );
}

#[tokio::test]
async fn options_beyond_lazadas_variation_limits_are_refused_before_any_call() {
    let w = world().await;
    let image = w.image().await;
    let mut long_name = draft("LN", &image, &["500 g"], &[""], 5);
    long_name.option_names = vec!["Trọng lượng tịnh".into()];
    let mut long_value = draft("LV", &image, &["một bao hai mươi lăm ký"], &[""], 5);
    long_value.option_names = vec!["Khối lượng".into()];
    for (draft, field) in [(long_name, "option_names"), (long_value, "option_values")] {
        let err = w
            .lazada
            .upsert_listing(&draft, None)
            .await
            .expect_err("beyond Lazada's limits");
        assert!(
            matches!(&err, ConnectorError::Rejected { code, field: Some(f), .. }
                if code == "chosync_variation" && f == field),
            "{err}"
        );
    }
    assert_eq!(w.sandbox.calls("/product/create").await, 0);
}

#[tokio::test]
async fn the_sandbox_refuses_undeclared_custom_sale_props_as_lazada_does() {
    let w = world().await;
    let image = w.image().await;
    let product = |variation: Option<Value>, sku: &str| {
        let mut product = serde_json::json!({
            "PrimaryCategory": "10000151",
            "Images": { "Image": [image] },
            "Attributes": { "name": "Miến dong", "description": "d", "brand": "No Brand" },
            "Skus": { "Sku": [
                { "SellerSku": sku, "price": "65000", "quantity": "4", "package_weight": "0.52",
                  "saleProp": { "Khối lượng": "1 kg" } }
            ] },
        });
        if let Some(variation) = variation {
            product["variation"] = variation;
        }
        serde_json::json!({ "Request": { "Product": product } }).to_string()
    };
    let world = &w;
    let create = |payload: String| async move {
        let answer = world
            .raw(
                true,
                "/product/create",
                &[("payload", payload.as_str())],
                false,
            )
            .await;
        (
            answer["code"].as_str().map(str::to_string),
            answer["detail"][0]["code"].as_str().map(str::to_string),
        )
    };
    let refused = |business: &str| (Some("500".to_string()), Some(business.to_string()));
    assert_eq!(create(product(None, "U-1")).await, refused("4143"));
    let both = serde_json::json!({
        "variation1": { "name": "Khối lượng", "hasImage": false, "customize": true, "options": { "option": ["1 kg"] } },
        "variation2": { "name": "Đóng gói", "hasImage": false, "customize": true, "options": { "option": ["Túi"] } },
    });
    assert_eq!(
        create(product(Some(both), "U-2")).await,
        refused("SKU_VARIATION_NAME_MISSING")
    );
    let declared = serde_json::json!({
        "variation1": { "name": "Khối lượng", "hasImage": false, "customize": true, "options": { "option": ["1 kg"] } },
    });
    assert_eq!(
        create(product(Some(declared), "U-3")).await,
        (Some("0".into()), None)
    );
    assert_eq!(w.listings().await.as_array().map(Vec::len), Some(1));
}

/// An order's state as the connector reads it.
async fn order_state(w: &World, id: &str) -> (OrderState, String) {
    let orders = w.lazada.get_orders(&[id.to_string()]).await.expect("items");
    (orders[0].state, orders[0].platform_status.clone())
}

#[tokio::test]
async fn an_order_read_at_each_step_has_the_state_its_status_means() {
    let w = world().await;
    let image = w.image().await;
    w.create(&draft("OS", &image, &["1 kg"], &[""], 5)).await;
    let id = w.running.sandbox.place_order("OS-1kg", 1).expect("order");
    assert_eq!(
        order_state(&w, &id).await,
        (OrderState::Unpaid, "unpaid".into())
    );
    w.running.sandbox.pay_order(&id).expect("paid");
    assert_eq!(
        order_state(&w, &id).await,
        (OrderState::Paid, "pending".into())
    );
    // Paid: the unit moved from withheld to occupied; still not for sale.
    let held = w.sku("OS-1kg").await;
    let warehouse = &held["multiWarehouseInventories"][0];
    assert_eq!(
        (
            held["Available"].as_i64(),
            warehouse["withholdQuantity"].as_i64(),
            warehouse["occupyQuantity"].as_i64()
        ),
        (Some(4), Some(0), Some(1))
    );
    w.running.sandbox.ship_order(&id).expect("shipped");
    assert_eq!(
        order_state(&w, &id).await,
        (OrderState::Shipped, "shipped".into())
    );
    w.running.sandbox.deliver_order(&id).expect("delivered");
    assert_eq!(
        order_state(&w, &id).await,
        (OrderState::Completed, "delivered".into())
    );
    w.running.sandbox.return_order(&id).expect("returned");
    assert_eq!(
        order_state(&w, &id).await,
        (OrderState::Returned, "returned".into())
    );
}

/// The push `receiver` got with `message_type`, as the connector reads it.
fn hint_of(w: &World, pushes: &[(String, Vec<u8>)], message_type: i64) -> WebhookHint {
    let (signature, body) = pushes
        .iter()
        .find(|(_, body)| {
            serde_json::from_slice::<Value>(body).is_ok_and(|v| v["message_type"] == message_type)
        })
        .expect("a push of that type");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", signature.parse().expect("header"));
    w.lazada.verify_webhook(&headers, body).expect("genuine")
}

#[tokio::test]
async fn reverse_order_and_token_expiry_pushes_become_hints() {
    let w = world_with(
        SandboxConfig {
            access_ttl: chrono::Duration::hours(30),
            ..sandbox_config()
        },
        limits(50, 100),
        Arc::new(SystemClock),
    )
    .await;
    let image = w.image().await;
    w.create(&draft("RV", &image, &["1 kg"], &[""], 5)).await;
    let id = w.running.sandbox.place_order("RV-1kg", 1).expect("order");
    w.running.sandbox.ship_order(&id).expect("shipped");
    let returns = common::webhooks::Receiver::start("/webhooks/lazada-test").await;
    w.sandbox
        .control(
            "/_sandbox/webhook-target",
            serde_json::json!({ "url": returns.url }),
        )
        .await;
    w.running.sandbox.return_order(&id).expect("returned");
    let pushes = returns.first_n(2).await;
    let changed = WebhookHint::OrdersChanged {
        order_ids: vec![id.clone()],
    };
    assert_eq!(hint_of(&w, &pushes, 10), changed, "reverse order");
    assert_eq!(hint_of(&w, &pushes, 0), changed, "trade order (returned)");

    let alerts = common::webhooks::Receiver::start("/webhooks/lazada-test").await;
    w.sandbox
        .control(
            "/_sandbox/webhook-target",
            serde_json::json!({ "url": alerts.url }),
        )
        .await;
    assert!(w.running.sandbox.alert_expiring_token(), "30 h left");
    let pushes = alerts.first_n(1).await;
    let WebhookHint::TokenExpiring {
        expires_at: Some(expires_at),
    } = hint_of(&w, &pushes, 8)
    else {
        panic!("not a token alert");
    };
    let stored = w.stored_tokens().await.access_expires_at;
    assert!(
        (expires_at - stored).num_seconds().abs() <= 2,
        "{expires_at} vs {stored}"
    );
}

#[tokio::test]
async fn the_sandbox_takes_a_brand_name_empty_parameters_signed_either_way_and_upload_fields() {
    let w = world().await;
    let image = w.image().await;
    let mut no_brand = draft("NB", &image, &["1 kg"], &[""], 5);
    no_brand.brand = Some("No Brand".into());
    w.create(&no_brand).await;
    assert_eq!(w.listings().await[0]["attributes"]["brand"], "No Brand");

    let params = [("filter", "all"), ("create_before", "")];
    for skip_empty in [false, true] {
        let answer = w.raw(false, "/products/get", &params, skip_empty).await;
        assert_eq!(answer["code"], "0", "skip empty {skip_empty}: {answer}");
        assert_eq!(answer["data"]["total_products"], "1");
    }

    // The connector sends the system parameters as multipart fields, as the
    // Python SDK does.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let url = w
        .lazada
        .upload_image("que.png", png.clone())
        .await
        .expect("uploaded");
    assert!(url.starts_with("https://vn-live.slatic.net/"), "{url}");
    // And in the query string, as others do.
    let tokens = w.stored_tokens().await;
    let timestamp = SystemClock.now().timestamp_millis().to_string();
    let key = w.running.credentials.app_key.clone();
    let mut query = vec![
        ("app_key", key.as_str()),
        ("timestamp", timestamp.as_str()),
        ("sign_method", "sha256"),
        ("access_token", tokens.access_token.expose_secret()),
    ];
    let sign =
        chosync_lazada::sign::request(&w.running.credentials.app_secret, "/image/upload", &query);
    query.push(("sign", sign.as_str()));
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(png).file_name("que.png"),
    );
    let answer: Value = w
        .sandbox
        .http
        .post(format!("{}/image/upload", w.running.base_url))
        .query(&query)
        .multipart(form)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["code"], "0", "{answer}");
}
