//! One sync pass against a Shopee sandbox, on both databases: the outbox's
//! work rendered through rules and mapping, pushed, and recorded.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chosync::channels::client::ChannelClient;
use chosync::clock::Clock;
use chosync::inventory::{MovementKind, NewMovement};
use chosync::sync::CallLog;
use chosync::sync::{Channel, Options, SyncError, sync_channel};
use chosync_connector::clock::SystemClock;
use chosync_connector::sandbox::Faults;
use chosync_shopee::sandbox::{Running, SandboxConfig, ShopeeSandbox};
use chosync_shopee::{Shopee, ShopeeConfig};
use common::rig::{self, Rig};
use common::{TestDb, demo_catalogue, file};
use serde_json::Value;

struct Setup {
    running: Running,
    rig: Rig,
}

async fn setup(db: &TestDb) -> Setup {
    let sandbox = SandboxConfig {
        rate: std::num::NonZeroU32::new(200).expect("rate"),
        tier_wait: Duration::from_millis(50),
        ..SandboxConfig::default()
    };
    let running = ShopeeSandbox::start(sandbox, 0).await.expect("sandbox");
    rig::register(db, "shopee-demo").await;
    let settings = rig::settings(&format!(
        r#"
id = "shopee-demo"
platform = "shopee"
base_url = "{}"
partner_id = 2001887
shop_id = 14701711
price = {{ markup_percent = 5, round_to = 1000, rounding = "up" }}
stock = {{ buffer = 1 }}
"#,
        running.base_url
    ));
    let events = Arc::new(CallLog::default());
    let config = ShopeeConfig {
        channel: "shopee-demo".into(),
        base_url: running.base_url.clone(),
        partner_id: running.credentials.partner_id,
        partner_key: running.credentials.partner_key.clone().into(),
        shop_id: running.credentials.shop_id,
        callback_url: None,
        limits: chosync_connector::Limits::shared(
            "shop",
            std::num::NonZeroU32::new(200).expect("rate"),
        ),
        http: rig::quick_http(),
        tier_wait: Duration::from_millis(50),
    };
    let shopee = Shopee::new(
        config,
        rig::credentials(db),
        events.clone(),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let client = ChannelClient::Shopee(shopee);
    let code = running.credentials.code.clone();
    let rig = Rig::authorized(settings, "shopee-demo.toml", client, events, &code).await;
    Setup { running, rig }
}

impl Setup {
    fn channel(&self) -> Channel<'_> {
        self.rig.channel()
    }

    /// One pass with the default options.
    async fn sync(&self, db: &TestDb) -> Result<chosync::sync::SyncSummary, SyncError> {
        sync_channel(db.store.as_ref(), &self.channel(), &Options::new("test")).await
    }

    /// After a pass that finished what others left: every SKU shows what is
    /// wanted, every listing is live, and no work is left.
    async fn assert_converged(&self, db: &TestDb) {
        common::converged::assert_converged(db, &self.rig.settings, &self.shown().await).await;
    }

    /// Price and stock of every SKU the sandbox lists for sale.
    async fn shown(&self) -> std::collections::HashMap<String, (i64, i64)> {
        let value = |v: &Value| {
            (
                v["price"].as_i64().unwrap_or(-1),
                v["stock"].as_i64().unwrap_or(-1),
            )
        };
        let mut shown = std::collections::HashMap::new();
        for item in self
            .items()
            .await
            .iter()
            .filter(|i| i["status"] == "NORMAL")
        {
            match item["models"].as_array().filter(|m| !m.is_empty()) {
                Some(models) => {
                    for m in models {
                        shown.insert(m["sku"].as_str().unwrap_or_default().to_string(), value(m));
                    }
                }
                None => {
                    shown.insert(
                        item["item_sku"].as_str().unwrap_or_default().to_string(),
                        value(item),
                    );
                }
            }
        }
        shown
    }

    async fn items(&self) -> Vec<Value> {
        let url = format!("{}/_sandbox/listings", self.running.base_url);
        let all: Value = reqwest::get(url)
            .await
            .expect("listings")
            .json()
            .await
            .expect("JSON");
        all.as_array().cloned().unwrap_or_default()
    }

    async fn calls(&self, path: &str) -> u64 {
        self.running
            .sandbox
            .kit()
            .stats()
            .calls
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

async fn listing_states(
    db: &TestDb,
) -> std::collections::HashMap<String, chosync::store::ListingState> {
    db.store
        .listing_states("shopee-demo")
        .await
        .expect("states")
}

/// Counts what a progress bar would show.
#[derive(Default)]
struct Counted {
    total: std::sync::atomic::AtomicU64,
    settled: std::sync::atomic::AtomicU64,
}

impl Counted {
    fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        (self.total.load(SeqCst), self.settled.load(SeqCst))
    }
}

impl chosync::sync::SyncProgress for Counted {
    fn start(&self, _: &str, tasks: u64) {
        self.total
            .fetch_add(tasks, std::sync::atomic::Ordering::SeqCst);
    }

    fn settled(&self, tasks: u64) {
        self.settled
            .fetch_add(tasks, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A stock correction of `delta` units.
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

/// A sheet that sets the status of each SKU's product (name and price as
/// the demo catalogue has them, so nothing else changes).
fn status_sheet(changes: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut demo = csv::Reader::from_path(demo_catalogue()).expect("demo catalogue");
    let rows: Vec<csv::StringRecord> = demo.records().map(|r| r.expect("row")).collect();
    let mut text = String::from("product_id,name,sku,price,status\n");
    for (sku, status) in changes {
        let row = rows
            .iter()
            .find(|r| r.get(5) == Some(*sku))
            .unwrap_or_else(|| panic!("no {sku} in the demo catalogue"));
        let field = |i: usize| row.get(i).unwrap_or_default();
        text.push_str(&format!(
            "{},{},{sku},{},{status}\n",
            field(0),
            field(1),
            field(10)
        ));
    }
    file("status.csv", &text)
}

/// The status of every sync run, oldest first, read straight from the table.
async fn run_statuses(db: &TestDb) -> Vec<String> {
    run_rows(db)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}

/// Status and error of every sync run, oldest first.
async fn run_rows(db: &TestDb) -> Vec<(String, Option<String>)> {
    let query = "SELECT status, error FROM sync_runs ORDER BY id";
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.expect("SQLite");
        sqlx::query_as(query).fetch_all(&pool).await.expect("runs")
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("PostgreSQL");
        sqlx::query_as(query).fetch_all(&pool).await.expect("runs")
    }
}

/// Runs one statement on the test database, as another process would.
async fn execute(db: &TestDb, statement: &'static str) {
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.expect("SQLite");
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect("statement");
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("PostgreSQL");
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect("statement");
    }
}

/// The demo catalogue's twelve listable products are listed, the tea with
/// its four models, live.
fn assert_twelve_listed_with_the_tea_whole(items: &[Value]) {
    assert_eq!(items.len(), 12);
    let tea = items
        .iter()
        .find(|i| i["item_sku"] == "TRA-SHAN")
        .expect("tea");
    assert_eq!(tea["models"].as_array().map(Vec::len), Some(4));
    assert_eq!(tea["status"], "NORMAL");
}

fn model<'a>(items: &'a [Value], sku: &str) -> &'a Value {
    items
        .iter()
        .flat_map(|i| i["models"].as_array().into_iter().flatten())
        .find(|m| m["sku"] == sku)
        .unwrap_or_else(|| panic!("no model {sku}"))
}

