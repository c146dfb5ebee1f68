//! A spreadsheet channel through chosync, on both databases: the bulk sheet
//! it writes shows every SKU as the rules want (read back from the file), and
//! order exports dropped into its inbox are recorded once, however often the
//! same file comes; a file with one bad row is refused whole.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chosync::orders::{Source, import_channels};
use chosync::settings::Settings;
use chosync::sync::{CallLog, Options, sync_channel};
use common::TestDb;

const ID: &str = "sheet-test";

struct Sheet {
    dir: tempfile::TempDir,
    settings: Settings,
}

impl Sheet {
    /// A spreadsheet channel with the demo's layout (XLSX sheet, CSV or
    /// XLSX order exports), the demo catalogue imported and listed.
    async fn new(db: &TestDb) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("out/inbox")).expect("folders");
        let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/mappings/sheet-demo.toml");
        let config = dir.path().join("chosync.toml");
        std::fs::write(
            &config,
            format!(
                r#"[secrets]
key_file = "{key}"

[[channels]]
id = "{ID}"
platform = "spreadsheet"
folder = "out"
mapping = "{mapping}"
price = {{ markup_percent = 5, round_to = 1000, rounding = "up" }}
stock = {{ buffer = 1 }}
"#,
                key = dir.path().join("chosync.key").display(),
                mapping = mapping.display(),
            ),
        )
        .expect("config");
        let settings = Settings::load(Some(&config)).expect("settings");
        db.store
            .register_channels(&settings.registrations())
            .await
            .expect("register");
        db.import(&common::demo_catalogue()).await.expect("import");
        let sheet = Self { dir, settings };
        sheet.pass(db).await;
        sheet
    }

    fn folder(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn inbox(&self) -> PathBuf {
        self.folder().join("inbox")
    }

    async fn pass(&self, db: &TestDb) {
        let prepared =
            chosync::channels::prepare::prepare(&self.settings, &db.store, Some(ID), || {
                Arc::new(CallLog::default())
            })
            .expect("channel");
        let channel = chosync::sync::Channel {
            settings: prepared[0].settings,
            mapping: &prepared[0].mapping,
            client: &prepared[0].client,
            events: prepared[0].events.clone(),
            allocation: &chosync::inventory::allocation::SHARED,
        };
        let report = sync_channel(db.store.as_ref(), &channel, &Options::new("test"))
            .await
            .expect("pass");
        assert_eq!(report.counts.failed, 0, "{report:?}");
    }

    /// Every row of the sheet file as written, by SKU: (price, stock) of
    /// those on sale, and the title.
    fn shown(&self) -> (HashMap<String, (i64, i64)>, HashMap<String, String>) {
        let mapping = self
            .settings
            .channel(ID)
            .expect("channel")
            .load_mapping(&self.settings.config_dir)
            .expect("mapping");
        let layout = mapping.sheet.expect("layout");
        let rows = chosync_spreadsheet::read_sheet(&layout, &self.folder().join(&layout.file))
            .expect("the sheet reads back");
        let mut shown = HashMap::new();
        let mut titles = HashMap::new();
        for row in rows {
            titles.insert(row.sku.clone(), row.title.clone().unwrap_or_default());
            if row.listed == Some(true) {
                shown.insert(row.sku, (row.price.unwrap_or(-1), row.stock.unwrap_or(-1)));
            }
        }
        (shown, titles)
    }

    async fn assert_converged(&self, db: &TestDb) {
        let (shown, _) = self.shown();
        let channel = self.settings.channel(ID).expect("channel");
        common::converged::assert_converged(db, channel, &shown).await;
    }

    /// Drops an orders export into the inbox and imports.
    async fn drop_orders(
        &self,
        db: &TestDb,
        name: &str,
        text: &str,
    ) -> chosync::orders::OrderReport {
        std::fs::write(self.inbox().join(name), text).expect("orders file");
        let imports = import_channels(&self.settings, &db.store, Some(ID), Source::Poll, "test")
            .await
            .expect("import");
        imports
            .into_iter()
            .next()
            .expect("one channel")
            .result
            .expect("import ok")
    }

    fn files(&self, folder: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.inbox().join(folder))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

async fn available(db: &TestDb, sku: &str) -> i64 {
    let rows = db.store.stock(Some(sku)).await.expect("stock");
    rows[0].on_hand - rows[0].reserved
}

const HEADER: &str = "Mã đơn hàng,SKU phân loại,Số lượng,Trạng thái đơn hàng,Thời gian đặt hàng,Thời gian cập nhật\n";

/// The sheet the channel writes reads back as the listings chosync wants:
/// every SKU of every active product at its price and stock, with its
/// product's name, and no work left.
async fn the_sheet_written_reads_back_as_the_listings(db: &TestDb) {
    let sheet = Sheet::new(db).await;
    sheet.assert_converged(db).await;
    let (shown, titles) = sheet.shown();
    assert_eq!(shown.len(), 32, "every SKU of the demo catalogue");
    let mut rows = Vec::new();
    db.store
        .for_each_catalogue_row(&mut |row| {
            rows.push(row);
            Ok(())
        })
        .await
        .expect("catalogue");
    for row in &rows {
        assert_eq!(
            titles[&row.variant.sku], row.product.name,
            "{}",
            row.variant.sku
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(sheet.folder())
        .expect("folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "san-pham.xlsx" && name != "inbox" && name != ".chosync")
        .collect();
    assert!(
        leftovers.is_empty(),
        "only the sheet is written: {leftovers:?}"
    );
}

/// An orders export is recorded with its stock effects and moved to
/// `imported/`; the same file dropped again changes nothing; a later export
/// cancelling one of its orders gives the units back; the sheet follows.
async fn an_orders_file_dropped_twice_counts_once(db: &TestDb) {
    let sheet = Sheet::new(db).await;
    let (oil, mushroom) = (
        available(db, "MD-500G").await,
        available(db, "NH-100G").await,
    );
    let export = format!(
        "{HEADER}DH0001,MD-500G,2,Chờ xác nhận,01/12/2026 09:15,01/12/2026 09:20\n\
         DH0002,NH-100G,1,Chờ xác nhận,01/12/2026 10:00,01/12/2026 10:00\n\
         DH0002,MD-500G,1,Chờ xác nhận,01/12/2026 10:00,01/12/2026 10:00\n"
    );
    let first = sheet.drop_orders(db, "don-hang.csv", &export).await;
    assert_eq!((first.new, first.effects), (2, 3), "{first:?}");
    assert_eq!(available(db, "MD-500G").await, oil - 3);
    assert_eq!(available(db, "NH-100G").await, mushroom - 1);
    assert_eq!(
        sheet.files(""),
        Vec::<String>::new(),
        "the inbox is emptied"
    );
    assert_eq!(sheet.files("imported").len(), 1);
    let again = sheet.drop_orders(db, "don-hang.csv", &export).await;
    assert_eq!((again.new, again.effects), (0, 0), "{again:?}");
    assert_eq!(available(db, "MD-500G").await, oil - 3);
    assert_eq!(db.count("SELECT COUNT(*) FROM orders").await, 2);
    assert_eq!(sheet.files("imported").len(), 2);
    let cancelled = format!("{HEADER}DH0001,MD-500G,2,Đã hủy,01/12/2026 09:15,01/12/2026 11:00\n");
    let later = sheet.drop_orders(db, "don-hang-2.csv", &cancelled).await;
    assert_eq!(later.effects, 1, "{later:?}");
    assert_eq!(available(db, "MD-500G").await, oil - 1);
    sheet.pass(db).await;
    sheet.assert_converged(db).await;
}

/// One bad row refuses the whole file: nothing of it is recorded, not even
/// its good rows; it is moved to `rejected/` with its reasons (row, column)
/// beside it, and an alert names it.
async fn a_bad_orders_file_is_refused_whole(db: &TestDb) {
    let sheet = Sheet::new(db).await;
    let oil = available(db, "MD-500G").await;
    let export = format!(
        "{HEADER}DH0003,MD-500G,1,Chờ xác nhận,01/12/2026 09:15,01/12/2026 09:20\n\
         DH0004,TDQ-10ML,mười,Chờ xác nhận,01/12/2026 09:30,01/12/2026 09:30\n\
         DH0005,NH-100G,1,Đang đóng gói,01/12/2026 09:40,01/12/2026 09:40\n"
    );
    let report = sheet.drop_orders(db, "loi.csv", &export).await;
    assert_eq!((report.new, report.effects), (0, 0), "{report:?}");
    assert_eq!(available(db, "MD-500G").await, oil, "not even the good row");
    assert_eq!(db.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(
        sheet.files("rejected"),
        vec!["loi.csv", "loi.csv.errors.txt"]
    );
    let reasons = std::fs::read_to_string(sheet.inbox().join("rejected/loi.csv.errors.txt"))
        .expect("errors file");
    assert!(
        reasons.contains("row 3") && reasons.contains("Số lượng"),
        "{reasons}"
    );
    assert!(
        reasons.contains("row 4") && reasons.contains("Đang đóng gói"),
        "{reasons}"
    );
    let alerts = db.store.alerts(false).await.expect("alerts");
    assert!(
        alerts.iter().any(|a| a.kind == "order_import_failing"
            && a.channel == ID
            && a.message.contains("loi.csv")),
        "{alerts:?}"
    );
}

on_both_engines!(
    the_sheet_written_reads_back_as_the_listings,
    an_orders_file_dropped_twice_counts_once,
    a_bad_orders_file_is_refused_whole,
);
