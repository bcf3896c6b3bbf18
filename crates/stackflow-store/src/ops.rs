// The store's operations, compiled once per backend: `sqlite.rs` and
// `postgres.rs` each define `Db`, `BACKEND`, `BEGIN_WRITE`, `FOR_UPDATE` and
// `MIGRATOR`, then `include!` this file. Keep the SQL portable: `$N`
// placeholders, `RETURNING`, no backend-only functions.

use crate::model::*;
use crate::{Result, Store, StoreError, secret};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder, Transaction};
use stackflow_core::permissions::{Permission, require};
use stackflow_core::task::{
    NewTask, Task, TaskPatch, check_position, check_task_addable, check_task_title,
    check_task_transition,
};
use stackflow_core::{
    Action, Actor, Change, ChangeDraft, ChangeNumber, Context, Directory, FieldError, GroupInfo,
    Notification, Refusal, Role, TaskState, Template, Transition, Vote, decide,
    lifecycle::{may_manage_tasks, reevaluate},
};

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
            Some(statement) => self.pool.begin_with(statement).await?,
            None => self.pool.begin().await?,
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

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
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

// ---- people -------------------------------------------------------------

type UserRow = (i64, String, String, String, String, bool, DateTime<Utc>);
const USER_COLUMNS: &str = "id, username, email, display_name, role, active, created_at";

fn user_of(row: UserRow) -> Result<(i64, User)> {
    let (id, username, email, display_name, role, active, created_at) = row;
    Ok((
        id,
        User {
            username,
            email,
            display_name,
            role: parse("users.role", &role)?,
            active,
            created_at,
        },
    ))
}

fn check_username(username: &str) -> Result<()> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && username.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "username",
            "1–64 characters: lowercase letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        ))
    }
}

fn check_email(email: &str) -> Result<()> {
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(StoreError::invalid("email", "not an email address"))
    }
}

fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() || name.trim() != name {
        Err(StoreError::invalid(
            field,
            "required, without leading or trailing spaces",
        ))
    } else if name.chars().count() > 200 {
        Err(StoreError::invalid(field, "at most 200 characters"))
    } else if name.chars().any(|c| c.is_control() || c == '/') {
        Err(StoreError::invalid(
            field,
            "may not contain `/` or control characters",
        ))
    } else {
        Ok(())
    }
}

async fn user_id(tx: &mut Tx, username: &str) -> Result<Option<i64>> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
            .bind(username.to_owned())
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// The ids of the named users, refusing with the unknown ones listed.
async fn user_ids(tx: &mut Tx, field: &str, usernames: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(usernames.len());
    let mut unknown = Vec::new();
    for name in usernames {
        match user_id(tx, name).await? {
            Some(id) => ids.push(id),
            None => unknown.push(name.as_str()),
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        Err(StoreError::invalid(
            field,
            format!("unknown users: {}", unknown.join(", ")),
        ))
    }
}

async fn group_members(tx: &mut Tx, group_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = $1 ORDER BY u.username",
    )
    .bind(group_id)
    .fetch_all(&mut **tx)
    .await?)
}

async fn load_group(tx: &mut Tx, name: &str) -> Result<Option<(i64, Group)>> {
    let row: Option<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, name, kind, description FROM groups WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&mut **tx)
            .await?;
    let Some((id, name, kind, description)) = row else {
        return Ok(None);
    };
    let members = group_members(tx, id).await?;
    Ok(Some((
        id,
        Group {
            name,
            kind: parse("groups.kind", &kind)?,
            description,
            members,
        },
    )))
}

async fn replace_members(tx: &mut Tx, group_id: i64, member_ids: &[i64]) -> Result<()> {
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await?;
    for user in member_ids {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(*user)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn load_directory(tx: &mut Tx) -> Result<Directory> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT g.name, g.kind, u.username FROM groups g \
         LEFT JOIN group_members m ON m.group_id = g.id \
         LEFT JOIN users u ON u.id = m.user_id AND u.active = $1 \
         ORDER BY g.name, u.username",
    )
    .bind(true)
    .fetch_all(&mut **tx)
    .await?;
    let mut directory = Directory::default();
    for (name, kind, member) in rows {
        if directory.groups.last().is_none_or(|g| g.name != name) {
            directory.groups.push(GroupInfo {
                name,
                kind: parse("groups.kind", &kind)?,
                members: Vec::new(),
            });
        }
        if let (Some(member), Some(group)) = (member, directory.groups.last_mut()) {
            group.members.push(member);
        }
    }
    Ok(directory)
}

type TokenRow = (
    i64,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
const TOKEN_COLUMNS: &str = "t.id, u.username, t.name, t.created_at, t.expires_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id";

fn token_of((id, username, name, created_at, expires_at, revoked_at): TokenRow) -> TokenInfo {
    TokenInfo {
        id,
        username,
        name,
        created_at,
        expires_at,
        revoked_at,
    }
}

/// People may manage their own tokens; admins anyone's.
fn require_self_or_admin(by: &Caller, username: &str) -> Result<()> {
    if by.actor.username == username || by.actor.role == Role::Admin {
        Ok(())
    } else {
        Err(StoreError::Refused(Refusal::forbidden(
            "tokens_of_others",
            "only admins may manage other people's tokens",
        )))
    }
}

// ---- CMDB -----------------------------------------------------------------

type CiRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Json<serde_json::Value>,
    DateTime<Utc>,
    DateTime<Utc>,
);
const CI_COLUMNS: &str =
    "id, name, class, environment, criticality, owner_group, attributes, created_at, updated_at";

