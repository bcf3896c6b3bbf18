//! Validation of a workflow document when it is saved: every problem, each
//! named by its field path (`stages[1].lanes[0].approvers.group`).
//!
//! Groups named by `group` must exist now; a `group_of_kind` need not (the
//! default workflows are installed before any group exists) and is checked
//! when a change is submitted, as the built-in policy always was. Roles are a
//! closed set, so an unknown role never parses.

use super::{ApproverSpec, Sla, WorkflowDocument};
use crate::approval::LaneRule;
use crate::directory::{Directory, GroupInfo};
use crate::enums::{ChangeType, GroupKind};
use crate::errors::{FieldError, Refusal};
use std::collections::HashSet;

/// Longest workflow name accepted.
pub const MAX_NAME: usize = 64;

/// Checks a document against the organisation's groups; `Err` lists every
/// problem found.
pub fn validate(document: &WorkflowDocument, directory: &Directory) -> Result<(), Refusal> {
    let mut errors = Vec::new();
    if !is_workflow_name(&document.name) {
        errors.push(FieldError::new(
            "name",
            format!(
                "1–{MAX_NAME} characters of lowercase letters, digits, `_` and `-`, starting with a letter or digit"
            ),
        ));
    }
    check_match(document, &mut errors);
    if let Some(sla) = document.sla
        && !sla.is_within_bounds()
    {
        errors.push(FieldError::new(
            sla_field(sla),
            "must be at least 1 and at most a year",
        ));
    }
    check_stages(document, directory, &mut errors);
    if document.matches.admits_emergency() && !has_two_person_ecab_lane(document, directory) {
        errors.push(FieldError::new(
            "stages",
            "a workflow that matches emergency changes needs a lane of the ECAB (a group of kind `ecab`) \
             that takes at least two distinct approvers: `quorum: 2` or more, `all` over two or more \
             members, or `majority` over three or more; or limit `match.change_types` to normal",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(errors))
    }
}

fn is_workflow_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

fn sla_field(sla: Sla) -> &'static str {
    match sla {
        Sla::BusinessDays(_) => "sla.business_days",
        Sla::BusinessHours(_) => "sla.business_hours",
        Sla::Hours(_) => "sla.hours",
        Sla::Minutes(_) => "sla.minutes",
    }
}

fn check_match(document: &WorkflowDocument, errors: &mut Vec<FieldError>) {
    let rules = &document.matches;
    let empty = "an empty list matches nothing: omit the rule to match any";
    if let Some(types) = &rules.change_types {
        if types.is_empty() {
            errors.push(FieldError::new("match.change_types", empty));
        }
        for (i, change_type) in types.iter().enumerate() {
            if *change_type == ChangeType::Standard {
                errors.push(FieldError::new(
                    format!("match.change_types[{i}]"),
                    "standard changes are pre-approved by their template and never use a workflow",
                ));
            }
        }
    }
    if rules.risk_levels.as_ref().is_some_and(Vec::is_empty) {
        errors.push(FieldError::new("match.risk_levels", empty));
    }
    if let Some(classes) = &rules.ci_classes {
        if classes.is_empty() {
            errors.push(FieldError::new("match.ci_classes", empty));
        }
        for (i, class) in classes.iter().enumerate() {
            if crate::validate::ci_class(class).is_err() {
                errors.push(FieldError::new(
                    format!("match.ci_classes[{i}]"),
                    "1–64 characters of lowercase letters, digits and `_`",
                ));
            }
        }
    }
}

fn check_stages(document: &WorkflowDocument, directory: &Directory, errors: &mut Vec<FieldError>) {
    if document.stages.is_empty() {
        errors.push(FieldError::new("stages", "at least one stage is required"));
    }
    let mut names = HashSet::new();
    let mut cab_stage = None;
    for (i, stage) in document.stages.iter().enumerate() {
        let field = |name: &str| format!("stages[{i}].{name}");
        if stage.name.trim().is_empty() {
            errors.push(FieldError::new(field("name"), "required"));
        } else if !names.insert(stage.name.trim()) {
            errors.push(FieldError::new(
                field("name"),
                format!("another stage is already named `{}`", stage.name),
            ));
        }
        if stage.cab {
            match cab_stage {
                Some(first) => errors.push(FieldError::new(
                    field("cab"),
                    format!("stages[{first}] is already the CAB stage; only one stage may be"),
                )),
                None => {
                    cab_stage = Some(i);
                    // Only a CAB lane makes the stage one a meeting decides
                    // (`Board::of_lane`): without one the flag would be
                    // silently without effect.
                    if !stage
                        .lanes
                        .iter()
                        .any(|lane| is_cab_lane(&lane.approvers, directory))
                    {
                        errors.push(FieldError::new(
                            field("cab"),
                            "the CAB stage needs a lane of the CAB (a group of kind `cab`)",
                        ));
                    }
                }
            }
        }
        if stage.lanes.is_empty() {
            errors.push(FieldError::new(
                field("lanes"),
                "at least one lane is required",
            ));
        }
        for (j, lane) in stage.lanes.iter().enumerate() {
            let at = format!("stages[{i}].lanes[{j}]");
            if lane.name.as_ref().is_some_and(|n| n.trim().is_empty()) {
                errors.push(FieldError::new(
                    format!("{at}.name"),
                    "may not be blank; omit it to use the approvers' name",
                ));
            }
            check_lane(&at, &lane.approvers, lane.rule, directory, errors);
        }
    }
}

