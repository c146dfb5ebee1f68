//! `chosync channels`: list, connect, authorize.

use std::sync::Arc;

use chosync_connector::credentials::CredentialStore;
use chosync_connector::events::LogOnly;
use serde::Serialize;

use super::ChannelSettings;
use super::client::{ChannelClient, Context};
use crate::cli::{ChannelAction, Failure, INVALID, say};
use crate::clock::SystemClock;
use crate::secrets::{EncryptedCredentials, SecretBox};
use crate::settings::Settings;
use crate::store::Store;

#[derive(Serialize)]
struct ChannelRow<'a> {
    id: &'a str,
    platform: super::PlatformKind,
    enabled: bool,
    authorized: bool,
    access_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    refresh_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(flatten)]
    health: crate::store::ChannelHealth,
}

fn failed(code: u8, line: String) -> Failure {
    Failure {
        code,
        lines: vec![format!("error: {line}")],
    }
}

pub(crate) async fn run(
    settings: &Settings,
    store: Arc<dyn Store>,
    action: Option<ChannelAction>,
    json: bool,
) -> Result<(), Failure> {
    let secrets =
        SecretBox::load(&settings.secrets.key_file).map_err(|e| failed(1, e.to_string()))?;
    let credentials: Arc<dyn CredentialStore> =
        Arc::new(EncryptedCredentials::new(store.clone(), secrets));
    let context = Context {
        credentials: credentials.clone(),
        events: Arc::new(LogOnly),
        clock: Arc::new(SystemClock),
        allow_plaintext_secrets: settings.allow_plaintext_secrets,
    };
    match action {
        None => list(settings, store.as_ref(), credentials.as_ref(), json).await,
        Some(ChannelAction::Connect { channel }) => {
            let channel = find(settings, &channel)?;
            let redirect = channel.redirect_url.as_deref().ok_or_else(|| {
                failed(INVALID, format!("channels.{}.redirect_url: is required to connect (the URL registered with the platform)", channel.id))
            })?;
            let client =
                ChannelClient::build(channel, &context, None).map_err(|e| failed(INVALID, e))?;
            let link = client
                .auth_link(redirect)
                .map_err(|e| failed(INVALID, e.to_string()))?;
            say!(
                "Open this page as the seller of {} and approve chosync:\n{link}",
                channel.id
            );
            Ok(())
        }
        Some(ChannelAction::Authorize {
            channel,
            code,
            shop_id,
        }) => {
            let channel = find(settings, &channel)?;
            let client =
                ChannelClient::build(channel, &context, shop_id).map_err(|e| failed(INVALID, e))?;
            client
                .authorize(&code)
                .await
                .map_err(|e| failed(1, format!("{}: {e}", channel.id)))?;
            let tokens = credentials
                .load(&channel.id)
                .await
                .map_err(|e| failed(1, e.to_string()))?;
            let until = tokens
                .map(|t| t.access_expires_at.to_rfc3339())
                .unwrap_or_default();
            say!(
                "{} is authorized; its access token is valid until {until} and is refreshed before then",
                channel.id
            );
            Ok(())
        }
    }
}

fn find<'a>(settings: &'a Settings, id: &str) -> Result<&'a ChannelSettings, Failure> {
    settings.channel(id).ok_or_else(|| {
        let known: Vec<&str> = settings.channels.iter().map(|c| c.id.as_str()).collect();
        failed(
            INVALID,
            format!(
                "no channel \"{id}\" in the configuration (configured: {})",
                known.join(", ")
            ),
        )
    })
}