async fn a_first_sync_lists_the_catalogue_and_a_second_makes_no_call(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    let progress = Arc::new(Counted::default());
    let options = Options {
        progress: progress.clone(),
        ..Options::new("test")
    };
    let first = sync_channel(db.store.as_ref(), &s.channel(), &options)
        .await
        .expect("sync");
    // The progress bar's numbers: every task taken on is settled by the end.
    let (total, settled) = progress.counts();
    assert_eq!((total, settled), (32 * 3, 32 * 3));
    // Two oils span more than Shopee's 5× price rule: quarantined, the rest listed.
    assert_eq!(first.counts.quarantined, 6, "{first:?}");
    assert_eq!(first.counts.pushed, 26, "{first:?}");
    let items = s.items().await;
    assert_twelve_listed_with_the_tea_whole(&items);
    // 65,000 × 1.05 = 68,250 → 69,000; stock 300 less a buffer of 1.
    let noodles = model(&items, "MD-500G");
    assert_eq!(
        (noodles["price"].as_i64(), noodles["stock"].as_i64()),
        (Some(69_000), Some(299))
    );
    let single = items
        .iter()
        .find(|i| i["item_sku"] == "LKT-200G")
        .expect("single-SKU item");
    assert_eq!(
        (single["price"].as_i64(), single["stock"].as_i64()),
        (Some(100_000), Some(54))
    );
    let states = listing_states(db).await;
    let oil = &states["TDQ-10ML"];
    assert!(
        oil.quarantined
            && oil
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("5 times")),
        "{oil:?}"
    );
    s.assert_converged(db).await;

    // Listings are created several at a time; each call is logged under its own SKUs.
    let tea_log = db
        .store
        .sync_log(&chosync::store::LogFilter {
            sku: Some("SHAN-HONG-200G".into()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("log");
    let actions: Vec<&str> = tea_log.iter().map(|e| e.call.action.as_str()).collect();
    // A create is add_item + init_tier_variation, whose answer names the
    // models: nothing is read back or put on sale afterwards.
    for (action, times) in [
        ("/api/v2/product/add_item", 1),
        ("/api/v2/product/init_tier_variation", 1),
        ("/api/v2/product/update_item", 0),
        ("/api/v2/product/get_item_base_info", 0),
    ] {
        assert_eq!(
            actions.iter().filter(|a| **a == action).count(),
            times,
            "{action} in {actions:?}"
        );
    }
    assert!(
        tea_log
            .iter()
            .all(|e| e.call.skus == "SHAN-XANH-100G SHAN-XANH-200G SHAN-HONG-100G SHAN-HONG-200G"),
        "{tea_log:?}"
    );
    // The SKU filter matches a SKU exactly: no wildcards, no case folding.
    for near in [
        "shan-hong-200g",
        "SHAN-HONG-%",
        "SHAN_HONG_200G",
        "SHAN-HONG-200",
    ] {
        let found = db
            .store
            .sync_log(&chosync::store::LogFilter {
                sku: Some(near.into()),
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("log");
        assert!(found.is_empty(), "{near} matched {found:?}");
    }

    let calls_before = s.running.sandbox.kit().stats().calls.values().sum::<u64>();
    let second = s.sync(db).await.expect("sync");
    assert_eq!(
        (second.counts.calls, second.counts.pushed),
        (0, 0),
        "{second:?}"
    );
    assert_eq!(
        s.running.sandbox.kit().stats().calls.values().sum::<u64>(),
        calls_before
    );
}

async fn one_price_change_is_one_call_and_a_burst_of_stock_changes_one_push(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await.expect("first sync");
    let (_d, price) = file(
        "p.csv",
        "product_id,name,sku,price\nMIEN-DONG,Miến dong Côn Minh,MD-1KG,125000\n",
    );
    db.import(&price).await.expect("price change");
    for _ in 0..100 {
        db.store
            .record_movement(&adjust("NH-100G", -1))
            .await
            .expect("sale");
    }
    let (prices, stocks) = (
        s.calls("/api/v2/product/update_price").await,
        s.calls("/api/v2/product/update_stock").await,
    );
    let run = s.sync(db).await.expect("sync");
    assert_eq!(s.calls("/api/v2/product/update_price").await - prices, 1);
    assert_eq!(s.calls("/api/v2/product/update_stock").await - stocks, 1);
    assert_eq!(run.counts.pushed, 2, "{run:?}");
    let items = s.items().await;
    assert_eq!(model(&items, "MD-1KG")["price"], 132_000); // 125,000 × 1.05 = 131,250 → up
    assert_eq!(model(&items, "NH-100G")["stock"], 49); // 150 − 100 − buffer 1
}

async fn an_unmapped_category_quarantines_its_products_only(db: &TestDb) {
    let mut s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.rig.mapping.categories.remove("Thực phẩm > Gạo");
    let run = s.sync(db).await.expect("sync");
    let states = listing_states(db).await;
    let rice = &states["GBT-5KG"];
    assert!(rice.quarantined, "{rice:?}");
    assert!(
        rice.last_error
            .as_deref()
            .is_some_and(|e| e.contains("category \"Thực phẩm > Gạo\" is not mapped")),
        "{rice:?}"
    );
    assert_eq!(run.counts.quarantined, 6 + 2);
    assert_eq!(s.items().await.len(), 11);
}

/// The pass dies between creating a listing and recording it (here: every
/// `init_tier_variation` fails after `add_item` made the item, and the item
/// read back has no models yet, so no product with variations is recorded).
/// The next pass finds and adopts each such listing — finishing its
/// variations — instead of creating it twice.
async fn a_create_cut_off_after_the_platform_made_it_is_adopted_not_repeated(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.running.sandbox.kit().set_faults(Faults {
        error_rate: 1.0,
        only: Some("/api/v2/product/init_tier_variation".into()),
        ..Faults::default()
    });
    let cut = s.sync(db).await.expect("sync");
    // The three single-SKU products need no variations: they are recorded.
    assert_eq!(cut.counts.pushed, 3, "{cut:?}");
    assert_eq!(cut.counts.failed, 23, "{cut:?}");
    let added = s.calls("/api/v2/product/add_item").await;
    assert_eq!(added, 12, "one add_item per listable product");
    let states = listing_states(db).await;
    assert_eq!(states["MD-500G"].status, "creating");
    assert!(
        states["MD-500G"]
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("content: ")),
        "{:?}",
        states["MD-500G"]
    );

    // The failed calls are in the log, and the error filter finds only them.
    let errors = db
        .store
        .sync_log(&chosync::store::LogFilter {
            errors_only: true,
            limit: 10_000,
            ..Default::default()
        })
        .await
        .expect("log");
    assert!(
        !errors.is_empty()
            && errors.iter().all(|e| e.call.outcome != "ok"
                && e.call.action == "/api/v2/product/init_tier_variation"),
        "{errors:?}"
    );

    s.running.sandbox.kit().set_faults(Faults::default());
    let scans = s.calls("/api/v2/product/get_item_list").await;
    // The failed work waits out its backoff (persisted with the task), even
    // when stock moves meanwhile: a create carries the stock of its time...
    db.store
        .record_movement(&adjust("NH-100G", -1))
        .await
        .expect("adjust");
    let early = s.sync(db).await.expect("sync");
    assert_eq!(early.counts.calls, 0, "{early:?}");
    // Every task of the 23 cut-off SKUs waits: those backing off, and the
    // new stock work of NH-100G, kept for the pass that adopts its listing.
    assert_eq!(early.deferred, 23 * 3, "{early:?}");
    // ...and is taken once it is due.
    db.clock.advance(chrono::Duration::seconds(30));
    let resumed = s.sync(db).await.expect("sync");
    assert_eq!(resumed.counts.failed, 0, "{resumed:?}");
    assert_eq!(
        s.calls("/api/v2/product/get_item_list").await - scans,
        1,
        "the shop's listings are read once for all nine adoptions"
    );
    assert_eq!(
        s.calls("/api/v2/product/add_item").await,
        added,
        "no listing is created twice"
    );
    let items = s.items().await;
    assert_twelve_listed_with_the_tea_whole(&items);
    // Stock and price of adopted listings are pushed, not assumed.
    s.assert_converged(db).await;
    let states = listing_states(db).await;
    assert_eq!(states["MD-500G"].product_id.as_deref(), Some("MIEN-DONG"));
}

/// A quarantined product is listed once its data is fixed; a SKU moved to
/// another product is refused on the channel, not listed twice.
async fn fixing_a_refused_product_lists_it_and_a_moved_sku_is_refused(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await.expect("first sync");
    let states = listing_states(db).await;
    assert!(states["TDQ-10ML"].quarantined);
    // A stock change alone cannot change the refusal: no create is tried.
    db.store
        .record_movement(&adjust("TDQ-10ML", -2))
        .await
        .expect("adjust");
    let waiting = s.sync(db).await.expect("stock only");
    assert_eq!(
        (waiting.counts.calls, waiting.counts.quarantined),
        (0, 0),
        "{waiting:?}"
    );
    assert!(listing_states(db).await["TDQ-10ML"].quarantined);
    // Bring the cinnamon oils within Shopee's 5× price span.
    let (_d, fixed) = file(
        "fix.csv",
        "product_id,name,sku,price\nTD-QUE,Tinh dầu quế Bắc Kạn,TDQ-10ML,150000\n",
    );
    db.import(&fixed).await.expect("fix");
    let run = s.sync(db).await.expect("sync");
    assert_eq!(run.counts.quarantined, 0, "{run:?}");
    let states = listing_states(db).await;
    let oil = &states["TDQ-10ML"];
    assert!(
        !oil.quarantined && oil.listing_id.is_some() && oil.last_error.is_none(),
        "{oil:?}"
    );
    assert_eq!(s.items().await.len(), 13);

    // MD-1KG moves from MIEN-DONG (listed) to a new product.
    let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/demo/images/mien-dong.png")
        .display()
        .to_string();
    let (_d, moved) = file(
        "move.csv",
        &format!(
            "product_id,name,category,sku,option1_name,option1_value,price,images\n\
             MIEN-DONG-LON,Miến dong Côn Minh gói lớn,Thực phẩm > Đồ khô,MD-1KG,Khối lượng,1 kg,120000,{image}\n"
        ),
    );
    db.import(&moved).await.expect("move");
    // The product it left changes shape too: its remaining SKU gets content work.
    let tasks = db.store.pending_tasks("shopee-demo").await.expect("tasks");
    assert!(
        tasks
            .iter()
            .any(|t| t.sku == "MD-500G" && t.aspect == chosync::store::Aspect::Content),
        "{tasks:?}"
    );
    let run = s.sync(db).await.expect("sync");
    let states = listing_states(db).await;
    let md = &states["MD-1KG"];
    assert!(
        md.quarantined
            && md
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("as part of product MIEN-DONG")),
        "{md:?} {run:?}"
    );
    assert_eq!(s.items().await.len(), 13, "no second listing for MD-1KG");
}

/// Zeroing the stock of 6 of 26 live listings (23 %) is refused before any
/// call, with the reason; `plan` shows the same; `--force` applies it.
async fn the_blast_radius_guard_refuses_a_mass_zeroing_and_force_applies_it(db: &TestDb) {
    use chosync::sync::{Kind, SyncError, plan_channel};
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await.expect("first sync");
    let (_d, sold_out) = file(
        "sold-out.csv",
        "product_id,name,sku,price,stock\n\
         MIEN-DONG,Miến dong Côn Minh,MD-500G,65000,0\n\
         MIEN-DONG,Miến dong Côn Minh,MD-1KG,120000,0\n\
         NAM-HUONG,Nấm hương rừng khô,NH-100G,75000,0\n\
         NAM-HUONG,Nấm hương rừng khô,NH-200G,140000,0\n\
         NAM-HUONG,Nấm hương rừng khô,NH-500G,330000,0\n\
         MOC-NHI,Mộc nhĩ đen rừng,MN-100G,45000,0\n",
    );
    db.import(&sold_out).await.expect("sold out");
    let plan = plan_channel(
        db.store.as_ref(),
        &s.rig.settings,
        &chosync::inventory::allocation::SHARED,
        &s.rig.client,
        Kind::All,
    )
    .await
    .expect("plan");
    assert_eq!((plan.live, plan.zeroed), (26, 6), "{plan:?}");
    let md = plan
        .stocks
        .iter()
        .find(|c| c.sku == "MD-500G")
        .expect("change");
    assert_eq!((md.old, md.new), (Some(299), 0));
    assert!(plan.creates.is_empty() && plan.prices.is_empty());
    // Shopee sets stock per item: three items, one call each.
    assert_eq!(plan.min_calls, 3);
    assert!(plan.guard().is_some());

    let stock_calls = s.calls("/api/v2/product/update_stock").await;
    let err = s.sync(db).await.expect_err("refused");
    let SyncError::Refused(reason) = err else {
        panic!("not refused: {err}");
    };
    assert!(
        reason.contains("set the stock of 6 and delist 0 of 26 live listings")
            && reason.contains("--force"),
        "{reason}"
    );
    assert_eq!(s.calls("/api/v2/product/update_stock").await, stock_calls);
    assert_eq!(model(&s.items().await, "MD-500G")["stock"], 299);

    // Other kinds of work are not held up by it.
    let prices = Options {
        kind: Kind::Price,
        ..Options::new("test")
    };
    sync_channel(db.store.as_ref(), &s.channel(), &prices)
        .await
        .expect("a price pass runs");

    let forced = Options {
        force: true,
        ..Options::new("test")
    };
    let run = sync_channel(db.store.as_ref(), &s.channel(), &forced)
        .await
        .expect("forced");
    assert_eq!(run.counts.pushed, 6, "{run:?}");
    assert_eq!(
        s.calls("/api/v2/product/update_stock").await - stock_calls,
        3
    );
    let items = s.items().await;
    assert_eq!(model(&items, "MD-500G")["stock"], 0);
    assert_eq!(model(&items, "MN-100G")["stock"], 0);
    assert_eq!(model(&items, "MN-250G")["stock"], 109);
}

/// Shopee refuses one model of a stock batch (a count past its 999,999
/// limit): only that SKU is quarantined, with the platform's reason; the rest
/// of the batch lands, and a corrected count lifts the quarantine.
async fn a_refused_sku_in_a_batch_is_quarantined_alone_until_corrected(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await.expect("first sync");
    for (sku, delta) in [("SHAN-XANH-100G", 2_000_000), ("SHAN-XANH-200G", 1)] {
        db.store
            .record_movement(&adjust(sku, delta))
            .await
            .expect("movement");
    }
    let calls = s.calls("/api/v2/product/update_stock").await;
    let run = s.sync(db).await.expect("sync");
    assert_eq!(s.calls("/api/v2/product/update_stock").await - calls, 1);
    assert_eq!(
        (run.counts.pushed, run.counts.quarantined),
        (1, 1),
        "{run:?}"
    );
    let states = listing_states(db).await;
    let big = &states["SHAN-XANH-100G"];
    assert!(
        big.quarantined
            && big
                .last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("stock: ") && e.contains("out of the allowed range")),
        "{big:?}"
    );
    assert!(!states["SHAN-XANH-200G"].quarantined);
    let items = s.items().await;
    assert_eq!(model(&items, "SHAN-XANH-200G")["stock"], 40);
    assert_eq!(model(&items, "SHAN-XANH-100G")["stock"], 69);
    assert!(
        db.store
            .pending_tasks("shopee-demo")
            .await
            .expect("tasks")
            .is_empty(),
        "a refusal settles the work until the data changes"
    );

    db.store
        .record_movement(&adjust("SHAN-XANH-100G", -1_999_000))
        .await
        .expect("corrected");
    s.sync(db).await.expect("sync");
    let states = listing_states(db).await;
    let fixed = &states["SHAN-XANH-100G"];
    assert!(
        !fixed.quarantined && fixed.last_error.is_none() && fixed.status == "live",
        "{fixed:?}"
    );
    assert_eq!(model(&s.items().await, "SHAN-XANH-100G")["stock"], 1069);
}

/// The demo catalogue imported, `add_item` alone answering with `faults`,
/// and options whose lease is short enough for a test to outlive.
async fn imported_with_add_item_faulted(db: &TestDb, s: &Setup, faults: Faults) -> Options {
    db.import(&demo_catalogue()).await.expect("import");
    s.running.sandbox.kit().set_faults(Faults {
        only: Some("/api/v2/product/add_item".into()),
        ..faults
    });
    Options {
        lease: Duration::from_secs(3),
        ..Options::new("test")
    }
}

/// The pass dies mid-push: its future is dropped while twelve `add_item`
/// calls are in flight (the platform made each listing; no answer was read).
/// The channel stays leased to the dead pass until its lease runs out, its
/// work still pending; then the next pass takes the work up and converges
/// without creating any listing twice.
async fn a_pass_that_dies_mid_push_leaves_its_work_to_the_next_after_its_lease(db: &TestDb) {
    let s = setup(db).await;
    let options = imported_with_add_item_faulted(
        db,
        &s,
        Faults {
            timeout_rate: 1.0,
            ..Faults::default()
        },
    )
    .await;
    let channel = s.channel();
    let dying = sync_channel(db.store.as_ref(), &channel, &options);
    let made = async {
        while s.items().await.len() < 12 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        result = dying => panic!("the pass should still wait on its answers: {result:?}"),
        // The pass is dropped here, mid-call, as a crash would leave it.
        () = made => {}
    }
    s.running.sandbox.kit().set_faults(Faults::default());
    let states = listing_states(db).await;
    assert_eq!(states["MD-500G"].status, "creating");
    // Every task of the 26 SKUs in flight is still pending (the refusals the
    // pass recorded before it died may or may not be in).
    let pending = db.store.pending_tasks("shopee-demo").await.expect("tasks");
    let in_flight: Vec<&String> = states
        .iter()
        .filter(|(_, state)| state.status == "creating")
        .map(|(sku, _)| sku)
        .collect();
    assert_eq!(in_flight.len(), 26);
    for sku in in_flight {
        assert_eq!(
            pending.iter().filter(|t| &t.sku == sku).count(),
            3,
            "no work of the dead pass is lost: {sku}"
        );
    }

    // Until its lease runs out (on the database's clock), the channel is the dead pass's.
    let until = match sync_channel(db.store.as_ref(), &s.channel(), &options).await {
        Err(SyncError::Busy { channel, until }) => {
            assert_eq!(channel, "shopee-demo");
            until
        }
        other => panic!("expected the channel to be busy: {other:?}"),
    };
    let wait_out = |until: chrono::DateTime<chrono::Utc>| {
        let left = (until - chosync::clock::SystemClock.now())
            .to_std()
            .unwrap_or_default();
        assert!(left <= Duration::from_secs(3), "{left:?}");
        tokio::time::sleep(left + Duration::from_millis(50))
    };
    wait_out(until).await;
    // A renewal the dead pass sent just before it died may still land and
    // hold the channel one lease longer — never more.
    let next = match sync_channel(db.store.as_ref(), &s.channel(), &options).await {
        Err(SyncError::Busy { until: later, .. }) => {
            assert!(
                later <= until + chrono::Duration::seconds(3),
                "{later} after {until}"
            );
            wait_out(later).await;
            sync_channel(db.store.as_ref(), &s.channel(), &options).await
        }
        other => other,
    }
    .expect("the next pass");
    assert_eq!(next.counts.failed, 0, "{next:?}");
    assert_eq!(
        s.calls("/api/v2/product/add_item").await,
        12,
        "no listing is created twice"
    );
    let items = s.items().await;
    assert_eq!(items.len(), 12);
    assert!(items.iter().all(|i| i["status"] == "NORMAL"), "{items:?}");
    s.assert_converged(db).await;
    // The dead pass's run is marked interrupted by the pass that took over.
    assert_eq!(run_statuses(db).await, ["interrupted", "ok"]);
}

/// The pass's lease is taken from it mid-pass (as by another process after
/// a stall): it stops, its run is marked `failed` with the reason — not
/// `interrupted`, which is for a pass that died — and the next pass finishes
/// the work.
async fn a_pass_that_loses_its_lease_marks_its_run_failed_with_the_reason(db: &TestDb) {
    let s = setup(db).await;
    let options = imported_with_add_item_faulted(
        db,
        &s,
        Faults {
            latency_ms: 300,
            ..Faults::default()
        },
    )
    .await;
    let channel = s.channel();
    let pass = sync_channel(db.store.as_ref(), &channel, &options);
    let steal = async {
        while s.calls("/api/v2/product/add_item").await == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        execute(db, "DELETE FROM channel_leases").await;
    };
    let (result, ()) = tokio::join!(pass, steal);
    match result {
        Err(SyncError::Store(chosync::store::StoreError::LeaseLost(channel))) => {
            assert_eq!(channel, "shopee-demo");
        }
        other => panic!("expected the lease to be lost: {other:?}"),
    }
    let runs = run_rows(db).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].0, "failed");
    assert!(
        runs[0]
            .1
            .as_deref()
            .is_some_and(|e| e.contains("lease on channel shopee-demo was lost")),
        "{runs:?}"
    );

    s.running.sandbox.kit().set_faults(Faults::default());
    let next = s.sync(db).await.expect("the next pass");
    assert_eq!(next.counts.failed, 0, "{next:?}");
    s.assert_converged(db).await;
    assert_eq!(run_statuses(db).await, ["failed", "ok"]);
}

