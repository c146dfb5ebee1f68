//! The connector against the sandbox over loopback.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chosync_connector::clock::{Clock, SystemClock};
use chosync_connector::credentials::MemoryCredentials;
use chosync_connector::dto::{
    ListingDraft, OrderState, OrderWindow, PriceSet, RemoteListing, StockSet, VariantDraft,
    WebhookHint,
};
use chosync_connector::events::LogOnly;
use chosync_connector::http::HttpConfig;
use chosync_connector::sandbox::Platform;
use chosync_connector::{Connector, Limits};
use chosync_sendo::sandbox::{Running, SandboxConfig, SendoSandbox};
use chosync_sendo::{Sendo, SendoConfig};
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use serde_json::{Value, json};

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

struct Rig {
    running: Running,
    sendo: Sendo,
}

/// A sandbox at `sandbox_rate` calls/s and a connector limited to `limit`.
async fn rig(sandbox_rate: u32, limit: u32) -> Rig {
    let config = SandboxConfig {
        rate: rate(sandbox_rate),
        ..SandboxConfig::default()
    };
    let running = SendoSandbox::start(config.clone(), 0)
        .await
        .expect("sandbox");
    let sendo = Sendo::new(
        SendoConfig {
            channel: "sendo-test".into(),
            base_url: running.base_url.clone(),
            shop_key: config.shop_key.clone(),
            secret_key: SecretString::from(config.secret_key.clone()),
            limits: Limits::shared("shop", rate(limit)),
            http: HttpConfig {
                timeout: Duration::from_secs(3),
                ..HttpConfig::default()
            },
        },
        Arc::new(MemoryCredentials::default()),
        Arc::new(LogOnly),
        Arc::new(SystemClock),
    )
    .expect("connector");
    Rig { running, sendo }
}

async fn fast() -> Rig {
    rig(50, 40).await
}

fn description() -> String {
    "Trà Shan Tuyết cổ thụ Hà Giang, hái tay từ cây trên trăm năm tuổi, sao sấy thủ công, \
     đóng gói 100 g trong túi giấy kraft có van một chiều."
        .into()
}

fn draft(key: &str, option_names: &[&str], variants: &[(&str, &[&str], i64, i64)]) -> ListingDraft {
    ListingDraft {
        product_key: key.into(),
        title: "Trà Shan Tuyết Hà Giang".into(),
        description: description(),
        category_id: "2417".into(),
        brand: None,
        attributes: vec![],
        images: vec!["https://media3.scdn.vn/img/tea.jpg".into()],
        weight_g: 150,
        dimensions_cm: Some([20, 10, 5]),
        logistics: vec![],
        option_names: option_names.iter().map(|s| s.to_string()).collect(),
        variants: variants
            .iter()
            .map(|(sku, options, price, stock)| VariantDraft {
                sku: (*sku).into(),
                option_values: options.iter().map(|s| s.to_string()).collect(),
                price: *price,
                stock: *stock,
            })
            .collect(),
        listed: true,
    }
}

fn simple(sku: &str, stock: i64) -> ListingDraft {
    draft(sku, &[], &[(sku, &[], 85_000, stock)])
}

fn sizes() -> ListingDraft {
    draft(
        "TEA",
        &["603"],
        &[
            ("TEA-100G", &["25213"], 85_000, 10),
            ("TEA-250G", &["25214"], 190_000, 4),
        ],
    )
}

fn stock(listing: &RemoteListing, sku: &str, quantity: i64) -> StockSet {
    StockSet {
        sku: sku.into(),
        at: listing.at(sku).expect("sku listed"),
        quantity,
    }
}

fn without(mut product: Value, fields: &[&str]) -> Value {
    for field in fields {
        if let Some(object) = product.as_object_mut() {
            object.remove(*field);
        }
    }
    product
}

#[tokio::test]
async fn a_product_with_variants_is_created_with_checkout_attributes() {
    let rig = fast().await;
    let listing = rig
        .sendo
        .upsert_listing(&sizes(), None)
        .await
        .expect("created");
    assert_eq!(listing.variants.len(), 2);
    assert_eq!(
        listing.variant("TEA-250G").map(|v| (v.price, v.stock)),
        Some((190_000, 4))
    );
    let held = rig.running.sandbox.product("TEA-100G").expect("held");
    assert_eq!(held["is_config_variant"], json!(true));
    assert_eq!(held["stock_quantity"], json!(14));
    assert_eq!(
        held["variants"][0]["variant_attribute_hash"],
        json!("2417_603_25213")
    );
    assert_eq!(held["status"], json!(2));
    let found = rig
        .sendo
        .find_listing_by_sku("TEA-250G")
        .await
        .expect("read");
    assert_eq!(found.map(|l| l.listing_id), Some(listing.listing_id));
}

