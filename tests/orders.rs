//! Orders from Shopee and Lazada sandboxes, imported by hint and by poll on
//! both databases: each line's effects counted once, stock lowered on every
//! channel, unknown SKUs kept and alerted, and the push that crosses an order.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use chosync::clock::{Clock, SystemClock};
use chosync::orders::{OrderReport, Source, import};
use chosync::settings::OrderSettings;
use chosync::store::orders::{AlertKind, OrderImport};
use chosync::sync::{Options, SyncSummary, sync_channel};
use chosync_connector::dto::{Order, OrderLine, OrderState};
use chosync_connector::sandbox::Faults;
use common::shops::{self, Shop};
use common::{TestDb, demo_catalogue};

/// A gift box listed on both platforms, 30 on hand.
const SKU: &str = "BQ-TD-3X10";

async fn sync(db: &TestDb, shop: &Shop) -> SyncSummary {
    sync_channel(db.store.as_ref(), &shop.channel(), &Options::new("test"))
        .await
        .expect("sync")
}

/// The test clock brought to the sandboxes' time: the poll reads orders
/// updated up to the store's now.
fn catch_up(db: &TestDb) {
    let lag = SystemClock.now() - db.clock.now();
    if lag > chrono::Duration::zero() {
        db.clock.advance(lag);
    }
}

async fn poll(db: &TestDb, shop: &Shop) -> OrderReport {
    catch_up(db);
    import(
        db.store.as_ref(),
        &shop.channel(),
        Source::Poll,
        &OrderSettings::default(),
        "test",
    )
    .await
    .expect("poll")
}

/// What a verified push leaves: the order's id as a hint, then its import.
async fn pushed(db: &TestDb, shop: &Shop, order: &str) -> OrderReport {
    db.store
        .add_order_hints(shop.id(), &[order.to_string()])
        .await
        .expect("hint");
    import(
        db.store.as_ref(),
        &shop.channel(),
        Source::Hints,
        &OrderSettings::default(),
        "test",
    )
    .await
    .expect("hints")
}

/// An order as a platform would show it: one line per (SKU, units), all
/// in `state`.
fn order_of(
    id: &str,
    state: OrderState,
    lines: &[(&str, i64)],
    now: chrono::DateTime<chrono::Utc>,
) -> Order {
    Order {
        order_id: id.into(),
        platform_status: state.as_str().to_uppercase(),
        state,
        created_at: now,
        updated_at: now,
        lines: lines
            .iter()
            .enumerate()
            .map(|(n, (sku, quantity))| OrderLine {
                line_id: (n + 1).to_string(),
                sku: (*sku).into(),
                quantity: *quantity,
                cancelled_quantity: 0,
                state,
            })
            .collect(),
    }
}

async fn level(db: &TestDb, sku: &str) -> (i64, i64) {
    let row = db.store.stock(Some(sku)).await.expect("stock").remove(0);
    (row.on_hand, row.reserved)
}

async fn assert_converged(db: &TestDb, shops: &[&Shop]) {
    for shop in shops {
        common::converged::assert_converged(db, &shop.rig.settings, &shop.shown().await).await;
    }
}

/// The demo catalogue listed on a Shopee and a Lazada shop.
async fn two_shops(db: &TestDb) -> (Shop, Shop) {
    let shopee = shops::shopee(db, "shopee-a", "").await;
    let lazada = shops::lazada(db, "lazada-a", "").await;
    shops::enable(db, &[&shopee, &lazada]).await;
    db.import(&demo_catalogue()).await.expect("import");
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_converged(db, &[&shopee, &lazada]).await;
    (shopee, lazada)
}

/// A Shopee order arrives by push and is found again by the poll (and as a
/// lost push): reserved once, and both shops show the lower stock.
async fn an_order_seen_by_push_and_by_poll_lowers_stock_once(db: &TestDb) {
    let (shopee, lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = shopee.place(SKU, 2).await.expect("order");
    let first = pushed(db, &shopee, &order).await;
    assert_eq!((first.new, first.changed), (1, 1), "{first:?}");
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 2));
    let again = pushed(db, &shopee, &order).await;
    assert_eq!(again.changed, 0, "{again:?}");
    let polled = poll(db, &shopee).await;
    assert!(polled.fetched >= 1, "{polled:?}");
    assert_eq!(polled.changed, 0, "{polled:?}");
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 2));
    assert!(
        db.store
            .order_hints(shopee.id())
            .await
            .expect("hints")
            .is_empty(),
        "hints are dropped once handled"
    );
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_converged(db, &[&shopee, &lazada]).await;
    let recorded = db.store.order(None, &order).await.expect("order");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].seen_by, "push");
    assert_eq!(recorded[0].state, OrderState::Paid);
}

