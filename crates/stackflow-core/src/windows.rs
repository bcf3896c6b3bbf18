//! Maintenance and blackout windows, and how a planned change window sits
//! against them and the business calendar.
//!
//! A window is a first occurrence (`start`–`end`, instants) and, optionally,
//! an RFC 5545 recurrence rule that repeats it in the window's IANA time
//! zone: the rule is expanded by the `rrule` crate from the first start
//! taken as local time, so a window at 02:00 on Sundays stays at 02:00 local
//! across daylight-saving changes. Every occurrence lasts exactly as long as
//! the first (RFC 5545 §3.8.5.3: with DTEND, "the same exact duration").

use crate::business_calendar::BusinessCalendar;
use crate::change::{MAX_YEAR, MIN_YEAR};
use crate::errors::{FieldError, Refusal};
use crate::validate;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

pub use crate::enums::WindowKind;

/// Most occurrences one expansion returns.
pub const MAX_OCCURRENCES: usize = 10_000;
/// Most recurrence instances scanned from the first occurrence in one
/// expansion (those before the range count too): a window repeating hourly
/// is followed for about eleven years, a weekly one for nearly two thousand.
pub const MAX_SCANNED: usize = 100_000;
/// Longest single occurrence accepted.
pub const MAX_DURATION_DAYS: i64 = 31;
/// Longest window name accepted.
pub const MAX_NAME: usize = 200;
/// Longest description accepted.
pub const MAX_DESCRIPTION: usize = 20_000;
/// Most CIs and classes a scope may name (each).
pub const MAX_SCOPE_ITEMS: usize = 500;

/// Which CIs a window applies to: both lists empty means every CI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowScope {
    /// CI names.
    #[serde(default)]
    pub cis: Vec<String>,
    /// CI classes, e.g. `database`.
    #[serde(default)]
    pub classes: Vec<String>,
}

impl WindowScope {
    /// True when the scope names no CI and no class: the window is global.
    pub fn is_global(&self) -> bool {
        self.cis.is_empty() && self.classes.is_empty()
    }
}

/// A maintenance or blackout window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeWindow {
    /// Identifier.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Maintenance or blackout.
    pub kind: WindowKind,
    /// Why the window exists.
    pub description: String,
    /// Start of the first (or only) occurrence.
    pub start: DateTime<Utc>,
    /// End of the first (or only) occurrence.
    pub end: DateTime<Utc>,
    /// RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;BYDAY=SU` (COUNT and UNTIL
    /// allowed); none for a one-off window.
    pub recurrence: Option<String>,
    /// IANA time zone the recurrence repeats in.
    pub time_zone: String,
    /// Which CIs it applies to.
    pub scope: WindowScope,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One occurrence of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Occurrence {
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
}

impl Occurrence {
    /// Whether it shares any instant with `[start, end)`.
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && self.end > start
    }

    /// Whether `[start, end]` lies entirely inside it.
    pub fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start <= start && end <= self.end
    }
}

impl ChangeWindow {
    /// Every occurrence overlapping `[from, to)`, in order, at most
    /// [`MAX_OCCURRENCES`].
    pub fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Occurrence> {
        let first = Occurrence {
            start: self.start,
            end: self.end,
        };
        if to <= from {
            return Vec::new();
        }
        let Some(rule) = &self.recurrence else {
            return if first.overlaps(from, to) {
                vec![first]
            } else {
                Vec::new()
            };
        };
        let Ok(set) = rule_set(rule, &self.time_zone, self.start) else {
            // Refused when created; a stored rule that no longer parses
            // still has its first occurrence.
            return if first.overlaps(from, to) {
                vec![first]
            } else {
                Vec::new()
            };
        };
        let duration = self.end - self.start;
        let mut found = Vec::new();
        for start in set.starts().take(MAX_SCANNED) {
            if start >= to {
                break;
            }
            let occurrence = Occurrence {
                start,
                end: start + duration,
            };
            if occurrence.end > from {
                found.push(occurrence);
                if found.len() >= MAX_OCCURRENCES {
                    break;
                }
            }
        }
        found
    }

    /// Whether the window applies to a CI: it is global, or names the CI,
    /// or the CI's class.
    pub fn applies_to(&self, ci_name: &str, ci_class: &str) -> bool {
        self.scope.is_global()
            || self.scope.cis.iter().any(|c| c == ci_name)
            || self.scope.classes.iter().any(|c| c == ci_class)
    }

    /// Whether it applies to any of `cis`, or, with no CIs, whether it is
    /// global.
    fn applies_to_any(&self, cis: &[(String, String)]) -> bool {
        if cis.is_empty() {
            self.scope.is_global()
        } else {
            cis.iter().any(|(name, class)| self.applies_to(name, class))
        }
    }
}

