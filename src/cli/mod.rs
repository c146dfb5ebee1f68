//! The `chosync` command line: parse, load settings, open the store, run one
//! command. Each verb's module only parses and prints; what it shows comes
//! from the domain modules, which the daemon and the API call too.

mod alerts;
mod bench;
mod channels;
mod check_config;
mod demo;
mod explain;
mod export;
mod import;
mod logs;
mod orders;
mod plan;
mod reconcile;
mod report;
mod run;
mod sandbox;
mod schedules;
mod span;
mod stock;
mod sync;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::channels::ChannelError;
use crate::clock::SystemClock;
use crate::settings::{LogFormat, Settings, SettingsError};
use crate::store::{self, ChannelRegistration, Store, StoreError};

pub use bench::BenchCommand;

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
    /// The daemon: webhooks, `/healthz` and `/readyz` on `[server] listen`,
    /// a worker per channel pushing changes as they happen, and the order
    /// poll; SIGTERM or Ctrl-C stops it after the work in flight.
    Run,
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
    /// Every channel's schedules (catalogue, stock, price, orders, reconcile,
    /// tokens, prune): the expression, the last run and the next fire time,
    /// in `[schedule] timezone`.
    Schedules {
        #[arg(long)]
        json: bool,
    },
    /// Compare each channel's stock on the platform with what chosync set
    /// and wants; classify, log and alert the differences and correct them.
    Reconcile {
        /// One channel only (default: every enabled channel).
        #[arg(long)]
        channel: Option<String>,
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
    /// The orders chosync has recorded (newest first), or one in full.
    #[command(args_conflicts_with_subcommands = true)]
    Orders {
        #[arg(long)]
        channel: Option<String>,
        /// unpaid, paid, ready_to_ship, shipped, completed, cancelled, returned
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<OrderAction>,
    },
    /// Open alerts (oversold, unknown SKU, drift, failing order import,
    /// refused webhooks), or acknowledge one.
    #[command(args_conflicts_with_subcommands = true)]
    Alerts {
        /// Acknowledged alerts too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<AlertAction>,
    },
    /// Bearer tokens for the API and the dashboard: make one (printed
    /// once; only its hash is kept), list them, revoke one.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Print the API's OpenAPI 3.1 document (JSON).
    Openapi,
    /// Measure import speed and memory (see `chosync bench import --help`).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// The whole system at work on built-in Shopee, Lazada, Sendo and Voso sandboxes: the
    /// sample catalogue synced, the daemon serving their pushes, buyers
    /// ordering and cancelling at random channels until Ctrl-C (or
    /// `--duration`), then a summary. `chosync --config DIR/chosync.toml …`
    /// reads it meanwhile and afterwards.
    Demo {
        /// Where the demo keeps its configuration, database and secrets
        /// (started afresh each time).
        #[arg(long, default_value = "chosync-demo")]
        dir: std::path::PathBuf,
        #[arg(long, default_value = "config/demo/catalogue.csv")]
        catalogue: std::path::PathBuf,
        /// End after this long (30s, 10m, 1h) and print the summary; 0s
        /// stops after the first syncs, before the daemon and the buyers.
        #[arg(long, value_parser = span::duration)]
        duration: Option<std::time::Duration>,
        /// Orders and cancellations a second, over every channel; 0: no buyers.
        #[arg(long, default_value_t = 2.0)]
        orders_per_second: f64,
        /// Seed for the buyers' choices, so runs repeat.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The summary as JSON: the last line printed.
        #[arg(long)]
        json: bool,
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
    /// Print the page where the seller authorizes chosync for this channel;
    /// Sendo and Voso: log in with the shop's keys now (and print Sendo's push URL).
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
pub enum OrderAction {
    /// One order with its lines and the stock effects of each.
    Show {
        id: String,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Mark an alert as seen; it opens again only if chosync resolved it and it comes back.
    Ack { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token; prints it once.
    Create {
        /// viewer (reads) or operator (reads and writes).
        #[arg(long)]
        role: crate::access::Role,
        /// Who or what uses it (the audit log names it).
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Every token made, with its role, last use and revocation.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id: it opens nothing any more.
    Revoke { id: i64 },
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

use say;

/// Exit codes: 0 ok, 1 failure, 2 invalid input.
const INVALID: u8 = 2;

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
        cli.config.as_ref().map(|_| settings.registrations());
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

/// A command's failure: the exit code and the lines to print.
struct Failure {
    code: u8,
    lines: Vec<String>,
}

impl Failure {
    fn invalid(lines: Vec<String>) -> Self {
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

impl From<ChannelError> for Failure {
    fn from(err: ChannelError) -> Self {
        Self {
            code: if err.is_invalid_input() { INVALID } else { 1 },
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
            let store = if database_exists(url) {
                Some(open(url).await?)
            } else {
                None
            };
            check_config::run(settings, store).await?;
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
            let filter = logs::filter(channel, sku, since, level, limit)?;
            logs::run(open(url).await?, filter, follow, json).await?;
        }
        Command::Run => run::run(settings, open(url).await?, url).await?,
        Command::Sync {
            channel,
            kind,
            force,
            retry,
            json,
        } => {
            let store = open(url).await?;
            sync::run(
                settings,
                &store,
                channel.as_deref(),
                kind,
                force,
                retry,
                json,
            )
            .await?;
        }
        Command::Schedules { json } => {
            schedules::run(settings, open(url).await?.as_ref(), json).await?;
        }
        Command::Reconcile { channel, json } => {
            reconcile::run(settings, &open(url).await?, channel.as_deref(), json).await?;
        }
        Command::Plan {
            channel,
            kind,
            json,
        } => plan::run(settings, &open(url).await?, channel.as_deref(), kind, json).await?,
        Command::Channels { json, action } => {
            channels::run(settings, &open(url).await?, action, json).await?;
        }
        Command::Import {
            file,
            dry_run,
            json,
        } => import::run(open(url).await?.as_ref(), &file, dry_run, json).await?,
        Command::Export { file } => export::run(open(url).await?.as_ref(), &file).await?,
        Command::Stock { sku, json, action } => {
            let store = open(url).await?;
            match action {
                Some(StockAction::Adjust {
                    sku,
                    delta,
                    reason,
                    json,
                }) => stock::adjust(store.as_ref(), &sku, delta, &reason, json).await?,
                None => stock::show(store.as_ref(), sku.as_deref(), json).await?,
            }
        }
        Command::Orders {
            channel,
            status,
            limit,
            json,
            action,
        } => {
            let store = open(url).await?;
            match action {
                Some(OrderAction::Show { id, channel, json }) => {
                    orders::show(store.as_ref(), channel.as_deref(), &id, json).await?;
                }
                None => {
                    let filter = crate::store::orders::OrderFilter {
                        channel,
                        state: status.as_deref().map(orders::state).transpose()?,
                        limit: limit.clamp(1, 10_000),
                    };
                    orders::list(store.as_ref(), filter, json).await?;
                }
            }
        }
        Command::Alerts { all, json, action } => {
            let store = open(url).await?;
            match action {
                Some(AlertAction::Ack { id }) => alerts::acknowledge(store.as_ref(), id).await?,
                None => alerts::list(store.as_ref(), all, json).await?,
            }
        }
        Command::Bench { what } => bench::run(what).await?,
        Command::Token { action } => {
            let store = open(url).await?;
            match action {
                TokenAction::Create { role, name, json } => {
                    token::create_token(store.as_ref(), &name, role, json).await?;
                }
                TokenAction::List { json } => token::list(store.as_ref(), json).await?,
                TokenAction::Revoke { id } => token::revoke(store.as_ref(), id).await?,
            }
        }
        Command::Openapi => say!("{}", crate::api::openapi::document().trim_end()),
        Command::Explain { sku, json } => {
            explain::run(settings, open(url).await?.as_ref(), &sku, json).await?;
        }
        Command::Demo {
            dir,
            catalogue,
            duration,
            orders_per_second,
            seed,
            json,
        } => {
            let buyers = crate::demo::Buyers {
                per_second: orders_per_second.max(0.0),
                seed,
            };
            demo::run(&dir, &catalogue, duration, buyers, json).await?;
        }
        Command::Sandbox {
            platform,
            port,
            rate,
            seed,
        } => sandbox::run(platform, port, rate, seed).await?,
    }
    Ok(())
}
