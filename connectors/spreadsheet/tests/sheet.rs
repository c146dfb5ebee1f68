//! The bulk-upload sheet: what the channel writes reads back as what it holds.

mod common;

use chosync_connector::Connector;
use chosync_connector::ConnectorError;
use chosync_connector::dto::RemoteListing;
use chosync_spreadsheet::{SheetRow, read_sheet};
use common::*;

/// (sku, title, price, stock, listed) of each row read back.
type Row = (
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<bool>,
);

fn rows(channel: &Channel) -> Vec<Row> {
    read_sheet(&channel.config.layout, &channel.sheet.sheet_path())
        .expect("the sheet reads back")
        .into_iter()
        .map(|r: SheetRow| (r.sku, r.title, r.price, r.stock, r.listed))
        .collect()
}

fn row(sku: &str, title: &str, price: i64, stock: i64, listed: bool) -> Row {
    (
        sku.into(),
        Some(title.into()),
        Some(price),
        Some(stock),
        Some(listed),
    )
}

/// Two listings (one off sale), five SKUs, pushed out of order.
async fn five_skus(channel: &Channel) -> Vec<RemoteListing> {
    let mut tra = draft(
        "TRA-02",
        "Trà shan tuyết",
        vec![variant("TRA-02-100", "100g", 120_000, 3)],
    );
    tra.listed = false;
    let che = draft(
        "CHE-01",
        "Chè Thái Nguyên",
        vec![
            variant("CHE-01-500", "500g", 310_000, 2),
            variant("CHE-01-100", "100g", 70_000, 10),
            variant("00123", "200g", 125_000, 7),
            variant("CHE-01-1KG", "1kg", 590_000, 0),
        ],
    );
    let mut held = Vec::new();
    for d in [&tra, &che] {
        held.push(channel.sheet.upsert_listing(d, None).await.expect("upsert"));
    }
    held
}

fn five_rows() -> Vec<Row> {
    vec![
        row("00123", "Chè Thái Nguyên", 125_000, 7, true),
        row("CHE-01-100", "Chè Thái Nguyên", 70_000, 10, true),
        row("CHE-01-1KG", "Chè Thái Nguyên", 590_000, 0, true),
        row("CHE-01-500", "Chè Thái Nguyên", 310_000, 2, true),
        row("TRA-02-100", "Trà shan tuyết", 120_000, 3, false),
    ]
}

#[tokio::test]
async fn listings_written_as_csv_read_back_as_the_same_rows_sorted_by_product_then_sku() {
    let channel = channel("voso-san-pham.csv", "integer");
    five_skus(&channel).await;
    assert_eq!(rows(&channel), five_rows());
}

#[tokio::test]
async fn listings_written_as_xlsx_read_back_as_the_same_rows_and_skus_stay_text() {
    let channel = channel("voso-san-pham.xlsx", "integer");
    five_skus(&channel).await;
    // "00123" as a number cell would read back as "123".
    assert_eq!(rows(&channel), five_rows());
}

#[tokio::test]
async fn upsert_returns_the_listing_by_product_key_with_skus_as_variant_ids() {
    let channel = channel("s.csv", "integer");
    let held = five_skus(&channel).await;
    let che = &held[1];
    assert_eq!(che.listing_id, "CHE-01");
    assert_eq!(che.status, "Đang bán");
    assert_eq!(held[0].status, "Ngừng bán");
    let ids: Vec<(&str, &str)> = che
        .variants
        .iter()
        .map(|v| (v.sku.as_str(), v.variant_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("00123", "00123"),
            ("CHE-01-100", "CHE-01-100"),
            ("CHE-01-1KG", "CHE-01-1KG"),
            ("CHE-01-500", "CHE-01-500")
        ]
    );
    let found = channel.sheet.find_listing_by_sku("CHE-01-1KG").await;
    assert_eq!(found.expect("look-up").as_ref(), Some(che));
    assert_eq!(channel.sheet.find_listing_by_sku("NOPE").await, Ok(None));
}

