//! Bad input: validation (422 naming each field), unreadable bodies
//! (400/413/415) and bad paths (404), never a bare 500, and never a write.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

/// How many changes exist.
async fn change_count(app: &TestApp) -> usize {
    let list = app
        .get("/api/changes?limit=500", "admin")
        .await
        .expect(StatusCode::OK);
    list["items"].as_array().map_or(0, Vec::len)
}

backend_test!(
    unknown_affected_ci_is_422_naming_the_field_and_the_ci,
    |app| async move {
        let draft = with(
            normal_draft(),
            json!({"affected_cis": ["orders-db-prod", "no-such-db"]}),
        );
        let reply = app.post("/api/changes", "alice", draft).await;
        let errors = reply.invalid_fields();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "affected_cis");
        assert!(errors[0].1.contains("no-such-db"), "{errors:?}");
        assert!(
            !errors[0].1.contains("orders-db-prod"),
            "only the unknown CI is listed"
        );
        assert_eq!(change_count(&app).await, 0);
        // The refused draft took no number.
        assert_eq!(app.create("alice", normal_draft()).await, "CHG0000001");

        let before = app.snapshot("CHG0000001").await;
        let reply = app
            .patch(
                "/api/changes/CHG0000001",
                "alice",
                json!({"affected_cis": ["ghost"]}),
            )
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "affected_cis");
        app.assert_unchanged("CHG0000001", &before).await;
    }
);

backend_test!(
    submit_without_plans_is_422_naming_each_missing_field,
    |app| async move {
        let draft = with(
            normal_draft(),
            json!({"implementation_plan": null, "backout_plan": null, "test_plan": null, "planned_start": null}),
        );
        let number = app.create("alice", draft).await;
        let before = app.snapshot(&number).await;
        let errors = app
            .try_step(&number, "submit", "alice")
            .await
            .invalid_fields();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "implementation_plan",
                "backout_plan",
                "test_plan",
                "planned_start"
            ]
        );
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    bodies_of_the_wrong_shape_are_422_naming_the_field,
    |app| async move {
        let cases: [(Value, &str); 6] = [
            (with(normal_draft(), json!({"type": "urgent"})), "type"),
            (with(normal_draft(), json!({"title": 42})), "title"),
            (
                with(normal_draft(), json!({"affected_cis": "orders-db-prod"})),
                "affected_cis",
            ),
            (
                with(normal_draft(), json!({"planned_start": "next tuesday"})),
                "planned_start",
            ),
            (with(normal_draft(), json!({"colour": "blue"})), "colour"),
            (json!(42), "body"),
        ];
        for (body, field) in cases {
            let reply = app.post("/api/changes", "alice", body).await;
            let errors = reply.invalid_fields();
            assert_eq!(errors[0].0, field, "{:#}", reply.body);
        }
        let errors = app
            .post(
                "/api/changes",
                "alice",
                json!({"type": "urgent", "title": "x"}),
            )
            .await
            .invalid_fields();
        assert!(
            errors[0].1.contains("urgent") && errors[0].1.contains("emergency"),
            "{errors:?}"
        );
        // A vote with an unknown decision.
        let number = app.normal_in_authorize().await;
        let before = app.snapshot(&number).await;
        let reply = app
            .try_act(&number, "approve", "bob", json!({"decision": "maybe"}))
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "decision");
        app.assert_unchanged(&number, &before).await;
        assert_eq!(change_count(&app).await, 1);
    }
);

backend_test!(malformed_json_is_400, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let before = app.snapshot(&number).await;
    for body in [
        r#"{"title": "Cut off","#,
        "not json",
        r#"{"title": "x"} trailing"#,
    ] {
        app.call(Method::PATCH, &format!("/api/changes/{number}"))
            .by("alice")
            .header(header::CONTENT_TYPE, "application/json")
            .raw(body)
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "malformed_json");
    }
    app.assert_unchanged(&number, &before).await;
});

