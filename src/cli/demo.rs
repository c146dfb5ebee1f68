//! `chosync demo`: the whole system at work on built-in Shopee, Lazada,
//! Sendo and Voso sandboxes, with the same code paths an operator uses. The demo writes a
//! configuration into its folder (channels pointing at the sandboxes, with
//! accelerated schedules; secrets in owner-only files), authorizes both
//! channels, imports the catalogue, syncs, sells a few packs and syncs stock
//! again. Then (`crate::demo::live`) the daemon serves the sandboxes' pushes
//! while simulated buyers order and cancel, until Ctrl-C or `--duration`;
//! the summary follows, and `chosync --config DIR/chosync.toml …` reads
//! what the demo recorded, during the demo and after it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::{Failure, report, say};
use crate::buyers::Shop;
use crate::buyers::shop::SheetFile;
use crate::catalogue::import::{NoProgress, import_file};
use crate::demo::{Buyers, Summary};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Kind, Options};

const SHOPEE_MAPPING: &str = include_str!("../../config/mappings/shopee-demo.toml");
const LAZADA_MAPPING: &str = include_str!("../../config/mappings/lazada-demo.toml");
const SENDO_MAPPING: &str = include_str!("../../config/mappings/sendo-demo.toml");
const VOSO_MAPPING: &str = include_str!("../../config/mappings/voso-demo.toml");
const SHEET_MAPPING: &str = include_str!("../../config/mappings/sheet-demo.toml");

/// Units each channel keeps back (`stock = { buffer = N }`).
const SHOPEE_BUFFER: i64 = 1;
const LAZADA_BUFFER: i64 = 2;
const SENDO_BUFFER: i64 = 1;
const VOSO_BUFFER: i64 = 0;
const SHEET_BUFFER: i64 = 1;
const SHEET: &str = "sheet-demo";

/// Where the demo says the cooperative publishes its image files (Sendo and
/// Voso take image URLs; the sandboxes never fetch them).
const IMAGE_BASE_URL: &str = "https://anh.htx-backan.example/images";

/// Every channel's schedules, accelerated so a few minutes show each kind
/// of work: orders every 10 s, stock every 30 s, prices every 2 minutes,
/// listings and reconcile every 5, tokens every minute, pruning every 10.
/// Every channel's schedules, quicker than an operator would set them so the
/// demo shows them at work: the order poll (the backstop to the sandboxes'
/// pushes) every 10 s.
const SCHEDULE: &str = r#"{ orders = "*/10 * * * * *", stock = "*/30 * * * * *", price = "0 */2 * * * *", catalogue = "0 */5 * * * *", reconcile = "0 */5 * * * *", tokens = "0 * * * * *", prune = "0 */10 * * * *" }"#;

