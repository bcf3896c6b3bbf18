//! The change record and the inputs that create and edit it.

use crate::approval::ApprovalRecord;
use crate::conflict::Conflict;
use crate::enums::{ChangeState, ChangeType, CloseCode, ObjectivesMet};
use crate::errors::{FieldError, Refusal};
use crate::number::ChangeNumber;
use crate::risk::RiskAssessment;
use chrono::{DateTime, Datelike, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Longest title accepted.
pub const MAX_TITLE: usize = 200;
/// Longest free text accepted (descriptions, plans, notes).
pub const MAX_TEXT: usize = 20_000;
/// Earliest year a planned window may be in.
pub const MIN_YEAR: i32 = 1970;
/// Latest year a planned window may be in (keeps date arithmetic far from
/// the calendar's limits).
pub const MAX_YEAR: i32 = 9999;
/// Most CIs one change may name.
pub const MAX_AFFECTED_CIS: usize = 500;

/// A change request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Change {
    /// Public number, `CHG0000456`.
    pub number: ChangeNumber,
    /// Standard, normal or emergency.
    #[serde(rename = "type")]
    pub change_type: ChangeType,
    /// Lifecycle state.
    pub state: ChangeState,
    /// Short summary.
    pub title: String,
    /// What and why, in detail.
    pub description: String,
    /// Business justification.
    pub justification: String,
    /// How it will be done.
    pub implementation_plan: String,
    /// How it will be undone.
    pub backout_plan: String,
    /// How success will be verified.
    pub test_plan: String,
    /// Username of the requester.
    pub requested_by: String,
    /// The group that implements it.
    pub assignment_group: Option<String>,
    /// The person who implements it.
    pub assigned_to: Option<String>,
    /// Names of the configuration items it touches.
    pub affected_cis: Vec<String>,
    /// Planned window start.
    pub planned_start: Option<DateTime<Utc>>,
    /// Planned window end.
    pub planned_end: Option<DateTime<Utc>>,
    /// Standard changes: the template it was created from.
    pub template: Option<String>,
    /// The automated risk assessment, once assessed.
    pub risk_assessment: Option<RiskAssessment>,
    /// Approval round state.
    pub approval: ApprovalRecord,
    /// The CAB meeting it is on.
    pub cab_date: Option<DateTime<Utc>>,
    /// Schedule conflicts found for its window.
    pub conflicts: Vec<Conflict>,
    /// Post-implementation review.
    pub pir: PirState,
    /// How it ended.
    pub close_code: Option<CloseCode>,
    /// Why it was canceled.
    pub cancel_reason: Option<String>,
    /// Every rejection so far, oldest first.
    pub rejections: Vec<Rejection>,
    /// When implementation started.
    pub implementation_started_at: Option<DateTime<Utc>>,
    /// When implementation was completed.
    pub implementation_completed_at: Option<DateTime<Utc>>,
    /// Optimistic concurrency version, bumped by every write.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write time.
    pub updated_at: DateTime<Utc>,
}

/// A recorded rejection: the change went back to `new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejection {
    /// The round that was rejected.
    pub round: u32,
    /// The stage that rejected.
    pub stage: String,
    /// Who cast the deciding rejection.
    pub by: String,
    /// Their notes.
    pub notes: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The post-implementation review: when it is due and, once recorded, what it found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PirState {
    /// When the review is due.
    pub due_at: Option<DateTime<Utc>>,
    /// The review, once recorded.
    pub review: Option<PirRecord>,
    /// When the overdue review was escalated to the change managers (once).
    #[serde(default)]
    pub escalated_at: Option<DateTime<Utc>>,
}

/// A recorded post-implementation review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PirRecord {
    /// Whether the objectives were met.
    pub objectives_met: ObjectivesMet,
    /// How the change ended.
    pub close_code: CloseCode,
    /// What was learned.
    pub lessons_learned: String,
    /// Who recorded it.
    pub reviewed_by: String,
    /// When.
    pub reviewed_at: DateTime<Utc>,
}

