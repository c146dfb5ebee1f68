//! Stock allocation without I/O: what each channel listing a SKU should show
//! of its sellable units (`allocate`), and how far a channel may raise what it
//! shows while the others still show what they showed (`claim`). The sync pass,
//! the store's claim and the property tests all run these two functions.

use super::allocation::Mode;
use crate::channels::rules::StockRule;

/// One channel listing a SKU, as the allocation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub channel: String,
    pub rule: StockRule,
    /// What the channel shows, as last set.
    pub shown: Option<i64>,
    /// The ceiling of a push claimed and not yet settled.
    pub in_flight: Option<i64>,
    /// An unreachable channel keeps showing what it shows: its units stay
    /// counted as shown and it gets no new allotment.
    pub reachable: bool,
    /// Units sold there: the remainder of a split goes to the best seller.
    pub sold: i64,
}

impl Listed {
    /// What the channel may be showing now: its last set value or the
    /// ceiling of a push that may have landed.
    pub fn counted(&self) -> i64 {
        counted(self.shown, self.in_flight)
    }
}

/// What a channel may be showing: the most of its last set value and an
/// unsettled push's ceiling.
pub fn counted(shown: Option<i64>, in_flight: Option<i64>) -> i64 {
    shown.unwrap_or(0).max(in_flight.unwrap_or(0)).max(0)
}

/// Whether a channel's stock of a SKU is settled: no push's ceiling is
/// still counted and its last stock push did not fail. An unsettled one is
/// pushed again even at the value it shows, and others treat it as out of
/// reach while its last push failed (see `reachable`).
pub fn settled(in_flight: Option<i64>, last_error: Option<&str>) -> bool {
    in_flight.is_none() && !stock_failed(last_error)
}

/// Whether a push of `value` is worth a call: the channel was last set to
/// something else, or its stock is not settled (only a success settles it).
pub fn worth_pushing(shown: Option<i64>, value: i64, settled: bool) -> bool {
    shown != Some(value) || !settled
}

/// Whether the last stock push failed (its error is kept until a success).
pub fn stock_failed(last_error: Option<&str>) -> bool {
    last_error.is_some_and(|e| e.starts_with("stock: "))
}

/// Whether another channel's listing takes a new allotment: it is enabled
/// (a disabled or unconfigured channel's listing still sells, untouched),
/// not quarantined, and its last stock push did not fail.
pub fn reachable(enabled: bool, quarantined: bool, last_error: Option<&str>) -> bool {
    enabled && !quarantined && !stock_failed(last_error)
}

/// What each channel (in the order given) should show of `sellable` units.
/// `shared`: each its rule applied to all of them. `partitioned`: the units
/// unreachable channels show stay theirs; the rest is split by weight
/// (rounded down), the units left over go to the channel that sells most
/// (ties: the first channel id), and each shows its rule applied to its
/// allotment — never more than it, so the sum never exceeds `sellable`.
pub fn allocate(sellable: i64, mode: Mode, channels: &[Listed]) -> Vec<i64> {
    let sellable = sellable.max(0);
    if mode == Mode::Shared {
        return channels
            .iter()
            .map(|c| {
                if c.reachable {
                    c.rule.apply(sellable)
                } else {
                    c.counted()
                }
            })
            .collect();
    }
    let held: i64 = channels
        .iter()
        .filter(|c| !c.reachable)
        .map(Listed::counted)
        .sum();
    let rest = i128::from((sellable - held).max(0));
    let weight = |c: &Listed| i128::from(c.rule.weight.max(0));
    let total: i128 = channels.iter().filter(|c| c.reachable).map(weight).sum();
    let mut allotments: Vec<i128> = channels
        .iter()
        .map(|c| {
            if c.reachable && total > 0 {
                rest * weight(c) / total
            } else {
                0
            }
        })
        .collect();
    let left = rest - allotments.iter().sum::<i128>();
    let best = channels
        .iter()
        .enumerate()
        .filter(|(_, c)| c.reachable)
        .min_by(|(_, a), (_, b)| b.sold.cmp(&a.sold).then_with(|| a.channel.cmp(&b.channel)))
        .map(|(i, _)| i);
    if let Some(slot) = best.and_then(|i| allotments.get_mut(i)) {
        *slot += left;
    }
    channels
        .iter()
        .zip(allotments)
        .map(|(c, allotment)| {
            if c.reachable {
                // At most `rest`, itself at most `sellable`: fits in an i64.
                c.rule.apply(i64::try_from(allotment).unwrap_or(0))
            } else {
                c.counted()
            }
        })
        .collect()
}

/// What a channel is granted to push, given what every channel listing the
/// SKU may be showing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    /// The value to push: the wanted one, or less for an increase held back.
    pub push: i64,
    /// The channel's unsettled ceiling from now until the push is settled
    /// (the most of any earlier one and this push).
    pub in_flight: Option<i64>,
}

