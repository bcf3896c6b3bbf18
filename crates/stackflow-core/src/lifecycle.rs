//! The change state machine: one function decides every transition.
//!
//! | type      | path                                                          |
//! |-----------|---------------------------------------------------------------|
//! | standard  | new → scheduled → implement → review → closed                 |
//! | normal    | new → assess → authorize → scheduled → implement → review → closed |
//! | emergency | new → authorize → scheduled → implement → review → closed     |
//!
//! `canceled` is reachable from every state before `implement`; a rejection
//! returns the change to `new`. [`decide`] checks who may act (role, group,
//! segregation of duties), what must hold first, and lists what the
//! transition causes; the store persists the result in one transaction.

use crate::approval::{StageOutcome, Vote, builtin_plan};
use crate::business_calendar::BusinessCalendar;
use crate::cab::{
    CabOutcome, Meeting, MeetingSchedule, OutcomeEffect, cab_stage_index, decide_outcome,
    next_meeting_for,
};
use crate::calendar::add_business_days;
use crate::change::MAX_TEXT;
use crate::change::{Change, ChangePatch, PirRecord, Rejection};
use crate::directory::{Actor, Directory};
use crate::enums::{
    ApprovalStatus, ChangeState, ChangeType, Channel, CloseCode, Decision, ObjectivesMet, Role,
};
use crate::errors::{FieldError, Refusal};
use crate::workflow::{ChangeFacts, SelectedWorkflow, approval_due_at, resolve_plan};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

/// Business days a normal change's approval round may take.
pub const NORMAL_APPROVAL_BUSINESS_DAYS: u32 = 5;
/// Wall-clock hours an emergency change's approval round may take.
pub const EMERGENCY_APPROVAL_HOURS: i64 = 2;
/// Hours after the end of the work that the post-implementation review is due.
pub const PIR_DUE_HOURS: i64 = 48;

/// Something a person asks to do to a change.
#[derive(Debug, Clone)]
pub enum Action {
    /// Edit fields while `new`.
    Edit(Box<ChangePatch>),
    /// Submit for approval (or schedule, for standard changes).
    Submit,
    /// Vote in the open approval stage.
    Vote {
        /// Approve or reject.
        decision: Decision,
        /// Notes.
        notes: String,
    },
    /// Start implementation.
    Implement,
    /// Finish implementation.
    Complete,
    /// Record the post-implementation review and close.
    Review {
        /// Whether the objectives were met.
        objectives_met: ObjectivesMet,
        /// How it ended.
        close_code: CloseCode,
        /// Lessons learned.
        lessons_learned: String,
    },
    /// Withdraw the change.
    Cancel {
        /// Why.
        reason: String,
    },
    /// Record the CAB meeting's decision on this agenda item.
    CabOutcome {
        /// The meeting that decided (its agenda must hold the change).
        meeting: Meeting,
        /// Approved, rejected or deferred.
        outcome: CabOutcome,
        /// The board's notes.
        notes: String,
    },
}

impl Action {
    /// The audit action name of this action.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Edit(_) => "change.edited",
            Action::Submit => "change.submitted",
            Action::Vote { .. } => "change.voted",
            Action::Implement => "change.implementation_started",
            Action::Complete => "change.implementation_completed",
            Action::Review { .. } => "change.reviewed",
            Action::Cancel { .. } => "change.canceled",
            Action::CabOutcome { .. } => "change.cab_outcome",
        }
    }

    /// Whether deciding this action reads [`Context::votes`]: a vote
    /// counts the votes already cast, and a CAB outcome checks that the
    /// CAB stage's other lanes are approved. The store reads the votes only
    /// then, which spares every other action a query on its write path.
    pub fn reads_votes(&self) -> bool {
        matches!(self, Action::Vote { .. } | Action::CabOutcome { .. })
    }

    /// Whether deciding this action reads [`Context::pending_tasks`]: only
    /// completing the implementation waits for open tasks. The store
    /// counts the tasks only then.
    pub fn reads_pending_tasks(&self) -> bool {
        matches!(self, Action::Complete)
    }
}