async fn list(
    settings: &Settings,
    store: &dyn Store,
    credentials: &dyn CredentialStore,
    json: bool,
) -> Result<(), Failure> {
    let mut rows = Vec::new();
    for channel in &settings.channels {
        let tokens = credentials
            .load(&channel.id)
            .await
            .map_err(|e| failed(1, e.to_string()))?;
        let health = store
            .channel_health(&channel.id)
            .await
            .map_err(|e| failed(1, e.to_string()))?;
        rows.push(ChannelRow {
            health,
            id: &channel.id,
            platform: channel.platform,
            enabled: channel.enabled,
            authorized: tokens.is_some(),
            access_expires_at: tokens.as_ref().map(|t| t.access_expires_at),
            refresh_expires_at: tokens.as_ref().and_then(|t| t.refresh_expires_at),
        });
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    say!(
        "{:<24} {:<8} {:<8} {:<22} {:<22} {:>7} {:>11}  LAST ERROR",
        "CHANNEL",
        "PLATFORM",
        "ENABLED",
        "ACCESS TOKEN UNTIL",
        "LAST SUCCESS",
        "QUEUED",
        "QUARANTINED"
    );
    for row in rows {
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "-".to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        let access = if row.authorized {
            when(row.access_expires_at)
        } else {
            "not authorized".into()
        };
        say!(
            "{:<24} {:<8} {:<8} {:<22} {:<22} {:>7} {:>11}  {}",
            row.id,
            format!("{:?}", row.platform).to_lowercase(),
            if row.enabled { "yes" } else { "no" },
            access,
            when(row.health.last_success),
            row.health.queued_tasks,
            row.health.quarantined_skus,
            row.health.last_error.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// `chosync sync`: one pass over every enabled channel (or the one named).
/// A channel ready for a pass: its client (reporting to `events`) and mapping.
struct Prepared<'a> {
    settings: &'a ChannelSettings,
    client: ChannelClient,
    mapping: crate::channels::mapping::Mapping,
    events: Arc<crate::sync::CallLog>,
}

fn prepare<'a>(
    settings: &'a Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
) -> Result<Vec<Prepared<'a>>, Failure> {
    let channels: Vec<&ChannelSettings> = match only {
        Some(id) => vec![find(settings, id)?],
        None => settings.channels.iter().filter(|c| c.enabled).collect(),
    };
    let secrets =
        SecretBox::load(&settings.secrets.key_file).map_err(|e| failed(1, e.to_string()))?;
    let credentials: Arc<dyn CredentialStore> =
        Arc::new(EncryptedCredentials::new(store.clone(), secrets));
    channels
        .into_iter()
        .map(|channel| {
            let events = Arc::new(crate::sync::CallLog::default());
            let context = Context {
                credentials: credentials.clone(),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                allow_plaintext_secrets: settings.allow_plaintext_secrets,
            };
            Ok(Prepared {
                settings: channel,
                client: ChannelClient::build(channel, &context, None)
                    .map_err(|e| failed(INVALID, e))?,
                mapping: channel
                    .load_mapping(&settings.config_dir)
                    .map_err(|e| failed(INVALID, e))?,
                events,
            })
        })
        .collect()
}

/// What `chosync sync` was asked.
pub(crate) struct SyncRequest<'a> {
    pub only: Option<&'a str>,
    pub retry: bool,
    pub json: bool,
}

pub(crate) async fn sync(
    settings: &Settings,
    store: Arc<dyn Store>,
    request: SyncRequest<'_>,
    options: &crate::sync::Options,
) -> Result<(), Failure> {
    let SyncRequest { only, retry, json } = request;
    let mut summaries = Vec::new();
    let mut refusals = Vec::new();
    let bars = indicatif::MultiProgress::new();
    let style = indicatif::ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} tasks")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
    let channels = prepare(settings, &store, only)?;
    // One worker per channel: the channels' passes run side by side, each
    // within its own platform's limits.
    let passes = channels.iter().map(|channel| {
        let bar = bars.add(indicatif::ProgressBar::new(0).with_style(style.clone()));
        let options = crate::sync::Options {
            progress: Arc::new(SyncBar(bar)),
            ..options.clone()
        };
        let store = store.clone();
        async move {
            let id = &channel.settings.id;
            if retry {
                let touched = store.retry_channel(id).await?;
                tracing::info!(channel = %id, tasks = touched, "retry requested");
            }
            let pass = crate::sync::Channel {
                settings: channel.settings,
                mapping: &channel.mapping,
                client: &channel.client,
                events: channel.events.clone(),
            };
            crate::sync::sync_channel(store.as_ref(), &pass, &options).await
        }
    });
    let results = futures_util::future::join_all(passes).await;
    bars.clear().ok();
    let mut failures = Vec::new();
    for (channel, result) in channels.iter().zip(results) {
        let summary = match result {
            Ok(summary) => summary,
            Err(
                err @ (crate::sync::SyncError::Refused(_) | crate::sync::SyncError::Busy { .. }),
            ) => {
                // The other channels still sync; the command fails at the end.
                refusals.push(format!("error: {err}"));
                continue;
            }
            Err(err) => {
                failures.push(format!("error: {}: {err}", channel.settings.id));
                continue;
            }
        };
        if !json {
            let c = &summary.counts;
            say!(
                "{}: pushed {}, unchanged {}, failed {}, quarantined {}, {} calls ({} throttled) in {:.1} s",
                summary.channel,
                c.pushed,
                c.skipped,
                c.failed,
                c.quarantined,
                c.calls,
                c.throttled,
                summary.seconds
            );
            if summary.deferred > 0 {
                say!(
                    "{}: {} tasks wait after failures (backoff); `chosync sync --retry` takes them now",
                    summary.channel,
                    summary.deferred
                );
            }
        }
        summaries.push(summary);
    }
    if !failures.is_empty() {
        failures.append(&mut refusals);
        return Err(Failure {
            code: 1,
            lines: failures,
        });
    }
    let kept = chrono::Duration::days(i64::from(settings.sync.log_retention_days));
    let pruned = store
        .prune_sync_log(crate::clock::Clock::now(&SystemClock) - kept)
        .await
        .map_err(|e| failed(1, format!("pruning the sync log: {e}")))?;
    if pruned > 0 {
        tracing::info!(
            rows = pruned,
            days = settings.sync.log_retention_days,
            "sync log pruned"
        );
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&summaries).unwrap_or_default()
        );
    }
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            lines: refusals,
        })
    }
}

