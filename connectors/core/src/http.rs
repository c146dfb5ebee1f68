//! The HTTP toolkit every connector calls the platform through: a limiter
//! permit per attempt, a request signed afresh per attempt, time-outs, a
//! decoded and classified answer (platforms report errors inside HTTP 200),
//! retries with exponential back-off and full jitter for throttling and
//! transient failures only, and one event per attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use tokio::time::Instant;

use crate::ConnectorError;
use crate::connector::{EndpointClass, Limits};
use crate::events::{AttemptEvent, EventSink};
use crate::limiter::Limiter;

/// One platform endpoint as the toolkit needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Path without host or query, e.g. `/api/v2/product/update_stock`.
    pub path: &'static str,
    pub class: EndpointClass,
    /// Whether repeating the call is harmless (setting absolute values is; a
    /// create, or spending a single-use refresh token, is not).
    pub idempotent: bool,
}

/// An `Endpoint`, short enough for a connector's table of them.
pub const fn endpoint(path: &'static str, class: EndpointClass, idempotent: bool) -> Endpoint {
    Endpoint {
        path,
        class,
        idempotent,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub deadline: Duration,
    pub max_attempts: usize,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
            max_attempts: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Whole-request time-out (connect, send, read).
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The raw answer of one attempt.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A decoded answer: the value or its classified failure, and what the
/// platform said about it (for the sync log).
pub struct Answer<T> {
    pub result: Result<T, ConnectorError>,
    pub platform_code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl<T> Answer<T> {
    pub fn ok(value: T, request_id: Option<String>) -> Self {
        Self {
            result: Ok(value),
            platform_code: None,
            message: None,
            request_id,
        }
    }

    /// The answer's payload read as `T`. serde's own message may quote values
    /// from the body (tokens, say), so a mismatch is reported by type only.
    pub fn decoded(payload: serde_json::Value, request_id: Option<String>) -> Self
    where
        T: serde::de::DeserializeOwned,
    {
        match serde_json::from_value(payload) {
            Ok(decoded) => Self::ok(decoded, request_id),
            Err(_) => Self::failed(
                ConnectorError::Transient(format!(
                    "unexpected answer: not a {}",
                    std::any::type_name::<T>()
                        .rsplit("::")
                        .next()
                        .unwrap_or("value")
                )),
                None,
                request_id,
            ),
        }
    }

    pub fn failed(error: ConnectorError, code: Option<String>, request_id: Option<String>) -> Self {
        let message = Some(error.to_string());
        Self {
            result: Err(error),
            platform_code: code,
            message,
            request_id,
        }
    }
}

/// The toolkit for one channel.
pub struct Http {
    client: reqwest::Client,
    channel: String,
    limiter: Limiter,
    events: Arc<dyn EventSink>,
    retry: RetryPolicy,
    timeout: Duration,
}

impl Http {
    pub fn new(
        channel: &str,
        limits: &Limits,
        events: Arc<dyn EventSink>,
        config: HttpConfig,
    ) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("chosync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectorError::Transient(e.without_url().to_string()))?;
        Ok(Self {
            client,
            channel: channel.to_string(),
            limiter: Limiter::new(limits),
            events,
            retry: config.retry,
            timeout: config.timeout,
        })
    }

    /// For building requests inside `call`'s `build` closure.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Calls `endpoint` until it succeeds, fails for good, or the retry policy
    /// gives up. `build` runs once per attempt, so signatures and timestamps
    /// are always fresh; `decode` classifies every answer.
    pub async fn call<T>(
        &self,
        endpoint: &Endpoint,
        build: impl Fn() -> Result<RequestBuilder, ConnectorError>,
        decode: impl Fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        let attempts = AtomicU32::new(0);
        let started = Instant::now();
        let deadline = self.retry.deadline;
        let attempt = || async {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(endpoint, n, started + deadline, &build, &decode)
                .await
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.first_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_attempts.saturating_sub(1));
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|err: &ConnectorError| err.is_retryable())
            .adjust(|err, delay| {
                // Full jitter over the exponential step, but never sooner than
                // the platform asked, and never past the deadline.
                let step = delay?;
                let jittered = Duration::from_millis(fastrand::u64(0..=step.as_millis() as u64));
                let wait = match err {
                    ConnectorError::RateLimited { retry_after } => jittered.max(*retry_after),
                    _ => jittered,
                };
                let wait = wait.min(MAX_WAIT);
                (started.elapsed().saturating_add(wait) < deadline).then_some(wait)
            })
            .await
    }

    async fn attempt<T>(
        &self,
        endpoint: &Endpoint,
        n: u32,
        deadline: Instant,
        build: &impl Fn() -> Result<RequestBuilder, ConnectorError>,
        decode: &impl Fn(&Reply) -> Answer<T>,
    ) -> Result<T, ConnectorError> {
        // The deadline bounds the whole operation: the wait for a permit and
        // each attempt's time-out too, not only the back-off sleeps.
        if let Err(still_paused) = self.limiter.permit(endpoint.class, deadline).await {
            return Err(ConnectorError::RateLimited {
                retry_after: still_paused,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        let mut reached = true;
        let mut http_status = None;
        let answer = match build() {
            Err(err) => Answer::failed(err, None, None),
            Ok(request) => match request.timeout(left.min(self.timeout)).send().await {
                Err(err) => {
                    reached = !err.is_connect();
                    Answer::failed(transport_error(&err), None, None)
                }
                Ok(response) => {
                    let status = response.status();
                    http_status = Some(status.as_u16());
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) => decode(&Reply {
                            status,
                            headers,
                            body,
                        }),
                        Err(err) => Answer::failed(transport_error(&err), None, None),
                    }
                }
            },
        };
        let Answer {
            mut result,
            platform_code,
            message,
            request_id,
        } = answer;
        // A write that may have reached the platform must not be blindly repeated.
        if !endpoint.idempotent
            && reached
            && let Err(ConnectorError::Transient(detail)) = &result
        {
            result = Err(ConnectorError::Ambiguous(detail.clone()));
        }
        if let Err(ConnectorError::RateLimited { retry_after }) = &result {
            self.limiter.pause(endpoint.class, *retry_after);
        }
        let event = AttemptEvent {
            channel: self.channel.clone(),
            endpoint: endpoint.path.to_string(),
            outcome: result.as_ref().map_or_else(ConnectorError::kind, |_| "ok"),
            attempt: n,
            http_status,
            platform_code,
            message,
            latency: started.elapsed(),
            request_id,
        };
        self.emit(&event);
        result
    }

    fn emit(&self, event: &AttemptEvent) {
        let latency_ms = event.latency.as_millis() as u64;
        if event.outcome == "ok" {
            tracing::debug!(
                channel = %event.channel, endpoint = %event.endpoint, attempt = event.attempt,
                latency_ms, request_id = event.request_id.as_deref(), "platform call ok"
            );
        } else {
            tracing::warn!(
                channel = %event.channel, endpoint = %event.endpoint, attempt = event.attempt,
                outcome = event.outcome, code = event.platform_code.as_deref(),
                message = event.message.as_deref(), latency_ms,
                request_id = event.request_id.as_deref(), "platform call failed"
            );
        }
        self.events.record(event);
        record_metrics(event);
    }
}

/// Counts the attempt in the process's metrics (a no-op where no recorder
/// is installed). Labels are the channel, the endpoint's static path and
/// the outcome's kind: never a SKU, an order id or anything from the body.
fn record_metrics(event: &AttemptEvent) {
    let channel = event.channel.clone();
    let endpoint = event.endpoint.clone();
    metrics::counter!(
        "chosync_calls_total",
        "channel" => channel.clone(),
        "endpoint" => endpoint.clone(),
        "outcome" => event.outcome,
    )
    .increment(1);
    metrics::histogram!(
        "chosync_call_duration_seconds",
        "channel" => channel.clone(),
        "endpoint" => endpoint,
    )
    .record(event.latency.as_secs_f64());
    if event.outcome == "rate_limited" {
        metrics::counter!("chosync_throttled_calls_total", "channel" => channel).increment(1);
    }
}

/// A failure below HTTP. reqwest's message would include the URL, whose query
/// holds signatures and tokens: it is always dropped.
fn transport_error(err: &reqwest::Error) -> ConnectorError {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    let detail = std::error::Error::source(err).map(ToString::to_string);
    ConnectorError::Transient(match detail {
        Some(detail) => format!("{what}: {detail}"),
        None => what.to_string(),
    })
}

/// What the HTTP status alone says, before any body is read: 429 is
/// throttling (with `Retry-After`, else a second), 5xx is transient.
pub fn http_failure(reply: &Reply) -> Option<ConnectorError> {
    let status = reply.status.as_u16();
    if status == 429 {
        let wait = retry_after(&reply.headers).unwrap_or(Duration::from_secs(1));
        return Some(ConnectorError::RateLimited { retry_after: wait });
    }
    (status >= 500).then(|| ConnectorError::Transient(format!("HTTP {status}")))
}

/// `Retry-After` in seconds, when the platform sent one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|seconds| Duration::from_secs(seconds.min(MAX_WAIT.as_secs())))
}

/// The longest wait any platform answer may impose on us; longer asks are
/// read as this much (time arithmetic must never overflow on a hostile value).
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
