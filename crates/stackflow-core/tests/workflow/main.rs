//! Tests of configurable approval workflows (`stackflow_core::workflow`):
//! documents, validation, selection, resolution into a frozen plan, the
//! evaluator over resolved plans, and approval due times.

mod document;
mod examples;
mod resolve;
mod rounds;
mod select;
mod sla;
mod validate;

use stackflow_core::workflow::{DocumentFormat, Workflow, parse_document};
use stackflow_core::{Directory, GroupInfo, GroupKind, Refusal, WorkflowDocument};

/// A group of the test organisation.
pub fn group(name: &str, kind: GroupKind, members: &[&str]) -> GroupInfo {
    GroupInfo {
        name: name.into(),
        kind,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

/// A CAB of four, an ECAB of two of them, the `dba` team (the requester
/// `alice` belongs to it), a `net` team and an empty `ghosts` group; every
/// member is active, and so are the change managers max and mia.
pub fn directory() -> Directory {
    let mut directory = Directory::of_groups(vec![
        group("CAB", GroupKind::Cab, &["bob", "carol", "dave", "erin"]),
        group("ECAB", GroupKind::Ecab, &["bob", "carol"]),
        group("dba", GroupKind::Implementation, &["ivan", "alice"]),
        group("net", GroupKind::Implementation, &["nina", "ned"]),
        group("ghosts", GroupKind::ServiceDesk, &[]),
    ]);
    directory
        .active_users
        .extend(["max".to_owned(), "mia".to_owned()]);
    directory
}

/// Parses YAML that the test knows to be well formed.
#[track_caller]
pub fn yaml(text: &str) -> WorkflowDocument {
    match parse_document(text, DocumentFormat::Yaml) {
        Ok(document) => document,
        Err(refusal) => panic!("test YAML does not parse: {refusal}"),
    }
}

/// Version 1 of a document.
pub fn stored(document: WorkflowDocument) -> Workflow {
    Workflow {
        version: 1,
        document,
    }
}

/// The field paths of a validation refusal.
#[track_caller]
pub fn fields(refusal: Refusal) -> Vec<String> {
    match refusal {
        Refusal::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("not a validation refusal: {other:?}"),
    }
}

/// The rule name of a conflict refusal.
#[track_caller]
pub fn conflict_rule(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::Conflict { rule, .. } => rule,
        other => panic!("not a conflict: {other:?}"),
    }
}
