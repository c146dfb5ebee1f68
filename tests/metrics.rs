//! `/metrics` of `chosync run` against Shopee and Lazada sandboxes on
//! loopback, on both databases: scraped over HTTP after a few orders, the
//! series are there with plausible values and no label carries a SKU or an
//! order id; with `[server] admin_listen` it is served there only.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::TestDb;
use common::daemon::{LAZADA, Rig, SHOPEE, eventually};

// `main` is written out below (one story at a time), not `on_both_engines!`.

/// Listed on both channels.
const SKUS: [&str; 2] = ["MD-500G", "MD-1KG"];

/// Long enough for the gauges' second refresh (every 15 s).
const GAUGES: Duration = Duration::from_secs(25);

/// One sample of the exposition: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the text format (0.0.4): `name{k="v",…} value` lines.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("closing brace");
                let labels = inner
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").expect("label pair");
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
            None => (series.to_string(), Vec::new()),
        };
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

async fn scrape(addr: std::net::SocketAddr) -> (String, Vec<Sample>) {
    let answer = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(answer.status(), 200);
    let kind = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = answer.text().await.expect("body");
    let samples = parse(&text);
    (text, samples)
}

/// The sum of `name`'s samples whose `channel` label is `channel`.
fn total(samples: &[Sample], name: &str, channel: &str) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.label("channel") == Some(channel))
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

/// How much `name`'s samples of `channel` grew from `before` to `after`.
fn grown(before: &[Sample], after: &[Sample], name: &str, channel: &str) -> f64 {
    total(after, name, channel).unwrap_or(0.0) - total(before, name, channel).unwrap_or(0.0)
}

/// The first scrape, once the daemon listens.
async fn scrape_when_up(addr: std::net::SocketAddr) -> (String, Vec<Sample>) {
    eventually(Duration::from_secs(10), "the daemon listens", || async {
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .is_ok_and(|a| a.status() == 200)
    })
    .await;
    scrape(addr).await
}

/// Orders on both channels: every series is scraped with plausible values,
/// and no label value is a SKU or an order id of the run.
async fn metrics_show_calls_work_propagation_and_tokens(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let daemon = rig.start();
    rig.push_to_daemon().await;
    // What earlier stories in this process counted (the catalogue's
    // listing before the start included).
    let (_, before) = scrape_when_up(rig.addr).await;
    let mut orders = Vec::new();
    for (channel, sku) in [(SHOPEE, SKUS[0]), (LAZADA, SKUS[1]), (SHOPEE, SKUS[1])] {
        let before = rig.available(sku).await;
        orders.push(rig.place(channel, sku, 1).await);
        eventually(
            Duration::from_secs(15),
            "the order's stock everywhere",
            || rig.shows(sku, before - 1),
        )
        .await;
    }
    // Propagation is observed as pushes land; the order polls' lag shows
    // from the gauges' first refresh after the start-up poll.
    let deadline = tokio::time::Instant::now() + GAUGES;
    let samples = loop {
        let (_, samples) = scrape(rig.addr).await;
        let ready = [SHOPEE, LAZADA].iter().all(|c| {
            grown(&before, &samples, "chosync_propagation_seconds_count", c) > 0.0
                && total(&samples, "chosync_order_import_lag_seconds", c).is_some()
        });
        if ready {
            break samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no propagation or order lag within {GAUGES:?}: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for channel in [SHOPEE, LAZADA] {
        let calls = grown(&before, &samples, "chosync_calls_total", channel);
        assert!(calls > 0.0, "{channel}: {calls} calls");
        let timed = grown(
            &before,
            &samples,
            "chosync_call_duration_seconds_count",
            channel,
        );
        assert!(timed > 0.0, "{channel}: {timed} calls timed");
        assert!(
            samples.iter().any(|s| s.name == "chosync_calls_total"
                && s.label("channel") == Some(channel)
                && s.label("outcome") == Some("ok")
                && s.label("endpoint").is_some_and(|e| e.starts_with('/'))),
            "{channel}: calls by endpoint and outcome"
        );
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                s.name == "chosync_call_duration_seconds_bucket"
                    && s.label("channel") == Some(channel)
            })
            .collect();
        assert!(
            buckets
                .iter()
                .any(|s| s.label("le") == Some("+Inf") && s.value > 0.0),
            "{channel}: latency buckets {buckets:?}"
        );
        for aspect in ["content", "price", "stock"] {
            assert!(
                samples.iter().any(|s| s.name == "chosync_work_waiting"
                    && s.label("channel") == Some(channel)
                    && s.label("aspect") == Some(aspect)
                    && s.value >= 0.0),
                "{channel}: work waiting of {aspect}"
            );
        }
        let expiry = total(&samples, "chosync_token_expiry_seconds", channel).unwrap_or(-1.0);
        assert!(
            expiry > 60.0 && expiry < 400.0 * 86_400.0,
            "{channel}: token expires in {expiry} s"
        );
        let lag = total(&samples, "chosync_order_import_lag_seconds", channel).unwrap_or(-1.0);
        assert!((0.0..3_600.0).contains(&lag), "{channel}: order lag {lag}");
        let quarantined = total(&samples, "chosync_quarantined_skus", channel);
        assert!(quarantined.is_some(), "{channel}: quarantined gauge");
        assert_eq!(
            total(&samples, "chosync_oversold_skus", channel),
            Some(0.0),
            "{channel}: nothing oversold"
        );
        let propagated = samples
            .iter()
            .find(|s| {
                s.name == "chosync_propagation_seconds_bucket"
                    && s.label("channel") == Some(channel)
                    && s.label("le") == Some("+Inf")
            })
            .map(|s| s.value);
        assert!(
            propagated.is_some_and(|n| n > 0.0),
            "{channel}: propagation buckets"
        );
    }
    // Labels never carry the run's SKUs or order ids.
    let mut private: BTreeSet<String> = rig
        .store
        .stock(None)
        .await
        .expect("stock")
        .into_iter()
        .map(|row| row.sku)
        .collect();
    private.extend(orders.iter().cloned());
    for sample in &samples {
        for (key, value) in &sample.labels {
            assert!(
                !private.contains(value),
                "{}{{{key}=\"{value}\"}} names a SKU or an order",
                sample.name
            );
        }
    }
    daemon.stop().await;
}

