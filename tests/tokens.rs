//! The token lifecycle on real sandboxes, on SQLite and on PostgreSQL: an
//! access token that runs out mid-run is refreshed once and the work goes
//! on; a refresh the platform refuses for good pauses only that channel
//! (alerted, no call sent, its shown stock still counted) until it is
//! authorized again; the authorization's end is alerted ahead of time, and
//! by Shopee's push code 12.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chosync::api::{ApiState, Workers};
use chosync::channels::PlatformKind;
use chosync::channels::client::ChannelClient;
use chosync::channels::prepare::LiveChannel;
use chosync::channels::status::ChannelState;
use chosync::channels::tokens::{self, TokenCheck};
use chosync::clock::Clock;
use chosync::inventory::allocation::{Allocation, AllocationSettings, Mode};
use chosync::orders::{OrderError, Source};
use chosync::settings::OrderSettings;
use chosync::store::orders::{Alert, AlertKind};
use chosync::sync::reconcile::{ReconcileError, reconcile_channel};
use chosync::sync::{CallLog, Channel, Options, SyncError, sync_channel};
use chosync_connector::clock::SystemClock;
use chosync_shopee::{Shopee, ShopeeConfig};
use serde_json::json;

use common::shops::{self, Sandbox, Shop};
use common::{TestDb, demo_catalogue};

/// A gift box listed on both platforms, 30 on hand.
const SKU: &str = "BQ-TD-3X10";
const SHOPEE_REFRESH: &str = "/api/v2/auth/access_token/get";
const LAZADA_REFRESH: &str = "/auth/token/refresh";

async fn sync(db: &TestDb, channel: &Channel<'_>) {
    sync_channel(db.store.as_ref(), channel, &Options::new("test"))
        .await
        .expect("sync");
}

async fn assert_converged(db: &TestDb, shop: &Shop) {
    common::converged::assert_converged(db, &shop.rig.settings, &shop.shown().await).await;
}

/// Shopee shop `shopee-a` (on `shopee`) and Lazada shop `lazada-a`, the demo
/// catalogue listed on both.
async fn listed(db: &TestDb, shopee: Shop, lazada: Shop) -> (Shop, Shop) {
    shops::enable(db, &[&shopee, &lazada]).await;
    db.import(&demo_catalogue()).await.expect("import");
    sync(db, &shopee.channel()).await;
    sync(db, &lazada.channel()).await;
    assert_converged(db, &shopee).await;
    assert_converged(db, &lazada).await;
    (shopee, lazada)
}

/// A Shopee sandbox whose access tokens live 20 minutes: inside the tokens
/// schedule's refresh margin, so a check refreshes.
fn short_lived_shopee() -> chosync_shopee::sandbox::SandboxConfig {
    chosync_shopee::sandbox::SandboxConfig {
        access_ttl: chrono::Duration::minutes(20),
        ..shops::shopee_sandbox()
    }
}

async fn adjust(db: &TestDb, delta: i64) {
    chosync::inventory::adjust(db.store.as_ref(), SKU, delta, "delivery", "test")
        .await
        .expect("adjust");
}

async fn open_alerts(db: &TestDb, kind: AlertKind, channel: &str) -> Vec<Alert> {
    let alerts = db.store.alerts(false).await.expect("alerts");
    alerts
        .into_iter()
        .filter(|a| a.kind == kind.as_str() && a.channel == channel)
        .collect()
}

/// Every call a sandbox answered, control API excluded.
async fn calls(shop: &Shop) -> u64 {
    let stats = shop.control.stats().await;
    stats["calls"]
        .as_object()
        .map_or(0, |calls| calls.values().filter_map(|n| n.as_u64()).sum())
}