/// A progress bar on a terminal (hidden otherwise), one pass at a time.
struct SyncBar(indicatif::ProgressBar);

impl crate::sync::SyncProgress for SyncBar {
    fn start(&self, channel: &str, tasks: u64) {
        self.0.set_message(channel.to_string());
        self.0.set_length(tasks);
        self.0.set_position(0);
    }

    fn settled(&self, tasks: u64) {
        self.0.inc(tasks);
    }
}

pub(crate) async fn plan(
    settings: &Settings,
    store: Arc<dyn Store>,
    only: Option<&str>,
    kind: crate::sync::Kind,
    json: bool,
) -> Result<(), Failure> {
    let mut plans = Vec::new();
    for channel in prepare(settings, &store, only)? {
        let plan =
            crate::sync::plan_channel(store.as_ref(), channel.settings, &channel.client, kind)
                .await
                .map_err(|e| failed(1, format!("{}: {e}", channel.settings.id)))?;
        if !json {
            print_plan(&plan);
        }
        plans.push(plan);
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&plans).unwrap_or_default()
        );
    }
    Ok(())
}

fn print_plan(plan: &crate::sync::Plan) {
    say!(
        "{}: create {} listings, update {}, delist {}, {} price and {} stock changes, {} unchanged; at least {} calls",
        plan.channel,
        plan.creates.len(),
        plan.content_updates.len(),
        plan.delists.len(),
        plan.prices.len(),
        plan.stocks.len(),
        plan.unchanged,
        plan.min_calls
    );
    for listing in &plan.creates {
        say!(
            "  create  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    for listing in &plan.content_updates {
        say!(
            "  update  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    for listing in &plan.delists {
        say!(
            "  delist  {} ({})",
            listing.product_id,
            listing.skus.join(", ")
        );
    }
    let old = |v: Option<i64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    for change in &plan.prices {
        say!(
            "  price   {}: {} → {} VND",
            change.sku,
            old(change.old),
            change.new
        );
    }
    for change in &plan.stocks {
        say!(
            "  stock   {}: {} → {}",
            change.sku,
            old(change.old),
            change.new
        );
    }
    if plan.deferred > 0 {
        say!(
            "  waiting: {} tasks after failures (backoff; `chosync sync --retry` takes them now)",
            plan.deferred
        );
    }
    if let Some(reason) = plan.guard() {
        say!("  guard: {reason}");
    }
}

/// How far back `--since 30m|1h|2d|1w` reaches.
pub(crate) fn parse_since(text: &str) -> Option<chrono::Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n >= 0)?;
    match unit {
        "m" => Some(chrono::Duration::minutes(n)),
        "h" => Some(chrono::Duration::hours(n)),
        "d" => Some(chrono::Duration::days(n)),
        "w" => Some(chrono::Duration::weeks(n)),
        _ => None,
    }
}

/// `chosync logs`: the sync log, newest first.
pub(crate) async fn logs(
    store: &dyn Store,
    filter: crate::store::LogFilter,
    json: bool,
) -> Result<(), Failure> {
    let entries = store
        .sync_log(&filter)
        .await
        .map_err(|e| failed(1, e.to_string()))?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&entries).unwrap_or_default()
        );
        return Ok(());
    }
    for e in &entries {
        print_log_row(e);
    }
    Ok(())
}

fn print_log_row(e: &crate::store::LogEntry) {
    say!(
        "{}  {:<18} {:<14} {:<40} attempt {} {:>5} ms  {}{}  [{}] {}",
        e.created_at.format("%Y-%m-%d %H:%M:%S"),
        e.channel,
        e.call.outcome,
        e.call.action,
        e.call.attempt,
        e.call.latency_ms,
        e.call
            .platform_code
            .as_deref()
            .map(|c| format!("{c}: "))
            .unwrap_or_default(),
        e.call.message.as_deref().unwrap_or(""),
        e.call.skus,
        e.call.cause
    );
}

/// Row ids a follower looks back over: rows committed out of id order (two
/// passes recording at once) within this window are still shown, once.
const FOLLOW_WINDOW: i64 = 1_000;

