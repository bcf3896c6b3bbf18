//! The impact index: every CI's name, class and criticality beside the
//! dependency graph, so a blast radius can be answered in memory, and the
//! report a reviewer reads.
//!
//! The index is built once from a database snapshot ([`IndexBuilder`]) and
//! then follows the CMDB change log ([`CmdbIndex::apply`]). Names live in
//! one string arena with a hash table of node indices over it rather than a
//! map of owned strings: a million CIs cost tens of megabytes, not hundreds.
//! Deleted CIs keep their slot (their edges are removed, their name no
//! longer resolves); a rebuild reclaims it.

use crate::conflict::Relation;
use crate::enums::Criticality;
use crate::graph::{DependencyGraph, Impact, Node, Reached, Walker};
use hashbrown::HashTable;
use serde::Serialize;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use utoipa::ToSchema;

/// One change to the CMDB as the change log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdbChange {
    /// A CI was created or its class or criticality changed.
    Ci {
        /// Its name.
        name: String,
        /// Its class.
        class: String,
        /// Its criticality.
        criticality: Criticality,
    },
    /// A CI was deleted (its relationships are logged as deleted first).
    CiDeleted {
        /// Its name.
        name: String,
    },
    /// "`from` depends on `to`" now holds (through at least one relationship).
    Relationship {
        /// The dependent CI.
        from: String,
        /// The CI it depends on.
        to: String,
    },
    /// No relationship from `from` to `to` remains.
    RelationshipDeleted {
        /// The dependent CI.
        from: String,
        /// The CI it depended on.
        to: String,
    },
    /// Too much changed at once (a bulk import): rebuild from the database.
    Reload,
}

impl CmdbChange {
    /// The CI whose dependents' blast radius may look different after this
    /// change: the CI itself, or the dependency end of a relationship (a
    /// change whose CIs or blast radius include it may score differently).
    /// `None` for a reload, after which anything may have changed.
    pub fn touched(&self) -> Option<&str> {
        match self {
            CmdbChange::Ci { name, .. } | CmdbChange::CiDeleted { name } => Some(name),
            CmdbChange::Relationship { to, .. } | CmdbChange::RelationshipDeleted { to, .. } => {
                Some(to)
            }
            CmdbChange::Reload => None,
        }
    }

    /// The dependent end of a relationship added or removed. Every CI that
    /// depends on it (and it) gains or loses, as dependencies, the other
    /// end and everything that one depends on, so a change on one of them
    /// may meet, or stop meeting, a change on those in conflict detection.
    /// `None` for any other change.
    pub fn new_dependent(&self) -> Option<&str> {
        match self {
            CmdbChange::Relationship { from, .. }
            | CmdbChange::RelationshipDeleted { from, .. } => Some(from),
            _ => None,
        }
    }
}

/// Why a change could not be applied: the index has drifted from the
/// database and must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The change names a CI the index does not know.
    #[error("the index does not know CI `{0}`")]
    UnknownCi(String),
    /// The change asks for a rebuild.
    #[error("a rebuild from the database is needed")]
    ReloadNeeded,
}

/// Receives a database snapshot: every CI (in ascending id order), then
/// every relationship by CI ids.
pub trait CmdbSink {
    /// One CI.
    fn ci(&mut self, id: i64, name: &str, class: &str, criticality: Criticality);
    /// "The CI with id `from` depends on the CI with id `to`".
    fn relationship(&mut self, from: i64, to: i64);
    /// Forget everything received: the snapshot starts over.
    fn restart(&mut self);
}

/// The name of `node` in an arena of names that end at `name_ends`.
fn name_in<'a>(names: &'a str, name_ends: &[u32], node: Node) -> &'a str {
    let i = node as usize;
    let start = if i == 0 { 0 } else { name_ends[i - 1] };
    &names[start as usize..name_ends[i] as usize]
}

