//! The agenda as plain text: the body of the agenda mail and the
//! iCalendar DESCRIPTION. Deterministic (same agenda, same text), UTC
//! times, one block per item; escaping for iCalendar is the writer's job.

use super::agenda::{Agenda, AgendaItem};
use crate::enums::Decision;
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// Most lines of a plan the text shows.
pub const PLAN_PREVIEW_LINES: usize = 3;
/// Most characters of one plan line the text shows.
pub const PLAN_PREVIEW_CHARS: usize = 160;

/// Renders the agenda. With a non-blank `public_url` (the portal's base
/// URL) the meeting and each item get a link.
pub fn agenda_text(agenda: &Agenda, public_url: Option<&str>) -> String {
    let meeting = &agenda.meeting;
    let base = public_url
        .map(|url| url.trim().trim_end_matches('/'))
        .filter(|url| !url.is_empty());
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "CAB meeting {}", meeting.id);
    let _ = writeln!(
        out,
        "When: {} – {}",
        instant(meeting.start),
        instant(meeting.end)
    );
    let _ = writeln!(out, "Agenda closed: {}", instant(meeting.cutoff));
    if let Some(base) = base {
        let _ = writeln!(out, "Agenda: {base}/cab/meetings/{}", meeting.id);
    }
    let _ = match agenda.items.len() {
        0 => writeln!(out, "\nNo changes on this agenda."),
        1 => writeln!(out, "\n1 change on this agenda."),
        n => writeln!(out, "\n{n} changes on this agenda."),
    };
    for (position, item) in agenda.items.iter().enumerate() {
        out.push('\n');
        item_block(&mut out, position + 1, item, base);
    }
    out
}

fn item_block(out: &mut String, position: usize, item: &AgendaItem, base: Option<&str>) {
    let _ = writeln!(
        out,
        "{position}. {} — {}",
        item.number,
        one_line(&item.title)
    );
    let group = item.assignment_group.as_deref().unwrap_or("none");
    let _ = writeln!(
        out,
        "   Requested by: {}; group: {}",
        one_line(&item.requested_by),
        one_line(group)
    );
    let risk = match (item.risk_score, item.risk_level) {
        (Some(score), Some(level)) => format!("{score} ({level})"),
        _ => "not assessed".to_owned(),
    };
    let _ = writeln!(out, "   Risk: {risk}");
    let _ = writeln!(out, "   Blast radius: {} CIs", item.blast_radius);
    let window = match (item.planned_start, item.planned_end) {
        (Some(start), Some(end)) => format!("{} – {}", instant(start), instant(end)),
        _ => "not planned".to_owned(),
    };
    let _ = writeln!(out, "   Window: {window}");
    plan_preview(out, "Implementation plan", &item.implementation_plan);
    plan_preview(out, "Backout plan", &item.backout_plan);
    let _ = writeln!(out, "   Conflicts: {}", item.conflicts.len());
    let _ = writeln!(out, "   Votes: {}", votes_line(item));
    if let Some(outcome) = item.outcome {
        let _ = writeln!(out, "   Outcome: {outcome}");
    }
    if let Some(base) = base {
        let _ = writeln!(out, "   Link: {base}/changes/{}", item.number);
    }
}

/// The first few non-blank lines of a plan, each cut short, and how many
/// more there are.
fn plan_preview(out: &mut String, label: &str, plan: &str) {
    let lines: Vec<&str> = plan
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        let _ = writeln!(out, "   {label}: (none)");
        return;
    }
    let _ = writeln!(out, "   {label}:");
    for line in lines.iter().take(PLAN_PREVIEW_LINES) {
        let _ = writeln!(out, "     {}", shortened(&one_line(line)));
    }
    let more = lines.len().saturating_sub(PLAN_PREVIEW_LINES);
    if more > 0 {
        let noun = if more == 1 { "line" } else { "lines" };
        let _ = writeln!(out, "     … ({more} more {noun})");
    }
}

fn votes_line(item: &AgendaItem) -> String {
    if item.votes.is_empty() {
        return "none yet".to_owned();
    }
    let names = |decision: Decision| -> Vec<String> {
        item.votes
            .iter()
            .filter(|v| v.decision == decision)
            .map(|v| one_line(&v.voter))
            .collect()
    };
    let approved = names(Decision::Approved);
    let rejected = names(Decision::Rejected);
    let part = |count: usize, verb: &str, who: &[String]| {
        if who.is_empty() {
            format!("{count} {verb}")
        } else {
            format!("{count} {verb} ({})", who.join(", "))
        }
    };
    format!(
        "{}; {}",
        part(approved.len(), "approved", &approved),
        part(rejected.len(), "rejected", &rejected)
    )
}

fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The text with control characters (newlines, tabs) turned into spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn shortened(line: &str) -> String {
    if line.chars().count() <= PLAN_PREVIEW_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(PLAN_PREVIEW_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}