async fn an_access_token_that_runs_out_mid_run_is_refreshed_once_and_the_work_converges(
    db: &TestDb,
) {
    let (shopee, lazada) = listed(
        db,
        shops::shopee(db, "shopee-a", "").await,
        shops::lazada(db, "lazada-a", "").await,
    )
    .await;
    for (shop, refresh) in [(&shopee, SHOPEE_REFRESH), (&lazada, LAZADA_REFRESH)] {
        assert_eq!(shop.control.calls(refresh).await, 0, "{}", shop.id());
        // The tokens' life runs out while chosync still holds them as good.
        shop.control
            .control("/_sandbox/tokens/expire", json!({}))
            .await;
    }
    adjust(db, 7).await;
    for shop in [&shopee, &lazada] {
        sync(db, &shop.channel()).await;
        assert_converged(db, shop).await;
    }
    assert_eq!(shopee.control.calls(SHOPEE_REFRESH).await, 1);
    assert_eq!(lazada.control.calls(LAZADA_REFRESH).await, 1);
    // The fresh pair is the one stored: the next pass needs no refresh.
    adjust(db, -2).await;
    for shop in [&shopee, &lazada] {
        sync(db, &shop.channel()).await;
        assert_converged(db, shop).await;
    }
    assert_eq!(shopee.control.calls(SHOPEE_REFRESH).await, 1);
    assert_eq!(lazada.control.calls(LAZADA_REFRESH).await, 1);
}

async fn the_tokens_check_refreshes_ahead_of_expiry_and_only_then(db: &TestDb) {
    let shopee = shops::shopee_on(db, "shopee-a", "", short_lived_shopee(), None).await;
    let lazada = shops::lazada(db, "lazada-a", "").await;
    let checked = tokens::check(db.store.as_ref(), &shopee.channel())
        .await
        .expect("check");
    assert!(
        matches!(checked.check, TokenCheck::Refreshed { .. }),
        "{checked:?}"
    );
    let again = tokens::check(db.store.as_ref(), &shopee.channel())
        .await
        .expect("check");
    assert!(
        matches!(again.check, TokenCheck::Refreshed { .. }),
        "20 minutes is still inside the margin: {again:?}"
    );
    // Lazada's 7-day access token is far from its end.
    let far = tokens::check(db.store.as_ref(), &lazada.channel())
        .await
        .expect("check");
    assert!(matches!(far.check, TokenCheck::Fresh { .. }), "{far:?}");
    assert_eq!(shopee.control.calls(SHOPEE_REFRESH).await, 2);
    assert_eq!(lazada.control.calls(LAZADA_REFRESH).await, 0);
}

async fn a_refused_refresh_pauses_only_that_channel_until_it_is_authorized_again(db: &TestDb) {
    let (shopee, lazada) = listed(
        db,
        shops::shopee_on(db, "shopee-a", "", short_lived_shopee(), None).await,
        shops::lazada(db, "lazada-a", "").await,
    )
    .await;
    // The seller withdraws the authorization in the seller centre.
    shopee
        .control
        .control("/_sandbox/authorization/revoke", json!({}))
        .await;
    let checked = tokens::check(db.store.as_ref(), &shopee.channel())
        .await
        .expect("check");
    let TokenCheck::Refused { reason } = &checked.check else {
        panic!("refused: {checked:?}");
    };
    assert!(reason.contains("error_shop_refresh_token"), "{reason}");
    assert_eq!(shopee.control.calls(SHOPEE_REFRESH).await, 1, "tried once");
    let refused = open_alerts(db, AlertKind::TokenRefreshRefused, "shopee-a").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]
            .message
            .contains("chosync channels connect shopee-a")
    );
    let state = ChannelState::of(
        db.store.as_ref(),
        "shopee-a",
        &db.store.membership().await.expect("membership"),
    )
    .await
    .expect("state");
    assert!(
        state.label().starts_with("paused (the platform refused"),
        "{state:?}"
    );
    assert_eq!(
        ChannelState::of(
            db.store.as_ref(),
            "lazada-a",
            &db.store.membership().await.expect("membership")
        )
        .await
        .expect("state"),
        ChannelState::Active
    );

    // Paused: sync, order import and reconcile refuse at once, no call sent.
    adjust(db, 5).await;
    let before = calls(&shopee).await;
    let sync_refused = sync_channel(db.store.as_ref(), &shopee.channel(), &Options::new("test"))
        .await
        .expect_err("paused");
    assert!(
        matches!(sync_refused, SyncError::Paused(_)),
        "{sync_refused}"
    );
    assert!(
        sync_refused
            .to_string()
            .starts_with("channel shopee-a is paused since"),
        "{sync_refused}"
    );
    let import = chosync::orders::import(
        db.store.as_ref(),
        &shopee.channel(),
        Source::Poll,
        &OrderSettings::default(),
        "test",
    )
    .await
    .expect_err("paused");
    assert!(matches!(import, OrderError::Paused(_)), "{import}");
    let reconcile = reconcile_channel(db.store.as_ref(), &shopee.channel(), &Options::new("test"))
        .await
        .expect_err("paused");
    assert!(
        matches!(reconcile, ReconcileError::Sync(SyncError::Paused(_))),
        "{reconcile}"
    );
    let again = tokens::check(db.store.as_ref(), &shopee.channel())
        .await
        .expect("check");
    assert!(matches!(again.check, TokenCheck::Paused(_)), "{again:?}");
    assert_eq!(calls(&shopee).await, before, "no call to a paused channel");

    // The other channel carries on.
    sync(db, &lazada.channel()).await;
    assert_converged(db, &lazada).await;

    // The seller consents again: resumed, alert resolved, work converges.
    let Sandbox::Shopee(running) = &shopee.sandbox else {
        panic!("a Shopee shop");
    };
    shopee
        .rig
        .client
        .authorize(&running.sandbox.issue_code())
        .await
        .expect("authorize");
    let expiry = shopee.rig.client.token_expiry().await.expect("expiry");
    tokens::authorized(db.store.as_ref(), "shopee-a", PlatformKind::Shopee, expiry)
        .await
        .expect("authorized");
    assert_eq!(
        ChannelState::of(
            db.store.as_ref(),
            "shopee-a",
            &db.store.membership().await.expect("membership")
        )
        .await
        .expect("state"),
        ChannelState::Active
    );
    assert!(
        open_alerts(db, AlertKind::TokenRefreshRefused, "shopee-a")
            .await
            .is_empty()
    );
    sync(db, &shopee.channel()).await;
    assert_converged(db, &shopee).await;
}

