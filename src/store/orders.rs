//! Orders, their ledger effects and alerts: the types, the SQL both engines
//! run, and `order_methods!()`, the `Store` methods written once for both.

use std::collections::{BTreeMap, HashMap};

use chosync_connector::dto::{Order, OrderState};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StoreError;
use crate::inventory::effects::{Effect, Units};

/// One order to record, as just fetched from its platform.
pub struct OrderImport<'a> {
    pub channel: &'a str,
    pub order: &'a Order,
    /// How chosync learned of it: `push`, `poll`, `settle`.
    pub seen_by: &'a str,
    /// Returned units go back on the shelf without an operator's word.
    pub restock_returns: bool,
    /// Platform SKU → catalogue SKU, for lines the catalogue knows otherwise.
    pub aliases: &'a BTreeMap<String, String>,
}

/// What recording an order did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recorded {
    /// First time chosync saw the order.
    pub new: bool,
    /// Older than the version already recorded: nothing changed.
    pub stale: bool,
    /// Units moved, per line and effect.
    pub moved: Vec<Moved>,
    /// Platform SKUs of lines the catalogue does not know (kept, waiting).
    pub waiting: Vec<String>,
    /// SKUs now reserved above what is on hand.
    pub oversold: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub line_id: String,
    pub sku: String,
    pub effect: Effect,
    pub units: i64,
}

/// An order as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderRecord {
    pub channel: String,
    pub order_id: String,
    /// unpaid | paid | ready_to_ship | shipped | completed | cancelled | returned
    #[schema(value_type = String)]
    pub state: OrderState,
    pub platform_status: String,
    pub placed_at: DateTime<Utc>,
    pub platform_updated_at: DateTime<Utc>,
    pub seen_by: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub lines: Vec<LineRecord>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineRecord {
    pub line_id: String,
    pub platform_sku: String,
    pub sku: String,
    pub quantity: i64,
    pub cancelled_quantity: i64,
    #[schema(value_type = String)]
    pub state: OrderState,
    pub waiting: bool,
    /// Units each effect has moved.
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub effects: BTreeMap<Effect, i64>,
}

impl OrderRecord {
    /// The order as its platform last showed it (to apply it again).
    pub fn as_order(&self) -> Order {
        Order {
            order_id: self.order_id.clone(),
            platform_status: self.platform_status.clone(),
            state: self.state,
            created_at: self.placed_at,
            updated_at: self.platform_updated_at,
            lines: self
                .lines
                .iter()
                .map(|l| chosync_connector::dto::OrderLine {
                    line_id: l.line_id.clone(),
                    sku: l.platform_sku.clone(),
                    quantity: l.quantity,
                    cancelled_quantity: l.cancelled_quantity,
                    state: l.state,
                })
                .collect(),
        }
    }
}

/// Which orders to list (newest seen first).
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub channel: Option<String>,
    pub state: Option<OrderState>,
    pub limit: i64,
}

/// One effect of an order on a SKU, for `explain`.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EffectRow {
    pub channel: String,
    pub order_id: String,
    pub line_id: String,
    pub effect: String,
    pub quantity: i64,
    pub updated_at: DateTime<Utc>,
}

/// Something an operator must see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub kind: AlertKind,
    pub channel: String,
    /// The SKU or order it is about ('' when neither).
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Oversold,
    UnknownSku,
    Drift,
    OrderImportFailing,
    WebhookRefused,
    /// The seller's authorization ends soon: authorize the channel again.
    AuthorizationExpiring,
    /// The platform refused a token refresh for good: the channel is paused.
    TokenRefreshRefused,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oversold => "oversold",
            Self::UnknownSku => "unknown_sku",
            Self::Drift => "drift",
            Self::OrderImportFailing => "order_import_failing",
            Self::WebhookRefused => "webhook_refused",
            Self::AuthorizationExpiring => "authorization_expiring",
            Self::TokenRefreshRefused => "token_refresh_refused",
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub channel: String,
    pub subject: String,
    pub message: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub count: i64,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
}

