//! Replicas: the daemons sharing a database, known by their heartbeats, and
//! the channel leases they hold. Times come from the database's clock, so
//! replicas on machines whose clocks disagree still agree on who is alive.
//! The types, the SQL both engines run and `impl_replica_store!`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;

/// A daemon as it announces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Replica {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Gone after this unless it beats again.
    pub expires_at: DateTime<Utc>,
}

/// A channel lease as held now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Lease {
    pub channel: String,
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

/// The replicas alive and the leases held, read at one instant of the
/// database's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub now: DateTime<Utc>,
    /// Oldest first (by start, then id).
    pub replicas: Vec<Replica>,
    /// By channel.
    pub leases: Vec<Lease>,
}

#[async_trait::async_trait]
pub trait ReplicaStore: Send + Sync {
    /// Records that `replica` is alive for `ttl` more (its start time is kept
    /// from its first beat), forgets replicas that expired, and returns who is
    /// alive and what each holds.
    async fn heartbeat(
        &self,
        id: &str,
        host: &str,
        pid: i64,
        ttl: std::time::Duration,
    ) -> Result<Membership, StoreError>;

    /// Who is alive and what each holds, without beating.
    async fn membership(&self) -> Result<Membership, StoreError>;

    /// Removes `replica`'s row (a clean stop): the others need not wait for it
    /// to expire.
    async fn leave(&self, id: &str) -> Result<(), StoreError>;
}

pub(super) mod sql {
    pub const BEAT: &str = "INSERT INTO replicas \
        (id, host, pid, started_at, heartbeat_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5) \
        ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
        heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at, \
        started_at = CASE WHEN replicas.expires_at > excluded.heartbeat_at \
            THEN replicas.started_at ELSE excluded.started_at END";
    pub const FORGET_EXPIRED: &str = "DELETE FROM replicas WHERE expires_at <= $1";
    pub const LIVE: &str = "SELECT id, host, pid, started_at, heartbeat_at, expires_at \
        FROM replicas WHERE expires_at > $1 ORDER BY started_at, id";
    pub const LEASES: &str = "SELECT channel, owner, expires_at FROM channel_leases \
        WHERE expires_at > $1 ORDER BY channel";
    pub const LEAVE: &str = "DELETE FROM replicas WHERE id = $1";
}

/// Who is alive and what each holds, read inside `$tx` at `$now`.
macro_rules! read_membership {
    ($tx:ident, $now:ident) => {
        replicas::Membership {
            replicas: sqlx::query_as::<_, replicas::Replica>(replicas::sql::LIVE)
                .bind($now)
                .fetch_all(&mut *$tx)
                .await?,
            leases: sqlx::query_as::<_, replicas::Lease>(replicas::sql::LEASES)
                .bind($now)
                .fetch_all(&mut *$tx)
                .await?,
            now: $now,
        }
    };
}

/// `impl_replica_store!(Engine)`: the engine's `ReplicaStore`, the same SQL
/// on both; `database_now` and `after` come from the engine's module.
macro_rules! impl_replica_store {
    ($engine:ident) => {
        #[async_trait]
        impl replicas::ReplicaStore for $engine {
            async fn heartbeat(
                &self,
                id: &str,
                host: &str,
                pid: i64,
                ttl: std::time::Duration,
            ) -> Result<replicas::Membership, StoreError> {
                let mut tx = self.begin_write().await?;
                let now = database_now(&mut tx).await?;
                sqlx::query(replicas::sql::BEAT)
                    .bind(id)
                    .bind(host)
                    .bind(pid)
                    .bind(now)
                    .bind(after(now, ttl))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(replicas::sql::FORGET_EXPIRED)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let membership = read_membership!(tx, now);
                tx.commit().await?;
                Ok(membership)
            }

            async fn membership(&self) -> Result<replicas::Membership, StoreError> {
                // A read: it need not queue behind SQLite's writers.
                let mut tx = self.pool.begin().await?;
                let now = database_now(&mut tx).await?;
                let membership = read_membership!(tx, now);
                tx.commit().await?;
                Ok(membership)
            }

            async fn leave(&self, id: &str) -> Result<(), StoreError> {
                sqlx::query(replicas::sql::LEAVE)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
