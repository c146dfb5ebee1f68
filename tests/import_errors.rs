//! Bad catalogue files: every problem named with file, row and column; nothing applied.

mod common;

use std::path::Path;

use common::{HEADER, TestDb, demo_catalogue, file};
use unicode_normalization::UnicodeNormalization;

/// Imports `path` into a database holding the sample catalogue and returns the
/// problem lines, after checking that the database did not change.
async fn problems(path: &Path) -> Vec<String> {
    let db = TestDb::sqlite().await;
    db.import(&demo_catalogue()).await.expect("sample imports");
    let before = db.snapshot().await;
    let err = db.import(path).await.expect_err("the file is invalid");
    assert_eq!(db.snapshot().await, before, "nothing may be applied");
    let file = path.display().to_string();
    err.lines()
        .into_iter()
        .map(|line| line.replacen(&file, "FILE", 1))
        .collect()
}

async fn problems_in(text: &str) -> Vec<String> {
    let (_dir, path) = file("catalogue.csv", text);
    problems(&path).await
}

#[tokio::test]
async fn a_missing_required_column_is_named_with_its_vietnamese_alias() {
    let lines = problems_in("product_id,name,sku\nP1,Nấm,N-1\n").await;
    assert_eq!(
        lines,
        vec!["FILE:1: missing required column \"price\" (or \"Giá\")"]
    );
}

#[tokio::test]
async fn an_unknown_column_is_a_warning_and_is_ignored() {
    let db = TestDb::sqlite().await;
    let (_d, path) = file(
        "c.csv",
        "product_id,name,sku,price,Ghi chú\nP1,Nấm hương,NH-1,75000,giao nhanh\n",
    );
    let report = db.import(&path).await.expect("imports");
    assert_eq!(report.skus.created, 1);
    assert_eq!(
        report.warnings,
        vec![format!(
            "{}:1:E: unknown column \"Ghi chú\" is ignored",
            path.display()
        )]
    );
}

#[tokio::test]
async fn a_duplicate_sku_names_both_rows() {
    let lines = problems_in(&format!(
        "{HEADER}\nP1,Tinh dầu quế,Q-10,Dung tích,10 ml,85000,5,\nP1,,Q-50,Dung tích,50 ml,290000,5,\nP1,,Q-10,Dung tích,100 ml,520000,5,\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec!["FILE:4:C: SKU \"Q-10\" is also on row 2; each SKU may appear once"]
    );
}

#[tokio::test]
async fn negative_and_fractional_stock_are_refused() {
    let lines = problems_in(&format!(
        "{HEADER}\nP1,Nấm,N-1,,,75000,-3,\nP2,Mộc nhĩ,M-1,,,45000,2.5,\nP3,Miến,D-1,,,65000,hai,\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec![
            "FILE:2:G: stock \"-3\" must be 0 or more",
            "FILE:3:G: stock \"2.5\" has a fractional part; it must be a whole number",
            "FILE:4:G: stock \"hai\" is not a number; it must be a whole number",
        ]
    );
}

#[tokio::test]
async fn a_price_with_a_decimal_comma_is_refused() {
    let lines = problems_in(&format!("{HEADER}\nP1,Nấm,N-1,,,\"12,5\",1,\n")).await;
    assert_eq!(
        lines,
        vec!["FILE:2:F: price \"12,5\" has a fractional part; it must be a whole number of VND"]
    );
}

#[tokio::test]
async fn prices_written_the_vietnamese_way_are_accepted() {
    let db = TestDb::sqlite().await;
    let (_d, path) = file(
        "c.csv",
        "product_id;name;sku;price\nP1;Nấm;N-1;120.000 ₫\nP2;Mộc;M-1;120.000đ\nP3;Miến;D-1;120000 VND\nP4;Trà;T-1;\"120,000\"\n",
    );
    db.import(&path).await.expect("imports");
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out.csv");
    chosync::catalogue::export::export_file(db.store.as_ref(), &out)
        .await
        .expect("export");
    let prices: Vec<String> = csv::Reader::from_path(&out)
        .expect("read")
        .records()
        .map(|r| r.expect("record")[10].to_string())
        .collect();
    assert_eq!(prices, vec!["120000"; 4]);
}

