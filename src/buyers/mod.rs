//! Simulated buyers on in-process marketplace sandboxes: orders placed and
//! cancelled at random channels (seeded, so runs repeat), the units they
//! hold kept in a book, and the time each order takes to reach every other
//! channel. `chosync bench orders` and `chosync demo` both run them.

pub mod propagation;
pub mod shop;

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub use propagation::{Latency, Pending};
pub use shop::{Sandbox, Shop};

/// How often the sandboxes are looked at for an order's arrival: the
/// resolution of the propagation measured.
const TICK: Duration = Duration::from_millis(5);

/// The units each SKU has on hand and held by live orders, as the orders
/// the sandboxes took imply.
#[derive(Default)]
pub struct Book {
    pub on_hand: HashMap<String, i64>,
    pub held: HashMap<String, i64>,
    /// Live orders: (shop index, order id, SKU, units).
    pub live: Vec<(usize, String, String, i64)>,
}

impl Book {
    pub fn sellable(&self, sku: &str) -> i64 {
        self.on_hand.get(sku).copied().unwrap_or(0) - self.held.get(sku).copied().unwrap_or(0)
    }
}

/// The buyers, what they did and the orders still travelling.
pub struct Simulator {
    pub rng: fastrand::Rng,
    pub book: Book,
    /// The SKUs they choose from, sorted so a seed repeats a run.
    pub skus: Vec<String>,
    /// Buy only what the channel shows, as on a real shop page; else they
    /// ask for 1–2 units of any SKU and the sandbox refuses what it cannot sell.
    within_shown: bool,
    pub pending: Vec<Pending>,
    pub latencies: Vec<f64>,
    pub placed: u64,
    /// Orders the sandbox refused (sold out there, or not for sale yet).
    pub refused: u64,
    /// With `within_shown`: turns a channel had nothing in stock to offer.
    pub sold_out: u64,
    pub cancelled: u64,
}

impl Simulator {
    pub fn new(seed: u64, book: Book, within_shown: bool) -> Self {
        let mut skus: Vec<String> = book.on_hand.keys().cloned().collect();
        skus.sort();
        Self {
            rng: fastrand::Rng::with_seed(seed),
            book,
            skus,
            within_shown,
            pending: Vec::new(),
            latencies: Vec::new(),
            placed: 0,
            refused: 0,
            sold_out: 0,
            cancelled: 0,
        }
    }

    /// One buyer's move: one in five cancels a live order, the others order
    /// 1–2 units of a random SKU at a random channel.
    pub fn turn(&mut self, shops: &[Shop]) {
        if shops.is_empty() || self.skus.is_empty() {
            return;
        }
        if self.rng.u8(0..5) == 0 && !self.book.live.is_empty() {
            let at = self.rng.usize(..self.book.live.len());
            let (shop, order, sku, units) = self.book.live.swap_remove(at);
            if shops[shop].cancel(&order).is_ok() {
                self.cancelled(shops, &order, &sku, units);
            }
            return;
        }
        let open: Vec<usize> = (0..shops.len())
            .filter(|&i| shops[i].takes_orders())
            .collect();
        if open.is_empty() {
            return;
        }
        let origin = open[self.rng.usize(..open.len())];
        let (sku, units) = if self.within_shown {
            // A shop page offers what is listed and in stock there.
            let offered: Vec<(&String, i64)> = self
                .skus
                .iter()
                .filter_map(|sku| Some((sku, shops[origin].buyable(sku)?)))
                .filter(|(_, shown)| *shown > 0)
                .collect();
            if offered.is_empty() {
                self.sold_out += 1;
                return;
            }
            let (sku, shown) = offered[self.rng.usize(..offered.len())];
            (sku.clone(), self.rng.i64(1..=2).min(shown))
        } else {
            let sku = self.skus[self.rng.usize(..self.skus.len())].clone();
            (sku, self.rng.i64(1..=2))
        };
        match shops[origin].place(&sku, units) {
            Ok(order) => {
                self.placed += 1;
                *self.book.held.entry(sku.clone()).or_default() += units;
                let sellable = self.book.sellable(&sku);
                self.pending.push(Pending::new(
                    shops,
                    origin,
                    order.clone(),
                    sku.clone(),
                    sellable,
                ));
                self.book.live.push((origin, order, sku, units));
            }
            Err(_) => self.refused += 1,
        }
    }

    /// A cancelled order is not waited for, and its units are sellable again.
    fn cancelled(&mut self, shops: &[Shop], order: &str, sku: &str, units: i64) {
        *self.book.held.entry(sku.to_string()).or_default() -= units;
        self.cancelled += 1;
        self.pending.retain(|p| p.order != order);
        self.sellable_again(shops, sku, units);
    }

    /// `units` of `sku` came onto the shelf (a new harvest, say).
    pub fn restocked(&mut self, shops: &[Shop], sku: &str, units: i64) {
        *self.book.on_hand.entry(sku.to_string()).or_default() += units;
        self.sellable_again(shops, sku, units);
    }

    /// The orders of `sku` still waiting may see the channels show `units`
    /// more than they left.
    fn sellable_again(&mut self, shops: &[Shop], sku: &str, units: i64) {
        for p in self.pending.iter_mut().filter(|p| p.sku == sku) {
            p.sellable += units;
            p.wanted = shops.iter().map(|s| s.wanted(p.sellable)).collect();
        }
    }

    /// Buys at `per_second` (0: not at all) until `stop` completes, noting
    /// each order's arrival on the other channels as it happens.
    pub async fn buy_until(
        &mut self,
        shops: &[Shop],
        per_second: f64,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let every = (per_second > 0.0).then(|| Duration::from_secs_f64(1.0 / per_second));
        let mut next = Instant::now();
        tokio::pin!(stop);
        loop {
            if let Some(every) = every
                && Instant::now() >= next
            {
                next += every;
                self.turn(shops);
            }
            self.settle(shops);
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Waits until `deadline` at most for the orders still travelling.
    pub async fn wait_for_stragglers(&mut self, shops: &[Shop], deadline: Instant) {
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.settle(shops);
            tokio::time::sleep(TICK).await;
        }
    }

    /// Records the orders every other channel now reflects.
    pub fn settle(&mut self, shops: &[Shop]) {
        propagation::settle(shops, &mut self.pending, &mut self.latencies);
    }

    /// Propagation so far; orders still travelling count as unpropagated.
    pub fn propagation(&self) -> Latency {
        propagation::latency(self.latencies.clone(), self.pending.len())
    }
}
