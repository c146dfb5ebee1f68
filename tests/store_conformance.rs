//! The same store stories, run on SQLite and on PostgreSQL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chosync::catalogue::export::export_file;
use chosync::clock::Clock;
use chosync::inventory::{MovementKind, NewMovement};
use chosync::store::StoreError;
use common::{HEADER, TestDb, demo_catalogue, file};

fn adjust(sku: &str, delta: i64) -> NewMovement {
    NewMovement {
        sku: sku.into(),
        delta,
        kind: MovementKind::Adjust,
        reason: "test".into(),
        source: "test".into(),
        external_ref: None,
    }
}

async fn the_sample_catalogue_imports_and_a_second_import_changes_nothing(db: &TestDb) {
    let first = db.import(&demo_catalogue()).await.expect("import");
    assert_eq!(first.products.created, 14);
    assert_eq!(first.skus.created, 32);
    assert_eq!(first.stock_movements, 32);
    let summary = db.store.summary().await.expect("summary");
    assert_eq!((summary.products, summary.skus), (14, 32));

    let before = db.snapshot().await;
    let second = db.import(&demo_catalogue()).await.expect("re-import");
    assert_eq!(second.products.unchanged, 14);
    assert_eq!(second.skus.unchanged, 32);
    assert_eq!(second.stock_movements, 0);
    assert_eq!(db.snapshot().await, before);
}

async fn a_changed_stock_value_becomes_a_count_movement(db: &TestDb) {
    let (_d, v1) = file(
        "c.csv",
        &format!("{HEADER}\nP1,Miến dong,MD-1,,,65000,10,\n"),
    );
    db.import(&v1).await.expect("first");
    let (_d2, v2) = file(
        "c.csv",
        &format!("{HEADER}\nP1,Miến dong,MD-1,,,65000,4,\n"),
    );
    let report = db.import(&v2).await.expect("second");
    assert_eq!(report.skus.updated, 1);
    assert_eq!(report.stock_movements, 1);
    let movements = db.store.movements("MD-1", 10).await.expect("movements");
    let deltas: Vec<(i64, MovementKind)> = movements.iter().map(|m| (m.delta, m.kind)).collect();
    assert_eq!(
        deltas,
        vec![(-6, MovementKind::Count), (10, MovementKind::Count)]
    );
    assert_eq!(movements[0].source, "import:c.csv");
    assert_eq!(
        db.store.stock(Some("MD-1")).await.expect("stock")[0].on_hand,
        4
    );
}

async fn a_file_with_one_bad_row_changes_nothing(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let before = db.snapshot().await;
    let (_d, bad) = file(
        "bad.csv",
        &format!(
            "{HEADER}\nTD-QUE,Tinh dầu quế,TDQ-10ML,Dung tích,10 ml,99000,1,\nNEW,Sản phẩm mới,NEW-1,,,12.5,3,\n"
        ),
    );
    let err = db.import(&bad).await.expect_err("invalid");
    assert_eq!(err.lines().len(), 1, "{:?}", err.lines());
    assert_eq!(db.snapshot().await, before);
}

async fn a_dry_run_reports_the_changes_and_writes_nothing(db: &TestDb) {
    let before = db.snapshot().await;
    let report = db.dry_run(&demo_catalogue()).await.expect("dry run");
    assert!(report.dry_run);
    assert_eq!(report.skus.created, 32);
    assert_eq!(report.stock_movements, 32);
    assert_eq!(db.snapshot().await, before);
}

