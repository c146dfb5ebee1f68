//! The layout tables as chosync's mapping file carries them, and every
//! problem `check-config` must name.

mod common;

use chosync_spreadsheet::{NumberFormat, Spreadsheet, Value};
use common::*;

const EXAMPLE: &str = r#"
[sheet]
file = "voso-san-pham.xlsx"
sheet_name = "Sản phẩm"
listed = "Đang bán"
unlisted = "Ngừng bán"
[[sheet.columns]]
header = "Mã SKU"
value = "sku"
[[sheet.columns]]
header = "Giá bán (₫)"
value = "price"
format = "dotted"
[[sheet.columns]]
header = "Ảnh 2"
value = "image2"
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
[orders.statuses]
"Chờ xác nhận" = "paid"
"Đã hủy" = "cancelled"
"#;

/// (header, value, text, format) of a column.
type ColumnView<'a> = (
    &'a str,
    Option<Value>,
    Option<&'a str>,
    Option<NumberFormat>,
);

fn keys_and_messages(toml: &str) -> Vec<(String, String)> {
    let mapping = mapping(toml).expect("parses");
    let mut problems = mapping.sheet.problems();
    if let Some(orders) = &mapping.orders {
        problems.extend(orders.problems());
    }
    problems
}

#[test]
fn the_documented_example_reads_with_its_vietnamese_intact_and_has_no_problems() {
    let mapping = mapping(EXAMPLE).expect("parses");
    assert_eq!(mapping.sheet.sheet_name, "Sản phẩm");
    let columns: Vec<ColumnView> = mapping
        .sheet
        .columns
        .iter()
        .map(|c| (c.header.as_str(), c.value, c.text.as_deref(), c.format))
        .collect();
    assert_eq!(
        columns,
        [
            ("Mã SKU", Some(Value::Sku), None, None),
            (
                "Giá bán (₫)",
                Some(Value::Price),
                None,
                Some(NumberFormat::Dotted)
            ),
            ("Ảnh 2", Some(Value::Image2), None, None),
            ("Nguồn", None, Some("chosync"), None),
        ]
    );
    let orders = mapping.orders.expect("orders");
    assert_eq!(orders.columns.updated_at, None);
    assert!(keys_and_messages(EXAMPLE).is_empty());
    assert!(layout_problems_free(&layout_toml("s.csv", "integer")));
}

fn layout_problems_free(toml: &str) -> bool {
    keys_and_messages(toml).is_empty()
}

#[test]
fn an_unknown_value_or_key_is_refused_when_read() {
    let unknown_value = EXAMPLE.replace("value = \"sku\"", "value = \"ma_vach\"");
    let err = mapping(&unknown_value).err().expect("refused").to_string();
    assert!(err.contains("ma_vach"), "{err}");
    let unknown_key = EXAMPLE.replace("header = \"Nguồn\"", "header = \"Nguồn\"\nwidth = 20");
    let err = mapping(&unknown_key).err().expect("refused").to_string();
    assert!(err.contains("width"), "{err}");
}

#[test]
fn every_problem_of_a_bad_layout_is_named_under_its_key() {
    let bad = r#"
[sheet]
file = "san-pham.ods"
sheet_name = "Sản phẩm: tất cả"
[[sheet.columns]]
header = "Tên"
value = "title"
format = "dotted"
[[sheet.columns]]
header = "tên"
text = "x"
value = "brand"
[[sheet.columns]]
header = "Trạng thái"
value = "status"
[[sheet.columns]]
header = " "
[orders]
time_format = "%d/%m"
[orders.columns]
order_id = "Mã đơn hàng"
sku = ""
quantity = "Số lượng"
status = "Trạng thái"
created_at = "Ngày đặt hàng"
[orders.statuses]
"Đã hủy" = "huy"
"đã hủy " = "cancelled"
"#;
    let keys: Vec<String> = keys_and_messages(bad).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "sheet.file",
            "sheet.columns",
            "sheet.columns[0].format",
            "sheet.columns[1]",
            "sheet.columns[1]",
            "sheet.columns[3]",
            "sheet.columns[3]",
            "sheet.listed",
            "sheet.unlisted",
            "orders.columns.sku",
            "orders.statuses.\"Đã hủy\"",
            "orders.statuses.\"đã hủy \"",
            "orders.time_format",
        ]
    );
    let messages: Vec<String> = keys_and_messages(bad).into_iter().map(|(_, m)| m).collect();
    let said = |part: &str| messages.iter().any(|m| m.contains(part));
    assert!(said("must end in .csv or .xlsx"), "{messages:#?}");
    assert!(said("no column shows the `sku`"), "{messages:#?}");
    assert!(
        said("`format` applies to `price` and `stock` only"),
        "{messages:#?}"
    );
    assert!(said("header \"tên\" appears twice"), "{messages:#?}");
    assert!(said("both `value` and `text`"), "{messages:#?}");
    assert!(
        said(
            "\"huy\" is not a chosync order state (unpaid, paid, ready_to_ship, shipped, completed, cancelled, returned)"
        ),
        "{messages:#?}"
    );
    assert!(said("does not read back what it writes"), "{messages:#?}");
    assert!(said("the same word as another"), "{messages:#?}");
}

#[test]
fn excel_worksheet_names_are_checked_for_xlsx_only() {
    let named = |file: &str| {
        EXAMPLE.replace("voso-san-pham.xlsx", file).replace(
            "sheet_name = \"Sản phẩm\"",
            "sheet_name = \"Sản phẩm / Voso\"",
        )
    };
    let keys: Vec<String> = keys_and_messages(&named("a.xlsx"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["sheet.sheet_name"]);
    assert!(keys_and_messages(&named("a.csv")).is_empty());
}

#[test]
fn an_invalid_time_format_is_named() {
    let bad = EXAMPLE.replace("%d/%m/%Y %H:%M", "%d/%m/%Y %Q");
    let problems = keys_and_messages(&bad);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, "orders.time_format");
    assert!(
        problems[0].1.contains("not a valid chrono time format"),
        "{problems:?}"
    );
}

#[test]
fn a_channel_with_layout_problems_is_not_built() {
    let mapping =
        mapping(&EXAMPLE.replace("value = \"sku\"", "value = \"title\"")).expect("parses");
    let config = chosync_spreadsheet::SpreadsheetConfig {
        channel: "c".into(),
        folder: ".".into(),
        inbox: ".".into(),
        layout: mapping.sheet,
        orders: mapping.orders,
    };
    let built = Spreadsheet::new(
        config,
        std::sync::Arc::new(chosync_connector::events::LogOnly),
        std::sync::Arc::new(chosync_connector::clock::SystemClock),
    );
    let err = built.err().expect("refused");
    assert!(
        err.to_string()
            .contains("sheet.columns: no column shows the `sku`"),
        "{err}"
    );
}
