//! Order windows and statuses.

use std::time::Duration;

use chosync_connector::dto::{OrderState, OrderWindow};

/// Splits a window into consecutive windows no longer than `max` (Shopee: 15
/// days), as Unix-second pairs. Both ends are inclusive, so each window starts
/// one second after the last one ended.
pub fn split_windows(window: OrderWindow, max: Duration) -> Vec<(i64, i64)> {
    let (from, to) = (window.from.timestamp(), window.to.timestamp());
    let step = (max.as_secs() as i64).max(1);
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = start.saturating_add(step).min(to);
        out.push((start, end));
        start = end + 1;
    }
    out
}

/// What Shopee's status word means for stock.
pub fn state_of(status: &str) -> OrderState {
    match status {
        // Paid, waiting for the seller to arrange shipment (a buyer's
        // cancellation request leaves the units held until it is decided).
        "READY_TO_SHIP" | "IN_CANCEL" => OrderState::Paid,
        "PROCESSED" | "RETRY_SHIP" => OrderState::ReadyToShip,
        "SHIPPED" | "TO_CONFIRM_RECEIVE" => OrderState::Shipped,
        "COMPLETED" => OrderState::Completed,
        "CANCELLED" => OrderState::Cancelled,
        // A buyer's return or refund request: the goods are still with the
        // buyer and the request may be refused, so nothing comes back yet
        // (Shopee's returns API says when a parcel arrives; chosync does
        // not read it yet: an operator restocks with `stock adjust`).
        "TO_RETURN" => OrderState::Shipped,
        // UNPAID, PENDING, INVOICE_PENDING and anything new: held, not sold.
        _ => OrderState::Unpaid,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    #[test]
    fn forty_days_become_three_windows_of_at_most_fifteen() {
        let from: DateTime<Utc> = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let to = from + chrono::Duration::days(40);
        let windows = split_windows(OrderWindow { from, to }, Duration::from_secs(15 * 86_400));
        assert_eq!(windows.len(), 3);
        assert_eq!(windows[0].0, from.timestamp());
        assert_eq!(windows[2].1, to.timestamp());
        assert!(windows.iter().all(|(a, b)| b - a <= 15 * 86_400));
        assert!(windows.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }
}
