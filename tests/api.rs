//! The operator API end to end on both databases: `chosync run` serving
//! `/api/v1` over loopback, with the demo catalogue listed on Shopee and
//! Lazada sandboxes.

mod common;

use std::time::{Duration, Instant};

use chosync::store::orders::{AlertKind, NewAlert};
use common::TestDb;
use common::api::{Api, error_of};
use common::daemon::{LAZADA, Rig, SHOPEE, eventually};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SKU: &str = "MD-500G";
const SOON: Duration = Duration::from_secs(15);

/// Every path of the OpenAPI document, its parameters filled in.
fn documented() -> Vec<(Method, String)> {
    let doc: Value = serde_json::from_str(&chosync::api::openapi::document()).expect("document");
    let mut calls = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let path = path
            .replace("/api/v1", "")
            .replace("{id}", "x")
            .replace("{sku}", SKU)
            .replace("{channel}", SHOPEE);
        for method in item.as_object().expect("methods").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            calls.push((method, format!("/api/v1{path}")));
        }
    }
    calls
}

/// No token, a wrong one, or a revoked one: 401 on every documented
/// endpoint. A viewer reads every one and writes none (403, audited); the
/// health checks need no token; the document itself is public.
async fn every_endpoint_needs_a_token_and_a_viewer_only_reads(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let calls = documented();
    assert!(calls.len() >= 26, "{calls:?}");
    let revoked =
        chosync::access::create(rig.store.as_ref(), "old", chosync::access::Role::Operator)
            .await
            .expect("token");
    rig.store
        .revoke_token(revoked.record.id)
        .await
        .expect("revoke");
    let revoked = secrecy::ExposeSecret::expose_secret(&revoked.token).to_string();
    for (method, path) in &calls {
        for token in [
            None,
            Some("chs_0000"),
            Some("Basic abc"),
            Some(revoked.as_str()),
        ] {
            let (status, body) = api.call(method.clone(), path, token, None).await;
            error_of(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        }
        if path.ends_with("/log/tail") {
            // An event stream does not end: its status and type only.
            let tail = api
                .http
                .get(format!("{}{path}", api.base))
                .bearer_auth(&api.viewer)
                .send()
                .await
                .expect("tail");
            assert_eq!(tail.status(), StatusCode::OK);
            continue;
        }
        let (status, body) = api
            .call(method.clone(), path, Some(&api.viewer), None)
            .await;
        if *method == Method::GET {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            assert_ne!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_none_or(|m| !m.contains("no such endpoint")),
                "{method} {path} is routed: {body}"
            );
        } else {
            error_of(status, &body, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let refused = db
        .count("SELECT COUNT(*) FROM audit_log WHERE actor = 'Minh' AND status = 403")
        .await;
    let writes = calls.iter().filter(|(m, _)| *m != Method::GET).count();
    assert_eq!(refused, writes as i64, "each refused write audited");
    for open in ["/healthz", "/api/v1/openapi.json"] {
        let (status, _) = api.call(Method::GET, open, None, None).await;
        assert_eq!(status, StatusCode::OK, "{open}");
    }
    let (status, body) = api.get("/api/v1/nothing-here").await;
    error_of(status, &body, StatusCode::NOT_FOUND, "not_found");
    daemon.stop().await;
}

/// Products a page at a time (every product once), filtered; created,
/// updated and deactivated through the import's validation — a bad variant
/// is named by index and field and nothing is written — and every write in
/// the audit log with who made it. The new price reaches both channels.
async fn products_are_paged_and_written_through_the_import(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let total = rig.store.summary().await.expect("summary").products;
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            None => "/api/v1/products?limit=3".to_string(),
            Some(c) => format!("/api/v1/products?limit=3&cursor={c}"),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|p| p["product_id"].as_str().expect("id").to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "each product once: {seen:?}");
    assert_eq!(seen.len() as i64, total, "every product");

    let (_, found) = api.get("/api/v1/products?q=md-500").await;
    let found = found["items"].as_array().expect("items").clone();
    assert_eq!(found.len(), 1, "{found:?}");
    let product_id = found[0]["product_id"].as_str().expect("id").to_string();
    assert!(
        found[0]["variants"]
            .as_array()
            .expect("variants")
            .iter()
            .any(|v| v["sku"] == SKU)
    );
    let (status, body) = api.get("/api/v1/products?status=gone").await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    let new_product = json!({
        "product_id": "API-TEA",
        "name": "Trà búp Bắc Kạn <b>đặc biệt</b>",
        "description": "Trà búp hái tay trên đồi chè Bắc Kạn, sao khô bằng chảo gang theo cách truyền thống của bà con.",
        "category": "Trà",
        "brand": "HTX Bắc Kạn",
        "origin": "Việt Nam",
        "option_names": ["Khối lượng"],
        "variants": [
            { "sku": "API-TEA-100", "option_values": ["100 g"], "price": 85000, "stock": 12, "weight_g": 120 },
            { "sku": "API-TEA-200", "option_values": ["200 g"], "price": 160000, "stock": 5 }
        ]
    });
    let (status, created) = api.post("/api/v1/products", new_product.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["variants"][0]["on_hand"], 12);
    assert_eq!(created["name"], "Trà búp Bắc Kạn <b>đặc biệt</b>");
    let (status, body) = api.post("/api/v1/products", new_product.clone()).await;
    error_of(status, &body, StatusCode::CONFLICT, "conflict");

    let mut bad = new_product.clone();
    bad["product_id"] = json!("API-BAD");
    bad["variants"][1]["price"] = json!(0);
    bad["variants"][0]["barcode"] = json!("8930000000001");
    let (status, body) = api.post("/api/v1/products", bad).await;
    let details = error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let problems = details.as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["variant"] == 1 && p["sku"] == "API-TEA-200" && p["field"] == "price"),
        "{details}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p["variant"] == 0 && p["field"] == "barcode"),
        "{details}"
    );
    let (status, _) = api.get("/api/v1/products/API-BAD").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "nothing of a refused product written"
    );

    let changed = api.get(&format!("/api/v1/products/{product_id}")).await.1;
    let variants = changed["variants"].as_array().expect("variants");
    let index = variants.iter().position(|v| v["sku"] == SKU).expect("sku");
    let old_price = variants[index]["price"].as_i64().expect("price");
    let new_price = old_price + 7000;
    let body = json!({
        "name": changed["name"], "description": changed["description"],
        "category": changed["category"], "brand": changed["brand"], "origin": changed["origin"],
        "option_names": changed["option_names"],
        "variants": [{ "sku": SKU, "option_values": variants[index]["option_values"], "price": new_price }]
    });
    let (status, updated) = api
        .call(
            Method::PUT,
            &format!("/api/v1/products/{product_id}"),
            Some(&api.operator),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let mine = updated["variants"]
        .as_array()
        .expect("v")
        .iter()
        .find(|v| v["sku"] == SKU)
        .cloned();
    assert_eq!(mine.expect("sku")["price"], new_price);
    eventually(SOON, "the new price on both channels", || async {
        let shown = rig.shown().await;
        [SHOPEE, LAZADA].iter().all(|c| {
            shown[c]
                .get(SKU)
                .is_some_and(|(price, _)| *price >= new_price)
        })
    })
    .await;

    let (status, gone) = api
        .call(
            Method::DELETE,
            "/api/v1/products/API-TEA",
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["status"], "inactive");
    let audited = db
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'Lan' AND \
             (summary LIKE 'created product API-TEA%' OR summary LIKE 'updated product%' \
              OR summary = 'deactivated product API-TEA')",
        )
        .await;
    assert_eq!(audited, 3, "create, update and deactivate audited");
    eventually(SOON, "the delist pushed", || async {
        let mut left = 0;
        for channel in [SHOPEE, LAZADA] {
            left += rig.store.pending_tasks(channel).await.expect("tasks").len();
        }
        left == 0
    })
    .await;
    rig.assert_converged(db).await;
    daemon.stop().await;
}

