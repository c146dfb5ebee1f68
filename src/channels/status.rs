//! Each configured channel's state: active or paused, authorization and
//! sync health.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ChannelError, PlatformKind, prepare};
use crate::settings::Settings;
use crate::store::replicas::Membership;
use crate::store::{ChannelHealth, Store, StoreError};

/// What a channel is doing, as `chosync channels` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChannelState {
    /// Worked: by a daemon replica (`worked_by`), or by `chosync sync` when
    /// no daemon runs.
    Active,
    /// Daemons run on this database but none holds the channel yet (its
    /// last owner stopped; another takes it when the lease runs out).
    Standby,
    /// Its credentials are dead: nothing is sent until it is authorized again.
    Paused {
        reason: String,
        since: DateTime<Utc>,
    },
}

impl ChannelState {
    /// `channel`'s state, given who is alive and what each holds.
    pub async fn of(
        store: &dyn Store,
        channel: &str,
        membership: &Membership,
    ) -> Result<Self, StoreError> {
        Ok(match store.channel_pause(channel).await? {
            Some(pause) => Self::Paused {
                reason: pause.reason,
                since: pause.since,
            },
            None if !membership.replicas.is_empty() && worker(membership, channel).is_none() => {
                Self::Standby
            }
            None => Self::Active,
        })
    }

    /// One word: `active`, `standby`, `paused`.
    pub fn short(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Standby => "standby",
            Self::Paused { .. } => "paused",
        }
    }

    /// `active`, `standby`, `paused (why)`.
    pub fn label(&self) -> String {
        match self {
            Self::Paused { reason, .. } => format!("paused ({reason})"),
            other => other.short().into(),
        }
    }
}

/// The live daemon replica holding `channel`'s lease, if any.
fn worker(membership: &Membership, channel: &str) -> Option<String> {
    membership
        .leases
        .iter()
        .find(|l| l.channel == channel)
        .filter(|l| membership.replicas.iter().any(|r| r.id == l.owner))
        .map(|l| l.owner.clone())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChannelStatus {
    pub id: String,
    pub platform: PlatformKind,
    pub enabled: bool,
    /// Active, standby or paused (why).
    #[serde(flatten)]
    pub state: ChannelState,
    /// The daemon replica working it (host/listening address), if one does.
    pub worked_by: Option<String>,
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
    let membership = store.membership().await?;
    let mut rows = Vec::new();
    for channel in &settings.channels {
        let tokens = credentials.load(&channel.id).await?;
        rows.push(ChannelStatus {
            health: store.channel_health(&channel.id).await?,
            state: ChannelState::of(store.as_ref(), &channel.id, &membership).await?,
            worked_by: worker(&membership, &channel.id),
            authorization_expires_at: store
                .authorization(&channel.id)
                .await?
                .and_then(|a| a.expires_at),
            id: channel.id.clone(),
            platform: channel.platform,
            enabled: channel.enabled,
            authorized: tokens.is_some() || !channel.platform.has_tokens(),
            access_expires_at: tokens.as_ref().map(|t| t.access_expires_at),
            refresh_expires_at: tokens.as_ref().and_then(|t| t.refresh_expires_at),
        });
    }
    Ok(rows)
}
