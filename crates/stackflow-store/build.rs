//! Rebuilds the crate when a migration is added, not only when one changes:
//! `sqlx::migrate!` embeds the migrations at compile time, and cargo does not
//! otherwise watch the folders for new files.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