/// `shop`'s channel under `allocation`.
fn under<'a>(shop: &'a Shop, allocation: &'a Allocation) -> Channel<'a> {
    Channel {
        allocation,
        ..shop.channel()
    }
}

async fn a_refresh_refused_mid_pass_pauses_the_channel_when_the_pass_ends(db: &TestDb) {
    let (shopee, lazada) = listed(
        db,
        shops::shopee(db, "shopee-a", "").await,
        shops::lazada(db, "lazada-a", "").await,
    )
    .await;
    shopee
        .control
        .control("/_sandbox/authorization/revoke", json!({}))
        .await;
    adjust(db, 3).await;
    // The pass's calls are refused; its one refresh too, for good.
    let _ = sync_channel(db.store.as_ref(), &shopee.channel(), &Options::new("test")).await;
    assert_eq!(
        shopee.control.calls(SHOPEE_REFRESH).await,
        1,
        "a dead refresh token is not tried again"
    );
    let state = ChannelState::of(
        db.store.as_ref(),
        "shopee-a",
        &db.store.membership().await.expect("membership"),
    )
    .await
    .expect("state");
    assert!(matches!(state, ChannelState::Paused { .. }), "{state:?}");
    let refused = open_alerts(db, AlertKind::TokenRefreshRefused, "shopee-a").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    sync(db, &lazada.channel()).await;
    assert_converged(db, &lazada).await;
}

