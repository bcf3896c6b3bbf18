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
/// Job claims run on the single writer, one at a time: nothing to skip.
const SKIP_LOCKED: &str = "";
/// Locks rows read to check a reference against a concurrent delete.
const FOR_SHARE: &str = "";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// Taken by every transaction before it writes to the CMDB change log and
/// held until it ends, so log sequence numbers follow commit order.
const LOG_ORDER_LOCK: Option<&str> = None;
/// Taken first by every writer that updates conflict records on several
/// changes, so two such writers never wait for each other's change rows.
const CONFLICT_ORDER_LOCK: Option<&str> = None;
/// Conflict detection's index for short planned windows. SQLite's planner
/// may prefer the `state` index (60,000 rows in `assess` against a few
/// hundred in the window) when its statistics predate the window index, so
/// the index is named.
const SHORT_WINDOW_INDEX: &str = " INDEXED BY changes_active_window";
/// Conflict detection's index for planned windows longer than a day.
const LONG_WINDOW_INDEX: &str = " INDEXED BY changes_active_long_window";
/// The schedule's index for windows longer than a day that began before
/// its range: by their end (migration 0015), named as the others are.
const SCHEDULE_LONG_WINDOW_INDEX: &str = " INDEXED BY changes_long_planned_window_end";
/// The schedule's index for the other windows, by their start (0006):
/// named, so that stale statistics never send the planner to the `state`
/// index (closed changes are most of the table).
const SCHEDULE_WINDOW_INDEX: &str = " INDEXED BY changes_planned_window";
/// Membership in the names of a JSON array bound as one parameter: one
/// statement text however many names, so the prepared statement is reused.
const IN_JSON_NAMES: &str = "IN (SELECT value FROM json_each($1))";
/// Membership in the row ids of a JSON array bound as one parameter.
const IN_JSON_IDS: &str = "IN (SELECT value FROM json_each($1))";
/// Starts a read transaction whose statements all see one snapshot.
const BEGIN_SNAPSHOT: Option<&str> = None;
/// SQLite: rows are costly one by one; read the snapshot in concatenated chunks.
const SNAPSHOT_IN_CHUNKS: bool = true;
/// Run after a bulk import so the planner sees the new table sizes.
const REFRESH_STATISTICS: &[&str] = &["PRAGMA optimize"];
/// Run after a benchmark's bulk seeding: statistics from a sample (as
/// `PRAGMA optimize` takes them), then the WAL copied into the database
/// file (synced) and truncated.
const SETTLE_AFTER_SEEDING: &[&str] = &[
    "PRAGMA analysis_limit = 1000",
    "ANALYZE changes",
    "ANALYZE change_cis",
    "PRAGMA analysis_limit = 0",
    "PRAGMA wal_checkpoint(TRUNCATE)",
];

/// The SQLite store. Cheap to clone: the pools, the writer thread and the
/// kept settings are shared.
#[derive(Clone)]
pub struct Repo {
    /// Readers: WAL lets them run beside the writer.
    pool: sqlx::Pool<Db>,
    /// The one connection write transactions run on (see `writer`).
    writer: sqlx::Pool<Db>,
    /// Where write transactions run (see `run_write`).
    writer_thread: std::sync::Arc<WriterThread>,
    /// The organisation's settings last read (see `crate::settings`).
    settings: std::sync::Arc<crate::settings::SettingsCache>,
    /// How busy `writer`'s one connection is (see `crate::writer_use`).
    writer_meter: Option<std::sync::Arc<crate::writer_use::WriterMeter>>,
}

/// A thread of its own running one async task at a time: the write
/// transactions. Each statement is a round trip to SQLite's connection
/// thread; run among the server's request tasks, each reply waited behind
/// them for a worker, and the database lock was held about four times as
/// long as its statements took. Here the reply wakes a thread that has
/// nothing else to do.
struct WriterThread {
    handle: tokio::runtime::Handle,
    /// Dropped with the store: the thread's runtime then stops.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    fn start() -> crate::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                // Ends when the sender is dropped as well as when it sends.
                let _ = runtime.block_on(stopped);
            })?;
        Ok(WriterThread {
            handle,
            _stop: stop,
        })
    }
}

