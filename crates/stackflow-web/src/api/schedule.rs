//! `/api/schedule`: the change schedule — changes with planned windows in a
//! range, and the maintenance and blackout windows occurring in it. The
//! iCalendar form of the same schedule is in [`super::schedule_ics`].

use crate::AppState;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, AppError, Problem};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use stackflow_core::risk::RiskLevel;
use stackflow_core::{
    Change, ChangeNumber, ChangeState, ChangeType, ChangeWindow, FieldError, Occurrence,
    WindowKind, WindowScope,
};
use stackflow_store::ScheduledChanges;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Most changes in one schedule; more and the response says `truncated`.
pub(super) const MAX_SCHEDULE_CHANGES: u32 = 5_000;
/// Longest range one request may ask for.
const MAX_SPAN_DAYS: i64 = 366;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_schedule))
        .routes(routes!(super::schedule_ics::get_schedule_ics))
}

/// The range of a schedule.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ScheduleParams {
    /// Start of the range (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339); after `from`, at most 366
    /// days later.
    pub to: Option<DateTime<Utc>>,
    /// Only the changes of this assignment group (a team's calendar); the
    /// windows are listed whatever it is.
    pub assignment_group: Option<String>,
}

/// Checks a range: `to` after `from`, at most [`MAX_SPAN_DAYS`] apart.
pub(super) fn check_range(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    if to <= from {
        return Err(AppError::bad_request(
            "bad_range",
            format!("`to` ({to}) must be after `from` ({from})"),
        ));
    }
    if to - from > Duration::days(MAX_SPAN_DAYS) {
        return Err(AppError::bad_request(
            "bad_range",
            format!("the range may span at most {MAX_SPAN_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The schedule in a range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Schedule {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Changes on the schedule whose planned window overlaps the range, by
    /// planned start.
    changes: Vec<ScheduledChange>,
    /// Windows with at least one occurrence overlapping the range, by id.
    windows: Vec<ScheduledWindow>,
    /// More than 5,000 changes matched; the latest are left off.
    truncated: bool,
}

/// One change on the schedule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ScheduledChange {
    number: ChangeNumber,
    title: String,
    #[serde(rename = "type")]
    change_type: ChangeType,
    state: ChangeState,
    planned_start: Option<DateTime<Utc>>,
    planned_end: Option<DateTime<Utc>>,
    /// `null` until the risk engine assesses it (standard changes never).
    risk_level: Option<RiskLevel>,
    automated_score: Option<u8>,
    assignment_group: Option<String>,
    affected_cis: Vec<String>,
    /// How many conflicts the change carries (see its `conflicts`).
    conflicts: usize,
}

impl From<Change> for ScheduledChange {
    fn from(change: Change) -> Self {
        ScheduledChange {
            risk_level: change.risk_assessment.as_ref().map(|r| r.risk_level),
            automated_score: change.risk_assessment.as_ref().map(|r| r.automated_score),
            conflicts: change.conflicts.len(),
            number: change.number,
            title: change.title,
            change_type: change.change_type,
            state: change.state,
            planned_start: change.planned_start,
            planned_end: change.planned_end,
            assignment_group: change.assignment_group,
            affected_cis: change.affected_cis,
        }
    }
}

/// A window with its occurrences in the range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ScheduledWindow {
    id: i64,
    name: String,
    kind: WindowKind,
    scope: WindowScope,
    occurrences: Vec<Occurrence>,
}

/// What a schedule is made of, read once for both forms.
pub(super) struct ScheduleData {
    pub changes: ScheduledChanges,
    /// Each window with its occurrences in the range (none left out here).
    pub windows: Vec<(ChangeWindow, Vec<Occurrence>)>,
}

/// Reads the changes (of `assignment_group` only, when given) and the
/// window occurrences of `[from, to)`. An unknown group is refused rather
/// than answered with an empty schedule: a subscribed calendar would
/// otherwise stay silently blank after a typo. The group is looked up in
/// the kept directory, not read again: calendar clients poll this.
pub(super) async fn read_schedule(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    assignment_group: Option<&str>,
) -> ApiResult<ScheduleData> {
    if let Some(group) = assignment_group
        && state.store.directory().await?.group(group).is_none()
    {
        return Err(AppError::invalid(vec![FieldError::new(
            "assignment_group",
            format!("no group `{group}`"),
        )]));
    }
    let changes = state
        .store
        .scheduled_changes(from, to, assignment_group, MAX_SCHEDULE_CHANGES)
        .await?;
    let windows = state
        .store
        .list_windows()
        .await?
        .into_iter()
        .map(|window| {
            let occurrences = window.occurrences(from, to);
            (window, occurrences)
        })
        .filter(|(_, occurrences)| !occurrences.is_empty())
        .collect();
    Ok(ScheduleData { changes, windows })
}

/// The change schedule: changes (assess to closed) whose planned window
/// overlaps `[from, to)`, and the maintenance and blackout windows
/// occurring in it.
#[utoipa::path(get, path = "/api/schedule", tag = "schedule", params(ScheduleParams),
    responses((status = 200, body = Schedule), (status = 400, body = Problem), (status = 401, body = Problem)))]
async fn get_schedule(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<ScheduleParams>,
) -> ApiResult<Json<Schedule>> {
    let (Some(from), Some(to)) = (params.from, params.to) else {
        return Err(AppError::bad_request(
            "bad_range",
            "give the range as `from` and `to` (RFC 3339, e.g. 2026-12-01T00:00:00Z)",
        ));
    };
    let (from, to) = check_range(from, to)?;
    let data = read_schedule(&state, from, to, params.assignment_group.as_deref()).await?;
    Ok(Json(Schedule {
        from,
        to,
        truncated: data.changes.truncated,
        changes: data.changes.changes.into_iter().map(Into::into).collect(),
        windows: data
            .windows
            .into_iter()
            .map(|(window, occurrences)| ScheduledWindow {
                id: window.id,
                name: window.name,
                kind: window.kind,
                scope: window.scope,
                occurrences,
            })
            .collect(),
    }))
}
