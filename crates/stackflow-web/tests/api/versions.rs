//! Optimistic concurrency: every write to a change (its tasks included)
//! bumps its version, and a stale `If-Match` or body `"version"` is 409
//! `stale_version`, never a silent merge.

use crate::fixtures::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

backend_test!(stale_if_match_is_409_stale_version, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let path = format!("/api/changes/{number}");
    let fresh = app
        .call(Method::PATCH, &path)
        .by("alice")
        .if_match(1)
        .json(&json!({"title": "First edit"}))
        .send()
        .await;
    assert_eq!(
        fresh.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some("\"2\"")
    );
    assert_eq!(fresh.expect(StatusCode::OK)["version"], 2);

    let before = app.snapshot(&number).await;
    app.call(Method::PATCH, &path)
        .by("alice")
        .if_match(1)
        .json(&json!({"title": "Second edit from a stale copy"}))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
    app.call(Method::POST, &format!("{path}/submit"))
        .by("alice")
        .if_match(1)
        .send()
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
    app.assert_unchanged(&number, &before).await;
    assert_eq!(app.change(&number).await["title"], "First edit");
});

backend_test!(stale_body_version_is_409_stale_version, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let path = format!("/api/changes/{number}");
    app.patch(&path, "alice", json!({"title": "First edit", "version": 1}))
        .await
        .expect(StatusCode::OK);
    let before = app.snapshot(&number).await;
    app.patch(&path, "alice", json!({"title": "Stale", "version": 1}))
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
    app.try_act(&number, "submit", "alice", json!({"version": 1}))
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
    app.try_act(
        &number,
        "cancel",
        "alice",
        json!({"reason": "x", "version": 1}),
    )
    .await
    .problem(StatusCode::CONFLICT, "stale_version");
    app.assert_unchanged(&number, &before).await;
    // The current version is accepted.
    app.try_act(&number, "submit", "alice", json!({"version": 2}))
        .await
        .expect(StatusCode::OK);
});

backend_test!(
    if_match_and_body_version_that_disagree_are_400,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;
        app.call(Method::PATCH, &format!("/api/changes/{number}"))
            .by("alice")
            .if_match(1)
            .json(&json!({"title": "Which one?", "version": 2}))
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "version_mismatch");
        app.call(Method::PATCH, &format!("/api/changes/{number}"))
            .by("alice")
            .header(axum::http::header::IF_MATCH, "yesterday")
            .json(&json!({"title": "Which one?"}))
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_if_match");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    task_writes_bump_the_version_and_refuse_a_stale_if_match,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let task = app.add_task(&number, "alice", "Prepare").await;
        assert_eq!(app.change(&number).await["version"], 2);
        let before = app.snapshot(&number).await;
        app.call(Method::POST, &format!("/api/changes/{number}/tasks"))
            .by("alice")
            .if_match(1)
            .json(&json!({"title": "From a stale copy"}))
            .send()
            .await
            .problem(StatusCode::CONFLICT, "stale_version");
        app.call(
            Method::PATCH,
            &format!("/api/changes/{number}/tasks/{}", task["id"]),
        )
        .by("alice")
        .if_match(1)
        .json(&json!({"title": "Renamed from a stale copy"}))
        .send()
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
        // The change itself: version 1 is stale since the task was added.
        app.patch(
            &format!("/api/changes/{number}"),
            "alice",
            json!({"title": "x", "version": 1}),
        )
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
        app.assert_unchanged(&number, &before).await;
        // Work on tasks waits for implementation; outsiders may not touch them.
        app.patch(
            &format!("/api/changes/{number}/tasks/{}", task["id"]),
            "alice",
            json!({"state": "done"}),
        )
        .await
        .problem(StatusCode::CONFLICT, "task_work_only_while_implementing");
        app.post(
            &format!("/api/changes/{number}/tasks"),
            "olga",
            json!({"title": "Mine"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "implementation_by_assignees");
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(
    task_writes_take_the_version_from_the_body_too,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let tasks_path = format!("/api/changes/{number}/tasks");
        let task = app
            .post(&tasks_path, "alice", json!({"title": "t", "version": 1}))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(task["title"], "t");
        assert_eq!(app.change(&number).await["version"], 2);

        // A stale body version adds nothing.
        let before = app.snapshot(&number).await;
        app.post(
            &tasks_path,
            "alice",
            json!({"title": "From a stale copy", "version": 1}),
        )
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
        app.assert_unchanged(&number, &before).await;
        let tasks = app.get(&tasks_path, "alice").await.expect(StatusCode::OK);
        assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));

        // The same for an edit.
        let task_path = format!("{tasks_path}/{}", task["id"]);
        app.patch(
            &task_path,
            "alice",
            json!({"title": "Renamed from a stale copy", "version": 1}),
        )
        .await
        .problem(StatusCode::CONFLICT, "stale_version");
        app.assert_unchanged(&number, &before).await;
        let renamed = app
            .patch(
                &task_path,
                "alice",
                json!({"title": "Renamed", "version": 2}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(renamed["title"], "Renamed");
        assert_eq!(app.change(&number).await["version"], 3);
        let tasks = app.get(&tasks_path, "alice").await.expect(StatusCode::OK);
        assert_eq!(tasks["items"][0]["title"], "Renamed");

        // Header and body must agree when both are sent.
        let before = app.snapshot(&number).await;
        app.call(Method::POST, &tasks_path)
            .by("alice")
            .if_match(3)
            .json(&json!({"title": "Which one?", "version": 2}))
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "version_mismatch");
        app.call(Method::PATCH, &task_path)
            .by("alice")
            .if_match(2)
            .json(&json!({"title": "Which one?", "version": 3}))
            .send()
            .await
            .problem(StatusCode::BAD_REQUEST, "version_mismatch");
        app.assert_unchanged(&number, &before).await;
        app.post(
            &tasks_path,
            "alice",
            json!({"title": "Second", "version": 3}),
        )
        .await
        .expect(StatusCode::CREATED);
    }
);
