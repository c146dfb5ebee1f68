//! What operators watch from outside: the counts behind the Prometheus
//! gauges (work waiting, quarantined SKUs, open oversold alerts, when each
//! channel's order poll last ended), and the alert deliveries to webhook
//! targets, each claimed once across every process sharing the database.
//! The types, the SQL both engines run and `impl_monitor_store!`.

use chrono::{DateTime, Utc};

use super::StoreError;

/// The counts the gauges show, read at `now` (the store's clock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub now: DateTime<Utc>,
    /// (channel, aspect, pending tasks), due or deferred.
    pub waiting: Vec<(String, String, i64)>,
    /// (channel, quarantined SKUs).
    pub quarantined: Vec<(String, i64)>,
    /// (channel, open `oversold` alerts); '' is the alert that names no
    /// channel (reserved above on hand).
    pub oversold: Vec<(String, i64)>,
    /// (channel, when its last order poll ended).
    pub order_polls: Vec<(String, DateTime<Utc>)>,
}

/// How an alert's delivery to a target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    Failed,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// A delivery claimed: the alert, the target, and the delivery's number
/// (the first to that target is 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub alert_id: i64,
    pub target: String,
    pub seq: i64,
}

#[async_trait::async_trait]
pub trait MonitorStore: Send + Sync {
    /// The gauges' counts, every channel's at once (four cheap reads).
    async fn monitor_counts(&self) -> Result<Counts, StoreError>;

    /// Claims the next delivery of alert `alert_id` to `target`: `Some` for
    /// exactly one caller across every process sharing the database, and
    /// only while no delivery to it was claimed after `since` (one that
    /// failed: after `failed_since`). The unique (alert, target, number)
    /// key decides between replicas that read the same last delivery.
    async fn claim_alert_delivery(
        &self,
        alert_id: i64,
        target: &str,
        since: DateTime<Utc>,
        failed_since: DateTime<Utc>,
        claimed_by: &str,
    ) -> Result<Option<Claimed>, StoreError>;

