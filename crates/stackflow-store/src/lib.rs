//! StackFlow's data layer.
//!
//! One [`Store`] trait of atomic business operations — `create_change`,
//! `act_on_change`, `add_task`… — each a single transaction that writes the
//! business rows, the audit event and any outbox notifications together. Two
//! implementations share one source (the files of `ops/`, compiled once per
//! backend), so SQLite and PostgreSQL run the same SQL and the same logic;
//! the few dialect differences are constants of each backend module. See
//! `docs/adr/0001-one-store-two-backends.md`.

mod cab;
mod error;
mod jobs;
mod model;
mod postgres;
mod secret;
mod settings;
mod sqlite;
pub mod testing;
pub mod transfer;
mod workflows;
mod writer_use;

pub use cab::{AgendaEntry, CabScheduleState, CabStore, OutcomeItem, RecordedOutcome};
pub use error::{Result, StoreError};
pub use jobs::{Job, JobKind, NewJob, TimerOutcome, agenda_mail_job};
pub use model::*;
pub use secret::FEED_KEY_PREFIX;
pub use workflows::{SYSTEM_AUTHOR, StoredWorkflow, WorkflowHistory, WorkflowVersion};
pub use writer_use::{WriterReading, WriterUse};

use async_trait::async_trait;
use stackflow_core::impact::{CmdbChange, CmdbSink};
use stackflow_core::{
    Action, Actor, BusinessCalendar, CalendarDocument, Change, ChangeDraft, ChangeNumber,
    ChangeWindow, Directory, NewWindow, Template, Vote,
    risk::RiskAssessment,
    task::{NewTask, Task, TaskPatch},
    workflow::WorkflowDocument,
};
use std::sync::Arc;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The business operations of StackFlow's storage, by area. Every mutating
/// method is one transaction including its audit event and outbox rows.
/// Callers use `Arc<dyn Store>` with `use stackflow_store::prelude::*`.
#[async_trait]
pub trait Store:
    PeopleStore
    + CmdbStore
    + CmdbTransferStore
    + ChangeStore
    + RiskStore
    + TaskStore
    + CalendarStore
    + BenchmarkStore
    + ScheduleStore
    + CalendarFeedStore
    + JobStore
    + WorkflowStore
    + CabStore
    + Send
    + Sync
    + 'static
{
    /// The backend in use.
    fn backend(&self) -> Backend;
    /// Applies pending migrations, then installs the default workflows
    /// when no workflow exists yet.
    async fn migrate(&self) -> Result<()>;
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;
    /// Migrations this version knows that the database has not applied,
    /// by version and description (all of them on an empty database).
    async fn pending_migrations(&self) -> Result<Vec<String>>;
    /// Closes the connection pool.
    async fn close(&self);
}

/// Users, groups and API tokens.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Creates a user.
    async fn create_user(&self, by: &Caller, user: NewUser) -> Result<User>;
    /// Edits a user.
    async fn update_user(&self, by: &Caller, username: &str, patch: UserPatch) -> Result<User>;
    /// One user.
    async fn get_user(&self, username: &str) -> Result<Option<User>>;
    /// Users, oldest first.
    async fn list_users(&self, page: PageRequest) -> Result<Page<User>>;
    /// Creates a group with its members.
    async fn create_group(&self, by: &Caller, group: NewGroup) -> Result<Group>;
    /// Replaces a group's members.
    async fn set_group_members(
        &self,
        by: &Caller,
        name: &str,
        members: Vec<String>,
    ) -> Result<Group>;
    /// One group.
    async fn get_group(&self, name: &str) -> Result<Option<Group>>;
    /// Groups, oldest first.
    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>>;
    /// Every group with its active members: the approver directory.
    async fn directory(&self) -> Result<Directory>;
    /// Creates an API token for a user; returns its metadata and the secret,
    /// which is stored only as a hash and never shown again.
    async fn create_token(
        &self,
        by: &Caller,
        username: &str,
        token: NewToken,
    ) -> Result<(TokenInfo, String)>;
    /// A user's tokens (to the user themself or an admin).
    async fn list_tokens(&self, by: &Caller, username: &str) -> Result<Vec<TokenInfo>>;
    /// One token's metadata.
    async fn get_token(&self, id: i64) -> Result<Option<TokenInfo>>;
    /// Revokes a token.
    async fn revoke_token(&self, by: &Caller, id: i64) -> Result<TokenInfo>;
    /// The active user a token secret belongs to, if it is valid at `now`.
    async fn authenticate(
        &self,
        secret: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Actor>>;
}