async fn stock_cannot_be_adjusted_below_zero(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let before = db.snapshot().await;
    let err = db
        .store
        .record_movement(&adjust("TDQ-10ML", -121))
        .await
        .expect_err("below zero");
    assert!(
        matches!(
            err,
            StoreError::NegativeStock {
                on_hand: 120,
                would_be: -1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(db.snapshot().await, before);
    let row = db
        .store
        .record_movement(&adjust("TDQ-10ML", -120))
        .await
        .expect("down to zero");
    assert_eq!((row.on_hand, row.available), (0, 0));
    let err = db
        .store
        .record_movement(&adjust("NO-SUCH", 1))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::UnknownSku(ref s) if s == "NO-SUCH"),
        "{err}"
    );
}

async fn a_movement_with_a_known_external_ref_is_applied_once(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let mut m = adjust("MD-500G", -2);
    m.source = "shopee-huongngan".into();
    m.external_ref = Some("order-2411:line-1:sale".into());
    for _ in 0..3 {
        db.store.record_movement(&m).await.expect("record");
    }
    let row = &db.store.stock(Some("MD-500G")).await.expect("stock")[0];
    assert_eq!(row.on_hand, 298);
    assert_eq!(
        db.store
            .movements("MD-500G", 10)
            .await
            .expect("moves")
            .len(),
        2
    );
}

async fn concurrent_adjustments_are_all_counted(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = Arc::clone(&db.store);
        tasks.push(tokio::spawn(async move {
            store.record_movement(&adjust("NH-100G", -1)).await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("adjust");
    }
    let row = &db.store.stock(Some("NH-100G")).await.expect("stock")[0];
    assert_eq!(row.on_hand, 150 - 40);
}

async fn the_level_always_equals_the_sum_of_its_movements(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    db.store
        .record_movement(&adjust("MO-1L", 7))
        .await
        .expect("in");
    db.store
        .record_movement(&adjust("MO-1L", -3))
        .await
        .expect("out");
    let _ = db.store.record_movement(&adjust("MO-1L", -100)).await;
    for row in db.store.stock(None).await.expect("stock") {
        let sum: i64 = db
            .store
            .movements(&row.sku, 1000)
            .await
            .expect("movements")
            .iter()
            .map(|m| m.delta)
            .sum();
        assert_eq!(sum, row.on_hand, "{}", row.sku);
    }
}

async fn export_then_import_changes_nothing_in_csv_and_xlsx(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    db.store
        .record_movement(&adjust("HD-1KG", -9))
        .await
        .expect("adjust");
    let before = db.snapshot().await;
    for name in ["out.csv", "out.xlsx"] {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(name);
        assert_eq!(
            export_file(db.store.as_ref(), &path).await.expect("export"),
            32
        );
        let report = db.import(&path).await.expect("import export");
        assert_eq!(report.skus.unchanged, 32, "{name}");
        assert_eq!(report.stock_movements, 0, "{name}");
        assert_eq!(db.snapshot().await, before, "{name}");
    }
}

async fn exporting_pages_through_a_large_catalogue(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let source = dir.path().join("big.csv");
    chosync::bench::generate_catalogue(&source, 2_345).expect("generate");
    assert_eq!(
        db.import(&source).await.expect("import").skus.created,
        2_345
    );
    let out = dir.path().join("out.csv");
    assert_eq!(
        export_file(db.store.as_ref(), &out).await.expect("export"),
        2_345
    );
    let text = std::fs::read_to_string(&out).expect("read");
    assert_eq!(text.lines().count(), 2_346);
    let report = db.import(&out).await.expect("re-import");
    assert_eq!(report.skus.unchanged, 2_345);
}

async fn moving_every_sku_out_of_a_product_is_refused(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let before = db.snapshot().await;
    let (_d, moved) = file(
        "move.csv",
        &format!("{HEADER}\nQUYT-SAY-2,Quýt sấy dẻo,QS-200G,,,55000,160,\n"),
    );
    let err = db.import(&moved).await.expect_err("refused");
    assert_eq!(
        err.lines(),
        vec![format!(
            "{}: product \"QUYT-SAY\" would have no SKUs left: this file moves all of them to other products",
            moved.display()
        )]
    );
    assert_eq!(db.snapshot().await, before);
}

async fn new_option_names_must_fit_skus_the_file_leaves_out(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let before = db.snapshot().await;
    let (_d, partial) = file(
        "partial.csv",
        &format!(
            "{HEADER}\nMIEN-DONG,Miến dong Côn Minh,MD-500G,Khối lượng,500 g,65000,300,\nMIEN-DONG,,MD-250G,Khối lượng,250 g,35000,10,\n"
        ),
    );
    assert_eq!(
        db.import(&partial).await.expect("compatible").skus.created,
        1
    );
    let (_d, renamed) = file(
        "renamed.csv",
        &format!("{HEADER}\nMIEN-DONG,Miến dong Côn Minh,MD-500G,,,65000,300,\n"),
    );
    let err = db.import(&renamed).await.expect_err("refused");
    let lines = err.lines();
    assert!(
        lines.iter().any(|l| l.contains(
            "the options of product \"MIEN-DONG\" no longer fit SKU \"MD-1KG\", which is already in the catalogue but not in this file"
        )),
        "{lines:?}"
    );
    assert!(
        db.snapshot().await != before,
        "the compatible import landed"
    );
}

async fn stock_movements_cannot_be_rewritten(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    // The ledger is append-only in the schema itself, not just by convention.
    let result = if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
        sqlx::query("UPDATE stock_movements SET delta = 999")
            .execute(&pool)
            .await
            .map(|_| ())
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
        sqlx::query("DELETE FROM stock_movements")
            .execute(&pool)
            .await
            .map(|_| ())
    };
    let err = result.expect_err("append-only");
    assert!(
        err.to_string().contains("stock_movements is append-only"),
        "{err}"
    );
}

async fn movements_carry_the_time_they_were_recorded(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let imported_at = db.clock.now();
    db.clock.advance(chrono::Duration::minutes(90));
    db.store
        .record_movement(&adjust("GBT-5KG", -1))
        .await
        .expect("adjust");
    let moves = db.store.movements("GBT-5KG", 10).await.expect("movements");
    let times: Vec<_> = moves.iter().map(|m| m.created_at).collect();
    assert_eq!(
        times,
        vec![imported_at + chrono::Duration::minutes(90), imported_at]
    );
}

async fn a_file_without_optional_columns_keeps_what_it_does_not_mention(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let before = db.snapshot().await;
    let (_d, prices) = file(
        "prices.csv",
        "Mã sản phẩm,Tên sản phẩm,Mã SKU,Giá\nTD-QUE,Tinh dầu quế Bắc Kạn,TDQ-10ML,89000\n",
    );
    let report = db.import(&prices).await.expect("price update");
    assert_eq!((report.skus.updated, report.products.unchanged), (1, 1));
    let after = db.snapshot().await;
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "only the one price changed: {changed:?}");
    assert!(
        changed[0].1.contains(",89000,120,40,3,3,9,8936045000014,"),
        "{changed:?}"
    );
}

async fn adding_a_sku_keeps_the_order_and_export_round_trips(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, added) = file(
        "added.csv",
        "product_id,name,sku,option1_name,option1_value,price,stock\n\
         TD-QUE,Tinh dầu quế Bắc Kạn,TDQ-5ML,Dung tích,5 ml,45000,10\n\
         TD-QUE,,TDQ-50ML,Dung tích,50 ml,290000,\n",
    );
    let report = db.import(&added).await.expect("add a size");
    assert_eq!((report.skus.created, report.skus.unchanged), (1, 1));
    let mut order = Vec::new();
    db.store
        .for_each_catalogue_row(&mut |row| {
            if row.product.product_id == "TD-QUE" {
                order.push((row.variant.position, row.variant.sku));
            }
            Ok(())
        })
        .await
        .expect("walk");
    // Existing SKUs keep their places; the new one goes after them.
    let skus: Vec<&str> = order.iter().map(|(_, sku)| sku.as_str()).collect();
    let positions: Vec<i64> = order.iter().map(|(p, _)| *p).collect();
    assert_eq!(positions, vec![0, 1, 2, 3]);
    assert_eq!(skus, vec!["TDQ-10ML", "TDQ-50ML", "TDQ-100ML", "TDQ-5ML"]);

    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out.csv");
    export_file(db.store.as_ref(), &out).await.expect("export");
    let again = db.import(&out).await.expect("re-import");
    assert_eq!((again.skus.unchanged, again.skus.updated), (33, 0));
}

