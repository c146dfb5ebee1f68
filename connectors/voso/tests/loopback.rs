//! The Voso connector against its sandbox over loopback: both are built
//! from the README's assumed contract, the sandbox never from the client.

use std::sync::Arc;
use std::time::Duration;

use chosync_connector::Connector;
use chosync_connector::ConnectorError;
use chosync_connector::clock::{Clock, FixedClock, SystemClock};
use chosync_connector::credentials::MemoryCredentials;
use chosync_connector::dto::{
    ListingDraft, OrderState, OrderWindow, PriceSet, RemoteListing, RemoteRef, StockSet,
    VariantDraft, WebhookHint,
};
use chosync_connector::events::LogOnly;
use chosync_connector::http::{HttpConfig, RetryPolicy};
use chosync_connector::sandbox::Stats;
use chosync_voso::sandbox::{Running, SandboxConfig, VosoSandbox};
use chosync_voso::{Voso, VosoConfig};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde_json::{Value, json};

async fn sandbox() -> Running {
    VosoSandbox::start(SandboxConfig::default(), 0)
        .await
        .expect("sandbox starts")
}

fn connector(running: &Running) -> Voso {
    connector_at(running, Arc::new(SystemClock))
}

fn connector_at(running: &Running, clock: Arc<dyn Clock>) -> Voso {
    let config = VosoConfig {
        channel: "voso-test".into(),
        base_url: running.base_url.clone(),
        key: running.sandbox.key().into(),
        secret: SecretString::from(running.sandbox.secret().to_string()),
        limits: VosoConfig::default_limits(),
        http: HttpConfig {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                first_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(2),
                deadline: Duration::from_secs(30),
                max_attempts: 10,
            },
        },
    };
    Voso::new(
        config,
        Arc::new(MemoryCredentials::default()),
        Arc::new(LogOnly),
        clock,
    )
    .expect("connector")
}

fn draft(key: &str, skus: &[&str]) -> ListingDraft {
    ListingDraft {
        product_key: key.into(),
        title: format!("Trà Thái Nguyên {key}"),
        description: "Trà xanh".into(),
        category_id: "100".into(),
        brand: None,
        attributes: vec![],
        images: vec!["https://img.example/1.jpg".into()],
        weight_g: 200,
        dimensions_cm: None,
        logistics: vec![],
        option_names: vec!["Size".into()],
        variants: skus
            .iter()
            .map(|sku| VariantDraft {
                sku: sku.to_string(),
                option_values: vec![format!("size {sku}")],
                price: 120_000,
                stock: 10,
            })
            .collect(),
        listed: true,
    }
}

async fn control(running: &Running, path: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{path}", running.base_url))
        .json(&body)
        .send()
        .await
        .expect("control call")
        .json()
        .await
        .expect("control answer")
}

async fn stats(running: &Running) -> Stats {
    reqwest::get(format!("{}/_sandbox/stats", running.base_url))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats answer")
}

async fn held(running: &Running) -> Vec<Value> {
    reqwest::get(format!("{}/_sandbox/listings", running.base_url))
        .await
        .expect("listings")
        .json()
        .await
        .expect("listings answer")
}

fn at(listing: &RemoteListing, sku: &str) -> RemoteRef {
    listing.at(sku).expect("sku on listing")
}

#[tokio::test]
async fn a_listing_is_created_with_its_variants_and_an_update_keeps_their_ids() {
    let running = sandbox().await;
    let voso = connector(&running);
    let created = voso
        .upsert_listing(&draft("P1", &["P1-S", "P1-M"]), None)
        .await
        .expect("created");
    assert_eq!(created.variants.len(), 2);
    assert_eq!(created.variant("P1-M").map(|v| v.price), Some(120_000));

    // An update adds new SKUs; existing variants' prices go through set_price.
    let mut bigger = draft("P1", &["P1-S", "P1-M", "P1-L"]);
    bigger.variants[0].price = 150_000;
    let grown = voso
        .upsert_listing(&bigger, Some(&created))
        .await
        .expect("updated");
    assert_eq!(grown.variant("P1-S").map(|v| v.price), Some(120_000));
    assert_eq!(grown.listing_id, created.listing_id);
    assert_eq!(grown.at("P1-S"), created.at("P1-S"));
    assert!(grown.variant("P1-L").is_some());

    let found = voso.find_listing_by_sku("P1-L").await.expect("look-up");
    assert_eq!(found.map(|l| l.listing_id), Some(created.listing_id));
    assert_eq!(voso.find_listing_by_sku("nope").await, Ok(None));

    let page = voso.list_remote_listings(None).await.expect("page");
    assert_eq!((page.items.len(), page.next), (1, None));
}

