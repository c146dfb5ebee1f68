//! Why a SKU's stock on a platform differs from what chosync wants there,
//! and what to do about it: a pure decision, taken SKU by SKU.

use serde::Serialize;

/// The kinds of difference reconcile tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// The platform holds units: a promotion's reservation that stock may not
    /// go below (Shopee), or open orders chosync has not counted yet (Lazada's
    /// withheld and occupied units).
    PlatformReserved,
    /// Changed on the platform (the seller centre) while chosync had no push
    /// of the SKU pending or failing.
    SellerCentre,
    /// chosync's push of the SKU failed: retrying after a backoff, or
    /// quarantined by the platform's refusal.
    PushFailed,
    /// The platform shows what chosync last set; the push of a newer value
    /// is queued and has not failed.
    PushPending,
    Unknown,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Self::PlatformReserved,
        Self::SellerCentre,
        Self::PushFailed,
        Self::PushPending,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlatformReserved => "platform_reserved",
            Self::SellerCentre => "seller_centre",
            Self::PushFailed => "push_failed",
            Self::PushPending => "push_pending",
            Self::Unknown => "unknown",
        }
    }

    /// Whether an operator must hear of it: nothing of chosync's own
    /// explains the difference.
    pub fn alerts(self) -> bool {
        matches!(self, Self::SellerCentre | Self::Unknown)
    }
}

/// What the platform's read endpoint shows of one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The figure chosync sets (Shopee's seller stock, Lazada's sellable).
    pub stock: i64,
    /// Units open orders hold outside `stock`.
    pub held: i64,
    /// Units a promotion reserves inside `stock`: a floor for pushes.
    pub locked: i64,
}

/// chosync's stock work for the SKU on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    None,
    /// Queued, not failed yet.
    Pending,
    /// Failed in a way that may pass; tried again after a backoff.
    Retrying,
    /// Refused by the platform: held back until its data changes.
    Quarantined,
}

/// What chosync knows of the SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// The stock chosync last set there (none before its first push).
    pub last_set: Option<i64>,
    /// What the channel's stock rule makes of the ledger now.
    pub wanted: i64,
    pub work: Work,
    /// The promotion's floor recorded by the last reconcile.
    pub lock_before: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// `None`: the platform shows what chosync wants.
    pub class: Option<Class>,
    /// The stock to push to correct it, where a push can.
    pub push: Option<i64>,
    /// The promotion's floor to record, while it exceeds what is wanted.
    pub lock: Option<i64>,
}