fn ci_of(row: CiRow) -> Result<(i64, Ci)> {
    let (
        id,
        name,
        class,
        environment,
        criticality,
        owner_group,
        Json(attributes),
        created_at,
        updated_at,
    ) = row;
    Ok((
        id,
        Ci {
            name,
            class,
            environment,
            criticality: parse("cis.criticality", &criticality)?,
            owner_group,
            attributes,
            created_at,
            updated_at,
        },
    ))
}

async fn load_ci(tx: &mut Tx, name: &str) -> Result<Option<(i64, Ci)>> {
    let row: Option<CiRow> = sqlx::query_as(sql!("SELECT {CI_COLUMNS} FROM cis WHERE name = $1"))
        .bind(name.to_owned())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(ci_of).transpose()
}

fn check_ci(ci: &Ci) -> Result<()> {
    check_name("name", &ci.name)?;
    let class_ok = !ci.class.is_empty()
        && ci.class.len() <= 64
        && ci
            .class
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !class_ok {
        return Err(StoreError::invalid(
            "class",
            "1–64 characters of lowercase letters, digits and `_`",
        ));
    }
    if ci.environment.chars().count() > 64 {
        return Err(StoreError::invalid("environment", "at most 64 characters"));
    }
    if !ci.attributes.is_object() {
        return Err(StoreError::invalid("attributes", "must be a JSON object"));
    }
    Ok(())
}

async fn group_exists(tx: &mut Tx, name: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM groups WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

type RelRow = (i64, String, String, String, DateTime<Utc>);

fn rel_of((id, from, to, rel_type, created_at): RelRow) -> Result<Relationship> {
    Ok(Relationship {
        id,
        from,
        to,
        rel_type: parse("relationships.rel_type", &rel_type)?,
        created_at,
    })
}

// ---- changes --------------------------------------------------------------

async fn load_change(tx: &mut Tx, number: ChangeNumber, lock: bool) -> Result<(i64, Change)> {
    let sql = format!(
        "SELECT id, doc FROM changes WHERE number = $1{}",
        if lock { FOR_UPDATE } else { "" }
    );
    let row: Option<(i64, Json<Change>)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(number.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|(id, Json(change))| (id, change))
        .ok_or_else(|| StoreError::NotFound(format!("change {number}")))
}

fn check_version(expected: Option<i64>, change: &Change) -> Result<()> {
    match expected {
        Some(expected) if expected != change.version => Err(StoreError::StaleVersion {
            expected,
            current: change.version,
        }),
        _ => Ok(()),
    }
}

/// Referential checks the pure core cannot make: named groups, users and
/// CIs must exist. Every problem is reported at once.
async fn check_references(tx: &mut Tx, change: &Change) -> Result<()> {
    let mut errors = Vec::new();
    if let Some(group) = &change.assignment_group
        && !group_exists(tx, group).await?
    {
        errors.push(FieldError::new(
            "assignment_group",
            format!("no group named `{group}`"),
        ));
    }
    if let Some(person) = &change.assigned_to
        && user_id(tx, person).await?.is_none()
    {
        errors.push(FieldError::new(
            "assigned_to",
            format!("no user named `{person}`"),
        ));
    }
    if !change.affected_cis.is_empty() {
        let mut query = QueryBuilder::<Db>::new("SELECT name FROM cis WHERE name IN (");
        let mut names = query.separated(", ");
        for ci in &change.affected_cis {
            names.push_bind(ci.clone());
        }
        query.push(")");
        let known: Vec<String> = query.build_query_scalar().fetch_all(&mut **tx).await?;
        let unknown: Vec<&str> = change
            .affected_cis
            .iter()
            .filter(|ci| !known.contains(ci))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            errors.push(FieldError::new(
                "affected_cis",
                format!("unknown CIs: {}", unknown.join(", ")),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::invalid_fields(errors))
    }
}

/// What `?q=` searches: number and title, lowercased here rather than in
/// SQL because SQLite's `LOWER` only folds ASCII.
fn search_text(change: &Change) -> String {
    format!("{} {}", change.number, change.title).to_lowercase()
}

async fn insert_change(tx: &mut Tx, change: &Change) -> Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO changes (number, change_type, state, title, requested_by, assignment_group, cab_date, version, created_at, updated_at, doc, search_text) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(change.number.to_string())
    .bind(change.change_type.as_str())
    .bind(change.state.as_str())
    .bind(change.title.clone())
    .bind(change.requested_by.clone())
    .bind(change.assignment_group.clone())
    .bind(change.cab_date)
    .bind(change.version)
    .bind(change.created_at)
    .bind(change.updated_at)
    .bind(Json(change))
    .bind(search_text(change))
    .fetch_one(&mut **tx)
    .await?;
    write_change_cis(tx, id, change).await?;
    Ok(id)
}

/// Writes the new state of a change, refusing if someone else wrote since
/// `before` was read (the row lock makes that a bug guard on PostgreSQL; on
/// SQLite the immediate transaction does the same).
async fn save_change(tx: &mut Tx, id: i64, before: &Change, after: &Change) -> Result<()> {
    let updated = sqlx::query(
        "UPDATE changes SET state = $1, title = $2, assignment_group = $3, cab_date = $4, version = $5, \
         updated_at = $6, doc = $7, search_text = $10 WHERE id = $8 AND version = $9",
    )
    .bind(after.state.as_str())
    .bind(after.title.clone())
    .bind(after.assignment_group.clone())
    .bind(after.cab_date)
    .bind(after.version)
    .bind(after.updated_at)
    .bind(Json(after))
    .bind(id)
    .bind(before.version)
    .bind(search_text(after))
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::StaleVersion {
            expected: before.version,
            current: before.version + 1,
        });
    }
    if after.affected_cis != before.affected_cis {
        write_change_cis(tx, id, after).await?;
    }
    Ok(())
}

