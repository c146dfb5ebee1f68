//! Set-up shared by the suites: layouts read from TOML the way chosync reads
//! its mapping file, a channel in a temp folder, drafts.
#![allow(dead_code)] // each suite uses its own part

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chosync_connector::clock::FixedClock;
use chosync_connector::dto::{ListingDraft, PriceSet, RemoteRef, StockSet, VariantDraft};
use chosync_connector::events::Recorded;
use chosync_spreadsheet::{OrdersLayout, SheetLayout, Spreadsheet, SpreadsheetConfig};
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use tempfile::TempDir;

#[derive(Deserialize)]
pub struct Mapping {
    pub sheet: SheetLayout,
    pub orders: Option<OrdersLayout>,
}

pub fn mapping(toml: &str) -> Result<Mapping, Box<figment::Error>> {
    Figment::from(Toml::string(toml))
        .extract()
        .map_err(Box::new)
}

/// A Voso-like layout writing `file`, prices in `price_format`.
pub fn layout_toml(file: &str, price_format: &str) -> String {
    format!(
        r#"
[sheet]
file = "{file}"
sheet_name = "Sản phẩm"
listed = "Đang bán"
unlisted = "Ngừng bán"
[[sheet.columns]]
header = "Mã SKU"
value = "sku"
[[sheet.columns]]
header = "Tên sản phẩm"
value = "title"
[[sheet.columns]]
header = "Giá bán (₫)"
value = "price"
format = "{price_format}"
[[sheet.columns]]
header = "Tồn kho"
value = "stock"
[[sheet.columns]]
header = "Trạng thái"
value = "status"
[[sheet.columns]]
header = "Phân loại"
value = "option1_value"
[[sheet.columns]]
header = "Nguồn"
text = "chosync"

[orders]
time_format = "%d/%m/%Y %H:%M"
[orders.columns]
order_id = "Mã đơn hàng"
sku = "SKU"
quantity = "Số lượng"
status = "Trạng thái"
created_at = "Ngày đặt hàng"
updated_at = "Ngày cập nhật"
[orders.statuses]
"Chờ xác nhận" = "paid"
"Đang giao" = "shipped"
"Đã giao" = "completed"
"Đã hủy" = "cancelled"
"#
    )
}

pub struct Channel {
    pub dir: TempDir,
    pub events: Arc<Recorded>,
    pub clock: Arc<FixedClock>,
    pub config: SpreadsheetConfig,
    pub sheet: Spreadsheet,
}

impl Channel {
    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    pub fn inbox(&self) -> PathBuf {
        self.config.inbox.clone()
    }

    /// Another channel on the same folders, as after a restart.
    pub fn restarted(&self) -> Spreadsheet {
        Spreadsheet::new(self.config.clone(), self.events.clone(), self.clock.clone())
            .expect("a valid layout")
    }
}

pub fn channel(file: &str, price_format: &str) -> Channel {
    channel_with(&layout_toml(file, price_format))
}

pub fn channel_with(toml: &str) -> Channel {
    let dir = tempfile::tempdir().expect("temp dir");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).expect("inbox");
    let mapping = mapping(toml).expect("the layout parses");
    let config = SpreadsheetConfig {
        channel: "voso-hoptacxa".into(),
        folder: dir.path().to_path_buf(),
        inbox,
        layout: mapping.sheet,
        orders: mapping.orders,
    };
    let events = Arc::new(Recorded::default());
    let clock = Arc::new(FixedClock::new(
        "2026-03-15T01:00:00Z".parse().expect("a test time"),
    ));
    let sheet =
        Spreadsheet::new(config.clone(), events.clone(), clock.clone()).expect("a valid layout");
    Channel {
        dir,
        events,
        clock,
        config,
        sheet,
    }
}

pub fn variant(sku: &str, option: &str, price: i64, stock: i64) -> VariantDraft {
    VariantDraft {
        sku: sku.into(),
        option_values: vec![option.into()],
        price,
        stock,
    }
}

pub fn draft(key: &str, title: &str, variants: Vec<VariantDraft>) -> ListingDraft {
    ListingDraft {
        product_key: key.into(),
        title: title.into(),
        description: "Hàng của hợp tác xã".into(),
        category_id: "1021".into(),
        brand: Some("HTX Tân Cương".into()),
        attributes: vec![],
        images: vec!["https://cdn.example/che.jpg".into()],
        weight_g: 250,
        dimensions_cm: None,
        logistics: vec![],
        option_names: vec!["Khối lượng".into()],
        variants,
        listed: true,
    }
}

pub fn stock(sku: &str, quantity: i64) -> StockSet {
    StockSet {
        sku: sku.into(),
        at: RemoteRef {
            listing_id: String::new(),
            variant_id: sku.into(),
        },
        quantity,
    }
}

pub fn price(sku: &str, price: i64) -> PriceSet {
    PriceSet {
        sku: sku.into(),
        at: RemoteRef {
            listing_id: String::new(),
            variant_id: sku.into(),
        },
        price,
    }
}

/// The names in `folder`, sorted.
pub fn names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .expect("list folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
