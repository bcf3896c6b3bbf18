//! `GET`/`PUT /api/calendar`: the business calendar, its default, its
//! validation, who may set it and its audit trail.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use stackflow_store::PageRequest;

fn berlin() -> Value {
    json!({
        "time_zone": "Europe/Berlin",
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "working_hours": {"start": "08:30", "end": "18:00"},
        "holidays": [
            {"date": "2026-12-25", "name": "Christmas Day", "yearly": true},
            {"date": "2026-04-03", "name": "Good Friday", "yearly": false}
        ]
    })
}

async fn put(app: &TestApp, user: &str, body: &Value) -> Reply {
    app.call(Method::PUT, "/api/calendar")
        .by(user)
        .json(body)
        .send()
        .await
}

backend_test!(
    the_default_calendar_is_office_hours_in_utc,
    |app| async move {
        let body = app.get("/api/calendar", "vic").await.expect(StatusCode::OK);
        assert_eq!(
            body,
            json!({
                "time_zone": "UTC",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
                "working_hours": {"start": "09:00", "end": "17:00"},
                "holidays": []
            })
        );
    }
);

backend_test!(a_calendar_put_is_read_back_and_audited, |app| async move {
    let stored = put(&app, "max", &berlin()).await.expect(StatusCode::OK);
    assert_eq!(stored, berlin());
    let read = app
        .get("/api/calendar", "alice")
        .await
        .expect(StatusCode::OK);
    assert_eq!(read, berlin());
    // The store answers business-time questions in the stored calendar:
    // Wednesday 25 November 2026 08:00 UTC is 09:00 in Berlin.
    let calendar = app.store.get_calendar().await.expect("calendar");
    assert!(calendar.is_business_time(at("2026-11-25T08:00:00Z")));
    assert!(!calendar.is_business_time(at("2026-11-25T07:00:00Z")));

    // A second put replaces it (and a night shift is accepted).
    let mut night = berlin();
    night["working_hours"] = json!({"start": "22:00", "end": "06:00"});
    night["holidays"] = json!([]);
    put(&app, "admin", &night).await.expect(StatusCode::OK);
    assert_eq!(
        app.get("/api/calendar", "vic").await.expect(StatusCode::OK),
        night
    );

    let trail = app
        .store
        .audit_trail("calendar", "calendar", PageRequest::default())
        .await
        .expect("audit trail");
    assert_eq!(trail.items.len(), 2);
    let first = &trail.items[0];
    assert_eq!(first.action, "calendar.updated");
    assert_eq!(first.actor, "max");
    assert_eq!(first.before.as_ref().expect("before")["time_zone"], "UTC");
    assert_eq!(
        first.after.as_ref().expect("after")["time_zone"],
        "Europe/Berlin"
    );
    assert_eq!(trail.items[1].actor, "admin");
});

backend_test!(
    an_invalid_calendar_names_its_fields_and_changes_nothing,
    |app| async move {
        put(&app, "max", &berlin()).await.expect(StatusCode::OK);
        let bad = json!({
            "time_zone": "Europe/Atlantis",
            "working_days": [],
            "working_hours": {"start": "25:00", "end": "17:00"},
            "holidays": [
                {"date": "2026-12-25", "name": "Christmas Day", "yearly": true},
                {"date": "2026-12-25", "name": "Christmas again"}
            ]
        });
        let reply = put(&app, "max", &bad).await;
        let fields: Vec<String> = reply.invalid_fields().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "time_zone",
                "working_days",
                "working_hours.start",
                "holidays[1].date"
            ]
        );
        // Wrong shapes name their field too.
        let reply = put(
            &app,
            "max",
            &json!({"time_zone": "UTC", "working_days": ["funday"],
                "working_hours": {"start": "09:00", "end": "17:00"}}),
        )
        .await;
        assert_eq!(reply.invalid_fields()[0].0, "working_days[0]");
        let reply = put(
            &app,
            "max",
            &json!({"time_zone": "UTC", "working_days": ["mon"],
                "working_hours": {"start": "09:00", "end": "9 pm"}}),
        )
        .await;
        assert_eq!(reply.invalid_fields()[0].0, "working_hours.end");

        assert_eq!(
            app.get("/api/calendar", "vic").await.expect(StatusCode::OK),
            berlin()
        );
        let trail = app
            .store
            .audit_trail("calendar", "calendar", PageRequest::default())
            .await
            .expect("audit trail");
        assert_eq!(trail.items.len(), 1);
    }
);

backend_test!(
    only_admins_and_change_managers_set_the_calendar,
    |app| async move {
        for user in ["alice", "ivan", "vic"] {
            put(&app, user, &berlin())
                .await
                .problem(StatusCode::FORBIDDEN, "role_may_not_manage_schedule");
        }
        assert_eq!(
            app.get("/api/calendar", "vic").await.expect(StatusCode::OK)["time_zone"],
            "UTC"
        );
        app.call(Method::GET, "/api/calendar")
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    }
);
