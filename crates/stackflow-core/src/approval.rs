//! Approval plans and their evaluation.
//!
//! A plan is data: stages run in sequence, lanes inside a stage in parallel,
//! each lane with its approvers and its rule. Plans come from the built-in
//! policy below or from a workflow document (`crate::workflow::resolve_plan`);
//! the evaluator only ever sees plans.

use crate::directory::Directory;
use crate::enums::{ApprovalStatus, ChangeState, ChangeType, Channel, Decision, GroupKind};
use crate::errors::Refusal;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many approvals settle a lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LaneRule {
    /// One approval approves; one rejection rejects.
    Any,
    /// Every eligible approver must approve; one rejection rejects.
    All,
    /// N approvals approve; rejections reject only once N can no longer be reached.
    Quorum(u32),
    /// More than half of the eligible approvers; like a quorum of that size.
    Majority,
}

/// Who approves in a lane, as resolved when the round opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approvers {
    /// The current members of a group (membership is read at every vote).
    Group(String),
    /// Named users, fixed when the round opened (named in a workflow, or the
    /// holders of a role at that moment).
    Users(Vec<String>),
    /// The current members of several groups together, e.g. the owner groups
    /// of a change's affected CIs (membership is read at every vote, as for
    /// one group).
    Groups(Vec<String>),
}

/// Parallel approval track inside a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lane {
    /// Display name.
    pub name: String,
    /// Who may vote.
    pub approvers: Approvers,
    /// What settles it.
    pub rule: LaneRule,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stage {
    /// Display name, e.g. "Technical assessment".
    pub name: String,
    /// The change state while this stage is open (`assess` or `authorize`).
    pub state: ChangeState,
    /// Parallel lanes; all must approve.
    pub lanes: Vec<Lane>,
}

/// Which version of which workflow document produced a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowRef {
    /// The workflow's name.
    pub name: String,
    /// The stored version of its document.
    pub version: u32,
}

/// The stages a change's approval round runs through, frozen on the change
/// when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalPlan {
    /// Where the plan came from, for people: `built-in policy` or
    /// `workflow normal-default v3`.
    pub source: String,
    /// The workflow version that produced the plan; `None` for the built-in
    /// policy (and for plans stored before workflows existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRef>,
    /// Stages in order.
    pub stages: Vec<Stage>,
}

/// One person's vote in one stage of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Vote {
    /// Approval round (1 for the first submission).
    pub round: u32,
    /// Stage index within the plan.
    pub stage: usize,
    /// Who voted.
    pub voter: String,
    /// What they decided.
    pub decision: Decision,
    /// Their notes.
    pub notes: String,
    /// How the vote arrived.
    pub channel: Channel,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The approval state carried on a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApprovalRecord {
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Current or last round; 0 before the first submission.
    pub round: u32,
    /// The plan of the current or last round.
    pub plan: Option<ApprovalPlan>,
    /// Index of the open stage while a round is open.
    pub current_stage: Option<usize>,
    /// When the round opened.
    pub requested_at: Option<DateTime<Utc>>,
    /// The approval SLA's due time.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether the SLA was breached.
    pub sla_breached: bool,
    /// When the round was decided.
    pub decided_at: Option<DateTime<Utc>>,
    /// Standard changes: the template whose pre-approval applied.
    pub pre_approved_by_template: Option<String>,
}

impl ApprovalRecord {
    /// The record of a change that has not been submitted.
    pub fn initial(change_type: ChangeType) -> Self {
        ApprovalRecord {
            status: if change_type == ChangeType::Standard {
                ApprovalStatus::NotRequired
            } else {
                ApprovalStatus::NotRequested
            },
            round: 0,
            plan: None,
            current_stage: None,
            requested_at: None,
            due_at: None,
            sla_breached: false,
            decided_at: None,
            pre_approved_by_template: None,
        }
    }
}

/// Where a lane or a stage stands after the votes so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// Not settled yet.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

