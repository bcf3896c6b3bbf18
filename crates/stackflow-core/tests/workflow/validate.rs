//! Validation on save: every problem, each with its field path.

use crate::{directory, fields, yaml};
use stackflow_core::workflow::validate;

#[track_caller]
fn problems(text: &str) -> Vec<String> {
    fields(validate(&yaml(text), &directory()).expect_err("invalid"))
}

#[test]
fn every_problem_of_a_document_is_named_by_its_path() {
    let text = "
name: Bad Name
type: change_approval
match: {change_types: [normal, standard], ci_classes: []}
sla: {business_days: 0}
stages:
  - name: Review
    cab: true
    lanes:
      - approvers: {group: nobody}
        rule: any
      - approvers: {group: dba}
        rule: {quorum: 0}
      - approvers: {group: dba}
        rule: {quorum: 3}
      - approvers: {group: ghosts}
        rule: all
      - approvers: {group: ghosts}
        rule: {quorum: 1}
      - approvers: {users: [bob, carol, bob]}
        rule: {quorum: 3}
      - approvers: {users: []}
        rule: any
  - name: Review
    cab: true
    lanes: []
";
    assert_eq!(
        problems(text),
        [
            "name",
            "match.change_types[1]",
            "match.ci_classes",
            "sla.business_days",
            "stages[0].cab",
            "stages[0].lanes[0].approvers.group",
            "stages[0].lanes[1].rule",
            "stages[0].lanes[2].rule",
            "stages[0].lanes[3].rule",
            "stages[0].lanes[4].rule",
            "stages[0].lanes[5].approvers.users[2]",
            "stages[0].lanes[5].rule",
            "stages[0].lanes[6].approvers.users",
            "stages[1].name",
            "stages[1].cab",
            "stages[1].lanes",
        ]
    );
}

#[test]
fn the_cab_stage_needs_a_lane_of_the_cab() {
    let stage = |lane: &str| {
        format!(
            "name: w\ntype: change_approval\nmatch: {{change_types: [normal]}}\nstages:\n  - name: Board\n    cab: true\n    lanes:\n      - {{approvers: {{group: dba}}, rule: any}}\n{lane}"
        )
    };
    assert_eq!(problems(&stage("")), ["stages[0].cab"]);
    for cab_lane in [
        "      - {approvers: {group_of_kind: cab}, rule: majority}\n",
        "      - {approvers: {group: CAB}, rule: majority}\n",
    ] {
        validate(&yaml(&stage(cab_lane)), &directory()).expect("a CAB lane makes it valid");
    }
}

#[test]
fn a_workflow_needs_a_stage_and_a_plain_name() {
    assert_eq!(
        problems("name: ''\ntype: change_approval\nmatch: {change_types: [normal]}\nstages: []\n"),
        ["name", "stages"]
    );
    for bad in ["-lead", "Caps", "with space", "dot.ted"] {
        let text = format!(
            "name: '{bad}'\ntype: change_approval\nmatch: {{change_types: [normal]}}\nstages:\n  - name: s\n    lanes: [{{approvers: {{group: dba}}, rule: any}}]\n"
        );
        assert_eq!(problems(&text), ["name"], "{bad}");
    }
    let fine = "name: 0-db_review\ntype: change_approval\nmatch: {change_types: [normal]}\nsla: {minutes: 30}\nstages:\n  - name: s\n    lanes: [{approvers: {group: dba}, rule: any}]\n";
    validate(&yaml(fine), &directory()).expect("valid");
}

#[test]
fn a_workflow_that_matches_emergency_changes_needs_two_distinct_ecab_approvers() {
    let with_lane = |matches: &str, approvers: &str, rule: &str| {
        format!(
            "name: e\ntype: change_approval\nmatch: {matches}\nstages:\n  - name: ECAB\n    lanes: [{{approvers: {approvers}, rule: {rule}}}]\n"
        )
    };
    // Absent change types match emergency changes too.
    for (approvers, rule) in [
        ("{group: ECAB}", "any"),
        ("{group: ECAB}", "{quorum: 1}"),
        ("{group: CAB}", "{quorum: 2}"),
        ("{group: ECAB}", "majority"),
        ("{group_of_kind: cab}", "all"),
    ] {
        assert_eq!(
            problems(&with_lane("{}", approvers, rule)),
            ["stages"],
            "{approvers} {rule}"
        );
    }
    for (approvers, rule) in [
        ("{group: ECAB}", "{quorum: 2}"),
        ("{group: ECAB}", "all"),
        ("{group_of_kind: ecab}", "{quorum: 2}"),
    ] {
        let text = with_lane("{change_types: [emergency]}", approvers, rule);
        validate(&yaml(&text), &directory()).expect(&text);
    }
    // A normal-only workflow may be approved by one person.
    let normal = with_lane("{change_types: [normal]}", "{group: ECAB}", "any");
    validate(&yaml(&normal), &directory()).expect("normal only");
}
