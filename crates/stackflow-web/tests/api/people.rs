//! Users, groups and API tokens.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

/// A new user's body.
fn new_user(username: &str, role: &str) -> Value {
    json!({"username": username, "email": format!("{username}@example.com"), "role": role})
}

backend_test!(admins_create_users_and_others_may_not, |app| async move {
    let created = app
        .post("/api/users", "admin", json!({"username": "nina", "email": "nina@example.com", "display_name": "Nina", "role": "requester"}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["username"], "nina");
    assert_eq!(created["role"], "requester");
    assert_eq!(created["active"], true);
    assert_eq!(time_of(&created["created_at"]), app.now());
    assert_eq!(
        app.get("/api/users/nina", "alice")
            .await
            .expect(StatusCode::OK),
        created
    );

    for user in ["max", "alice", "vic"] {
        app.post("/api/users", user, new_user("mallory", "admin"))
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_people");
    }
    app.get("/api/users/mallory", "admin")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");

    app.post("/api/users", "admin", new_user("nina", "viewer"))
        .await
        .problem(StatusCode::CONFLICT, "duplicate");
    let errors = app
        .post(
            "/api/users",
            "admin",
            json!({"username": "Bad Name", "email": "x@example.com", "role": "viewer"}),
        )
        .await
        .invalid_fields();
    assert_eq!(errors[0].0, "username");
    let errors = app
        .post("/api/users", "admin", new_user("zed", "overlord"))
        .await
        .invalid_fields();
    assert_eq!(errors[0].0, "role");
});

backend_test!(admins_create_groups_and_others_may_not, |app| async move {
    let body = json!({"name": "web-ops", "kind": "implementation", "members": ["olga", "ivan"]});
    let created = app
        .post("/api/groups", "admin", body.clone())
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["kind"], "implementation");
    assert_eq!(created["members"], json!(["ivan", "olga"]), "sorted");
    assert_eq!(
        app.get("/api/groups/web-ops", "vic")
            .await
            .expect(StatusCode::OK),
        created
    );

    app.post(
        "/api/groups",
        "max",
        json!({"name": "shadow-cab", "kind": "cab"}),
    )
    .await
    .problem(StatusCode::FORBIDDEN, "role_may_not_manage_people");
    app.get("/api/groups/shadow-cab", "admin")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.post("/api/groups", "admin", body)
        .await
        .problem(StatusCode::CONFLICT, "duplicate");
    let errors = app
        .post(
            "/api/groups",
            "admin",
            json!({"name": "ghosts", "kind": "cab", "members": ["casper"]}),
        )
        .await
        .invalid_fields();
    assert_eq!(errors[0].0, "members");
    assert!(errors[0].1.contains("casper"));

    app.call(Method::PUT, "/api/groups/web-ops/members")
        .by("alice")
        .json(&json!({"members": ["alice"]}))
        .send()
        .await
        .problem(StatusCode::FORBIDDEN, "role_may_not_manage_people");
    let groups = app.get("/api/groups", "alice").await.expect(StatusCode::OK);
    let names: Vec<&str> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CAB", "ECAB", "dba", "web-ops"]);
});

backend_test!(
    a_token_created_through_the_api_is_shown_once_and_authenticates,
    |app| async move {
        app.post("/api/users", "admin", new_user("nina", "implementer"))
            .await
            .expect(StatusCode::CREATED);
        let created = app
            .post(
                "/api/users/nina/tokens",
                "admin",
                json!({"name": "deploy bot"}),
            )
            .await
            .expect(StatusCode::CREATED);
        let secret = created["token"].as_str().expect("the secret").to_owned();
        assert!(secret.starts_with("sf_"), "{secret}");
        assert_eq!(created["username"], "nina");
        assert_eq!(created["name"], "deploy bot");
        assert_eq!(created["revoked_at"], Value::Null);

        let me = app
            .call(Method::GET, "/api/me")
            .bearer(&secret)
            .send()
            .await;
        assert_eq!(
            me.expect(StatusCode::OK),
            json!({"username": "nina", "role": "implementer"})
        );

        // Listed afterwards without its secret.
        let listed = app
            .get("/api/users/nina/tokens", "admin")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(listed["items"][0]["id"], created["id"]);
        assert!(listed["items"][0].get("token").is_none());
        assert!(
            !listed.to_string().contains(&secret),
            "the secret is never shown again"
        );

        // An empty body is a token without label or expiry.
        let bare = app
            .call(Method::POST, "/api/users/alice/tokens")
            .by("alice")
            .send()
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(bare["expires_at"], Value::Null);
    }
);

backend_test!(people_manage_only_their_own_tokens, |app| async move {
    app.post("/api/users/bob/tokens", "alice", json!({}))
        .await
        .problem(StatusCode::FORBIDDEN, "tokens_of_others");
    app.get("/api/users/bob/tokens", "alice")
        .await
        .problem(StatusCode::FORBIDDEN, "tokens_of_others");
    let bobs = app
        .get("/api/users/bob/tokens", "bob")
        .await
        .expect(StatusCode::OK);
    let id = bobs["items"][0]["id"].clone();
    // Someone else's token does not exist as far as a non-admin can tell:
    // token ids are sequential, and a 403 would confirm one exists.
    app.call(Method::DELETE, &format!("/api/tokens/{id}"))
        .by("alice")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    app.get("/api/me", "bob").await.expect(StatusCode::OK);
    app.call(Method::DELETE, "/api/tokens/999999")
        .by("admin")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let errors = app
        .post(
            "/api/users/alice/tokens",
            "alice",
            json!({"expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await
        .invalid_fields();
    assert_eq!(errors[0].0, "expires_at");
});

backend_test!(the_ecab_stays_within_the_cab, |app| async move {
    // olga is in no CAB: she cannot join the ECAB, nor found a new one.
    let put = |group: &'static str, members: Value| {
        let app = app.clone();
        async move {
            app.call(Method::PUT, &format!("/api/groups/{group}/members"))
                .by("admin")
                .json(&json!({"members": members}))
                .send()
                .await
        }
    };
    let errors = put("ECAB", json!(["bob", "carol", "olga"]))
        .await
        .invalid_fields();
    assert_eq!(errors[0].0, "members");
    assert!(errors[0].1.contains("olga (in ECAB)"), "{errors:?}");
    let errors = app
        .post(
            "/api/groups",
            "admin",
            json!({"name": "night-ecab", "kind": "ecab", "members": ["olga"]}),
        )
        .await
        .invalid_fields();
    assert!(errors[0].1.contains("olga"), "{errors:?}");
    app.get("/api/groups/night-ecab", "admin")
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    // Taking bob out of the CAB would leave him in the ECAB alone.
    let errors = put("CAB", json!(["carol", "dave", "erin"]))
        .await
        .invalid_fields();
    assert!(errors[0].1.contains("bob (in ECAB)"), "{errors:?}");
    assert_eq!(
        app.get("/api/groups/CAB", "admin")
            .await
            .expect(StatusCode::OK)["members"],
        json!(["bob", "carol", "dave", "erin"]),
        "nothing changed"
    );
    // Once olga joins the CAB she may join the ECAB.
    put("CAB", json!(["bob", "carol", "dave", "erin", "olga"]))
        .await
        .expect(StatusCode::OK);
    put("ECAB", json!(["bob", "carol", "olga"]))
        .await
        .expect(StatusCode::OK);
});
