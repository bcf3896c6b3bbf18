//! The change list: cursor pagination that stays stable while changes are
//! created, every filter, and the `{items, next_cursor}` shape every list
//! shares.

use crate::fixtures::*;
use crate::support::*;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Creates `count` normal changes as alice, titled `<prefix> <i>`.
async fn create_many(app: &TestApp, prefix: &str, count: usize) -> Vec<String> {
    let mut numbers = Vec::with_capacity(count);
    for i in 0..count {
        let draft = with(normal_draft(), json!({"title": format!("{prefix} {i}")}));
        numbers.push(app.create("alice", draft).await);
    }
    numbers
}

/// The numbers on one page of `GET /api/changes?…`.
fn numbers_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["number"].as_str().expect("number").to_owned())
        .collect()
}

/// Every number the list returns for a query, following cursors.
async fn list_all(app: &TestApp, query: &str) -> Vec<String> {
    let mut numbers = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/changes?{query}&limit=2&cursor={c}"),
            None => format!("/api/changes?{query}&limit=2"),
        };
        let page = app.get(&path, "admin").await.expect(StatusCode::OK);
        numbers.extend(numbers_of(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return numbers,
        }
    }
}

backend_test!(
    paging_while_changes_are_created_returns_each_existing_change_once,
    |app| async move {
        let existing: HashSet<String> = create_many(&app, "Existing", 30)
            .await
            .into_iter()
            .collect();
        // A writer keeps creating changes while the reader pages.
        let writer = {
            let app = app.clone();
            tokio::spawn(async move { create_many(&app, "Concurrent", 10).await })
        };
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/changes?limit=7&cursor={c}"),
                None => "/api/changes?limit=7".to_owned(),
            };
            let page = app.get(&path, "vic").await.expect(StatusCode::OK);
            let numbers = numbers_of(&page);
            assert!(numbers.len() <= 7);
            assert!(
                numbers.windows(2).all(|w| w[0] > w[1]),
                "newest first: {numbers:?}"
            );
            seen.extend(numbers);
            pages += 1;
            // And one more between every two pages, for certain.
            app.create(
                "bob",
                with(normal_draft(), json!({"title": "Between pages"})),
            )
            .await;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => {
                    assert_eq!(page["next_cursor"], Value::Null);
                    break;
                }
            }
        }
        writer.await.expect("writer");
        let distinct: HashSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "no change twice: {seen:?}");
        for number in &existing {
            assert!(distinct.contains(number), "{number} was skipped");
        }
        assert!(pages >= 5, "30 changes in pages of 7 take at least 5 pages");
    }
);

backend_test!(
    last_page_has_a_null_cursor_even_when_full,
    |app| async move {
        create_many(&app, "Change", 4).await;
        let first = app
            .get("/api/changes?limit=2", "alice")
            .await
            .expect(StatusCode::OK);
        let cursor = first["next_cursor"]
            .as_str()
            .expect("a second page")
            .to_owned();
        let second = app
            .get(&format!("/api/changes?limit=2&cursor={cursor}"), "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(numbers_of(&second), ["CHG0000002", "CHG0000001"]);
        assert_eq!(second["next_cursor"], Value::Null);
        let all = app
            .get("/api/changes", "alice")
            .await
            .expect(StatusCode::OK);
        assert_eq!(numbers_of(&all).len(), 4, "default limit covers them");
        assert_eq!(all["next_cursor"], Value::Null);
    }
);

backend_test!(bad_cursors_and_limits_are_400, |app| async move {
    for query in [
        "cursor=nonsense!",
        "cursor=aGVsbG8",
        "limit=0",
        "limit=-3",
        "limit=many",
        "state=sleeping",
    ] {
        let reply = app.get(&format!("/api/changes?{query}"), "alice").await;
        let rule = match query.split('=').next() {
            Some("cursor") => "bad_cursor",
            Some("limit") if query != "limit=many" => "bad_limit",
            _ => "bad_query",
        };
        let body = reply.problem(StatusCode::BAD_REQUEST, rule);
        if rule == "bad_query" {
            // The parameter is named as a validation error names a field.
            let parameter = query.split('=').next().unwrap_or_default();
            assert_eq!(body["errors"][0]["field"], parameter, "{body:#}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{body:#}"
            );
        }
    }
    app.get("/api/changes/CHG0000001/audit?cursor=zzz", "alice")
        .await
        .problem(StatusCode::BAD_REQUEST, "bad_cursor");
});

backend_test!(
    list_filters_select_by_state_type_requester_group_ci_and_text,
    |app| async move {
        let upgrade = app.create("alice", normal_draft()).await;
        let kafka = app
        .create(
            "alice",
            with(normal_draft(), json!({"title": "Resize Kafka partitions", "affected_cis": ["orders-app"], "assignment_group": null})),
        )
        .await;
        let by_dave = app
            .create(
                "dave",
                with(normal_draft(), json!({"title": "Raise pool to 50% more"})),
            )
            .await;
        let literal = app
            .create(
                "dave",
                with(
                    normal_draft(),
                    json!({"title": "Raise pool to 500 connections"}),
                ),
            )
            .await;
        let emergency = app.create("alice", emergency_draft()).await;
        let standard = app.create("alice", standard_draft()).await;
        app.submit(&upgrade, "alice").await;
        app.submit(&standard, "alice").await;

        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("state=assess", vec![upgrade.as_str()]),
            ("state=scheduled", vec![standard.as_str()]),
            (
                "state=new&type=normal",
                vec![literal.as_str(), by_dave.as_str(), kafka.as_str()],
            ),
            ("type=emergency", vec![emergency.as_str()]),
            ("type=standard", vec![standard.as_str()]),
            (
                "requested_by=dave",
                vec![literal.as_str(), by_dave.as_str()],
            ),
            (
                "assignment_group=dba&requested_by=alice",
                vec![standard.as_str(), emergency.as_str(), upgrade.as_str()],
            ),
            ("ci=orders-app", vec![kafka.as_str()]),
            ("q=kafka", vec![kafka.as_str()]),
            ("q=50%25", vec![by_dave.as_str()]),
            ("q=CHG0000003", vec![by_dave.as_str()]),
            ("q=nothing-like-this", vec![]),
        ];
        for (query, expected) in cases {
            assert_eq!(list_all(&app, query).await, expected, "?{query}");
        }
    }
);

