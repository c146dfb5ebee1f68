//! The gauges computed from the database, set all at once by `refresh`
//! (the daemon runs it every 15 seconds, not on each scrape): work waiting,
//! quarantined SKUs, open oversold alerts, order import lag and each
//! channel's access token's time to expiry. Every configured channel gets
//! a value (0 where nothing is counted), so a count that fell to nothing
//! shows 0 rather than its last value.

use ::metrics::gauge;
use chosync_connector::credentials::CredentialStore;

use super::{ORDER_IMPORT_LAG, OVERSOLD, QUARANTINED, TOKEN_EXPIRY, WORK_WAITING};
use crate::store::{Aspect, Store, StoreError};

/// A channel the gauges are kept for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub id: String,
    /// chosync holds tokens for it (all but spreadsheet channels).
    pub tokens: bool,
}

/// The oversold alert that names no channel (reserved above on hand)
/// counts under this label value.
pub const NO_CHANNEL: &str = "none";

const ASPECTS: [Aspect; 3] = [Aspect::Content, Aspect::Price, Aspect::Stock];

/// Reads the counts and sets every gauge. A channel's tokens that cannot be
/// read (the secrets key changed, say) leave its expiry gauge as it was,
/// said in the log.
pub async fn refresh(
    store: &dyn Store,
    channels: &[Watched],
    credentials: &dyn CredentialStore,
) -> Result<(), StoreError> {
    let counts = store.monitor_counts().await?;
    let count = |rows: &[(String, i64)], channel: &str| {
        rows.iter()
            .find(|(c, _)| c == channel)
            .map_or(0, |(_, n)| *n) as f64
    };
    for channel in channels {
        let id = channel.id.clone();
        for aspect in ASPECTS {
            let waiting = counts
                .waiting
                .iter()
                .find(|(c, a, _)| *c == id && a == aspect.as_str())
                .map_or(0, |(_, _, n)| *n);
            gauge!(WORK_WAITING, "channel" => id.clone(), "aspect" => aspect.as_str())
                .set(waiting as f64);
        }
        gauge!(QUARANTINED, "channel" => id.clone()).set(count(&counts.quarantined, &id));
        gauge!(OVERSOLD, "channel" => id.clone()).set(count(&counts.oversold, &id));
        if let Some((_, polled)) = counts.order_polls.iter().find(|(c, _)| *c == id) {
            let lag = (counts.now - *polled).num_milliseconds() as f64 / 1000.0;
            gauge!(ORDER_IMPORT_LAG, "channel" => id.clone()).set(lag.max(0.0));
        }
        if channel.tokens {
            match credentials.load(&id).await {
                Ok(Some(tokens)) => {
                    let left = (tokens.access_expires_at - counts.now).num_seconds();
                    gauge!(TOKEN_EXPIRY, "channel" => id.clone()).set(left as f64);
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(channel = %id, %err, "metrics: cannot read the channel's token expiry")
                }
            }
        }
    }
    gauge!(OVERSOLD, "channel" => NO_CHANNEL).set(count(&counts.oversold, ""));
    Ok(())
}