/// CI attributes stored column-wise, names in one arena.
#[derive(Debug, Default)]
struct CiTable {
    names: String,
    name_ends: Vec<u32>,
    class: Vec<u32>,
    classes: Vec<String>,
    criticality: Vec<Criticality>,
    lookup: HashTable<Node>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl CiTable {
    fn len(&self) -> usize {
        self.name_ends.len()
    }

    fn name(&self, node: Node) -> &str {
        name_in(&self.names, &self.name_ends, node)
    }

    fn find(&self, name: &str) -> Option<Node> {
        let hash = self.hasher.hash_one(name);
        self.lookup.find(hash, |&n| self.name(n) == name).copied()
    }

    fn class_id(&mut self, class: &str) -> u32 {
        match self.classes.iter().position(|c| c == class) {
            Some(i) => i as u32,
            None => {
                self.classes.push(class.to_owned());
                (self.classes.len() - 1) as u32
            }
        }
    }

    /// Appends a CI; the caller has checked the name is not taken.
    fn push(&mut self, name: &str, class: &str, criticality: Criticality) -> Node {
        let node = self.len() as Node;
        self.names.push_str(name);
        self.name_ends.push(self.names.len() as u32);
        let class = self.class_id(class);
        self.class.push(class);
        self.criticality.push(criticality);
        let hash = self.hasher.hash_one(name);
        let CiTable {
            lookup,
            names,
            name_ends,
            hasher,
            ..
        } = self;
        // Growing the table rehashes its entries: by name, from the arena
        // (borrowed field by field, beside the table being grown).
        let rehash = |n: &Node| hasher.hash_one(name_in(names, name_ends, *n));
        lookup.insert_unique(hash, node, rehash);
        node
    }

    fn forget(&mut self, node: Node) {
        let hash = self.hasher.hash_one(self.name(node));
        if let Ok(entry) = self.lookup.find_entry(hash, |&n| n == node) {
            entry.remove();
        }
    }

    fn memory_bytes(&self) -> usize {
        self.names.capacity()
            + self.name_ends.capacity() * 4
            + self.class.capacity() * 4
            + self.criticality.capacity()
            + self.lookup.capacity() * (std::mem::size_of::<Node>() + 1)
            + self
                .classes
                .iter()
                .map(|c| c.capacity() + 24)
                .sum::<usize>()
    }
}

/// Builds an index from a snapshot, fed through [`CmdbSink`].
#[derive(Debug, Default)]
pub struct IndexBuilder {
    cis: CiTable,
    /// Database ids in node order, to resolve relationship rows.
    ids: Vec<i64>,
    /// How relationship rows find their nodes; built at the first one.
    lookup: Option<IdLookup>,
    edges: Vec<(Node, Node)>,
}

impl IndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        IndexBuilder::default()
    }

    /// The finished index.
    pub fn finish(self) -> CmdbIndex {
        let graph = DependencyGraph::from_edges(self.cis.len(), &self.edges);
        let reversed: Vec<(Node, Node)> = self.edges.iter().map(|&(f, t)| (t, f)).collect();
        let dependencies = DependencyGraph::from_edges(self.cis.len(), &reversed);
        CmdbIndex {
            cis: self.cis,
            graph,
            dependencies,
        }
    }
}

impl CmdbSink for IndexBuilder {
    fn ci(&mut self, id: i64, name: &str, class: &str, criticality: Criticality) {
        if self.cis.find(name).is_some() {
            return;
        }
        self.lookup = None;
        self.ids.push(id);
        self.cis.push(name, class, criticality);
    }

    fn relationship(&mut self, from: i64, to: i64) {
        let lookup = self.lookup.get_or_insert_with(|| IdLookup::of(&self.ids));
        if let (Some(from), Some(to)) = (lookup.node(from), lookup.node(to)) {
            self.edges.push((from, to));
        }
    }

    fn restart(&mut self) {
        *self = IndexBuilder::new();
    }
}

/// Database id → node, for relationship rows.
#[derive(Debug)]
enum IdLookup {
    /// `nodes[id - first]`, when the ids span at most four times their
    /// count (they usually do: ids are allocated in sequence); a few
    /// megabytes for a million CIs.
    Dense { first: i64, nodes: Vec<Node> },
    /// `(id, node)` sorted by id, searched.
    Sorted(Vec<(i64, Node)>),
}

