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

/// The fewest distinct approvals that approve an ECAB lane of an emergency
/// change, whatever the lane's rule: the ECAB approves an emergency change
/// with at least two distinct approvers.
pub const ECAB_MIN_APPROVERS: usize = 2;

/// The board a lane stands for, marked in the plan when the round opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Board {
    /// The CAB, in a normal change's CAB stage: a CAB meeting's recorded
    /// outcome decides this lane (and no other).
    Cab,
    /// The ECAB, approving an emergency change: it needs at least
    /// [`ECAB_MIN_APPROVERS`] distinct approvals, whatever its rule says.
    Ecab,
}

impl Board {
    /// The board a lane stands for: a group of kind `ecab` approving an
    /// emergency change, or a group of kind `cab` in a normal change's CAB
    /// stage. Other lanes stand for no board.
    pub fn of_lane(
        change_type: ChangeType,
        in_cab_stage: bool,
        approvers: &Approvers,
        directory: &Directory,
    ) -> Option<Board> {
        let Approvers::Group(name) = approvers else {
            return None;
        };
        match (directory.group(name)?.kind, change_type) {
            (GroupKind::Ecab, ChangeType::Emergency) => Some(Board::Ecab),
            (GroupKind::Cab, ChangeType::Normal) if in_cab_stage => Some(Board::Cab),
            _ => None,
        }
    }
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
    /// The board this lane stands for, if any. Plans frozen before boards
    /// were marked have none: their lanes are settled by votes alone, by
    /// their rule (never by a CAB meeting's outcome).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<Board>,
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
    /// (segregation of duties), de-duplicated. Group members are read from
    /// the directory now; named users (a `users` lane, a role's holders)
    /// count only while they are active.
    pub fn eligible(&self, directory: &Directory, requester: &str) -> Vec<String> {
        let mut people: Vec<String> = match &self.approvers {
            Approvers::Group(name) => directory.members(name).to_vec(),
            Approvers::Users(names) => names
                .iter()
                .filter(|name| directory.is_active(name))
                .cloned()
                .collect(),
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

    /// Approvals needed to approve, given how many may vote. An ECAB lane
    /// needs two whatever its rule (`all` over one eligible approver, `any`).
    fn needed(&self, eligible: usize) -> usize {
        let by_rule = match self.rule {
            LaneRule::Any => 1,
            LaneRule::All => eligible.max(1),
            LaneRule::Quorum(n) => n as usize,
            LaneRule::Majority => eligible / 2 + 1,
        };
        match self.board {
            Some(Board::Ecab) => by_rule.max(ECAB_MIN_APPROVERS),
            Some(Board::Cab) | None => by_rule,
        }
    }

    /// Whether this lane can ever approve with the approvers it has now.
    pub fn reachable(&self, directory: &Directory, requester: &str) -> bool {
        let eligible = self.eligible(directory, requester).len();
        eligible > 0 && self.needed(eligible) <= eligible
    }

    /// The refusal of a submission whose stage `stage` this lane could
    /// never approve (`approval_stage_unreachable`), saying why.
    pub fn unreachable(&self, stage: &str, directory: &Directory, requester: &str) -> Refusal {
        let eligible = self.eligible(directory, requester).len();
        let why = if self.board == Some(Board::Ecab) && eligible < ECAB_MIN_APPROVERS {
            format!(
                "; an emergency change needs at least {ECAB_MIN_APPROVERS} distinct ECAB approvers"
            )
        } else {
            String::new()
        };
        Refusal::conflict(
            "approval_stage_unreachable",
            format!(
                "stage `{stage}` can never be approved: lane `{}` has {eligible} eligible approver(s) other than the requester{why}",
                self.name
            ),
        )
    }

    /// The lane's outcome from its votes, as if it were alone in its stage.
    /// Votes by people who are not (or no longer) eligible do not count.
    pub fn outcome(&self, directory: &Directory, requester: &str, votes: &[&Vote]) -> StageOutcome {
        count_lanes(std::slice::from_ref(self), directory, requester, votes).outcome
    }

    /// This lane's outcome from its own standing: approved once it has the
    /// approvals it needs; rejected by one rejection (`any`, `all`), or for
    /// a quorum or majority once the people who have not rejected are too
    /// few to reach it.
    fn settle(
        &self,
        eligible: usize,
        needed: usize,
        approvals: usize,
        rejections: usize,
    ) -> StageOutcome {
        if approvals >= needed {
            return StageOutcome::Approved;
        }
        let rejected = match self.rule {
            LaneRule::Any | LaneRule::All => rejections > 0,
            LaneRule::Quorum(_) | LaneRule::Majority => {
                rejections > 0 && eligible.saturating_sub(rejections) < needed
            }
        };
        if rejected {
            StageOutcome::Rejected
        } else {
            StageOutcome::Pending
        }
    }
}

/// Where one lane stands in its stage's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneCount {
    /// Who may vote in it now.
    pub eligible: Vec<String>,
    /// Approvals it needs now.
    pub needed: usize,
    /// The people whose approval counts in this lane (each in one lane of
    /// the stage only).
    pub approvals: Vec<String>,
    /// Rejections by people eligible in it.
    pub rejections: usize,
    /// Its outcome.
    pub outcome: StageOutcome,
}

/// A stage's count: each lane's standing, in declaration order, and the
/// stage's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCount {
    /// The lanes.
    pub lanes: Vec<LaneCount>,
    /// Rejected if a lane rejected (or a rejection left the lanes unable to
    /// approve together), approved once every lane approved.
    pub outcome: StageOutcome,
}

