//! The partitioned invariant under interleavings: channel passes split into
//! a claim (before the call) and an acknowledgement (the call's outcome),
//! orders on the platforms, restocks and failed or ambiguous pushes, in any
//! order. Each channel's pass decides as the sync pass does — its share from
//! `split::allocate`, a raise through `split::claim` — over a model of the
//! database (last set stock, unsettled ceiling, last push failed) and of the
//! platforms (what each shows, and the call in flight).

use chosync::channels::rules::StockRule;
use chosync::inventory::allocation::Mode;
use chosync::inventory::split::{self, Listed};
use proptest::prelude::*;

const FAILED: &str = "stock: the platform did not answer";

#[derive(Debug, Clone)]
struct Channel {
    id: String,
    rule: StockRule,
    /// The database: stock as last set, the unsettled ceiling, and whether
    /// the last push failed (`listing_state.last_error`).
    stock: Option<i64>,
    in_flight: Option<i64>,
    failed: bool,
    /// The platform: what it shows, and the value of a call in flight.
    shows: i64,
    call: Option<i64>,
    sold: i64,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Succeeded,
    /// Refused or lost before the platform applied it.
    Failed,
    /// Timed out after the platform applied it.
    Ambiguous,
}

#[derive(Debug, Clone)]
enum Step {
    /// A buyer orders on a channel: the platform lowers what it shows, and
    /// the order's import lowers the sellable units.
    Order {
        channel: usize,
        units: i64,
    },
    Restock {
        units: i64,
    },
    /// A channel's pass decides and claims, up to the call.
    Claim {
        channel: usize,
    },
    /// The call of a channel's pass returns and its batch is recorded.
    Acknowledge {
        channel: usize,
        outcome: Outcome,
    },
}

#[derive(Debug, Clone)]
struct World {
    sellable: i64,
    channels: Vec<Channel>,
}

impl World {
    /// The rows the store's claim reads: every channel lists the SKU.
    fn rows(&self) -> Vec<(String, Option<i64>, Option<i64>)> {
        self.channels
            .iter()
            .map(|c| (c.id.clone(), c.stock, c.in_flight))
            .collect()
    }

    /// What channel `me`'s pass gives itself, as `sync::allot` does: every
    /// channel listing the SKU; the others in reach unless their last push
    /// failed.
    fn share(&self, me: usize) -> i64 {
        let listed: Vec<Listed> = self
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| Listed {
                channel: c.id.clone(),
                rule: c.rule.clone(),
                shown: c.stock,
                in_flight: c.in_flight,
                reachable: i == me || split::reachable(true, false, c.failed.then_some(FAILED)),
                sold: c.sold,
            })
            .collect();
        let shares = split::allocate(self.sellable, Mode::Partitioned, &listed);
        let position = listed
            .iter()
            .position(|l| l.channel == self.channels[me].id);
        position.and_then(|i| shares.get(i)).copied().unwrap_or(0)
    }

    /// The fixed point: every channel in reach, nothing in flight.
    fn fixed_point(&self) -> Vec<i64> {
        let listed: Vec<Listed> = self
            .channels
            .iter()
            .map(|c| Listed {
                channel: c.id.clone(),
                rule: c.rule.clone(),
                shown: None,
                in_flight: None,
                reachable: true,
                sold: c.sold,
            })
            .collect();
        split::allocate(self.sellable, Mode::Partitioned, &listed)
    }

    /// A pass's decision for one SKU, as `push_values` and
    /// `claim_partitioned` make it; returns whether a call went out.
    fn claim(&mut self, me: usize) -> bool {
        if self.channels[me].call.is_some() {
            return false; // one pass per channel at a time (its lease)
        }
        let wanted = self.share(me);
        let rows = self.rows();
        let sellable = self.sellable;
        let c = &mut self.channels[me];
        let settled = split::settled(c.in_flight, c.failed.then_some(FAILED));
        if !split::worth_pushing(c.stock, wanted, settled) {
            return false;
        }
        let claim = split::claim(sellable, &rows, &c.id, wanted);
        c.in_flight = claim.in_flight;
        if !split::worth_pushing(c.stock, claim.push, settled) {
            return false; // no room to raise
        }
        c.call = Some(claim.push);
        true
    }

    fn acknowledge(&mut self, me: usize, outcome: Outcome) {
        let c = &mut self.channels[me];
        let Some(value) = c.call.take() else {
            return;
        };
        match outcome {
            Outcome::Succeeded => {
                c.shows = value;
                c.stock = Some(value);
                c.in_flight = None;
                c.failed = false;
            }
            Outcome::Failed => c.failed = true,
            Outcome::Ambiguous => {
                c.shows = value;
                c.failed = true;
            }
        }
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Order { channel, units } => {
                let c = &mut self.channels[channel];
                // A sale on a channel while its own absolute set is in flight
                // is overwritten when the set lands: the one race this scheme
                // cannot close (pushes are absolute), left out here.
                if c.call.is_some() {
                    return;
                }
                let units = units.min(c.shows);
                c.shows -= units;
                c.sold += units;
                self.sellable -= units;
            }
            Step::Restock { units } => self.sellable += units,
            Step::Claim { channel } => {
                self.claim(channel);
            }
            Step::Acknowledge { channel, outcome } => self.acknowledge(channel, outcome),
        }
    }

    /// What the platforms may show now: each channel's shown value, or the
    /// value of its call in flight, which may land at any moment.
    fn may_show(&self) -> i64 {
        self.channels
            .iter()
            .map(|c| c.shows.max(c.call.unwrap_or(0)))
            .sum()
    }
}

