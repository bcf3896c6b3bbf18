//! `stackflow bench …`: measurements on a real database, one subcommand
//! per thing measured. Each prints what it did and how long it took, so
//! the figures in `docs/benchmarks.md` can be reproduced.

mod import;

use clap::Subcommand;
use stackflow_store::Store;
use std::sync::Arc;

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Bulk CMDB import of a synthetic estate: CIs, then relationships,
    /// then both again (the idempotent pass).
    Import(import::ImportBench),
}

/// Runs one benchmark against the configured database.
pub async fn run(store: Arc<dyn Store>, command: BenchCommand) -> anyhow::Result<()> {
    let outcome = match command {
        BenchCommand::Import(args) => import::run(&store, args).await,
    };
    store.close().await;
    outcome
}