async fn renaming_a_product_from_one_row_changes_only_the_product(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, renamed) = file(
        "renamed.csv",
        "product_id,name,sku,price\nMOC-NHI,Mộc nhĩ đen rừng Chợ Đồn,MN-100G,45000\n",
    );
    let report = db.import(&renamed).await.expect("rename");
    assert_eq!((report.products.updated, report.skus.unchanged), (1, 1));
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out.csv");
    export_file(db.store.as_ref(), &out).await.expect("export");
    let again = db.import(&out).await.expect("re-import");
    assert_eq!((again.skus.unchanged, again.products.unchanged), (32, 14));
}

async fn a_file_with_only_the_first_option_keeps_the_second(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, first_axis) = file(
        "loai.csv",
        "product_id,name,sku,price,option1_name,option1_value\n\
         TRA-SHAN,Trà Shan tuyết Bằng Phúc,SHAN-XANH-100G,185000,Loại,Trà xanh\n",
    );
    let report = db.import(&first_axis).await.expect("price change");
    assert_eq!((report.skus.updated, report.products.unchanged), (1, 1));
    let row = &db.store.stock(Some("SHAN-XANH-100G")).await.expect("stock")[0];
    assert_eq!(row.option_values, vec!["Trà xanh", "100 g"]);
}

async fn a_new_sku_without_option_values_is_named_at_its_row(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, path) = file(
        "new.csv",
        "product_id,name,sku,price\nHAT-DE,Hạt dẻ Bắc Kạn,HD-2KG,260000\n",
    );
    let err = db.import(&path).await.expect_err("needs options");
    assert_eq!(
        err.lines(),
        vec![format!(
            "{}:2:C: SKU \"HD-2KG\" has no values for some options of product \"HAT-DE\"; add the option columns to the file",
            path.display()
        )]
    );
}

async fn sheet_changes_are_kept_with_their_mark_and_counted_after_it(db: &TestDb) {
    use chosync::store::SheetChange;
    db.import(&demo_catalogue()).await.expect("import");
    let mut writer = db.store.begin_catalogue_write().await.expect("begin");
    assert_eq!(writer.ledger_mark().await.expect("mark"), 32);
    writer.rollback().await.expect("rollback");
    db.clock.advance(chrono::Duration::minutes(5));
    let since = db.clock.now();
    db.clock.advance(chrono::Duration::minutes(5));
    db.store
        .record_movement(&adjust("MD-500G", -2))
        .await
        .expect("sale");

    let mut writer = db.store.begin_catalogue_write().await.expect("begin");
    let change = |sku: &str, delta: i64, mark: i64| SheetChange {
        movement: NewMovement {
            kind: MovementKind::Change,
            ..adjust(sku, delta)
        },
        mark,
    };
    writer
        .record_sheet_changes(&[change("MD-500G", -3, 32), change("MD-1KG", 4, 20)])
        .await
        .expect("record");
    let skus = ["MD-500G".to_string(), "MD-1KG".to_string()];
    let recorded = writer.sheet_changes(&skus).await.expect("recorded");
    assert_eq!(
        recorded,
        [
            (("MD-500G".to_string(), 32), -3),
            (("MD-1KG".to_string(), 20), 4)
        ]
        .into_iter()
        .collect()
    );
    // After mark 32: the sale; not the change made from that mark.
    let after = writer
        .movements_after_mark(&[("MD-500G".into(), 32), ("MD-1KG".into(), 32)])
        .await
        .expect("after");
    assert_eq!(
        after,
        [("MD-500G".to_string(), 1), ("MD-1KG".to_string(), 1)]
            .into_iter()
            .collect()
    );
    let newer = writer.movements_since(&skus, since).await.expect("since");
    assert_eq!(newer.get("MD-500G"), Some(&2));
    assert_eq!(writer.ledger_mark().await.expect("mark"), 35);
    writer.commit().await.expect("commit");
    let levels = db.store.stock(Some("MD-500G")).await.expect("stock");
    assert_eq!(levels[0].on_hand, 300 - 2 - 3);
    let moves = db.store.movements("MD-1KG", 1).await.expect("moves");
    assert_eq!((moves[0].kind, moves[0].delta), (MovementKind::Change, 4));
}

