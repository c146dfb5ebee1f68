//! `chosync demo --duration`: the whole system at work on the built-in
//! sandboxes for a while, its summary, and its data read by the CLI after
//! it ended. `CHOSYNC_LONG_TESTS=1` runs the buyers for two minutes instead
//! of twenty seconds.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/catalogue.csv")
}

/// `chosync --config DIR/chosync.toml ARGS…`, as an operator runs it.
fn chosync(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chosync"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("CHOSYNC_SECRET_KEY")
        .env_remove("CHOSYNC__DATABASE__URL")
        .output()
        .expect("run chosync")
}

#[test]
fn the_demo_with_a_duration_sums_up_a_system_that_kept_up_and_leaves_its_data_readable() {
    let long = std::env::var("CHOSYNC_LONG_TESTS").is_ok_and(|v| v == "1");
    let duration = if long { "120s" } else { "20s" };
    let dir = tempfile::tempdir().expect("dir");
    let demo_dir = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .current_dir(dir.path())
        .args(["demo", "--json", "--duration", duration, "--dir"])
        .arg(&demo_dir)
        .arg("--catalogue")
        .arg(sample())
        .env_remove("CHOSYNC_SECRET_KEY")
        .env_remove("CHOSYNC_CONFIG")
        .output()
        .expect("run the demo");
    let said = text(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        text(&out.stderr)
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(said.contains("logs --follow"), "where to look: {said}");
    let summary: Value = serde_json::from_str(said.lines().last().expect("a summary line"))
        .unwrap_or_else(|e| panic!("the last line is the summary as JSON ({e}): {said}"));
    let number = |pointer: &str| {
        summary
            .pointer(pointer)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("no {pointer} in {summary}"))
    };
    assert!(number("/orders/placed") > 0.0, "{summary}");
    assert_eq!(
        number("/orders/recorded"),
        number("/orders/placed"),
        "{summary}"
    );
    // Every line reserved once, and released again if its order was cancelled.
    assert!(
        number("/orders/effects") >= number("/orders/lines") && number("/orders/lines") > 0.0,
        "{summary}"
    );
    assert!(number("/stock_pushes") > 0.0, "{summary}");
    assert_eq!(number("/oversold"), 0.0, "{summary}");
    assert_eq!(number("/throttled"), 0.0, "{summary}");
    assert!(number("/propagation/measured") > 0.0, "{summary}");
    assert_eq!(number("/propagation/unpropagated"), 0.0, "{summary}");
    assert!(
        number("/propagation/p99_ms") > 0.0
            && number("/propagation/p99_ms") >= number("/propagation/p50_ms"),
        "{summary}"
    );
    // Every SKU on every channel, not a sample: 32 SKUs on five channels
    // (the spreadsheet channel's sheet read back from its file).
    assert_eq!(summary["convergence"]["converged"], true, "{summary}");
    assert_eq!(number("/convergence/checked"), 160.0, "{summary}");
    assert_eq!(
        summary["convergence"]["mismatches"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "{summary}"
    );

    // The demo has ended; what it recorded stays readable.
    let config = demo_dir.join("chosync.toml");
    let listed = chosync(&config, &["orders", "--json", "--limit", "10000"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let orders: Value = serde_json::from_slice(&listed.stdout).expect("orders as JSON");
    let orders = orders.as_array().expect("a list");
    // The buyers' orders, and the two of the sample export the demo drops
    // into the spreadsheet channel's inbox before they start.
    assert_eq!(orders.len() as f64, number("/orders/placed") + 2.0);
    let on = |channel: &str| orders.iter().filter(|o| o["channel"] == channel).count();
    assert_eq!(on("sheet-demo"), 2, "{orders:?}");
    for channel in ["shopee-demo", "lazada-demo", "sendo-demo", "voso-demo"] {
        assert!(on(channel) > 0, "buyers order on {channel}: {orders:?}");
    }
    assert!(
        demo_dir.join("sheet/san-pham.xlsx").is_file()
            && demo_dir
                .join("sheet/inbox/imported")
                .read_dir()
                .map_or(0, |d| d.count())
                == 1,
        "the sheet written, the sample export imported and moved aside"
    );
    let cancelled = orders.iter().filter(|o| o["state"] == "cancelled").count();
    assert_eq!(cancelled as f64, number("/orders/cancelled"), "{orders:?}");
    let kept: Value = serde_json::from_slice(
        &std::fs::read(demo_dir.join("summary.json")).expect("summary.json kept"),
    )
    .expect("JSON");
    assert_eq!(kept, summary);
    // The accelerated schedules are valid: every channel has all seven.
    let checked = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .arg("--config")
        .arg(&config)
        .arg("--database")
        .arg(format!("sqlite://{}", dir.path().join("none.db").display()))
        .arg("check-config")
        .output()
        .expect("check-config");
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let fire_times = text(&checked.stdout);
    for channel in ["shopee-demo", "lazada-demo"] {
        for (kind, expression) in [("orders", "*/10 * * * * *"), ("stock", "*/30 * * * * *")] {
            assert!(
                fire_times
                    .lines()
                    .any(|l| l.contains(channel) && l.contains(kind) && l.contains(expression)),
                "{channel} {kind}: {fire_times}"
            );
        }
    }
}
