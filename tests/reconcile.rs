//! `reconcile` against the Shopee and Lazada sandboxes, on both databases:
//! stock changed in a seller centre, a failed push, a promotion's reserved
//! stock and units orders hold are read through the platforms' batch read
//! endpoints, classified, logged, alerted and corrected.

mod common;

use std::collections::HashMap;

use chosync::inventory::{MovementKind, NewMovement};
use chosync::store::LogFilter;
use chosync::store::orders::AlertKind;
use chosync::sync::reconcile::{Class, ReconcileReport, reconcile_channel};
use chosync::sync::{Options, SyncSummary, sync_channel};
use chosync_connector::sandbox::Faults;
use common::shops::{self, Shop};
use common::{TestDb, demo_catalogue};
use serde_json::{Value, json};

const SHOPEE: &str = "shopee-demo";
const LAZADA: &str = "lazada-demo";

/// A channel on a running sandbox.
struct Setup {
    shop: Shop,
}

async fn shopee(db: &TestDb) -> Setup {
    Setup {
        shop: shops::shopee(db, SHOPEE, "").await,
    }
}

async fn lazada(db: &TestDb) -> Setup {
    Setup {
        shop: shops::lazada(db, LAZADA, "").await,
    }
}

impl Setup {
    fn id(&self) -> &str {
        &self.shop.rig.settings.id
    }

    async fn sync(&self, db: &TestDb) -> SyncSummary {
        sync_channel(
            db.store.as_ref(),
            &self.shop.rig.channel(),
            &Options::new("test"),
        )
        .await
        .expect("sync")
    }

    async fn reconcile(&self, db: &TestDb) -> ReconcileReport {
        reconcile_channel(
            db.store.as_ref(),
            &self.shop.rig.channel(),
            &Options::new("test"),
        )
        .await
        .expect("reconcile")
    }

    /// A control call to the sandbox (its seller centre and buyers).
    async fn control(&self, path: &str, body: Value) {
        let answer = self.shop.control.control(path, body).await;
        assert!(answer.get("error").is_none(), "{path}: {answer}");
    }

    /// The seller sets a SKU's stock in the seller centre.
    async fn seller_sets(&self, sku: &str, stock: i64) {
        self.control(
            &format!("/_sandbox/listings/{sku}/stock"),
            json!({ "stock": stock }),
        )
        .await;
    }

    /// Price and stock of every SKU the sandbox lists for sale.
    async fn shown(&self) -> HashMap<String, (i64, i64)> {
        self.shop.shown().await
    }

    async fn assert_converged(&self, db: &TestDb) {
        common::converged::assert_converged(db, &self.shop.rig.settings, &self.shown().await).await;
    }

    /// SKUs with an open drift alert on the channel.
    async fn drift_alerts(&self, db: &TestDb) -> Vec<String> {
        let mut skus: Vec<String> = db
            .store
            .alerts(false)
            .await
            .expect("alerts")
            .into_iter()
            .filter(|a| a.kind == AlertKind::Drift.as_str() && a.channel == self.id())
            .map(|a| a.subject)
            .collect();
        skus.sort();
        skus
    }

    async fn wanted(&self, db: &TestDb, sku: &str) -> i64 {
        let row = db.store.stock(Some(sku)).await.expect("stock");
        let row = row.first().expect("a stock row");
        self.shop
            .rig
            .settings
            .stock
            .apply(row.on_hand - row.reserved)
    }
}

fn adjust(sku: &str, delta: i64) -> NewMovement {
    NewMovement {
        sku: sku.into(),
        delta,
        kind: MovementKind::Adjust,
        reason: "stock take".into(),
        source: "test".into(),
        external_ref: None,
    }
}

fn count(report: &ReconcileReport, class: Class) -> usize {
    report.differences.get(&class).copied().unwrap_or(0)
}

