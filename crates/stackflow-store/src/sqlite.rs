//! The SQLite backend: an embedded file in WAL mode with foreign keys on.
//!
//! Writers open their transaction with `BEGIN IMMEDIATE`, so they queue on
//! the database lock (up to the busy timeout) instead of failing when a read
//! transaction tries to upgrade; that is what serialises concurrent votes.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

type Db = sqlx::Sqlite;
const BACKEND: crate::Backend = crate::Backend::Sqlite;
const BEGIN_WRITE: Option<&str> = Some("BEGIN IMMEDIATE");
/// SQLite locks the whole database for a writer; rows need no lock clause.
const FOR_UPDATE: &str = "";
/// Locks rows read to check a reference against a concurrent delete.
const FOR_SHARE: &str = "";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// Taken by every transaction before it writes to the CMDB change log and
/// held until it ends, so log sequence numbers follow commit order.
const LOG_ORDER_LOCK: Option<&str> = None;
/// Starts a read transaction whose statements all see one snapshot.
const BEGIN_SNAPSHOT: Option<&str> = None;

/// The SQLite store.
pub struct Repo {
    pool: sqlx::Pool<Db>,
}

impl Repo {
    /// Opens (creating if missing) the database file a `sqlite://` URL names.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged commit survives a power cut, not just a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(Repo { pool })
    }
}

include!("ops/common.rs");
include!("ops/store.rs");
include!("ops/people.rs");
include!("ops/cmdb.rs");
include!("ops/changes.rs");
include!("ops/tasks.rs");
include!("ops/tests.rs");
