//! Sync throughput: a generated catalogue pushed to in-process Shopee,
//! Lazada, Sendo and Voso sandboxes at once, then a pass with every task pending and nothing
//! changed, then a change of 100 prices. Rates (and Shopee's wait between
//! `add_item` and its variations) are scaled by the same factor on client and
//! sandbox alike: time runs faster, the ratio of wall time to the floor is
//! what it would be at the defaults.
//!
//! Each pass is judged against the **fewest calls the platform's documented
//! rules allow for the work** (`Minimum`), computed from the catalogue and the
//! platforms' limits — never from the calls the code made — and its floor is
//! that minimum at the rate chosync runs the channel at.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use chosync_connector::Limits;
use chosync_connector::http::HttpConfig;
use chosync_lazada::sandbox::LazadaSandbox;
use chosync_lazada::{Lazada, LazadaConfig};
use chosync_sendo::sandbox::SendoSandbox;
use chosync_sendo::{Sendo, SendoConfig};
use chosync_shopee::sandbox::ShopeeSandbox;
use chosync_shopee::{Shopee, ShopeeConfig};
use chosync_voso::sandbox::VosoSandbox;
use chosync_voso::{Voso, VosoConfig};
use serde::Serialize;

use crate::catalogue::import::{NoProgress, import_file};
use crate::channels::ChannelSettings;
use crate::channels::client::ChannelClient;
use crate::channels::mapping::Mapping;
use crate::clock::SystemClock;
use crate::secrets::{EncryptedCredentials, SecretBox};
use crate::store::{self, ChannelRegistration, Store};
use crate::sync::{CallLog, Channel, Options, sync_channel};

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
    /// Calls made ÷ the documented minimum.
    pub max_calls_to_minimum: f64,
    /// Wall time ÷ the floor (the minimum at the channel's rate).
    pub max_ratio_to_floor: f64,
    pub throttled: u64,
    pub noop_write_calls: u64,
    pub peak_rss_mib: u64,
}

#[derive(Debug, Serialize)]
pub struct ChannelResult {
    pub channel: String,
    /// Calls per second chosync allows itself, per rate bucket.
    pub rates: Vec<(String, u32)>,
    /// Calls per second the sandbox admits, per rate bucket (the platform's quota).
    pub quotas: Vec<(String, u32)>,
    pub first_sync: PassResult,
    /// A pass with every task pending (a new rule hash) that renders the same
    /// values: how many tasks it had, and its write calls (target 0).
    pub noop_pending_tasks: usize,
    pub noop_write_calls: u64,
    pub price_change: PassResult,
}

#[derive(Debug, Serialize)]
pub struct PassResult {
    pub seconds: f64,
    pub calls: u64,
    pub write_calls: u64,
    pub calls_by_endpoint: std::collections::BTreeMap<String, u64>,
    /// The fewest calls the platform's rules allow for this work.
    pub minimum: Minimum,
    pub calls_to_minimum: f64,
    /// The minimum at the rates chosync allows itself (a margin below the
    /// quota, and its limiter's spacing a tenth below that): no pass can be
    /// quicker. The target is judged against this.
    pub floor_seconds: f64,
    pub ratio_to_floor: f64,
    /// The minimum at the platform's quota, so that a margin set too wide
    /// shows too.
    pub floor_at_quota_seconds: f64,
    pub ratio_to_quota_floor: f64,
    pub throttled: u64,
    pub pushed: i64,
    pub quarantined: i64,
    pub failed: i64,
}

/// The fewest calls a platform's documented rules allow for some work, per
/// rate bucket, and how they are reckoned.
#[derive(Debug, Clone, Serialize)]
pub struct Minimum {
    pub calls: u64,
    pub by_bucket: Vec<(String, u64)>,
    pub reckoning: String,
}