/// The reconcile rows the sync log keeps for `sku`: outcome and message.
async fn reconcile_log(db: &TestDb, sku: &str) -> Vec<(String, String)> {
    db.store
        .sync_log(&LogFilter {
            sku: Some(sku.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("log")
        .into_iter()
        .filter(|e| e.call.action == "reconcile")
        .map(|e| (e.call.outcome, e.call.message.unwrap_or_default()))
        .collect()
}

/// Kind and status of every sync run, oldest first.
async fn runs(db: &TestDb) -> Vec<(String, String)> {
    let query = "SELECT kind, status FROM sync_runs ORDER BY id";
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.expect("SQLite");
        sqlx::query_as(query).fetch_all(&pool).await.expect("runs")
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("PostgreSQL");
        sqlx::query_as(query).fetch_all(&pool).await.expect("runs")
    }
}

async fn stock_changed_in_the_seller_centre_is_alerted_and_pushed_back_and_the_next_reconcile_resolves_it(
    db: &TestDb,
) {
    let s = shopee(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await;
    // A model of a tiered item and a single-SKU item.
    s.seller_sets("MD-500G", 3).await;
    s.seller_sets("LKT-200G", 500).await;

    let first = s.reconcile(db).await;
    assert_eq!(count(&first, Class::SellerCentre), 2, "{first:?}");
    assert_eq!(first.different(), 2, "{first:?}");
    assert_eq!(first.matching, first.skus - 2, "{first:?}");
    assert!(first.unmanaged.is_empty() && first.missing.is_empty());
    let noodles = first
        .findings
        .iter()
        .find(|f| f.sku == "MD-500G")
        .expect("MD-500G found");
    assert_eq!(
        (noodles.remote, noodles.last_set, noodles.push),
        (3, Some(299), Some(299))
    );
    assert_eq!((first.corrected, first.alerts_raised), (2, 2));
    assert_eq!(s.drift_alerts(db).await, ["LKT-200G", "MD-500G"]);
    // Every SKU on the channel shows what is wanted again.
    s.assert_converged(db).await;
    let logged = reconcile_log(db, "MD-500G").await;
    assert!(
        logged
            .iter()
            .any(|(outcome, message)| outcome == "seller_centre"
                && message.contains("shows stock 3")),
        "{logged:?}"
    );
    let kinds = runs(db).await;
    assert!(
        kinds.contains(&("reconcile".into(), "ok".into())),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last(),
        Some(&("stock".into(), "ok".into())),
        "{kinds:?}"
    );

    let second = s.reconcile(db).await;
    assert_eq!(second.different(), 0, "{second:?}");
    assert_eq!(second.matching, second.skus);
    assert_eq!((second.alerts_resolved, second.corrected), (2, 0));
    assert!(s.drift_alerts(db).await.is_empty());
}

async fn a_stock_push_the_platform_failed_is_push_failed_and_retried_by_reconcile(db: &TestDb) {
    let s = shopee(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await;
    db.store
        .record_movement(&adjust("MD-500G", -10))
        .await
        .expect("adjust");
    s.shop.kit().set_faults(Faults {
        error_rate: 1.0,
        only: Some("/api/v2/product/update_stock".into()),
        ..Faults::default()
    });
    let failed = s.sync(db).await;
    assert_eq!(failed.counts.failed, 1, "{failed:?}");

    let found = s.reconcile(db).await;
    assert_eq!(count(&found, Class::PushFailed), 1, "{found:?}");
    assert_eq!(found.different(), 1, "{found:?}");
    let finding = &found.findings[0];
    assert_eq!(
        (finding.sku.as_str(), finding.remote, finding.push),
        ("MD-500G", 299, Some(289))
    );
    // chosync's own failure is not the seller's drift: no alert.
    assert_eq!((found.alerts_raised, found.corrected), (0, 0));
    assert!(s.drift_alerts(db).await.is_empty());

    s.shop.kit().set_faults(Faults::default());
    let retried = s.reconcile(db).await;
    assert_eq!(count(&retried, Class::PushFailed), 1, "{retried:?}");
    assert_eq!(retried.corrected, 1, "{retried:?}");
    s.assert_converged(db).await;
    assert_eq!(s.reconcile(db).await.different(), 0);
}

async fn shopee_promotion_stock_is_pushed_as_the_reservation_and_the_lock_recorded(db: &TestDb) {
    let s = shopee(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await;
    s.control(
        "/_sandbox/shopee/listings/MD-500G/promotion",
        json!({ "reserved": 40 }),
    )
    .await;
    // The stock wanted falls below what the promotion reserves: Shopee
    // refuses the push.
    db.store
        .record_movement(&adjust("MD-500G", -290))
        .await
        .expect("adjust");
    let wanted = s.wanted(db, "MD-500G").await;
    assert_eq!(wanted, 9);
    let refused = s.sync(db).await;
    assert_eq!(refused.counts.quarantined, 1, "{refused:?}");

    let found = s.reconcile(db).await;
    assert_eq!(count(&found, Class::PlatformReserved), 1, "{found:?}");
    let finding = &found.findings[0];
    assert_eq!(
        (finding.locked, finding.wanted, finding.push),
        (40, 9, Some(40))
    );
    assert_eq!((found.corrected, found.alerts_raised), (1, 0));
    assert_eq!(s.shown().await["MD-500G"].1, 40, "max(reserved, wanted)");
    let states = db.store.listing_states(SHOPEE).await.expect("states");
    let state = &states["MD-500G"];
    assert_eq!((state.stock, state.stock_lock), (Some(40), Some(40)));
    assert!(
        !state.quarantined && state.last_error.is_none(),
        "{state:?}"
    );
    let logged = reconcile_log(db, "MD-500G").await;
    assert!(
        logged
            .iter()
            .any(|(outcome, message)| outcome == "platform_reserved"
                && message.contains("a promotion reserves 40")),
        "{logged:?}"
    );

    // The lock holds: a sale lowers what is wanted, the push stays at 40.
    db.store
        .record_movement(&adjust("MD-500G", -1))
        .await
        .expect("sale");
    s.sync(db).await;
    assert_eq!(s.shown().await["MD-500G"].1, 40);
    assert_eq!(s.reconcile(db).await.different(), 0);

    // The promotion ends: the next reconcile lifts the lock and pushes what is wanted.
    s.control(
        "/_sandbox/shopee/listings/MD-500G/promotion",
        json!({ "reserved": 0 }),
    )
    .await;
    let ended = s.reconcile(db).await;
    assert_eq!(count(&ended, Class::PlatformReserved), 1, "{ended:?}");
    assert_eq!(ended.corrected, 1);
    let states = db.store.listing_states(SHOPEE).await.expect("states");
    assert_eq!(states["MD-500G"].stock_lock, None);
    s.assert_converged(db).await;
}

async fn on_lazada_units_orders_hold_are_left_and_a_seller_centre_change_is_pushed_back(
    db: &TestDb,
) {
    let s = lazada(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await;
    s.seller_sets("MD-500G", 5).await;
    // An unpaid order chosync has not imported withholds one unit.
    s.control(
        "/_sandbox/orders",
        json!({ "sku": "LKT-200G", "quantity": 1 }),
    )
    .await;

    let first = s.reconcile(db).await;
    assert_eq!(count(&first, Class::SellerCentre), 1, "{first:?}");
    assert_eq!(count(&first, Class::PlatformReserved), 1, "{first:?}");
    let held = first
        .findings
        .iter()
        .find(|f| f.sku == "LKT-200G")
        .expect("LKT-200G found");
    assert_eq!((held.held, held.push), (1, None), "{held:?}");
    assert_eq!((first.corrected, first.alerts_raised), (1, 1));
    assert_eq!(s.drift_alerts(db).await, ["MD-500G"]);
    // Every SKU shows what is wanted, but the held unit: selling it again
    // would sell it twice.
    let shown = s.shown().await;
    let mut checked = 0;
    for (sku, (_, stock)) in &shown {
        let wanted = s.wanted(db, sku).await;
        let states = db.store.listing_states(LAZADA).await.expect("states");
        if states.get(sku).is_none_or(|st| st.quarantined) {
            continue;
        }
        let expected = if sku == "LKT-200G" {
            wanted - 1
        } else {
            wanted
        };
        assert_eq!(*stock, expected, "{sku}");
        checked += 1;
    }
    assert!(checked > 1);

    let second = s.reconcile(db).await;
    assert_eq!(count(&second, Class::SellerCentre), 0, "{second:?}");
    assert_eq!(second.alerts_resolved, 1, "{second:?}");
    assert!(s.drift_alerts(db).await.is_empty());
}

on_both_engines!(
    stock_changed_in_the_seller_centre_is_alerted_and_pushed_back_and_the_next_reconcile_resolves_it,
    a_stock_push_the_platform_failed_is_push_failed_and_retried_by_reconcile,
    shopee_promotion_stock_is_pushed_as_the_reservation_and_the_lock_recorded,
    on_lazada_units_orders_hold_are_left_and_a_seller_centre_change_is_pushed_back,
);