/// A push for an order already recorded, and an older version read after a
/// newer one, change nothing.
async fn duplicate_and_out_of_order_versions_change_nothing(db: &TestDb) {
    let (shopee, _lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = shopee.place(SKU, 1).await.expect("order");
    poll(db, &shopee).await;
    shopee.ship(&order).await;
    poll(db, &shopee).await;
    assert_eq!(level(db, SKU).await, (before.0 - 1, before.1));
    // The paid version, as a lagging replica of the platform would show it.
    let mut older = db.store.order(None, &order).await.expect("order")[0].as_order();
    older.state = OrderState::Paid;
    older.updated_at -= chrono::Duration::seconds(5);
    for line in &mut older.lines {
        line.state = OrderState::Paid;
    }
    let recorded = db
        .store
        .record_order(&OrderImport {
            channel: shopee.id(),
            order: &older,
            seen_by: "push",
            restock_returns: false,
            aliases: &BTreeMap::new(),
        })
        .await
        .expect("record");
    assert!(recorded.stale && recorded.moved.is_empty(), "{recorded:?}");
    pushed(db, &shopee, &order).await;
    assert_eq!(level(db, SKU).await, (before.0 - 1, before.1));
    let movements = db.store.movements(SKU, 50).await.expect("movements");
    let sales = movements
        .iter()
        .filter(|m| m.kind == chosync::inventory::MovementKind::Sale)
        .count();
    assert_eq!(sales, 1, "one sale in the ledger: {movements:?}");
}

/// Cancelled before shipping, the units are sellable again; cancelled after
/// (Lazada: a parcel that came back is `returned`), they are not.
async fn cancel_before_shipping_restores_after_shipping_does_not(db: &TestDb) {
    let (shopee, lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = shopee.place(SKU, 3).await.expect("order");
    poll(db, &shopee).await;
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 3));
    shopee.cancel(&order).await;
    let report = poll(db, &shopee).await;
    assert_eq!(report.changed, 1, "{report:?}");
    assert_eq!(level(db, SKU).await, before);

    let shipped = lazada.place(SKU, 1).await.expect("order");
    poll(db, &lazada).await;
    lazada.ship(&shipped).await;
    poll(db, &lazada).await;
    assert_eq!(level(db, SKU).await, (before.0 - 1, before.1));
    if let shops::Sandbox::Lazada(running) = &lazada.sandbox {
        running.sandbox.return_order(&shipped).expect("return");
    }
    poll(db, &lazada).await;
    assert_eq!(
        level(db, SKU).await,
        (before.0 - 1, before.1),
        "a return restocks only when the operator says so"
    );
    let recorded = &db.store.order(None, &shipped).await.expect("order")[0];
    assert_eq!(recorded.state, OrderState::Returned);
    assert!(
        recorded
            .lines
            .iter()
            .all(|l| { l.effects.get(&chosync::inventory::effects::Effect::Return) == Some(&1) })
    );
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_converged(db, &[&shopee, &lazada]).await;
}

/// Lazada makes one order item per unit: two units are two lines, counted 2.
async fn a_lazada_order_of_two_units_counts_two(db: &TestDb) {
    let (shopee, lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = lazada.place(SKU, 2).await.expect("order");
    let report = poll(db, &lazada).await;
    assert_eq!(report.effects, 2, "{report:?}");
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 2));
    let recorded = &db.store.order(None, &order).await.expect("order")[0];
    assert_eq!(recorded.lines.len(), 2);
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_converged(db, &[&shopee, &lazada]).await;
}

/// Shopee cancels 2 of 3 units of a line: those 2 are freed, 1 stays held,
/// and shipping takes 1.
async fn a_shopee_partial_cancellation_frees_only_its_units(db: &TestDb) {
    let (shopee, lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = shopee.place(SKU, 3).await.expect("order");
    poll(db, &shopee).await;
    if let shops::Sandbox::Shopee(running) = &shopee.sandbox {
        running
            .sandbox
            .cancel_units(&order, 0, 2)
            .expect("cancel units");
    }
    poll(db, &shopee).await;
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 1));
    shopee.ship(&order).await;
    poll(db, &shopee).await;
    assert_eq!(level(db, SKU).await, (before.0 - 1, before.1));
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_converged(db, &[&shopee, &lazada]).await;
}

