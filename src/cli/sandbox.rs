//! `chosync sandbox PLATFORM`: one marketplace sandbox, announced on one
//! JSON line, serving until Ctrl-C.

use super::{Failure, say};
use crate::sandboxes::{Platform, start};

pub(super) async fn run(
    platform: Platform,
    port: u16,
    rate: u32,
    seed: u64,
) -> Result<(), Failure> {
    let started = start(platform, port, rate, seed).await?;
    say!("{}", started.announcement);
    tokio::signal::ctrl_c().await.map_err(anyhow::Error::from)?;
    started.task.abort();
    Ok(())
}
