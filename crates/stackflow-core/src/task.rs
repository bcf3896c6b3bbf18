//! Implementation tasks: the sub-tasks of a change.

use crate::change::{Change, MAX_TITLE};
use crate::enums::{ChangeState, TaskState};
use crate::errors::{FieldError, Refusal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One implementation task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    /// Store-assigned id.
    pub id: i64,
    /// What to do.
    pub title: String,
    /// Who does it.
    pub assignee: Option<String>,
    /// Order within the change (1 first).
    pub position: i64,
    /// Progress.
    pub state: TaskState,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write time.
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /api/changes/{number}/tasks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What to do (required).
    pub title: String,
    /// Who does it.
    pub assignee: Option<String>,
    /// Where it goes in the order; appended when absent.
    pub position: Option<i64>,
    /// The change version the client last saw (or send `If-Match`).
    pub version: Option<i64>,
}

/// The body of `PATCH /api/changes/{number}/tasks/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    /// New title.
    pub title: Option<String>,
    /// New assignee, or null to unassign.
    #[serde(default, deserialize_with = "crate::change::present_or_null")]
    pub assignee: Option<Option<String>>,
    /// New position (reorders the others).
    pub position: Option<i64>,
    /// New state.
    pub state: Option<TaskState>,
    /// The change version the client last saw (or send `If-Match`).
    pub version: Option<i64>,
}

/// Tasks may be planned until the change is implemented.
pub fn check_task_addable(change: &Change) -> Result<(), Refusal> {
    if matches!(
        change.state,
        ChangeState::Review | ChangeState::Closed | ChangeState::Canceled
    ) {
        return Err(Refusal::conflict(
            "tasks_only_before_review",
            format!(
                "{} is {}; tasks can no longer be added or changed",
                change.number, change.state
            ),
        ));
    }
    Ok(())
}

/// Validates a task title.
pub fn check_task_title(title: &str) -> Result<(), Refusal> {
    if title.trim().is_empty() {
        Err(Refusal::invalid("title", "required"))
    } else if title.chars().count() > MAX_TITLE {
        Err(Refusal::invalid(
            "title",
            format!("at most {MAX_TITLE} characters"),
        ))
    } else {
        Ok(())
    }
}

/// Whether a task may move from `from` to `to` while its change is in
/// `change_state`. Work (`in_progress`, `done`) happens only while the change
/// is being implemented; skipping is a planning decision allowed any time
/// before review. `done` and `skipped` are final.
pub fn check_task_transition(
    change_state: ChangeState,
    from: TaskState,
    to: TaskState,
) -> Result<(), Refusal> {
    use TaskState::*;
    if from == to {
        return Ok(());
    }
    let allowed = matches!(
        (from, to),
        (Open, InProgress)
            | (Open, Done)
            | (Open, Skipped)
            | (InProgress, Done)
            | (InProgress, Skipped)
            | (InProgress, Open)
    );
    if !allowed {
        return Err(Refusal::conflict(
            "task_transition",
            format!("a task cannot move from {from} to {to}"),
        ));
    }
    if matches!(to, InProgress | Done) && change_state != ChangeState::Implement {
        return Err(Refusal::conflict(
            "task_work_only_while_implementing",
            format!(
                "the change is {change_state}; tasks are worked on only while it is in implement"
            ),
        ));
    }
    Ok(())
}

/// Validates a requested position: 1 up to `count` (the tasks there will be).
pub fn check_position(position: i64, count: i64) -> Result<(), FieldError> {
    if position < 1 || position > count {
        Err(FieldError::new(
            "position",
            format!("must be between 1 and {count}"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tasks_stay_finished_and_work_waits_for_implementation() {
        use TaskState::*;
        assert!(check_task_transition(ChangeState::Implement, Open, Done).is_ok());
        assert!(check_task_transition(ChangeState::Implement, Done, Open).is_err());
        assert!(check_task_transition(ChangeState::Implement, Skipped, InProgress).is_err());
        assert!(check_task_transition(ChangeState::Scheduled, Open, InProgress).is_err());
        assert!(check_task_transition(ChangeState::Scheduled, Open, Skipped).is_ok());
    }
}