/// A standard change template: a pre-approved, repeatable change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Template {
    /// Unique name, used by changes' `template` field.
    pub name: String,
    /// Default title for changes made from it.
    pub title: String,
    /// What the routine change does.
    pub description: String,
    /// The pre-approved implementation plan.
    pub implementation_plan: String,
    /// The pre-approved backout plan.
    pub backout_plan: String,
    /// The pre-approved test plan.
    pub test_plan: String,
    /// Default assignment group.
    pub assignment_group: Option<String>,
    /// Only active templates may be used.
    pub active: bool,
}

/// The body of `POST /api/changes`, as received.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeDraft {
    /// Change type (required).
    #[serde(rename = "type")]
    pub change_type: Option<ChangeType>,
    /// Title (required unless the template gives one).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Justification.
    pub justification: Option<String>,
    /// Implementation plan (standard changes take the template's).
    pub implementation_plan: Option<String>,
    /// Backout plan.
    pub backout_plan: Option<String>,
    /// Test plan.
    pub test_plan: Option<String>,
    /// Assignment group name.
    pub assignment_group: Option<String>,
    /// Assignee username.
    pub assigned_to: Option<String>,
    /// Affected CI names.
    #[serde(default)]
    pub affected_cis: Vec<String>,
    /// Window start.
    pub planned_start: Option<DateTime<Utc>>,
    /// Window end.
    pub planned_end: Option<DateTime<Utc>>,
    /// Template name (standard changes only).
    pub template: Option<String>,
}

/// The body of `PATCH /api/changes/{number}`: absent fields stay as they are,
/// `null` clears a nullable field.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePatch {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New justification.
    pub justification: Option<String>,
    /// New implementation plan.
    pub implementation_plan: Option<String>,
    /// New backout plan.
    pub backout_plan: Option<String>,
    /// New test plan.
    pub test_plan: Option<String>,
    /// New assignment group, or null to clear.
    #[serde(default, deserialize_with = "present_or_null")]
    pub assignment_group: Option<Option<String>>,
    /// New assignee, or null to clear.
    #[serde(default, deserialize_with = "present_or_null")]
    pub assigned_to: Option<Option<String>>,
    /// New affected CIs.
    pub affected_cis: Option<Vec<String>>,
    /// New window start, or null.
    #[serde(default, deserialize_with = "present_or_null")]
    pub planned_start: Option<Option<DateTime<Utc>>>,
    /// New window end, or null.
    #[serde(default, deserialize_with = "present_or_null")]
    pub planned_end: Option<Option<DateTime<Utc>>>,
    /// Optimistic concurrency: the version the client last saw (or `If-Match`).
    pub version: Option<i64>,
}

