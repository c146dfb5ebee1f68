//! What an order line's state means for stock, as the units each effect has
//! moved so far. Effects only grow towards what the line's state calls for,
//! so applying the same state twice, or an older one after a newer, moves
//! nothing: exactly-once follows from the targets, not from the caller.

use chosync_connector::dto::OrderState;
use serde::Serialize;

/// The ledger effects of one order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Units held for the order: reserved +n.
    Reserve,
    /// Held units freed by a cancellation before they left: reserved −n.
    Release,
    /// Units handed to the carrier: on_hand −n, reserved −n.
    Commit,
    /// Units coming back, recorded only: returned goods may be damaged.
    Return,
    /// Returned units put back on the shelf (the channel's `restock_returns`): on_hand +n.
    Restock,
}

impl Effect {
    pub const ALL: [Effect; 5] = [
        Self::Reserve,
        Self::Release,
        Self::Commit,
        Self::Return,
        Self::Restock,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserve => "reserve",
            Self::Release => "release",
            Self::Commit => "commit",
            Self::Return => "return",
            Self::Restock => "restock",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// Units each effect has moved (or should have moved) for one line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    pub reserve: i64,
    pub release: i64,
    pub commit: i64,
    pub returned: i64,
    pub restock: i64,
}

impl Units {
    pub fn get(&self, effect: Effect) -> i64 {
        match effect {
            Effect::Reserve => self.reserve,
            Effect::Release => self.release,
            Effect::Commit => self.commit,
            Effect::Return => self.returned,
            Effect::Restock => self.restock,
        }
    }

    pub fn set(&mut self, effect: Effect, units: i64) {
        match effect {
            Effect::Reserve => self.reserve = units,
            Effect::Release => self.release = units,
            Effect::Commit => self.commit = units,
            Effect::Return => self.returned = units,
            Effect::Restock => self.restock = units,
        }
    }

    /// Units still held for the line.
    pub fn held(&self) -> i64 {
        self.reserve - self.release - self.commit
    }
}

/// One line as the platform shows it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineView {
    pub state: OrderState,
    pub quantity: i64,
    /// Units cancelled on their own while the rest goes on (Shopee).
    pub cancelled: i64,
}

/// What each effect should have moved for the line in its state, given
/// what has moved already (never less than that).
pub fn targets(line: LineView, applied: Units, restock_returns: bool) -> Units {
    use OrderState::*;
    let q = line.quantity.max(0);
    let cancelled = line.cancelled.clamp(0, q);
    let mut want = Units::default();
    match line.state {
        Unpaid | Paid | ReadyToShip => {
            want.reserve = q;
            want.release = cancelled;
        }
        Shipped | Completed => {
            want.reserve = q;
            want.release = cancelled;
            want.commit = q - cancelled;
        }
        Cancelled if applied.commit > 0 => {
            // Cancelled after it left: the units are gone with the carrier;
            // if they come back, the platform says `returned`.
        }
        Cancelled => {
            // Whatever was held is freed; a line first seen cancelled
            // never held anything.
            want.release = applied.reserve - applied.commit;
        }
        Returned => {
            // Shipped (seen or not) and coming back.
            want.reserve = q;
            want.release = cancelled;
            want.commit = q - cancelled;
            want.returned = q - cancelled;
            if restock_returns {
                want.restock = q - cancelled;
            }
        }
    }
    let mut out = applied;
    for effect in Effect::ALL {
        out.set(effect, want.get(effect).max(applied.get(effect)));
    }
    // Never free or ship more than was held: a later, larger target of one
    // effect (a platform that says cancelled, then shipped, in the same
    // second) cannot push the line's hold below zero.
    out.release = out
        .release
        .min(out.reserve - out.commit)
        .max(applied.release);
    out.commit = out
        .commit
        .min(out.reserve - out.release)
        .max(applied.commit);
    out
}