backend_test!(
    /// Case-insensitive search beyond ASCII: `Ä` and `ä` match each other.
    search_ignores_case_beyond_ascii,
    |app| async move {
        let draft = with(normal_draft(), json!({"title": "Änderung der Straßen-DB"}));
        let number = app.create("alice", draft).await;
        // The title's own spelling, then lower and upper case.
        for q in ["%C3%84nderung", "%C3%A4nderung", "%C3%84NDERUNG"] {
            assert_eq!(
                list_all(&app, &format!("q={q}")).await,
                [number.as_str()],
                "?q={q}"
            );
        }
    }
);

backend_test!(
    whole_lists_have_the_same_shape_as_paged_ones,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.add_task(&number, "alice", "Prepare").await;
        for (path, len) in [
            (format!("/api/changes/{number}/tasks"), 1),
            ("/api/templates".to_owned(), 1),
            ("/api/users/alice/tokens".to_owned(), 1),
            ("/api/cis/orders-db-prod/relationships".to_owned(), 1),
            ("/api/cis/orders-app/relationships".to_owned(), 1),
        ] {
            let list = app.get(&path, "alice").await.expect(StatusCode::OK);
            let fields = list.as_object().expect("a JSON object");
            let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["items", "next_cursor"], "{path}: {list:#}");
            assert_eq!(list["next_cursor"], Value::Null, "{path}");
            assert_eq!(
                list["items"].as_array().map(Vec::len),
                Some(len),
                "{path}: {list:#}"
            );
        }
        // An empty list has the same shape.
        let other = app.create("alice", normal_draft()).await;
        assert_eq!(
            app.get(&format!("/api/changes/{other}/tasks"), "alice")
                .await
                .expect(StatusCode::OK),
            json!({"items": [], "next_cursor": null})
        );
    }
);

/// Every item of a list, following its cursors `limit` at a time; checks
/// that no page is longer than asked and that only the last has no cursor.
async fn follow(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}{separator}limit={limit}&cursor={c}"),
            None => format!("{path}{separator}limit={limit}"),
        };
        let page = app.get(&page_path, "alice").await.expect(StatusCode::OK);
        let page_items = page["items"].as_array().expect("items").clone();
        assert!(page_items.len() <= limit, "{page_path}: {page:#}");
        items.extend(page_items);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

backend_test!(
    lists_read_whole_are_paged_by_limit_and_cursor_too,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        for title in ["Prepare", "Run", "Verify"] {
            app.add_task(&number, "alice", title).await;
        }
        for i in 0..3 {
            let window = json!({
                "name": format!("Window {i}"),
                "kind": "maintenance",
                "start": format!("2026-12-0{}T01:00:00Z", i + 1),
                "end": format!("2026-12-0{}T03:00:00Z", i + 1),
            });
            app.post("/api/windows", "max", window)
                .await
                .expect(StatusCode::CREATED);
        }
        for name in ["rotate-cert", "renew-lease"] {
            let template = json!({
                "name": name,
                "title": "Routine work",
                "implementation_plan": "Do it.",
                "backout_plan": "Undo it.",
                "test_plan": "Check it.",
            });
            app.post("/api/templates", "max", template)
                .await
                .expect(StatusCode::CREATED);
        }
        for path in [
            format!("/api/changes/{number}/tasks"),
            "/api/windows".to_owned(),
            "/api/windows?from=2026-11-30T00:00:00Z&to=2026-12-31T00:00:00Z".to_owned(),
            "/api/workflows".to_owned(),
            "/api/cab/meetings".to_owned(),
            "/api/templates".to_owned(),
        ] {
            let whole = app.get(&path, "alice").await.expect(StatusCode::OK);
            let whole = whole["items"].as_array().expect("items").clone();
            assert!(whole.len() >= 2, "{path}: too short to page");
            assert_eq!(follow(&app, &path, 1).await, whole, "{path}, one at a time");
            assert_eq!(follow(&app, &path, 2).await, whole, "{path}, two at a time");
            let separator = if path.contains('?') { '&' } else { '?' };
            let first = app
                .get(&format!("{path}{separator}limit=1"), "alice")
                .await
                .expect(StatusCode::OK);
            assert!(first["next_cursor"].is_string(), "{path}: {first:#}");
            app.get(&format!("{path}{separator}limit=0"), "alice")
                .await
                .problem(StatusCode::BAD_REQUEST, "bad_limit");
        }
    }
);
