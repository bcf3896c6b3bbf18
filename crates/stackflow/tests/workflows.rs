//! `stackflow workflow` as an operator runs it: the installed defaults,
//! loading a document from a YAML or JSON file (created, then a new
//! version), and a refused file naming its bad field.

mod common;

use common::{TempDir, stackflow};
use serde_json::{Value, json};
use std::path::Path;

/// Runs a command that must succeed and parses its stdout as JSON.
#[track_caller]
fn json_of(db: &Path, args: &[&str]) -> Value {
    let output = stackflow(db, args);
    assert!(
        output.status.success(),
        "stackflow {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path.to_str().expect("utf-8 path").to_owned()
}

const REVIEW: &str = "\
name: peer-review
type: change_approval
priority: 5
match: {change_types: [normal]}
stages:
  - name: Peer review
    lanes:
      - approvers: {assignment_group: true}
        rule: any
";

#[test]
fn workflows_are_listed_loaded_and_refused_with_the_field_named() {
    let dir = TempDir::new("workflow-cli");
    let db = dir.0.join("stackflow.db");
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("a JSON array")
            .iter()
            .map(|w| w["name"].as_str().expect("name").to_owned())
            .collect()
    };
    let list = json_of(&db, &["workflow", "list"]);
    assert_eq!(names(&list), ["emergency-default", "normal-default"]);

    let file = write(&dir.0, "review.yaml", REVIEW);
    let created = json_of(&db, &["workflow", "load", &file]);
    assert_eq!(created["version"], 1);
    assert_eq!(created["created_by"], "cli");

    // The same name again, as JSON this time: a new version.
    let mut document = created["document"].clone();
    document["priority"] = json!(7);
    let file = write(&dir.0, "review.json", &document.to_string());
    let updated = json_of(&db, &["workflow", "load", &file]);
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["priority"], 7);

    let shown = json_of(&db, &["workflow", "show", "peer-review"]);
    assert_eq!(shown["workflow"]["version"], 2);
    assert_eq!(shown["versions"].as_array().expect("versions").len(), 2);
    let first = json_of(&db, &["workflow", "show", "peer-review", "--version", "1"]);
    assert_eq!(first["workflow"]["priority"], 5);

    let bad = REVIEW.replace("{assignment_group: true}", "{group: nobody}");
    let file = write(&dir.0, "bad.yml", &bad);
    let output = stackflow(&db, &["workflow", "load", &file]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("stages[0].lanes[0].approvers.group"),
        "{stderr}"
    );
    let shown = json_of(&db, &["workflow", "show", "peer-review"]);
    assert_eq!(shown["workflow"]["version"], 2);
}
