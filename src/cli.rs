//! The `chosync` command line: parse, load settings, open the store, run one command.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::catalogue::export::export_file;
use crate::catalogue::import::{ImportError, ImportReport, Progress, import_file};
use crate::clock::SystemClock;
use crate::inventory::{MovementKind, NewMovement};
use crate::settings::{LogFormat, Settings, SettingsError};
use crate::store::{self, ChannelRegistration, Store, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "chosync",
    version,
    about = "Keeps one cooperative catalogue in sync with its marketplaces"
)]
pub struct Cli {
    /// Configuration file (TOML); CHOSYNC__SECTION__KEY variables override it.
    #[arg(long, global = true, value_name = "FILE", env = "CHOSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE (created on first use) or postgres://…
    /// [default: database.url from the config, else sqlite://chosync.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or upgrade the database schema.
    Migrate,
    /// Validate the configuration and list every problem.
    CheckConfig,
    /// Import a catalogue (CSV or XLSX): all rows or nothing.
    Import {
        file: PathBuf,
        /// Check and report what would change, without writing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Export the catalogue (CSV or XLSX, by the file's extension).
    Export { file: PathBuf },
    /// Show stock levels, or one SKU with its recent movements.
    #[command(args_conflicts_with_subcommands = true)]
    Stock {
        sku: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<StockAction>,
    },
    /// List the configured channels with their authorization, or connect one.
    #[command(args_conflicts_with_subcommands = true)]
    Channels {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<ChannelAction>,
    },
    /// Read the sync log: every platform call, newest first.
    Logs {
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        sku: Option<String>,
        /// How far back: 30m, 1h, 2d, 1w.
        #[arg(long)]
        since: Option<String>,
        /// `error`: failed calls only.
        #[arg(long)]
        level: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: i64,
        /// Keep printing new rows as they are recorded, oldest first (JSON:
        /// one object per line), until interrupted.
        #[arg(long)]
        follow: bool,
        #[arg(long)]
        json: bool,
    },
    /// One SKU on every channel: catalogue values, what each channel should
    /// and does show, the work waiting and why, and its last calls.
    Explain {
        sku: String,
        #[arg(long)]
        json: bool,
    },
    /// Push the pending work of the outbox to the channels, once, and wait.
    Sync {
        /// One channel only (default: every enabled channel).
        #[arg(long)]
        channel: Option<String>,
        /// Only this kind of work.
        #[arg(long, value_enum, default_value_t)]
        kind: crate::sync::Kind,
        /// Push even when the sync would zero the stock of more than 20 % of
        /// a channel's live listings.
        #[arg(long)]
        force: bool,
        /// First give quarantined SKUs another try and make work waiting
        /// after a failure due now.
        #[arg(long)]
        retry: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show what a sync would do — creates, updates, price and stock changes
    /// (old → new) and the calls it takes — without calling any platform.
    Plan {
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        kind: crate::sync::Kind,
        #[arg(long)]
        json: bool,
    },
    /// Measure import speed and memory (see `chosync bench import --help`).
    Bench {
        #[command(subcommand)]
        what: crate::bench::BenchCommand,
    },
    /// The sample cooperative's catalogue synced to built-in Shopee and Lazada
    /// sandboxes; they keep serving (for `chosync --config DIR/chosync.toml …`)
    /// until Ctrl-C.
    Demo {
        /// Where the demo keeps its configuration, database and secrets
        /// (started afresh each time).
        #[arg(long, default_value = "chosync-demo")]
        dir: std::path::PathBuf,
        #[arg(long, default_value = "config/demo/catalogue.csv")]
        catalogue: std::path::PathBuf,
        /// Stop after the demo's syncs instead of serving the sandboxes.
        #[arg(long)]
        no_wait: bool,
    },
    /// Run one marketplace sandbox on loopback; prints one JSON line with its
    /// base URL and test credentials, then serves until interrupted.
    Sandbox {
        platform: crate::sandboxes::Platform,
        /// 0 picks a free port.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Calls per second per shop before the platform's throttle answer.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Seed for injected faults, so runs repeat.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelAction {
    /// Print the page where the seller authorizes chosync for this channel.
    Connect { channel: String },
    /// Exchange the code the platform sent back; the tokens are stored sealed.
    Authorize {
        channel: String,
        #[arg(long)]
        code: String,
        /// Shopee: the shop the code was issued for (overrides the config).
        #[arg(long)]
        shop_id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StockAction {
    /// Correct the stock of one SKU by DELTA units, with a reason.
    Adjust {
        sku: String,
        #[arg(allow_negative_numbers = true)]
        delta: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
}

/// Prints a line to stdout; a closed pipe (`chosync stock | head`) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub(crate) use say;

/// A bound far above any real stock count, so levels can never overflow.
const MAX_ADJUSTMENT: u64 = 1_000_000_000;

/// Exit codes: 0 ok, 1 failure, 2 invalid input.
pub(crate) const INVALID: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            let prefix = cli
                .config
                .as_ref()
                .map_or_else(|| "configuration".to_string(), |p| p.display().to_string());
            for line in err.to_string().lines() {
                eprintln!("{prefix}: {line}");
            }
            return ExitCode::from(INVALID);
        }
    };
    init_logging(&settings);
    let url = cli
        .database
        .clone()
        .unwrap_or_else(|| settings.database.url.clone());
    // With a config file the configured channels are the registry of record:
    // every change marks work for the enabled ones.
    let registry: Option<Vec<ChannelRegistration>> =
        cli.config.as_ref().map(|_| registry(&settings));
    match execute(cli.command, &settings, &url, registry.as_deref()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            for line in &failure.lines {
                eprintln!("{line}");
            }
            ExitCode::from(failure.code)
        }
    }
}

/// The configured channels as the store registers them.
pub(crate) fn registry(settings: &Settings) -> Vec<ChannelRegistration> {
    settings
        .channels
        .iter()
        .map(|c| ChannelRegistration {
            id: c.id.clone(),
            enabled: c.enabled,
            config_hash: c.content_hash(&settings.config_dir),
        })
        .collect()
}

/// A command's failure: the exit code and the lines to print.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) lines: Vec<String>,
}

impl Failure {
    pub(crate) fn invalid(lines: Vec<String>) -> Self {
        Self {
            code: INVALID,
            lines,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        let code = match err {
            StoreError::UnknownSku(_)
            | StoreError::NegativeStock { .. }
            | StoreError::UnsupportedUrl(_) => INVALID,
            _ => 1,
        };
        Self {
            code,
            lines: vec![format!("error: {err}")],
        }
    }
}

impl From<SettingsError> for Failure {
    fn from(err: SettingsError) -> Self {
        Failure::invalid(err.to_string().lines().map(str::to_string).collect())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Self {
            code: 1,
            lines: vec![format!("error: {err:#}")],
        }
    }
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHOSYNC_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Whether the database is there already (`check-config` must not create one).
fn database_exists(url: &str) -> bool {
    match url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Some(path) => std::path::Path::new(path.split('?').next().unwrap_or(path)).exists(),
        None => true,
    }
}

async fn open_database(url: &str) -> Result<Arc<dyn Store>, Failure> {
    store::open(url, Arc::new(SystemClock))
        .await
        .map_err(|err| Failure {
            code: if matches!(err, StoreError::UnsupportedUrl(_)) {
                INVALID
            } else {
                1
            },
            lines: vec![match err {
                StoreError::UnsupportedUrl(_) => format!("error: {err}"),
                _ => format!("error: {}: {err}", crate::redact::url(url)),
            }],
        })
}

async fn execute(
    command: Command,
    settings: &Settings,
    url: &str,
    registry: Option<&[ChannelRegistration]>,
) -> Result<(), Failure> {
    let open = |url: &str| {
        let url = url.to_string();
        async move {
            let store = open_database(&url).await?;
            if let Some(channels) = registry {
                store.register_channels(channels).await?;
            }
            Ok::<_, Failure>(store)
        }
    };
    match command {
        Command::Migrate => {
            open(url).await?;
            say!("database {} is up to date", crate::redact::url(url));
        }
        Command::CheckConfig => {
            let mut problems: Vec<String> = settings
                .problems()
                .iter()
                .chain(&settings.channel_problems())
                .map(ToString::to_string)
                .collect();
            if database_exists(url) {
                let store = open(url).await?;
                problems
                    .extend(crate::channels::unmapped_categories(settings, store.as_ref()).await?);
                // Asking the platforms needs a configuration that holds up.
                if problems.is_empty() {
                    let check =
                        crate::channels::command::missing_attributes(settings, &store).await?;
                    for note in &check.notes {
                        eprintln!("note: {note}");
                    }
                    problems.extend(check.problems);
                }
            }
            if !problems.is_empty() {
                return Err(Failure::invalid(problems));
            }
            say!(
                "configuration is valid ({} channels)",
                settings.channels.len()
            );
        }
        Command::Logs {
            channel,
            sku,
            since,
            level,
            limit,
            follow,
            json,
        } => {
            let since = match since.as_deref() {
                None => None,
                Some(text) => {
                    let span = crate::channels::command::parse_since(text).ok_or_else(|| {
                        Failure::invalid(vec![format!(
                            "error: --since \"{text}\" is not like 30m, 1h, 2d or 1w"
                        )])
                    })?;
                    Some(crate::clock::Clock::now(&SystemClock) - span)
                }
            };
            let errors_only = match level.as_deref() {
                None | Some("all") => false,
                Some("error") => true,
                Some(other) => {
                    return Err(Failure::invalid(vec![format!(
                        "error: --level \"{other}\" is not error or all"
                    )]));
                }
            };
            let store = open(url).await?;
            let filter = crate::store::LogFilter {
                channel,
                sku,
                since,
                errors_only,
                limit,
                ..Default::default()
            };
            if follow {
                crate::channels::command::follow_logs(store.as_ref(), filter, json).await?;
            } else {
                crate::channels::command::logs(store.as_ref(), filter, json).await?;
            }
        }
        Command::Sync {
            channel,
            kind,
            force,
            retry,
            json,
        } => {
            let store = open(url).await?;
            let options = crate::sync::Options {
                kind,
                force,
                lease: std::time::Duration::from_secs(settings.sync.lease_seconds.into()),
                ..crate::sync::Options::new("cli")
            };
            let request = crate::channels::command::SyncRequest {
                only: channel.as_deref(),
                retry,
                json,
            };
            crate::channels::command::sync(settings, store, request, &options).await?;
        }
        Command::Plan {
            channel,
            kind,
            json,
        } => {
            let store = open(url).await?;
            crate::channels::command::plan(settings, store, channel.as_deref(), kind, json).await?;
        }
        Command::Channels { json, action } => {
            let store = open(url).await?;
            crate::channels::command::run(settings, store, action, json).await?;
        }
        Command::Import {
            file,
            dry_run,
            json,
        } => {
            let store = open(url).await?;
            let progress = Arc::new(Bar::new());
            let result = import_file(store.as_ref(), &file, dry_run, progress.clone()).await;
            progress.bar.finish_and_clear();
            match result {
                Ok(report) => print_import(&report, json),
                Err(err) => {
                    if let ImportError::Invalid { warnings, .. } = &err {
                        for w in warnings {
                            eprintln!("warning: {w}");
                        }
                    }
                    let code = match err {
                        ImportError::Invalid { .. } => INVALID,
                        _ => 1,
                    };
                    return Err(Failure {
                        code,
                        lines: err.lines(),
                    });
                }
            }
        }
        Command::Export { file } => {
            let store = open(url).await?;
            let rows = export_file(store.as_ref(), &file)
                .await
                .map_err(|err| Failure {
                    code: 1,
                    lines: vec![format!("error: {err}")],
                })?;
            say!("exported {rows} SKUs to {}", file.display());
        }
        Command::Stock { sku, json, action } => {
            let store = open(url).await?;
            match action {
                Some(StockAction::Adjust {
                    sku,
                    delta,
                    reason,
                    json,
                }) => adjust(store.as_ref(), sku, delta, reason, json).await?,
                None => show_stock(store.as_ref(), sku.as_deref(), json).await?,
            }
        }
        Command::Bench { what } => crate::bench::run(what).await?,
        Command::Explain { sku, json } => {
            let store = open(url).await?;
            crate::channels::explain::explain(settings, store.as_ref(), &sku, json).await?;
        }
        Command::Demo {
            dir,
            catalogue,
            no_wait,
        } => crate::demo::run(&dir, &catalogue, !no_wait).await?,
        Command::Sandbox {
            platform,
            port,
            rate,
            seed,
        } => {
            let started = crate::sandboxes::start(platform, port, rate, seed).await?;
            say!("{}", started.announcement);
            tokio::signal::ctrl_c().await.map_err(anyhow::Error::from)?;
            started.task.abort();
        }
    }
    Ok(())
}

fn print_import(report: &ImportReport, json: bool) {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return;
    }
    let verb = if report.dry_run {
        "would import"
    } else {
        "imported"
    };
    say!("{} {} ({} rows):", verb, report.file, report.rows);
    for (what, c) in [("products", report.products), ("SKUs", report.skus)] {
        say!(
            "  {what:<9} {} created, {} updated, {} unchanged",
            c.created,
            c.updated,
            c.unchanged
        );
    }
    say!(
        "  stock     {} {} {}",
        report.stock_movements,
        if report.stock_movements == 1 {
            "movement"
        } else {
            "movements"
        },
        if report.dry_run {
            "would be recorded"
        } else {
            "recorded"
        }
    );
    for line in report.stock.lines(report.dry_run) {
        say!("    {line}");
    }
    if report.dry_run {
        say!("dry run: nothing was written");
    }
}

async fn adjust(
    store: &dyn Store,
    sku: String,
    delta: i64,
    reason: String,
    json: bool,
) -> Result<(), Failure> {
    let reason = crate::catalogue::text::clean(&reason);
    if reason.is_empty() {
        return Err(Failure::invalid(vec![
            "error: --reason must not be empty".into(),
        ]));
    }
    if delta == 0 {
        return Err(Failure::invalid(vec!["error: DELTA must not be 0".into()]));
    }
    if delta.unsigned_abs() > MAX_ADJUSTMENT {
        return Err(Failure::invalid(vec![format!(
            "error: DELTA {delta} is too large; one adjustment moves at most {MAX_ADJUSTMENT} units"
        )]));
    }
    let row = store
        .record_movement(&NewMovement {
            sku,
            delta,
            kind: MovementKind::Adjust,
            reason,
            source: "cli".into(),
            external_ref: None,
        })
        .await?;
    if json {
        say!("{}", serde_json::to_string_pretty(&row).unwrap_or_default());
    } else {
        say!(
            "{}: on hand {} ({delta:+}), reserved {}, available {}",
            row.sku,
            row.on_hand,
            row.reserved,
            row.available
        );
    }
    Ok(())
}

async fn show_stock(store: &dyn Store, sku: Option<&str>, json: bool) -> Result<(), Failure> {
    let rows = store.stock(sku).await?;
    if let Some(sku) = sku {
        let Some(row) = rows.first() else {
            return Err(StoreError::UnknownSku(sku.to_string()).into());
        };
        let movements = store.movements(sku, 20).await?;
        if json {
            let out = serde_json::json!({ "stock": row, "movements": movements });
            say!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            return Ok(());
        }
        say!(
            "{} — {} {}",
            row.sku,
            row.name,
            row.option_values.join(" / ")
        );
        say!(
            "on hand {}, reserved {}, available {}",
            row.on_hand,
            row.reserved,
            row.available
        );
        if !movements.is_empty() {
            say!("\nrecent movements:");
            for m in &movements {
                say!(
                    "  {}  {:>+6}  {:<6}  {}  ({})",
                    m.created_at.format("%Y-%m-%d %H:%M:%S"),
                    m.delta,
                    m.kind.as_str(),
                    m.reason,
                    m.source
                );
            }
        }
        return Ok(());
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    say!(
        "{:<24} {:<40} {:>8} {:>8} {:>9}",
        "SKU",
        "PRODUCT",
        "ON HAND",
        "RESERVED",
        "AVAILABLE"
    );
    for r in &rows {
        let mut label = r.name.clone();
        if !r.option_values.is_empty() {
            label = format!("{label} ({})", r.option_values.join(" / "));
        }
        let label: String = if label.chars().count() > 40 {
            label.chars().take(39).chain(['…']).collect()
        } else {
            label
        };
        say!(
            "{:<24} {:<40} {:>8} {:>8} {:>9}",
            r.sku,
            label,
            r.on_hand,
            r.reserved,
            r.available
        );
    }
    let total = store.summary().await?;
    say!(
        "{} products, {} SKUs, {} units on hand",
        total.products,
        total.skus,
        total.units_on_hand
    );
    Ok(())
}

/// A progress bar on a terminal; invisible otherwise.
struct Bar {
    bar: ProgressBar,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:>9} [{bar:40}] {pos}/{len} rows ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }
}

impl Progress for Bar {
    fn pass(&self, name: &'static str, total: Option<u64>) {
        self.bar.set_message(name);
        self.bar.set_position(0);
        self.bar.set_length(total.unwrap_or(0));
    }

    fn rows(&self, done: u64) {
        if self.bar.length().unwrap_or(0) < done {
            self.bar.set_length(done);
        }
        self.bar.set_position(done);
    }
}