/// Configuration items, relationships and standard change templates.
#[async_trait]
pub trait CmdbStore: Send + Sync {
    /// Creates a configuration item.
    async fn create_ci(&self, by: &Caller, ci: NewCi) -> Result<Ci>;
    /// Edits a configuration item.
    async fn update_ci(&self, by: &Caller, name: &str, patch: CiPatch) -> Result<Ci>;
    /// One configuration item.
    async fn get_ci(&self, name: &str) -> Result<Option<Ci>>;
    /// Configuration items matching the filter, oldest first.
    async fn list_cis(&self, filter: &CiFilter, page: PageRequest) -> Result<Page<Ci>>;
    /// Deletes a CI and its relationships, unless an open change names it.
    async fn delete_ci(&self, by: &Caller, name: &str) -> Result<Ci>;
    /// Deletes one relationship.
    async fn delete_relationship(&self, by: &Caller, id: i64) -> Result<Relationship>;
    /// Records that `from` depends on `to`.
    async fn create_relationship(&self, by: &Caller, rel: NewRelationship) -> Result<Relationship>;
    /// Relationships in which the CI is either end.
    async fn list_relationships(&self, ci: &str) -> Result<Vec<Relationship>>;

    /// Streams every CI (ascending id), then every relationship, from one
    /// consistent snapshot into `sink`; returns the change-log sequence
    /// number the snapshot reflects, to follow the log from.
    async fn cmdb_snapshot(&self, sink: &mut (dyn CmdbSink + Send)) -> Result<i64>;
    /// CMDB change-log entries after sequence number `after`, oldest first,
    /// at most `limit`. Sequence numbers follow commit order.
    async fn cmdb_changes_since(&self, after: i64, limit: u32) -> Result<Vec<(i64, CmdbChange)>>;
    /// Deletes change-log entries written before `before`; returns how many.
    /// A reader whose position is older than what was pruned then gets a
    /// `Reload` entry first from [`cmdb_changes_since`](Self::cmdb_changes_since).
    async fn prune_cmdb_log(&self, before: chrono::DateTime<chrono::Utc>) -> Result<u64>;
    /// How many CIs depend, directly or transitively, on `roots` (roots
    /// excluded), up to `depth` levels, computed by the database's own
    /// recursive SQL query. The impact index answers the same question in
    /// memory; this is the baseline the impact benchmark compares it with,
    /// and a cross-check of its answers.
    async fn blast_radius_count_sql(&self, roots: &[String], depth: Option<u32>) -> Result<u64>;

    /// Creates a standard change template.
    async fn create_template(&self, by: &Caller, template: Template) -> Result<Template>;
    /// One template.
    async fn get_template(&self, name: &str) -> Result<Option<Template>>;
    /// Templates by name.
    async fn list_templates(&self) -> Result<Vec<Template>>;
}

/// Bulk CMDB import and export (see `docs/cmdb-import.md`).
#[async_trait]
pub trait CmdbTransferStore: Send + Sync {
    /// Imports one file of CIs and/or relationships in one transaction:
    /// upserts by name, all or nothing (any rejected row and nothing is
    /// applied), idempotent, reporting counts and rejected rows. A file
    /// that cannot be read at all (bad header, broken JSON) is `Invalid`.
    async fn import_cmdb(
        &self,
        by: &Caller,
        source: transfer::ImportSource,
        options: transfer::ImportOptions,
    ) -> Result<transfer::ImportReport>;
    /// Streams every CI (by id), then every relationship (by id), from one
    /// consistent snapshot into `sink`.
    async fn export_cmdb(&self, sink: &mut (dyn transfer::ExportSink + Send)) -> Result<()>;
}

/// Changes, their lifecycle, votes, audit trail and outbox.
#[async_trait]
pub trait ChangeStore: Send + Sync {
    /// Creates a change from a draft, allocating its number.
    async fn create_change(&self, by: &Caller, draft: ChangeDraft) -> Result<Change>;
    /// One change.
    async fn get_change(&self, number: ChangeNumber) -> Result<Option<Change>>;
    /// Changes, newest first.
    async fn list_changes(&self, filter: &ChangeFilter, page: PageRequest) -> Result<Page<Change>>;
    /// Performs a lifecycle action, decided by the domain core, in one
    /// transaction. `expected_version`, when given, must match.
    async fn act_on_change(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        action: Action,
    ) -> Result<Change>;
    /// Every vote on a change, oldest first.
    async fn list_votes(&self, number: ChangeNumber) -> Result<Vec<Vote>>;