/// A recurrence rule started at a local time in a zone: the one expansion
/// shared by windows and CAB meetings.
///
/// The rule is expanded on the wall clock (the `rrule` crate is given the
/// local start as if it were UTC, which has no clock changes), and each
/// wall-clock time is then placed in the zone here. Expanded in the zone
/// itself, the crate drops an occurrence whose local midnight does not
/// exist (Cairo, Santiago or Beirut move their clocks at midnight), so a
/// nightly freeze there would have had no occurrence that night.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recurrence {
    set: rrule::RRuleSet,
    zone: chrono_tz::Tz,
}

impl Recurrence {
    /// Occurrence starts in order, each once. A local time the clocks
    /// skip is read with the offset before the gap (RFC 5545 §3.3.5: 02:30
    /// on the night Berlin goes from 02:00 to 03:00 is 03:30 summer time);
    /// one they repeat is the first of the two. A skipped time that lands
    /// on the next occurrence (an hourly rule across the gap) counts once.
    pub(crate) fn starts(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut last: Option<DateTime<Utc>> = None;
        (&self.set).into_iter().filter_map(move |wall_clock| {
            let at = local_instant(self.zone, wall_clock.naive_utc())?;
            if last.is_some_and(|last| at <= last) {
                return None;
            }
            last = Some(at);
            Some(at)
        })
    }
}

/// A local wall-clock time in `zone` as an instant (see
/// [`Recurrence::starts`] for gaps and repeated times).
fn local_instant(zone: chrono_tz::Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // The offset in force a day before: the one before the gap.
            let before = zone
                .from_local_datetime(&(local - Duration::days(1)))
                .earliest()?
                .offset()
                .fix();
            Some(Utc.from_utc_datetime(
                &(local - Duration::seconds(i64::from(before.local_minus_utc()))),
            ))
        }
    }
}

/// The recurrence of a rule started at `start` in `time_zone`.
pub(crate) fn rule_set(
    rule: &str,
    time_zone: &str,
    start: DateTime<Utc>,
) -> Result<Recurrence, String> {
    let zone: chrono_tz::Tz = time_zone
        .parse()
        .map_err(|_| format!("unknown time zone `{time_zone}`"))?;
    let mut parsed: rrule::RRule<rrule::Unvalidated> = rule.parse().map_err(|e| format!("{e}"))?;
    let on_the_wall_clock = |at: DateTime<Utc>| {
        rrule::Tz::UTC.from_utc_datetime(&at.with_timezone(&zone).naive_local())
    };
    if let Some(until) = parsed.get_until() {
        // RFC 5545: with a DTSTART in a zone, UNTIL is a UTC instant; on
        // the wall clock it is that instant's local time. A floating one
        // (no `Z`) is refused here, as the crate would have: rewritten, it
        // would be read in the server's own zone.
        if until.timezone().is_local() {
            return Err("UNTIL must be a UTC time (ending in `Z`)".into());
        }
        let until = on_the_wall_clock(until.with_timezone(&Utc));
        parsed = parsed.until(until);
    }
    let set = parsed
        .build(on_the_wall_clock(start))
        .map_err(|e| format!("{e}"))?;
    // The crate's own loop limit, so a rule that matches nothing (the 30th
    // of February) ends instead of searching forever.
    Ok(Recurrence {
        set: set.limit(),
        zone,
    })
}

/// How a planned change window sits against the windows and the business
/// calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "fit", rename_all = "snake_case")]
pub enum WindowFit {
    /// Some blackout occurrence overlaps the change window and applies to
    /// an affected CI (or is global). Takes precedence over everything.
    Blackout {
        /// The blackout's name.
        window: String,
    },
    /// Every affected CI has a maintenance occurrence (global or scoped to
    /// it) containing the whole change window.
    Maintenance {
        /// The maintenance window's name.
        window: String,
    },
    /// Otherwise: some of the change window is business time.
    BusinessHours,
    /// Otherwise.
    OutsideBusinessHours,
    /// No planned start and end (or an end not after the start).
    Unplanned,
}

/// Classifies a planned change window `[start, end)` touching `cis`
/// (`(name, class)` of each affected CI). With no affected CIs only global
/// windows count. Precedence: blackout, then maintenance, then business
/// hours or not.
pub fn classify_window(
    windows: &[ChangeWindow],
    calendar: &BusinessCalendar,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    cis: &[(String, String)],
) -> WindowFit {
    let (Some(start), Some(end)) = (start, end) else {
        return WindowFit::Unplanned;
    };
    if end <= start {
        return WindowFit::Unplanned;
    }
    if let Some((window, _)) = blackouts_overlapping(windows, start, end, cis).first() {
        return WindowFit::Blackout {
            window: window.name.clone(),
        };
    }
    if let Some(window) = maintenance_covering(windows, start, end, cis) {
        return WindowFit::Maintenance { window };
    }
    if calendar.working_time_between(start, end) > Duration::zero() {
        WindowFit::BusinessHours
    } else {
        WindowFit::OutsideBusinessHours
    }
}