/// Runs a write operation on the writer thread and waits for its result.
/// It runs to its end even if the caller stops waiting, so an operation
/// either commits or rolls back whole, never half way through a cancel. A
/// panic in it is raised again here, in the caller, as if it had run there.
async fn run_write<T: Send + 'static>(
    repo: &Repo,
    op: impl FnOnce(Repo) -> futures_util::future::BoxFuture<'static, Result<T>>,
) -> Result<T> {
    match repo.writer_thread.handle.spawn(op(repo.clone())).await {
        Ok(result) => result,
        Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
        // Only when the runtime shuts down, which a running write prevents
        // (it holds the store, and so the thread).
        Err(stopped) => Err(StoreError::Io(std::io::Error::other(format!(
            "the write did not finish: {stopped}"
        )))),
    }
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
            .busy_timeout(Duration::from_secs(30))
            // The commit that takes the log past this many pages (SQLite's
            // default is 1,000) copies them into the database file before it
            // returns, while every writer waits. In a large file those pages
            // land all over it, so a quarter of the default keeps each such
            // commit short: at 1M changes the create+submit p99 went from
            // 19.6 to 17.2 ms (docs/benchmarks.md).
            .pragma("wal_autocheckpoint", "250");
        // No ping before a connection is handed out (sqlx's default): a
        // connection to a file in this process does not go away, and the
        // ping is one more round trip to the connection's thread for every
        // read and every write transaction. At 100k CIs, 4 clients: context
        // switches per iteration 190 → 157, 232 → 257 pairs/s (medians of
        // three, docs/benchmarks.md). sqlx still pings on release, which
        // also ends a transaction a dropped caller left open.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        let meter = std::sync::Arc::new(crate::writer_use::WriterMeter::default());
        let (on_connect, on_acquire, on_release) = (meter.clone(), meter.clone(), meter.clone());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            // The one writer connection is kept for the life of the store:
            // nothing to gain from closing it when idle or old, and the
            // meter sees every holding of it.
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |_, _| {
                on_connect.taken(std::time::Instant::now());
                Box::pin(async { Ok(()) })
            })
            .before_acquire(move |_, _| {
                on_acquire.taken(std::time::Instant::now());
                Box::pin(async { Ok(true) })
            })
            .after_release(move |_, _| {
                on_release.released(std::time::Instant::now());
                Box::pin(async { Ok(true) })
            })
            .connect_with(options)
            .await?;
        Ok(Repo {
            pool,
            writer,
            writer_thread: std::sync::Arc::new(WriterThread::start()?),
            settings: Default::default(),
            writer_meter: Some(meter),
        })
    }

    /// Where write transactions begin. SQLite has one writer at a time; when
    /// several connections contend for its lock, the losers sleep in the
    /// busy handler (1, 2, 5 … up to 100 ms at a time) and retry, so the
    /// lock sits idle while they sleep and the unlucky wait hundreds of
    /// milliseconds. Queued in order for this one connection instead, each
    /// writer starts the moment the previous one commits. (Other processes
    /// on the same file still meet the busy timeout.)
    fn writer(&self) -> &sqlx::Pool<Db> {
        &self.writer
    }
}

/// Binds per statement in SQLite (its limit is 32766): 8 per staged CI.
const SQLITE_MAX_BINDS: usize = 32_766;

