//! `/api/windows`: maintenance and blackout windows — create, list, read,
//! delete, occurrences of recurring windows in a range, validation, scope,
//! permissions and audit.

use crate::support::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use stackflow_store::PageRequest;

/// Sundays 04:00–06:00 in Berlin, from 22 March 2026 (03:00Z in winter).
fn sunday_patching() -> Value {
    json!({
        "name": "Sunday patching",
        "kind": "maintenance",
        "description": "OS patches",
        "start": "2026-03-22T03:00:00Z",
        "end": "2026-03-22T05:00:00Z",
        "recurrence": "FREQ=WEEKLY;BYDAY=SU",
        "time_zone": "Europe/Berlin",
        "scope": {"classes": ["database"]}
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

fn starts(occurrences: &Value) -> Vec<String> {
    occurrences
        .as_array()
        .expect("occurrences")
        .iter()
        .map(|o| o["start"].as_str().expect("start").to_owned())
        .collect()
}

backend_test!(
    windows_are_created_listed_read_and_deleted,
    |app| async move {
        let reply = app.post("/api/windows", "max", sunday_patching()).await;
        let location = reply
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let created = reply.expect(StatusCode::CREATED);
        let id = created["id"].as_i64().expect("id");
        assert_eq!(
            location.as_deref(),
            Some(format!("/api/windows/{id}").as_str())
        );
        assert_eq!(created["name"], "Sunday patching");
        assert_eq!(created["kind"], "maintenance");
        assert_eq!(created["recurrence"], "FREQ=WEEKLY;BYDAY=SU");
        assert_eq!(created["time_zone"], "Europe/Berlin");
        assert_eq!(
            created["scope"],
            json!({"cis": [], "classes": ["database"]})
        );
        assert_eq!(created["created_by"], "max");
        assert_eq!(time_of(&created["created_at"]), app.now());

        let freeze = app
            .post("/api/windows", "admin", year_end_freeze())
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(freeze["time_zone"], "UTC");
        assert_eq!(freeze["recurrence"], Value::Null);
        assert_eq!(freeze["scope"], json!({"cis": [], "classes": []}));

        let read = app
            .get(&format!("/api/windows/{id}"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(read, created);
        let list = app
            .get("/api/windows", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(list["items"], json!([created, freeze]));
        assert_eq!(list["items"][0].get("occurrences"), None);

        // A second window of the same name is a conflict.
        app.post("/api/windows", "max", sunday_patching())
            .await
            .problem(StatusCode::CONFLICT, "duplicate");

        app.call(Method::DELETE, &format!("/api/windows/{id}"))
            .by("max")
            .send()
            .await
            .expect(StatusCode::NO_CONTENT);
        app.get(&format!("/api/windows/{id}"), "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::DELETE, &format!("/api/windows/{id}"))
            .by("max")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        let list = app
            .get("/api/windows", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(list["items"], json!([freeze]));

        let trail = app
            .store
            .audit_trail("window", &id.to_string(), PageRequest::default())
            .await
            .expect("audit trail");
        let actions: Vec<&str> = trail.items.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["window.created", "window.deleted"]);
        assert_eq!(
            trail.items[1].before.as_ref().expect("before")["name"],
            "Sunday patching"
        );
    }
);

backend_test!(
    recurring_windows_list_their_occurrences_in_a_range,
    |app| async move {
        app.post("/api/windows", "max", sunday_patching())
            .await
            .expect(StatusCode::CREATED);
        app.post("/api/windows", "max", year_end_freeze())
            .await
            .expect(StatusCode::CREATED);
        // Across the spring clock change: 04:00 Berlin is 03:00Z, then 02:00Z.
        let list = app
            .get(
                "/api/windows?from=2026-03-21T00:00:00Z&to=2026-04-06T00:00:00Z",
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        let items = list["items"].as_array().expect("items");
        assert_eq!(
            starts(&items[0]["occurrences"]),
            [
                "2026-03-22T03:00:00Z",
                "2026-03-29T02:00:00Z",
                "2026-04-05T02:00:00Z"
            ]
        );
        assert_eq!(items[0]["occurrences"][1]["end"], "2026-03-29T04:00:00Z");
        assert_eq!(items[1]["occurrences"], json!([]));
        // A one-off window is its own single occurrence when it overlaps.
        let list = app
            .get(
                "/api/windows?from=2027-01-02T23:00:00Z&to=2027-01-04T00:00:00Z",
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            starts(&list["items"][0]["occurrences"]),
            ["2027-01-03T03:00:00Z"]
        );
        assert_eq!(
            list["items"][1]["occurrences"],
            json!([{"start": "2026-12-20T00:00:00Z", "end": "2027-01-03T00:00:00Z"}])
        );

        // Half a range, a reversed one or a malformed time is refused.
        let reply = app
            .get("/api/windows?from=2027-01-01T00:00:00Z", "vic")
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "to");
        let reply = app
            .get(
                "/api/windows?from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z",
                "vic",
            )
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "to");
        // A range is expanded at most a year at a time, as the schedule is.
        let reply = app
            .get(
                "/api/windows?from=2027-01-01T00:00:00Z&to=2300-01-01T00:00:00Z",
                "vic",
            )
            .await;
        let fields = reply.invalid_fields();
        assert_eq!(fields[0].0, "to");
        assert!(fields[0].1.contains("366 days"), "{fields:?}");
        app.get("/api/windows?from=yesterday&to=today", "vic")
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_query");
    }
);

backend_test!(
    invalid_windows_name_their_fields_and_store_nothing,
    |app| async move {
        let mut bad_rule = sunday_patching();
        bad_rule["recurrence"] = json!("FREQ=FORTNIGHTLY;BYDAY=SU");
        let reply = app.post("/api/windows", "max", bad_rule).await;
        let errors = reply.invalid_fields();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "recurrence");
        assert!(errors[0].1.contains("RRULE"), "{errors:?}");

        let reply = app
            .post(
                "/api/windows",
                "max",
                json!({
                    "name": "", "kind": "blackout",
                    "start": "2026-12-01T00:00:00Z", "end": "2026-11-30T00:00:00Z",
                    "time_zone": "Moon/Tranquility",
                    "scope": {"cis": ["ok-ci"], "classes": ["Not A Class"]}
                }),
            )
            .await;
        let fields: Vec<String> = reply.invalid_fields().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["name", "end", "time_zone", "scope.classes[0]"]);

        let reply = app
            .post(
                "/api/windows",
                "max",
                json!({"name": "x", "kind": "freeze",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}),
            )
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "kind");
        let reply = app
            .post(
                "/api/windows",
                "max",
                json!({"name": "x", "kind": "blackout", "colour": "red",
                   "start": "2026-12-01T00:00:00Z", "end": "2026-12-02T00:00:00Z"}),
            )
            .await;
        reply.invalid_fields();

        let list = app.get("/api/windows", "vic").await.expect(StatusCode::OK);
        assert_eq!(list["items"], json!([]));
        app.get("/api/windows/not-a-number", "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(
    only_admins_and_change_managers_manage_windows,
    |app| async move {
        for user in ["alice", "ivan", "vic"] {
            app.post("/api/windows", user, year_end_freeze())
                .await
                .problem(StatusCode::FORBIDDEN, "role_may_not_manage_schedule");
        }
        let created = app
            .post("/api/windows", "max", year_end_freeze())
            .await
            .expect(StatusCode::CREATED);
        let path = format!("/api/windows/{}", created["id"]);
        app.call(Method::DELETE, &path)
            .by("alice")
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_schedule");
        app.get(&path, "alice").await.expect(StatusCode::OK);
    }
);

backend_test!(
    scoped_windows_classify_changes_against_their_cis,
    |app| async move {
        // The stored windows and calendar, read back, drive the core's
        // classification the risk engine will use.
        app.post("/api/windows", "max", sunday_patching())
            .await
            .expect(StatusCode::CREATED);
        app.post("/api/windows", "max", year_end_freeze())
            .await
            .expect(StatusCode::CREATED);
        let windows = app.store.list_windows().await.expect("windows");
        let calendar = app.store.get_calendar().await.expect("calendar");
        let db = [("orders-db".to_owned(), "database".to_owned())];
        let web = [("web-01".to_owned(), "server".to_owned())];
        let sunday = (
            Some(at("2026-11-29T03:30:00Z")),
            Some(at("2026-11-29T04:30:00Z")),
        );
        use stackflow_core::windows::{WindowFit, classify_window};
        assert_eq!(
            classify_window(&windows, &calendar, sunday.0, sunday.1, &db),
            WindowFit::Maintenance {
                window: "Sunday patching".into()
            }
        );
        assert_eq!(
            classify_window(&windows, &calendar, sunday.0, sunday.1, &web),
            WindowFit::OutsideBusinessHours
        );
        let in_freeze = (
            Some(at("2026-12-27T03:30:00Z")),
            Some(at("2026-12-27T04:30:00Z")),
        );
        assert_eq!(
            classify_window(&windows, &calendar, in_freeze.0, in_freeze.1, &db),
            WindowFit::Blackout {
                window: "Year-end freeze".into()
            }
        );
    }
);

backend_test!(
    the_openapi_document_describes_calendar_and_windows,
    |app| async move {
        let doc = app
            .call(Method::GET, "/api/openapi.json")
            .send()
            .await
            .expect(StatusCode::OK);
        let paths = &doc["paths"];
        for (path, methods) in [
            ("/api/calendar", &["get", "put"][..]),
            ("/api/windows", &["get", "post"][..]),
            ("/api/windows/{id}", &["get", "delete"][..]),
        ] {
            for method in methods {
                assert!(
                    paths[path].get(*method).is_some(),
                    "OpenAPI lacks {method} {path}"
                );
            }
        }
        let schemas = &doc["components"]["schemas"];
        for schema in [
            "CalendarDocument",
            "NewWindow",
            "ChangeWindow",
            "Occurrence",
        ] {
            assert!(
                schemas.get(schema).is_some(),
                "OpenAPI lacks schema {schema}"
            );
        }
        assert!(
            doc["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .any(|t| t["name"] == "schedule")
        );
    }
);

backend_test!(
    a_window_without_a_zone_repeats_in_the_business_calendars,
    |app| async move {
        // Until a calendar is set, it is UTC's.
        let mut utc_window = sunday_patching();
        utc_window["name"] = json!("Before the calendar");
        utc_window["time_zone"] = Value::Null;
        let created = app
            .post("/api/windows", "max", utc_window)
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["time_zone"], "UTC");

        app.call(Method::PUT, "/api/calendar")
            .by("max")
            .json(&json!({
                "time_zone": "Europe/Berlin",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
                "working_hours": {"start": "09:00", "end": "17:00"}
            }))
            .send()
            .await
            .expect(StatusCode::OK);
        let mut window = sunday_patching();
        window["time_zone"] = Value::Null;
        let created = app
            .post("/api/windows", "max", window)
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["time_zone"], "Europe/Berlin");
        // Sundays 04:00 Berlin time: 03:00Z before the clocks go forward
        // on 29 March 2026, 02:00Z after.
        let id = created["id"].clone();
        let listed = app
            .get(
                "/api/windows?from=2026-03-21T00:00:00Z&to=2026-04-06T00:00:00Z",
                "vic",
            )
            .await
            .expect(StatusCode::OK);
        let ours = (listed["items"].as_array().expect("items").iter())
            .find(|w| w["id"] == id)
            .expect("the window")
            .clone();
        let starts: Vec<&str> = (ours["occurrences"].as_array().expect("occurrences").iter())
            .map(|o| o["start"].as_str().expect("start"))
            .collect();
        assert_eq!(
            starts,
            [
                "2026-03-22T03:00:00Z",
                "2026-03-29T02:00:00Z",
                "2026-04-05T02:00:00Z"
            ]
        );
        // The earlier window keeps the zone it was stored with.
        let before = (listed["items"].as_array().expect("items").iter())
            .find(|w| w["name"] == "Before the calendar")
            .expect("the first window")
            .clone();
        assert_eq!(before["time_zone"], "UTC");
    }
);