    /// The audit trail of one entity, oldest first.
    async fn audit_trail(
        &self,
        entity_type: &str,
        entity_key: &str,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>>;
    /// Notifications not yet delivered, oldest first.
    async fn pending_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>>;
}

/// Risk assessment and schedule conflicts (see `docs/risk.md`).
#[async_trait]
pub trait RiskStore: Send + Sync {
    /// The assignment group's closed changes over the last 30 days and the
    /// failed similar changes over the last 90.
    async fn risk_history(&self, query: &RiskHistoryQuery) -> Result<RiskHistory>;
    /// Active changes other than `number` whose planned windows overlap
    /// `[start, end)`, by number. With a `scope` (CI names), only those
    /// naming one of its CIs, each with just its CIs in the scope, by name;
    /// without, every such change with all its CIs.
    async fn conflict_candidates(
        &self,
        number: ChangeNumber,
        start: chrono::DateTime<chrono::Utc>,
        end: chrono::DateTime<chrono::Utc>,
        scope: Option<&[String]>,
    ) -> Result<Vec<PlannedChange>>;
    /// Submits a normal or emergency change with its risk assessment and
    /// conflicts, flagging the conflicts on the other changes too, in one
    /// transaction. Refuses with `AssessmentOutdated` if the change moved
    /// after it was assessed.
    async fn submit_assessed(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        assessed: Assessed,
    ) -> Result<Change>;
    /// Records a new assessment of a change awaiting approval, if it
    /// differs from the current one; `None` when nothing changed or the
    /// change no longer awaits approval.
    async fn record_reassessment(
        &self,
        by: &Caller,
        number: ChangeNumber,
        assessed: Assessed,
    ) -> Result<Option<Change>>;
    /// Records the blackout conflicts of an approved change (`scheduled`,
    /// `implement`) after a blackout window was created or deleted: its
    /// blackout records become `blackouts` (first detections kept), its
    /// records of other changes stay. `None` when nothing changed or the
    /// change is in another state; refuses with
    /// [`StoreError::AssessmentOutdated`] when the change moved since
    /// `based_on_version`. A blackout newly found notifies the requester
    /// (`change.blackout_conflict`).
    async fn record_blackouts(
        &self,
        by: &Caller,
        number: ChangeNumber,
        based_on_version: i64,
        blackouts: Vec<stackflow_core::conflict::Conflict>,
    ) -> Result<Option<Change>>;
    /// Every change awaiting approval (`assess`, `authorize`) with its
    /// affected CIs, oldest first: what a CMDB write may need to reassess.
    async fn awaiting_approval_cis(&self) -> Result<Vec<(ChangeNumber, Vec<String>)>>;
    /// A change with every assessment of it, oldest first, read in one
    /// statement (one snapshot: the newest assessment in the history is the
    /// change's own); `None` when there is no such change.
    async fn change_with_risk_history(
        &self,
        number: ChangeNumber,
    ) -> Result<Option<(Change, Vec<RiskAssessment>)>>;
    /// Requests a `risk.reassess` job for each of `numbers` that awaits
    /// approval, in one transaction; returns how many. What a CMDB write
    /// asks for the waiting changes it affects: the job worker reassesses
    /// each one and retries each on its own.
    async fn request_reassessment_of(
        &self,
        numbers: &[ChangeNumber],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64>;
    /// Requests a `risk.reassess` job for every change awaiting approval;
    /// returns how many. The server does it when it starts, so that a
    /// reassessment the last run owed (one a CMDB write asked for, kept in
    /// memory until it ran) is not lost with that run.
    async fn request_reassessment_of_waiting_changes(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64>;
}

/// Implementation tasks of changes.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// A change's implementation tasks in order.
    async fn list_tasks(&self, number: ChangeNumber) -> Result<Vec<Task>>;
    /// Adds an implementation task.
    async fn add_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        task: NewTask,
    ) -> Result<Task>;
    /// Edits, reorders or moves an implementation task.
    async fn update_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        task_id: i64,
        expected_version: Option<i64>,
        patch: TaskPatch,
    ) -> Result<Task>;
}