#[tokio::test]
async fn an_empty_name_and_a_300_character_name_are_refused() {
    let long = "Tinh dầu ".repeat(34);
    let long = long.trim();
    assert_eq!(long.chars().count(), 305);
    let lines = problems_in(&format!(
        "{HEADER}\nP1,,N-1,,,75000,1,\nP2,{long},M-1,,,45000,1,\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec![
            "FILE:2:B: name is empty (no row of product \"P1\" gives one)",
            "FILE:3:B: name has 305 characters; at most 255 are allowed",
        ]
    );
}

#[tokio::test]
async fn option_names_must_agree_within_a_product() {
    let lines = problems_in(&format!(
        "{HEADER}\nP1,Tinh dầu quế,Q-10,Dung tích,10 ml,85000,5,\nP1,,Q-50,Kích cỡ,50 ml,290000,5,\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec![
            "FILE:3:D: option1_name \"Kích cỡ\" differs from \"Dung tích\" on row 2 of the same product \"P1\""
        ]
    );
}

#[tokio::test]
async fn variants_without_options_or_with_repeated_options_are_refused() {
    let lines = problems_in(
        "product_id,name,sku,option1_name,option1_value,option2_name,option2_value,price\n\
         P1,Nấm,N-1,,,,,75000\nP1,,N-2,,,,,75000\n\
         P2,Trà,T-1,Loại,Xanh,Gói,100 g,1000\nP2,,T-2,Loại,Xanh,Gói,100 g,1000\nP2,,T-3,,,Gói,200 g,1000\n",
    )
    .await;
    assert_eq!(
        lines,
        vec![
            "FILE:3:E: product \"P1\" has several SKUs (also row 2) but no option to tell them apart",
            "FILE:5:E: options \"Xanh / 100 g\" repeat row 4 of product \"P2\"; each SKU needs its own",
            "FILE:6:E: option1_value is empty but product \"P2\" has option \"Loại\"",
        ]
    );
}

#[tokio::test]
async fn repeated_options_are_caught_when_the_file_leaves_an_axis_out() {
    // Without option2 columns stored values may complete the combination, so the
    // check runs on the written catalogue instead.
    let lines = problems_in(&format!(
        "{HEADER}\nP2,Trà,T-1,Loại,Xanh,1000,1,\nP2,,T-2,Loại,Xanh,1000,1,\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec!["FILE:2:E: SKUs T-1, T-2 of product \"P2\" would have the same option values"]
    );
}

#[tokio::test]
async fn a_wrong_barcode_check_digit_is_refused() {
    let lines = problems_in(&format!("{HEADER}\nP1,Nấm,N-1,,,75000,1,8936045000015\n")).await;
    assert_eq!(
        lines,
        vec!["FILE:2:H: barcode \"8936045000015\" check digit is 5 but should be 4"]
    );
}

#[tokio::test]
async fn every_problem_in_the_file_is_listed() {
    let lines = problems_in(&format!(
        "{HEADER}\n,Nấm,N 1,,,0,1,\nP2,Mộc,M-1,,,abc,1,123\n"
    ))
    .await;
    assert_eq!(
        lines,
        vec![
            "FILE:2:A: product_id is empty",
            "FILE:2:C: sku \"N 1\" must be 1–100 printable ASCII characters without spaces",
            "FILE:2:F: price \"0\" must be greater than 0",
            "FILE:3:F: price \"abc\" is not a number; it must be a whole number of VND",
            "FILE:3:H: barcode \"123\" has 3 digits; EAN-8, UPC-A and EAN-13 have 8, 12 or 13",
        ]
    );
}

#[tokio::test]
async fn decomposed_vietnamese_is_stored_composed() {
    let db = TestDb::sqlite().await;
    let nfd: String = "Mộc nhĩ đen rừng".nfd().collect();
    assert_ne!(nfd, "Mộc nhĩ đen rừng");
    let (_d, path) = file(
        "c.csv",
        &format!(
            "product_id,name,sku,price,Tên phân loại 1,Phân loại 1\nP1,  {nfd} ,MN-1,45000,{},{}\n",
            "Khối lượng".nfd().collect::<String>(),
            "100 g"
        ),
    );
    db.import(&path).await.expect("imports");
    let row = &db.store.stock(Some("MN-1")).await.expect("stock")[0];
    assert_eq!(row.name, "Mộc nhĩ đen rừng");
    assert_eq!(row.option_values, vec!["100 g"]);
    let again = db.import(&path).await.expect("re-import");
    assert_eq!(again.skus.unchanged, 1);
}

