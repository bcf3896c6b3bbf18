//! Outcomes: what each decision does, and when the board may not decide.

use crate::support::{change_on, london_thursdays, schedule, utc};
use serde_json::json;
use stackflow_core::cab::{CabOutcome, Meeting, OutcomeEffect, decide_outcome, meeting_by_id};
use stackflow_core::{Change, ChangeState, ChangeType, Refusal};

fn meeting() -> Meeting {
    meeting_by_id(&london_thursdays(), "2026-10-22T1400").unwrap()
}

fn refused_rule(change: &Change, outcome: CabOutcome) -> &'static str {
    match decide_outcome(change, &meeting(), outcome, &london_thursdays()) {
        Err(Refusal::Conflict { rule, .. }) => rule,
        other => panic!("not refused as a conflict: {other:?}"),
    }
}

#[test]
fn approval_approves_the_cab_stage_of_this_round() {
    let change = change_on(1, meeting().start);
    let effect = decide_outcome(
        &change,
        &meeting(),
        CabOutcome::Approved,
        &london_thursdays(),
    );
    assert_eq!(
        effect,
        Ok(OutcomeEffect::ApproveCabStage { round: 1, stage: 1 })
    );
}

#[test]
fn rejection_rejects_the_change_in_the_cab_stage() {
    let change = change_on(1, meeting().start);
    let effect = decide_outcome(
        &change,
        &meeting(),
        CabOutcome::Rejected,
        &london_thursdays(),
    );
    assert_eq!(
        effect,
        Ok(OutcomeEffect::RejectChange { round: 1, stage: 1 })
    );
}

#[test]
fn deferral_moves_the_change_to_the_next_meeting() {
    let change = change_on(1, meeting().start);
    let effect = decide_outcome(
        &change,
        &meeting(),
        CabOutcome::Deferred,
        &london_thursdays(),
    );
    let Ok(OutcomeEffect::MoveToMeeting { from, to }) = effect else {
        panic!("not a move: {effect:?}");
    };
    assert_eq!(from, "2026-10-22T1400");
    assert_eq!(to.id, "2026-10-29T1400");
    // After the clocks went back: 14:00 local is 14:00Z.
    assert_eq!(to.start, utc("2026-10-29T14:00:00Z"));
}

#[test]
fn only_normal_changes_are_decided() {
    for change_type in [ChangeType::Emergency, ChangeType::Standard] {
        let mut change = change_on(1, meeting().start);
        change.change_type = change_type;
        assert_eq!(
            refused_rule(&change, CabOutcome::Approved),
            "cab_outcome_normal_only"
        );
    }
}

#[test]
fn only_changes_in_authorize_are_decided() {
    for state in [
        ChangeState::New,
        ChangeState::Assess,
        ChangeState::Scheduled,
    ] {
        let mut change = change_on(1, meeting().start);
        change.state = state;
        assert_eq!(
            refused_rule(&change, CabOutcome::Rejected),
            "cab_outcome_requires_authorize"
        );
    }
}

#[test]
fn only_changes_on_this_meetings_agenda_are_decided() {
    for cab_date in [None, Some(utc("2026-10-29T14:00:00Z"))] {
        let mut change = change_on(1, meeting().start);
        change.cab_date = cab_date;
        assert_eq!(
            refused_rule(&change, CabOutcome::Deferred),
            "cab_outcome_not_on_agenda"
        );
    }
}

#[test]
fn the_cab_stage_must_be_the_open_one() {
    let mut change = change_on(1, meeting().start);
    change.approval.current_stage = Some(0);
    assert_eq!(
        refused_rule(&change, CabOutcome::Approved),
        "cab_stage_not_open"
    );
    change.approval.plan = None;
    change.approval.current_stage = None;
    assert_eq!(
        refused_rule(&change, CabOutcome::Approved),
        "cab_stage_not_open"
    );
}

#[test]
fn the_last_meeting_cannot_defer() {
    let three = schedule(json!({
        "rrule": "FREQ=WEEKLY;COUNT=3",
        "first_start": "2026-01-08T14:00"
    }));
    let last = meeting_by_id(&three, "2026-01-22T1400").unwrap();
    let change = change_on(1, last.start);
    let deferred = decide_outcome(&change, &last, CabOutcome::Deferred, &three);
    assert!(
        matches!(
            deferred,
            Err(Refusal::Conflict {
                rule: "cab_no_later_meeting",
                ..
            })
        ),
        "{deferred:?}"
    );
    let approved = decide_outcome(&change, &last, CabOutcome::Approved, &three);
    assert!(approved.is_ok());
}

#[test]
fn outcomes_read_and_write_as_snake_case() {
    let all: Vec<CabOutcome> =
        serde_json::from_value(json!(["approved", "rejected", "deferred"])).unwrap();
    assert_eq!(
        all,
        [
            CabOutcome::Approved,
            CabOutcome::Rejected,
            CabOutcome::Deferred
        ]
    );
    assert!(serde_json::from_value::<CabOutcome>(json!("postponed")).is_err());
    let effect = OutcomeEffect::ApproveCabStage { round: 1, stage: 1 };
    assert_eq!(
        serde_json::to_value(effect).unwrap(),
        json!({"effect": "approve_cab_stage", "round": 1, "stage": 1})
    );
}

#[test]
fn a_plan_without_a_cab_stage_is_never_decided_by_a_meeting() {
    // The last stage of a workflow without a `cab: true` stage runs in
    // `authorize` too, but no lane of it is the CAB's.
    let mut change = change_on(1, meeting().start);
    for stage in &mut change.approval.plan.as_mut().unwrap().stages {
        for lane in &mut stage.lanes {
            lane.board = None;
        }
    }
    assert_eq!(stackflow_core::cab::cab_stage_index(&change), None);
    for outcome in [
        CabOutcome::Approved,
        CabOutcome::Rejected,
        CabOutcome::Deferred,
    ] {
        assert_eq!(refused_rule(&change, outcome), "cab_stage_not_open");
    }
}
