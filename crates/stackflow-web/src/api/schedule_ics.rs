//! `/api/schedule.ics`: the change schedule as an RFC 5545 iCalendar
//! document for calendar clients, built with the `icalendar` crate.

#[cfg(test)]
use super::schedule::default_range;
use super::schedule::{ScheduleData, ScheduleParams, read_schedule, resolve_range};
use crate::AppState;
use crate::extract::{ApiQuery, Auth};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use stackflow_core::{Change, ChangeState, ChangeWindow, Occurrence, WindowKind};

/// The media type of the answer.
pub(super) const TEXT_CALENDAR: &str = "text/calendar; charset=utf-8";

/// The change schedule as iCalendar: one event per change and one per
/// window occurrence. Without `from`/`to`, 30 days back to 180 ahead.
#[utoipa::path(get, path = "/api/schedule.ics", tag = "schedule", params(ScheduleParams),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub(super) async fn get_schedule_ics(
    State(state): State<AppState>,
    Auth(_caller): Auth,
    ApiQuery(params): ApiQuery<ScheduleParams>,
) -> ApiResult<impl IntoResponse> {
    let body = schedule_ics(&state, &params).await?;
    Ok(([(header::CONTENT_TYPE, TEXT_CALENDAR)], body))
}

/// The schedule's iCalendar text for a request's range (the default one
/// where `from` or `to` is missing): the export's and the feeds' body.
pub(super) async fn schedule_ics(state: &AppState, params: &ScheduleParams) -> ApiResult<String> {
    let (from, to) = resolve_range(state.clock.now(), params)?;
    let data = read_schedule(state, from, to, params.assignment_group.as_deref()).await?;
    if data.changes.truncated {
        tracing::warn!(%from, %to, "the iCalendar schedule was truncated");
    }
    Ok(fold_content_lines(&render(state, &data).to_string()))
}

/// The whole calendar. Every event has a fixed UID and a DTSTAMP from the
/// data (the last revision), never from the wall clock, so two exports of
/// an unchanged schedule are the same and clients update events in place.
fn render(state: &AppState, data: &ScheduleData) -> Calendar {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("PRODID", "-//StackFlow//Change schedule//EN"))
        .append_property(("VERSION", "2.0"))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name("StackFlow change schedule");
    if data.changes.truncated {
        calendar.append_property(("X-STACKFLOW-TRUNCATED", "TRUE"));
    }
    for change in &data.changes.changes {
        if let Some(event) = change_event(state, change) {
            calendar.push(event);
        }
    }
    for (window, occurrences) in &data.windows {
        for occurrence in occurrences {
            calendar.push(window_event(state, window, occurrence));
        }
    }
    calendar.done()
}

