//! `stackflow check` as an operator runs it on a new installation: before
//! migrating, after migrating (the boards are missing), and once the CAB
//! and ECAB exist (everything in place, exit 0).

mod common;

use common::{TempDir, stackflow};
use std::path::Path;

/// Runs `check`; returns whether it passed and what it printed.
fn check(db: &Path) -> (bool, String) {
    let output = stackflow(db, &["check"]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[track_caller]
fn run(db: &Path, args: &[&str]) {
    let output = stackflow(db, args);
    assert!(
        output.status.success(),
        "stackflow {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn check_names_what_is_missing_until_the_boards_exist() {
    let dir = TempDir::new("check");
    let db = dir.0.join("check.db");

    let (passed, report) = check(&db);
    assert!(!passed, "{report}");
    assert!(
        report.contains("MISSING  migrations not applied: 0001_spine"),
        "{report}"
    );
    assert!(report.contains("fix: run `stackflow migrate`"), "{report}");

    run(&db, &["migrate"]);
    let (passed, report) = check(&db);
    assert!(!passed, "{report}");
    assert!(
        report.contains("ok       every migration is applied"),
        "{report}"
    );
    assert!(
        report.contains("MISSING  no group of kind `cab` (CAB)"),
        "{report}"
    );
    assert!(
        report.contains("MISSING  no group of kind `ecab` (ECAB)"),
        "{report}"
    );
    // The default workflows `migrate` installs count.
    assert!(
        report.contains("ok       active approval workflows: emergency-default, normal-default"),
        "{report}"
    );
    assert!(report.contains("2 prerequisite(s) missing"), "{report}");

    for user in ["bob", "carol", "dave"] {
        run(
            &db,
            &[
                "user",
                "add",
                user,
                "--email",
                &format!("{user}@example.com"),
                "--role",
                "implementer",
            ],
        );
    }
    run(
        &db,
        &[
            "group",
            "add",
            "CAB",
            "--kind",
            "cab",
            "--members",
            "bob,carol,dave",
        ],
    );
    run(
        &db,
        &[
            "group",
            "add",
            "ECAB",
            "--kind",
            "ecab",
            "--members",
            "bob,carol",
        ],
    );
    let (passed, report) = check(&db);
    assert!(passed, "{report}");
    assert!(
        report.contains("ok       ECAB: group `ECAB` with 2 active member(s)"),
        "{report}"
    );
    assert!(
        report.contains("n/a      mail sender and SMTP relay"),
        "{report}"
    );
    assert!(report.contains("everything is in place"), "{report}");
}