/// For `Option<Option<T>>` patch fields with `#[serde(default)]`: an
/// explicit `null` is `Some(None)` (clear it), an absent field `None` (keep it).
pub fn present_or_null<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl ChangeDraft {
    /// Builds the new change, refusing with every invalid field at once.
    /// `template` is the named template as found in the store, if any.
    pub fn into_change(
        self,
        number: ChangeNumber,
        requested_by: &str,
        template: Option<&Template>,
        now: DateTime<Utc>,
    ) -> Result<Change, Refusal> {
        let mut errors = Vec::new();
        let change_type = self.change_type.unwrap_or_else(|| {
            errors.push(FieldError::new(
                "type",
                "required: standard, normal or emergency",
            ));
            ChangeType::Normal
        });
        let mut draft = self;
        if change_type == ChangeType::Standard {
            match (&draft.template, template) {
                (None, _) => errors.push(FieldError::new(
                    "template",
                    "a standard change is created from a standard change template",
                )),
                (Some(name), None) => errors.push(FieldError::new(
                    "template",
                    format!("no template named `{name}`"),
                )),
                (Some(name), Some(t)) if !t.active => errors.push(FieldError::new(
                    "template",
                    format!("template `{name}` is not active"),
                )),
                (Some(_), Some(t)) => {
                    for (field, given) in [
                        ("implementation_plan", &draft.implementation_plan),
                        ("backout_plan", &draft.backout_plan),
                        ("test_plan", &draft.test_plan),
                    ] {
                        if given.is_some() {
                            errors.push(FieldError::new(
                                field,
                                "a standard change takes its plans from its template",
                            ));
                        }
                    }
                    draft.title = draft.title.or_else(|| Some(t.title.clone()));
                    draft.description = draft.description.or_else(|| Some(t.description.clone()));
                    draft.implementation_plan = Some(t.implementation_plan.clone());
                    draft.backout_plan = Some(t.backout_plan.clone());
                    draft.test_plan = Some(t.test_plan.clone());
                    draft.assignment_group = draft
                        .assignment_group
                        .or_else(|| t.assignment_group.clone());
                }
            }
        } else if draft.template.is_some() {
            errors.push(FieldError::new(
                "template",
                "only standard changes use a template",
            ));
        }
        let title = draft.title.clone().unwrap_or_default();
        check_title(&title, &mut errors);
        let change = Change {
            number,
            change_type,
            state: ChangeState::New,
            title: title.trim().to_owned(),
            description: draft.description.unwrap_or_default(),
            justification: draft.justification.unwrap_or_default(),
            implementation_plan: draft.implementation_plan.unwrap_or_default(),
            backout_plan: draft.backout_plan.unwrap_or_default(),
            test_plan: draft.test_plan.unwrap_or_default(),
            requested_by: requested_by.to_owned(),
            assignment_group: draft.assignment_group,
            assigned_to: draft.assigned_to,
            affected_cis: dedup(draft.affected_cis),
            planned_start: draft.planned_start.map(stored_precision),
            planned_end: draft.planned_end.map(stored_precision),
            template: draft.template,
            risk_assessment: None,
            approval: ApprovalRecord::initial(change_type),
            cab_date: None,
            conflicts: Vec::new(),
            pir: PirState::default(),
            close_code: None,
            cancel_reason: None,
            rejections: Vec::new(),
            implementation_started_at: None,
            implementation_completed_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        check_fields(&change, &mut errors);
        if errors.is_empty() {
            Ok(change)
        } else {
            Err(Refusal::Invalid(errors))
        }
    }
}

impl ChangePatch {
    /// Applies the patch to a copy of the change, validating the result.
    /// Lifecycle rules (only while `new`, only by whom) live in
    /// [`crate::lifecycle`].
    pub fn apply(self, change: &Change) -> Result<Change, Refusal> {
        let mut errors = Vec::new();
        let mut next = change.clone();
        if change.change_type == ChangeType::Standard {
            for (field, given) in [
                ("implementation_plan", &self.implementation_plan),
                ("backout_plan", &self.backout_plan),
                ("test_plan", &self.test_plan),
            ] {
                if given.is_some() {
                    errors.push(FieldError::new(
                        field,
                        "a standard change takes its plans from its template",
                    ));
                }
            }
        }
        if let Some(title) = self.title {
            check_title(&title, &mut errors);
            next.title = title.trim().to_owned();
        }
        let texts = [
            (self.description, &mut next.description),
            (self.justification, &mut next.justification),
            (self.implementation_plan, &mut next.implementation_plan),
            (self.backout_plan, &mut next.backout_plan),
            (self.test_plan, &mut next.test_plan),
        ];
        for (given, slot) in texts {
            if let Some(text) = given {
                *slot = text;
            }
        }
        if let Some(group) = self.assignment_group {
            next.assignment_group = group;
        }
        if let Some(person) = self.assigned_to {
            next.assigned_to = person;
        }
        if let Some(cis) = self.affected_cis {
            next.affected_cis = dedup(cis);
        }
        if let Some(start) = self.planned_start {
            next.planned_start = start.map(stored_precision);
        }
        if let Some(end) = self.planned_end {
            next.planned_end = end.map(stored_precision);
        }
        check_fields(&next, &mut errors);
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(Refusal::Invalid(errors))
        }
    }
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) {
    if title.trim().is_empty() {
        errors.push(FieldError::new("title", "required"));
    } else if title.chars().count() > MAX_TITLE {
        errors.push(FieldError::new(
            "title",
            format!("at most {MAX_TITLE} characters"),
        ));
    } else if title.chars().any(|c| c.is_control() && c != '\t') {
        // A title is one line: it becomes an email subject, a calendar
        // SUMMARY and a list row. A tab is allowed, as titles saved in
        // templates before this rule may hold one.
        errors.push(FieldError::new(
            "title",
            "one line, without control characters",
        ));
    }
}