/// Runs the demo in `dir` (started afresh) with the catalogue at
/// `catalogue`: after the first syncs, the daemon and the buyers until
/// Ctrl-C or `duration` (`0s`: not at all), then the summary.
pub(super) async fn run(
    dir: &Path,
    catalogue: &Path,
    duration: Option<Duration>,
    buyers: Buyers,
    json: bool,
) -> Result<(), Failure> {
    fresh(dir)?;
    // Absolute, so the configuration works from any directory.
    let dir = &dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let shopee = chosync_shopee::sandbox::ShopeeSandbox::start(Default::default(), 0)
        .await
        .context("starting the Shopee sandbox")?;
    // Lazada's quality check holds a new product off sale for a minute;
    // five seconds here, so the buyers find every product for sale soon.
    let lazada_config = chosync_lazada::sandbox::SandboxConfig {
        qc_delay: Duration::from_secs(5),
        ..Default::default()
    };
    let lazada = chosync_lazada::sandbox::LazadaSandbox::start(lazada_config, 0)
        .await
        .context("starting the Lazada sandbox")?;
    let sendo_config = chosync_sendo::sandbox::SandboxConfig::default();
    let (sendo_key, sendo_secret) = (
        sendo_config.shop_key.clone(),
        sendo_config.secret_key.clone(),
    );
    let sendo = chosync_sendo::sandbox::SendoSandbox::start(sendo_config, 0)
        .await
        .context("starting the Sendo sandbox")?;
    let voso = chosync_voso::sandbox::VosoSandbox::start(Default::default(), 0)
        .await
        .context("starting the Voso sandbox")?;
    // The daemon's address goes into the configuration: Shopee signs its
    // pushes over the callback URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let listen = listener
        .local_addr()
        .context("cannot read the daemon's address")?;
    secret_file(&dir.join("shopee.key"), &shopee.credentials.partner_key)?;
    secret_file(&dir.join("lazada.secret"), &lazada.credentials.app_secret)?;
    secret_file(&dir.join("sendo.secret"), &sendo_secret)?;
    secret_file(&dir.join("voso.secret"), voso.sandbox.secret())?;
    for (name, text) in [
        ("shopee-demo.toml", SHOPEE_MAPPING),
        ("lazada-demo.toml", LAZADA_MAPPING),
        ("sendo-demo.toml", SENDO_MAPPING),
        ("voso-demo.toml", VOSO_MAPPING),
        ("sheet-demo.toml", SHEET_MAPPING),
    ] {
        write(&dir.join("mappings").join(name), text)?;
    }
    let sheet_folder = dir.join("sheet");
    std::fs::create_dir_all(sheet_folder.join("inbox"))
        .with_context(|| format!("cannot create {}", sheet_folder.display()))?;
    let sheet_layout = crate::channels::mapping::parse(SHEET_MAPPING)
        .ok()
        .and_then(|m| m.sheet)
        .context("the demo's sheet layout")?;
    let config = dir.join("chosync.toml");
    write(
        &config,
        &format!(
            r#"# Written by `chosync demo`: channels on the built-in sandboxes, which
# live only while the demo runs.
[database]
url = "sqlite://{db}"

[secrets]
key_file = "{key}"

[server]
listen = "{listen}"

[[channels]]
id = "shopee-demo"
platform = "shopee"
base_url = "{shopee_url}"
partner_id = {partner_id}
partner_key = {{ file = "{shopee_key}" }}
shop_id = {shop_id}
callback_url = "http://{listen}/webhooks/shopee-demo"
mapping = "mappings/shopee-demo.toml"
price = {{ markup_percent = 5, round_to = 1000, rounding = "up" }}
stock = {{ buffer = {SHOPEE_BUFFER} }}
schedule = {SCHEDULE}

[[channels]]
id = "lazada-demo"
platform = "lazada"
base_url = "{lazada_url}"
auth_url = "{auth_url}"
app_key = "{app_key}"
app_secret = {{ file = "{lazada_secret}" }}
mapping = "mappings/lazada-demo.toml"
price = {{ markup_percent = 8, round_to = 1000, rounding = "nearest" }}
stock = {{ buffer = {LAZADA_BUFFER} }}
schedule = {SCHEDULE}

[[channels]]
id = "sendo-demo"
platform = "sendo"
base_url = "{sendo_url}"
shop_key = "{sendo_key}"
secret_key = {{ file = "{sendo_secret}" }}
image_base_url = "{IMAGE_BASE_URL}"
mapping = "mappings/sendo-demo.toml"
price = {{ markup_percent = 3, round_to = 1000, rounding = "up" }}
stock = {{ buffer = {SENDO_BUFFER} }}
schedule = {SCHEDULE}

[[channels]]
id = "voso-demo"
platform = "voso"
base_url = "{voso_url}"
app_key = "{voso_key}"
app_secret = {{ file = "{voso_secret}" }}
image_base_url = "{IMAGE_BASE_URL}"
mapping = "mappings/voso-demo.toml"
stock = {{ buffer = {VOSO_BUFFER} }}
schedule = {SCHEDULE}

# A marketplace without an API: its bulk-upload sheet is written into
# sheet/, and order exports dropped into sheet/inbox are imported.
[[channels]]
id = "{SHEET}"
platform = "spreadsheet"
folder = "{sheet_folder}"
mapping = "mappings/sheet-demo.toml"
price = {{ markup_percent = 4, round_to = 1000, rounding = "up" }}
stock = {{ buffer = {SHEET_BUFFER} }}
schedule = {SCHEDULE}
"#,
            db = dir.join("chosync.db").display(),
            key = dir.join("chosync.key").display(),
            shopee_key = dir.join("shopee.key").display(),
            lazada_secret = dir.join("lazada.secret").display(),
            shopee_url = shopee.base_url,
            partner_id = shopee.credentials.partner_id,
            shop_id = shopee.credentials.shop_id,
            lazada_url = lazada.base_url,
            auth_url = lazada.auth_url,
            app_key = lazada.credentials.app_key,
            sendo_url = sendo.base_url,
            sendo_secret = dir.join("sendo.secret").display(),
            voso_url = voso.base_url,
            voso_key = voso.sandbox.key(),
            voso_secret = dir.join("voso.secret").display(),
            sheet_folder = sheet_folder.display(),
        ),
    )?;
    let shopee_addr = shopee.addr;
    let shops = [
        Shop::shopee("shopee-demo", shopee, SHOPEE_BUFFER),
        Shop::lazada("lazada-demo", lazada, LAZADA_BUFFER),
        Shop::sendo("sendo-demo", sendo, SENDO_BUFFER),
        Shop::voso("voso-demo", voso, VOSO_BUFFER),
        Shop::sheet(
            SHEET,
            SheetFile::new(sheet_layout, &sheet_folder),
            SHEET_BUFFER,
        ),
    ];
    let settings = Settings::load(Some(&config))?;
    let store =
        crate::store::open(&settings.database.url, Arc::new(crate::clock::SystemClock)).await?;
    store.register_channels(&settings.registrations()).await?;
    say!("chosync demo in {}", dir.display());
    for shop in &shops {
        if let Some(authorized) = shop.authorize(&settings, &store).await? {
            report::authorized(&authorized);
        }
    }
    let report = import_file(store.as_ref(), catalogue, false, Arc::new(NoProgress))
        .await
        .map_err(|e| Failure {
            code: 1,
            lines: vec![format!("error: {e}")],
        })?;
    say!(
        "imported {}: {} products, {} SKUs",
        catalogue.display(),
        report.products.created,
        report.skus.created
    );
    sync(&settings, &store, Kind::All).await?;
    // Three packs sold at the market stall: every channel shows it at once.
    let reason = "demo: 3 packs sold at the market stall";
    crate::inventory::adjust(store.as_ref(), "MD-500G", -3, reason, "demo")
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    say!("sold 3 × MD-500G at the market stall");
    sheet_orders(&settings, &store, &sheet_folder.join("inbox")).await?;
    say!("pushing stock:");
    sync(&settings, &store, Kind::Stock).await?;
    let shown = config.display();
    let outcome = if duration == Some(Duration::ZERO) {
        say!(
            "\nDone; the sandboxes stopped with the demo. What it recorded stays readable:\n  \
             chosync --config {shown} explain TDQ-10ML\n  \
             chosync --config {shown} logs --since 1h"
        );
        Ok(())
    } else {
        let who = if buyers.per_second > 0.0 {
            format!(
                "buyers order and cancel on every channel, {} a second, only what a channel shows",
                buyers.per_second
            )
        } else {
            "no simulated buyers (--orders-per-second 0)".to_string()
        };
        let until = match duration {
            Some(d) => format!(" before its {} s are up", d.as_secs()),
            None => String::new(),
        };
        // The demo's operator signs in to the dashboard with this token.
        let token = crate::access::create(store.as_ref(), "demo", crate::access::Role::Operator)
            .await
            .context("cannot make the demo's token")?;
        say!(
            "\nThe dashboard (Vietnamese; English at the top right) — sign in with the token below:\n\
             dashboard: http://{listen}/\n\
             token: {}",
            secrecy::ExposeSecret::expose_secret(&token.token)
        );
        say!(
            "\nThe daemon runs on http://{listen} and the sandboxes push their orders to it; \
             {who}. From another terminal:\n  \
             chosync --config {shown} logs --follow\n  \
             chosync --config {shown} orders\n  \
             chosync --config {shown} explain MD-500G\n  \
             chosync --config {shown} schedules\n  \
             chosync --config {shown} stock adjust MD-1KG -2 --reason \"2 gói bán lẻ\"\n  \
             curl -s http://{metrics}/metrics\n\
             The spreadsheet channel's bulk sheet is {sheet_file}; drop order exports into {sheet_inbox}.\n\
             Or order yourself on the Shopee sandbox:\n  \
             curl -s -X POST http://{shopee_addr}/_sandbox/orders -H 'content-type: application/json' -d '{{\"sku\":\"MD-500G\",\"quantity\":2}}'\n\
             Ctrl-C stops the demo{until}, with a summary of what it did.",
            metrics = settings
                .server
                .admin_listen
                .clone()
                .unwrap_or_else(|| listen.to_string()),
            sheet_file = sheet_folder.join("san-pham.xlsx").display(),
            sheet_inbox = sheet_folder.join("inbox").display(),
        );
        live(&settings, store, &shops, listener, buyers, duration)
            .await
            .and_then(|summary| present(&summary, dir, json))
    };
    shops.iter().for_each(Shop::stop);
    outcome
}