#[tokio::test]
async fn set_stock_on_three_of_five_skus_changes_only_those_rows() {
    let channel = channel("s.xlsx", "integer");
    five_skus(&channel).await;
    channel.events.take();
    let outcomes = channel
        .sheet
        .set_stock(&[
            stock("CHE-01-100", 4),
            stock("TRA-02-100", 0),
            stock("00123", 9),
        ])
        .await;
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    let mut expected = five_rows();
    expected[0].3 = Some(9);
    expected[1].3 = Some(4);
    expected[4].3 = Some(0);
    assert_eq!(rows(&channel), expected);
    // One file write for the whole call.
    assert_eq!(channel.events.take().len(), 1);
}

#[tokio::test]
async fn an_unknown_sku_fails_alone() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    let outcomes = channel
        .sheet
        .set_price(&[
            price("CHE-01-100", 75_000),
            price("KHONG-CO", 1),
            price("00123", 130_000),
        ])
        .await;
    let results: Vec<(&str, bool)> = outcomes
        .iter()
        .map(|o| (o.sku.as_str(), o.result.is_ok()))
        .collect();
    assert_eq!(
        results,
        [("CHE-01-100", true), ("KHONG-CO", false), ("00123", true)]
    );
    assert!(matches!(
        outcomes[1].result,
        Err(ConnectorError::NotFound(_))
    ));
    let mut expected = five_rows();
    expected[0].2 = Some(130_000);
    expected[1].2 = Some(75_000);
    assert_eq!(rows(&channel), expected);
}

#[tokio::test]
async fn a_call_of_only_unknown_skus_writes_nothing() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    channel.events.take();
    let outcomes = channel.sheet.set_stock(&[stock("KHONG-CO", 1)]).await;
    assert!(matches!(
        outcomes[0].result,
        Err(ConnectorError::NotFound(_))
    ));
    assert!(channel.events.take().is_empty());
}

#[tokio::test]
async fn dotted_prices_are_written_with_thousands_dots_and_read_back_as_numbers() {
    for file in ["s.csv", "s.xlsx"] {
        let channel = channel(file, "dotted");
        five_skus(&channel).await;
        assert_eq!(rows(&channel), five_rows(), "{file}");
        if file.ends_with(".csv") {
            let text = std::fs::read_to_string(channel.sheet.sheet_path()).expect("read");
            assert!(text.contains(",590.000,"), "{text}");
            assert!(text.contains(",125.000,"), "{text}");
            // Stock stays a plain integer: the format is the price column's.
            assert!(text.contains("00123,Chè Thái Nguyên,125.000,7,"), "{text}");
        }
    }
}

#[tokio::test]
async fn the_csv_starts_with_a_bom_and_keeps_vietnamese_headers_and_text() {
    let channel = channel("voso-san-pham.csv", "integer");
    five_skus(&channel).await;
    let bytes = std::fs::read(channel.sheet.sheet_path()).expect("read");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Mã SKU,Tên sản phẩm,Giá bán (₫),Tồn kho,Trạng thái,Phân loại,Nguồn")
    );
    assert_eq!(
        lines.next(),
        Some("00123,Chè Thái Nguyên,125000,7,Đang bán,200g,chosync")
    );
}

#[tokio::test]
async fn xlsx_headers_keep_their_vietnamese_in_the_named_worksheet() {
    use calamine::{Reader, open_workbook_auto};
    let channel = channel("s.xlsx", "integer");
    five_skus(&channel).await;
    let mut book = open_workbook_auto(channel.sheet.sheet_path()).expect("open");
    assert_eq!(book.sheet_names(), ["Sản phẩm"]);
    let range = book.worksheet_range("Sản phẩm").expect("worksheet");
    let header: Vec<String> = range
        .rows()
        .next()
        .expect("a header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        [
            "Mã SKU",
            "Tên sản phẩm",
            "Giá bán (₫)",
            "Tồn kho",
            "Trạng thái",
            "Phân loại",
            "Nguồn"
        ]
    );
    // Integer prices are number cells a seller can sum.
    let first = range.rows().nth(1).expect("a row");
    assert_eq!(first[2], calamine::Data::Float(125_000.0));
    assert_eq!(first[0], calamine::Data::String("00123".into()));
}