#[tokio::test]
async fn a_simple_product_is_created_and_its_content_updated() {
    let rig = fast().await;
    let listing = rig
        .sendo
        .upsert_listing(&simple("TEA-1", 7), None)
        .await
        .expect("created");
    assert_eq!(listing.variants[0].stock, 7);
    let mut renamed = simple("TEA-1", 99);
    renamed.title = "Trà Shan Tuyết (mới)".into();
    let updated = rig
        .sendo
        .upsert_listing(&renamed, Some(&listing))
        .await
        .expect("updated");
    assert_eq!(updated.listing_id, listing.listing_id);
    assert_eq!(updated.title, "Trà Shan Tuyết (mới)");
    assert_eq!(updated.variants[0].stock, 7, "stock is left to set_stock");
}

#[tokio::test]
async fn an_update_by_field_mask_changes_only_the_masked_fields() {
    let rig = fast().await;
    let listing = rig
        .sendo
        .upsert_listing(&sizes(), None)
        .await
        .expect("created");
    let before = rig.running.sandbox.product("TEA").expect("held");
    let outcomes = rig
        .sendo
        .set_price(&[PriceSet {
            sku: "TEA-250G".into(),
            at: listing.at("TEA-250G").expect("listed"),
            price: 175_000,
        }])
        .await;
    assert_eq!(outcomes[0].result, Ok(()));
    let after = rig.running.sandbox.product("TEA").expect("held");
    assert_eq!(after["variants"][1]["variant_price"], json!(175_000));
    let mut expected = before.clone();
    expected["variants"][1]["variant_price"] = json!(175_000);
    let ignore = ["updated_at_timestamp"];
    assert_eq!(without(after, &ignore), without(expected, &ignore));

    let simple_listing = rig
        .sendo
        .upsert_listing(&simple("TEA-1", 7), None)
        .await
        .expect("created");
    let before = rig.running.sandbox.product("TEA-1").expect("held");
    let outcomes = rig
        .sendo
        .set_stock(&[stock(&simple_listing, "TEA-1", 3)])
        .await;
    assert_eq!(outcomes[0].result, Ok(()));
    let mut expected = before;
    expected["stock_quantity"] = json!(3);
    let after = rig.running.sandbox.product("TEA-1").expect("held");
    assert_eq!(without(after, &ignore), without(expected, &ignore));
}

#[tokio::test]
async fn stock_at_zero_sets_stock_availability_false() {
    let rig = fast().await;
    let one = rig
        .sendo
        .upsert_listing(&simple("TEA-1", 7), None)
        .await
        .expect("created");
    let outcomes = rig.sendo.set_stock(&[stock(&one, "TEA-1", 0)]).await;
    assert_eq!(outcomes[0].result, Ok(()));
    let held = rig.running.sandbox.product("TEA-1").expect("held");
    assert_eq!(
        (
            held["stock_quantity"].clone(),
            held["stock_availability"].clone()
        ),
        (json!(0), json!(false))
    );

    let sized = rig
        .sendo
        .upsert_listing(&sizes(), None)
        .await
        .expect("created");
    let outcomes = rig.sendo.set_stock(&[stock(&sized, "TEA-100G", 0)]).await;
    assert_eq!(outcomes[0].result, Ok(()));
    let held = rig.running.sandbox.product("TEA").expect("held");
    assert_eq!(
        held["stock_availability"],
        json!(true),
        "the other size is in stock"
    );
    let outcomes = rig.sendo.set_stock(&[stock(&sized, "TEA-250G", -2)]).await;
    assert_eq!(outcomes[0].result, Ok(()));
    let held = rig.running.sandbox.product("TEA").expect("held");
    assert_eq!(held["stock_availability"], json!(false));
    let outcomes = rig.sendo.set_stock(&[stock(&sized, "TEA-250G", 5)]).await;
    assert_eq!(outcomes[0].result, Ok(()));
    let held = rig.running.sandbox.product("TEA").expect("held");
    assert_eq!(held["stock_availability"], json!(true));
}

