//! Prometheus metrics: the process's recorder, installed once, and
//! `GET /metrics` (text format 0.0.4) for the daemon's listener, or for its
//! own on `[server] admin_listen`.
//!
//! Series (labels only ever name a channel, platform endpoint path, outcome,
//! aspect or alert kind — never a SKU or an order id):
//! - `chosync_calls_total{channel,endpoint,outcome}`, `chosync_call_duration_seconds{channel,endpoint}`
//!   and `chosync_throttled_calls_total{channel}`: every platform call attempt
//!   (recorded by the connectors' HTTP toolkit);
//! - `chosync_propagation_seconds{channel}`: an order's stock movement
//!   recorded → the stock push carrying it acknowledged by the channel;
//! - the gauges the daemon refreshes from the database (`gauges`);
//! - `chosync_alert_deliveries_total{kind,outcome}`.

pub mod gauges;

use std::sync::OnceLock;

use ::metrics::histogram;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const CALLS: &str = "chosync_calls_total";
pub const CALL_DURATION: &str = "chosync_call_duration_seconds";
pub const THROTTLED: &str = "chosync_throttled_calls_total";
pub const PROPAGATION: &str = "chosync_propagation_seconds";
pub const WORK_WAITING: &str = "chosync_work_waiting";
pub const TOKEN_EXPIRY: &str = "chosync_token_expiry_seconds";
pub const OVERSOLD: &str = "chosync_oversold_skus";
pub const QUARANTINED: &str = "chosync_quarantined_skus";
pub const ORDER_IMPORT_LAG: &str = "chosync_order_import_lag_seconds";
pub const ALERT_DELIVERIES: &str = "chosync_alert_deliveries_total";

/// A platform call takes milliseconds to seconds (a 30 s time-out at most).
const CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Within a second is the target; a poll's backstop is a minute.
const PROPAGATION_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder the first time (later calls, as tests
/// running several daemons in one process make, reuse it) and returns the
/// handle that renders it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        if let Err(err) = ::metrics::set_global_recorder(recorder) {
            // Another recorder (not ours) was installed first: /metrics
            // then shows nothing, which is said once.
            tracing::warn!(%err, "a metrics recorder was installed already");
        }
        describe();
        handle
    })
}

/// Histograms as Prometheus histograms (the exporter's default is a
/// summary). Bucket lists are never empty, so the fallback is never taken.
fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CALL_DURATION.to_string()), CALL_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(PROPAGATION.to_string()), PROPAGATION_BUCKETS)
        })
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        CALLS,
        "Platform call attempts, by channel, endpoint and outcome"
    );
    describe_histogram!(
        CALL_DURATION,
        Unit::Seconds,
        "Platform call attempt latency"
    );
    describe_counter!(THROTTLED, "Calls the platform answered rate-limited");
    describe_histogram!(
        PROPAGATION,
        Unit::Seconds,
        "An order's stock movement recorded until a channel acknowledged the stock push carrying it"
    );
    describe_gauge!(WORK_WAITING, "Pending push tasks, by channel and aspect");
    describe_gauge!(
        TOKEN_EXPIRY,
        Unit::Seconds,
        "Seconds until the channel's access token expires (refreshed ahead of it)"
    );
    describe_gauge!(
        OVERSOLD,
        "Open oversold alerts, by channel (\"none\": reserved above on hand)"
    );
    describe_gauge!(QUARANTINED, "SKUs quarantined on the channel");
    describe_gauge!(
        ORDER_IMPORT_LAG,
        Unit::Seconds,
        "Seconds since the channel's last order poll ended"
    );
    describe_counter!(ALERT_DELIVERIES, "Alert deliveries to webhook targets");
}

/// `GET /metrics`, to be merged into a listener's router.
pub fn router() -> Router {
    install();
    Router::new().route("/metrics", get(scrape))
}

async fn scrape() -> impl IntoResponse {
    let handle = install();
    // Histograms are drained into their buckets here rather than by a task.
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// A stock push carrying an order's movement was acknowledged by `channel`
/// `seconds` after the movement was recorded.
pub fn propagated(channel: &str, seconds: f64) {
    histogram!(PROPAGATION, "channel" => channel.to_string()).record(seconds.max(0.0));
    recent::record(channel, seconds.max(0.0));
}

/// The last hour's propagation times, for the dashboard's overview (this
/// process's own, like every series here).
pub mod recent {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    const WINDOW: Duration = Duration::from_secs(3600);
    /// Bounds memory under any load: the newest are kept.
    const MOST: usize = 100_000;

    static TIMES: Mutex<VecDeque<(Instant, String, f64)>> = Mutex::new(VecDeque::new());

    pub(super) fn record(channel: &str, seconds: f64) {
        if let Ok(mut times) = TIMES.lock() {
            let now = Instant::now();
            while times
                .front()
                .is_some_and(|(at, ..)| now.duration_since(*at) > WINDOW)
                || times.len() >= MOST
            {
                times.pop_front();
            }
            times.push_back((now, channel.to_string(), seconds));
        }
    }

    /// p50 and p99 in seconds of `channel`'s propagations in the last hour,
    /// and how many there were; `None` when there were none.
    pub fn percentiles(channel: &str) -> Option<(f64, f64, usize)> {
        let times = TIMES.lock().ok()?;
        let now = Instant::now();
        let mut seconds: Vec<f64> = times
            .iter()
            .filter(|(at, c, _)| c == channel && now.duration_since(*at) <= WINDOW)
            .map(|(.., s)| *s)
            .collect();
        if seconds.is_empty() {
            return None;
        }
        seconds.sort_by(f64::total_cmp);
        let at = |q: f64| seconds[((seconds.len() - 1) as f64 * q).round() as usize];
        Some((at(0.5), at(0.99), seconds.len()))
    }
}
