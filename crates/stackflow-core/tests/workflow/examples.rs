//! The example workflow files of `docs/workflows/` parse and validate, and
//! each is selected for the changes its comment describes: the docs stay
//! true.

use super::*;
use stackflow_core::ChangeType;
use stackflow_core::risk::RiskLevel;
use stackflow_core::workflow::{ChangeFacts, select, validate};

const EXAMPLES: [(&str, &str); 4] = [
    (
        "low-risk-peer-review",
        include_str!("../../../../docs/workflows/low-risk-peer-review.yaml"),
    ),
    (
        "database-high-risk",
        include_str!("../../../../docs/workflows/database-high-risk.yaml"),
    ),
    (
        "network-changes",
        include_str!("../../../../docs/workflows/network-changes.yaml"),
    ),
    (
        "emergency-critical",
        include_str!("../../../../docs/workflows/emergency-critical.yaml"),
    ),
];

/// An organisation with the groups the examples name.
fn organisation() -> Directory {
    Directory::of_groups(vec![
        group("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
        group("ECAB", GroupKind::Ecab, &["bob", "carol", "dave"]),
        group("dba", GroupKind::Implementation, &["ivan", "alice"]),
        group("net", GroupKind::Implementation, &["nina", "ned"]),
    ])
}

fn facts(change_type: ChangeType, risk: RiskLevel, classes: &[&str]) -> ChangeFacts {
    let mut facts = ChangeFacts::new(change_type, "alice");
    facts.risk_level = Some(risk);
    facts.ci_classes = classes.iter().map(|c| (*c).to_owned()).collect();
    facts
}

#[test]
fn every_example_validates() {
    for (name, text) in EXAMPLES {
        let document = yaml(text);
        assert_eq!(document.name, name);
        if let Err(refusal) = validate(&document, &organisation()) {
            panic!("docs/workflows/{name}.yaml is refused: {refusal:?}");
        }
    }
}

#[test]
fn each_example_is_selected_for_the_changes_it_describes() {
    let mut workflows: Vec<Workflow> = EXAMPLES.iter().map(|(_, t)| stored(yaml(t))).collect();
    workflows.extend(
        stackflow_core::workflow::default_workflows()
            .into_iter()
            .map(stored),
    );
    let chosen = |facts: ChangeFacts| select(&workflows, &facts).map(|w| w.name().to_owned());
    assert_eq!(
        chosen(facts(ChangeType::Normal, RiskLevel::Low, &["app_server"])).as_deref(),
        Some("low-risk-peer-review")
    );
    assert_eq!(
        chosen(facts(ChangeType::Normal, RiskLevel::High, &["database"])).as_deref(),
        Some("database-high-risk")
    );
    assert_eq!(
        chosen(facts(
            ChangeType::Normal,
            RiskLevel::Moderate,
            &["firewall"]
        ))
        .as_deref(),
        Some("network-changes")
    );
    assert_eq!(
        chosen(facts(
            ChangeType::Emergency,
            RiskLevel::Critical,
            &["database"]
        ))
        .as_deref(),
        Some("emergency-critical")
    );
    // Anything else falls to the defaults.
    assert_eq!(
        chosen(facts(ChangeType::Emergency, RiskLevel::High, &["database"])).as_deref(),
        Some("emergency-default")
    );
    assert_eq!(
        chosen(facts(
            ChangeType::Normal,
            RiskLevel::Moderate,
            &["app_server"]
        ))
        .as_deref(),
        Some("normal-default")
    );
}
