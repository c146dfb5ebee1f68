//! How long an order takes, from its creation in its sandbox, until every
//! other channel shows the stock it leaves.

use std::time::Instant;

use serde::Serialize;

use super::shop::Shop;

/// An order waiting for every other channel to show its stock.
pub struct Pending {
    pub placed: Instant,
    pub origin: usize,
    pub order: String,
    pub sku: String,
    /// Sellable units the order left.
    pub sellable: i64,
    /// What each channel must show at most.
    pub wanted: Vec<i64>,
}

impl Pending {
    pub fn new(shops: &[Shop], origin: usize, order: String, sku: String, sellable: i64) -> Self {
        Self {
            placed: Instant::now(),
            origin,
            order,
            sku,
            sellable,
            wanted: shops.iter().map(|s| s.wanted(sellable)).collect(),
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Latency {
    pub measured: usize,
    /// Orders whose stock had not reached every channel when measuring ended.
    pub unpropagated: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Moves every order whose stock every other channel now shows into
/// `latencies`. A channel that does not list the SKU (quarantined there,
/// say) shows nothing to wait for.
pub fn settle(shops: &[Shop], pending: &mut Vec<Pending>, latencies: &mut Vec<f64>) {
    pending.retain(|order| {
        let arrived = shops.iter().enumerate().all(|(i, shop)| {
            i == order.origin
                || shop
                    .buyable(&order.sku)
                    .is_none_or(|shown| shown <= order.wanted[i])
        });
        if arrived {
            latencies.push(order.placed.elapsed().as_secs_f64() * 1_000.0);
        }
        !arrived
    });
}

/// Percentiles of `ms` (nearest rank).
pub fn latency(mut ms: Vec<f64>, unpropagated: usize) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if ms.is_empty() {
            return 0.0;
        }
        let i = ((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i]
    };
    Latency {
        measured: ms.len(),
        unpropagated,
        p50_ms: at(0.50),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
        max_ms: ms.last().copied().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::latency;

    #[test]
    fn percentiles_are_nearest_rank() {
        let measured = latency((1..=100).map(f64::from).collect(), 2);
        assert_eq!(
            (measured.p50_ms, measured.p99_ms, measured.max_ms),
            (50.0, 99.0, 100.0)
        );
        assert_eq!((measured.measured, measured.unpropagated), (100, 2));
    }

    #[test]
    fn no_orders_measure_zero() {
        assert_eq!(latency(Vec::new(), 0).p99_ms, 0.0);
    }
}