/// Counts a stage's votes over `lanes`.
///
/// A vote counts once per person: each person's first vote, if they are
/// eligible in some lane. An approval counts in **one lane only**, even when
/// its voter sits in several, because lanes are independent reviews: one
/// person must not settle two of them. Which lane is decided by
/// [`assign_approvals`] — as many lanes as possible are filled, so an
/// approver who could serve two lanes goes where nobody else can (a maximum
/// matching), deterministically. A rejection, which can never help a stage
/// pass, counts in every lane its voter is eligible in: each of those
/// reviews heard an objection. A quorum lane survives it while the people
/// who have not rejected can still reach the quorum; and since one person
/// approves in one lane only, a rejection also rejects the stage once the
/// people left who have not rejected are too few to approve all its lanes
/// together.
fn count_lanes(
    lanes: &[Lane],
    directory: &Directory,
    requester: &str,
    votes: &[&Vote],
) -> StageCount {
    let eligible: Vec<Vec<String>> = lanes
        .iter()
        .map(|lane| lane.eligible(directory, requester))
        .collect();
    let needed: Vec<usize> = lanes
        .iter()
        .zip(&eligible)
        .map(|(lane, people)| lane.needed(people.len()))
        .collect();
    let in_some_lane = |person: &str| {
        eligible
            .iter()
            .any(|people| people.iter().any(|p| p == person))
    };
    // Each person's first vote, by people eligible in some lane.
    let mut first_votes: Vec<&Vote> = Vec::new();
    for vote in votes {
        if in_some_lane(&vote.voter) && !first_votes.iter().any(|v| v.voter == vote.voter) {
            first_votes.push(vote);
        }
    }
    let by = |decision: Decision| -> Vec<&str> {
        first_votes
            .iter()
            .filter(|v| v.decision == decision)
            .map(|v| v.voter.as_str())
            .collect()
    };
    let (approvers, rejecters) = (by(Decision::Approved), by(Decision::Rejected));
    let assigned = assign_approvals(&approvers, &eligible, &needed);
    let counts: Vec<LaneCount> = lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| {
            let rejections = rejecters
                .iter()
                .filter(|r| eligible[i].iter().any(|p| p == *r))
                .count();
            let approvals: Vec<String> = assigned[i]
                .iter()
                .map(|&a| approvers[a].to_owned())
                .collect();
            LaneCount {
                outcome: lane.settle(eligible[i].len(), needed[i], approvals.len(), rejections),
                eligible: eligible[i].clone(),
                needed: needed[i],
                approvals,
                rejections,
            }
        })
        .collect();
    let outcome = if counts.iter().any(|c| c.outcome == StageOutcome::Rejected) {
        StageOutcome::Rejected
    } else if counts.iter().all(|c| c.outcome == StageOutcome::Approved) {
        StageOutcome::Approved
    } else if !rejecters.is_empty() && !can_fill(&eligible, &needed, &rejecters) {
        StageOutcome::Rejected
    } else {
        StageOutcome::Pending
    };
    StageCount {
        lanes: counts,
        outcome,
    }
}