async fn a_file_without_images_keeps_every_image_in_order(db: &TestDb) {
    let (_d, with) = file(
        "with.csv",
        "product_id,name,sku,price,images\n\
         P1,Nấm hương,NH-1,75000,https://img.vn/c.jpg|https://img.vn/a.jpg|https://img.vn/b.jpg\n",
    );
    db.import(&with).await.expect("with images");
    let (_d, without) = file(
        "without.csv",
        "product_id,name,sku,price\nP1,Nấm hương,NH-1,80000\n",
    );
    let report = db.import(&without).await.expect("price only");
    assert_eq!(report.skus.updated, 1);
    let mut images = Vec::new();
    db.store
        .for_each_catalogue_row(&mut |row| {
            images = row.variant.images;
            Ok(())
        })
        .await
        .expect("walk");
    assert_eq!(
        images,
        [
            "https://img.vn/c.jpg",
            "https://img.vn/a.jpg",
            "https://img.vn/b.jpg"
        ]
    );
    // The same images in the same order at the new price: nothing changes.
    let text = std::fs::read_to_string(&with).expect("read");
    let (_d, same) = file("same.csv", &text.replace("75000", "80000"));
    let again = db.import(&same).await.expect("again");
    assert_eq!((again.skus.updated, again.skus.unchanged), (0, 1));
}

/// The counts behind the metrics' gauges: work waiting by channel and
/// aspect, open oversold alerts by channel ('' for none named), each
/// channel's last order poll.
async fn the_monitor_counts_each_channel(db: &TestDb) {
    use chosync::store::ChannelRegistration;
    use chosync::store::orders::{AlertKind, NewAlert};
    let channels = ["shopee-a", "lazada-a"].map(|id| ChannelRegistration {
        id: id.into(),
        enabled: true,
        config_hash: "h1".into(),
    });
    db.store
        .register_channels(&channels)
        .await
        .expect("register");
    db.import(&demo_catalogue()).await.expect("import");
    let oversold = |channel: &str, subject: &str| NewAlert {
        kind: AlertKind::Oversold,
        channel: channel.into(),
        subject: subject.into(),
        message: "oversold".into(),
    };
    for alert in [
        oversold("shopee-a", "MD-500G"),
        oversold("shopee-a", "MD-1KG"),
        oversold("", "MN-100G"),
    ] {
        db.store.raise_alert(&alert).await.expect("raise");
    }
    let acknowledged = db
        .store
        .raise_alert(&oversold("lazada-a", "MD-500G"))
        .await
        .expect("raise");
    db.store
        .acknowledge_alert(acknowledged, "test")
        .await
        .expect("ack");
    // A poll ends (its cursor saved) 90 s before the counts are read.
    let ended = db.store.now();
    db.store
        .save_order_cursor("lazada-a", ended - chrono::Duration::seconds(5))
        .await
        .expect("cursor");
    db.clock.advance(chrono::Duration::seconds(90));
    let counts = db.store.monitor_counts().await.expect("counts");
    assert_eq!(counts.now, db.store.now());
    let mut waiting = counts.waiting.clone();
    waiting.sort();
    let want: Vec<(String, String, i64)> = ["lazada-a", "shopee-a"]
        .iter()
        .flat_map(|c| ["content", "price", "stock"].map(|a| (c.to_string(), a.to_string(), 32)))
        .collect();
    assert_eq!(waiting, want);
    let mut over = counts.oversold.clone();
    over.sort();
    assert_eq!(over, [(String::new(), 1), ("shopee-a".to_string(), 2)]);
    assert!(counts.quarantined.is_empty(), "{:?}", counts.quarantined);
    assert_eq!(counts.order_polls, [("lazada-a".to_string(), ended)]);
}

on_both_engines!(
    the_monitor_counts_each_channel,
    a_pass_reads_the_listing_states_of_products_with_work_only,
    a_file_without_images_keeps_every_image_in_order,
    sheet_changes_are_kept_with_their_mark_and_counted_after_it,
    a_pass_reads_the_rows_of_products_with_work_only,
    a_pass_records_only_while_it_holds_the_channel_lease,
    failed_work_waits_its_backoff_unless_an_operator_retries,
    the_next_due_work_is_the_earliest_pending_task,
    the_sync_log_is_pruned_past_its_retention,
    every_change_marks_work_for_each_enabled_channel_in_the_same_transaction,
    channel_tokens_are_stored_sealed,
    renaming_a_product_from_one_row_changes_only_the_product,
    a_file_with_only_the_first_option_keeps_the_second,
    a_new_sku_without_option_values_is_named_at_its_row,
    a_file_without_optional_columns_keeps_what_it_does_not_mention,
    adding_a_sku_keeps_the_order_and_export_round_trips,
    movements_carry_the_time_they_were_recorded,
    the_sample_catalogue_imports_and_a_second_import_changes_nothing,
    a_changed_stock_value_becomes_a_count_movement,
    a_file_with_one_bad_row_changes_nothing,
    a_dry_run_reports_the_changes_and_writes_nothing,
    stock_cannot_be_adjusted_below_zero,
    a_movement_with_a_known_external_ref_is_applied_once,
    concurrent_adjustments_are_all_counted,
    the_level_always_equals_the_sum_of_its_movements,
    export_then_import_changes_nothing_in_csv_and_xlsx,
    exporting_pages_through_a_large_catalogue,
    moving_every_sku_out_of_a_product_is_refused,
    new_option_names_must_fit_skus_the_file_leaves_out,
    stock_movements_cannot_be_rewritten,
);

