//! `chosync demo`: the sample cooperative's catalogue pushed to built-in
//! Shopee and Lazada sandboxes, with the same code paths an operator uses.
//! The demo writes a configuration into its folder (channels pointing at the
//! sandboxes, secrets in owner-only files), authorizes both channels, imports
//! the catalogue, syncs, sells a few packs and syncs stock again; then the
//! sandboxes keep serving with the daemon (`chosync run`) in the same
//! process, their pushes pointed at its webhooks: an order placed in a
//! sandbox reaches every channel, and `chosync --config DIR/chosync.toml …`
//! works from another terminal until the demo is stopped.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use super::{Failure, report, say};
use crate::catalogue::import::{NoProgress, import_file};
use crate::channels::connect::authorize;
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Kind, Options};

const SHOPEE_MAPPING: &str = include_str!("../../config/mappings/shopee-demo.toml");
const LAZADA_MAPPING: &str = include_str!("../../config/mappings/lazada-demo.toml");

/// Runs the demo in `dir` (started afresh) with the catalogue at `catalogue`;
/// with `wait`, serves the sandboxes until Ctrl-C.
pub(super) async fn run(dir: &Path, catalogue: &Path, wait: bool) -> Result<(), Failure> {
    fresh(dir)?;
    // Absolute, so the configuration works from any directory.
    let dir = &dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let shopee = chosync_shopee::sandbox::ShopeeSandbox::start(Default::default(), 0)
        .await
        .context("starting the Shopee sandbox")?;
    let lazada = chosync_lazada::sandbox::LazadaSandbox::start(Default::default(), 0)
        .await
        .context("starting the Lazada sandbox")?;
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
    write(&dir.join("mappings/shopee-demo.toml"), SHOPEE_MAPPING)?;
    write(&dir.join("mappings/lazada-demo.toml"), LAZADA_MAPPING)?;
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
stock = {{ buffer = 1 }}

[[channels]]
id = "lazada-demo"
platform = "lazada"
base_url = "{lazada_url}"
auth_url = "{auth_url}"
app_key = "{app_key}"
app_secret = {{ file = "{lazada_secret}" }}
mapping = "mappings/lazada-demo.toml"
price = {{ markup_percent = 8, round_to = 1000, rounding = "nearest" }}
stock = {{ buffer = 2 }}
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
        ),
    )?;
    let settings = Settings::load(Some(&config))?;
    let store =
        crate::store::open(&settings.database.url, Arc::new(crate::clock::SystemClock)).await?;
    store.register_channels(&settings.registrations()).await?;
    say!("chosync demo in {}", dir.display());
    for (channel, code) in [
        ("shopee-demo", &shopee.credentials.code),
        ("lazada-demo", &lazada.credentials.code),
    ] {
        report::authorized(&authorize(&settings, &store, channel, code, None).await?);
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
    say!("sold 3 × MD-500G at the market stall; pushing stock:");
    sync(&settings, &store, Kind::Stock).await?;
    let shown = config.display();
    if wait {
        for (sandbox, channel) in [
            (shopee.sandbox.kit(), "shopee-demo"),
            (lazada.sandbox.kit(), "lazada-demo"),
        ] {
            sandbox.set_webhook_target(&format!("http://{listen}/webhooks/{channel}"));
        }
        say!(
            "\nThe daemon runs on http://{listen} and the sandboxes push orders to it.\n\
             Place an order on the Shopee sandbox; every channel shows the new stock:\n  \
             curl -s -X POST http://{shopee}/_sandbox/orders -H 'content-type: application/json' -d '{{\"sku\":\"MD-500G\",\"quantity\":2}}'\n\
             From another terminal:\n  \
             chosync --config {shown} stock MD-500G\n  \
             chosync --config {shown} logs --follow\n  \
             chosync --config {shown} explain MD-500G\n  \
             chosync --config {shown} stock adjust MD-1KG -2 --reason \"2 gói bán lẻ\"\n\
             Ctrl-C stops the demo.",
            shopee = shopee.addr,
        );
        let stop = super::run::signal().context("cannot watch for Ctrl-C")?;
        crate::daemon::run(
            &settings,
            store.clone(),
            &settings.database.url,
            listener,
            stop,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    } else {
        say!(
            "\nDone; the sandboxes stopped with the demo. What it recorded stays readable:\n  \
             chosync --config {shown} explain TDQ-10ML\n  \
             chosync --config {shown} logs --since 1h"
        );
    }
    shopee.task.abort();
    lazada.task.abort();
    Ok(())
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
