//! Order statuses (per order item) and time stamps.

use chosync_connector::dto::OrderState;
use chrono::{DateTime, Utc};

/// What an order item's status means for stock.
pub fn state_of(status: &str) -> OrderState {
    match status {
        "unpaid" => OrderState::Unpaid,
        "pending" | "packed" | "repacked" | "ready_to_ship" | "topack" | "toship" => {
            OrderState::ToShip
        }
        "shipped" | "shipping" | "failed" | "lost" => OrderState::Shipped,
        "delivered" => OrderState::Completed,
        "canceled" => OrderState::Cancelled,
        "returned" | "shipped_back" | "shipped_back_success" => OrderState::Returned,
        _ => OrderState::Unpaid,
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
    } else {
        OrderState::ToShip
    }
}

/// Lazada's ISO 8601 time stamps (`2026-11-29 10:00:00 +0700` or RFC 3339).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
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
    fn an_order_with_one_cancelled_line_is_still_to_ship() {
        use OrderState::*;
        assert_eq!(order_state(&[Cancelled, ToShip]), ToShip);
        assert_eq!(order_state(&[Cancelled, Cancelled]), Cancelled);
        assert_eq!(order_state(&[Unpaid, Unpaid]), Unpaid);
        assert_eq!(order_state(&[Shipped, Cancelled]), Shipped);
    }

    #[test]
    fn both_time_formats_read() {
        let a = parse_time("2026-11-29T10:00:00+07:00").expect("rfc3339");
        let b = parse_time("2026-11-29 10:00:00 +0700").expect("lazada");
        assert_eq!(a, b);
        assert_eq!(parse_time(&format_time(a)), Some(a));
    }
}
