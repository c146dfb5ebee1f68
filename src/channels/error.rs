//! What can go wrong working with configured channels, sorted so a shell can
//! tell the operator's input (exit code 2) from a failure (exit code 1).

use chosync_connector::ConnectorError;
use chosync_connector::credentials::CredentialError;

use crate::secrets::SecretsError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("no channel \"{id}\" in the configuration (configured: {})", .known.join(", "))]
    Unknown { id: String, known: Vec<String> },
    /// A channel's settings cannot make a client or a mapping; the message
    /// names the key.
    #[error("{0}")]
    Misconfigured(String),
    /// The platform will not make an authorization link of these settings.
    #[error(transparent)]
    AuthLink(ConnectorError),
    /// The platform refused or failed the code exchange.
    #[error("{channel}: {source}")]
    Authorize {
        channel: String,
        source: ConnectorError,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChannelError {
    /// Whether fixing the command or the configuration is what it takes.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Unknown { .. } | Self::Misconfigured(_) | Self::AuthLink(_)
        )
    }
}
