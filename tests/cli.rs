//! The `chosync` binary as a user runs it: output, exit codes, files.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{demo_catalogue, file};

fn chosync(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chosync"))
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("CHOSYNC__DATABASE__URL")
        .env_remove("CHOSYNC_CONFIG")
        .output()
        .expect("run chosync")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn importing_the_sample_reports_counts_and_json() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let sample = demo_catalogue();
    let out = chosync(&db, &["import", sample.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("products  14 created, 0 updated, 0 unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SKUs      32 created, 0 updated, 0 unchanged"),
        "{stdout}"
    );

    let out = chosync(&db, &["import", "--json", sample.to_str().expect("utf-8")]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["skus"]["unchanged"], 32);
    assert_eq!(report["stock_movements"], 0);
}

#[test]
fn an_invalid_file_exits_2_and_lists_every_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let (_d, bad) = file(
        "hàng.csv",
        "product_id,name,sku,price,stock\nP1,Nấm,N-1,\"12,5\",1\nP2,,M-1,45000,-1\n",
    );
    let out = chosync(&db, &["import", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let shown = bad.display();
    assert_eq!(
        text(&out.stderr),
        format!(
            "{shown}:2:D: price \"12,5\" has a fractional part; it must be a whole number of VND\n\
             {shown}:3:B: name is empty (no row of product \"P2\" gives one)\n\
             {shown}:3:E: stock \"-1\" must be 0 or more\n"
        )
    );
    let out = chosync(&db, &["stock", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(rows, serde_json::json!([]), "nothing imported");
}

#[test]
fn a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let sample = demo_catalogue();
    let out = chosync(
        &db,
        &["import", "--dry-run", sample.to_str().expect("utf-8")],
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("dry run: nothing was written"));
    let out = chosync(&db, &["stock", "--json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
}

#[test]
fn stock_adjustments_are_recorded_and_a_negative_result_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    chosync(&db, &["import", demo_catalogue().to_str().expect("utf-8")]);
    let out = chosync(
        &db,
        &[
            "stock",
            "adjust",
            "TDQ-10ML",
            "-5",
            "--reason",
            "vỡ khi đóng gói",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "TDQ-10ML: on hand 115 (-5), reserved 0, available 115\n"
    );
    let out = chosync(
        &db,
        &["stock", "adjust", "TDQ-10ML", "-116", "--reason", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: stock of TDQ-10ML would fall to -1; stock cannot go below zero (on hand: 115)\n"
    );
    let out = chosync(&db, &["stock"]);
    let listing = text(&out.stdout);
    assert!(
        listing.ends_with("14 products, 32 SKUs, 2925 units on hand\n"),
        "{listing}"
    );
    let out = chosync(&db, &["stock", "TDQ-10ML", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["stock"]["on_hand"], 115);
    assert_eq!(shown["movements"][0]["reason"], "vỡ khi đóng gói");
    assert_eq!(shown["movements"][0]["kind"], "adjust");
    assert_eq!(shown["movements"][1]["kind"], "count");
}

#[test]
fn export_writes_csv_and_xlsx_that_import_unchanged() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    chosync(&db, &["import", demo_catalogue().to_str().expect("utf-8")]);
    for name in ["out.csv", "out.xlsx"] {
        let path = dir.path().join(name);
        let out = chosync(&db, &["export", path.to_str().expect("utf-8")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = chosync(&db, &["import", "--json", path.to_str().expect("utf-8")]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["skus"]["unchanged"], 32, "{name}");
    }
}

#[test]
fn a_bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[database]\nurl = \"mysql://u:hunter2@h/db\"\n").expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("database.url: \"mysql://u:***@h/db\" is not a database URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "secrets never printed");

    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/chosync.toml");
    let out = chosync(
        &db,
        &["--config", good.to_str().expect("utf-8"), "check-config"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn check_config_lists_the_allocations_problems() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("allocation.toml");
    let text_of_config = "[allocation]\nmode = \"partitioned\"\nlow_stock_threshold = -1\n\
        [[allocation.groups]]\nname = \"honey\"\nmode = \"shared\"\n";
    std::fs::write(&config, text_of_config).expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("allocation.low_stock_threshold: must be 0 (never) or more"),
        "{stderr}"
    );
    assert!(
        stderr.contains("allocation.groups.honey.categories: the group names no categories"),
        "{stderr}"
    );
}

/// `[alerts]` targets are checked with the configuration: kinds, URLs (one
/// named by a variable that is not set) and the interval; and the admin
/// listener's address.
#[test]
fn check_config_names_the_alert_targets_problems() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("alerts.toml");
    std::fs::write(
        &config,
        "[alerts]\ninterval_minutes = 0\n\
         [[alerts.deliver]]\nkinds = [\"oversold\", \"sold-out\"]\n\
         url = { env = \"CHOSYNC_TEST_NO_SUCH_ALERT_URL\" }\n",
    )
    .expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for problem in [
        "alerts.interval_minutes: must be at least 1",
        "alerts.deliver[0].kinds: \"sold-out\" is not an alert kind",
        "alerts.deliver[0].url: environment variable CHOSYNC_TEST_NO_SUCH_ALERT_URL is not set",
    ] {
        assert!(stderr.contains(problem), "{problem}: {stderr}");
    }
    std::fs::write(&config, "[server]\nadmin_listen = \"9090\"\n").expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "server.admin_listen: \"9090\" is not an address to listen on, e.g. 127.0.0.1:9090"
        ),
        "{stderr}"
    );
}

/// A spreadsheet channel's layouts are checked with its settings: every
/// problem named under the channel's mapping, with its key in the file.
#[test]
fn check_config_names_a_spreadsheet_channels_layout_problems() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    std::fs::write(
        dir.path().join("sheet.toml"),
        "[sheet]\nfile = \"san-pham.pdf\"\n[[sheet.columns]]\nheader = \"Giá\"\nvalue = \"price\"\n\
         [orders]\ntime_format = \"%d/%m/%Y\"\n[orders.columns]\norder_id = \"Mã đơn\"\nsku = \"SKU\"\n\
         quantity = \"SL\"\nstatus = \"Trạng thái\"\ncreated_at = \"Ngày\"\n\
         [orders.statuses]\n\"Đã hủy\" = \"huy\"\n",
    )
    .expect("mapping");
    let config = dir.path().join("chosync.toml");
    std::fs::write(
        &config,
        "[[channels]]\nid = \"tiki-sheet\"\nplatform = \"spreadsheet\"\nmapping = \"sheet.toml\"\n",
    )
    .expect("config");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for expected in [
        "channels.tiki-sheet.folder: is required for this platform",
        "channels.tiki-sheet.mapping: sheet.file",
        "must end in .csv or .xlsx",
        "sku",
        "huy",
    ] {
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    assert!(
        !stderr.contains("base_url"),
        "no API host for files: {stderr}"
    );
}

/// A channel check-config accepts without a mapping or a platform: disabled.
const SCHEDULED_CHANNEL: &str = "allow_plaintext_secrets = true\n\
    [schedule]\ntimezone = \"Asia/Ho_Chi_Minh\"\n\
    [[channels]]\nid = \"shopee-a\"\nplatform = \"shopee\"\nenabled = false\n\
    base_url = \"https://partner.shopeemobile.com\"\npartner_id = 1\npartner_key = \"k\"\n\
    shop_id = 2\nschedule = { reconcile = \"0 0 0 * * MON-FRI\" }\n";

#[test]
fn check_config_prints_the_next_three_fire_times_of_every_schedule() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("scheduled.toml");
    std::fs::write(&config, SCHEDULED_CHANNEL).expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("configuration is valid (1 channels)"));
    assert_eq!(lines.next(), Some("next fire times (Asia/Ho_Chi_Minh):"));
    let rows: Vec<&str> = lines.collect();
    let kinds: Vec<&str> = rows
        .iter()
        .map(|row| row.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "catalogue",
            "stock",
            "price",
            "orders",
            "reconcile",
            "tokens",
            "prune"
        ],
        "{stdout}"
    );
    // Reconcile at local midnight on weekdays: three times, each 00:00:00
    // on a Monday to Friday, in the configured zone.
    let reconcile = rows[4];
    assert!(reconcile.contains("0 0 0 * * MON-FRI"), "{reconcile}");
    let times: Vec<&str> = reconcile
        .split("MON-FRI")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(times.len(), 3, "{reconcile}");
    for time in times {
        let local = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
            .unwrap_or_else(|e| panic!("{time}: {e}"));
        assert_eq!(local.time(), chrono::NaiveTime::MIN, "{time}");
        use chrono::Datelike;
        assert!(
            local.weekday().number_from_monday() <= 5,
            "{time} is a weekday"
        );
    }
    assert!(!db.exists(), "check-config creates no database");
}

#[test]
fn schedules_shows_each_schedules_last_and_next_run() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("scheduled.toml");
    std::fs::write(&config, SCHEDULED_CHANNEL).expect("write");
    let out = chosync(
        &db,
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "schedules",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["timezone"], "Asia/Ho_Chi_Minh");
    let schedules = shown["schedules"].as_array().expect("schedules");
    assert_eq!(schedules.len(), 7);
    let reconcile = &schedules[4];
    assert_eq!(reconcile["channel"], "shopee-a");
    assert_eq!(reconcile["kind"], "reconcile");
    assert_eq!(reconcile["expression"], "0 0 0 * * MON-FRI");
    assert_eq!(reconcile["last"], serde_json::Value::Null);
    let next = reconcile["next"][0].as_str().expect("next run");
    assert!(next.ends_with("T00:00:00+07:00"), "{next}");

    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "schedules"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("times in Asia/Ho_Chi_Minh\n"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.contains("reconcile"))
        .expect("reconcile row");
    assert!(row.starts_with("shopee-a (disabled)"), "{row}");
    assert!(row.contains("never"), "{row}");
    assert!(row.trim_end().ends_with("00:00:00"), "{row}");
}

#[test]
fn an_unknown_time_zone_exits_2() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("c.db");
    let config = dir.path().join("zone.toml");
    std::fs::write(&config, "[schedule]\ntimezone = \"Mars/Olympus\"\n").expect("write");
    let out = chosync(
        &db,
        &["--config", config.to_str().expect("utf-8"), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("schedule.timezone: \"Mars/Olympus\" is not an IANA time zone"),
        "{stderr}"
    );
}

#[test]
fn an_environment_variable_overrides_the_config_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .args(["check-config"])
        .env("CHOSYNC__LOG__LEVEL", "chosync=[")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("log.level: \"chosync=[\" is not a log filter"));
}

