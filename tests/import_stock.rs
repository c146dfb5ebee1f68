//! Stock in an imported sheet: an export's stock cells are changes from what was
//! exported (sales since then stay sold); any other stock cell is a count.

mod common;

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};
use chosync::catalogue::export::export_file;
use chosync::catalogue::import::StockReport;
use chosync::clock::Clock;
use chosync::inventory::{MovementKind, NewMovement};
use common::{TestDb, demo_catalogue};

/// A sale as the ledger records it: stock goes down.
async fn sell(db: &TestDb, sku: &str, units: i64) {
    db.store
        .record_movement(&NewMovement {
            sku: sku.into(),
            delta: -units,
            kind: MovementKind::Adjust,
            reason: "bán tại chợ phiên".into(),
            source: "test".into(),
            external_ref: None,
        })
        .await
        .expect("sale");
}

async fn on_hand(db: &TestDb, sku: &str) -> i64 {
    db.store.stock(Some(sku)).await.expect("stock")[0].on_hand
}

async fn exported(db: &TestDb, name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(name);
    export_file(db.store.as_ref(), &path).await.expect("export");
    (dir, path)
}

/// The sheet as a grid of text, header first, whatever its format.
fn grid(path: &Path) -> Vec<Vec<String>> {
    if path.extension().is_some_and(|e| e == "xlsx") {
        let mut book: Xlsx<_> = open_workbook(path).expect("open workbook");
        let range = book.worksheet_range_at(0).expect("a sheet").expect("read");
        return range
            .rows()
            .map(|row| {
                row.iter()
                    .map(|cell| match cell {
                        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect();
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("open CSV");
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

/// Saves the grid as a spreadsheet program would: XLSX cells that look like
/// whole numbers are numbers.
fn save(path: &Path, grid: &[Vec<String>]) {
    if path.extension().is_some_and(|e| e == "xlsx") {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (r, row) in grid.iter().enumerate() {
            for (c, text) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match text.parse::<i64>() {
                    Ok(n) if r > 0 => sheet.write_number(r, c, n as f64).map(|_| ()),
                    _ if text.is_empty() => Ok(()),
                    _ => sheet.write_string(r, c, text).map(|_| ()),
                }
                .expect("cell");
            }
        }
        book.save(path).expect("save workbook");
        return;
    }
    let mut writer = csv::Writer::from_path(path).expect("create CSV");
    for row in grid {
        writer.write_record(row).expect("row");
    }
    writer.flush().expect("flush");
}

/// Sets the cell in `column` of the row of `sku`, as a user would.
fn edit(path: &Path, sku: &str, column: &str, value: &str) {
    let mut grid = grid(path);
    let col = |name: &str| {
        grid[0]
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (sku_col, target) = (col("sku"), col(column));
    let row = grid
        .iter_mut()
        .find(|row| row[sku_col] == sku)
        .unwrap_or_else(|| panic!("no row for {sku}"));
    row[target] = value.to_string();
    save(path, &grid);
}

/// Sets the cell in `column` on every row of `product`, as a user would.
fn edit_product(path: &Path, product: &str, column: &str, value: &str) {
    let mut grid = grid(path);
    let id = grid[0].iter().position(|h| h == "product_id").expect("id");
    let target = grid[0].iter().position(|h| h == column).expect("column");
    for row in grid.iter_mut().filter(|row| row[id] == product) {
        row[target] = value.to_string();
    }
    save(path, &grid);
}

/// The spreadsheet row number of `sku`'s row (the header is row 1).
fn row_of(path: &Path, sku: &str) -> usize {
    let grid = grid(path);
    let sku_col = grid[0].iter().position(|h| h == "sku").expect("sku column");
    1 + grid
        .iter()
        .position(|row| row[sku_col] == sku)
        .unwrap_or_else(|| panic!("no row for {sku}"))
}

/// Removes the export mark's columns: what is left is a plain sheet.
fn without_mark(path: &Path) {
    let grid: Vec<Vec<String>> = grid(path)
        .into_iter()
        .map(|row| row.into_iter().take(20).collect())
        .collect();
    save(path, &grid);
}

/// Dates the file's last save, in the test clock's time.
fn saved_at(path: &Path, at: chrono::DateTime<chrono::Utc>) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(at.into()).expect("set modified");
}

async fn a_stale_export_imported_after_sales_keeps_the_sales(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    for name in ["morning.csv", "morning.xlsx"] {
        let (_d, sheet) = exported(db, name).await;
        sell(db, "MN-100G", 5).await;
        let level = on_hand(db, "MN-100G").await;
        // In the evening the user fixes a typo in a name and imports the sheet.
        let fixed = format!("Mộc nhĩ đen rừng Chợ Đồn ({name})");
        edit_product(&sheet, "MOC-NHI", "name", &fixed);
        let report = db.import(&sheet).await.expect("evening import");
        assert_eq!(report.products.updated, 1, "{name}");
        assert_eq!(report.stock_movements, 0, "{name}: no stock cell changed");
        assert_eq!(report.stock.exported, 32, "{name}");
        assert_eq!(report.stock.kept, 1, "{name}: the sale is kept");
        assert_eq!(on_hand(db, "MN-100G").await, level, "{name}: still sold");
        let newest = &db.store.movements("MN-100G", 1).await.expect("moves")[0];
        assert_eq!(
            newest.kind,
            MovementKind::Adjust,
            "{name}: the sale is last"
        );
    }
}

async fn a_changed_stock_cell_in_an_export_records_the_change_made(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    for name in ["stock.csv", "stock.xlsx"] {
        let before = on_hand(db, "MD-500G").await;
        let (_d, sheet) = exported(db, name).await;
        let untouched = sheet.with_file_name(format!("copy-{name}"));
        std::fs::copy(&sheet, &untouched).expect("copy");
        sell(db, "MD-500G", 7).await;
        // Three bags were found torn: the user lowers the cell by three.
        edit(&sheet, "MD-500G", "stock", &(before - 3).to_string());
        let report = db.import(&sheet).await.expect("import");
        assert_eq!(report.stock_movements, 1, "{name}");
        assert_eq!(
            (report.stock.changes_recorded, report.stock.kept),
            (1, 1),
            "{name}"
        );
        assert_eq!(on_hand(db, "MD-500G").await, before - 7 - 3, "{name}");
        let change = &db.store.movements("MD-500G", 1).await.expect("moves")[0];
        assert_eq!((change.kind, change.delta), (MovementKind::Change, -3));

        // The same sheet again records nothing more: the change is made once.
        let again = db.import(&sheet).await.expect("again");
        assert_eq!(again.stock_movements, 0, "{name}");
        assert_eq!(on_hand(db, "MD-500G").await, before - 10, "{name}");

        // Edited once more: only the difference to what it recorded.
        edit(&sheet, "MD-500G", "stock", &(before - 1).to_string());
        db.import(&sheet).await.expect("edited again");
        assert_eq!(on_hand(db, "MD-500G").await, before - 7 - 1, "{name}");
        let last = &db.store.movements("MD-500G", 1).await.expect("moves")[0];
        assert_eq!((last.kind, last.delta), (MovementKind::Change, 2));

        // Another copy of the same export, its stock cell untouched (used to
        // fix a name): it records nothing, and takes nothing back.
        let copy = db.import(&untouched).await.expect("the copy");
        assert_eq!(copy.stock_movements, 0, "{name}");
        assert_eq!(on_hand(db, "MD-500G").await, before - 7 - 1, "{name}");
    }
}

async fn a_change_below_zero_is_refused_and_nothing_is_imported(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, sheet) = exported(db, "stock.csv").await;
    // 120 exported; 115 sold since; the user writes off 10 of the 120.
    sell(db, "TDQ-10ML", 115).await;
    edit(&sheet, "TDQ-10ML", "stock", "110");
    edit(&sheet, "TDQ-50ML", "price", "300000");
    let before = db.snapshot().await;
    let err = db.import(&sheet).await.expect_err("below zero");
    assert_eq!(
        err.lines(),
        vec![format!(
            "{}:{}:L: stock 110 (exported as 120) would take SKU \"TDQ-10ML\" from 5 on hand to -5; stock cannot go below zero (the ledger moved since the export): set the cell to 115 or more, or count the SKU in a sheet without the export mark",
            sheet.display(),
            row_of(&sheet, "TDQ-10ML")
        )]
    );
    assert_eq!(db.snapshot().await, before, "nothing is imported");
}

async fn a_sheet_without_the_mark_is_a_count(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    for name in ["count.csv", "count.xlsx"] {
        let (_d, sheet) = exported(db, name).await;
        without_mark(&sheet);
        let (level, oil) = (on_hand(db, "HD-1KG").await, on_hand(db, "MO-1L").await);
        // Counted in the morning: three bottles fewer than the ledger says.
        let counted = oil - 3;
        edit(&sheet, "MO-1L", "stock", &counted.to_string());
        let saved = db.clock.now() + chrono::Duration::minutes(1);
        saved_at(&sheet, saved);
        db.clock.advance(chrono::Duration::minutes(2));
        sell(db, "HD-1KG", 4).await;
        sell(db, "HD-1KG", 1).await;
        sell(db, "MO-1L", 1).await;

        let dry = db.dry_run(&sheet).await.expect("dry run");
        assert_eq!(
            dry.stock,
            StockReport {
                counted: 32,
                counts_recorded: 2,
                overridden: 3,
                file_saved_at: Some(saved),
                ..StockReport::default()
            },
            "{name}"
        );

        let report = db.import(&sheet).await.expect("import");
        assert_eq!(report.stock_movements, 2, "{name}");
        // The count is the truth as of the import: the sales are overridden.
        assert_eq!(on_hand(db, "HD-1KG").await, level, "{name}");
        assert_eq!(on_hand(db, "MO-1L").await, counted, "{name}");
        let count = &db.store.movements("HD-1KG", 1).await.expect("moves")[0];
        assert_eq!((count.kind, count.delta), (MovementKind::Count, 5));
    }
}

async fn a_dry_run_says_which_sales_a_count_would_override(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, sheet) = exported(db, "count.csv").await;
    without_mark(&sheet);
    let saved = db.clock.now() + chrono::Duration::minutes(1);
    saved_at(&sheet, saved);
    db.clock.advance(chrono::Duration::minutes(2));
    for _ in 0..7 {
        sell(db, "NH-100G", 1).await;
    }
    sell(db, "MN-100G", 2).await;
    let dry = db.dry_run(&sheet).await.expect("dry run");
    assert_eq!(
        dry.stock.lines(true),
        vec![format!(
            "32 SKUs counted (a sheet without the export mark): 2 differ from the ledger, would be recorded as a count; 8 movements recorded since the file was saved ({}) on those SKUs would be overridden",
            saved.format("%Y-%m-%d %H:%M UTC")
        )]
    );
    assert_eq!(
        on_hand(db, "NH-100G").await,
        143,
        "a dry run writes nothing"
    );

    let (_d, export) = exported(db, "export.csv").await;
    sell(db, "NH-100G", 1).await;
    edit(&export, "MN-100G", "stock", "50");
    let dry = db.dry_run(&export).await.expect("dry run");
    assert_eq!(
        dry.stock.lines(true),
        vec![
            "32 SKUs from an export: 1 stock cell changed in the sheet, would be recorded as the change made (new − exported); 1 movement recorded since the export would be kept"
                .to_string()
        ]
    );
}

async fn an_export_carries_the_mark_and_a_new_sku_starts_at_its_stock_cell(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, sheet) = exported(db, "out.csv").await;
    let rows = grid(&sheet);
    assert_eq!(rows[0][20..], ["exported_stock", "ledger_mark"]);
    assert_eq!(rows[1][11], rows[1][20], "exported stock is the stock");
    assert_eq!(rows[1][21], "32", "the newest movement: 32 counts");
    assert!(rows.iter().skip(1).all(|r| r[21] == "32"));

    // A row copied to make a new SKU keeps the copied hidden cells.
    let mut grid = rows.clone();
    let mut copy = grid[row_of(&sheet, "TDQ-10ML") - 1].clone();
    copy[5] = "TDQ-5ML".into();
    copy[7] = "5 ml".into();
    copy[11] = "30".into();
    copy[16] = String::new();
    grid.push(copy);
    save(&sheet, &grid);
    let report = db.import(&sheet).await.expect("import");
    assert_eq!((report.skus.created, report.stock.started), (1, 1));
    assert_eq!(on_hand(db, "TDQ-5ML").await, 30);
}

async fn half_an_export_mark_or_a_mark_from_elsewhere_is_refused(db: &TestDb) {
    db.import(&demo_catalogue()).await.expect("import");
    let (_d, sheet) = exported(db, "out.csv").await;
    edit(&sheet, "TDQ-10ML", "ledger_mark", "");
    edit(&sheet, "TDQ-50ML", "ledger_mark", "999");
    edit(&sheet, "TDQ-100ML", "exported_stock", "-1");
    let before = db.snapshot().await;
    let err = db.import(&sheet).await.expect_err("refused");
    let file = sheet.display();
    let row = |sku: &str| row_of(&sheet, sku);
    assert_eq!(
        err.lines(),
        vec![
            format!(
                "{file}:{}:V: ledger_mark is empty but exported_stock is filled; both come from chosync export: keep both as exported (the stock cell is then a change), or clear both (it is then a count)",
                row("TDQ-10ML")
            ),
            format!(
                "{file}:{}:U: exported_stock \"-1\" must be 0 or more",
                row("TDQ-100ML")
            ),
        ]
    );
    edit(&sheet, "TDQ-10ML", "ledger_mark", "32");
    edit(&sheet, "TDQ-100ML", "exported_stock", "25");
    let err = db.import(&sheet).await.expect_err("refused");
    assert_eq!(
        err.lines(),
        vec![format!(
            "{file}:{}:V: ledger_mark 999 is ahead of this database's ledger (newest movement 32): the sheet was exported from another database; clear exported_stock and ledger_mark to count this row's stock instead",
            row("TDQ-50ML")
        )]
    );
    assert_eq!(db.snapshot().await, before);
}

on_both_engines!(
    a_stale_export_imported_after_sales_keeps_the_sales,
    a_changed_stock_cell_in_an_export_records_the_change_made,
    a_change_below_zero_is_refused_and_nothing_is_imported,
    a_sheet_without_the_mark_is_a_count,
    a_dry_run_says_which_sales_a_count_would_override,
    an_export_carries_the_mark_and_a_new_sku_starts_at_its_stock_cell,
    half_an_export_mark_or_a_mark_from_elsewhere_is_refused,
);