impl Lane {
    /// Who may vote in this lane now: its approvers less the requester
    /// (segregation of duties), de-duplicated.
    pub fn eligible(&self, directory: &Directory, requester: &str) -> Vec<String> {
        let mut people: Vec<String> = match &self.approvers {
            Approvers::Group(name) => directory.members(name).to_vec(),
            Approvers::Users(names) => names.clone(),
            Approvers::Groups(names) => names
                .iter()
                .flat_map(|name| directory.members(name).iter().cloned())
                .collect(),
        };
        people.retain(|p| p != requester);
        people.sort();
        people.dedup();
        people
    }

    /// Approvals needed to approve, given how many may vote.
    fn needed(&self, eligible: usize) -> usize {
        match self.rule {
            LaneRule::Any => 1,
            LaneRule::All => eligible.max(1),
            LaneRule::Quorum(n) => n as usize,
            LaneRule::Majority => eligible / 2 + 1,
        }
    }

    /// Whether this lane can ever approve with the approvers it has now.
    pub fn reachable(&self, directory: &Directory, requester: &str) -> bool {
        let eligible = self.eligible(directory, requester).len();
        eligible > 0 && self.needed(eligible) <= eligible
    }

    /// The lane's outcome from the stage's votes. Votes by people who are not
    /// (or no longer) eligible do not count.
    pub fn outcome(&self, directory: &Directory, requester: &str, votes: &[&Vote]) -> StageOutcome {
        let eligible = self.eligible(directory, requester);
        let (approvals, rejections) = tally(&eligible, votes);
        let needed = self.needed(eligible.len());
        if approvals >= needed {
            return StageOutcome::Approved;
        }
        let rejected = match self.rule {
            LaneRule::Any | LaneRule::All => rejections > 0,
            LaneRule::Quorum(_) | LaneRule::Majority => {
                let undecided = eligible.len().saturating_sub(approvals + rejections);
                rejections > 0 && approvals + undecided < needed
            }
        };
        if rejected {
            StageOutcome::Rejected
        } else {
            StageOutcome::Pending
        }
    }
}

/// Counts approvals and rejections by eligible people, each person once (their
/// first vote), whatever duplicates the input holds.
fn tally(eligible: &[String], votes: &[&Vote]) -> (usize, usize) {
    let mut seen: Vec<&str> = Vec::new();
    let (mut approvals, mut rejections) = (0, 0);
    for vote in votes {
        if !eligible.contains(&vote.voter) || seen.contains(&vote.voter.as_str()) {
            continue;
        }
        seen.push(&vote.voter);
        match vote.decision {
            Decision::Approved => approvals += 1,
            Decision::Rejected => rejections += 1,
        }
    }
    (approvals, rejections)
}

impl Stage {
    /// Everyone who may vote in this stage now.
    pub fn eligible(&self, directory: &Directory, requester: &str) -> Vec<String> {
        let mut people: Vec<String> = self
            .lanes
            .iter()
            .flat_map(|lane| lane.eligible(directory, requester))
            .collect();
        people.sort();
        people.dedup();
        people
    }

    /// The stage's outcome: rejected if any lane rejected, approved once all
    /// lanes approved.
    pub fn outcome(&self, directory: &Directory, requester: &str, votes: &[&Vote]) -> StageOutcome {
        let outcomes: Vec<_> = self
            .lanes
            .iter()
            .map(|lane| lane.outcome(directory, requester, votes))
            .collect();
        if outcomes.contains(&StageOutcome::Rejected) {
            StageOutcome::Rejected
        } else if outcomes.iter().all(|o| *o == StageOutcome::Approved) {
            StageOutcome::Approved
        } else {
            StageOutcome::Pending
        }
    }
}

