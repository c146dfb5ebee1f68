//! `chosync bench`: a measurement, reported as JSON.

use clap::Subcommand;

use super::say;
use crate::bench::{import, orders, sync};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Import a generated catalogue into fresh SQLite (and PostgreSQL) databases;
    /// report rows/s and peak memory as JSON.
    Import {
        /// SKUs to generate (5 variants per product).
        #[arg(long, default_value_t = 100_000)]
        skus: u64,
        /// A PostgreSQL server to measure too; a throwaway database is created on it.
        #[arg(long, env = "CHOSYNC_BENCH_POSTGRES_URL")]
        postgres: Option<String>,
    },
    /// Sync a generated catalogue to in-process Shopee, Lazada, Sendo and Voso sandboxes
    /// at once, then a no-op sync and 100 price changes; report calls, wall
    /// time against the rate floor, throttling and memory as JSON.
    Sync {
        /// Products to generate (5 variants each).
        #[arg(long, default_value_t = 2_000)]
        products: u64,
        /// Scale every rate (and Shopee's wait before variations) by this on
        /// client and sandbox alike; 1 runs at the platforms' default rates.
        #[arg(long, default_value_t = 10)]
        rate_multiplier: u32,
    },
    /// Orders at random channels of two Shopee, two Lazada, a Sendo and a Voso sandbox
    /// with the daemon running; report propagation latency, calls per
    /// order, throttling, ledger exactness and a burst against its floor.
    Orders {
        /// Products to generate (5 variants each), listed on all four channels.
        #[arg(long, default_value_t = 200)]
        products: u64,
        /// How long the buyers buy.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 5.0)]
        orders_per_second: f64,
        /// Orders of the burst, placed within one second.
        #[arg(long, default_value_t = 100)]
        burst: u64,
        /// Leave the sandboxes' pushes off: orders arrive by the poll only.
        #[arg(long)]
        no_pushes: bool,
        /// The order poll's interval (each channel's `schedule.orders`
        /// fires every N seconds of the minute: a divisor of 60 is regular).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..60))]
        poll_seconds: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

pub(super) async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Import { skus, postgres } => {
            let report = import::run(skus, postgres.as_deref()).await?;
            say!("{}", serde_json::to_string_pretty(&report)?);
        }
        BenchCommand::Sync {
            products,
            rate_multiplier,
        } => {
            let report = sync::run(products, rate_multiplier).await?;
            say!("{}", serde_json::to_string_pretty(&report)?);
        }
        BenchCommand::Orders {
            products,
            seconds,
            orders_per_second,
            burst,
            no_pushes,
            poll_seconds,
            seed,
        } => {
            let plan = orders::Plan {
                products,
                seconds,
                orders_per_second,
                burst,
                pushes: !no_pushes,
                poll_seconds,
                seed,
            };
            let report = orders::run(plan).await?;
            say!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}