/// Everything besides the change that a decision depends on, read in the
/// same transaction that will persist the result.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Groups and their members now.
    pub directory: &'a Directory,
    /// Votes of the change's current round. Read by [`decide`] only for
    /// an action that [`Action::reads_votes`] (the store leaves it empty
    /// otherwise), and by [`reevaluate`].
    pub votes: &'a [Vote],
    /// Implementation tasks still open or in progress. Read only for an
    /// action that [`Action::reads_pending_tasks`] (0 otherwise).
    pub pending_tasks: usize,
    /// How the action arrived.
    pub channel: Channel,
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// On submit: the workflow selected for the change, with its facts;
    /// `None` plans the round with the built-in policy.
    pub workflow: Option<&'a SelectedWorkflow>,
    /// The business calendar for the approval SLA; `None` keeps the
    /// Monday–Friday UTC count for workflows without an SLA of their own.
    pub calendar: Option<&'a BusinessCalendar>,
    /// The CAB meeting schedule: places a normal change entering
    /// `authorize` on its next meeting, and decides CAB outcomes; `None`
    /// leaves `cab_date` alone (and refuses outcomes).
    pub cab_schedule: Option<&'a MeetingSchedule>,
}

/// A message that a transition implies, written to the outbox with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Notification {
    /// Event type, e.g. `change.approval_requested`.
    pub event: &'static str,
    /// Event topic for webhook subscribers.
    pub topic: &'static str,
    /// Usernames to notify by email and in the portal.
    pub recipients: Vec<String>,
    /// Event payload.
    pub data: serde_json::Value,
}

/// An accepted action: the change as it will be, the vote to record, and what
/// else to write with it.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The change after the action (version bumped).
    pub change: Change,
    /// The vote, for a vote.
    pub vote: Option<Vote>,
    /// Audit action name.
    pub audit_action: &'static str,
    /// Notifications for the outbox.
    pub notifications: Vec<Notification>,
}

/// Topic of approval events (the seed's `change-approvals`).
pub const TOPIC_APPROVALS: &str = "change-approvals";
/// Topic of every other change event.
pub const TOPIC_CHANGES: &str = "changes";

