//! Records the store reads and writes besides the change itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stackflow_core::{Actor, Channel, Criticality, GroupKind, RelationshipType, Role};

/// Who is writing, how, and when: every mutation is attributed to a caller
/// and stamped with the caller's clock (injected, so tests control time).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The person acting.
    pub actor: Actor,
    /// The channel it came through.
    pub channel: Channel,
    /// The time of the operation.
    pub now: DateTime<Utc>,
}

impl Caller {
    /// A caller.
    pub fn new(actor: Actor, channel: Channel, now: DateTime<Utc>) -> Self {
        Caller {
            actor,
            channel,
            now,
        }
    }
}

/// One page of a list, with the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<i64>,
}

/// Which page of a list to read: keyset pagination on the row id, so items
/// created while a client pages never shift it and each item appears once.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// Items per page (1–500).
    pub limit: u32,
    /// The cursor from the previous page.
    pub after: Option<i64>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: 50,
            after: None,
        }
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    /// Login name.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Inactive users cannot authenticate and do not count as approvers.
    pub active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A user to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Email address.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Role.
    pub role: Role,
}

/// Changes to a user.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New email.
    pub email: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

/// A group with its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub kind: GroupKind,
    /// Description.
    pub description: String,
    /// Member usernames, sorted.
    pub members: Vec<String>,
}

/// A group to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub kind: GroupKind,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Member usernames.
    #[serde(default)]
    pub members: Vec<String>,
}

/// An API token's metadata (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Id, for revocation.
    pub id: i64,
    /// Owner.
    pub username: String,
    /// Label.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to create.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Label.
    #[serde(default)]
    pub name: String,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A calendar feed: a secret address a calendar client subscribes to for
/// the change schedule (never its key, which is shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarFeed {
    /// Id, for revocation.
    pub id: i64,
    /// Owner: the feed works while this user is active.
    pub username: String,
    /// Label, e.g. the calendar client it is for.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A calendar feed to create, for the caller.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCalendarFeed {
    /// Label.
    #[serde(default)]
    pub name: String,
}

/// A configuration item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ci {
    /// Unique name.
    pub name: String,
    /// Class, e.g. `database` (built-in or user-defined).
    pub class: String,
    /// Environment, e.g. `production`.
    pub environment: String,
    /// Criticality.
    pub criticality: Criticality,
    /// Owning group.
    pub owner_group: Option<String>,
    /// Free attributes.
    pub attributes: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last write time.
    pub updated_at: DateTime<Utc>,
}

/// A CI to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCi {
    /// Unique name.
    pub name: String,
    /// Class.
    pub class: String,
    /// Environment.
    #[serde(default)]
    pub environment: String,
    /// Criticality.
    pub criticality: Criticality,
    /// Owning group.
    pub owner_group: Option<String>,
    /// Free attributes (an object).
    #[serde(default)]
    pub attributes: Option<serde_json::Value>,
}

/// Changes to a CI.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CiPatch {
    /// New class.
    pub class: Option<String>,
    /// New environment.
    pub environment: Option<String>,
    /// New criticality.
    pub criticality: Option<Criticality>,
    /// New owner group (null clears).
    #[serde(default, deserialize_with = "stackflow_core::change::present_or_null")]
    pub owner_group: Option<Option<String>>,
    /// New attributes (replaces them).
    pub attributes: Option<serde_json::Value>,
}

/// Filters of the CI list; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct CiFilter {
    /// Class.
    pub class: Option<String>,
    /// Criticality.
    pub criticality: Option<Criticality>,
    /// Owner group name.
    pub owner_group: Option<String>,
    /// Start of the name.
    pub prefix: Option<String>,
}

/// "`from` depends on `to`", typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Relationship {
    /// Id.
    pub id: i64,
    /// The dependent CI.
    pub from: String,
    /// The CI depended on.
    pub to: String,
    /// Kind of dependency.
    #[serde(rename = "type")]
    pub rel_type: RelationshipType,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A relationship to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRelationship {
    /// The dependent CI.
    pub from: String,
    /// The CI depended on.
    pub to: String,
    /// Kind of dependency.
    #[serde(rename = "type")]
    pub rel_type: RelationshipType,
}

