//! What more than one verb shows: passes over several channels, with their
//! progress bars and summary lines (`sync`, `demo`), and an authorization
//! (`channels authorize`, `demo`).

use std::sync::Arc;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{Failure, say};
use crate::channels::connect::Authorized;
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Options, SyncError, SyncProgress, sync_channels};

/// One pass on the channel named `only`, or on every enabled one, each line
/// printed as the pass ends (or all as JSON); then the sync log is pruned.
pub(super) async fn passes(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    retry: bool,
    options: &Options,
    json: bool,
) -> Result<(), Failure> {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{msg:>20} [{bar:40}] {pos}/{len} tasks")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let progress = |_: &_| -> Arc<dyn SyncProgress> {
        Arc::new(SyncBar(
            bars.add(ProgressBar::new(0).with_style(style.clone())),
        ))
    };
    let passes = sync_channels(settings, store, only, retry, options, progress).await?;
    bars.clear().ok();
    let mut summaries = Vec::new();
    let mut refusals = Vec::new();
    let mut failures = Vec::new();
    for pass in passes {
        let summary = match pass.result {
            Ok(summary) => summary,
            Err(err @ (SyncError::Refused(_) | SyncError::Busy { .. })) => {
                // The other channels still sync; the command fails at the end.
                refusals.push(format!("error: {err}"));
                continue;
            }
            Err(err) => {
                failures.push(format!("error: {}: {err}", pass.channel));
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
    crate::sync::log::prune_log(store.as_ref(), &settings.sync, None)
        .await
        .map_err(|e| Failure {
            code: 1,
            lines: vec![format!("error: pruning the sync log: {e}")],
        })?;
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
struct SyncBar(ProgressBar);

impl SyncProgress for SyncBar {
    fn start(&self, channel: &str, tasks: u64) {
        self.0.set_message(channel.to_string());
        self.0.set_length(tasks);
        self.0.set_position(0);
    }

    fn settled(&self, tasks: u64) {
        self.0.inc(tasks);
    }
}

pub(super) fn authorized(done: &Authorized) {
    let until = done
        .access_expires_at
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    say!(
        "{} is authorized; its access token is valid until {until} and is refreshed before then",
        done.channel
    );
}
