//! `kill -9` of `chosync run` (a child process of the binary) in the middle
//! of its work, several times in a row, on both databases: mid-create (new
//! products on their way to Shopee and Lazada) and mid-order-import (orders
//! arriving by push and poll while the platforms answer slowly). After the
//! last restart every channel converges: one listing per SKU, the ledger
//! exact, every SKU on every channel at the price and stock wanted.
//!
//! Five rounds each by default; `CHOSYNC_LONG_TESTS=1` runs twenty.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chosync::catalogue::model::Status;
use chosync::inventory::MovementKind;
use common::TestDb;
use common::control::Control;
use common::daemon::{LAZADA, Rig, SHOPEE, eventually};
use common::process::Process;
use serde_json::{Value, json};

/// Longer runs of the same stories when set to `1`.
const LONG_ENV: &str = "CHOSYNC_LONG_TESTS";

/// How long a step waits for what should take a second or two.
const SOON: Duration = Duration::from_secs(20);

/// An endpoint of a sandbox: the path a fault names, and the one its call
/// counts go under (Lazada's without the `/rest` prefix).
#[derive(Clone, Copy)]
struct Endpoint {
    path: &'static str,
    counted: &'static str,
}

/// The create endpoints, by channel.
const SHOPEE_CREATE: Endpoint = Endpoint {
    path: "/api/v2/product/add_item",
    counted: "/api/v2/product/add_item",
};
const LAZADA_CREATE: Endpoint = Endpoint {
    path: "/rest/product/create",
    counted: "/product/create",
};

/// The order-fetch endpoints (a push or a poll fetches every order it names).
const SHOPEE_FETCH: Endpoint = Endpoint {
    path: "/api/v2/order/get_order_detail",
    counted: "/api/v2/order/get_order_detail",
};
const LAZADA_FETCH: Endpoint = Endpoint {
    path: "/rest/orders/items/get",
    counted: "/orders/items/get",
};

/// Kill-and-restart rounds per story.
fn rounds() -> usize {
    if std::env::var(LONG_ENV).is_ok_and(|v| v == "1") {
        20
    } else {
        5
    }
}

/// `chosync run` as a child process on the rig's configuration, its log
/// appended to `daemon.log` in the rig's folder.
fn spawn(rig: &Rig) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(rig))
        .expect("daemon log");
    Process::guard(
        Command::new(env!("CARGO_BIN_EXE_chosync"))
            .arg("--config")
            .arg(&rig.config)
            .arg("run")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("chosync run"),
    )
}

fn log_path(rig: &Rig) -> std::path::PathBuf {
    rig.dir.path().join("daemon.log")
}

/// SIGKILL (`Child::kill` on Unix): no shutdown, no lease released.
fn kill_9(daemon: &mut Process) {
    daemon.child.kill().expect("kill -9");
    let status = daemon.child.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(9),
        "the daemon died of SIGKILL ({status:?}), not of its own accord"
    );
}

