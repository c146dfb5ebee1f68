//! The headroom claim of partitioned stock, on SQLite and on PostgreSQL: a
//! channel's raise is granted only what every other channel may be showing
//! leaves, recorded before the call, and concurrent claims never grant more
//! than there is.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chosync::inventory::split::Claim;
use chosync::store::{Aspect, BatchRecord, ChannelRegistration, ListingState, Store, StoreError};
use common::{HEADER, TestDb, file};

const CHANNELS: [&str; 3] = ["shop-a", "shop-b", "shop-c"];

/// Two SKUs with 10 units each, the channels registered, each under its
/// own lease (owner = channel id), each listing both SKUs with `shown`.
async fn listed(db: &TestDb, shown: [i64; 3]) {
    let (_dir, path) = file(
        "c.csv",
        &format!("{HEADER}\nP1,Mật ong,MO-1,,,65000,10,\nP2,Trà,TRA-1,,,45000,10,\n"),
    );
    db.import(&path).await.expect("import");
    let channels: Vec<ChannelRegistration> = CHANNELS
        .iter()
        .map(|id| ChannelRegistration {
            id: id.to_string(),
            enabled: true,
            config_hash: "h1".into(),
        })
        .collect();
    db.store
        .register_channels(&channels)
        .await
        .expect("register");
    for (id, stock) in CHANNELS.iter().zip(shown) {
        let states = ["MO-1", "TRA-1"].map(|sku| state(sku, Some(stock), None));
        record(db, id, states.to_vec()).await;
    }
}

fn state(sku: &str, stock: Option<i64>, in_flight: Option<i64>) -> ListingState {
    let mut state = ListingState::new(sku);
    state.listing_id = Some(format!("L-{sku}"));
    state.variant_id = Some(format!("V-{sku}"));
    state.status = "live".into();
    state.stock = stock;
    state.stock_in_flight = in_flight;
    state
}

/// Records `states` as a pass of `channel` would, under its lease.
async fn record(db: &TestDb, channel: &str, states: Vec<ListingState>) {
    let store = &db.store;
    store
        .acquire_lease(channel, channel, Duration::from_secs(60))
        .await
        .expect("lease");
    let run = store
        .start_run(channel, "stock", "test")
        .await
        .expect("run");
    let batch = BatchRecord {
        states,
        ..BatchRecord::default()
    };
    store
        .record_batch(channel, channel, run, &batch)
        .await
        .expect("record");
}

async fn claim(db: &TestDb, channel: &str, wanted: &[(&str, i64)]) -> HashMap<String, Claim> {
    let wanted: Vec<(String, i64)> = wanted.iter().map(|(s, q)| (s.to_string(), *q)).collect();
    db.store
        .claim_stock(channel, channel, &wanted)
        .await
        .expect("claim")
}

async fn in_flight(db: &TestDb, channel: &str, sku: &str) -> Option<i64> {
    let states = db.store.listing_states(channel).await.expect("states");
    states.get(sku).and_then(|s| s.stock_in_flight)
}

async fn a_raise_is_granted_only_the_room_the_other_channels_leave(db: &TestDb) {
    listed(db, [0, 7, 0]).await;
    let granted = claim(db, "shop-a", &[("MO-1", 6)]).await;
    let three = Claim {
        push: 3,
        in_flight: Some(3),
    };
    assert_eq!(granted["MO-1"], three, "b may show 7 of 10");
    assert_eq!(in_flight(db, "shop-a", "MO-1").await, Some(3));
    // Held short: b, above its share, gets work to come down.
    let tasks = db.store.pending_tasks("shop-b").await.expect("tasks");
    let task = tasks
        .iter()
        .find(|t| t.sku == "MO-1" && t.aspect == Aspect::Stock);
    assert_eq!(
        task.map(|t| t.cause.as_str()),
        Some("allocation: shop-a waits for room")
    );
    // c may go to 10 − 7 − a's ceiling of 3: nothing.
    let c = claim(db, "shop-c", &[("MO-1", 4)]).await;
    assert_eq!(c["MO-1"].push, 0);
    // a's push lands: its ceiling is settled, and counted as shown.
    record(db, "shop-a", vec![state("MO-1", Some(3), None)]).await;
    assert_eq!(in_flight(db, "shop-a", "MO-1").await, None);
    record(db, "shop-b", vec![state("MO-1", Some(2), None)]).await;
    assert_eq!(claim(db, "shop-c", &[("MO-1", 4)]).await["MO-1"].push, 4);
}

