//! The live impact index: the pure [`CmdbIndex`] built from the database at
//! start-up and kept current by following the CMDB change log.
//!
//! Freshness: every CMDB write handler catches the index up before it
//! answers, so a write is visible to impact queries on the same instance
//! when it returns. Every impact query also catches up first (one indexed
//! read of the log), so it reflects every CMDB write committed before the
//! query, whichever instance made it. A background follower polls the log
//! as well, so an idle instance stays within one poll interval of the
//! database and queries rarely have anything to apply.
//!
//! A log entry the index cannot place (or a bulk import's `reload` entry)
//! triggers a rebuild from a fresh snapshot; queries keep using the old
//! index until the new one is swapped in.

use stackflow_core::conflict::Relation;
use stackflow_core::graph::{Node, Walker};
use stackflow_core::impact::{CmdbIndex, ImpactPage, ImpactReport, IndexBuilder};
use stackflow_core::risk::CiFacts;
use stackflow_store::{Result, Store};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Log entries read per round trip while catching up.
const LOG_BATCH: u32 = 10_000;

/// The index and the change-log position it reflects.
struct Indexed {
    index: Arc<RwLock<CmdbIndex>>,
    seq: i64,
}

/// Figures about the index, for logs and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// CI slots.
    pub cis: usize,
    /// Dependency edges.
    pub edges: usize,
    /// Approximate bytes held.
    pub memory_bytes: usize,
    /// The change-log sequence number applied last.
    pub seq: i64,
}

/// The shared, self-updating impact index of one StackFlow instance.
pub struct ImpactIndex {
    store: Arc<dyn Store>,
    current: RwLock<Indexed>,
    /// One catch-up (or rebuild) at a time.
    catching_up: tokio::sync::Mutex<()>,
    /// A rebuild is running: queries answer from the previous index rather
    /// than wait for it.
    rebuilding: AtomicBool,
    /// Scratch space for walks, reused across queries.
    walkers: Mutex<Vec<Walker>>,
    /// CIs changed since risk reassessment last looked (see [`Touched`]).
    touched: Mutex<Touched>,
}

/// The CIs that CMDB changes applied to the index touched, so that risk
/// reassessment can find the changes awaiting approval they affect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Each CI changed, or the dependency end of each relationship changed.
    pub names: std::collections::HashSet<String>,
    /// The dependent end of each relationship changed
    /// ([`CmdbChange::new_dependent`]).
    pub dependents: std::collections::HashSet<String>,
    /// The index was rebuilt: anything may have changed.
    pub everything: bool,
}

impl Touched {
    /// Nothing was touched.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.names.is_empty() && self.dependents.is_empty()
    }
}

impl ImpactIndex {
    /// Builds the index from the database.
    pub async fn build(store: Arc<dyn Store>) -> Result<Arc<Self>> {
        let started = Instant::now();
        let indexed = snapshot(store.as_ref()).await?;
        let stats = stats_of(&indexed);
        tracing::info!(
            cis = stats.cis,
            edges = stats.edges,
            memory_mb = stats.memory_bytes / (1024 * 1024),
            millis = started.elapsed().as_millis() as u64,
            "impact index built"
        );
        Ok(Arc::new(ImpactIndex {
            store,
            current: RwLock::new(indexed),
            catching_up: tokio::sync::Mutex::new(()),
            rebuilding: AtomicBool::new(false),
            walkers: Mutex::new(Vec::new()),
            touched: Mutex::new(Touched::default()),
        }))
    }

    /// The change-log sequence number the index has applied.
    pub fn seq(&self) -> i64 {
        self.current.read().unwrap_or_else(|e| e.into_inner()).seq
    }

