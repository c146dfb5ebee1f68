//! `chosync run`: the HTTP listener (`crate::api`), the fleet (`fleet`) —
//! this replica's share of the channels, one worker each firing the
//! channel's schedules (`ticks`) and pushing its work — and on PostgreSQL
//! the relay of work notifications.
//!
//! Shutdown: the listener stops accepting, workers claim nothing more, and
//! work in flight gets `server.shutdown_seconds` to finish; then it is
//! dropped where it is — a pass marks its run failed — and stays pending for
//! the next start; the leases go back. Nothing is lost either way.

mod alerts;
mod fleet;
mod gauges;
mod share;
mod ticks;
mod wake;
mod worker;

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use fleet::Fleet;
pub use fleet::Identity;
use ticks::Ticks;
pub use wake::{NOTIFY_CHANNEL, POSTGRES_BACKSTOP, SQLITE_BACKSTOP, Signals};
use worker::{KINDS, Timing, Worker};

use crate::api::{self, ApiState};
use crate::channels::ChannelError;
use crate::channels::prepare::{self, LiveChannel};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::STORE_TIMEOUT;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot serve on {listen}: {error}")]
    Listen {
        listen: String,
        error: std::io::Error,
    },
    /// `[alerts]` is wrong (`check-config` lists the same).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Alerts(Vec<crate::settings::SettingProblem>),
}

/// A task of the supervisor: the fleet, (PostgreSQL) the relay of work
/// notifications, the metrics' gauges or the alert deliveries; one that
/// ends early (a panic) starts again after a pause.
#[derive(Clone, Copy)]
enum Job {
    Fleet,
    Relay,
    Gauges,
    Alerts,
}

/// How long the listener may take to close once asked.
const LISTENER_GRACE: Duration = Duration::from_secs(5);

/// How long a task (or a channel's worker) that ended early waits before it
/// starts again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// Binds `[server] listen`.
pub async fn bind(settings: &Settings) -> Result<TcpListener, DaemonError> {
    let listen = settings.server.listen.clone();
    TcpListener::bind(&listen)
        .await
        .map_err(|error| DaemonError::Listen { listen, error })
}