/// The event of a change; `None` for one without a planned window (the
/// store returns none such).
fn change_event(state: &AppState, change: &Change) -> Option<Event> {
    let (start, end) = (change.planned_start?, change.planned_end?);
    let status = match change.state {
        ChangeState::Assess | ChangeState::Authorize => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    Some(
        Event::new()
            .uid(&format!("{}@{}", change.number, state.uid_domain()))
            .timestamp(change.updated_at)
            .last_modified(change.updated_at)
            .starts(start)
            .ends(second_after_or_at(end))
            // Clients that track revisions (Outlook) update an event only
            // when its sequence grows; a change's version always does.
            .sequence(u32::try_from(change.version).unwrap_or(u32::MAX))
            .summary(&one_line(&format!("{} {}", change.number, change.title)))
            .description(&change_description(change))
            .url(&state.link(&format!("/api/changes/{}", change.number)))
            .status(status)
            .categories([change.change_type.as_str()])
            .done(),
    )
}

/// State, risk, group, CIs and conflicts, one per line.
fn change_description(change: &Change) -> String {
    let risk = change.risk_assessment.as_ref().map_or_else(
        || "not assessed".to_owned(),
        |r| format!("{} (score {})", r.risk_level, r.automated_score),
    );
    let mut lines = vec![
        format!("State: {}", change.state),
        format!("Type: {}", change.change_type),
        format!("Risk: {risk}"),
        format!(
            "Assignment group: {}",
            change.assignment_group.as_deref().unwrap_or("none")
        ),
        format!(
            "Affected CIs: {}",
            if change.affected_cis.is_empty() {
                "none".to_owned()
            } else {
                change.affected_cis.join(", ")
            }
        ),
        format!("Conflicts: {}", change.conflicts.len()),
    ];
    lines.extend(change.conflicts.iter().map(|c| format!("- {}", c.reason)));
    text(&lines.join("\n"))
}

/// The event of one occurrence of a window.
fn window_event(state: &AppState, window: &ChangeWindow, occurrence: &Occurrence) -> Event {
    let (label, transparency) = match window.kind {
        WindowKind::Maintenance => ("Maintenance", "TRANSPARENT"),
        WindowKind::Blackout => ("Blackout", "OPAQUE"),
    };
    let applies_to = if window.scope.is_global() {
        "every CI".to_owned()
    } else {
        let names: Vec<&str> = (window.scope.cis.iter())
            .chain(&window.scope.classes)
            .map(String::as_str)
            .collect();
        names.join(", ")
    };
    let description = if window.description.is_empty() {
        format!("Applies to: {applies_to}")
    } else {
        format!("{}\nApplies to: {applies_to}", window.description)
    };
    Event::new()
        .uid(&format!(
            "window-{}-{}@{}",
            window.id,
            basic_utc(occurrence.start),
            state.uid_domain()
        ))
        .timestamp(window.created_at)
        .starts(occurrence.start)
        .ends(second_after_or_at(occurrence.end))
        .summary(&one_line(&format!("{label}: {}", window.name)))
        .description(&text(&description))
        .url(&state.link(&format!("/api/windows/{}", window.id)))
        .add_property("TRANSP", transparency)
        .categories([window.kind.as_str()])
        .done()
}

/// An end written to the second, which iCalendar times are: rounded up,
/// so that the event covers the whole window (its start is written
/// rounded down) and a window shorter than a second still ends after it
/// starts, as RFC 5545 asks of DTEND.
fn second_after_or_at(end: DateTime<Utc>) -> DateTime<Utc> {
    let whole = end.trunc_subsecs(0);
    if whole == end {
        end
    } else {
        whole + Duration::seconds(1)
    }
}

/// `20261201T220000Z`: the RFC 5545 UTC form, for UIDs.
fn basic_utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value as RFC 5545 allows it: line breaks as `\n` (which the
/// crate escapes), no other control characters. The crate escapes only
/// `\`, `,`, `;` and `\n`, so a bare CR in a title or a description
/// pasted from Windows would otherwise reach the calendar raw, where a
/// strict client refuses the whole calendar and a lax one may read it as
/// the end of the line.
pub(super) fn text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// A TEXT value for a one-line property such as SUMMARY: line breaks
/// become spaces.
pub(super) fn one_line(value: &str) -> String {
    text(value).replace('\n', " ")
}

/// RFC 5545 §3.1: content lines of at most 75 octets, continued on lines
/// that begin with one space, never splitting a UTF-8 character. The
/// crate folds a continuation line at 75 octets after its space (76 in
/// all), so its output is unfolded and folded again here. No content line
/// begins with white space (each begins with a property name), so
/// unfolding is exact.
pub(super) fn fold_content_lines(calendar: &str) -> String {
    const FIRST: usize = 75;
    const CONTINUED: usize = FIRST - 1;
    let unfolded = calendar.replace("\r\n ", "").replace("\r\n\t", "");
    let mut folded = String::with_capacity(unfolded.len() + unfolded.len() / CONTINUED * 3);
    for line in unfolded.split_terminator("\r\n") {
        let mut rest = line;
        let mut limit = FIRST;
        while rest.len() > limit {
            let mut cut = limit;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            folded.push_str(&rest[..cut]);
            folded.push_str("\r\n ");
            rest = &rest[cut..];
            limit = CONTINUED;
        }
        folded.push_str(rest);
        folded.push_str("\r\n");
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_end_of_the_range_takes_the_default_span_from_it() {
        let now: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        let far: DateTime<Utc> = "2027-06-01T00:00:00Z".parse().unwrap();
        let span = Duration::days(210);
        assert_eq!(
            default_range(now, None, None),
            Some((now - Duration::days(30), now + Duration::days(180)))
        );
        assert_eq!(default_range(now, Some(far), None), Some((far, far + span)));
        assert_eq!(default_range(now, None, Some(far)), Some((far - span, far)));
        assert_eq!(default_range(now, Some(now), Some(far)), Some((now, far)));
        // At the ends of what a date can hold: refused, never a panic.
        assert_eq!(
            default_range(now, Some(DateTime::<Utc>::MAX_UTC), None),
            None
        );
        assert_eq!(
            default_range(now, None, Some(DateTime::<Utc>::MIN_UTC)),
            None
        );
    }

    #[test]
    fn ends_are_rounded_up_to_the_second() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            second_after_or_at(at("2026-12-01T22:00:00.000001Z")),
            at("2026-12-01T22:00:01Z")
        );
        assert_eq!(
            second_after_or_at(at("2026-12-01T22:00:00Z")),
            at("2026-12-01T22:00:00Z")
        );
    }

    #[test]
    fn control_characters_never_reach_a_text_value() {
        assert_eq!(
            text("Patch\rEND:VEVENT\r\nBEGIN:VEVENT\u{7}\u{1b}[0m\tx"),
            "Patch\nEND:VEVENT\nBEGIN:VEVENT[0m\tx"
        );
        assert_eq!(one_line("a\r\nb\nc"), "a b c");
    }

    #[test]
    fn folded_lines_are_at_most_75_octets_and_unfold_to_the_original() {
        for length in [60, 61, 62, 63, 136, 137, 138, 211, 285, 1000] {
            for filler in ["x", "é", "€", "𝄞"] {
                let description: String = filler.repeat(length);
                // Rendered, and folded, by the crate, as `render` gives it.
                let mut calendar = Calendar::empty();
                calendar.push(Event::new().description(&description).done());
                let rendered = calendar.done().to_string();
                let folded = fold_content_lines(&rendered);
                assert!(folded.ends_with("\r\n"));
                for physical in folded.split_terminator("\r\n") {
                    assert!(physical.len() <= 75, "{length} {filler}: {physical:?}");
                }
                let unfolded = |text: &str| text.replace("\r\n ", "").replace("\r\n\t", "");
                assert_eq!(unfolded(&folded), unfolded(&rendered), "{length} {filler}");
                assert!(
                    unfolded(&folded).contains(&format!("DESCRIPTION:{description}\r\n")),
                    "{length} {filler}"
                );
                // Folding is idempotent.
                assert_eq!(fold_content_lines(&folded), folded);
            }
        }
    }
}