/// The business calendar and maintenance and blackout windows (see
/// `docs/calendar-and-windows.md`).
#[async_trait]
pub trait CalendarStore: Send + Sync {
    /// The business calendar; the default (Monday to Friday 09:00–17:00
    /// UTC, no holidays) when none has been set.
    async fn get_calendar(&self) -> Result<BusinessCalendar>;
    /// Validates and replaces the business calendar (admins and change
    /// managers); returns it as stored.
    async fn put_calendar(
        &self,
        by: &Caller,
        calendar: CalendarDocument,
    ) -> Result<BusinessCalendar>;
    /// Validates and creates a window (admins and change managers).
    async fn create_window(&self, by: &Caller, window: NewWindow) -> Result<ChangeWindow>;
    /// Every window, by id.
    async fn list_windows(&self) -> Result<Vec<ChangeWindow>>;
    /// One window.
    async fn get_window(&self, id: i64) -> Result<Option<ChangeWindow>>;
    /// The business calendar and every window, as of one moment (what a
    /// risk assessment places a planned window against), with the
    /// settings generation they are of ([`Assessed::settings_generation`]).
    async fn calendar_and_windows(&self) -> Result<(i64, BusinessCalendar, Vec<ChangeWindow>)>;
    /// Deletes a window (admins and change managers); returns what it was.
    async fn delete_window(&self, by: &Caller, id: i64) -> Result<ChangeWindow>;
}

/// Bulk writes and counts for `stackflow bench`, never reached by the API:
/// they fill a database to the size a benchmark measures at.
#[async_trait]
pub trait BenchmarkStore: Send + Sync {
    /// Benchmarks only: writes changes the lifecycle core already produced
    /// (`ChangeDraft::into_change`, then `decide` through any path) as
    /// `create_change` and `act_on_change` would have left them — the
    /// document, its projected columns and `change_cis` — numbering them
    /// from the `sequences` row in this one transaction (the numbers they
    /// carry are replaced). Every named CI, group and requester must exist
    /// (checked for the whole batch, `Invalid` otherwise). Unlike the
    /// business operations it writes no audit events, votes or outbox rows:
    /// it stands for history, not for anything that happened. Returns the
    /// numbers given, in order.
    async fn seed_changes_for_benchmark(&self, changes: Vec<Change>) -> Result<Vec<ChangeNumber>>;
    /// After seeding: refreshes the planner's statistics and checkpoints
    /// the write-ahead log, so that what a benchmark then measures is the
    /// steady state and not the flush of the bulk write.
    async fn settle_for_benchmark(&self) -> Result<()>;
    /// Row counts of the main tables, to print beside benchmark figures.
    async fn table_counts_for_benchmark(&self) -> Result<Vec<(&'static str, i64)>>;
    /// SQLite: how much the one writer connection has been used so far,
    /// to compare two readings ([`WriterUse::between`]). `None` on
    /// PostgreSQL, where no one connection carries every write.
    fn writer_reading(&self) -> Option<WriterReading>;
}

/// The change schedule: changes with planned windows in a range (see
/// `docs/schedule.md`).
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Changes whose planned window overlaps `[from, to)` and whose state
    /// puts them on the schedule (`assess`, `authorize`, `scheduled`,
    /// `implement`, `review`, `closed`), by planned start then number, at
    /// most `limit` of them; only `assignment_group`'s when given.
    async fn scheduled_changes(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        assignment_group: Option<&str>,
        limit: u32,
    ) -> Result<ScheduledChanges>;
}

/// Calendar feeds: secret addresses from which calendar clients subscribe
/// to the change schedule (see `docs/schedule.md`).
#[async_trait]
pub trait CalendarFeedStore: Send + Sync {
    /// Creates a calendar feed owned by `username` (the caller, or anyone
    /// for an admin; an active user); returns it and its key, which is
    /// stored only as a hash and never shown again.
    async fn create_calendar_feed(
        &self,
        by: &Caller,
        username: &str,
        feed: NewCalendarFeed,
    ) -> Result<(CalendarFeed, String)>;
    /// The caller's calendar feeds (every user's to an admin), oldest
    /// first, revoked ones included.
    async fn list_calendar_feeds(
        &self,
        by: &Caller,
        page: PageRequest,
    ) -> Result<Page<CalendarFeed>>;
    /// Revokes a calendar feed (its owner, or an admin); at once, for good.
    async fn revoke_calendar_feed(&self, by: &Caller, id: i64) -> Result<CalendarFeed>;
    /// The feed a key opens and its owner's username, if the feed is
    /// unrevoked and its owner active.
    async fn calendar_feed_of_key(&self, key: &str) -> Result<Option<(i64, String)>>;
}

