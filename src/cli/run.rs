//! `chosync run`: the daemon, until SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::Context as _;

use super::Failure;
use crate::settings::Settings;
use crate::store::Store;

pub(super) async fn run(
    settings: &Settings,
    store: Arc<dyn Store>,
    url: &str,
) -> Result<(), Failure> {
    let listener = crate::daemon::bind(settings)
        .await
        .map_err(anyhow::Error::from)?;
    let stop = signal().context("cannot watch for SIGTERM")?;
    crate::daemon::run(settings, store, url, listener, stop)
        .await
        .map_err(|err| match err {
            crate::daemon::DaemonError::Channel(err) => Failure::from(err),
            crate::daemon::DaemonError::Alerts(problems) => {
                Failure::invalid(problems.iter().map(ToString::to_string).collect())
            }
            err => Failure::from(anyhow::Error::from(err)),
        })
}

/// Completes on SIGTERM (service managers) or SIGINT (Ctrl-C).
pub(super) fn signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
        }
    })
}
