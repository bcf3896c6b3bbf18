//! The workflow document as people write it, in JSON or YAML, and its
//! parsing. Parse errors name the field that failed (`stages[0].lanes[1].rule`),
//! like validation errors, so an editor shows both the same way.

use crate::approval::LaneRule;
use crate::enums::{ChangeType, GroupKind, Role};
use crate::errors::{FieldError, Refusal};
use crate::risk::RiskLevel;
use serde::{Deserialize, Serialize};

/// An approval workflow document: which changes it applies to, how long
/// approval may take, and the stages that approve them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDocument {
    /// Unique name: lowercase letters, digits, `_` and `-`, e.g. `normal-default`.
    pub name: String,
    /// What the document is; only `change_approval` exists.
    #[serde(rename = "type")]
    pub kind: WorkflowKind,
    /// Inactive workflows are kept but never selected (default true).
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// Among matching active workflows the highest priority wins (default 0).
    #[serde(default)]
    pub priority: i32,
    /// Which changes it applies to; an absent rule matches anything.
    #[serde(default, rename = "match")]
    pub matches: WorkflowMatch,
    /// Approval due time per round; absent: the change type's default
    /// (normal 5 business days, emergency 2 hours wall clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Sla>,
    /// Stages, run in sequence.
    pub stages: Vec<StageDocument>,
}

fn active_by_default() -> bool {
    true
}

/// The kind of a workflow document (the seed's `type: change_approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowKind {
    /// Approves changes.
    ChangeApproval,
}

/// Match rules; each present rule must hold, an absent one matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowMatch {
    /// Change types (`normal`, `emergency`; standard changes never use a workflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_types: Option<Vec<ChangeType>>,
    /// Risk levels, lowercase (`low`, `moderate`, `high`, `critical`); a
    /// change not yet assessed matches none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "lowercase_risk_levels"
    )]
    pub risk_levels: Option<Vec<RiskLevel>>,
    /// CI classes: matches when any affected CI has one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_classes: Option<Vec<String>>,
}

/// How long an approval round may take before it breaches.
///
/// Written as a one-key map: `{business_days: 5}`, `{business_hours: 8}`
/// (both counted in the business calendar), `{hours: 2}` or `{minutes: 30}`
/// (wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sla {
    /// Whole working days of the business calendar.
    BusinessDays(u32),
    /// Working hours of the business calendar.
    BusinessHours(u32),
    /// Wall-clock hours.
    Hours(u32),
    /// Wall-clock minutes.
    Minutes(u32),
}

/// One stage of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDocument {
    /// Display name, unique within the workflow.
    pub name: String,
    /// Marks the CAB stage: for normal changes it and later stages run in
    /// `authorize`, earlier ones in `assess` (at most one stage).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cab: bool,
    /// Lanes, run in parallel; the stage approves when all of them have.
    pub lanes: Vec<LaneDocument>,
}

/// One lane of a stage.
///
/// `rule` is `any`, `all`, `majority` or `{quorum: N}` (in JSON `"any"` or
/// `{"quorum": 2}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneDocument {
    /// Display name; absent: derived from the approvers (the group's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who approves.
    pub approvers: ApproverSpec,
    /// How many approvals settle the lane.
    pub rule: LaneRule,
}

/// Who approves in a lane, before it is resolved for a change.
///
/// Written as a map with exactly one key: `{group: NAME}`,
/// `{group_of_kind: cab}` (the group of that kind, as the built-in policy
/// names the CAB and ECAB), `{users: [a, b]}`, `{ci_owners: true}` (the owner
/// groups of the affected CIs), `{assignment_group: true}` or
/// `{role: change_manager}` (the users holding the role when the round opens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ApproversWire", into = "ApproversWire")]
pub enum ApproverSpec {
    /// A named group.
    Group(String),
    /// The group of a kind (the first by name if several).
    GroupOfKind(GroupKind),
    /// Named users.
    Users(Vec<String>),
    /// The owner groups of the change's affected CIs.
    CiOwners,
    /// The change's assignment group.
    AssignmentGroup,
    /// The users holding a role.
    Role(Role),
}

/// The written form of [`ApproverSpec`]: every key optional, exactly one set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproversWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_of_kind: Option<GroupKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    users: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ci_owners: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignment_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<Role>,
}

const APPROVER_KEYS: &str = "group, group_of_kind, users, ci_owners, assignment_group, role";

impl TryFrom<ApproversWire> for ApproverSpec {
    type Error = String;