/// Two orders as the spreadsheet channel's seller centre exports them,
/// dropped into its inbox and imported.
async fn sheet_orders(
    settings: &Settings,
    store: &Arc<dyn Store>,
    inbox: &Path,
) -> Result<(), Failure> {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).context("UTC+7")?;
    let at = |minutes_ago: i64| {
        (store.now() - chrono::Duration::minutes(minutes_ago))
            .with_timezone(&vietnam)
            .format("%d/%m/%Y %H:%M")
            .to_string()
    };
    let export = format!(
        "Mã đơn hàng,SKU phân loại,Số lượng,Trạng thái đơn hàng,Thời gian đặt hàng,Thời gian cập nhật\n\
         DH-MAU-0001,TDQ-10ML,2,Chờ xác nhận,{},{}\n\
         DH-MAU-0002,MD-1KG,1,Đã giao,{},{}\n",
        at(50),
        at(45),
        at(120),
        at(30),
    );
    let file = inbox.join("don-hang-mau.csv");
    write(&file, &export)?;
    let imports = crate::orders::import_channels(
        settings,
        store,
        Some(SHEET),
        crate::orders::Source::Poll,
        "demo",
    )
    .await?;
    for import in imports {
        let report = import.result.map_err(|e| anyhow::anyhow!(e))?;
        say!(
            "{SHEET}: {} orders read from {} ({} stock effects); the file moved to inbox/imported/",
            report.new,
            file.display(),
            report.effects
        );
    }
    Ok(())
}