/// Checks that hold for every saved change, whatever its state.
fn check_fields(change: &Change, errors: &mut Vec<FieldError>) {
    for (field, text) in [
        ("description", &change.description),
        ("justification", &change.justification),
        ("implementation_plan", &change.implementation_plan),
        ("backout_plan", &change.backout_plan),
        ("test_plan", &change.test_plan),
    ] {
        if text.chars().count() > MAX_TEXT {
            errors.push(FieldError::new(
                field,
                format!("at most {MAX_TEXT} characters"),
            ));
        }
    }
    if change.affected_cis.len() > MAX_AFFECTED_CIS {
        errors.push(FieldError::new(
            "affected_cis",
            format!("at most {MAX_AFFECTED_CIS} items"),
        ));
    }
    for (i, ci) in change.affected_cis.iter().enumerate() {
        if ci.trim().is_empty() {
            errors.push(FieldError::new(
                format!("affected_cis[{i}]"),
                "empty CI name",
            ));
        }
    }
    for (field, at) in [
        ("planned_start", change.planned_start),
        ("planned_end", change.planned_end),
    ] {
        if let Some(at) = at
            && !(MIN_YEAR..=MAX_YEAR).contains(&at.year())
        {
            errors.push(FieldError::new(
                field,
                format!("must be between the years {MIN_YEAR} and {MAX_YEAR}"),
            ));
        }
    }
    if let (Some(start), Some(end)) = (change.planned_start, change.planned_end)
        && end <= start
    {
        errors.push(FieldError::new(
            "planned_end",
            "must be after planned_start",
        ));
    }
}