async fn a_paused_channel_keeps_its_shown_stock_counted_under_partitioned_stock(db: &TestDb) {
    let shopee = shops::shopee_on(db, "shopee-a", "buffer = 0", short_lived_shopee(), None).await;
    let lazada = shops::lazada(db, "lazada-a", "buffer = 0").await;
    shops::enable(db, &[&shopee, &lazada]).await;
    let allocation = Allocation {
        settings: AllocationSettings {
            mode: Mode::Partitioned,
            ..AllocationSettings::default()
        },
        channels: [&shopee, &lazada]
            .iter()
            .map(|s| (s.id().to_string(), (true, s.rig.settings.stock.clone())))
            .collect(),
    };
    db.import(&demo_catalogue()).await.expect("import");
    // The first pass lists everything on Shopee; the next ones split it.
    for _ in 0..2 {
        sync(db, &under(&shopee, &allocation)).await;
        sync(db, &under(&lazada, &allocation)).await;
    }
    let level = db.store.stock(Some(SKU)).await.expect("stock");
    let sellable = level[0].on_hand - level[0].reserved;
    let shown_on_shopee = shopee.stock_of(SKU).await.expect("listed");
    assert!(
        shown_on_shopee > 0 && shown_on_shopee < sellable,
        "split: {shown_on_shopee} of {sellable}"
    );
    shopee
        .control
        .control("/_sandbox/authorization/revoke", json!({}))
        .await;
    let checked = tokens::check(db.store.as_ref(), &shopee.channel())
        .await
        .expect("check");
    assert!(
        matches!(checked.check, TokenCheck::Refused { .. }),
        "{checked:?}"
    );
    adjust(db, 10).await;
    sync(db, &under(&lazada, &allocation)).await;
    let sellable = sellable + 10;
    // Shopee still sells what it shows: Lazada gets the rest, not a split.
    assert_eq!(shopee.stock_of(SKU).await, Some(shown_on_shopee));
    assert_eq!(lazada.stock_of(SKU).await, Some(sellable - shown_on_shopee));
}

async fn the_authorization_end_is_alerted_seven_days_ahead_on_shopee_and_48_hours_on_lazada(
    db: &TestDb,
) {
    let shopee = shops::shopee(db, "shopee-a", "").await;
    let lazada = shops::lazada(db, "lazada-a", "").await;
    shops::enable(db, &[&shopee, &lazada]).await;
    let now = db.clock.now();
    let cases = [
        (
            &shopee,
            chrono::Duration::days(8),
            chrono::Duration::days(7),
        ),
        (
            &lazada,
            chrono::Duration::hours(49),
            chrono::Duration::hours(48),
        ),
    ];
    for (shop, outside, inside) in cases {
        let id = shop.id();
        let store = db.store.as_ref();
        store
            .record_authorization(id, Some(now + outside))
            .await
            .expect("record");
        let far = tokens::check(store, &shop.channel()).await.expect("check");
        assert!(!far.expiring, "{far:?}");
        assert!(
            open_alerts(db, AlertKind::AuthorizationExpiring, id)
                .await
                .is_empty()
        );
        store
            .record_authorization(id, Some(now + inside))
            .await
            .expect("record");
        let near = tokens::check(store, &shop.channel()).await.expect("check");
        assert!(near.expiring, "{near:?}");
        assert_eq!(near.authorization_ends_at, Some(now + inside));
        let alerts = open_alerts(db, AlertKind::AuthorizationExpiring, id).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].message.contains(id));
        // Authorized again: a new end, the alert resolved.
        let expiry = shop.rig.client.token_expiry().await.expect("expiry");
        let platform = shop.rig.settings.platform;
        tokens::authorized(store, id, platform, expiry)
            .await
            .expect("authorized");
        assert!(
            open_alerts(db, AlertKind::AuthorizationExpiring, id)
                .await
                .is_empty()
        );
        let after = tokens::check(store, &shop.channel()).await.expect("check");
        assert!(!after.expiring, "{after:?}");
    }
    let shopee_end = db.store.authorization("shopee-a").await.expect("read");
    assert_eq!(
        shopee_end.and_then(|a| a.expires_at),
        Some(now + chrono::Duration::days(365))
    );
}

async fn a_pause_keeps_its_first_moment_and_resuming_twice_is_harmless(db: &TestDb) {
    let store = db.store.as_ref();
    assert_eq!(store.channel_pause("shopee-a").await.expect("read"), None);
    let first = store
        .pause_channel("shopee-a", "refused: error_shop_refresh_token")
        .await
        .expect("pause");
    assert_eq!(first.since, db.clock.now());
    db.clock.advance(chrono::Duration::minutes(10));
    let again = store
        .pause_channel("shopee-a", "refused: IllegalRefreshToken")
        .await
        .expect("pause");
    assert_eq!(again.since, first.since, "paused since the first refusal");
    assert_eq!(again.reason, "refused: IllegalRefreshToken");
    assert_eq!(
        store.channel_pause("shopee-a").await.expect("read"),
        Some(again)
    );
    assert_eq!(store.channel_pause("lazada-a").await.expect("read"), None);
    assert!(store.resume_channel("shopee-a").await.expect("resume"));
    assert!(!store.resume_channel("shopee-a").await.expect("resume"));
    assert_eq!(store.channel_pause("shopee-a").await.expect("read"), None);
    assert!(
        !store
            .set_authorization_end("shopee-a", db.clock.now())
            .await
            .expect("set"),
        "no authorization recorded yet"
    );
}