#[tokio::test]
async fn bom_crlf_blank_lines_and_vietnamese_headers_are_read() {
    let db = TestDb::sqlite().await;
    let text = "\u{feff}Mã sản phẩm,Tên sản phẩm,Mã SKU,Giá,Tồn kho\r\n\r\nP1,Nấm hương,NH-1,75.000,12\r\n,,,,\r\nP2,Mộc nhĩ,MN-1,45000,3\r\n";
    let (_d, path) = file("c.csv", text);
    let report = db.import(&path).await.expect("imports");
    assert_eq!(report.rows, 2);
    assert_eq!(report.skus.created, 2);
    let (_d, bad) = file("c.csv", &text.replace("45000", "\"4,5\""));
    let err = db.import(&bad).await.expect_err("invalid");
    // Row numbers count the blank lines, as a spreadsheet shows them.
    assert_eq!(
        err.lines(),
        vec![format!(
            "{}:5:D: price \"4,5\" has a fractional part; it must be a whole number of VND",
            bad.display()
        )]
    );
}

#[tokio::test]
async fn files_that_are_not_catalogues_are_refused() {
    let (_d, png) = file("catalogue.csv", "\u{89}PNG\r\n\u{1a}\n\0\0\0\rIHDR");
    assert_eq!(
        problems(&png).await,
        vec![
            "FILE: this is not CSV text (it contains binary data); use a .csv (UTF-8) or .xlsx file"
        ]
    );
    let (_d, pdf) = file("catalogue.pdf", "%PDF-1.7");
    assert_eq!(
        problems(&pdf).await,
        vec!["FILE: unsupported file type \".pdf\"; use a .csv (UTF-8) or .xlsx file"]
    );
    let (_d, fake) = file("catalogue.xlsx", "product_id,name\n");
    let lines = problems(&fake).await;
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("FILE: this is not a readable XLSX workbook"),
        "{lines:?}"
    );
    let dir = tempfile::tempdir().expect("dir");
    let latin = dir.path().join("latin1.csv");
    std::fs::write(&latin, b"product_id,name,sku,price\nP1,N\xe2m,N-1,1000\n").expect("write");
    assert_eq!(
        problems(&latin).await,
        vec!["FILE:2: this row is not UTF-8 text; save the file as \"CSV UTF-8\""]
    );
}

#[tokio::test]
async fn an_empty_file_and_an_empty_sheet_are_refused() {
    let (_d, empty) = file("catalogue.csv", "");
    assert_eq!(
        problems(&empty).await,
        vec!["FILE: the file is empty; expected a header row and one row per SKU"]
    );
    let (_d, header_only) = file("catalogue.csv", "product_id,name,sku,price\n");
    assert_eq!(
        problems(&header_only).await,
        vec!["FILE: the file has a header row but no products"]
    );
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("empty.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet().set_name("Sản phẩm").expect("name");
    book.save(&path).expect("save");
    assert_eq!(
        problems(&path).await,
        vec![
            "FILE: the first sheet \"Sản phẩm\" is empty; expected a header row and one row per SKU"
        ]
    );
}

/// A workbook as a cooperative types it: numbers in numeric cells.
fn numeric_workbook(path: &Path, with_fractional_price_row: bool) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "Mã sản phẩm",
        "Tên sản phẩm",
        "Mã SKU",
        "Giá",
        "Tồn kho",
        "Mã vạch",
    ];
    for (col, title) in headers.iter().enumerate() {
        sheet.write_string(0, col as u16, *title).expect("header");
    }
    sheet.write_string(1, 0, "P1").expect("cell");
    sheet.write_string(1, 1, "Gạo Bao Thai").expect("cell");
    sheet.write_number(1, 2, 2024.0).expect("numeric SKU");
    sheet.write_number(1, 3, 60000.0).expect("price");
    sheet.write_number(1, 4, 250.0).expect("stock");
    // A UPC-A stored as a number loses its leading zero.
    sheet.write_number(1, 5, 36000291452.0).expect("barcode");
    if with_fractional_price_row {
        sheet.write_string(2, 0, "P2").expect("cell");
        sheet.write_string(2, 1, "Hạt dẻ").expect("cell");
        sheet.write_string(2, 2, "HD-1").expect("cell");
        sheet.write_number(2, 3, 70000.5).expect("price");
    }
    book.save(path).expect("save");
}

