//! One round of deliveries: every open alert to every target that takes its
//! kind, unless that target had it within the interval.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ::metrics::counter;
use backon::{ExponentialBuilder, Retryable};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::ResolvedTarget;
use crate::store::monitor::DeliveryOutcome;
use crate::store::orders::Alert;
use crate::store::{LogRow, RunCounts, Store, StoreError};

/// The sync log's endpoint for an alert delivery.
pub const ACTION: &str = "alert.deliver";

/// A delivery that failed is tried again after this (or the interval, if
/// shorter), not at every round.
const FAILED_AGAIN: Duration = Duration::from_secs(5 * 60);

/// How a delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub first_delay: Duration,
    pub max_delay: Duration,
    pub attempts: usize,
    /// Each attempt's time-out (connect, send, answer).
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            attempts: 5,
            timeout: Duration::from_secs(5),
        }
    }
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub delivered: usize,
    pub failed: usize,
}

/// The body of a delivery.
#[derive(Serialize)]
struct Payload<'a> {
    id: i64,
    kind: &'a str,
    channel: &'a str,
    subject: &'a str,
    message: &'a str,
    first_seen_at: chrono::DateTime<chrono::Utc>,
    last_seen_at: chrono::DateTime<chrono::Utc>,
    count: i64,
}

/// One attempt, as the sync log keeps it.
struct Attempt {
    status: Option<u16>,
    outcome: &'static str,
    detail: String,
    latency: Duration,
}

/// Why an attempt did not deliver.
enum Failure {
    /// Worth another try: no connection, a time-out, 5xx, 408, 429.
    Passing,
    /// The receiver refused it (another 4xx, a redirect): not repeated.
    Refused,
}

/// Delivers every open alert to every target taking its kind that has not
/// had it within `interval` (a failed delivery: within 5 minutes or the
/// interval), each claimed in the store first so that one replica sends it.
/// A target that fails one is not tried again this round. `replica` names
/// the claimer.
pub async fn deliver_open(
    store: &dyn Store,
    client: &reqwest::Client,
    targets: &[ResolvedTarget],
    interval: Duration,
    replica: &str,
    retry: &Retry,
) -> Result<Delivered, StoreError> {
    let mut done = Delivered::default();
    if targets.is_empty() {
        return Ok(done);
    }
    let now = store.now();
    let ago = |d: Duration| now - bounded(d);
    let (since, failed_since) = (ago(interval), ago(interval.min(FAILED_AGAIN)));
    // Read first: claiming is a write, and most pairs are not due.
    let recent: std::collections::HashSet<(i64, String)> = store
        .recent_alert_deliveries(since, failed_since)
        .await?
        .into_iter()
        .collect();
    // A target that failed a delivery is left for the rest of the round:
    // each of its alerts would wait out the same retries.
    let mut down: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for alert in store.alerts(false).await? {
        let due: Vec<&ResolvedTarget> = targets
            .iter()
            .filter(|t| t.takes(&alert.kind) && !recent.contains(&(alert.id, t.name.clone())))
            .collect();
        for target in due {
            if down.contains(target.name.as_str()) {
                continue;
            }
            let claim =
                store.claim_alert_delivery(alert.id, &target.name, since, failed_since, replica);
            let Some(claimed) = claim.await? else {
                continue;
            };
            let attempts = send(client, target, &alert, retry).await;
            let delivered = attempts.last().is_some_and(|a| a.outcome == "ok");
            let outcome = if delivered {
                done.delivered += 1;
                DeliveryOutcome::Delivered
            } else {
                done.failed += 1;
                down.insert(&target.name);
                DeliveryOutcome::Failed
            };
            let status = attempts.last().and_then(|a| a.status).map(i64::from);
            store
                .finish_alert_delivery(&claimed, outcome, status)
                .await?;
            record(store, &alert, target, &attempts, delivered).await?;
            counter!(
                crate::metrics::ALERT_DELIVERIES,
                "kind" => alert.kind.clone(),
                "outcome" => outcome.as_str(),
            )
            .increment(1);
        }
    }
    Ok(done)
}

