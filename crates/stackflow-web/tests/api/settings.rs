//! The organisation's settings (people and groups, workflows, the business
//! calendar, the CAB schedule, windows) are kept in memory between reads,
//! checked against the database's settings generation: a change made
//! anywhere applies at the next request.

use crate::fixtures::*;
use crate::support::TestApp;
use axum::http::{Method, StatusCode};
use serde_json::json;

/// Adds a maintenance window through the API, as a change manager.
async fn add_sunday_maintenance(app: &TestApp) {
    app.post(
        "/api/windows",
        "max",
        json!({"name": "Sunday maintenance", "kind": "maintenance",
            "start": "2026-11-29T02:00:00Z", "end": "2026-11-29T06:00:00Z"}),
    )
    .await
    .expect(StatusCode::CREATED);
}

backend_test!(
    settings_changed_by_another_instance_apply_at_once,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.submit(&number, "alice").await;
        assert_eq!(
            app.get("/api/calendar", "max").await.expect(StatusCode::OK)["time_zone"],
            "UTC"
        );
        assert_eq!(
            app.get("/api/windows", "max").await.expect(StatusCode::OK)["items"],
            json!([])
        );

        // Another server on the same database takes ivan out of the
        // implementation group, moves the calendar to New York and adds a
        // blackout.
        let other = app.second_instance().await;
        other
            .call(Method::PUT, "/api/groups/dba/members")
            .by("admin")
            .json(&json!({"members": ["dave"]}))
            .send()
            .await
            .expect(StatusCode::OK);
        other
            .call(Method::PUT, "/api/calendar")
            .by("max")
            .json(&json!({"time_zone": "America/New_York",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
                "working_hours": {"start": "09:00", "end": "17:00"}, "holidays": []}))
            .send()
            .await
            .expect(StatusCode::OK);
        other
            .post(
                "/api/windows",
                "max",
                json!({"name": "Year-end freeze", "kind": "blackout",
                    "start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z"}),
            )
            .await
            .expect(StatusCode::CREATED);
        other.store.close().await;

        // This server sees all three at its next request.
        assert_eq!(
            app.approvals(&number).await["stages"][0]["lanes"][0]["eligible_approvers"],
            json!(["dave"])
        );
        app.try_vote(&number, "ivan", "approved")
            .await
            .problem(StatusCode::FORBIDDEN, "not_an_approver");
        app.approve(&number, "dave").await;
        assert_eq!(
            app.get("/api/calendar", "max").await.expect(StatusCode::OK)["time_zone"],
            "America/New_York"
        );
        let windows = app.get("/api/windows", "max").await.expect(StatusCode::OK);
        assert_eq!(windows["items"][0]["name"], "Year-end freeze", "{windows}");
        let frozen = app
            .create(
                "alice",
                with(
                    normal_draft(),
                    json!({"planned_start": "2026-12-22T22:00:00Z",
                        "planned_end": "2026-12-22T23:00:00Z"}),
                ),
            )
            .await;
        let submitted = app.submit(&frozen, "alice").await;
        assert_eq!(
            submitted["risk_assessment"]["factors"]["change_window"],
            "Blackout window (Year-end freeze)"
        );
    }
);

backend_test!(
    settings_written_in_plain_sql_apply_at_once,
    |app| async move {
        add_sunday_maintenance(&app).await;
        let listed = app.get("/api/windows", "max").await.expect(StatusCode::OK);
        assert_eq!(
            listed["items"].as_array().map(Vec::len),
            Some(1),
            "{listed}"
        );

        // A database administrator's cleanup, past the API and the CLI.
        app.execute_raw(&["DELETE FROM windows"]).await;
        assert_eq!(
            app.get("/api/windows", "max").await.expect(StatusCode::OK)["items"],
            json!([])
        );
    }
);

backend_test!(
    settings_are_read_again_only_when_the_generation_moves,
    |app| async move {
        let windows = |app: TestApp| async move {
            app.get("/api/windows", "max").await.expect(StatusCode::OK)["items"]
                .as_array()
                .map(Vec::len)
        };
        add_sunday_maintenance(&app).await;
        assert_eq!(windows(app.clone()).await, Some(1));

        // A write that takes the generation back to where it was, as a
        // restore or a write with triggers disabled would: the server
        // still answers from what it keeps, which is why such writes ask
        // for a restart (docs/configuration.md).
        app.execute_raw(&[
            "DELETE FROM windows",
            "UPDATE settings_generation SET value = value - 1 WHERE id = 1",
        ])
        .await;
        assert_eq!(windows(app.clone()).await, Some(1), "kept, not read again");

        // Once the number moves, the next request reads them again.
        app.execute_raw(&["UPDATE settings_generation SET value = value + 1 WHERE id = 1"])
            .await;
        assert_eq!(windows(app.clone()).await, Some(0));
    }
);
