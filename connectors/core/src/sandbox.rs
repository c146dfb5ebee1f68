//! The kit every platform sandbox is built from: an axum server on loopback,
//! in-memory state, counters, fault injection, per-shop throttling, signed
//! webhook delivery, and one control API for tests and benchmarks:
//!
//! `GET /_sandbox/stats`, `GET /_sandbox/listings`, `POST /_sandbox/orders`
//! `{sku, quantity}`, `POST /_sandbox/orders/{id}/cancel`, `POST
//! /_sandbox/orders/{id}/ship`, `POST /_sandbox/faults`, `POST
//! /_sandbox/webhook-target` `{url}`, `POST /_sandbox/listings/{sku}/stock`
//! `{stock}` (the seller changes stock in the seller centre), `POST
//! /_sandbox/tokens/expire` (every access token issued so far runs out now)
//! and `POST /_sandbox/authorization/revoke` (the seller withdraws the
//! authorization: every token is refused, refresh tokens too).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a test can break on purpose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of calls answered 503 before anything is done.
    pub error_rate: f64,
    /// Share of calls whose answer never arrives (the work is done first).
    pub timeout_rate: f64,
    /// Share of calls answered with an unreadable body (the work is done first).
    pub malformed_rate: f64,
    /// Added to every call.
    pub latency_ms: u64,
    /// Answer every call "too many requests".
    pub throttle: bool,
    /// Limit the faults above to one endpoint path (e.g. `/api/v2/product/add_item`).
    pub only: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls per endpoint path, control API excluded.
    pub calls: BTreeMap<String, u64>,
    pub throttled: u64,
    pub rejected_signatures: u64,
    /// Most calls a shop made within one second (counted from the sandbox's start).
    pub peak_rps: BTreeMap<String, u64>,
}

/// Calls of one quota counted the way platforms count them: in fixed
/// one-second windows of the platform's own clock (their phase has nothing to
/// do with any client's spacing), with the ban an excess imposes.
#[derive(Default)]
struct Window {
    second: u64,
    count: u64,
    banned_until: Option<Instant>,
}

impl Window {
    /// Counts one call made at `now` in window `second`; whether it fits `rate`.
    fn admit(&mut self, second: u64, now: Instant, rate: NonZeroU32, ban: Duration) -> bool {
        if self.banned_until.is_some_and(|until| until > now) {
            return false;
        }
        if self.second != second {
            self.second = second;
            self.count = 0;
        }
        self.count += 1;
        let admitted = self.count <= u64::from(rate.get());
        if !admitted && !ban.is_zero() {
            self.banned_until = Some(now + ban);
        }
        admitted
    }
}

#[derive(Default)]
struct Seconds {
    second: u64,
    count: u64,
}

/// Platform state the control API reaches into.
pub trait Platform: Send + Sync + 'static {
    /// Items, variants, stock and price as the platform holds them.
    fn listings(&self) -> Value;
    /// A buyer orders `quantity` of `sku`; returns the order id.
    fn place_order(&self, sku: &str, quantity: i64) -> Result<String, String>;
    /// `reason` is the platform's cancel reason, when the test gives one.
    fn cancel_order(&self, order_id: &str, reason: Option<&str>) -> Result<(), String>;
    fn ship_order(&self, order_id: &str) -> Result<(), String>;
    /// The seller sets `sku`'s stock in the seller centre, outside the API:
    /// the figure the platform's stock call sets (Shopee's seller stock,
    /// Lazada's sellable quantity).
    fn set_seller_stock(&self, sku: &str, stock: i64) -> Result<(), String>;
    /// Every access token issued so far runs out now, as its life would.
    fn expire_access_tokens(&self);
    /// The seller withdraws the app's authorization in the seller centre:
    /// every token issued so far is refused, refresh tokens too, until the
    /// seller consents again (a new code).
    fn revoke_authorization(&self);
}

/// Shared machinery of one sandbox instance.
pub struct Kit {
    rng: Mutex<fastrand::Rng>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    seconds: Mutex<HashMap<String, Seconds>>,
    started: Instant,
    /// Each shop's quota per second, unless a call names its own.
    rate: NonZeroU32,
    windows: Mutex<HashMap<String, Window>>,
    webhook_target: Mutex<Option<String>>,
    webhooks: reqwest::Client,
}

impl Kit {
    /// `seed` makes fault injection reproducible; `rate` is each shop's quota
    /// per second, counted in one-second windows.
    pub fn new(seed: u64, rate: NonZeroU32) -> Arc<Self> {
        Arc::new(Self {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            faults: Mutex::new(Faults::default()),
            stats: Mutex::new(Stats::default()),
            seconds: Mutex::new(HashMap::new()),
            started: Instant::now(),
            rate,
            windows: Mutex::new(HashMap::new()),
            webhook_target: Mutex::new(None),
            webhooks: reqwest::Client::new(),
        })
    }