    fn try_from(wire: ApproversWire) -> Result<Self, Self::Error> {
        let flag = |set: Option<bool>, key: &str| match set {
            Some(false) => Err(format!("`{key}: false` means nothing: write `{key}: true`")),
            other => Ok(other.is_some()),
        };
        let mut found = Vec::new();
        if let Some(name) = wire.group {
            found.push(ApproverSpec::Group(name));
        }
        if let Some(kind) = wire.group_of_kind {
            found.push(ApproverSpec::GroupOfKind(kind));
        }
        if let Some(users) = wire.users {
            found.push(ApproverSpec::Users(users));
        }
        if flag(wire.ci_owners, "ci_owners")? {
            found.push(ApproverSpec::CiOwners);
        }
        if flag(wire.assignment_group, "assignment_group")? {
            found.push(ApproverSpec::AssignmentGroup);
        }
        if let Some(role) = wire.role {
            found.push(ApproverSpec::Role(role));
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(format!("name the approvers with one of: {APPROVER_KEYS}")),
            _ => Err(format!("exactly one of {APPROVER_KEYS} per lane")),
        }
    }
}

impl From<ApproverSpec> for ApproversWire {
    fn from(spec: ApproverSpec) -> Self {
        let mut wire = ApproversWire::default();
        match spec {
            ApproverSpec::Group(name) => wire.group = Some(name),
            ApproverSpec::GroupOfKind(kind) => wire.group_of_kind = Some(kind),
            ApproverSpec::Users(users) => wire.users = Some(users),
            ApproverSpec::CiOwners => wire.ci_owners = Some(true),
            ApproverSpec::AssignmentGroup => wire.assignment_group = Some(true),
            ApproverSpec::Role(role) => wire.role = Some(role),
        }
        wire
    }
}

/// Risk levels in a document are lowercase, like every other wire name in
/// it, while the risk assessment spells them `Low`, `Moderate`, …
mod lowercase_risk_levels {
    use crate::risk::RiskLevel;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    const LEVELS: [RiskLevel; 4] = [
        RiskLevel::Low,
        RiskLevel::Moderate,
        RiskLevel::High,
        RiskLevel::Critical,
    ];

    pub fn serialize<S: Serializer>(
        levels: &Option<Vec<RiskLevel>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        levels
            .as_ref()
            .map(|levels| {
                levels
                    .iter()
                    .map(|level| level.as_str().to_ascii_lowercase())
                    .collect::<Vec<_>>()
            })
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<RiskLevel>>, D::Error> {
        let names: Option<Vec<String>> = Option::deserialize(deserializer)?;
        names
            .map(|names| names.iter().map(|name| parse(name)).collect())
            .transpose()
            .map_err(serde::de::Error::custom)
    }

    fn parse(name: &str) -> Result<RiskLevel, String> {
        LEVELS
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "unknown risk level `{name}`; expected one of: low, moderate, high, critical"
                )
            })
    }
}

/// The two ways a workflow document may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

impl DocumentFormat {
    /// Guesses the format from the text: a document whose first non-blank
    /// character is `{` is JSON, anything else YAML.
    pub fn detect(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            DocumentFormat::Json
        } else {
            DocumentFormat::Yaml
        }
    }
}

/// Parses a workflow document; an error names the field that failed (or
/// `document` when the text is not JSON/YAML at all).
pub fn parse_document(text: &str, format: DocumentFormat) -> Result<WorkflowDocument, Refusal> {
    let failed = |path: String, message: String| {
        let field = if path == "." || path.is_empty() {
            "document".to_owned()
        } else {
            path
        };
        Refusal::Invalid(vec![FieldError::new(field, message)])
    };
    match format {
        DocumentFormat::Json => {
            let mut input = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut input)
                .map_err(|e| failed(e.path().to_string(), e.inner().to_string()))
        }
        DocumentFormat::Yaml => {
            // Through a JSON value: the YAML deserializer wants `!tag`
            // syntax for enums, while a document writes `{quorum: 2}` and
            // `{business_days: 5}` the same way in both formats.
            let value: serde_json::Value =
                serde_yaml_ng::from_str(text).map_err(|e| failed(String::new(), e.to_string()))?;
            serde_path_to_error::deserialize(value)
                .map_err(|e| failed(e.path().to_string(), e.inner().to_string()))
        }
    }
}

impl WorkflowDocument {
    /// The document as pretty JSON, the form the API returns.
    pub fn to_json(&self) -> String {
        // Serialising plain strings, numbers and enums cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The document as YAML, with rules and SLAs written as one-key maps
    /// (`{quorum: 2}`) rather than YAML tags, as [`parse_document`] reads them.
    pub fn to_yaml(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| serde_yaml_ng::to_string(&value).ok())
            .unwrap_or_default()
    }
}
