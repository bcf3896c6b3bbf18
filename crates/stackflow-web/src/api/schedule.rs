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
/// The default range, around the clock's now: 30 days back…
const DEFAULT_DAYS_BACK: i64 = 30;
/// …to 180 days ahead.
const DEFAULT_DAYS_AHEAD: i64 = 180;

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

/// The range of a schedule request: as given; 30 days back to 180 ahead of `now`
/// without either end; with one end only, the default span measured from
/// it, so `?from=` a year ahead is that date and the 210 days after it,
/// never a range that ends before it starts. `None` when that span runs
/// past the last instant a date can hold (`?from=+262142-12-31…`).
pub(super) fn default_range(
    now: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let span = Duration::days(DEFAULT_DAYS_BACK + DEFAULT_DAYS_AHEAD);
    match (from, to) {
        (Some(from), Some(to)) => Some((from, to)),
        (Some(from), None) => Some((from, from.checked_add_signed(span)?)),
        (None, Some(to)) => Some((to.checked_sub_signed(span)?, to)),
        (None, None) => Some((
            now.checked_sub_signed(Duration::days(DEFAULT_DAYS_BACK))?,
            now.checked_add_signed(Duration::days(DEFAULT_DAYS_AHEAD))?,
        )),
    }
}

/// The checked range of a request: its `from` and `to`, the default span
/// for a missing end (see [`default_range`]).
pub(super) fn resolve_range(
    now: DateTime<Utc>,
    params: &ScheduleParams,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let (from, to) = default_range(now, params.from, params.to).ok_or_else(|| {
        AppError::bad_request(
            "bad_range",
            "the range runs past the last date this service can hold",
        )
    })?;
    check_range(from, to)
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
/// occurring in it. Without `from`/`to`, 30 days back to 180 ahead, as
/// the iCalendar export.
#[utoipa::path(get, path = "/api/schedule", tag = "schedule", params(ScheduleParams),
    responses((status = 200, body = Schedule), (status = 400, body = Problem), (status = 401, body = Problem)))]
async fn get_schedule(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<ScheduleParams>,
) -> ApiResult<Json<Schedule>> {
    let (from, to) = resolve_range(state.clock.now(), &params)?;
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
