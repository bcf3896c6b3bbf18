//! The agenda: which changes belong on it, their order, and the votes shown.

use crate::support::{change_on, london_thursdays, risk, utc, vote};
use stackflow_core::cab::{AgendaCandidate, CabOutcome, Meeting, build_agenda, meeting_by_id};
use stackflow_core::risk::RiskLevel;
use stackflow_core::{ChangeNumber, ChangeState, ChangeType, Decision};

fn meeting() -> Meeting {
    meeting_by_id(&london_thursdays(), "2026-10-29T1400").unwrap()
}

fn candidate(change: &stackflow_core::Change) -> AgendaCandidate<'_> {
    AgendaCandidate {
        change,
        blast_radius: 0,
        votes: &[],
        outcome: None,
    }
}

fn numbers(agenda: &stackflow_core::cab::Agenda) -> Vec<u64> {
    agenda.items.iter().map(|i| i.number.sequence()).collect()
}

#[test]
fn only_normal_changes_in_authorize_on_this_meeting_belong() {
    let m = meeting();
    let on_it = change_on(1, m.start);
    let other_meeting = change_on(2, utc("2026-11-05T14:00:00Z"));
    let mut emergency = change_on(3, m.start);
    emergency.change_type = ChangeType::Emergency;
    let mut scheduled = change_on(4, m.start);
    scheduled.state = ChangeState::Scheduled;
    let mut assessing = change_on(5, m.start);
    assessing.state = ChangeState::Assess;
    let mut unplaced = change_on(6, m.start);
    unplaced.cab_date = None;
    let changes = [
        on_it,
        other_meeting,
        emergency,
        scheduled,
        assessing,
        unplaced,
    ];
    let candidates: Vec<_> = changes.iter().map(candidate).collect();
    let agenda = build_agenda(&m, &candidates);
    assert_eq!(numbers(&agenda), [1]);
    assert_eq!(agenda.meeting, m);
}

#[test]
fn items_are_riskiest_first_then_by_number() {
    let m = meeting();
    let mut changes: Vec<_> = (1..=5).map(|n| change_on(n, m.start)).collect();
    changes[0].risk_assessment = Some(risk(30, RiskLevel::Moderate));
    changes[1].risk_assessment = None;
    changes[2].risk_assessment = Some(risk(72, RiskLevel::High));
    changes[3].risk_assessment = Some(risk(72, RiskLevel::High));
    changes[4].risk_assessment = Some(risk(90, RiskLevel::Critical));
    // The input order does not matter.
    changes.reverse();
    let candidates: Vec<_> = changes.iter().map(candidate).collect();
    let agenda = build_agenda(&m, &candidates);
    assert_eq!(numbers(&agenda), [5, 3, 4, 1, 2]);
    let scores: Vec<_> = agenda.items.iter().map(|i| i.risk_score).collect();
    assert_eq!(scores, [Some(90), Some(72), Some(72), Some(30), None]);
    assert_eq!(agenda.items[0].risk_level, Some(RiskLevel::Critical));
}

#[test]
fn an_item_carries_the_change_its_blast_radius_and_outcome() {
    let m = meeting();
    let change = change_on(7, m.start);
    let agenda = build_agenda(
        &m,
        &[AgendaCandidate {
            change: &change,
            blast_radius: 14,
            votes: &[],
            outcome: Some(CabOutcome::Approved),
        }],
    );
    let item = &agenda.items[0];
    assert_eq!(item.number, ChangeNumber::new(7));
    assert_eq!(item.title, "Change 7");
    assert_eq!(item.requested_by, "alice");
    assert_eq!(item.assignment_group.as_deref(), Some("dba"));
    assert_eq!(item.blast_radius, 14);
    assert_eq!(item.planned_start, change.planned_start);
    assert_eq!(item.planned_end, change.planned_end);
    assert_eq!(item.implementation_plan, change.implementation_plan);
    assert_eq!(item.backout_plan, change.backout_plan);
    assert_eq!(item.outcome, Some(CabOutcome::Approved));
    assert_eq!((item.risk_score, item.risk_level), (None, None));
}

#[test]
fn only_this_rounds_cab_votes_show_once_per_person() {
    let m = meeting();
    let mut change = change_on(8, m.start);
    change.approval.round = 2;
    let votes = [
        vote(1, 1, "erin", Decision::Approved, "2026-10-01T09:00:00Z"), // last round
        vote(2, 0, "ivan", Decision::Approved, "2026-10-26T09:00:00Z"), // assessment stage
        vote(2, 1, "dave", Decision::Rejected, "2026-10-27T11:00:00Z"),
        vote(2, 1, "bob", Decision::Approved, "2026-10-27T10:00:00Z"),
        vote(2, 1, "bob", Decision::Rejected, "2026-10-27T12:00:00Z"), // repeat
    ];
    let agenda = build_agenda(
        &m,
        &[AgendaCandidate {
            change: &change,
            blast_radius: 0,
            votes: &votes,
            outcome: None,
        }],
    );
    let shown: Vec<_> = agenda.items[0]
        .votes
        .iter()
        .map(|v| (v.voter.as_str(), v.decision))
        .collect();
    assert_eq!(
        shown,
        [("bob", Decision::Approved), ("dave", Decision::Rejected)]
    );
}

#[test]
fn an_agenda_serialises_with_snake_case_outcomes() {
    let m = meeting();
    let change = change_on(9, m.start);
    let agenda = build_agenda(
        &m,
        &[AgendaCandidate {
            outcome: Some(CabOutcome::Deferred),
            ..candidate(&change)
        }],
    );
    let json = serde_json::to_value(&agenda).unwrap();
    assert_eq!(json["meeting"]["id"], "2026-10-29T1400");
    assert_eq!(json["items"][0]["number"], "CHG0000009");
    assert_eq!(json["items"][0]["outcome"], "deferred");
}
