//! Rate limits per (channel, endpoint class): a permit per attempt, and a pause
//! when the platform says "too many requests".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::connector::{EndpointClass, Limits};

struct Bucket {
    /// Burst 1: requests are spaced evenly, a tenth wider than the quota
    /// asks, so no one-second window of the platform ever holds more than
    /// the quota even when the network delays one call more than the next.
    limiter: DefaultDirectRateLimiter,
    /// Callers wait their turn here, first come first served: the limiter
    /// alone wakes its waiters in no order, so one could starve past its
    /// deadline while later callers pass.
    queue: tokio::sync::Mutex<()>,
    paused_until: Mutex<Option<Instant>>,
}

/// How much wider than `1 / rate` calls are spaced: the platform counts
/// calls as they arrive in its own one-second windows, and a call the
/// network holds back must not land in the same window as the two after it.
pub const SPACING: f64 = 1.1;

/// Calls per second a bucket of `per_second` makes at most, spacing included.
pub fn effective_rate(per_second: u32) -> f64 {
    f64::from(per_second) / SPACING
}

/// One call per `SPACING / per_second` seconds.
fn spaced(per_second: std::num::NonZeroU32) -> Quota {
    let period = Duration::from_secs(1).mul_f64(SPACING) / per_second.get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(per_second))
        .allow_burst(std::num::NonZeroU32::MIN)
}

/// The limiter of one channel.
#[derive(Clone)]
pub struct Limiter {
    by_class: HashMap<EndpointClass, Arc<Bucket>>,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        let mut by_class = HashMap::new();
        for bucket in &limits.buckets {
            let limiter = RateLimiter::direct(spaced(bucket.per_second));
            // Starts with its one permit taken: the channel's previous
            // client (the last pass, another command) may have called
            // just now, and the platform counts both in the same window.
            let _ = limiter.check();
            let shared = Arc::new(Bucket {
                limiter,
                queue: tokio::sync::Mutex::new(()),
                paused_until: Mutex::new(None),
            });
            for class in &bucket.classes {
                by_class.insert(*class, shared.clone());
            }
        }
        Self { by_class }
    }

    /// Waits for a permit for one attempt of an endpoint of `class`, but not
    /// past `deadline`: then the time the bucket still needs is returned.
    pub async fn permit(&self, class: EndpointClass, deadline: Instant) -> Result<(), Duration> {
        let Some(bucket) = self.by_class.get(&class) else {
            return Ok(());
        };
        let Ok(_turn) = tokio::time::timeout_at(deadline, bucket.queue.lock()).await else {
            let paused = bucket.paused_until.lock().map(|p| *p).unwrap_or(None);
            let left = paused.map(|until| until.saturating_duration_since(Instant::now()));
            return Err(left.unwrap_or_default().max(Duration::from_millis(100)));
        };
        loop {
            let pause = bucket.paused_until.lock().map(|p| *p).unwrap_or(None);
            if let Some(until) = pause.filter(|until| *until > Instant::now()) {
                if until > deadline {
                    return Err(until - Instant::now());
                }
                tokio::time::sleep_until(until).await;
                continue;
            }
            if tokio::time::timeout_at(deadline, bucket.limiter.until_ready())
                .await
                .is_err()
            {
                return Err(Duration::from_millis(100));
            }
            // A throttle answer may have paused the bucket while this task queued.
            let paused = bucket.paused_until.lock().map(|p| *p).unwrap_or(None);
            if paused.is_none_or(|until| until <= Instant::now()) {
                return Ok(());
            }
        }
    }

    /// Holds every request of the class's bucket back for `for_how_long`.
    pub fn pause(&self, class: EndpointClass, for_how_long: Duration) {
        if let Some(bucket) = self.by_class.get(&class)
            && let Ok(mut paused) = bucket.paused_until.lock()
        {
            let until = Instant::now() + for_how_long.min(crate::http::MAX_WAIT);
            if paused.is_none_or(|p| p < until) {
                *paused = Some(until);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[tokio::test]
    async fn permits_are_spaced_at_the_quota() {
        let limits = Limits::shared("shop", NonZeroU32::new(20).expect("non-zero"));
        let limiter = Limiter::new(&limits);
        let start = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..21 {
            limiter
                .permit(EndpointClass::Inventory, deadline)
                .await
                .expect("permit");
        }
        // The first permit is immediate; 20 more at 20/s take a second.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    }

    #[tokio::test]
    async fn permits_go_to_waiters_in_the_order_they_asked() {
        // Many callers queue on a slow bucket: each must get its permit in
        // turn, or one caller may wait past its deadline while later ones pass.
        let limits = Limits::shared("shop", NonZeroU32::new(40).expect("non-zero"));
        let limiter = Limiter::new(&limits);
        let deadline = Instant::now() + Duration::from_secs(30);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for n in 0..24 {
            let (limiter, order) = (limiter.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                limiter
                    .permit(EndpointClass::Catalogue, deadline)
                    .await
                    .expect("permit");
                order.lock().expect("order").push(n);
            }));
            // On this one-threaded runtime the waiter runs up to its wait
            // before the next is spawned: they ask in this order.
            tokio::task::yield_now().await;
        }
        for waiter in waiters {
            waiter.await.expect("waiter");
        }
        let order = order.lock().expect("order").clone();
        assert_eq!(order, (0..24).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_pause_holds_the_whole_bucket() {
        let limits = Limits::shared("shop", NonZeroU32::new(1000).expect("non-zero"));
        let limiter = Limiter::new(&limits);
        limiter.pause(EndpointClass::Inventory, Duration::from_millis(300));
        let start = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_secs(10);
        limiter
            .permit(EndpointClass::Orders, deadline)
            .await
            .expect("permit");
        assert!(start.elapsed() >= Duration::from_millis(290));
    }

    #[tokio::test]
    async fn a_pause_beyond_the_deadline_is_reported_not_waited_out() {
        let limits = Limits::shared("shop", NonZeroU32::new(1000).expect("non-zero"));
        let limiter = Limiter::new(&limits);
        limiter.pause(EndpointClass::Inventory, Duration::from_secs(3600));
        let start = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_secs(1);
        let wait = limiter
            .permit(EndpointClass::Orders, deadline)
            .await
            .expect_err("too long");
        assert!(start.elapsed() < Duration::from_millis(100));
        assert!(wait > Duration::from_secs(3500));
    }
}
