//! `stackflow import` and `stackflow export` as an operator runs them: an
//! export imported into an empty database exports again to identical
//! files, and importing an export into its own database changes nothing.

mod common;

use common::{TempDir, stackflow};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

#[track_caller]
fn succeed(db: &Path, args: &[&str]) -> Output {
    let output = stackflow(db, args);
    assert!(
        output.status.success(),
        "stackflow {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Imports a file and returns the report printed on stdout.
#[track_caller]
fn import(db: &Path, file: &Path) -> Value {
    let output = succeed(db, &["import", file.to_str().expect("utf-8 path")]);
    serde_json::from_slice(&output.stdout).expect("the report is JSON")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read export")
}

/// Exports `db` as JSON and as CSV into `dir` under `prefix`; returns the
/// three files' contents.
fn export(db: &Path, dir: &Path, prefix: &str) -> [String; 3] {
    let json = dir.join(format!("{prefix}.json"));
    let cis = dir.join(format!("{prefix}-cis.csv"));
    let relationships = dir.join(format!("{prefix}-relationships.csv"));
    succeed(db, &["export", "--format", "json", json.to_str().unwrap()]);
    succeed(
        db,
        &[
            "export",
            "--format",
            "csv",
            "--cis",
            cis.to_str().unwrap(),
            "--relationships",
            relationships.to_str().unwrap(),
        ],
    );
    [read(&json), read(&cis), read(&relationships)]
}

#[test]
fn an_export_round_trips_through_an_empty_database() {
    let dir = TempDir::new("transfer");
    let (a, b) = (dir.0.join("a.db"), dir.0.join("b.db"));
    for db in [&a, &b] {
        succeed(db, &["group", "add", "ops", "--kind", "implementation"]);
    }
    let seed = dir.0.join("seed.json");
    let document = json!({
        "cis": [
            {"name": "shop", "class": "application", "criticality": "high", "environment": "production",
             "owner_group": "ops", "attributes": {"zeta": 1, "alpha": {"b": [1, 2], "a": "x, \"y\""}}},
            {"name": "shop-db", "class": "database", "criticality": "critical"},
            {"name": "vm, one", "class": "virtual_machine", "criticality": "low", "environment": "staging"},
        ],
        "relationships": [
            {"from": "shop", "to": "shop-db", "type": "depends_on"},
            {"from": "shop-db", "to": "vm, one", "type": "runs_on"},
            {"from": "shop", "to": "shop-db", "type": "uses"},
        ],
    });
    std::fs::write(&seed, document.to_string()).expect("write seed");
    let report = import(&a, &seed);
    assert_eq!(report["applied"], true, "{report:#}");
    assert_eq!(report["cis"]["created"], 3);
    assert_eq!(report["relationships"]["created"], 3);

    let from_a = export(&a, &dir.0, "a");
    assert!(from_a[1].starts_with("name,class,criticality,environment,owner_group,attributes\n"));
    assert_eq!(
        from_a[2].lines().count(),
        4,
        "header and three relationships"
    );

    // CSV into the empty database: CIs, then relationships.
    import(&b, &dir.0.join("a-cis.csv"));
    import(&b, &dir.0.join("a-relationships.csv"));
    let from_b = export(&b, &dir.0, "b");
    assert_eq!(
        from_a, from_b,
        "export → import → export gives the same files"
    );

    // Its own export changes nothing in a database.
    let report = import(&a, &dir.0.join("a.json"));
    assert_eq!(
        (report["cis"].clone(), report["relationships"].clone()),
        (
            json!({"created": 0, "updated": 0, "unchanged": 3, "rejected": 0}),
            json!({"created": 0, "unchanged": 3, "rejected": 0})
        )
    );
}

#[test]
fn a_rejected_file_fails_the_command_and_reports_why() {
    let dir = TempDir::new("transfer-rejected");
    let db = dir.0.join("c.db");
    let file = dir.0.join("cis.csv");
    std::fs::write(
        &file,
        "name,class,criticality\nok,server,low\nnot-ok,server,severe\n",
    )
    .unwrap();
    let output = stackflow(&db, &["import", file.to_str().unwrap(), "--kind", "cis"]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(report["applied"], false);
    assert_eq!(report["rejected_rows"][0]["line"], 3);
    let dry_run = stackflow(&db, &["import", file.to_str().unwrap(), "--dry-run"]);
    assert!(
        !dry_run.status.success(),
        "a dry run of a bad file fails too"
    );
    let export = dir.0.join("empty.json");
    succeed(&db, &["export", export.to_str().unwrap()]);
    let empty: Value = serde_json::from_str(&read(&export)).expect("JSON export");
    assert_eq!(
        empty,
        json!({"cis": [], "relationships": []}),
        "nothing was applied"
    );
}
