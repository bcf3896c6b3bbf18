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
/// Claims due jobs without waiting for rows another worker is claiming.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
/// Locks rows read to check a reference against a concurrent delete.
const FOR_SHARE: &str = " FOR SHARE";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
/// Taken by every transaction before it writes to the CMDB change log and
/// held until it ends, so log sequence numbers follow commit order.
const LOG_ORDER_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7710021)");
/// Taken first by every writer that updates conflict records on several
/// changes, so two such writers never wait for each other's change rows.
const CONFLICT_ORDER_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7710022)");
/// Conflict detection's index hints: PostgreSQL's planner picks the
/// partial window indexes by itself.
const SHORT_WINDOW_INDEX: &str = "";
/// Membership in the names of a JSON array bound as one parameter. As an
/// array (evaluated once) rather than `IN (SELECT …)`: the planner guesses
/// a set-returning function yields 100 rows and hash-joined them against a
/// scan of every active change's CIs (3.6 ms at a million changes, against
/// 0.13 ms through the index).
const IN_JSON_NAMES: &str = "= ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))";
/// Membership in the row ids of a JSON array bound as one parameter (see
/// `IN_JSON_NAMES`).
const IN_JSON_IDS: &str = "= ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))";
/// Conflict detection's index for planned windows longer than a day.
const LONG_WINDOW_INDEX: &str = "";
/// The schedule's indexes: the planner's choice.
const SCHEDULE_LONG_WINDOW_INDEX: &str = "";
const SCHEDULE_WINDOW_INDEX: &str = "";
/// Starts a read transaction whose statements all see one snapshot.
const BEGIN_SNAPSHOT: Option<&str> = Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
/// PostgreSQL streams rows cheaply; read the snapshot row by row.
const SNAPSHOT_IN_CHUNKS: bool = false;
/// Run after a bulk import so the planner sees the new table sizes.
const REFRESH_STATISTICS: &[&str] = &["ANALYZE cis", "ANALYZE relationships"];
/// Run after a benchmark's bulk seeding: statistics, then a checkpoint so
/// the seeding's dirty pages are written before measuring.
const SETTLE_AFTER_SEEDING: &[&str] = &["ANALYZE changes", "ANALYZE change_cis", "CHECKPOINT"];

/// The PostgreSQL store. Cheap to clone: the pool and the kept settings
/// are shared.
#[derive(Clone)]
pub struct Repo {
    pool: sqlx::Pool<Db>,
    /// The organisation's settings last read (see `crate::settings`).
    settings: std::sync::Arc<crate::settings::SettingsCache>,
    /// None: PostgreSQL's writers run side by side on the pool's
    /// connections, so no one connection bounds the write rate (see
    /// `crate::writer_use`).
    writer_meter: Option<std::sync::Arc<crate::writer_use::WriterMeter>>,
}

impl Repo {
    /// Connects to the database a `postgres://` URL names.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(Repo {
            pool,
            settings: Default::default(),
            writer_meter: None,
        })
    }

    /// Where write transactions begin: any pooled connection (writers
    /// lock the rows they change).
    fn writer(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }
}

/// Runs a write operation in the caller's task: PostgreSQL's connections
/// are sockets, and writers run side by side.
async fn run_write<T: Send + 'static>(
    repo: &Repo,
    op: impl FnOnce(Repo) -> futures_util::future::BoxFuture<'static, Result<T>>,
) -> Result<T> {
    op(repo.clone()).await
}

/// Creates the import's staging tables (TEMP: private to this session,
/// gone at the end of the transaction whether it commits or not).
async fn create_import_staging(tx: &mut Tx) -> Result<()> {
    for statement in [
        // Memory for this transaction's hash joins, sorts and index builds
        // over millions of staged rows (the defaults spill them to disk).
        "SET LOCAL work_mem = '256MB'",
        "SET LOCAL maintenance_work_mem = '512MB'",
        "CREATE TEMP TABLE import_cis (seq BIGINT NOT NULL, line TEXT NOT NULL, name TEXT NOT NULL, \
         class TEXT NOT NULL, environment TEXT NOT NULL, criticality TEXT NOT NULL, owner_group TEXT, \
         attributes JSONB NOT NULL, reason TEXT) ON COMMIT DROP",
        "CREATE TEMP TABLE import_relationships (seq BIGINT NOT NULL, line TEXT NOT NULL, \
         from_name TEXT NOT NULL, to_name TEXT NOT NULL, rel_type TEXT NOT NULL, reason TEXT) ON COMMIT DROP",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Indexes the staged rows for the duplicate checks and gives the planner
/// statistics (autovacuum never analyzes TEMP tables).
async fn index_import_staging(tx: &mut Tx) -> Result<()> {
    for statement in [
        "CREATE INDEX import_cis_name ON import_cis (name, seq)",
        "CREATE INDEX import_relationships_key ON import_relationships (from_name, to_name, rel_type, seq)",
        "ANALYZE import_cis",
        "ANALYZE import_relationships",
    ] {
        sqlx::query(statement).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Nothing to do: `ON COMMIT DROP` removes the staging tables.
async fn drop_import_staging(_tx: &mut Tx) -> Result<()> {
    Ok(())
}

/// Writes staged CIs as one `UNNEST` of arrays: eight binds per batch.
async fn stage_ci_batch(tx: &mut Tx, rows: &[StagedCi]) -> Result<()> {
    let mut seq = Vec::with_capacity(rows.len());
    let mut line = Vec::with_capacity(rows.len());
    let mut name = Vec::with_capacity(rows.len());
    let mut class = Vec::with_capacity(rows.len());
    let mut environment = Vec::with_capacity(rows.len());
    let mut criticality = Vec::with_capacity(rows.len());
    let mut owner_group = Vec::with_capacity(rows.len());
    let mut attributes = Vec::with_capacity(rows.len());
    for staged in rows {
        let ci = &staged.ci;
        seq.push(staged.seq);
        line.push(staged.line.as_str());
        name.push(ci.name.as_str());
        class.push(ci.class.as_str());
        environment.push(ci.environment.as_str());
        criticality.push(ci.criticality.as_str());
        owner_group.push(ci.owner_group.as_deref());
        attributes.push(ci.attributes.to_string());
    }
    sqlx::query(
        "INSERT INTO import_cis (seq, line, name, class, environment, criticality, owner_group, attributes) \
         SELECT s, l, n, c, e, k, o, a::jsonb FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::text[]) AS u(s, l, n, c, e, k, o, a)",
    )
    .bind(seq)
    .bind(line)
    .bind(name)
    .bind(class)
    .bind(environment)
    .bind(criticality)
    .bind(owner_group)
    .bind(attributes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes staged relationships as one `UNNEST` of arrays.
async fn stage_relationship_batch(tx: &mut Tx, rows: &[StagedRelationship]) -> Result<()> {
    let mut seq = Vec::with_capacity(rows.len());
    let mut line = Vec::with_capacity(rows.len());
    let mut from = Vec::with_capacity(rows.len());
    let mut to = Vec::with_capacity(rows.len());
    let mut rel_type = Vec::with_capacity(rows.len());
    for staged in rows {
        seq.push(staged.seq);
        line.push(staged.line.as_str());
        from.push(staged.relationship.from.as_str());
        to.push(staged.relationship.to.as_str());
        rel_type.push(staged.relationship.rel_type.as_str());
    }
    sqlx::query(
        "INSERT INTO import_relationships (seq, line, from_name, to_name, rel_type) \
         SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(seq)
    .bind(line)
    .bind(from)
    .bind(to)
    .bind(rel_type)
    .execute(&mut **tx)
    .await?;
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
