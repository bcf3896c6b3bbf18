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

backend_test!(bodies_that_are_not_json_are_415, |app| async move {
    let body = normal_draft().to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut call = app.call(Method::POST, "/api/changes").by("alice");
        if let Some(content_type) = content_type {
            call = call.header(header::CONTENT_TYPE, content_type);
        }
        call.raw(body.clone())
            .send()
            .await
            .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    // A JSON media type with parameters or a +json suffix is fine.
    app.call(Method::POST, "/api/changes")
        .by("alice")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .raw(body)
        .send()
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(change_count(&app).await, 1);
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
