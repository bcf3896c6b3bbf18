//! `/api/schedule` and `/api/schedule.ics`: the change schedule — which
//! changes and window occurrences a range holds, range validation, and the
//! iCalendar export read back by an independent parser (`ical`).

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use ical::parser::ical::component::{IcalCalendar, IcalEvent};
use serde_json::{Value, json};

/// The range most tests look at: the five Sundays from 29 November.
const FROM: &str = "2026-11-29T00:00:00Z";
const TO: &str = "2026-12-31T00:00:00Z";

fn range() -> String {
    format!("from={FROM}&to={TO}")
}

/// Sundays 04:00–06:00 in Berlin (03:00Z in winter), every CI.
fn sunday_patching() -> Value {
    json!({
        "name": "Sunday patching",
        "kind": "maintenance",
        "description": "OS patches",
        "start": "2026-03-22T03:00:00Z",
        "end": "2026-03-22T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU",
        "time_zone": "Europe/Berlin"
    })
}

fn year_end_freeze() -> Value {
    json!({
        "name": "Year-end freeze",
        "kind": "blackout",
        "start": "2026-12-20T00:00:00Z",
        "end": "2027-01-03T00:00:00Z"
    })
}

fn planned(draft: Value, start: &str, end: &str) -> Value {
    with(draft, json!({"planned_start": start, "planned_end": end}))
}

fn numbers(schedule: &Value) -> Vec<String> {
    schedule["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["number"].as_str().expect("number").to_owned())
        .collect()
}

fn entry<'a>(schedule: &'a Value, number: &str) -> &'a Value {
    schedule["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["number"] == number)
        .unwrap_or_else(|| panic!("{number} is not on the schedule: {schedule:#}"))
}