/// Whether a lane's approvers are the CAB: a group of kind `cab`, named or
/// by kind (see `Board::of_lane`, which marks such a lane when a round opens).
fn is_cab_lane(approvers: &ApproverSpec, directory: &Directory) -> bool {
    match approvers {
        ApproverSpec::GroupOfKind(kind) => *kind == GroupKind::Cab,
        ApproverSpec::Group(name) => directory
            .group(name)
            .is_some_and(|group| group.kind == GroupKind::Cab),
        _ => false,
    }
}

/// Checks one lane's approvers and rule against what is known now.
fn check_lane(
    at: &str,
    approvers: &ApproverSpec,
    rule: LaneRule,
    directory: &Directory,
    errors: &mut Vec<FieldError>,
) {
    let rule_field = format!("{at}.rule");
    if rule == LaneRule::Quorum(0) {
        errors.push(FieldError::new(&rule_field, "a quorum must be at least 1"));
    }
    // The number of approvers known now, where it is known before submit.
    let size = match approvers {
        ApproverSpec::Group(name) => match directory.group(name) {
            Some(group) => Some(("group", group.members.len())),
            None => {
                errors.push(FieldError::new(
                    format!("{at}.approvers.group"),
                    format!("no group is named `{name}`"),
                ));
                None
            }
        },
        ApproverSpec::GroupOfKind(kind) => directory
            .group_of_kind(*kind)
            .map(|group| ("group", group.members.len())),
        ApproverSpec::Users(users) => {
            let mut seen = HashSet::new();
            for (k, user) in users.iter().enumerate() {
                if !seen.insert(user) {
                    errors.push(FieldError::new(
                        format!("{at}.approvers.users[{k}]"),
                        format!("`{user}` is listed twice"),
                    ));
                }
            }
            if users.is_empty() {
                errors.push(FieldError::new(
                    format!("{at}.approvers.users"),
                    "at least one user is required",
                ));
            }
            Some(("user list", seen.len()))
        }
        ApproverSpec::CiOwners | ApproverSpec::AssignmentGroup | ApproverSpec::Role(_) => None,
    };
    let Some((what, size)) = size else {
        return;
    };
    match rule {
        LaneRule::All | LaneRule::Quorum(_) if size == 0 && what == "group" => {
            errors.push(FieldError::new(
                &rule_field,
                "the group has no members, so this rule can never be met",
            ));
        }
        LaneRule::Quorum(n) if n as usize > size && n > 0 => errors.push(FieldError::new(
            &rule_field,
            format!("a quorum of {n} is more than the {size} member(s) of the {what}"),
        )),
        _ => {}
    }
}

/// Whether some lane needs two distinct ECAB approvers (the ECAB rule).
fn has_two_person_ecab_lane(document: &WorkflowDocument, directory: &Directory) -> bool {
    document
        .stages
        .iter()
        .flat_map(|stage| &stage.lanes)
        .any(|lane| {
            let ecab: Option<Option<&GroupInfo>> = match &lane.approvers {
                ApproverSpec::Group(name) => directory
                    .group(name)
                    .filter(|g| g.kind == GroupKind::Ecab)
                    .map(Some),
                ApproverSpec::GroupOfKind(GroupKind::Ecab) => {
                    Some(directory.group_of_kind(GroupKind::Ecab))
                }
                _ => None,
            };
            let Some(group) = ecab else {
                return false;
            };
            let members = group.map(|g| g.members.len());
            match lane.rule {
                LaneRule::Quorum(n) => n >= 2,
                LaneRule::All => members.is_some_and(|m| m >= 2),
                LaneRule::Majority => members.is_some_and(|m| m >= 3),
                LaneRule::Any => false,
            }
        })
}
