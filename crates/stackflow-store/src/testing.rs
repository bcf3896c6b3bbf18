//! Fresh, migrated databases for tests, on both backends.
//!
//! SQLite: a file in a fresh temporary directory. PostgreSQL: a new database
//! named `stackflow_test_<random>` on the server that
//! `STACKFLOW_TEST_POSTGRES_URL` points at (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`), dropped again when the test
//! database is dropped. Without that variable PostgreSQL tests are skipped —
//! unless `STACKFLOW_REQUIRE_POSTGRES=1`, which CI sets, turns the skip into
//! a failure.

use crate::{Backend, Store, connect};
use std::path::PathBuf;
use std::sync::Arc;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "STACKFLOW_TEST_POSTGRES_URL";

/// A migrated store on a database of its own, removed on drop.
pub struct TestDatabase {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The URL it was opened with (for opening a second instance on it).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh database on `backend`, or `None` when PostgreSQL is not
    /// configured for tests (and not required).
    pub async fn new(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    async fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join(format!(
            "stackflow-test-{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}", dir.join("test.db").display());
        let store = connect(&url).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestDatabase {
            store,
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    async fn postgres() -> Option<TestDatabase> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var("STACKFLOW_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "STACKFLOW_REQUIRE_POSTGRES=1 but {POSTGRES_URL_VAR} is not set"
            );
            eprintln!("skipping PostgreSQL: set {POSTGRES_URL_VAR} to run it");
            return None;
        };
        let name = format!("stackflow_test_{}", hex::encode(rand::random::<[u8; 8]>()));
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("connect to the PostgreSQL test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("{POSTGRES_URL_VAR} must end in /DATABASE"),
        };
        let store = connect(&url).await.expect("open postgres");
        store.migrate().await.expect("migrate postgres");
        Some(TestDatabase {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// Closes the pool and removes the database.
    pub async fn cleanup(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&admin)
                    .await;
                    admin.close().await;
                }
            }
        }
    }
}
