//! Resolving a workflow for one change into the plan frozen on it.

use super::{ApproverSpec, ChangeFacts, Workflow};
use crate::approval::{ApprovalPlan, Approvers, Board, Lane, Stage, WorkflowRef};
use crate::directory::Directory;
use crate::enums::{ChangeState, ChangeType};
use crate::errors::Refusal;

/// Resolves `workflow` for a change into its approval plan, refusing (409)
/// as the built-in policy does when a lane names a group that does not exist
/// (`approval_group_missing`) or could never approve once the requester is
/// left out (`approval_stage_unreachable`).
///
/// Stage states: every stage of an emergency change runs in `authorize`. For
/// a normal change, stages before the `cab: true` stage run in `assess`, the
/// CAB stage and later ones in `authorize`. A workflow with no CAB stage
/// treats its last stage as the authorising one, so a normal change still
/// passes through `assess` (earlier stages) and `authorize` (the last) as its
/// lifecycle says; a one-stage workflow goes straight to `authorize`.
///
/// Approvers: `group`, `group_of_kind` and `assignment_group` become one
/// group and `ci_owners` a set of groups, whose members are read at every
/// vote (someone who leaves a group stops counting). `users` and `role`
/// become a fixed user list: roles live on users, not in the directory the
/// evaluator reads at every vote, so the holders are frozen when the round
/// opens, which also keeps who may decide a round stable and auditable. Who
/// of the list is still active is read at every vote, as group members are.
///
/// Boards ([`Board`]): a lane of a group of kind `cab` in a normal change's
/// `cab: true` stage is the CAB's, which a meeting's outcome decides; that
/// stage is the plan's CAB stage (a workflow without one has none, and its
/// changes never go on a meeting's agenda). A lane of a group of kind `ecab`
/// on an emergency change is the ECAB's and needs two distinct approvals
/// whatever its rule; an emergency plan without one is refused
/// (`approval_group_missing`). A stage is refused as unreachable when its
/// lanes cannot all approve together, each person approving in one lane.
pub fn resolve_plan(
    workflow: &Workflow,
    facts: &ChangeFacts,
    directory: &Directory,
) -> Result<ApprovalPlan, Refusal> {
    let document = &workflow.document;
    let cab_stage = document.stages.iter().position(|stage| stage.cab);
    let authorising_from = match facts.change_type {
        ChangeType::Emergency => 0,
        ChangeType::Normal | ChangeType::Standard => {
            cab_stage.unwrap_or(document.stages.len().saturating_sub(1))
        }
    };
    let mut stages = Vec::new();
    if facts.change_type != ChangeType::Standard {
        for (index, stage) in document.stages.iter().enumerate() {
            let mut lanes = Vec::new();
            for lane in &stage.lanes {
                let approvers = resolve_approvers(&lane.approvers, &stage.name, facts, directory)?;
                let board = Board::of_lane(
                    facts.change_type,
                    cab_stage == Some(index),
                    &approvers,
                    directory,
                );
                let lane = Lane {
                    name: lane
                        .name
                        .clone()
                        .unwrap_or_else(|| default_lane_name(&lane.approvers, &approvers)),
                    approvers,
                    rule: lane.rule,
                    board,
                };
                if !lane.reachable(directory, &facts.requester) {
                    return Err(lane.unreachable(&stage.name, directory, &facts.requester));
                }
                lanes.push(lane);
            }
            let resolved = Stage {
                name: stage.name.clone(),
                state: if index < authorising_from {
                    ChangeState::Assess
                } else {
                    ChangeState::Authorize
                },
                lanes,
            };
            if !resolved.reachable(directory, &facts.requester) {
                return Err(Refusal::conflict(
                    "approval_stage_unreachable",
                    format!(
                        "stage `{}` can never be approved: its lanes need more distinct approvers \
                         than they have together (one person's approval counts in one lane only)",
                        stage.name
                    ),
                ));
            }
            stages.push(resolved);
        }
    }
    let has_ecab_lane = stages
        .iter()
        .flat_map(|stage| &stage.lanes)
        .any(|lane| lane.board == Some(Board::Ecab));
    if facts.change_type == ChangeType::Emergency && !has_ecab_lane {
        return Err(Refusal::conflict(
            "approval_group_missing",
            format!(
                "workflow `{}` has no lane of the ECAB (a group of kind `ecab`): \
                 an emergency change needs at least two distinct ECAB approvers",
                document.name
            ),
        ));
    }
    Ok(ApprovalPlan {
        source: format!("workflow {} v{}", document.name, workflow.version),
        workflow: Some(WorkflowRef {
            name: document.name.clone(),
            version: workflow.version,
        }),
        stages,
    })
}

fn resolve_approvers(
    spec: &ApproverSpec,
    stage: &str,
    facts: &ChangeFacts,
    directory: &Directory,
) -> Result<Approvers, Refusal> {
    let existing = |name: &str| {
        directory
            .group(name)
            .map(|group| group.name.clone())
            .ok_or_else(|| {
                Refusal::conflict(
                    "approval_group_missing",
                    format!("no group named `{name}` exists to approve the stage `{stage}`"),
                )
            })
    };
    Ok(match spec {
        ApproverSpec::Group(name) => Approvers::Group(existing(name)?),
        ApproverSpec::GroupOfKind(kind) => Approvers::Group(
            directory
                .group_of_kind(*kind)
                .map(|group| group.name.clone())
                .ok_or_else(|| {
                    Refusal::conflict(
                        "approval_group_missing",
                        format!("no group of kind `{kind}` exists to approve the stage `{stage}`"),
                    )
                })?,
        ),
        ApproverSpec::AssignmentGroup => Approvers::Group(
            facts
                .assignment_group
                .clone()
                .ok_or_else(|| Refusal::invalid("assignment_group", "required before submit"))?,
        ),
        ApproverSpec::CiOwners => {
            let mut groups = facts
                .ci_owner_groups
                .iter()
                .map(|name| existing(name))
                .collect::<Result<Vec<_>, _>>()?;
            groups.sort();
            groups.dedup();
            Approvers::Groups(groups)
        }
        ApproverSpec::Users(users) => Approvers::Users(users.clone()),
        ApproverSpec::Role(role) => {
            let mut holders: Vec<String> = facts
                .users
                .iter()
                .filter(|user| user.role == *role)
                .map(|user| user.username.clone())
                .collect();
            holders.sort();
            holders.dedup();
            Approvers::Users(holders)
        }
    })
}

/// A lane without a name is called after its approvers: the group's name
/// (as the built-in policy names its lanes), `CI owners`, the users, or
/// the role.
fn default_lane_name(spec: &ApproverSpec, resolved: &Approvers) -> String {
    match (spec, resolved) {
        (ApproverSpec::CiOwners, _) => "CI owners".to_owned(),
        (ApproverSpec::Role(role), _) => format!("role {role}"),
        (_, Approvers::Group(name)) => name.clone(),
        (_, Approvers::Users(users) | Approvers::Groups(users)) => users.join(", "),
    }
}
