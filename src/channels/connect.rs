//! Letting chosync manage a seller's shop: the platform's consent page, then
//! the exchange of the code it sends back for tokens, stored sealed.

use std::sync::Arc;

use chosync_connector::events::LogOnly;
use chrono::{DateTime, Utc};

use super::client::ChannelClient;
use super::{ChannelError, prepare};
use crate::settings::Settings;
use crate::store::Store;

/// The page where the seller of `channel` approves chosync.
pub fn connect_link(
    settings: &Settings,
    store: &Arc<dyn Store>,
    channel: &str,
) -> Result<String, ChannelError> {
    let context = prepare::context(
        settings,
        prepare::credentials(settings, store)?,
        Arc::new(LogOnly),
    );
    let channel = prepare::find(settings, channel)?;
    let redirect = channel.redirect_url.as_deref().ok_or_else(|| {
        ChannelError::Misconfigured(format!(
            "channels.{}.redirect_url: is required to connect (the URL registered with the platform)",
            channel.id
        ))
    })?;
    let client =
        ChannelClient::build(channel, &context, None).map_err(ChannelError::Misconfigured)?;
    client.auth_link(redirect).map_err(ChannelError::AuthLink)
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
    let expiry = client
        .token_expiry()
        .await
        .map_err(|source| ChannelError::Authorize {
            channel: channel.id.clone(),
            source,
        })?;
    // A new authorization resumes a paused channel and ends its token alerts.
    super::tokens::authorized(store.as_ref(), &channel.id, channel.platform, expiry).await?;
    let tokens = credentials.load(&channel.id).await?;
    Ok(Authorized {
        channel: channel.id.clone(),
        access_expires_at: tokens.map(|t| t.access_expires_at),
    })
}
