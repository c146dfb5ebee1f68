//! PostgreSQL for several replicas: bulk statements bind whole arrays (`UNNEST`,
//! `= ANY`), and catalogue writes serialise on an advisory lock as SQLite's single
//! writer does.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::access;
use super::orders;
use super::pause;
use super::replicas;
use super::rows::{
    self, CatalogueCols, MovementCols, StockCols, StoredProductCols, TaskCols, VariantCols,
};
use super::schedule;
use super::{
    Aspect, BatchRecord, CatalogueRow, CatalogueSummary, CatalogueWrite, ListingState, PushTask,
    RunCounts, Sealed, StockMovement, StockRow, Store, StoreError, StoredProduct, VariantRecord,
    VariantState, Violation, movement_cause, refused, sql, unknown_sku_or,
};
use super::{ChannelHealth, ChannelRegistration, LeaseGrant, LogEntry, LogFilter, ShownOn, after};
use crate::catalogue::model::Product;
use crate::clock::Clock;
use crate::inventory::NewMovement;
use crate::inventory::split::{self, Claim};

/// Key of the advisory lock that serialises catalogue imports.
const CATALOGUE_LOCK: i64 = 0x6368_6f73_796e_6301;

macro_rules! images {
    () => {
        "(SELECT string_agg(location, '|' ORDER BY position) \
         FROM variant_images i WHERE i.sku = v.sku)"
    };
}

/// Byte order ("C"), as SQLite sorts, whatever the database's collation.
const CATALOGUE: &str = catalogue_query!(
    images!(),
    "v.product_id COLLATE \"C\", v.position, v.sku COLLATE \"C\""
);

const CATALOGUE_PAGE: &str = catalogue_query!(
    images!(),
    product_page!(),
    "v.product_id, v.position, v.sku"
);

const CATALOGUE_WITH_WORK: &str = catalogue_query!(
    images!(),
    with_work!(),
    "v.product_id COLLATE \"C\", v.position, v.sku COLLATE \"C\""
);

/// Locks the SKU's level: its orders and every channel's claim on it queue here.
const SELLABLE_LOCKED: &str =
    "SELECT on_hand - reserved FROM stock_levels WHERE sku = $1 FOR UPDATE";

pub struct PostgresStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

impl PostgresStore {
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        // One direct connection first: an unreachable server fails at once,
        // instead of after the pool's retries.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool, clock })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// The database server's clock, which judges every lease: one clock for
/// every replica, whatever their own clocks say.
async fn database_now(
    tx: &mut Transaction<'static, Postgres>,
) -> Result<DateTime<Utc>, StoreError> {
    Ok(sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut **tx)
        .await?)
}