/// Decides whether `actor` may perform `action` on `change` now, and if so
/// what follows. Pure: the caller persists the transition.
pub fn decide(
    change: &Change,
    action: Action,
    actor: &Actor,
    ctx: &Context<'_>,
) -> Result<Transition, Refusal> {
    if change.state.is_terminal() {
        return Err(Refusal::conflict(
            "change_is_final",
            format!(
                "{} is {} and can no longer change",
                change.number, change.state
            ),
        ));
    }
    if actor.role == Role::Viewer && !matches!(action, Action::Vote { .. }) {
        return Err(Refusal::forbidden(
            "role_read_only",
            "viewers may not change anything",
        ));
    }
    let audit_action = action.name();
    let mut next = change.clone();
    let mut vote = None;
    let mut notifications = Vec::new();
    match action {
        Action::Edit(patch) => {
            require_state(change, &[ChangeState::New], "edit_only_in_new")?;
            require_owner_or_manager(change, actor, "edit_by_requester_or_manager")?;
            next = (*patch).apply(change)?;
        }
        Action::Submit => submit(change, actor, ctx, &mut next, &mut notifications)?,
        Action::Vote { decision, notes } => {
            vote = Some(cast_vote(
                change,
                actor,
                ctx,
                decision,
                notes,
                &mut next,
                &mut notifications,
            )?);
        }
        Action::Implement => {
            require_state(
                change,
                &[ChangeState::Scheduled],
                "implement_only_when_scheduled",
            )?;
            require_implementer(change, actor, ctx.directory)?;
            next.state = ChangeState::Implement;
            next.implementation_started_at = Some(ctx.now);
            notifications.push(event(
                &next,
                "change.implementation_started",
                TOPIC_CHANGES,
                watchers(&next),
            ));
        }
        Action::Complete => {
            require_state(
                change,
                &[ChangeState::Implement],
                "complete_only_when_implementing",
            )?;
            require_implementer(change, actor, ctx.directory)?;
            if ctx.pending_tasks > 0 {
                return Err(Refusal::conflict(
                    "tasks_open",
                    format!(
                        "{} implementation task(s) are still open or in progress",
                        ctx.pending_tasks
                    ),
                ));
            }
            next.state = ChangeState::Review;
            next.implementation_completed_at = Some(ctx.now);
            if change.change_type == ChangeType::Emergency {
                // An emergency change's review is due within 48 hours of the work.
                let latest = ctx.now + Duration::hours(PIR_DUE_HOURS);
                next.pir.due_at = Some(next.pir.due_at.map_or(latest, |due| due.min(latest)));
            }
            notifications.push(event(
                &next,
                "change.review_due",
                TOPIC_CHANGES,
                vec![change.requested_by.clone()],
            ));
        }
        Action::Review {
            objectives_met,
            close_code,
            lessons_learned,
        } => {
            require_state(
                change,
                &[ChangeState::Review],
                "review_only_after_implementation",
            )?;
            require_owner_or_manager(change, actor, "review_by_requester_or_manager")?;
            if close_code == CloseCode::Canceled {
                return Err(Refusal::invalid(
                    "close_code",
                    "an implemented change closes as successful, successful_with_issues or unsuccessful",
                ));
            }
            check_text("lessons_learned", &lessons_learned)?;
            next.state = ChangeState::Closed;
            next.close_code = Some(close_code);
            next.pir.review = Some(PirRecord {
                objectives_met,
                close_code,
                lessons_learned,
                reviewed_by: actor.username.clone(),
                reviewed_at: ctx.now,
            });
            notifications.push(event(
                &next,
                "change.closed",
                TOPIC_CHANGES,
                watchers(&next),
            ));
        }
        Action::Cancel { reason } => {
            require_state(
                change,
                &[
                    ChangeState::New,
                    ChangeState::Assess,
                    ChangeState::Authorize,
                    ChangeState::Scheduled,
                ],
                "cancel_only_before_implementation",
            )?;
            require_owner_or_manager(change, actor, "cancel_by_requester_or_manager")?;
            if reason.trim().is_empty() {
                return Err(Refusal::invalid("reason", "required"));
            }
            check_text("reason", &reason)?;
            next.state = ChangeState::Canceled;
            next.close_code = Some(CloseCode::Canceled);
            next.cancel_reason = Some(reason);
            // A withdrawn change owes no approval and no review: clear the
            // clocks so no timer escalates it. The status keeps the last
            // word on approval; the state says it was withdrawn.
            next.approval.current_stage = None;
            next.approval.due_at = None;
            next.pir.due_at = None;
            notifications.push(event(
                &next,
                "change.canceled",
                TOPIC_CHANGES,
                watchers(&next),
            ));
        }
        Action::CabOutcome {
            meeting,
            outcome,
            notes,
        } => record_cab_outcome(
            change,
            actor,
            ctx,
            (&meeting, outcome, &notes),
            &mut next,
            &mut notifications,
        )?,
    }
    place_on_cab(change, ctx, &mut next);
    next.version = change.version + 1;
    next.updated_at = ctx.now;
    Ok(Transition {
        change: next,
        vote,
        audit_action,
        notifications,
    })
}