/// The daemon and the buyers until Ctrl-C or `duration`.
async fn live(
    settings: &Settings,
    store: Arc<dyn Store>,
    shops: &[Shop],
    listener: tokio::net::TcpListener,
    buyers: Buyers,
    duration: Option<Duration>,
) -> Result<Summary, Failure> {
    let interrupted = super::run::signal().context("cannot watch for Ctrl-C")?;
    let stop = async move {
        match duration {
            Some(duration) => tokio::select! {
                () = interrupted => {}
                () = tokio::time::sleep(duration) => {}
            },
            None => interrupted.await,
        }
    };
    Ok(crate::demo::live(settings, store, shops, listener, buyers, stop).await?)
}

/// The summary printed (and kept in the demo's folder); a failure when the
/// system did not keep up.
fn present(summary: &Summary, dir: &Path, json: bool) -> Result<(), Failure> {
    let text = serde_json::to_string(summary).context("the summary as JSON")?;
    write(&dir.join("summary.json"), &text)?;
    if json {
        say!("{text}");
    } else {
        print(summary, &dir.join("chosync.toml"));
    }
    if summary.healthy() {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            lines: vec![format!(
                "error: the demo did not keep up: {} oversold, {} throttled calls, converged: {}",
                summary.oversold, summary.throttled, summary.convergence.converged
            )],
        })
    }
}

fn print(summary: &Summary, config: &Path) {
    let o = &summary.orders;
    let p = &summary.propagation;
    let c = &summary.convergence;
    say!(
        "\nchosync demo: {:.0} s of buyers\n  \
         orders placed      {} ({} cancelled; {} refused by the platform; {} times a channel had nothing in stock)\n  \
         orders recorded    {} with {} lines; {} order effects in the ledger\n  \
         new harvests       {} (a SKU running low gets {} units)\n  \
         stock pushes       {}\n  \
         propagation        p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} orders measured, {} still travelling)\n  \
         oversold           {}\n  \
         throttled calls    {}\n  \
         converged          {}: {} SKU × channel pairs checked, {} not listed, {} showing other stock",
        summary.seconds,
        o.placed,
        o.cancelled,
        o.refused,
        o.sold_out,
        o.recorded,
        o.lines,
        o.effects,
        o.restocked,
        crate::demo::HARVEST,
        summary.stock_pushes,
        p.p50_ms,
        p.p99_ms,
        p.max_ms,
        p.measured,
        p.unpropagated,
        summary.oversold,
        summary.throttled,
        if c.converged { "yes" } else { "no" },
        c.checked,
        c.not_listed,
        c.mismatches.len(),
    );
    for mismatch in c.mismatches.iter().take(10) {
        say!("    {mismatch}");
    }
    let config = config.display();
    say!(
        "What it recorded stays readable:\n  \
         chosync --config {config} orders\n  \
         chosync --config {config} explain MD-500G\n  \
         chosync --config {config} logs --since 1h"
    );
}

async fn sync(settings: &Settings, store: &Arc<dyn Store>, kind: Kind) -> Result<(), Failure> {
    let options = Options {
        kind,
        ..Options::new("demo")
    };
    report::passes(settings, store, None, false, &options, false).await
}

/// Marks a folder as the demo's own, so it may start it afresh.
const MARKER: &str = ".chosync-demo";

/// The demo's folder, without the database and key of an earlier run: the
/// sandboxes start empty, so the channels' state must too. A folder with
/// other contents that the demo did not make is refused, never wiped.
fn fresh(dir: &Path) -> anyhow::Result<()> {
    let ours = dir.join(MARKER).is_file();
    let empty = std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none());
    if !ours && !empty {
        anyhow::bail!(
            "{} is not empty and was not made by `chosync demo`; choose another --dir",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir.join("mappings"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    write(
        &dir.join(MARKER),
        "made by chosync demo; it may delete its database here\n",
    )?;
    let sheet = dir.join("sheet");
    if sheet.exists() {
        std::fs::remove_dir_all(&sheet)
            .with_context(|| format!("cannot remove {}", sheet.display()))?;
    }
    for name in [
        "chosync.db",
        "chosync.db-wal",
        "chosync.db-shm",
        "chosync.key",
    ] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A secret in a file only its owner can read, from its creation on.
fn secret_file(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(secret.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}
