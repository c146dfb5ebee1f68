//! A channel's token lifecycle: the access token refreshed ahead of expiry
//! (the daemon's `tokens` schedule calls `check`), an alert ahead of the end
//! of the seller's authorization, and a channel whose refresh the platform
//! refuses for good paused — no platform call for it, what it shows stays
//! counted as shown — until the seller authorizes chosync again.

use chosync_connector::ConnectorError;
use chosync_connector::credentials::Expiry;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::PlatformKind;
use crate::store::orders::{AlertKind, NewAlert};
use crate::store::{Pause, Store, StoreError};
use crate::sync::Channel;

/// The tokens schedule refreshes this long before the access token runs
/// out (Lazada recommends about 30 minutes; a schedule every 10 minutes
/// then always has two chances), so calls rarely wait for a refresh.
pub const REFRESH_AHEAD: Duration = Duration::minutes(30);

/// Shopee authorizations last at most 365 days from the seller's consent.
pub const SHOPEE_AUTHORIZATION_DAYS: i64 = 365;

/// How long before the authorization ends operators are warned: what each
/// platform warns with itself (Shopee push code 12: 7 days; Lazada push
/// type 8: 48 hours). Sendo's and Voso's keys do not run out: no warning.
pub fn warning_ahead(platform: PlatformKind) -> Duration {
    match platform {
        PlatformKind::Shopee => Duration::days(7),
        PlatformKind::Lazada => Duration::hours(48),
        PlatformKind::Sendo | PlatformKind::Voso | PlatformKind::Spreadsheet => Duration::zero(),
    }
}

