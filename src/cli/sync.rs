//! `chosync sync`: push the outbox's pending work to the channels, once.

use std::sync::Arc;
use std::time::Duration;

use super::{Failure, report, say};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Kind, Options};

pub(super) async fn run(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    kind: Kind,
    force: bool,
    retry: bool,
    json: bool,
) -> Result<(), Failure> {
    if kind == Kind::Orders {
        return orders(settings, store, only, json).await;
    }
    let options = Options {
        kind,
        force,
        lease: Duration::from_secs(settings.sync.lease_seconds.into()),
        ..Options::new("cli")
    };
    report::passes(settings, store, only, retry, &options, json).await
}

/// `sync --kind orders`: each channel's order poll, once.
async fn orders(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let imports =
        crate::orders::import_channels(settings, store, only, crate::orders::Source::Poll, "cli")
            .await?;
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for import in imports {
        match import.result {
            Ok(report) => {
                if !json {
                    say!(
                        "{}: {} orders read, {} new, {} moved stock ({} effects), {} waiting lines settled in {:.1} s",
                        report.channel,
                        report.fetched,
                        report.new,
                        report.changed,
                        report.effects,
                        report.settled,
                        report.seconds
                    );
                    if !report.waiting.is_empty() {
                        say!(
                            "  waiting for SKUs the catalogue does not know: {}",
                            report
                                .waiting
                                .iter()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                    if !report.oversold.is_empty() {
                        say!(
                            "  oversold: {} (see `chosync alerts`)",
                            report
                                .oversold
                                .iter()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    }
                }
                reports.push(report);
            }
            Err(err) => failures.push(format!("error: {}: {err}", import.channel)),
        }
    }
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            code: 1,
            lines: failures,
        })
    }
}
