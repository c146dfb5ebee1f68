//! Sendo's numeric order and payment statuses (`sendo.md` §3.4) in chosync's
//! canonical states, and the day-granular windows the order search takes.

use chosync_connector::dto::OrderState;
use chrono::{DateTime, Days, FixedOffset, NaiveDate, Offset, Utc};

/// Sendo's order statuses and what each means for stock.
pub const ORDER_STATUSES: [(i64, &str, OrderState); 15] = [
    (2, "new", OrderState::Paid),
    (3, "processing", OrderState::ReadyToShip),
    (6, "shipping", OrderState::Shipped),
    (7, "delivered", OrderState::Shipped),
    (8, "completed", OrderState::Completed),
    (10, "closed", OrderState::Completed),
    (11, "delay_requested", OrderState::ReadyToShip),
    (12, "delayed", OrderState::ReadyToShip),
    (13, "cancelled", OrderState::Cancelled),
    (14, "split_requested", OrderState::Paid),
    (15, "awaiting_split", OrderState::Paid),
    (19, "awaiting_merge", OrderState::Paid),
    (21, "returning", OrderState::Returned),
    (22, "returned", OrderState::Returned),
    (23, "awaiting_sendo", OrderState::Paid),
];

/// Payment status 1: nothing paid yet.
pub const PAYMENT_UNPAID: i64 = 1;
/// Payment method 1: cash on delivery (the buyer pays the carrier).
pub const METHOD_COD: i64 = 1;

/// The platform word kept for operators, e.g. `new` (status 2).
pub fn status_word(status: i64) -> String {
    ORDER_STATUSES
        .iter()
        .find(|(code, _, _)| *code == status)
        .map_or_else(
            || format!("status_{status}"),
            |(_, word, _)| (*word).to_string(),
        )
}

/// The canonical state of an order: a new order paid online but not yet paid
/// is unpaid; a cash-on-delivery order is committed as soon as it is placed.
/// An unknown status keeps its units held, as an unpaid order's.
pub fn state_of(status: i64, payment_status: i64, payment_method: i64) -> OrderState {
    match ORDER_STATUSES.iter().find(|(code, _, _)| *code == status) {
        Some((2, _, _)) if payment_status == PAYMENT_UNPAID && payment_method != METHOD_COD => {
            OrderState::Unpaid
        }
        Some((_, _, state)) => *state,
        None => {
            tracing::warn!(
                status,
                "unknown Sendo order status: its units stay held as an unpaid order's"
            );
            OrderState::Unpaid
        }
    }
}

/// Sendo's days are Vietnam's (UTC+7; `sendo.md` gives cancel dates in UTC+7).
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

pub fn day_of(time: DateTime<Utc>) -> NaiveDate {
    time.with_timezone(&vietnam()).date_naive()
}

/// `yyyy/MM/dd`, the order search's date format.
pub fn format_day(day: NaiveDate) -> String {
    day.format("%Y/%m/%d").to_string()
}

/// The days of `from..=to` in runs of at most `days` calendar days each
/// (first day, last day): the search takes whole days, both ends included.
pub fn day_windows(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    days: u64,
) -> Vec<(NaiveDate, NaiveDate)> {
    let (first, last) = (day_of(from), day_of(to));
    let span = days.max(1) - 1;
    let mut windows = Vec::new();
    let mut start = first;
    while start <= last {
        let end = start
            .checked_add_days(Days::new(span))
            .unwrap_or(last)
            .min(last);
        windows.push((start, end));
        match end.checked_add_days(Days::new(1)) {
            Some(next) => start = next,
            None => break,
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_maps_to_its_canonical_state() {
        let cod = |status| state_of(status, PAYMENT_UNPAID, METHOD_COD);
        let table = [
            (2, OrderState::Paid),
            (3, OrderState::ReadyToShip),
            (6, OrderState::Shipped),
            (7, OrderState::Shipped),
            (8, OrderState::Completed),
            (10, OrderState::Completed),
            (11, OrderState::ReadyToShip),
            (12, OrderState::ReadyToShip),
            (13, OrderState::Cancelled),
            (14, OrderState::Paid),
            (15, OrderState::Paid),
            (19, OrderState::Paid),
            (21, OrderState::Returned),
            (22, OrderState::Returned),
            (23, OrderState::Paid),
        ];
        for (status, state) in table {
            assert_eq!(cod(status), state, "status {status}");
        }
        assert_eq!(cod(99), OrderState::Unpaid, "unknown stays held");
    }

    #[test]
    fn a_new_order_paid_online_is_unpaid_until_paid() {
        assert_eq!(state_of(2, PAYMENT_UNPAID, 2), OrderState::Unpaid);
        assert_eq!(state_of(2, 3, 2), OrderState::Paid);
        assert_eq!(state_of(3, PAYMENT_UNPAID, 2), OrderState::ReadyToShip);
    }

    #[test]
    fn ten_days_split_into_windows_of_three_days() {
        let from = DateTime::parse_from_rfc3339("2026-11-20T00:00:00+07:00")
            .expect("date")
            .to_utc();
        let to = from + chrono::Duration::days(10);
        let windows = day_windows(from, to, 3);
        assert_eq!(windows.len(), 4);
        assert_eq!(format_day(windows[0].0), "2026/11/20");
        assert_eq!(format_day(windows[0].1), "2026/11/22");
        assert_eq!(format_day(windows[3].1), "2026/11/30");
        assert!(windows.iter().all(|(a, b)| (*b - *a).num_days() <= 2));
    }
}