    /// The (alert, target) pairs `claim_alert_delivery` would refuse now
    /// (same bounds): one read, so that a round claims only what is due.
    async fn recent_alert_deliveries(
        &self,
        since: DateTime<Utc>,
        failed_since: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, StoreError>;

    /// Forgets deliveries claimed before `before`; returns how many.
    async fn forget_alert_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Records how a claimed delivery ended (the receiver's last status).
    async fn finish_alert_delivery(
        &self,
        claimed: &Claimed,
        outcome: DeliveryOutcome,
        http_status: Option<i64>,
    ) -> Result<(), StoreError>;
}

pub(super) mod sql {
    pub const WAITING: &str = "SELECT channel, aspect, COUNT(*) FROM push_tasks \
        WHERE desired_version > done_version GROUP BY channel, aspect";
    pub const QUARANTINED: &str = "SELECT channel, COUNT(*) FROM listing_state \
        WHERE quarantined GROUP BY channel";
    pub const OPEN_ALERTS_OF_KIND: &str = "SELECT channel, COUNT(*) FROM alerts \
        WHERE kind = $1 AND acknowledged_at IS NULL GROUP BY channel";
    pub const ORDER_POLLS: &str = "SELECT channel, updated_at FROM order_cursors";

    /// The next number, inserted only while no delivery counts as recent;
    /// two replicas reading the same last one collide on the key.
    pub const CLAIM_DELIVERY: &str = "INSERT INTO alert_deliveries \
        (alert_id, target, seq, claimed_by, claimed_at) \
        SELECT $1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM alert_deliveries \
            WHERE alert_id = $1 AND target = $2), $3, $4 \
        WHERE NOT EXISTS (SELECT 1 FROM alert_deliveries WHERE alert_id = $1 AND target = $2 \
            AND ((outcome IS NULL OR outcome <> 'failed') AND claimed_at >= $5 \
                OR outcome = 'failed' AND claimed_at >= $6)) \
        ON CONFLICT (alert_id, target, seq) DO NOTHING \
        RETURNING seq";
    pub const RECENT_DELIVERIES: &str = "SELECT DISTINCT alert_id, target \
        FROM alert_deliveries WHERE (outcome IS NULL OR outcome <> 'failed') \
        AND claimed_at >= $1 OR outcome = 'failed' AND claimed_at >= $2";
    pub const FORGET_DELIVERIES: &str = "DELETE FROM alert_deliveries WHERE claimed_at < $1";
    pub const FINISH_DELIVERY: &str = "UPDATE alert_deliveries \
        SET outcome = $4, http_status = $5, finished_at = $6 \
        WHERE alert_id = $1 AND target = $2 AND seq = $3";
}

/// `impl_monitor_store!(Engine)`: the engine's `MonitorStore`, the same SQL
/// on both (sqlx binds `$N` on SQLite too). SQLite keeps times as text of
/// one format; claim times and bounds are bound as whole seconds, so
/// comparing the texts compares the instants, and a claim in the bound's
/// second counts as recent: a delivery may wait up to a second longer,
/// never come sooner than the interval.
macro_rules! impl_monitor_store {
    ($engine:ident) => {
        #[async_trait]
        impl crate::store::monitor::MonitorStore for $engine {
            async fn monitor_counts(&self) -> Result<crate::store::monitor::Counts, StoreError> {
                use crate::store::monitor::sql as msql;
                let now = self.clock.now();
                let waiting = sqlx::query_as(msql::WAITING).fetch_all(&self.pool).await?;
                let quarantined = sqlx::query_as(msql::QUARANTINED)
                    .fetch_all(&self.pool)
                    .await?;
                let oversold = sqlx::query_as(msql::OPEN_ALERTS_OF_KIND)
                    .bind(crate::store::orders::AlertKind::Oversold.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                let order_polls = sqlx::query_as(msql::ORDER_POLLS)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(crate::store::monitor::Counts {
                    now,
                    waiting,
                    quarantined,
                    oversold,
                    order_polls,
                })
            }

            async fn claim_alert_delivery(
                &self,
                alert_id: i64,
                target: &str,
                since: DateTime<Utc>,
                failed_since: DateTime<Utc>,
                claimed_by: &str,
            ) -> Result<Option<crate::store::monitor::Claimed>, StoreError> {
                let whole = |t: DateTime<Utc>| chrono::SubsecRound::trunc_subsecs(t, 0);
                let seq: Option<i64> =
                    sqlx::query_scalar(crate::store::monitor::sql::CLAIM_DELIVERY)
                        .bind(alert_id)
                        .bind(target)
                        .bind(claimed_by)
                        .bind(whole(self.clock.now()))
                        .bind(whole(since))
                        .bind(whole(failed_since))
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(seq.map(|seq| crate::store::monitor::Claimed {
                    alert_id,
                    target: target.to_string(),
                    seq,
                }))
            }

            async fn recent_alert_deliveries(
                &self,
                since: DateTime<Utc>,
                failed_since: DateTime<Utc>,
            ) -> Result<Vec<(i64, String)>, StoreError> {
                let whole = |t: DateTime<Utc>| chrono::SubsecRound::trunc_subsecs(t, 0);
                Ok(
                    sqlx::query_as(crate::store::monitor::sql::RECENT_DELIVERIES)
                        .bind(whole(since))
                        .bind(whole(failed_since))
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn forget_alert_deliveries(
                &self,
                before: DateTime<Utc>,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(crate::store::monitor::sql::FORGET_DELIVERIES)
                    .bind(chrono::SubsecRound::trunc_subsecs(before, 0))
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn finish_alert_delivery(
                &self,
                claimed: &crate::store::monitor::Claimed,
                outcome: crate::store::monitor::DeliveryOutcome,
                http_status: Option<i64>,
            ) -> Result<(), StoreError> {
                sqlx::query(crate::store::monitor::sql::FINISH_DELIVERY)
                    .bind(claimed.alert_id)
                    .bind(&claimed.target)
                    .bind(claimed.seq)
                    .bind(outcome.as_str())
                    .bind(http_status)
                    .bind(self.clock.now())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}
