//! The sync pass against a Lazada sandbox, on both databases: a pass that
//! dies while its creates are in flight, and the pass that adopts its work.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chosync::channels::client::ChannelClient;
use chosync::clock::Clock;
use chosync::inventory::{MovementKind, NewMovement};
use chosync::sync::{CallLog, Channel, Options, SyncError, sync_channel};
use chosync_connector::clock::SystemClock;
use chosync_connector::sandbox::Faults;
use chosync_lazada::sandbox::{LazadaSandbox, Running, SandboxConfig};
use chosync_lazada::{Lazada, LazadaConfig};
use common::rig::{self, Rig};
use common::{TestDb, demo_catalogue};
use serde_json::Value;

const CHANNEL: &str = "lazada-demo";

struct Setup {
    running: Running,
    rig: Rig,
}

async fn setup(db: &TestDb) -> Setup {
    let rate = |n| std::num::NonZeroU32::new(n).expect("rate");
    let sandbox = SandboxConfig {
        inventory_rate: rate(500),
        other_rate: rate(200),
        qc_delay: Duration::ZERO,
        ..SandboxConfig::default()
    };
    let running = LazadaSandbox::start(sandbox, 0).await.expect("sandbox");
    rig::register(db, CHANNEL).await;
    let settings = rig::settings(&format!(
        "id = \"{CHANNEL}\"\nplatform = \"lazada\"\nbase_url = \"{}\"\nauth_url = \"{}\"\napp_key = \"{}\"\n\
         price = {{ markup_percent = 8, round_to = 1000, rounding = \"nearest\" }}\nstock = {{ buffer = 2 }}\n",
        running.base_url, running.auth_url, running.credentials.app_key
    ));
    let events = Arc::new(CallLog::default());
    let config = LazadaConfig {
        channel: CHANNEL.into(),
        base_url: running.base_url.clone(),
        auth_url: running.auth_url.clone(),
        app_key: running.credentials.app_key.clone(),
        app_secret: running.credentials.app_secret.clone().into(),
        limits: LazadaConfig::default_limits()
            .with_rate("inventory", rate(450))
            .with_rate("other", rate(180)),
        http: rig::quick_http(),
    };
    let lazada = Lazada::new(
        config,
        rig::credentials(db),
        events.clone(),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let client = ChannelClient::Lazada(lazada);
    let code = running.credentials.code.clone();
    let rig = Rig::authorized(settings, "lazada-demo.toml", client, events, &code).await;
    Setup { running, rig }
}

impl Setup {
    fn channel(&self) -> Channel<'_> {
        self.rig.channel()
    }

    async fn products(&self) -> Vec<Value> {
        let url = format!("http://{}/_sandbox/listings", self.running.addr);
        let all: Value = reqwest::get(url)
            .await
            .expect("listings")
            .json()
            .await
            .expect("JSON");
        all.as_array().cloned().unwrap_or_default()
    }

    /// Price and sellable stock of every SKU the sandbox holds.
    async fn shown(&self) -> HashMap<String, (i64, i64)> {
        let mut shown = HashMap::new();
        for product in self.products().await {
            for sku in product["skus"].as_array().into_iter().flatten() {
                let price = sku["price"].as_f64().map_or(-1, |p| p.round() as i64);
                let stock = sku["Available"].as_i64().unwrap_or(-1);
                let seller_sku = sku["SellerSku"].as_str().unwrap_or_default();
                shown.insert(seller_sku.to_string(), (price, stock));
            }
        }
        shown
    }

    fn creates(&self) -> u64 {
        let stats = self.running.sandbox.kit().stats();
        stats.calls.get("/product/create").copied().unwrap_or(0)
    }
}

/// The pass dies while its creates are in flight: Lazada made every product,
/// no answer was read. A SKU sells meanwhile. Once the dead pass's lease runs
/// out, the next pass finds each product by its SKUs and adopts it — none is
/// created twice — records what each SKU shows, and pushes what differs:
/// every SKU ends showing the price and stock the rules want.
async fn a_lazada_pass_that_dies_mid_create_is_adopted_and_every_sku_converges(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.running.sandbox.kit().set_faults(Faults {
        timeout_rate: 1.0,
        only: Some("/rest/product/create".into()),
        ..Faults::default()
    });
    let options = Options {
        lease: Duration::from_secs(3),
        ..Options::new("test")
    };
    let channel = s.channel();
    let dying = sync_channel(db.store.as_ref(), &channel, &options);
    // Every product the pass marked `creating` is made on the platform.
    let made = async {
        loop {
            let states = db.store.listing_states(CHANNEL).await.expect("states");
            let creating: std::collections::BTreeSet<&str> = states
                .values()
                .filter(|s| s.status == "creating")
                .filter_map(|s| s.product_id.as_deref())
                .collect();
            if !creating.is_empty() && s.products().await.len() == creating.len() {
                return creating.len() as u64;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let products = tokio::select! {
        result = dying => panic!("the pass should still wait on its answers: {result:?}"),
        // The pass is dropped here, mid-call, as a crash would leave it.
        made = made => made,
    };
    s.running.sandbox.kit().set_faults(Faults::default());
    let created = s.creates();
    assert_eq!(created, products, "one create per product so far");
    // A sale while the channel waits: the created listing shows one too many.
    db.store
        .record_movement(&NewMovement {
            sku: "MD-500G".into(),
            delta: -1,
            kind: MovementKind::Adjust,
            reason: "sold at the stall".into(),
            source: "test".into(),
            external_ref: None,
        })
        .await
        .expect("sale");

    let next = loop {
        match sync_channel(db.store.as_ref(), &s.channel(), &options).await {
            Err(SyncError::Busy { until, .. }) => {
                let left = (until - chosync::clock::SystemClock.now())
                    .to_std()
                    .unwrap_or_default();
                assert!(left <= Duration::from_secs(3), "{left:?}");
                tokio::time::sleep(left + Duration::from_millis(50)).await;
            }
            other => break other.expect("the next pass"),
        }
    };
    assert_eq!(next.counts.failed, 0, "{next:?}");
    assert_eq!(s.creates(), created, "no product is created twice");
    common::converged::assert_converged(db, &s.rig.settings, &s.shown().await).await;
}

on_both_engines!(a_lazada_pass_that_dies_mid_create_is_adopted_and_every_sku_converges);