#[tokio::test]
async fn ten_days_of_orders_are_read_through_three_day_windows() {
    let rig = fast().await;
    rig.sendo
        .upsert_listing(&simple("TEA-1", 100), None)
        .await
        .expect("created");
    let now = SystemClock.now();
    let mut placed = Vec::new();
    for days in 0..10 {
        let at = now - chrono::Duration::days(days) - chrono::Duration::minutes(5);
        placed.push(
            rig.running
                .sandbox
                .place_order_at("TEA-1", 1, at)
                .expect("order"),
        );
    }
    let refs = rig
        .sendo
        .list_orders(OrderWindow {
            from: now - chrono::Duration::days(10),
            to: now,
        })
        .await
        .expect("listed");
    let mut listed: Vec<String> = refs.iter().map(|r| r.order_id.clone()).collect();
    listed.sort();
    placed.sort();
    assert_eq!(listed, placed);
    let searches = rig.running.sandbox.kit().stats().calls["/api/partner/salesorder/search"];
    assert!(searches >= 4, "{searches} searches for 10 days");
    let orders = rig.sendo.get_orders(&placed[..2]).await.expect("details");
    assert!(
        orders
            .iter()
            .all(|o| o.state == OrderState::Paid && o.platform_status == "new")
    );
    assert_eq!(orders[0].lines[0].sku, "TEA-1");
    rig.running
        .sandbox
        .cancel_order(&placed[0], None)
        .expect("cancelled");
    let orders = rig.sendo.get_orders(&placed[..1]).await.expect("details");
    assert_eq!(orders[0].state, OrderState::Cancelled);
}

#[tokio::test]
async fn a_token_expired_mid_run_is_renewed_by_exactly_one_login() {
    let rig = fast().await;
    let listing = rig
        .sendo
        .upsert_listing(&simple("TEA-1", 7), None)
        .await
        .expect("created");
    assert_eq!(rig.running.sandbox.logins(), 1);
    rig.running.sandbox.expire_access_tokens();
    let four = [stock(&listing, "TEA-1", 4)];
    let (a, b, c) = tokio::join!(
        rig.sendo.find_listing_by_sku("TEA-1"),
        rig.sendo.set_stock(&four),
        rig.sendo.list_remote_listings(None),
    );
    assert!(a.expect("found").is_some());
    assert_eq!(b[0].result, Ok(()));
    assert_eq!(c.expect("listed").items.len(), 1);
    assert_eq!(rig.running.sandbox.logins(), 2);
    assert_eq!(rig.running.sandbox.kit().stats().calls["/login"], 2);
}

#[tokio::test]
async fn the_default_rate_is_never_throttled() {
    // chosync's conservative 2 calls/s against a platform that allows a
    // little more (Sendo publishes no limit): spaced calls can still arrive
    // three in one of the platform's windows when the network delays one,
    // so the platform's quota needs that headroom, as Shopee's and Lazada's
    // defaults keep below their documented quotas.
    let rig = rig(3, 2).await;
    let listing = rig
        .sendo
        .upsert_listing(&simple("TEA-1", 7), None)
        .await
        .expect("created");
    for n in 0..4 {
        let outcomes = rig.sendo.set_stock(&[stock(&listing, "TEA-1", n)]).await;
        assert_eq!(outcomes[0].result, Ok(()));
    }
    let stats = rig.running.sandbox.kit().stats();
    assert_eq!(stats.throttled, 0);
    assert!(stats.peak_rps.values().all(|peak| *peak <= 3), "{stats:?}");
}

#[tokio::test]
async fn a_lost_create_is_adopted_not_repeated() {
    let rig = fast().await;
    rig.running.sandbox.lose_create_answers(1);
    let listing = rig
        .sendo
        .upsert_listing(&sizes(), None)
        .await
        .expect("adopted");
    assert!(listing.carries("TEA-100G"));
    assert_eq!(
        rig.running.sandbox.listings().as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        rig.running.sandbox.kit().stats().calls["/api/partner/product"],
        2,
        "one create, one look-up"
    );
}

#[tokio::test]
async fn a_push_is_read_as_a_hint_and_another_shops_is_refused() {
    let rig = fast().await;
    let key = rig.running.sandbox.config().shop_key.clone();
    let push = |shop: &str, body: Value| {
        serde_json::to_vec(
            &json!({"type": "SALESORDER.UPDATE", "store_id": 1, "shop_key": shop, "data": body}),
        )
        .expect("json")
    };
    let hint = rig
        .sendo
        .verify_webhook(
            &HeaderMap::new(),
            &push(
                &key,
                json!({"order_number": "261201000001", "order_action": "CANCEL"}),
            ),
        )
        .expect("read");
    assert_eq!(
        hint,
        WebhookHint::OrdersChanged {
            order_ids: vec!["261201000001".into()]
        }
    );
    assert!(
        rig.sendo
            .verify_webhook(&HeaderMap::new(), &push("other", json!({})))
            .is_err()
    );
    assert!(
        rig.sendo
            .verify_webhook(&HeaderMap::new(), b"not json")
            .is_err()
    );
}