async fn channel_tokens_are_stored_sealed(db: &TestDb) {
    use chosync::secrets::{EncryptedCredentials, SecretBox};
    use chosync_connector::credentials::{CredentialStore, TokenPair};
    use secrecy::ExposeSecret;

    let credentials = EncryptedCredentials::new(db.store.clone(), SecretBox::from_key(&[7; 32]));
    assert!(credentials.load("shopee-a").await.expect("load").is_none());
    let expires = db.clock.now() + chrono::Duration::hours(4);
    for round in 1..=2 {
        let tokens = TokenPair {
            access_token: format!("access-secret-{round}").into(),
            refresh_token: format!("refresh-secret-{round}").into(),
            access_expires_at: expires,
            refresh_expires_at: None,
        };
        credentials.save("shopee-a", &tokens).await.expect("save");
    }
    let loaded = credentials
        .load("shopee-a")
        .await
        .expect("load")
        .expect("present");
    assert_eq!(loaded.access_token.expose_secret(), "access-secret-2");
    assert_eq!(loaded.refresh_token.expose_secret(), "refresh-secret-2");
    assert_eq!(loaded.access_expires_at, expires);

    let sealed = db
        .store
        .sealed_credentials("shopee-a")
        .await
        .expect("raw")
        .expect("row");
    let needle = b"secret";
    assert!(!sealed.ciphertext.windows(needle.len()).any(|w| w == needle));
    let wrong = EncryptedCredentials::new(db.store.clone(), SecretBox::from_key(&[8; 32]));
    let err = wrong.load("shopee-a").await.expect_err("wrong key");
    assert!(err.to_string().contains("cannot be decrypted"), "{err}");
}

async fn every_change_marks_work_for_each_enabled_channel_in_the_same_transaction(db: &TestDb) {
    use chosync::store::{Aspect, ChannelRegistration};
    let channels = [("shopee-a", true), ("lazada-a", true), ("off", false)].map(|(id, enabled)| {
        ChannelRegistration {
            id: id.into(),
            enabled,
            config_hash: "h1".into(),
        }
    });
    db.store
        .register_channels(&channels)
        .await
        .expect("register");
    db.import(&demo_catalogue()).await.expect("import");
    for channel in ["shopee-a", "lazada-a"] {
        let tasks = db.store.pending_tasks(channel).await.expect("tasks");
        assert_eq!(tasks.len(), 32 * 3, "{channel}: every SKU, every aspect");
        assert!(
            tasks
                .iter()
                .all(|t| t.desired_version == 1 && t.cause == "import:catalogue.csv")
        );
    }
    assert!(
        db.store
            .pending_tasks("off")
            .await
            .expect("tasks")
            .is_empty(),
        "disabled channel"
    );

    // Identical data: no new work.
    db.import(&demo_catalogue()).await.expect("re-import");
    let tasks = db.store.pending_tasks("shopee-a").await.expect("tasks");
    assert!(tasks.iter().all(|t| t.desired_version == 1));

    // A price-only change marks only price; a burst of stock changes is one task.
    let (_d, prices) = file(
        "p.csv",
        "product_id,name,sku,price\nTD-QUE,Tinh dầu quế Bắc Kạn,TDQ-10ML,89000\n",
    );
    db.import(&prices).await.expect("price");
    for _ in 0..100 {
        db.store
            .record_movement(&adjust("MD-500G", -1))
            .await
            .expect("sale");
    }
    let tasks = db.store.pending_tasks("lazada-a").await.expect("tasks");
    let version = |sku: &str, aspect: Aspect| {
        tasks
            .iter()
            .find(|t| t.sku == sku && t.aspect == aspect)
            .map(|t| t.desired_version)
    };
    assert_eq!(version("TDQ-10ML", Aspect::Price), Some(2));
    assert_eq!(version("TDQ-10ML", Aspect::Content), Some(1));
    assert_eq!(version("TDQ-10ML", Aspect::Stock), Some(1));
    assert_eq!(version("MD-500G", Aspect::Stock), Some(101));
    assert_eq!(tasks.len(), 96, "still one task per key");
    // The push names the newest movement that caused it.
    let newest = db.store.movements("MD-500G", 1).await.expect("movements");
    let stock = tasks
        .iter()
        .find(|t| t.sku == "MD-500G" && t.aspect == Aspect::Stock)
        .expect("task");
    assert_eq!(
        stock.cause,
        format!("movement {} (adjust:test)", newest[0].id)
    );

    // A product-level change reaches every SKU of the product.
    let (_d, renamed) = file(
        "r.csv",
        "product_id,name,sku,price\nTRA-SHAN,Trà Shan tuyết cổ thụ Bằng Phúc,SHAN-XANH-100G,180000\n",
    );
    db.import(&renamed).await.expect("rename");
    let tasks = db.store.pending_tasks("shopee-a").await.expect("tasks");
    for sku in [
        "SHAN-XANH-100G",
        "SHAN-XANH-200G",
        "SHAN-HONG-100G",
        "SHAN-HONG-200G",
    ] {
        let content = tasks
            .iter()
            .find(|t| t.sku == sku && t.aspect == Aspect::Content)
            .expect("task");
        assert_eq!(content.desired_version, 2, "{sku}");
        assert_eq!(content.cause, "import:r.csv");
    }

    // Registering the same configuration again marks nothing; a changed rule
    // or mapping (another hash) re-pushes the whole catalogue to that channel.
    db.store
        .register_channels(&channels)
        .await
        .expect("same again");
    let before = db.store.pending_tasks("lazada-a").await.expect("tasks");
    let mut changed = channels.clone();
    changed[0].config_hash = "h2".into();
    db.store
        .register_channels(&changed)
        .await
        .expect("changed rules");
    assert_eq!(
        db.store.pending_tasks("lazada-a").await.expect("tasks"),
        before,
        "an unchanged channel keeps its work"
    );
    let shopee = db.store.pending_tasks("shopee-a").await.expect("tasks");
    assert_eq!(shopee.len(), 96);
    let tdq = shopee
        .iter()
        .find(|t| t.sku == "TDQ-10ML" && t.aspect == Aspect::Price)
        .expect("task");
    assert_eq!(
        (tdq.desired_version, tdq.cause.as_str()),
        (3, "channel configuration")
    );

    // A refused change marks nothing: the work commits with the change or not at all.
    let err = db.store.record_movement(&adjust("QS-200G", -10_000)).await;
    assert!(err.is_err());
    let tasks = db.store.pending_tasks("shopee-a").await.expect("tasks");
    let qs = tasks
        .iter()
        .find(|t| t.sku == "QS-200G" && t.aspect == Aspect::Stock)
        .expect("task");
    assert_eq!(
        qs.desired_version, 2,
        "import, then the changed configuration"
    );
}