impl Minimum {
    /// Seconds the calls take at least at `rates` (bucket → calls/s).
    fn floor(&self, rates: &[(String, f64)]) -> f64 {
        self.by_bucket
            .iter()
            .map(|(bucket, calls)| {
                let rate = rates
                    .iter()
                    .find(|(b, _)| b == bucket)
                    .map_or(1.0, |(_, r)| *r);
                *calls as f64 / rate.max(0.001)
            })
            .fold(0.0, f64::max)
    }
}

/// The work a pass has to do on a platform.
#[derive(Debug, Clone, Default)]
struct Work {
    /// New listings with variations, and with a single SKU.
    creates_with_variants: u64,
    creates_single: u64,
    /// Distinct images to host on the platform.
    images: u64,
    /// Value changes (stock or price) of listed SKUs: SKUs changed per listing.
    value_changes: Vec<u64>,
}

/// Shopee (`shared/marketplaces/shopee.md` §1.4): a listing with variations
/// is `add_item` then `init_tier_variation`, whose answer carries the model
/// ids (nothing is read back); the item goes up in its sale status at once
/// and cannot be bought before its models exist, so no `update_item` is
/// needed. A single-SKU listing is one `add_item`; each image one
/// `upload_image`; stock and price changes one call per item for ≤ 50
/// models. One quota for the shop. (`batch_add_item` is left out: an
/// asynchronous task whose result must be polled, and whose items still
/// need `init_tier_variation` one by one.)
fn shopee_minimum(work: &Work) -> Minimum {
    let creates = 2 * work.creates_with_variants + work.creates_single;
    let values: u64 = work.value_changes.iter().map(|n| n.div_ceil(50)).sum();
    let calls = creates + work.images + values;
    Minimum {
        calls,
        by_bucket: vec![("shop".into(), calls)],
        reckoning: format!(
            "{} listings with variations × (add_item + init_tier_variation) + {} single-SKU add_item + {} upload_image + {} value calls (one item, ≤ 50 models each)",
            work.creates_with_variants, work.creates_single, work.images, values
        ),
    }
}

/// Lazada (`shared/marketplaces/lazada.md` §2.4): one `/product/create` per
/// product carries its SKUs, prices and stock (its answer carries the ids);
/// each image one `/image/migrate`; stock and price changes ≤ 50 SKUs per
/// call across products, on the inventory quota.
fn lazada_minimum(work: &Work) -> Minimum {
    let creates = work.creates_with_variants + work.creates_single;
    let values = work.value_changes.iter().sum::<u64>().div_ceil(50);
    Minimum {
        calls: creates + work.images + values,
        by_bucket: vec![
            ("other".into(), creates + work.images),
            ("inventory".into(), values),
        ],
        reckoning: format!(
            "{creates} /product/create + {} image calls + {values} inventory calls (≤ 50 SKUs across products)",
            work.images
        ),
    }
}

/// Sendo (`shared/marketplaces/sendo.md` §3): one `POST /api/partner/product`
/// per product carries its variants, prices and stock, and answers only the
/// new id; one `GET …/product` reads its status (most categories sell at
/// once, others await approval, and a product awaiting approval refuses
/// updates). Images are URLs (no call). Stock and price changes go through
/// `update-by-field-mask`, ≤ 50 products per call. One quota for the shop.
fn sendo_minimum(work: &Work) -> Minimum {
    let creates = 2 * (work.creates_with_variants + work.creates_single);
    let values = (work.value_changes.len() as u64).div_ceil(50);
    Minimum {
        calls: creates + values,
        by_bucket: vec![("shop".into(), creates + values)],
        reckoning: format!(
            "{} products × (POST product + GET product for its status) + {values} field-mask calls (≤ 50 products)",
            creates / 2
        ),
    }
}

/// Voso (the assumed contract, `connectors/voso/README.md`): one `POST
/// /v1/products` per product answers the product with its variant ids;
/// images are URLs; stock and price ≤ 50 items per call across products.
fn voso_minimum(work: &Work) -> Minimum {
    let creates = work.creates_with_variants + work.creates_single;
    let values = work.value_changes.iter().sum::<u64>().div_ceil(50);
    Minimum {
        calls: creates + values,
        by_bucket: vec![("shop".into(), creates + values)],
        reckoning: format!(
            "{creates} POST /v1/products + {values} batch calls (≤ 50 items across products)"
        ),
    }
}

