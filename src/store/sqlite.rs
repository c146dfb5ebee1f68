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

use super::access;
use super::orders;
use super::pause;
use super::replicas;
use super::rows::{
    self, CatalogueCols, MovementCols, StockCols, StoredProductCols, TaskCols, VariantCols,
};
use super::schedule;
use super::{
    Aspect, BatchRecord, CHUNK, CatalogueRow, CatalogueSummary, CatalogueWrite, ListingState,
    PushTask, RunCounts, Sealed, StockMovement, StockRow, Store, StoreError, StoredProduct,
    VariantRecord, VariantState, Violation, movement_cause, refused, sql, unknown_sku_or,
};
use super::{ChannelHealth, ChannelRegistration, LeaseGrant, LogEntry, LogFilter, ShownOn, after};
use crate::catalogue::model::Product;
use crate::clock::Clock;
use crate::inventory::NewMovement;
use crate::inventory::split::{self, Claim};

macro_rules! images {
    () => {
        "(SELECT group_concat(location, '|' ORDER BY position) \
         FROM variant_images i WHERE i.sku = v.sku)"
    };
}

const CATALOGUE: &str = catalogue_query!(images!(), "v.product_id, v.position, v.sku");

const CATALOGUE_PAGE: &str = catalogue_query!(
    images!(),
    product_page!(),
    "v.product_id, v.position, v.sku"
);

const CATALOGUE_WITH_WORK: &str =
    catalogue_query!(images!(), with_work!(), "v.product_id, v.position, v.sku");

// `BEGIN IMMEDIATE` already holds the database's one write lock.
const SELLABLE_LOCKED: &str = "SELECT on_hand - reserved FROM stock_levels WHERE sku = $1";

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

/// The database's clock, which judges every lease: one clock for every
/// process sharing the file, whatever clock the caller was given.
async fn database_now(tx: &mut Transaction<'static, Sqlite>) -> Result<DateTime<Utc>, StoreError> {
    let text: String = sqlx::query_scalar("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
        .fetch_one(&mut **tx)
        .await?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.to_utc())
        .map_err(|e| StoreError::Corrupt {
            table: "strftime('now')",
            detail: format!("{text}: {e}"),
        })
}

impl_store!(SqliteStore {
    async fn begin_catalogue_write(&self) -> Result<Box<dyn CatalogueWrite>, StoreError> {
        Ok(Box::new(SqliteCatalogueWrite {
            tx: self.begin_write().await?,
            now: self.clock.now(),
        }))
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
});

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
    let Some(movement) = inserted else {
        return Ok(());
    };
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
            .bind(movement_cause(movement, m))
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
    /// Movements (with the sheet mark of a change) and the levels they move.
    async fn record_bulk(
        &mut self,
        movements: &[(&NewMovement, Option<i64>)],
    ) -> Result<(), StoreError> {
        let now = self.now;
        for chunk in movements.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO stock_movements (sku, delta, kind, reason, source, sheet_mark, created_at) ",
            );
            q.push_values(chunk, |mut b, (m, mark)| {
                b.push_bind(m.sku.as_str())
                    .push_bind(m.delta)
                    .push_bind(m.kind.as_str())
                    .push_bind(m.reason.as_str())
                    .push_bind(m.source.as_str())
                    .push_bind(*mark)
                    .push_bind(now);
            });
            q.build().execute(&mut *self.tx).await?;

            let mut q = QueryBuilder::<Sqlite>::new("WITH d (sku, delta) AS (");
            q.push_values(chunk, |mut b, (m, _)| {
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

    async fn ledger_mark(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sql::LEDGER_MARK)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn sheet_changes(
        &mut self,
        skus: &[String],
    ) -> Result<HashMap<(String, i64), i64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in skus.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT sku, sheet_mark, SUM(delta) FROM stock_movements \
                 WHERE sheet_mark IS NOT NULL AND sku IN (",
            );
            let mut list = q.separated(", ");
            for sku in chunk {
                list.push_bind(sku.as_str());
            }
            q.push(") GROUP BY sku, sheet_mark");
            let rows: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            out.extend(rows.into_iter().map(|(sku, mark, sum)| ((sku, mark), sum)));
        }
        Ok(out)
    }

    async fn movements_after_mark(
        &mut self,
        marks: &[(String, i64)],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in marks.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("WITH k (sku, mark) AS (");
            q.push_values(chunk, |mut b, (sku, mark)| {
                b.push_bind(sku.as_str()).push_bind(*mark);
            });
            q.push(
                ") SELECT k.sku, COUNT(*) FROM k JOIN stock_movements m ON m.sku = k.sku \
                 AND m.id > k.mark AND (m.sheet_mark IS NULL OR m.sheet_mark <> k.mark) \
                 GROUP BY k.sku",
            );
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            out.extend(rows);
        }
        Ok(out)
    }

    async fn movements_since(
        &mut self,
        skus: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut out = HashMap::new();
        for chunk in skus.chunks(CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT sku, COUNT(*) FROM stock_movements WHERE created_at > ",
            );
            q.push_bind(since).push(" AND sku IN (");
            let mut list = q.separated(", ");
            for sku in chunk {
                list.push_bind(sku.as_str());
            }
            q.push(") GROUP BY sku");
            let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *self.tx).await?;
            out.extend(rows);
        }
        Ok(out)
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