/// With `admin_listen`, `/metrics` is served there and not on the main
/// listener; the admin listener serves nothing else.
async fn admin_listen_serves_metrics_apart(db: &TestDb) {
    let mut rig = Rig::new(db, 5).await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let admin = free.local_addr().expect("addr");
    drop(free);
    rig.settings.server.admin_listen = Some(admin.to_string());
    let daemon = rig.start();
    let http = reqwest::Client::new();
    eventually(
        Duration::from_secs(10),
        "the admin listener answers",
        || async {
            http.get(format!("http://{admin}/metrics"))
                .send()
                .await
                .is_ok_and(|a| a.status() == 200)
        },
    )
    .await;
    let (text, _) = scrape(admin).await;
    assert!(text.contains("chosync_work_waiting"), "{text}");
    let main = http
        .get(format!("http://{}/metrics", rig.addr))
        .send()
        .await
        .expect("main listener");
    assert_eq!(main.status(), 404);
    let health = http
        .get(format!("http://{}/healthz", rig.addr))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let elsewhere = http
        .get(format!("http://{admin}/healthz"))
        .send()
        .await
        .expect("admin listener");
    assert_eq!(elsewhere.status(), 404);
    daemon.stop().await;
}

/// As `on_both_engines!`, one story at a time: the recorder is the
/// process's, so a story counts what its own daemon added (the counters'
/// growth), not what a story beside it did.
fn main() -> std::process::ExitCode {
    let mut arguments = libtest_mimic::Arguments::from_args();
    arguments.test_threads = Some(1);
    let server = common::postgres_server();
    if let Err(reason) = &server {
        eprintln!("note: PostgreSQL cases skipped: {reason}");
    }
    type Story = fn(&TestDb) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;
    let stories: [(&str, Story); 2] = [
        ("metrics_show_calls_work_propagation_and_tokens", |db| {
            Box::pin(metrics_show_calls_work_propagation_and_tokens(db))
        }),
        ("admin_listen_serves_metrics_apart", |db| {
            Box::pin(admin_listen_serves_metrics_apart(db))
        }),
    ];
    let mut trials = Vec::new();
    for (name, story) in stories {
        trials.push(libtest_mimic::Trial::test(
            format!("sqlite::{name}"),
            move || common::run_async(async move { story(&TestDb::sqlite().await).await }),
        ));
        let on = server.clone();
        let trial = libtest_mimic::Trial::test(format!("postgres::{name}"), move || {
            let server = on.map_err(|reason| format!("PostgreSQL: {reason}"))?;
            common::run_async(async move { story(&TestDb::postgres(&server).await).await })
        });
        trials.push(trial.with_ignored_flag(server.is_err()));
    }
    libtest_mimic::run(&arguments, trials).exit_code()
}