impl IdLookup {
    fn of(ids: &[i64]) -> IdLookup {
        let span = match (ids.iter().min(), ids.iter().max()) {
            (Some(&first), Some(&last)) => {
                usize::try_from(last - first).ok().map(|s| (first, s + 1))
            }
            _ => None,
        };
        if let Some((first, span)) = span
            && span <= ids.len().saturating_mul(4).max(1024)
        {
            let mut nodes = vec![Node::MAX; span];
            for (node, &id) in ids.iter().enumerate() {
                nodes[(id - first) as usize] = node as Node;
            }
            return IdLookup::Dense { first, nodes };
        }
        let mut sorted: Vec<(i64, Node)> = (ids.iter())
            .enumerate()
            .map(|(node, &id)| (id, node as Node))
            .collect();
        sorted.sort_unstable();
        IdLookup::Sorted(sorted)
    }

    fn node(&self, id: i64) -> Option<Node> {
        match self {
            IdLookup::Dense { first, nodes } => {
                let slot = usize::try_from(id.checked_sub(*first)?).ok()?;
                nodes.get(slot).copied().filter(|&n| n != Node::MAX)
            }
            IdLookup::Sorted(sorted) => sorted
                .binary_search_by_key(&id, |&(id, _)| id)
                .ok()
                .map(|i| sorted[i].1),
        }
    }
}

/// The impact index: CIs, the reversed dependency graph (who depends on
/// a CI: its blast radius) and the forward one (what a CI depends on).
#[derive(Debug, Default)]
pub struct CmdbIndex {
    cis: CiTable,
    graph: DependencyGraph,
    /// The same edges the other way round. Conflict detection and risk
    /// reassessment ask "does this CI depend on that one": one walk down
    /// from a CI (usually a few dozen dependencies) instead of one walk up
    /// from every other CI (a storage array's is most of the CMDB).
    dependencies: DependencyGraph,
}

impl CmdbIndex {
    /// The node of the CI named `name`, if it exists.
    pub fn node(&self, name: &str) -> Option<Node> {
        self.cis.find(name)
    }

    /// A CI's name.
    pub fn name(&self, node: Node) -> &str {
        self.cis.name(node)
    }

    /// A CI's class.
    pub fn class(&self, node: Node) -> &str {
        &self.cis.classes[self.cis.class[node as usize] as usize]
    }

    /// A CI's criticality.
    pub fn criticality(&self, node: Node) -> Criticality {
        self.cis.criticality[node as usize]
    }

    /// Slots in the graph (deleted CIs included until the next rebuild).
    pub fn node_count(&self) -> usize {
        self.cis.len()
    }

    /// Dependency edges held.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Bytes held by the index (approximate; excludes walkers).
    pub fn memory_bytes(&self) -> usize {
        self.cis.memory_bytes() + self.graph.memory_bytes() + self.dependencies.memory_bytes()
    }

    /// The CIs that lose a dependency when `change` is applied and that
    /// [`CmdbChange::new_dependent`] cannot name: for a CI deleted, the CIs
    /// that depended on it directly (its edges go with it, unlogged).
    /// Asked before applying the change, while those edges are there.
    pub fn dependents_cut_off(&self, change: &CmdbChange) -> Vec<String> {
        match change {
            CmdbChange::CiDeleted { name } => self.node(name).map_or_else(Vec::new, |node| {
                (self.graph.dependents(node))
                    .map(|dependent| self.name(dependent).to_owned())
                    .collect()
            }),
            _ => Vec::new(),
        }
    }