#[tokio::test]
async fn an_xlsx_with_numeric_cells_imports() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.xlsx");
    numeric_workbook(&path, true);
    assert_eq!(
        problems(&path).await,
        vec!["FILE:3:D: price \"70000.5\" has a fractional part; it must be a whole number of VND"]
    );

    numeric_workbook(&path, false);
    let db = TestDb::sqlite().await;
    assert_eq!(db.import(&path).await.expect("imports").skus.created, 1);
    assert_eq!(
        db.store.stock(Some("2024")).await.expect("stock")[0].on_hand,
        250
    );
    let out = dir.path().join("out.csv");
    chosync::catalogue::export::export_file(db.store.as_ref(), &out)
        .await
        .expect("export");
    let record = csv::Reader::from_path(&out)
        .expect("read")
        .records()
        .next()
        .expect("one row")
        .expect("record");
    assert_eq!((&record[10], &record[16]), ("60000", "036000291452"));
}

#[tokio::test]
async fn images_must_be_urls_or_files_beside_the_catalogue() {
    let lines = problems_in(
        "product_id,name,sku,price,images\nP1,Nấm,N-1,1000,https://cdn.htx.vn/a.jpg|anh/khong-co.jpg\nP2,Mộc,M-1,1000,ftp://x/y.jpg\n",
    )
    .await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("FILE:2:E: image file \"anh/khong-co.jpg\" not found (looked for /"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "FILE:3:E: image \"ftp://x/y.jpg\" must be an http(s) URL or a file path"
    );
}

#[tokio::test]
async fn a_description_over_several_lines_keeps_later_row_numbers_right() {
    let lines = problems_in(
        "product_id,name,description,sku,price\nP1,Nấm,\"Dòng một\nDòng hai\nDòng ba\",N-1,75000\nP2,Mộc,,M-1,-1\n",
    )
    .await;
    assert_eq!(lines, vec!["FILE:3:E: price \"-1\" must be greater than 0"]);
}

#[tokio::test]
async fn old_mac_line_endings_are_counted_as_rows() {
    let lines = problems_in("product_id,name,sku,price\rP1,Nấm,N-1,1000\r\rP2,Mộc,M-1,x\r").await;
    assert_eq!(
        lines,
        vec!["FILE:4:D: price \"x\" is not a number; it must be a whole number of VND"]
    );
}

#[tokio::test]
async fn a_value_under_a_blank_header_is_refused() {
    let lines = problems_in("product_id,name,,sku,price\nP1,Nấm,quà tặng,N-1,1000\n").await;
    assert_eq!(
        lines,
        vec!["FILE:2:C: value \"quà tặng\" is in a column with no header"]
    );
}

#[tokio::test]
async fn option_columns_come_in_pairs() {
    let lines = problems_in("product_id,name,sku,price,Phân loại 1\nP1,Nấm,N-1,1000,100 g\n").await;
    assert_eq!(
        lines,
        vec![
            "FILE:1: missing column \"option1_name\" (or \"Tên phân loại 1\") to go with \"option1_value\""
        ]
    );
}

#[tokio::test]
async fn a_price_too_large_for_a_spreadsheet_is_refused() {
    let lines = problems_in("product_id,name,sku,price\nP1,Nấm,N-1,12345678901234567\n").await;
    assert_eq!(
        lines,
        vec!["FILE:2:D: price \"12345678901234567\" is too large"]
    );
}