/// A line for a SKU the catalogue lacks is kept, alerted once however often
/// it is seen, and takes effect at the first poll after the SKU is imported.
async fn an_unknown_sku_is_kept_alerted_and_counted_once_it_is_imported(db: &TestDb) {
    let (shopee, _lazada) = two_shops(db).await;
    let now = db.clock.now();
    let order = order_of("2612NEWSKU", OrderState::Paid, &[("MIEN-DONG-1KG", 4)], now);
    let aliases = BTreeMap::new();
    let record = OrderImport {
        channel: shopee.id(),
        order: &order,
        seen_by: "push",
        restock_returns: false,
        aliases: &aliases,
    };
    for _ in 0..3 {
        let recorded = db.store.record_order(&record).await.expect("record");
        assert_eq!(recorded.waiting, ["MIEN-DONG-1KG"], "{recorded:?}");
    }
    let alerts = db.store.alerts(false).await.expect("alerts");
    let unknown: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::UnknownSku.as_str())
        .collect();
    assert_eq!(unknown.len(), 1, "{alerts:?}");
    assert_eq!(unknown[0].count, 3);
    assert_eq!(unknown[0].subject, "MIEN-DONG-1KG");

    let (_dir, sheet) = common::file(
        "more.csv",
        "product_id,name,category,sku,price,stock\n\
         MIEN-DONG-NR,Miến dong Na Rì,Thực phẩm > Đồ khô,MIEN-DONG-1KG,95000,30\n",
    );
    db.import(&sheet).await.expect("import");
    let report = poll(db, &shopee).await;
    assert_eq!(report.settled, 1, "{report:?}");
    assert_eq!(level(db, "MIEN-DONG-1KG").await, (30, 4));
    let again = poll(db, &shopee).await;
    assert_eq!(again.settled, 0, "{again:?}");
    assert_eq!(level(db, "MIEN-DONG-1KG").await, (30, 4));
    let open = db.store.alerts(false).await.expect("alerts");
    assert!(
        open.iter()
            .all(|a| a.kind != AlertKind::UnknownSku.as_str()),
        "resolved once the line took effect: {open:?}"
    );
}

/// An order line under a SKU the seller centre still uses but the catalogue
/// renamed waits until the operator maps it (the mapping's `[skus]`).
async fn a_line_under_an_old_sku_counts_once_the_operator_maps_it(db: &TestDb) {
    let (mut shopee, _lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let now = db.clock.now();
    let order = order_of("2612OLDSKU", OrderState::Paid, &[("QUA-TANG-3", 2)], now);
    let recorded = db
        .store
        .record_order(&OrderImport {
            channel: shopee.id(),
            order: &order,
            seen_by: "push",
            restock_returns: false,
            aliases: &shopee.rig.mapping.skus,
        })
        .await
        .expect("record");
    assert_eq!(recorded.waiting, ["QUA-TANG-3"]);
    assert_eq!(level(db, SKU).await, before);
    shopee
        .rig
        .mapping
        .skus
        .insert("QUA-TANG-3".into(), SKU.into());
    let report = poll(db, &shopee).await;
    assert_eq!(report.settled, 1, "{report:?}");
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 2));
    let line = &db.store.order(None, "2612OLDSKU").await.expect("order")[0].lines[0];
    assert_eq!(
        (line.platform_sku.as_str(), line.sku.as_str()),
        ("QUA-TANG-3", SKU)
    );
}

/// The process dies after fetching an order and before recording it (here:
/// fetched and dropped); the next poll records it once.
async fn an_order_fetched_but_not_recorded_is_recorded_once_by_the_next_poll(db: &TestDb) {
    let (shopee, _lazada) = two_shops(db).await;
    let before = level(db, SKU).await;
    let order = shopee.place(SKU, 1).await.expect("order");
    db.store
        .add_order_hints(shopee.id(), std::slice::from_ref(&order))
        .await
        .expect("hint");
    let fetched = shopee
        .rig
        .client
        .connector()
        .get_orders(std::slice::from_ref(&order))
        .await
        .expect("fetch");
    assert_eq!(fetched.len(), 1);
    drop(fetched);
    assert_eq!(level(db, SKU).await, before, "nothing recorded yet");
    let report = poll(db, &shopee).await;
    assert_eq!(report.changed, 1, "{report:?}");
    poll(db, &shopee).await;
    assert_eq!(level(db, SKU).await, (before.0, before.1 + 1));
}

