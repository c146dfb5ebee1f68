//! Alert delivery to webhook targets, on both databases, over real
//! loopback HTTP to a receiver in the test: once per interval per alert
//! and target, retried on 503, never an acknowledged alert, kinds
//! respected, once across replicas, and every attempt in the sync log
//! without the target's URL.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chosync::alerts::{AlertSettings, ResolvedTarget, Retry, Target, deliver_open};
use chosync::channels::SecretRef;
use chosync::store::LogFilter;
use chosync::store::orders::{AlertKind, NewAlert};
use common::TestDb;
use serde_json::Value;

/// What the receiver took, by path, and the statuses it answers with
/// before it answers 200.
#[derive(Default)]
struct Inbox {
    received: Vec<(String, Value)>,
    script: VecDeque<u16>,
}

type Shared = Arc<Mutex<Inbox>>;

async fn receive(
    State(inbox): State<Shared>,
    Path(path): Path<String>,
    Json(body): Json<Value>,
) -> StatusCode {
    let mut inbox = inbox.lock().expect("inbox");
    let status = inbox.script.pop_front().unwrap_or(200);
    if status == 200 {
        inbox.received.push((path, body));
    }
    StatusCode::from_u16(status).expect("status")
}

/// A receiver on 127.0.0.1:0; its base URL.
async fn receiver(inbox: Shared) -> String {
    let app = axum::Router::new()
        .route("/hook/{path}", axum::routing::post(receive))
        .with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// Targets as `[[alerts.deliver]]` writes them: (name, kinds, path).
fn targets(base: &str, list: &[(&str, &[&str], &str)]) -> Vec<ResolvedTarget> {
    let settings = AlertSettings {
        deliver: list
            .iter()
            .map(|(name, kinds, path)| Target {
                name: Some((*name).to_string()),
                kinds: kinds.iter().map(|k| (*k).to_string()).collect(),
                // A query that must never reach the log.
                url: SecretRef::Inline(format!("{base}/{path}?token=s3cret")),
            })
            .collect(),
        ..AlertSettings::default()
    };
    settings.targets().expect("valid targets")
}

fn quick() -> Retry {
    Retry {
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..Retry::default()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

async fn raise(db: &TestDb, kind: AlertKind, subject: &str) -> i64 {
    db.store
        .raise_alert(&NewAlert {
            kind,
            channel: "shopee-demo".into(),
            subject: subject.into(),
            message: format!("{subject}: something to see"),
        })
        .await
        .expect("raise")
}

async fn deliver(db: &TestDb, targets: &[ResolvedTarget], replica: &str) -> (usize, usize) {
    let client = reqwest::Client::new();
    let done = deliver_open(db.store.as_ref(), &client, targets, HOUR, replica, &quick())
        .await
        .expect("deliver");
    (done.delivered, done.failed)
}

async fn delivery_log(db: &TestDb) -> Vec<chosync::store::LogEntry> {
    let mut rows = db
        .store
        .sync_log(&LogFilter {
            limit: 100,
            ..LogFilter::default()
        })
        .await
        .expect("sync log");
    rows.retain(|r| r.call.action == "alert.deliver");
    rows.reverse();
    rows
}

/// Delivered once with the alert's fields; raised again within the hour,
/// not again; an hour later, again with the new count.
async fn an_alert_goes_once_per_interval(db: &TestDb) {
    let inbox = Shared::default();
    let base = receiver(inbox.clone()).await;
    let to = targets(&base, &[("ops", &["*"], "ops")]);
    let id = raise(db, AlertKind::Oversold, "MD-500G").await;
    assert_eq!(deliver(db, &to, "a").await, (1, 0));
    {
        let inbox = inbox.lock().expect("inbox");
        assert_eq!(inbox.received.len(), 1);
        let (path, body) = &inbox.received[0];
        assert_eq!(path, "ops");
        assert_eq!(body["id"], id);
        assert_eq!(body["kind"], "oversold");
        assert_eq!(body["channel"], "shopee-demo");
        assert_eq!(body["subject"], "MD-500G");
        assert_eq!(body["message"], "MD-500G: something to see");
        assert_eq!(body["count"], 1);
        assert!(body["first_seen_at"].is_string() && body["last_seen_at"].is_string());
    }
    db.clock.advance(chrono::Duration::minutes(10));
    raise(db, AlertKind::Oversold, "MD-500G").await;
    assert_eq!(deliver(db, &to, "a").await, (0, 0), "within the interval");
    assert_eq!(inbox.lock().expect("inbox").received.len(), 1);
    db.clock.advance(chrono::Duration::minutes(51));
    assert_eq!(deliver(db, &to, "a").await, (1, 0), "after the interval");
    {
        let inbox = inbox.lock().expect("inbox");
        assert_eq!(inbox.received.len(), 2);
        assert_eq!(inbox.received[1].1["count"], 2);
        assert_ne!(
            inbox.received[1].1["last_seen_at"],
            inbox.received[1].1["first_seen_at"]
        );
    }
    let log = delivery_log(db).await;
    assert_eq!(log.len(), 2, "{log:?}");
    for row in &log {
        assert_eq!(row.channel, "shopee-demo");
        assert_eq!(row.call.outcome, "ok");
        assert_eq!(row.call.http_status, Some(200));
        let message = row.call.message.clone().unwrap_or_default();
        assert!(message.contains("to ops"), "{message}");
        assert!(
            !message.contains("s3cret") && !message.contains("127.0.0.1"),
            "{message}"
        );
    }
}

/// A receiver answering 503 twice takes the alert on the third try; each
/// attempt is logged with its status.
async fn a_failing_receiver_is_retried(db: &TestDb) {
    let inbox = Shared::default();
    inbox.lock().expect("inbox").script = VecDeque::from([503, 503]);
    let base = receiver(inbox.clone()).await;
    let to = targets(&base, &[("ops", &["oversold"], "ops")]);
    raise(db, AlertKind::Oversold, "MD-1KG").await;
    assert_eq!(deliver(db, &to, "a").await, (1, 0));
    assert_eq!(inbox.lock().expect("inbox").received.len(), 1);
    let log = delivery_log(db).await;
    let seen: Vec<(i64, Option<i64>, &str)> = log
        .iter()
        .map(|r| (r.call.attempt, r.call.http_status, r.call.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, Some(503), "transient"),
            (2, Some(503), "transient"),
            (3, Some(200), "ok")
        ]
    );
    // Delivered: not again within the interval.
    assert_eq!(deliver(db, &to, "a").await, (0, 0));
}

/// A receiver that keeps failing: the delivery is recorded failed, and not
/// tried again at once (after five minutes).
async fn a_dead_receiver_fails_and_waits(db: &TestDb) {
    let inbox = Shared::default();
    inbox.lock().expect("inbox").script = VecDeque::from([503; 10]);
    let base = receiver(inbox.clone()).await;
    let to = targets(&base, &[("ops", &["*"], "ops")]);
    raise(db, AlertKind::Drift, "MD-1KG").await;
    assert_eq!(deliver(db, &to, "a").await, (0, 1));
    assert_eq!(deliver(db, &to, "a").await, (0, 0), "not at once");
    assert_eq!(delivery_log(db).await.len(), 5, "five attempts");
    db.clock.advance(chrono::Duration::minutes(6));
    // Five 503s are left in the script: the receiver fails it again.
    assert_eq!(deliver(db, &to, "a").await, (0, 1), "tried again");
    assert_eq!(deliver(db, &to, "a").await, (0, 0));
    db.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(deliver(db, &to, "a").await, (1, 0), "the receiver is back");
}

/// A target nobody listens on fails its first alert (five tries) and is
/// left for the rest of the round; a target that answers still gets both.
async fn a_target_down_is_left_for_the_round(db: &TestDb) {
    let inbox = Shared::default();
    let base = receiver(inbox.clone()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let nowhere = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let mut to = targets(&nowhere, &[("down", &["*"], "down")]);
    to.extend(targets(&base, &[("up", &["*"], "up")]));
    raise(db, AlertKind::Oversold, "MD-500G").await;
    raise(db, AlertKind::Oversold, "MD-1KG").await;
    assert_eq!(deliver(db, &to, "a").await, (2, 1));
    let log = delivery_log(db).await;
    let refused: Vec<_> = log
        .iter()
        .filter(|r| {
            r.call
                .message
                .as_deref()
                .is_some_and(|m| m.contains("to down"))
        })
        .collect();
    assert_eq!(refused.len(), 5, "{log:?}");
    assert!(refused.iter().all(|r| {
        r.call.outcome == "transient"
            && r.call.http_status.is_none()
            && r.call
                .message
                .as_deref()
                .is_some_and(|m| m.ends_with("could not connect"))
    }));
    assert_eq!(inbox.lock().expect("inbox").received.len(), 2);
}

/// Acknowledged alerts go nowhere; a target takes only its kinds.
async fn kinds_and_acknowledgements_are_respected(db: &TestDb) {
    let inbox = Shared::default();
    let base = receiver(inbox.clone()).await;
    let to = targets(
        &base,
        &[
            ("stock", &["oversold"], "stock"),
            ("tokens", &["token_refresh_refused", "drift"], "tokens"),
            ("all", &["*"], "all"),
        ],
    );
    let oversold = raise(db, AlertKind::Oversold, "MD-500G").await;
    let drift = raise(db, AlertKind::Drift, "MN-100G").await;
    let unknown = raise(db, AlertKind::UnknownSku, "XX-1").await;
    db.store
        .acknowledge_alert(unknown, "test")
        .await
        .expect("ack");
    assert_eq!(deliver(db, &to, "a").await, (4, 0));
    let mut got: Vec<(String, i64)> = inbox
        .lock()
        .expect("inbox")
        .received
        .iter()
        .map(|(path, body)| (path.clone(), body["id"].as_i64().unwrap_or(-1)))
        .collect();
    got.sort();
    let mut want = vec![
        ("all".to_string(), oversold),
        ("all".to_string(), drift),
        ("stock".to_string(), oversold),
        ("tokens".to_string(), drift),
    ];
    want.sort();
    assert_eq!(got, want);
}

/// Two replicas delivering at the same moment send each alert once.
async fn two_replicas_deliver_once(db: &TestDb) {
    let inbox = Shared::default();
    let base = receiver(inbox.clone()).await;
    let to = targets(&base, &[("ops", &["*"], "ops")]);
    for sku in ["MD-500G", "MD-1KG", "MN-100G", "MN-250G"] {
        raise(db, AlertKind::Oversold, sku).await;
    }
    let (a, b) = tokio::join!(deliver(db, &to, "a"), deliver(db, &to, "b"));
    assert_eq!(a.0 + b.0, 4, "{a:?} {b:?}");
    assert_eq!(inbox.lock().expect("inbox").received.len(), 4);
}

/// `chosync run` delivers by itself: an alert raised reaches the receiver,
/// raised again it comes again only after the interval (2 s here), with its
/// new count; acknowledged, it stops.
async fn the_daemon_delivers_open_alerts(db: &TestDb) {
    let inbox = Shared::default();
    let base = receiver(inbox.clone()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = chosync::settings::Settings::default();
    settings.database.url = db.url.clone();
    settings.secrets.key_file = dir.path().join("chosync.key");
    settings.alerts.interval_seconds = Some(2);
    settings.alerts.deliver = vec![Target {
        name: Some("ops".into()),
        kinds: vec!["*".into()],
        url: SecretRef::Inline(format!("{base}/ops")),
    }];
    // The daemon's store, on the wall clock.
    let store = chosync::store::open(&db.url, Arc::new(chosync::clock::SystemClock))
        .await
        .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = {
        let (settings, store, url) = (settings.clone(), store.clone(), db.url.clone());
        tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            chosync::daemon::run(&settings, store, &url, listener, stopped).await
        })
    };
    let alert = NewAlert {
        kind: AlertKind::Drift,
        channel: "lazada-demo".into(),
        subject: "MD-500G".into(),
        message: "MD-500G shows 5 on lazada-demo, wants 7".into(),
    };
    let id = store.raise_alert(&alert).await.expect("raise");
    let received = |n: usize| {
        let inbox = inbox.clone();
        move || {
            let inbox = inbox.clone();
            async move { inbox.lock().expect("inbox").received.len() >= n }
        }
    };
    common::daemon::eventually(Duration::from_secs(10), "the first delivery", received(1)).await;
    let first = std::time::Instant::now();
    store.raise_alert(&alert).await.expect("raise again");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        inbox.lock().expect("inbox").received.len(),
        1,
        "not again within the interval"
    );
    common::daemon::eventually(Duration::from_secs(10), "the second delivery", received(2)).await;
    assert!(
        first.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        first.elapsed()
    );
    {
        let inbox = inbox.lock().expect("inbox");
        assert_eq!(inbox.received[1].1["id"], id);
        assert_eq!(inbox.received[1].1["count"], 2);
    }
    store.acknowledge_alert(id, "test").await.expect("ack");
    let acknowledged = inbox.lock().expect("inbox").received.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        inbox.lock().expect("inbox").received.len(),
        acknowledged,
        "nothing after the acknowledgement"
    );
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), daemon)
        .await
        .expect("the daemon stops in time")
        .expect("daemon task")
        .expect("daemon");
    let logged = delivery_log(db).await;
    assert!(logged.len() >= 2, "{logged:?}");
    assert!(logged.iter().all(|r| r.channel == "lazada-demo"));
}

on_both_engines!(
    an_alert_goes_once_per_interval,
    a_failing_receiver_is_retried,
    a_dead_receiver_fails_and_waits,
    a_target_down_is_left_for_the_round,
    kinds_and_acknowledgements_are_respected,
    two_replicas_deliver_once,
    the_daemon_delivers_open_alerts,
);