async fn the_sync_log_is_pruned_past_its_retention(db: &TestDb) {
    use chosync::store::{BatchRecord, LogFilter, LogRow, RunCounts};
    let call = |action: &str| LogRow {
        skus: "MD-500G".into(),
        action: action.into(),
        outcome: "ok".into(),
        attempt: 1,
        http_status: Some(200),
        platform_code: None,
        message: None,
        latency_ms: 12,
        request_id: None,
        cause: "test".into(),
    };
    use chosync::store::{ChannelRegistration, LeaseGrant};
    let channel = ChannelRegistration {
        id: "shopee-a".into(),
        enabled: true,
        config_hash: "h1".into(),
    };
    db.store
        .register_channels(&[channel])
        .await
        .expect("register");
    let mut runs = Vec::new();
    for action in ["old", "new"] {
        let lease = db
            .store
            .acquire_lease("shopee-a", action, Duration::from_secs(60))
            .await
            .expect("lease");
        assert_eq!(lease, LeaseGrant::Granted);
        let run = db
            .store
            .start_run("shopee-a", "all", "test")
            .await
            .expect("run");
        let batch = BatchRecord {
            log: vec![call(action)],
            ..BatchRecord::default()
        };
        db.store
            .record_batch("shopee-a", action, run, &batch)
            .await
            .expect("batch");
        db.store
            .release_lease("shopee-a", action)
            .await
            .expect("release");
        db.store
            .finish_run(run, "ok", &RunCounts::default(), None)
            .await
            .expect("finish");
        runs.push(run);
        db.clock.advance(chrono::Duration::days(31));
    }
    // Now: 62 days after the first run, 31 after the second.
    let cutoff = db.clock.now() - chrono::Duration::days(40);
    assert_eq!(
        db.store.prune_sync_log(cutoff, None).await.expect("prune"),
        1
    );
    let filter = LogFilter {
        limit: 100,
        ..Default::default()
    };
    let left: Vec<String> = db
        .store
        .sync_log(&filter)
        .await
        .expect("log")
        .into_iter()
        .map(|e| e.call.action)
        .collect();
    assert_eq!(left, vec!["new"]);
    assert_eq!(
        db.store.prune_sync_log(cutoff, None).await.expect("again"),
        0
    );
    // The newer run still shows as the channel's last success.
    let health = db.store.channel_health("shopee-a").await.expect("health");
    assert!(health.last_success.is_some(), "{health:?}");
}

/// MD-500G's stock task at `version`, tried again in `seconds`.
fn stock_retry(version: i64, seconds: u64) -> (String, chosync::store::Aspect, i64, Duration) {
    (
        "MD-500G".into(),
        chosync::store::Aspect::Stock,
        version,
        Duration::from_secs(seconds),
    )
}

/// A run of shopee-a under `owner`'s lease.
async fn leased_run(db: &TestDb, owner: &str) -> i64 {
    db.store
        .acquire_lease("shopee-a", owner, Duration::from_secs(60))
        .await
        .expect("lease");
    db.store
        .start_run("shopee-a", "all", "test")
        .await
        .expect("run")
}

async fn pending_task(
    db: &TestDb,
    channel: &str,
    sku: &str,
    aspect: chosync::store::Aspect,
) -> Option<chosync::store::PushTask> {
    db.store
        .pending_tasks(channel)
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.sku == sku && t.aspect == aspect)
}

async fn register_one(db: &TestDb, id: &str) {
    let channel = chosync::store::ChannelRegistration {
        id: id.into(),
        enabled: true,
        config_hash: "h1".into(),
    };
    db.store
        .register_channels(&[channel])
        .await
        .expect("register");
}

