//! Orders files dropped into the inbox: read whole, or refused whole.

mod common;

use chosync_connector::Connector;
use chosync_connector::dto::{Order, OrderLine, OrderState, OrderWindow};
use chrono::{DateTime, Utc};
use common::*;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("a test time")
}

fn window() -> OrderWindow {
    // Deliberately far from the files' dates: a dropped file is news.
    OrderWindow {
        from: utc("2020-01-01T00:00:00Z"),
        to: utc("2020-01-02T00:00:00Z"),
    }
}

const HEADER: &str = "Mã đơn hàng,SKU,Số lượng,Trạng thái,Ngày đặt hàng,Ngày cập nhật";

fn drop_csv(channel: &Channel, name: &str, rows: &[&str]) {
    let mut text = format!("\u{feff}{HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(channel.inbox().join(name), text).expect("drop");
}

fn line(sku: &str, quantity: i64, state: OrderState) -> OrderLine {
    OrderLine {
        line_id: sku.into(),
        sku: sku.into(),
        quantity,
        cancelled_quantity: 0,
        state,
    }
}

/// Times in the file are Vietnam's: 09:26 there is 02:26 UTC.
fn expected_orders() -> Vec<Order> {
    vec![
        Order {
            order_id: "VS-1001".into(),
            platform_status: "Chờ xác nhận".into(),
            state: OrderState::Paid,
            created_at: utc("2026-03-14T02:26:00Z"),
            updated_at: utc("2026-03-14T02:30:00Z"),
            lines: vec![
                line("CHE-01-100", 2, OrderState::Paid),
                line("00123", 1, OrderState::Paid),
            ],
        },
        Order {
            order_id: "VS-1002".into(),
            platform_status: "Đã hủy".into(),
            state: OrderState::Cancelled,
            created_at: utc("2026-03-13T17:05:00Z"),
            updated_at: utc("2026-03-14T03:00:00Z"),
            lines: vec![line("TRA-02-100", 3, OrderState::Cancelled)],
        },
    ]
}

const GOOD_ROWS: [&str; 4] = [
    "VS-1001,CHE-01-100,2,Chờ xác nhận,14/03/2026 09:26,14/03/2026 09:30",
    "VS-1001,00123,1,Chờ xác nhận,14/03/2026 09:26,14/03/2026 09:30",
    "VS-1002,TRA-02-100,1,Đã hủy,14/03/2026 00:05,14/03/2026 10:00",
    // The same SKU twice in one order is one line of their sum.
    "VS-1002,TRA-02-100,2,Đã hủy,14/03/2026 00:05,14/03/2026 10:00",
];

async fn import(channel: &Channel) -> Vec<Order> {
    let refs = channel.sheet.list_orders(window()).await.expect("list");
    let ids: Vec<String> = refs.into_iter().map(|r| r.order_id).collect();
    channel.sheet.get_orders(&ids).await.expect("get")
}

#[tokio::test]
async fn an_orders_csv_gives_its_orders_with_states_and_vietnam_times() {
    let channel = channel("s.csv", "integer");
    drop_csv(&channel, "don-hang-14-03.csv", &GOOD_ROWS);
    let refs = channel.sheet.list_orders(window()).await.expect("list");
    let statuses: Vec<(&str, &str)> = refs
        .iter()
        .map(|r| (r.order_id.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [("VS-1001", "Chờ xác nhận"), ("VS-1002", "Đã hủy")]
    );
    let ids: Vec<String> = refs.into_iter().map(|r| r.order_id).collect();
    assert_eq!(
        channel.sheet.get_orders(&ids).await.expect("get"),
        expected_orders()
    );
    let events = channel.events.take();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].endpoint.as_str(),
            events[0].outcome,
            events[0].message.as_deref()
        ),
        ("inbox/don-hang-14-03.csv", "ok", Some("2 orders"))
    );
}