fn submit(
    change: &Change,
    actor: &Actor,
    ctx: &Context<'_>,
    next: &mut Change,
    notifications: &mut Vec<Notification>,
) -> Result<(), Refusal> {
    require_state(change, &[ChangeState::New], "submit_only_when_new")?;
    require_owner_or_manager(change, actor, "submit_by_requester_or_manager")?;
    let missing = change.missing_for_submit();
    if !missing.is_empty() {
        return Err(Refusal::Invalid(missing));
    }
    if change.change_type == ChangeType::Standard {
        // Pre-approved by its template: straight to scheduled.
        next.state = ChangeState::Scheduled;
        next.approval.status = ApprovalStatus::Approved;
        next.approval.round = change.approval.round + 1;
        next.approval.requested_at = Some(ctx.now);
        next.approval.decided_at = Some(ctx.now);
        next.approval.pre_approved_by_template = change.template.clone();
        schedule_pir(next);
        notifications.push(event(
            next,
            "change.scheduled",
            TOPIC_CHANGES,
            watchers(next),
        ));
        return Ok(());
    }
    let (plan, sla) = match ctx.workflow {
        Some(selected) => {
            // The change itself is the authority on these facts.
            let facts = ChangeFacts {
                change_type: change.change_type,
                requester: change.requested_by.clone(),
                assignment_group: change.assignment_group.clone(),
                ..selected.facts.clone()
            };
            let plan = resolve_plan(&selected.workflow, &facts, ctx.directory)?;
            (plan, selected.workflow.document.sla)
        }
        None => {
            let plan = builtin_plan(
                change.change_type,
                change.assignment_group.as_deref(),
                &change.requested_by,
                ctx.directory,
            )?;
            (plan, None)
        }
    };
    let first = plan.stages.first().ok_or_else(|| {
        Refusal::conflict(
            "approval_plan_empty",
            "the approval plan for this change has no stage",
        )
    })?;
    next.state = first.state;
    let approvers = first.eligible(ctx.directory, &change.requested_by);
    next.approval.status = ApprovalStatus::Requested;
    next.approval.round = change.approval.round + 1;
    next.approval.current_stage = Some(0);
    next.approval.requested_at = Some(ctx.now);
    next.approval.decided_at = None;
    next.approval.sla_breached = false;
    next.approval.due_at = Some(match (ctx.calendar, sla) {
        (Some(calendar), _) => approval_due_at(sla, change.change_type, ctx.now, calendar),
        (None, Some(_)) => approval_due_at(
            sla,
            change.change_type,
            ctx.now,
            &BusinessCalendar::default_calendar(),
        ),
        // No calendar configured and no SLA of the workflow's own: the
        // count every change had before calendars existed.
        (None, None) => match change.change_type {
            ChangeType::Emergency => ctx.now + Duration::hours(EMERGENCY_APPROVAL_HOURS),
            _ => add_business_days(ctx.now, NORMAL_APPROVAL_BUSINESS_DAYS),
        },
    });
    let stage_name = first.name.clone();
    next.approval.plan = Some(plan);
    notifications.push(approval_requested(next, &stage_name, approvers));
    Ok(())
}

fn cast_vote(
    change: &Change,
    actor: &Actor,
    ctx: &Context<'_>,
    decision: Decision,
    notes: String,
    next: &mut Change,
    notifications: &mut Vec<Notification>,
) -> Result<Vote, Refusal> {
    let (Some(plan), Some(stage_index), ApprovalStatus::Requested) = (
        &change.approval.plan,
        change.approval.current_stage,
        change.approval.status,
    ) else {
        return Err(Refusal::conflict(
            "no_open_approval",
            format!(
                "{} is {} and has no approval stage open",
                change.number, change.state
            ),
        ));
    };
    if actor.username == change.requested_by {
        return Err(Refusal::forbidden(
            "segregation_of_duties",
            "the requester of a change may not approve it",
        ));
    }
    let stage = &plan.stages[stage_index];
    if !stage
        .eligible(ctx.directory, &change.requested_by)
        .contains(&actor.username)
    {
        return Err(Refusal::forbidden(
            "not_an_approver",
            format!(
                "{} is not an approver of the open stage `{}`",
                actor.username, stage.name
            ),
        ));
    }
    let round = change.approval.round;
    let mut stage_votes: Vec<&Vote> = ctx
        .votes
        .iter()
        .filter(|v| v.round == round && v.stage == stage_index)
        .collect();
    if stage_votes.iter().any(|v| v.voter == actor.username) {
        return Err(Refusal::conflict(
            "already_voted",
            format!(
                "{} has already voted in stage `{}` of round {round}",
                actor.username, stage.name
            ),
        ));
    }
    check_text("notes", &notes)?;
    let vote = Vote {
        round,
        stage: stage_index,
        voter: actor.username.clone(),
        decision,
        notes,
        channel: ctx.channel,
        at: ctx.now,
    };
    stage_votes.push(&vote);
    let outcome = stage.outcome(ctx.directory, &change.requested_by, &stage_votes);
    settle_stage(
        change,
        stage_index,
        outcome,
        (&vote.voter, &vote.notes),
        ctx,
        next,
        notifications,
    );
    Ok(vote)
}