/// A product made inactive in the catalogue is taken off sale (kept, not
/// deleted) and put back on sale once active again; an inactive product that
/// was never listed is not created. Delisting many at once meets the guard.
async fn an_inactive_product_is_delisted_and_relisted_when_active_again(db: &TestDb) {
    use chosync::sync::{Kind, SyncError, plan_channel};
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    let sync = || async { s.sync(db).await };
    let item = |items: &[Value], sku: &str| {
        items
            .iter()
            .find(|i| i["item_sku"] == sku)
            .cloned()
            .unwrap_or_else(|| panic!("no item {sku}"))
    };
    let leaf = [("LKT-200G", "inactive")];
    let (_d, path) = status_sheet(&leaf);
    db.import(&path).await.expect("inactive");
    let first = sync().await.expect("first sync");
    let items = s.items().await;
    assert_eq!(items.len(), 11, "the inactive product is not created");
    assert!(items.iter().all(|i| i["item_sku"] != "LA-KHOI"));
    assert!(first.counts.skipped >= 1, "{first:?}");
    let leaf_state = listing_states(db).await.remove("LKT-200G");
    assert!(
        leaf_state.as_ref().is_none_or(|s| s.listing_id.is_none()),
        "{leaf_state:?}"
    );

    let noodles = [("MD-500G", "inactive"), ("MD-1KG", "inactive")];
    let (_d, path) = status_sheet(&noodles);
    db.import(&path).await.expect("inactive");
    let plan = plan_channel(
        db.store.as_ref(),
        &s.rig.settings,
        &chosync::inventory::allocation::SHARED,
        &s.rig.client,
        Kind::All,
    )
    .await
    .expect("plan");
    let delists: Vec<&str> = plan.delists.iter().map(|l| l.product_id.as_str()).collect();
    assert_eq!(delists, ["MIEN-DONG"], "{plan:?}");
    assert_eq!((plan.delisted, plan.live, plan.min_calls), (2, 25, 1));
    assert!(plan.content_updates.is_empty() && plan.guard().is_none());
    let updates = s.calls("/api/v2/product/update_item").await;
    sync().await.expect("delist");
    assert_eq!(s.calls("/api/v2/product/update_item").await - updates, 1);
    assert_eq!(item(&s.items().await, "MIEN-DONG")["status"], "UNLIST");
    let states = listing_states(db).await;
    assert_eq!(
        (
            states["MD-500G"].status.as_str(),
            states["MD-1KG"].status.as_str()
        ),
        ("delisted", "delisted")
    );
    let again = sync().await.expect("again");
    assert_eq!(again.counts.calls, 0, "{again:?}");

    // Active again: back on sale; the leaf is created now.
    let back = [
        ("MD-500G", "active"),
        ("MD-1KG", "active"),
        ("LKT-200G", "active"),
    ];
    let (_d, path) = status_sheet(&back);
    db.import(&path).await.expect("active");
    sync().await.expect("relist");
    let items = s.items().await;
    assert_eq!(item(&items, "MIEN-DONG")["status"], "NORMAL");
    assert_eq!(item(&items, "LKT-200G")["status"], "NORMAL");
    assert_eq!(listing_states(db).await["MD-500G"].status, "live");

    // Seven of 26 live SKUs taken off sale at once: more than the guard allows.
    let many = [("SHAN-XANH-100G", "inactive"), ("MO-250ML", "inactive")];
    let (_d, path) = status_sheet(&many);
    db.import(&path).await.expect("inactive");
    // A stock pass delists nothing, so the guard lets it through.
    let stock = Options {
        kind: Kind::Stock,
        ..Options::new("test")
    };
    sync_channel(db.store.as_ref(), &s.channel(), &stock)
        .await
        .expect("a stock pass is not refused");
    let refused = sync().await.expect_err("refused");
    let SyncError::Refused(reason) = refused else {
        panic!("not refused: {refused}");
    };
    assert!(reason.contains("delist 7 of 26 live listings"), "{reason}");
    assert_eq!(item(&s.items().await, "TRA-SHAN")["status"], "NORMAL");
    let forced = Options {
        force: true,
        ..Options::new("test")
    };
    sync_channel(db.store.as_ref(), &s.channel(), &forced)
        .await
        .expect("forced");
    let items = s.items().await;
    assert_eq!(item(&items, "TRA-SHAN")["status"], "UNLIST");
    assert_eq!(item(&items, "MAT-ONG")["status"], "UNLIST");
}

