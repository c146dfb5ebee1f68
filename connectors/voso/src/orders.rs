//! Order statuses of the assumed contract and what each means for stock.

use chosync_connector::dto::OrderState;

/// Every status the README names.
pub const DOCUMENTED: [(&str, OrderState); 7] = [
    ("pending", OrderState::Unpaid),
    ("confirmed", OrderState::Paid),
    ("packed", OrderState::ReadyToShip),
    ("shipping", OrderState::Shipped),
    ("delivered", OrderState::Completed),
    ("cancelled", OrderState::Cancelled),
    ("returned", OrderState::Returned),
];

/// What a status means for stock. An unknown status is held like an unpaid
/// order: the unit stays counted as taken, neither sold twice nor released.
pub fn state_of(status: &str) -> OrderState {
    let status = status.trim();
    match DOCUMENTED
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(status))
    {
        Some((_, state)) => *state,
        None => {
            tracing::warn!(status, "unknown Voso order status; held as unpaid");
            OrderState::Unpaid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps_to_its_canonical_state() {
        let table = [
            ("pending", OrderState::Unpaid),
            ("confirmed", OrderState::Paid),
            ("packed", OrderState::ReadyToShip),
            ("shipping", OrderState::Shipped),
            ("delivered", OrderState::Completed),
            ("cancelled", OrderState::Cancelled),
            ("returned", OrderState::Returned),
            ("CANCELLED", OrderState::Cancelled),
            ("on_the_moon", OrderState::Unpaid),
        ];
        for (status, state) in table {
            assert_eq!(state_of(status), state, "{status}");
        }
    }

    #[test]
    fn every_canonical_state_is_reachable() {
        for state in OrderState::ALL {
            assert!(DOCUMENTED.iter().any(|(_, s)| *s == state), "{state:?}");
        }
    }
}