async fn a_failed_push_keeps_its_ceiling_counted_until_a_success(db: &TestDb) {
    listed(db, [0, 0, 0]).await;
    assert_eq!(claim(db, "shop-a", &[("MO-1", 6)]).await["MO-1"].push, 6);
    // The call failed (or timed out): what a shows is unknown, up to 6.
    let mut failed = state("MO-1", Some(0), Some(6));
    failed.last_error = Some("stock: timed out".into());
    record(db, "shop-a", vec![failed]).await;
    assert_eq!(claim(db, "shop-b", &[("MO-1", 10)]).await["MO-1"].push, 4);
    // A later claim of a keeps the most of both ceilings.
    let again = claim(db, "shop-a", &[("MO-1", 5)]).await;
    assert_eq!(again["MO-1"].in_flight, Some(6));
    record(db, "shop-a", vec![state("MO-1", Some(2), None)]).await;
    assert_eq!(claim(db, "shop-c", &[("MO-1", 10)]).await["MO-1"].push, 4);
}

async fn concurrent_claims_never_grant_more_than_there_is(db: &TestDb) {
    listed(db, [0, 0, 0]).await;
    // A few rounds: a race that a missing lock lets through shows in one.
    for _ in 0..5 {
        for channel in CHANNELS {
            let states = ["MO-1", "TRA-1"].map(|sku| state(sku, Some(0), None));
            record(db, channel, states.to_vec()).await;
        }
        let granted = claim_all_at_once(db).await;
        assert_eq!(granted.get("MO-1"), Some(&10), "{granted:?}");
        assert_eq!(granted.get("TRA-1"), Some(&10), "{granted:?}");
        let mut ceilings = 0;
        for channel in CHANNELS {
            ceilings += in_flight(db, channel, "MO-1").await.unwrap_or(0);
        }
        assert_eq!(ceilings, 10);
    }
}

/// Every channel claims all 10 units of both SKUs at once; the units granted per SKU.
async fn claim_all_at_once(db: &TestDb) -> HashMap<String, i64> {
    let store: Arc<dyn Store> = db.store.clone();
    let claims = CHANNELS.iter().enumerate().map(|(i, channel)| {
        let store = store.clone();
        // Opposite SKU orders: the claims must not deadlock either.
        let mut wanted = vec![("MO-1".to_string(), 10), ("TRA-1".to_string(), 10)];
        if i % 2 == 1 {
            wanted.reverse();
        }
        tokio::spawn(async move { store.claim_stock(channel, channel, &wanted).await })
    });
    let mut granted: HashMap<String, i64> = HashMap::new();
    for claim in futures_util::future::join_all(claims).await {
        let claim = claim.expect("task").expect("claim");
        for (sku, c) in claim {
            *granted.entry(sku).or_default() += c.push;
        }
    }
    granted
}

async fn a_claim_without_the_channel_lease_is_refused(db: &TestDb) {
    listed(db, [0, 0, 0]).await;
    let wanted = vec![("MO-1".to_string(), 5)];
    let refused = db
        .store
        .claim_stock("shop-a", "someone else", &wanted)
        .await;
    assert!(
        matches!(refused, Err(StoreError::LeaseLost(_))),
        "{refused:?}"
    );
    assert_eq!(in_flight(db, "shop-a", "MO-1").await, None);
}

on_both_engines!(
    a_raise_is_granted_only_the_room_the_other_channels_leave,
    a_failed_push_keeps_its_ceiling_counted_until_a_success,
    concurrent_claims_never_grant_more_than_there_is,
    a_claim_without_the_channel_lease_is_refused,
);