/// `logs --follow`: the newest rows, oldest first, then every new row as it
/// is recorded, until Ctrl-C.
pub(crate) async fn follow_logs(
    store: &dyn Store,
    mut filter: crate::store::LogFilter,
    json: bool,
) -> Result<(), Failure> {
    let mut shown = std::collections::BTreeSet::new();
    // The newest rows first; older rows of the look-back window count as
    // shown, so only rows recorded from now on follow them.
    let newest = store
        .sync_log(&filter)
        .await
        .map_err(|e| failed(1, e.to_string()))?
        .first()
        .map_or(0, |e| e.id);
    let window = crate::store::LogFilter {
        after_id: Some((newest - FOLLOW_WINDOW).max(0)),
        limit: 10_000,
        ..filter.clone()
    };
    for e in store
        .sync_log(&window)
        .await
        .map_err(|e| failed(1, e.to_string()))?
    {
        if e.id <= newest {
            shown.insert(e.id);
        }
    }
    let mut first = true;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let mut entries = store
            .sync_log(&filter)
            .await
            .map_err(|e| failed(1, e.to_string()))?;
        entries.reverse();
        for e in &entries {
            // New rows, and on the first read the newest ones (marked above).
            let newest_at_start = first && e.id <= newest;
            if !(shown.insert(e.id) || newest_at_start) {
                continue;
            }
            if json {
                say!("{}", serde_json::to_string(e).unwrap_or_default());
            } else {
                print_log_row(e);
            }
        }
        first = false;
        let newest = shown.last().copied().unwrap_or(0);
        shown.retain(|id| *id > newest - FOLLOW_WINDOW);
        filter.after_id = Some((newest - FOLLOW_WINDOW).max(0));
        filter.limit = filter.limit.max(10_000);
        tokio::select! {
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// What `check-config` finds of the platforms' mandatory attributes.
#[derive(Default)]
pub(crate) struct AttributeCheck {
    /// Mandatory attributes a mapping leaves out (or that cannot be read).
    pub problems: Vec<String>,
    /// Channels not checked, and why.
    pub notes: Vec<String>,
}

/// Asks each enabled, authorized channel which attributes its platform
/// requires for every mapped category that active products use, and names
/// those the channel's mapping does not give.
pub(crate) async fn missing_attributes(
    settings: &Settings,
    store: &Arc<dyn Store>,
) -> Result<AttributeCheck, Failure> {
    let mut check = AttributeCheck::default();
    let used = store
        .categories()
        .await
        .map_err(|e| failed(1, e.to_string()))?;
    let mut authorized = Vec::new();
    for channel in settings.channels.iter().filter(|c| c.enabled) {
        let sealed = store
            .sealed_credentials(&channel.id)
            .await
            .map_err(|e| failed(1, e.to_string()))?;
        match sealed {
            Some(_) => authorized.push(channel.id.as_str()),
            None => check.notes.push(format!(
                "channels.{}: not authorized yet, so its platform's mandatory attributes were not checked",
                channel.id
            )),
        }
    }
    if used.is_empty() || authorized.is_empty() {
        return Ok(check);
    }
    for channel in prepare(settings, store, None)? {
        let id = &channel.settings.id;
        if !authorized.contains(&id.as_str()) {
            continue;
        }
        let connector = channel.client.connector();
        match connector
            .logistics_problems(&channel.mapping.logistics)
            .await
        {
            Ok(problems) => check.problems.extend(
                problems
                    .into_iter()
                    .map(|problem| format!("channels.{id}.mapping: {problem}")),
            ),
            Err(err) => check.problems.push(format!(
                "channels.{id}.mapping: the shop's logistics channels could not be read: {err}"
            )),
        }
        for (category, _) in &used {
            let Some(mapped) = channel.mapping.category(category) else {
                continue; // reported as unmapped
            };
            let required = connector.required_attributes(&mapped.id);
            match required.await {
                Ok(required) => {
                    for attribute in required {
                        let given = mapped
                            .attributes
                            .get(&attribute.id)
                            .is_some_and(|v| !v.trim().is_empty());
                        if !given {
                            check.problems.push(format!(
                                "channels.{id}.mapping: category \"{category}\" (platform category {}) needs attribute \"{}\" ({}); add it to the category's attributes",
                                mapped.id, attribute.id, attribute.name
                            ));
                        }
                    }
                }
                Err(err) => check.problems.push(format!(
                    "channels.{id}.mapping: the attributes of platform category {} (for \"{category}\") could not be read: {err}",
                    mapped.id
                )),
            }
            // A mapped value the platform only takes from its list must be
            // one of its options.
            if let Ok(described) = connector.category_attributes(&mapped.id).await {
                for (attribute, value) in &mapped.attributes {
                    let Some(spec) = described.iter().find(|s| &s.id == attribute) else {
                        continue;
                    };
                    if !spec.allows(value) {
                        check.problems.push(format!(
                            "channels.{id}.mapping: category \"{category}\" attribute \"{attribute}\" ({}): {}",
                            spec.name,
                            spec.not_an_option(value)
                        ));
                    }
                }
            }
        }
    }
    Ok(check)
}