/// Whether the lanes could all approve together if everyone eligible but
/// `excluded` approved, each person counting in one lane.
fn can_fill(eligible: &[Vec<String>], needed: &[usize], excluded: &[&str]) -> bool {
    let mut people: Vec<&str> = eligible
        .iter()
        .flatten()
        .map(String::as_str)
        .filter(|p| !excluded.contains(p))
        .collect();
    people.sort_unstable();
    people.dedup();
    let assigned = assign_approvals(&people, eligible, needed);
    assigned
        .iter()
        .zip(needed)
        .all(|(lane, need)| lane.len() >= *need)
}

/// Assigns each approving person (indices into `people`) to at most one
/// lane they are eligible in.
///
/// First as many approvals as possible count towards what the lanes need
/// (each lane takes at most `needed`): a maximum bipartite matching by
/// augmenting paths, people taken in the order given (the order they voted),
/// lanes tried in declaration order, so the same votes always give the same
/// assignment. A greedy "first lane that still needs one" is not enough:
/// with lanes A = {x, y} and B = {x}, x voting first would fill A and leave
/// B waiting for nobody, where the matching moves x to B and y to A. Then
/// anyone left over is shown in the first lane they are eligible in, beyond
/// its need (which changes no outcome: every lane they could serve is full).
fn assign_approvals(
    people: &[&str],
    eligible: &[Vec<String>],
    needed: &[usize],
) -> Vec<Vec<usize>> {
    let may_serve = |person: usize, lane: usize| eligible[lane].iter().any(|p| p == people[person]);
    let mut lanes: Vec<Vec<usize>> = vec![Vec::new(); eligible.len()];
    let mut left_over = Vec::new();
    for person in 0..people.len() {
        let mut visited = vec![false; eligible.len()];
        if !augment(person, &may_serve, needed, &mut lanes, &mut visited) {
            left_over.push(person);
        }
    }
    for person in left_over {
        if let Some(lane) = (0..eligible.len()).find(|&lane| may_serve(person, lane)) {
            lanes[lane].push(person);
        }
    }
    lanes
}