fn rule() -> impl Strategy<Value = StockRule> {
    (
        0i64..3,
        prop_oneof![Just(100.0), Just(50.0), Just(80.0)],
        proptest::option::of(0i64..15),
        proptest::option::of(0i64..6),
        1i64..4,
    )
        .prop_map(|(buffer, percent, max, zero_below, weight)| StockRule {
            buffer,
            percent,
            max,
            zero_below,
            weight,
        })
}

fn world() -> impl Strategy<Value = World> {
    (0i64..40, proptest::collection::vec(rule(), 2..5)).prop_map(|(sellable, rules)| World {
        sellable,
        channels: rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| Channel {
                id: format!("channel-{i}"),
                rule,
                stock: None,
                in_flight: None,
                failed: false,
                shows: 0,
                call: None,
                sold: 0,
            })
            .collect(),
    })
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        3 => Just(Outcome::Succeeded),
        1 => Just(Outcome::Failed),
        1 => Just(Outcome::Ambiguous),
    ];
    prop_oneof![
        2 => (0usize..4, 1i64..4).prop_map(|(channel, units)| Step::Order { channel, units }),
        1 => (1i64..10).prop_map(|units| Step::Restock { units }),
        4 => (0usize..4).prop_map(|channel| Step::Claim { channel }),
        4 => (0usize..4, outcome).prop_map(|(channel, outcome)| Step::Acknowledge { channel, outcome }),
    ]
}

/// Every decision of the database covers what the platform may show.
fn assert_counted(world: &World) {
    for c in &world.channels {
        let counted = split::counted(c.stock, c.in_flight);
        let may = c.shows.max(c.call.unwrap_or(0));
        assert!(
            counted >= may,
            "{} counted {counted} but may show {may}: {world:?}",
            c.id
        );
    }
}

proptest! {
    #[test]
    fn partitioned_channels_never_show_more_than_there_is_and_settle_on_the_split(
        mut world in world(),
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let n = world.channels.len();
        for step in &steps {
            let step = match step.clone() {
                Step::Order { channel, units } => Step::Order { channel: channel % n, units },
                Step::Claim { channel } => Step::Claim { channel: channel % n },
                Step::Acknowledge { channel, outcome } => Step::Acknowledge { channel: channel % n, outcome },
                other => other,
            };
            world.apply(&step);
            prop_assert!(
                world.may_show() <= world.sellable,
                "after {step:?}: the platforms may show {} of {}: {world:?}",
                world.may_show(),
                world.sellable
            );
            assert_counted(&world);
        }
        // Quiet: calls in flight return, then passes run until none calls.
        for c in 0..n {
            world.acknowledge(c, Outcome::Succeeded);
        }
        let mut rounds = 0;
        loop {
            let mut called = false;
            for c in 0..n {
                if world.claim(c) {
                    called = true;
                    world.acknowledge(c, Outcome::Succeeded);
                    prop_assert!(world.may_show() <= world.sellable);
                }
            }
            rounds += 1;
            if !called {
                break;
            }
            prop_assert!(rounds <= 2 * n + 2, "no fixed point after {rounds} rounds: {world:?}");
        }
        let settled: Vec<i64> = world.channels.iter().map(|c| c.stock.unwrap_or(-1)).collect();
        prop_assert_eq!(settled, world.fixed_point(), "{:?}", world);
        prop_assert!(world.channels.iter().all(|c| c.in_flight.is_none() && !c.failed));
    }
}
