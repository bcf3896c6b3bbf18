//! What a meeting decides about an item, as a value the lifecycle wiring
//! applies: this module changes nothing itself.

use super::agenda::{cab_stage_index, is_on_agenda};
use super::meetings::{Meeting, meeting_after};
use super::schedule::MeetingSchedule;
use crate::change::Change;
use crate::enums::{ChangeState, ChangeType};
use crate::errors::Refusal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The board's decision on one agenda item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CabOutcome {
    /// The CAB stage is approved.
    Approved,
    /// The change is rejected.
    Rejected,
    /// The item moves to the next meeting.
    Deferred,
}

impl CabOutcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CabOutcome::Approved => "approved",
            CabOutcome::Rejected => "rejected",
            CabOutcome::Deferred => "deferred",
        }
    }
}

impl fmt::Display for CabOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What should happen to a change after the board's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum OutcomeEffect {
    /// Approve the CAB stage of this round: the change moves on to its next
    /// stage, or to `scheduled` when it was the last.
    ApproveCabStage {
        /// The approval round.
        round: u32,
        /// The CAB stage's index in the plan.
        stage: usize,
    },
    /// Reject the change in this round's CAB stage: it returns to `new`
    /// with the rejection recorded.
    RejectChange {
        /// The approval round.
        round: u32,
        /// The CAB stage's index in the plan.
        stage: usize,
    },
    /// Move the change to a later meeting: its `cab_date` becomes that
    /// meeting's start.
    MoveToMeeting {
        /// The meeting it leaves.
        from: String,
        /// The meeting it goes to.
        to: Meeting,
    },
}

/// Decides the effect of the board recording `outcome` for `change` at
/// `meeting`. Refused (409) unless the change is a normal change in
/// `authorize`, on this meeting's agenda, with its CAB stage open; a
/// deferral is refused when the schedule has no later meeting.
pub fn decide_outcome(
    change: &Change,
    meeting: &Meeting,
    outcome: CabOutcome,
    schedule: &MeetingSchedule,
) -> Result<OutcomeEffect, Refusal> {
    let number = change.number;
    if change.change_type != ChangeType::Normal {
        return Err(Refusal::conflict(
            "cab_outcome_normal_only",
            format!(
                "{number} is a {} change: the CAB decides normal changes only",
                change.change_type
            ),
        ));
    }
    if change.state != ChangeState::Authorize {
        return Err(Refusal::conflict(
            "cab_outcome_requires_authorize",
            format!(
                "{number} is in `{}`: the CAB decides changes in `authorize`",
                change.state
            ),
        ));
    }
    if !is_on_agenda(change, meeting) {
        return Err(Refusal::conflict(
            "cab_outcome_not_on_agenda",
            format!("{number} is not on the agenda of meeting {}", meeting.id),
        ));
    }
    let round = change.approval.round;
    let stage = match cab_stage_index(change) {
        Some(stage) if change.approval.current_stage == Some(stage) => stage,
        _ => {
            return Err(Refusal::conflict(
                "cab_stage_not_open",
                format!("{number} has no open CAB stage in this approval round"),
            ));
        }
    };
    match outcome {
        CabOutcome::Approved => Ok(OutcomeEffect::ApproveCabStage { round, stage }),
        CabOutcome::Rejected => Ok(OutcomeEffect::RejectChange { round, stage }),
        CabOutcome::Deferred => match meeting_after(schedule, meeting) {
            Some(next) => Ok(OutcomeEffect::MoveToMeeting {
                from: meeting.id.clone(),
                to: next,
            }),
            None => Err(Refusal::conflict(
                "cab_no_later_meeting",
                format!(
                    "the CAB schedule has no meeting after {}: {number} cannot be deferred",
                    meeting.id
                ),
            )),
        },
    }
}
