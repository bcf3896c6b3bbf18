//! Schedule conflicts: two changes planned at overlapping times on related
//! CIs, or a change planned into a blackout window. Pure: the shell finds
//! the candidates (changes whose windows overlap) and how their CIs relate
//! through the impact index; this module decides what each change records.

use crate::change::stored_precision;
use crate::enums::ChangeState;
use crate::number::ChangeNumber;
use crate::windows::{ChangeWindow, Occurrence};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Changes whose windows others must not collide with: awaiting approval,
/// scheduled, or being implemented.
pub const ACTIVE_STATES: [ChangeState; 4] = [
    ChangeState::Assess,
    ChangeState::Authorize,
    ChangeState::Scheduled,
    ChangeState::Implement,
];

/// The active states past approval: a change there is not reassessed,
/// but a blackout declared or lifted over its window is still recorded.
pub const APPROVED_ACTIVE_STATES: [ChangeState; 2] =
    [ChangeState::Scheduled, ChangeState::Implement];

/// A change's conflicts with its blackout records replaced by `blackouts`
/// (each keeping its first detection), its records of other changes kept
/// as they are, in the order they were.
pub fn with_blackouts(current: &[Conflict], blackouts: Vec<Conflict>) -> Vec<Conflict> {
    let (previous, kept): (Vec<Conflict>, Vec<Conflict>) = current
        .iter()
        .cloned()
        .partition(|c| c.kind == ConflictKind::Blackout);
    let mut conflicts = keep_first_detection(&previous, blackouts);
    conflicts.extend(kept);
    conflicts
}

/// Whether a change in `state` takes part in conflict detection.
pub fn is_active(state: ChangeState) -> bool {
    ACTIVE_STATES.contains(&state)
}

/// What a change collides with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Another change.
    Change,
    /// A blackout window.
    Blackout,
}

/// One conflict recorded on a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conflict {
    /// `change` or `blackout`.
    #[serde(rename = "type")]
    pub kind: ConflictKind,
    /// The other change, for a change conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeNumber>,
    /// The blackout window's id, for a blackout conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_id: Option<i64>,
    /// The blackout window's name, for a blackout conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// The CI through which the changes collide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// Start of the overlap.
    pub overlap_start: DateTime<Utc>,
    /// End of the overlap.
    pub overlap_end: DateTime<Utc>,
    /// When it was found.
    pub detected_at: DateTime<Utc>,
}

/// How two changes' CIs are related, seen from the change being assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    /// Both name this CI.
    SharedCi(String),
    /// The other change's CI depends on ours (it is in our blast radius).
    TheirsInOurBlastRadius(String),
    /// Our CI depends on the other change's (it is in their blast radius).
    OursInTheirBlastRadius(String),
}

/// The overlap of two half-open intervals, if any, at the precision the
/// database keeps (whole microseconds): each side of a change conflict
/// reads its own window from its document and the other's from the
/// database's columns, and a document written before windows were kept at
/// that precision may be finer. Both sides must find the same overlap.
pub fn overlap(
    a: (DateTime<Utc>, DateTime<Utc>),
    b: (DateTime<Utc>, DateTime<Utc>),
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = stored_precision(a.0.max(b.0));
    let end = stored_precision(a.1.min(b.1));
    (start < end).then_some((start, end))
}

