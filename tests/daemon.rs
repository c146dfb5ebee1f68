//! `chosync run` against Shopee and Lazada sandboxes on loopback, on both
//! databases: pushes in, orders imported once, stock out to every channel,
//! wake-ups from other processes, and a clean stop.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use common::daemon::{LAZADA, Rig, SHOPEE, eventually};
use common::process::Process;
use serde_json::json;

/// Listed on both channels (the demo's essential oils break Shopee's price-spread rule).
const SKU: &str = "MD-500G";

/// How long a story waits for what should take well under a second.
const SOON: Duration = Duration::from_secs(10);

/// A buyer orders on Shopee with pushes on: the push reaches the daemon's
/// webhook, the order is fetched and recorded once, and every SKU on every
/// channel — Lazada included — shows the stock the ledger now leaves.
async fn an_order_pushed_by_shopee_reaches_every_channel(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    rig.push_to_daemon().await;
    // Placed after the start-up poll, the order can only arrive by its push.
    first_poll_done(db).await;
    let before = rig.available(SKU).await;
    let order = rig.place(SHOPEE, SKU, 2).await;
    eventually(SOON, "the order's stock on every channel", || {
        rig.shows(SKU, before - 2)
    })
    .await;
    let recorded = rig.store.order(Some(SHOPEE), &order).await.expect("order");
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].seen_by, "push");
    assert_eq!(rig.available(SKU).await, before - 2);
    rig.assert_converged(db).await;
    daemon.stop().await;
}