/// How far channel `channel` may go towards `wanted` while the others still
/// show what `rows` say (channel, last set value, unsettled ceiling): never
/// past the headroom `sellable` − Σ of the others' counted values. A raise
/// (above the last set value) gets what room there is and records it as the
/// channel's ceiling; a raise with no room pushes no higher than the last set
/// value. A cut is never held back, but it too stays within the headroom —
/// pushed lower if need be: after its own sales the channel may show less
/// than it was last set to, so a cut by that measure may still raise what
/// it shows.
pub fn claim(
    sellable: i64,
    rows: &[(String, Option<i64>, Option<i64>)],
    channel: &str,
    wanted: i64,
) -> Claim {
    let own = rows.iter().find(|(c, _, _)| c == channel);
    let shown = own.and_then(|(_, shown, _)| *shown).unwrap_or(0);
    let earlier = own.and_then(|(_, _, in_flight)| *in_flight);
    let others: i64 = rows
        .iter()
        .filter(|(c, _, _)| c != channel)
        .map(|(_, shown, in_flight)| counted(*shown, *in_flight))
        .sum();
    let push = wanted.min((sellable - others).max(0));
    // No higher than the last set value, which stays counted until settled.
    let in_flight = if push > shown {
        Some(earlier.map_or(push, |e| e.max(push)))
    } else {
        earlier
    };
    Claim { push, in_flight }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(channel: &str, weight: i64, sold: i64) -> Listed {
        Listed {
            channel: channel.into(),
            rule: StockRule {
                weight,
                ..StockRule::default()
            },
            shown: None,
            in_flight: None,
            reachable: true,
            sold,
        }
    }

    #[test]
    fn shared_offers_every_channel_all_it_has_less_its_buffer() {
        let mut a = listed("a", 1, 0);
        a.rule.buffer = 2;
        let b = listed("b", 3, 0);
        assert_eq!(allocate(10, Mode::Shared, &[a, b]), [8, 10]);
    }

    #[test]
    fn partitioned_splits_by_weight_and_gives_the_remainder_to_the_best_seller() {
        let channels = [listed("a", 1, 4), listed("b", 2, 9), listed("c", 1, 0)];
        // 10 × ¼, ½, ¼ = 2, 5, 2 and one left over for b, which sells most.
        assert_eq!(allocate(10, Mode::Partitioned, &channels), [2, 6, 2]);
    }

    #[test]
    fn a_tie_between_best_sellers_goes_to_the_first_channel_id() {
        let channels = [listed("z", 1, 5), listed("m", 1, 5), listed("q", 1, 1)];
        assert_eq!(allocate(5, Mode::Partitioned, &channels), [1, 3, 1]);
    }

    #[test]
    fn an_unreachable_channel_keeps_what_it_shows_counted() {
        let mut gone = listed("a", 1, 0);
        gone.reachable = false;
        gone.shown = Some(3);
        gone.in_flight = Some(4);
        let channels = [gone, listed("b", 1, 0), listed("c", 1, 0)];
        assert_eq!(allocate(10, Mode::Partitioned, &channels), [4, 3, 3]);
        // More shown out of reach than there is: nothing for the others.
        assert_eq!(allocate(2, Mode::Partitioned, &channels), [4, 0, 0]);
    }

    #[test]
    fn each_channel_shows_its_rule_applied_to_its_allotment() {
        let mut a = listed("a", 1, 0);
        a.rule.buffer = 1;
        a.rule.max = Some(2);
        let mut b = listed("b", 1, 1);
        b.rule.zero_below = Some(10);
        let shown = allocate(12, Mode::Partitioned, &[a, b]);
        assert_eq!(shown, [2, 0]);
        assert_eq!(allocate(-4, Mode::Partitioned, &[listed("a", 1, 0)]), [0]);
    }

    #[test]
    fn no_weight_at_all_gives_everything_to_the_best_seller() {
        let channels = [listed("a", 0, 0), listed("b", 0, 2)];
        assert_eq!(allocate(7, Mode::Partitioned, &channels), [0, 7]);
    }

    fn rows(
        values: &[(&str, Option<i64>, Option<i64>)],
    ) -> Vec<(String, Option<i64>, Option<i64>)> {
        values
            .iter()
            .map(|(c, s, f)| (c.to_string(), *s, *f))
            .collect()
    }

    #[test]
    fn an_increase_is_held_to_the_headroom_the_others_leave() {
        let state = rows(&[("a", Some(2), None), ("b", Some(5), Some(7))]);
        // b may show 7: a may go to 3 of the 6 it wants out of 10.
        assert_eq!(
            claim(10, &state, "a", 6),
            Claim {
                push: 3,
                in_flight: Some(3)
            }
        );
        let none_above_two = Claim {
            push: 2,
            in_flight: None,
        };
        assert_eq!(claim(9, &state, "a", 6), none_above_two);
    }

    #[test]
    fn a_cut_is_never_held_back_and_keeps_an_earlier_ceiling() {
        let state = rows(&[("a", Some(4), Some(6)), ("b", Some(2), None)]);
        assert_eq!(
            claim(9, &state, "a", 1),
            Claim {
                push: 1,
                in_flight: Some(6)
            }
        );
        // After its own sales `a` may show less than 4: a cut to 3 is held to
        // the headroom b's 9 leaves, lest it raise what a shows.
        let state = rows(&[("a", Some(4), None), ("b", Some(9), None)]);
        assert_eq!(
            claim(10, &state, "a", 3),
            Claim {
                push: 1,
                in_flight: None
            }
        );
        // An increase keeps the most of the earlier ceiling and this one.
        let state = rows(&[("a", Some(1), Some(6)), ("b", Some(0), None)]);
        assert_eq!(
            claim(10, &state, "a", 3),
            Claim {
                push: 3,
                in_flight: Some(6)
            }
        );
    }
}
