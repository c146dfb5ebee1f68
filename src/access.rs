//! Who may use the operator API and the dashboard: bearer tokens with a role.
//!
//! A token is 256 random bits shown once, when made; the store keeps only its
//! SHA-256 (a token is not a password: it has all the entropy a hash needs,
//! so a slow hash would add nothing).

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::access::TokenRecord;
use crate::store::{Store, StoreError};

/// What a token may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything an operator sees.
    Viewer,
    /// Reads, and changes the catalogue, stock, channels and alerts.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Self::Viewer),
            "operator" => Some(Self::Operator),
            _ => None,
        }
    }
}

/// Every token starts so: a leaked one is easy to recognise (and to search for).
const PREFIX: &str = "chs_";

/// A token's name: what the audit log calls whoever used it.
const MAX_NAME_CHARS: usize = 100;

/// A request's caller, once its token is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub token_id: i64,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token needs a name (1 to {MAX_NAME_CHARS} characters)")]
    BadName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new token: the token itself (shown once) and its record.
pub struct NewToken {
    pub token: SecretString,
    pub record: TokenRecord,
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a token for `name` with `role`; only its hash is stored.
pub async fn create(store: &dyn Store, name: &str, role: Role) -> Result<NewToken, TokenError> {
    let name = crate::catalogue::text::clean(name);
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(TokenError::BadName);
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = SecretString::from(format!("{PREFIX}{}", hex::encode(bytes)));
    let record = store
        .create_token(&name, role.as_str(), &hash(token.expose_secret()))
        .await?;
    Ok(NewToken { token, record })
}

/// The caller a presented token stands for; `None` for an unknown or
/// revoked token (or text that is no token at all).
pub async fn authenticate(store: &dyn Store, token: &str) -> Result<Option<Caller>, StoreError> {
    if !token.starts_with(PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    Ok(store.use_token(&hash(token)).await?.and_then(|record| {
        Some(Caller {
            token_id: record.id,
            role: Role::parse(&record.role)?,
            name: record.name,
        })
    }))
}