/// One channel and its sandbox, for the run.
struct Rig {
    id: &'static str,
    settings: ChannelSettings,
    mapping: Mapping,
    client: ChannelClient,
    events: Arc<CallLog>,
    kit: Box<dyn Fn() -> chosync_connector::sandbox::Stats + Send + Sync>,
    /// What chosync allows itself per bucket, and what the sandbox admits.
    rates: Vec<(String, u32)>,
    quotas: Vec<(String, u32)>,
    minimum: fn(&Work) -> Minimum,
    _sandbox: tokio::task::JoinHandle<()>,
}

/// Products whose prices the price-change pass moves (5 SKUs each).
const PRICE_CHANGES: u64 = 100;

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
        sendo(multiplier, credentials.clone()).await?,
        voso(multiplier, credentials.clone()).await?,
    ];
    register(store.as_ref(), &rigs, "bench").await?;
    let report = import_file(store.as_ref(), &file, false, Arc::new(NoProgress)).await?;
    let listing = Work {
        creates_with_variants: products,
        images: 1,
        ..Work::default()
    };
    let first = futures_util::future::try_join_all(
        rigs.iter()
            .map(|rig| timed_pass(store.as_ref(), rig, &listing)),
    )
    .await?;
    // Every task pending, nothing changed: a new rule hash that renders the
    // same values. Only the content hashes can tell that no call is needed.
    register(store.as_ref(), &rigs, "bench, same values").await?;
    let mut noop = Vec::new();
    for rig in &rigs {
        let pending = store.pending_tasks(rig.id).await?.len();
        let before = (rig.kit)();
        sync_channel(store.as_ref(), &channel(rig), &Options::new("bench")).await?;
        noop.push((pending, write_calls(&(rig.kit)()) - write_calls(&before)));
    }
    let changed = write_price_change(dir.path(), PRICE_CHANGES)?;
    import_file(store.as_ref(), &changed, false, Arc::new(NoProgress)).await?;
    let prices = Work {
        value_changes: vec![5; (PRICE_CHANGES / 5) as usize],
        ..Work::default()
    };
    let mut channels = Vec::new();
    for ((rig, first_sync), (noop_pending_tasks, noop_write_calls)) in
        rigs.iter().zip(first).zip(noop)
    {
        channels.push(ChannelResult {
            channel: rig.id.into(),
            rates: rig.rates.clone(),
            quotas: rig.quotas.clone(),
            first_sync,
            noop_pending_tasks,
            noop_write_calls,
            price_change: timed_pass(store.as_ref(), rig, &prices).await?,
        });
    }
    Ok(SyncBench {
        products,
        skus: report.rows,
        rate_multiplier: multiplier,
        channels,
        peak_rss_mib: super::peak_rss_mib(),
        targets: Targets {
            max_calls_to_minimum: 1.02,
            max_ratio_to_floor: 1.10,
            throttled: 0,
            noop_write_calls: 0,
            peak_rss_mib: 300,
        },
    })
}

/// Declares the rigs' channels with rules hashed as `hash`: a new hash
/// marks every SKU's work on them.
async fn register(store: &dyn Store, rigs: &[Rig], hash: &str) -> anyhow::Result<()> {
    let registrations: Vec<ChannelRegistration> = rigs
        .iter()
        .map(|r| ChannelRegistration {
            id: r.id.into(),
            enabled: true,
            config_hash: hash.into(),
        })
        .collect();
    Ok(store.register_channels(&registrations).await?)
}

fn channel(rig: &Rig) -> Channel<'_> {
    Channel {
        settings: &rig.settings,
        mapping: &rig.mapping,
        client: &rig.client,
        events: rig.events.clone(),
        allocation: &crate::inventory::allocation::SHARED,
    }
}

