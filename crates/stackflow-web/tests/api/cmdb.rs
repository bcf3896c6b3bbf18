//! Configuration items, relationships, health probes and the OpenAPI document.

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
