//! What a sync story needs of a channel besides its sandbox: its settings
//! and mapping, a client on sealed credentials with quick retries, and the
//! call log the client reports to.

use std::sync::Arc;
use std::time::Duration;

use chosync::channels::ChannelSettings;
use chosync::channels::client::ChannelClient;
use chosync::channels::mapping::Mapping;
use chosync::secrets::{EncryptedCredentials, SecretBox};
use chosync::store::ChannelRegistration;
use chosync::sync::{CallLog, Channel};
use chosync_connector::http::{HttpConfig, RetryPolicy};

use super::TestDb;

pub struct Rig {
    pub settings: ChannelSettings,
    pub mapping: Mapping,
    pub client: ChannelClient,
    pub events: Arc<CallLog>,
}

impl Rig {
    /// The channel's rig with its client authorized by `code` (the calls
    /// that took cleared from the log).
    pub async fn authorized(
        settings: ChannelSettings,
        mapping_file: &str,
        client: ChannelClient,
        events: Arc<CallLog>,
        code: &str,
    ) -> Self {
        client.authorize(code).await.expect("authorize");
        events.take(0);
        Self {
            settings,
            mapping: mapping(mapping_file),
            client,
            events,
        }
    }

    pub fn channel(&self) -> Channel<'_> {
        Channel {
            settings: &self.settings,
            mapping: &self.mapping,
            client: &self.client,
            events: self.events.clone(),
            allocation: &chosync::inventory::allocation::SHARED,
        }
    }
}

/// Registers channel `id` (enabled) in the test database.
pub async fn register(db: &TestDb, id: &str) {
    db.store
        .register_channels(&[ChannelRegistration {
            id: id.into(),
            enabled: true,
            config_hash: "h1".into(),
        }])
        .await
        .expect("register");
}

/// A channel's settings from their TOML.
pub fn settings(toml: &str) -> ChannelSettings {
    use figment::providers::{Format, Toml};
    figment::Figment::from(Toml::string(toml))
        .extract()
        .expect("channel settings")
}

/// One of the demo mappings in `config/mappings/`.
pub fn mapping(file: &str) -> Mapping {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mappings");
    Mapping::load(&dir.join(file)).expect("mapping")
}

/// Tokens sealed in the test database with a fixed key.
pub fn credentials(db: &TestDb) -> Arc<EncryptedCredentials> {
    Arc::new(EncryptedCredentials::new(
        db.store.clone(),
        SecretBox::from_key(&[7; 32]),
    ))
}

/// Quick retries: the stories break endpoints on purpose.
pub fn quick_http() -> HttpConfig {
    HttpConfig {
        retry: RetryPolicy {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            deadline: Duration::from_secs(2),
            max_attempts: 3,
        },
        ..HttpConfig::default()
    }
}
