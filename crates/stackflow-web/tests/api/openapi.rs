//! `/api/openapi.json` against the API it describes: the enums' wire
//! spellings, where the list parameters go, what an error answer is, that
//! every route asks for a token, and which request bodies are optional.
//! A client generated from the document has to work against the server.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use stackflow_core::{
    ApprovalStatus, ChangeState, ChangeType, Channel, CloseCode, Criticality, DayOfWeek, Decision,
    GroupKind, ObjectivesMet, RelationshipType, Role, TaskState, WindowKind,
};

async fn document(app: &TestApp) -> Value {
    app.call(Method::GET, "/api/openapi.json")
        .send()
        .await
        .expect(StatusCode::OK)
        .clone()
}

/// The string values a named schema's enum lists.
fn enum_values(doc: &Value, schema: &str) -> Vec<String> {
    let values = doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {schema} is not a string enum: {doc:#}"));
    values
        .iter()
        .map(|v| v.as_str().expect("a string value").to_owned())
        .collect()
}

/// Every operation of the document, as (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

backend_test!(
    the_enums_are_documented_in_their_wire_spelling,
    |app| async move {
        let doc = document(&app).await;
        fn wire<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
            all.iter().map(ToString::to_string).collect()
        }
        let cases = [
            ("ChangeType", wire(ChangeType::ALL)),
            ("ChangeState", wire(ChangeState::ALL)),
            ("Decision", wire(Decision::ALL)),
            ("ApprovalStatus", wire(ApprovalStatus::ALL)),
            ("Role", wire(Role::ALL)),
            ("TaskState", wire(TaskState::ALL)),
            ("CloseCode", wire(CloseCode::ALL)),
            ("ObjectivesMet", wire(ObjectivesMet::ALL)),
            ("Criticality", wire(Criticality::ALL)),
            ("RelationshipType", wire(RelationshipType::ALL)),
            ("GroupKind", wire(GroupKind::ALL)),
            ("Channel", wire(Channel::ALL)),
            ("DayOfWeek", wire(DayOfWeek::ALL)),
            ("WindowKind", wire(WindowKind::ALL)),
        ];
        for (schema, expected) in cases {
            assert_eq!(enum_values(&doc, schema), expected, "{schema}");
        }
        assert_eq!(
            enum_values(&doc, "ChangeType"),
            ["standard", "normal", "emergency"]
        );
    }
);

backend_test!(list_parameters_are_in_the_query, |app| async move {
    let doc = document(&app).await;
    for path in [
        "/api/users",
        "/api/groups",
        "/api/changes/{number}/audit",
        "/api/windows",
        "/api/templates",
        "/api/workflows",
        "/api/changes/{number}/tasks",
        "/api/cab/meetings",
    ] {
        let parameters = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no parameters"));
        for name in ["limit", "cursor"] {
            let parameter = parameters
                .iter()
                .find(|p| p["name"] == name)
                .unwrap_or_else(|| panic!("{path} does not take `{name}`"));
            assert_eq!(parameter["in"], "query", "{path} {name}");
            assert_ne!(parameter["required"], json!(true), "{path} {name}");
        }
    }
});

backend_test!(
    errors_are_problem_documents_and_every_route_asks_for_a_token,
    |app| async move {
        let doc = document(&app).await;
        let operations = operations(&doc);
        assert!(operations.len() > 50, "{} operations", operations.len());
        for (method, path, operation) in &operations {
            let responses = operation["responses"].as_object().expect("responses");
            for (status, response) in responses {
                let Some(content) = response["content"].as_object() else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&str> = content.keys().map(String::as_str).collect();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                }
            }
            if path.starts_with("/api/") {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} does not document its 401"
                );
            }
        }
    }
);

backend_test!(optional_request_bodies_are_not_required, |app| async move {
    let doc = document(&app).await;
    for path in [
        "/api/changes/{number}/submit",
        "/api/changes/{number}/implement",
        "/api/changes/{number}/complete",
    ] {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert!(body.is_object(), "{path}: {doc:#}");
        assert_ne!(body["required"], json!(true), "{path}: {body:#}");
    }
    // A body that is required still says so.
    assert_eq!(
        doc["paths"]["/api/changes"]["post"]["requestBody"]["required"],
        json!(true)
    );
});
