//! Each configured channel's state: active or paused, authorization and
//! sync health.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::tokens::ChannelState;
use super::{ChannelError, PlatformKind, prepare};
use crate::settings::Settings;
use crate::store::{ChannelHealth, Store};

#[derive(Debug, Serialize)]
pub struct ChannelStatus {
    pub id: String,
    pub platform: PlatformKind,
    pub enabled: bool,
    /// Active or paused (why); room for more states (a replica's standby).
    #[serde(flatten)]
    pub state: ChannelState,
    pub authorized: bool,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// When the seller's authorization ends, where known.
    pub authorization_expires_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub health: ChannelHealth,
}

/// Every configured channel, in the configuration's order.
pub async fn statuses(
    settings: &Settings,
    store: &Arc<dyn Store>,
) -> Result<Vec<ChannelStatus>, ChannelError> {
    let credentials = prepare::credentials(settings, store)?;
    let mut rows = Vec::new();
    for channel in &settings.channels {
        let tokens = credentials.load(&channel.id).await?;
        rows.push(ChannelStatus {
            health: store.channel_health(&channel.id).await?,
            state: ChannelState::of(store.as_ref(), &channel.id).await?,
            authorization_expires_at: store
                .authorization(&channel.id)
                .await?
                .and_then(|a| a.expires_at),
            id: channel.id.clone(),
            platform: channel.platform,
            enabled: channel.enabled,
            authorized: tokens.is_some(),
            access_expires_at: tokens.as_ref().map(|t| t.access_expires_at),
            refresh_expires_at: tokens.as_ref().and_then(|t| t.refresh_expires_at),
        });
    }
    Ok(rows)
}
