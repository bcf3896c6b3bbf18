// Shared by every operation file. The store's operations are compiled once
// per backend: `sqlite.rs` and `postgres.rs` each define `Db`, `BACKEND`,
// `BEGIN_WRITE`, `FOR_UPDATE` and `MIGRATOR`, then `include!` the files of
// this folder. Keep the SQL portable: `$N` placeholders, `RETURNING`, no
// backend-only functions. All `use` lines live here: the included files
// share one module, so a second `use` of the same name would clash.

use crate::cab::{AgendaEntry, CabScheduleState, CabStore, OutcomeItem, RecordedOutcome};
use crate::model::*;
use crate::settings::Settings;
use crate::transfer::{
    self, CiRecord, ExportSink, FileError, ImportOptions, ImportReport, ImportSource, ParsedRow,
    RejectedRow, RelationshipRecord, RowRef,
};
use crate::{
    BenchmarkStore, CalendarFeedStore, CalendarStore, ChangeStore, CmdbStore, CmdbTransferStore,
    Job, JobKind, JobStore, NewJob, PeopleStore, Result, RiskStore, SYSTEM_AUTHOR, ScheduleStore,
    Store, StoreError, StoredWorkflow, TaskStore, TimerOutcome, WorkflowHistory, WorkflowStore,
    WorkflowVersion, secret,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Transaction};
use stackflow_core::cab::{CabOutcome, CabSchedule, Meeting, default_schedule};
use stackflow_core::conflict::{self, Conflict};
use stackflow_core::impact::{CmdbChange, CmdbSink};
use stackflow_core::permissions::{Permission, require};
use stackflow_core::risk::{GroupHistory, RiskAssessment, RiskLevel};
use stackflow_core::task::{
    NewTask, Task, TaskPatch, check_position, check_task_addable, check_task_title,
    check_task_transition,
};
use stackflow_core::validate;
use stackflow_core::workflow::{
    ApproverSpec, ChangeFacts, SelectedWorkflow, WorkflowDocument, default_workflows, select,
    validate as validate_workflow,
};
use stackflow_core::{
    Action, Actor, BusinessCalendar, CalendarDocument, Change, ChangeDraft, ChangeNumber,
    ChangeState, ChangeType, ChangeWindow, Channel, Context, Directory, FieldError, GroupInfo,
    NewWindow, Notification, Refusal, Role, TaskState, Template, Transition, Vote, decide,
    lifecycle::{may_manage_tasks, reevaluate},
};
use std::sync::Arc;

type Tx = Transaction<'static, Db>;

/// SQL assembled from constants of this file (column lists, the dialect's
/// lock clause) — never from user input, which is always bound.
macro_rules! sql {
    ($($part:tt)*) => {
        AssertSqlSafe(format!($($part)*))
    };
}

/// Most relationship and audit rows returned in one list.
const MAX_LIST: i64 = 10_000;

impl Repo {
    async fn begin_write(&self) -> Result<Tx> {
        Ok(match BEGIN_WRITE {
            Some(statement) => self.writer().begin_with(statement).await?,
            None => self.writer().begin().await?,
        })
    }
}

fn parse<T: std::str::FromStr<Err = String>>(what: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}

fn page_of<T>(mut rows: Vec<(i64, T)>, limit: u32) -> Page<T> {
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(id, _)| *id)
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    }
}

/// A `LIKE` pattern matching names that start with `prefix` (case kept).
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = escape_like(prefix);
    pattern.push('%');
    pattern
}

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

/// A case-insensitive "contains" pattern over lowercased text.
fn like_pattern(text: &str) -> String {
    format!("%{}%", escape_like(&text.to_lowercase()))
}

fn map_unique(err: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if StoreError::is_unique_violation(&err) {
        StoreError::Duplicate(what())
    } else {
        StoreError::Database(err)
    }
}

async fn audit(
    tx: &mut Tx,
    by: &Caller,
    entity: (&str, &str),
    action: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (entity_type, entity_key, actor, action, channel, before_doc, after_doc, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entity.0.to_owned())
    .bind(entity.1.to_owned())
    .bind(by.actor.username.clone())
    .bind(action.to_owned())
    .bind(by.channel.as_str())
    .bind(before.map(Json))
    .bind(after.map(Json))
    .bind(by.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn enqueue(
    tx: &mut Tx,
    now: DateTime<Utc>,
    entity_key: &str,
    note: &Notification,
) -> Result<()> {
    let delivery_id = format!("msg_{}", hex::encode(rand::random::<[u8; 16]>()));
    sqlx::query(
        "INSERT INTO outbox (delivery_id, event_type, topic, entity_key, recipients, payload, created_at, available_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(delivery_id)
    .bind(note.event)
    .bind(note.topic)
    .bind(entity_key.to_owned())
    .bind(Json(&note.recipients))
    .bind(Json(&note.data))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
