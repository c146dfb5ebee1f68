//! The living demo: the daemon serving the in-process sandboxes with their
//! pushes on, simulated buyers ordering and cancelling at random channels,
//! and, when it ends, a summary of what the system did (see [`summary`]).
//! `chosync demo` sets the scene (configuration, catalogue, first sync) and
//! presents what this returns.

pub mod summary;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::buyers::{Book, Shop, Simulator};
use crate::settings::Settings;
use crate::store::Store;

pub use summary::Summary;

/// How the buyers behave.
#[derive(Debug, Clone, Copy)]
pub struct Buyers {
    /// Orders (and cancellations) a second, over all channels; 0: none.
    pub per_second: f64,
    pub seed: u64,
}

/// How often the cooperative looks for SKUs running low; below
/// `RESTOCK_BELOW` sellable units a harvest of `HARVEST` arrives, so a demo
/// left running for hours never sells out.
const RESTOCK_EVERY: Duration = Duration::from_secs(10);
const RESTOCK_BELOW: i64 = 5;
pub const HARVEST: i64 = 20;

/// How long the demo waits at the end for the last orders to reach every
/// channel, beyond one order poll.
const STRAGGLERS: Duration = Duration::from_secs(5);

/// How long the demo waits for every SKU on every channel to show the
/// wanted stock before it reports that they do not.
const CONVERGENCE: Duration = Duration::from_secs(30);

/// Runs the daemon (on `listener`) and the buyers on `shops` until `stop`
/// completes, then lets the last orders arrive, stops the daemon gracefully
/// and sums up.
pub async fn live(
    settings: &Settings,
    store: Arc<dyn Store>,
    shops: &[Shop],
    listener: tokio::net::TcpListener,
    buyers: Buyers,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<Summary> {
    let listen = listener.local_addr()?;
    for shop in shops {
        shop.push_to(settings, listen)?;
    }
    let (stop_daemon, daemon_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut daemon = {
        let (settings, store) = (settings.clone(), store.clone());
        tokio::spawn(async move {
            let stop = async {
                let _ = daemon_stopped.await;
            };
            let url = settings.database.url.clone();
            crate::daemon::run(&settings, store, &url, listener, stop).await
        })
    };
    let mut book = Book::default();
    for row in store.stock(None).await? {
        book.on_hand.insert(row.sku.clone(), row.on_hand);
        book.held.insert(row.sku, row.reserved);
    }
    // Buyers never order more than a channel shows, so nothing is oversold
    // unless chosync is late to tell the other channels.
    let mut simulator = Simulator::new(buyers.seed, book, true);
    let since = store.now();
    let started = Instant::now();
    let bought = tokio::select! {
        bought = buy(store.as_ref(), shops, buyers.per_second, &mut simulator, stop) => bought,
        // Without the daemon nothing would reach the channels: say so now.
        ended = &mut daemon => {
            return Err(match ended {
                Ok(Ok(())) => anyhow::anyhow!("the daemon stopped before the demo"),
                Ok(Err(err)) => err.into(),
                Err(err) => err.into(),
            });
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let settled = async {
        let restocked = bought?;
        tracing::info!("demo stopping: waiting for the last orders to reach every channel");
        let poll = poll_interval(settings, store.now());
        simulator
            .wait_for_stragglers(shops, Instant::now() + poll + STRAGGLERS)
            .await;
        let deadline = Instant::now() + CONVERGENCE;
        let converged = summary::converge(settings, store.as_ref(), shops, deadline).await?;
        anyhow::Ok((restocked, converged))
    }
    .await;
    let _ = stop_daemon.send(());
    let daemon = daemon.await;
    let (restocked, converged) = settled?;
    let mut summary =
        Summary::gather(store.as_ref(), shops, &simulator, since, seconds, converged).await?;
    summary.orders.restocked = restocked;
    daemon??;
    Ok(summary)
}

/// The buyers until `stop`, with a look for SKUs running low every
/// `RESTOCK_EVERY`. Returns the harvests brought in.
async fn buy(
    store: &dyn Store,
    shops: &[Shop],
    per_second: f64,
    simulator: &mut Simulator,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<u64> {
    let mut restocked = 0;
    tokio::pin!(stop);
    let mut stopped = false;
    while !stopped {
        let until = async {
            tokio::select! {
                () = &mut stop => stopped = true,
                () = tokio::time::sleep(RESTOCK_EVERY) => {}
            }
        };
        simulator.buy_until(shops, per_second, until).await;
        if !stopped {
            restocked += restock(store, simulator, shops).await?;
        }
    }
    Ok(restocked)
}

/// A harvest for every SKU running low, through the ledger as an operator's
/// adjustment: the daemon pushes the new stock to every channel. Returns the
/// SKUs restocked.
async fn restock(
    store: &dyn Store,
    simulator: &mut Simulator,
    shops: &[Shop],
) -> anyhow::Result<u64> {
    let low: Vec<String> = simulator
        .skus
        .iter()
        .filter(|sku| simulator.book.sellable(sku) < RESTOCK_BELOW)
        .cloned()
        .collect();
    for sku in &low {
        crate::inventory::adjust(store, sku, HARVEST, "demo: a new harvest arrives", "demo")
            .await
            .map_err(|e| anyhow::anyhow!("restocking {sku}: {e}"))?;
        simulator.restocked(shops, sku, HARVEST);
    }
    Ok(low.len() as u64)
}

/// The longest gap between two order polls of any channel (its
/// `schedule.orders`): an order whose push was lost arrives within it.
fn poll_interval(settings: &Settings, now: chrono::DateTime<chrono::Utc>) -> Duration {
    let zone = settings.schedule.timezone.tz();
    settings
        .channels
        .iter()
        .filter_map(|channel| {
            let schedule = channel
                .schedule
                .schedule(crate::schedule::Kind::Orders)
                .ok()?;
            match crate::schedule::fire::next_fires(&schedule, zone, now, 2)[..] {
                [first, second] => (second - first).to_std().ok(),
                _ => None,
            }
        })
        .max()
        .unwrap_or(Duration::from_secs(60))
}