/// Waits until the daemon answers `/readyz` with 200 (its channels taken).
async fn ready(rig: &Rig) {
    let url = format!("http://{}/readyz", rig.addr);
    eventually(SOON, "the daemon is ready", || async {
        reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Prints the end of the daemon's log when the story fails.
struct LogOnPanic(std::path::PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("CRASH_LOG").is_none() {
            return;
        }
        let log = std::fs::read_to_string(&self.0).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(100_000).collect();
        eprintln!("--- the daemon's log, last lines ---");
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
    }
}

/// Listings per SKU on each platform, whatever their status short of
/// deleted: a create made twice shows as two.
async fn listings_per_sku(rig: &Rig) -> BTreeMap<(&'static str, String), usize> {
    let mut counts = BTreeMap::new();
    let shopee = rig.shopee_control().inspect("/_sandbox/listings").await;
    for item in shopee
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["status"] != "SELLER_DELETE")
    {
        let models = item["models"].as_array().filter(|m| !m.is_empty());
        let skus: Vec<String> = match models {
            Some(models) => models
                .iter()
                .map(|m| m["sku"].as_str().unwrap_or_default().to_string())
                .collect(),
            None => vec![item["item_sku"].as_str().unwrap_or_default().to_string()],
        };
        for sku in skus {
            *counts.entry((SHOPEE, sku)).or_default() += 1;
        }
    }
    let lazada = rig.lazada_control().inspect("/_sandbox/listings").await;
    for product in lazada.as_array().into_iter().flatten() {
        for sku in product["skus"].as_array().into_iter().flatten() {
            let sku = sku["SellerSku"].as_str().unwrap_or_default().to_string();
            *counts.entry((LAZADA, sku)).or_default() += 1;
        }
    }
    counts
}

fn assert_no_duplicate(counts: &BTreeMap<(&'static str, String), usize>) {
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "listed more than once: {twice:?}");
}

/// Whether every SKU of every active product (not held back) shows on every
/// channel at the price and stock its rules want, and no work is left: the
/// non-panicking form of `Rig::assert_converged`, to wait on.
async fn converged(rig: &Rig, db: &TestDb) -> bool {
    let shown = rig.shown().await;
    let mut rows = Vec::new();
    let mut keep = |row| {
        rows.push(row);
        Ok(())
    };
    if db.store.for_each_catalogue_row(&mut keep).await.is_err() {
        return false;
    }
    for channel in &rig.settings.channels {
        let Ok(states) = db.store.listing_states(&channel.id).await else {
            return false;
        };
        for row in &rows {
            let sku = &row.variant.sku;
            let held_back = states.get(sku).is_some_and(|s| s.quarantined);
            if row.product.status != Status::Active || held_back {
                continue;
            }
            let wanted = (
                channel.price.apply(sku, row.variant.price),
                channel.stock.apply(row.on_hand - row.reserved),
            );
            if shown[channel.id.as_str()].get(sku) != Some(&wanted) {
                return false;
            }
            if states.get(sku).is_none_or(|s| s.status != "live") {
                return false;
            }
        }
        match db.store.pending_tasks(&channel.id).await {
            Ok(tasks) if tasks.is_empty() => {}
            _ => return false,
        }
    }
    true
}

/// On hand and reserved of every SKU.
async fn levels(rig: &Rig) -> BTreeMap<String, (i64, i64)> {
    let rows = rig.store.stock(None).await.expect("stock");
    rows.into_iter()
        .map(|r| (r.sku, (r.on_hand, r.reserved)))
        .collect()
}

/// Every SKU's on hand is the sum of its ledger's movements.
async fn assert_ledger_adds_up(rig: &Rig) {
    for (sku, (on_hand, _)) in levels(rig).await {
        let movements = rig.store.movements(&sku, 100_000).await.expect("ledger");
        let total: i64 = movements.iter().map(|m| m.delta).sum();
        assert_eq!(total, on_hand, "{sku}: the ledger's sum vs on hand");
    }
}

/// What a round adds to the catalogue, listed on neither channel yet.
struct Added {
    /// Single-SKU products `CR-{round}-{n}`: one `add_item` on Shopee.
    singles: Vec<String>,
    /// The two SKUs of product `V-CR-{round}`: on Shopee an `add_item`, then
    /// its variations 5 s later (the platform's wait), a long window.
    variants: Vec<String>,
}

/// Imports `count` new single-SKU products and one with two variants,
/// stock 40 each.
async fn add_products(db: &TestDb, folder: &Path, round: usize, count: usize) -> Added {
    let images = folder.join("images");
    std::fs::create_dir_all(&images).expect("images folder");
    let image = images.join("la-khoi.png");
    if !image.exists() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/images/la-khoi.png");
        std::fs::copy(demo, &image).expect("image");
    }
    let mut csv = String::from(
        "product_id,name,description,category,sku,option1_name,option1_value,price,stock,\
         weight_g,length_cm,width_cm,height_cm,images,status\n",
    );
    let row = |product: &str, name: &str, sku: &str, option: &str, price: i64| {
        let (option_name, option_value) = match option {
            "" => ("", ""),
            value => ("Khối lượng", value),
        };
        format!(
            "{product},{name},\"{name}, sấy khô, đóng túi.\",Sức khỏe > Thảo dược,{sku},\
             {option_name},{option_value},{price},40,230,24,15,8,images/la-khoi.png,active\n"
        )
    };
    let mut added = Added {
        singles: Vec::new(),
        variants: Vec::new(),
    };
    for n in 0..count {
        let sku = format!("CR-{round:02}-{n}");
        let name = format!("Lá khôi tía khô lô {round}-{n}");
        let price = 90_000 + 1_000 * (round * 10 + n) as i64;
        csv.push_str(&row(&format!("P-{sku}"), &name, &sku, "", price));
        added.singles.push(sku);
    }
    let product = format!("V-CR-{round:02}");
    let name = format!("Lá khôi tía lô {round}");
    for (size, price) in [("100 g", 50_000), ("200 g", 95_000)] {
        let sku = format!("CRV-{round:02}-{}", size.replace(' ', ""));
        csv.push_str(&row(&product, &name, &sku, size, price));
        added.variants.push(sku);
    }
    let file = folder.join(format!("round-{round}.csv"));
    std::fs::write(&file, csv).expect("catalogue file");
    db.import(&file).await.expect("import");
    added
}

