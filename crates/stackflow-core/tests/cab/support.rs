//! Builders shared by the CAB tests.

use chrono::{DateTime, Utc};
use serde_json::json;
use stackflow_core::approval::{Approvers, Board, Lane};
use stackflow_core::cab::{CabSchedule, MeetingSchedule};
use stackflow_core::number::ChangeNumber;
use stackflow_core::risk::{RiskAssessment, RiskContributions, RiskFactors, RiskLevel};
use stackflow_core::{
    ApprovalPlan, ApprovalStatus, Change, ChangeDraft, ChangeState, ChangeType, Channel, Decision,
    LaneRule, Stage, Vote,
};

/// An instant from RFC 3339 text.
pub fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 instant")
}

/// When the test schedules are saved.
pub fn saved_at() -> DateTime<Utc> {
    utc("2026-01-01T00:00:00Z")
}

/// A schedule document from JSON, validated in UTC as the organisation zone.
pub fn schedule(body: serde_json::Value) -> MeetingSchedule {
    let document: CabSchedule = serde_json::from_value(body).expect("a schedule document");
    document
        .validate(chrono_tz::UTC, saved_at())
        .expect("a valid schedule")
}

/// Weekly on Thursdays at 14:00 in London, from 8 January 2026; the
/// defaults for everything else (an hour, cut-off 24 h, mail 2 h).
pub fn london_thursdays() -> MeetingSchedule {
    schedule(json!({
        "time_zone": "Europe/London",
        "rrule": "FREQ=WEEKLY;BYDAY=TH",
        "first_start": "2026-01-08T14:00"
    }))
}

/// A normal change with sequence `n`, in `authorize` with its CAB stage
/// (stage 1, after a technical assessment) open in round 1, on the meeting
/// starting at `cab_date`.
pub fn change_on(n: u64, cab_date: DateTime<Utc>) -> Change {
    let mut change = ChangeDraft {
        change_type: Some(ChangeType::Normal),
        title: Some(format!("Change {n}")),
        implementation_plan: Some("stop the service\nupgrade\nstart the service".into()),
        backout_plan: Some("restore the snapshot".into()),
        assignment_group: Some("dba".into()),
        planned_start: Some(utc("2026-12-05T01:00:00Z")),
        planned_end: Some(utc("2026-12-05T03:00:00Z")),
        ..Default::default()
    }
    .into_change(ChangeNumber::new(n), "alice", None, saved_at())
    .expect("a valid change");
    change.state = ChangeState::Authorize;
    change.cab_date = Some(cab_date);
    change.approval.status = ApprovalStatus::Requested;
    change.approval.round = 1;
    change.approval.current_stage = Some(1);
    change.approval.plan = Some(ApprovalPlan {
        source: "builtin".into(),
        workflow: None,
        stages: vec![
            stage("Technical assessment", ChangeState::Assess, "dba", None),
            stage(
                "CAB authorisation",
                ChangeState::Authorize,
                "CAB",
                Some(Board::Cab),
            ),
        ],
    });
    change
}

fn stage(name: &str, state: ChangeState, group: &str, board: Option<Board>) -> Stage {
    Stage {
        name: name.into(),
        state,
        lanes: vec![Lane {
            name: group.into(),
            approvers: Approvers::Group(group.into()),
            rule: LaneRule::Majority,
            board,
        }],
    }
}

/// A risk assessment with `score` and `level`.
pub fn risk(score: u8, level: RiskLevel) -> RiskAssessment {
    RiskAssessment {
        automated_score: score,
        risk_level: level,
        factors: RiskFactors {
            affected_ci_criticality: "High (orders-db, database)".into(),
            blast_radius_cis: 3,
            change_window: "Maintenance window".into(),
            group_success_rate: "100% (last 30 days)".into(),
            similar_change_failures: 0,
            change_type: "Normal".into(),
            conflicts: 0,
        },
        contributions: RiskContributions::default(),
        recommendation: "Proceed.".into(),
        assessed_at: saved_at(),
    }
}

/// A vote in `round`, `stage`.
pub fn vote(round: u32, stage: usize, voter: &str, decision: Decision, at: &str) -> Vote {
    Vote {
        round,
        stage,
        voter: voter.into(),
        decision,
        notes: format!("{voter}'s notes"),
        channel: Channel::Portal,
        at: utc(at),
    }
}
