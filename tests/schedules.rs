//! Schedule ticks in the store, on SQLite and on PostgreSQL: claimed once
//! across processes, missed ticks run once.

mod common;

use std::str::FromStr;
use std::sync::Arc;

use chosync::clock::{Clock, FixedClock};
use chosync::schedule::Kind;
use chosync::schedule::due::due_tick;
use chosync::store::schedule::TickOutcome;
use chosync::store::{self, Store};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::TestDb;

const HCM: Tz = Tz::Asia__Ho_Chi_Minh;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("time").to_utc()
}

fn cron(expression: &str) -> cron::Schedule {
    cron::Schedule::from_str(expression).expect("expression")
}

/// Another process on the same database, with a clock of its own.
async fn second_process(db: &TestDb, now: DateTime<Utc>) -> (Arc<dyn Store>, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(now));
    let store = store::open(&db.url, clock.clone())
        .await
        .expect("second store");
    (store, clock)
}

async fn concurrent_claimers_of_one_tick_have_exactly_one_winner(db: &TestDb) {
    let (other, _) = second_process(db, db.clock.now()).await;
    let tick = at("2026-12-01T17:00:00Z");
    let mut claims = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            db.store.clone()
        } else {
            other.clone()
        };
        claims.push(tokio::spawn(async move {
            store
                .claim_tick("shopee-a", Kind::Stock, tick, &format!("replica-{i}"))
                .await
                .expect("claim")
        }));
    }
    let mut won = 0;
    for claim in claims {
        if claim.await.expect("task") {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one tick, one run");
    let last = db
        .store
        .last_tick("shopee-a", Kind::Stock)
        .await
        .expect("last")
        .expect("claimed");
    assert_eq!(last.fire_time, tick);
    assert_eq!((last.finished_at, last.outcome), (None, None));
    // The same fire time of another kind or channel is another tick.
    assert!(
        db.store
            .claim_tick("shopee-a", Kind::Price, tick, "replica-0")
            .await
            .expect("claim")
    );
    assert!(
        other
            .claim_tick("lazada-a", Kind::Stock, tick, "replica-1")
            .await
            .expect("claim")
    );
}

async fn missed_ticks_run_once_at_start(db: &TestDb) {
    let every_ten = cron("0 */10 * * * *");
    assert!(
        db.store
            .claim_tick("shopee-a", Kind::Stock, at("2026-12-01T10:00:00Z"), "a")
            .await
            .expect("claim")
    );
    // Both daemons come back at 10:47:30: 10:10 … 10:40 were missed.
    let now = at("2026-12-01T10:47:30Z");
    let (other, _) = second_process(db, now).await;
    let mut runs = Vec::new();
    for (name, store) in [("a", db.store.clone()), ("b", other.clone())] {
        let last = store
            .last_tick("shopee-a", Kind::Stock)
            .await
            .expect("last")
            .map(|t| t.fire_time);
        if let Some(tick) = due_tick(&every_ten, HCM, last, now)
            && store
                .claim_tick("shopee-a", Kind::Stock, tick, name)
                .await
                .expect("claim")
        {
            runs.push((name, tick));
        }
    }
    assert_eq!(runs, [("a", at("2026-12-01T10:40:00Z"))]);
    let last = other
        .last_tick("shopee-a", Kind::Stock)
        .await
        .expect("last")
        .map(|t| t.fire_time);
    assert_eq!(due_tick(&every_ten, HCM, last, now), None);
    // A missed tick older than the one run is not claimed afterwards.
    assert!(
        !other
            .claim_tick("shopee-a", Kind::Stock, at("2026-12-01T10:30:00Z"), "b")
            .await
            .expect("claim")
    );
}

async fn two_daemons_run_each_tick_once_across_the_vietnamese_midnight(db: &TestDb) {
    let every_five = cron("0 */5 * * * *");
    let midnight = cron("0 0 0 * * MON-FRI");
    let start = at("2026-12-01T16:51:00Z");
    let (other, other_clock) = second_process(db, start).await;
    db.clock.advance(start - db.clock.now());
    // The second daemon's clock runs 7 s behind the first's.
    other_clock.advance(TimeDelta::seconds(-7));
    let daemons = [
        ("a", db.store.clone(), db.clock.clone()),
        ("b", other, other_clock),
    ];
    let mut runs: Vec<(Kind, DateTime<Utc>, &str)> = Vec::new();
    for _ in 0..(20 * 60 / 10) {
        for (name, store, clock) in &daemons {
            for (kind, schedule) in [(Kind::Stock, &every_five), (Kind::Reconcile, &midnight)] {
                let last = store
                    .last_tick("shopee-a", kind)
                    .await
                    .expect("last")
                    .map(|t| t.fire_time);
                let Some(tick) = due_tick(schedule, HCM, last, clock.now()) else {
                    continue;
                };
                if store
                    .claim_tick("shopee-a", kind, tick, name)
                    .await
                    .expect("claim")
                {
                    runs.push((kind, tick, name));
                    assert!(
                        store
                            .finish_tick("shopee-a", kind, tick, TickOutcome::Done, None)
                            .await
                            .expect("finish")
                    );
                }
            }
            clock.advance(TimeDelta::seconds(10));
        }
    }
    let ticks = |kind: Kind| -> Vec<DateTime<Utc>> {
        runs.iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, t, _)| *t)
            .collect()
    };
    // The first start catches up once (16:50), then every five minutes.
    assert_eq!(
        ticks(Kind::Stock),
        [
            at("2026-12-01T16:50:00Z"),
            at("2026-12-01T16:55:00Z"),
            at("2026-12-01T17:00:00Z"),
            at("2026-12-01T17:05:00Z"),
            at("2026-12-01T17:10:00Z"),
        ]
    );
    // Tuesday's midnight (local) at start, then Wednesday's at 17:00 UTC.
    assert_eq!(
        ticks(Kind::Reconcile),
        [at("2026-11-30T17:00:00Z"), at("2026-12-01T17:00:00Z")]
    );
    let last = db
        .store
        .last_tick("shopee-a", Kind::Reconcile)
        .await
        .expect("last")
        .expect("ran");
    assert_eq!(last.outcome, Some(TickOutcome::Done));
    assert!(last.finished_at.is_some());
}