/// Where one lane of the current round stands, for people reading a change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LaneView {
    /// Display name.
    pub name: String,
    /// The lane's rule.
    pub rule: LaneRule,
    /// Who may vote in it now (its approvers less the requester).
    pub eligible_approvers: Vec<String>,
    /// Counted approvals.
    pub approvals: usize,
    /// Counted rejections.
    pub rejections: usize,
    /// The lane's outcome so far.
    pub outcome: StageOutcome,
}

/// Where one stage of the current round stands.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageView {
    /// Position in the plan.
    pub index: usize,
    /// Display name.
    pub name: String,
    /// The change state while it is open.
    pub state: ChangeState,
    /// `open` for the stage being voted on, else its outcome (`pending`
    /// meaning not reached yet).
    pub status: String,
    /// Its lanes.
    pub lanes: Vec<LaneView>,
}

/// A change's approvals as a reader needs them: the plan of the current
/// round with each stage's and lane's standing, and every vote ever cast.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// Where the approval stands.
    pub status: ApprovalStatus,
    /// Current or last round.
    pub round: u32,
    /// Where the plan came from.
    pub source: Option<String>,
    /// The open stage, if any.
    pub current_stage: Option<usize>,
    /// The SLA due time.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether the SLA was breached.
    pub sla_breached: bool,
    /// Stages of the current round.
    pub stages: Vec<StageView>,
    /// Every vote of every round, oldest first, with channel and time.
    pub votes: Vec<Vote>,
}

/// Summarises a change's approval record against the directory and votes.
pub fn summarize(
    record: &ApprovalRecord,
    requester: &str,
    directory: &Directory,
    votes: Vec<Vote>,
) -> ApprovalView {
    let stages = record.plan.as_ref().map_or_else(Vec::new, |plan| {
        plan.stages
            .iter()
            .enumerate()
            .map(|(index, stage)| {
                let stage_votes: Vec<&Vote> = votes
                    .iter()
                    .filter(|v| v.round == record.round && v.stage == index)
                    .collect();
                let lanes = stage
                    .lanes
                    .iter()
                    .map(|lane| {
                        let eligible = lane.eligible(directory, requester);
                        let (approvals, rejections) = tally(&eligible, &stage_votes);
                        LaneView {
                            name: lane.name.clone(),
                            rule: lane.rule,
                            approvals,
                            rejections,
                            outcome: lane.outcome(directory, requester, &stage_votes),
                            eligible_approvers: eligible,
                        }
                    })
                    .collect();
                let status = if record.current_stage == Some(index) {
                    "open"
                } else {
                    match stage.outcome(directory, requester, &stage_votes) {
                        StageOutcome::Approved => "approved",
                        StageOutcome::Rejected => "rejected",
                        StageOutcome::Pending => "pending",
                    }
                };
                StageView {
                    index,
                    name: stage.name.clone(),
                    state: stage.state,
                    status: status.to_owned(),
                    lanes,
                }
            })
            .collect()
    });
    ApprovalView {
        status: record.status,
        round: record.round,
        source: record.plan.as_ref().map(|p| p.source.clone()),
        current_stage: record.current_stage,
        due_at: record.due_at,
        sla_breached: record.sla_breached,
        stages,
        votes,
    }
}

/// Who approves in a lane of the built-in policy, before resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApproverSpec {
    AssignmentGroup,
    GroupOfKind(GroupKind),
}

/// The built-in approval policy, as data: normal changes get a technical
/// assessment by their assignment group (any member but the requester) in
/// `assess`, then a CAB majority in `authorize`; emergency changes need two
/// distinct ECAB members in `authorize`. Standard changes need none.
fn builtin_policy(
    change_type: ChangeType,
) -> &'static [(&'static str, ChangeState, ApproverSpec, LaneRule)] {
    match change_type {
        ChangeType::Standard => &[],
        ChangeType::Normal => &[
            (
                "Technical assessment",
                ChangeState::Assess,
                ApproverSpec::AssignmentGroup,
                LaneRule::Any,
            ),
            (
                "CAB authorisation",
                ChangeState::Authorize,
                ApproverSpec::GroupOfKind(GroupKind::Cab),
                LaneRule::Majority,
            ),
        ],
        ChangeType::Emergency => &[(
            "ECAB authorisation",
            ChangeState::Authorize,
            ApproverSpec::GroupOfKind(GroupKind::Ecab),
            LaneRule::Quorum(2),
        )],
    }
}