async fn timed_pass(store: &dyn Store, rig: &Rig, work: &Work) -> anyhow::Result<PassResult> {
    let before = (rig.kit)();
    let started = Instant::now();
    let summary = sync_channel(store, &channel(rig), &Options::new("bench"))
        .await
        .with_context(|| format!("sync of {}", rig.id))?;
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
    let calls: u64 = calls_by_endpoint.values().sum();
    let minimum = (rig.minimum)(work);
    // chosync's own rates as its limiter spaces them (a tenth below the
    // configured figure), and the platform's quotas as published.
    let effective: Vec<(String, f64)> = rig
        .rates
        .iter()
        .map(|(b, r)| (b.clone(), chosync_connector::limiter::effective_rate(*r)))
        .collect();
    let quotas: Vec<(String, f64)> = rig
        .quotas
        .iter()
        .map(|(b, r)| (b.clone(), f64::from(*r)))
        .collect();
    let floor_seconds = minimum.floor(&effective);
    let floor_at_quota_seconds = minimum.floor(&quotas);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    Ok(PassResult {
        seconds,
        calls,
        write_calls: write_calls(&after) - write_calls(&before),
        calls_by_endpoint,
        calls_to_minimum: ratio(calls as f64, minimum.calls as f64),
        minimum,
        floor_seconds,
        ratio_to_floor: ratio(seconds, floor_seconds),
        floor_at_quota_seconds,
        ratio_to_quota_floor: ratio(seconds, floor_at_quota_seconds),
        throttled: after.throttled - before.throttled,
        pushed: summary.counts.pushed,
        quarantined: summary.counts.quarantined,
        failed: summary.counts.failed,
    })
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

/// `limits` with every bucket's rate times `multiplier`.
fn scaled(mut limits: Limits, multiplier: u32) -> Limits {
    for bucket in &mut limits.buckets {
        bucket.per_second = rate(bucket.per_second.get() * multiplier);
    }
    limits
}

fn rates_of(limits: &Limits) -> Vec<(String, u32)> {
    limits
        .buckets
        .iter()
        .map(|b| (b.name.to_string(), b.per_second.get()))
        .collect()
}

fn rate(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn settings(text: &str) -> anyhow::Result<ChannelSettings> {
    use figment::providers::{Format, Toml};
    Ok(figment::Figment::from(Toml::string(text)).extract()?)
}

async fn shopee(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    // Shopee publishes no number: the sandbox's quota stands for it, and the
    // client keeps its default margin below.
    let shop_rate = 10 * multiplier;
    let limits = scaled(ShopeeConfig::default_limits(), multiplier);
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
        limits: limits.clone(),
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
        rates: rates_of(&limits),
        quotas: vec![("shop".into(), shop_rate)],
        minimum: shopee_minimum,
        _sandbox: running.task,
    })
}

async fn lazada(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    // Lazada's inventory quota is published (50/s per seller); "other" is the
    // sandbox's stand-in for its unpublished per-API limits.
    let (inventory, other) = (50 * multiplier, 10 * multiplier);
    let limits = scaled(LazadaConfig::default_limits(), multiplier);
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
        limits: limits.clone(),
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
        rates: rates_of(&limits),
        quotas: vec![("inventory".into(), inventory), ("other".into(), other)],
        minimum: lazada_minimum,
        _sandbox: running.task,
    })
}

/// Where the bench says its image files are published (Sendo and Voso take
/// URLs; the sandboxes never fetch them).
const IMAGE_BASE_URL: &str = "https://anh.htx-backan.example/images";