/// A SKU added to a listed product joins its listing on the platform (a new
/// option on its tier) with its price and stock after the channel's rules;
/// the next pass has nothing to do.
async fn a_sku_added_to_a_listed_product_joins_its_listing(db: &TestDb) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    s.sync(db).await.expect("first sync");
    let (_d, bigger) = file(
        "bigger.csv",
        "product_id,name,sku,option1_name,option1_value,price,stock\n\
         MIEN-DONG,Miến dong Côn Minh,MD-2KG,Khối lượng,2 kg,230000,40\n",
    );
    db.import(&bigger).await.expect("new size");
    let added = s.calls("/api/v2/product/add_item").await;
    let run = s.sync(db).await.expect("sync");
    assert_eq!(run.counts.failed + run.counts.quarantined, 0, "{run:?}");
    assert_eq!(
        s.calls("/api/v2/product/add_item").await,
        added,
        "no new listing"
    );
    assert_eq!(s.calls("/api/v2/product/add_model").await, 1);
    let items = s.items().await;
    let noodles = items
        .iter()
        .find(|i| i["item_sku"] == "MIEN-DONG")
        .expect("item");
    assert_eq!(noodles["models"].as_array().map(Vec::len), Some(3));
    let new = model(&items, "MD-2KG");
    // 230,000 + 5 %, rounded up to 1,000; 40 less the buffer of 1.
    assert_eq!(
        (new["price"].as_i64(), new["stock"].as_i64()),
        (Some(242_000), Some(39))
    );
    let state = &listing_states(db).await["MD-2KG"];
    assert_eq!(state.status, "live", "{state:?}");
    assert!(state.variant_id.is_some(), "{state:?}");
    let again = s.sync(db).await.expect("again");
    assert_eq!(again.counts.calls, 0, "{again:?}");
    s.assert_converged(db).await;
}