/// Applies a settled stage outcome: a rejection returns the change to `new`
/// (recording who decided it), an approval opens the next stage or, after
/// the last, schedules the change.
fn settle_stage(
    change: &Change,
    stage_index: usize,
    outcome: StageOutcome,
    (by, notes): (&str, &str),
    ctx: &Context<'_>,
    next: &mut Change,
    notifications: &mut Vec<Notification>,
) {
    let Some(plan) = &change.approval.plan else {
        return;
    };
    let Some(stage) = plan.stages.get(stage_index) else {
        return;
    };
    match outcome {
        StageOutcome::Pending => {}
        StageOutcome::Rejected => {
            next.state = ChangeState::New;
            next.approval.status = ApprovalStatus::Rejected;
            next.approval.current_stage = None;
            next.approval.decided_at = Some(ctx.now);
            next.rejections.push(Rejection {
                round: change.approval.round,
                stage: stage.name.clone(),
                by: by.to_owned(),
                notes: notes.to_owned(),
                at: ctx.now,
            });
            notifications.push(event(
                next,
                "change.rejected",
                TOPIC_APPROVALS,
                vec![change.requested_by.clone()],
            ));
        }
        StageOutcome::Approved => match plan.stages.get(stage_index + 1) {
            Some(following) => {
                next.state = following.state;
                next.approval.current_stage = Some(stage_index + 1);
                let approvers = following.eligible(ctx.directory, &change.requested_by);
                notifications.push(approval_requested(next, &following.name, approvers));
            }
            None => {
                next.state = ChangeState::Scheduled;
                next.approval.status = ApprovalStatus::Approved;
                next.approval.current_stage = None;
                next.approval.decided_at = Some(ctx.now);
                schedule_pir(next);
                notifications.push(event(
                    next,
                    "change.approved",
                    TOPIC_APPROVALS,
                    watchers(next),
                ));
            }
        },
    }
}

/// Re-evaluates a change's open approval stage after its approvers changed
/// (someone left a group or was deactivated): the votes already cast may
/// now settle it. `None` when nothing changes. The transition is the
/// system's, not a person's action, so it needs no permission.
pub fn reevaluate(change: &Change, ctx: &Context<'_>) -> Option<Transition> {
    let (Some(plan), Some(stage_index), ApprovalStatus::Requested) = (
        &change.approval.plan,
        change.approval.current_stage,
        change.approval.status,
    ) else {
        return None;
    };
    if change.state.is_terminal() {
        return None;
    }
    let stage = plan.stages.get(stage_index)?;
    let round = change.approval.round;
    let stage_votes: Vec<&Vote> = ctx
        .votes
        .iter()
        .filter(|v| v.round == round && v.stage == stage_index)
        .collect();
    let outcome = stage.outcome(ctx.directory, &change.requested_by, &stage_votes);
    if outcome == StageOutcome::Pending {
        return None;
    }
    let decider = stage_votes
        .iter()
        .rev()
        .find(|v| v.decision == Decision::Rejected)
        .map_or(("approver change", ""), |v| {
            (v.voter.as_str(), v.notes.as_str())
        });
    let mut next = change.clone();
    let mut notifications = Vec::new();
    settle_stage(
        change,
        stage_index,
        outcome,
        decider,
        ctx,
        &mut next,
        &mut notifications,
    );
    place_on_cab(change, ctx, &mut next);
    next.version = change.version + 1;
    next.updated_at = ctx.now;
    Some(Transition {
        change: next,
        vote: None,
        audit_action: "change.approval_reevaluated",
        notifications,
    })
}

