//! Import throughput: a generated catalogue of N SKUs into each engine.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::catalogue::import::{NoProgress, import_file};
use crate::clock::SystemClock;
use crate::store;

#[derive(Debug, Serialize)]
pub struct ImportBench {
    pub skus: u64,
    pub file_mib: f64,
    pub engines: Vec<EngineResult>,
    pub target_rows_per_sec_sqlite: u64,
    pub target_peak_rss_mib: u64,
}

#[derive(Debug, Serialize)]
pub struct EngineResult {
    pub engine: &'static str,
    pub seconds: f64,
    pub rows_per_sec: f64,
    /// Re-importing the same file: every SKU must come back unchanged.
    pub reimport_seconds: f64,
    pub reimport_unchanged: u64,
    pub peak_rss_mib: Option<f64>,
}

/// Writes a CSV catalogue of `skus` SKUs (5 per product) with realistic fields.
pub fn generate_catalogue(path: &Path, skus: u64) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "product_id,name,description,category,brand,sku,option1_name,option1_value,price,stock,weight_g,barcode,images,origin,status"
    )?;
    let sizes = ["10 ml", "30 ml", "50 ml", "100 ml", "250 ml"];
    for i in 0..skus {
        let product = i / 5;
        let size = (i % 5) as usize;
        let body = format!("893{:09}", i % 1_000_000_000);
        let check = ean_check(&body);
        writeln!(
            out,
            "P{product:06},Tinh dầu quế Bắc Kạn số {product},\"Tinh dầu quế nguyên chất, chưng cất từ vỏ quế rừng Bắc Kạn. Lô {product}.\",Tinh dầu,HTX Bắc Kạn,SKU-{i:07},Dung tích,{},{},{},{},{body}{check},https://img.example.vn/p/{product}.jpg,Bắc Kạn,active",
            sizes[size],
            45_000 + 10_000 * size as u64 + product % 7 * 1_000,
            i % 250,
            30 + 20 * size,
        )?;
    }
    out.flush()
}

fn ean_check(body: &str) -> u32 {
    let sum: u32 = body
        .chars()
        .rev()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { d })
        .sum();
    (10 - sum % 10) % 10
}

pub async fn run(skus: u64, postgres: Option<&str>) -> anyhow::Result<ImportBench> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("catalogue.csv");
    generate_catalogue(&file, skus)?;
    let file_mib = std::fs::metadata(&file)?.len() as f64 / 1_048_576.0;

    let mut engines = Vec::new();
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    engines.push(measure("sqlite", &sqlite_url, &file).await?);

    if let Some(server) = postgres {
        let name = format!("chosync_bench_{}", uuid::Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(server)
            .await
            .context("connecting to the PostgreSQL server for the benchmark")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
        let mut url = url::Url::parse(server)?;
        url.set_path(&name);
        let result = measure("postgres", url.as_str(), &file).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await?;
        engines.push(result?);
    }
    Ok(ImportBench {
        skus,
        file_mib,
        engines,
        target_rows_per_sec_sqlite: 20_000,
        target_peak_rss_mib: 200,
    })
}

async fn measure(engine: &'static str, url: &str, file: &Path) -> anyhow::Result<EngineResult> {
    let store = store::open(url, Arc::new(SystemClock)).await?;
    let started = Instant::now();
    let report = import_file(store.as_ref(), file, false, Arc::new(NoProgress)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = import_file(store.as_ref(), file, false, Arc::new(NoProgress)).await?;
    let reimport_seconds = started.elapsed().as_secs_f64();
    Ok(EngineResult {
        engine,
        seconds,
        rows_per_sec: report.rows as f64 / seconds,
        reimport_seconds,
        reimport_unchanged: again.skus.unchanged,
        peak_rss_mib: super::peak_rss_mib(),
    })
}