#[tokio::test]
async fn a_refused_product_names_its_field() {
    let running = sandbox().await;
    let voso = connector(&running);
    let mut cheap = draft("P2", &["P2-A"]);
    cheap.variants[0].price = 10;
    let err = voso
        .upsert_listing(&cheap, None)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ConnectorError::Rejected { field: Some(f), .. } if f == "variants[0].price"),
        "{err:?}"
    );
}

#[tokio::test]
async fn stock_and_price_batches_answer_per_item_across_calls_of_fifty() {
    let running = sandbox().await;
    let voso = connector(&running);
    let big: Vec<String> = (0..50).map(|n| format!("B-{n:02}")).collect();
    let big_refs: Vec<&str> = big.iter().map(String::as_str).collect();
    let a = voso
        .upsert_listing(&draft("B", &big_refs), None)
        .await
        .expect("created");
    let small: Vec<String> = (0..10).map(|n| format!("C-{n:02}")).collect();
    let small_refs: Vec<&str> = small.iter().map(String::as_str).collect();
    let b = voso
        .upsert_listing(&draft("C", &small_refs), None)
        .await
        .expect("created");

    let mut stock: Vec<StockSet> = big
        .iter()
        .map(|sku| StockSet {
            sku: sku.clone(),
            at: at(&a, sku),
            quantity: 3,
        })
        .chain(small.iter().map(|sku| StockSet {
            sku: sku.clone(),
            at: at(&b, sku),
            quantity: 4,
        }))
        .collect();
    stock[5].quantity = -1;
    let outcomes = voso.set_stock(&stock).await;
    assert_eq!(outcomes.len(), 60);
    let refused: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.sku.as_str())
        .collect();
    assert_eq!(refused, ["B-05"]);
    assert!(matches!(
        &outcomes[5].result,
        Err(ConnectorError::Rejected { field: Some(f), .. }) if f == "stock"
    ));
    assert_eq!(stats(&running).await.calls.get("/v1/stock"), Some(&2));

    let prices = vec![
        PriceSet {
            sku: "C-01".into(),
            at: at(&b, "C-01"),
            price: 99_000,
        },
        PriceSet {
            sku: "ghost".into(),
            at: at(&b, "C-01"),
            price: 99_000,
        },
    ];
    let outcomes = voso.set_price(&prices).await;
    assert_eq!(outcomes[0].result, Ok(()));
    assert!(matches!(
        outcomes[1].result,
        Err(ConnectorError::NotFound(_))
    ));
    let now = voso
        .find_listing_by_sku("C-01")
        .await
        .expect("read")
        .expect("held");
    assert_eq!(
        now.variant("C-01").map(|v| (v.price, v.stock)),
        Some((99_000, 4))
    );
}

#[tokio::test]
async fn a_token_expiring_mid_run_costs_exactly_one_new_login() {
    let running = sandbox().await;
    let voso = connector(&running);
    voso.upsert_listing(&draft("T", &["T-1"]), None)
        .await
        .expect("created");
    control(&running, "/_sandbox/tokens/expire", json!({})).await;
    let (first, second) = tokio::join!(
        voso.find_listing_by_sku("T-1"),
        voso.list_remote_listings(None)
    );
    assert!(first.expect("read").is_some());
    assert_eq!(second.expect("page").items.len(), 1);
    assert_eq!(stats(&running).await.calls.get("/v1/auth/token"), Some(&2));
}