    pub fn count_call(&self, endpoint: &str) {
        if let Ok(mut stats) = self.stats.lock() {
            *stats.calls.entry(endpoint.to_string()).or_default() += 1;
        }
    }

    pub fn count_rejected_signature(&self) {
        if let Ok(mut stats) = self.stats.lock() {
            stats.rejected_signatures += 1;
        }
    }

    /// Admits one call of `shop` on its shop quota; `false` means answer
    /// "too many requests".
    pub fn admit(&self, shop: &str) -> bool {
        self.admit_at(shop, shop, self.rate, Duration::ZERO)
    }

    /// Admits one call on `quota` (e.g. a seller's inventory APIs) at `rate` per
    /// second; exceeding it bans the quota for `ban`. `shop` is counted for
    /// the peak-rate statistic.
    pub fn admit_at(&self, shop: &str, quota: &str, rate: NonZeroU32, ban: Duration) -> bool {
        self.count_second(shop);
        let forced = self.faults.lock().map(|f| f.throttle).unwrap_or(false);
        let now = Instant::now();
        let second = (now - self.started).as_secs();
        let admitted = !forced
            && self.windows.lock().is_ok_and(|mut windows| {
                windows
                    .entry(quota.to_string())
                    .or_default()
                    .admit(second, now, rate, ban)
            });
        if !admitted && let Ok(mut stats) = self.stats.lock() {
            stats.throttled += 1;
        }
        admitted
    }

    fn count_second(&self, shop: &str) {
        let now = self.started.elapsed().as_secs();
        let Ok(mut seconds) = self.seconds.lock() else {
            return;
        };
        let entry = seconds.entry(shop.to_string()).or_default();
        if entry.second != now {
            *entry = Seconds {
                second: now,
                count: 0,
            };
        }
        entry.count += 1;
        let count = entry.count;
        if let Ok(mut stats) = self.stats.lock() {
            let peak = stats.peak_rps.entry(shop.to_string()).or_default();
            *peak = (*peak).max(count);
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut current) = self.faults.lock() {
            *current = faults;
        }
    }

    fn roll(&self, rate: f64) -> bool {
        rate > 0.0 && self.rng.lock().map(|mut r| r.f64() < rate).unwrap_or(false)
    }

    /// Posts a signed webhook to the registered target, in the background.
    pub fn deliver_webhook(&self, body: Vec<u8>, headers: Vec<(&'static str, String)>) {
        let Some(url) = self.webhook_target.lock().ok().and_then(|t| t.clone()) else {
            return;
        };
        let mut request = self.webhooks.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        tokio::spawn(async move {
            if let Err(err) = request.send().await {
                tracing::warn!(error = %err.without_url(), "sandbox webhook not delivered");
            }
        });
    }

    /// Where pushes go from now on (as `POST /_sandbox/webhook-target` sets it).
    pub fn set_webhook_target(&self, url: &str) {
        if let Ok(mut target) = self.webhook_target.lock() {
            *target = Some(url.to_string());
        }
    }

    pub fn webhook_target(&self) -> Option<String> {
        self.webhook_target.lock().ok().and_then(|t| t.clone())
    }
}

/// Wraps the platform's routes in fault injection and adds the control API.
pub fn router(kit: Arc<Kit>, platform: Arc<dyn Platform>, api: Router) -> Router {
    let api = api.layer(axum::middleware::from_fn_with_state(
        kit.clone(),
        inject_faults,
    ));
    let control = Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/listings", get(listings))
        .route("/_sandbox/listings/{sku}/stock", post(set_seller_stock))
        .route("/_sandbox/orders", post(place_order))
        .route("/_sandbox/orders/{id}/cancel", post(cancel_order))
        .route("/_sandbox/orders/{id}/ship", post(ship_order))
        .route("/_sandbox/faults", post(set_faults))
        .route("/_sandbox/webhook-target", post(set_webhook_target))
        .route("/_sandbox/tokens/expire", post(expire_tokens))
        .route("/_sandbox/authorization/revoke", post(revoke_authorization))
        .with_state((kit, platform));
    api.merge(control)
}

/// Serves on 127.0.0.1:`port` (0: any free port) until the task is dropped.
pub async fn serve(
    router: Router,
    port: u16,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(%err, "sandbox server stopped");
        }
    });
    Ok((addr, task))
}