/// The pair of records a change conflict leaves: the first on `ours`, the
/// second on `theirs`, each saying why in its own terms.
pub fn change_conflict(
    ours: ChangeNumber,
    theirs: ChangeNumber,
    relation: &Relation,
    window: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> (Conflict, Conflict) {
    let (ci, our_reason, their_reason) = match relation {
        Relation::SharedCi(ci) => (
            ci,
            format!("{theirs} also changes {ci} at the same time"),
            format!("{ours} also changes {ci} at the same time"),
        ),
        Relation::TheirsInOurBlastRadius(ci) => (
            ci,
            format!("{theirs} changes {ci}, which depends on this change's CIs, at the same time"),
            format!("{ours} changes CIs that {ci} (changed here) depends on, at the same time"),
        ),
        Relation::OursInTheirBlastRadius(ci) => (
            ci,
            format!("{theirs} changes CIs that {ci} (changed here) depends on, at the same time"),
            format!("{ours} changes {ci}, which depends on this change's CIs, at the same time"),
        ),
    };
    let record = |other: ChangeNumber, reason: String| Conflict {
        kind: ConflictKind::Change,
        change: Some(other),
        window_id: None,
        window: None,
        ci: Some(ci.clone()),
        reason,
        overlap_start: window.0,
        overlap_end: window.1,
        detected_at: now,
    };
    (record(theirs, our_reason), record(ours, their_reason))
}

/// The record of a planned window overlapping a blackout window:
/// `overlap` is the first stretch they share, and `occurrences` how many
/// of the blackout's occurrences the planned window meets.
pub fn blackout_conflict(
    window_id: i64,
    name: &str,
    overlap: (DateTime<Utc>, DateTime<Utc>),
    occurrences: usize,
    now: DateTime<Utc>,
) -> Conflict {
    let (start, end) = (overlap.0.to_rfc3339(), overlap.1.to_rfc3339());
    let reason = if occurrences > 1 {
        format!(
            "the planned window overlaps the blackout window {name} {occurrences} times, \
             first from {start} to {end}"
        )
    } else {
        format!("the planned window overlaps the blackout window {name} ({start} to {end})")
    };
    Conflict {
        kind: ConflictKind::Blackout,
        change: None,
        window_id: Some(window_id),
        window: Some(name.to_owned()),
        ci: None,
        reason,
        overlap_start: overlap.0,
        overlap_end: overlap.1,
        detected_at: now,
    }
}

/// The blackout records of a change planned for `planned`, from the
/// blackout occurrences that meet it as [`blackouts_overlapping`] finds
/// them (each window's together, in order): one per window, however many
/// of its occurrences the change meets, so a long change across a nightly
/// freeze counts one conflict, not one a night.
///
/// [`blackouts_overlapping`]: crate::windows::blackouts_overlapping
pub fn blackout_conflicts(
    planned: (DateTime<Utc>, DateTime<Utc>),
    hits: &[(&ChangeWindow, Occurrence)],
    now: DateTime<Utc>,
) -> Vec<Conflict> {
    hits.chunk_by(|(a, _), (b, _)| a.id == b.id)
        .filter_map(|occurrences| {
            let window = occurrences.first()?.0;
            let overlaps: Vec<_> = (occurrences.iter())
                .filter_map(|(_, o)| overlap(planned, (o.start, o.end)))
                .collect();
            let first = *overlaps.first()?;
            Some(blackout_conflict(
                window.id,
                &window.name,
                first,
                overlaps.len(),
                now,
            ))
        })
        .collect()
}

/// `conflicts` of a change after `other`'s records are replaced by
/// `replacement` (none to clear them): records about other changes and
/// windows stay as they were.
pub fn replace_change_records(
    conflicts: &[Conflict],
    other: ChangeNumber,
    replacement: Option<Conflict>,
) -> Vec<Conflict> {
    conflicts
        .iter()
        .filter(|c| c.change != Some(other))
        .cloned()
        .chain(replacement)
        .collect()
}

/// Whether two records say the same thing, whenever each was found.
pub fn same_conflict(a: &Conflict, b: &Conflict) -> bool {
    Conflict {
        detected_at: b.detected_at,
        ..a.clone()
    } == *b
}

/// `found`, with each record that was already known keeping the time it
/// was first detected, so a reassessment that finds nothing new changes
/// nothing.
pub fn keep_first_detection(previous: &[Conflict], found: Vec<Conflict>) -> Vec<Conflict> {
    found
        .into_iter()
        .map(|record| {
            previous
                .iter()
                .find(|old| same_conflict(old, &record))
                .cloned()
                .unwrap_or(record)
        })
        .collect()
}

/// Whether two lists hold the same records in the same order, whenever found.
pub fn same_conflicts(a: &[Conflict], b: &[Conflict]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_conflict(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn blackouts_are_replaced_and_change_records_kept() {
        let other = ChangeNumber::new(2);
        let relation = Relation::SharedCi("orders-db".into());
        let (with_other, _) = change_conflict(
            ChangeNumber::new(1),
            other,
            &relation,
            (at(1), at(2)),
            at(0),
        );
        let freeze = blackout_conflict(7, "Freeze", (at(1), at(2)), 1, at(0));
        let current = vec![freeze.clone(), with_other.clone()];
        // Found again later: the first detection stays.
        let again = blackout_conflict(7, "Freeze", (at(1), at(2)), 1, at(5));
        assert_eq!(
            with_blackouts(&current, vec![again]),
            [freeze.clone(), with_other.clone()]
        );
        // Lifted: only the other change's record is left.
        assert_eq!(
            with_blackouts(&current, Vec::new()),
            std::slice::from_ref(&with_other)
        );
        // Another freeze declared: it comes first, the change record stays.
        let new_year = blackout_conflict(8, "New year", (at(1), at(2)), 1, at(5));
        assert_eq!(
            with_blackouts(&current, vec![freeze.clone(), new_year.clone()]),
            [freeze, new_year, with_other]
        );
    }

    #[test]
    fn overlap_is_half_open() {
        assert_eq!(
            overlap((at(1), at(3)), (at(2), at(4))),
            Some((at(2), at(3)))
        );
        assert_eq!(overlap((at(1), at(2)), (at(2), at(4))), None);
        assert_eq!(
            overlap((at(1), at(5)), (at(2), at(3))),
            Some((at(2), at(3)))
        );
    }

    #[test]
    fn both_sides_find_the_same_overlap_whatever_the_precision_they_read() {
        // One change's window as its document holds it (nanoseconds), and
        // as the database's columns hold it (microseconds); the other's
        // window ends later.
        let end_in_document = at(3) + chrono::Duration::nanoseconds(240_131_516);
        let end_in_columns = at(3) + chrono::Duration::microseconds(240_131);
        let other = (at(2), at(4));
        let from_its_own_side = overlap((at(1), end_in_document), other);
        let from_the_other_side = overlap(other, (at(1), end_in_columns));
        assert_eq!(from_its_own_side, Some((at(2), end_in_columns)));
        assert_eq!(from_its_own_side, from_the_other_side);
        // Touching within the same microsecond is no overlap from either side.
        let touching = at(2) + chrono::Duration::nanoseconds(500);
        assert_eq!(overlap((at(1), touching), (at(2), at(4))), None);
        assert_eq!(overlap((at(2), at(4)), (at(1), at(2))), None);
    }

    #[test]
    fn each_side_reads_the_conflict_in_its_own_terms() {
        let (a, b) = (ChangeNumber::new(1), ChangeNumber::new(2));
        let relation = Relation::TheirsInOurBlastRadius("orders-app".into());
        let (ours, theirs) = change_conflict(a, b, &relation, (at(1), at(2)), at(0));
        assert_eq!(ours.change, Some(b));
        assert_eq!(theirs.change, Some(a));
        assert!(
            ours.reason
                .starts_with("CHG0000002 changes orders-app, which depends")
        );
        assert!(
            theirs
                .reason
                .starts_with("CHG0000001 changes CIs that orders-app")
        );
    }

    #[test]
    fn replacing_keeps_other_records() {
        let (a, b, c) = (
            ChangeNumber::new(1),
            ChangeNumber::new(2),
            ChangeNumber::new(3),
        );
        let shared = Relation::SharedCi("db".into());
        let (with_b, _) = change_conflict(a, b, &shared, (at(1), at(2)), at(0));
        let (with_c, _) = change_conflict(a, c, &shared, (at(1), at(2)), at(0));
        let blackout = blackout_conflict(9, "freeze", (at(1), at(2)), 1, at(0));
        let all = vec![with_b.clone(), with_c.clone(), blackout.clone()];
        assert_eq!(
            replace_change_records(&all, b, None),
            vec![with_c.clone(), blackout.clone()]
        );
        let again = replace_change_records(&all, b, Some(with_b.clone()));
        assert_eq!(again.len(), 3);
        assert!(again.contains(&with_b));
    }

    #[test]
    fn a_record_found_again_keeps_its_first_detection() {
        let (a, b) = (ChangeNumber::new(1), ChangeNumber::new(2));
        let shared = Relation::SharedCi("db".into());
        let (first, _) = change_conflict(a, b, &shared, (at(1), at(2)), at(0));
        let (again, _) = change_conflict(a, b, &shared, (at(1), at(2)), at(5));
        assert!(same_conflict(&first, &again));
        assert_ne!(first, again);
        assert_eq!(
            keep_first_detection(std::slice::from_ref(&first), vec![again]),
            vec![first.clone()]
        );
        let (moved, _) = change_conflict(a, b, &shared, (at(1), at(3)), at(5));
        assert!(!same_conflict(&first, &moved));
        assert_eq!(
            keep_first_detection(std::slice::from_ref(&first), vec![moved.clone()]),
            vec![moved]
        );
    }
}