/// The sandbox's own refusals, over plain HTTP.
#[tokio::test]
async fn the_sandbox_refuses_what_sendo_refuses() {
    let rig = fast().await;
    let config = rig.running.sandbox.config().clone();
    let http = reqwest::Client::new();
    let base = rig.running.base_url.clone();
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&json!({"shop_key": config.shop_key, "secret_key": config.secret_key}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["result"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("authorization", format!("bearer {token}"))
            .json(&body)
            .send()
    };
    let product = json!({
        "id": 0, "name": "Trà", "sku": "T-0", "price": 85000, "cat_4_id": 2417,
        "description": description(), "stock_quantity": 0, "stock_availability": true,
    });
    let refused: Value = post("/api/partner/product", product.clone())
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(refused["success"], json!(false));
    assert_eq!(
        refused["error"]["error_details"][0]["property_name"],
        json!("stock_availability")
    );
    let mut short = product.clone();
    short["stock_availability"] = json!(false);
    short["description"] = json!("ngắn");
    let refused: Value = post("/api/partner/product", short)
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        refused["error"]["error_details"][0]["property_name"],
        json!("description")
    );
    let four_days =
        json!({"order_status_date_from": "2026/11/01", "order_status_date_to": "2026/11/04"});
    let refused: Value = post("/api/partner/salesorder/search", four_days)
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(refused["success"], json!(false));
    let stale = json!({"token": "pt-unknown"});
    let refused: Value = post("/api/partner/salesorder/search", stale)
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        refused["error"]["error_details"][0]["property_name"],
        json!("token")
    );
    rig.running.sandbox.expire_access_tokens();
    let expired = post("/api/partner/product/search", json!({}))
        .await
        .expect("sent");
    assert_eq!(expired.status().as_u16(), 401);
    let body: Value = expired.json().await.expect("json");
    assert!(body["error"]["exp"].is_number());
    let text = body.to_string();
    assert!(!text.contains(&config.secret_key));
}

#[tokio::test]
async fn an_expired_page_token_restarts_its_window() {
    let rig = fast().await;
    rig.sendo
        .upsert_listing(&simple("TEA-1", 100), None)
        .await
        .expect("created");
    let now = SystemClock.now();
    // More than one page (50) of orders on one day.
    let mut placed: Vec<String> = (0..55)
        .map(|_| {
            rig.running
                .sandbox
                .place_order_at("TEA-1", 1, now - chrono::Duration::minutes(1))
                .expect("order")
        })
        .collect();
    rig.running.sandbox.issue_stale_page_tokens(1);
    let refs = rig
        .sendo
        .list_orders(OrderWindow {
            from: now - chrono::Duration::hours(1),
            to: now,
        })
        .await
        .expect("listed");
    let mut listed: Vec<String> = refs.into_iter().map(|r| r.order_id).collect();
    listed.sort();
    placed.sort();
    assert_eq!(listed, placed);
    // First page, a refused token, the window again: two pages.
    assert_eq!(
        rig.running.sandbox.kit().stats().calls["/api/partner/salesorder/search"],
        4
    );
}

#[tokio::test]
async fn the_sandbox_answers_every_malformed_body_with_an_envelope() {
    let rig = fast().await;
    let listing = rig
        .sendo
        .upsert_listing(&sizes(), None)
        .await
        .expect("created");
    let id: i64 = listing.listing_id.parse().expect("numeric id");
    let config = rig.running.sandbox.config().clone();
    let http = reqwest::Client::new();
    let base = rig.running.base_url.clone();
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&json!({"shop_key": config.shop_key, "secret_key": config.secret_key}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["result"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let bodies = [
        json!(null),
        json!([]),
        json!(7),
        json!({"id": "x"}),
        json!({"id": -1}),
        json!({"id": id, "variants": [1, "a"]}),
        json!([1, {"id": id}, {"id": id, "field_mask": "price"}]),
        json!([{"id": id, "field_mask": ["variants"], "variants": [1, {"variant_sku": 5}]}]),
        json!([{"id": id, "field_mask": ["variants"], "variants": [{"variant_sku": "TEA-100G", "field_mask": ["variant_quantity"], "variant_quantity": "many"}]}]),
        json!({"page_size": -3, "token": 5, "order_status_date_from": 20261101}),
        json!({"order_date_from": "2026/13/40", "order_date_to": "x"}),
    ];
    let paths = [
        "/login",
        "/api/partner/product",
        "/api/partner/product/update-by-field-mask",
        "/api/partner/product/search",
        "/api/partner/salesorder/search",
    ];
    for path in paths {
        for body in &bodies {
            let answer: Value = http
                .post(format!("{base}{path}"))
                .header("authorization", format!("bearer {token}"))
                .json(body)
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("an envelope");
            assert!(answer["success"].is_boolean(), "{path} {body}: {answer}");
        }
    }
    let odd = http
        .get(format!("{base}/api/partner/salesorder/%00%FF"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("answered");
    assert_eq!(odd.status().as_u16(), 404);
    let held = rig.running.sandbox.product("TEA-100G").expect("held");
    assert_eq!(
        held["variants"][0]["variant_quantity"],
        json!(10),
        "nothing half-applied"
    );
}