impl_store!(PostgresStore {
    async fn begin_catalogue_write(&self) -> Result<Box<dyn CatalogueWrite>, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CATALOGUE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(Box::new(PgCatalogueWrite {
            tx,
            now: self.clock.now(),
        }))
    }

    async fn for_each_catalogue_row(
        &self,
        visit: &mut (dyn FnMut(CatalogueRow) -> Result<(), String> + Send),
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
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
/// The level's row lock (taken by the UPDATE) orders concurrent movements of a SKU.
async fn record_one(
    tx: &mut Transaction<'static, Postgres>,
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

struct PgCatalogueWrite {
    tx: Transaction<'static, Postgres>,
    now: DateTime<Utc>,
}

#[async_trait]
impl CatalogueWrite for PgCatalogueWrite {
    /// Movements (with the sheet mark of a change) and the levels they move.
    async fn record_bulk(
        &mut self,
        movements: &[(&NewMovement, Option<i64>)],
    ) -> Result<(), StoreError> {
        let skus: Vec<&str> = movements.iter().map(|(m, _)| m.sku.as_str()).collect();
        let deltas: Vec<i64> = movements.iter().map(|(m, _)| m.delta).collect();
        let kinds: Vec<&str> = movements.iter().map(|(m, _)| m.kind.as_str()).collect();
        let reasons: Vec<&str> = movements.iter().map(|(m, _)| m.reason.as_str()).collect();
        let sources: Vec<&str> = movements.iter().map(|(m, _)| m.source.as_str()).collect();
        let marks: Vec<Option<i64>> = movements.iter().map(|(_, mark)| *mark).collect();
        sqlx::query(
            "INSERT INTO stock_movements (sku, delta, kind, reason, source, sheet_mark, created_at) \
             SELECT *, $7::timestamptz FROM UNNEST($1::text[], $2::int8[], $3::text[], \
             $4::text[], $5::text[], $6::int8[])",
        )
        .bind(&skus)
        .bind(&deltas)
        .bind(kinds)
        .bind(reasons)
        .bind(sources)
        .bind(marks)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "UPDATE stock_levels s SET on_hand = s.on_hand + d.delta, updated_at = $3 \
             FROM UNNEST($1::text[], $2::int8[]) AS d (sku, delta) WHERE s.sku = d.sku",
        )
        .bind(&skus)
        .bind(&deltas)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn stored_products(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, StoredProduct>, StoreError> {
        // Joining the unnested ids plans as index lookups even before the first
        // ANALYZE; `= ANY` on a table that grew inside this import would seq-scan.
        let rows: Vec<StoredProductCols> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{}WHERE p.product_id IN (SELECT UNNEST($1::text[]))",
            sql::STORED_PRODUCTS
        )))
        .bind(ids)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(StoredProductCols::into_pair).collect()
    }

    async fn put_products(&mut self, products: &[(Product, String)]) -> Result<(), StoreError> {
        let column = |f: fn(&Product) -> Option<&str>| -> Vec<Option<&str>> {
            products.iter().map(|(p, _)| f(p)).collect()
        };
        let hashes: Vec<&str> = products.iter().map(|(_, h)| h.as_str()).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO products (product_id, name, description, category, brand, origin, \
             status, option1_name, option2_name, content_hash, created_at, updated_at) \
             SELECT *, $11::timestamptz, $11::timestamptz FROM UNNEST($1::text[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[]) {}",
            sql::PRODUCT_UPSERT_TAIL
        )))
        .bind(column(|p| Some(p.product_id.as_str())))
        .bind(column(|p| Some(p.name.as_str())))
        .bind(column(|p| Some(p.description.as_str())))
        .bind(column(|p| Some(p.category.as_str())))
        .bind(column(|p| Some(p.brand.as_str())))
        .bind(column(|p| Some(p.origin.as_str())))
        .bind(column(|p| Some(p.status.as_str())))
        .bind(column(|p| p.option_names.first().map(String::as_str)))
        .bind(column(|p| p.option_names.get(1).map(String::as_str)))
        .bind(hashes)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn variant_states(
        &mut self,
        skus: &[String],
    ) -> Result<HashMap<String, VariantState>, StoreError> {
        // Lock the stock rows: a count computed from these levels must not
        // race an order. In SKU order, as an order's import locks them.
        let rows: Vec<VariantCols> = sqlx::query_as(concat!(
            "SELECT ",
            variant_columns!(images!()),
            "FROM variants v JOIN stock_levels s ON s.sku = v.sku \
             WHERE v.sku IN (SELECT UNNEST($1::text[])) ORDER BY v.sku FOR UPDATE OF s"
        ))
        .bind(skus)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().map(VariantCols::into_state).collect())
    }

    async fn put_variants(&mut self, variants: &[VariantRecord]) -> Result<(), StoreError> {
        let text = |f: fn(&VariantRecord) -> Option<&str>| -> Vec<Option<&str>> {
            variants.iter().map(f).collect()
        };
        let int = |f: fn(&VariantRecord) -> Option<i64>| -> Vec<Option<i64>> {
            variants.iter().map(f).collect()
        };
        let skus = text(|r| Some(r.variant.sku.as_str()));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO variants (sku, product_id, position, option1_value, option2_value, \
             price, weight_g, length_mm, width_mm, height_mm, barcode, content_hash, price_hash, \
             created_at, updated_at) \
             SELECT *, $14::timestamptz, $14::timestamptz FROM UNNEST($1::text[], $2::text[], \
             $3::int8[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], \
             $10::int8[], $11::text[], $12::text[], $13::text[]) {}",
            sql::VARIANT_UPSERT_TAIL
        )))
        .bind(&skus)
        .bind(text(|r| Some(r.variant.product_id.as_str())))
        .bind(int(|r| Some(r.variant.position)))
        .bind(text(|r| {
            r.variant.option_values.first().map(String::as_str)
        }))
        .bind(text(|r| r.variant.option_values.get(1).map(String::as_str)))
        .bind(int(|r| Some(r.variant.price)))
        .bind(int(|r| r.variant.weight_g))
        .bind(int(|r| r.variant.length_mm))
        .bind(int(|r| r.variant.width_mm))
        .bind(int(|r| r.variant.height_mm))
        .bind(text(|r| r.variant.barcode.as_deref()))
        .bind(text(|r| Some(r.content_hash.as_str())))
        .bind(text(|r| Some(r.price_hash.as_str())))
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;

        sqlx::query("DELETE FROM variant_images WHERE sku = ANY($1)")
            .bind(&skus)
            .execute(&mut *self.tx)
            .await?;
        let (mut image_skus, mut positions, mut locations) = (Vec::new(), Vec::new(), Vec::new());
        for r in variants {
            for (location, position) in r.variant.images.iter().zip(0_i64..) {
                image_skus.push(r.variant.sku.as_str());
                positions.push(position);
                locations.push(location.as_str());
            }
        }
        sqlx::query(
            "INSERT INTO variant_images (sku, position, location) \
             SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[])",
        )
        .bind(image_skus)
        .bind(positions)
        .bind(locations)
        .execute(&mut *self.tx)
        .await?;

        sqlx::query(
            "INSERT INTO stock_levels (sku, on_hand, updated_at) \
             SELECT sku, 0, $2 FROM UNNEST($1::text[]) AS sku ON CONFLICT (sku) DO NOTHING",
        )
        .bind(&skus)
        .bind(self.now)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn mark(&mut self, work: &[(String, Aspect)], cause: &str) -> Result<(), StoreError> {
        // One row per key per statement: PostgreSQL refuses to upsert a row twice.
        let unique: std::collections::BTreeSet<(&str, &str)> = work
            .iter()
            .map(|(sku, aspect)| (sku.as_str(), aspect.as_str()))
            .collect();
        let (skus, aspects): (Vec<&str>, Vec<&str>) = unique.into_iter().unzip();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO push_tasks (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
             SELECT c.id, m.sku, m.aspect, 1, $3, $4, $3 FROM channels c \
             CROSS JOIN UNNEST($1::text[], $2::text[]) AS m (sku, aspect) WHERE c.enabled{}",
            sql::MARK_CONFLICT
        )))
        .bind(skus)
        .bind(aspects)
        .bind(self.now)
        .bind(cause)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn mark_products(
        &mut self,
        product_ids: &[String],
        cause: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO push_tasks (channel, sku, aspect, desired_version, not_before, cause, updated_at) \
             SELECT c.id, v.sku, 'content', 1, $2, $3, $2 FROM channels c \
             JOIN variants v ON v.product_id = ANY($1) WHERE c.enabled{}",
            sql::MARK_CONFLICT
        )))
        .bind(product_ids)
        .bind(self.now)
        .bind(cause)
        .execute(&mut *self.tx)
        .await?;
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
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT sku, sheet_mark, CAST(SUM(delta) AS BIGINT) FROM stock_movements \
             WHERE sheet_mark IS NOT NULL AND sku IN (SELECT UNNEST($1::text[])) \
             GROUP BY sku, sheet_mark",
        )
        .bind(skus)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sku, mark, sum)| ((sku, mark), sum))
            .collect())
    }

    async fn movements_after_mark(
        &mut self,
        marks: &[(String, i64)],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let (skus, marks): (Vec<&str>, Vec<i64>) = marks
            .iter()
            .map(|(sku, mark)| (sku.as_str(), *mark))
            .unzip();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT k.sku, COUNT(*) FROM UNNEST($1::text[], $2::int8[]) AS k (sku, mark) \
             JOIN stock_movements m ON m.sku = k.sku AND m.id > k.mark \
             AND m.sheet_mark IS DISTINCT FROM k.mark GROUP BY k.sku",
        )
        .bind(skus)
        .bind(marks)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn movements_since(
        &mut self,
        skus: &[String],
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT sku, COUNT(*) FROM stock_movements \
             WHERE sku IN (SELECT UNNEST($1::text[])) AND created_at > $2 GROUP BY sku",
        )
        .bind(skus)
        .bind(since)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn violations(&mut self) -> Result<Vec<Violation>, StoreError> {
        let empty: Vec<String> = sqlx::query_scalar(sql::EMPTY_PRODUCTS)
            .fetch_all(&mut *self.tx)
            .await?;
        let mismatched = sqlx::query_as(sql::OPTIONS_MISMATCH)
            .fetch_all(&mut *self.tx)
            .await?;
        let duplicated = sqlx::query_as(
            "SELECT product_id, string_agg(sku, ' ') AS skus FROM variants \
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