    /// Figures about the current index.
    pub fn stats(&self) -> IndexStats {
        stats_of(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Applies every change-log entry committed since the last catch-up;
    /// rebuilds when an entry asks for it or cannot be placed.
    pub async fn catch_up(&self) -> Result<()> {
        let _one_at_a_time = self.catching_up.lock().await;
        loop {
            let (index, seq) = {
                let current = self.current.read().unwrap_or_else(|e| e.into_inner());
                (current.index.clone(), current.seq)
            };
            let entries = self.store.cmdb_changes_since(seq, LOG_BATCH).await?;
            let Some(&(last, _)) = entries.last() else {
                return Ok(());
            };
            let mut cut_off = Vec::new();
            let applied = {
                let mut index = index.write().unwrap_or_else(|e| e.into_inner());
                entries.iter().try_for_each(|(_, change)| {
                    cut_off.extend(index.dependents_cut_off(change));
                    index.apply(change)
                })
            };
            match applied {
                Ok(()) => {
                    self.set_seq(last);
                    let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
                    for (_, change) in &entries {
                        match change.touched() {
                            Some(name) => {
                                touched.names.insert(name.to_owned());
                            }
                            None => touched.everything = true,
                        }
                        if let Some(from) = change.new_dependent() {
                            touched.dependents.insert(from.to_owned());
                        }
                    }
                    // A CI deleted takes its dependents' edges with it:
                    // they lost dependencies as if each were unlinked.
                    touched.dependents.extend(cut_off);
                }
                Err(reason) => {
                    self.touched
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .everything = true;
                    tracing::info!(%reason, "rebuilding the impact index");
                    self.rebuilding.store(true, Ordering::Release);
                    let fresh = snapshot(self.store.as_ref()).await;
                    self.rebuilding.store(false, Ordering::Release);
                    *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh?;
                }
            }
        }
    }

    fn set_seq(&self, seq: i64) {
        self.current.write().unwrap_or_else(|e| e.into_inner()).seq = seq;
    }

    /// Catches up, logging rather than failing: a write that committed has
    /// succeeded even if the index could not follow at once (the follower
    /// and the next query retry).
    pub async fn catch_up_or_log(&self) {
        if let Err(error) = self.catch_up().await {
            tracing::warn!(%error, "impact index could not catch up");
        }
    }

    /// Catches up before answering a query, unless a rebuild is running:
    /// then the query is answered from the previous index at once.
    pub async fn refresh_for_query(&self) {
        if !self.rebuilding.load(Ordering::Acquire) {
            self.catch_up_or_log().await;
        }
    }

    /// Polls the change log every `interval` until the index is dropped.
    pub fn follow(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(index) = weak.upgrade() else { return };
                index.catch_up_or_log().await;
            }
        })
    }

    /// The blast radius of the named CIs, as a report. Names the index does
    /// not know are returned apart, in order.
    pub async fn report(
        self: &Arc<Self>,
        roots: Vec<String>,
        depth: Option<u32>,
        page: ImpactPage,
    ) -> (ImpactReport, Vec<String>) {
        let this = self.clone();
        // A walk over a core switch visits hundreds of thousands of CIs:
        // keep it off the async workers.
        tokio::task::spawn_blocking(move || this.report_now(&roots, depth, page))
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
    }

    /// [`report`](Self::report) on the calling thread, without catching up.
    pub fn report_now(
        &self,
        roots: &[String],
        depth: Option<u32>,
        page: ImpactPage,
    ) -> (ImpactReport, Vec<String>) {
        self.with_walker(|index, walker| {
            let mut nodes: Vec<Node> = Vec::with_capacity(roots.len());
            let mut missing = Vec::new();
            for root in roots {
                match index.node(root) {
                    Some(node) => nodes.push(node),
                    None => missing.push(root.clone()),
                }
            }
            let impact = index.blast_radius(walker, &nodes, depth);
            (index.report(walker, &impact, depth, page), missing)
        })
    }

    /// The number of CIs depending on `roots` (the benchmark's probe).
    pub fn count_now(&self, roots: &[String], depth: Option<u32>) -> usize {
        self.with_walker(|index, walker| {
            let nodes: Vec<Node> = roots.iter().filter_map(|r| index.node(r)).collect();
            index.blast_radius(walker, &nodes, depth).reached.len()
        })
    }

    /// Runs `walk` over the current index with a walker from the pool, and
    /// puts the walker back.
    fn with_walker<T>(&self, walk: impl FnOnce(&CmdbIndex, &mut Walker) -> T) -> T {
        let index = self.index();
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        let pooled = self.walkers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut walker = pooled.unwrap_or_else(|| index.walker());
        let result = walk(&index, &mut walker);
        self.walkers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(walker);
        result
    }

    fn index(&self) -> Arc<RwLock<CmdbIndex>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .index
            .clone()
    }
}

async fn snapshot(store: &dyn Store) -> Result<Indexed> {
    let mut builder = IndexBuilder::new();
    let seq = store.cmdb_snapshot(&mut builder).await?;
    Ok(Indexed {
        index: Arc::new(RwLock::new(builder.finish())),
        seq,
    })
}

fn stats_of(indexed: &Indexed) -> IndexStats {
    let index = indexed.index.read().unwrap_or_else(|e| e.into_inner());
    IndexStats {
        cis: index.node_count(),
        edges: index.edge_count(),
        memory_bytes: index.memory_bytes(),
        seq: indexed.seq,
    }
}

/// What risk scoring and conflict detection need from the CMDB, read from
/// one view of the index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RiskView {
    /// The affected CIs the index knows, in the order named.
    pub affected: Vec<CiFacts>,
    /// How many CIs depend on them, at any depth.
    pub blast_radius_cis: u64,
    /// The most critical of those (the nearest, first found, wins ties).
    pub most_critical_dependent: Option<CiFacts>,
    /// For each candidate change's CIs, how they relate to ours, if at all.
    pub relations: Vec<Option<Relation>>,
}

impl RiskView {
    /// The affected CIs as `(name, class)`, what windows are scoped by.
    pub fn affected_names_and_classes(&self) -> Vec<(String, String)> {
        (self.affected.iter())
            .map(|ci| (ci.name.clone(), ci.class.clone()))
            .collect()
    }
}

