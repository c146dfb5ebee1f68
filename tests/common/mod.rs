//! Fresh databases for tests: a temp SQLite file always, and a throwaway
//! PostgreSQL database when `CHOSYNC_TEST_POSTGRES_URL` is set.
#![allow(dead_code)]

pub mod control;
pub mod process;
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

    /// `None` only when the variable is unset outside CI; set but unreachable fails.
    pub async fn postgres() -> Option<Self> {
        let server = match std::env::var(POSTGRES_ENV) {
            Ok(url) => url,
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("{POSTGRES_ENV} must be set in CI: PostgreSQL tests never skip there")
            }
            Err(_) => {
                eprintln!("note: {POSTGRES_ENV} is not set; PostgreSQL case not run");
                return None;
            }
        };
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
        Some(Self {
            url,
            store,
            clock,
            _dir: None,
            postgres: Some((server, name)),
        })
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

/// Runs one async test body against SQLite and, when configured, PostgreSQL.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        super::$name(&db).await;
                    }
                }
            )*
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