/// A push whose signature does not hold is answered 401, raises a
/// `webhook_refused` alert and records nothing; an unknown channel is 404,
/// an oversized body 413; health and readiness answer.
async fn a_forged_push_is_refused_and_records_nothing(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let http = reqwest::Client::new();
    let body = json!({
        "data": { "ordersn": "2611290FORGED1", "status": "READY_TO_SHIP",
                  "completed_scenario": "", "update_time": 1_764_000_000 },
        "shop_id": rig.shopee.credentials.shop_id, "code": 3, "timestamp": 1_764_000_001
    })
    .to_string();
    let forged = chosync_shopee::sign::push(
        "not-the-partner-key",
        &rig.webhook_url(SHOPEE),
        body.as_bytes(),
    );
    let answer = http
        .post(rig.webhook_url(SHOPEE))
        .header("authorization", forged)
        .body(body.clone())
        .send()
        .await
        .expect("push");
    assert_eq!(answer.status(), 401);
    let alerts = rig.store.alerts(false).await.expect("alerts");
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "webhook_refused" && a.channel == SHOPEE),
        "{alerts:?}"
    );
    assert!(
        rig.store
            .order_hints(SHOPEE)
            .await
            .expect("hints")
            .is_empty()
    );
    let orders = rig
        .store
        .orders(&chosync::store::orders::OrderFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("orders");
    assert!(orders.is_empty(), "{orders:?}");
    let unknown = http
        .post(rig.webhook_url("tiki-nowhere"))
        .body(body)
        .send()
        .await
        .expect("push");
    assert_eq!(unknown.status(), 404);
    let huge = http
        .post(rig.webhook_url(LAZADA))
        .body(vec![b'x'; 1024 * 1024])
        .send()
        .await
        .expect("push");
    assert_eq!(huge.status(), 413);
    let root = format!("http://{}", rig.addr);
    let health = http
        .get(format!("{root}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let deadline = Instant::now() + SOON;
    let ready = loop {
        let answer = http
            .get(format!("{root}/readyz"))
            .send()
            .await
            .expect("readyz");
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.expect("JSON");
        if status == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "not ready: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ready["workers"][SHOPEE], "running", "{ready}");
    assert_eq!(ready["workers"][LAZADA], "running", "{ready}");
    daemon.stop().await;
}

/// The same push arrives twice and the poll finds the order as well: the
/// stock is lowered once.
async fn a_push_seen_twice_and_polled_lowers_stock_once(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    // The poll every second, so it comes round within the story.
    for channel in &mut rig.settings.channels {
        channel.schedule.orders = "* * * * * *".into();
    }
    let daemon = rig.start();
    rig.push_to_daemon().await;
    let before = rig.available(SKU).await;
    let lists = || async {
        rig.shopee_control()
            .calls("/api/v2/order/get_order_list")
            .await
    };
    let order = rig.place(SHOPEE, SKU, 3).await;
    eventually(SOON, "the first push's effect", || {
        rig.shows(SKU, before - 3)
    })
    .await;
    // The platform sends the push again (at least once delivery).
    let body = json!({
        "data": { "ordersn": order, "status": "UNPAID", "completed_scenario": "",
                  "update_time": 1_764_000_000 },
        "shop_id": rig.shopee.credentials.shop_id, "code": 3, "timestamp": 1_764_000_001
    })
    .to_string();
    let signature = chosync_shopee::sign::push(
        &rig.shopee.credentials.partner_key,
        &rig.webhook_url(SHOPEE),
        body.as_bytes(),
    );
    let details = rig
        .shopee_control()
        .calls("/api/v2/order/get_order_detail")
        .await;
    let again = reqwest::Client::new()
        .post(rig.webhook_url(SHOPEE))
        .header("authorization", signature)
        .body(body)
        .send()
        .await
        .expect("push again");
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.text().await.expect("body"),
        "",
        "Shopee wants an empty body"
    );
    let polls = lists().await;
    eventually(
        SOON,
        "the repeated push fetched and a poll after it",
        || async {
            rig.shopee_control()
                .calls("/api/v2/order/get_order_detail")
                .await
                > details
                && lists().await >= polls + 2
                && rig
                    .store
                    .order_hints(SHOPEE)
                    .await
                    .expect("hints")
                    .is_empty()
        },
    )
    .await;
    daemon.stop().await;
    assert_eq!(rig.available(SKU).await, before - 3, "lowered once");
    let effects = rig.store.sku_effects(SKU, 50).await.expect("effects");
    assert_eq!(effects.len(), 1, "{effects:?}");
    rig.assert_converged(db).await;
}

/// `chosync run` as a process: Lazada is pushed while Shopee's stock push
/// hangs on a slow platform, and SIGTERM then ends it with exit code 0 once the grace period (1 s) is over:
/// the pass is stopped and marked failed, its work stays pending and its
/// lease is released — started again, the daemon pushes that work at once
/// (a lease left behind would hold the channel for 30 s) and every channel
/// converges.
async fn sigterm_with_a_push_in_flight_exits_zero_and_a_restart_converges(db: &TestDb) {
    let mut rig = Rig::new(db, 1).await;
    rig.release_listener();
    let mut child = Process::guard(
        Command::new(env!("CARGO_BIN_EXE_chosync"))
            .arg("--config")
            .arg(&rig.config)
            .arg("run")
            .stdout(Stdio::null())
            .spawn()
            .expect("chosync run"),
    );
    let root = format!("http://{}", rig.addr);
    eventually(SOON, "the daemon answers", || async {
        reqwest::get(format!("{root}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    rig.shopee_control()
        .faults(json!({ "latency_ms": 4000, "only": "/api/v2/product/update_stock" }))
        .await;
    let before = rig.available(SKU).await;
    chosync::inventory::adjust(rig.store.as_ref(), SKU, -5, "broken bottles", "test")
        .await
        .expect("adjust");
    eventually(SOON, "Shopee's stock pass in flight", || async {
        count(
            db,
            "SELECT COUNT(*) FROM sync_runs WHERE status = 'running' AND channel = 'shopee-demo' \
             AND kind <> 'orders'",
        )
        .await
            > 0
    })
    .await;
    // One channel's slow platform holds up no other channel.
    let lazada = rig
        .settings
        .channel(LAZADA)
        .expect("Lazada")
        .stock
        .apply(before - 5);
    eventually(SOON, "Lazada pushed while Shopee's push hangs", || async {
        rig.shown().await[LAZADA].get(SKU).map(|s| s.1) == Some(lazada)
    })
    .await;
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.child.try_wait().expect("wait") {
            break status;
        }
        assert!(signalled.elapsed() < SOON, "chosync run did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(running_passes(db).await, 0, "no run left running");
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM sync_runs WHERE status = 'failed' AND error LIKE '%stopped%'"
        )
        .await,
        1,
        "the pass in flight was stopped after the grace period"
    );
    rig.shopee_control().faults(json!({})).await;
    let daemon = rig.restart().await;
    eventually(SOON, "the restart pushes the pending work", || {
        rig.shows(SKU, before - 5)
    })
    .await;
    rig.assert_converged(db).await;
    daemon.stop().await;
}

/// Waits for the end of Shopee's first order poll (the daemon polls at start).
async fn first_poll_done(db: &TestDb) {
    eventually(SOON, "the start-up poll", || async {
        count(
            db,
            "SELECT COUNT(*) FROM sync_runs WHERE channel = 'shopee-demo' AND kind = 'orders' \
             AND status = 'ok'",
        )
        .await
            > 0
    })
    .await;
}

async fn running_passes(db: &TestDb) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM sync_runs WHERE status = 'running' AND kind <> 'orders'",
    )
    .await
}

async fn count(db: &TestDb, sql: &'static str) -> i64 {
    db.count(sql).await
}

/// `chosync stock adjust` in another process: on PostgreSQL its write
/// notifies the daemon, which pushes it long before the 30 s backstop; on
/// SQLite the backstop (2 s) finds it.
async fn a_change_by_another_process_wakes_the_daemon(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    let before = rig.available(SKU).await;
    // Settled: the daemon's start-up pass has nothing left to do.
    eventually(SOON, "idle", || rig.shows(SKU, before)).await;
    let adjusted = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .arg("--config")
        .arg(&rig.config)
        .args(["stock", "adjust", SKU, "-4", "--reason", "counted again"])
        .stdout(Stdio::null())
        .status()
        .expect("chosync stock adjust");
    assert!(adjusted.success());
    let written = Instant::now();
    eventually(SOON, "the change on every channel", || {
        rig.shows(SKU, before - 4)
    })
    .await;
    let took = written.elapsed();
    let limit = if db.url.starts_with("sqlite:") {
        chosync::daemon::SQLITE_BACKSTOP + Duration::from_secs(2)
    } else {
        Duration::from_millis(1500)
    };
    assert!(took < limit, "pushed after {took:?} (limit {limit:?})");
    eprintln!(
        "{}: pushed {took:?} after the other process's write",
        db.url.split(':').next().unwrap_or("")
    );
    daemon.stop().await;
}

/// The seller withdraws Shopee's authorization while the daemon runs: the
/// next call's refresh is refused once, Shopee is paused with an alert and
/// asked nothing more, and Lazada carries on; the tokens schedule runs.
async fn a_dead_authorization_pauses_only_that_channel(db: &TestDb) {
    let mut rig = Rig::new(db, 2).await;
    for channel in &mut rig.settings.channels {
        channel.schedule.tokens = "* * * * * *".into();
    }
    let daemon = rig.start();
    first_poll_done(db).await;
    for path in ["/_sandbox/authorization/revoke", "/_sandbox/tokens/expire"] {
        rig.shopee_control().control(path, json!({})).await;
    }
    let before = rig.available(SKU).await;
    chosync::inventory::adjust(rig.store.as_ref(), SKU, -1, "a broken jar", "test")
        .await
        .expect("adjust");
    let lazada = rig
        .settings
        .channel(LAZADA)
        .expect("Lazada")
        .stock
        .apply(before - 1);
    eventually(SOON, "Lazada shows the new stock", || async {
        rig.shown().await[LAZADA].get(SKU).map(|s| s.1) == Some(lazada)
    })
    .await;
    eventually(SOON, "Shopee paused", || async {
        rig.store
            .channel_pause(SHOPEE)
            .await
            .expect("pause")
            .is_some()
    })
    .await;
    let alerts = rig.store.alerts(false).await.expect("alerts");
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "token_refresh_refused" && a.channel == SHOPEE),
        "{alerts:?}"
    );
    assert!(
        rig.store
            .channel_pause(LAZADA)
            .await
            .expect("pause")
            .is_none()
    );
    let refresh = "/api/v2/auth/access_token/get";
    assert_eq!(rig.shopee_control().calls(refresh).await, 1, "refused once");
    let asked = rig.shopee_control().stats().await["calls"].clone();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        rig.shopee_control().stats().await["calls"],
        asked,
        "nothing asked of a paused channel"
    );
    let ticks = count(
        db,
        "SELECT COUNT(*) FROM schedule_ticks WHERE channel = 'lazada-demo' \
         AND kind = 'tokens' AND outcome = 'done'",
    )
    .await;
    assert!(ticks >= 2, "Lazada's tokens checked every second: {ticks}");
    daemon.stop().await;
}

on_both_engines!(
    a_dead_authorization_pauses_only_that_channel,
    an_order_pushed_by_shopee_reaches_every_channel,
    a_forged_push_is_refused_and_records_nothing,
    a_push_seen_twice_and_polled_lowers_stock_once,
    sigterm_with_a_push_in_flight_exits_zero_and_a_restart_converges,
    a_change_by_another_process_wakes_the_daemon,
);