async fn calls(control: &Control, endpoint: Endpoint) -> u64 {
    control.calls(endpoint.counted).await
}

/// Whether a `creating` mark (written just before a create goes out) is on
/// one of `skus` on `channel`.
async fn creating(db: &TestDb, channel: &str, skus: &[String]) -> bool {
    let states = db.store.listing_states(channel).await.expect("states");
    skus.iter()
        .any(|sku| states.get(sku).is_some_and(|s| s.status == "creating"))
}

/// Of `skus` marked `creating` on `channel` (a create sent, its outcome not
/// recorded): how many the platform lists, and how many it does not.
async fn cut_off(
    db: &TestDb,
    listed: &BTreeMap<(&'static str, String), usize>,
    channel: &'static str,
    skus: &[String],
) -> (usize, usize) {
    let states = db.store.listing_states(channel).await.expect("states");
    let marked = skus
        .iter()
        .filter(|sku| states.get(*sku).is_some_and(|s| s.status == "creating"));
    marked.fold((0, 0), |(made, unmade), sku| {
        if listed.contains_key(&(channel, sku.clone())) {
            (made + 1, unmade)
        } else {
            (made, unmade + 1)
        }
    })
}

/// New products wait to be listed while the platforms' create endpoints
/// are slow; `kill -9` lands in each of a create's windows in turn:
/// - after the platform made the listing, its answer never coming (the
///   sandbox's time-out fault: the work is done, the answer is lost);
/// - before the platform acted (a slow platform: the kill lands while the
///   call waits);
/// - just after the platform answered (recorded or not, by milliseconds),
///   with a Shopee item made but its variations not yet (they wait 5 s).
///
/// Each round checks that its kill landed where it was meant to. Between
/// rounds more products arrive and stock is adjusted. After the
/// last round the faults go, a daemon runs to the end: each SKU is listed
/// exactly once on each platform (a listing whose answer was lost is
/// adopted, never made again), every SKU on every channel shows the wanted
/// price and stock, and the ledger holds exactly the adjustments made.
async fn kill_9_mid_create_lists_each_sku_once(db: &TestDb) {
    let mut rig = Rig::new(db, 1).await;
    rig.release_listener();
    let _log = LogOnPanic(log_path(&rig));
    let folder = rig.dir.path().to_path_buf();
    let start = levels(&rig).await;
    let mut adjusted: BTreeMap<String, i64> = BTreeMap::new();
    // Single-SKU products (the windows' checks look at these), and all.
    let mut new_skus: Vec<String> = Vec::new();
    let mut all_new: Vec<String> = Vec::new();
    let creates = [
        (rig.shopee_control(), SHOPEE_CREATE, SHOPEE),
        (rig.lazada_control(), LAZADA_CREATE, LAZADA),
    ];
    for round in 0..rounds() {
        let Added { singles, variants } = add_products(db, &folder, round, 3).await;
        new_skus.extend(singles.iter().cloned());
        all_new.extend(singles.iter().chain(&variants).cloned());
        let added = singles;
        let window = round % 3;
        for (control, path, _) in &creates {
            let fault = match window {
                0 => json!({ "timeout_rate": 1.0, "only": path.path }),
                _ => json!({ "latency_ms": 1500, "only": path.path }),
            };
            control.faults(fault).await;
        }
        let mut made = Vec::new();
        for (control, path, _) in &creates {
            made.push(calls(control, *path).await);
        }
        let mut daemon = spawn(&rig);
        let product = format!("V-CR-{round:02}");
        match window {
            // Made on both platforms, the answers lost: the kill lands after
            // the platform acted.
            0 => {
                eventually(SOON, "a create made on each platform", || async {
                    for ((control, path, _), before) in creates.iter().zip(&made) {
                        if calls(control, *path).await <= *before {
                            return false;
                        }
                    }
                    true
                })
                .await;
            }
            // Marked `creating` and sent, the platform still waiting.
            1 => {
                eventually(SOON, "creates on their way to both platforms", || async {
                    creating(db, SHOPEE, &added).await && creating(db, LAZADA, &added).await
                })
                .await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            // Answered (recorded or not, by a few milliseconds), and this
            // round's product with variations made on Shopee without them:
            // its variations wait the platform's 5 s.
            _ => {
                eventually(SOON, "the creates answered", || async {
                    let lazada = calls(&creates[1].0, creates[1].1).await > made[1];
                    let listed = listings_per_sku(&rig).await;
                    lazada && listed.contains_key(&(SHOPEE, product.clone()))
                })
                .await;
                let jitter = (round as u64 * 7) % 25;
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
        }
        kill_9(&mut daemon);
        // The kill landed where it was meant to, on both platforms.
        let listed = listings_per_sku(&rig).await;
        // A Shopee item whose variations never came lists its product key.
        assert!(
            window != 2 || listed.contains_key(&(SHOPEE, product)),
            "round {round}: the kill did not land between a Shopee item's create and its variations"
        );
        for channel in [SHOPEE, LAZADA] {
            let (made, unmade) = cut_off(db, &listed, channel, &new_skus).await;
            match window {
                0 => assert!(
                    made > 0,
                    "round {round}: no create on {channel} lost its answer"
                ),
                1 => assert!(
                    unmade > 0,
                    "round {round}: no create on {channel} cut off before the platform acted"
                ),
                _ => {}
            }
        }
        // While it is down, stock changes on a new SKU already on its way.
        let sku = &new_skus[round];
        chosync::inventory::adjust(rig.store.as_ref(), sku, -1, "one bag torn", "test")
            .await
            .expect("adjust");
        *adjusted.entry(sku.clone()).or_default() -= 1;
        assert_no_duplicate(&listings_per_sku(&rig).await);
    }
    for (control, _, _) in &creates {
        control.faults(json!({})).await;
    }
    // Stopped (killed) when the story ends.
    let _daemon = spawn(&rig);
    ready(&rig).await;
    eventually(Duration::from_secs(30), "every channel converged", || {
        converged(&rig, db)
    })
    .await;
    rig.assert_converged(db).await;
    let counts = listings_per_sku(&rig).await;
    assert_no_duplicate(&counts);
    for sku in &all_new {
        for channel in [SHOPEE, LAZADA] {
            assert_eq!(
                counts.get(&(channel, sku.clone())),
                Some(&1),
                "{sku} on {channel}"
            );
        }
    }
    let end = levels(&rig).await;
    for (sku, (on_hand, reserved)) in &end {
        let first = start.get(sku).map_or(40, |l| l.0);
        let wanted = first + adjusted.get(sku).copied().unwrap_or(0);
        assert_eq!((*on_hand, *reserved), (wanted, 0), "{sku}");
    }
    assert_ledger_adds_up(&rig).await;
    // The passes the kills cut off were marked by the next pass; none is
    // left `running` once the last one has ended.
    eventually(SOON, "no pass left running", || async {
        count(
            db,
            "SELECT COUNT(*) FROM sync_runs WHERE kind <> 'orders' AND status = 'running'",
        )
        .await
            == 0
    })
    .await;
    let interrupted = count(
        db,
        "SELECT COUNT(*) FROM sync_runs WHERE kind <> 'orders' AND status = 'interrupted'",
    )
    .await;
    assert!(
        interrupted >= rounds() as i64,
        "{interrupted} passes cut off"
    );
}

/// Order imports left `running`: cut off by a kill (a live daemon ends
/// each one it starts).
async fn running_imports(db: &TestDb) -> i64 {
    count(
        db,
        "SELECT COUNT(*) FROM sync_runs WHERE kind = 'orders' AND status = 'running'",
    )
    .await
}

async fn count(db: &TestDb, sql: &'static str) -> i64 {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.expect("SQLite");
        let n = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("runs");
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("PostgreSQL");
        let n = sqlx::query_scalar(sql)
            .fetch_one(&pool)
            .await
            .expect("runs");
        pool.close().await;
        n
    }
}

/// An order the test placed on a sandbox, as the sandbox answered it.
#[derive(Debug, Clone)]
struct Placed {
    channel: &'static str,
    order_id: String,
    sku: String,
    quantity: i64,
    shipped: bool,
}

async fn place(control: &Control, channel: &'static str, sku: &str, quantity: i64) -> Placed {
    let placed = control
        .control(
            "/_sandbox/orders",
            json!({ "sku": sku, "quantity": quantity }),
        )
        .await;
    let order_id = placed["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("order not placed on {channel}: {placed}"))
        .to_string();
    Placed {
        channel,
        order_id,
        sku: sku.to_string(),
        quantity,
        shipped: false,
    }
}

async fn ship(control: &Control, order: &mut Placed) {
    let answer: Value = control
        .control(
            &format!("/_sandbox/orders/{}/ship", order.order_id),
            json!({}),
        )
        .await;
    assert_eq!(answer["order_id"], order.order_id.as_str(), "{answer}");
    order.shipped = true;
}

/// Whether one of `orders` is recorded in the store.
async fn any_recorded(rig: &Rig, orders: &[Placed]) -> bool {
    for order in orders {
        let found = rig.store.order(Some(order.channel), &order.order_id).await;
        if found.is_ok_and(|found| !found.is_empty()) {
            return true;
        }
    }
    false
}

/// Whether every order placed is recorded in the store.
async fn all_recorded(rig: &Rig, placed: &[Placed]) -> bool {
    for order in placed {
        match rig.store.order(Some(order.channel), &order.order_id).await {
            Ok(found) if found.len() == 1 => {
                let state = found[0].state.as_str();
                if order.shipped != (state == "shipped") {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Orders keep arriving on both platforms — by push to the daemon's webhook
/// and by its poll every second — while the platforms' order-fetch endpoints
/// answer slowly; `kill -9` lands during the imports — just as a fetch is
/// answered, or just after the first of its orders is recorded (the rest of
/// the import cut off: other orders, hints, the poll's cursor) — and more
/// orders are placed, and some shipped, while the daemon is down. After the
/// last restart: the platforms hold exactly the orders placed (read through
/// their APIs), every one is recorded exactly once, the units
/// reserved and committed per SKU are exactly the orders' (nothing counted
/// twice, nothing lost), the ledger's sales are exactly the shipped units,
/// and every channel shows the wanted stock of every SKU.
async fn kill_9_mid_order_import_records_each_order_once(db: &TestDb) {
    let mut rig = Rig::new(db, 1).await;
    rig.release_listener();
    let _log = LogOnPanic(log_path(&rig));
    // The poll every second, so that it comes round between kills.
    let config = std::fs::read_to_string(&rig.config).expect("config");
    let fast = config.replace(r#"orders = "0 0 * * * *""#, r#"orders = "* * * * * *""#);
    assert_ne!(config, fast, "the orders schedule is in the configuration");
    std::fs::write(&rig.config, fast).expect("config");
    rig.push_to_daemon().await;
    let shown = rig.shown().await;
    let skus: Vec<String> = [
        "MD-500G", "MD-1KG", "NH-100G", "MN-100G", "HD-500G", "GCL-100G",
    ]
    .into_iter()
    .filter(|sku| shown[SHOPEE].contains_key(*sku) && shown[LAZADA].contains_key(*sku))
    .map(String::from)
    .collect();
    assert!(skus.len() >= 4, "SKUs listed on both channels: {skus:?}");
    let start = levels(&rig).await;
    let started = rig.store.now() - chrono::Duration::minutes(5);
    let sandboxes = [
        (rig.shopee_control(), SHOPEE_FETCH, SHOPEE),
        (rig.lazada_control(), LAZADA_FETCH, LAZADA),
    ];
    let mut placed: Vec<Placed> = Vec::new();
    let mut cut_imports = 0;
    let mut n = 0usize;
    let mut next_sku = || {
        n += 1;
        (skus[n % skus.len()].clone(), 1 + (n % 3) as i64)
    };
    for round in 0..rounds() {
        for (control, path, _) in &sandboxes {
            control
                .faults(json!({ "latency_ms": 700, "only": path.path }))
                .await;
        }
        let (control, path, _) = &sandboxes[(round / 2) % 2];
        let fetched = calls(control, *path).await;
        let imports_cut = running_imports(db).await;
        let mut daemon = spawn(&rig);
        let first = placed.len();
        for (control, _, channel) in &sandboxes {
            for _ in 0..2 {
                let (sku, quantity) = next_sku();
                placed.push(place(control, channel, &sku, quantity).await);
            }
        }
        // Watched closely (the windows last milliseconds), the kill lands
        // in even rounds just after an order fetch is answered, before or
        // while its orders are recorded; in odd ones as soon as one of this
        // round's orders is recorded, cutting off the rest of its import
        // (the other orders, the hints' and the poll cursor's updates).
        let deadline = tokio::time::Instant::now() + SOON;
        if round % 2 == 0 {
            while calls(control, *path).await <= fetched {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no order fetch answered"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let jitter = (round as u64 * 3) % 7;
            tokio::time::sleep(Duration::from_millis(jitter)).await;
        } else {
            while !any_recorded(&rig, &placed[first..]).await {
                assert!(tokio::time::Instant::now() < deadline, "no order recorded");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        kill_9(&mut daemon);
        if running_imports(db).await > imports_cut {
            cut_imports += 1;
        }
        // While it is down: more orders (their pushes find no one), and
        // an order of an earlier round shipped on each platform.
        for (control, _, channel) in &sandboxes {
            let (sku, quantity) = next_sku();
            placed.push(place(control, channel, &sku, quantity).await);
            if let Some(order) = placed
                .iter_mut()
                .find(|o| o.channel == *channel && !o.shipped)
            {
                ship(control, order).await;
            }
        }
    }
    eprintln!(
        "{}: {cut_imports} of {} kills landed during an order import",
        db.url.split(':').next().unwrap_or(""),
        rounds()
    );
    assert!(
        cut_imports * 2 >= rounds(),
        "only {cut_imports} of {} kills landed during an order import",
        rounds()
    );
    for (control, _, _) in &sandboxes {
        control.faults(json!({})).await;
    }
    // Stopped (killed) when the story ends.
    let _daemon = spawn(&rig);
    ready(&rig).await;
    eventually(Duration::from_secs(30), "every order recorded", || {
        all_recorded(&rig, &placed)
    })
    .await;
    eventually(Duration::from_secs(30), "every channel converged", || {
        converged(&rig, db)
    })
    .await;
    rig.assert_converged(db).await;
    // The platforms' own records are the orders the test placed.
    let held = platform_orders(&rig, started).await;
    let wanted: BTreeMap<_, _> = placed
        .iter()
        .map(|o| {
            let units = BTreeMap::from([(o.sku.clone(), o.quantity)]);
            (
                (o.channel.to_string(), o.order_id.clone()),
                (units, o.shipped),
            )
        })
        .collect();
    assert_eq!(held, wanted, "the platforms' orders vs those placed");
    assert_orders_exact(&rig, &placed, &start).await;
    assert_no_duplicate(&listings_per_sku(&rig).await);
}

/// Every order each platform holds — read through its API, as chosync's
/// poll reads it — with its units per SKU and whether it was shipped.
async fn platform_orders(
    rig: &Rig,
    since: chrono::DateTime<chrono::Utc>,
) -> BTreeMap<(String, String), (BTreeMap<String, i64>, bool)> {
    let channels = chosync::channels::prepare::prepare(&rig.settings, &rig.store, None, || {
        std::sync::Arc::new(chosync::sync::CallLog::default())
    })
    .expect("channels");
    let mut held = BTreeMap::new();
    for channel in &channels {
        let connector = channel.client.connector();
        let window = chosync_connector::dto::OrderWindow {
            from: since,
            to: rig.store.now(),
        };
        let listed = connector.list_orders(window).await.expect("list orders");
        let ids: Vec<String> = listed.into_iter().map(|o| o.order_id).collect();
        for order in connector.get_orders(&ids).await.expect("orders") {
            let mut units: BTreeMap<String, i64> = BTreeMap::new();
            for line in &order.lines {
                *units.entry(line.sku.clone()).or_default() += line.quantity;
            }
            let shipped = order.state.as_str() == "shipped";
            held.insert(
                (channel.settings.id.clone(), order.order_id),
                (units, shipped),
            );
        }
    }
    held
}

/// Each order placed recorded once with its units; nothing else recorded;
/// per SKU the reserved and on-hand changes are exactly the orders' and the
/// ledger's sales exactly the shipped units.
async fn assert_orders_exact(rig: &Rig, placed: &[Placed], start: &BTreeMap<String, (i64, i64)>) {
    let mut held: HashMap<&str, i64> = HashMap::new();
    let mut sold: HashMap<&str, i64> = HashMap::new();
    for order in placed {
        let found = rig
            .store
            .order(Some(order.channel), &order.order_id)
            .await
            .expect("order");
        assert_eq!(found.len(), 1, "{order:?}: {found:?}");
        let record = &found[0];
        let units: i64 = record.lines.iter().map(|l| l.quantity).sum();
        assert_eq!(units, order.quantity, "{order:?}: {record:?}");
        for line in &record.lines {
            assert_eq!(line.sku, order.sku, "{record:?}");
            let (effect, other) = if order.shipped {
                ("commit", "reserve")
            } else {
                ("reserve", "commit")
            };
            let moved = |name: &str| {
                line.effects
                    .iter()
                    .filter(|(e, _)| e.as_str() == name)
                    .map(|(_, units)| *units)
                    .sum::<i64>()
            };
            assert_eq!(moved(effect), line.quantity, "{effect}: {record:?}");
            if order.shipped {
                // A shipped line reserved its units first, then committed them.
                assert!(moved(other) <= line.quantity, "{record:?}");
            } else {
                assert_eq!(moved(other), 0, "{record:?}");
            }
        }
        let sum = if order.shipped { &mut sold } else { &mut held };
        *sum.entry(order.sku.as_str()).or_default() += order.quantity;
    }
    let recorded = rig
        .store
        .orders(&chosync::store::orders::OrderFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("orders");
    assert_eq!(
        recorded.len(),
        placed.len(),
        "no order recorded that was not placed"
    );
    let end = levels(rig).await;
    for (sku, (on_hand, reserved)) in &end {
        let (first_on_hand, first_reserved) = start[sku];
        let sku = sku.as_str();
        let shipped = sold.get(sku).copied().unwrap_or(0);
        assert_eq!(
            (*on_hand, *reserved),
            (
                first_on_hand - shipped,
                first_reserved + held.get(sku).copied().unwrap_or(0)
            ),
            "{sku}: on hand and reserved vs the orders placed"
        );
        let movements = rig.store.movements(sku, 100_000).await.expect("ledger");
        let sales: i64 = movements
            .iter()
            .filter(|m| m.kind == MovementKind::Sale)
            .map(|m| m.delta)
            .sum();
        assert_eq!(sales, -shipped, "{sku}: the ledger's sales");
    }
    assert_ledger_adds_up(rig).await;
}

on_both_engines!(
    kill_9_mid_create_lists_each_sku_once,
    kill_9_mid_order_import_records_each_order_once,
);