struct NoWorkers;

impl Workers for NoWorkers {
    fn wake(&self, _: &str) {}
    fn state(&self) -> chosync::api::WorkState {
        chosync::api::WorkState {
            settled: true,
            standby: false,
            channels: BTreeMap::new(),
        }
    }
}

async fn a_shopee_push_code_12_raises_the_authorization_expiring_alert(db: &TestDb) {
    // chosync's webhook ingress on loopback; Shopee signs with its URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let callback = format!(
        "http://{}/webhooks/shopee-a",
        listener.local_addr().expect("addr")
    );
    let shop = shops::shopee_on(
        db,
        "shopee-a",
        "",
        shops::shopee_sandbox(),
        Some(callback.clone()),
    )
    .await;
    let Sandbox::Shopee(running) = &shop.sandbox else {
        panic!("a Shopee shop");
    };
    let client = Shopee::new(
        ShopeeConfig {
            channel: "shopee-a".into(),
            base_url: running.base_url.clone(),
            partner_id: running.credentials.partner_id,
            partner_key: running.credentials.partner_key.clone().into(),
            shop_id: running.credentials.shop_id,
            callback_url: Some(callback.clone()),
            limits: ShopeeConfig::default_limits(),
            http: common::rig::quick_http(),
            tier_wait: std::time::Duration::from_millis(50),
        },
        common::rig::credentials(db),
        Arc::new(CallLog::default()),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let live = LiveChannel {
        settings: shop.rig.settings.clone(),
        client: ChannelClient::Shopee(client),
        mapping: common::rig::mapping("shopee-demo.toml"),
        events: Arc::new(CallLog::default()),
        push_key: None,
        allocation: Arc::new(Allocation::default()),
    };
    let state = ApiState {
        store: db.store.clone(),
        settings: Arc::new(chosync::settings::Settings::default()),
        stopping: tokio::sync::watch::channel(false).1,
        channels: Arc::new(BTreeMap::from([("shopee-a".to_string(), Arc::new(live))])),
        workers: Arc::new(NoWorkers),
        refusals: Arc::default(),
    };
    tokio::spawn(async move { axum::serve(listener, chosync::api::router(state)).await });
    shop.control
        .control("/_sandbox/webhook-target", json!({ "url": callback }))
        .await;
    db.store
        .record_authorization("shopee-a", None)
        .await
        .expect("record");
    let ends = db.clock.now() + chrono::Duration::days(6);
    running.sandbox.push_authorization_expiry(ends.timestamp());
    let mut alerts = Vec::new();
    for _ in 0..100 {
        alerts = open_alerts(db, AlertKind::AuthorizationExpiring, "shopee-a").await;
        if !alerts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(alerts.len(), 1, "the push raised the alert");
    let recorded = db.store.authorization("shopee-a").await.expect("read");
    assert_eq!(
        recorded.and_then(|a| a.expires_at).map(|t| t.timestamp()),
        Some(ends.timestamp()),
        "the end the push names is kept"
    );
    // The tokens check agrees with the push: the alert stays.
    let checked = tokens::check(db.store.as_ref(), &shop.channel())
        .await
        .expect("check");
    assert!(checked.expiring, "{checked:?}");
}

on_both_engines!(
    an_access_token_that_runs_out_mid_run_is_refreshed_once_and_the_work_converges,
    the_tokens_check_refreshes_ahead_of_expiry_and_only_then,
    a_refused_refresh_pauses_only_that_channel_until_it_is_authorized_again,
    a_refresh_refused_mid_pass_pauses_the_channel_when_the_pass_ends,
    a_paused_channel_keeps_its_shown_stock_counted_under_partitioned_stock,
    the_authorization_end_is_alerted_seven_days_ahead_on_shopee_and_48_hours_on_lazada,
    a_shopee_push_code_12_raises_the_authorization_expiring_alert,
    a_pause_keeps_its_first_moment_and_resuming_twice_is_harmless,
);