/// Applies the CAB's decision on an agenda item: an approval settles the
/// CAB stage as approving votes would, a rejection as a rejecting vote
/// would (recording the person who recorded it), a deferral moves the
/// change to the next meeting.
fn record_cab_outcome(
    change: &Change,
    actor: &Actor,
    ctx: &Context<'_>,
    (meeting, outcome, notes): (&Meeting, CabOutcome, &str),
    next: &mut Change,
    notifications: &mut Vec<Notification>,
) -> Result<(), Refusal> {
    if !actor.is_manager() {
        return Err(Refusal::forbidden(
            "cab_outcome_by_manager",
            "only a change manager or an admin records CAB outcomes",
        ));
    }
    // Segregation of duties holds for the board's decision too: a change
    // manager who requested the change may defer it, not decide it.
    if actor.username == change.requested_by && outcome != CabOutcome::Deferred {
        return Err(Refusal::forbidden(
            "segregation_of_duties",
            "the requester of a change may not record the CAB's decision on it",
        ));
    }
    check_text("notes", notes)?;
    let Some(schedule) = ctx.cab_schedule else {
        return Err(Refusal::conflict(
            "cab_schedule_missing",
            "no CAB schedule is known to place the outcome against",
        ));
    };
    match decide_outcome(change, meeting, outcome, schedule)? {
        OutcomeEffect::ApproveCabStage { stage, round } => {
            require_other_lanes_approved(change, stage, round, ctx)?;
            settle_stage(
                change,
                stage,
                StageOutcome::Approved,
                (&actor.username, notes),
                ctx,
                next,
                notifications,
            );
        }
        OutcomeEffect::RejectChange { stage, .. } => settle_stage(
            change,
            stage,
            StageOutcome::Rejected,
            (&actor.username, notes),
            ctx,
            next,
            notifications,
        ),
        OutcomeEffect::MoveToMeeting { to, .. } => next.cab_date = Some(to.start),
    }
    Ok(())
}

/// A meeting's approval stands in for the votes of the CAB's lanes only:
/// any other lane of the CAB stage is a review of its own, which its
/// approvers' votes must have approved first (`cab_outcome_lanes_pending`).
fn require_other_lanes_approved(
    change: &Change,
    stage_index: usize,
    round: u32,
    ctx: &Context<'_>,
) -> Result<(), Refusal> {
    let Some(stage) = change
        .approval
        .plan
        .as_ref()
        .and_then(|plan| plan.stages.get(stage_index))
    else {
        return Ok(());
    };
    let votes: Vec<&Vote> = ctx
        .votes
        .iter()
        .filter(|v| v.round == round && v.stage == stage_index)
        .collect();
    let waiting =
        stage.lanes_awaiting_votes_besides_cab(ctx.directory, &change.requested_by, &votes);
    if waiting.is_empty() {
        return Ok(());
    }
    Err(Refusal::conflict(
        "cab_outcome_lanes_pending",
        format!(
            "{}: the meeting decides the CAB's lane of stage `{}`, not lane(s) `{}`, which still wait for their approvers' votes; defer it, or record the approval once they approved",
            change.number,
            stage.name,
            waiting.join("`, `")
        ),
    ))
}

