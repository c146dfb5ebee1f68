//! Several `chosync run` on one database: real processes of the binary
//! sharing the channels (PostgreSQL: each its fair share; SQLite: one works,
//! the others stand by), a killed one's channels taken over within a lease
//! period, and no order lost or counted twice; schedule ticks run once.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chosync::schedule::Kind;
use chosync::store::schedule::TickOutcome;
use common::TestDb;
use common::daemon::{LAZADA, Rig, SHOPEE, eventually};
use common::process::Process;
use serde_json::Value;

/// Listed on both channels.
const SKUS: [&str; 2] = ["MD-500G", "BQ-TD-3X10"];

/// The replicas' lease: short, so a takeover fits in a test.
const LEASE_SECONDS: u64 = 3;

const SOON: Duration = Duration::from_secs(20);

struct Replica {
    process: Process,
    addr: SocketAddr,
}

/// `chosync run` as a child on a port of its own, the order poll every
/// second (pushes stay off: orders arrive whichever replica polls).
fn spawn_replica(rig: &Rig) -> Replica {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let child = Command::new(env!("CARGO_BIN_EXE_chosync"))
        .arg("--config")
        .arg(&rig.config)
        .arg("run")
        .env("CHOSYNC__SERVER__LISTEN", addr.to_string())
        .env("CHOSYNC__SYNC__LEASE_SECONDS", LEASE_SECONDS.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("chosync run");
    Replica {
        process: Process::guard(child),
        addr,
    }
}

/// A replica's `/readyz` body, if it answers.
async fn readiness(http: &reqwest::Client, addr: SocketAddr) -> Option<(u16, Value)> {
    let answer = http
        .get(format!("http://{addr}/readyz"))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .ok()?;
    let status = answer.status().as_u16();
    Some((status, answer.json().await.ok()?))
}

/// For each channel, the replicas (by index) whose worker runs it.
async fn runners(http: &reqwest::Client, replicas: &[SocketAddr]) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> =
        [(SHOPEE.to_string(), vec![]), (LAZADA.to_string(), vec![])].into();
    for (i, addr) in replicas.iter().enumerate() {
        let Some((_, body)) = readiness(http, *addr).await else {
            continue;
        };
        for (channel, work) in body["workers"].as_object().into_iter().flatten() {
            if work == "running" {
                out.entry(channel.clone()).or_default().push(i);
            }
        }
    }
    out
}

fn each_run_once(runners: &BTreeMap<String, Vec<usize>>) -> bool {
    runners.values().all(|r| r.len() == 1)
}