/// How the levels move when a line goes from `applied` to `target`.
pub fn level_change(applied: Units, target: Units) -> (i64, i64) {
    let d = |e: Effect| target.get(e) - applied.get(e);
    let on_hand = -d(Effect::Commit) + d(Effect::Restock);
    let reserved = d(Effect::Reserve) - d(Effect::Release) - d(Effect::Commit);
    (on_hand, reserved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderState::*;

    fn line(state: OrderState, quantity: i64, cancelled: i64) -> LineView {
        LineView {
            state,
            quantity,
            cancelled,
        }
    }

    /// Applies the states in turn; returns the total level change.
    fn walk(states: &[LineView], restock: bool) -> ((i64, i64), Units) {
        let mut applied = Units::default();
        let mut total = (0, 0);
        for view in states {
            let next = targets(*view, applied, restock);
            let (on_hand, reserved) = level_change(applied, next);
            total = (total.0 + on_hand, total.1 + reserved);
            applied = next;
        }
        (total, applied)
    }

    #[test]
    fn a_paid_order_holds_and_shipping_takes_the_units_away() {
        let ((on_hand, reserved), _) = walk(&[line(Paid, 2, 0)], false);
        assert_eq!((on_hand, reserved), (0, 2));
        let ((on_hand, reserved), units) = walk(&[line(Paid, 2, 0), line(Shipped, 2, 0)], false);
        assert_eq!((on_hand, reserved), (-2, 0));
        assert_eq!(units.commit, 2);
    }

    #[test]
    fn the_same_state_again_or_an_older_one_moves_nothing() {
        let once = walk(&[line(Shipped, 3, 0)], false).0;
        let replayed = walk(
            &[
                line(Shipped, 3, 0),
                line(Shipped, 3, 0),
                line(Paid, 3, 0),
                line(Unpaid, 3, 0),
            ],
            false,
        )
        .0;
        assert_eq!(once, replayed);
    }

    #[test]
    fn cancelled_before_shipping_frees_the_units_after_shipping_does_not() {
        let before = walk(&[line(Paid, 2, 0), line(Cancelled, 2, 0)], false).0;
        assert_eq!(before, (0, 0));
        let after = walk(&[line(Shipped, 2, 0), line(Cancelled, 2, 0)], false).0;
        assert_eq!(after, (-2, 0));
    }

    #[test]
    fn first_seen_cancelled_holds_nothing() {
        assert_eq!(walk(&[line(Cancelled, 4, 0)], false).0, (0, 0));
    }

    #[test]
    fn a_partial_cancellation_frees_only_its_units_and_ships_the_rest() {
        let ((on_hand, reserved), _) = walk(&[line(Paid, 3, 0), line(Paid, 3, 2)], false);
        assert_eq!((on_hand, reserved), (0, 1));
        let ((on_hand, reserved), _) = walk(
            &[line(Paid, 3, 0), line(Paid, 3, 2), line(Shipped, 3, 2)],
            false,
        );
        assert_eq!((on_hand, reserved), (-1, 0));
        let rest_cancelled = walk(&[line(Paid, 3, 2), line(Cancelled, 3, 2)], false).0;
        assert_eq!(rest_cancelled, (0, 0));
    }

    #[test]
    fn a_return_is_recorded_and_restocks_only_when_the_channel_says_so() {
        let (kept, units) = walk(&[line(Shipped, 2, 0), line(Returned, 2, 0)], false);
        assert_eq!(kept, (-2, 0));
        assert_eq!((units.returned, units.restock), (2, 0));
        let (restocked, units) = walk(&[line(Shipped, 2, 0), line(Returned, 2, 0)], true);
        assert_eq!(restocked, (0, 0));
        assert_eq!(units.restock, 2);
    }

    #[test]
    fn a_line_cancelled_then_shipped_never_holds_less_than_nothing() {
        let states = [line(Paid, 2, 0), line(Cancelled, 2, 0), line(Shipped, 2, 0)];
        let (total, units) = walk(&states, false);
        assert_eq!(total, (0, 0));
        assert_eq!(units.held(), 0);
    }

    #[test]
    fn a_line_first_seen_shipped_sells_without_a_hold_left_behind() {
        assert_eq!(walk(&[line(Completed, 5, 1)], false).0, (-4, 0));
    }
}
