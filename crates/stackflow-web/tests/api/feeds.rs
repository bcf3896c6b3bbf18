//! Calendar feeds: a secret address serves the schedule's iCalendar form
//! without a bearer token, to its owner's feed only while it is unrevoked
//! and the owner active; creating and revoking are audited, and the key is
//! shown once.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use stackflow_core::{Channel, Refusal, Role};
use stackflow_store::{NewCalendarFeed, PageRequest, StoreError};

const RANGE: &str = "from=2026-11-29T00:00:00Z&to=2026-12-31T00:00:00Z";

/// The actors of the calendar feed events in a user's audit trail, with
/// their actions, oldest first.
async fn feed_events(app: &TestApp, owner: &str) -> Vec<(String, String)> {
    let trail = app
        .store
        .audit_trail("user", owner, PageRequest::default())
        .await
        .expect("the trail");
    trail
        .items
        .into_iter()
        .filter(|e| e.action.starts_with("calendar_feed."))
        .map(|e| (e.actor, e.action))
        .collect()
}

/// The path of a feed's URL, from the answer that created it.
fn feed_path(created: &Value) -> String {
    let url = created["url"].as_str().expect("a url");
    url.strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("{url} is under the public URL"))
        .to_owned()
}

/// `DELETE /api/schedule/feeds/{id}` as `user`; `id` as it appears in the
/// path (a created feed's `id` value, or anything else).
async fn revoke(app: &TestApp, id: impl std::fmt::Display, user: &str) -> Reply {
    app.call(Method::DELETE, &format!("/api/schedule/feeds/{id}"))
        .by(user)
        .send()
        .await
}

/// Fetches a feed as a calendar client does: no `Authorization` header.
async fn fetch(app: &TestApp, path: &str) -> Reply {
    app.call(Method::GET, path).send().await
}

backend_test!(
    a_feed_serves_the_schedule_to_a_client_without_a_token,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.submit(&number, "alice").await;
        let created = app
            .post("/api/schedule/feeds", "vic", json!({"name": "Outlook"}))
            .await
            .expect(StatusCode::CREATED);
        let key = created["key"].as_str().expect("the key").to_owned();
        assert!(key.starts_with("sfcal_"), "{key}");
        assert_eq!(created["username"], "vic");
        assert_eq!(created["name"], "Outlook");
        assert_eq!(created["revoked_at"], Value::Null);
        let path = feed_path(&created);
        assert_eq!(path, format!("/feeds/{key}/schedule.ics"));

        let reply = fetch(&app, &format!("{path}?{RANGE}")).await;
        let header_of = |name| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header_of(header::CONTENT_TYPE).as_deref(),
            Some("text/calendar; charset=utf-8")
        );
        assert_eq!(
            header_of(header::CACHE_CONTROL).as_deref(),
            Some("private, no-store")
        );
        assert_eq!(
            header_of(header::REFERRER_POLICY).as_deref(),
            Some("no-referrer")
        );
        let body = reply.expect(StatusCode::OK);
        let body = body.as_str().expect("a text body");
        // The same document the bearer-authenticated export gives.
        let export = app
            .get(&format!("/api/schedule.ics?{RANGE}"), "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(Some(body), export.as_str());
        let mut calendars = ical::IcalParser::new(body.as_bytes());
        let calendar = calendars.next().expect("a VCALENDAR").expect("valid");
        assert!(
            calendar
                .events
                .iter()
                .any(|e| e.properties.iter().any(|p| p.name == "UID"
                    && p.value.as_deref() == Some(&format!("{number}@stackflow.test")))),
            "the submitted change is in the feed"
        );
        // Without a range, the default one (as the export's); narrowed to a
        // team as the export is.
        fetch(&app, &path).await.expect(StatusCode::OK);
        let team = fetch(&app, &format!("{path}?{RANGE}&assignment_group=dba"))
            .await
            .expect(StatusCode::OK);
        assert_eq!(team.as_str(), Some(body));
        let typo = fetch(&app, &format!("{path}?assignment_group=dab")).await;
        assert_eq!(typo.status, StatusCode::UNPROCESSABLE_ENTITY);
        // A bad range is a problem, as on the export.
        fetch(&app, &format!("{path}?from=yesterday"))
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_query");
    }
);

