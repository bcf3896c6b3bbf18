//! Selection: the highest-priority active match, ties by name.

use crate::{stored, yaml};
use stackflow_core::risk::RiskLevel;
use stackflow_core::workflow::{Workflow, select};
use stackflow_core::{ChangeFacts, ChangeType};

fn workflow(name: &str, priority: i32, active: bool, matches: &str) -> Workflow {
    stored(yaml(&format!(
        "name: {name}\ntype: change_approval\nactive: {active}\npriority: {priority}\nmatch: {matches}\nstages:\n  - name: s\n    lanes: [{{approvers: {{group: dba}}, rule: any}}]\n"
    )))
}

fn facts(change_type: ChangeType, risk: Option<RiskLevel>, classes: &[&str]) -> ChangeFacts {
    ChangeFacts {
        risk_level: risk,
        ci_classes: classes.iter().map(|c| (*c).to_owned()).collect(),
        ..ChangeFacts::new(change_type, "alice")
    }
}

fn chosen<'a>(workflows: &'a [Workflow], facts: &ChangeFacts) -> Option<&'a str> {
    select(workflows, facts).map(Workflow::name)
}

#[test]
fn risk_level_and_ci_class_rules_pick_different_workflows() {
    let workflows = [
        workflow("normal-default", 0, true, "{change_types: [normal]}"),
        workflow("high-risk", 10, true, "{risk_levels: [high, critical]}"),
        workflow("databases", 5, true, "{ci_classes: [database]}"),
    ];
    let normal = ChangeType::Normal;
    assert_eq!(
        chosen(
            &workflows,
            &facts(normal, Some(RiskLevel::High), &["server"])
        ),
        Some("high-risk")
    );
    assert_eq!(
        chosen(
            &workflows,
            &facts(normal, Some(RiskLevel::Low), &["server", "database"])
        ),
        Some("databases")
    );
    // Higher priority wins when both match.
    assert_eq!(
        chosen(
            &workflows,
            &facts(normal, Some(RiskLevel::Critical), &["database"])
        ),
        Some("high-risk")
    );
    // Not assessed: a risk rule cannot hold.
    assert_eq!(
        chosen(&workflows, &facts(normal, None, &["server"])),
        Some("normal-default")
    );
    assert_eq!(
        chosen(&workflows, &facts(ChangeType::Emergency, None, &["server"])),
        None
    );
}

#[test]
fn inactive_workflows_are_ignored_and_ties_go_to_the_first_name() {
    let workflows = [
        workflow("zulu", 7, true, "{}"),
        workflow("alpha", 7, true, "{}"),
        workflow("top", 99, false, "{}"),
    ];
    let any = facts(ChangeType::Normal, Some(RiskLevel::Low), &[]);
    assert_eq!(chosen(&workflows, &any), Some("alpha"));
    let reversed: Vec<_> = workflows.iter().rev().cloned().collect();
    assert_eq!(chosen(&reversed, &any), Some("alpha"));
}

#[test]
fn standard_changes_never_use_a_workflow() {
    let workflows = [workflow("everything", 0, true, "{}")];
    assert_eq!(
        chosen(&workflows, &facts(ChangeType::Standard, None, &[])),
        None
    );
}
