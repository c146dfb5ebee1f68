//! Embedded SQLite: WAL, a busy timeout, and `BEGIN IMMEDIATE` for every write so
//! writers queue up front instead of failing mid-transaction on a lock upgrade.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::rows::{
    self, CatalogueCols, MovementCols, StockCols, StoredProductCols, TaskCols, VariantCols,
};
use super::{
    Aspect, BatchRecord, CHUNK, CatalogueRow, CatalogueSummary, CatalogueWrite, ListingState,
    PushTask, RunCounts, Sealed, StockMovement, StockRow, Store, StoreError, StoredProduct,
    VariantRecord, VariantState, Violation, refused, sql, unknown_sku_or,
};
use super::{ChannelHealth, ChannelRegistration, LeaseGrant, LogEntry, LogFilter, after};
use crate::catalogue::model::Product;
use crate::clock::Clock;
use crate::inventory::NewMovement;

macro_rules! images {
    () => {
        "(SELECT group_concat(location, '|' ORDER BY position) \
         FROM variant_images i WHERE i.sku = v.sku)"
    };
}

const CATALOGUE: &str = catalogue_query!(images!(), "v.product_id, v.position, v.sku");

pub struct SqliteStore {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool, clock })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_catalogue_write(&self) -> Result<Box<dyn CatalogueWrite>, StoreError> {
        Ok(Box::new(SqliteCatalogueWrite {
            tx: self.begin_write().await?,
            now: self.clock.now(),
        }))
    }

    async fn record_movement(&self, movement: &NewMovement) -> Result<StockRow, StoreError> {
        let mut tx = self.begin_write().await?;
        record_one(&mut tx, movement, self.clock.now()).await?;
        let row: StockCols = sqlx::query_as(sql::STOCK_ONE)
            .bind(&movement.sku)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn stock(&self, sku: Option<&str>) -> Result<Vec<StockRow>, StoreError> {
        let rows: Vec<StockCols> = match sku {
            Some(sku) => {
                sqlx::query_as(sql::STOCK_ONE)
                    .bind(sku)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => sqlx::query_as(sql::STOCK_ALL).fetch_all(&self.pool).await?,
        };
        Ok(rows.into_iter().map(StockRow::from).collect())
    }

    async fn movements(&self, sku: &str, limit: i64) -> Result<Vec<StockMovement>, StoreError> {
        let rows: Vec<MovementCols> = sqlx::query_as(sql::MOVEMENTS)
            .bind(sku)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(StockMovement::try_from).collect()
    }

    async fn for_each_catalogue_row(
        &self,
        visit: &mut (dyn FnMut(CatalogueRow) -> Result<(), String> + Send),
    ) -> Result<u64, StoreError> {
        // One read transaction: in WAL mode it sees a single snapshot throughout.
        let mut tx = self.pool.begin().await?;
        let mut rows = sqlx::query_as::<_, CatalogueCols>(CATALOGUE).fetch(&mut *tx);
        let mut count = 0;
        while let Some(cols) = rows.try_next().await? {
            visit(cols.into_row()?).map_err(StoreError::Aborted)?;
            count += 1;
        }
        drop(rows);
        tx.commit().await?;
        Ok(count)
    }

    async fn register_channels(&self, channels: &[ChannelRegistration]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let now = self.clock.now();
        let before: Vec<(String, bool, String)> =
            sqlx::query_as("SELECT id, enabled, config_hash FROM channels")
                .fetch_all(&mut *tx)
                .await?;
        sqlx::query("UPDATE channels SET enabled = $1")
            .bind(false)
            .execute(&mut *tx)
            .await?;
        for channel in channels {
            sqlx::query(sql::REGISTER_CHANNEL)
                .bind(&channel.id)
                .bind(channel.enabled)
                .bind(&channel.config_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let was = before.iter().find(|(id, _, _)| *id == channel.id);
            let behind =
                was.is_none_or(|(_, enabled, hash)| !enabled || *hash != channel.config_hash);
            if channel.enabled && behind {
                for aspect in [Aspect::Content, Aspect::Price, Aspect::Stock] {
                    sqlx::query(sql::MARK_ALL)
                        .bind(&channel.id)
                        .bind(aspect.as_str())
                        .bind(now)
                        .bind("channel configuration")
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn acquire_lease(
        &self,
        channel: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<LeaseGrant, StoreError> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let granted: Option<String> = sqlx::query_scalar(sql::ACQUIRE_LEASE)
            .bind(channel)
            .bind(owner)
            .bind(after(now, ttl))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let grant = match granted {
            Some(_) => LeaseGrant::Granted,
            None => LeaseGrant::HeldUntil(
                sqlx::query_scalar(sql::LEASE_EXPIRY)
                    .bind(channel)
                    .fetch_one(&mut *tx)
                    .await?,
            ),
        };
        tx.commit().await?;
        Ok(grant)
    }

    async fn renew_lease(
        &self,
        channel: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let renewed = sqlx::query(sql::RENEW_LEASE)
            .bind(channel)
            .bind(owner)
            .bind(after(now, ttl))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(renewed == 1)
    }

    async fn release_lease(&self, channel: &str, owner: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::RELEASE_LEASE)
            .bind(channel)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retry_channel(&self, channel: &str) -> Result<u64, StoreError> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let mut touched = 0;
        for statement in [sql::RETRY_QUARANTINED, sql::RETRY_DEFERRED] {
            touched += sqlx::query(statement)
                .bind(channel)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(touched)
    }

    async fn pending_tasks(&self, channel: &str) -> Result<Vec<PushTask>, StoreError> {
        let rows: Vec<TaskCols> = sqlx::query_as(sql::PENDING_TASKS)
            .bind(channel)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(PushTask::try_from).collect()
    }

    async fn listing_states(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, ListingState>, StoreError> {
        let rows: Vec<ListingState> = sqlx::query_as(sql::LISTING_STATES)
            .bind(channel)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| (r.sku.clone(), r)).collect())
    }

    async fn record_batch(
        &self,
        channel: &str,
        owner: &str,
        run_id: i64,
        batch: &BatchRecord,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let held = sqlx::query(sql::FENCE)
            .bind(channel)
            .bind(owner)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if held == 0 {
            return Err(StoreError::LeaseLost(channel.to_string()));
        }
        for state in &batch.states {
            sqlx::query(sql::SAVE_LISTING_STATE)
                .bind(channel)
                .bind(&state.sku)
                .bind(&state.listing_id)
                .bind(&state.variant_id)
                .bind(&state.content_hash)
                .bind(state.price)
                .bind(state.stock)
                .bind(&state.status)
                .bind(state.quarantined)
                .bind(&state.last_error)
                .bind(now)
                .bind(&state.product_id)
                .execute(&mut *tx)
                .await?;
        }
        for (sku, aspect, version) in &batch.done {
            sqlx::query(sql::FINISH_TASK)
                .bind(channel)
                .bind(sku)
                .bind(aspect.as_str())
                .bind(version)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for (sku, aspect, version, delay) in &batch.retry {
            sqlx::query(sql::RETRY_TASK)
                .bind(channel)
                .bind(sku)
                .bind(aspect.as_str())
                .bind(version)
                .bind(after(now, *delay))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for row in &batch.log {
            sqlx::query(sql::LOG_ATTEMPT)
                .bind(run_id)
                .bind(channel)
                .bind(&row.skus)
                .bind(&row.action)
                .bind(&row.outcome)
                .bind(row.attempt)
                .bind(row.http_status)
                .bind(&row.platform_code)
                .bind(&row.message)
                .bind(row.latency_ms)
                .bind(&row.request_id)
                .bind(&row.cause)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn channel_images(&self, channel: &str) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(sql::CHANNEL_IMAGES)
            .bind(channel)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }

    async fn save_channel_image(
        &self,
        channel: &str,
        source: &str,
        platform_ref: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::SAVE_CHANNEL_IMAGE)
            .bind(channel)
            .bind(source)
            .bind(platform_ref)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn start_run(&self, channel: &str, kind: &str, trigger: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::INTERRUPT_RUNS)
            .bind(channel)
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(sql::START_RUN)
            .bind(channel)
            .bind(kind)
            .bind(trigger)
            .bind(self.clock.now())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn prune_sync_log(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql::PRUNE_LOG)
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(sql::PRUNE_RUNS)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn finish_run(
        &self,
        run_id: i64,
        status: &str,
        counts: &RunCounts,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::FINISH_RUN)
            .bind(run_id)
            .bind(self.clock.now())
            .bind(status)
            .bind(counts.pushed)
            .bind(counts.skipped)
            .bind(counts.failed)
            .bind(counts.quarantined)
            .bind(counts.calls)
            .bind(counts.throttled)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sync_log(&self, filter: &LogFilter) -> Result<Vec<LogEntry>, StoreError> {
        let since = filter.since.unwrap_or(chrono::DateTime::UNIX_EPOCH);
        Ok(sqlx::query_as(sql::SYNC_LOG)
            .bind(&filter.channel)
            .bind(filter.sku.as_ref().map(|sku| format!("% {sku} %")))
            .bind(since)
            .bind(i32::from(filter.errors_only))
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn channel_health(&self, channel: &str) -> Result<ChannelHealth, StoreError> {
        let queued_tasks: i64 = sqlx::query_scalar(sql::QUEUED_TASKS)
            .bind(channel)
            .fetch_one(&self.pool)
            .await?;
        let quarantined_skus: i64 = sqlx::query_scalar(sql::QUARANTINED)
            .bind(channel)
            .fetch_one(&self.pool)
            .await?;
        let last_success: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar(sql::LAST_SUCCESS)
                .bind(channel)
                .fetch_optional(&self.pool)
                .await?;
        let last_error: Option<(chrono::DateTime<chrono::Utc>, Option<String>)> =
            sqlx::query_as(sql::LAST_ERROR)
                .bind(channel)
                .fetch_optional(&self.pool)
                .await?;
        Ok(ChannelHealth {
            queued_tasks,
            quarantined_skus,
            last_success,
            last_error_at: last_error.as_ref().map(|(at, _)| *at),
            last_error: last_error.and_then(|(_, message)| message),
        })
    }

    async fn categories(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(sql::CATEGORIES)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn sealed_credentials(&self, channel: &str) -> Result<Option<Sealed>, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = sqlx::query_as(sql::SEALED_CREDENTIALS)
            .bind(channel)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(nonce, ciphertext)| Sealed { nonce, ciphertext }))
    }

    async fn save_sealed_credentials(
        &self,
        channel: &str,
        sealed: &Sealed,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sql::SAVE_SEALED_CREDENTIALS)
            .bind(channel)
            .bind(&sealed.nonce)
            .bind(&sealed.ciphertext)
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn summary(&self) -> Result<CatalogueSummary, StoreError> {
        let (products, skus, units): (i64, i64, i64) =
            sqlx::query_as(sql::SUMMARY).fetch_one(&self.pool).await?;
        Ok(CatalogueSummary {
            products,
            skus,
            units_on_hand: units,
        })
    }
}

/// Records one movement inside `tx`; a repeated (source, external_ref) is a no-op.
async fn record_one(
    tx: &mut Transaction<'static, Sqlite>,
    m: &NewMovement,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(sql::INSERT_MOVEMENT)
        .bind(&m.sku)
        .bind(m.delta)
        .bind(m.kind.as_str())
        .bind(&m.reason)
        .bind(&m.source)
        .bind(&m.external_ref)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|err| unknown_sku_or(err, &m.sku))?;
    if inserted.is_none() {
        return Ok(());
    }
    let moved: Option<i64> = sqlx::query_scalar(sql::MOVE_LEVEL)
        .bind(m.delta)
        .bind(now)
        .bind(&m.sku)
        .fetch_optional(&mut **tx)
        .await?;
    if moved.is_some() {
        // The outbox: the change and the work it causes commit together.
        sqlx::query(sql::MARK_STOCK)
            .bind(&m.sku)
            .bind(now)
            .bind(format!("{}:{}", m.kind.as_str(), m.source))
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    let on_hand: Option<i64> = sqlx::query_scalar(sql::LEVEL_OF)
        .bind(&m.sku)
        .fetch_optional(&mut **tx)
        .await?;
    Err(refused(m, on_hand))
}

struct SqliteCatalogueWrite {
    tx: Transaction<'static, Sqlite>,
    now: DateTime<Utc>,
}

#[async_trait]
impl CatalogueWrite for SqliteCatalogueWrite {
    async fn stored_products(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, StoredProduct>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(sql::STORED_PRODUCTS);
            q.push("WHERE p.product_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            q.push(")");
            let rows: Vec<StoredProductCols> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            for row in rows {
                let (id, stored) = row.into_pair()?;
                out.insert(id, stored);
            }
        }
        Ok(out)
    }

    async fn put_products(&mut self, products: &[(Product, String)]) -> Result<(), StoreError> {
        let now = self.now;
        for chunk in products.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO products (product_id, name, description, category, brand, origin, \
                 status, option1_name, option2_name, content_hash, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, (p, hash)| {
                b.push_bind(p.product_id.as_str())
                    .push_bind(p.name.as_str())
                    .push_bind(p.description.as_str())
                    .push_bind(p.category.as_str())
                    .push_bind(p.brand.as_str())
                    .push_bind(p.origin.as_str())
                    .push_bind(p.status.as_str())
                    .push_bind(p.option_names.first().map(String::as_str))
                    .push_bind(p.option_names.get(1).map(String::as_str))
                    .push_bind(hash.as_str())
                    .push_bind(now)
                    .push_bind(now);
            });
            q.push(sql::PRODUCT_UPSERT_TAIL);
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn variant_states(
        &mut self,
        skus: &[String],
    ) -> Result<HashMap<String, VariantState>, StoreError> {
        let mut out = HashMap::with_capacity(skus.len());
        for chunk in skus.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(concat!(
                "SELECT ",
                variant_columns!(images!()),
                "FROM variants v LEFT JOIN stock_levels s ON s.sku = v.sku WHERE v.sku IN ("
            ));
            let mut list = q.separated(", ");
            for sku in chunk {
                list.push_bind(sku.as_str());
            }
            q.push(")");
            let rows: Vec<VariantCols> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            out.extend(rows.into_iter().map(VariantCols::into_state));
        }
        Ok(out)
    }

    async fn put_variants(&mut self, variants: &[VariantRecord]) -> Result<(), StoreError> {
        let now = self.now;
        // Each variant binds 15 values: stay well under SQLite's 32766.
        for chunk in variants.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO variants (sku, product_id, position, option1_value, option2_value, \
                 price, weight_g, length_mm, width_mm, height_mm, barcode, content_hash, \
                 price_hash, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut b, r| {
                let v = &r.variant;
                b.push_bind(v.sku.as_str())
                    .push_bind(v.product_id.as_str())
                    .push_bind(v.position)
                    .push_bind(v.option_values.first().map(String::as_str))
                    .push_bind(v.option_values.get(1).map(String::as_str))
                    .push_bind(v.price)
                    .push_bind(v.weight_g)
                    .push_bind(v.length_mm)
                    .push_bind(v.width_mm)
                    .push_bind(v.height_mm)
                    .push_bind(v.barcode.as_deref())
                    .push_bind(r.content_hash.as_str())
                    .push_bind(r.price_hash.as_str())
                    .push_bind(now)
                    .push_bind(now);
            });
            q.push(sql::VARIANT_UPSERT_TAIL);
            q.build().execute(&mut *self.tx).await?;

            let mut q = QueryBuilder::<Sqlite>::new("DELETE FROM variant_images WHERE sku IN (");
            let mut list = q.separated(", ");
            for r in chunk {
                list.push_bind(r.variant.sku.as_str());
            }
            q.push(")");
            q.build().execute(&mut *self.tx).await?;

            let images: Vec<(&str, i64, &str)> = chunk
                .iter()
                .flat_map(|r| {
                    r.variant
                        .images
                        .iter()
                        .zip(0..)
                        .map(|(loc, i)| (r.variant.sku.as_str(), i, loc.as_str()))
                })
                .collect();
            for images in images.chunks(CHUNK) {
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO variant_images (sku, position, location) ",
                );
                q.push_values(images, |mut b, (sku, i, loc)| {
                    b.push_bind(*sku).push_bind(*i).push_bind(*loc);
                });
                q.build().execute(&mut *self.tx).await?;
            }

            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO stock_levels (sku, on_hand, updated_at) ");
            q.push_values(chunk, |mut b, r| {
                b.push_bind(r.variant.sku.as_str())
                    .push_bind(0_i64)
                    .push_bind(now);
            });
            q.push(" ON CONFLICT (sku) DO NOTHING");
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn mark(&mut self, work: &[(String, Aspect)], cause: &str) -> Result<(), StoreError> {
        let unique: std::collections::BTreeSet<(&str, &str)> = work
            .iter()
            .map(|(sku, aspect)| (sku.as_str(), aspect.as_str()))
            .collect();
        let unique: Vec<(&str, &str)> = unique.into_iter().collect();
        for chunk in unique.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("WITH m (sku, aspect) AS (");
            q.push_values(chunk, |mut b, (sku, aspect)| {
                b.push_bind(*sku).push_bind(*aspect);
            });
            q.push(") INSERT INTO push_tasks (channel, sku, aspect, desired_version, not_before, cause, updated_at) SELECT c.id, m.sku, m.aspect, 1, ")
                .push_bind(self.now)
                .push(", ")
                .push_bind(cause)
                .push(", ")
                .push_bind(self.now)
                .push(" FROM channels c, m WHERE c.enabled")
                .push(sql::MARK_CONFLICT);
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn mark_products(
        &mut self,
        product_ids: &[String],
        cause: &str,
    ) -> Result<(), StoreError> {
        for chunk in product_ids.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO push_tasks (channel, sku, aspect, desired_version, not_before, cause, updated_at) SELECT c.id, v.sku, 'content', 1, ",
            );
            q.push_bind(self.now)
                .push(", ")
                .push_bind(cause)
                .push(", ")
                .push_bind(self.now)
                .push(" FROM channels c, variants v WHERE c.enabled AND v.product_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            q.push(")").push(sql::MARK_CONFLICT);
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn record_counts(&mut self, movements: &[NewMovement]) -> Result<(), StoreError> {
        let now = self.now;
        for chunk in movements.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO stock_movements (sku, delta, kind, reason, source, created_at) ",
            );
            q.push_values(chunk, |mut b, m| {
                b.push_bind(m.sku.as_str())
                    .push_bind(m.delta)
                    .push_bind(m.kind.as_str())
                    .push_bind(m.reason.as_str())
                    .push_bind(m.source.as_str())
                    .push_bind(now);
            });
            q.build().execute(&mut *self.tx).await?;

            let mut q = QueryBuilder::<Sqlite>::new("WITH d (sku, delta) AS (");
            q.push_values(chunk, |mut b, m| {
                b.push_bind(m.sku.as_str()).push_bind(m.delta);
            });
            q.push(
                ") UPDATE stock_levels SET on_hand = stock_levels.on_hand + d.delta, updated_at = ",
            )
            .push_bind(now)
            .push(" FROM d WHERE stock_levels.sku = d.sku");
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn violations(&mut self) -> Result<Vec<Violation>, StoreError> {
        let empty: Vec<String> = sqlx::query_scalar(sql::EMPTY_PRODUCTS)
            .fetch_all(&mut *self.tx)
            .await?;
        let mismatched = sqlx::query_as(sql::OPTIONS_MISMATCH)
            .fetch_all(&mut *self.tx)
            .await?;
        let duplicated = sqlx::query_as(
            "SELECT product_id, group_concat(sku, ' ') AS skus FROM variants \
             GROUP BY product_id, option1_value, option2_value HAVING COUNT(*) > 1 \
             ORDER BY product_id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows::violations(empty, mismatched, duplicated))
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}
