//! Which workflow applies to a change.

use super::{ChangeFacts, Workflow, WorkflowMatch};
use crate::enums::ChangeType;
use std::cmp::Reverse;

/// The workflow that applies to a change: the active one of highest
/// priority whose match rules all hold; among equal priorities the first
/// by name (ascending), so the choice never depends on storage order.
/// Standard changes never use one: their template pre-approved them.
pub fn select<'a>(workflows: &'a [Workflow], facts: &ChangeFacts) -> Option<&'a Workflow> {
    if facts.change_type == ChangeType::Standard {
        return None;
    }
    workflows
        .iter()
        .filter(|w| w.document.active && w.document.matches.holds_for(facts))
        .max_by_key(|w| (w.document.priority, Reverse(w.name())))
}

impl WorkflowMatch {
    /// Whether every present rule holds for the change.
    pub fn holds_for(&self, facts: &ChangeFacts) -> bool {
        let types = self
            .change_types
            .as_ref()
            .is_none_or(|types| types.contains(&facts.change_type));
        let risk = self.risk_levels.as_ref().is_none_or(|levels| {
            facts
                .risk_level
                .is_some_and(|level| levels.contains(&level))
        });
        let classes = self
            .ci_classes
            .as_ref()
            .is_none_or(|classes| facts.ci_classes.iter().any(|class| classes.contains(class)));
        types && risk && classes
    }

    /// Whether the rules can match an emergency change.
    pub fn admits_emergency(&self) -> bool {
        self.change_types
            .as_ref()
            .is_none_or(|types| types.contains(&ChangeType::Emergency))
    }
}