impl ImpactIndex {
    /// Takes the CIs touched since the last call.
    pub fn take_touched(&self) -> Touched {
        std::mem::take(&mut *self.touched.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Which of `changes` (each with its CIs) a CMDB change may score
    /// differently: those that name a touched CI or have one in their blast
    /// radius, and those on a CI that depends on the dependent end of a
    /// relationship added or removed (their dependencies, and so the
    /// changes they conflict with, moved).
    pub async fn affected_by<K: Send + 'static>(
        self: &Arc<Self>,
        changes: Vec<(K, Vec<String>)>,
        touched: Touched,
    ) -> Vec<K> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.with_walker(|index, walker| {
                let nodes_of = |names: &std::collections::HashSet<String>| -> Vec<Node> {
                    names.iter().filter_map(|n| index.node(n)).collect()
                };
                // A touched CI depends on one of its CIs (or is one): one
                // walk down from the touched CIs.
                index.dependency_closure(walker, &nodes_of(&touched.names));
                let mut hit: Vec<bool> = (changes.iter())
                    .map(|(_, cis)| {
                        cis.iter().any(|ci| {
                            touched.names.contains(ci)
                                || index.node(ci).is_some_and(|n| walker.visited(n))
                        })
                    })
                    .collect();
                // One of its CIs depends on a new dependent (or is one):
                // one walk up from them.
                if !touched.dependents.is_empty() {
                    index.blast_radius(walker, &nodes_of(&touched.dependents), None);
                    for ((_, cis), hit) in changes.iter().zip(&mut hit) {
                        *hit = *hit
                            || cis.iter().any(|ci| {
                                touched.dependents.contains(ci)
                                    || index.node(ci).is_some_and(|n| walker.visited(n))
                            });
                    }
                }
                (changes.into_iter().zip(hit))
                    .filter(|(_, hit)| *hit)
                    .map(|((key, _), _)| key)
                    .collect()
            })
        })
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
    }

    /// The CIs another change must name to conflict with a change on
    /// `ours` (see [`conflict_scope_now`](Self::conflict_scope_now)), off
    /// the async workers.
    pub async fn conflict_scope(
        self: &Arc<Self>,
        ours: Vec<String>,
        limit: usize,
    ) -> Option<Vec<String>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.conflict_scope_now(&ours, limit))
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
    }

    /// The CIs another change must name to conflict with a change on
    /// `ours`: ours, the CIs that depend on them (their blast radius) and
    /// the CIs they depend on (whose blast radius holds ours), sorted.
    /// `None` when there are more than `limit`: a change on a core switch
    /// has most of the CMDB in its scope, and reading every change planned
    /// at the same time is then cheaper than looking them up by CI.
    pub fn conflict_scope_now(&self, ours: &[String], limit: usize) -> Option<Vec<String>> {
        self.with_walker(|index, walker| {
            let roots: Vec<Node> = ours.iter().filter_map(|n| index.node(n)).collect();
            let mut scope: Vec<String> = ours.to_vec();
            let dependents = index.blast_radius(walker, &roots, None);
            if ours.len() + dependents.reached.len() > limit {
                return None;
            }
            scope.extend(
                dependents
                    .reached
                    .iter()
                    .map(|r| index.name(r.node).to_owned()),
            );
            let dependencies = index.dependency_closure(walker, &roots);
            if scope.len() + dependencies.reached.len() > limit {
                return None;
            }
            scope.extend(
                dependencies
                    .reached
                    .iter()
                    .map(|r| index.name(r.node).to_owned()),
            );
            scope.sort();
            scope.dedup();
            Some(scope)
        })
    }

    /// The [`RiskView`] of a change's CIs against candidate changes' CIs,
    /// off the async workers (a walk may visit most of the CMDB).
    pub async fn risk_view(
        self: &Arc<Self>,
        ours: Vec<String>,
        candidates: Vec<Vec<String>>,
    ) -> RiskView {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.risk_view_now(&ours, &candidates))
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
    }

    /// [`risk_view`](Self::risk_view) on the calling thread.
    pub fn risk_view_now(&self, ours: &[String], candidates: &[Vec<String>]) -> RiskView {
        self.with_walker(|index, walker| {
            let facts = |node: Node| CiFacts {
                name: index.name(node).to_owned(),
                class: index.class(node).to_owned(),
                criticality: index.criticality(node),
            };
            let roots: Vec<Node> = ours.iter().filter_map(|n| index.node(n)).collect();
            let (impact, relations) = index.blast_radius_and_conflicts(walker, ours, candidates);
            let mut most_critical: Option<Node> = None;
            for reached in &impact.reached {
                if most_critical
                    .is_none_or(|m| index.criticality(reached.node) > index.criticality(m))
                {
                    most_critical = Some(reached.node);
                }
            }
            let affected = roots.iter().map(|&n| facts(n)).collect();
            RiskView {
                affected,
                blast_radius_cis: impact.reached.len() as u64,
                most_critical_dependent: most_critical.map(facts),
                relations,
            }
        })
    }
}