#[tokio::test]
async fn a_token_near_its_expiry_is_renewed_ahead_once_for_concurrent_calls() {
    let running = sandbox().await;
    let clock = Arc::new(FixedClock::new(SystemClock.now()));
    let voso = connector_at(&running, clock.clone());
    voso.upsert_listing(&draft("A", &["A-1"]), None)
        .await
        .expect("created");
    // Four minutes left of two hours: inside the five-minute margin.
    clock.advance(chrono::Duration::minutes(116));
    let (a, b, c) = tokio::join!(
        voso.find_listing_by_sku("A-1"),
        voso.find_listing_by_sku("A-1"),
        voso.list_remote_listings(None)
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    let stats = stats(&running).await;
    assert_eq!(stats.calls.get("/v1/auth/token"), Some(&2));
}

#[tokio::test]
async fn throttling_and_ten_percent_faults_converge_with_one_listing_per_sku() {
    let running = sandbox().await;
    let voso = connector(&running);
    control(
        &running,
        "/_sandbox/faults",
        json!({ "error_rate": 0.1, "malformed_rate": 0.05 }),
    )
    .await;
    let keys: Vec<String> = (0..15).map(|n| format!("F{n:02}")).collect();
    for key in &keys {
        let sku = format!("{key}-1");
        let wanted = draft(key, &[&sku]);
        let mut done = false;
        for _ in 0..10 {
            // As the sync engine does: a listing held is updated, never made twice.
            let existing = match voso.find_listing_by_sku(&sku).await {
                Ok(found) => found,
                Err(_) => continue,
            };
            match voso.upsert_listing(&wanted, existing.as_ref()).await {
                Ok(_) => {
                    done = true;
                    break;
                }
                Err(err) => assert!(
                    err.is_retryable() || matches!(err, ConnectorError::Ambiguous(_)),
                    "{err:?}"
                ),
            }
        }
        assert!(done, "{key} converged");
    }
    control(&running, "/_sandbox/faults", json!({})).await;
    let products = held(&running).await;
    assert_eq!(products.len(), keys.len());
    for key in &keys {
        let sku = format!("{key}-1");
        let carrying = products
            .iter()
            .filter(|p| {
                p["variants"]
                    .as_array()
                    .is_some_and(|vs| vs.iter().any(|v| v["sku"] == sku.as_str()))
            })
            .count();
        assert_eq!(carrying, 1, "{sku}");
    }
    let stats = stats(&running).await;
    assert!(
        stats.peak_rps.values().all(|peak| *peak <= 10),
        "{:?}",
        stats.peak_rps
    );
    assert_eq!(stats.throttled, 0, "the client keeps under the quota");
}

#[tokio::test]
async fn the_client_stays_under_the_quota_and_waits_out_a_throttle() {
    let running = sandbox().await;
    let voso = connector(&running);
    voso.upsert_listing(&draft("Q", &["Q-1"]), None)
        .await
        .expect("created");
    control(&running, "/_sandbox/faults", json!({ "throttle": true })).await;
    let unthrottle = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        control(&running, "/_sandbox/faults", json!({})).await;
    };
    let (found, ()) = tokio::join!(voso.find_listing_by_sku("Q-1"), unthrottle);
    assert!(found.expect("read after the throttle").is_some());
    assert!(stats(&running).await.throttled >= 1);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_adopted_not_repeated() {
    let running = sandbox().await;
    let voso = connector(&running);
    control(
        &running,
        "/_sandbox/faults",
        json!({ "malformed_rate": 1.0, "only": "/v1/products" }),
    )
    .await;
    let adopted = voso
        .upsert_listing(&draft("L", &["L-1", "L-2"]), None)
        .await
        .expect("adopted");
    assert!(adopted.carries("L-2"));
    assert_eq!(held(&running).await.len(), 1);
    assert_eq!(stats(&running).await.calls.get("/v1/products"), Some(&1));
}

#[tokio::test]
async fn orders_are_read_by_cursor_across_windows_with_their_states() {
    let running = sandbox().await;
    let voso = connector(&running);
    let mut big = draft("O", &["O-1"]);
    big.variants[0].stock = 500;
    voso.upsert_listing(&big, None).await.expect("created");
    let mut ids = Vec::new();
    for _ in 0..120 {
        let placed = control(
            &running,
            "/_sandbox/orders",
            json!({ "sku": "O-1", "quantity": 1 }),
        )
        .await;
        ids.push(placed["order_id"].as_str().expect("order id").to_string());
    }
    control(
        &running,
        &format!("/_sandbox/orders/{}/cancel", ids[0]),
        json!({}),
    )
    .await;
    control(
        &running,
        &format!("/_sandbox/orders/{}/ship", ids[1]),
        json!({}),
    )
    .await;

    let now = SystemClock.now();
    let window = OrderWindow {
        from: now - chrono::Duration::days(10),
        to: now + chrono::Duration::minutes(1),
    };
    let refs = voso.list_orders(window).await.expect("orders");
    let mut seen: Vec<String> = refs.iter().map(|r| r.order_id.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 120);
    // Two windows (7 days, then 3): the empty first page, then 50 + 50 + 20.
    assert_eq!(stats(&running).await.calls.get("/v1/orders"), Some(&4));

    let orders = voso.get_orders(&ids[0..3]).await.expect("details");
    let states: Vec<OrderState> = orders.iter().map(|o| o.state).collect();
    assert_eq!(
        states,
        [OrderState::Cancelled, OrderState::Shipped, OrderState::Paid]
    );
    assert_eq!(orders[2].lines[0].sku, "O-1");
}

#[tokio::test]
async fn a_signed_push_is_verified_and_a_forged_one_refused() {
    let running = sandbox().await;
    let voso = connector(&running);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, Vec<u8>)>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body.to_vec()));
                "ok"
            }
        }),
    );
    let (hook, _task) = chosync_connector::sandbox::serve(receiver, 0)
        .await
        .expect("receiver");
    control(
        &running,
        "/_sandbox/webhook-target",
        json!({ "url": format!("http://{hook}/hook") }),
    )
    .await;
    voso.upsert_listing(&draft("W", &["W-1"]), None)
        .await
        .expect("created");
    let placed = control(
        &running,
        "/_sandbox/orders",
        json!({ "sku": "W-1", "quantity": 1 }),
    )
    .await;
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("push in time")
        .expect("push");

    let hint = voso.verify_webhook(&headers, &body).expect("verified");
    assert_eq!(
        hint,
        WebhookHint::OrdersChanged {
            order_ids: vec![placed["order_id"].as_str().expect("id").to_string()]
        }
    );

    let mut forged = body.clone();
    forged.extend_from_slice(b" ");
    assert!(matches!(
        voso.verify_webhook(&headers, &forged),
        Err(ConnectorError::Unauthorized(_))
    ));
    let mut stale = headers.clone();
    let old = SystemClock.now().timestamp() - 600;
    stale.insert("x-voso-timestamp", HeaderValue::from(old));
    assert!(voso.verify_webhook(&stale, &body).is_err());
    let mut unsigned = headers.clone();
    unsigned.remove("x-voso-signature");
    assert!(voso.verify_webhook(&unsigned, &body).is_err());
}

