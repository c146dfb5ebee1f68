//! `chosync reconcile`: compare each channel's stock on the platform with
//! what chosync set and wants, and correct what differs.

use std::sync::Arc;
use std::time::Duration;

use super::{Failure, say};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::Options;
use crate::sync::reconcile::{Class, ReconcileReport, reconcile_channels};

pub(super) async fn run(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let options = Options {
        lease: Duration::from_secs(settings.sync.lease_seconds.into()),
        ..Options::new("cli")
    };
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for channel in reconcile_channels(settings, store, only, &options).await? {
        match channel.result {
            Ok(report) => {
                if !json {
                    show(&report);
                }
                reports.push(report);
            }
            Err(err) => failures.push(format!("error: {}: {err}", channel.channel)),
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

fn show(r: &ReconcileReport) {
    let classes: Vec<String> = Class::ALL
        .iter()
        .filter_map(|c| r.differences.get(c).map(|n| format!("{} {n}", c.as_str())))
        .collect();
    let classes = if classes.is_empty() {
        String::new()
    } else {
        format!(" ({})", classes.join(", "))
    };
    say!(
        "{}: read {} listings ({} SKUs), {} matching, {} different{classes}, {} corrected, {} alerts raised, {} resolved in {:.1} s",
        r.channel,
        r.listings,
        r.skus,
        r.matching,
        r.different(),
        r.corrected,
        r.alerts_raised,
        r.alerts_resolved,
        r.seconds
    );
    for f in &r.findings {
        let pushed = f
            .push
            .map_or_else(|| "left as it is".to_string(), |p| format!("pushed {p}"));
        say!(
            "  {} {}: shows {}, wants {}, {pushed}",
            f.class.as_str(),
            f.sku,
            f.remote,
            f.wanted
        );
    }
    if !r.unmanaged.is_empty() {
        say!(
            "  not chosync's listings (left alone): {}",
            r.unmanaged.join(", ")
        );
    }
    if !r.missing.is_empty() {
        say!("  not shown by the platform: {}", r.missing.join(", "));
    }
}