/// A catalogue file refused names each problem's row, column and reason,
/// and changes nothing; a dry run changes nothing; a good file is imported
/// and audited; a body over the limit is refused in the error shape; the
/// export downloads the catalogue.
async fn catalogue_upload_reports_rows_and_applies_all_or_nothing(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let upload = |csv: String, dry_run: bool| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("gia-moi.csv"),
        );
        api.http
            .post(format!("{}/api/v1/catalogue?dry_run={dry_run}", api.base))
            .bearer_auth(&api.operator)
            .multipart(form)
    };
    let before = rig.store.stock(Some(SKU)).await.expect("stock");
    let (_, md) = api.get(&format!("/api/v1/products?q={SKU}")).await;
    let (_, nh) = api.get("/api/v1/products?q=nh-100g").await;
    let row = |p: &Value, price: &str| {
        let (id, name) = (
            p["items"][0]["product_id"].as_str().expect("id"),
            p["items"][0]["name"].as_str().expect("name"),
        );
        let sku = p["items"][0]["variants"][0]["sku"].as_str().expect("sku");
        format!("{id},\"{name}\",{sku},{price}\n")
    };
    let header = "product_id,name,sku,price\n";
    let bad = format!(
        "{header}{}{}XX-NONE,,XX-NONE,abc\n",
        row(&md, "12.5"),
        row(&nh, "95000")
    );
    let answer = upload(bad, false).send().await.expect("answer");
    let status = answer.status();
    let body: Value = answer.json().await.expect("json");
    let details = error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let problems = details["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["row"] == 2 && p["column"] == "D"),
        "{details}"
    );
    assert!(problems.iter().any(|p| p["row"] == 4), "{details}");
    assert!(
        problems
            .iter()
            .all(|p| p["reason"].as_str().is_some_and(|r| !r.is_empty()))
    );
    let (_, nh) = api.get("/api/v1/products?q=nh-100g").await;
    assert_ne!(
        nh["items"][0]["variants"][0]["price"], 95000,
        "nothing applied"
    );

    assert_eq!(md["items"][0]["variants"][0]["sku"], SKU);
    let good = format!("{header}{}", row(&md, "99000"));
    let answer = upload(good.clone(), true).send().await.expect("answer");
    assert_eq!(answer.status(), StatusCode::OK);
    let report: Value = answer.json().await.expect("json");
    assert_eq!(report["dry_run"], true, "{report}");
    assert_eq!(report["skus"]["updated"], 1, "{report}");
    let (_, one) = api.get(&format!("/api/v1/stock/{SKU}")).await;
    assert_eq!(one["stock"]["on_hand"], before[0].on_hand);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM variants WHERE price = 99000")
            .await,
        0,
        "dry run wrote nothing"
    );
    let answer = upload(good, false).send().await.expect("answer");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM variants WHERE price = 99000")
            .await,
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM audit_log WHERE summary LIKE 'imported gia-moi.csv%'")
            .await,
        1,
        "the import audited, the dry run not"
    );

    let huge = "x".repeat(chosync::api::v1::JSON_LIMIT_BYTES + 1);
    let (status, body) = api
        .post(
            &format!("/api/v1/stock/{SKU}/adjust"),
            json!({ "delta": 1, "reason": huge }),
        )
        .await;
    error_of(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let (status, body) = api
        .post(
            &format!("/api/v1/stock/{SKU}/adjust"),
            json!({ "delta": "one" }),
        )
        .await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    let csv = api
        .http
        .get(format!("{}/api/v1/catalogue?format=csv", api.base))
        .bearer_auth(&api.viewer)
        .send()
        .await
        .expect("export");
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.expect("text");
    assert!(
        text.contains("product_id") && text.contains(SKU),
        "{text:.200}"
    );
    let (status, body) = api.get("/api/v1/catalogue?format=pdf").await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    daemon.stop().await;
}