#[tokio::test]
async fn the_sandbox_answers_any_garbage_with_an_error_envelope() {
    let running = sandbox().await;
    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{}/v1/auth/token", running.base_url))
        .json(&json!({ "key": running.sandbox.key(), "secret": running.sandbox.secret() }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    let token = login["access_token"].as_str().expect("token").to_string();
    let bodies: [&[u8]; 6] = [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        br#"{"items": [{"sku": 7}, {"stock": "x"}, 3]}"#,
        br#"{"name": "", "variants": [{"sku": "", "price": -1, "stock": -1}]}"#,
    ];
    let calls = [
        (reqwest::Method::POST, "/v1/auth/token"),
        (reqwest::Method::POST, "/v1/products"),
        (reqwest::Method::PUT, "/v1/products/99999999999999999999999"),
        (reqwest::Method::PUT, "/v1/products/1"),
        (reqwest::Method::POST, "/v1/stock"),
        (reqwest::Method::POST, "/v1/prices"),
        (
            reqwest::Method::GET,
            "/v1/orders?updated_from=x&updated_to=y&cursor=z",
        ),
        (
            reqwest::Method::GET,
            "/v1/orders?updated_from=2026-01-01T00:00:00Z&updated_to=2026-03-01T00:00:00Z",
        ),
        (reqwest::Method::GET, "/v1/orders/%00"),
        (reqwest::Method::GET, "/v1/products?page=0&page_size=1000"),
        (reqwest::Method::GET, "/v1/products?page=%zz"),
        (reqwest::Method::GET, "/v1/skus/%E2%82"),
    ];
    for (method, path) in calls {
        for body in bodies {
            // Spaced under the quota so every call reaches its checks.
            tokio::time::sleep(Duration::from_millis(110)).await;
            let answer = http
                .request(method.clone(), format!("{}{path}", running.base_url))
                .bearer_auth(&token)
                .body(body.to_vec())
                .send()
                .await
                .expect("an answer");
            let status = answer.status().as_u16();
            let envelope: Value = answer.json().await.unwrap_or(Value::Null);
            if status == 200 {
                // A batch whose items are all bad: each refused on its own.
                let results = envelope["results"].as_array().expect("per-item results");
                assert!(
                    results
                        .iter()
                        .all(|r| r["ok"] == false && r["error"]["code"].is_string()),
                    "{method} {path}: {envelope}"
                );
                continue;
            }
            assert!((400..500).contains(&status), "{method} {path}: {status}");
            // Paths axum refuses before any handler (bad percent-encoding) carry no envelope.
            assert!(
                envelope["error"]["code"].is_string()
                    || path.contains("%E2")
                    || path.contains("%00"),
                "{method} {path}: {envelope}"
            );
        }
    }
}
