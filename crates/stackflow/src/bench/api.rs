//! `stackflow bench api`: the whole service under a concurrent load of
//! change requests, over real HTTP.
//!
//! Prepares the database (migrated by the CLI): the synthetic CMDB of
//! [`crate::synthetic`] (loaded once, reused later), the people the
//! benchmark acts as, and a history of existing changes so the list is
//! measured at its size. Then serves the real router on a local socket and
//! runs `--clients` clients, each on its own keep-alive connection, each
//! looping: create a normal change on 1–3 random CIs, submit it, read a
//! page of the change list (alternately all changes and those in
//! assessment) and the risk of one of its recent changes. The job worker
//! runs beside them, as in `serve`, reassessing the changes submissions
//! flag. A warm-up is left out of the figures; any non-2xx response fails
//! the benchmark.

mod client;
mod history;
mod prepare;
mod report;
mod text;

use super::cpu::{CpuSample, CpuUse};
use crate::synthetic;
use anyhow::{Context, bail};
use stackflow_store::{Store, WriterUse};
use stackflow_web::clock::SystemClock;
use stackflow_web::{AppState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the server's impact index polls the CMDB change log, as
/// `serve` does.
const IMPACT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiBenchArgs {
    /// CIs in the synthetic CMDB (about four relationships each).
    #[arg(long, default_value_t = 1_000_000)]
    pub cis: usize,
    /// Changes the database holds before the run (seeded when fewer).
    #[arg(long, default_value_t = 1_000_000)]
    pub changes: u64,
    /// The newest share of the seeded history still open (scheduled or in
    /// assessment), 0–1. The default, 2%, is about the last two weeks of
    /// the two-year history; 0.15 is what runs before 2026-11-29 seeded.
    /// Only changes seeded by this run follow it.
    #[arg(long, default_value_t = 0.02)]
    pub open_share: f64,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Seconds to measure, after the warm-up.
    #[arg(long, default_value_t = 20, conflicts_with = "ops")]
    pub seconds: u64,
    /// Measure this many iterations (create, submit, list, risk) in all,
    /// after the warm-up, instead of a time.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds of warm-up, left out of the figures.
    #[arg(long, default_value_t = 3)]
    pub warmup: u64,
    /// Seed of the synthetic CMDB, the history and the clients' draws.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// Settles the database before the clients start, so that each run
/// measures its own load:
/// - assesses the seeded changes awaiting approval, as their submission
///   would have (once: on a later run none is left without one). The
///   seeder writes them without assessments or conflict records; left so,
///   the first submission to conflict with one sets off a chain of first
///   assessments through the others in the clients' time;
/// - runs every job already due (reassessments an earlier run or that
///   first assessment left behind), so each run starts from an empty queue.
async fn settle(state: &AppState) -> anyhow::Result<()> {
    let assessing = stackflow_web::risk::assess_unassessed_awaiting_approval(state);
    timed_step(assessing, "assessing the seeded changes", |n| {
        format!("assessed {n} seeded changes awaiting approval")
    })
    .await?;
    let draining = stackflow_web::jobs::run_due(state, "bench-drain");
    timed_step(draining, "running the jobs left due", |n| {
        format!("ran {n} jobs an earlier run left due")
    })
    .await
}

/// Runs one settling step and, when it did anything, says what and how
/// long it took.
async fn timed_step(
    step: impl std::future::Future<Output = Result<usize, stackflow_web::problem::AppError>>,
    failing: &str,
    done: impl FnOnce(usize) -> String,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let count = step
        .await
        .map_err(|e| anyhow::anyhow!("{failing}: {e:?}"))?;
    if count > 0 {
        println!(
            "{} in {:.1} s",
            done(count),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The pending jobs already due, by kind.
async fn due_jobs(store: &Arc<dyn Store>) -> anyhow::Result<Vec<(String, usize)>> {
    let now = chrono::Utc::now();
    let mut due: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for job in store.pending_jobs().await? {
        if job.run_at <= now {
            let kind = job
                .kind
                .map_or_else(|unknown| unknown, |k| k.as_str().to_owned());
            *due.entry(kind).or_default() += 1;
        }
    }
    Ok(due.into_iter().collect())
}

/// Runs the benchmark and prints its figures.
pub async fn run(store: Arc<dyn Store>, args: &ApiBenchArgs) -> anyhow::Result<()> {
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(0.0..=1.0).contains(&args.open_share) {
        bail!("--open-share must be between 0 and 1");
    }
    let cmdb = synthetic::generate(args.cis, args.seed);
    super::cmdb::ensure_loaded(&store, &cmdb, args.seed, "api").await?;
    let (cmdb_cis, relationships) = (cmdb.cis.len(), cmdb.relationships.len());
    let cis: Arc<Vec<String>> = Arc::new(cmdb.cis.into_iter().map(|ci| ci.name).collect());
    // The server's impact index sees the whole CMDB: checked against the
    // generated one before anything else is written.
    let state = AppState::build(store.clone(), Arc::new(SystemClock))
        .await
        .context("building the impact index")?;
    super::cmdb::check_index(&state.impact.stats(), cmdb_cis, relationships)?;
    prepare::people(&store).await?;
    prepare::top_up_changes(
        &store,
        cis.clone(),
        args.changes,
        args.seed,
        args.open_share,
    )
    .await?;
    settle(&state).await?;
    let before = store.table_counts_for_benchmark().await?;
    let _follower = state.impact.follow(IMPACT_POLL_INTERVAL);
    // The job worker runs as in `serve`: reassessing the changes a
    // submission flagged is part of the load, only not of the request.
    let jobs = stackflow_web::jobs::spawn_worker(state.clone(), stackflow_web::jobs::POLL_INTERVAL);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let token = prepare::token(&store).await?;

    println!(
        "API benchmark: {:?} database, {} clients, {} s warm-up, then {} (seed {})",
        store.backend(),
        args.clients,
        args.warmup,
        args.ops
            .map_or(format!("{} s", args.seconds), |n| format!("{n} iterations")),
        args.seed
    );
    report::print_counts("database before the run", &before);
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup);
    let until = args
        .ops
        .is_none()
        .then(|| measure_from + Duration::from_secs(args.seconds));
    let clients: Vec<_> = (0..args.clients)
        .map(|i| {
            let iterations = args.ops.map(|n| {
                let share = n / args.clients as u64;
                share + u64::from((i as u64) < n % args.clients as u64)
            });
            tokio::spawn(client::run(client::Plan {
                address,
                token: token.clone(),
                cis: cis.clone(),
                measure_from,
                until,
                iterations,
                seed: args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
            }))
        })
        .collect();
    // The process's CPU over the measured window: the server, the job
    // worker and the clients alike, as they share the machine.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_from = CpuSample::now();
    let writer_from = store.writer_reading();
    let mut outcomes = Vec::with_capacity(clients.len());
    for client in clients {
        outcomes.push(client.await.context("a client panicked")??);
    }
    let cpu_until = CpuSample::now();
    let writer_until = store.writer_reading();
    server.abort();
    jobs.abort();
    let finished = (outcomes.iter())
        .filter_map(|o| o.finished)
        .max()
        .unwrap_or(measure_from);
    let window = finished.saturating_duration_since(measure_from);

    let summary = report::Summary::of(&mut outcomes, window);
    summary.print();
    if let (Some(from), Some(until), Some(pairs)) = (&cpu_from, &cpu_until, summary.pairs()) {
        let used = CpuUse::between(from, until);
        println!(
            "\n{}",
            used.describe("create, submit, a list, a risk read", pairs)
        );
    }
    if let (Some(from), Some(until), Some(pairs)) = (&writer_from, &writer_until, summary.pairs()) {
        let used = WriterUse::between(from, until);
        println!("{}", report::describe_writer(&used, pairs));
    }
    let after = store.table_counts_for_benchmark().await?;
    report::print_counts("database after the run", &after);
    let due: Vec<String> = (due_jobs(&store).await?.iter())
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    println!(
        "jobs due and not yet run at the end (the worker's backlog): {}",
        if due.is_empty() {
            "none".to_owned()
        } else {
            due.join(", ")
        }
    );
    if !summary.errors.is_empty() {
        bail!(
            "{} request(s) failed (first shown above)",
            summary.errors.len()
        );
    }
    Ok(())
}