async fn a_failed_tick_keeps_its_reason(db: &TestDb) {
    let tick = at("2026-12-01T19:30:00Z");
    assert!(
        !db.store
            .finish_tick("shopee-a", Kind::Reconcile, tick, TickOutcome::Done, None)
            .await
            .expect("finish"),
        "a tick nobody claimed is not finished"
    );
    assert!(
        db.store
            .claim_tick("shopee-a", Kind::Reconcile, tick, "a")
            .await
            .expect("claim")
    );
    assert!(
        db.store
            .finish_tick(
                "shopee-a",
                Kind::Reconcile,
                tick,
                TickOutcome::Failed,
                Some("the platform answered 503")
            )
            .await
            .expect("finish")
    );
    let last = db
        .store
        .last_tick("shopee-a", Kind::Reconcile)
        .await
        .expect("last")
        .expect("claimed");
    assert_eq!(last.claimed_by, "a");
    assert_eq!(last.claimed_at, db.clock.now());
    assert_eq!(last.outcome, Some(TickOutcome::Failed));
    assert_eq!(last.note.as_deref(), Some("the platform answered 503"));
    assert_eq!(
        db.store
            .last_tick("shopee-a", Kind::Prune)
            .await
            .expect("last"),
        None
    );
}

on_both_engines!(
    concurrent_claimers_of_one_tick_have_exactly_one_winner,
    missed_ticks_run_once_at_start,
    two_daemons_run_each_tick_once_across_the_vietnamese_midnight,
    a_failed_tick_keeps_its_reason,
);
