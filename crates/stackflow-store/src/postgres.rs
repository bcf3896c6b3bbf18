//! The PostgreSQL backend.
//!
//! Writers lock the change row they act on (`SELECT … FOR UPDATE`), so two
//! concurrent votes on one change run one after the other and the second
//! sees the first.

use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

type Db = sqlx::Postgres;
const BACKEND: crate::Backend = crate::Backend::Postgres;
const BEGIN_WRITE: Option<&str> = None;
const FOR_UPDATE: &str = " FOR UPDATE";
/// Locks rows read to check a reference against a concurrent delete.
const FOR_SHARE: &str = " FOR SHARE";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
/// Taken by every transaction before it writes to the CMDB change log and
/// held until it ends, so log sequence numbers follow commit order.
const LOG_ORDER_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7710021)");
/// Starts a read transaction whose statements all see one snapshot.
const BEGIN_SNAPSHOT: Option<&str> = Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

/// The PostgreSQL store.
pub struct Repo {
    pool: sqlx::Pool<Db>,
}

impl Repo {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
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
