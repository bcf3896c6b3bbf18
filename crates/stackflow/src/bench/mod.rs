//! `stackflow bench …`: measurements on a real database, one subcommand
//! per thing measured. Each prints what it did and how long it took, so
//! the figures in `docs/benchmarks.md` can be reproduced.

mod api;
mod cmdb;
mod cpu;
mod impact;
mod import;
mod stats;

use clap::Subcommand;
use stackflow_store::Store;
use std::sync::Arc;

/// What to measure.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Bulk CMDB import of a synthetic estate: CIs, then relationships,
    /// then both again (the idempotent pass).
    Import(import::ImportBench),
    /// Blast-radius latency through the impact index against the
    /// database's recursive SQL query on the same synthetic CMDB, the
    /// index's build time and memory, and the impact endpoint over HTTP.
    Impact(impact::ImpactBenchArgs),
    /// The API under concurrent clients creating and submitting changes
    /// and reading the list and risk, on a generated CMDB and change
    /// history: throughput and latency percentiles per operation.
    Api(api::ApiBenchArgs),
}

/// Runs one benchmark against the configured database.
pub async fn run(store: Arc<dyn Store>, command: BenchCommand) -> anyhow::Result<()> {
    let outcome = match command {
        BenchCommand::Import(args) => import::run(&store, args).await,
        BenchCommand::Impact(args) => impact::run(store.clone(), &args).await,
        BenchCommand::Api(args) => api::run(store.clone(), &args).await,
    };
    store.close().await;
    outcome
}
