//! Sync throughput: a generated catalogue pushed to in-process Shopee and
//! Lazada sandboxes at once, then a no-op sync and a change of 100 prices.
//! Rates (and Shopee's wait between `add_item` and its variations) are scaled
//! by the same factor on client and sandbox alike: time runs faster, the
//! ratio of wall time to the rate floor is what it would be at the defaults.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chosync_connector::http::HttpConfig;
use chosync_lazada::sandbox::LazadaSandbox;
use chosync_lazada::{Lazada, LazadaConfig};
use chosync_shopee::sandbox::ShopeeSandbox;
use chosync_shopee::{Shopee, ShopeeConfig};
use serde::Serialize;

use crate::catalogue::import::{NoProgress, import_file};
use crate::channels::ChannelSettings;
use crate::channels::client::ChannelClient;
use crate::channels::mapping::Mapping;
use crate::clock::SystemClock;
use crate::secrets::{EncryptedCredentials, SecretBox};
use crate::store::{self, ChannelRegistration, Store};
use crate::sync::{CallLog, Channel, Kind, Options, plan_channel, sync_channel};

#[derive(Debug, Serialize)]
pub struct SyncBench {
    pub products: u64,
    pub skus: u64,
    /// Client and sandbox rates were the platforms' defaults times this.
    pub rate_multiplier: u32,
    pub channels: Vec<ChannelResult>,
    pub peak_rss_mib: Option<f64>,
    pub targets: Targets,
}

#[derive(Debug, Serialize)]
pub struct Targets {
    pub max_ratio_to_floor: f64,
    pub throttled: u64,
    pub noop_write_calls: u64,
    pub peak_rss_mib: u64,
}

#[derive(Debug, Serialize)]
pub struct ChannelResult {
    pub channel: String,
    /// Calls per second allowed, per rate bucket, as used.
    pub rates: Vec<(String, u32)>,
    pub first_sync: PassResult,
    /// Write calls of a second sync straight after (target 0).
    pub noop_write_calls: u64,
    pub price_change: PriceChange,
}

#[derive(Debug, Serialize)]
pub struct PassResult {
    pub seconds: f64,
    pub calls: u64,
    pub write_calls: u64,
    pub calls_by_endpoint: std::collections::BTreeMap<String, u64>,
    /// The least time those calls can take at the allowed rates.
    pub floor_seconds: f64,
    pub ratio_to_floor: f64,
    pub throttled: u64,
    pub pushed: i64,
    pub quarantined: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize)]
pub struct PriceChange {
    pub skus_changed: u64,
    pub calls: u64,
    /// The fewest calls the platform's batch limits allow (from `plan`).
    pub min_calls: usize,
}

/// One channel and its sandbox, for the run.
struct Rig {
    id: &'static str,
    settings: ChannelSettings,
    mapping: Mapping,
    client: ChannelClient,
    events: Arc<CallLog>,
    kit: Box<dyn Fn() -> chosync_connector::sandbox::Stats + Send + Sync>,
    /// (bucket, rate, which endpoint paths it covers: `None` = the rest).
    buckets: Vec<(String, u32, Option<&'static [&'static str]>)>,
    _sandbox: tokio::task::JoinHandle<()>,
}

const LAZADA_INVENTORY: &[&str] = &[
    "/product/stock/sellable/update",
    "/product/price_quantity/update",
];

pub async fn run(products: u64, multiplier: u32) -> anyhow::Result<SyncBench> {
    let multiplier = multiplier.max(1);
    let dir = tempfile::tempdir()?;
    let image = dir.path().join("tinh-dau-que.png");
    std::fs::write(
        &image,
        include_bytes!("../../config/demo/images/td-que.png").as_slice(),
    )?;
    let file = dir.path().join("catalogue.csv");
    write_catalogue(&file, products, &image)?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = store::open(&url, Arc::new(SystemClock)).await?;
    // A throwaway database in a temporary folder: a fixed key is enough.
    let credentials = Arc::new(EncryptedCredentials::new(
        store.clone(),
        SecretBox::from_key(&[0x42; 32]),
    ));
    let rigs = [
        shopee(multiplier, credentials.clone()).await?,
        lazada(multiplier, credentials.clone()).await?,
    ];
    let registrations: Vec<ChannelRegistration> = rigs
        .iter()
        .map(|r| ChannelRegistration {
            id: r.id.into(),
            enabled: true,
            config_hash: "bench".into(),
        })
        .collect();
    store.register_channels(&registrations).await?;
    let report = import_file(store.as_ref(), &file, false, Arc::new(NoProgress)).await?;
    let first =
        futures_util::future::try_join_all(rigs.iter().map(|rig| timed_pass(store.as_ref(), rig)))
            .await?;
    let mut channels = Vec::new();
    for (rig, first_sync) in rigs.iter().zip(first) {
        let before = (rig.kit)();
        sync_channel(store.as_ref(), &channel(rig), &Options::new("bench")).await?;
        let noop_write_calls = write_calls(&(rig.kit)()) - write_calls(&before);
        channels.push((rig, first_sync, noop_write_calls));
    }
    // 100 prices change: one import, then each channel's pass.
    let changed = write_price_change(dir.path(), 100)?;
    import_file(store.as_ref(), &changed, false, Arc::new(NoProgress)).await?;
    let mut results = Vec::new();
    for (rig, first_sync, noop_write_calls) in channels {
        let plan = plan_channel(store.as_ref(), &rig.settings, &rig.client, Kind::All).await?;
        let before = (rig.kit)();
        sync_channel(store.as_ref(), &channel(rig), &Options::new("bench")).await?;
        let calls = total(&(rig.kit)()) - total(&before);
        results.push(ChannelResult {
            channel: rig.id.into(),
            rates: rig
                .buckets
                .iter()
                .map(|(b, r, _)| (b.clone(), *r))
                .collect(),
            first_sync,
            noop_write_calls,
            price_change: PriceChange {
                skus_changed: plan.prices.len() as u64,
                calls,
                min_calls: plan.min_calls,
            },
        });
    }
    Ok(SyncBench {
        products,
        skus: report.rows,
        rate_multiplier: multiplier,
        channels: results,
        peak_rss_mib: super::peak_rss_mib(),
        targets: Targets {
            max_ratio_to_floor: 1.10,
            throttled: 0,
            noop_write_calls: 0,
            peak_rss_mib: 300,
        },
    })
}