async fn inject_faults(State(kit): State<Arc<Kit>>, request: Request, next: Next) -> Response {
    let faults = kit.faults.lock().map(|f| f.clone()).unwrap_or_default();
    if faults
        .only
        .as_ref()
        .is_some_and(|only| only != request.uri().path())
    {
        return next.run(request).await;
    }
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if kit.roll(faults.error_rate) {
        return (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response();
    }
    let (timeout, malformed) = (
        kit.roll(faults.timeout_rate),
        kit.roll(faults.malformed_rate),
    );
    let response = next.run(request).await;
    if timeout {
        // The work is done, the answer is lost: the client's time-out fires first.
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if malformed {
        return (StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response();
    }
    response
}

type ControlState = State<(Arc<Kit>, Arc<dyn Platform>)>;

async fn stats(State((kit, _)): ControlState) -> Response {
    axum::Json(kit.stats()).into_response()
}

async fn listings(State((_, platform)): ControlState) -> Response {
    axum::Json(platform.listings()).into_response()
}

#[derive(Deserialize)]
struct SellerStock {
    stock: i64,
}

async fn set_seller_stock(
    State((_, platform)): ControlState,
    Path(sku): Path<String>,
    body: axum::Json<SellerStock>,
) -> Response {
    answer(
        platform
            .set_seller_stock(&sku, body.stock)
            .map(|()| json!({ "sku": sku, "stock": body.stock })),
    )
}

#[derive(Deserialize)]
struct NewOrder {
    sku: String,
    quantity: i64,
}

async fn place_order(State((_, platform)): ControlState, body: axum::Json<NewOrder>) -> Response {
    answer(
        platform
            .place_order(&body.sku, body.quantity)
            .map(|id| json!({ "order_id": id })),
    )
}

#[derive(Deserialize, Default)]
struct Cancel {
    reason: Option<String>,
}

async fn cancel_order(
    State((_, platform)): ControlState,
    Path(id): Path<String>,
    body: Option<axum::Json<Cancel>>,
) -> Response {
    let reason = body.map(|b| b.0).unwrap_or_default().reason;
    answer(
        platform
            .cancel_order(&id, reason.as_deref())
            .map(|()| json!({ "order_id": id })),
    )
}

async fn ship_order(State((_, platform)): ControlState, Path(id): Path<String>) -> Response {
    answer(platform.ship_order(&id).map(|()| json!({ "order_id": id })))
}

async fn set_faults(State((kit, _)): ControlState, body: axum::Json<Faults>) -> Response {
    kit.set_faults(body.0);
    axum::Json(json!({ "ok": true })).into_response()
}

#[derive(Deserialize)]
struct Target {
    url: String,
}

async fn set_webhook_target(State((kit, _)): ControlState, body: axum::Json<Target>) -> Response {
    kit.set_webhook_target(&body.0.url);
    axum::Json(json!({ "ok": true })).into_response()
}

async fn expire_tokens(State((_, platform)): ControlState) -> Response {
    platform.expire_access_tokens();
    axum::Json(json!({ "ok": true })).into_response()
}

async fn revoke_authorization(State((_, platform)): ControlState) -> Response {
    platform.revoke_authorization();
    axum::Json(json!({ "ok": true })).into_response()
}

fn answer(result: Result<Value, String>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": message })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: NonZeroU32 = NonZeroU32::new(10).expect("non-zero");

    #[test]
    fn a_window_admits_its_quota_and_refuses_the_next_call() {
        let mut window = Window::default();
        let now = Instant::now();
        assert!((0..10).all(|_| window.admit(3, now, TEN, Duration::ZERO)));
        assert!(!window.admit(3, now, TEN, Duration::ZERO));
        assert!(window.admit(4, now, TEN, Duration::ZERO), "a new second");
    }

    /// Calls sent at `per_second`, the first at `start_ms` into a window and
    /// arriving `jitter_ms` late, every later one arriving that much early:
    /// how many the platform's windows refuse at a quota of ten.
    fn refused(per_second: u64, start_ms: u64, jitter_ms: u64, calls: u64) -> usize {
        let mut windows: HashMap<u64, Window> = HashMap::new();
        let now = Instant::now();
        (0..calls)
            .map(|n| {
                let sent = start_ms + n * 1000 / per_second;
                let arrived = if n == 0 {
                    sent + jitter_ms
                } else {
                    sent - jitter_ms
                };
                let second = arrived / 1000;
                windows
                    .entry(second)
                    .or_default()
                    .admit(second, now, TEN, Duration::ZERO)
            })
            .filter(|admitted| !admitted)
            .count()
    }

    #[test]
    fn a_client_spaced_exactly_at_the_quota_is_refused_and_one_with_a_margin_is_not() {
        // Eleven calls 100 ms apart span one second: a few milliseconds of
        // network wobble put all eleven in one of the platform's windows.
        assert_eq!(refused(10, 0, 3, 11), 1);
        // At nine a second the same wobble never does, wherever the windows fall.
        for start in (0..1000).step_by(7) {
            assert_eq!(refused(9, start, 3, 40), 0, "start {start} ms");
        }
    }

    #[test]
    fn an_excess_bans_the_quota_into_the_next_window() {
        let mut window = Window::default();
        let now = Instant::now();
        let ban = Duration::from_secs(1);
        for _ in 0..11 {
            window.admit(0, now, TEN, ban);
        }
        assert!(!window.admit(1, now + Duration::from_millis(500), TEN, ban));
        assert!(window.admit(1, now + Duration::from_millis(1001), TEN, ban));
    }
}
