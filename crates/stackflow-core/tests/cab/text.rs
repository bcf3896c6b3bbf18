//! The agenda as plain text for mail and iCalendar.

use crate::support::{change_on, london_thursdays, risk, vote};
use stackflow_core::Decision;
use stackflow_core::cab::{AgendaCandidate, CabOutcome, agenda_text, build_agenda, meeting_by_id};
use stackflow_core::risk::RiskLevel;

#[test]
fn one_item_renders_every_key_field() {
    let m = meeting_by_id(&london_thursdays(), "2026-10-29T1400").unwrap();
    let mut change = change_on(456, m.start);
    change.title = "Upgrade orders database".into();
    change.risk_assessment = Some(risk(72, RiskLevel::High));
    let votes = [
        vote(1, 1, "bob", Decision::Approved, "2026-10-27T10:00:00Z"),
        vote(1, 1, "dave", Decision::Rejected, "2026-10-27T11:00:00Z"),
    ];
    let agenda = build_agenda(
        &m,
        &[AgendaCandidate {
            change: &change,
            blast_radius: 14,
            votes: &votes,
            outcome: Some(CabOutcome::Deferred),
        }],
    );
    let text = agenda_text(&agenda, Some("https://sf.example.com/"));
    let expected = "\
CAB meeting 2026-10-29T1400
When: 2026-10-29 14:00 UTC – 2026-10-29 15:00 UTC
Agenda closed: 2026-10-28 14:00 UTC
Agenda: https://sf.example.com/cab/meetings/2026-10-29T1400

1 change on this agenda.

1. CHG0000456 — Upgrade orders database
   Requested by: alice; group: dba
   Risk: 72 (High)
   Blast radius: 14 CIs
   Window: 2026-12-05 01:00 UTC – 2026-12-05 03:00 UTC
   Implementation plan:
     stop the service
     upgrade
     start the service
   Backout plan:
     restore the snapshot
   Conflicts: 0
   Votes: 1 approved (bob); 1 rejected (dave)
   Outcome: deferred
   Link: https://sf.example.com/changes/CHG0000456
";
    assert_eq!(text, expected);
    assert_eq!(agenda_text(&agenda, Some("https://sf.example.com/")), text);
}

#[test]
fn long_plans_are_shortened_and_missing_facts_said() {
    let m = meeting_by_id(&london_thursdays(), "2026-10-29T1400").unwrap();
    let mut change = change_on(1, m.start);
    change.implementation_plan = format!("{}\n\nb\nc\n\td\ne", "a".repeat(300));
    change.backout_plan = "   ".into();
    change.planned_start = None;
    change.title = "two\nlines".into();
    let agenda = build_agenda(
        &m,
        &[AgendaCandidate {
            change: &change,
            blast_radius: 0,
            votes: &[],
            outcome: None,
        }],
    );
    let text = agenda_text(&agenda, None);
    assert_eq!(
        agenda_text(&agenda, Some(" / ")),
        text,
        "a blank URL gives no links"
    );
    assert!(
        text.contains(&format!(
            "     {}…\n     b\n     c\n     … (2 more lines)\n",
            "a".repeat(159)
        )),
        "{text}"
    );
    assert!(text.contains("CHG0000001 — two lines\n"), "{text}");
    assert!(text.contains("   Risk: not assessed\n"), "{text}");
    assert!(text.contains("   Window: not planned\n"), "{text}");
    assert!(text.contains("   Backout plan: (none)\n"), "{text}");
    assert!(text.contains("   Votes: none yet\n"), "{text}");
    assert!(
        !text.contains("Link:") && !text.contains("Outcome:"),
        "{text}"
    );
}

#[test]
fn items_render_in_agenda_order_and_an_empty_agenda_says_so() {
    let m = meeting_by_id(&london_thursdays(), "2026-10-29T1400").unwrap();
    let empty = agenda_text(&build_agenda(&m, &[]), None);
    assert!(empty.ends_with("\nNo changes on this agenda.\n"), "{empty}");
    let mut low = change_on(1, m.start);
    low.risk_assessment = Some(risk(10, RiskLevel::Low));
    let mut high = change_on(2, m.start);
    high.risk_assessment = Some(risk(88, RiskLevel::Critical));
    let candidates: Vec<_> = [&low, &high]
        .into_iter()
        .map(|change| AgendaCandidate {
            change,
            blast_radius: 0,
            votes: &[],
            outcome: None,
        })
        .collect();
    let text = agenda_text(&build_agenda(&m, &candidates), None);
    let first = text.find("1. CHG0000002").expect("the riskiest first");
    let second = text.find("2. CHG0000001").expect("then the other");
    assert!(first < second);
    assert!(text.contains("2 changes on this agenda."));
}