backend_test!(a_feed_key_opens_nothing_but_the_feed, |app| async move {
    let created = app
        .post("/api/schedule/feeds", "alice", json!({}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(created["name"], "");
    let key = created["key"].as_str().expect("the key").to_owned();
    // Not a bearer token.
    app.call(Method::GET, "/api/me")
        .bearer(&key)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.call(Method::GET, &format!("/api/schedule.ics?{RANGE}"))
        .bearer(&key)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    // A bearer token is not a feed key, and a guess is no feed.
    let token = app.token("alice");
    for wrong in [token.as_str(), "sfcal_00", &key[..key.len() - 1]] {
        fetch(&app, &format!("/feeds/{wrong}/schedule.ics"))
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
    // The API's feed endpoints need a bearer token.
    app.call(Method::GET, "/api/schedule/feeds")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
    app.call(Method::POST, "/api/schedule/feeds")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthorized");
});

backend_test!(
    a_revoked_feed_or_one_of_a_deactivated_user_answers_404,
    |app| async move {
        let first = app
            .post("/api/schedule/feeds", "olga", json!({"name": "phone"}))
            .await
            .expect(StatusCode::CREATED);
        let second = app
            .post("/api/schedule/feeds", "olga", json!({"name": "desk"}))
            .await
            .expect(StatusCode::CREATED);
        let (first_path, second_path) = (feed_path(&first), feed_path(&second));
        fetch(&app, &first_path).await.expect(StatusCode::OK);

        let revoked = revoke(&app, &first["id"], "olga")
            .await
            .expect(StatusCode::OK);
        assert_eq!(time_of(&revoked["revoked_at"]), app.now());
        fetch(&app, &first_path)
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        // Revoking again changes nothing.
        let again = revoke(&app, &first["id"], "olga")
            .await
            .expect(StatusCode::OK);
        assert_eq!(again, revoked);
        // The other feed still works, until its owner is deactivated.
        fetch(&app, &second_path).await.expect(StatusCode::OK);
        app.patch("/api/users/olga", "admin", json!({"active": false}))
            .await
            .expect(StatusCode::OK);
        fetch(&app, &second_path)
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.patch("/api/users/olga", "admin", json!({"active": true}))
            .await
            .expect(StatusCode::OK);
        fetch(&app, &second_path).await.expect(StatusCode::OK);

        // One audit event per creation and per revocation, on the owner.
        assert_eq!(
            feed_events(&app, "olga").await,
            [
                ("olga".to_owned(), "calendar_feed.created".to_owned()),
                ("olga".to_owned(), "calendar_feed.created".to_owned()),
                ("olga".to_owned(), "calendar_feed.revoked".to_owned()),
            ]
        );
        let trail = app
            .store
            .audit_trail("user", "olga", PageRequest::default())
            .await
            .expect("the trail");
        let serialized = serde_json::to_string(&trail.items).expect("json");
        for created in [&first, &second] {
            let key = created["key"].as_str().expect("the key");
            assert!(!serialized.contains(key), "no key in the audit trail");
        }
    }
);

backend_test!(
    people_see_and_revoke_only_their_own_feeds,
    |app| async move {
        let bobs = app
            .post("/api/schedule/feeds", "bob", json!({"name": "bob's"}))
            .await
            .expect(StatusCode::CREATED);
        let carols = app
            .post("/api/schedule/feeds", "carol", json!({"name": "carol's"}))
            .await
            .expect(StatusCode::CREATED);

        let listed = app
            .get("/api/schedule/feeds", "bob")
            .await
            .expect(StatusCode::OK);
        let items = listed["items"].as_array().expect("items");
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"], bobs["id"]);
        assert!(items[0].get("key").is_none() && items[0].get("url").is_none());
        assert!(!listed.to_string().contains(bobs["key"].as_str().unwrap()));

        // Someone else's feed is not found, and stays unrevoked, with
        // nothing audited.
        let carols_events = feed_events(&app, "carol").await;
        revoke(&app, &carols["id"], "bob")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        fetch(&app, &feed_path(&carols))
            .await
            .expect(StatusCode::OK);
        assert_eq!(feed_events(&app, "carol").await, carols_events);
        for id in ["999999", "nope"] {
            revoke(&app, id, "bob")
                .await
                .problem(StatusCode::NOT_FOUND, "not_found");
        }

        // An admin sees every feed and may revoke any.
        let all = app
            .get("/api/schedule/feeds", "admin")
            .await
            .expect(StatusCode::OK);
        let owners: Vec<&str> = all["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|f| f["username"].as_str().unwrap())
            .collect();
        assert_eq!(owners, ["bob", "carol"]);
        // Paged like every list.
        let first = app
            .get("/api/schedule/feeds?limit=1", "admin")
            .await
            .expect(StatusCode::OK);
        assert_eq!(first["items"][0]["id"], bobs["id"]);
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let second = app
            .get(
                &format!("/api/schedule/feeds?limit=1&cursor={cursor}"),
                "admin",
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(second["items"][0]["id"], carols["id"]);
        assert_eq!(second["next_cursor"], Value::Null);

        revoke(&app, &carols["id"], "admin")
            .await
            .expect(StatusCode::OK);
        fetch(&app, &feed_path(&carols))
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        // The revocation is audited on carol, as done by the admin.
        assert_eq!(
            feed_events(&app, "carol").await,
            [
                ("carol".to_owned(), "calendar_feed.created".to_owned()),
                ("admin".to_owned(), "calendar_feed.revoked".to_owned()),
            ]
        );
    }
);

backend_test!(bad_feed_requests_change_nothing, |app| async move {
    let long = "x".repeat(201);
    let reply = app
        .post("/api/schedule/feeds", "dave", json!({"name": long}))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.invalid_fields()[0].0, "name");
    let unknown = app
        .post("/api/schedule/feeds", "dave", json!({"colour": "red"}))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.invalid_fields()[0].0, "colour");
    let tabbed = app
        .post(
            "/api/schedule/feeds",
            "dave",
            json!({"name": "desk\tphone"}),
        )
        .await;
    assert_eq!(tabbed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(tabbed.invalid_fields()[0].0, "name");
    let listed = app
        .get("/api/schedule/feeds", "dave")
        .await
        .expect(StatusCode::OK);
    assert_eq!(listed["items"], json!([]));
    // A feed for a deactivated person would never answer; even an admin
    // is refused one (through the store, as the CLI asks).
    app.patch("/api/users/dave", "admin", json!({"active": false}))
        .await
        .expect(StatusCode::OK);
    let admin = app.caller("admin", Role::Admin, Channel::Cli);
    let refused = app
        .store
        .create_calendar_feed(&admin, "dave", NewCalendarFeed::default())
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Refused(Refusal::Invalid(errors))) if errors[0].field == "username"),
        "{refused:?}"
    );
    assert_eq!(feed_events(&app, "dave").await, []);
});

backend_test!(the_openapi_document_describes_the_feeds, |app| async move {
    let doc = app
        .call(Method::GET, "/api/openapi.json")
        .send()
        .await
        .expect(StatusCode::OK);
    let paths = &doc["paths"];
    assert!(paths["/api/schedule/feeds"]["get"].is_object());
    assert!(paths["/api/schedule/feeds"]["post"].is_object());
    assert!(paths["/api/schedule/feeds/{id}"]["delete"].is_object());
    let feed = &paths["/feeds/{key}/schedule.ics"]["get"];
    assert_eq!(feed["tags"], json!(["schedule"]));
    // The key is the credential: no bearer token is asked for.
    assert_eq!(feed["security"], json!([{}]));
    assert!(doc["components"]["schemas"]["CalendarFeed"].is_object());
});