async fn a_pass_records_only_while_it_holds_the_channel_lease(db: &TestDb) {
    use chosync::store::{Aspect, BatchRecord, LeaseGrant, ListingState};
    register_one(db, "shopee-a").await;
    db.import(&demo_catalogue()).await.expect("import");
    let ttl = Duration::from_secs(2);
    let store = &db.store;
    let before = chosync::clock::SystemClock.now();
    assert_eq!(
        store.acquire_lease("shopee-a", "A", ttl).await.expect("A"),
        LeaseGrant::Granted
    );
    let after = chosync::clock::SystemClock.now();
    // Leases run on the database's clock, not on the store's (the tests'
    // fixed clock, a day off here): every process judges them alike.
    db.clock.advance(chrono::Duration::days(1));
    match store.acquire_lease("shopee-a", "B", ttl).await.expect("B") {
        LeaseGrant::HeldUntil(until) => {
            let ttl = chrono::Duration::seconds(2);
            let slack = chrono::Duration::milliseconds(50);
            assert!(
                until >= before + ttl - slack && until <= after + ttl + slack,
                "{before} .. {until} .. {after}"
            );
        }
        other => panic!("one owner at a time: {other:?}"),
    }
    assert_eq!(
        store
            .acquire_lease("shopee-a", "A", ttl)
            .await
            .expect("A again"),
        LeaseGrant::Granted,
        "the owner may take it again"
    );
    let run = store
        .start_run("shopee-a", "all", "test")
        .await
        .expect("run");
    let version = |tasks: &[chosync::store::PushTask]| {
        tasks
            .iter()
            .find(|t| t.sku == "MD-500G" && t.aspect == Aspect::Stock)
            .map(|t| t.desired_version)
    };
    let tasks = store.pending_tasks("shopee-a").await.expect("tasks");
    let mut state = ListingState::new("MD-500G");
    state.stock = Some(41);
    let batch = BatchRecord {
        states: vec![state],
        done: vec![(
            "MD-500G".into(),
            Aspect::Stock,
            version(&tasks).expect("task"),
        )],
        ..BatchRecord::default()
    };
    let lost = store.record_batch("shopee-a", "B", run, &batch).await;
    assert!(matches!(lost, Err(StoreError::LeaseLost(_))), "{lost:?}");

    // A stalls past its lease; B takes the channel; A's late result is refused whole.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        !store
            .renew_lease("shopee-a", "A", ttl)
            .await
            .expect("renew")
    );
    assert_eq!(
        store.acquire_lease("shopee-a", "B", ttl).await.expect("B"),
        LeaseGrant::Granted
    );
    let late = store.record_batch("shopee-a", "A", run, &batch).await;
    assert!(matches!(late, Err(StoreError::LeaseLost(_))), "{late:?}");
    assert!(
        store
            .listing_states("shopee-a")
            .await
            .expect("states")
            .is_empty()
    );
    assert_eq!(
        version(&store.pending_tasks("shopee-a").await.expect("tasks")),
        version(&tasks),
        "the task is still pending for B"
    );
    // B holds it: B's record lands, and B renews while it works.
    store
        .record_batch("shopee-a", "B", run, &batch)
        .await
        .expect("B records");
    assert!(
        store
            .renew_lease("shopee-a", "B", ttl)
            .await
            .expect("renew")
    );
    assert_eq!(
        store.listing_states("shopee-a").await.expect("states")["MD-500G"].stock,
        Some(41)
    );
    // Released, the channel is free at once.
    store.release_lease("shopee-a", "B").await.expect("release");
    assert_eq!(
        store.acquire_lease("shopee-a", "C", ttl).await.expect("C"),
        LeaseGrant::Granted
    );
}

async fn failed_work_waits_its_backoff_unless_an_operator_retries(db: &TestDb) {
    use chosync::store::{Aspect, BatchRecord, ListingState};
    register_one(db, "shopee-a").await;
    db.import(&demo_catalogue()).await.expect("import");
    let store = &db.store;
    let run = leased_run(db, "A").await;
    let task = async |sku: &str, aspect: Aspect| pending_task(db, "shopee-a", sku, aspect).await;
    let now = db.clock.now();
    let stock = task("MD-500G", Aspect::Stock).await.expect("task");
    assert_eq!((stock.attempts, stock.not_before <= now), (0, true));
    // A transient failure: tried again after 30 s, the attempt counted.
    let mut quarantined = ListingState::new("QS-200G");
    quarantined.quarantined = true;
    quarantined.status = "rejected".into();
    let qs_price = task("QS-200G", Aspect::Price).await.expect("task");
    let batch = BatchRecord {
        states: vec![quarantined],
        done: vec![("QS-200G".into(), Aspect::Price, qs_price.desired_version)],
        retry: vec![stock_retry(stock.desired_version, 30)],
        ..BatchRecord::default()
    };
    store
        .record_batch("shopee-a", "A", run, &batch)
        .await
        .expect("record");
    let waiting = task("MD-500G", Aspect::Stock).await.expect("still pending");
    assert_eq!(waiting.attempts, 1);
    assert_eq!(waiting.not_before, now + chrono::Duration::seconds(30));
    assert!(task("QS-200G", Aspect::Price).await.is_none());

    // An operator's retry: deferred work is due now, the quarantined SKU has work again.
    assert!(store.retry_channel("shopee-a", None).await.expect("retry") >= 4);
    let md = task("MD-500G", Aspect::Stock).await.expect("task");
    assert_eq!(md.not_before, now);
    for aspect in [Aspect::Content, Aspect::Price, Aspect::Stock] {
        let qs = task("QS-200G", aspect)
            .await
            .expect("quarantined SKU has work");
        assert_eq!(qs.cause, "retry", "{aspect:?}");
    }

    // A change while a task waits makes it due at once.
    let waiting = md;
    let batch = BatchRecord {
        retry: vec![stock_retry(waiting.desired_version, 60)],
        ..BatchRecord::default()
    };
    store
        .record_batch("shopee-a", "A", run, &batch)
        .await
        .expect("record");
    store
        .record_movement(&adjust("MD-500G", 1))
        .await
        .expect("adjust");
    let changed = task("MD-500G", Aspect::Stock).await.expect("task");
    assert_eq!((changed.attempts, changed.not_before), (0, now));
}

