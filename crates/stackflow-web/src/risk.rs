//! Risk assessment, the imperative shell: gathers a change's inputs (its
//! CIs and blast radius from the impact index, the windows and business
//! calendar, the assignment group's history, the changes planned at the
//! same time), asks the pure engine (`stackflow_core::risk`) for the score,
//! and records it.
//!
//! A change is assessed when it is submitted, and again while it awaits
//! approval whenever something it was scored on changes: a CMDB write
//! (its CIs, their relationships, criticality), a window, or another change
//! submitted into a conflicting slot. A reassessment that finds the same
//! is not recorded; one that differs is kept in the change's history.

use crate::AppState;
use crate::problem::AppError;
use chrono::{DateTime, Utc};
use stackflow_core::conflict::{self, Conflict};
use stackflow_core::risk::{self, RiskInputs};
use stackflow_core::windows::{self, WindowFit};
use stackflow_core::{Actor, Change, ChangeNumber, ChangeState, Channel, Role};
use stackflow_store::{
    Assessed, Caller, CandidatesRead, ChangeFilter, PageRequest, PlannedChange, RiskHistory,
    RiskHistoryQuery, StoreError,
};

/// The largest conflict scope (a change's CIs, their dependents and their
/// dependencies) whose candidates are looked up by CI. A lookup costs a few
/// index probes per CI; reading every change planned at the same time costs
/// one probe per change in a day's worth of windows (2,500 at a million
/// changes), so beyond about this many CIs the window read is cheaper.
pub const CONFLICT_SCOPE_LIMIT: usize = 1_000;

/// How often an assessment is retried when the change moved meanwhile.
const ATTEMPTS: usize = 3;

/// The actor reassessments are attributed to in the audit trail.
pub fn system_caller(now: DateTime<Utc>) -> Caller {
    Caller::new(Actor::new("stackflow", Role::Admin), Channel::System, now)
}

/// Submits a change. Normal and emergency changes are risk-assessed first,
/// every change is checked for conflicts, and all of it is recorded with
/// the submission in one transaction, together with a `risk.reassess` job
/// for each change awaiting approval whose conflicts it flagged.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    number: ChangeNumber,
    expected_version: Option<i64>,
) -> Result<Change, AppError> {
    for attempt in 1..=ATTEMPTS {
        let change = state
            .store
            .get_change(number)
            .await?
            .ok_or_else(|| AppError::not_found(format!("change {number} not found")))?;
        if change.state != ChangeState::New {
            // Refused by the state machine with its own rule; no point in
            // assessing first.
            let action = stackflow_core::Action::Submit;
            return Ok(state
                .store
                .act_on_change(caller, number, expected_version, action)
                .await?);
        }
        let assessed = assess(state, &change, caller.now).await?;
        match state
            .store
            .submit_assessed(caller, number, expected_version, assessed)
            .await
        {
            Err(StoreError::AssessmentOutdated(_)) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
            Ok(submitted) => return Ok(submitted),
        }
    }
    unreachable!("the last attempt returns")
}