    /// Applies one logged change. An error means the index no longer
    /// matches the database and must be rebuilt.
    pub fn apply(&mut self, change: &CmdbChange) -> Result<(), ApplyError> {
        match change {
            CmdbChange::Ci {
                name,
                class,
                criticality,
            } => match self.node(name) {
                Some(node) => {
                    let class = self.cis.class_id(class);
                    self.cis.class[node as usize] = class;
                    self.cis.criticality[node as usize] = *criticality;
                }
                None => {
                    self.cis.push(name, class, *criticality);
                    self.graph.add_node();
                    self.dependencies.add_node();
                }
            },
            CmdbChange::CiDeleted { name } => {
                let node = self.known(name)?;
                let dependents: Vec<Node> = self.graph.dependents(node).collect();
                for dependent in dependents {
                    self.graph.remove_edge(dependent, node);
                    self.dependencies.remove_edge(node, dependent);
                }
                self.cis.forget(node);
            }
            CmdbChange::Relationship { from, to } => {
                let (from, to) = (self.known(from)?, self.known(to)?);
                self.graph.add_edge(from, to);
                self.dependencies.add_edge(to, from);
            }
            CmdbChange::RelationshipDeleted { from, to } => {
                let (from, to) = (self.known(from)?, self.known(to)?);
                self.graph.remove_edge(from, to);
                self.dependencies.remove_edge(to, from);
            }
            CmdbChange::Reload => return Err(ApplyError::ReloadNeeded),
        }
        // Keep the overlay small: fold it in once it is a sizeable fraction.
        for graph in [&mut self.graph, &mut self.dependencies] {
            if graph.overlay_edges() > 4096.max(graph.edge_count() / 8) {
                graph.compact();
            }
        }
        Ok(())
    }

    fn known(&self, name: &str) -> Result<Node, ApplyError> {
        self.node(name)
            .ok_or_else(|| ApplyError::UnknownCi(name.to_owned()))
    }

    /// A walker sized for this index.
    pub fn walker(&self) -> Walker {
        Walker::new(self.node_count())
    }

    /// The blast radius of `roots` (see [`Walker::blast_radius`]).
    pub fn blast_radius(&self, walker: &mut Walker, roots: &[Node], depth: Option<u32>) -> Impact {
        walker.blast_radius(&self.graph, roots, depth)
    }

    /// Every CI that `roots` depend on, directly or transitively (the walk
    /// down, where [`blast_radius`](Self::blast_radius) walks up).
    pub fn dependency_closure(&self, walker: &mut Walker, roots: &[Node]) -> Impact {
        walker.blast_radius(&self.dependencies, roots, None)
    }

    /// How each candidate change's CIs relate to `ours`, if at all, named
    /// the same way whichever of the two changes is assessed: each side
    /// writes the record the other holds, so two views that named different
    /// CIs would rewrite each other's records (and reassess each other)
    /// without end.
    ///
    /// - A CI both name: the first such by name.
    /// - Otherwise, of the CIs of either change that depend on a CI of the
    ///   other, the first by name: one of theirs that depends on ours
    ///   ([`Relation::TheirsInOurBlastRadius`]) or one of ours that depends
    ///   on theirs ([`Relation::OursInTheirBlastRadius`]).
    pub fn conflict_relations(
        &self,
        walker: &mut Walker,
        ours: &[String],
        candidates: &[Vec<String>],
    ) -> Vec<Option<Relation>> {
        self.blast_radius_and_conflicts(walker, ours, candidates).1
    }