#[tokio::test]
async fn an_orders_xlsx_gives_the_same_orders_with_text_or_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let channel = channel("s.csv", "integer");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let when = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (c, h) in HEADER.split(',').enumerate() {
        sheet.write_string(0, c as u16, h).expect("header");
    }
    for (r, row) in GOOD_ROWS.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.split(',').enumerate() {
            let c = c as u16;
            match c {
                // Quantities as numbers, creation times as real Excel dates.
                2 => sheet.write_number(r, c, cell.parse::<f64>().expect("n")),
                4 => {
                    let (d, t) = cell.split_once(' ').expect("date time");
                    let d: Vec<u16> = d.split('/').map(|p| p.parse().expect("d")).collect();
                    let t: Vec<u16> = t.split(':').map(|p| p.parse().expect("t")).collect();
                    let at = ExcelDateTime::from_ymd(d[2], d[1] as u8, d[0] as u8)
                        .and_then(|x| x.and_hms(t[0], t[1] as u8, 0))
                        .expect("date");
                    sheet.write_datetime_with_format(r, c, &at, &when)
                }
                _ => sheet.write_string(r, c, cell),
            }
            .expect("cell");
        }
    }
    book.save(channel.inbox().join("export.xlsx"))
        .expect("save");
    assert_eq!(import(&channel).await, expected_orders());
}

#[tokio::test]
async fn the_same_file_dropped_again_after_archiving_gives_the_same_orders() {
    let channel = channel("s.csv", "integer");
    drop_csv(&channel, "don-hang.csv", &GOOD_ROWS);
    let first = import(&channel).await;
    assert_eq!(channel.sheet.archive_read().await, Ok(1));
    assert_eq!(names(&channel.inbox()), ["imported"]);
    assert_eq!(
        names(&channel.inbox().join("imported")),
        ["20260315T010000Z-don-hang.csv"]
    );
    // Nothing new in the inbox: nothing to import.
    assert!(import(&channel).await.is_empty());
    drop_csv(&channel, "don-hang.csv", &GOOD_ROWS);
    let again = import(&channel).await;
    // The caller's ledger keys effects by (order, line): equal orders change nothing.
    assert_eq!(again, first);
    assert_eq!(channel.sheet.archive_read().await, Ok(1));
    assert_eq!(
        names(&channel.inbox().join("imported")),
        [
            "20260315T010000Z-2-don-hang.csv",
            "20260315T010000Z-don-hang.csv"
        ]
    );
}

#[tokio::test]
async fn a_file_with_one_bad_row_is_refused_whole_with_its_reasons_beside_it() {
    let channel = channel("s.csv", "integer");
    drop_csv(&channel, "a-good.csv", &GOOD_ROWS[..1]);
    drop_csv(
        &channel,
        "b-bad.csv",
        &[
            "VS-2001,CHE-01-100,1,Chờ xác nhận,14/03/2026 09:26,14/03/2026 09:30",
            "VS-2002,CHE-01-500,0,Chờ xác nhận,14/03/2026 09:26,14/03/2026 09:30",
            "VS-2003,,1,Đã giao lại,hôm qua,14/03/2026 09:30",
        ],
    );
    let orders = import(&channel).await;
    let ids: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(
        ids,
        ["VS-1001"],
        "the bad file's good rows are not returned"
    );
    assert_eq!(names(&channel.inbox()), ["a-good.csv", "rejected"]);
    assert_eq!(
        names(&channel.inbox().join("rejected")),
        ["b-bad.csv", "b-bad.csv.errors.txt"]
    );
    let errors = std::fs::read_to_string(channel.inbox().join("rejected/b-bad.csv.errors.txt"))
        .expect("errors");
    assert_eq!(
        errors.lines().collect::<Vec<_>>(),
        [
            "row 3, column \"Số lượng\": \"0\" is not a positive whole number",
            "row 4, column \"SKU\": the SKU is empty",
            "row 4, column \"Trạng thái\": unknown status \"Đã giao lại\" (known: Chờ xác nhận, Đang giao, Đã giao, Đã hủy)",
            "row 4, column \"Ngày đặt hàng\": cannot read \"hôm qua\" as a time in format %d/%m/%Y %H:%M",
        ]
    );
    let outcomes: Vec<(String, &str)> = channel
        .events
        .take()
        .iter()
        .map(|e| (e.endpoint.clone(), e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("inbox/a-good.csv".to_owned(), "ok"),
            ("inbox/b-bad.csv".to_owned(), "rejected")
        ]
    );
    // Only the good file is archived.
    assert_eq!(channel.sheet.archive_read().await, Ok(1));
    assert_eq!(names(&channel.inbox()), ["imported", "rejected"]);
}

#[tokio::test]
async fn a_missing_column_refuses_the_file_naming_the_header() {
    let channel = channel("s.csv", "integer");
    std::fs::write(
        channel.inbox().join("x.csv"),
        "Mã đơn hàng,SKU,Trạng thái,Ngày đặt hàng,Ngày cập nhật\nVS-1,A,Đã giao,14/03/2026 09:26,14/03/2026 09:30\n",
    )
    .expect("drop");
    assert!(import(&channel).await.is_empty());
    let errors =
        std::fs::read_to_string(channel.inbox().join("rejected/x.csv.errors.txt")).expect("errors");
    assert_eq!(
        errors,
        "row 1, column \"Số lượng\": no column with this header\n"
    );
}