/// Filters of the change list; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    /// State.
    pub state: Option<stackflow_core::ChangeState>,
    /// Type.
    pub change_type: Option<stackflow_core::ChangeType>,
    /// CAB meeting day.
    pub cab_date: Option<chrono::NaiveDate>,
    /// Requester username.
    pub requested_by: Option<String>,
    /// Assignment group name.
    pub assignment_group: Option<String>,
    /// Affected CI name.
    pub ci: Option<String>,
    /// Text in the title or number.
    pub q: Option<String>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Sequence id.
    pub id: i64,
    /// What kind of thing changed (`change`, `ci`, `user`…).
    pub entity_type: String,
    /// Which one (a change number, a CI name…).
    pub entity_key: String,
    /// Who.
    pub actor: String,
    /// What, e.g. `change.submitted`.
    pub action: String,
    /// Through which channel.
    pub channel: Channel,
    /// The thing before, if it existed.
    pub before: Option<serde_json::Value>,
    /// The thing after, if it still exists.
    pub after: Option<serde_json::Value>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A notification waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutboxItem {
    /// Sequence id.
    pub id: i64,
    /// Unique delivery id that receivers use to drop duplicates.
    pub delivery_id: String,
    /// Event type, e.g. `change.approval_requested`.
    pub event_type: String,
    /// Webhook topic.
    pub topic: String,
    /// The change (or other entity) it is about.
    pub entity_key: String,
    /// Usernames to notify.
    pub recipients: Vec<String>,
    /// Event payload.
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it was delivered, if it was.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What a risk assessment reads of the past: the assignment group's
/// closed changes and failures of similar changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskHistoryQuery {
    /// The change being assessed (excluded from its own history).
    pub number: stackflow_core::ChangeNumber,
    /// Its assignment group, if any.
    pub assignment_group: Option<String>,
    /// Its template, if any.
    pub template: Option<String>,
    /// Its affected CIs.
    pub cis: Vec<String>,
    /// The time of the assessment.
    pub now: DateTime<Utc>,
}

/// Days of closed changes that make up a group's success rate.
pub const GROUP_HISTORY_DAYS: i64 = 30;
/// Days of failed similar changes that count against a change.
pub const SIMILAR_FAILURE_DAYS: i64 = 90;

/// The answer to a [`RiskHistoryQuery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskHistory {
    /// The group's record over [`GROUP_HISTORY_DAYS`]; `None` without a group.
    pub group: Option<stackflow_core::risk::GroupHistory>,
    /// Unsuccessful changes over [`SIMILAR_FAILURE_DAYS`] that named one of
    /// the CIs or the same template.
    pub similar_failures: u32,
}

/// An active change whose planned window overlaps the one being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// Its number.
    pub number: stackflow_core::ChangeNumber,
    /// Its affected CIs.
    pub affected_cis: Vec<String>,
    /// Planned start.
    pub planned_start: DateTime<Utc>,
    /// Planned end.
    pub planned_end: DateTime<Utc>,
}

/// A risk assessment ready to be recorded, with the conflicts it found.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessed {
    /// The change version the inputs were read at; recording refuses with
    /// [`crate::StoreError::AssessmentOutdated`] if the change moved since.
    pub based_on_version: i64,
    /// The assessment (`None` for a standard change: pre-approved, not
    /// scored, but still checked for conflicts).
    pub risk: Option<stackflow_core::risk::RiskAssessment>,
    /// The change's conflicts (with changes and blackout windows).
    pub conflicts: Vec<stackflow_core::conflict::Conflict>,
    /// The record each conflicting change gets about this one.
    pub counterparts: Vec<(
        stackflow_core::ChangeNumber,
        stackflow_core::conflict::Conflict,
    )>,
    /// The conflict candidates the assessment read (`None` without a
    /// planned window), read again when it is recorded.
    pub candidates: Option<CandidatesRead>,
    /// The settings generation (migration 0013) of the calendar and the
    /// windows the planned window was placed against (`None` without a
    /// planned window). A window or calendar written between the
    /// assessment and its submission's commit would ask to reassess only
    /// the changes already awaiting approval, not this one, so recording
    /// a submission asks for its reassessment when the generation moved.
    pub settings_generation: Option<i64>,
    /// The CMDB change-log sequence number the impact index had applied
    /// when the assessment read it. A CMDB write committed after it asks
    /// to reassess the changes awaiting approval that it touches, and may
    /// look for them before this submission commits; recording a
    /// submission then asks for this change's reassessment in its own
    /// transaction.
    pub cmdb_seq: i64,
}

/// The conflict candidates an assessment read, and how it looked them up.
/// Two changes submitted at the same time are each assessed while the
/// other is still new, so neither sees the other; recording a submission
/// reads its candidates again under the write lock and refuses with
/// [`crate::StoreError::AssessmentOutdated`] when they differ, so the later
/// of the two is assessed again and finds the earlier.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidatesRead {
    /// The planned window's start.
    pub start: DateTime<Utc>,
    /// The planned window's end.
    pub end: DateTime<Utc>,
    /// The conflict scope they were looked up by (`None`: by window).
    pub scope: Option<Vec<String>>,
    /// What was found.
    pub found: Vec<PlannedChange>,
}

/// Why an assessment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentCause {
    /// The change was submitted.
    Submit,
    /// Its CIs, their relationships, or the windows changed while it
    /// awaited approval.
    Reassessment,
}

impl AssessmentCause {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssessmentCause::Submit => "submit",
            AssessmentCause::Reassessment => "reassessment",
        }
    }
}

/// The changes on the schedule in a range (see
/// [`ScheduleStore::scheduled_changes`](crate::ScheduleStore::scheduled_changes)).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledChanges {
    /// By planned start, then number.
    pub changes: Vec<stackflow_core::Change>,
    /// More changes matched than the limit allowed; the latest are left off.
    pub truncated: bool,
}