/// The race that matters. A stock push computed before an order was
/// imported lands after the platform lowered its own stock for the order,
/// and overwrites it with a higher number. Importing the order raises the
/// stock work of every channel past the version that push finished, and
/// marks the order's own channel for a re-check: the next pass sets the
/// right number, so the higher one does not stay.
async fn a_push_that_crosses_an_order_does_not_leave_its_higher_number(db: &TestDb) {
    let (shopee, lazada) = two_shops(db).await;
    chosync::inventory::adjust(db.store.as_ref(), SKU, 5, "delivery", "test")
        .await
        .expect("adjust");
    let (on_hand, _) = level(db, SKU).await;
    shopee.kit().set_faults(Faults {
        latency_ms: 800,
        only: Some("/api/v2/product/update_stock".into()),
        ..Faults::default()
    });
    let (channel, options) = (shopee.channel(), Options::new("test"));
    let in_flight = sync_channel(db.store.as_ref(), &channel, &options);
    let buyer = async {
        // The push is on its way (held 800 ms by the sandbox) when the buyer orders.
        tokio::time::sleep(Duration::from_millis(300)).await;
        shopee.place(SKU, 1).await.expect("order")
    };
    let (pass, order) = tokio::join!(in_flight, buyer);
    pass.expect("pass");
    shopee.kit().set_faults(Faults::default());
    assert_eq!(
        shopee.stock_of(SKU).await,
        Some(on_hand - 1),
        "the push landed after the order and overwrote its decrement"
    );
    pushed(db, &shopee, &order).await;
    sync(db, &shopee).await;
    sync(db, &lazada).await;
    assert_eq!(shopee.stock_of(SKU).await, Some(on_hand - 1 - 1));
    assert_converged(db, &[&shopee, &lazada]).await;
}

/// Under a cap the wanted number does not change with one order, but the
/// platform lowered its own count: the order's channel is set again.
async fn an_order_under_a_cap_is_set_back_to_the_cap_on_its_own_channel(db: &TestDb) {
    let shopee = shops::shopee(db, "shopee-cap", "buffer = 0, max = 5").await;
    db.import(&demo_catalogue()).await.expect("import");
    sync(db, &shopee).await;
    assert_eq!(shopee.stock_of(SKU).await, Some(5));
    let order = shopee.place(SKU, 1).await.expect("order");
    assert_eq!(shopee.stock_of(SKU).await, Some(4));
    pushed(db, &shopee, &order).await;
    sync(db, &shopee).await;
    assert_eq!(shopee.stock_of(SKU).await, Some(5));
    assert_converged(db, &[&shopee]).await;
}

/// 200 buyers at once across four shops, all after the same SKU: every
/// order the sandboxes took is in the ledger once, and the rest were refused.
async fn two_hundred_orders_for_one_sku_across_four_shops_leave_the_ledger_exact(db: &TestDb) {
    let a = shops::shopee(db, "shopee-a", "").await;
    let b = shops::shopee(db, "shopee-b", "").await;
    let c = shops::lazada(db, "lazada-a", "").await;
    let d = shops::lazada(db, "lazada-b", "").await;
    let all = [&a, &b, &c, &d];
    shops::enable(db, &all).await;
    db.import(&demo_catalogue()).await.expect("import");
    for shop in all {
        sync(db, shop).await;
    }
    let (on_hand, _) = level(db, SKU).await;
    let buyers = (0..200).map(|i| {
        let shop = all[i % 4];
        async move { shop.place(SKU, 1).await.ok() }
    });
    let taken = futures_util::future::join_all(buyers)
        .await
        .into_iter()
        .flatten()
        .count() as i64;
    assert!(taken > 0);
    let polls = all.iter().map(|shop| poll(db, shop));
    let reports = futures_util::future::join_all(polls).await;
    let effects: usize = reports.iter().map(|r| r.effects).sum();
    assert_eq!(effects as i64, taken, "{reports:?}");
    assert_eq!(level(db, SKU).await, (on_hand, taken));
    if taken > on_hand {
        let alerts = db.store.alerts(false).await.expect("alerts");
        assert!(
            alerts
                .iter()
                .any(|a| a.kind == "oversold" && a.subject == SKU),
            "{alerts:?}"
        );
    }
    for shop in all {
        sync(db, shop).await;
    }
    assert_converged(db, &all).await;
}