/// Classifies one SKU. The platform refuses stock below a promotion's
/// reservation, so the target is max(reserved, wanted) and the lock is
/// recorded; a SKU showing the target matches.
pub fn classify(seen: Seen, known: Known) -> Verdict {
    let lock = (seen.locked > known.wanted).then_some(seen.locked);
    let target = known.wanted.max(seen.locked);
    let found = |class, push: bool| Verdict {
        class: Some(class),
        push: push.then_some(target),
        lock,
    };
    if seen.stock == target {
        return Verdict {
            class: None,
            push: None,
            lock,
        };
    }
    if lock.is_some() {
        return found(Class::PlatformReserved, true);
    }
    match known.work {
        // Refused: another push of the same value would be refused again.
        Work::Quarantined => return found(Class::PushFailed, false),
        Work::Retrying => return found(Class::PushFailed, true),
        Work::None | Work::Pending => {}
    }
    if known.lock_before.is_some() && known.last_set == Some(seen.stock) {
        // The promotion ended: its floor is what chosync last set.
        return found(Class::PlatformReserved, true);
    }
    let base = known.last_set.unwrap_or(known.wanted);
    if seen.held > 0 && seen.stock < base && base.saturating_sub(seen.stock) <= seen.held {
        // Orders hold these units; importing them lowers what chosync wants.
        // Pushing the old figure now would sell them twice.
        return found(Class::PlatformReserved, false);
    }
    match (known.work, known.last_set) {
        (Work::Pending, Some(set)) if set == seen.stock => found(Class::PushPending, true),
        (Work::None, Some(set)) if set != seen.stock => found(Class::SellerCentre, true),
        _ => found(Class::Unknown, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(stock: i64) -> Seen {
        Seen {
            stock,
            held: 0,
            locked: 0,
        }
    }

    fn known(last_set: i64, wanted: i64, work: Work) -> Known {
        Known {
            last_set: Some(last_set),
            wanted,
            work,
            lock_before: None,
        }
    }

    #[test]
    fn a_sku_showing_what_is_wanted_matches() {
        let verdict = classify(seen(10), known(10, 10, Work::None));
        assert_eq!(verdict.class, None);
        assert_eq!(verdict.push, None);
    }

    #[test]
    fn a_change_nobody_in_chosync_made_is_the_seller_centres_and_is_pushed_back() {
        let verdict = classify(seen(3), known(10, 10, Work::None));
        assert_eq!(verdict.class, Some(Class::SellerCentre));
        assert_eq!(verdict.push, Some(10));
    }

    #[test]
    fn a_failing_push_explains_the_difference_and_a_refused_one_is_not_repeated() {
        let retrying = classify(seen(10), known(10, 7, Work::Retrying));
        assert_eq!(
            (retrying.class, retrying.push),
            (Some(Class::PushFailed), Some(7))
        );
        let refused = classify(seen(10), known(10, 7, Work::Quarantined));
        assert_eq!(
            (refused.class, refused.push),
            (Some(Class::PushFailed), None)
        );
    }

    #[test]
    fn a_promotion_above_what_is_wanted_is_pushed_as_its_reservation_and_recorded() {
        let verdict = classify(
            Seen {
                stock: 54,
                held: 0,
                locked: 40,
            },
            known(54, 24, Work::Quarantined),
        );
        assert_eq!(verdict.class, Some(Class::PlatformReserved));
        assert_eq!(verdict.push, Some(40));
        assert_eq!(verdict.lock, Some(40));
        // Once there, the SKU matches and the lock stays recorded.
        let held = classify(
            Seen {
                stock: 40,
                held: 0,
                locked: 40,
            },
            known(40, 24, Work::None),
        );
        assert_eq!((held.class, held.lock), (None, Some(40)));
        // A promotion within what is wanted locks nothing.
        let within = classify(
            Seen {
                stock: 24,
                held: 0,
                locked: 5,
            },
            known(24, 24, Work::None),
        );
        assert_eq!((within.class, within.lock), (None, None));
        // The promotion ends: back down to what is wanted, the lock gone.
        let ended = classify(
            seen(40),
            Known {
                lock_before: Some(40),
                ..known(40, 24, Work::None)
            },
        );
        assert_eq!(
            (ended.class, ended.push, ended.lock),
            (Some(Class::PlatformReserved), Some(24), None)
        );
    }

    #[test]
    fn units_orders_hold_are_the_platforms_and_not_pushed_back() {
        let verdict = classify(
            Seen {
                stock: 8,
                held: 2,
                locked: 0,
            },
            known(10, 10, Work::None),
        );
        assert_eq!(
            (verdict.class, verdict.push),
            (Some(Class::PlatformReserved), None)
        );
        // More missing than the orders hold: something else changed it.
        let more = classify(
            Seen {
                stock: 5,
                held: 2,
                locked: 0,
            },
            known(10, 10, Work::None),
        );
        assert_eq!(more.class, Some(Class::SellerCentre));
    }

    #[test]
    fn a_queued_push_of_a_newer_value_is_pending_and_anything_else_unknown() {
        let pending = classify(seen(10), known(10, 7, Work::Pending));
        assert_eq!(
            (pending.class, pending.push),
            (Some(Class::PushPending), Some(7))
        );
        let moved = classify(seen(4), known(10, 7, Work::Pending));
        assert_eq!(moved.class, Some(Class::Unknown));
        let never_set = classify(
            seen(4),
            Known {
                last_set: None,
                wanted: 7,
                work: Work::None,
                lock_before: None,
            },
        );
        assert_eq!(never_set.class, Some(Class::Unknown));
        let unexplained = classify(seen(10), known(10, 7, Work::None));
        assert_eq!(unexplained.class, Some(Class::Unknown));
    }
}