#[tokio::test]
async fn excel_errors_and_dates_are_not_taken_as_values() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, title) in ["product_id", "name", "sku", "price"].iter().enumerate() {
        sheet.write_string(0, col as u16, *title).expect("header");
    }
    sheet.write_string(1, 0, "P1").expect("cell");
    sheet.write_formula(1, 1, "=1/0").expect("formula");
    sheet
        .set_formula_result(1, 1, "#DIV/0!")
        .write_string(1, 2, "N-1")
        .expect("cell");
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 11, 29).expect("date");
    let format = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_datetime_with_format(1, 3, &date, &format)
        .expect("date");
    book.save(&path).expect("save");
    let lines = problems(&path).await;
    assert_eq!(
        lines,
        vec![
            "FILE:2:B: cell \"#DIV/0!\" holds the Excel error #DIV/0!",
            "FILE:2:D: cell \"46355\" holds a date; catalogue cells are text or numbers",
        ]
    );
}

/// Rewrites the file when the writing pass starts, as a spreadsheet saved at the
/// wrong moment would.
struct RewriteOnWrite(std::path::PathBuf, String);

impl chosync::catalogue::import::Progress for RewriteOnWrite {
    fn pass(&self, name: &'static str, _: Option<u64>) {
        if name == "writing" {
            std::fs::write(&self.0, &self.1).expect("rewrite");
        }
    }
    fn rows(&self, _: u64) {}
}

#[tokio::test]
async fn a_file_changed_during_the_import_is_not_imported() {
    let db = TestDb::sqlite().await;
    db.import(&demo_catalogue()).await.expect("sample");
    let before = db.snapshot().await;
    let (_d, path) = file("c.csv", "product_id,name,sku,price\nP1,Nấm,N-1,1000\n");
    let swapped = "product_id,name,sku,price\nP1,Nấm,N-1,-5\n".to_string();
    let progress = std::sync::Arc::new(RewriteOnWrite(path.clone(), swapped));
    let err = chosync::catalogue::import::import_file(db.store.as_ref(), &path, false, progress)
        .await
        .expect_err("changed underneath");
    assert_eq!(
        err.lines(),
        vec![format!(
            "{}:2:D: price \"-5\" must be greater than 0",
            path.display()
        )]
    );
    assert_eq!(db.snapshot().await, before);

    let (_d, path) = file("c.csv", "product_id,name,sku,price\nP1,Nấm,N-1,1000\n");
    let same_shape = "product_id,name,sku,price\nP1,Nấm,N-1,2000\n".to_string();
    let progress = std::sync::Arc::new(RewriteOnWrite(path.clone(), same_shape));
    let err = chosync::catalogue::import::import_file(db.store.as_ref(), &path, false, progress)
        .await
        .expect_err("changed underneath");
    assert_eq!(
        err.lines(),
        vec![format!(
            "import stopped: {} changed while it was being imported; nothing was imported",
            path.display()
        )]
    );
    assert_eq!(db.snapshot().await, before);
}

#[tokio::test]
async fn images_in_a_folder_named_with_a_bar_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let folder = dir.path().join("ảnh|2026");
    std::fs::create_dir(&folder).expect("mkdir");
    std::fs::write(folder.join("que.png"), b"png").expect("image");
    let path = folder.join("c.csv");
    std::fs::write(
        &path,
        "product_id,name,sku,price,images\nP1,Quế,Q-1,1000,que.png\n",
    )
    .expect("write");
    let lines = problems(&path).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("FILE:2:E: image \"que.png\" lies under ")
            && lines[0]
                .ends_with("whose name contains \"|\", the image separator; move the images"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_cell_longer_than_a_spreadsheet_holds_is_refused() {
    let long = "mô tả ".repeat(6_000);
    let lines = problems_in(&format!(
        "product_id,name,description,sku,price\nP1,Nấm,{},N-1,1000\n",
        long.trim()
    ))
    .await;
    assert_eq!(
        lines,
        vec!["FILE:2:C: cell has 35999 characters; a spreadsheet cell holds at most 32767"]
    );
}

#[tokio::test]
async fn a_workbook_with_a_damaged_cell_reference_is_refused() {
    // A cell reference no spreadsheet writes (`r="ZZZZZZZ2"`); the reader must
    // report a problem, never crash or import.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/damaged-cell-reference.xlsx");
    let lines = problems(&path).await;
    assert!(!lines.is_empty());
}
