//! `chosync import FILE`: a catalogue file in, all rows or nothing, with a
//! progress bar on a terminal.

use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Failure, INVALID, say};
use crate::catalogue::import::{ImportError, ImportReport, Progress, import_file};
use crate::store::Store;

pub(super) async fn run(
    store: &dyn Store,
    file: &Path,
    dry_run: bool,
    json: bool,
) -> Result<(), Failure> {
    let progress = Arc::new(Bar::new());
    let result = import_file(store, file, dry_run, progress.clone()).await;
    progress.bar.finish_and_clear();
    match result {
        Ok(report) => {
            print(&report, json);
            Ok(())
        }
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
            Err(Failure {
                code,
                lines: err.lines(),
            })
        }
    }
}

fn print(report: &ImportReport, json: bool) {
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
