//! Escalations when a due time passes: the approval SLA of an open round,
//! and a post-implementation review not recorded in time. Each escalates
//! once: the change carries the mark (`approval.sla_breached`,
//! `pir.escalated_at`), so a timer that fires twice finds nothing to do.
//! Pure: the job worker calls these when a timer falls due and persists
//! the transition they return.

use crate::change::Change;
use crate::enums::{ApprovalStatus, ChangeState};
use crate::lifecycle::{TOPIC_CHANGES, Transition, event};
use chrono::{DateTime, Utc};
use serde_json::json;

/// When a round's approval SLA timer fires: the round it was set for is
/// still open and past its due time, and not yet marked breached, so mark
/// it and tell the change managers. `None` when there is nothing to do
/// (decided, a later round, not yet due, already escalated).
pub fn breach_approval_sla(
    change: &Change,
    round: u32,
    change_managers: Vec<String>,
    now: DateTime<Utc>,
) -> Option<Transition> {
    let approval = &change.approval;
    let due = approval.due_at?;
    let open = approval.status == ApprovalStatus::Requested && approval.round == round;
    if !open || approval.sla_breached || due > now {
        return None;
    }
    let mut next = change.clone();
    next.approval.sla_breached = true;
    next.version = change.version + 1;
    next.updated_at = now;
    let mut note = event(&next, "change.sla_breached", TOPIC_CHANGES, change_managers);
    note.data["round"] = json!(round);
    note.data["due_at"] = json!(due);
    note.data["stage"] = json!(
        approval
            .current_stage
            .zip(approval.plan.as_ref())
            .and_then(|(index, plan)| plan.stages.get(index))
            .map(|stage| stage.name.clone())
    );
    Some(Transition {
        change: next,
        vote: None,
        audit_action: "change.sla_breached",
        notifications: vec![note],
    })
}

/// When a review's timer fires: the change was implemented (or is being)
/// but its review is not recorded and is past due, so mark it and tell the
/// change managers. `None` when there is nothing to do.
pub fn escalate_overdue_review(
    change: &Change,
    change_managers: Vec<String>,
    now: DateTime<Utc>,
) -> Option<Transition> {
    let due = change.pir.due_at?;
    let awaiting_review = matches!(
        change.state,
        ChangeState::Scheduled | ChangeState::Implement | ChangeState::Review
    );
    if !awaiting_review
        || change.pir.review.is_some()
        || change.pir.escalated_at.is_some()
        || due > now
    {
        return None;
    }
    let mut next = change.clone();
    next.pir.escalated_at = Some(now);
    next.version = change.version + 1;
    next.updated_at = now;
    let mut note = event(
        &next,
        "change.review_overdue",
        TOPIC_CHANGES,
        change_managers,
    );
    note.data["due_at"] = json!(due);
    Some(Transition {
        change: next,
        vote: None,
        audit_action: "change.review_overdue",
        notifications: vec![note],
    })
}
