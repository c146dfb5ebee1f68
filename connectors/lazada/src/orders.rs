//! Order statuses (per order item) and time stamps.

use chosync_connector::dto::OrderState;
use chrono::{DateTime, Utc};

/// Every order-item status Lazada documents, with what it means for stock.
/// Sources: the `status` filter of `order-api/getorders.json` (its error
/// "Invalid status filter" lists unpaid, pending, packed, canceled,
/// ready_to_ship, delivered, returned, shipped, failed, topack, toship, lost,
/// lost_by_3pl, damaged_by_3pl, failed_delivery, shipped_back,
/// shipped_back_success, shipped_back_failed, package_scrapped), the
/// `statuses` sample of `membership-api/partnertransaction.json` (adds
/// repacked, ready_to_ship_pending, shipping) and the guide
/// `order-operation/order-status-flow.md` (packing and RTS).
pub const DOCUMENTED: [(&str, OrderState); 22] = [
    // Placed, not paid: Lazada withholds the unit.
    ("unpaid", OrderState::Unpaid),
    // Paid and still with the seller (Lazada occupies the unit): waiting for
    // packing, packed (again), or declared ready and waiting for pickup.
    ("pending", OrderState::Paid),
    ("topack", OrderState::ReadyToShip),
    ("packed", OrderState::ReadyToShip),
    ("repacked", OrderState::ReadyToShip),
    ("toship", OrderState::ReadyToShip),
    ("ready_to_ship_pending", OrderState::ReadyToShip),
    ("ready_to_ship", OrderState::ReadyToShip),
    // With the carrier.
    ("shipping", OrderState::Shipped),
    ("shipped", OrderState::Shipped),
    ("delivered", OrderState::Completed),
    // Delivery failed: the parcel is on its way back, still away from the
    // warehouse until it arrives.
    ("failed", OrderState::Shipped),
    ("failed_delivery", OrderState::Shipped),
    ("shipped_back", OrderState::Shipped),
    ("shipped_back_success", OrderState::Returned),
    // Gone for good (lost or destroyed on the way, there or back): the unit
    // left the warehouse and will not come back; the carrier compensates.
    ("shipped_back_failed", OrderState::Shipped),
    ("lost", OrderState::Shipped),
    ("lost_by_3pl", OrderState::Shipped),
    ("damaged_by_3pl", OrderState::Shipped),
    ("package_scrapped", OrderState::Shipped),
    ("canceled", OrderState::Cancelled),
    ("returned", OrderState::Returned),
];

/// What an order item's status means for stock. A status Lazada adds later
/// is held like an unpaid order (`Unpaid`): the unit stays counted as taken,
/// so chosync neither sells a unit that may be gone nor releases one that may
/// still be claimed; the raw word is kept for operators and logged.
pub fn state_of(status: &str) -> OrderState {
    let status = status.trim();
    match DOCUMENTED
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(status))
    {
        Some((_, state)) => *state,
        None => {
            tracing::warn!(
                status,
                "unknown Lazada order status: its units stay held as an unpaid order's"
            );
            OrderState::Unpaid
        }
    }
}

/// The order's state from its items': every line is kept with its own state.
pub fn order_state(lines: &[OrderState]) -> OrderState {
    let all = |s: OrderState| !lines.is_empty() && lines.iter().all(|l| *l == s);
    if all(OrderState::Cancelled) {
        OrderState::Cancelled
    } else if lines.contains(&OrderState::Returned) {
        OrderState::Returned
    } else if all(OrderState::Completed) {
        OrderState::Completed
    } else if lines
        .iter()
        .any(|l| matches!(l, OrderState::Shipped | OrderState::Completed))
    {
        OrderState::Shipped
    } else if lines.contains(&OrderState::Unpaid) {
        OrderState::Unpaid
    } else if lines.contains(&OrderState::Paid) {
        OrderState::Paid
    } else {
        OrderState::ReadyToShip
    }
}

/// A time cut to its whole second: Lazada's filters and answers count in
/// seconds.
pub fn whole_second(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap_or(time)
}

/// Lazada's time stamps, in each form its samples use: epoch milliseconds
/// as a string (`"1611554725000"`: products, `/orders/items/get`), RFC 3339
/// (`2018-02-09T22:44:30+08:00`: `/orders/get`), ISO 8601 without the colon
/// (`2018-01-01T00:00:00+0800`: `/products/get` parameters) and
/// `2014-10-15 19:12:15 +0800` (`/order/get`, `/order/items/get`).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp_millis(text.parse().ok()?);
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z"))
        .ok()
        .map(|t| t.to_utc())
}

pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_status_has_a_deliberate_state() {
        use OrderState::*;
        let table = [
            ("unpaid", Unpaid),
            ("pending", Paid),
            ("topack", ReadyToShip),
            ("packed", ReadyToShip),
            ("repacked", ReadyToShip),
            ("toship", ReadyToShip),
            ("ready_to_ship_pending", ReadyToShip),
            ("ready_to_ship", ReadyToShip),
            ("shipping", Shipped),
            ("shipped", Shipped),
            ("delivered", Completed),
            ("failed", Shipped),
            ("failed_delivery", Shipped),
            ("shipped_back", Shipped),
            ("shipped_back_success", Returned),
            ("shipped_back_failed", Shipped),
            ("lost", Shipped),
            ("lost_by_3pl", Shipped),
            ("damaged_by_3pl", Shipped),
            ("package_scrapped", Shipped),
            ("canceled", Cancelled),
            ("returned", Returned),
        ];
        assert_eq!(table.len(), DOCUMENTED.len());
        for (status, state) in table {
            assert_eq!(state_of(status), state, "{status}");
        }
        assert_eq!(state_of(" Ready_To_Ship "), ReadyToShip);
        assert_eq!(state_of("some_new_status"), Unpaid, "held, not released");
    }

    #[test]
    fn an_order_with_one_cancelled_line_is_still_to_ship() {
        use OrderState::*;
        assert_eq!(order_state(&[Cancelled, ReadyToShip]), ReadyToShip);
        assert_eq!(order_state(&[Cancelled, Cancelled]), Cancelled);
        assert_eq!(order_state(&[Unpaid, Unpaid]), Unpaid);
        assert_eq!(order_state(&[Shipped, Cancelled]), Shipped);
    }

    #[test]
    fn every_documented_time_format_reads() {
        let a = parse_time("2026-11-29T10:00:00+07:00").expect("rfc3339");
        let b = parse_time("2026-11-29 10:00:00 +0700").expect("lazada");
        let c = parse_time("2026-11-29T10:00:00+0700").expect("iso without colon");
        let d = parse_time(&a.timestamp_millis().to_string()).expect("epoch ms");
        assert_eq!((a, a, a), (b, c, d));
        assert_eq!(parse_time(&format_time(a)), Some(a));
        assert_eq!(
            parse_time("1413786247000").map(|t| t.timestamp()),
            Some(1_413_786_247)
        );
        assert_eq!(parse_time("99999999999999999999999"), None);
        assert_eq!(parse_time(""), None);
    }
}