/// Every blackout occurrence overlapping `[start, end)` that applies to one
/// of `cis` (or, with no CIs, is global), in window order.
pub fn blackouts_overlapping<'a>(
    windows: &'a [ChangeWindow],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cis: &[(String, String)],
) -> Vec<(&'a ChangeWindow, Occurrence)> {
    windows
        .iter()
        .filter(|w| w.kind == WindowKind::Blackout && w.applies_to_any(cis))
        .flat_map(|w| w.occurrences(start, end).into_iter().map(move |o| (w, o)))
        .collect()
}

/// The name of a maintenance window covering `[start, end]` for every CI:
/// one window that covers them all if there is one, else the first CI's.
fn maintenance_covering(
    windows: &[ChangeWindow],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    cis: &[(String, String)],
) -> Option<String> {
    let covering: Vec<&ChangeWindow> = windows
        .iter()
        .filter(|w| w.kind == WindowKind::Maintenance)
        .filter(|w| {
            w.occurrences(start, end)
                .iter()
                .any(|o| o.contains(start, end))
        })
        .collect();
    if cis.is_empty() {
        return covering
            .iter()
            .find(|w| w.scope.is_global())
            .map(|w| w.name.clone());
    }
    let covers = |w: &ChangeWindow, (name, class): &(String, String)| w.applies_to(name, class);
    if let Some(all) = covering.iter().find(|w| cis.iter().all(|ci| covers(w, ci))) {
        return Some(all.name.clone());
    }
    let each_covered = cis.iter().all(|ci| covering.iter().any(|w| covers(w, ci)));
    if !each_covered {
        return None;
    }
    covering
        .iter()
        .find(|w| covers(w, &cis[0]))
        .map(|w| w.name.clone())
}

/// The body of `POST /api/windows`, as received.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Sunday patching",
    "kind": "maintenance",
    "description": "OS patches on the database servers",
    "start": "2026-11-29T01:00:00Z",
    "end": "2026-11-29T05:00:00Z",
    "recurrence": "FREQ=WEEKLY;BYDAY=SU",
    "time_zone": "Europe/Berlin",
    "scope": {"cis": [], "classes": ["database"]}
}))]
pub struct NewWindow {
    /// Unique name (required, at most 200 characters).
    pub name: String,
    /// Maintenance or blackout.
    pub kind: WindowKind,
    /// Why the window exists.
    #[serde(default)]
    pub description: String,
    /// Start of the first (or only) occurrence.
    pub start: DateTime<Utc>,
    /// Its end, after the start, at most 31 days later.
    pub end: DateTime<Utc>,
    /// RFC 5545 RRULE value; the first occurrence must be `start`.
    #[serde(default)]
    pub recurrence: Option<String>,
    /// IANA time zone the recurrence repeats in (default: the business
    /// calendar's, through the API and the CLI; `UTC` otherwise).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Which CIs it applies to (default: all).
    #[serde(default)]
    pub scope: WindowScope,
}

impl NewWindow {
    /// The same draft repeating in `zone` unless it names its own: the
    /// business calendar's zone, so that "Sundays 04:00" entered in
    /// Berlin stays 04:00 in Berlin through summer time.
    pub fn in_zone_unless_given(mut self, zone: &str) -> Self {
        if self.time_zone.is_none() {
            self.time_zone = Some(zone.to_owned());
        }
        self
    }

