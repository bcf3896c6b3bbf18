//! `stackflow bench impact`: blast-radius latency through the in-process
//! index against the database's own recursive SQL query, on the same data
//! in the same run, plus the index's build time and memory and the latency
//! of the impact endpoint over real HTTP.
//!
//! The CMDB is the synthetic estate of [`crate::synthetic`], generated into
//! the configured database (or reused when it is already there). Start sets
//! are drawn from a seeded generator, so every run asks the same questions.
//! Every index answer is checked against the SQL answer: a benchmark of a
//! wrong result is worthless.

use super::stats::Percentiles;
use crate::synthetic::{self, SyntheticCmdb};
use anyhow::bail;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use stackflow_store::Store;
use stackflow_web::clock::SystemClock;
use stackflow_web::impact::ImpactIndex;
use stackflow_web::{AppState, router};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone, clap::Args)]
pub struct ImpactBenchArgs {
    /// CIs in the synthetic CMDB (about four relationships each).
    #[arg(long, default_value_t = 1_000_000)]
    pub cis: usize,
    /// Start sets to query (each at depth 6 and unlimited, index and SQL).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Sequential HTTP requests to the impact endpoint, cycling through the
    /// first CI of every start set (1,000 = five rounds of 200 sets).
    #[arg(long, default_value_t = 1000)]
    pub http_requests: usize,
    /// Seed of the synthetic CMDB and of the start sets.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// About one start set in this many includes a hub.
const HUB_ONE_IN: usize = 100;

/// The depth limits every start set is asked with.
const DEPTHS: [Option<u32>; 2] = [Some(6), None];

/// Runs the benchmark and prints its figures.
pub async fn run(store: Arc<dyn Store>, args: &ImpactBenchArgs) -> anyhow::Result<()> {
    let cmdb = synthetic::generate(args.cis, args.seed);
    super::cmdb::ensure_loaded(&store, &cmdb, args.seed, "impact").await?;
    let sets = start_sets(&cmdb, args.queries, args.seed);
    let relationships = cmdb.relationships.len();
    let cmdb_cis = cmdb.cis.len();
    drop(cmdb);

    let rss_before = resident_bytes();
    let started = Instant::now();
    let index = ImpactIndex::build(store.clone()).await?;
    let build = started.elapsed();
    let rss_after = resident_bytes();
    let stats = index.stats();
    super::cmdb::check_index(&stats, cmdb_cis, relationships)?;
    println!(
        "impact benchmark: {:?} database, {} CIs, {} relationships, {} start sets of 1-5 CIs (seed {})",
        store.backend(),
        stats.cis,
        relationships,
        sets.len(),
        args.seed
    );
    println!(
        "index build from the database: {:.2} s; index memory {:.1} MB (process RSS grew {:.1} MB)",
        build.as_secs_f64(),
        mb(stats.memory_bytes),
        mb(rss_after.saturating_sub(rss_before)),
    );

    println!();
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "blast radius", "p50 ms", "p95 ms", "p99 ms", "max ms", "median CIs"
    );
    let mut ratios = Vec::new();
    for depth in DEPTHS {
        let label = depth.map_or("unlimited".to_owned(), |d| format!("depth {d}"));
        // Warm the walker pool and the caches once, as a running server is.
        for set in &sets {
            index.count_now(set, depth);
        }
        // Two passes, index first, so neither pollutes the other's caches
        // between queries: what each would see serving only its own kind.
        let mut index_times = Vec::with_capacity(sets.len());
        let mut counts = Vec::with_capacity(sets.len());
        for set in &sets {
            let started = Instant::now();
            counts.push(index.count_now(set, depth));
            index_times.push(started.elapsed());
        }
        let mut sql_times = Vec::with_capacity(sets.len());
        for (set, &count) in sets.iter().zip(&counts) {
            let started = Instant::now();
            let by_sql = store.blast_radius_count_sql(set, depth).await?;
            sql_times.push(started.elapsed());
            if by_sql != count as u64 {
                bail!("index and SQL disagree on {set:?} at {label}: {count} vs {by_sql}");
            }
        }
        let (mut hub_index, mut hub_sql, mut hub_counts) = (Vec::new(), Vec::new(), Vec::new());
        for (i, set) in sets.iter().enumerate() {
            if set.iter().any(|ci| ci.contains("-hub-")) {
                hub_index.push(index_times[i]);
                hub_sql.push(sql_times[i]);
                hub_counts.push(counts[i]);
            }
        }
        let index_row = Percentiles::of(&mut index_times);
        let sql_row = Percentiles::of(&mut sql_times);
        index_row.print(&format!("index, {label}"), median(&mut counts));
        sql_row.print(&format!("SQL recursive CTE, {label}"), median(&mut counts));
        let hubs = format!("({} hub sets)", hub_counts.len());
        Percentiles::of(&mut hub_index)
            .print(&format!("  index, {label} {hubs}"), median(&mut hub_counts));
        Percentiles::of(&mut hub_sql)
            .print(&format!("  SQL, {label} {hubs}"), median(&mut hub_counts));
        ratios.push((
            label,
            sql_row.p50 / index_row.p50,
            sql_row.p99 / index_row.p99,
        ));
    }
    println!();
    for (label, p50, p99) in &ratios {
        println!("index vs SQL, {label}: {p50:.0}x faster at p50, {p99:.0}x faster at p99");
    }