/// Stock adjusted with a reason (none: 422 naming the field; unknown SKU:
/// 404) reaches both channels; the sync log pages without overlap and
/// filters by channel and outcome; the live tail delivers the adjustment's
/// push as it is recorded.
async fn stock_adjustments_show_in_the_log_and_its_live_tail(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let (status, body) = api
        .post(
            &format!("/api/v1/stock/{SKU}/adjust"),
            json!({ "delta": 3, "reason": "  " }),
        )
        .await;
    let details = error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(details[0]["field"], "reason", "{details}");
    let (status, body) = api
        .post(
            "/api/v1/stock/NO-SUCH/adjust",
            json!({ "delta": 3, "reason": "kiểm kho" }),
        )
        .await;
    error_of(status, &body, StatusCode::NOT_FOUND, "not_found");

    let tail = api
        .http
        .get(format!("{}/api/v1/log/tail?channel={SHOPEE}", api.base))
        .bearer_auth(&api.viewer)
        .send()
        .await
        .expect("tail");
    assert_eq!(tail.status(), StatusCode::OK);
    assert!(
        tail.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/event-stream"))
    );
    let mut events = tail;
    // The newest rows come first; wait until they are through.
    let mut text = String::new();
    let newest = rig
        .store
        .sync_log(&chosync::store::LogFilter {
            channel: Some(SHOPEE.into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("log")[0]
        .id;
    while !text.contains(&format!("id: {newest}\n")) {
        let chunk = tokio::time::timeout(SOON, events.chunk())
            .await
            .expect("events")
            .expect("chunk")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let before = rig.available(SKU).await;
    let (status, row) = api
        .post(
            &format!("/api/v1/stock/{SKU}/adjust"),
            json!({ "delta": -2, "reason": "hàng hỏng" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert_eq!(row["available"], before - 2);
    let adjusted = Instant::now();
    let mut text = String::new();
    loop {
        let chunk = tokio::time::timeout(SOON, events.chunk())
            .await
            .expect("a new row")
            .expect("chunk")
            .expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("event: log") && text.contains(SKU) {
            break;
        }
    }
    eprintln!(
        "live tail: the push of the adjustment arrived {:?} after it",
        adjusted.elapsed()
    );
    drop(events);
    eventually(SOON, "the adjustment on both channels", || {
        rig.shows(SKU, before - 2)
    })
    .await;

    let (_, first) = api.get("/api/v1/log?limit=5").await;
    let (_, second) = api
        .get(&format!(
            "/api/v1/log?limit=5&cursor={}",
            first["next_cursor"].as_str().expect("cursor")
        ))
        .await;
    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["id"].as_i64().expect("id"))
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert_eq!(a.len(), 5);
    assert!(
        !b.is_empty() && a.iter().min() > b.iter().max(),
        "{a:?} then {b:?}"
    );
    let (_, lazada) = api
        .get(&format!("/api/v1/log?channel={LAZADA}&sku={SKU}"))
        .await;
    let rows = lazada["items"].as_array().expect("items");
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r["channel"] == LAZADA
                    && r["skus"].as_str().is_some_and(|s| s.contains(SKU)))
    );
    let (_, ok) = api.get("/api/v1/log?outcome=ok&limit=1000").await;
    assert!(
        ok["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["outcome"] == "ok")
    );
    let (_, later) = api.get("/api/v1/log?since=2999-01-01T00:00:00Z").await;
    assert_eq!(later["items"], json!([]));
    let (status, body) = api.get("/api/v1/log?cursor=abc").await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let (status, body) = api.get("/api/v1/log?since=yesterday").await;
    error_of(status, &body, StatusCode::BAD_REQUEST, "bad_request");
    rig.assert_converged(db).await;
    daemon.stop().await;
}

/// Channels listed with their state; a paused channel takes no pushes until
/// resumed; sync now, a SKU pushed again, the plan; alerts acknowledged by
/// the token's name; orders, explain, schedules, runs and the audit log read.
async fn channels_alerts_and_views(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let api = Api::new(&rig).await;
    let (status, channels) = api.get("/api/v1/channels").await;
    assert_eq!(status, StatusCode::OK, "{channels}");
    let ids: Vec<&str> = channels
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [SHOPEE, LAZADA]);

    let (status, paused) = api
        .post(
            &format!("/api/v1/channels/{LAZADA}/pause"),
            json!({ "reason": "kiểm tra giá" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert!(
        paused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Lan") && r.contains("kiểm tra giá"))
    );
    let (_, channels) = api.get("/api/v1/channels").await;
    assert_eq!(channels[1]["state"], "paused", "{channels}");
    let lazada_before = rig.shown().await[LAZADA][SKU];
    let before = rig.available(SKU).await;
    api.post(
        &format!("/api/v1/stock/{SKU}/adjust"),
        json!({ "delta": 4, "reason": "nhập kho" }),
    )
    .await;
    let shopee = rig
        .settings
        .channels
        .iter()
        .find(|c| c.id == SHOPEE)
        .expect("Shopee");
    let wanted = shopee.stock.apply(before + 4);
    eventually(SOON, "Shopee follows", || async {
        rig.shown().await[SHOPEE]
            .get(SKU)
            .is_some_and(|(_, stock)| *stock == wanted)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        rig.shown().await[LAZADA][SKU],
        lazada_before,
        "a paused channel is left as it is"
    );
    let (status, resumed) = api
        .post(&format!("/api/v1/channels/{LAZADA}/resume"), json!({}))
        .await;
    assert_eq!(
        (status, resumed["was_paused"].clone()),
        (StatusCode::OK, json!(true))
    );
    eventually(SOON, "Lazada follows once resumed", || {
        rig.shows(SKU, before + 4)
    })
    .await;

    let (status, body) = api
        .post(
            &format!("/api/v1/channels/{SHOPEE}/sync"),
            json!({ "retry": true }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/channels/{SHOPEE}/sync"),
            Some(&api.operator),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "an empty body is no body: {body}"
    );
    let (status, body) = api
        .post(
            &format!("/api/v1/channels/{SHOPEE}/skus/{SKU}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api.post("/api/v1/channels/nowhere/sync", json!({})).await;
    error_of(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, plan) = api
        .get(&format!("/api/v1/channels/{SHOPEE}/plan?kind=stock"))
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["channel"], SHOPEE);
    let (status, body) = api
        .get(&format!("/api/v1/channels/{SHOPEE}/plan?kind=everything"))
        .await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    let id = rig
        .store
        .raise_alert(&NewAlert {
            kind: AlertKind::Drift,
            channel: SHOPEE.into(),
            subject: SKU.into(),
            message: "<script>alert(1)</script> stock differs".into(),
        })
        .await
        .expect("alert");
    let (_, open) = api.get("/api/v1/alerts").await;
    assert!(
        open.as_array()
            .expect("alerts")
            .iter()
            .any(|a| a["id"] == id)
    );
    let (status, acked) = api
        .post(&format!("/api/v1/alerts/{id}/ack"), json!({}))
        .await;
    assert_eq!(
        (status, acked["now"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (_, open) = api.get("/api/v1/alerts").await;
    assert!(
        !open
            .as_array()
            .expect("alerts")
            .iter()
            .any(|a| a["id"] == id)
    );
    let (_, all) = api.get("/api/v1/alerts?all=true").await;
    let alert = all
        .as_array()
        .expect("alerts")
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .expect("kept");
    assert_eq!(alert["acknowledged_by"], "Lan");
    let (status, body) = api.post("/api/v1/alerts/999999/ack", json!({})).await;
    error_of(status, &body, StatusCode::NOT_FOUND, "not_found");

    let (status, explained) = api.get(&format!("/api/v1/explain/{SKU}")).await;
    assert_eq!(status, StatusCode::OK, "{explained}");
    assert_eq!(explained["channels"].as_array().expect("channels").len(), 2);
    assert!(
        explained["movements"]
            .as_array()
            .expect("m")
            .iter()
            .any(|m| m["reason"] == "nhập kho" && m["source"] == "api:Lan")
    );
    let (status, body) = api.get("/api/v1/explain/NO-SUCH").await;
    error_of(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, schedules) = api.get("/api/v1/schedules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        schedules
            .as_array()
            .expect("s")
            .iter()
            .any(|s| s["channel"] == SHOPEE && s["kind"] == "orders")
    );
    let (_, runs) = api
        .get(&format!("/api/v1/runs?channel={SHOPEE}&limit=2"))
        .await;
    assert_eq!(runs["items"].as_array().expect("runs").len(), 2, "{runs}");
    rig.push_to_daemon().await;
    let order = rig.place(SHOPEE, SKU, 1).await;
    eventually(SOON, "the order recorded", || async {
        api.get(&format!("/api/v1/orders/{SHOPEE}/{order}")).await.0 == StatusCode::OK
    })
    .await;
    let (_, orders) = api.get(&format!("/api/v1/orders?channel={SHOPEE}")).await;
    assert!(
        orders
            .as_array()
            .expect("orders")
            .iter()
            .any(|o| o["order_id"] == order.as_str())
    );
    let (status, body) = api.get("/api/v1/orders?status=lost").await;
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let (_, audit) = api.get("/api/v1/audit?limit=1000").await;
    let entries = audit["items"].as_array().expect("audit");
    for summary in [
        format!("paused {LAZADA}: kiểm tra giá"),
        format!("resumed {LAZADA}"),
        format!("acknowledged alert {id}"),
    ] {
        assert!(
            entries.iter().any(|e| e["summary"] == summary.as_str()
                && e["actor"] == "Lan"
                && e["method"] == "POST"),
            "{summary}: {audit}"
        );
    }
    daemon.stop().await;
}

on_both_engines!(
    every_endpoint_needs_a_token_and_a_viewer_only_reads,
    products_are_paged_and_written_through_the_import,
    catalogue_upload_reports_rows_and_applies_all_or_nothing,
    stock_adjustments_show_in_the_log_and_its_live_tail,
    channels_alerts_and_views,
);
