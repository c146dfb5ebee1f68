//! Schedule ticks: claimed once across processes by their unique (channel,
//! kind, fire time) key, then finished with an outcome. The types, the SQL
//! both engines run and `impl_schedule_store!`, written once for both.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::schedule::Kind;

/// How a claimed tick ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TickOutcome {
    Done,
    Failed,
}

impl TickOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt {
                table: "schedule_ticks",
                detail: format!("outcome {other:?}"),
            }),
        }
    }
}

/// A claimed tick as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tick {
    pub fire_time: DateTime<Utc>,
    pub claimed_by: String,
    pub claimed_at: DateTime<Utc>,
    /// `None` while it runs, or if its process died before finishing it.
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<TickOutcome>,
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct TickCols {
    fire_time: DateTime<Utc>,
    claimed_by: String,
    claimed_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    note: Option<String>,
}

impl TickCols {
    pub(super) fn into_tick(self) -> Result<Tick, StoreError> {
        Ok(Tick {
            fire_time: self.fire_time,
            claimed_by: self.claimed_by,
            claimed_at: self.claimed_at,
            finished_at: self.finished_at,
            outcome: self
                .outcome
                .as_deref()
                .map(TickOutcome::parse)
                .transpose()?,
            note: self.note,
        })
    }
}

/// Ticks of the schedules: claim, finish, read the last.
#[async_trait::async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Claims the tick of `channel`'s `kind` schedule firing at `fire_time`:
    /// `true` for exactly one caller across every process sharing the
    /// database. A tick at or before one already claimed is never claimed
    /// (a replica whose clock lags does not run an older tick again).
    async fn claim_tick(
        &self,
        channel: &str,
        kind: Kind,
        fire_time: DateTime<Utc>,
        claimed_by: &str,
    ) -> Result<bool, StoreError>;

    /// Takes over a tick `from` claimed and never finished (its process
    /// died): `true` for exactly one caller, which runs it.
    async fn reclaim_tick(
        &self,
        channel: &str,
        kind: Kind,
        fire_time: DateTime<Utc>,
        from: &str,
        claimed_by: &str,
    ) -> Result<bool, StoreError>;

    /// Records how a claimed tick ended; `false` if no such tick was claimed.
    async fn finish_tick(
        &self,
        channel: &str,
        kind: Kind,
        fire_time: DateTime<Utc>,
        outcome: TickOutcome,
        note: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// The latest tick claimed for `channel`'s `kind` schedule.
    async fn last_tick(&self, channel: &str, kind: Kind) -> Result<Option<Tick>, StoreError>;
}

pub(super) mod sql {
    pub const CLAIM_TICK: &str = "INSERT INTO schedule_ticks \
        (channel, kind, fire_time, claimed_by, claimed_at) \
        SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM schedule_ticks \
        WHERE channel = $1 AND kind = $2 AND fire_time >= $3) \
        ON CONFLICT (channel, kind, fire_time) DO NOTHING";
    pub const RECLAIM_TICK: &str = "UPDATE schedule_ticks SET claimed_by = $5, claimed_at = $6 \
        WHERE channel = $1 AND kind = $2 AND fire_time = $3 AND claimed_by = $4 \
        AND finished_at IS NULL";
    pub const FINISH_TICK: &str = "UPDATE schedule_ticks \
        SET finished_at = $4, outcome = $5, note = $6 \
        WHERE channel = $1 AND kind = $2 AND fire_time = $3";
    pub const LAST_TICK: &str = "SELECT fire_time, claimed_by, claimed_at, finished_at, \
        outcome, note FROM schedule_ticks WHERE channel = $1 AND kind = $2 \
        ORDER BY fire_time DESC LIMIT 1";
}

/// `impl_schedule_store!(Engine)`: the engine's `ScheduleStore`, the same
/// SQL on both (sqlx binds `$N` on SQLite too). SQLite keeps times as text
/// of one format; fire times are bound as whole seconds, so comparing the
/// texts compares the instants.
macro_rules! impl_schedule_store {
    ($engine:ident) => {
        #[async_trait]
        impl schedule::ScheduleStore for $engine {
            async fn claim_tick(
                &self,
                channel: &str,
                kind: crate::schedule::Kind,
                fire_time: DateTime<Utc>,
                claimed_by: &str,
            ) -> Result<bool, StoreError> {
                let inserted = sqlx::query(schedule::sql::CLAIM_TICK)
                    .bind(channel)
                    .bind(kind.as_str())
                    .bind(chrono::SubsecRound::trunc_subsecs(fire_time, 0))
                    .bind(claimed_by)
                    .bind(self.clock.now())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(inserted == 1)
            }

            async fn reclaim_tick(
                &self,
                channel: &str,
                kind: crate::schedule::Kind,
                fire_time: DateTime<Utc>,
                from: &str,
                claimed_by: &str,
            ) -> Result<bool, StoreError> {
                let updated = sqlx::query(schedule::sql::RECLAIM_TICK)
                    .bind(channel)
                    .bind(kind.as_str())
                    .bind(chrono::SubsecRound::trunc_subsecs(fire_time, 0))
                    .bind(from)
                    .bind(claimed_by)
                    .bind(self.clock.now())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(updated == 1)
            }

            async fn finish_tick(
                &self,
                channel: &str,
                kind: crate::schedule::Kind,
                fire_time: DateTime<Utc>,
                outcome: schedule::TickOutcome,
                note: Option<&str>,
            ) -> Result<bool, StoreError> {
                let updated = sqlx::query(schedule::sql::FINISH_TICK)
                    .bind(channel)
                    .bind(kind.as_str())
                    .bind(chrono::SubsecRound::trunc_subsecs(fire_time, 0))
                    .bind(self.clock.now())
                    .bind(outcome.as_str())
                    .bind(note)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(updated == 1)
            }

            async fn last_tick(
                &self,
                channel: &str,
                kind: crate::schedule::Kind,
            ) -> Result<Option<schedule::Tick>, StoreError> {
                sqlx::query_as::<_, schedule::TickCols>(schedule::sql::LAST_TICK)
                    .bind(channel)
                    .bind(kind.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .map(schedule::TickCols::into_tick)
                    .transpose()
            }
        }
    };
}