/// One augmenting-path step of [`assign_approvals`]: places `person` in a
/// lane with room, or in a full lane whose occupant can move elsewhere.
fn augment(
    person: usize,
    may_serve: &impl Fn(usize, usize) -> bool,
    needed: &[usize],
    lanes: &mut [Vec<usize>],
    visited: &mut [bool],
) -> bool {
    for lane in 0..lanes.len() {
        if visited[lane] || !may_serve(person, lane) {
            continue;
        }
        visited[lane] = true;
        if lanes[lane].len() < needed[lane] {
            lanes[lane].push(person);
            return true;
        }
        for slot in 0..lanes[lane].len() {
            let occupant = lanes[lane][slot];
            if augment(occupant, may_serve, needed, lanes, visited) {
                lanes[lane][slot] = person;
                return true;
            }
        }
    }
    false
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

    /// Each lane's standing and the stage's outcome (see [`StageCount`]).
    pub fn count(&self, directory: &Directory, requester: &str, votes: &[&Vote]) -> StageCount {
        count_lanes(&self.lanes, directory, requester, votes)
    }

    /// The stage's outcome: rejected if any lane rejected, approved once all
    /// lanes approved, each approval counting in one lane.
    pub fn outcome(&self, directory: &Directory, requester: &str, votes: &[&Vote]) -> StageOutcome {
        self.count(directory, requester, votes).outcome
    }

    /// Whether the stage could ever approve with the approvers it has now:
    /// every lane has enough eligible people, and there are enough distinct
    /// people to fill all lanes at once (one person approves in one lane).
    pub fn reachable(&self, directory: &Directory, requester: &str) -> bool {
        let eligible: Vec<Vec<String>> = self
            .lanes
            .iter()
            .map(|lane| lane.eligible(directory, requester))
            .collect();
        let needed: Vec<usize> = self
            .lanes
            .iter()
            .zip(&eligible)
            .map(|(lane, people)| lane.needed(people.len()))
            .collect();
        self.lanes
            .iter()
            .all(|lane| lane.reachable(directory, requester))
            && can_fill(&eligible, &needed, &[])
    }

    /// Whether this is a CAB stage: one with a lane a CAB meeting decides.
    pub fn is_cab(&self) -> bool {
        self.lanes.iter().any(|lane| lane.board == Some(Board::Cab))
    }

    /// The names of this stage's lanes other than its CAB lanes that the
    /// votes have not approved yet. A CAB meeting's approval settles only
    /// the CAB's lanes; the others are reviews of their own.
    pub fn lanes_awaiting_votes_besides_cab(
        &self,
        directory: &Directory,
        requester: &str,
        votes: &[&Vote],
    ) -> Vec<String> {
        let others: Vec<Lane> = self
            .lanes
            .iter()
            .filter(|lane| lane.board != Some(Board::Cab))
            .cloned()
            .collect();
        let count = count_lanes(&others, directory, requester, votes);
        others
            .iter()
            .zip(count.lanes)
            .filter(|(_, lane)| lane.outcome != StageOutcome::Approved)
            .map(|(lane, _)| lane.name.clone())
            .collect()
    }
}

