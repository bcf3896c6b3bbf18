//! The README's promises, tested as a user would meet them: the `demo`
//! command, the walkthrough's shell commands exactly as written, and the
//! bootstrap commands of the API contract.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_stackflow");

/// Kills the server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stackflow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The shell block between the walkthrough markers of README.md.
fn readme_walkthrough() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("walkthrough start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("walkthrough end marker");
    let block = &readme[start..end];
    let body_start = block.find("```sh\n").expect("sh fence") + "```sh\n".len();
    let body_end = block.rfind("```").expect("closing fence");
    block[body_start..body_end].to_owned()
}

/// Starts `stackflow demo` on a free port and returns it with the
/// `export NAME=value` lines it printed.
fn start_demo(dir: &Path) -> (Server, Vec<(String, String)>) {
    let mut child = Command::new(BINARY)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(format!("sqlite://{}", dir.join("demo.db").display()))
        .env_remove("STACKFLOW_DATABASE_URL")
        .env_remove("STACKFLOW_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start stackflow demo");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut exports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("demo output");
        if let Some(assignment) = line.trim().strip_prefix("export ")
            && let Some((name, value)) = assignment.split_once('=')
        {
            exports.push((name.to_owned(), value.to_owned()));
        }
        if line.starts_with("Press Ctrl-C") {
            return (server, exports);
        }
    }
    panic!("stackflow demo exited before it was ready");
}

#[test]
fn the_readme_walkthrough_runs_as_written_against_the_demo() {
    let has_curl = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_curl,
        "the README walkthrough uses curl: install it (apt-get install curl)"
    );
    let dir = temp_dir("walkthrough");
    let (_server, exports) = start_demo(&dir);
    for name in [
        "STACKFLOW",
        "ALICE_TOKEN",
        "IVAN_TOKEN",
        "BOB_TOKEN",
        "CAROL_TOKEN",
        "DAVE_TOKEN",
        "SCHEDULE_FEED",
    ] {
        assert!(
            exports.iter().any(|(n, _)| n == name),
            "demo did not print {name}"
        );
    }
    // The calendar feed answers a client that sends no token.
    let (_, feed) = exports
        .iter()
        .find(|(n, _)| n == "SCHEDULE_FEED")
        .expect("printed");
    let calendar = Command::new("curl")
        .args(["-fsS", feed])
        .output()
        .expect("run curl");
    assert!(calendar.status.success(), "{calendar:?}");
    assert!(
        String::from_utf8_lossy(&calendar.stdout).starts_with("BEGIN:VCALENDAR"),
        "{calendar:?}"
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &readme_walkthrough()])
        .envs(exports)
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "created CHG0000007",
        "\"state\":\"assess\"",
        "\"automated_score\":",
        "\"state\":\"authorize\"",
        "\"status\":\"approved\",\"round\":1",
        "\"state\":\"review\"",
        "\"state\":\"closed\"",
        "\"action\":\"change.reviewed\"",
    ] {
        assert!(
            stdout.contains(expected),
            "walkthrough output lacks {expected}:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn stackflow(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(BINARY)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("STACKFLOW_DATABASE_URL")
        .output()
        .expect("run stackflow")
}

#[test]
fn bootstrap_commands_create_people_and_print_only_the_token() {
    let dir = temp_dir("bootstrap");
    let db = format!("sqlite://{}", dir.join("stackflow.db").display());
    for person in ["alice", "bob", "carol", "dave"] {
        let email = format!("{person}@example.com");
        let role = if person == "alice" {
            "requester"
        } else {
            "implementer"
        };
        let out = stackflow(
            &db,
            &["user", "add", person, "--email", &email, "--role", role],
        );
        assert!(
            out.status.success(),
            "user add {person}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = stackflow(
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
    assert!(
        out.status.success(),
        "group add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = stackflow(&db, &["token", "create", "alice"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "token create must print only the token: {stdout:?}"
    );
    assert!(
        lines[0].starts_with("sf_") && lines[0].len() == 67,
        "{stdout:?}"
    );

    let out = stackflow(&db, &["group", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "CAB\tcab\tbob,carol,dave"
    );

    // Bad input is refused with a clear message and a failing exit code.
    let out = stackflow(
        &db,
        &[
            "user",
            "add",
            "alice",
            "--email",
            "a@example.com",
            "--role",
            "requester",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = stackflow(
        &db,
        &[
            "user",
            "add",
            "zed",
            "--email",
            "z@example.com",
            "--role",
            "wizard",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected one of"));
    let out = stackflow(
        &db,
        &[
            "group",
            "add",
            "ECAB",
            "--kind",
            "ecab",
            "--members",
            "nobody",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown users: nobody"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_refuses_to_reset_a_database_it_did_not_create() {
    let dir = temp_dir("demo-refusal");
    let db = format!("sqlite://{}", dir.join("prod.db").display());
    let out = stackflow(
        &db,
        &[
            "user",
            "add",
            "realadmin",
            "--email",
            "ra@example.com",
            "--role",
            "admin",
        ],
    );
    assert!(out.status.success());
    let out = Command::new(BINARY)
        .args(["demo", "--listen", "127.0.0.1:0", "--db", &db])
        .output()
        .expect("run stackflow demo");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a StackFlow demo database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let users = stackflow(&db, &["user", "list"]);
    assert!(String::from_utf8_lossy(&users.stdout).starts_with("realadmin\t"));
    let _ = std::fs::remove_dir_all(dir);
}
