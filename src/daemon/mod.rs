//! `chosync run`: one supervisor over the HTTP listener (`crate::api`), one
//! worker task per channel, and on PostgreSQL the relay of work
//! notifications. Schedules and replicas join as further supervised tasks.
//!
//! Shutdown: the listener stops accepting, workers claim nothing more, and
//! work in flight gets `server.shutdown_seconds` to finish; then it is
//! dropped where it is — a pass marks its run failed and releases its lease —
//! and stays pending for the next start. Nothing is lost either way.

mod wake;
mod worker;

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use wake::{NOTIFY_CHANNEL, POSTGRES_BACKSTOP, SQLITE_BACKSTOP, Signals};
use worker::{Timing, Worker};

use crate::api::{self, ApiState};
use crate::channels::ChannelError;
use crate::channels::prepare::{self, LiveChannel};
use crate::settings::Settings;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("cannot serve on {listen}: {error}")]
    Listen {
        listen: String,
        error: std::io::Error,
    },
}

/// A supervised task: a channel's worker, or (PostgreSQL) the relay of
/// work notifications.
enum Job {
    Worker(Arc<LiveChannel>),
    Relay,
}

/// How long a task that ended early waits before it starts again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// What stopping a pass that outlived the grace period may take: marking its
/// run and releasing its lease.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

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
    let signals = Arc::new(Signals::new(channels.keys()));
    let (stopping_tx, stopping) = watch::channel(false);
    let (abandon_tx, abandon) = watch::channel(false);
    let postgres = !database_url.starts_with("sqlite:");
    let timing = Timing {
        debounce: Duration::from_millis(settings.server.debounce_ms.into()),
        poll: Duration::from_secs(settings.orders.poll_seconds.into()),
        backstop: if postgres {
            POSTGRES_BACKSTOP
        } else {
            SQLITE_BACKSTOP
        },
        lease: Duration::from_secs(settings.sync.lease_seconds.into()),
    };
    let mut tasks = JoinSet::new();
    // What each supervised task is, so that one that ends early (a panic)
    // is started again after a pause.
    let spawn = |tasks: &mut JoinSet<()>, job: &Job, pause: Duration| {
        let job_run: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = match job {
            Job::Worker(live) => Box::pin(
                Worker {
                    live: live.clone(),
                    store: store.clone(),
                    signals: signals.clone(),
                    timing,
                    orders: settings.orders.clone(),
                    stopping: stopping.clone(),
                    abandon: abandon.clone(),
                }
                .run(),
            ),
            Job::Relay => Box::pin(wake::relay(
                database_url.to_string(),
                signals.clone(),
                stopping.clone(),
            )),
        };
        tasks
            .spawn(async move {
                tokio::time::sleep(pause).await;
                job_run.await;
            })
            .id()
    };
    let mut jobs = BTreeMap::new();
    if postgres {
        jobs.insert(spawn(&mut tasks, &Job::Relay, Duration::ZERO), Job::Relay);
    }
    for live in channels.values() {
        let job = Job::Worker(live.clone());
        jobs.insert(spawn(&mut tasks, &job, Duration::ZERO), job);
    }
    let channel_count = channels.len();
    let addr = listener
        .local_addr()
        .map_or_else(|_| settings.server.listen.clone(), |a| a.to_string());
    let app = api::router(ApiState {
        store: store.clone(),
        channels: Arc::new(channels),
        workers: signals.clone(),
        refusals: Arc::default(),
    });
    let mut closing = stopping.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = closing.wait_for(|s| *s).await;
        })
        .into_future();
    let server = tokio::spawn(server);
    tracing::info!(listen = %addr, channels = channel_count, "chosync is running");
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
                if let Some(job) = jobs.remove(&id) {
                    if let Job::Worker(live) = &job {
                        signals.set_running(&live.settings.id, false);
                    }
                    jobs.insert(spawn(&mut tasks, &job, RESTART_PAUSE), job);
                }
            }
        }
    }
    tracing::info!(
        grace_seconds = settings.server.shutdown_seconds,
        "stopping: work in flight may finish"
    );
    let _ = stopping_tx.send(true);
    let grace = Duration::from_secs(settings.server.shutdown_seconds.into());
    if tokio::time::timeout(grace, drain(&mut tasks))
        .await
        .is_err()
    {
        tracing::warn!("work in flight outlived the grace period: dropped, it stays pending");
        let _ = abandon_tx.send(true);
        if tokio::time::timeout(ABANDON_GRACE, drain(&mut tasks))
            .await
            .is_err()
        {
            tasks.abort_all();
        }
    }
    match tokio::time::timeout(ABANDON_GRACE, server).await {
        Ok(Ok(Err(err))) => tracing::warn!(%err, "the listener stopped with an error"),
        Ok(Err(err)) => tracing::warn!(%err, "the listener's task failed"),
        Err(_) => tracing::warn!("the listener did not close in time"),
        Ok(Ok(Ok(()))) => {}
    }
    tracing::info!("stopped");
    Ok(())
}

async fn drain(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}