/// Where one lane of the current round stands, for people reading a change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LaneView {
    /// Display name.
    pub name: String,
    /// The lane's rule.
    pub rule: LaneRule,
    /// The board it stands for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<Board>,
    /// Who may vote in it now (its approvers less the requester).
    pub eligible_approvers: Vec<String>,
    /// Approvals counted in this lane (a person's approval counts in one
    /// lane of the stage only).
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
                let count = stage.count(directory, requester, &stage_votes);
                let lanes = stage
                    .lanes
                    .iter()
                    .zip(count.lanes)
                    .map(|(lane, counted)| LaneView {
                        name: lane.name.clone(),
                        rule: lane.rule,
                        board: lane.board,
                        approvals: counted.approvals.len(),
                        rejections: counted.rejections,
                        outcome: counted.outcome,
                        eligible_approvers: counted.eligible,
                    })
                    .collect();
                let status = if record.current_stage == Some(index) {
                    "open"
                } else {
                    match count.outcome {
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
        let approvers = Approvers::Group(group.clone());
        // The built-in policy's only authorising stage is the CAB's.
        let in_cab_stage = *state == ChangeState::Authorize;
        let lane = Lane {
            name: group.clone(),
            board: Board::of_lane(change_type, in_cab_stage, &approvers, directory),
            approvers,
            rule: *rule,
        };
        if !lane.reachable(directory, requester) {
            return Err(lane.unreachable(name, directory, requester));
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
            ..Directory::default()
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
            board: None,
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
            ..Directory::default()
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

    fn users(names: &[&str], rule: LaneRule) -> Lane {
        Lane {
            name: names.join(", "),
            approvers: Approvers::Users(names.iter().map(|n| (*n).to_owned()).collect()),
            rule,
            board: None,
        }
    }

    fn stage_of(lanes: Vec<Lane>) -> Stage {
        Stage {
            name: "Review".into(),
            state: ChangeState::Assess,
            lanes,
        }
    }

    fn stage_outcome(stage: &Stage, requester: &str, votes: &[Vote]) -> StageOutcome {
        let refs: Vec<&Vote> = votes.iter().collect();
        stage.outcome(&everyone_active(), requester, &refs)
    }

    /// The test directory with every person named in the tests active.
    fn everyone_active() -> Directory {
        let mut directory = directory();
        directory.active_users = ["alice", "bob", "carol", "dave", "erin", "ivan", "mallory"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        directory
    }

    #[test]
    fn an_ecab_lane_of_an_emergency_change_needs_two_approvals_whatever_its_rule() {
        let dir = directory();
        for rule in [
            LaneRule::All,
            LaneRule::Any,
            LaneRule::Majority,
            LaneRule::Quorum(1),
        ] {
            let approvers = Approvers::Group("ECAB".into());
            let ecab = Lane {
                board: Board::of_lane(ChangeType::Emergency, false, &approvers, &dir),
                approvers,
                ..lane("ECAB", rule)
            };
            assert_eq!(ecab.board, Some(Board::Ecab));
            // bob, an ECAB member, requested: carol alone is eligible, and
            // one approval never settles it, so submission is refused.
            assert!(!ecab.reachable(&dir, "bob"), "{rule:?}");
            let refusal = ecab.unreachable("ECAB", &dir, "bob");
            assert!(
                matches!(&refusal, Refusal::Conflict { rule: "approval_stage_unreachable", detail }
                    if detail.contains("at least 2 distinct ECAB approvers")),
                "{refusal:?}"
            );
            let carol = [vote("carol", Decision::Approved)];
            assert_eq!(
                outcome(&ecab, "bob", &carol),
                StageOutcome::Pending,
                "{rule:?}"
            );
            // Requested by someone else: both ECAB members approve it.
            assert!(ecab.reachable(&dir, "zed"));
            assert_eq!(
                outcome(&ecab, "zed", &carol),
                StageOutcome::Pending,
                "{rule:?}"
            );
            let both = [
                vote("carol", Decision::Approved),
                vote("bob", Decision::Approved),
            ];
            assert_eq!(
                outcome(&ecab, "zed", &both),
                StageOutcome::Approved,
                "{rule:?}"
            );
        }
        // The same group on a normal change is no ECAB lane: `all` over the
        // one eligible member is met by one approval.
        let approvers = Approvers::Group("ECAB".into());
        assert_eq!(
            Board::of_lane(ChangeType::Normal, false, &approvers, &dir),
            None
        );
        let plain = lane("ECAB", LaneRule::All);
        assert_eq!(
            outcome(&plain, "bob", &[vote("carol", Decision::Approved)]),
            StageOutcome::Approved
        );
    }

    #[test]
    fn the_builtin_plan_marks_the_cab_and_the_ecab() {
        let dir = directory();
        let normal = builtin_plan(ChangeType::Normal, Some("dba"), "alice", &dir).unwrap();
        assert_eq!(normal.stages[0].lanes[0].board, None);
        assert_eq!(normal.stages[1].lanes[0].board, Some(Board::Cab));
        assert!(normal.stages[1].is_cab() && !normal.stages[0].is_cab());
        let emergency = builtin_plan(ChangeType::Emergency, None, "zed", &dir).unwrap();
        assert_eq!(emergency.stages[0].lanes[0].board, Some(Board::Ecab));
        assert!(!emergency.stages[0].is_cab());
    }

    #[test]
    fn named_users_count_only_while_active() {
        let quorum = users(&["ivan", "dave", "carol"], LaneRule::Quorum(2));
        let mut dir = everyone_active();
        let votes = [
            vote("ivan", Decision::Approved),
            vote("dave", Decision::Approved),
        ];
        let refs: Vec<&Vote> = votes.iter().collect();
        assert_eq!(quorum.outcome(&dir, "zed", &refs), StageOutcome::Approved);
        // ivan is deactivated after approving: his vote stops counting.
        dir.active_users.remove("ivan");
        assert_eq!(quorum.eligible(&dir, "zed"), ["carol", "dave"]);
        assert_eq!(quorum.outcome(&dir, "zed", &refs), StageOutcome::Pending);
        // `all` no longer waits for someone who can never vote.
        let all = users(&["ivan", "dave"], LaneRule::All);
        let dave = [vote("dave", Decision::Approved)];
        let refs: Vec<&Vote> = dave.iter().collect();
        assert_eq!(all.outcome(&dir, "zed", &refs), StageOutcome::Approved);
        // Nobody active left: never reachable, never approved.
        dir.active_users.remove("dave");
        assert!(!all.reachable(&dir, "zed"));
        assert_eq!(all.outcome(&dir, "zed", &refs), StageOutcome::Pending);
    }

    #[test]
    fn one_approval_counts_in_one_lane_of_a_stage() {
        // ivan sits in both lanes: his approval settles one of them.
        let stage = stage_of(vec![
            lane("dba", LaneRule::Any),
            users(&["ivan", "bob"], LaneRule::Any),
        ]);
        let ivan = [vote("ivan", Decision::Approved)];
        assert_eq!(stage_outcome(&stage, "alice", &ivan), StageOutcome::Pending);
        let count = stage.count(
            &everyone_active(),
            "alice",
            &ivan.iter().collect::<Vec<_>>(),
        );
        assert_eq!(count.lanes[0].approvals, ["ivan"]);
        assert!(count.lanes[1].approvals.is_empty());
        let both = [
            vote("ivan", Decision::Approved),
            vote("bob", Decision::Approved),
        ];
        assert_eq!(
            stage_outcome(&stage, "alice", &both),
            StageOutcome::Approved
        );
        // The order of the votes does not strand a lane: ivan, who could
        // serve either, moves to the lane only he can fill.
        let stage = stage_of(vec![
            users(&["ivan", "bob"], LaneRule::Any),
            lane("dba", LaneRule::Any),
        ]);
        let ivan_first = [
            vote("ivan", Decision::Approved),
            vote("bob", Decision::Approved),
        ];
        assert_eq!(
            stage_outcome(&stage, "alice", &ivan_first),
            StageOutcome::Approved
        );
        let count = stage.count(
            &everyone_active(),
            "alice",
            &ivan_first.iter().collect::<Vec<_>>(),
        );
        assert_eq!(count.lanes[0].approvals, ["bob"]);
        assert_eq!(count.lanes[1].approvals, ["ivan"]);
        // A stage whose lanes together need more people than they have can
        // never approve.
        let crowded = stage_of(vec![
            lane("dba", LaneRule::Any),
            users(&["ivan"], LaneRule::Any),
        ]);
        assert!(!crowded.reachable(&everyone_active(), "alice"));
        assert!(stage.reachable(&everyone_active(), "alice"));
    }

    #[test]
    fn rejections_still_follow_each_lane_rule() {
        // A rejection in an `any` lane rejects, whoever else the voter is.
        let stage = stage_of(vec![
            lane("dba", LaneRule::Any),
            users(&["ivan", "bob"], LaneRule::Any),
        ]);
        let no = [vote("ivan", Decision::Rejected)];
        assert_eq!(stage_outcome(&stage, "alice", &no), StageOutcome::Rejected);
        // A quorum that can still be met survives one: the CAB needs two of
        // bob, carol, dave and erin, the other lane one of dave and erin.
        let quorum = stage_of(vec![
            lane("CAB", LaneRule::Quorum(2)),
            users(&["dave", "erin"], LaneRule::Quorum(1)),
        ]);
        let bob_no = [vote("bob", Decision::Rejected)];
        assert_eq!(
            stage_outcome(&quorum, "zed", &bob_no),
            StageOutcome::Pending
        );
        // With carol rejecting too each lane alone could still be met, but
        // dave and erin cannot give the CAB two and the other lane one, a
        // person approving in one lane only: the rejections stand.
        let two_no = [
            vote("bob", Decision::Rejected),
            vote("carol", Decision::Rejected),
        ];
        let count = quorum.count(
            &everyone_active(),
            "zed",
            &two_no.iter().collect::<Vec<_>>(),
        );
        assert!(
            count
                .lanes
                .iter()
                .all(|lane| lane.outcome == StageOutcome::Pending)
        );
        assert_eq!(count.outcome, StageOutcome::Rejected);
    }
}
