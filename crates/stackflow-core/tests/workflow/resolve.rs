//! Resolution into the plan frozen on a change.

use crate::{conflict_rule, directory, stored, yaml};
use stackflow_core::approval::builtin_plan;
use stackflow_core::workflow::{default_workflows, resolve_plan};
use stackflow_core::{
    Actor, ApprovalPlan, Approvers, ChangeFacts, ChangeState, ChangeType, Refusal, Role,
    WorkflowRef,
};

fn facts(change_type: ChangeType, requester: &str) -> ChangeFacts {
    ChangeFacts {
        assignment_group: Some("dba".into()),
        ..ChangeFacts::new(change_type, requester)
    }
}

const THREE_STAGES: &str = "
name: three
type: change_approval
stages:
  - name: Peer review
    lanes: [{approvers: {group: net}, rule: any}]
  - name: CAB
    cab: true
    lanes: [{approvers: {group_of_kind: cab}, rule: majority}]
  - name: Sign-off
    lanes: [{approvers: {group: ECAB}, rule: {quorum: 2}}]
";

fn states(plan: &ApprovalPlan) -> Vec<ChangeState> {
    plan.stages.iter().map(|s| s.state).collect()
}

#[test]
fn stage_states_follow_the_cab_stage_and_the_change_type() {
    use ChangeState::{Assess, Authorize};
    let workflow = stored(yaml(THREE_STAGES));
    let normal =
        resolve_plan(&workflow, &facts(ChangeType::Normal, "alice"), &directory()).unwrap();
    assert_eq!(states(&normal), [Assess, Authorize, Authorize]);
    assert_eq!(normal.source, "workflow three v1");
    assert_eq!(
        normal.workflow,
        Some(WorkflowRef {
            name: "three".into(),
            version: 1
        })
    );
    let emergency = resolve_plan(
        &workflow,
        &facts(ChangeType::Emergency, "alice"),
        &directory(),
    )
    .unwrap();
    assert_eq!(states(&emergency), [Authorize, Authorize, Authorize]);
    // No stage marked cab: the last stage authorises, earlier ones assess.
    let uncabbed = stored(yaml(&THREE_STAGES.replace("cab: true", "cab: false")));
    let plan = resolve_plan(&uncabbed, &facts(ChangeType::Normal, "alice"), &directory()).unwrap();
    assert_eq!(states(&plan), [Assess, Assess, Authorize]);
    // The CAB first: a normal change goes straight to authorize on submit.
    let cab_first = stored(yaml(
        "name: c\ntype: change_approval\nstages:\n  - name: CAB\n    cab: true\n    lanes: [{approvers: {group_of_kind: cab}, rule: majority}]\n",
    ));
    let plan = resolve_plan(
        &cab_first,
        &facts(ChangeType::Normal, "alice"),
        &directory(),
    )
    .unwrap();
    assert_eq!(states(&plan), [Authorize]);
}

#[test]
fn the_default_workflows_resolve_to_the_built_in_plan() {
    let defaults = default_workflows();
    for (document, change_type) in defaults
        .into_iter()
        .zip([ChangeType::Normal, ChangeType::Emergency])
    {
        let workflow = stored(document);
        let plan = resolve_plan(&workflow, &facts(change_type, "alice"), &directory()).unwrap();
        let builtin = builtin_plan(change_type, Some("dba"), "alice", &directory()).unwrap();
        assert_eq!(plan.stages, builtin.stages, "{change_type}");
    }
}