/// Runs the daemon on `listener` until `stop` completes, then shuts down
/// in order. `database_url` tells the engine (PostgreSQL: notifications).
pub async fn run(
    settings: &Settings,
    store: Arc<dyn Store>,
    database_url: &str,
    listener: TcpListener,
    stop: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let channels: BTreeMap<String, Arc<LiveChannel>> = prepare::live(settings, &store)?
        .into_iter()
        .map(|live| (live.settings.id.clone(), Arc::new(live)))
        .collect();
    let targets = settings.alerts.targets().map_err(DaemonError::Alerts)?;
    let credentials = prepare::credentials(settings, &store)?;
    let admin = match &settings.server.admin_listen {
        Some(listen) => {
            Some(
                TcpListener::bind(listen)
                    .await
                    .map_err(|error| DaemonError::Listen {
                        listen: listen.clone(),
                        error,
                    })?,
            )
        }
        None => None,
    };
    let signals = Arc::new(Signals::new(channels.keys()));
    let (stopping_tx, stopping) = watch::channel(false);
    let postgres = !database_url.starts_with("sqlite:");
    let timing = Timing {
        debounce: Duration::from_millis(settings.server.debounce_ms.into()),
        backstop: if postgres {
            POSTGRES_BACKSTOP
        } else {
            SQLITE_BACKSTOP
        },
        lease: Duration::from_secs(settings.sync.lease_seconds.into()),
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| settings.server.listen.clone(), |a| a.to_string());
    let identity = Identity::new(&addr);
    let grace = Duration::from_secs(settings.server.shutdown_seconds.into());
    let fleet = |pause: Duration| {
        let maker = {
            let (store, signals, replica) = (store.clone(), signals.clone(), identity.id.clone());
            let (orders, sync, zone) = (
                settings.orders.clone(),
                settings.sync.clone(),
                settings.schedule.timezone.tz(),
            );
            move |live: Arc<LiveChannel>, stopping, abandon| Worker {
                ticks: Ticks::new(&live.settings.id, &live.settings.schedule, zone, &KINDS),
                live,
                store: store.clone(),
                signals: signals.clone(),
                timing,
                orders: orders.clone(),
                sync: sync.clone(),
                replica: replica.clone(),
                stopping,
                abandon,
            }
        };
        let fleet = Fleet {
            identity: identity.clone(),
            store: store.clone(),
            channels: channels.clone(),
            // SQLite: one daemon works, a second waits (see `share`).
            active_limit: if postgres { usize::MAX } else { 1 },
            lease: timing.lease,
            signals: signals.clone(),
            worker: Box::new(maker),
        };
        let stopping = stopping.clone();
        async move {
            tokio::time::sleep(pause).await;
            fleet.run(stopping, grace).await;
        }
    };
    let relay = |pause: Duration| {
        let relay = wake::relay(database_url.to_string(), signals.clone(), stopping.clone());
        async move {
            tokio::time::sleep(pause).await;
            relay.await;
        }
    };
    let watched: Vec<_> = channels
        .values()
        .map(|live| crate::metrics::gauges::Watched {
            id: live.settings.id.clone(),
            tokens: live.settings.platform.has_tokens(),
        })
        .collect();
    let gauges = |pause: Duration| {
        let gauges = gauges::Gauges {
            store: store.clone(),
            channels: watched.clone(),
            credentials: credentials.clone(),
        };
        let stopping = stopping.clone();
        async move {
            tokio::time::sleep(pause).await;
            gauges.run(stopping).await;
        }
    };
    let deliveries = |pause: Duration| {
        let deliveries = alerts::Deliveries {
            store: store.clone(),
            targets: targets.clone(),
            interval: settings.alerts.interval(),
            replica: identity.id.clone(),
            retention: Duration::from_secs(u64::from(settings.sync.log_retention_days) * 86_400),
        };
        let stopping = stopping.clone();
        async move {
            tokio::time::sleep(pause).await;
            deliveries.run(stopping).await;
        }
    };
    crate::metrics::install();
    let mut tasks = JoinSet::new();
    let mut jobs = BTreeMap::new();
    jobs.insert(tasks.spawn(fleet(Duration::ZERO)).id(), Job::Fleet);
    if postgres {
        jobs.insert(tasks.spawn(relay(Duration::ZERO)).id(), Job::Relay);
    }
    jobs.insert(tasks.spawn(gauges(Duration::ZERO)).id(), Job::Gauges);
    jobs.insert(tasks.spawn(deliveries(Duration::ZERO)).id(), Job::Alerts);
    let channel_count = channels.len();
    let app = api::router(ApiState {
        store: store.clone(),
        settings: Arc::new(settings.clone()),
        stopping: stopping.clone(),
        channels: Arc::new(channels.clone()),
        workers: signals.clone(),
        refusals: Arc::default(),
    });
    // `/metrics` on the admin listener when there is one, else here.
    let (app, admin) = match admin {
        Some(admin) => (app, Some(serve(admin, crate::metrics::router(), &stopping))),
        None => (app.merge(crate::metrics::router()), None),
    };
    let server = serve(listener, app, &stopping);
    tracing::info!(
        listen = %addr, admin = settings.server.admin_listen.as_deref(), replica = %identity.id,
        channels = channel_count, "chosync is running"
    );
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(ended) = tasks.join_next_with_id() => {
                // A task ends before the shutdown only by a panic: start it
                // again after a pause (the supervisor itself never waits).
                let id = match &ended {
                    Ok((id, ())) => *id,
                    Err(err) => err.id(),
                };
                tracing::error!(?ended, "a daemon task ended unexpectedly");
                match jobs.remove(&id) {
                    Some(Job::Fleet) => {
                        jobs.insert(tasks.spawn(fleet(RESTART_PAUSE)).id(), Job::Fleet);
                    }
                    Some(Job::Relay) => {
                        jobs.insert(tasks.spawn(relay(RESTART_PAUSE)).id(), Job::Relay);
                    }
                    Some(Job::Gauges) => {
                        jobs.insert(tasks.spawn(gauges(RESTART_PAUSE)).id(), Job::Gauges);
                    }
                    Some(Job::Alerts) => {
                        jobs.insert(tasks.spawn(deliveries(RESTART_PAUSE)).id(), Job::Alerts);
                    }
                    None => {}
                }
            }
        }
    }
    tracing::info!(
        grace_seconds = settings.server.shutdown_seconds,
        "stopping: work in flight may finish"
    );
    let _ = stopping_tx.send(true);
    // The fleet keeps to the grace period itself; this bound only guards
    // against a store that no longer answers.
    if tokio::time::timeout(grace + STORE_TIMEOUT * 2, drain(&mut tasks))
        .await
        .is_err()
    {
        tracing::warn!("the daemon's tasks did not stop in time");
        tasks.abort_all();
    }
    for server in std::iter::once(server).chain(admin) {
        match tokio::time::timeout(LISTENER_GRACE, server).await {
            Ok(Ok(Err(err))) => tracing::warn!(%err, "the listener stopped with an error"),
            Ok(Err(err)) => tracing::warn!(%err, "the listener's task failed"),
            Err(_) => tracing::warn!("the listener did not close in time"),
            Ok(Ok(Ok(()))) => {}
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves `app` on `listener` until `stopping` turns true.
fn serve(
    listener: TcpListener,
    app: axum::Router,
    stopping: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let mut closing = stopping.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = closing.wait_for(|s| *s).await;
        })
        .into_future();
    tokio::spawn(server)
}

async fn drain(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}