/// Computes a change's assessment as of now, from the current CMDB,
/// windows, calendar and history.
pub async fn assess(
    state: &AppState,
    change: &Change,
    now: DateTime<Utc>,
) -> Result<Assessed, AppError> {
    let window = change.planned_start.zip(change.planned_end);
    state.impact.refresh_for_query().await;
    // Read before the index is: what it answers is at least this recent.
    let cmdb_seq = state.impact.seq();
    let read: Option<CandidatesRead> = match window {
        Some((start, end)) if start < end => {
            // Only a change naming a CI in this scope can conflict; each
            // candidate then carries just its CIs within the scope.
            let scope = state
                .impact
                .conflict_scope(change.affected_cis.clone(), state.conflict_scope_limit)
                .await;
            let found = state
                .store
                .conflict_candidates(change.number, start, end, scope.as_deref())
                .await?;
            Some(CandidatesRead {
                start,
                end,
                scope,
                found,
            })
        }
        _ => None,
    };
    let candidates: &[PlannedChange] = read.as_ref().map_or(&[], |r| r.found.as_slice());
    let scored = change.change_type.is_risk_scored();
    let history = if scored {
        state
            .store
            .risk_history(&RiskHistoryQuery {
                number: change.number,
                assignment_group: change.assignment_group.clone(),
                template: change.template.clone(),
                cis: change.affected_cis.clone(),
                now,
            })
            .await?
    } else {
        RiskHistory {
            group: None,
            similar_failures: 0,
        }
    };
    let view = state
        .impact
        .risk_view(
            change.affected_cis.clone(),
            candidates.iter().map(|c| c.affected_cis.clone()).collect(),
        )
        .await;
    let cis = view.affected_names_and_classes();
    let (fit, blackouts, settings_generation) = placement(state, window, &cis, now).await?;

    let mut found: Vec<Conflict> = blackouts;
    let mut counterparts = Vec::new();
    for (candidate, relation) in candidates.iter().zip(&view.relations) {
        let (Some(relation), Some((start, end))) = (relation, window) else {
            continue;
        };
        let Some(overlap) = conflict::overlap(
            (start, end),
            (candidate.planned_start, candidate.planned_end),
        ) else {
            continue;
        };
        let (ours, theirs) =
            conflict::change_conflict(change.number, candidate.number, relation, overlap, now);
        found.push(ours);
        counterparts.push((candidate.number, theirs));
    }
    let conflicts = conflict::keep_first_detection(&change.conflicts, found);

    let most_critical_affected = view
        .affected
        .iter()
        .fold(None, |best: Option<&risk::CiFacts>, ci| match best {
            Some(b) if b.criticality >= ci.criticality => Some(b),
            _ => Some(ci),
        })
        .cloned();
    let inputs = RiskInputs {
        change_type: change.change_type,
        most_critical_affected,
        most_critical_dependent: view.most_critical_dependent,
        blast_radius_cis: view.blast_radius_cis,
        window: fit,
        group_history: history.group,
        similar_change_failures: history.similar_failures,
        conflicts: u32::try_from(conflicts.len()).unwrap_or(u32::MAX),
    };
    Ok(Assessed {
        based_on_version: change.version,
        risk: scored.then(|| risk::assess(&inputs, &state.risk_policy, now)),
        conflicts,
        counterparts,
        candidates: read,
        settings_generation,
        cmdb_seq,
    })
}