backend_test!(bodies_over_one_mebibyte_are_413, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let before = app.snapshot(&number).await;
    let huge = json!({"description": "x".repeat(stackflow_web::MAX_BODY_BYTES)});
    app.patch(&format!("/api/changes/{number}"), "alice", huge)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    app.assert_unchanged(&number, &before).await;
    let draft = with(
        normal_draft(),
        json!({"justification": "y".repeat(2 * stackflow_web::MAX_BODY_BYTES)}),
    );
    app.post("/api/changes", "alice", draft)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
    assert_eq!(change_count(&app).await, 1);
});

backend_test!(bodies_declared_other_than_json_are_415, |app| async move {
    let body = normal_draft().to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        app.call(Method::POST, "/api/changes")
            .by("alice")
            .header(header::CONTENT_TYPE, content_type)
            .raw(body.clone())
            .send()
            .await
            .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    assert_eq!(change_count(&app).await, 0);
    // A JSON media type with parameters, in any case, or a +json suffix is
    // fine; so is none at all.
    for content_type in [
        Some("application/json; charset=utf-8"),
        Some("Application/JSON"),
        Some("application/merge-patch+json"),
        None,
    ] {
        let mut call = app.call(Method::POST, "/api/changes").by("alice");
        if let Some(content_type) = content_type {
            call = call.header(header::CONTENT_TYPE, content_type);
        }
        call.raw(body.clone())
            .send()
            .await
            .expect(StatusCode::CREATED);
    }
    assert_eq!(change_count(&app).await, 4);
    // Without a content type, malformed JSON is still 400, and no body
    // where one is required is a problem, not a 415.
    app.call(Method::POST, "/api/changes")
        .by("alice")
        .raw("{not json")
        .send()
        .await
        .problem(StatusCode::BAD_REQUEST, "malformed_json");
});

backend_test!(
    unknown_and_malformed_change_numbers_are_404,
    |app| async move {
        for path in [
            "/api/changes/CHG0009999",
            "/api/changes/XYZ",
            "/api/changes/CHG12",
            "/api/changes/CHG0009999/approvals",
            "/api/changes/XYZ/audit",
            "/api/changes/CHG0009999/risk",
        ] {
            app.get(path, "alice")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
        }
        for action in ["submit", "implement"] {
            app.try_step("CHG0009999", action, "alice")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
            app.try_step("XYZ", action, "alice")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
        }
        app.patch("/api/changes/XYZ", "alice", json!({"title": "x"}))
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(
    unknown_endpoints_are_404_and_wrong_methods_405_as_problems,
    |app| async move {
        app.get("/api/nothing-here", "alice")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::DELETE, "/api/changes")
            .by("alice")
            .send()
            .await
            .problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
);

backend_test!(
    missing_required_fields_are_422_naming_the_missing_field,
    |app| async move {
        let number = app.normal_in_authorize().await;
        let before = app.snapshot(&number).await;
        let reply = app
            .try_act(&number, "approve", "bob", json!({"notes": "Looks fine"}))
            .await;
        assert_eq!(reply.invalid_fields()[0].0, "decision", "{:#}", reply.body);
        let reply = app.try_act(&number, "cancel", "alice", json!({})).await;
        assert_eq!(reply.invalid_fields()[0].0, "reason", "{:#}", reply.body);
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    domain_validation_refusals_are_422_and_change_nothing,
    |app| async move {
        let number = app.scheduled_standard().await;
        let before = app.snapshot(&number).await;
        let errors = app
            .try_act(&number, "cancel", "alice", json!({"reason": "   "}))
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "reason");
        app.assert_unchanged(&number, &before).await;

        app.step(&number, "implement", "ivan").await;
        app.step(&number, "complete", "ivan").await;
        let before = app.snapshot(&number).await;
        let errors = app
            .try_act(
                &number,
                "review",
                "alice",
                json!({"objectives_met": "no", "close_code": "canceled"}),
            )
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "close_code");
        // Not a validation error but a state rule: tasks end with the work.
        app.post(
            &format!("/api/changes/{number}/tasks"),
            "ivan",
            json!({"title": "late"}),
        )
        .await
        .problem(StatusCode::CONFLICT, "tasks_only_before_review");
        app.assert_unchanged(&number, &before).await;

        let errors = app
            .post(
                "/api/changes",
                "alice",
                with(
                    normal_draft(),
                    json!({"planned_end": "2026-12-01T21:00:00Z", "title": "  "}),
                ),
            )
            .await
            .invalid_fields();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["title", "planned_end"], "every bad field at once");
    }
);