    /// The unlimited blast radius of `ours` (walked from them in the order
    /// named) and [`conflict_relations`](Self::conflict_relations), from
    /// one walk up: risk scoring needs both.
    pub fn blast_radius_and_conflicts(
        &self,
        walker: &mut Walker,
        ours: &[String],
        candidates: &[Vec<String>],
    ) -> (Impact, Vec<Option<Relation>>) {
        let nodes: Vec<Node> = ours.iter().filter_map(|name| self.node(name)).collect();
        // One walk up: their CIs that depend on ours.
        let dependents = self.blast_radius(walker, &nodes, None);
        let mut relations: Vec<Option<Relation>> = candidates
            .iter()
            .map(|theirs| {
                let shared = theirs.iter().filter(|ci| ours.contains(ci)).min();
                let dependent = || {
                    (theirs.iter())
                        .filter(|ci| self.node(ci).is_some_and(|n| walker.visited(n)))
                        .min()
                };
                match shared {
                    Some(ci) => Some(Relation::SharedCi(ci.clone())),
                    None => dependent().map(|ci| Relation::TheirsInOurBlastRadius(ci.clone())),
                }
            })
            .collect();
        let mut roots: Vec<(&str, Node)> = (ours.iter())
            .filter_map(|name| self.node(name).map(|node| (name.as_str(), node)))
            .collect();
        roots.sort();
        // A walk down from each of ours, in name order: the first of ours
        // whose dependencies hold one of theirs, unless one of theirs found
        // above comes first by name.
        let mut settled: Vec<bool> = (relations.iter())
            .map(|r| matches!(r, Some(Relation::SharedCi(_))))
            .collect();
        for (name, root) in roots {
            self.dependency_closure(walker, &[root]);
            for ((theirs, relation), settled) in candidates
                .iter()
                .zip(relations.iter_mut())
                .zip(settled.iter_mut())
            {
                if *settled {
                    continue;
                }
                let reaches_theirs =
                    (theirs.iter()).any(|ci| self.node(ci).is_some_and(|n| walker.visited(n)));
                if !reaches_theirs {
                    continue;
                }
                *settled = true;
                let theirs_first = matches!(
                    relation,
                    Some(Relation::TheirsInOurBlastRadius(ci)) if ci.as_str() < name
                );
                if !theirs_first {
                    *relation = Some(Relation::OursInTheirBlastRadius(name.to_owned()));
                }
            }
        }
        (dependents, relations)
    }

    /// The report of a walk: totals, a summary by class and criticality,
    /// and one page of impacted CIs, most critical first, each with the
    /// chain back to its root. `walker` must be the one that made `impact`.
    pub fn report(
        &self,
        walker: &Walker,
        impact: &Impact,
        depth_limit: Option<u32>,
        page: ImpactPage,
    ) -> ImpactReport {
        // One pass for every total, and the group sizes the page needs.
        let mut by_class = vec![0usize; self.cis.classes.len()];
        let mut by_criticality = [0usize; 4];
        let mut most_critical: Option<Node> = None;
        let depths = impact.max_depth_reached as usize + 1;
        let mut group_sizes = vec![0usize; 4 * depths];
        for reached in &impact.reached {
            let i = reached.node as usize;
            by_class[self.cis.class[i] as usize] += 1;
            let criticality = self.cis.criticality[i];
            let rank = criticality_rank(criticality);
            by_criticality[rank] += 1;
            group_sizes[(3 - rank) * depths + reached.depth as usize] += 1;
            if most_critical.is_none_or(|m| criticality > self.criticality(m)) {
                most_critical = Some(reached.node);
            }
        }
        let (page_items, end) = self.page_of(impact, page, &group_sizes);
        let items = page_items
            .into_iter()
            .map(|r| ImpactItem {
                name: self.name(r.node).to_owned(),
                class: self.class(r.node).to_owned(),
                criticality: self.criticality(r.node),
                depth: r.depth,
                path: walker
                    .path_to_root(impact, r.node)
                    .into_iter()
                    .map(|n| self.name(n).to_owned())
                    .collect(),
            })
            .collect();
        let count = impact.reached.len();
        ImpactReport {
            root: impact
                .roots
                .iter()
                .map(|&n| self.name(n).to_owned())
                .collect(),
            count,
            max_criticality: most_critical.map(|n| self.criticality(n)),
            most_critical_ci: most_critical.map(|n| self.name(n).to_owned()),
            max_depth_reached: impact.max_depth_reached,
            depth_limit,
            by_class: (self.cis.classes.iter())
                .zip(by_class)
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| (c.clone(), n))
                .collect(),
            by_criticality: Criticality::ALL
                .iter()
                .filter(|c| by_criticality[criticality_rank(**c)] > 0)
                .map(|c| (c.as_str().to_owned(), by_criticality[criticality_rank(*c)]))
                .collect(),
            items,
            // A summary-only request (`limit` 0) has no next page to follow.
            next_offset: (end < count && page.limit > 0).then_some(end),
        }
    }
}

