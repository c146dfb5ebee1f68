//! Measurements with targets, kept out of the test suite (`chosync bench`).

pub mod import;
pub mod orders;
pub mod sync;

pub use import::{ImportBench, generate_catalogue};
pub use sync::SyncBench;

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