/// Durable background work (see `docs/jobs.md`): requested inside the
/// business transaction that implies it, claimed by one worker at a time
/// with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer
/// on SQLite), deleted when done.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Requests a job on its own. Coalesces with a pending job of the same
    /// kind and key: that one then runs no later than either asked, with
    /// this payload, and once more if a worker is running it now.
    async fn request_job(&self, job: &NewJob, now: chrono::DateTime<chrono::Utc>) -> Result<()>;
    /// Leases up to `limit` jobs due at `now` to `worker` until `now +
    /// lease`, oldest due first. A job whose lease ran out (its worker
    /// died) is due again.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// A claimed job ran: deleted, unless it was requested again while it
    /// ran, in which case it is released to run once more. `false` when
    /// `worker` no longer held it (its lease ran out and another took it).
    async fn complete_job(&self, job: &Job, worker: &str) -> Result<bool>;
    /// A claimed job failed: released to run again at `retry_at` (or at
    /// once, if it was requested again meanwhile), keeping the error.
    async fn fail_job(
        &self,
        job: &Job,
        worker: &str,
        error: &str,
        retry_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()>;
    /// Every job not yet done, by due time: for `stackflow check` and tests.
    async fn pending_jobs(&self) -> Result<Vec<Job>>;
    /// Finishes a claimed job together with what it produced, in one
    /// transaction: removes it (only if `worker` holds this generation),
    /// writes `notifications` to the outbox under `entity_key`, and requests
    /// `follow_ups`. `false`, with nothing written, when the job was no
    /// longer held as claimed (the worker then completes it as usual). So a
    /// job whose product is a message sends it exactly once.
    async fn finish_job_with(
        &self,
        job: &Job,
        worker: &str,
        now: chrono::DateTime<chrono::Utc>,
        entity_key: &str,
        notifications: &[stackflow_core::Notification],
        follow_ups: &[NewJob],
    ) -> Result<bool>;
    /// Fires a claimed timer (`approval.sla`, `review.overdue`): in one
    /// transaction, removes it and escalates its change if the escalation
    /// still applies at `now` (`stackflow_core::escalation`), writing the
    /// change, its audit event and the notification to the change managers.
    /// So an escalation happens exactly once, however many workers claim
    /// the timer and whenever they crash. A review timer that fires before
    /// the review's (moved) due time is set again for it.
    async fn fire_timer(
        &self,
        job: &Job,
        worker: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<TimerOutcome>;
}

/// Approval workflow documents, versioned (see `docs/workflows.md`): every
/// save is a new version, validated against the groups read in the same
/// transaction and audited (`workflow.created`, `workflow.updated`).
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// The current version of every workflow, by name.
    async fn list_workflows(&self) -> Result<Vec<StoredWorkflow>>;
    /// One workflow at its current version (or `version`), with its history.
    async fn get_workflow(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<WorkflowHistory>>;
    /// Saves a new workflow as version 1 (admins and change managers);
    /// `Duplicate` when the name exists.
    async fn create_workflow(
        &self,
        by: &Caller,
        document: WorkflowDocument,
    ) -> Result<StoredWorkflow>;
    /// Saves a new version of workflow `name` (admins and change managers);
    /// `expected_version`, when given, must be the current version.
    async fn update_workflow(
        &self,
        by: &Caller,
        name: &str,
        expected_version: Option<u32>,
        document: WorkflowDocument,
    ) -> Result<StoredWorkflow>;
}

/// The traits to import for calling store operations.
pub mod prelude {
    pub use crate::CabStore;
    pub use crate::{
        BenchmarkStore, CalendarFeedStore, CalendarStore, ChangeStore, CmdbStore,
        CmdbTransferStore, JobStore, PeopleStore, RiskStore, ScheduleStore, Store, TaskStore,
        WorkflowStore,
    };
}

/// Connects to the database a URL names (`sqlite://…` or `postgres://…`)
/// without migrating it.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::Repo::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::Repo::connect(url).await?))
    } else {
        Err(StoreError::invalid(
            "database_url",
            format!(
                "unsupported database URL `{url}`: use sqlite://FILE or postgres://USER@HOST/DB"
            ),
        ))
    }
}