backend_test!(
    text_with_a_nul_character_is_refused_never_a_500,
    |app| async move {
        // PostgreSQL cannot store U+0000 in text or JSON; the API must refuse it
        // the same way on both backends instead of failing in the database.
        let draft = with(normal_draft(), json!({"title": "Upgrade\u{0} orders DB"}));
        let errors = app
            .post("/api/changes", "alice", draft)
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "title");
        // A title is one line: it becomes a mail subject and a calendar
        // SUMMARY, where a bare CR could end the line.
        let draft = with(
            normal_draft(),
            json!({"title": "Patch\rEND:VEVENT\rBEGIN:VEVENT"}),
        );
        let errors = app
            .post("/api/changes", "alice", draft)
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "title");
        assert!(errors[0].1.contains("control characters"), "{errors:?}");
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        let task = app
            .post(
                &format!("/api/changes/{number}/tasks"),
                "alice",
                json!({"title": "Step\u{0}"}),
            )
            .await;
        assert_eq!(
            task.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:#}",
            task.body
        );
        app.assert_unchanged(&number, &before).await;
        for path in [
            "/api/changes?q=a%00b",
            "/api/changes?requested_by=a%00b",
            "/api/cis/a%00b",
        ] {
            let reply = app.get(path, "alice").await;
            assert!(
                reply.status.is_client_error() || reply.body["items"] == json!([]),
                "{path}: {:#}",
                reply.body
            );
        }
    }
);

backend_test!(
    planned_dates_outside_the_years_1970_to_9999_are_422_naming_the_field,
    |app| async move {
        // Far-future years come signed in RFC 3339 (`+10000-…`); the unsigned
        // spelling does not even parse. Either way the field is named.
        let cases = [
            ("planned_end", "+10000-01-01T00:00:00Z"),
            ("planned_end", "10000-01-01T00:00:00Z"),
            ("planned_start", "1969-12-31T23:59:59Z"),
            ("planned_start", "1969-07-20T20:17:00Z"),
        ];
        for (field, at) in cases {
            let draft = with(normal_draft(), json!({ field: at }));
            let reply = app.post("/api/changes", "alice", draft).await;
            let errors = reply.invalid_fields();
            assert!(
                errors.iter().any(|(f, _)| f == field),
                "{field} = {at}: {errors:?}"
            );
        }
        // Both ends out of range: both named, with the range in the message.
        let draft = with(
            normal_draft(),
            json!({"planned_start": "+10000-01-01T00:00:00Z", "planned_end": "+10000-01-02T00:00:00Z"}),
        );
        let errors = app
            .post("/api/changes", "alice", draft)
            .await
            .invalid_fields();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["planned_start", "planned_end"], "{errors:?}");
        assert!(errors.iter().all(|(_, m)| m.contains("9999")), "{errors:?}");
        assert_eq!(change_count(&app).await, 0);

        // The edges of the range are fine.
        let edges = with(
            normal_draft(),
            json!({"planned_start": "1970-01-01T00:00:00Z", "planned_end": "9999-12-31T23:59:59Z"}),
        );
        let number = app.create("alice", edges).await;

        // An edit is held to the same range.
        let before = app.snapshot(&number).await;
        for (field, at) in [
            ("planned_end", "+10000-01-01T00:00:00Z"),
            ("planned_start", "1969-12-31T23:59:59Z"),
        ] {
            let errors = app
                .patch(
                    &format!("/api/changes/{number}"),
                    "alice",
                    json!({ field: at }),
                )
                .await
                .invalid_fields();
            assert!(errors.iter().any(|(f, _)| f == field), "{errors:?}");
        }
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    cab_dates_outside_the_calendar_are_400_never_a_500,
    |app| async move {
        app.create("alice", normal_draft()).await;
        for day in [
            "%2B262142-12-31",
            "%2B262143-01-01",
            "-5000-01-01",
            "-262144-01-01",
            "10000-01-01",
            "1969-12-31",
            "2026-13-01",
        ] {
            let reply = app
                .get(&format!("/api/changes?cab_date={day}"), "alice")
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{day}: {:#}",
                reply.body
            );
            reply.problem(StatusCode::BAD_REQUEST, "bad_query");
        }
        // A real day still filters.
        let list = app
            .get("/api/changes?cab_date=2026-12-01", "alice")
            .await
            .expect(StatusCode::OK);
        assert!(list["items"].is_array(), "{list:#}");
        app.get("/api/changes?cab_date=tomorrow", "alice")
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_query");
    }
);

