//! `chosync bench`: measurements with targets, kept out of the test suite.

mod import;

use clap::Subcommand;

pub use import::{ImportBench, generate_catalogue};

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
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Import { skus, postgres } => {
            let report = import::run(skus, postgres.as_deref()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
