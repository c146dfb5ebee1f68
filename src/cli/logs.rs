//! `chosync logs`: the sync log, newest first, or followed until Ctrl-C.

use std::sync::Arc;

use super::{Failure, say};
use crate::clock::{Clock, SystemClock};
use crate::store::{LogEntry, LogFilter, Store};
use crate::sync::log::LogTail;

/// The filter the flags ask for.
pub(super) fn filter(
    channel: Option<String>,
    sku: Option<String>,
    since: Option<String>,
    level: Option<String>,
    limit: i64,
) -> Result<LogFilter, Failure> {
    let since = match since.as_deref() {
        None => None,
        Some(text) => {
            let span = super::span::parse(text).ok_or_else(|| {
                Failure::invalid(vec![format!(
                    "error: --since \"{text}\" is not like 30m, 1h, 2d or 1w"
                )])
            })?;
            Some(SystemClock.now() - span)
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
    Ok(LogFilter {
        channel,
        sku,
        since,
        errors_only,
        limit,
        ..Default::default()
    })
}

pub(super) async fn run(
    store: Arc<dyn Store>,
    filter: LogFilter,
    follow: bool,
    json: bool,
) -> Result<(), Failure> {
    if follow {
        return self::follow(store, filter, json).await;
    }
    let entries = store.sync_log(&filter).await.map_err(failed)?;
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&entries).unwrap_or_default()
        );
        return Ok(());
    }
    for e in &entries {
        print_row(e);
    }
    Ok(())
}

/// The newest rows, oldest first, then every new row as it is recorded
/// (JSON: one object per line), until Ctrl-C.
async fn follow(store: Arc<dyn Store>, filter: LogFilter, json: bool) -> Result<(), Failure> {
    let mut tail = LogTail::start(store, filter).await.map_err(failed)?;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        for e in &tail.next_batch().await.map_err(failed)? {
            if json {
                say!("{}", serde_json::to_string(e).unwrap_or_default());
            } else {
                print_row(e);
            }
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Any store error reading the log is a failure, never invalid input.
fn failed(err: crate::store::StoreError) -> Failure {
    Failure {
        code: 1,
        lines: vec![format!("error: {err}")],
    }
}

fn print_row(e: &LogEntry) {
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