#[tokio::test]
async fn rows_of_one_order_that_disagree_on_status_refuse_the_file() {
    let channel = channel("s.csv", "integer");
    drop_csv(
        &channel,
        "x.csv",
        &[
            "VS-1,A,1,Chờ xác nhận,14/03/2026 09:26,14/03/2026 09:30",
            "VS-1,B,1,Đã hủy,14/03/2026 09:26,14/03/2026 09:30",
        ],
    );
    assert!(import(&channel).await.is_empty());
    let errors =
        std::fs::read_to_string(channel.inbox().join("rejected/x.csv.errors.txt")).expect("errors");
    assert_eq!(
        errors,
        "row 3, column \"Trạng thái\": order VS-1 has status \"Đã hủy\" here but \"Chờ xác nhận\" on row 2\n"
    );
}

#[tokio::test]
async fn an_order_in_two_files_is_taken_from_its_later_update() {
    let channel = channel("s.csv", "integer");
    // The later file by name holds the older update: the update time decides.
    drop_csv(
        &channel,
        "a.csv",
        &["VS-1,A,1,Đã giao,14/03/2026 09:26,16/03/2026 08:00"],
    );
    drop_csv(
        &channel,
        "b.csv",
        &["VS-1,A,1,Đang giao,14/03/2026 09:26,15/03/2026 08:00"],
    );
    let orders = import(&channel).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].state, OrderState::Completed);
    assert_eq!(orders[0].updated_at, utc("2026-03-16T01:00:00Z"));
}

#[tokio::test]
async fn without_an_update_column_the_files_modification_time_is_the_version() {
    let toml = layout_toml("s.csv", "integer").replace("updated_at = \"Ngày cập nhật\"\n", "");
    let channel = channel_with(&toml);
    let path = channel.inbox().join("x.csv");
    std::fs::write(
        &path,
        "Mã đơn hàng,SKU,Số lượng,Trạng thái,Ngày đặt hàng\nVS-1,A,1,Đã giao,14/03/2026 09:26\n",
    )
    .expect("drop");
    let modified = utc("2026-03-14T05:00:00Z");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified.into()))
        .expect("set time");
    let orders = import(&channel).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].updated_at, modified);
}

#[tokio::test]
async fn folders_and_other_files_in_the_inbox_are_left_alone() {
    let channel = channel("s.csv", "integer");
    std::fs::create_dir(channel.inbox().join("cu.csv")).expect("a folder named like a file");
    std::fs::write(channel.inbox().join("ghi-chu.txt"), "not orders").expect("write");
    std::fs::write(channel.inbox().join(".~lock.x.csv#"), "editor lock").expect("write");
    std::fs::write(channel.inbox().join("~$don-hang.xlsx"), "Excel lock").expect("write");
    std::fs::write(channel.inbox().join(".dang-chep.csv"), "a copy in progress").expect("write");
    assert!(import(&channel).await.is_empty());
    assert!(channel.events.take().is_empty());
    assert_eq!(channel.sheet.archive_read().await, Ok(0));
    assert_eq!(
        names(&channel.inbox()),
        [
            ".dang-chep.csv",
            ".~lock.x.csv#",
            "cu.csv",
            "ghi-chu.txt",
            "~$don-hang.xlsx"
        ]
    );
}

#[tokio::test]
async fn a_file_changed_after_it_was_read_is_not_archived() {
    let channel = channel("s.csv", "integer");
    drop_csv(&channel, "x.csv", &GOOD_ROWS[..1]);
    import(&channel).await;
    drop_csv(&channel, "x.csv", &GOOD_ROWS);
    assert_eq!(channel.sheet.archive_read().await, Ok(0));
    assert_eq!(names(&channel.inbox()), ["x.csv"]);
}

#[tokio::test]
async fn a_missing_inbox_is_an_error_naming_it() {
    let channel = channel("s.csv", "integer");
    std::fs::remove_dir(channel.inbox()).expect("remove");
    let err = channel
        .sheet
        .list_orders(window())
        .await
        .expect_err("no inbox");
    assert!(err.to_string().contains("inbox"), "{err}");
    assert!(
        !channel.inbox().exists(),
        "not created behind the operator's back"
    );
}
