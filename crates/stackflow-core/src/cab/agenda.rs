//! A meeting's agenda, generated from the changes on it: never kept by hand,
//! so it cannot drift from the changes' state.

use super::meetings::Meeting;
use super::outcome::CabOutcome;
use crate::approval::{Stage, Vote};
use crate::change::Change;
use crate::conflict::Conflict;
use crate::enums::{ChangeState, ChangeType, Channel, Decision};
use crate::number::ChangeNumber;
use crate::risk::RiskLevel;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::cmp::Reverse;

/// What the caller gathers about one candidate change for an agenda.
#[derive(Debug, Clone, Copy)]
pub struct AgendaCandidate<'a> {
    /// The change.
    pub change: &'a Change,
    /// How many CIs its blast radius holds (from the impact index).
    pub blast_radius: usize,
    /// Its recorded votes (any round or stage: only the CAB stage's votes of
    /// the current round are shown).
    pub votes: &'a [Vote],
    /// The outcome this meeting recorded for it, if any.
    pub outcome: Option<CabOutcome>,
}

/// One CAB member's vote as the agenda shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgendaVote {
    /// Who voted.
    pub voter: String,
    /// Approved or rejected.
    pub decision: Decision,
    /// Their notes.
    pub notes: String,
    /// How the vote arrived.
    pub channel: Channel,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// One change on a meeting's agenda, with what the board needs to decide.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgendaItem {
    /// The change's number.
    pub number: ChangeNumber,
    /// Its title.
    pub title: String,
    /// Who requested it.
    pub requested_by: String,
    /// The group that implements it.
    pub assignment_group: Option<String>,
    /// Automated risk score 0–100, once assessed.
    pub risk_score: Option<u8>,
    /// Risk level, once assessed.
    pub risk_level: Option<RiskLevel>,
    /// How many CIs depend on the affected CIs.
    pub blast_radius: usize,
    /// Planned window start.
    pub planned_start: Option<DateTime<Utc>>,
    /// Planned window end.
    pub planned_end: Option<DateTime<Utc>>,
    /// How it will be done.
    pub implementation_plan: String,
    /// How it will be undone.
    pub backout_plan: String,
    /// Schedule conflicts found for its window.
    pub conflicts: Vec<Conflict>,
    /// CAB votes so far in the current round, oldest first, one per person.
    pub votes: Vec<AgendaVote>,
    /// The outcome the meeting recorded, if any.
    pub outcome: Option<CabOutcome>,
}

/// A meeting and the changes it decides, riskiest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Agenda {
    /// The meeting.
    pub meeting: Meeting,
    /// Its items, by risk score descending (unassessed last), then number.
    pub items: Vec<AgendaItem>,
}

/// The index of a change's CAB stage in its current plan: the stage the
/// plan marks as the CAB's (one with a lane of [`Board::Cab`], from the
/// workflow's `cab: true` stage or the built-in policy's CAB stage). A plan
/// without one — a workflow with no CAB stage, or a plan frozen before
/// stages were marked — has no CAB stage: no meeting decides it.
pub fn cab_stage_index(change: &Change) -> Option<usize> {
    change
        .approval
        .plan
        .as_ref()?
        .stages
        .iter()
        .position(Stage::is_cab)
}

/// Whether a change belongs on `meeting`'s agenda: a normal change in
/// `authorize` whose `cab_date` is the meeting's start.
pub(super) fn is_on_agenda(change: &Change, meeting: &Meeting) -> bool {
    change.change_type == ChangeType::Normal
        && change.state == ChangeState::Authorize
        && change.cab_date == Some(meeting.start)
}

/// Builds `meeting`'s agenda from candidate changes. Candidates that do not
/// belong on it (not normal, not in `authorize`, or another `cab_date`) are
/// left out, so the caller may pass a loose selection — except those the
/// meeting recorded an outcome for, which stay on its agenda after they
/// moved on, so that a past meeting still shows what it decided.
pub fn build_agenda(meeting: &Meeting, candidates: &[AgendaCandidate<'_>]) -> Agenda {
    let mut items: Vec<AgendaItem> = candidates
        .iter()
        .filter(|c| c.outcome.is_some() || is_on_agenda(c.change, meeting))
        .map(agenda_item)
        .collect();
    items.sort_by_key(|item| (Reverse(item.risk_score), item.number));
    items.dedup_by_key(|item| item.number);
    Agenda {
        meeting: meeting.clone(),
        items,
    }
}

fn agenda_item(candidate: &AgendaCandidate<'_>) -> AgendaItem {
    let change = candidate.change;
    let risk = change.risk_assessment.as_ref();
    AgendaItem {
        number: change.number,
        title: change.title.clone(),
        requested_by: change.requested_by.clone(),
        assignment_group: change.assignment_group.clone(),
        risk_score: risk.map(|r| r.automated_score),
        risk_level: risk.map(|r| r.risk_level),
        blast_radius: candidate.blast_radius,
        planned_start: change.planned_start,
        planned_end: change.planned_end,
        implementation_plan: change.implementation_plan.clone(),
        backout_plan: change.backout_plan.clone(),
        conflicts: change.conflicts.clone(),
        votes: cab_votes(change, candidate.votes),
        outcome: candidate.outcome,
    }
}

/// The CAB stage's votes of the change's current round, each person once
/// (their first vote, as the approval evaluator counts), oldest first.
fn cab_votes(change: &Change, votes: &[Vote]) -> Vec<AgendaVote> {
    let Some(stage) = cab_stage_index(change) else {
        return Vec::new();
    };
    let mut shown: Vec<AgendaVote> = Vec::new();
    for vote in votes {
        let counts = vote.round == change.approval.round && vote.stage == stage;
        if counts && !shown.iter().any(|v| v.voter == vote.voter) {
            shown.push(AgendaVote {
                voter: vote.voter.clone(),
                decision: vote.decision,
                notes: vote.notes.clone(),
                channel: vote.channel,
                at: vote.at,
            });
        }
    }
    shown.sort_by(|a, b| (a.at, &a.voter).cmp(&(b.at, &b.voter)));
    shown
}