/// Creates the import's staging tables (TEMP: private to this connection;
/// dropped at the end, and a leftover of an earlier failure first).
async fn create_import_staging(tx: &mut Tx) -> Result<()> {
    for statement in [
        // A 512 MiB page cache (SQLite's default is 2 MiB): a million CIs
        // and their indexes are far larger than the default, and the checks
        // probe them at random, so with it every probe would be a read from
        // the OS. `drop_import_staging` restores the default.
        "PRAGMA main.cache_size = -524288",
        "PRAGMA temp.cache_size = -524288",
        "DROP TABLE IF EXISTS temp.import_cis",
        "DROP TABLE IF EXISTS temp.import_relationships",
        "CREATE TEMP TABLE import_cis (seq INTEGER NOT NULL, line TEXT NOT NULL, name TEXT NOT NULL, \
         class TEXT NOT NULL, environment TEXT NOT NULL, criticality TEXT NOT NULL, owner_group TEXT, \
         attributes TEXT NOT NULL, reason TEXT)",
        "CREATE TEMP TABLE import_relationships (seq INTEGER NOT NULL, line TEXT NOT NULL, \
         from_name TEXT NOT NULL, to_name TEXT NOT NULL, rel_type TEXT NOT NULL, reason TEXT)",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Indexes the staged rows for the duplicate checks (built after loading,
/// which is faster than maintaining them row by row).
async fn index_import_staging(tx: &mut Tx) -> Result<()> {
    for statement in [
        "CREATE INDEX temp.import_cis_name ON import_cis (name, seq)",
        "CREATE INDEX temp.import_relationships_key ON import_relationships (from_name, to_name, rel_type, seq)",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Drops the staging tables and gives back the page cache: SQLite keeps
/// TEMP tables and pragmas until the connection closes, and pooled
/// connections live on.
async fn drop_import_staging(tx: &mut Tx) -> Result<()> {
    for statement in [
        "DROP TABLE IF EXISTS temp.import_cis",
        "DROP TABLE IF EXISTS temp.import_relationships",
        "PRAGMA main.cache_size = -2000",
        "PRAGMA temp.cache_size = -2000",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes staged CIs with multi-row `VALUES`, within the bind limit.
async fn stage_ci_batch(tx: &mut Tx, rows: &[StagedCi]) -> Result<()> {
    for chunk in rows.chunks(SQLITE_MAX_BINDS / 8) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO import_cis (seq, line, name, class, environment, criticality, owner_group, attributes) ",
        );
        query.push_values(chunk, |mut row, staged| {
            let ci = &staged.ci;
            row.push_bind(staged.seq)
                .push_bind(staged.line.as_str())
                .push_bind(ci.name.as_str())
                .push_bind(ci.class.as_str())
                .push_bind(ci.environment.as_str())
                .push_bind(ci.criticality.as_str())
                .push_bind(ci.owner_group.as_deref())
                .push_bind(ci.attributes.to_string());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes staged relationships with multi-row `VALUES`.
async fn stage_relationship_batch(tx: &mut Tx, rows: &[StagedRelationship]) -> Result<()> {
    for chunk in rows.chunks(SQLITE_MAX_BINDS / 5) {
        let mut query = QueryBuilder::<Db>::new(
            "INSERT INTO import_relationships (seq, line, from_name, to_name, rel_type) ",
        );
        query.push_values(chunk, |mut row, staged| {
            let relationship = &staged.relationship;
            row.push_bind(staged.seq)
                .push_bind(staged.line.as_str())
                .push_bind(relationship.from.as_str())
                .push_bind(relationship.to.as_str())
                .push_bind(relationship.rel_type.as_str());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

include!("ops/common.rs");
include!("ops/store.rs");
include!("ops/settings.rs");
include!("ops/people.rs");
include!("ops/cmdb.rs");
include!("ops/transfer.rs");
include!("ops/changes.rs");
include!("ops/risk.rs");
include!("ops/tasks.rs");
include!("ops/schedule.rs");
include!("ops/bench.rs");
include!("ops/timeline.rs");
include!("ops/feeds.rs");
include!("ops/jobs.rs");
include!("ops/workflows.rs");
include!("ops/cab.rs");
include!("ops/tests.rs");