/// How an order's import names the stock work it marks (`order CHANNEL:ID`).
pub const ORDER_CAUSE: &str = "order ";

/// Who acknowledges an alert whose cause went away; such an alert opens
/// again when the cause comes back.
pub const RESOLVED_BY: &str = "chosync";

/// The units each effect of a line has moved, from its `order_effects` rows.
pub(super) fn line_units(rows: &[(String, i64)]) -> Units {
    let mut units = Units::default();
    for (effect, quantity) in rows {
        if let Some(effect) = Effect::parse(effect) {
            units.set(effect, *quantity);
        }
    }
    units
}

pub(super) fn parse_state(text: &str) -> Result<OrderState, StoreError> {
    OrderState::parse(text).ok_or_else(|| StoreError::Corrupt {
        table: "orders",
        detail: format!("unknown state {text:?}"),
    })
}

#[derive(sqlx::FromRow)]
pub(super) struct OrderCols {
    pub channel: String,
    pub order_id: String,
    pub state: String,
    pub platform_status: String,
    pub placed_at: DateTime<Utc>,
    pub platform_updated_at: DateTime<Utc>,
    pub seen_by: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct LineCols {
    pub line_id: String,
    pub platform_sku: String,
    pub sku: String,
    pub quantity: i64,
    pub cancelled_quantity: i64,
    pub state: String,
    pub waiting: bool,
}

impl OrderCols {
    pub(super) fn into_record(
        self,
        lines: Vec<LineCols>,
        effects: &[(String, String, i64)],
    ) -> Result<OrderRecord, StoreError> {
        let lines = lines
            .into_iter()
            .map(|l| {
                let effects = effects
                    .iter()
                    .filter(|(line, _, _)| *line == l.line_id)
                    .filter_map(|(_, e, q)| Some((Effect::parse(e)?, *q)))
                    .collect();
                Ok(LineRecord {
                    state: parse_state(&l.state)?,
                    line_id: l.line_id,
                    platform_sku: l.platform_sku,
                    sku: l.sku,
                    quantity: l.quantity,
                    cancelled_quantity: l.cancelled_quantity,
                    waiting: l.waiting,
                    effects,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(OrderRecord {
            state: parse_state(&self.state)?,
            channel: self.channel,
            order_id: self.order_id,
            platform_status: self.platform_status,
            placed_at: self.placed_at,
            platform_updated_at: self.platform_updated_at,
            seen_by: self.seen_by,
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            lines,
        })
    }
}

/// Orders, their effects, alerts, the order poll's cursor and webhook hints.
#[async_trait::async_trait]
pub trait OrderStore: Send + Sync {
    /// Records an order as just fetched and applies what its lines' states
    /// call for, in one transaction: effects (each unit at most once), stock
    /// levels, the ledger, stock work for every channel, alerts. An older
    /// version than the one recorded changes nothing.
    async fn record_order(&self, import: &OrderImport<'_>) -> Result<Recorded, StoreError>;

    /// Orders, newest seen first.
    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<OrderRecord>, StoreError>;

    /// The order `order_id` (on `channel`, or on any).
    async fn order(
        &self,
        channel: Option<&str>,
        order_id: &str,
    ) -> Result<Vec<OrderRecord>, StoreError>;

    /// The order effects on a SKU, newest first.
    async fn sku_effects(&self, sku: &str, limit: i64) -> Result<Vec<EffectRow>, StoreError>;

    /// Orders of the channel with lines waiting for their SKU.
    async fn waiting_orders(&self, channel: &str) -> Result<Vec<String>, StoreError>;

    /// Units of a SKU sold per channel (not cancelled) in orders placed since `since`.
    async fn units_sold(
        &self,
        sku: &str,
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>, StoreError>;

    /// Orders updated up to this time have been read by the channel's poll.
    async fn order_cursor(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    async fn save_order_cursor(
        &self,
        channel: &str,
        polled_to: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Keeps the order ids a verified push named, before it is answered.
    async fn add_order_hints(&self, channel: &str, ids: &[String]) -> Result<(), StoreError>;

    /// Hints not handled yet, oldest first (500 at most), with when they came.
    async fn order_hints(&self, channel: &str) -> Result<Vec<(String, DateTime<Utc>)>, StoreError>;

    /// Drops handled hints, unless the same order was hinted again since.
    async fn drop_order_hints(
        &self,
        channel: &str,
        hints: &[(String, DateTime<Utc>)],
    ) -> Result<(), StoreError>;

    /// Raises an alert, or repeats it (count, last seen); returns its id.
    async fn raise_alert(&self, alert: &NewAlert) -> Result<i64, StoreError>;

    /// Its cause went away: acknowledged by chosync (it opens again if the cause returns).
    async fn resolve_alert(
        &self,
        kind: AlertKind,
        channel: &str,
        subject: &str,
    ) -> Result<(), StoreError>;

    /// Open alerts (and acknowledged ones too), latest first.
    async fn alerts(&self, acknowledged_too: bool) -> Result<Vec<Alert>, StoreError>;

    /// `Some(true)` acknowledged now, `Some(false)` already, `None` no such alert.
    async fn acknowledge_alert(&self, id: i64, by: &str) -> Result<Option<bool>, StoreError>;

    /// Starts a run that needs no lease (order imports run beside passes);
    /// such runs left `running` by a process that died over an hour ago
    /// are marked `interrupted`.
    async fn start_free_run(
        &self,
        channel: &str,
        kind: &str,
        trigger: &str,
    ) -> Result<i64, StoreError>;

    /// Logs the calls of a run that holds no lease.
    async fn log_calls(
        &self,
        run_id: i64,
        channel: &str,
        rows: &[super::LogRow],
    ) -> Result<(), StoreError>;
}

pub(super) mod sql {
    /// Touches the order's row: on PostgreSQL it stays locked until commit,
    /// so two imports of one order (a push and a poll, two replicas) take
    /// turns and the second sees what the first recorded.
    pub const TOUCH_ORDER: &str = "UPDATE orders SET last_seen_at = $3 \
        WHERE channel = $1 AND order_id = $2 RETURNING platform_updated_at";

    pub const INSERT_ORDER: &str = "INSERT INTO orders (channel, order_id, state, \
        platform_status, placed_at, platform_updated_at, seen_by, first_seen_at, last_seen_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (channel, order_id) DO NOTHING \
        RETURNING order_id";

    pub const UPDATE_ORDER: &str = "UPDATE orders SET state = $3, platform_status = $4, \
        platform_updated_at = $5 WHERE channel = $1 AND order_id = $2";

    pub const UPSERT_LINE: &str = "INSERT INTO order_lines (channel, order_id, line_id, \
        platform_sku, sku, quantity, cancelled_quantity, state, waiting) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
        ON CONFLICT (channel, order_id, line_id) DO UPDATE SET \
        platform_sku = excluded.platform_sku, sku = excluded.sku, quantity = excluded.quantity, \
        cancelled_quantity = excluded.cancelled_quantity, state = excluded.state, \
        waiting = excluded.waiting";

    pub const SKU_KNOWN: &str = "SELECT COUNT(*) FROM variants WHERE sku = $1";

    pub const LINE_EFFECTS: &str = "SELECT effect, quantity FROM order_effects \
        WHERE channel = $1 AND order_id = $2 AND line_id = $3";

    pub const SAVE_EFFECT: &str = "INSERT INTO order_effects (channel, order_id, line_id, \
        effect, sku, quantity, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
        ON CONFLICT (channel, order_id, line_id, effect) DO UPDATE SET \
        quantity = excluded.quantity, updated_at = excluded.updated_at";

    pub const ENSURE_LEVEL: &str = "INSERT INTO stock_levels (sku, on_hand, reserved, updated_at) \
        VALUES ($1, 0, 0, $2) ON CONFLICT (sku) DO NOTHING";

    pub const MOVE_RESERVED: &str = "UPDATE stock_levels SET reserved = reserved + $1, \
        updated_at = $2 WHERE sku = $3";

    pub const LEVEL: &str = "SELECT on_hand, reserved FROM stock_levels WHERE sku = $1";

    /// The origin channel's stock task: set again even if it looks unchanged.
    pub const RECHECK: &str = "UPDATE push_tasks SET recheck_version = desired_version \
        WHERE channel = $1 AND sku = $2 AND aspect = 'stock'";

    /// Orders still holding units of a SKU.
    pub const HOLDERS: &str = "SELECT channel, order_id FROM order_effects WHERE sku = $1 \
        GROUP BY channel, order_id HAVING SUM(CASE effect WHEN 'reserve' THEN quantity \
        WHEN 'release' THEN -quantity WHEN 'commit' THEN -quantity ELSE 0 END) > 0 \
        ORDER BY channel, order_id LIMIT 20";

    pub const RAISE_ALERT: &str = "INSERT INTO alerts (kind, channel, subject, message, \
        first_seen_at, last_seen_at, count) VALUES ($1, $2, $3, $4, $5, $5, 1) \
        ON CONFLICT (kind, channel, subject) DO UPDATE SET message = excluded.message, \
        last_seen_at = excluded.last_seen_at, count = alerts.count + 1, \
        acknowledged_at = CASE WHEN alerts.acknowledged_by = $6 THEN NULL \
            ELSE alerts.acknowledged_at END, \
        acknowledged_by = CASE WHEN alerts.acknowledged_by = $6 THEN NULL \
            ELSE alerts.acknowledged_by END \
        RETURNING id";

    pub const RESOLVE_ALERT: &str = "UPDATE alerts SET acknowledged_at = $4, \
        acknowledged_by = $5 WHERE kind = $1 AND channel = $2 AND subject = $3 \
        AND acknowledged_at IS NULL";

    pub const ALERTS: &str = "SELECT id, kind, channel, subject, message, first_seen_at, \
        last_seen_at, count, acknowledged_at, acknowledged_by FROM alerts \
        WHERE ($1 OR acknowledged_at IS NULL) ORDER BY last_seen_at DESC, id DESC LIMIT 500";

    pub const ACK_ALERT: &str = "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3 \
        WHERE id = $1 AND acknowledged_at IS NULL";

    pub const ALERT_EXISTS: &str = "SELECT COUNT(*) FROM alerts WHERE id = $1";

    macro_rules! order_cols {
        () => {
            "SELECT channel, order_id, state, platform_status, placed_at, platform_updated_at, \
             seen_by, first_seen_at, last_seen_at FROM orders "
        };
    }

    pub const ORDERS: &str = concat!(
        order_cols!(),
        "WHERE (CAST($1 AS TEXT) IS NULL OR channel = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR state = $2) \
         ORDER BY last_seen_at DESC, order_id LIMIT $3"
    );

    pub const ORDER_BY_ID: &str = concat!(
        order_cols!(),
        "WHERE order_id = $1 AND (CAST($2 AS TEXT) IS NULL OR channel = $2) ORDER BY channel"
    );

    pub const ORDER_LINES: &str = "SELECT line_id, platform_sku, sku, quantity, \
        cancelled_quantity, state, waiting FROM order_lines \
        WHERE channel = $1 AND order_id = $2 ORDER BY line_id";

    pub const ORDER_EFFECTS: &str = "SELECT line_id, effect, quantity FROM order_effects \
        WHERE channel = $1 AND order_id = $2";

    pub const SKU_EFFECTS: &str = "SELECT channel, order_id, line_id, effect, quantity, \
        updated_at FROM order_effects WHERE sku = $1 ORDER BY updated_at DESC, order_id \
        LIMIT $2";

    pub const WAITING_ORDERS: &str = "SELECT DISTINCT order_id FROM order_lines \
        WHERE channel = $1 AND waiting ORDER BY order_id";

    pub const ORDER_CURSOR: &str = "SELECT polled_to FROM order_cursors WHERE channel = $1";

    pub const SAVE_ORDER_CURSOR: &str = "INSERT INTO order_cursors (channel, polled_to, updated_at) \
        VALUES ($1, $2, $3) ON CONFLICT (channel) DO UPDATE SET polled_to = excluded.polled_to, \
        updated_at = excluded.updated_at";

    pub const ADD_HINT: &str = "INSERT INTO order_hints (channel, order_id, received_at) \
        VALUES ($1, $2, $3) ON CONFLICT (channel, order_id) DO UPDATE SET \
        received_at = excluded.received_at";

    pub const HINTS: &str = "SELECT order_id, received_at FROM order_hints WHERE channel = $1 \
        ORDER BY received_at, order_id LIMIT 500";

    /// A hint that came again while its order was fetched stays.
    pub const DROP_HINT: &str = "DELETE FROM order_hints \
        WHERE channel = $1 AND order_id = $2 AND received_at <= $3";

    pub const INTERRUPT_FREE_RUNS: &str = "UPDATE sync_runs SET status = 'interrupted', \
        finished_at = $3 WHERE channel = $1 AND kind = $2 AND status = 'running' \
        AND started_at < $4";

    pub const UNITS_SOLD: &str = "SELECT l.channel, CAST(SUM(l.quantity - l.cancelled_quantity) \
        AS BIGINT) FROM order_lines l JOIN orders o ON o.channel = l.channel \
        AND o.order_id = l.order_id WHERE l.sku = $1 AND o.placed_at >= $2 \
        AND l.state <> 'cancelled' GROUP BY l.channel";
}

/// Raises (or repeats) an alert inside a write transaction.
macro_rules! raise_in {
    ($tx:expr, $kind:expr, $channel:expr, $subject:expr, $message:expr, $now:expr) => {
        sqlx::query_scalar::<_, i64>(orders::sql::RAISE_ALERT)
            .bind($kind.as_str())
            .bind($channel)
            .bind($subject)
            .bind($message)
            .bind($now)
            .bind(orders::RESOLVED_BY)
            .fetch_one(&mut *$tx)
            .await
    };
}

/// The recorded order of `row` with its lines and their effects.
macro_rules! with_lines {
    ($pool:expr, $row:expr) => {{
        let row: orders::OrderCols = $row;
        let lines: Vec<orders::LineCols> = sqlx::query_as(orders::sql::ORDER_LINES)
            .bind(&row.channel)
            .bind(&row.order_id)
            .fetch_all($pool)
            .await?;
        let effects: Vec<(String, String, i64)> = sqlx::query_as(orders::sql::ORDER_EFFECTS)
            .bind(&row.channel)
            .bind(&row.order_id)
            .fetch_all($pool)
            .await?;
        row.into_record(lines, &effects)?
    }};
}

/// `impl_order_store!(Engine)`: the engine's `OrderStore`, the same SQL on
/// both (sqlx binds `$N` on SQLite too).
macro_rules! impl_order_store {
    ($engine:ident) => {
        #[async_trait]
        impl orders::OrderStore for $engine {
        async fn record_order(
            &self,
            import: &orders::OrderImport<'_>,
        ) -> Result<orders::Recorded, StoreError> {
            use crate::inventory::effects::{self, Effect, LineView};
            use crate::inventory::{MovementKind, NewMovement};
            use orders::{AlertKind, Moved, sql as osql};
            let (order, channel) = (import.order, import.channel);
            let now = self.clock.now();
            let mut tx = self.begin_write().await?;
            let mut recorded = orders::Recorded::default();
            let touch = || {
                sqlx::query_scalar::<_, DateTime<Utc>>(osql::TOUCH_ORDER)
                    .bind(channel)
                    .bind(&order.order_id)
                    .bind(now)
            };
            let mut prior = touch().fetch_optional(&mut *tx).await?;
            if prior.is_none() {
                let inserted: Option<String> = sqlx::query_scalar(osql::INSERT_ORDER)
                    .bind(channel)
                    .bind(&order.order_id)
                    .bind(order.state.as_str())
                    .bind(&order.platform_status)
                    .bind(order.created_at)
                    .bind(order.updated_at)
                    .bind(import.seen_by)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                recorded.new = inserted.is_some();
                if !recorded.new {
                    // Inserted meanwhile by another import, now committed.
                    prior = touch().fetch_optional(&mut *tx).await?;
                }
            }
            if prior.is_some_and(|known| known > order.updated_at) {
                recorded.stale = true;
                tx.commit().await?;
                return Ok(recorded);
            }
            sqlx::query(osql::UPDATE_ORDER)
                .bind(channel)
                .bind(&order.order_id)
                .bind(order.state.as_str())
                .bind(&order.platform_status)
                .bind(order.updated_at)
                .execute(&mut *tx)
                .await?;
            let cause = format!("{}{channel}:{}", orders::ORDER_CAUSE, order.order_id);
            let resolve = |line: &chosync_connector::dto::OrderLine| {
                import
                    .aliases
                    .get(&line.sku)
                    .cloned()
                    .unwrap_or_else(|| line.sku.clone())
            };
            // Stock rows are locked in SKU order, as every writer locks
            // them: two orders over the same SKUs cannot deadlock.
            let mut lines: Vec<_> = order.lines.iter().map(|l| (resolve(l), l)).collect();
            lines.sort_by(|a, b| (&a.0, &a.1.line_id).cmp(&(&b.0, &b.1.line_id)));
            for (sku, line) in lines {
                let known: i64 = sqlx::query_scalar(osql::SKU_KNOWN)
                    .bind(&sku)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(osql::UPSERT_LINE)
                    .bind(channel)
                    .bind(&order.order_id)
                    .bind(&line.line_id)
                    .bind(&line.sku)
                    .bind(&sku)
                    .bind(line.quantity)
                    .bind(line.cancelled_quantity)
                    .bind(line.state.as_str())
                    .bind(known == 0)
                    .execute(&mut *tx)
                    .await?;
                if known == 0 {
                    let message = format!(
                        "order {} on {channel} has {} × SKU {:?}, which the catalogue does not \
                         know: the line is kept and takes effect once the SKU is imported or \
                         mapped (the channel mapping's [skus])",
                        order.order_id, line.quantity, line.sku
                    );
                    raise_in!(tx, AlertKind::UnknownSku, channel, &line.sku, &message, now)?;
                    recorded.waiting.push(line.sku.clone());
                    continue;
                }
                let rows: Vec<(String, i64)> = sqlx::query_as(osql::LINE_EFFECTS)
                    .bind(channel)
                    .bind(&order.order_id)
                    .bind(&line.line_id)
                    .fetch_all(&mut *tx)
                    .await?;
                let applied = orders::line_units(&rows);
                let view = LineView {
                    state: line.state,
                    quantity: line.quantity,
                    cancelled: line.cancelled_quantity,
                };
                let target = effects::targets(view, applied, import.restock_returns);
                if target == applied {
                    continue;
                }
                for effect in Effect::ALL {
                    let units = target.get(effect) - applied.get(effect);
                    if units <= 0 {
                        continue;
                    }
                    sqlx::query(osql::SAVE_EFFECT)
                        .bind(channel)
                        .bind(&order.order_id)
                        .bind(&line.line_id)
                        .bind(effect.as_str())
                        .bind(&sku)
                        .bind(target.get(effect))
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    recorded.moved.push(Moved {
                        line_id: line.line_id.clone(),
                        sku: sku.clone(),
                        effect,
                        units,
                    });
                }
                sqlx::query(osql::ENSURE_LEVEL)
                    .bind(&sku)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let (_, reserved) = effects::level_change(applied, target);
                if reserved != 0 {
                    sqlx::query(osql::MOVE_RESERVED)
                        .bind(reserved)
                        .bind(now)
                        .bind(&sku)
                        .execute(&mut *tx)
                        .await?;
                }
                let movement = |delta: i64, kind: MovementKind, what: &str, total: i64| NewMovement {
                    sku: sku.clone(),
                    delta,
                    kind,
                    reason: format!("order {} on {channel}: {what}", order.order_id),
                    source: format!("order:{channel}"),
                    external_ref: Some(format!(
                        "{}/{}/{}/{total}",
                        order.order_id,
                        line.line_id,
                        kind.as_str()
                    )),
                };
                let sold = target.commit - applied.commit;
                if sold > 0 {
                    let (on_hand, _): (i64, i64) = sqlx::query_as(osql::LEVEL)
                        .bind(&sku)
                        .fetch_one(&mut *tx)
                        .await?;
                    // Goods that left did leave: a count that said fewer
                    // was wrong. The level stops at zero and says so.
                    let units = sold.min(on_hand);
                    if units < sold {
                        let message = format!(
                            "order {} on {channel} shipped {sold} × {sku} with only {on_hand} on \
                             hand: count the shelf and correct it with `chosync stock adjust`",
                            order.order_id
                        );
                        raise_in!(tx, AlertKind::Oversold, channel, &sku, &message, now)?;
                    }
                    if units > 0 {
                        let m = movement(-units, MovementKind::Sale, "shipped", target.commit);
                        record_one(&mut tx, &m, now).await?;
                    }
                }
                let restocked = target.restock - applied.restock;
                if restocked > 0 {
                    let m = movement(restocked, MovementKind::Restock, "returned", target.restock);
                    record_one(&mut tx, &m, now).await?;
                }
                // The outbox: every channel listing the SKU gets the new
                // stock; the order's own channel sets it even if unchanged.
                sqlx::query(sql::MARK_STOCK)
                    .bind(&sku)
                    .bind(now)
                    .bind(&cause)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(osql::RECHECK)
                    .bind(channel)
                    .bind(&sku)
                    .execute(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    // The line's first effect: its SKU is known (now).
                    sqlx::query(osql::RESOLVE_ALERT)
                        .bind(AlertKind::UnknownSku.as_str())
                        .bind(channel)
                        .bind(&line.sku)
                        .bind(now)
                        .bind(orders::RESOLVED_BY)
                        .execute(&mut *tx)
                        .await?;
                }
                let (on_hand, held): (i64, i64) = sqlx::query_as(osql::LEVEL)
                    .bind(&sku)
                    .fetch_one(&mut *tx)
                    .await?;
                if held > on_hand {
                    let holders: Vec<(String, String)> = sqlx::query_as(osql::HOLDERS)
                        .bind(&sku)
                        .fetch_all(&mut *tx)
                        .await?;
                    let names: Vec<String> =
                        holders.iter().map(|(c, o)| format!("{c}:{o}")).collect();
                    let message = format!(
                        "{sku} is oversold: {held} reserved, {on_hand} on hand; orders holding \
                         it: {}",
                        names.join(", ")
                    );
                    raise_in!(tx, AlertKind::Oversold, "", &sku, &message, now)?;
                    recorded.oversold.push(sku.clone());
                }
            }
            tx.commit().await?;
            Ok(recorded)
        }

        async fn orders(
            &self,
            filter: &orders::OrderFilter,
        ) -> Result<Vec<orders::OrderRecord>, StoreError> {
            let rows: Vec<orders::OrderCols> = sqlx::query_as(orders::sql::ORDERS)
                .bind(&filter.channel)
                .bind(filter.state.map(|s| s.as_str()))
                .bind(filter.limit)
                .fetch_all(&self.pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(with_lines!(&self.pool, row));
            }
            Ok(out)
        }

        async fn order(
            &self,
            channel: Option<&str>,
            order_id: &str,
        ) -> Result<Vec<orders::OrderRecord>, StoreError> {
            let rows: Vec<orders::OrderCols> = sqlx::query_as(orders::sql::ORDER_BY_ID)
                .bind(order_id)
                .bind(channel)
                .fetch_all(&self.pool)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(with_lines!(&self.pool, row));
            }
            Ok(out)
        }

        async fn sku_effects(
            &self,
            sku: &str,
            limit: i64,
        ) -> Result<Vec<orders::EffectRow>, StoreError> {
            Ok(sqlx::query_as(orders::sql::SKU_EFFECTS)
                .bind(sku)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
        }

        async fn waiting_orders(&self, channel: &str) -> Result<Vec<String>, StoreError> {
            Ok(sqlx::query_scalar(orders::sql::WAITING_ORDERS)
                .bind(channel)
                .fetch_all(&self.pool)
                .await?)
        }

        async fn units_sold(
            &self,
            sku: &str,
            since: DateTime<Utc>,
        ) -> Result<HashMap<String, i64>, StoreError> {
            let rows: Vec<(String, i64)> = sqlx::query_as(orders::sql::UNITS_SOLD)
                .bind(sku)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
            Ok(rows.into_iter().collect())
        }

        async fn order_cursor(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
            Ok(sqlx::query_scalar(orders::sql::ORDER_CURSOR)
                .bind(channel)
                .fetch_optional(&self.pool)
                .await?)
        }

        async fn save_order_cursor(
            &self,
            channel: &str,
            polled_to: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(orders::sql::SAVE_ORDER_CURSOR)
                .bind(channel)
                .bind(polled_to)
                .bind(self.clock.now())
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn add_order_hints(&self, channel: &str, ids: &[String]) -> Result<(), StoreError> {
            let now = self.clock.now();
            let mut tx = self.begin_write().await?;
            for id in ids {
                sqlx::query(orders::sql::ADD_HINT)
                    .bind(channel)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn order_hints(
            &self,
            channel: &str,
        ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
            Ok(sqlx::query_as(orders::sql::HINTS)
                .bind(channel)
                .fetch_all(&self.pool)
                .await?)
        }

        async fn drop_order_hints(
            &self,
            channel: &str,
            hints: &[(String, DateTime<Utc>)],
        ) -> Result<(), StoreError> {
            let mut tx = self.begin_write().await?;
            for (id, received_at) in hints {
                sqlx::query(orders::sql::DROP_HINT)
                    .bind(channel)
                    .bind(id)
                    .bind(received_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn raise_alert(&self, alert: &orders::NewAlert) -> Result<i64, StoreError> {
            let now = self.clock.now();
            let mut tx = self.begin_write().await?;
            let id = raise_in!(tx, alert.kind, &alert.channel, &alert.subject, &alert.message, now)?;
            tx.commit().await?;
            Ok(id)
        }

        async fn resolve_alert(
            &self,
            kind: orders::AlertKind,
            channel: &str,
            subject: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(orders::sql::RESOLVE_ALERT)
                .bind(kind.as_str())
                .bind(channel)
                .bind(subject)
                .bind(self.clock.now())
                .bind(orders::RESOLVED_BY)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        async fn alerts(&self, acknowledged_too: bool) -> Result<Vec<orders::Alert>, StoreError> {
            Ok(sqlx::query_as(orders::sql::ALERTS)
                .bind(acknowledged_too)
                .fetch_all(&self.pool)
                .await?)
        }

        async fn start_free_run(
            &self,
            channel: &str,
            kind: &str,
            trigger: &str,
        ) -> Result<i64, StoreError> {
            let now = self.clock.now();
            let mut tx = self.begin_write().await?;
            sqlx::query(orders::sql::INTERRUPT_FREE_RUNS)
                .bind(channel)
                .bind(kind)
                .bind(now)
                .bind(now - chrono::Duration::hours(1))
                .execute(&mut *tx)
                .await?;
            let id: i64 = sqlx::query_scalar(sql::START_RUN)
                .bind(channel)
                .bind(kind)
                .bind(trigger)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(id)
        }

        async fn log_calls(
            &self,
            run_id: i64,
            channel: &str,
            rows: &[super::LogRow],
        ) -> Result<(), StoreError> {
            if rows.is_empty() {
                return Ok(());
            }
            let now = self.clock.now();
            let mut tx = self.begin_write().await?;
            for row in rows {
                insert_log_row!(tx, run_id, channel, row, now);
            }
            tx.commit().await?;
            Ok(())
        }

        async fn acknowledge_alert(&self, id: i64, by: &str) -> Result<Option<bool>, StoreError> {
            let done = sqlx::query(orders::sql::ACK_ALERT)
                .bind(id)
                .bind(self.clock.now())
                .bind(by)
                .execute(&self.pool)
                .await?
                .rows_affected();
            if done == 1 {
                return Ok(Some(true));
            }
            let exists: i64 = sqlx::query_scalar(orders::sql::ALERT_EXISTS)
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
            Ok((exists == 1).then_some(false))
        }
        }
    };
}