impl CmdbIndex {
    /// One page of impacted CIs in report order (most critical first, then
    /// nearest, then by name), and where it ends. A core switch's blast
    /// radius holds hundreds of thousands of CIs: rather than sort them all,
    /// count them per (criticality, depth) group (`sizes`, indexed as
    /// `group` below), find the groups the page overlaps, and sort only
    /// those by name.
    fn page_of<'a>(
        &self,
        impact: &'a Impact,
        page: ImpactPage,
        sizes: &[usize],
    ) -> (Vec<&'a Reached>, usize) {
        let reached = &impact.reached;
        let start = page.offset.min(reached.len());
        let end = start.saturating_add(page.limit).min(reached.len());
        if start == end {
            return (Vec::new(), end);
        }
        let depths = impact.max_depth_reached as usize + 1;
        let group = |r: &Reached| {
            (3 - criticality_rank(self.criticality(r.node))) * depths + r.depth as usize
        };
        let mut wanted = vec![false; sizes.len()];
        let mut first = None;
        let mut before = 0;
        for (g, size) in sizes.iter().enumerate() {
            if before < end && before + size > start {
                wanted[g] = true;
                first.get_or_insert(before);
            }
            before += size;
        }
        let first = first.unwrap_or(start);
        let mut picked: Vec<&Reached> = reached.iter().filter(|r| wanted[group(r)]).collect();
        let order = |a: &&Reached, b: &&Reached| {
            (group(a), self.name(a.node)).cmp(&(group(b), self.name(b.node)))
        };
        let (from, to) = (start - first, end - first);
        if to < picked.len() {
            picked.select_nth_unstable_by(to, order);
            picked.truncate(to);
        }
        picked.sort_unstable_by(order);
        picked.drain(..from);
        (picked, end)
    }
}

fn criticality_rank(criticality: Criticality) -> usize {
    match criticality {
        Criticality::Low => 0,
        Criticality::Medium => 1,
        Criticality::High => 2,
        Criticality::Critical => 3,
    }
}

/// Which impacted CIs a report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactPage {
    /// How many to skip (in report order).
    pub offset: usize,
    /// How many to list at most.
    pub limit: usize,
}

/// What a blast radius holds, for people: the totals are always complete;
/// `items` is one page of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImpactReport {
    /// The CIs the walk started from.
    pub root: Vec<String>,
    /// How many CIs depend on the roots, directly or transitively (roots
    /// excluded).
    pub count: usize,
    /// The highest criticality among them (`null` when there are none).
    pub max_criticality: Option<Criticality>,
    /// One CI of that criticality, the nearest to a root.
    pub most_critical_ci: Option<String>,
    /// The deepest dependency level reached.
    pub max_depth_reached: u32,
    /// The depth limit asked for (`null`: unlimited).
    pub depth_limit: Option<u32>,
    /// Impacted CIs per class.
    pub by_class: BTreeMap<String, usize>,
    /// Impacted CIs per criticality.
    pub by_criticality: BTreeMap<String, usize>,
    /// One page of impacted CIs: most critical first, then nearest, then by
    /// name.
    pub items: Vec<ImpactItem>,
    /// The `offset` of the next page, if there is one.
    pub next_offset: Option<usize>,
}

