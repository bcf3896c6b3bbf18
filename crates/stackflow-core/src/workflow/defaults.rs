//! The built-in approval policy as workflow documents, installed by
//! `migrate` so that an organisation starts with workflows it can read and
//! edit instead of rules hidden in code.

use super::{
    ApproverSpec, LaneDocument, StageDocument, WorkflowDocument, WorkflowKind, WorkflowMatch,
};
use crate::approval::LaneRule;
use crate::enums::{ChangeType, GroupKind};

/// The default workflows as YAML, one document per entry, for the docs and
/// for people who want a starting point; equal to [`default_workflows`].
pub const DEFAULT_WORKFLOWS_YAML: [&str; 2] = [
    "\
name: normal-default
type: change_approval
priority: 0
match:
  change_types: [normal]
stages:
  - name: Technical assessment
    lanes:
      - approvers: {assignment_group: true}
        rule: any
  - name: CAB authorisation
    cab: true
    lanes:
      - approvers: {group_of_kind: cab}
        rule: majority
",
    "\
name: emergency-default
type: change_approval
priority: 0
match:
  change_types: [emergency]
stages:
  - name: ECAB authorisation
    lanes:
      - approvers: {group_of_kind: ecab}
        rule: {quorum: 2}
",
];

/// Documents that reproduce the built-in policy exactly: normal changes get
/// a technical assessment by their assignment group (any member) in
/// `assess`, then a CAB majority in `authorize`; emergency changes need two
/// distinct ECAB members. The CAB and ECAB are named by kind
/// (`group_of_kind`), as the built-in policy names them, so renaming a
/// group does not break them. Priority 0: any workflow of higher priority
/// that matches wins over them.
pub fn default_workflows() -> Vec<WorkflowDocument> {
    vec![
        default_document(
            "normal-default",
            ChangeType::Normal,
            vec![
                stage(
                    "Technical assessment",
                    false,
                    ApproverSpec::AssignmentGroup,
                    LaneRule::Any,
                ),
                stage(
                    "CAB authorisation",
                    true,
                    ApproverSpec::GroupOfKind(GroupKind::Cab),
                    LaneRule::Majority,
                ),
            ],
        ),
        default_document(
            "emergency-default",
            ChangeType::Emergency,
            vec![stage(
                "ECAB authorisation",
                false,
                ApproverSpec::GroupOfKind(GroupKind::Ecab),
                LaneRule::Quorum(2),
            )],
        ),
    ]
}

fn default_document(
    name: &str,
    change_type: ChangeType,
    stages: Vec<StageDocument>,
) -> WorkflowDocument {
    WorkflowDocument {
        name: name.to_owned(),
        kind: WorkflowKind::ChangeApproval,
        active: true,
        priority: 0,
        matches: WorkflowMatch {
            change_types: Some(vec![change_type]),
            ..WorkflowMatch::default()
        },
        sla: None,
        stages,
    }
}

fn stage(name: &str, cab: bool, approvers: ApproverSpec, rule: LaneRule) -> StageDocument {
    StageDocument {
        name: name.to_owned(),
        cab,
        lanes: vec![LaneDocument {
            name: None,
            approvers,
            rule,
        }],
    }
}
