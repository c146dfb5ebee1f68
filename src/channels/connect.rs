//! Letting chosync manage a seller's shop: the platform's consent page, then
//! the exchange of the code it sends back for tokens, stored sealed.

use std::sync::Arc;

use chosync_connector::events::LogOnly;
use chrono::{DateTime, Utc};

use super::client::ChannelClient;
use super::{ChannelError, ChannelSettings, prepare};
use crate::settings::Settings;
use crate::store::Store;

/// What connecting a channel gives.
#[derive(Debug)]
pub enum Connected {
    /// The page where the seller approves chosync; its code then goes to
    /// `authorize` (Shopee, Lazada).
    ConsentPage(String),
    /// Logged in with the shop's keys (Sendo, Voso); `push_path` is where
    /// the platform must send pushes, when its pushes carry no signature.
    SignedIn {
        authorized: Authorized,
        push_path: Option<String>,
    },
    /// Nothing to authorize: the channel writes and reads files.
    NoAuthorization,
}

/// Connects `channel`: its consent page, or (platforms chosync logs into with
/// the shop's keys) a login now, which checks the keys and resumes a paused
/// channel.
pub async fn connect(
    settings: &Settings,
    store: &Arc<dyn Store>,
    channel: &str,
) -> Result<Connected, ChannelError> {
    let credentials = prepare::credentials(settings, store)?;
    let context = prepare::context(settings, credentials.clone(), Arc::new(LogOnly));
    let channel = prepare::find(settings, channel)?;
    let client =
        ChannelClient::build(channel, &context, None).map_err(ChannelError::Misconfigured)?;
    let redirect = channel.redirect_url.as_deref().unwrap_or_default();
    if let Some(link) = client.auth_link(redirect) {
        if channel.redirect_url.is_none() {
            return Err(ChannelError::Misconfigured(format!(
                "channels.{}.redirect_url: is required to connect (the URL registered with the platform)",
                channel.id
            )));
        }
        return link
            .map(Connected::ConsentPage)
            .map_err(ChannelError::AuthLink);
    }
    if !channel.platform.has_tokens() {
        return Ok(Connected::NoAuthorization);
    }
    client
        .sign_in()
        .await
        .map_err(|source| ChannelError::Authorize {
            channel: channel.id.clone(),
            source,
        })?;
    let authorized = recorded(store, channel, &client, credentials).await?;
    let push_path = if channel.platform.unsigned_pushes() {
        Some(prepare::push_path(settings, channel)?)
    } else {
        None
    };
    Ok(Connected::SignedIn {
        authorized,
        push_path,
    })
}

/// A channel just authorized.
#[derive(Debug)]
pub struct Authorized {
    pub channel: String,
    /// Until when the access token holds (it is refreshed before then).
    pub access_expires_at: Option<DateTime<Utc>>,
}

/// Exchanges `code` for the tokens of `channel`; `shop_id` overrides the
/// configured shop (Shopee, for a shop the config does not name yet). The
/// channel is active afterwards, paused or not before.
pub async fn authorize(
    settings: &Settings,
    store: &Arc<dyn Store>,
    channel: &str,
    code: &str,
    shop_id: Option<i64>,
) -> Result<Authorized, ChannelError> {
    let credentials = prepare::credentials(settings, store)?;
    let context = prepare::context(settings, credentials.clone(), Arc::new(LogOnly));
    let channel = prepare::find(settings, channel)?;
    let client =
        ChannelClient::build(channel, &context, shop_id).map_err(ChannelError::Misconfigured)?;
    client
        .authorize(code)
        .await
        .map_err(|source| ChannelError::Authorize {
            channel: channel.id.clone(),
            source,
        })?;
    recorded(store, channel, &client, credentials).await
}

/// Records `channel` as just authorized: a paused channel resumes and its
/// token alerts end.
async fn recorded(
    store: &Arc<dyn Store>,
    channel: &ChannelSettings,
    client: &ChannelClient,
    credentials: Arc<dyn chosync_connector::credentials::CredentialStore>,
) -> Result<Authorized, ChannelError> {
    let failed = |source| ChannelError::Authorize {
        channel: channel.id.clone(),
        source,
    };
    let expiry = client.token_expiry().await.map_err(failed)?;
    super::tokens::authorized(store.as_ref(), &channel.id, channel.platform, expiry).await?;
    let tokens = credentials.load(&channel.id).await?;
    Ok(Authorized {
        channel: channel.id.clone(),
        access_expires_at: tokens.map(|t| t.access_expires_at),
    })
}
