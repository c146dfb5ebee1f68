//! Fresh databases for tests: a temp SQLite file always, and a throwaway
//! PostgreSQL database when `CHOSYNC_TEST_POSTGRES_URL` is set.
#![allow(dead_code)]

pub mod api;
pub mod browser;
pub mod control;
pub mod converged;
pub mod daemon;
pub mod process;
pub mod rig;
pub mod shops;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chosync::catalogue::export::export_file;
use chosync::catalogue::import::{ImportError, ImportReport, NoProgress, import_file};
use chosync::clock::FixedClock;
use chosync::store::{self, Store};

pub const POSTGRES_ENV: &str = "CHOSYNC_TEST_POSTGRES_URL";

/// Every test database runs on this clock, so stored times are exact.
pub fn test_clock() -> Arc<FixedClock> {
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-29T08:00:00+07:00")
        .expect("valid time")
        .to_utc();
    Arc::new(FixedClock::new(start))
}

pub struct TestDb {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<FixedClock>,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// One number from a query run straight on the database (what no store
    /// method tells, e.g. how many runs of a kind there were).
    pub async fn count(&self, sql: &str) -> i64 {
        if self.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.url).await.expect("SQLite");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&pool)
                .await
                .expect(sql)
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("PostgreSQL");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&pool)
                .await
                .expect(sql)
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let clock = test_clock();
        let store = store::open(&url, clock.clone()).await.expect("open SQLite");
        Self {
            url,
            store,
            clock,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh database on `server` (see `postgres_server`), dropped afterwards.
    pub async fn postgres(server: &str) -> Self {
        let server = server.to_string();
        let name = format!("chosync_test_{}", uuid::Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let mut url = url::Url::parse(&server).expect("valid URL");
        url.set_path(&name);
        let url = url.to_string();
        let clock = test_clock();
        let store = store::open(&url, clock.clone())
            .await
            .expect("open PostgreSQL");
        Self {
            url,
            store,
            clock,
            _dir: None,
            postgres: Some((server, name)),
        }
    }

    pub async fn import(&self, path: &Path) -> Result<ImportReport, ImportError> {
        import_file(self.store.as_ref(), path, false, Arc::new(NoProgress)).await
    }

    pub async fn dry_run(&self, path: &Path) -> Result<ImportReport, ImportError> {
        import_file(self.store.as_ref(), path, true, Arc::new(NoProgress)).await
    }

    /// The whole catalogue and stock as CSV text: equal snapshots, equal state.
    pub async fn snapshot(&self) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("snapshot.csv");
        export_file(self.store.as_ref(), &path)
            .await
            .expect("export");
        let mut text = std::fs::read_to_string(&path).expect("read snapshot");
        let summary = self.store.summary().await.expect("summary");
        text.push_str(&format!("{summary:?}"));
        text
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside async context: use a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&server).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                }
            });
        })
        .join();
    }
}

/// The local server PostgreSQL cases use outside CI when the variable is unset.
const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Where the PostgreSQL cases run, decided once per test binary: the server
/// `CHOSYNC_TEST_POSTGRES_URL` names (required in CI; unreachable, the cases
/// fail), else a local server on 127.0.0.1:5432 if one answers. `Err` says why
/// there is none: the cases are then reported ignored, never passed.
pub fn postgres_server() -> Result<String, String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) => Ok(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{POSTGRES_ENV} must be set in CI: PostgreSQL tests never skip there")
        }
        Err(_) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let probe = async {
                use sqlx::Connection;
                let connect = sqlx::PgConnection::connect(LOCAL_POSTGRES);
                match tokio::time::timeout(std::time::Duration::from_secs(3), connect).await {
                    Ok(Ok(connection)) => {
                        let _ = connection.close().await;
                        Ok(LOCAL_POSTGRES.to_string())
                    }
                    Ok(Err(err)) => Err(format!("no server answers on 127.0.0.1:5432 ({err})")),
                    Err(_) => Err("127.0.0.1:5432 did not answer in 3 s".to_string()),
                }
            };
            runtime.block_on(probe)
        }
    }
}

/// Runs `body` on a runtime of its own, as `#[tokio::test]` would.
pub fn run_async(body: impl std::future::Future<Output = ()>) -> Result<(), libtest_mimic::Failed> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| libtest_mimic::Failed::from(e.to_string()))?
        .block_on(body);
    Ok(())
}

/// The test binary's `main` (its target sets `harness = false`): each story
/// runs against SQLite and PostgreSQL. Without a PostgreSQL server (outside
/// CI only), the PostgreSQL cases show as `ignored` with the reason printed
/// once — a real skip, never an `ok`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        fn main() -> std::process::ExitCode {
            let arguments = libtest_mimic::Arguments::from_args();
            let server = $crate::common::postgres_server();
            if let Err(reason) = &server {
                eprintln!("note: PostgreSQL cases skipped: {reason}");
            }
            let mut trials = Vec::new();
            $(
                trials.push(libtest_mimic::Trial::test(concat!("sqlite::", stringify!($name)), || {
                    $crate::common::run_async(async {
                        $name(&$crate::common::TestDb::sqlite().await).await
                    })
                }));
                let on = server.clone();
                let trial = libtest_mimic::Trial::test(concat!("postgres::", stringify!($name)), move || {
                    let server = on.map_err(|reason| format!("PostgreSQL: {reason}"))?;
                    $crate::common::run_async(async move {
                        $name(&$crate::common::TestDb::postgres(&server).await).await
                    })
                });
                trials.push(trial.with_ignored_flag(server.is_err()));
            )*
            libtest_mimic::run(&arguments, trials).exit_code()
        }
    };
}

pub fn demo_catalogue() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/catalogue.csv")
}

/// Writes `text` as a file named `name` in a fresh temp dir.
pub fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write file");
    (dir, path)
}

pub const HEADER: &str = "product_id,name,sku,option1_name,option1_value,price,stock,barcode";