#[tokio::test]
async fn no_temp_files_are_left_behind() {
    for file in ["s.csv", "s.xlsx"] {
        let channel = channel(file, "integer");
        five_skus(&channel).await;
        channel.sheet.set_stock(&[stock("00123", 1)]).await;
        assert_eq!(names(channel.folder()), [".chosync", "inbox", file]);
        assert_eq!(
            names(&channel.folder().join(".chosync")),
            [format!("{file}.state.json")]
        );
    }
}

#[tokio::test]
async fn a_restarted_channel_finds_its_listings_in_the_state_file() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    channel.sheet.set_stock(&[stock("CHE-01-500", 1)]).await;
    let restarted = channel.restarted();
    let page = restarted.list_remote_listings(None).await.expect("list");
    let keys: Vec<&str> = page.items.iter().map(|l| l.listing_id.as_str()).collect();
    assert_eq!(keys, ["CHE-01", "TRA-02"]);
    let che = page.items[0].variant("CHE-01-500").expect("variant");
    assert_eq!((che.price, che.stock), (310_000, 1));
    // Its next write renders every listing, not only the new one.
    restarted.set_stock(&[stock("00123", 8)]).await;
    let mut expected = five_rows();
    expected[0].3 = Some(8);
    expected[3].3 = Some(1);
    assert_eq!(rows(&channel), expected);
}

#[tokio::test]
async fn an_unreadable_state_file_fails_every_call_and_is_left_as_it_is() {
    let channel = channel("s.csv", "integer");
    let state = channel.folder().join(".chosync").join("s.csv.state.json");
    std::fs::create_dir_all(state.parent().expect("folder")).expect("mkdir");
    std::fs::write(&state, "{ not json").expect("write");
    let err = channel
        .sheet
        .upsert_listing(&draft("A", "a", vec![variant("A-1", "x", 1, 1)]), None)
        .await
        .expect_err("must not reset the shop");
    assert!(err.to_string().contains("s.csv.state.json"), "{err}");
    let outcomes = channel.sheet.set_stock(&[stock("A-1", 1)]).await;
    assert!(matches!(
        outcomes[0].result,
        Err(ConnectorError::Transient(_))
    ));
    assert_eq!(std::fs::read_to_string(&state).expect("read"), "{ not json");
}

#[tokio::test]
async fn a_failed_sheet_write_fails_every_item_and_rolls_the_state_back() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    // A folder where the sheet goes: the rename over it fails.
    std::fs::remove_file(channel.sheet.sheet_path()).expect("remove");
    std::fs::create_dir(channel.sheet.sheet_path()).expect("block");
    channel.events.take();
    let outcomes = channel
        .sheet
        .set_stock(&[stock("00123", 99), stock("KHONG-CO", 1)])
        .await;
    assert!(matches!(
        outcomes[0].result,
        Err(ConnectorError::Transient(_))
    ));
    assert!(outcomes[1].result.is_err());
    let events = channel.events.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, "transient");
    let held = channel
        .sheet
        .find_listing_by_sku("00123")
        .await
        .expect("look-up");
    assert_eq!(held.expect("held").variant("00123").expect("v").stock, 7);
    let restarted = channel.restarted();
    let held = restarted
        .find_listing_by_sku("00123")
        .await
        .expect("look-up");
    assert_eq!(held.expect("held").variant("00123").expect("v").stock, 7);
}

#[tokio::test]
async fn an_update_replaces_the_content_drops_missing_variants_and_keeps_held_prices() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    let update = draft(
        "CHE-01",
        "Chè Tân Cương",
        vec![
            variant("00123", "200g", 1, 1),
            variant("CHE-01-2KG", "2kg", 1_100_000, 5),
        ],
    );
    let remote = channel
        .sheet
        .upsert_listing(&update, None)
        .await
        .expect("upsert");
    let skus: Vec<(&str, i64, i64)> = remote
        .variants
        .iter()
        .map(|v| (v.sku.as_str(), v.price, v.stock))
        .collect();
    // Held variants change price and stock only through set_price/set_stock.
    assert_eq!(skus, [("00123", 125_000, 7), ("CHE-01-2KG", 1_100_000, 5)]);
    assert_eq!(
        rows(&channel),
        [
            row("00123", "Chè Tân Cương", 125_000, 7, true),
            row("CHE-01-2KG", "Chè Tân Cương", 1_100_000, 5, true),
            row("TRA-02-100", "Trà shan tuyết", 120_000, 3, false),
        ]
    );
}