/// Work refused at once because the channel is paused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "channel {channel} is paused since {since}: {reason}; nothing is sent to it until it is authorized again (`chosync channels connect {channel}`; Shopee and Lazada then `chosync channels authorize {channel} --code CODE`)"
)]
pub struct Paused {
    pub channel: String,
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// `Some` when `channel` is paused: the caller refuses its work without
/// any platform call.
pub async fn paused(store: &dyn Store, channel: &str) -> Result<Option<Paused>, StoreError> {
    Ok(store.channel_pause(channel).await?.map(|pause| Paused {
        channel: channel.to_string(),
        reason: pause.reason,
        since: pause.since,
    }))
}

/// What one check of a channel's tokens found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TokenCheck {
    /// The platform takes no tokens (a spreadsheet channel).
    NoTokens,
    /// No tokens yet: `chosync channels connect` first.
    NotAuthorized,
    /// Paused already; nothing was asked of the platform.
    Paused(Pause),
    /// The access token holds beyond the refresh margin.
    Fresh {
        access_expires_at: DateTime<Utc>,
    },
    Refreshed {
        access_expires_at: DateTime<Utc>,
    },
    /// The platform refused the refresh for good: the channel is paused now
    /// and `token_refresh_refused` raised.
    Refused {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenReport {
    pub channel: String,
    #[serde(flatten)]
    pub check: TokenCheck,
    /// When the seller's authorization ends, where known.
    pub authorization_ends_at: Option<DateTime<Utc>>,
    /// `authorization_expiring` is raised (the end is within the warning).
    pub expiring: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure that may pass (network, throttling, the store behind the
    /// credentials): the next check tries again.
    #[error("channel {channel}: token check: {error}")]
    Platform {
        channel: String,
        error: ConnectorError,
    },
}

/// Checks `channel`'s tokens: refreshes the access token within
/// `REFRESH_AHEAD` of its expiry (single-flight with the channel's calls,
/// persisted before use), pauses the channel if the platform refuses the
/// refresh for good, and raises (or resolves) `authorization_expiring`
/// by how far off the authorization's end is.
pub async fn check(store: &dyn Store, channel: &Channel<'_>) -> Result<TokenReport, TokenError> {
    let id = channel.settings.id.as_str();
    let report = |check, authorization_ends_at, expiring| TokenReport {
        channel: id.to_string(),
        check,
        authorization_ends_at,
        expiring,
    };
    if !channel.settings.platform.has_tokens() {
        return Ok(report(TokenCheck::NoTokens, None, false));
    }
    if let Some(pause) = store.channel_pause(id).await? {
        return Ok(report(TokenCheck::Paused(pause), None, false));
    }
    if let Some(reason) = pause_if_refused(store, channel).await? {
        return Ok(report(TokenCheck::Refused { reason }, None, false));
    }
    let platform_error = |error| TokenError::Platform {
        channel: id.to_string(),
        error,
    };
    let authorized = channel
        .client
        .token_expiry()
        .await
        .map_err(platform_error)?
        .is_some();
    if !authorized {
        return Ok(report(TokenCheck::NotAuthorized, None, false));
    }
    let (check, expiry) = match channel.client.refresh_ahead(REFRESH_AHEAD).await {
        Ok(ahead) if ahead.refreshed => (
            TokenCheck::Refreshed {
                access_expires_at: ahead.expiry.access_expires_at,
            },
            ahead.expiry,
        ),
        Ok(ahead) => (
            TokenCheck::Fresh {
                access_expires_at: ahead.expiry.access_expires_at,
            },
            ahead.expiry,
        ),
        Err(ConnectorError::Unauthorized(why)) => {
            // Noted by the client too: taken, so it is acted on once.
            channel.client.take_refused_refresh();
            let reason = refused(store, id, &why).await?;
            return Ok(report(TokenCheck::Refused { reason }, None, false));
        }
        Err(error) => return Err(platform_error(error)),
    };
    let platform = channel.settings.platform;
    let ends = authorization_end(store, id, platform, &expiry).await?;
    let expiring = match ends {
        Some(end) if end - store.now() <= warning_ahead(platform) => {
            raise_expiring(store, id, end).await?;
            true
        }
        Some(_) => {
            store
                .resolve_alert(AlertKind::AuthorizationExpiring, id, "")
                .await?;
            false
        }
        // Nothing known says otherwise: a push's alert stands.
        None => false,
    };
    Ok(report(check, ends, expiring))
}

/// When `channel`'s authorization ends: as recorded (at authorization, or
/// as a push named it), else Lazada's refresh token's end (a refresh does
/// not extend it).
async fn authorization_end(
    store: &dyn Store,
    channel: &str,
    platform: PlatformKind,
    expiry: &Expiry,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let recorded = store
        .authorization(channel)
        .await?
        .and_then(|a| a.expires_at);
    Ok(recorded.or(match platform {
        PlatformKind::Lazada => expiry.refresh_expires_at,
        PlatformKind::Shopee
        | PlatformKind::Sendo
        | PlatformKind::Voso
        | PlatformKind::Spreadsheet => None,
    }))
}

/// Pauses the channel if the platform refused one of its calls' refreshes
/// for good (a pass, an import or a reconcile asks when it is done), as
/// `check` does; returns the pause's reason.
pub async fn pause_if_refused(
    store: &dyn Store,
    channel: &Channel<'_>,
) -> Result<Option<String>, StoreError> {
    match channel.client.take_refused_refresh() {
        Some(why) => refused(store, &channel.settings.id, &why).await.map(Some),
        None => Ok(None),
    }
}

/// The platform refused a refresh for good: alert, then pause. Returns the
/// pause's reason (the platform's words, never a token).
async fn refused(store: &dyn Store, channel: &str, why: &str) -> Result<String, StoreError> {
    let reason = format!("the platform refused a token refresh: {why}");
    tracing::error!(channel, reason = %reason, "channel paused until it is authorized again");
    store
        .raise_alert(&NewAlert {
            kind: AlertKind::TokenRefreshRefused,
            channel: channel.to_string(),
            subject: String::new(),
            message: format!(
                "channel {channel} is paused: {reason}. The seller must authorize chosync again: `chosync channels connect {channel}`, then `chosync channels authorize {channel} --code CODE`"
            ),
        })
        .await?;
    store.pause_channel(channel, &reason).await?;
    Ok(reason)
}

async fn raise_expiring(
    store: &dyn Store,
    channel: &str,
    end: DateTime<Utc>,
) -> Result<(), StoreError> {
    let when = end.format("%Y-%m-%d %H:%M UTC");
    store
        .raise_alert(&NewAlert {
            kind: AlertKind::AuthorizationExpiring,
            channel: channel.to_string(),
            subject: String::new(),
            message: format!(
                "the seller's authorization of channel {channel} ends at {when}: have the seller authorize chosync again before then (`chosync channels connect {channel}`), or the channel pauses"
            ),
        })
        .await?;
    Ok(())
}

/// The platform pushed that the authorization ends soon (Shopee code 12,
/// Lazada type 8): `authorization_expiring` is raised. Shopee's push names
/// the authorization's end (or, unnamed, it is at most 7 days off), which
/// is recorded; Lazada's names an access token's end, which the tokens
/// schedule refreshes, so only the alert is raised.
pub async fn expiry_pushed(
    store: &dyn Store,
    channel: &str,
    platform: PlatformKind,
    expires_at: Option<DateTime<Utc>>,
) -> Result<DateTime<Utc>, StoreError> {
    let end = expires_at.unwrap_or_else(|| store.now() + warning_ahead(platform));
    if platform == PlatformKind::Shopee {
        store.set_authorization_end(channel, end).await?;
    }
    raise_expiring(store, channel, end).await?;
    Ok(end)
}

/// The seller authorized chosync again (a new code exchanged, tokens
/// stored): the authorization is recorded with its end, the channel
/// resumed and its token alerts resolved. `expiry` is the new pair's.
pub async fn authorized(
    store: &dyn Store,
    channel: &str,
    platform: PlatformKind,
    expiry: Option<Expiry>,
) -> Result<(), StoreError> {
    let ends = match platform {
        PlatformKind::Shopee => Some(store.now() + Duration::days(SHOPEE_AUTHORIZATION_DAYS)),
        PlatformKind::Lazada => expiry.and_then(|e| e.refresh_expires_at),
        // The shop's keys log in again whenever a token runs out.
        PlatformKind::Sendo | PlatformKind::Voso | PlatformKind::Spreadsheet => None,
    };
    store.record_authorization(channel, ends).await?;
    if store.resume_channel(channel).await? {
        tracing::info!(channel, "channel resumed: authorized again");
    }
    for kind in [
        AlertKind::TokenRefreshRefused,
        AlertKind::AuthorizationExpiring,
    ] {
        store.resolve_alert(kind, channel, "").await?;
    }
    Ok(())
}
