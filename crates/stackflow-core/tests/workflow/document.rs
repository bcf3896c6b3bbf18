//! Parsing: JSON and YAML say the same thing, unknown fields are refused,
//! errors name the field.

use crate::{directory, fields, yaml};
use stackflow_core::workflow::{
    ApproverSpec, DEFAULT_WORKFLOWS_YAML, DocumentFormat, Sla, default_workflows, parse_document,
    validate,
};
use stackflow_core::{ChangeType, Directory, LaneRule, Role};

const JSON: &str = r#"{
  "name": "db-high-risk",
  "type": "change_approval",
  "priority": 10,
  "match": {"change_types": ["normal"], "risk_levels": ["high", "critical"], "ci_classes": ["database"]},
  "sla": {"business_hours": 16},
  "stages": [
    {"name": "Peer review", "lanes": [
      {"name": "DBAs", "approvers": {"group": "dba"}, "rule": "any"},
      {"approvers": {"ci_owners": true}, "rule": {"quorum": 1}}
    ]},
    {"name": "CAB", "cab": true, "lanes": [
      {"approvers": {"group_of_kind": "cab"}, "rule": "majority"},
      {"approvers": {"role": "change_manager"}, "rule": "all"},
      {"approvers": {"users": ["bob", "carol"]}, "rule": "any"}
    ]}
  ]
}"#;

const YAML: &str = "
name: db-high-risk
type: change_approval
priority: 10
match:
  change_types: [normal]
  risk_levels: [high, critical]
  ci_classes: [database]
sla: {business_hours: 16}
stages:
  - name: Peer review
    lanes:
      - name: DBAs
        approvers: {group: dba}
        rule: any
      - approvers: {ci_owners: true}
        rule: {quorum: 1}
  - name: CAB
    cab: true
    lanes:
      - approvers: {group_of_kind: cab}
        rule: majority
      - approvers:
          role: change_manager
        rule: all
      - approvers: {users: [bob, carol]}
        rule: any
";

#[test]
fn json_and_yaml_of_the_same_workflow_parse_to_the_same_document() {
    assert_eq!(DocumentFormat::detect(JSON), DocumentFormat::Json);
    assert_eq!(DocumentFormat::detect(YAML), DocumentFormat::Yaml);
    let from_json = parse_document(JSON, DocumentFormat::Json).expect("JSON parses");
    let from_yaml = yaml(YAML);
    assert_eq!(from_json, from_yaml);
    assert!(from_json.active, "active defaults to true");
    assert_eq!(from_json.sla, Some(Sla::BusinessHours(16)));
    let review = &from_json.stages[0];
    assert_eq!(review.lanes[1].approvers, ApproverSpec::CiOwners);
    assert_eq!(review.lanes[1].rule, LaneRule::Quorum(1));
    assert_eq!(
        from_json.stages[1].lanes[1].approvers,
        ApproverSpec::Role(Role::ChangeManager)
    );
    // Writing it out and reading it back changes nothing, in either format.
    let json_again = parse_document(&from_json.to_json(), DocumentFormat::Json).unwrap();
    let yaml_again = parse_document(&from_json.to_yaml(), DocumentFormat::Yaml).unwrap();
    assert_eq!(json_again, from_json);
    assert_eq!(yaml_again, from_json);
    assert!(from_json.to_json().contains(
        r#""risk_levels": [
      "high","#
    ));
}

#[test]
fn unknown_fields_and_malformed_approvers_are_refused_with_their_path() {
    let cases = [
        (
            "name: x\ntype: change_approval\nstages: []\ncolour: red\n",
            "colour",
        ),
        ("name: x\ntype: other\nstages: []\n", "type"),
        (
            "name: x\ntype: change_approval\nstages:\n  - name: s\n    lanes:\n      - approvers: {group: a, users: [b]}\n        rule: any\n",
            "stages[0].lanes[0].approvers",
        ),
        (
            "name: x\ntype: change_approval\nstages:\n  - name: s\n    lanes:\n      - approvers: {ci_owners: false}\n        rule: any\n",
            "stages[0].lanes[0].approvers",
        ),
        (
            "name: x\ntype: change_approval\nstages:\n  - name: s\n    lanes:\n      - approvers: {role: wizard}\n        rule: any\n",
            "stages[0].lanes[0].approvers.role",
        ),
        (
            "name: x\ntype: change_approval\nstages:\n  - name: s\n    lanes:\n      - approvers: {group: a}\n        rule: {quorum: 2}\n        weight: 3\n",
            "stages[0].lanes[0].weight",
        ),
        (
            "name: x\ntype: change_approval\nmatch: {risk_levels: [extreme]}\nstages: []\n",
            "match.risk_levels",
        ),
    ];
    for (text, field) in cases {
        let refusal = parse_document(text, DocumentFormat::Yaml).expect_err(text);
        assert_eq!(fields(refusal), [field], "{text}");
    }
    let not_json = parse_document("{\"name\": ", DocumentFormat::Json).unwrap_err();
    assert_eq!(fields(not_json), ["name"]);
}

#[test]
fn the_default_workflows_are_the_documented_yaml_and_valid_even_before_any_group_exists() {
    let parsed: Vec<_> = DEFAULT_WORKFLOWS_YAML
        .iter()
        .map(|text| yaml(text))
        .collect();
    let defaults = default_workflows();
    assert_eq!(parsed, defaults);
    assert_eq!(defaults[0].name, "normal-default");
    assert_eq!(
        defaults[1].matches.change_types,
        Some(vec![ChangeType::Emergency])
    );
    for document in &defaults {
        assert_eq!(document.priority, 0);
        validate(document, &directory()).expect("valid against the organisation");
        validate(document, &Directory::default()).expect("valid before any group exists");
    }
}