/// An instant as the database keeps it: whole microseconds, PostgreSQL's
/// precision. A planned window is kept twice, in the change's document and
/// in the columns conflict detection reads; were the document finer than
/// the columns, the two changes of a conflict would compute its overlap
/// from different ends (one from its own document, the other from the
/// columns) and rewrite each other's records for ever.
pub fn stored_precision(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

fn dedup(mut names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

impl Template {
    /// Checks a template as changes made from it will be checked, so that a
    /// template can never produce a change that fails validation.
    pub fn validate(&self) -> Result<(), Refusal> {
        let mut errors = Vec::new();
        check_title(&self.title, &mut errors);
        for (field, text) in [
            ("description", &self.description),
            ("implementation_plan", &self.implementation_plan),
            ("backout_plan", &self.backout_plan),
            ("test_plan", &self.test_plan),
        ] {
            if field != "description" && text.trim().is_empty() {
                errors.push(FieldError::new(field, "required"));
            } else if text.chars().count() > MAX_TEXT {
                errors.push(FieldError::new(
                    field,
                    format!("at most {MAX_TEXT} characters"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Refusal::Invalid(errors))
        }
    }
}

impl Change {
    /// Fields that must be filled in before this change may be submitted.
    pub fn missing_for_submit(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut need_text = |field: &str, text: &str| {
            if text.trim().is_empty() {
                errors.push(FieldError::new(field, "required before submit"));
            }
        };
        if self.change_type != ChangeType::Standard {
            need_text("implementation_plan", &self.implementation_plan);
            need_text("backout_plan", &self.backout_plan);
            need_text("test_plan", &self.test_plan);
        }
        if self.assignment_group.is_none() {
            errors.push(FieldError::new(
                "assignment_group",
                "required before submit",
            ));
        }
        if self.planned_start.is_none() {
            errors.push(FieldError::new("planned_start", "required before submit"));
        }
        if self.planned_end.is_none() {
            errors.push(FieldError::new("planned_end", "required before submit"));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T10:00:00Z".parse().unwrap()
    }

    fn template(active: bool) -> Template {
        Template {
            name: "restart-web".into(),
            title: "Rolling restart of web tier".into(),
            description: "Routine".into(),
            implementation_plan: "restart one node at a time".into(),
            backout_plan: "none needed".into(),
            test_plan: "health checks green".into(),
            assignment_group: Some("web-ops".into()),
            active,
        }
    }

    #[test]
    fn standard_changes_take_their_plans_from_an_active_template() {
        let draft = ChangeDraft {
            change_type: Some(ChangeType::Standard),
            template: Some("restart-web".into()),
            ..Default::default()
        };
        let change = draft
            .clone()
            .into_change(ChangeNumber::new(1), "alice", Some(&template(true)), now())
            .unwrap();
        assert_eq!(change.implementation_plan, "restart one node at a time");
        assert_eq!(change.title, "Rolling restart of web tier");
        assert_eq!(change.assignment_group.as_deref(), Some("web-ops"));
        let err = draft
            .into_change(ChangeNumber::new(1), "alice", Some(&template(false)), now())
            .unwrap_err();
        let Refusal::Invalid(errors) = err else {
            panic!("expected a validation refusal")
        };
        assert_eq!(
            errors[0],
            FieldError::new("template", "template `restart-web` is not active")
        );
    }

    #[test]
    fn invalid_drafts_report_every_bad_field() {
        let draft = ChangeDraft {
            change_type: Some(ChangeType::Normal),
            title: Some("  ".into()),
            template: Some("x".into()),
            planned_start: Some(now()),
            planned_end: Some(now()),
            ..Default::default()
        };
        let Refusal::Invalid(errors) = draft
            .into_change(ChangeNumber::new(1), "a", None, now())
            .unwrap_err()
        else {
            panic!("expected a validation refusal");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["template", "title", "planned_end"]);
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let change = ChangeDraft {
            change_type: Some(ChangeType::Normal),
            title: Some("t".into()),
            assignment_group: Some("dba".into()),
            assigned_to: Some("ivan".into()),
            ..Default::default()
        }
        .into_change(ChangeNumber::new(1), "a", None, now())
        .unwrap();
        let patch: ChangePatch = serde_json::from_str(r#"{"assigned_to": null}"#).unwrap();
        let next = patch.apply(&change).unwrap();
        assert_eq!(next.assigned_to, None);
        assert_eq!(next.assignment_group.as_deref(), Some("dba"));
    }

    #[test]
    fn planned_windows_are_kept_at_whole_microseconds() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let change = ChangeDraft {
            change_type: Some(ChangeType::Normal),
            title: Some("t".into()),
            planned_start: Some(at("2026-12-01T22:00:00.123456789Z")),
            planned_end: Some(at("2026-12-01T23:00:00.999999999Z")),
            ..Default::default()
        }
        .into_change(ChangeNumber::new(1), "a", None, now())
        .unwrap();
        assert_eq!(
            change.planned_start,
            Some(at("2026-12-01T22:00:00.123456Z"))
        );
        assert_eq!(change.planned_end, Some(at("2026-12-01T23:00:00.999999Z")));
        let patch: ChangePatch =
            serde_json::from_str(r#"{"planned_end": "2026-12-02T01:00:00.000000999Z"}"#).unwrap();
        let next = patch.apply(&change).unwrap();
        assert_eq!(next.planned_end, Some(at("2026-12-02T01:00:00Z")));
        // Within one microsecond of the start is no window at all.
        let patch: ChangePatch =
            serde_json::from_str(r#"{"planned_end": "2026-12-01T22:00:00.123456999Z"}"#).unwrap();
        assert!(matches!(patch.apply(&change), Err(Refusal::Invalid(_))));
    }
}