async fn write_change_cis(tx: &mut Tx, id: i64, change: &Change) -> Result<()> {
    sqlx::query("DELETE FROM change_cis WHERE change_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for ci in &change.affected_cis {
        sqlx::query("INSERT INTO change_cis (change_id, ci_name) VALUES ($1, $2)")
            .bind(id)
            .bind(ci.clone())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes an accepted transition: the change, its vote, its audit event and
/// its notifications, all in the caller's transaction.
async fn persist_transition(
    tx: &mut Tx,
    by: &Caller,
    id: i64,
    before: &Change,
    transition: Transition,
) -> Result<Change> {
    let after = transition.change;
    save_change(tx, id, before, &after).await?;
    if let Some(vote) = &transition.vote {
        insert_vote(tx, id, vote).await?;
    }
    let key = after.number.to_string();
    audit(
        tx,
        by,
        ("change", &key),
        transition.audit_action,
        Some(json_of(before)?),
        Some(json_of(&after)?),
    )
    .await?;
    for note in &transition.notifications {
        enqueue(tx, by.now, &key, note).await?;
    }
    Ok(after)
}

/// After approvers changed (group membership, a deactivated user), settles
/// every open approval stage that the votes already cast now decide, in the
/// same transaction as the change of approvers.
async fn reevaluate_open_changes(tx: &mut Tx, by: &Caller) -> Result<()> {
    let open: Vec<(i64, Json<Change>)> = sqlx::query_as(sql!(
        "SELECT id, doc FROM changes WHERE state IN ('assess', 'authorize') ORDER BY id{FOR_UPDATE}"
    ))
    .fetch_all(&mut **tx)
    .await?;
    if open.is_empty() {
        return Ok(());
    }
    let directory = load_directory(tx).await?;
    for (id, Json(change)) in open {
        let votes = load_votes(tx, id, Some(change.approval.round)).await?;
        let context = Context {
            directory: &directory,
            votes: &votes,
            pending_tasks: 0,
            channel: by.channel,
            now: by.now,
        };
        if let Some(transition) = reevaluate(&change, &context) {
            persist_transition(tx, by, id, &change, transition).await?;
        }
    }
    Ok(())
}

type VoteRow = (i64, i64, String, String, String, String, DateTime<Utc>);

fn vote_of((round, stage, voter, decision, notes, channel, at): VoteRow) -> Result<Vote> {
    Ok(Vote {
        round: u32::try_from(round).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        stage: usize::try_from(stage).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        voter,
        decision: parse("votes.decision", &decision)?,
        notes,
        channel: parse("votes.channel", &channel)?,
        at,
    })
}

async fn load_votes(tx: &mut Tx, change_id: i64, round: Option<u32>) -> Result<Vec<Vote>> {
    let rows: Vec<VoteRow> = sqlx::query_as(
        "SELECT round, stage, voter, decision, notes, channel, created_at FROM votes \
         WHERE change_id = $1 AND ($2 IS NULL OR round = $2) ORDER BY id",
    )
    .bind(change_id)
    .bind(round.map(i64::from))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(vote_of).collect()
}

async fn insert_vote(tx: &mut Tx, change_id: i64, vote: &Vote) -> Result<()> {
    sqlx::query(
        "INSERT INTO votes (change_id, round, stage, voter, decision, notes, channel, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(change_id)
    .bind(i64::from(vote.round))
    .bind(vote.stage as i64)
    .bind(vote.voter.clone())
    .bind(vote.decision.as_str())
    .bind(vote.notes.clone())
    .bind(vote.channel.as_str())
    .bind(vote.at)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        map_unique(e, || {
            format!("{} has already voted in this stage", vote.voter)
        })
    })?;
    Ok(())
}

type TaskRow = (
    i64,
    String,
    Option<String>,
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);
const TASK_COLUMNS: &str = "id, title, assignee, position, state, created_at, updated_at";

fn task_of(
    (id, title, assignee, position, state, created_at, updated_at): TaskRow,
) -> Result<Task> {
    Ok(Task {
        id,
        title,
        assignee,
        position,
        state: parse("tasks.state", &state)?,
        created_at,
        updated_at,
    })
}

async fn load_tasks(tx: &mut Tx, change_id: i64) -> Result<Vec<Task>> {
    let rows: Vec<TaskRow> = sqlx::query_as(sql!(
        "SELECT {TASK_COLUMNS} FROM tasks WHERE change_id = $1 ORDER BY position, id"
    ))
    .bind(change_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter().map(task_of).collect()
}

async fn check_assignee(tx: &mut Tx, assignee: Option<&String>) -> Result<()> {
    if let Some(person) = assignee
        && user_id(tx, person).await?.is_none()
    {
        return Err(StoreError::invalid(
            "assignee",
            format!("no user named `{person}`"),
        ));
    }
    Ok(())
}

/// Bumps the change's version for a write to one of its parts (tasks), so
/// that `If-Match` covers the whole change and concurrent writers serialise.
async fn touch_change(tx: &mut Tx, id: i64, change: &Change, now: DateTime<Utc>) -> Result<Change> {
    let mut next = change.clone();
    next.version += 1;
    next.updated_at = now;
    save_change(tx, id, change, &next).await?;
    Ok(next)
}

/// Moves the task at `from` to `to` (1-based), shifting those between.
async fn move_task(tx: &mut Tx, change_id: i64, task_id: i64, from: i64, to: i64) -> Result<()> {
    if to < from {
        sqlx::query("UPDATE tasks SET position = position + 1 WHERE change_id = $1 AND position >= $2 AND position < $3")
            .bind(change_id)
            .bind(to)
            .bind(from)
            .execute(&mut **tx)
            .await?;
    } else if to > from {
        sqlx::query("UPDATE tasks SET position = position - 1 WHERE change_id = $1 AND position > $2 AND position <= $3")
            .bind(change_id)
            .bind(from)
            .bind(to)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE tasks SET position = $1 WHERE id = $2")
        .bind(to)
        .bind(task_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

type AuditRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<Json<serde_json::Value>>,
    Option<Json<serde_json::Value>>,
    DateTime<Utc>,
);

fn audit_of(row: AuditRow) -> Result<(i64, AuditEvent)> {
    let (id, entity_type, entity_key, actor, action, channel, before, after, at) = row;
    Ok((
        id,
        AuditEvent {
            id,
            entity_type,
            entity_key,
            actor,
            action,
            channel: parse("audit_events.channel", &channel)?,
            before: before.map(|Json(v)| v),
            after: after.map(|Json(v)| v),
            at,
        },
    ))
}

type OutboxRow = (
    i64,
    String,
    String,
    String,
    String,
    Json<Vec<String>>,
    Json<serde_json::Value>,
    DateTime<Utc>,
    i64,
    Option<DateTime<Utc>>,
);

#[async_trait]
impl Store for Repo {
    fn backend(&self) -> crate::Backend {
        BACKEND
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_user(&self, by: &Caller, user: NewUser) -> Result<User> {
        require(&by.actor, Permission::ManagePeople)?;
        check_username(&user.username)?;
        check_email(&user.email)?;
        let mut tx = self.begin_write().await?;
        let row: UserRow = sqlx::query_as(sql!(
            "INSERT INTO users (username, email, display_name, role, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {USER_COLUMNS}"
        ))
        .bind(user.username.clone())
        .bind(user.email.clone())
        .bind(user.display_name.clone())
        .bind(user.role.as_str())
        .bind(true)
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("user `{}` already exists", user.username)))?;
        let (_, created) = user_of(row)?;
        audit(
            &mut tx,
            by,
            ("user", &created.username),
            "user.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_user(&self, by: &Caller, username: &str, patch: UserPatch) -> Result<User> {
        require(&by.actor, Permission::ManagePeople)?;
        if let Some(email) = &patch.email {
            check_email(email)?;
        }
        let mut tx = self.begin_write().await?;
        let row: Option<UserRow> = sqlx::query_as(sql!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1{FOR_UPDATE}"
        ))
        .bind(username.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        let (id, before) =
            user_of(row.ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?)?;
        let after = User {
            email: patch.email.unwrap_or_else(|| before.email.clone()),
            display_name: patch
                .display_name
                .unwrap_or_else(|| before.display_name.clone()),
            role: patch.role.unwrap_or(before.role),
            active: patch.active.unwrap_or(before.active),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE users SET email = $1, display_name = $2, role = $3, active = $4 WHERE id = $5",
        )
        .bind(after.email.clone())
        .bind(after.display_name.clone())
        .bind(after.role.as_str())
        .bind(after.active)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("user", username),
            "user.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        if after.active != before.active {
            reevaluate_open_changes(&mut tx, by).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    async fn get_user(&self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(sql!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
                .bind(username.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(user_of).transpose()?.map(|(_, user)| user))
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(sql!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(user_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn create_group(&self, by: &Caller, group: NewGroup) -> Result<Group> {
        require(&by.actor, Permission::ManagePeople)?;
        check_name("name", &group.name)?;
        let mut tx = self.begin_write().await?;
        let member_ids = user_ids(&mut tx, "members", &group.members).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO groups (name, kind, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(group.name.clone())
        .bind(group.kind.as_str())
        .bind(group.description.clone())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("group `{}` already exists", group.name)))?;
        replace_members(&mut tx, id, &member_ids).await?;
        let (_, created) = load_group(&mut tx, &group.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{}`", group.name)))?;
        audit(
            &mut tx,
            by,
            ("group", &created.name),
            "group.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn set_group_members(
        &self,
        by: &Caller,
        name: &str,
        members: Vec<String>,
    ) -> Result<Group> {
        require(&by.actor, Permission::ManagePeople)?;
        let mut tx = self.begin_write().await?;
        let (id, before) = load_group(&mut tx, name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))?;
        let member_ids = user_ids(&mut tx, "members", &members).await?;
        replace_members(&mut tx, id, &member_ids).await?;
        reevaluate_open_changes(&mut tx, by).await?;
        let (_, after) = load_group(&mut tx, name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))?;
        audit(
            &mut tx,
            by,
            ("group", name),
            "group.members_changed",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn get_group(&self, name: &str) -> Result<Option<Group>> {
        let mut tx = self.pool.begin().await?;
        let group = load_group(&mut tx, name).await?.map(|(_, g)| g);
        tx.commit().await?;
        Ok(group)
    }

    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM groups WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(page.after.unwrap_or(0))
                .bind(i64::from(page.limit) + 1)
                .fetch_all(&mut *tx)
                .await?;
        let mut groups = Vec::with_capacity(rows.len());
        for (id, name) in rows {
            if let Some((_, group)) = load_group(&mut tx, &name).await? {
                groups.push((id, group));
            }
        }
        tx.commit().await?;
        Ok(page_of(groups, page.limit))
    }

    async fn directory(&self) -> Result<Directory> {
        let mut tx = self.pool.begin().await?;
        let directory = load_directory(&mut tx).await?;
        tx.commit().await?;
        Ok(directory)
    }

    async fn create_token(
        &self,
        by: &Caller,
        username: &str,
        token: NewToken,
    ) -> Result<(TokenInfo, String)> {
        require_self_or_admin(by, username)?;
        if token.name.chars().count() > 200 {
            return Err(StoreError::invalid("name", "at most 200 characters"));
        }
        if let Some(expiry) = token.expires_at
            && expiry <= by.now
        {
            return Err(StoreError::invalid("expires_at", "must be in the future"));
        }
        let mut tx = self.begin_write().await?;
        let owner = user_id(&mut tx, username)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?;
        let secret = secret::new_secret();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(owner)
        .bind(token.name.clone())
        .bind(secret::hash(&secret))
        .bind(by.now)
        .bind(token.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let info = TokenInfo {
            id,
            username: username.to_owned(),
            name: token.name,
            created_at: by.now,
            expires_at: token.expires_at,
            revoked_at: None,
        };
        audit(
            &mut tx,
            by,
            ("user", username),
            "token.created",
            None,
            Some(json_of(&info)?),
        )
        .await?;
        tx.commit().await?;
        Ok((info, secret))
    }

    async fn list_tokens(&self, username: &str) -> Result<Vec<TokenInfo>> {
        let rows: Vec<TokenRow> = sqlx::query_as(sql!(
            "SELECT {TOKEN_COLUMNS} WHERE u.username = $1 ORDER BY t.id"
        ))
        .bind(username.to_owned())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(token_of).collect())
    }

    async fn get_token(&self, id: i64) -> Result<Option<TokenInfo>> {
        let row: Option<TokenRow> = sqlx::query_as(sql!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(token_of))
    }

    async fn revoke_token(&self, by: &Caller, id: i64) -> Result<TokenInfo> {
        let mut tx = self.begin_write().await?;
        let row: Option<TokenRow> = sqlx::query_as(sql!("SELECT {TOKEN_COLUMNS} WHERE t.id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let before = token_of(row.ok_or_else(|| StoreError::NotFound(format!("token {id}")))?);
        require_self_or_admin(by, &before.username)?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(by.now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let after = TokenInfo {
            revoked_at: Some(by.now),
            ..before.clone()
        };
        audit(
            &mut tx,
            by,
            ("user", &before.username),
            "token.revoked",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn authenticate(&self, secret: &str, now: DateTime<Utc>) -> Result<Option<Actor>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
             AND u.active = $3",
        )
        .bind(secret::hash(secret))
        .bind(now)
        .bind(true)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(username, role)| Ok(Actor::new(username, parse("users.role", &role)?)))
            .transpose()
    }

    async fn create_ci(&self, by: &Caller, ci: NewCi) -> Result<Ci> {
        require(&by.actor, Permission::ManageCmdb)?;
        let created = Ci {
            name: ci.name,
            class: ci.class,
            environment: ci.environment,
            criticality: ci.criticality,
            owner_group: ci.owner_group,
            attributes: ci.attributes.unwrap_or_else(|| serde_json::json!({})),
            created_at: by.now,
            updated_at: by.now,
        };
        check_ci(&created)?;
        let mut tx = self.begin_write().await?;
        if let Some(group) = &created.owner_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "owner_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query(
            "INSERT INTO cis (name, class, environment, criticality, owner_group, attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(created.name.clone())
        .bind(created.class.clone())
        .bind(created.environment.clone())
        .bind(created.criticality.as_str())
        .bind(created.owner_group.clone())
        .bind(Json(&created.attributes))
        .bind(by.now)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("CI `{}` already exists", created.name)))?;
        audit(
            &mut tx,
            by,
            ("ci", &created.name),
            "ci.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_ci(&self, by: &Caller, name: &str, patch: CiPatch) -> Result<Ci> {
        require(&by.actor, Permission::ManageCmdb)?;
        let mut tx = self.begin_write().await?;
        let (id, before) = load_ci(&mut tx, name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CI `{name}`")))?;
        let after = Ci {
            class: patch.class.unwrap_or_else(|| before.class.clone()),
            environment: patch
                .environment
                .unwrap_or_else(|| before.environment.clone()),
            criticality: patch.criticality.unwrap_or(before.criticality),
            owner_group: patch
                .owner_group
                .unwrap_or_else(|| before.owner_group.clone()),
            attributes: patch
                .attributes
                .unwrap_or_else(|| before.attributes.clone()),
            updated_at: by.now,
            ..before.clone()
        };
        check_ci(&after)?;
        if let Some(group) = &after.owner_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "owner_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query(
            "UPDATE cis SET class = $1, environment = $2, criticality = $3, owner_group = $4, attributes = $5, updated_at = $6 \
             WHERE id = $7",
        )
        .bind(after.class.clone())
        .bind(after.environment.clone())
        .bind(after.criticality.as_str())
        .bind(after.owner_group.clone())
        .bind(Json(&after.attributes))
        .bind(by.now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            by,
            ("ci", name),
            "ci.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn get_ci(&self, name: &str) -> Result<Option<Ci>> {
        let mut tx = self.pool.begin().await?;
        let ci = load_ci(&mut tx, name).await?.map(|(_, ci)| ci);
        tx.commit().await?;
        Ok(ci)
    }

    async fn list_cis(&self, page: PageRequest) -> Result<Page<Ci>> {
        let rows: Vec<CiRow> = sqlx::query_as(sql!(
            "SELECT {CI_COLUMNS} FROM cis WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.after.unwrap_or(0))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(ci_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn create_relationship(&self, by: &Caller, rel: NewRelationship) -> Result<Relationship> {
        require(&by.actor, Permission::ManageCmdb)?;
        if rel.from == rel.to {
            return Err(StoreError::invalid("to", "a CI cannot depend on itself"));
        }
        let mut tx = self.begin_write().await?;
        let from = load_ci(&mut tx, &rel.from).await?;
        let to = load_ci(&mut tx, &rel.to).await?;
        let mut errors = Vec::new();
        if from.is_none() {
            errors.push(FieldError::new(
                "from",
                format!("no CI named `{}`", rel.from),
            ));
        }
        if to.is_none() {
            errors.push(FieldError::new("to", format!("no CI named `{}`", rel.to)));
        }
        let (Some((from_id, _)), Some((to_id, _))) = (from, to) else {
            return Err(StoreError::invalid_fields(errors));
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO relationships (from_ci, to_ci, rel_type, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(from_id)
        .bind(to_id)
        .bind(rel.rel_type.as_str())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_unique(e, || format!("`{}` already {} `{}`", rel.from, rel.rel_type, rel.to)))?;
        let created = Relationship {
            id,
            from: rel.from,
            to: rel.to,
            rel_type: rel.rel_type,
            created_at: by.now,
        };
        audit(
            &mut tx,
            by,
            ("ci", &created.from),
            "relationship.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn list_relationships(&self, ci: &str) -> Result<Vec<Relationship>> {
        let rows: Vec<RelRow> = sqlx::query_as(
            "SELECT r.id, f.name, t.name, r.rel_type, r.created_at FROM relationships r \
             JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci \
             WHERE f.name = $1 OR t.name = $1 ORDER BY r.id LIMIT $2",
        )
        .bind(ci.to_owned())
        .bind(MAX_LIST)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(rel_of).collect()
    }

    async fn create_template(&self, by: &Caller, template: Template) -> Result<Template> {
        require(&by.actor, Permission::ManageTemplates)?;
        check_name("name", &template.name)?;
        let mut errors = Vec::new();
        for (field, text) in [
            ("title", &template.title),
            ("implementation_plan", &template.implementation_plan),
            ("backout_plan", &template.backout_plan),
            ("test_plan", &template.test_plan),
        ] {
            if text.trim().is_empty() {
                errors.push(FieldError::new(field, "required"));
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::invalid_fields(errors));
        }
        let mut tx = self.begin_write().await?;
        if let Some(group) = &template.assignment_group
            && !group_exists(&mut tx, group).await?
        {
            return Err(StoreError::invalid(
                "assignment_group",
                format!("no group named `{group}`"),
            ));
        }
        sqlx::query("INSERT INTO templates (name, active, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
            .bind(template.name.clone())
            .bind(template.active)
            .bind(Json(&template))
            .bind(by.now)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, || format!("template `{}` already exists", template.name)))?;
        audit(
            &mut tx,
            by,
            ("template", &template.name),
            "template.created",
            None,
            Some(json_of(&template)?),
        )
        .await?;
        tx.commit().await?;
        Ok(template)
    }

    async fn get_template(&self, name: &str) -> Result<Option<Template>> {
        let row: Option<Json<Template>> =
            sqlx::query_scalar("SELECT doc FROM templates WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|Json(t)| t))
    }

    async fn list_templates(&self) -> Result<Vec<Template>> {
        let rows: Vec<Json<Template>> =
            sqlx::query_scalar("SELECT doc FROM templates ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|Json(t)| t).collect())
    }

    async fn create_change(&self, by: &Caller, draft: ChangeDraft) -> Result<Change> {
        require(&by.actor, Permission::CreateChange)?;
        let mut tx = self.begin_write().await?;
        let template = match &draft.template {
            Some(name) => {
                sqlx::query_scalar::<_, Json<Template>>("SELECT doc FROM templates WHERE name = $1")
                    .bind(name.clone())
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|Json(t)| t)
            }
            None => None,
        };
        // The sequence row is locked until commit; a refused draft rolls the
        // number back, so numbers have no gaps from bad input.
        let sequence: i64 = sqlx::query_scalar(
            "UPDATE sequences SET value = value + 1 WHERE name = 'change' RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await?;
        let number = ChangeNumber::new(
            u64::try_from(sequence).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        let change = draft.into_change(number, &by.actor.username, template.as_ref(), by.now)?;
        check_references(&mut tx, &change).await?;
        insert_change(&mut tx, &change).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "change.created",
            None,
            Some(json_of(&change)?),
        )
        .await?;
        tx.commit().await?;
        Ok(change)
    }

    async fn get_change(&self, number: ChangeNumber) -> Result<Option<Change>> {
        let row: Option<Json<Change>> =
            sqlx::query_scalar("SELECT doc FROM changes WHERE number = $1")
                .bind(number.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|Json(c)| c))
    }

    async fn list_changes(&self, filter: &ChangeFilter, page: PageRequest) -> Result<Page<Change>> {
        let mut query = QueryBuilder::<Db>::new("SELECT c.id, c.doc FROM changes c WHERE 1 = 1");
        if let Some(state) = filter.state {
            query.push(" AND c.state = ").push_bind(state.as_str());
        }
        if let Some(kind) = filter.change_type {
            query.push(" AND c.change_type = ").push_bind(kind.as_str());
        }
        if let Some(day) = filter.cab_date {
            let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
            let end = start.map(|s| s + chrono::Duration::days(1));
            query
                .push(" AND c.cab_date >= ")
                .push_bind(start)
                .push(" AND c.cab_date < ")
                .push_bind(end);
        }
        if let Some(person) = &filter.requested_by {
            query
                .push(" AND c.requested_by = ")
                .push_bind(person.clone());
        }
        if let Some(group) = &filter.assignment_group {
            query
                .push(" AND c.assignment_group = ")
                .push_bind(group.clone());
        }
        if let Some(ci) = &filter.ci {
            query
                .push(" AND EXISTS (SELECT 1 FROM change_cis x WHERE x.change_id = c.id AND x.ci_name = ")
                .push_bind(ci.clone())
                .push(")");
        }
        if let Some(text) = &filter.q {
            let pattern = like_pattern(text);
            query
                .push(" AND c.search_text LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'");
        }
        if let Some(after) = page.after {
            query.push(" AND c.id < ").push_bind(after);
        }
        query
            .push(" ORDER BY c.id DESC LIMIT ")
            .push_bind(i64::from(page.limit) + 1);
        let rows: Vec<(i64, Json<Change>)> = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(page_of(
            rows.into_iter().map(|(id, Json(c))| (id, c)).collect(),
            page.limit,
        ))
    }

    async fn act_on_change(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        action: Action,
    ) -> Result<Change> {
        let mut tx = self.begin_write().await?;
        let (id, before) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &before)?;
        let directory = load_directory(&mut tx).await?;
        let votes = load_votes(&mut tx, id, Some(before.approval.round)).await?;
        let tasks = load_tasks(&mut tx, id).await?;
        let is_edit = matches!(action, Action::Edit(_));
        let context = Context {
            directory: &directory,
            votes: &votes,
            pending_tasks: tasks.iter().filter(|t| t.state.is_pending()).count(),
            channel: by.channel,
            now: by.now,
        };
        let transition = decide(&before, action, &by.actor, &context)?;
        if is_edit {
            check_references(&mut tx, &transition.change).await?;
        }
        let after = persist_transition(&mut tx, by, id, &before, transition).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn list_votes(&self, number: ChangeNumber) -> Result<Vec<Vote>> {
        let mut tx = self.pool.begin().await?;
        let (id, _) = load_change(&mut tx, number, false).await?;
        let votes = load_votes(&mut tx, id, None).await?;
        tx.commit().await?;
        Ok(votes)
    }

    async fn list_tasks(&self, number: ChangeNumber) -> Result<Vec<Task>> {
        let mut tx = self.pool.begin().await?;
        let (id, _) = load_change(&mut tx, number, false).await?;
        let tasks = load_tasks(&mut tx, id).await?;
        tx.commit().await?;
        Ok(tasks)
    }

    async fn add_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        expected_version: Option<i64>,
        task: NewTask,
    ) -> Result<Task> {
        let mut tx = self.begin_write().await?;
        let (change_id, change) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &change)?;
        let directory = load_directory(&mut tx).await?;
        may_manage_tasks(&change, &by.actor, &directory)?;
        check_task_addable(&change)?;
        check_task_title(&task.title)?;
        check_assignee(&mut tx, task.assignee.as_ref()).await?;
        let count = load_tasks(&mut tx, change_id).await?.len() as i64;
        let position = task.position.unwrap_or(count + 1);
        check_position(position, count + 1).map_err(|e| StoreError::invalid_fields(vec![e]))?;
        sqlx::query(
            "UPDATE tasks SET position = position + 1 WHERE change_id = $1 AND position >= $2",
        )
        .bind(change_id)
        .bind(position)
        .execute(&mut *tx)
        .await?;
        let row: TaskRow = sqlx::query_as(sql!(
            "INSERT INTO tasks (change_id, title, assignee, position, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {TASK_COLUMNS}"
        ))
        .bind(change_id)
        .bind(task.title.trim().to_owned())
        .bind(task.assignee.clone())
        .bind(position)
        .bind(TaskState::Open.as_str())
        .bind(by.now)
        .fetch_one(&mut *tx)
        .await?;
        let created = task_of(row)?;
        touch_change(&mut tx, change_id, &change, by.now).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "task.created",
            None,
            Some(json_of(&created)?),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_task(
        &self,
        by: &Caller,
        number: ChangeNumber,
        task_id: i64,
        expected_version: Option<i64>,
        patch: TaskPatch,
    ) -> Result<Task> {
        let mut tx = self.begin_write().await?;
        let (change_id, change) = load_change(&mut tx, number, true).await?;
        check_version(expected_version, &change)?;
        let tasks = load_tasks(&mut tx, change_id).await?;
        let before = tasks
            .iter()
            .find(|t| t.id == task_id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("task {task_id} of {number}")))?;
        let directory = load_directory(&mut tx).await?;
        may_manage_tasks(&change, &by.actor, &directory)?;
        check_task_addable(&change)?;
        let mut after = before.clone();
        if let Some(title) = patch.title {
            check_task_title(&title)?;
            after.title = title.trim().to_owned();
        }
        if let Some(assignee) = patch.assignee {
            check_assignee(&mut tx, assignee.as_ref()).await?;
            after.assignee = assignee;
        }
        if let Some(state) = patch.state {
            check_task_transition(change.state, before.state, state)?;
            after.state = state;
        }
        if let Some(position) = patch.position {
            check_position(position, tasks.len() as i64)
                .map_err(|e| StoreError::invalid_fields(vec![e]))?;
            move_task(&mut tx, change_id, task_id, before.position, position).await?;
            after.position = position;
        }
        after.updated_at = by.now;
        sqlx::query(
            "UPDATE tasks SET title = $1, assignee = $2, state = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(after.title.clone())
        .bind(after.assignee.clone())
        .bind(after.state.as_str())
        .bind(by.now)
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
        touch_change(&mut tx, change_id, &change, by.now).await?;
        audit(
            &mut tx,
            by,
            ("change", &number.to_string()),
            "task.updated",
            Some(json_of(&before)?),
            Some(json_of(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn audit_trail(
        &self,
        entity_type: &str,
        entity_key: &str,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, entity_type, entity_key, actor, action, channel, before_doc, after_doc, created_at \
             FROM audit_events WHERE entity_type = $1 AND entity_key = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(entity_type.to_owned())
        .bind(entity_key.to_owned())
        .bind(page.after.unwrap_or(0))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(page_of(
            rows.into_iter().map(audit_of).collect::<Result<_>>()?,
            page.limit,
        ))
    }

    async fn pending_outbox(&self, limit: u32) -> Result<Vec<OutboxItem>> {
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, delivery_id, event_type, topic, entity_key, recipients, payload, created_at, attempts, delivered_at \
             FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    delivery_id,
                    event_type,
                    topic,
                    entity_key,
                    Json(recipients),
                    Json(payload),
                    created_at,
                    attempts,
                    delivered_at,
                )| {
                    OutboxItem {
                        id,
                        delivery_id,
                        event_type,
                        topic,
                        entity_key,
                        recipients,
                        payload,
                        created_at,
                        attempts,
                        delivered_at,
                    }
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod dialect_tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_match_user_text_literally() {
        assert_eq!(like_pattern("50%_Off\\"), "%50\\%\\_off\\\\%");
    }
}