fn channel(rig: &Rig) -> Channel<'_> {
    Channel {
        settings: &rig.settings,
        mapping: &rig.mapping,
        client: &rig.client,
        events: rig.events.clone(),
    }
}

async fn timed_pass(store: &dyn Store, rig: &Rig) -> anyhow::Result<PassResult> {
    let before = (rig.kit)();
    let started = Instant::now();
    let summary = sync_channel(store, &channel(rig), &Options::new("bench"))
        .await
        .with_context(|| format!("first sync of {}", rig.id))?;
    let seconds = started.elapsed().as_secs_f64();
    let after = (rig.kit)();
    let calls_by_endpoint: std::collections::BTreeMap<String, u64> = after
        .calls
        .iter()
        .map(|(path, n)| {
            (
                path.clone(),
                n - before.calls.get(path).copied().unwrap_or(0),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    // The busiest bucket sets the floor.
    let floor_seconds = rig
        .buckets
        .iter()
        .map(|(_, rate, paths)| {
            let in_bucket: u64 = calls_by_endpoint
                .iter()
                .filter(|(path, _)| match paths {
                    Some(paths) => paths.contains(&path.as_str()),
                    None => !rig
                        .buckets
                        .iter()
                        .any(|(_, _, p)| p.is_some_and(|p| p.contains(&path.as_str()))),
                })
                .map(|(_, n)| n)
                .sum();
            in_bucket as f64 / f64::from(*rate)
        })
        .fold(0.0, f64::max);
    Ok(PassResult {
        seconds,
        calls: calls_by_endpoint.values().sum(),
        write_calls: write_calls(&after) - write_calls(&before),
        calls_by_endpoint,
        floor_seconds,
        ratio_to_floor: if floor_seconds > 0.0 {
            seconds / floor_seconds
        } else {
            0.0
        },
        throttled: after.throttled - before.throttled,
        pushed: summary.counts.pushed,
        quarantined: summary.counts.quarantined,
        failed: summary.counts.failed,
    })
}

fn total(stats: &chosync_connector::sandbox::Stats) -> u64 {
    stats.calls.values().sum()
}

/// Calls that change something: every path but reads (`get`) and tokens.
fn write_calls(stats: &chosync_connector::sandbox::Stats) -> u64 {
    stats
        .calls
        .iter()
        .filter(|(path, _)| !path.contains("get") && !path.contains("/auth/"))
        .map(|(_, n)| n)
        .sum()
}

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn settings(text: &str) -> anyhow::Result<ChannelSettings> {
    use figment::providers::{Format, Toml};
    Ok(figment::Figment::from(Toml::string(text)).extract()?)
}

async fn shopee(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    let shop_rate = 10 * multiplier;
    let tier_wait = chosync_shopee::TIER_WAIT / multiplier;
    let running = ShopeeSandbox::start(
        chosync_shopee::sandbox::SandboxConfig {
            rate: rate(shop_rate),
            tier_wait,
            ..Default::default()
        },
        0,
    )
    .await?;
    let events = Arc::new(CallLog::default());
    let config = ShopeeConfig {
        channel: "shopee-bench".into(),
        base_url: running.base_url.clone(),
        partner_id: running.credentials.partner_id,
        partner_key: running.credentials.partner_key.clone().into(),
        shop_id: running.credentials.shop_id,
        callback_url: None,
        limits: ShopeeConfig::default_limits().with_rate("shop", rate(shop_rate)),
        http: HttpConfig::default(),
        tier_wait,
    };
    let shopee = Shopee::new(config, credentials, events.clone(), Arc::new(SystemClock))?;
    shopee.authorize(&running.credentials.code).await?;
    events.take(0);
    let sandbox = running.sandbox.clone();
    Ok(Rig {
        id: "shopee-bench",
        settings: settings(&format!(
            "id = \"shopee-bench\"\nplatform = \"shopee\"\nbase_url = \"{}\"\npartner_id = {}\nshop_id = {}\n\
             price = {{ markup_percent = 5, round_to = 1000, rounding = \"up\" }}\nstock = {{ buffer = 1 }}\n",
            running.base_url, running.credentials.partner_id, running.credentials.shop_id
        ))?,
        mapping: crate::channels::mapping::parse(include_str!(
            "../../config/mappings/shopee-demo.toml"
        ))
        .map_err(|e| anyhow::anyhow!(e))?,
        client: ChannelClient::Shopee(shopee),
        events,
        kit: Box::new(move || sandbox.kit().stats()),
        buckets: vec![("shop".into(), shop_rate, None)],
        _sandbox: running.task,
    })
}

async fn lazada(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    let (inventory, other) = (50 * multiplier, 10 * multiplier);
    let running = LazadaSandbox::start(
        chosync_lazada::sandbox::SandboxConfig {
            inventory_rate: rate(inventory),
            other_rate: rate(other),
            ..Default::default()
        },
        0,
    )
    .await?;
    let events = Arc::new(CallLog::default());
    let config = LazadaConfig {
        channel: "lazada-bench".into(),
        base_url: running.base_url.clone(),
        auth_url: running.auth_url.clone(),
        app_key: running.credentials.app_key.clone(),
        app_secret: running.credentials.app_secret.clone().into(),
        limits: LazadaConfig::default_limits()
            .with_rate("inventory", rate(inventory))
            .with_rate("other", rate(other)),
        http: HttpConfig::default(),
    };
    let lazada = Lazada::new(config, credentials, events.clone(), Arc::new(SystemClock))?;
    lazada.authorize(&running.credentials.code).await?;
    events.take(0);
    let sandbox = running.sandbox.clone();
    Ok(Rig {
        id: "lazada-bench",
        settings: settings(&format!(
            "id = \"lazada-bench\"\nplatform = \"lazada\"\nbase_url = \"{}\"\nauth_url = \"{}\"\napp_key = \"{}\"\n\
             price = {{ markup_percent = 3, round_to = 1000, rounding = \"nearest\" }}\nstock = {{ buffer = 2 }}\n",
            running.base_url, running.auth_url, running.credentials.app_key
        ))?,
        mapping: crate::channels::mapping::parse(include_str!(
            "../../config/mappings/lazada-demo.toml"
        ))
        .map_err(|e| anyhow::anyhow!(e))?,
        client: ChannelClient::Lazada(lazada),
        events,
        kit: Box::new(move || sandbox.kit().stats()),
        buckets: vec![
            ("inventory".into(), inventory, Some(LAZADA_INVENTORY)),
            ("other".into(), other, None),
        ],
        _sandbox: running.task,
    })
}

/// `products` × 5 sizes of essential oil, one local image shared by all.
fn write_catalogue(path: &Path, products: u64, image: &Path) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "product_id,name,description,category,brand,sku,option1_name,option1_value,price,stock,weight_g,length_cm,width_cm,height_cm,images,origin,status"
    )?;
    let sizes = ["10 ml", "20 ml", "30 ml", "50 ml", "100 ml"];
    for product in 0..products {
        for (size, label) in sizes.iter().enumerate() {
            writeln!(
                out,
                "P{product:05},Tinh dầu quế Bắc Kạn lô {product},\"Tinh dầu quế nguyên chất chưng cất từ vỏ quế rừng Bắc Kạn, lô {product}.\",Sức khỏe > Tinh dầu,HTX Tinh dầu Ba Bể,P{product:05}-{size},Dung tích,{label},{},{},{},5,5,{},{},\"Ba Bể, Bắc Kạn\",active",
                price(product, size),
                10 + (product * 7 + size as u64) % 200,
                40 + 30 * size,
                8 + size,
                image.display(),
            )?;
        }
    }
    out.flush()
}

fn price(product: u64, size: usize) -> u64 {
    60_000 + 20_000 * size as u64 + product % 9 * 1_000
}

/// The first `n` SKUs' prices up by 2,000 VND (product and SKU columns only).
fn write_price_change(dir: &Path, n: u64) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("prices.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "product_id,name,sku,price")?;
    for i in 0..n {
        let (product, size) = (i / 5, (i % 5) as usize);
        writeln!(
            out,
            "P{product:05},Tinh dầu quế Bắc Kạn lô {product},P{product:05}-{size},{}",
            price(product, size) + 2_000
        )?;
    }
    out.flush()?;
    Ok(path)
}
