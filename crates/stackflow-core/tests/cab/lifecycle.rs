//! The CAB in the lifecycle: placement of a normal change entering
//! `authorize` on its next meeting, and `Action::CabOutcome`.

use super::support::{change_on, london_thursdays, utc, vote};
use chrono::{DateTime, Utc};
use stackflow_core::approval::{Approvers, Lane, LaneRule};
use stackflow_core::cab::{CabOutcome, Meeting, MeetingSchedule, meeting_by_id};
use stackflow_core::{
    Action, Actor, ApprovalStatus, Change, ChangeState, ChangeType, Channel, Context, Decision,
    Directory, GroupInfo, GroupKind, Refusal, Role, Transition, Vote, decide,
};

/// The first meeting after the tests' start (Thursday 26 November, 14:00 GMT).
const MEETING: &str = "2026-11-26T1400";

fn directory() -> Directory {
    let group = |name: &str, kind, members: &[&str]| GroupInfo {
        name: name.into(),
        kind,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    };
    Directory::of_groups(vec![
        group("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
        group("dba", GroupKind::Implementation, &["ivan"]),
    ])
}

fn meeting(schedule: &MeetingSchedule, id: &str) -> Meeting {
    meeting_by_id(schedule, id).expect("a meeting of the schedule")
}

fn act(
    change: &Change,
    action: Action,
    actor: &Actor,
    now: DateTime<Utc>,
    schedule: Option<&MeetingSchedule>,
) -> Result<Transition, Refusal> {
    act_after(change, &[], action, actor, now, schedule)
}

/// `act` with `votes` already cast in the change's round.
fn act_after(
    change: &Change,
    votes: &[Vote],
    action: Action,
    actor: &Actor,
    now: DateTime<Utc>,
    schedule: Option<&MeetingSchedule>,
) -> Result<Transition, Refusal> {
    let directory = directory();
    let ctx = Context {
        directory: &directory,
        votes,
        pending_tasks: 0,
        channel: Channel::Api,
        now,
        workflow: None,
        calendar: None,
        cab_schedule: schedule,
    };
    decide(change, action, actor, &ctx)
}

/// A normal change in `assess`, its technical assessment open, unplaced.
fn assessing() -> Change {
    let mut change = change_on(7, utc("2026-01-01T14:00:00Z"));
    change.state = ChangeState::Assess;
    change.approval.current_stage = Some(0);
    change.cab_date = None;
    change
}

fn approval_by_ivan(change: &Change, now: &str, schedule: Option<&MeetingSchedule>) -> Change {
    let vote = Action::Vote {
        decision: Decision::Approved,
        notes: String::new(),
    };
    act(
        change,
        vote,
        &Actor::new("ivan", Role::Implementer),
        utc(now),
        schedule,
    )
    .expect("ivan approves")
    .change
}

fn outcome(outcome: CabOutcome, schedule: &MeetingSchedule) -> Action {
    Action::CabOutcome {
        meeting: meeting(schedule, MEETING),
        outcome,
        notes: "board notes".into(),
    }
}

fn manager() -> Actor {
    Actor::new("max", Role::ChangeManager)
}

#[test]
fn entering_authorize_places_the_change_on_the_first_meeting_whose_cutoff_it_makes() {
    let schedule = london_thursdays();
    // 25 hours before the meeting: the 24-hour cut-off is made.
    let early = approval_by_ivan(&assessing(), "2026-11-25T13:00:00Z", Some(&schedule));
    assert_eq!(early.state, ChangeState::Authorize);
    assert_eq!(early.cab_date, Some(utc("2026-11-26T14:00:00Z")));
    // 23 hours before: the next week's meeting.
    let late = approval_by_ivan(&assessing(), "2026-11-25T15:00:00Z", Some(&schedule));
    assert_eq!(late.cab_date, Some(utc("2026-12-03T14:00:00Z")));
}

#[test]
fn without_a_schedule_the_cab_date_is_left_alone() {
    let change = approval_by_ivan(&assessing(), "2026-11-25T13:00:00Z", None);
    assert_eq!(change.state, ChangeState::Authorize);
    assert_eq!(change.cab_date, None);
}

#[test]
fn an_emergency_change_entering_authorize_is_not_placed() {
    let mut change = assessing();
    change.change_type = ChangeType::Emergency;
    let change = approval_by_ivan(&change, "2026-11-25T13:00:00Z", Some(&london_thursdays()));
    assert_eq!(change.cab_date, None);
}

#[test]
fn an_approved_outcome_settles_the_cab_stage_and_schedules_the_change() {
    let schedule = london_thursdays();
    let change = change_on(1, utc("2026-11-26T14:00:00Z"));
    let transition = act(
        &change,
        outcome(CabOutcome::Approved, &schedule),
        &manager(),
        utc("2026-11-26T14:30:00Z"),
        Some(&schedule),
    )
    .expect("approved");
    assert_eq!(transition.audit_action, "change.cab_outcome");
    assert_eq!(transition.change.state, ChangeState::Scheduled);
    assert_eq!(transition.change.approval.status, ApprovalStatus::Approved);
    assert_eq!(transition.change.version, change.version + 1);
    let events: Vec<_> = transition.notifications.iter().map(|n| n.event).collect();
    assert_eq!(events, ["change.approved"]);
    assert!(transition.vote.is_none(), "an outcome is not a vote");
}

#[test]
fn a_rejected_outcome_returns_the_change_to_new_recording_who_recorded_it() {
    let schedule = london_thursdays();
    let change = change_on(1, utc("2026-11-26T14:00:00Z"));
    let transition = act(
        &change,
        outcome(CabOutcome::Rejected, &schedule),
        &manager(),
        utc("2026-11-26T14:30:00Z"),
        Some(&schedule),
    )
    .expect("rejected");
    let after = transition.change;
    assert_eq!(after.state, ChangeState::New);
    assert_eq!(after.approval.status, ApprovalStatus::Rejected);
    let rejection = after.rejections.last().expect("a rejection");
    assert_eq!(
        (rejection.by.as_str(), rejection.notes.as_str()),
        ("max", "board notes")
    );
    assert_eq!(rejection.stage, "CAB authorisation");
    let events: Vec<_> = transition.notifications.iter().map(|n| n.event).collect();
    assert_eq!(events, ["change.rejected"]);
}

#[test]
fn a_deferred_outcome_moves_the_change_to_the_next_meeting() {
    let schedule = london_thursdays();
    let change = change_on(1, utc("2026-11-26T14:00:00Z"));
    let after = act(
        &change,
        outcome(CabOutcome::Deferred, &schedule),
        &manager(),
        utc("2026-11-26T14:30:00Z"),
        Some(&schedule),
    )
    .expect("deferred")
    .change;
    assert_eq!(after.state, ChangeState::Authorize);
    assert_eq!(after.approval.status, ApprovalStatus::Requested);
    assert_eq!(after.cab_date, Some(utc("2026-12-03T14:00:00Z")));
}

#[test]
fn outcomes_are_recorded_by_managers_only_for_changes_on_the_agenda() {
    let schedule = london_thursdays();
    let change = change_on(1, utc("2026-11-26T14:00:00Z"));
    let now = utc("2026-11-26T14:30:00Z");
    let cab_member = Actor::new("bob", Role::Requester);
    let refused = act(
        &change,
        outcome(CabOutcome::Approved, &schedule),
        &cab_member,
        now,
        Some(&schedule),
    );
    assert!(matches!(
        refused,
        Err(Refusal::Forbidden {
            rule: "cab_outcome_by_manager",
            ..
        })
    ));
    let elsewhere = change_on(2, utc("2026-12-03T14:00:00Z"));
    let refused = act(
        &elsewhere,
        outcome(CabOutcome::Approved, &schedule),
        &manager(),
        now,
        Some(&schedule),
    );
    assert!(matches!(
        refused,
        Err(Refusal::Conflict {
            rule: "cab_outcome_not_on_agenda",
            ..
        })
    ));
    let unknown_schedule = act(
        &change,
        outcome(CabOutcome::Approved, &schedule),
        &manager(),
        now,
        None,
    );
    assert!(matches!(
        unknown_schedule,
        Err(Refusal::Conflict {
            rule: "cab_schedule_missing",
            ..
        })
    ));
}

/// A normal change in `assess` whose plan has no CAB stage: a workflow
/// without a `cab: true` stage, whose last stage still runs in `authorize`.
fn assessing_without_cab() -> Change {
    let mut change = assessing();
    change.cab_date = Some(utc("2026-01-01T14:00:00Z"));
    for stage in &mut change.approval.plan.as_mut().unwrap().stages {
        for lane in &mut stage.lanes {
            lane.board = None;
        }
    }
    change
}

#[test]
fn a_change_without_a_cab_stage_goes_on_no_agenda() {
    let schedule = london_thursdays();
    let change = approval_by_ivan(
        &assessing_without_cab(),
        "2026-11-25T13:00:00Z",
        Some(&schedule),
    );
    assert_eq!(change.state, ChangeState::Authorize);
    assert_eq!(change.cab_date, None, "not placed, nor left on an old date");
    // Nor can a meeting record an outcome for it (the CAB stage's voters
    // decide it: here the lane of the group `CAB`, which is no CAB lane).
    let mut placed = change.clone();
    placed.cab_date = Some(utc("2026-11-26T14:00:00Z"));
    let refused = act(
        &placed,
        outcome(CabOutcome::Approved, &schedule),
        &manager(),
        utc("2026-11-26T14:30:00Z"),
        Some(&schedule),
    );
    assert!(
        matches!(
            refused,
            Err(Refusal::Conflict {
                rule: "cab_stage_not_open",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_meeting_approves_only_the_cab_lane_of_its_stage() {
    let schedule = london_thursdays();
    let mut change = change_on(1, utc("2026-11-26T14:00:00Z"));
    // The CAB stage has a second lane, ivan's own review.
    change.approval.plan.as_mut().unwrap().stages[1]
        .lanes
        .push(Lane {
            name: "Security".into(),
            approvers: Approvers::Users(vec!["ivan".into()]),
            rule: LaneRule::Any,
            board: None,
        });
    let now = utc("2026-11-26T14:30:00Z");
    let approved = || outcome(CabOutcome::Approved, &schedule);
    let refused = act(&change, approved(), &manager(), now, Some(&schedule));
    let Err(Refusal::Conflict {
        rule: "cab_outcome_lanes_pending",
        detail,
    }) = refused
    else {
        panic!("not refused for the waiting lane: {refused:?}");
    };
    assert!(detail.contains("`Security`"), "{detail}");
    // Once ivan approved his lane, the meeting's approval settles the stage.
    let ivan = [vote(
        1,
        1,
        "ivan",
        Decision::Approved,
        "2026-11-26T09:00:00Z",
    )];
    let after = act_after(&change, &ivan, approved(), &manager(), now, Some(&schedule))
        .expect("approved")
        .change;
    assert_eq!(after.state, ChangeState::Scheduled);
    // A rejection by the meeting rejects whatever the other lanes say.
    let rejected = act(
        &change,
        outcome(CabOutcome::Rejected, &schedule),
        &manager(),
        now,
        Some(&schedule),
    )
    .expect("rejected")
    .change;
    assert_eq!(rejected.state, ChangeState::New);
}
