//! Configuration items, relationships, health probes and the OpenAPI document.

use crate::fixtures::*;
use crate::support::*;
use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};

/// A relationship body.
fn depends(from: &str, to: &str, rel_type: &str) -> Value {
    json!({"from": from, "to": to, "type": rel_type})
}

backend_test!(
    cis_are_created_read_and_edited_by_cmdb_managers,
    |app| async move {
        let body = json!({"name": "payments-api", "class": "application", "environment": "production",
                      "criticality": "high", "owner_group": "dba", "attributes": {"language": "rust"}});
        let created = app
            .post("/api/cis", "max", body.clone())
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["criticality"], "high");
        assert_eq!(created["attributes"], json!({"language": "rust"}));
        assert_eq!(
            app.get("/api/cis/payments-api", "vic")
                .await
                .expect(StatusCode::OK),
            created
        );

        app.clock.advance(Duration::hours(1));
        let edited = app
            .patch(
                "/api/cis/payments-api",
                "admin",
                json!({"criticality": "critical", "owner_group": null}),
            )
            .await
            .expect(StatusCode::OK);
        assert_eq!(edited["criticality"], "critical");
        assert_eq!(edited["owner_group"], Value::Null);
        assert_eq!(edited["environment"], "production", "absent fields stay");
        assert_eq!(time_of(&edited["updated_at"]), app.now());
        assert_eq!(edited["created_at"], created["created_at"]);

        app.post(
            "/api/cis",
            "alice",
            json!({"name": "rogue", "class": "server", "criticality": "low"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        app.patch(
            "/api/cis/payments-api",
            "ivan",
            json!({"criticality": "low"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        app.post("/api/cis", "max", body)
            .await
            .problem(StatusCode::CONFLICT, "duplicate");
        let errors = app
            .post(
                "/api/cis",
                "max",
                json!({"name": "bad", "class": "Not A Class", "criticality": "low"}),
            )
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "class");
        app.get("/api/cis/nowhere", "alice")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.patch("/api/cis/nowhere", "max", json!({"criticality": "low"}))
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");

        let list = app.get("/api/cis", "alice").await.expect(StatusCode::OK);
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["orders-db-prod", "orders-app", "payments-api"],
            "oldest first"
        );
    }
);

backend_test!(
    relationships_refuse_unknown_cis_duplicates_and_self_loops,
    |app| async move {
        app.post(
            "/api/cis",
            "max",
            json!({"name": "payments-api", "class": "application", "criticality": "high"}),
        )
        .await
        .expect(StatusCode::CREATED);
        let created = app
            .post(
                "/api/relationships",
                "max",
                depends("payments-api", "orders-db-prod", "depends_on"),
            )
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(created["from"], "payments-api");
        assert_eq!(created["to"], "orders-db-prod");
        assert_eq!(created["type"], "depends_on");

        let errors = app
            .post(
                "/api/relationships",
                "max",
                depends("payments-api", "ghost-db", "depends_on"),
            )
            .await
            .invalid_fields();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "to");
        assert!(errors[0].1.contains("ghost-db"));
        let errors = app
            .post(
                "/api/relationships",
                "max",
                depends("ghost-app", "ghost-db", "uses"),
            )
            .await
            .invalid_fields();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);

        app.post(
            "/api/relationships",
            "max",
            depends("payments-api", "orders-db-prod", "depends_on"),
        )
        .await
        .problem(StatusCode::CONFLICT, "duplicate");
        let errors = app
            .post(
                "/api/relationships",
                "max",
                depends("payments-api", "payments-api", "uses"),
            )
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "to");
        app.post(
            "/api/relationships",
            "max",
            depends("payments-api", "orders-app", "friends_with"),
        )
        .await
        .invalid_fields();
        app.post(
            "/api/relationships",
            "alice",
            depends("orders-app", "payments-api", "uses"),
        )
        .await
        .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");

        // Both directions, oldest first; the seed has orders-app → orders-db-prod.
        let rels = app
            .get("/api/cis/orders-db-prod/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        let pairs: Vec<(&str, &str)> = rels["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["from"].as_str().unwrap(), r["to"].as_str().unwrap()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("orders-app", "orders-db-prod"),
                ("payments-api", "orders-db-prod")
            ]
        );
        let rels = app
            .get("/api/cis/payments-api/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(rels["items"].as_array().map(Vec::len), Some(1));
        app.get("/api/cis/ghost-db/relationships", "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);

backend_test!(health_probes_answer_without_a_token, |app| async move {
    let live = app
        .call(Method::GET, "/healthz")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(live["status"], "ok");
    let ready = app
        .call(Method::GET, "/readyz")
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(ready["status"], "ready");
});

backend_test!(
    openapi_document_is_served_without_a_token,
    |app| async move {
        let doc = app
            .call(Method::GET, "/api/openapi.json")
            .send()
            .await
            .expect(StatusCode::OK);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/changes",
            "/api/changes/{number}",
            "/api/changes/{number}/approve",
            "/api/changes/{number}/approvals",
            "/api/changes/{number}/audit",
            "/api/cis/{name}/relationships",
            "/api/relationships",
        ] {
            assert!(paths.contains_key(path), "OpenAPI lacks {path}");
        }
        assert!(paths["/api/changes/{number}/approve"].get("post").is_some());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
);

/// Names of the CIs a list query returns, in order.
async fn ci_names(app: &TestApp, query: &str) -> Vec<String> {
    let page = app
        .get(&format!("/api/cis?limit=500&{query}"), "vic")
        .await
        .expect(StatusCode::OK);
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|ci| ci["name"].as_str().expect("name").to_owned())
        .collect()
}

backend_test!(
    cis_are_listed_by_class_criticality_owner_and_name_prefix,
    |app| async move {
        for (name, class, criticality, owner) in [
            ("web-01", "server", "high", "dba"),
            ("web-02", "server", "low", "dba"),
            ("web_x", "application", "low", "dba"),
            ("mail-01", "server", "high", "CAB"),
        ] {
            app.post(
            "/api/cis",
            "max",
            json!({"name": name, "class": class, "criticality": criticality, "owner_group": owner}),
        )
        .await
        .expect(StatusCode::CREATED);
        }
        assert_eq!(
            ci_names(&app, "class=server&criticality=high").await,
            ["web-01", "mail-01"]
        );
        assert_eq!(ci_names(&app, "prefix=web-").await, ["web-01", "web-02"]);
        // `_` in a prefix is a character, not a wildcard.
        assert_eq!(ci_names(&app, "prefix=web_").await, ["web_x"]);
        assert_eq!(ci_names(&app, "owner_group=CAB").await, ["mail-01"]);
        app.get("/api/cis?criticality=urgent", "vic")
            .await
            .problem(StatusCode::BAD_REQUEST, "bad_query");
    }
);

backend_test!(
    a_ci_named_by_an_open_change_cannot_be_deleted,
    |app| async move {
        let number = app.create("alice", normal_draft()).await;
        app.post(
            "/api/cis",
            "max",
            json!({"name": "san-01", "class": "storage", "criticality": "critical"}),
        )
        .await
        .expect(StatusCode::CREATED);
        app.post(
            "/api/relationships",
            "max",
            depends("orders-db-prod", "san-01", "depends_on"),
        )
        .await
        .expect(StatusCode::CREATED);
        let refused = app
            .call(Method::DELETE, "/api/cis/orders-db-prod")
            .by("max")
            .send()
            .await;
        let problem = refused.problem(StatusCode::CONFLICT, "ci_in_open_change");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(&number)
        );
        app.get("/api/cis/orders-db-prod", "vic")
            .await
            .expect(StatusCode::OK);

        app.post(
            &format!("/api/changes/{number}/cancel"),
            "alice",
            json!({"reason": "not needed"}),
        )
        .await
        .expect(StatusCode::OK);
        app.call(Method::DELETE, "/api/cis/orders-db-prod")
            .by("alice")
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        let deleted = app
            .call(Method::DELETE, "/api/cis/orders-db-prod")
            .by("max")
            .send()
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        app.get("/api/cis/orders-db-prod", "vic")
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        app.call(Method::DELETE, "/api/cis/orders-db-prod")
            .by("max")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
        // Its relationships went with it.
        let left = app
            .get("/api/cis/san-01/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(left["items"], json!([]));
        // A new change can no longer name it.
        let errors = app
            .post("/api/changes", "alice", normal_draft())
            .await
            .invalid_fields();
        assert_eq!(errors[0].0, "affected_cis");
    }
);

backend_test!(
    relationships_are_deleted_by_id_and_audited,
    |app| async move {
        app.post(
            "/api/cis",
            "max",
            json!({"name": "edge-lb", "class": "network_device", "criticality": "high"}),
        )
        .await
        .expect(StatusCode::CREATED);
        let rel = app
            .post(
                "/api/relationships",
                "max",
                depends("edge-lb", "orders-db-prod", "connects_to"),
            )
            .await
            .expect(StatusCode::CREATED);
        let path = format!("/api/relationships/{}", rel["id"]);
        app.call(Method::DELETE, &path)
            .by("ivan")
            .send()
            .await
            .problem(StatusCode::FORBIDDEN, "role_may_not_manage_cmdb");
        let deleted = app.call(Method::DELETE, &path).by("max").send().await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let left = app
            .get("/api/cis/edge-lb/relationships", "vic")
            .await
            .expect(StatusCode::OK);
        assert_eq!(left["items"], json!([]));
        app.call(Method::DELETE, &path)
            .by("max")
            .send()
            .await
            .problem(StatusCode::NOT_FOUND, "not_found");
    }
);
