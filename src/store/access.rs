//! Who may use the operator API and what they wrote: bearer tokens (kept as
//! hashes) and the audit log. The types, the SQL both engines run and
//! `impl_access_store!`, written once for both.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// A token as listed: never the token itself, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    /// viewer | operator
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One write, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub token_id: Option<i64>,
    pub actor: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub token_id: Option<i64>,
    pub actor: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub summary: String,
}

#[async_trait::async_trait]
pub trait AccessStore: Send + Sync {
    /// Stores a new token by its hash; returns it as listed.
    async fn create_token(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
    ) -> Result<TokenRecord, StoreError>;

    /// The live (not revoked) token with this hash, marked as used now.
    async fn use_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes the token; `None` if there is no such token.
    async fn revoke_token(&self, id: i64) -> Result<Option<TokenRecord>, StoreError>;

    async fn record_audit(&self, entry: &NewAudit) -> Result<(), StoreError>;

    /// The newest entries first, those before `before_id` when given.
    async fn audit_log(
        &self,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}

pub(super) mod sql {
    pub const CREATE_TOKEN: &str = "INSERT INTO api_tokens (name, role, token_hash, created_at) \
        VALUES ($1, $2, $3, $4) \
        RETURNING id, name, role, created_at, last_used_at, revoked_at";
    /// `last_used_at` moves at most once a minute: a busy dashboard does not
    /// write on every request.
    pub const USE_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $2 \
        WHERE token_hash = $1 AND revoked_at IS NULL \
        AND (last_used_at IS NULL OR last_used_at < $3)";
    pub const TOKEN_BY_HASH: &str = "SELECT id, name, role, created_at, last_used_at, revoked_at \
        FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
    pub const TOKENS: &str = "SELECT id, name, role, created_at, last_used_at, revoked_at \
        FROM api_tokens ORDER BY id";
    pub const REVOKE_TOKEN: &str = "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) \
        WHERE id = $1 RETURNING id, name, role, created_at, last_used_at, revoked_at";
    pub const RECORD_AUDIT: &str = "INSERT INTO audit_log \
        (at, token_id, actor, method, path, status, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    pub const AUDIT_LOG: &str = "SELECT id, at, token_id, actor, method, path, \
        CAST(status AS BIGINT) AS status, summary FROM audit_log \
        WHERE id < $1 ORDER BY id DESC LIMIT $2";
}

/// `impl_access_store!(Engine)`: the engine's `AccessStore`, the same SQL
/// on both. Each method is one statement (or a read after one).
macro_rules! impl_access_store {
    ($engine:ident) => {
        #[async_trait]
        impl access::AccessStore for $engine {
            async fn create_token(
                &self,
                name: &str,
                role: &str,
                token_hash: &str,
            ) -> Result<access::TokenRecord, StoreError> {
                Ok(sqlx::query_as(access::sql::CREATE_TOKEN)
                    .bind(name)
                    .bind(role)
                    .bind(token_hash)
                    .bind(self.clock.now())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn use_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<access::TokenRecord>, StoreError> {
                let now = self.clock.now();
                sqlx::query(access::sql::USE_TOKEN)
                    .bind(token_hash)
                    .bind(now)
                    .bind(now - chrono::Duration::minutes(1))
                    .execute(&self.pool)
                    .await?;
                Ok(sqlx::query_as(access::sql::TOKEN_BY_HASH)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn tokens(&self) -> Result<Vec<access::TokenRecord>, StoreError> {
                Ok(sqlx::query_as(access::sql::TOKENS)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn revoke_token(
                &self,
                id: i64,
            ) -> Result<Option<access::TokenRecord>, StoreError> {
                Ok(sqlx::query_as(access::sql::REVOKE_TOKEN)
                    .bind(id)
                    .bind(self.clock.now())
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn record_audit(&self, entry: &access::NewAudit) -> Result<(), StoreError> {
                sqlx::query(access::sql::RECORD_AUDIT)
                    .bind(self.clock.now())
                    .bind(entry.token_id)
                    .bind(&entry.actor)
                    .bind(&entry.method)
                    .bind(&entry.path)
                    .bind(entry.status)
                    .bind(&entry.summary)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_log(
                &self,
                before_id: Option<i64>,
                limit: i64,
            ) -> Result<Vec<access::AuditEntry>, StoreError> {
                Ok(sqlx::query_as(access::sql::AUDIT_LOG)
                    .bind(before_id.unwrap_or(i64::MAX))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }
        }
    };
}