/// A normal change entering `authorize` goes on the first CAB meeting
/// whose agenda cut-off it makes, when its plan has a CAB stage; a
/// resubmission is placed afresh. Without a CAB stage (a workflow with
/// none) no meeting decides it: it goes on no agenda, and a meeting date
/// left from an earlier round is cleared.
fn place_on_cab(change: &Change, ctx: &Context<'_>, next: &mut Change) {
    let entering = change.state != ChangeState::Authorize && next.state == ChangeState::Authorize;
    if !entering || next.change_type != ChangeType::Normal {
        return;
    }
    if cab_stage_index(next).is_none() {
        next.cab_date = None;
    } else if let Some(schedule) = ctx.cab_schedule {
        next.cab_date = next_meeting_for(schedule, ctx.now).map(|meeting| meeting.start);
    }
}

/// The PIR is due 48 hours after the planned end of the work.
fn schedule_pir(change: &mut Change) {
    change.pir.due_at = change
        .planned_end
        .map(|end| end + Duration::hours(PIR_DUE_HOURS));
}

fn require_state(
    change: &Change,
    allowed: &[ChangeState],
    rule: &'static str,
) -> Result<(), Refusal> {
    if allowed.contains(&change.state) {
        Ok(())
    } else {
        let names: Vec<_> = allowed.iter().map(|s| s.as_str()).collect();
        Err(Refusal::conflict(
            rule,
            format!(
                "{} is {}; this needs state {}",
                change.number,
                change.state,
                names.join(" or ")
            ),
        ))
    }
}

fn require_owner_or_manager(
    change: &Change,
    actor: &Actor,
    rule: &'static str,
) -> Result<(), Refusal> {
    if actor.username == change.requested_by || actor.is_manager() {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            rule,
            format!(
                "only the requester ({}) or a change manager may do this",
                change.requested_by
            ),
        ))
    }
}

/// Implementation is done by the assignee, the assignment group, the
/// requester or a change manager.
fn require_implementer(
    change: &Change,
    actor: &Actor,
    directory: &Directory,
) -> Result<(), Refusal> {
    let in_group = change
        .assignment_group
        .as_deref()
        .is_some_and(|g| directory.is_member(g, &actor.username));
    if in_group
        || change.assigned_to.as_deref() == Some(actor.username.as_str())
        || actor.username == change.requested_by
        || actor.is_manager()
    {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            "implementation_by_assignees",
            "only the assignee, the assignment group, the requester or a change manager may do this",
        ))
    }
}

/// Whether `actor` may add and update this change's implementation tasks.
pub fn may_manage_tasks(
    change: &Change,
    actor: &Actor,
    directory: &Directory,
) -> Result<(), Refusal> {
    if actor.role == Role::Viewer {
        return Err(Refusal::forbidden(
            "role_read_only",
            "viewers may not change anything",
        ));
    }
    require_implementer(change, actor, directory)
}

fn check_text(field: &str, text: &str) -> Result<(), Refusal> {
    if text.chars().count() > MAX_TEXT {
        Err(Refusal::Invalid(vec![FieldError::new(
            field,
            format!("at most {MAX_TEXT} characters"),
        )]))
    } else {
        Ok(())
    }
}

/// The requester, the assignee and nobody twice.
fn watchers(change: &Change) -> Vec<String> {
    let mut people = vec![change.requested_by.clone()];
    if let Some(assignee) = &change.assigned_to
        && assignee != &change.requested_by
    {
        people.push(assignee.clone());
    }
    people
}

fn approval_requested(change: &Change, stage: &str, approvers: Vec<String>) -> Notification {
    let mut note = event(
        change,
        "change.approval_requested",
        TOPIC_APPROVALS,
        approvers,
    );
    note.data["stage"] = json!(stage);
    note.data["round"] = json!(change.approval.round);
    note.data["due_at"] = json!(change.approval.due_at);
    note
}

pub(crate) fn event(
    change: &Change,
    name: &'static str,
    topic: &'static str,
    recipients: Vec<String>,
) -> Notification {
    Notification {
        event: name,
        topic,
        recipients,
        data: json!({
            "number": change.number,
            "type": change.change_type,
            "state": change.state,
            "title": change.title,
            "requested_by": change.requested_by,
        }),
    }
}