async fn sendo(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    // Sendo publishes no quota: the sandbox enforces the reference's
    // guess (2 calls/s per shop), and so does the client's default.
    let shop_rate = 2 * multiplier;
    let limits = scaled(SendoConfig::default_limits(), multiplier);
    let sandbox_config = chosync_sendo::sandbox::SandboxConfig {
        rate: rate(shop_rate),
        ..Default::default()
    };
    let (shop_key, secret_key) = (
        sandbox_config.shop_key.clone(),
        sandbox_config.secret_key.clone(),
    );
    let running = SendoSandbox::start(sandbox_config, 0).await?;
    let events = Arc::new(CallLog::default());
    let config = SendoConfig {
        channel: "sendo-bench".into(),
        base_url: running.base_url.clone(),
        shop_key: shop_key.clone(),
        secret_key: secret_key.into(),
        limits: limits.clone(),
        http: HttpConfig::default(),
    };
    let sendo = Sendo::new(config, credentials, events.clone(), Arc::new(SystemClock))?;
    sendo.sign_in().await?;
    events.take(0);
    let sandbox = running.sandbox.clone();
    Ok(Rig {
        id: "sendo-bench",
        settings: settings(&format!(
            "id = \"sendo-bench\"\nplatform = \"sendo\"\nbase_url = \"{}\"\nshop_key = \"{shop_key}\"\n\
             image_base_url = \"{IMAGE_BASE_URL}\"\n\
             price = {{ markup_percent = 3, round_to = 1000, rounding = \"up\" }}\nstock = {{ buffer = 1 }}\n",
            running.base_url
        ))?,
        mapping: crate::channels::mapping::parse(include_str!(
            "../../config/mappings/sendo-demo.toml"
        ))
        .map_err(|e| anyhow::anyhow!(e))?,
        client: ChannelClient::Sendo(sendo),
        events,
        kit: Box::new(move || sandbox.kit().stats()),
        rates: rates_of(&limits),
        quotas: vec![("shop".into(), shop_rate)],
        minimum: sendo_minimum,
        _sandbox: running.task,
    })
}

async fn voso(multiplier: u32, credentials: Arc<EncryptedCredentials>) -> anyhow::Result<Rig> {
    // The assumed contract's quota: 10 calls/s per shop.
    let shop_rate = 10 * multiplier;
    let limits = scaled(VosoConfig::default_limits(), multiplier);
    let running = VosoSandbox::start(
        chosync_voso::sandbox::SandboxConfig {
            rate: rate(shop_rate),
            ..Default::default()
        },
        0,
    )
    .await?;
    let events = Arc::new(CallLog::default());
    let config = VosoConfig {
        channel: "voso-bench".into(),
        base_url: running.base_url.clone(),
        key: running.sandbox.key().to_string(),
        secret: running.sandbox.secret().to_string().into(),
        limits: limits.clone(),
        http: HttpConfig::default(),
    };
    let voso = Voso::new(config, credentials, events.clone(), Arc::new(SystemClock))?;
    voso.sign_in().await?;
    events.take(0);
    let sandbox = running.sandbox.clone();
    Ok(Rig {
        id: "voso-bench",
        settings: settings(&format!(
            "id = \"voso-bench\"\nplatform = \"voso\"\nbase_url = \"{}\"\n\
             image_base_url = \"{IMAGE_BASE_URL}\"\n",
            running.base_url
        ))?,
        mapping: crate::channels::mapping::parse(include_str!(
            "../../config/mappings/voso-demo.toml"
        ))
        .map_err(|e| anyhow::anyhow!(e))?,
        client: ChannelClient::Voso(voso),
        events,
        kit: Box::new(move || sandbox.kit().stats()),
        rates: rates_of(&limits),
        quotas: vec![("shop".into(), shop_rate)],
        minimum: voso_minimum,
        _sandbox: running.task,
    })
}

/// `products` × 5 sizes of essential oil, one local image shared by all.
pub(super) fn write_catalogue(path: &Path, products: u64, image: &Path) -> std::io::Result<()> {
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
                "P{product:05},Tinh dầu quế Bắc Kạn lô {product},\"Tinh dầu quế nguyên chất chưng cất từ vỏ quế rừng Bắc Kạn, lô {product}. Sản phẩm của hợp tác xã, đóng gói cẩn thận.\",Sức khỏe > Tinh dầu,HTX Tinh dầu Ba Bể,P{product:05}-{size},Dung tích,{label},{},{},{},5,5,{},{},\"Ba Bể, Bắc Kạn\",active",
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