backend_test!(
    path_segments_that_are_not_utf8_are_404_problems,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        for path in [
            "/api/users/%FF",
            "/api/users/%FF/tokens",
            "/api/groups/%FF",
            "/api/cis/%FF",
            "/api/cis/%FF/relationships",
            "/api/templates/%FF",
            "/api/changes/%FF",
            "/api/changes/%FF/tasks",
            "/api/changes/%FF/approvals",
            "/api/changes/%FF/audit",
            "/api/changes/%C3%28/risk",
        ] {
            let reply = app.get(path, "alice").await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{path}: {:#}",
                reply.body
            );
            reply.problem(StatusCode::NOT_FOUND, "not_found");
        }
        // Writes too, and nothing is written.
        app.patch(
            &format!("/api/changes/{number}/tasks/%FF"),
            "alice",
            json!({"title": "x"}),
        )
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
        app.try_step("%FF", "submit", "alice")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::PUT, "/api/groups/%FF/members")
            .by("admin")
            .json(&json!({"members": []}))
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.assert_unchanged(&number, &before).await;
    }
);

/// A complete template body.
fn new_template(name: &str) -> Value {
    json!({
        "name": name,
        "title": "Rotate the TLS certificate",
        "implementation_plan": "Install the new certificate; reload.",
        "backout_plan": "Reinstall the old certificate.",
        "test_plan": "The handshake shows the new certificate.",
        "assignment_group": "dba",
    })
}

backend_test!(
    templates_are_held_to_the_limits_of_the_changes_they_make,
    |app| async move {
        let cases: [(Value, &str); 4] = [
            (
                with(new_template("t1"), json!({"title": "x".repeat(300)})),
                "title",
            ),
            (
                with(new_template("t2"), json!({"title": "x".repeat(201)})),
                "title",
            ),
            (
                with(
                    new_template("t3"),
                    json!({"implementation_plan": "x".repeat(20_001)}),
                ),
                "implementation_plan",
            ),
            (
                with(new_template("t4"), json!({"backout_plan": "  "})),
                "backout_plan",
            ),
        ];
        for (body, field) in cases {
            let name = body["name"].as_str().unwrap().to_owned();
            let errors = app
                .post("/api/templates", "max", body)
                .await
                .invalid_fields();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].0, field, "{errors:?}");
            app.get(&format!("/api/templates/{name}"), "alice")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
        }
        let templates = app
            .get("/api/templates", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(
            templates["items"].as_array().map(Vec::len),
            Some(1),
            "only the seeded one"
        );

        // At the limit it is fine, and a change made from it is valid.
        let longest = "x".repeat(200);
        let created = app
            .post(
                "/api/templates",
                "max",
                with(new_template("tls-rotate"), json!({"title": longest})),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["title"], longest.as_str());
        let number = app
            .create(
                "alice",
                with(standard_draft(), json!({"template": "tls-rotate"})),
            )
            .await;
        assert_eq!(app.submit(&number, "alice").await["state"], "scheduled");
    }
);
