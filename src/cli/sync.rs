//! `chosync sync`: push the outbox's pending work to the channels, once.

use std::sync::Arc;
use std::time::Duration;

use super::{Failure, report};
use crate::settings::Settings;
use crate::store::Store;
use crate::sync::{Kind, Options};

pub(super) async fn run(
    settings: &Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    kind: Kind,
    force: bool,
    retry: bool,
    json: bool,
) -> Result<(), Failure> {
    let options = Options {
        kind,
        force,
        lease: Duration::from_secs(settings.sync.lease_seconds.into()),
        ..Options::new("cli")
    };
    report::passes(settings, store, only, retry, &options, json).await
}
