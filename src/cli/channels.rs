//! `chosync channels`: the configured channels with their authorization and
//! health; `connect` prints the consent page, `authorize` takes its code.

use std::sync::Arc;

use super::{ChannelAction, Failure, report, say};
use crate::channels::connect::{Connected, authorize, connect};
use crate::channels::status::{ChannelState, ChannelStatus, statuses};
use crate::settings::Settings;
use crate::store::Store;

pub(super) async fn run(
    settings: &Settings,
    store: &Arc<dyn Store>,
    action: Option<ChannelAction>,
    json: bool,
) -> Result<(), Failure> {
    match action {
        None => list(&statuses(settings, store).await?, json),
        Some(ChannelAction::Connect { channel }) => match connect(settings, store, &channel).await?
        {
            Connected::ConsentPage(link) => {
                say!("Open this page as the seller of {channel} and approve chosync:\n{link}");
            }
            Connected::NoAuthorization => {
                say!("{channel} writes and reads files: there is nothing to authorize");
            }
            Connected::SignedIn {
                authorized,
                push_path,
            } => {
                report::authorized(&authorized);
                if let Some(path) = push_path {
                    say!(
                        "Register this push URL in the platform's seller centre (keep it private: \
                         its last part is the channel's key):\n  https://<this server's public address>{path}\n\
                         (served here at http://{}{path})",
                        settings.server.listen
                    );
                }
            }
        },
        Some(ChannelAction::Authorize {
            channel,
            code,
            shop_id,
        }) => report::authorized(&authorize(settings, store, &channel, &code, shop_id).await?),
    }
    Ok(())
}

fn list(rows: &[ChannelStatus], json: bool) {
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return;
    }
    say!(
        "{:<24} {:<8} {:<8} {:<10} {:<22} {:<22} {:>7} {:>11}  LAST ERROR",
        "CHANNEL",
        "PLATFORM",
        "ENABLED",
        "STATE",
        "ACCESS TOKEN UNTIL",
        "LAST SUCCESS",
        "QUEUED",
        "QUARANTINED"
    );
    for row in rows {
        let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or_else(
                || "-".to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        let access = if row.authorized {
            when(row.access_expires_at)
        } else {
            "not authorized".into()
        };
        say!(
            "{:<24} {:<8} {:<8} {:<10} {:<22} {:<22} {:>7} {:>11}  {}",
            row.id,
            format!("{:?}", row.platform).to_lowercase(),
            if row.enabled { "yes" } else { "no" },
            row.state.short(),
            access,
            when(row.health.last_success),
            row.health.queued_tasks,
            row.health.quarantined_skus,
            row.health.last_error.as_deref().unwrap_or("-")
        );
    }
    // Why a channel is paused, and which daemon works each, are sentences:
    // under the table, not in it.
    for row in rows {
        if let ChannelState::Paused { .. } = row.state {
            say!("{}: {}", row.id, row.state.label());
        }
    }
    for row in rows {
        if let Some(replica) = &row.worked_by {
            say!("{}: worked by the daemon at {replica}", row.id);
        }
    }
}