async fn the_next_due_work_is_the_earliest_pending_task(db: &TestDb) {
    use chosync::store::{Aspect, BatchRecord};
    register_one(db, "shopee-a").await;
    let store = &db.store;
    assert_eq!(store.next_due("shopee-a").await.expect("next"), None);
    db.import(&demo_catalogue()).await.expect("import");
    let now = db.clock.now();
    assert_eq!(store.next_due("shopee-a").await.expect("next"), Some(now));
    // Every task deferred, one less than the rest: that one is next.
    let run = leased_run(db, "A").await;
    let retry = store
        .pending_tasks("shopee-a")
        .await
        .expect("tasks")
        .into_iter()
        .map(|t| {
            let wait = if (t.sku.as_str(), t.aspect) == ("MD-500G", Aspect::Stock) {
                20
            } else {
                90
            };
            (
                t.sku,
                t.aspect,
                t.desired_version,
                std::time::Duration::from_secs(wait),
            )
        })
        .collect();
    let batch = BatchRecord {
        retry,
        ..BatchRecord::default()
    };
    store
        .record_batch("shopee-a", "A", run, &batch)
        .await
        .expect("record");
    assert_eq!(
        store.next_due("shopee-a").await.expect("next"),
        Some(now + chrono::Duration::seconds(20))
    );
}

async fn a_pass_reads_the_rows_of_products_with_work_only(db: &TestDb) {
    use chosync::store::{Aspect, BatchRecord};
    register_one(db, "shopee-a").await;
    db.import(&demo_catalogue()).await.expect("import");
    let store = &db.store;
    assert_eq!(
        store
            .catalogue_with_work("shopee-a")
            .await
            .expect("rows")
            .len(),
        32
    );
    let run = leased_run(db, "A").await;
    let done = store
        .pending_tasks("shopee-a")
        .await
        .expect("tasks")
        .into_iter()
        .filter(|t| !(t.sku == "MD-500G" && t.aspect == Aspect::Stock))
        .map(|t| (t.sku, t.aspect, t.desired_version))
        .collect();
    let batch = BatchRecord {
        done,
        ..BatchRecord::default()
    };
    store
        .record_batch("shopee-a", "A", run, &batch)
        .await
        .expect("record");
    // One SKU with work: its product's rows, in order, and nothing else.
    let rows = store.catalogue_with_work("shopee-a").await.expect("rows");
    let skus: Vec<&str> = rows.iter().map(|r| r.variant.sku.as_str()).collect();
    assert_eq!(skus, ["MD-500G", "MD-1KG"]);
    assert!(rows[0].variant.images[0].ends_with("images/mien-dong.png"));
    assert!(rows[0].on_hand > 0);
}

/// A pass reads the states of the products with work, not the whole
/// channel's; the guard's base is a count of the live listings.
async fn a_pass_reads_the_listing_states_of_products_with_work_only(db: &TestDb) {
    use chosync::store::{BatchRecord, ListingState};
    register_one(db, "shopee-a").await;
    db.import(&demo_catalogue()).await.expect("import");
    let run = leased_run(db, "A").await;
    let tasks = db.store.pending_tasks("shopee-a").await.expect("tasks");
    // Every task of the noodles (MIEN-DONG) done and both its SKUs live; a
    // tea SKU recorded as rejected, its product's work still pending.
    let live = |sku: &str| {
        let mut state = ListingState::new(sku);
        state.listing_id = Some("100".into());
        state.variant_id = Some(format!("{sku}-model"));
        state.status = "live".into();
        state
    };
    let mut rejected = ListingState::new("SHAN-XANH-100G");
    rejected.status = "rejected".into();
    rejected.quarantined = true;
    let done = tasks
        .iter()
        .filter(|t| t.sku.starts_with("MD-"))
        .map(|t| (t.sku.clone(), t.aspect, t.desired_version))
        .collect();
    let batch = BatchRecord {
        states: vec![live("MD-500G"), live("MD-1KG"), rejected],
        done,
        ..BatchRecord::default()
    };
    db.store
        .record_batch("shopee-a", "A", run, &batch)
        .await
        .expect("record");
    assert_eq!(db.store.live_listings("shopee-a").await.expect("live"), 2);
    let all = db.store.listing_states("shopee-a").await.expect("all");
    assert_eq!(all.len(), 3);
    let with_work = db
        .store
        .listing_states_with_work("shopee-a")
        .await
        .expect("with work");
    assert_eq!(
        with_work.keys().collect::<Vec<_>>(),
        ["SHAN-XANH-100G"],
        "the noodles have no work left"
    );
}
