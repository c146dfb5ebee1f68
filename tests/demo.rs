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
    let mut child = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .current_dir(dir.path())
        .args(["demo", "--json", "--duration", duration, "--dir"])
        .arg(&demo_dir)
        .arg("--catalogue")
        .arg(sample())
        .env_remove("CHOSYNC_SECRET_KEY")
        .env_remove("CHOSYNC_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the demo");
    // Read while it runs: the dashboard's address and token come first.
    let (lines, said_so_far) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let (mut base, mut token) = (None, None);
    while base.is_none() || token.is_none() {
        let Ok(line) = said_so_far.recv_timeout(std::time::Duration::from_secs(120)) else {
            break;
        };
        if let Some(url) = line.strip_prefix("dashboard: ") {
            base = Some(url.trim_end_matches('/').to_string());
        }
        if let Some(t) = line.strip_prefix("token: ") {
            token = Some(t.to_string());
        }
    }
    // The log goes on to stderr all along: read it, or the demo blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        use std::io::Read;
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (base, token) = (
        base.expect("the dashboard's address"),
        token.expect("a token"),
    );
    // Metrics and the API while buyers order (series labelled by channel only).
    std::thread::sleep(std::time::Duration::from_secs(12));
    let (metrics, channels) = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let http = reqwest::Client::new();
            let metrics = http
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("metrics");
            assert_eq!(metrics.status(), reqwest::StatusCode::OK);
            let channels: Value = http
                .get(format!("{base}/api/v1/channels"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("API")
                .json()
                .await
                .expect("JSON");
            (metrics.text().await.expect("text"), channels)
        });
    assert_eq!(channels.as_array().map(Vec::len), Some(5), "{channels}");
    for series in [
        "chosync_calls_total{channel=\"shopee-demo\"",
        "chosync_calls_total{channel=\"sendo-demo\"",
        "chosync_call_duration_seconds_bucket{channel=\"lazada-demo\"",
        "chosync_propagation_seconds_count{channel=",
        "chosync_work_waiting{channel=\"voso-demo\",aspect=\"stock\"}",
        "chosync_token_expiry_seconds{channel=\"shopee-demo\"}",
        "chosync_quarantined_skus{channel=\"shopee-demo\"}",
        "chosync_order_import_lag_seconds{channel=",
    ] {
        assert!(metrics.contains(series), "{series} in:\n{metrics}");
    }
    let catalogue = std::fs::read_to_string(sample()).expect("catalogue");
    for sku in catalogue
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(5))
    {
        assert!(
            !metrics.contains(&format!("\"{sku}\"")),
            "a label carries SKU {sku}"
        );
    }
    let status = child.wait().expect("the demo ends");
    let said = reader.join().expect("reader");
    let stderr = errors.join().expect("stderr reader");
    struct Out {
        status: std::process::ExitStatus,
        stderr: Vec<u8>,
    }
    let out = Out {
        status,
        stderr: stderr.into_bytes(),
    };
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
