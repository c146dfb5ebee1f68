//! Order propagation: two Shopee and two Lazada sandboxes in process (four
//! channels), a generated catalogue listed on all four, the daemon's own
//! loop running (`daemon::run`), and buyers placing and cancelling orders at
//! random channels. Measured: how long an order takes, from its creation in
//! its sandbox, until every other sandbox shows the new stock; calls per
//! order per channel; throttled calls; whether the ledger matches the orders
//! the sandboxes took. Then a burst of orders within one second, timed
//! until every channel is right and judged against the floor the platforms'
//! documented batch sizes and the channels' rates allow.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chosync_connector::sandbox::Stats;
use serde::Serialize;

use crate::buyers::shop::calls_between;
use crate::buyers::{Book, Latency, Sandbox, Shop, Simulator};
use crate::catalogue::import::{NoProgress, import_file};
use crate::clock::SystemClock;
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Options, sync_channels};

#[derive(Debug, Serialize)]
pub struct OrdersBench {
    pub products: u64,
    pub skus: u64,
    pub pushes: bool,
    pub poll_seconds: u32,
    pub buyers: Buyers,
    /// From an order's creation in its sandbox until every other channel
    /// shows the stock it leaves.
    pub propagation: Latency,
    pub channels: Vec<ChannelCalls>,
    pub throttled: u64,
    /// on_hand and reserved of every SKU equal what the orders the
    /// sandboxes took imply, and every channel shows what it should.
    pub ledger_exact: bool,
    pub ledger_mismatches: Vec<String>,
    pub burst: Burst,
    pub peak_rss_mib: Option<f64>,
    pub targets: Targets,
}

#[derive(Debug, Serialize)]
pub struct Buyers {
    pub seconds: f64,
    pub orders_per_second: f64,
    pub placed: u64,
    /// Orders the sandboxes refused (a SKU sold out there).
    pub refused: u64,
    pub cancelled: u64,
}