    /// Checks every field and builds the window, or lists every bad field.
    pub fn into_window(
        self,
        id: i64,
        created_by: &str,
        created_at: DateTime<Utc>,
    ) -> Result<ChangeWindow, Refusal> {
        let mut errors = Vec::new();
        if let Err(Refusal::Invalid(mut e)) = validate::name("name", &self.name) {
            errors.append(&mut e);
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.push(FieldError::new(
                "description",
                format!("at most {MAX_DESCRIPTION} characters"),
            ));
        }
        for (field, at) in [("start", self.start), ("end", self.end)] {
            if !(MIN_YEAR..=MAX_YEAR).contains(&at.year()) {
                errors.push(FieldError::new(
                    field,
                    format!("must be between the years {MIN_YEAR} and {MAX_YEAR}"),
                ));
            }
        }
        if self.end <= self.start {
            errors.push(FieldError::new("end", "must be after start"));
        } else if self.end - self.start > Duration::days(MAX_DURATION_DAYS) {
            errors.push(FieldError::new(
                "end",
                format!("a window may last at most {MAX_DURATION_DAYS} days"),
            ));
        }
        let time_zone = self.time_zone.unwrap_or_else(|| "UTC".to_owned());
        let zone_ok = time_zone.parse::<chrono_tz::Tz>().is_ok();
        if !zone_ok {
            errors.push(FieldError::new(
                "time_zone",
                format!(
                    "unknown time zone `{time_zone}`: use an IANA name such as `Europe/Berlin` or `UTC`"
                ),
            ));
        }
        let recurrence = self.recurrence.map(|r| r.trim().to_owned());
        // The rule is checked against the start, so only a usable start;
        // every other bad field is still listed beside it.
        let start_ok = !errors.iter().any(|e| e.field == "start");
        if let Some(rule) = &recurrence
            && zone_ok
            && start_ok
        {
            check_recurrence(rule, &time_zone, self.start, &mut errors);
        }
        check_scope(&self.scope, &mut errors);
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors));
        }
        Ok(ChangeWindow {
            id,
            name: self.name,
            kind: self.kind,
            description: self.description,
            start: self.start,
            end: self.end,
            recurrence,
            time_zone,
            scope: self.scope,
            created_by: created_by.to_owned(),
            created_at,
        })
    }
}

fn check_recurrence(
    rule: &str,
    time_zone: &str,
    start: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) {
    let invalid = |message: String| FieldError::new("recurrence", message);
    if rule.is_empty() || rule.contains(['\n', '\r']) {
        errors.push(invalid(
            "an RRULE value such as `FREQ=WEEKLY;BYDAY=SU`, on one line".into(),
        ));
        return;
    }
    if let Ok(parsed) = rule.parse::<rrule::RRule<rrule::Unvalidated>>()
        && repeats_more_than_hourly(&parsed)
    {
        errors.push(invalid(
            "a window may repeat at most hourly: FREQ=HOURLY or less often, with at most one BYMINUTE and one BYSECOND value".into(),
        ));
        return;
    }
    if start.nanosecond() != 0 {
        // The rule's occurrences fall on whole seconds, so a fractional
        // start could never be its first occurrence.
        errors.push(FieldError::new(
            "start",
            "a recurring window starts on a whole second",
        ));
        return;
    }
    match rule_set(rule, time_zone, start) {
        Err(e) => errors.push(invalid(format!("not a valid RRULE: {e}"))),
        Ok(set) => match set.starts().next() {
            None => errors.push(invalid("the rule has no occurrence".into())),
            // RFC 5545 leaves a DTSTART that the rule does not produce
            // undefined; we ask for the first occurrence to be the start.
            Some(first) if first != start => errors.push(FieldError::new(
                "start",
                format!(
                    "must be the rule's first occurrence; the rule first gives {}",
                    first.to_rfc3339()
                ),
            )),
            Some(_) => {}
        },
    }
}

/// Whether a rule can give two occurrences less than an hour apart.
/// Within one period the rule's instants are every combination of its
/// hours, minutes and seconds, so more than one minute or second value
/// (`FREQ=HOURLY;BYMINUTE=0,30`, `FREQ=DAILY;BYHOUR=…;BYMINUTE=0,15,…`)
/// repeats faster than hourly whatever the `FREQ`. Such a window would
/// cost every schedule and assessment a long expansion, and a blackout
/// would run out of scanned occurrences and silently end.
fn repeats_more_than_hourly(rule: &rrule::RRule<rrule::Unvalidated>) -> bool {
    matches!(
        rule.get_freq(),
        rrule::Frequency::Secondly | rrule::Frequency::Minutely
    ) || rule.get_by_minute().len() > 1
        || rule.get_by_second().len() > 1
}

fn check_scope(scope: &WindowScope, errors: &mut Vec<FieldError>) {
    for (field, items) in [("scope.cis", &scope.cis), ("scope.classes", &scope.classes)] {
        if items.len() > MAX_SCOPE_ITEMS {
            errors.push(FieldError::new(
                field,
                format!("at most {MAX_SCOPE_ITEMS} items"),
            ));
        }
    }
    for (i, ci) in scope.cis.iter().enumerate() {
        if let Err(Refusal::Invalid(e)) = validate::name("ci", ci) {
            for e in e {
                errors.push(FieldError::new(format!("scope.cis[{i}]"), e.message));
            }
        }
    }
    for (i, class) in scope.classes.iter().enumerate() {
        if let Err(Refusal::Invalid(e)) = validate::ci_class(class) {
            for e in e {
                errors.push(FieldError::new(format!("scope.classes[{i}]"), e.message));
            }
        }
    }
}

#[cfg(test)]
mod tests;
