//! `/api/cab`: the meeting schedule document, placement of normal changes
//! on meetings (with the agenda cut-off), agendas as JSON and iCalendar
//! (read back with the independent `ical` crate), and outcomes.
//!
//! With no schedule stored the default applies: Thursdays 14:00 in the
//! business calendar's zone (UTC here), agenda cut-off 24 hours before.
//! The clock starts on Wednesday 25 November 10:00Z, so the first meeting
//! is Thursday 26 November 14:00Z, its cut-off Wednesday 14:00Z.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use chrono::Duration;
use serde_json::{Value, json};
use stackflow_store::PageRequest;

/// The first meeting and the one after it.
const THIS_WEEK: &str = "2026-11-26T1400";
const NEXT_WEEK: &str = "2026-12-03T1400";
const THIS_WEEK_START: &str = "2026-11-26T14:00:00Z";
const NEXT_WEEK_START: &str = "2026-12-03T14:00:00Z";

async fn agenda(app: &TestApp, meeting: &str) -> Value {
    app.get(&format!("/api/cab/meetings/{meeting}/agenda"), "vic")
        .await
        .expect(StatusCode::OK)
}

fn numbers(agenda: &Value) -> Vec<String> {
    agenda["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["number"].as_str().expect("number").to_owned())
        .collect()
}

async fn record(app: &TestApp, meeting: &str, user: &str, items: Value) -> Reply {
    app.post(
        &format!("/api/cab/meetings/{meeting}/outcomes"),
        user,
        json!({ "items": items }),
    )
    .await
}

async fn decide(app: &TestApp, meeting: &str, number: &str, outcome: &str) -> Value {
    record(
        app,
        meeting,
        "max",
        json!([{"change": number, "outcome": outcome, "notes": "board says so"}]),
    )
    .await
    .expect(StatusCode::OK)
}

backend_test!(
    a_change_reaching_authorize_is_placed_on_the_meeting_whose_cutoff_it_makes,
    |app| async move {
        // 25 hours before the meeting: it makes the 24-hour cut-off.
        app.clock.set(at("2026-11-25T13:00:00Z"));
        let early = app.normal_in_authorize().await;
        assert_eq!(
            time_of(&app.change(&early).await["cab_date"]),
            at(THIS_WEEK_START)
        );
        // 23 hours before: too late, the next week's meeting.
        app.clock.set(at("2026-11-25T15:00:00Z"));
        let late = app.normal_in_authorize().await;
        assert_eq!(
            time_of(&app.change(&late).await["cab_date"]),
            at(NEXT_WEEK_START)
        );
        assert_eq!(numbers(&agenda(&app, THIS_WEEK).await), [early.as_str()]);
        assert_eq!(numbers(&agenda(&app, NEXT_WEEK).await), [late.as_str()]);
        // The list's `cab_date` filter takes a change's own `cab_date` back,
        // as well as the day.
        let cab_date = app.change(&late).await["cab_date"].clone();
        let day = &cab_date.as_str().expect("a cab_date")[..10];
        for filter in [cab_date.as_str().expect("text"), day] {
            let list = app
                .get(
                    &format!("/api/changes?cab_date={}", filter.replace('+', "%2B")),
                    "vic",
                )
                .await
                .expect(StatusCode::OK);
            let listed: Vec<&str> = list["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|c| c["number"].as_str())
                .collect();
            assert_eq!(listed, [late.as_str()], "?cab_date={filter}");
        }

        let meetings = app
            .get(
                "/api/cab/meetings?from=2026-11-25T00:00:00Z&to=2026-12-10T00:00:00Z",
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        let listed: Vec<(Value, Value)> = meetings["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|m| (m["id"].clone(), m["item_count"].clone()))
            .collect();
        assert_eq!(
            listed,
            [(json!(THIS_WEEK), json!(1)), (json!(NEXT_WEEK), json!(1))]
        );
        assert_eq!(meetings["items"][0]["start"], THIS_WEEK_START);
        assert_eq!(meetings["items"][0]["cutoff"], "2026-11-25T14:00:00Z");
    }
);

backend_test!(
    a_resubmitted_change_gets_a_new_placement,
    |app| async move {
        let number = app.normal_in_authorize().await;
        decide(&app, THIS_WEEK, &number, "rejected").await;
        assert_eq!(app.change(&number).await["state"], "new");
        app.clock.set(at("2026-11-26T09:00:00Z"));
        app.submit(&number, "alice").await;
        app.approve(&number, "ivan").await;
        assert_eq!(
            time_of(&app.change(&number).await["cab_date"]),
            at(NEXT_WEEK_START)
        );
    }
);

backend_test!(
    the_agenda_lists_items_riskiest_first_with_what_the_board_needs,
    |app| async move {
        // The database change is riskier (critical CI, one dependant).
        let app_change = app
            .create(
                "alice",
                with(normal_draft(), json!({"affected_cis": ["orders-app"]})),
            )
            .await;
        app.submit(&app_change, "alice").await;
        app.approve(&app_change, "ivan").await;
        let db_change = app.normal_in_authorize().await;
        app.approve(&db_change, "bob").await;
        // Not on the agenda: an emergency change and one still in assess.
        app.create("alice", normal_draft()).await;

        let agenda = agenda(&app, THIS_WEEK).await;
        assert_eq!(agenda["meeting"]["id"], THIS_WEEK);
        assert_eq!(numbers(&agenda), [db_change.as_str(), app_change.as_str()]);
        let scores: Vec<i64> = agenda["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["risk_score"].as_i64().expect("a risk score"))
            .collect();
        assert!(scores[0] > scores[1], "riskiest first: {scores:?}");
        let item = &agenda["items"][0];
        assert!(item["risk_level"].is_string());
        assert_eq!(item["blast_radius"], 1, "orders-app uses orders-db-prod");
        assert_eq!(agenda["items"][1]["blast_radius"], 0);
        assert_eq!(item["planned_start"], PLANNED_START);
        assert_eq!(item["planned_end"], PLANNED_END);
        assert_eq!(
            item["implementation_plan"],
            "Fail over, upgrade the old primary, fail back."
        );
        assert_eq!(item["backout_plan"], "Fail back to the untouched node.");
        assert!(item["conflicts"].is_array());
        let votes = item["votes"].as_array().expect("votes");
        assert_eq!(votes.len(), 1, "only the CAB stage's votes: {votes:?}");
        assert_eq!(votes[0]["voter"], "bob");
        assert_eq!(votes[0]["decision"], "approved");
        assert!(item["outcome"].is_null());
        assert!(item["recorded"].is_null());
    }
);

backend_test!(
    the_agenda_exports_as_icalendar_with_a_stable_uid,
    |app| async move {
        let number = app.normal_in_authorize().await;
        let path = format!("/api/cab/meetings/{THIS_WEEK}/agenda.ics");
        let reply = app.get(&path, "vic").await;
        assert_eq!(
            reply
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/calendar; charset=utf-8")
        );
        let body = reply.expect(StatusCode::OK);
        let body = body.as_str().expect("a text body");
        let mut calendars = ical::IcalParser::new(body.as_bytes());
        let calendar = calendars.next().expect("a VCALENDAR").expect("valid");
        assert_eq!(calendar.events.len(), 1);
        let props = &calendar.events[0].properties;
        let prop = |name: &str| {
            props
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
                .unwrap_or_else(|| panic!("no {name}"))
        };
        assert_eq!(prop("UID"), format!("cab-{THIS_WEEK}@stackflow.test"));
        assert_eq!(prop("DTSTART"), "20261126T140000Z");
        assert_eq!(prop("DTEND"), "20261126T150000Z");
        assert!(prop("SUMMARY").contains(THIS_WEEK));
        assert!(prop("DESCRIPTION").contains(&number));
        assert_eq!(
            prop("URL"),
            format!("{PUBLIC_URL}/api/cab/meetings/{THIS_WEEK}/agenda")
        );
        // Exported again later: the same event, byte for byte.
        app.clock.advance(Duration::hours(1));
        let again = app.get(&path, "vic").await.expect(StatusCode::OK);
        assert_eq!(again.as_str(), Some(body));
    }
);

backend_test!(
    a_deferred_item_moves_to_the_next_meeting_and_stays_on_the_past_agenda,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.clock.set(at("2026-11-26T14:30:00Z"));
        let result = decide(&app, THIS_WEEK, &number, "deferred").await;
        assert_eq!(result["changes"][0]["state"], "authorize");
        let change = app.change(&number).await;
        assert_eq!(time_of(&change["cab_date"]), at(NEXT_WEEK_START));
        assert_eq!(numbers(&agenda(&app, NEXT_WEEK).await), [number.as_str()]);
        let past = agenda(&app, THIS_WEEK).await;
        assert_eq!(numbers(&past), [number.as_str()]);
        assert_eq!(past["items"][0]["outcome"], "deferred");
        assert_eq!(past["items"][0]["recorded"]["recorded_by"], "max");
        assert_eq!(past["items"][0]["recorded"]["notes"], "board says so");
        let audit = app.audit(&number).await;
        let last = audit.last().expect("audit");
        assert_eq!(
            (&last["action"], &last["actor"]),
            (&json!("change.cab_outcome"), &json!("max"))
        );
    }
);

backend_test!(
    an_approved_outcome_schedules_the_change_and_the_past_agenda_shows_it,
    |app| async move {
        let number = app.normal_in_authorize().await;
        app.clock.set(at("2026-11-26T14:30:00Z"));
        decide(&app, THIS_WEEK, &number, "approved").await;
        let change = app.change(&number).await;
        assert_eq!(change["state"], "scheduled");
        assert_eq!(change["approval"]["status"], "approved");
        // A week later the meeting's agenda still shows what it decided.
        app.clock.advance(Duration::days(7));
        let past = agenda(&app, THIS_WEEK).await;
        assert_eq!(numbers(&past), [number.as_str()]);
        assert_eq!(past["items"][0]["outcome"], "approved");
        let ics = app
            .get(&format!("/api/cab/meetings/{THIS_WEEK}/agenda.ics"), "vic")
            .await
            .expect(StatusCode::OK);
        // Unfolded (RFC 5545 folds lines at 75 octets).
        let unfolded = ics.as_str().expect("text").replace("\r\n ", "");
        assert!(unfolded.contains("Outcome: approved"), "{unfolded}");
    }
);

backend_test!(a_rejected_outcome_rejects_the_change, |app| async move {
    let number = app.normal_in_authorize().await;
    decide(&app, THIS_WEEK, &number, "rejected").await;
    let change = app.change(&number).await;
    assert_eq!(change["state"], "new");
    assert_eq!(change["approval"]["status"], "rejected");
    let rejection = &change["rejections"][0];
    assert_eq!(rejection["by"], "max");
    assert_eq!(rejection["notes"], "board says so");
});

backend_test!(
    outcomes_for_changes_not_on_the_agenda_are_refused_and_change_nothing,
    |app| async move {
        let on_agenda = app.normal_in_authorize().await;
        app.clock.set(at("2026-11-25T15:00:00Z"));
        let next_week = app.normal_in_authorize().await;
        let before = app.snapshot(&on_agenda).await;
        let other_before = app.snapshot(&next_week).await;
        // All or nothing: the first item would be accepted on its own.
        record(
            &app,
            THIS_WEEK,
            "max",
            json!([
                {"change": on_agenda, "outcome": "approved"},
                {"change": next_week, "outcome": "approved"}
            ]),
        )
        .await
        .problem(StatusCode::CONFLICT, "cab_outcome_not_on_agenda");
        app.assert_unchanged(&on_agenda, &before).await;
        app.assert_unchanged(&next_week, &other_before).await;
        assert!(agenda(&app, THIS_WEEK).await["items"][0]["outcome"].is_null());
        // A meeting the recurrence does not give (a Friday), or no id at all.
        for id in ["2026-11-27T1400", "not-a-meeting"] {
            app.get(&format!("/api/cab/meetings/{id}/agenda"), "vic")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
            app.get(&format!("/api/cab/meetings/{id}/agenda.ics"), "vic")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
            record(
                &app,
                id,
                "max",
                json!([{"change": on_agenda, "outcome": "approved"}]),
            )
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        }
    }
);

backend_test!(
    only_change_managers_and_admins_record_outcomes,
    |app| async move {
        let number = app.normal_in_authorize().await;
        let before = app.snapshot(&number).await;
        for user in ["bob", "alice", "vic"] {
            record(
                &app,
                THIS_WEEK,
                user,
                json!([{"change": number, "outcome": "approved"}]),
            )
            .await
            .problem(StatusCode::FORBIDDEN, "cab_outcome_by_manager");
        }
        app.assert_unchanged(&number, &before).await;
        record(
            &app,
            THIS_WEEK,
            "admin",
            json!([{"change": number, "outcome": "approved"}]),
        )
        .await
        .expect(StatusCode::OK);
    }
);

backend_test!(
    the_schedule_is_validated_with_field_paths_and_audited,
    |app| async move {
        let default = app
            .get("/api/cab/schedule", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(default["rrule"], "FREQ=WEEKLY;BYDAY=TH");
        assert_eq!(default["first_start"], "2026-01-01T14:00");

        let put = |user: &'static str, body: Value| {
            let app = app.clone();
            async move {
                app.call(Method::PUT, "/api/cab/schedule")
                    .by(user)
                    .json(&body)
                    .send()
                    .await
            }
        };
        let reply = put(
            "max",
            json!({"rrule": "FREQ=HOURLY", "first_start": "2026-12-01T14:00", "duration_minutes": 0}),
        )
        .await;
        let mut fields: Vec<String> = reply.invalid_fields().into_iter().map(|(f, _)| f).collect();
        fields.sort();
        assert_eq!(fields, ["duration_minutes", "rrule"]);
        assert_eq!(
            app.get("/api/cab/schedule", "vic")
                .await
                .expect(StatusCode::OK),
            default,
            "a refused schedule changes nothing"
        );
        put("alice", json!({"first_start": "2026-12-01T10:00"}))
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_schedule");

        // Tuesdays at 10:00 from 1 December.
        let tuesdays = json!({
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "first_start": "2026-12-01T10:00",
            "agenda_cutoff_hours": 48,
            "title": "CAB"
        });
        put("max", tuesdays.clone()).await.expect(StatusCode::OK);
        let stored = app
            .get("/api/cab/schedule", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(stored["rrule"], "FREQ=WEEKLY;BYDAY=TU");
        assert_eq!(stored["agenda_cutoff_hours"], 48);
        let number = app.normal_in_authorize().await;
        assert_eq!(
            time_of(&app.change(&number).await["cab_date"]),
            at("2026-12-01T10:00:00Z")
        );
        let trail = app
            .store
            .audit_trail("cab", "schedule", PageRequest::default())
            .await
            .expect("the audit trail");
        let actions: Vec<(&str, &str)> = trail
            .items
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(actions, [("cab.schedule_updated", "max")]);
    }
);

backend_test!(
    the_agenda_is_mailed_to_the_cab_once_before_each_meeting,
    |app| async move {
        let placed = app.normal_in_authorize().await;
        app.start_agenda_mail().await;
        // Asked twice (two instances starting): still one timer.
        app.start_agenda_mail().await;
        let timers: Vec<_> = (app.store.pending_jobs().await.expect("jobs"))
            .into_iter()
            .filter(|j| j.kind == Ok(stackflow_store::JobKind::CabAgendaMail))
            .map(|j| (j.key, j.run_at))
            .collect();
        // Mailed two hours before this week's meeting.
        assert_eq!(
            timers,
            vec![(
                THIS_WEEK.to_owned(),
                at(THIS_WEEK_START) - Duration::hours(2)
            )]
        );
        app.clock
            .set(at(THIS_WEEK_START) - Duration::hours(2) - Duration::seconds(1));
        assert_eq!(app.run_jobs().await, 0);
        app.clock.set(at(THIS_WEEK_START) - Duration::hours(2));
        assert_eq!(app.run_jobs().await, 1);
        let mails: Vec<_> = (app.store.pending_outbox(1000).await.expect("outbox"))
            .into_iter()
            .filter(|item| item.event_type == "cab.agenda")
            .collect();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].recipients, vec!["bob", "carol", "dave", "erin"]);
        assert_eq!(mails[0].entity_key, THIS_WEEK);
        assert_eq!(mails[0].payload["changes"], json!([placed]));
        let text = mails[0].payload["agenda"].as_str().expect("agenda text");
        assert!(text.contains(&placed), "{text}");
        // The next link of the chain: next week's meeting.
        let next: Vec<_> = (app.store.pending_jobs().await.expect("jobs"))
            .into_iter()
            .map(|j| j.key)
            .collect();
        assert!(next.contains(&NEXT_WEEK.to_owned()), "{next:?}");
        assert_eq!(app.run_jobs().await, 0, "mailed once");
    }
);

backend_test!(
    a_workflow_without_an_assess_stage_places_the_change_on_submit,
    |app| async move {
        let cab_only = json!({
            "name": "cab-only",
            "type": "change_approval",
            "priority": 10,
            "match": {"change_types": ["normal"]},
            "stages": [{"name": "CAB authorisation", "cab": true, "lanes": [
                {"approvers": {"group_of_kind": "cab"}, "rule": "majority"}]}]
        });
        app.post("/api/workflows", "max", cab_only)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", normal_draft()).await;
        let submitted = app.submit(&number, "alice").await;
        assert_eq!(submitted["state"], "authorize", "straight to the CAB");
        assert_eq!(time_of(&submitted["cab_date"]), at(THIS_WEEK_START));
        assert_eq!(numbers(&agenda(&app, THIS_WEEK).await), [number.as_str()]);
    }
);

backend_test!(
    a_change_manager_may_not_decide_their_own_change_at_the_cab,
    |app| async move {
        let number = app.create("max", normal_draft()).await;
        app.submit(&number, "max").await;
        assert_eq!(app.approve(&number, "ivan").await["state"], "authorize");
        let before = app.snapshot(&number).await;
        for outcome in ["approved", "rejected"] {
            record(
                &app,
                THIS_WEEK,
                "max",
                json!([{"change": number, "outcome": outcome, "notes": ""}]),
            )
            .await
            .problem(StatusCode::FORBIDDEN, "segregation_of_duties");
        }
        app.assert_unchanged(&number, &before).await;
        // The requester may still defer it to the next meeting.
        let deferred = decide(&app, THIS_WEEK, &number, "deferred").await;
        assert!(deferred.to_string().contains(&number), "{deferred}");
    }
);

backend_test!(
    a_calendar_zone_the_cab_schedule_cannot_hold_is_refused,
    |app| async move {
        // Sundays 01:30, in the calendar's zone (UTC so far).
        app.call(Method::PUT, "/api/cab/schedule")
            .by("admin")
            .json(&json!({"rrule": "FREQ=WEEKLY;BYDAY=SU", "first_start": "2026-03-29T01:30"}))
            .send()
            .await
            .expect(StatusCode::OK);
        // In London 01:30 on 29 March 2026 never happens (clocks go to 02:00).
        let london = json!({
            "time_zone": "Europe/London",
            "working_days": ["mon", "tue", "wed", "thu", "fri"],
            "working_hours": {"start": "09:00", "end": "17:00"},
            "holidays": []
        });
        app.call(Method::PUT, "/api/calendar")
            .by("admin")
            .json(&london)
            .send()
            .await
            .problem(StatusCode::CONFLICT, "cab_schedule_invalid_in_zone");
        // Nothing changed: normal changes still move.
        let number = app.normal_in_authorize().await;
        assert_eq!(app.change(&number).await["state"], "authorize");
    }
);

backend_test!(
    a_meeting_already_held_is_not_mailed_and_the_chain_moves_on,
    |app| async move {
        app.start_agenda_mail().await;
        // Every worker was down from before this week's mail time until
        // after the meeting.
        app.clock.set(at(THIS_WEEK_START) + Duration::hours(3));
        assert_eq!(app.run_jobs().await, 1);
        let mails = (app.store.pending_outbox(1000).await.expect("outbox"))
            .into_iter()
            .filter(|item| item.event_type == "cab.agenda")
            .count();
        assert_eq!(mails, 0, "no agenda after the fact");
        let next: Vec<_> = (app.store.pending_jobs().await.expect("jobs"))
            .into_iter()
            .map(|j| j.key)
            .collect();
        assert_eq!(next, vec![NEXT_WEEK.to_owned()]);
    }
);

backend_test!(
    a_workflow_without_a_cab_stage_is_never_decided_by_a_meeting,
    |app| async move {
        let named = json!({
            "name": "named-only", "type": "change_approval", "priority": 10,
            "match": {"change_types": ["normal"]},
            "stages": [{"name": "Named", "lanes": [
                {"approvers": {"users": ["ivan", "dave", "carol"]}, "rule": {"quorum": 2}}]}]
        });
        app.post("/api/workflows", "max", named)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", normal_draft()).await;
        let submitted = app.submit(&number, "alice").await;
        assert_eq!(submitted["state"], "authorize", "its last stage authorises");
        assert!(submitted["cab_date"].is_null(), "{submitted:#}");
        assert!(numbers(&agenda(&app, THIS_WEEK).await).is_empty());

        // A manager's "approved" does not stand in for the named approvers.
        let before = app.snapshot(&number).await;
        record(
            &app,
            THIS_WEEK,
            "max",
            json!([{"change": number, "outcome": "approved", "notes": ""}]),
        )
        .await
        .problem(StatusCode::CONFLICT, "cab_outcome_not_on_agenda");
        app.assert_unchanged(&number, &before).await;
        app.approve(&number, "ivan").await;
        assert_eq!(app.approve(&number, "dave").await["state"], "scheduled");
    }
);

backend_test!(
    a_meeting_decides_the_cab_lane_not_the_other_lanes_of_its_stage,
    |app| async move {
        let with_security = json!({
            "name": "cab-and-security", "type": "change_approval", "priority": 10,
            "match": {"change_types": ["normal"]},
            "stages": [{"name": "CAB authorisation", "cab": true, "lanes": [
                {"approvers": {"group_of_kind": "cab"}, "rule": "majority"},
                {"name": "Security", "approvers": {"users": ["ivan"]}, "rule": "any"}]}]
        });
        app.post("/api/workflows", "max", with_security)
            .await
            .expect(StatusCode::CREATED);
        let number = app.create("alice", normal_draft()).await;
        let submitted = app.submit(&number, "alice").await;
        assert_eq!(time_of(&submitted["cab_date"]), at(THIS_WEEK_START));
        let lanes = &submitted["approval"]["plan"]["stages"][0]["lanes"];
        assert_eq!(lanes[0]["board"], "cab");
        assert!(lanes[1].get("board").is_none(), "{lanes:#}");

        let before = app.snapshot(&number).await;
        let refused = record(
            &app,
            THIS_WEEK,
            "max",
            json!([{"change": number, "outcome": "approved", "notes": ""}]),
        )
        .await;
        let detail = refused.problem(StatusCode::CONFLICT, "cab_outcome_lanes_pending")["detail"]
            .as_str()
            .expect("detail")
            .to_owned();
        assert!(detail.contains("Security"), "{detail}");
        app.assert_unchanged(&number, &before).await;

        // Once Security approved, the meeting's approval settles the stage.
        assert_eq!(app.approve(&number, "ivan").await["state"], "authorize");
        let decided = decide(&app, THIS_WEEK, &number, "approved").await;
        assert!(decided.to_string().contains("scheduled"), "{decided}");
        assert_eq!(app.change(&number).await["state"], "scheduled");
    }
);