/// One impacted CI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImpactItem {
    /// Its name.
    pub name: String,
    /// Its class.
    pub class: String,
    /// Its criticality.
    pub criticality: Criticality,
    /// Dependency steps from the nearest root (1 = depends on it directly).
    pub depth: u32,
    /// The dependency chain: this CI first, then each CI it depends on, down
    /// to the root.
    pub path: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(name: &str, class: &str, criticality: Criticality) -> CmdbChange {
        CmdbChange::Ci {
            name: name.into(),
            class: class.into(),
            criticality,
        }
    }

    fn rel(from: &str, to: &str) -> CmdbChange {
        CmdbChange::Relationship {
            from: from.into(),
            to: to.into(),
        }
    }

    /// shop (service) → shop-app → shop-db, shop-vm → host-1.
    fn estate() -> CmdbIndex {
        let mut builder = IndexBuilder::new();
        builder.ci(1, "host-1", "host", Criticality::High);
        builder.ci(2, "shop-vm", "virtual_machine", Criticality::Medium);
        builder.ci(3, "shop-db", "database", Criticality::High);
        builder.ci(4, "shop-app", "application", Criticality::High);
        builder.ci(7, "shop", "business_service", Criticality::Critical);
        builder.relationship(2, 1);
        builder.relationship(4, 2);
        builder.relationship(4, 3);
        builder.relationship(7, 4);
        builder.relationship(7, 99); // unknown id: ignored
        builder.finish()
    }

    fn names(cis: &[&str]) -> Vec<String> {
        cis.iter().map(|ci| (*ci).to_owned()).collect()
    }

    /// How `theirs` relates to `ours`, as the change on `ours` sees it.
    fn relation(index: &CmdbIndex, ours: &[&str], theirs: &[&str]) -> Option<Relation> {
        let mut walker = index.walker();
        index
            .conflict_relations(&mut walker, &names(ours), &[names(theirs)])
            .remove(0)
    }

    /// The same relation as the other change sees it.
    fn mirrored(relation: Option<Relation>) -> Option<Relation> {
        relation.map(|r| match r {
            Relation::SharedCi(ci) => Relation::SharedCi(ci),
            Relation::TheirsInOurBlastRadius(ci) => Relation::OursInTheirBlastRadius(ci),
            Relation::OursInTheirBlastRadius(ci) => Relation::TheirsInOurBlastRadius(ci),
        })
    }

    #[test]
    fn both_changes_name_the_same_ci_for_their_conflict() {
        let index = estate();
        let cases: [(&[&str], &[&str], Relation); 6] = [
            // Both name shop-app and shop-db: the first by name.
            (
                &["shop-db", "shop-app"],
                &["shop-app", "shop-db"],
                Relation::SharedCi("shop-app".into()),
            ),
            // shop and shop-app both depend on host-1: the first by name,
            // whatever order each change lists its CIs in.
            (
                &["shop-app", "shop"],
                &["host-1"],
                Relation::OursInTheirBlastRadius("shop".into()),
            ),
            (
                &["shop", "shop-app"],
                &["host-1"],
                Relation::OursInTheirBlastRadius("shop".into()),
            ),
            (
                &["host-1"],
                &["shop-app", "shop"],
                Relation::TheirsInOurBlastRadius("shop".into()),
            ),
            // Each depends on the other: shop on shop-app, shop-app (through
            // shop-vm) on host-1; shop comes first by name.
            (
                &["shop", "host-1"],
                &["shop-app"],
                Relation::OursInTheirBlastRadius("shop".into()),
            ),
            (
                &["host-1", "shop-db"],
                &["shop-app"],
                Relation::TheirsInOurBlastRadius("shop-app".into()),
            ),
        ];
        for (ours, theirs, expected) in cases {
            let seen_by_ours = relation(&index, ours, theirs);
            assert_eq!(seen_by_ours, Some(expected), "{ours:?} against {theirs:?}");
            assert_eq!(
                mirrored(relation(&index, theirs, ours)),
                seen_by_ours,
                "{theirs:?} against {ours:?}"
            );
        }
        assert_eq!(relation(&index, &["shop-db"], &["host-1"]), None);
    }

    fn report(index: &CmdbIndex, roots: &[&str], depth: Option<u32>, limit: usize) -> ImpactReport {
        let roots: Vec<Node> = roots.iter().filter_map(|r| index.node(r)).collect();
        let mut walker = index.walker();
        let impact = index.blast_radius(&mut walker, &roots, depth);
        index.report(&walker, &impact, depth, ImpactPage { offset: 0, limit })
    }

    #[test]
    fn a_host_change_reports_everything_above_it_most_critical_first() {
        let index = estate();
        let report = report(&index, &["host-1"], None, 10);
        assert_eq!(report.count, 3);
        assert_eq!(report.max_criticality, Some(Criticality::Critical));
        assert_eq!(report.most_critical_ci.as_deref(), Some("shop"));
        assert_eq!(report.max_depth_reached, 3);
        let names: Vec<&str> = report.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["shop", "shop-app", "shop-vm"]);
        assert_eq!(
            report.items[0].path,
            ["shop", "shop-app", "shop-vm", "host-1"]
        );
        assert_eq!(report.by_class["virtual_machine"], 1);
        assert_eq!(report.by_criticality["high"], 1);
        assert_eq!(report.next_offset, None);
    }

    #[test]
    fn pages_are_capped_and_the_totals_stay_complete() {
        let index = estate();
        let first = report(&index, &["host-1"], None, 2);
        assert_eq!(first.count, 3);
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.next_offset, Some(2));
        let roots = [index.node("host-1").unwrap()];
        let mut walker = index.walker();
        let impact = index.blast_radius(&mut walker, &roots, None);
        let page = ImpactPage {
            offset: 2,
            limit: 2,
        };
        let second = index.report(&walker, &impact, None, page);
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.items[0].name, "shop-vm");
        assert_eq!(second.next_offset, None);
    }

    #[test]
    fn logged_changes_keep_the_index_current() {
        let mut index = estate();
        index
            .apply(&ci("lb-1", "network_device", Criticality::Low))
            .unwrap();
        index.apply(&rel("shop-vm", "lb-1")).unwrap();
        assert_eq!(report(&index, &["lb-1"], None, 10).count, 3);
        index
            .apply(&CmdbChange::RelationshipDeleted {
                from: "shop-vm".into(),
                to: "host-1".into(),
            })
            .unwrap();
        assert_eq!(report(&index, &["host-1"], None, 10).count, 0);
        index
            .apply(&ci("shop", "business_service", Criticality::Low))
            .unwrap();
        let lb = report(&index, &["lb-1"], None, 10);
        assert_eq!(lb.max_criticality, Some(Criticality::High));
        index
            .apply(&CmdbChange::RelationshipDeleted {
                from: "shop-app".into(),
                to: "shop-vm".into(),
            })
            .unwrap();
        // The store logs a deleted CI's relationships before the CI.
        index
            .apply(&CmdbChange::RelationshipDeleted {
                from: "shop-vm".into(),
                to: "lb-1".into(),
            })
            .unwrap();
        index
            .apply(&CmdbChange::CiDeleted {
                name: "shop-vm".into(),
            })
            .unwrap();
        assert_eq!(index.node("shop-vm"), None);
        assert_eq!(report(&index, &["lb-1"], None, 10).count, 0);
        // A CI created again under a deleted name gets a fresh slot.
        index
            .apply(&ci("shop-vm", "virtual_machine", Criticality::Medium))
            .unwrap();
        index.apply(&rel("shop-vm", "lb-1")).unwrap();
        assert_eq!(report(&index, &["lb-1"], Some(1), 10).count, 1);
    }

    #[test]
    fn a_change_the_index_cannot_place_asks_for_a_rebuild() {
        let mut index = estate();
        assert_eq!(
            index.apply(&rel("nowhere", "host-1")),
            Err(ApplyError::UnknownCi("nowhere".into()))
        );
        assert_eq!(
            index.apply(&CmdbChange::Reload),
            Err(ApplyError::ReloadNeeded)
        );
    }

    #[test]
    fn sparse_ids_resolve_without_the_dense_array() {
        let mut builder = IndexBuilder::new();
        builder.ci(1, "a", "host", Criticality::Low);
        builder.ci(5_000_000, "b", "host", Criticality::Low);
        builder.relationship(5_000_000, 1);
        builder.relationship(3, 1); // no such CI
        assert!(matches!(builder.lookup, Some(IdLookup::Sorted(_))));
        let index = builder.finish();
        assert_eq!(report(&index, &["a"], None, 10).count, 1);
    }

    #[test]
    fn out_of_order_ids_still_resolve() {
        let mut builder = IndexBuilder::new();
        builder.ci(5, "a", "host", Criticality::Low);
        builder.ci(2, "b", "host", Criticality::Low);
        builder.relationship(2, 5);
        let index = builder.finish();
        assert_eq!(report(&index, &["a"], None, 10).items[0].name, "b");
    }
}