/// The channels' share of partitioned stock: every SKU partitioned, with
/// `lazada-other` (weight 1, no rule) listing MD-500G and showing `shown`.
async fn partitioned_beside(
    db: &TestDb,
    s: &Setup,
    shown: i64,
) -> chosync::inventory::allocation::Allocation {
    use chosync::inventory::allocation::{Allocation, AllocationSettings, Mode};
    use chosync::store::{BatchRecord, ChannelRegistration, ListingState};
    let channels: Vec<ChannelRegistration> = ["shopee-demo", "lazada-other"]
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
    let mut other = ListingState::new("MD-500G");
    other.listing_id = Some("L-1".into());
    other.variant_id = Some("V-1".into());
    other.status = "live".into();
    other.stock = Some(shown);
    let lease = Duration::from_secs(60);
    let store = db.store.as_ref();
    store
        .acquire_lease("lazada-other", "other", lease)
        .await
        .expect("lease");
    let run = store
        .start_run("lazada-other", "stock", "test")
        .await
        .expect("run");
    let batch = BatchRecord {
        states: vec![other],
        ..BatchRecord::default()
    };
    store
        .record_batch("lazada-other", "other", run, &batch)
        .await
        .expect("record");
    store
        .release_lease("lazada-other", "other")
        .await
        .expect("release");
    let mut allocation = Allocation {
        settings: AllocationSettings {
            mode: Mode::Partitioned,
            ..AllocationSettings::default()
        },
        ..Allocation::default()
    };
    allocation
        .channels
        .insert("shopee-demo".into(), (true, s.rig.settings.stock.clone()));
    allocation
        .channels
        .insert("lazada-other".into(), (true, Default::default()));
    allocation
}