/// Where the planned window falls (maintenance, business hours, blackout…),
/// the blackout windows it runs into, as conflicts, and the settings
/// generation of the calendar and windows it was placed against.
async fn placement(
    state: &AppState,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    cis: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<(WindowFit, Vec<Conflict>, Option<i64>), AppError> {
    let Some((start, end)) = window else {
        return Ok((WindowFit::Unplanned, Vec::new(), None));
    };
    let (generation, calendar, defined) = state.store.calendar_and_windows().await?;
    let fit = windows::classify_window(&defined, &calendar, Some(start), Some(end), cis);
    let hits = windows::blackouts_overlapping(&defined, start, end, cis);
    Ok((
        fit,
        conflict::blackout_conflicts((start, end), &hits, now),
        Some(generation),
    ))
}

/// Assesses the scored changes awaiting approval that carry no assessment:
/// changes written without being submitted through the API, such as a
/// benchmark's seeded history. Their conflicts are then recorded on both
/// sides, as their submission would have done; until then, the first
/// submission to conflict with one of them sets off a chain of first
/// assessments through all the others it conflicts with. Returns how many
/// were assessed.
pub async fn assess_unassessed_awaiting_approval(state: &AppState) -> Result<usize, AppError> {
    let mut assessed = 0;
    for waiting in ChangeState::AWAITING_APPROVAL {
        let filter = ChangeFilter {
            state: Some(waiting),
            ..ChangeFilter::default()
        };
        let mut page = PageRequest {
            limit: 500,
            after: None,
        };
        loop {
            let found = state.store.list_changes(&filter, page).await?;
            let unassessed = (found.items.into_iter()).filter(|change| {
                change.risk_assessment.is_none() && change.change_type.is_risk_scored()
            });
            for change in unassessed {
                if reassess(state, change, state.clock.now()).await? {
                    assessed += 1;
                }
            }
            match found.next_cursor {
                Some(after) => page.after = Some(after),
                None => break,
            }
        }
    }
    Ok(assessed)
}

/// After CMDB changes reached the impact index (from this instance's
/// writes, or another's through the follower): requests a `risk.reassess`
/// job for each change awaiting approval that names a touched CI or has
/// one in its blast radius; after a rebuild (a bulk import), for every one
/// of them. The job worker then reassesses each within about a second and
/// retries each on its own, so the write returns at once however many
/// changes it affects, and one failure holds up none of the others. Logs
/// instead of failing: the CMDB write has already succeeded, and `serve`
/// requests every waiting change's reassessment when it starts, so a
/// request lost with a stop is made then.
pub async fn reassess_after_cmdb_change(state: &AppState) {
    let touched = state.impact.take_touched();
    if touched.is_empty() {
        return;
    }
    let now = state.clock.now();
    let requested = if touched.everything {
        state
            .store
            .request_reassessment_of_waiting_changes(now)
            .await
    } else {
        match state.store.awaiting_approval_cis().await {
            Ok(waiting) => {
                let affected = state.impact.affected_by(waiting, touched).await;
                state.store.request_reassessment_of(&affected, now).await
            }
            Err(e) => Err(e),
        }
    };
    if let Err(e) = requested {
        tracing::error!(error = ?e, "requesting reassessment after a CMDB change failed");
    }
}

/// Reassesses one change if it still awaits approval (the `risk.reassess`
/// job); a change that moved on, or is gone, needs nothing.
pub async fn reassess_number(
    state: &AppState,
    number: ChangeNumber,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    match state.store.get_change(number).await? {
        Some(change) if ChangeState::AWAITING_APPROVAL.contains(&change.state) => {
            reassess(state, change, now).await.map(|_| ())
        }
        Some(change) if conflict::APPROVED_ACTIVE_STATES.contains(&change.state) => {
            recheck_blackouts(state, change, now).await
        }
        _ => Ok(()),
    }
}

/// Works out again which blackout windows an approved change runs into,
/// after a blackout window was created or deleted, and records them. The
/// change is not scored again: its approval was given on the assessment
/// it had, and a freeze declared since is for its owners to act on.
async fn recheck_blackouts(
    state: &AppState,
    mut change: Change,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let caller = system_caller(now);
    for attempt in 1..=ATTEMPTS {
        let window = change.planned_start.zip(change.planned_end);
        let view = state
            .impact
            .risk_view(change.affected_cis.clone(), Vec::new())
            .await;
        let cis = view.affected_names_and_classes();
        let (_, blackouts, _) = placement(state, window, &cis, now).await?;
        match state
            .store
            .record_blackouts(&caller, change.number, change.version, blackouts)
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::AssessmentOutdated(_)) if attempt < ATTEMPTS => {
                match state.store.get_change(change.number).await? {
                    Some(current) => change = current,
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// [`reassess`] of a change as read before it moved: what a job does when
/// the change is approved, canceled or edited between its read and its
/// record. For the tests, which cannot stop a job half way.
#[doc(hidden)]
pub async fn reassess_as_read(
    state: &AppState,
    change: Change,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    reassess(state, change, now).await
}

/// Reassesses one change awaiting approval; `true` if a new assessment was
/// recorded.
async fn reassess(
    state: &AppState,
    mut change: Change,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let caller = system_caller(now);
    for attempt in 1..=ATTEMPTS {
        let assessed = assess(state, &change, now).await?;
        match state
            .store
            .record_reassessment(&caller, change.number, assessed)
            .await
        {
            Ok(recorded) => return Ok(recorded.is_some()),
            Err(StoreError::AssessmentOutdated(_)) if attempt < ATTEMPTS => {
                match state.store.get_change(change.number).await? {
                    // Approved while it was being assessed: not scored
                    // again, but a blackout written meanwhile is recorded.
                    Some(current) if conflict::APPROVED_ACTIVE_STATES.contains(&current.state) => {
                        recheck_blackouts(state, current, now).await?;
                        return Ok(false);
                    }
                    Some(current) => change = current,
                    None => return Ok(false),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}