/// `count` replicas share the channels; the one working Shopee is killed
/// (`kill -9`) with orders arriving; the channel is worked again within a
/// lease period; every order is recorded once and every channel shows the
/// stock the ledger leaves. No channel is ever worked by two replicas.
async fn replicas_share_and_take_over(db: &TestDb, count: usize) {
    let mut rig = Rig::new(db, 2).await;
    rig.release_listener();
    let config = std::fs::read_to_string(&rig.config).expect("config");
    std::fs::write(
        &rig.config,
        config.replace(r#"orders = "0 0 * * * *""#, r#"orders = "* * * * * *""#),
    )
    .expect("config");
    let mut replicas: Vec<Option<Replica>> =
        (0..count).map(|_| Some(spawn_replica(&rig))).collect();
    let addrs: Vec<SocketAddr> = replicas.iter().flatten().map(|r| r.addr).collect();
    let http = reqwest::Client::new();
    let postgres = !db.url.starts_with("sqlite:");
    // PostgreSQL: fair shares, so the two channels end up on two replicas
    // (the first to start gives one back when the others join); SQLite:
    // one daemon works both.
    let settled = |seen: &BTreeMap<String, Vec<usize>>| {
        each_run_once(seen) && (seen[SHOPEE] != seen[LAZADA]) == postgres
    };
    eventually(
        SOON,
        "every channel worked by one replica, shares settled",
        || async { settled(&runners(&http, &addrs).await) },
    )
    .await;
    // From here on, sampled every 50 ms: never two workers on one channel.
    let doubled = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (http, addrs) = (http.clone(), addrs.clone());
        let (doubled, samples) = (doubled.clone(), samples.clone());
        tokio::spawn(async move {
            loop {
                let seen = runners(&http, &addrs).await;
                if seen.values().any(|r| r.len() > 1) {
                    eprintln!("two workers on one channel: {seen:?}");
                    doubled.fetch_add(1, Ordering::Relaxed);
                }
                samples.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let seen = runners(&http, &addrs).await;
    assert!(settled(&seen), "{seen:?}");
    // `chosync channels` names the replica working each channel.
    let statuses = chosync::channels::status::statuses(&rig.settings, &rig.store)
        .await
        .expect("statuses");
    for status in &statuses {
        let owner = &addrs[seen[status.id.as_str()][0]];
        assert_eq!(status.state.short(), "active", "{status:?}");
        assert!(
            status
                .worked_by
                .as_deref()
                .is_some_and(|w| w.ends_with(&format!("/{owner}"))),
            "{status:?} worked by {owner}"
        );
    }
    if !postgres {
        // The others say they stand by.
        let working: Vec<usize> = seen.values().flatten().copied().collect();
        for (i, addr) in addrs.iter().enumerate() {
            if working.contains(&i) {
                continue;
            }
            let (status, body) = readiness(&http, *addr).await.expect("a standby answers");
            assert_eq!(
                (status, body["role"].as_str()),
                (503, Some("standby")),
                "{body}"
            );
        }
    }
    let before: BTreeMap<&str, i64> = {
        let mut levels = BTreeMap::new();
        for sku in SKUS {
            levels.insert(sku, rig.available(sku).await);
        }
        levels
    };
    let mut orders = Vec::new();
    for (channel, sku) in [(SHOPEE, SKUS[0]), (LAZADA, SKUS[1]), (SHOPEE, SKUS[1])] {
        orders.push((channel, sku, 1, rig.place(channel, sku, 1).await));
    }
    let victim = seen[SHOPEE][0];
    let killed_at = Instant::now();
    if let Some(mut replica) = replicas[victim].take() {
        replica.process.child.kill().expect("kill -9");
        let _ = replica.process.child.wait();
    }
    for (channel, sku) in [(SHOPEE, SKUS[0]), (LAZADA, SKUS[0]), (SHOPEE, SKUS[1])] {
        orders.push((channel, sku, 2, rig.place(channel, sku, 2).await));
    }
    let survivors: Vec<SocketAddr> = replicas.iter().flatten().map(|r| r.addr).collect();
    eventually(
        SOON,
        "the killed replica's channels worked again",
        || async { each_run_once(&runners(&http, &survivors).await) },
    )
    .await;
    let moved = killed_at.elapsed();
    eprintln!("{count} replicas: channels moved {moved:?} after kill -9");
    assert!(
        moved <= Duration::from_secs(LEASE_SECONDS) + Duration::from_millis(1500),
        "taken over in {moved:?}, lease {LEASE_SECONDS} s"
    );
    let sold = |sku: &str| -> i64 {
        orders
            .iter()
            .filter(|(_, s, _, _)| *s == sku)
            .map(|(_, _, quantity, _)| quantity)
            .sum()
    };
    for sku in SKUS {
        let wanted = before[sku] - sold(sku);
        eventually(SOON, "every order's stock on every channel", || {
            rig.shows(sku, wanted)
        })
        .await;
        assert_eq!(rig.available(sku).await, wanted, "{sku}: ledger exact");
    }
    for (channel, _, _, id) in &orders {
        let recorded = rig.store.order(Some(channel), id).await.expect("order");
        assert_eq!(recorded.len(), 1, "{channel} {id}: {recorded:?}");
    }
    rig.assert_converged(db).await;
    sampler.abort();
    assert!(samples.load(Ordering::Relaxed) > 10);
    assert_eq!(
        doubled.load(Ordering::Relaxed),
        0,
        "a channel was worked twice"
    );
    for replica in replicas.iter_mut().flatten() {
        let stopped = Command::new("kill")
            .args(["-TERM", &replica.process.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(stopped.success());
        assert_eq!(replica.process.child.wait().expect("wait").code(), Some(0));
    }
}

async fn two_replicas_share_and_take_over(db: &TestDb) {
    replicas_share_and_take_over(db, 2).await;
}

async fn three_replicas_share_and_take_over(db: &TestDb) {
    replicas_share_and_take_over(db, 3).await;
}

/// Two daemons on one database with the order poll every second: each tick
/// is claimed once, and each claimed tick polls once.
async fn a_tick_runs_once_with_two_daemons(db: &TestDb) {
    let mut rig = Rig::new(db, 2).await;
    for channel in &mut rig.settings.channels {
        channel.schedule.orders = "* * * * * *".into();
    }
    let first = rig.start();
    let second = rig.start_another().await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    first.stop().await;
    second.stop().await;
    for channel in [SHOPEE, LAZADA] {
        let ticks = db
            .count(&format!(
                "SELECT COUNT(*) FROM schedule_ticks WHERE channel = '{channel}' \
                 AND kind = 'orders' AND outcome = 'done'"
            ))
            .await;
        let polls = db
            .count(&format!(
                "SELECT COUNT(*) FROM sync_runs WHERE channel = '{channel}' \
                 AND kind = 'orders' AND trigger = 'poll'"
            ))
            .await;
        assert!(ticks >= 3, "{channel}: {ticks} ticks in 3.5 s");
        assert_eq!(polls, ticks, "{channel}: one poll per tick");
    }
}

/// A tick claimed by a replica that died before finishing it is run by the
/// next owner of the channel, once — not left unfinished until the next
/// night's tick.
async fn a_tick_a_dead_replica_claimed_is_run_by_the_next_owner(db: &TestDb) {
    let mut rig = Rig::new(db, 2).await;
    let daily = "0 15 3 * * *";
    for channel in &mut rig.settings.channels {
        channel.schedule.prune = daily.into();
    }
    let schedule: cron::Schedule = daily.parse().expect("cron");
    let zone = rig.settings.schedule.timezone.tz();
    let fire = chosync::schedule::fire::latest_fire(&schedule, zone, rig.store.now())
        .expect("fired before");
    let dead = "gone-host/127.0.0.1:9";
    let claimed = rig.store.claim_tick(SHOPEE, Kind::Prune, fire, dead).await;
    assert!(claimed.expect("claim"));
    let daemon = rig.start();
    eventually(SOON, "the orphaned tick finished", || async {
        let tick = rig
            .store
            .last_tick(SHOPEE, Kind::Prune)
            .await
            .expect("tick");
        tick.is_some_and(|t| t.fire_time == fire && t.finished_at.is_some())
    })
    .await;
    let tick = rig
        .store
        .last_tick(SHOPEE, Kind::Prune)
        .await
        .expect("tick");
    let tick = tick.expect("the tick");
    assert_ne!(tick.claimed_by, dead);
    assert_eq!(tick.outcome, Some(TickOutcome::Done), "{tick:?}");
    // Lazada's tick of the same instant had never been claimed: it ran too.
    let lazada = rig
        .store
        .last_tick(LAZADA, Kind::Prune)
        .await
        .expect("tick");
    assert_eq!(lazada.map(|t| t.fire_time), Some(fire));
    daemon.stop().await;
}

on_both_engines!(
    a_tick_a_dead_replica_claimed_is_run_by_the_next_owner,
    a_tick_runs_once_with_two_daemons,
    two_replicas_share_and_take_over,
    three_replicas_share_and_take_over,
);