#[derive(Debug, Serialize)]
pub struct ChannelCalls {
    pub channel: String,
    pub calls: u64,
    pub calls_per_order: f64,
    pub calls_by_endpoint: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Burst {
    pub orders: u64,
    /// Every channel showed every SKU's new stock before the deadline (if
    /// not, `seconds` is the deadline, not a drain time).
    pub converged: bool,
    pub seconds: f64,
    /// The fewest calls the platforms' documented batches allow, at the
    /// rate chosync runs each channel at (and at least the second the
    /// orders take to arrive): no drain can be quicker.
    pub floor_seconds: f64,
    pub ratio_to_floor: f64,
    pub reckoning: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Targets {
    pub p99_ms_with_pushes: f64,
    pub p99_ms_without_pushes: String,
    pub throttled: u64,
    pub ledger_exact: bool,
    pub burst_ratio_to_floor: f64,
}

/// What the bench is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub products: u64,
    pub seconds: u64,
    pub orders_per_second: f64,
    pub burst: u64,
    pub pushes: bool,
    pub poll_seconds: u32,
    pub seed: u64,
}

pub async fn run(plan: Plan) -> anyhow::Result<OrdersBench> {
    let dir = tempfile::tempdir()?;
    let dir = dir.path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listen = listener.local_addr()?;
    let shops = start_shops().await?;
    let settings = write_config(dir, &shops, listen, plan)?;
    let image = dir.join("tinh-dau-que.png");
    std::fs::write(
        &image,
        include_bytes!("../../config/demo/images/td-que.png").as_slice(),
    )?;
    let catalogue = dir.join("catalogue.csv");
    super::sync::write_catalogue(&catalogue, plan.products, &image)?;
    let store = crate::store::open(&settings.database.url, Arc::new(SystemClock)).await?;
    store.register_channels(&settings.registrations()).await?;
    for shop in &shops {
        shop.authorize(&settings, &store).await?;
    }
    let imported = import_file(store.as_ref(), &catalogue, false, Arc::new(NoProgress)).await?;
    eprintln!(
        "listing {} SKUs on {} channels…",
        imported.rows,
        shops.len()
    );
    let passes = sync_channels(
        &settings,
        &store,
        None,
        false,
        &Options::new("bench"),
        |_| Arc::new(crate::sync::Quiet),
    )
    .await?;
    for pass in passes {
        pass.result
            .with_context(|| format!("listing on {}", pass.channel))?;
    }
    let mut book = Book::default();
    for row in store.stock(None).await? {
        book.on_hand.insert(row.sku.clone(), row.on_hand);
    }
    // The sandboxes refuse what they cannot sell: the bench asks regardless.
    let mut buyers = Simulator::new(plan.seed, book, false);
    if plan.pushes {
        for shop in &shops {
            shop.push_to(&settings, listen)?;
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = {
        let (settings, store) = (settings.clone(), store.clone());
        tokio::spawn(async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            let url = settings.database.url.clone();
            crate::daemon::run(&settings, store, &url, listener, stop).await
        })
    };
    // The daemon's first poll and pushes of nothing settle first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before: Vec<Stats> = shops.iter().map(Shop::stats).collect();
    eprintln!(
        "buyers: {:.1} orders/s for {} s, pushes {}…",
        plan.orders_per_second,
        plan.seconds,
        if plan.pushes { "on" } else { "off" }
    );
    let started = Instant::now();
    let buying = tokio::time::sleep(Duration::from_secs(plan.seconds));
    buyers
        .buy_until(&shops, plan.orders_per_second.max(0.1), buying)
        .await;
    let buy_seconds = started.elapsed().as_secs_f64();
    // Stragglers: a poll interval and a little more to arrive.
    let wait = Duration::from_secs(u64::from(plan.poll_seconds) + 5);
    buyers
        .wait_for_stragglers(&shops, Instant::now() + wait)
        .await;
    let propagation = buyers.propagation();
    let after: Vec<Stats> = shops.iter().map(Shop::stats).collect();
    let channels = shops
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(shop, (before, after))| {
            let calls_by_endpoint = calls_between(before, after);
            let calls: u64 = calls_by_endpoint.values().sum();
            ChannelCalls {
                channel: shop.id.clone(),
                calls,
                calls_per_order: calls as f64 / buyers.placed.max(1) as f64,
                calls_by_endpoint,
            }
        })
        .collect();
    eprintln!("burst: {} orders within one second…", plan.burst);
    let burst = burst(&shops, &mut buyers, plan).await;
    let throttled = shops.iter().map(|s| s.stats().throttled).sum::<u64>();
    let mismatches = ledger(store.as_ref(), &shops, &buyers.book).await?;
    let _ = stop_tx.send(());
    daemon.await??;
    shops.iter().for_each(Shop::stop);
    Ok(OrdersBench {
        products: plan.products,
        skus: buyers.skus.len() as u64,
        pushes: plan.pushes,
        poll_seconds: plan.poll_seconds,
        buyers: Buyers {
            seconds: buy_seconds,
            orders_per_second: plan.orders_per_second,
            placed: buyers.placed,
            refused: buyers.refused,
            cancelled: buyers.cancelled,
        },
        propagation,
        channels,
        throttled,
        ledger_exact: mismatches.is_empty(),
        ledger_mismatches: mismatches.into_iter().take(20).collect(),
        burst: burst?,
        peak_rss_mib: super::peak_rss_mib(),
        targets: Targets {
            p99_ms_with_pushes: 1_000.0,
            p99_ms_without_pushes: "poll interval + 1,000".into(),
            throttled: 0,
            ledger_exact: true,
            burst_ratio_to_floor: 1.2,
        },
    })
}

/// `burst` orders within one second on distinct SKUs at random channels,
/// timed until every channel shows every SKU's new stock.
async fn burst(shops: &[Shop], buyers: &mut Simulator, plan: Plan) -> anyhow::Result<Burst> {
    let Simulator {
        rng, book, skus, ..
    } = buyers;
    let mut chosen: Vec<&String> = skus.iter().collect();
    rng.shuffle(&mut chosen);
    let started = Instant::now();
    let spacing = Duration::from_secs_f64(1.0 / plan.burst.max(1) as f64);
    let mut orders_on: Vec<u64> = vec![0; shops.len()];
    let mut touched: Vec<String> = Vec::new();
    for sku in chosen.into_iter().take(plan.burst as usize) {
        let origin = rng.usize(..shops.len());
        if let Ok(order) = shops[origin].place(sku, 1) {
            orders_on[origin] += 1;
            *book.held.entry(sku.clone()).or_default() += 1;
            book.live.push((origin, order, sku.clone(), 1));
            touched.push(sku.clone());
        }
        tokio::time::sleep(spacing).await;
    }
    let deadline = started + Duration::from_secs(120 + u64::from(plan.poll_seconds));
    let converged = loop {
        let right = touched.iter().all(|sku| {
            let sellable = book.sellable(sku);
            shops
                .iter()
                .all(|shop| shop.buyable(sku) == Some(shop.wanted(sellable)))
        });
        if right || Instant::now() >= deadline {
            break right;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    // The floor: per channel, the order reads (≤ 50 orders per call on
    // Shopee and Lazada; one detail call per order on Sendo and Voso, which
    // document no batch read) and the stock writes (Shopee: one call per
    // item, ≤ 50 models; Lazada and Voso: ≤ 50 SKUs per call across
    // products; Sendo: ≤ 50 products per field-mask call) at the channel's
    // rates.
    let products: std::collections::BTreeSet<&str> = touched
        .iter()
        .filter_map(|sku| sku.split('-').next())
        .collect();
    let mut floor = 0.0f64;
    let mut reckoning = Vec::new();
    for (shop, orders) in shops.iter().zip(&orders_on) {
        let reads = orders.div_ceil(50);
        let seconds = match shop.sandbox {
            Sandbox::Shopee(_) => {
                let writes = products.len() as u64;
                let rate = shop.rates.get("shop").copied().unwrap_or(1.0);
                reckoning.push(format!(
                    "{}: {reads} order reads + {writes} update_stock (one per item) at {rate}/s",
                    shop.id
                ));
                (reads + writes) as f64 / rate
            }
            Sandbox::Lazada(_) => {
                let writes = (touched.len() as u64).div_ceil(50);
                let other = shop.rates.get("other").copied().unwrap_or(1.0);
                let inventory = shop.rates.get("inventory").copied().unwrap_or(1.0);
                reckoning.push(format!(
                    "{}: {reads} order reads at {other}/s, {writes} stock updates (≤ 50 SKUs) at {inventory}/s",
                    shop.id
                ));
                (reads as f64 / other).max(writes as f64 / inventory)
            }
            Sandbox::Sendo(_) | Sandbox::Voso(_) => {
                let reads = *orders;
                let writes = match shop.sandbox {
                    Sandbox::Sendo(_) => products.len() as u64,
                    _ => touched.len() as u64,
                }
                .div_ceil(50);
                let rate = shop.rates.get("shop").copied().unwrap_or(1.0);
                reckoning.push(format!(
                    "{}: {reads} order details + {writes} stock updates (≤ 50 per call) at {rate}/s",
                    shop.id
                ));
                (reads + writes) as f64 / rate
            }
            // A sheet is written on disk, no platform quota to wait for.
            Sandbox::Sheet(_) => 0.0,
        };
        floor = floor.max(seconds);
    }
    // The orders themselves arrive over a second; the writes may go out
    // meanwhile. (Without pushes the poll's wait comes on top: the floor
    // stays the calls' own, and the ratio shows the wait.)
    let floor = floor.max(1.0);
    Ok(Burst {
        orders: touched.len() as u64,
        converged,
        seconds,
        floor_seconds: floor,
        ratio_to_floor: seconds / floor,
        reckoning,
    })
}

/// Waits for every channel to show every SKU's wanted stock, then compares
/// the ledger with the orders the sandboxes took.
async fn ledger(store: &dyn Store, shops: &[Shop], book: &Book) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut mismatches;
    loop {
        mismatches = Vec::new();
        for row in store.stock(None).await? {
            let held = book.held.get(&row.sku).copied().unwrap_or(0);
            let on_hand = book.on_hand.get(&row.sku).copied().unwrap_or(0);
            if (row.on_hand, row.reserved) != (on_hand, held) {
                mismatches.push(format!(
                    "{}: ledger on hand {} reserved {}, orders imply {on_hand} and {held}",
                    row.sku, row.on_hand, row.reserved
                ));
            }
            for shop in shops {
                let wanted = shop.wanted(on_hand - held);
                let shown = shop.buyable(&row.sku);
                if shown != Some(wanted) {
                    mismatches.push(format!(
                        "{} shows {shown:?} of {}, wanted {wanted}",
                        shop.id, row.sku
                    ));
                }
            }
        }
        if mismatches.is_empty() || Instant::now() >= deadline {
            return Ok(mismatches);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Where the bench says its image files are published (Sendo and Voso take
/// URLs; the sandboxes never fetch them).
const IMAGE_BASE_URL: &str = "https://anh.htx-backan.example/images";

async fn start_shops() -> anyhow::Result<Vec<Shop>> {
    let mut shops = Vec::new();
    for (n, seed) in [(1, 11), (2, 12)] {
        let config = chosync_shopee::sandbox::SandboxConfig {
            seed,
            ..Default::default()
        };
        let running = chosync_shopee::sandbox::ShopeeSandbox::start(config, 0).await?;
        shops.push(Shop::shopee(&format!("shopee-{n}"), running, 1));
    }
    for (n, seed) in [(1, 21), (2, 22)] {
        // Lazada's quality check holds a new product off sale for a while;
        // a second here, so buyers can start soon after the listing.
        let config = chosync_lazada::sandbox::SandboxConfig {
            seed,
            qc_delay: Duration::from_secs(1),
            ..Default::default()
        };
        let running = chosync_lazada::sandbox::LazadaSandbox::start(config, 0).await?;
        shops.push(Shop::lazada(&format!("lazada-{n}"), running, 2));
    }
    let sendo = chosync_sendo::sandbox::SandboxConfig {
        seed: 31,
        ..Default::default()
    };
    let running = chosync_sendo::sandbox::SendoSandbox::start(sendo, 0).await?;
    shops.push(Shop::sendo("sendo-1", running, 1));
    let voso = chosync_voso::sandbox::SandboxConfig {
        seed: 41,
        ..Default::default()
    };
    let running = chosync_voso::sandbox::VosoSandbox::start(voso, 0).await?;
    shops.push(Shop::voso("voso-1", running, 0));
    Ok(shops)
}

/// The bench's configuration: the four channels on their sandboxes, the
/// daemon on `listen`, secrets in files of the bench's temporary folder.
fn write_config(
    dir: &Path,
    shops: &[Shop],
    listen: std::net::SocketAddr,
    plan: Plan,
) -> anyhow::Result<Settings> {
    std::fs::create_dir_all(dir.join("mappings"))?;
    std::fs::write(
        dir.join("mappings/shopee.toml"),
        include_str!("../../config/mappings/shopee-demo.toml"),
    )?;
    std::fs::write(
        dir.join("mappings/lazada.toml"),
        include_str!("../../config/mappings/lazada-demo.toml"),
    )?;
    std::fs::write(
        dir.join("mappings/sendo.toml"),
        include_str!("../../config/mappings/sendo-demo.toml"),
    )?;
    std::fs::write(
        dir.join("mappings/voso.toml"),
        include_str!("../../config/mappings/voso-demo.toml"),
    )?;
    let mut config = format!(
        "[database]\nurl = \"sqlite://{}\"\n[secrets]\nkey_file = \"{}\"\n\
         [server]\nlisten = \"{listen}\"\n",
        dir.join("bench.db").display(),
        dir.join("bench.key").display(),
    );
    // The order poll on the plan's interval, a divisor of a minute.
    let schedule = format!(
        "schedule = {{ orders = \"*/{} * * * * *\" }}\n",
        plan.poll_seconds
    );
    for shop in shops {
        let secret = dir.join(format!("{}.secret", shop.id));
        let id = &shop.id;
        match &shop.sandbox {
            Sandbox::Shopee(r) => {
                std::fs::write(&secret, &r.credentials.partner_key)?;
                config.push_str(&format!(
                    "[[channels]]\nid = \"{id}\"\nplatform = \"shopee\"\nbase_url = \"{}\"\n\
                     partner_id = {}\npartner_key = {{ file = \"{}\" }}\nshop_id = {}\n\
                     callback_url = \"http://{listen}/webhooks/{id}\"\n\
                     mapping = \"mappings/shopee.toml\"\nstock = {{ buffer = {} }}\n",
                    r.base_url,
                    r.credentials.partner_id,
                    secret.display(),
                    r.credentials.shop_id,
                    shop.buffer
                ));
                config.push_str(&schedule);
            }
            Sandbox::Lazada(r) => {
                std::fs::write(&secret, &r.credentials.app_secret)?;
                config.push_str(&format!(
                    "[[channels]]\nid = \"{id}\"\nplatform = \"lazada\"\nbase_url = \"{}\"\n\
                     auth_url = \"{}\"\napp_key = \"{}\"\napp_secret = {{ file = \"{}\" }}\n\
                     mapping = \"mappings/lazada.toml\"\nstock = {{ buffer = {} }}\n",
                    r.base_url,
                    r.auth_url,
                    r.credentials.app_key,
                    secret.display(),
                    shop.buffer
                ));
                config.push_str(&schedule);
            }
            Sandbox::Sendo(r) => {
                let sandbox = r.sandbox.config();
                std::fs::write(&secret, &sandbox.secret_key)?;
                config.push_str(&format!(
                    "[[channels]]\nid = \"{id}\"\nplatform = \"sendo\"\nbase_url = \"{}\"\n\
                     shop_key = \"{}\"\nsecret_key = {{ file = \"{}\" }}\n\
                     image_base_url = \"{IMAGE_BASE_URL}\"\n\
                     mapping = \"mappings/sendo.toml\"\nstock = {{ buffer = {} }}\n",
                    r.base_url,
                    sandbox.shop_key,
                    secret.display(),
                    shop.buffer
                ));
                config.push_str(&schedule);
            }
            Sandbox::Voso(r) => {
                std::fs::write(&secret, r.sandbox.secret())?;
                config.push_str(&format!(
                    "[[channels]]\nid = \"{id}\"\nplatform = \"voso\"\nbase_url = \"{}\"\n\
                     app_key = \"{}\"\napp_secret = {{ file = \"{}\" }}\n\
                     image_base_url = \"{IMAGE_BASE_URL}\"\n\
                     mapping = \"mappings/voso.toml\"\nstock = {{ buffer = {} }}\n",
                    r.base_url,
                    r.sandbox.key(),
                    secret.display(),
                    shop.buffer
                ));
                config.push_str(&schedule);
            }
            Sandbox::Sheet(_) => anyhow::bail!("the bench runs no spreadsheet channel"),
        }
    }
    let path = dir.join("chosync.toml");
    std::fs::File::create(&path)?.write_all(config.as_bytes())?;
    Ok(Settings::load(Some(&path))?)
}
