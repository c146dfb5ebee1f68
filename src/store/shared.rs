//! The `Store` methods both engines run unchanged — the same SQL (sqlx binds
//! `$N` on SQLite too), the same binds; writes of several statements in one
//! transaction, single statements on their own — written once. Each engine
//! supplies `pool`, `clock`, `begin_write()`, `record_one()`, `database_now()`,
//! `CATALOGUE_WITH_WORK` and `SELLABLE_LOCKED`, and its own catalogue reads
//! and writes.

/// Inserts one sync-log row inside a write transaction.
macro_rules! insert_log_row {
    ($tx:expr, $run_id:expr, $channel:expr, $row:expr, $now:expr) => {
        sqlx::query(sql::LOG_ATTEMPT)
            .bind($run_id)
            .bind($channel)
            .bind(&$row.skus)
            .bind(&$row.action)
            .bind(&$row.outcome)
            .bind($row.attempt)
            .bind($row.http_status)
            .bind(&$row.platform_code)
            .bind(&$row.message)
            .bind($row.latency_ms)
            .bind(&$row.request_id)
            .bind(&$row.cause)
            .bind($now)
            .execute(&mut *$tx)
            .await?
    };
}

/// `impl_store!(Engine { own methods })`: the engine's `Store` impl, its own
/// methods followed by the shared ones.
macro_rules! impl_store {
    ($engine:ident { $($own:tt)* }) => {
        impl_order_store!($engine);
        impl_schedule_store!($engine);
        impl_replica_store!($engine);
        impl_pause_store!($engine);
        impl_access_store!($engine);
        impl_monitor_store!($engine);

        #[async_trait]
        impl Store for $engine {
            $($own)*

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

            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn acquire_lease(
                &self,
                channel: &str,
                owner: &str,
                ttl: Duration,
            ) -> Result<LeaseGrant, StoreError> {
                let mut tx = self.begin_write().await?;
                let now = database_now(&mut tx).await?;
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
                let mut tx = self.begin_write().await?;
                let now = database_now(&mut tx).await?;
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
                sqlx::query(sql::RELEASE_LEASE)
                    .bind(channel)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn retry_channel(
                &self,
                channel: &str,
                sku: Option<&str>,
            ) -> Result<u64, StoreError> {
                let now = self.clock.now();
                let mut tx = self.begin_write().await?;
                let mut touched = 0;
                for statement in [sql::RETRY_QUARANTINED, sql::RETRY_DEFERRED] {
                    touched += sqlx::query(statement)
                        .bind(channel)
                        .bind(now)
                        .bind(sku)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok(touched)
            }

            async fn listing_times(
                &self,
                channel: &str,
            ) -> Result<HashMap<String, chrono::DateTime<chrono::Utc>>, StoreError> {
                let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> =
                    sqlx::query_as(sql::LISTING_TIMES)
                        .bind(channel)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().collect())
            }

            async fn sync_runs(
                &self,
                channel: Option<&str>,
                before_id: Option<i64>,
                limit: i64,
            ) -> Result<Vec<super::RunRow>, StoreError> {
                Ok(sqlx::query_as(sql::SYNC_RUNS)
                    .bind(channel)
                    .bind(before_id.unwrap_or(i64::MAX))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn hasten(&self, channel: &str, aspect: Aspect) -> Result<u64, StoreError> {
                Ok(sqlx::query(sql::HASTEN)
                    .bind(channel)
                    .bind(self.clock.now())
                    .bind(aspect.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn recheck_stock(
                &self,
                channel: &str,
                skus: &[String],
                cause: &str,
            ) -> Result<(), StoreError> {
                let now = self.clock.now();
                let mut tx = self.begin_write().await?;
                for sku in skus {
                    sqlx::query(sql::RECHECK_STOCK)
                        .bind(channel)
                        .bind(sku)
                        .bind(now)
                        .bind(cause)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn pending_tasks(&self, channel: &str) -> Result<Vec<PushTask>, StoreError> {
                let rows: Vec<TaskCols> = sqlx::query_as(sql::PENDING_TASKS)
                    .bind(channel)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(PushTask::try_from).collect()
            }

            async fn next_due(&self, channel: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
                Ok(sqlx::query_scalar(sql::NEXT_DUE)
                    .bind(channel)
                    .fetch_optional(&self.pool)
                    .await?)
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

            async fn listing_states_with_work(
                &self,
                channel: &str,
            ) -> Result<HashMap<String, ListingState>, StoreError> {
                let rows: Vec<ListingState> = sqlx::query_as(sql::LISTING_STATES_WITH_WORK)
                    .bind(channel)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|r| (r.sku.clone(), r)).collect())
            }

            async fn live_listings(&self, channel: &str) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar(sql::LIVE_LISTINGS)
                    .bind(channel)
                    .fetch_one(&self.pool)
                    .await?)
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
                    .bind(database_now(&mut tx).await?)
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
                        .bind(state.stock_lock)
                        .bind(state.stock_in_flight)
                        .execute(&mut *tx)
                        .await?;
                }
                // Tasks in SKU order, as an order's import marks them: the
                // two cannot deadlock on PostgreSQL.
                let retried = batch.retry.iter().map(|(sku, aspect, version, delay)| {
                    (sku, *aspect, *version, Some((sql::RETRY_TASK, *delay)))
                });
                let waiting = batch.wait.iter().map(|(sku, aspect, version, delay)| {
                    (sku, *aspect, *version, Some((sql::WAIT_TASK, *delay)))
                });
                let mut tasks: Vec<_> = batch
                    .done
                    .iter()
                    .map(|(sku, aspect, version)| (sku, *aspect, *version, None))
                    .chain(retried)
                    .chain(waiting)
                    .collect();
                tasks.sort_by(|a, b| (a.0, a.1.as_str()).cmp(&(b.0, b.1.as_str())));
                for (sku, aspect, version, delayed) in tasks {
                    let query = match delayed {
                        None => sqlx::query(sql::FINISH_TASK)
                            .bind(channel)
                            .bind(sku)
                            .bind(aspect.as_str())
                            .bind(version)
                            .bind(now),
                        Some((statement, delay)) => sqlx::query(statement)
                            .bind(channel)
                            .bind(sku)
                            .bind(aspect.as_str())
                            .bind(version)
                            .bind(after(now, delay))
                            .bind(now),
                    };
                    query.execute(&mut *tx).await?;
                }
                for row in &batch.log {
                    insert_log_row!(tx, run_id, channel, row, now);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn shown_on_channels(
                &self,
                skus: &[String],
            ) -> Result<HashMap<String, Vec<ShownOn>>, StoreError> {
                let mut out = HashMap::new();
                for sku in skus {
                    let rows: Vec<ShownOn> = sqlx::query_as(sql::SHOWN_ON_CHANNELS)
                        .bind(sku)
                        .fetch_all(&self.pool)
                        .await?;
                    out.insert(sku.clone(), rows);
                }
                Ok(out)
            }

            async fn claim_stock(
                &self,
                channel: &str,
                owner: &str,
                wanted: &[(String, i64)],
            ) -> Result<HashMap<String, Claim>, StoreError> {
                let mut granted = HashMap::new();
                // One SKU per transaction: a claim holds one stock level at a
                // time, so it never closes a lock cycle with an import that
                // holds many.
                for (sku, quantity) in wanted {
                    let mut tx = self.begin_write().await?;
                    let held = sqlx::query(sql::FENCE)
                        .bind(channel)
                        .bind(owner)
                        .bind(database_now(&mut tx).await?)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if held == 0 {
                        return Err(StoreError::LeaseLost(channel.to_string()));
                    }
                    let sellable: Option<i64> = sqlx::query_scalar(SELLABLE_LOCKED)
                        .bind(sku)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let Some(sellable) = sellable else {
                        continue;
                    };
                    let shown: Vec<ShownOn> = sqlx::query_as(sql::SHOWN_ON_CHANNELS)
                        .bind(sku)
                        .fetch_all(&mut *tx)
                        .await?;
                    let rows: Vec<(String, Option<i64>, Option<i64>)> = shown
                        .into_iter()
                        .map(|s| (s.channel, s.stock, s.stock_in_flight))
                        .collect();
                    let claim = split::claim(sellable, &rows, channel, *quantity);
                    if claim.push < *quantity {
                        sqlx::query(sql::MARK_OTHERS)
                            .bind(sku)
                            .bind(channel)
                            .bind(self.clock.now())
                            .bind(format!("allocation: {channel} waits for room"))
                            .execute(&mut *tx)
                            .await?;
                    }
                    let recorded = sqlx::query(sql::SET_IN_FLIGHT)
                        .bind(channel)
                        .bind(sku)
                        .bind(claim.in_flight)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    if recorded == 1 {
                        granted.insert(sku.clone(), claim);
                    }
                }
                Ok(granted)
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
                sqlx::query(sql::SAVE_CHANNEL_IMAGE)
                    .bind(channel)
                    .bind(source)
                    .bind(platform_ref)
                    .execute(&self.pool)
                    .await?;
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
                channel: Option<&str>,
            ) -> Result<u64, StoreError> {
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query(sql::PRUNE_LOG)
                    .bind(before)
                    .bind(channel)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                for statement in [sql::PRUNE_RUNS, sql::PRUNE_TICKS] {
                    sqlx::query(statement)
                        .bind(before)
                        .bind(channel)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(rows)
            }

            async fn finish_run(
                &self,
                run_id: i64,
                status: &str,
                counts: &RunCounts,
                error: Option<&str>,
            ) -> Result<(), StoreError> {
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
                    .bind(error)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn sync_log(&self, filter: &LogFilter) -> Result<Vec<LogEntry>, StoreError> {
                let since = filter.since.unwrap_or(chrono::DateTime::UNIX_EPOCH);
                Ok(sqlx::query_as(sql::SYNC_LOG)
                    .bind(&filter.channel)
                    .bind(&filter.sku)
                    .bind(since)
                    .bind(i32::from(filter.errors_only))
                    .bind(filter.limit)
                    .bind(filter.after_id.unwrap_or(0))
                    .bind(&filter.outcome)
                    .bind(filter.until.unwrap_or_else(super::far_future))
                    .bind(filter.before_id.unwrap_or(i64::MAX))
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
                sqlx::query(sql::SAVE_SEALED_CREDENTIALS)
                    .bind(channel)
                    .bind(&sealed.nonce)
                    .bind(&sealed.ciphertext)
                    .bind(self.clock.now())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn catalogue_with_work(
                &self,
                channel: &str,
            ) -> Result<Vec<CatalogueRow>, StoreError> {
                let rows: Vec<CatalogueCols> = sqlx::query_as(CATALOGUE_WITH_WORK)
                    .bind(channel)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(CatalogueCols::into_row).collect()
            }

            async fn catalogue_page(
                &self,
                filter: &super::ProductFilter,
            ) -> Result<Vec<CatalogueRow>, StoreError> {
                let rows: Vec<CatalogueCols> = sqlx::query_as(CATALOGUE_PAGE)
                    .bind(filter.after.as_deref().unwrap_or(""))
                    .bind(&filter.category)
                    .bind(&filter.status)
                    .bind(filter.pattern())
                    .bind(filter.limit)
                    .bind(&filter.product_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(CatalogueCols::into_row).collect()
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
    };
}
