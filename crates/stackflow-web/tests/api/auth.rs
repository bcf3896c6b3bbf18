//! Authentication: a missing, malformed, unknown, revoked or expired token is
//! 401, and a refused caller changes nothing.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use chrono::Duration;
use serde_json::json;

/// Asserts a 401 problem with the `WWW-Authenticate` challenge.
#[track_caller]
fn assert_unauthorized(reply: &Reply) {
    reply.problem(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        reply
            .headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"stackflow\"")
    );
}

/// Submits `number` with a raw bearer token.
async fn submit_with(app: &TestApp, number: &str, token: &str) -> Reply {
    app.call(Method::POST, &format!("/api/changes/{number}/submit"))
        .bearer(token)
        .send()
        .await
}

backend_test!(
    requests_without_a_usable_authorization_header_are_401,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let before = app.snapshot(&number).await;

        let anonymous = app
            .call(Method::POST, &format!("/api/changes/{number}/submit"))
            .send()
            .await;
        assert_unauthorized(&anonymous);
        let basic = app
            .call(Method::POST, &format!("/api/changes/{number}/submit"))
            .header(header::AUTHORIZATION, "Basic YWxpY2U6c2VjcmV0")
            .send()
            .await;
        assert_unauthorized(&basic);
        assert_unauthorized(&app.call(Method::GET, "/api/changes").send().await);
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(unknown_tokens_are_401, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let before = app.snapshot(&number).await;
    let forged = format!("sf_{}", "0".repeat(64));
    assert_unauthorized(&submit_with(&app, &number, &forged).await);
    app.assert_unchanged(&number, &before).await;
});

backend_test!(revoked_tokens_are_401_at_once, |app| async move {
    let number = app.create("alice", normal_draft()).await;
    let created = app
        .post(
            "/api/users/alice/tokens",
            "alice",
            json!({"name": "laptop"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let secret = created["token"].as_str().expect("secret").to_owned();
    let me = app
        .call(Method::GET, "/api/me")
        .bearer(&secret)
        .send()
        .await;
    assert_eq!(me.expect(StatusCode::OK)["username"], "alice");

    let revoked = app
        .call(Method::DELETE, &format!("/api/tokens/{}", created["id"]))
        .by("alice")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(time_of(&revoked["revoked_at"]), app.now());

    let before = app.snapshot(&number).await;
    assert_unauthorized(&submit_with(&app, &number, &secret).await);
    app.assert_unchanged(&number, &before).await;
    // Her other token still works.
    app.get("/api/me", "alice").await.expect(StatusCode::OK);
});

backend_test!(
    expired_tokens_are_401_once_the_clock_passes_their_expiry,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        let expires_at = app.now() + Duration::hours(1);
        let created = app
            .post(
                "/api/users/alice/tokens",
                "alice",
                json!({"name": "ci", "expires_at": expires_at}),
            )
            .await
            .expect(StatusCode::CREATED);
        let secret = created["token"].as_str().expect("secret").to_owned();
        app.clock.advance(Duration::minutes(59));
        let me = app
            .call(Method::GET, "/api/me")
            .bearer(&secret)
            .send()
            .await;
        assert_eq!(me.expect(StatusCode::OK)["username"], "alice");

        app.clock.advance(Duration::minutes(1));
        let before = app.snapshot(&number).await;
        assert_unauthorized(&submit_with(&app, &number, &secret).await);
        app.assert_unchanged(&number, &before).await;
    }
);

backend_test!(tokens_of_deactivated_users_are_401, |app| async move {
    app.patch("/api/users/olga", "admin", json!({"active": false}))
        .await
        .expect(StatusCode::OK);
    let reply = app
        .call(Method::GET, "/api/me")
        .bearer(&app.token("olga"))
        .send()
        .await;
    assert_unauthorized(&reply);
});
