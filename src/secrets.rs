//! Secrets at rest: channel tokens are sealed with ChaCha20-Poly1305 under a
//! key from `CHOSYNC_SECRET_KEY` (64 hex digits) or a key file that chosync
//! creates, readable by its owner only, on first use.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chosync_connector::credentials::{CredentialError, CredentialStore, TokenPair};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Sealed, Store};

pub const KEY_ENV: &str = "CHOSYNC_SECRET_KEY";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{KEY_ENV} must be 64 hex digits (a 32-byte key)")]
    BadEnvKey,
    #[error("key file {0} must hold 64 hex digits (a 32-byte key)")]
    BadKeyFile(String),
    #[error("key file {0} can be read by other users; run `chmod 600 {0}`")]
    KeyFileOpen(String),
    #[error("key file {path}: {error}")]
    KeyFileIo { path: String, error: std::io::Error },
    #[error(
        "stored credentials of {0} cannot be decrypted: is this the key they were sealed with?"
    )]
    Undecryptable(String),
}

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// A second key drawn from the first, for secrets chosync derives
    /// rather than stores (push URL keys): the sealing key never leaves.
    derived: [u8; 32],
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> Self {
        let mut derived = Sha256::new();
        derived.update(b"chosync derived keys v1\0");
        derived.update(key);
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(*key)),
            derived: derived.finalize().into(),
        }
    }

    /// The secret part of `channel`'s push URL, for platforms whose pushes
    /// carry no signature (Sendo): 256 random-looking bits that the same key
    /// gives again on every start and every replica, so nothing is stored.
    pub fn push_url_key(&self, channel: &str) -> SecretString {
        use hmac::{Mac, SimpleHmac};
        // HMAC pads a short key with zeros to the block: the same MAC as
        // the 32-byte key, with no fallible constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.derived);
        let mut mac = <SimpleHmac<Sha256> as hmac::digest::KeyInit>::new(&block.into());
        mac.update(b"push url\0");
        mac.update(channel.as_bytes());
        hex::encode(mac.finalize().into_bytes()).into()
    }

    /// The key from `CHOSYNC_SECRET_KEY`, else from `key_file` (created 0600 if absent).
    pub fn load(key_file: &Path) -> Result<Self, SecretsError> {
        match std::env::var(KEY_ENV) {
            Ok(hex_key) => parse_key(&hex_key)
                .map(|key| Self::from_key(&key))
                .ok_or(SecretsError::BadEnvKey),
            Err(_) => Self::from_key_file(key_file),
        }
    }

    /// The key in `key_file`, created (owner-only) with a new random key if absent.
    pub fn from_key_file(key_file: &Path) -> Result<Self, SecretsError> {
        let shown = key_file.display().to_string();
        let io = |error| SecretsError::KeyFileIo {
            path: shown.clone(),
            error,
        };
        match std::fs::read_to_string(key_file) {
            Ok(text) => {
                if is_open(key_file) {
                    return Err(SecretsError::KeyFileOpen(shown));
                }
                let key = parse_key(&text).ok_or(SecretsError::BadKeyFile(shown))?;
                Ok(Self::from_key(&key))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
                write_private(key_file, hex::encode(key).as_bytes()).map_err(io)?;
                tracing::info!(key_file = %shown, "created a new secret key");
                Ok(Self::from_key(&key))
            }
            Err(err) => Err(io(err)),
        }
    }

    /// Encrypts `plaintext`; `context` (e.g. the channel id) must match to open it.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Sealed {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption only fails for messages beyond 256 GiB.
        let ciphertext = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Vec<u8>, SecretsError> {
        let Ok(nonce) = <[u8; 12]>::try_from(sealed.nonce.as_slice()) else {
            return Err(SecretsError::Undecryptable(context.to_string()));
        };
        let payload = Payload {
            msg: &sealed.ciphertext,
            aad: context.as_bytes(),
        };
        self.cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SecretsError::Undecryptable(context.to_string()))
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Whether group or others may read the key file.
#[cfg(unix)]
fn is_open(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn is_open(_: &Path) -> bool {
    false
}

/// What is sealed for a channel.
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    refresh_token: String,
    access_expires_at: DateTime<Utc>,
    refresh_expires_at: Option<DateTime<Utc>>,
}

/// The connectors' credential store: tokens sealed in the database.
pub struct EncryptedCredentials {
    store: Arc<dyn Store>,
    secrets: SecretBox,
}

impl EncryptedCredentials {
    pub fn new(store: Arc<dyn Store>, secrets: SecretBox) -> Self {
        Self { store, secrets }
    }
}

#[async_trait]
impl CredentialStore for EncryptedCredentials {
    async fn load(&self, channel: &str) -> Result<Option<TokenPair>, CredentialError> {
        let failed = |e: String| CredentialError(e);
        let Some(sealed) = self
            .store
            .sealed_credentials(channel)
            .await
            .map_err(|e| failed(e.to_string()))?
        else {
            return Ok(None);
        };
        let plain = self
            .secrets
            .open(channel, &sealed)
            .map_err(|e| failed(e.to_string()))?;
        let stored: StoredTokens = serde_json::from_slice(&plain)
            .map_err(|e| failed(format!("stored tokens of {channel}: {e}")))?;
        Ok(Some(TokenPair {
            access_token: stored.access_token.into(),
            refresh_token: stored.refresh_token.into(),
            access_expires_at: stored.access_expires_at,
            refresh_expires_at: stored.refresh_expires_at,
        }))
    }

    async fn save(&self, channel: &str, tokens: &TokenPair) -> Result<(), CredentialError> {
        let stored = StoredTokens {
            access_token: tokens.access_token.expose_secret().to_string(),
            refresh_token: tokens.refresh_token.expose_secret().to_string(),
            access_expires_at: tokens.access_expires_at,
            refresh_expires_at: tokens.refresh_expires_at,
        };
        let plain = serde_json::to_vec(&stored).map_err(|e| CredentialError(e.to_string()))?;
        let sealed = self.secrets.seal(channel, &plain);
        self.store
            .save_sealed_credentials(channel, &sealed)
            .await
            .map_err(|e| CredentialError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_the_same_key_and_context() {
        let one = SecretBox::from_key(&[1; 32]);
        let other = SecretBox::from_key(&[2; 32]);
        let sealed = one.seal("shopee-a", b"access-token-123");
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"access"));
        assert_eq!(
            one.open("shopee-a", &sealed).expect("open"),
            b"access-token-123"
        );
        assert!(
            one.open("shopee-b", &sealed).is_err(),
            "bound to its channel"
        );
        assert!(other.open("shopee-a", &sealed).is_err(), "bound to its key");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("chosync.key");
        let first = SecretBox::from_key_file(&path).expect("create");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = first.seal("c", b"x");
        let again = SecretBox::from_key_file(&path).expect("reuse");
        assert_eq!(again.open("c", &sealed).expect("same key"), b"x");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            SecretBox::from_key_file(&path),
            Err(SecretsError::KeyFileOpen(_))
        ));
    }
}