#[test]
fn a_database_password_never_appears_in_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .args([
            "--database",
            "postgres://chosync:hunter2@127.0.0.1:1/chosync?password=s3cret",
            "migrate",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("postgres://chosync:***@127.0.0.1:1/chosync?password=***"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("s3cret"),
        "{stderr}"
    );
}

#[test]
fn an_unsupported_database_url_is_refused_without_its_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .args(["--database", "mysql://u:s3cret@h/db", "stock"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: database URL \"mysql://u:***@h/db\" is not supported; use sqlite://FILE or postgres://…\n"
    );
}

#[tokio::test]
async fn the_shopee_sandbox_runs_standalone_and_announces_itself() {
    use std::sync::Arc;

    use chosync::clock::SystemClock;
    use chosync_connector::Connector;
    use chosync_connector::credentials::MemoryCredentials;
    use chosync_connector::events::LogOnly;

    let sandbox = common::process::sandbox("shopee", &["--rate", "50"]);
    let announced = &sandbox.announced;
    assert_eq!(announced["platform"], "shopee");
    let credentials = &announced["credentials"];
    let config = chosync_shopee::ShopeeConfig {
        channel: "shopee-cli".into(),
        base_url: announced["base_url"].as_str().expect("base_url").into(),
        partner_id: credentials["partner_id"].as_i64().expect("partner_id"),
        partner_key: credentials["partner_key"]
            .as_str()
            .expect("key")
            .to_string()
            .into(),
        shop_id: credentials["shop_id"].as_i64().expect("shop_id"),
        callback_url: None,
        limits: chosync_shopee::ShopeeConfig::default_limits(),
        http: Default::default(),
        tier_wait: chosync_shopee::TIER_WAIT,
    };
    let shopee = chosync_shopee::Shopee::new(
        config,
        Arc::new(MemoryCredentials::default()),
        Arc::new(LogOnly),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let exchanged = shopee
        .authorize(credentials["code"].as_str().expect("code"))
        .await;
    let listed = shopee.list_remote_listings(None).await;
    drop(sandbox);
    exchanged.expect("the announced code is exchanged");
    assert!(listed.expect("listing works").items.is_empty());
}

#[tokio::test]
async fn the_lazada_sandbox_runs_standalone_and_announces_its_auth_host() {
    use std::sync::Arc;

    use chosync::clock::SystemClock;
    use chosync_connector::Connector;
    use chosync_connector::credentials::MemoryCredentials;
    use chosync_connector::events::LogOnly;

    let sandbox = common::process::sandbox("lazada", &[]);
    let announced = &sandbox.announced;
    assert_eq!(announced["platform"], "lazada");
    let credentials = &announced["credentials"];
    let config = chosync_lazada::LazadaConfig {
        channel: "lazada-cli".into(),
        base_url: announced["base_url"].as_str().expect("base_url").into(),
        auth_url: announced["auth_url"].as_str().expect("auth_url").into(),
        app_key: credentials["app_key"].as_str().expect("app_key").into(),
        app_secret: credentials["app_secret"]
            .as_str()
            .expect("secret")
            .to_string()
            .into(),
        limits: chosync_lazada::LazadaConfig::default_limits(),
        http: Default::default(),
    };
    let lazada = chosync_lazada::Lazada::new(
        config,
        Arc::new(MemoryCredentials::default()),
        Arc::new(LogOnly),
        Arc::new(SystemClock),
    )
    .expect("connector");
    let exchanged = lazada
        .authorize(credentials["code"].as_str().expect("code"))
        .await;
    let found = lazada.find_listing_by_sku("NONE").await;
    drop(sandbox);
    exchanged.expect("the announced code is exchanged");
    assert!(found.expect("lookup works").is_none());
}
