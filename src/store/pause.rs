//! Channel pauses and authorizations: a channel whose credentials are dead
//! is paused (why, since when) until it is authorized again; each
//! channel's authorization is kept with when it ends, so an alert comes
//! ahead of the end. The types, the SQL both engines run and
//! `impl_pause_store!`, written once for both.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// Why and since when a channel is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Pause {
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// A channel's authorization: when the seller consented and when it ends
/// (`None`: the platform did not say and no bound is known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Authorization {
    pub authorized_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Paused channels and authorizations.
#[async_trait::async_trait]
pub trait PauseStore: Send + Sync {
    /// Pauses `channel` for `reason`; a channel already paused keeps its
    /// `since` and takes the newer reason. Returns the pause as stored.
    async fn pause_channel(&self, channel: &str, reason: &str) -> Result<Pause, StoreError>;

    /// Ends `channel`'s pause; `false` if it was not paused.
    async fn resume_channel(&self, channel: &str) -> Result<bool, StoreError>;

    /// Whether (and why) `channel` is paused.
    async fn channel_pause(&self, channel: &str) -> Result<Option<Pause>, StoreError>;

    /// Records a new authorization of `channel`, at the store's now.
    async fn record_authorization(
        &self,
        channel: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Moves the end of `channel`'s recorded authorization (the platform
    /// said when it ends); `false` if none is recorded.
    async fn set_authorization_end(
        &self,
        channel: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    async fn authorization(&self, channel: &str) -> Result<Option<Authorization>, StoreError>;
}

pub(super) mod sql {
    pub const PAUSE: &str = "INSERT INTO channel_pauses (channel, reason, since) \
        VALUES ($1, $2, $3) ON CONFLICT (channel) DO UPDATE SET reason = excluded.reason \
        RETURNING reason, since";
    pub const RESUME: &str = "DELETE FROM channel_pauses WHERE channel = $1";
    pub const PAUSE_OF: &str = "SELECT reason, since FROM channel_pauses WHERE channel = $1";
    pub const RECORD_AUTHORIZATION: &str = "INSERT INTO channel_authorizations \
        (channel, authorized_at, expires_at) VALUES ($1, $2, $3) \
        ON CONFLICT (channel) DO UPDATE SET authorized_at = excluded.authorized_at, \
        expires_at = excluded.expires_at";
    pub const SET_AUTHORIZATION_END: &str =
        "UPDATE channel_authorizations SET expires_at = $2 WHERE channel = $1";
    pub const AUTHORIZATION: &str =
        "SELECT authorized_at, expires_at FROM channel_authorizations WHERE channel = $1";
}

/// `impl_pause_store!(Engine)`: the engine's `PauseStore`, the same SQL on
/// both (sqlx binds `$N` on SQLite too). Each is one statement, so none
/// needs a transaction of its own.
macro_rules! impl_pause_store {
    ($engine:ident) => {
        #[async_trait]
        impl pause::PauseStore for $engine {
            async fn pause_channel(
                &self,
                channel: &str,
                reason: &str,
            ) -> Result<pause::Pause, StoreError> {
                Ok(sqlx::query_as(pause::sql::PAUSE)
                    .bind(channel)
                    .bind(reason)
                    .bind(self.clock.now())
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn resume_channel(&self, channel: &str) -> Result<bool, StoreError> {
                let deleted = sqlx::query(pause::sql::RESUME)
                    .bind(channel)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(deleted == 1)
            }

            async fn channel_pause(
                &self,
                channel: &str,
            ) -> Result<Option<pause::Pause>, StoreError> {
                Ok(sqlx::query_as(pause::sql::PAUSE_OF)
                    .bind(channel)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn record_authorization(
                &self,
                channel: &str,
                expires_at: Option<DateTime<Utc>>,
            ) -> Result<(), StoreError> {
                sqlx::query(pause::sql::RECORD_AUTHORIZATION)
                    .bind(channel)
                    .bind(self.clock.now())
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn set_authorization_end(
                &self,
                channel: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<bool, StoreError> {
                let updated = sqlx::query(pause::sql::SET_AUTHORIZATION_END)
                    .bind(channel)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(updated == 1)
            }

            async fn authorization(
                &self,
                channel: &str,
            ) -> Result<Option<pause::Authorization>, StoreError> {
                Ok(sqlx::query_as(pause::sql::AUTHORIZATION)
                    .bind(channel)
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}