/// A push and a poll (or two replicas) record the same order at the same
/// moment: its units are held once.
async fn the_same_order_recorded_by_ten_imports_at_once_counts_once(db: &TestDb) {
    let _shop = shops::shopee(db, "shopee-a", "").await;
    db.import(&demo_catalogue()).await.expect("import");
    let before = level(db, SKU).await;
    let now = db.clock.now();
    let order = order_of("2612RACE", OrderState::Shipped, &[(SKU, 2); 3], now);
    let aliases = BTreeMap::new();
    let record = OrderImport {
        channel: "shopee-a",
        order: &order,
        seen_by: "push",
        restock_returns: false,
        aliases: &aliases,
    };
    let imports = (0..10).map(|_| db.store.record_order(&record));
    let results = futures_util::future::join_all(imports).await;
    let moved: usize = results
        .into_iter()
        .map(|r| r.expect("record").moved.len())
        .sum();
    // Per line: reserve and commit, once.
    assert_eq!(moved, 6);
    assert_eq!(level(db, SKU).await, (before.0 - 6, before.1));
}

/// One pass on `shop`'s channel under `allocation`.
async fn pass_under(
    db: &TestDb,
    shop: &Shop,
    allocation: &chosync::inventory::allocation::Allocation,
) {
    let channel = chosync::sync::Channel {
        allocation,
        ..shop.channel()
    };
    sync_channel(db.store.as_ref(), &channel, &Options::new("test"))
        .await
        .expect("sync");
}

/// The same 200 buyers with the SKU partitioned: what the four shops show
/// together never exceeds what there is, so no more is sold than stock.
async fn two_hundred_orders_under_partitioned_sell_no_more_than_there_is(db: &TestDb) {
    use chosync::inventory::allocation::{Allocation, AllocationSettings, Mode};
    let a = shops::shopee(db, "shopee-a", "").await;
    let b = shops::shopee(db, "shopee-b", "").await;
    let c = shops::lazada(db, "lazada-a", "").await;
    let d = shops::lazada(db, "lazada-b", "").await;
    let all = [&a, &b, &c, &d];
    shops::enable(db, &all).await;
    let allocation = Allocation {
        settings: AllocationSettings {
            mode: Mode::Partitioned,
            ..AllocationSettings::default()
        },
        channels: all
            .iter()
            .map(|s| (s.id().to_string(), (true, s.rig.settings.stock.clone())))
            .collect(),
    };
    db.import(&demo_catalogue()).await.expect("import");
    for shop in all {
        pass_under(db, shop, &allocation).await;
    }
    let (on_hand, _) = level(db, SKU).await;
    let mut shown = 0;
    for shop in all {
        shown += shop.stock_of(SKU).await.unwrap_or(0);
    }
    assert!(shown <= on_hand, "{shown} shown of {on_hand}");
    let buyers = (0..200).map(|i| {
        let shop = all[i % 4];
        async move { shop.place(SKU, 1).await.ok() }
    });
    let taken = futures_util::future::join_all(buyers)
        .await
        .into_iter()
        .flatten()
        .count() as i64;
    assert!(taken > 0 && taken <= on_hand, "{taken} sold of {on_hand}");
    let reports = futures_util::future::join_all(all.iter().map(|shop| poll(db, shop))).await;
    let effects: usize = reports.iter().map(|r| r.effects).sum();
    assert_eq!(effects as i64, taken, "{reports:?}");
    assert_eq!(level(db, SKU).await, (on_hand, taken));
    let alerts = db.store.alerts(false).await.expect("alerts");
    assert!(alerts.iter().all(|a| a.kind != "oversold"), "{alerts:?}");
    for shop in all {
        pass_under(db, shop, &allocation).await;
    }
    let mut shown = 0;
    for shop in all {
        shown += shop.stock_of(SKU).await.unwrap_or(0);
    }
    assert!(
        shown <= on_hand - taken,
        "{shown} shown of {}",
        on_hand - taken
    );
}

on_both_engines!(
    two_hundred_orders_under_partitioned_sell_no_more_than_there_is,
    the_same_order_recorded_by_ten_imports_at_once_counts_once,
    an_order_seen_by_push_and_by_poll_lowers_stock_once,
    duplicate_and_out_of_order_versions_change_nothing,
    cancel_before_shipping_restores_after_shipping_does_not,
    a_lazada_order_of_two_units_counts_two,
    a_shopee_partial_cancellation_frees_only_its_units,
    an_unknown_sku_is_kept_alerted_and_counted_once_it_is_imported,
    an_order_fetched_but_not_recorded_is_recorded_once_by_the_next_poll,
    a_line_under_an_old_sku_counts_once_the_operator_maps_it,
    a_push_that_crosses_an_order_does_not_leave_its_higher_number,
    an_order_under_a_cap_is_set_back_to_the_cap_on_its_own_channel,
    two_hundred_orders_for_one_sku_across_four_shops_leave_the_ledger_exact,
);