backend_test!(
    the_schedule_lists_changes_on_it_in_range_with_state_and_risk,
    |app| async move {
        // In range: submitted (assess, assessed), scheduled (standard, not
        // scored), closed, and a long window that began weeks before.
        let assessed = app.create("alice", normal_draft()).await;
        app.submit(&assessed, "alice").await;
        let standard = app.scheduled_standard().await;
        let closed = app
            .create(
                "alice",
                planned(
                    standard_draft(),
                    "2026-11-30T10:00:00Z",
                    "2026-11-30T12:00:00Z",
                ),
            )
            .await;
        app.submit(&closed, "alice").await;
        app.step(&closed, "implement", "ivan").await;
        app.step(&closed, "complete", "ivan").await;
        app.review(&closed, "alice", "successful").await;
        let long = app
            .create(
                "alice",
                planned(
                    normal_draft(),
                    "2026-11-10T00:00:00Z",
                    "2026-11-29T06:00:00Z",
                ),
            )
            .await;
        app.submit(&long, "alice").await;

        // Off the schedule: never submitted, canceled, out of range, and
        // one ending exactly when the range starts.
        let draft = app.create("alice", normal_draft()).await;
        let canceled = app.create("alice", normal_draft()).await;
        app.submit(&canceled, "alice").await;
        app.try_act(
            &canceled,
            "cancel",
            "alice",
            json!({"reason": "superseded"}),
        )
        .await
        .expect(StatusCode::OK);
        let later = app
            .create(
                "alice",
                planned(
                    normal_draft(),
                    "2027-02-01T22:00:00Z",
                    "2027-02-01T23:00:00Z",
                ),
            )
            .await;
        app.submit(&later, "alice").await;
        let ended = app
            .create(
                "alice",
                planned(
                    normal_draft(),
                    "2026-11-28T22:00:00Z",
                    "2026-11-29T00:00:00Z",
                ),
            )
            .await;
        app.submit(&ended, "alice").await;

        let schedule = app
            .get(&format!("/api/schedule?{}", range()), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(time_of(&schedule["from"]), at(FROM));
        assert_eq!(time_of(&schedule["to"]), at(TO));
        assert_eq!(schedule["truncated"], false);
        // By planned start, then number.
        assert_eq!(
            numbers(&schedule),
            vec![
                long.clone(),
                closed.clone(),
                assessed.clone(),
                standard.clone()
            ],
            "{schedule:#}"
        );
        for off in [&draft, &canceled, &later, &ended] {
            assert!(!numbers(&schedule).contains(off), "{off} is listed");
        }

        let full = app.change(&assessed).await;
        let item = entry(&schedule, &assessed);
        assert_eq!(item["title"], "Upgrade orders DB to 16.2");
        assert_eq!(item["type"], "normal");
        assert_eq!(item["state"], "assess");
        assert_eq!(time_of(&item["planned_start"]), at(PLANNED_START));
        assert_eq!(time_of(&item["planned_end"]), at(PLANNED_END));
        assert!(item["risk_level"].is_string(), "{item:#}");
        assert_eq!(item["risk_level"], full["risk_assessment"]["risk_level"]);
        assert_eq!(
            item["automated_score"],
            full["risk_assessment"]["automated_score"]
        );
        assert_eq!(item["assignment_group"], "dba");
        assert_eq!(item["affected_cis"], json!(["orders-db-prod"]));
        assert_eq!(
            item["conflicts"].as_u64(),
            full["conflicts"].as_array().map(|c| c.len() as u64)
        );
        assert!(
            item["conflicts"].as_u64() > Some(0),
            "the standard change shares its window and CI: {item:#}"
        );

        let item = entry(&schedule, &standard);
        assert_eq!(item["state"], "scheduled");
        assert_eq!(item["type"], "standard");
        assert_eq!(item["risk_level"], Value::Null);
        assert_eq!(item["automated_score"], Value::Null);
        assert_eq!(entry(&schedule, &closed)["state"], "closed");
        assert_eq!(entry(&schedule, &long)["state"], "assess");
        assert_eq!(schedule["windows"], json!([]));
    }
);

backend_test!(the_store_caps_the_schedule_and_says_so, |app| async move {
    let first = app.scheduled_standard().await;
    let second = app.scheduled_standard().await;
    let (from, to) = (at(FROM), at(TO));
    let capped = app
        .store
        .scheduled_changes(from, to, None, 1)
        .await
        .expect("read the schedule");
    assert!(capped.truncated);
    let listed: Vec<String> = capped
        .changes
        .iter()
        .map(|c| c.number.to_string())
        .collect();
    assert_eq!(listed, vec![first.clone()]);
    let whole = app
        .store
        .scheduled_changes(from, to, None, 2)
        .await
        .expect("read the schedule");
    assert!(!whole.truncated);
    assert_eq!(whole.changes.len(), 2);
    assert_eq!(whole.changes[1].number.to_string(), second);
});

backend_test!(
    the_schedule_lists_window_occurrences_in_range,
    |app| async move {
        let weekly = app
            .post("/api/windows", "max", sunday_patching())
            .await
            .expect(StatusCode::CREATED);
        let freeze = app
            .post("/api/windows", "max", year_end_freeze())
            .await
            .expect(StatusCode::CREATED);
        app.post(
            "/api/windows",
            "max",
            json!({"name": "June move", "kind": "maintenance",
                   "start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED);

        let schedule = app
            .get(&format!("/api/schedule?{}", range()), "vic")
            .await
            .expect(StatusCode::OK);
        let windows = schedule["windows"].as_array().expect("windows");
        assert_eq!(
            windows.len(),
            2,
            "the June window is out of range: {schedule:#}"
        );
        assert_eq!(windows[0]["id"], weekly["id"]);
        assert_eq!(windows[0]["name"], "Sunday patching");
        assert_eq!(windows[0]["kind"], "maintenance");
        assert_eq!(windows[0]["scope"], json!({"cis": [], "classes": []}));
        let starts: Vec<_> = windows[0]["occurrences"]
            .as_array()
            .expect("occurrences")
            .iter()
            .map(|o| (time_of(&o["start"]), time_of(&o["end"])))
            .collect();
        let sundays = [
            "2026-11-29",
            "2026-12-06",
            "2026-12-13",
            "2026-12-20",
            "2026-12-27",
        ];
        let expected: Vec<_> = sundays
            .iter()
            .map(|day| {
                (
                    at(&format!("{day}T03:00:00Z")),
                    at(&format!("{day}T05:00:00Z")),
                )
            })
            .collect();
        assert_eq!(starts, expected);
        assert_eq!(windows[1]["id"], freeze["id"]);
        assert_eq!(windows[1]["kind"], "blackout");
        assert_eq!(
            windows[1]["occurrences"],
            json!([{"start": "2026-12-20T00:00:00Z", "end": "2027-01-03T00:00:00Z"}])
        );
    }
);

backend_test!(bad_ranges_are_refused_with_400, |app| async move {
    for query in [
        format!("from={FROM}&to={FROM}"),
        format!("from={TO}&to={FROM}"),
        "from=2026-01-01T00:00:00Z&to=2027-01-03T00:00:00Z".to_owned(),
        // The default span from a given end runs past the last date.
        "from=%2B262142-12-31T00:00:00Z".to_owned(),
    ] {
        for path in ["/api/schedule", "/api/schedule.ics"] {
            app.get(&format!("{path}?{query}"), "vic")
                .await
                .problem(StatusCode::BAD_REQUEST, "bad_range");
        }
    }
    for path in ["/api/schedule", "/api/schedule.ics"] {
        app.get(&format!("{path}?from=yesterday&to={TO}"), "vic")
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_query");
        app.call(Method::GET, &format!("{path}?{}", range()))
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // 366 days is the most.
    app.get(
        "/api/schedule?from=2026-01-01T00:00:00Z&to=2027-01-02T00:00:00Z",
        "vic",
    )
    .await
    .expect(StatusCode::OK);
});

backend_test!(
    a_missing_end_of_the_range_takes_the_default_span,
    |app| async move {
        let now = app.now();
        let range_of = |schedule: &Value| (time_of(&schedule["from"]), time_of(&schedule["to"]));
        let days = chrono::Duration::days;
        // Neither end: 30 days back to 180 ahead of the clock, as the export.
        let schedule = app.get("/api/schedule", "vic").await.expect(StatusCode::OK);
        assert_eq!(range_of(&schedule), (now - days(30), now + days(180)));
        // One end: the 210 days from it, forwards or back.
        let from = at(FROM);
        let schedule = app
            .get(&format!("/api/schedule?from={FROM}"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(range_of(&schedule), (from, from + days(210)));
        let schedule = app
            .get(&format!("/api/schedule?to={FROM}"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(range_of(&schedule), (from - days(210), from));
    }
);

/// Parses an iCalendar body with the independent `ical` crate.
fn parse_ics(body: &str) -> IcalCalendar {
    let mut calendars = ical::IcalParser::new(body.as_bytes());
    let calendar = calendars
        .next()
        .expect("one VCALENDAR")
        .expect("a valid VCALENDAR");
    assert!(calendars.next().is_none(), "exactly one VCALENDAR");
    calendar
}

fn prop<'a>(properties: &'a [ical::property::Property], name: &str) -> Option<&'a str> {
    properties
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.as_deref())
}

fn event<'a>(calendar: &'a IcalCalendar, uid: &str) -> &'a IcalEvent {
    calendar
        .events
        .iter()
        .find(|e| prop(&e.properties, "UID") == Some(uid))
        .unwrap_or_else(|| panic!("no event {uid}"))
}

fn uids(calendar: &IcalCalendar) -> Vec<String> {
    calendar
        .events
        .iter()
        .map(|e| {
            prop(&e.properties, "UID")
                .expect("every event has a UID")
                .to_owned()
        })
        .collect()
}

async fn export(app: &TestApp, query: &str) -> String {
    let reply = app.get(&format!("/api/schedule.ics{query}"), "vic").await;
    assert_eq!(
        reply
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("text/calendar; charset=utf-8")
    );
    reply
        .expect(StatusCode::OK)
        .as_str()
        .expect("a text body")
        .to_owned()
}

backend_test!(
    the_ics_export_parses_back_with_stable_uids,
    |app| async move {
        let tentative = app.create("alice", normal_draft()).await;
        app.submit(&tentative, "alice").await;
        let confirmed = app.scheduled_standard().await;
        let window = app
            .post("/api/windows", "max", sunday_patching())
            .await
            .expect(StatusCode::CREATED);
        let id = window["id"].as_i64().expect("id");

        let body = export(&app, &format!("?{}", range())).await;
        // RFC 5545 §3.1: CRLF line ends, lines of at most 75 octets.
        assert!(body.ends_with("\r\n"));
        for line in body.split("\r\n") {
            assert!(!line.contains('\n'), "a bare LF: {line:?}");
            assert!(line.len() <= 75, "a line over 75 octets: {line:?}");
        }
        let calendar = parse_ics(&body);
        assert_eq!(prop(&calendar.properties, "VERSION"), Some("2.0"));
        assert!(prop(&calendar.properties, "PRODID").is_some_and(|p| p.contains("StackFlow")));
        assert_eq!(
            prop(&calendar.properties, "X-WR-CALNAME"),
            Some("StackFlow change schedule")
        );
        assert_eq!(calendar.events.len(), 2 + 5, "two changes, five Sundays");

        let e = &event(&calendar, &format!("{tentative}@stackflow.test")).properties;
        assert_eq!(prop(e, "DTSTART"), Some("20261201T220000Z"));
        assert_eq!(prop(e, "DTEND"), Some("20261201T233000Z"));
        assert_eq!(
            prop(e, "SUMMARY"),
            Some(format!("{tentative} Upgrade orders DB to 16.2").as_str())
        );
        assert_eq!(
            prop(e, "URL"),
            Some(format!("{PUBLIC_URL}/api/changes/{tentative}").as_str())
        );
        assert_eq!(prop(e, "STATUS"), Some("TENTATIVE"));
        assert_eq!(prop(e, "CATEGORIES"), Some("normal"));
        let version = app.change(&tentative).await["version"].to_string();
        assert_eq!(prop(e, "SEQUENCE"), Some(version.as_str()));
        assert!(prop(e, "DTSTAMP").is_some_and(|t| t.ends_with('Z')));
        let risk = app.change(&tentative).await["risk_assessment"]["risk_level"]
            .as_str()
            .expect("assessed")
            .to_owned();
        let description = prop(e, "DESCRIPTION").expect("a description");
        assert!(description.contains("State: assess"), "{description}");
        assert!(
            description.contains(&format!("Risk: {risk}")),
            "{description}"
        );
        assert!(description.contains("orders-db-prod"), "{description}");
        assert!(description.contains("Conflicts: 1"), "{description}");

        let e = &event(&calendar, &format!("{confirmed}@stackflow.test")).properties;
        assert_eq!(prop(e, "STATUS"), Some("CONFIRMED"));
        assert_eq!(prop(e, "CATEGORIES"), Some("standard"));

        let e = &event(
            &calendar,
            &format!("window-{id}-20261206T030000Z@stackflow.test"),
        )
        .properties;
        assert_eq!(prop(e, "SUMMARY"), Some("Maintenance: Sunday patching"));
        assert_eq!(prop(e, "DTSTART"), Some("20261206T030000Z"));
        assert_eq!(prop(e, "DTEND"), Some("20261206T050000Z"));
        assert_eq!(prop(e, "TRANSP"), Some("TRANSPARENT"));
        assert_eq!(
            prop(e, "URL"),
            Some(format!("{PUBLIC_URL}/api/windows/{id}").as_str())
        );

        // Later, nothing changed: the same document, the same UIDs.
        app.clock.advance(chrono::Duration::hours(5));
        let again = export(&app, &format!("?{}", range())).await;
        assert_eq!(uids(&parse_ics(&again)), uids(&calendar));
        assert_eq!(again, body);

        // Without a range: 30 days back to 180 ahead of the clock.
        let default = parse_ics(&export(&app, "").await);
        let default_uids = uids(&default);
        assert!(default_uids.contains(&format!("{tentative}@stackflow.test")));
        // 2026-10-25 (30 days before the clock) to 2027-05-24: 30 Sundays.
        let sundays = default_uids
            .iter()
            .filter(|uid| uid.starts_with(&format!("window-{id}-")))
            .count();
        assert_eq!(sundays, 30);
    }
);

backend_test!(
    the_openapi_document_describes_the_schedule,
    |app| async move {
        let doc = app
            .call(Method::GET, "/api/openapi.json")
            .send()
            .await
            .expect(StatusCode::OK);
        for path in ["/api/schedule", "/api/schedule.ics"] {
            let get = &doc["paths"][path]["get"];
            assert!(get.is_object(), "OpenAPI lacks GET {path}");
            assert_eq!(get["tags"], json!(["schedule"]));
        }
        assert!(
            doc["paths"]["/api/schedule.ics"]["get"]["responses"]["200"]["content"]
                .get("text/calendar")
                .is_some()
        );
        assert!(doc["components"]["schemas"]["Schedule"].is_object());
    }
);

backend_test!(
    a_schedule_narrowed_to_an_assignment_group_keeps_the_windows,
    |app| async move {
        app.post(
            "/api/groups",
            "admin",
            json!({"name": "web-ops", "kind": "implementation", "members": ["olga"]}),
        )
        .await
        .expect(StatusCode::CREATED);
        let dbas = app.create("alice", normal_draft()).await;
        app.submit(&dbas, "alice").await;
        let mut web = normal_draft();
        web["assignment_group"] = json!("web-ops");
        let web_ops = app.create("alice", web).await;
        app.submit(&web_ops, "alice").await;
        app.post("/api/windows", "max", sunday_patching())
            .await
            .expect(StatusCode::CREATED);

        let all = app
            .get(&format!("/api/schedule?{}", range()), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(numbers(&all), [dbas.clone(), web_ops.clone()]);
        let team = app
            .get(
                &format!("/api/schedule?{}&assignment_group=web-ops", range()),
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(numbers(&team), std::slice::from_ref(&web_ops));
        assert_eq!(team["windows"], all["windows"]);

        // The iCalendar export, and so a feed, narrows the same way.
        let body = export(&app, &format!("?{}&assignment_group=web-ops", range())).await;
        let calendar = parse_ics(&body);
        let change_uids: Vec<String> = uids(&calendar)
            .into_iter()
            .filter(|uid| uid.starts_with("CHG"))
            .collect();
        assert_eq!(change_uids, [format!("{web_ops}@stackflow.test")]);
        assert_eq!(calendar.events.len(), 1 + 5, "one change, five Sundays");

        // A group that does not exist is refused, not answered empty.
        for path in ["/api/schedule", "/api/schedule.ics"] {
            let reply = app
                .get(
                    &format!("{path}?{}&assignment_group=web-opps", range()),
                    "vic",
                )
                .await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(reply.invalid_fields()[0].0, "assignment_group");
        }
    }
);