#[tokio::test]
async fn a_sku_held_by_another_listing_is_refused() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    let thief = draft("OTHER", "x", vec![variant("00123", "x", 1, 1)]);
    let err = channel
        .sheet
        .upsert_listing(&thief, None)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ConnectorError::Rejected { code, .. } if code == "sku_taken"),
        "{err}"
    );
    assert_eq!(rows(&channel), five_rows());
}

#[tokio::test]
async fn each_write_is_one_event_naming_the_file_and_its_row_count() {
    let channel = channel("voso.csv", "integer");
    five_skus(&channel).await;
    let events = channel.events.take();
    let seen: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.endpoint.as_str(), e.outcome, e.message.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            ("sheet/voso.csv", "ok", Some("1 rows, 1 listings")),
            ("sheet/voso.csv", "ok", Some("5 rows, 2 listings")),
        ]
    );
    assert!(events.iter().all(|e| e.channel == "voso-hoptacxa"));
}

#[tokio::test]
async fn remote_listings_come_in_pages_of_a_hundred() {
    let channel = channel("s.csv", "integer");
    for i in 0..101 {
        let d = draft(
            &format!("P{i:03}"),
            "t",
            vec![variant(&format!("S{i:03}"), "x", 1, 1)],
        );
        channel
            .sheet
            .upsert_listing(&d, None)
            .await
            .expect("upsert");
    }
    let first = channel
        .sheet
        .list_remote_listings(None)
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 100);
    assert_eq!(first.next.as_deref(), Some("100"));
    let second = channel
        .sheet
        .list_remote_listings(first.next.as_deref())
        .await
        .expect("page 2");
    let keys: Vec<&str> = second.items.iter().map(|l| l.listing_id.as_str()).collect();
    assert_eq!(keys, ["P100"]);
    assert_eq!(second.next, None);
}

#[tokio::test]
async fn images_are_not_uploaded_and_pushes_are_refused() {
    let channel = channel("s.csv", "integer");
    let err = channel
        .sheet
        .upload_image("a.jpg", vec![1, 2])
        .await
        .expect_err("no uploads");
    assert!(err.to_string().contains("as given"), "{err}");
    let push = channel.sheet.verify_webhook(&Default::default(), b"{}");
    assert!(matches!(push, Err(ConnectorError::Unauthorized(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_serialized_and_both_land() {
    let channel = channel("s.csv", "integer");
    five_skus(&channel).await;
    let stock_items = [stock("00123", 1), stock("CHE-01-100", 2)];
    let price_items = [price("TRA-02-100", 99_000)];
    let (stocks, prices) = tokio::join!(
        channel.sheet.set_stock(&stock_items),
        channel.sheet.set_price(&price_items),
    );
    assert!(stocks.iter().chain(&prices).all(|o| o.result.is_ok()));
    let mut expected = five_rows();
    expected[0].3 = Some(1);
    expected[1].3 = Some(2);
    expected[4].2 = Some(99_000);
    assert_eq!(rows(&channel), expected);
    assert_eq!(rows_in_state(&channel), expected);
}

/// The rows a restarted channel would write: what the state file holds.
fn rows_in_state(channel: &Channel) -> Vec<Row> {
    let path = channel.folder().join(".chosync").join("s.csv.state.json");
    let listings = chosync_spreadsheet::state::load(&path).expect("state");
    let sheet = chosync_spreadsheet::sheet::render(&channel.config.layout, listings.values());
    let out = channel.folder().join("again.csv");
    chosync_spreadsheet::sheet::write_sheet(&channel.config.layout, &out, &sheet).expect("write");
    read_sheet(&channel.config.layout, &out)
        .expect("read")
        .into_iter()
        .map(|r| (r.sku, r.title, r.price, r.stock, r.listed))
        .collect()
}