/// `d` as a span of time no longer than ten years: any longer bound means
/// the same, and time arithmetic must never overflow.
pub fn bounded(d: Duration) -> chrono::Duration {
    const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 86_400);
    chrono::Duration::from_std(d.min(TEN_YEARS)).unwrap_or_else(|_| chrono::Duration::days(3650))
}

/// POSTs the alert until it is taken, refused, or the retries run out; one
/// entry per attempt.
async fn send(
    client: &reqwest::Client,
    target: &ResolvedTarget,
    alert: &Alert,
    retry: &Retry,
) -> Vec<Attempt> {
    let payload = Payload {
        id: alert.id,
        kind: &alert.kind,
        channel: &alert.channel,
        subject: &alert.subject,
        message: &alert.message,
        first_seen_at: alert.first_seen_at,
        last_seen_at: alert.last_seen_at,
        count: alert.count,
    };
    let attempts = Mutex::new(Vec::new());
    let once = || async {
        let started = Instant::now();
        let answer = client
            .post(target.url.expose_secret())
            .timeout(retry.timeout)
            .json(&payload)
            .send()
            .await;
        let (status, outcome, detail, result) = match answer {
            Ok(response) => {
                let status = response.status();
                let code = status.as_u16();
                let text = format!("HTTP {code}");
                if status.is_success() {
                    (Some(code), "ok", text, Ok(()))
                } else if status.is_server_error() || code == 408 || code == 429 {
                    (Some(code), "transient", text, Err(Failure::Passing))
                } else {
                    (Some(code), "refused", text, Err(Failure::Refused))
                }
            }
            // reqwest's message names the URL, which may hold a secret:
            // only what kind of failure it was is kept.
            Err(err) => {
                let what = if err.is_timeout() {
                    "timed out"
                } else if err.is_connect() {
                    "could not connect"
                } else {
                    "the request failed"
                };
                (None, "transient", what.to_string(), Err(Failure::Passing))
            }
        };
        if let Ok(mut attempts) = attempts.lock() {
            attempts.push(Attempt {
                status,
                outcome,
                detail,
                latency: started.elapsed(),
            });
        }
        result
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(retry.first_delay)
        .with_max_delay(retry.max_delay)
        .with_max_times(retry.attempts.saturating_sub(1))
        .with_jitter();
    let _ = once
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|failure| matches!(failure, Failure::Passing))
        .await;
    attempts.into_inner().unwrap_or_default()
}

/// Writes the attempts to the sync log under a run of kind `alerts` of the
/// alert's channel: the alert, the target's name and the answer's status,
/// never the URL.
async fn record(
    store: &dyn Store,
    alert: &Alert,
    target: &ResolvedTarget,
    attempts: &[Attempt],
    delivered: bool,
) -> Result<(), StoreError> {
    let run_id = store
        .start_free_run(&alert.channel, "alerts", "daemon")
        .await?;
    let rows: Vec<LogRow> = attempts
        .iter()
        .zip(1..)
        .map(|(attempt, n)| LogRow {
            skus: alert.subject.clone(),
            action: ACTION.to_string(),
            outcome: attempt.outcome.to_string(),
            attempt: n,
            http_status: attempt.status.map(i64::from),
            platform_code: None,
            message: Some(format!(
                "alert {} ({}) to {}: {}",
                alert.id, alert.kind, target.name, attempt.detail
            )),
            latency_ms: attempt.latency.as_millis() as i64,
            request_id: None,
            cause: format!("alert {}", alert.id),
        })
        .collect();
    store.log_calls(run_id, &alert.channel, &rows).await?;
    let counts = RunCounts {
        pushed: i64::from(delivered),
        failed: i64::from(!delivered),
        calls: rows.len() as i64,
        ..RunCounts::default()
    };
    let (status, error) = if delivered {
        ("ok", None)
    } else {
        let last = attempts.last().map_or("no attempt", |a| a.detail.as_str());
        (
            "failed",
            Some(format!("not delivered to {}: {last}", target.name)),
        )
    };
    store
        .finish_run(run_id, status, &counts, error.as_deref())
        .await
}
