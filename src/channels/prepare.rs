//! Configured channels made ready to talk to their platforms: each one's
//! client, with its credentials sealed in the store, and its mapping.

use std::sync::Arc;

use chosync_connector::credentials::CredentialStore;
use chosync_connector::events::EventSink;

use super::client::{ChannelClient, Context};
use super::mapping::Mapping;
use super::{ChannelError, ChannelSettings};
use crate::clock::SystemClock;
use crate::secrets::{EncryptedCredentials, SecretBox};
use crate::settings::Settings;
use crate::store::Store;

/// The configured channel called `id`.
pub fn find<'a>(settings: &'a Settings, id: &str) -> Result<&'a ChannelSettings, ChannelError> {
    settings.channel(id).ok_or_else(|| ChannelError::Unknown {
        id: id.to_string(),
        known: settings.channels.iter().map(|c| c.id.clone()).collect(),
    })
}

/// Channel tokens, sealed at rest with the configured key.
pub fn credentials(
    settings: &Settings,
    store: &Arc<dyn Store>,
) -> Result<Arc<dyn CredentialStore>, ChannelError> {
    let secrets = SecretBox::load(&settings.secrets.key_file)?;
    Ok(Arc::new(EncryptedCredentials::new(store.clone(), secrets)))
}

/// The secret part of the push URL of `channel`, for platforms whose pushes
/// carry no signature (Sendo): only a push to `/webhooks/<id>/<key>` is
/// taken. Derived from the secrets key, so every replica knows it.
pub fn push_url_key(
    settings: &Settings,
    channel: &ChannelSettings,
) -> Result<Option<secrecy::SecretString>, ChannelError> {
    if !channel.platform.unsigned_pushes() {
        return Ok(None);
    }
    let secrets = SecretBox::load(&settings.secrets.key_file)?;
    Ok(Some(secrets.push_url_key(&channel.id)))
}

/// Where the platform of `channel` sends its pushes: `/webhooks/<id>`, or
/// `/webhooks/<id>/<key>` where pushes carry no signature.
pub fn push_path(settings: &Settings, channel: &ChannelSettings) -> Result<String, ChannelError> {
    use secrecy::ExposeSecret;
    Ok(match push_url_key(settings, channel)? {
        Some(key) => format!("/webhooks/{}/{}", channel.id, key.expose_secret()),
        None => format!("/webhooks/{}", channel.id),
    })
}

/// What building a client needs besides the channel's settings.
pub fn context(
    settings: &Settings,
    credentials: Arc<dyn CredentialStore>,
    events: Arc<dyn EventSink>,
) -> Context {
    Context {
        credentials,
        events,
        clock: Arc::new(SystemClock),
        allow_plaintext_secrets: settings.allow_plaintext_secrets,
        config_dir: settings.config_dir.clone(),
    }
}

/// A channel ready for platform calls: its client (reporting to `events`)
/// and mapping.
pub struct Prepared<'a, E> {
    pub settings: &'a ChannelSettings,
    pub client: ChannelClient,
    pub mapping: Mapping,
    pub events: Arc<E>,
}

/// The channel named `only`, or every enabled one, ready; each client reports
/// its attempts to a sink of its own from `sink`.
pub fn prepare<'a, E: EventSink + 'static>(
    settings: &'a Settings,
    store: &Arc<dyn Store>,
    only: Option<&str>,
    sink: impl Fn() -> Arc<E>,
) -> Result<Vec<Prepared<'a, E>>, ChannelError> {
    let channels: Vec<&ChannelSettings> = match only {
        Some(id) => vec![find(settings, id)?],
        None => settings.channels.iter().filter(|c| c.enabled).collect(),
    };
    let credentials = credentials(settings, store)?;
    channels
        .into_iter()
        .map(|channel| {
            let events = sink();
            let context = context(settings, credentials.clone(), events.clone());
            Ok(Prepared {
                settings: channel,
                client: ChannelClient::build(channel, &context, None)
                    .map_err(ChannelError::Misconfigured)?,
                mapping: channel
                    .load_mapping(&settings.config_dir)
                    .map_err(ChannelError::Misconfigured)?,
                events,
            })
        })
        .collect()
}

/// A channel ready for platform calls that owns what it needs: the daemon's
/// workers and webhooks keep it for the life of the process.
pub struct LiveChannel {
    pub settings: ChannelSettings,
    pub client: ChannelClient,
    pub mapping: Mapping,
    pub events: Arc<crate::sync::CallLog>,
    /// The key a push URL must hold (see [`push_url_key`]).
    pub push_key: Option<secrecy::SecretString>,
    /// How the channels share each SKU's stock (the same for all).
    pub allocation: Arc<crate::inventory::allocation::Allocation>,
}

impl LiveChannel {
    /// What a sync pass or an order import needs of it.
    pub fn pass(&self) -> crate::sync::Channel<'_> {
        crate::sync::Channel {
            settings: &self.settings,
            mapping: &self.mapping,
            client: &self.client,
            events: self.events.clone(),
            allocation: &self.allocation,
        }
    }
}

/// Every enabled channel, live.
pub fn live(settings: &Settings, store: &Arc<dyn Store>) -> Result<Vec<LiveChannel>, ChannelError> {
    let prepared = prepare(settings, store, None, || {
        Arc::new(crate::sync::CallLog::default())
    })?;
    let allocation = Arc::new(crate::inventory::allocation::Allocation::new(settings));
    prepared
        .into_iter()
        .map(|p| {
            Ok(LiveChannel {
                push_key: push_url_key(settings, p.settings)?,
                settings: p.settings.clone(),
                client: p.client,
                mapping: p.mapping,
                events: p.events,
                allocation: allocation.clone(),
            })
        })
        .collect()
}