#[test]
fn ci_owners_become_groups_and_roles_become_their_holders() {
    let workflow = stored(yaml(
        "name: owners\ntype: change_approval\nmatch: {change_types: [normal]}\nstages:\n  - name: Owners\n    lanes:\n      - approvers: {ci_owners: true}\n        rule: all\n      - approvers: {role: change_manager}\n        rule: any\n",
    ));
    let facts = ChangeFacts {
        ci_owner_groups: vec!["net".into(), "dba".into(), "net".into()],
        users: vec![
            Actor::new("max", Role::ChangeManager),
            Actor::new("mia", Role::ChangeManager),
            Actor::new("bob", Role::Implementer),
        ],
        ..facts(ChangeType::Normal, "alice")
    };
    let plan = resolve_plan(&workflow, &facts, &directory()).unwrap();
    let lanes = &plan.stages[0].lanes;
    assert_eq!(lanes[0].name, "CI owners");
    assert_eq!(
        lanes[0].approvers,
        Approvers::Groups(vec!["dba".into(), "net".into()])
    );
    assert_eq!(
        lanes[0].eligible(&directory(), "alice"),
        ["ivan", "ned", "nina"]
    );
    assert_eq!(lanes[1].name, "role change_manager");
    assert_eq!(
        lanes[1].approvers,
        Approvers::Users(vec!["max".into(), "mia".into()])
    );
    // An affected CI without owners leaves the lane with nobody.
    let no_owners = ChangeFacts {
        ci_owner_groups: Vec::new(),
        ..facts.clone()
    };
    let err = resolve_plan(&workflow, &no_owners, &directory()).unwrap_err();
    assert_eq!(conflict_rule(err), "approval_stage_unreachable");
    let gone = ChangeFacts {
        ci_owner_groups: vec!["dissolved".into()],
        ..facts
    };
    let err = resolve_plan(&workflow, &gone, &directory()).unwrap_err();
    assert_eq!(conflict_rule(err), "approval_group_missing");
}

#[test]
fn segregation_of_duties_refuses_lanes_only_the_requester_could_approve() {
    let workflow = stored(yaml(
        "name: solo\ntype: change_approval\nmatch: {change_types: [normal]}\nstages:\n  - name: Owner\n    lanes: [{approvers: {users: [ivan, alice]}, rule: all}]\n  - name: Team\n    lanes: [{approvers: {assignment_group: true}, rule: {quorum: 2}}]\n",
    ));
    // bob requests: both lanes reachable.
    resolve_plan(&workflow, &facts(ChangeType::Normal, "bob"), &directory()).unwrap();
    // alice requests: `all` of the users is ivan alone (fine), but a quorum
    // of two in `dba` needs her.
    let err =
        resolve_plan(&workflow, &facts(ChangeType::Normal, "alice"), &directory()).unwrap_err();
    assert_eq!(conflict_rule(err), "approval_stage_unreachable");
    // No assignment group: the same field error as the built-in policy.
    let err = resolve_plan(
        &workflow,
        &ChangeFacts::new(ChangeType::Normal, "bob"),
        &directory(),
    )
    .unwrap_err();
    assert!(matches!(err, Refusal::Invalid(ref e) if e[0].field == "assignment_group"));
    // A named group deleted since the workflow was saved.
    let dangling = stored(yaml(
        "name: d\ntype: change_approval\nmatch: {change_types: [normal]}\nstages:\n  - name: s\n    lanes: [{approvers: {group: dissolved}, rule: any}]\n",
    ));
    let err = resolve_plan(&dangling, &facts(ChangeType::Normal, "bob"), &directory()).unwrap_err();
    assert_eq!(conflict_rule(err), "approval_group_missing");
}

#[test]
fn plans_stored_before_workflows_existed_still_parse() {
    let old = serde_json::json!({
        "source": "built-in policy",
        "stages": [{
            "name": "ECAB authorisation",
            "state": "authorize",
            "lanes": [{"name": "ECAB", "approvers": {"group": "ECAB"}, "rule": {"quorum": 2}}]
        }]
    });
    let plan: ApprovalPlan = serde_json::from_value(old.clone()).expect("an old plan parses");
    assert_eq!(plan.workflow, None);
    assert_eq!(
        serde_json::to_value(&plan).unwrap(),
        old,
        "and is written back unchanged"
    );
    let workflow = stored(yaml(THREE_STAGES));
    let new = resolve_plan(&workflow, &facts(ChangeType::Normal, "alice"), &directory()).unwrap();
    let text = serde_json::to_value(&new).unwrap();
    assert_eq!(
        text["workflow"],
        serde_json::json!({"name": "three", "version": 1})
    );
}