/// Resolves the built-in policy for a change into a concrete plan, refusing
/// (409) when a stage could never be approved — a missing CAB, an assignment
/// group whose only member is the requester, an ECAB of fewer than two.
pub fn builtin_plan(
    change_type: ChangeType,
    assignment_group: Option<&str>,
    requester: &str,
    directory: &Directory,
) -> Result<ApprovalPlan, Refusal> {
    let mut stages = Vec::new();
    for (name, state, spec, rule) in builtin_policy(change_type) {
        let group = match spec {
            ApproverSpec::AssignmentGroup => assignment_group
                .map(str::to_owned)
                .ok_or_else(|| Refusal::invalid("assignment_group", "required before submit"))?,
            ApproverSpec::GroupOfKind(kind) => directory
                .group_of_kind(*kind)
                .map(|g| g.name.clone())
                .ok_or_else(|| {
                    Refusal::conflict(
                        "approval_group_missing",
                        format!("no group of kind `{kind}` exists to approve the stage `{name}`"),
                    )
                })?,
        };
        let lane = Lane {
            name: group.clone(),
            approvers: Approvers::Group(group.clone()),
            rule: *rule,
        };
        if !lane.reachable(directory, requester) {
            return Err(Refusal::conflict(
                "approval_stage_unreachable",
                format!(
                    "stage `{name}` can never be approved: group `{group}` has {} eligible approver(s) other than the requester",
                    lane.eligible(directory, requester).len()
                ),
            ));
        }
        stages.push(Stage {
            name: (*name).to_owned(),
            state: *state,
            lanes: vec![lane],
        });
    }
    Ok(ApprovalPlan {
        source: "built-in policy".to_owned(),
        workflow: None,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::GroupInfo;

    fn directory() -> Directory {
        let group = |name: &str, kind, members: &[&str]| GroupInfo {
            name: name.into(),
            kind,
            members: members.iter().map(|m| m.to_string()).collect(),
        };
        Directory {
            groups: vec![
                group("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
                group("ECAB", GroupKind::Ecab, &["bob", "carol"]),
                group("dba", GroupKind::Implementation, &["alice", "ivan"]),
            ],
        }
    }

    fn vote(voter: &str, decision: Decision) -> Vote {
        Vote {
            round: 1,
            stage: 0,
            voter: voter.into(),
            decision,
            notes: String::new(),
            channel: Channel::Api,
            at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    fn lane(group: &str, rule: LaneRule) -> Lane {
        Lane {
            name: group.into(),
            approvers: Approvers::Group(group.into()),
            rule,
        }
    }

    fn outcome(lane: &Lane, requester: &str, votes: &[Vote]) -> StageOutcome {
        let refs: Vec<&Vote> = votes.iter().collect();
        lane.outcome(&directory(), requester, &refs)
    }

    #[test]
    fn majority_of_the_cab_excludes_the_requester() {
        let cab = lane("CAB", LaneRule::Majority);
        // dave requested: three eligible, two approvals approve.
        let one = [vote("bob", Decision::Approved)];
        assert_eq!(outcome(&cab, "dave", &one), StageOutcome::Pending);
        let two = [
            vote("bob", Decision::Approved),
            vote("carol", Decision::Approved),
        ];
        assert_eq!(outcome(&cab, "dave", &two), StageOutcome::Approved);
        // Four eligible: two approvals are not a majority.
        assert_eq!(outcome(&cab, "zed", &two), StageOutcome::Pending);
    }

    #[test]
    fn majority_rejects_once_it_can_no_longer_be_reached() {
        let cab = lane("CAB", LaneRule::Majority);
        let one_no = [vote("bob", Decision::Rejected)];
        assert_eq!(outcome(&cab, "zed", &one_no), StageOutcome::Pending);
        let two_no = [
            vote("bob", Decision::Rejected),
            vote("carol", Decision::Rejected),
        ];
        assert_eq!(outcome(&cab, "zed", &two_no), StageOutcome::Rejected);
    }

    #[test]
    fn any_settles_on_the_first_vote_and_all_needs_everyone() {
        let any = lane("dba", LaneRule::Any);
        assert_eq!(
            outcome(&any, "alice", &[vote("ivan", Decision::Approved)]),
            StageOutcome::Approved
        );
        assert_eq!(
            outcome(&any, "alice", &[vote("ivan", Decision::Rejected)]),
            StageOutcome::Rejected
        );
        let all = lane("ECAB", LaneRule::All);
        assert_eq!(
            outcome(&all, "zed", &[vote("bob", Decision::Approved)]),
            StageOutcome::Pending
        );
        assert_eq!(
            outcome(
                &all,
                "zed",
                &[
                    vote("bob", Decision::Approved),
                    vote("carol", Decision::Approved)
                ]
            ),
            StageOutcome::Approved
        );
    }

    #[test]
    fn votes_of_people_outside_the_lane_or_removed_from_it_do_not_count() {
        let ecab = lane("ECAB", LaneRule::Quorum(2));
        let votes = [
            vote("bob", Decision::Approved),
            vote("mallory", Decision::Approved),
        ];
        assert_eq!(outcome(&ecab, "zed", &votes), StageOutcome::Pending);
        let mut shrunk = directory();
        shrunk.groups[1].members.retain(|m| m != "carol");
        let both = [
            vote("bob", Decision::Approved),
            vote("carol", Decision::Approved),
        ];
        let refs: Vec<&Vote> = both.iter().collect();
        assert_eq!(ecab.outcome(&shrunk, "zed", &refs), StageOutcome::Pending);
    }

    #[test]
    fn quorum_survives_a_rejection_while_it_can_still_be_met() {
        let cab = lane("CAB", LaneRule::Quorum(2));
        let votes = [
            vote("bob", Decision::Rejected),
            vote("carol", Decision::Approved),
        ];
        assert_eq!(outcome(&cab, "zed", &votes), StageOutcome::Pending);
        let more = [
            vote("bob", Decision::Rejected),
            vote("carol", Decision::Rejected),
            vote("dave", Decision::Rejected),
        ];
        assert_eq!(outcome(&cab, "zed", &more), StageOutcome::Rejected);
    }

    #[test]
    fn builtin_plan_refuses_stages_nobody_can_approve() {
        let dir = directory();
        let plan = builtin_plan(ChangeType::Normal, Some("dba"), "alice", &dir).unwrap();
        assert_eq!(plan.stages.len(), 2);
        assert_eq!(plan.stages[0].state, ChangeState::Assess);
        assert_eq!(plan.stages[1].lanes[0].rule, LaneRule::Majority);
        // An ECAB member requesting an emergency change leaves one eligible approver.
        let err = builtin_plan(ChangeType::Emergency, Some("dba"), "bob", &dir).unwrap_err();
        assert!(matches!(
            err,
            Refusal::Conflict {
                rule: "approval_stage_unreachable",
                ..
            }
        ));
        let no_cab = Directory {
            groups: vec![dir.groups[2].clone()],
        };
        let err = builtin_plan(ChangeType::Normal, Some("dba"), "zed", &no_cab).unwrap_err();
        assert!(matches!(
            err,
            Refusal::Conflict {
                rule: "approval_group_missing",
                ..
            }
        ));
        assert!(
            builtin_plan(ChangeType::Standard, None, "zed", &dir)
                .unwrap()
                .stages
                .is_empty()
        );
    }
}
