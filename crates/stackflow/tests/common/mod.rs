//! What the command-line tests share: a scratch directory and running the
//! built binary against a SQLite file in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_stackflow");

/// A fresh directory, removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `stackflow-<name>-<pid>` under the system temp directory, emptied.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("stackflow-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `stackflow --db sqlite://<db> ARGS…`, ignoring any configuration
/// in the environment.
pub fn stackflow(db: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .arg("--db")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("STACKFLOW_DATABASE_URL")
        .env_remove("STACKFLOW_CONFIG")
        .output()
        .expect("run stackflow")
}