    let http = http_latencies(store.clone(), index, &sets, args.http_requests).await?;
    let mut all: Vec<Duration> = http.iter().map(|(time, _)| *time).collect();
    let mut hubs: Vec<Duration> = (http.iter())
        .filter(|(_, hub)| *hub)
        .map(|(time, _)| *time)
        .collect();
    println!();
    Percentiles::of(&mut all).print_http(&format!("{} sequential requests", all.len()));
    Percentiles::of(&mut hubs).print_http(&format!("the {} requests for a hub", hubs.len()));
    Ok(())
}

/// `count` start sets of 1–5 CIs. The first includes a hub (a core switch,
/// SAN array or shared database cluster), and so does about one in a
/// hundred of the others: changes to a core switch are rare, and their blast
/// radius is most of the estate. Their latency is reported apart as well.
fn start_sets(cmdb: &SyntheticCmdb, count: usize, seed: u64) -> Vec<Vec<String>> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed.wrapping_add(0x5eed_5e75));
    let hubs: Vec<&str> = (cmdb.cis.iter())
        .filter(|ci| ci.name.contains("-hub-"))
        .map(|ci| ci.name.as_str())
        .collect();
    (0..count)
        .map(|set_index| {
            let size = rng.random_range(1..=5);
            let mut set: Vec<String> = (0..size)
                .map(|_| cmdb.cis[rng.random_range(0..cmdb.cis.len())].name.clone())
                .collect();
            if !hubs.is_empty() && (set_index == 0 || rng.random_range(0..HUB_ONE_IN) == 0) {
                set[0] = hubs[rng.random_range(0..hubs.len())].to_owned();
            }
            set
        })
        .collect()
}

/// Sequential `GET /api/cis/{name}/impact` (the summary with the first page
/// of CIs) over a real socket, one keep-alive connection.
async fn http_latencies(
    store: Arc<dyn Store>,
    index: Arc<ImpactIndex>,
    sets: &[Vec<String>],
    requests: usize,
) -> anyhow::Result<Vec<(Duration, bool)>> {
    let token = bench_token(&store).await?;
    let state = AppState::new(store, Arc::new(SystemClock), index);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests {
        let root = &sets[i % sets.len()][0];
        let request = hyper::Request::get(format!("/api/cis/{root}/impact"))
            .header(hyper::header::HOST, address.to_string())
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())?;
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = http_body_util::BodyExt::collect(response.into_body()).await?;
        times.push((started.elapsed(), root.contains("-hub-")));
        if !status.is_success() {
            bail!("GET impact of {root}: {status}: {:?}", body.to_bytes());
        }
    }
    server.abort();
    Ok(times)
}

/// A token of the benchmark's own reader account, created on first use.
async fn bench_token(store: &Arc<dyn Store>) -> anyhow::Result<String> {
    use stackflow_core::{Actor, Channel, Role};
    use stackflow_store::{Caller, NewToken, NewUser};
    let caller = Caller::new(
        Actor::new("cli", Role::Admin),
        Channel::Cli,
        chrono::Utc::now(),
    );
    if store.get_user("bench").await?.is_none() {
        let user = NewUser {
            username: "bench".into(),
            display_name: "Impact benchmark".into(),
            email: "bench@localhost.invalid".into(),
            role: Role::Viewer,
        };
        store.create_user(&caller, user).await?;
    }
    let (_, secret) = store
        .create_token(&caller, "bench", NewToken::default())
        .await?;
    Ok(secret)
}

impl Percentiles {
    fn print(&self, label: &str, cis: usize) {
        println!(
            "{label:<34} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {cis:>12}",
            self.p50, self.p95, self.p99, self.max
        );
    }

    fn print_http(&self, requests: &str) {
        println!(
            "GET /api/cis/{{name}}/impact over HTTP, {requests}: \
             p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.p50, self.p95, self.p99, self.max
        );
    }
}

fn median(values: &mut [usize]) -> usize {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The process's resident set size, where the platform tells (Linux).
fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}
