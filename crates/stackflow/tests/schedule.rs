//! `stackflow calendar` and `stackflow window` as an operator runs them:
//! the default calendar, setting one from a file (and being refused with
//! the bad field named), adding and listing windows.

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

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write file");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn the_calendar_is_shown_set_and_refused_with_the_field_named() {
    let dir = TempDir::new("calendar-cli");
    let db = dir.0.join("stackflow.db");
    let default = json_of(&db, &["calendar", "show"]);
    assert_eq!(default["time_zone"], "UTC");
    assert_eq!(
        default["working_hours"],
        json!({"start": "09:00", "end": "17:00"})
    );

    let calendar = json!({
        "time_zone": "America/New_York",
        "working_days": ["mon", "tue", "wed", "thu"],
        "working_hours": {"start": "07:00", "end": "15:30"},
        "holidays": [{"date": "2026-07-04", "name": "Independence Day", "yearly": true}]
    });
    let file = write(&dir.0, "calendar.json", &calendar);
    assert_eq!(json_of(&db, &["calendar", "set", &file]), calendar);
    assert_eq!(json_of(&db, &["calendar", "show"]), calendar);

    let mut bad = calendar.clone();
    bad["time_zone"] = json!("America/Gotham");
    let file = write(&dir.0, "bad.json", &bad);
    let output = stackflow(&db, &["calendar", "set", &file]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("time_zone"), "{stderr}");
    assert_eq!(json_of(&db, &["calendar", "show"]), calendar);
}

#[test]
fn windows_are_added_and_listed() {
    let dir = TempDir::new("window-cli");
    let db = dir.0.join("stackflow.db");
    assert_eq!(json_of(&db, &["window", "list"]), json!([]));
    let file = write(
        &dir.0,
        "window.json",
        &json!({
            "name": "Sunday patching", "kind": "maintenance",
            "start": "2026-11-29T03:00:00Z", "end": "2026-11-29T05:00:00Z",
            "recurrence": "FREQ=WEEKLY;BYDAY=SU", "time_zone": "Europe/Berlin"
        }),
    );
    let added = json_of(&db, &["window", "add", &file]);
    assert_eq!(added["created_by"], "cli");
    assert_eq!(json_of(&db, &["window", "list"]), json!([added]));
}

/// Runs a command that must succeed and returns its stdout.
#[track_caller]
fn stdout_of(db: &Path, args: &[&str]) -> String {
    let output = stackflow(db, args);
    assert!(
        output.status.success(),
        "stackflow {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

#[test]
fn an_operator_creates_lists_and_revokes_calendar_feeds() {
    let dir = TempDir::new("feed-cli");
    let db = dir.0.join("stackflow.db");
    stdout_of(
        &db,
        &[
            "user",
            "add",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "viewer",
        ],
    );
    // The address is absolute under the configured public URL.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stackflow"))
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(["feed", "create", "alice", "--name", "phone"])
        .env_remove("STACKFLOW_DATABASE_URL")
        .env_remove("STACKFLOW_CONFIG")
        .env(
            "STACKFLOW_PUBLIC_URL",
            "https://changes.example.com/stackflow",
        )
        .output()
        .expect("run stackflow");
    assert!(output.status.success(), "{output:?}");
    let created = String::from_utf8(output.stdout).expect("utf-8 stdout");
    let lines: Vec<&str> = created.lines().collect();
    assert_eq!(lines.len(), 1, "only the address: {created:?}");
    let key = lines[0]
        .strip_prefix("https://changes.example.com/stackflow/feeds/")
        .and_then(|rest| rest.strip_suffix("/schedule.ics"))
        .unwrap_or_else(|| panic!("a feed address under the public URL: {created:?}"));
    assert!(key.starts_with("sfcal_") && key.len() == 70, "{key}");

    let listed = stdout_of(&db, &["feed", "list"]);
    let fields: Vec<&str> = listed.trim().split('\t').collect();
    assert_eq!(fields[1..3], ["alice", "phone"]);
    assert_eq!(fields[4], "active");
    assert!(!listed.contains(key), "the key is never shown again");

    stdout_of(&db, &["feed", "revoke", fields[0]]);
    let listed = stdout_of(&db, &["feed", "list"]);
    let status = listed.trim().split('\t').nth(4);
    assert!(
        status.is_some_and(|s| s.starts_with("revoked ")),
        "{listed:?}"
    );

    // A feed for someone unknown is refused, and nothing is created.
    let output = stackflow(&db, &["feed", "create", "nobody"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody"));
    assert_eq!(stdout_of(&db, &["feed", "list"]).lines().count(), 1);
}