async fn a_partitioned_sku_shows_its_share_and_a_raise_waits_for_the_room_others_leave(
    db: &TestDb,
) {
    let s = setup(db).await;
    db.import(&demo_catalogue()).await.expect("import");
    let allocation = partitioned_beside(db, &s, 100).await;
    let channel = Channel {
        allocation: &allocation,
        ..s.channel()
    };
    let options = Options::new("test");
    sync_channel(db.store.as_ref(), &channel, &options)
        .await
        .expect("sync");
    // 300 split 1:1 with lazada-other: 150, less Shopee's buffer of 1; the
    // listing was made with none, raised within the 200 lazada-other leaves.
    assert_eq!(model(&s.items().await, "MD-500G")["stock"], 149);
    let noodles = listing_states(db).await.remove("MD-500G").expect("state");
    assert_eq!((noodles.stock, noodles.stock_in_flight), (Some(149), None));
    // Alone on Shopee: all 150 less the buffer, as shared.
    assert_eq!(model(&s.items().await, "NH-100G")["stock"], 149);

    // lazada-other is set above its share; 100 more arrive: Shopee wants
    // 199 of 400 but only 150 are not on lazada-other.
    partitioned_beside(db, &s, 250).await;
    db.store
        .record_movement(&adjust("MD-500G", 100))
        .await
        .expect("restock");
    sync_channel(db.store.as_ref(), &channel, &options)
        .await
        .expect("sync");
    assert_eq!(model(&s.items().await, "MD-500G")["stock"], 150);
    let stock = |t: &&chosync::store::PushTask| {
        t.sku == "MD-500G" && t.aspect == chosync::store::Aspect::Stock
    };
    // Shopee's raise stays pending; lazada-other has work to come down.
    let waiting = db.store.pending_tasks("shopee-demo").await.expect("tasks");
    assert!(waiting.iter().any(|t| stock(&t)), "{waiting:?}");
    // It waits a while rather than make the daemon pass after pass for it.
    let now = chosync::clock::Clock::now(db.clock.as_ref());
    let held = waiting.iter().find(|t| stock(t)).map(|t| t.not_before);
    assert!(held > Some(now), "{waiting:?}");
    assert!(db.store.next_due("shopee-demo").await.expect("due") > Some(now));
    let other = db.store.pending_tasks("lazada-other").await.expect("tasks");
    let cause = other.iter().find(stock).map(|t| t.cause.as_str());
    assert_eq!(cause, Some("allocation: shopee-demo waits for room"));
}

on_both_engines!(
    a_sku_added_to_a_listed_product_joins_its_listing,
    an_inactive_product_is_delisted_and_relisted_when_active_again,
    a_first_sync_lists_the_catalogue_and_a_second_makes_no_call,
    one_price_change_is_one_call_and_a_burst_of_stock_changes_one_push,
    an_unmapped_category_quarantines_its_products_only,
    a_create_cut_off_after_the_platform_made_it_is_adopted_not_repeated,
    fixing_a_refused_product_lists_it_and_a_moved_sku_is_refused,
    the_blast_radius_guard_refuses_a_mass_zeroing_and_force_applies_it,
    a_refused_sku_in_a_batch_is_quarantined_alone_until_corrected,
    a_pass_that_dies_mid_push_leaves_its_work_to_the_next_after_its_lease,
    a_pass_that_loses_its_lease_marks_its_run_failed_with_the_reason,
    a_partitioned_sku_shows_its_share_and_a_raise_waits_for_the_room_others_leave,
);
