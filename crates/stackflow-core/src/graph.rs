//! The CMDB dependency graph and blast-radius traversal, over plain values.
//!
//! CIs are dense indices `0..n`. Relationships "A depends on B" are stored
//! reversed, as compressed adjacency arrays (CSR): for each CI, the CIs that
//! depend on it. The blast radius of a change is a breadth-first walk along
//! those reversed edges from the affected CIs: everything that depends on
//! them, directly or transitively, with the depth at which it was first
//! reached and the parent that reached it, so the chain back to a root can
//! be shown. Cycles and duplicate edges are harmless: a CI is visited once.
//!
//! Two flat arrays instead of a map of heap nodes keep a million-CI graph in
//! a few tens of megabytes and the walk cache-friendly. The scratch state of
//! a walk ([`Walker`]) is reused across queries: a bitset of visited CIs
//! (128 KB for a million CIs, so the check done for every edge stays in the
//! CPU's cache), cleared after each walk by unmarking only what it visited.

use std::collections::{HashMap, HashSet};

/// A CI's index in the graph.
pub type Node = u32;

/// The reversed dependency graph: compressed sparse rows built in bulk,
/// plus a small overlay of CIs and edges added since, so that a write is
/// visible at once without rebuilding the arrays. [`compact`] folds the
/// overlay back in.
///
/// [`compact`]: DependencyGraph::compact
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    /// `dependents[offsets[i]..offsets[i + 1]]` are the CIs depending on `i`.
    offsets: Vec<u32>,
    dependents: Vec<Node>,
    /// CIs added after the bulk build; they take the next indices.
    added_nodes: usize,
    /// Dependents added after the bulk build, per CI.
    added: HashMap<Node, Vec<Node>>,
    added_edges: usize,
    /// Dependents removed from the bulk arrays since the build, per CI (a
    /// set: decommissioning thousands of VMs on one host must not make every
    /// walk through it quadratic).
    removed: HashMap<Node, HashSet<Node>>,
    removed_edges: usize,
}

impl DependencyGraph {
    /// Builds the graph of `node_count` CIs from "`from` depends on `to`"
    /// edges. Edges naming a CI outside `0..node_count` are ignored.
    pub fn from_edges(node_count: usize, edges: &[(Node, Node)]) -> Self {
        let in_range = |&&(from, to): &&(Node, Node)| {
            (from as usize) < node_count && (to as usize) < node_count
        };
        let mut counts = vec![0u32; node_count + 1];
        for &(_, to) in edges.iter().filter(in_range) {
            counts[to as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let mut dependents = vec![0; offsets[node_count] as usize];
        for &(from, to) in edges.iter().filter(in_range) {
            let slot = &mut next[to as usize];
            dependents[*slot as usize] = from;
            *slot += 1;
        }
        DependencyGraph {
            offsets,
            dependents,
            ..DependencyGraph::default()
        }
    }

    fn bulk_nodes(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// How many CIs the graph holds.
    pub fn node_count(&self) -> usize {
        self.bulk_nodes() + self.added_nodes
    }

    /// How many edges it holds.
    pub fn edge_count(&self) -> usize {
        self.dependents.len() + self.added_edges
    }

    /// Adds a CI; returns its index.
    pub fn add_node(&mut self) -> Node {
        self.added_nodes += 1;
        (self.node_count() - 1) as Node
    }

    /// Adds "`from` depends on `to`"; false (and nothing added) if either
    /// CI is not in the graph.
    pub fn add_edge(&mut self, from: Node, to: Node) -> bool {
        let count = self.node_count();
        if from as usize >= count || to as usize >= count {
            return false;
        }
        self.added.entry(to).or_default().push(from);
        self.added_edges += 1;
        true
    }

    /// Removes every "`from` depends on `to`" edge (duplicates included);
    /// false if there was none.
    pub fn remove_edge(&mut self, from: Node, to: Node) -> bool {
        let mut found = false;
        if let Some(list) = self.added.get_mut(&to) {
            let before = list.len();
            list.retain(|&d| d != from);
            let gone = before - list.len();
            self.added_edges -= gone;
            found = gone > 0;
            if list.is_empty() {
                self.added.remove(&to);
            }
        }
        let already = self.removed.get(&to).is_some_and(|r| r.contains(&from));
        if !already && self.bulk_dependents(to).contains(&from) {
            self.removed.entry(to).or_default().insert(from);
            self.removed_edges += 1;
            found = true;
        }
        found
    }

    /// Edges added or removed since the last bulk build or compaction.
    pub fn overlay_edges(&self) -> usize {
        self.added_edges + self.removed_edges
    }

    /// Folds the overlay into the compressed arrays.
    pub fn compact(&mut self) {
        let mut edges = Vec::with_capacity(self.edge_count());
        for to in 0..self.node_count() as Node {
            edges.extend(self.dependents(to).map(|from| (from, to)));
        }
        *self = DependencyGraph::from_edges(self.node_count(), &edges);
    }

    /// The dependents of `node` in the compressed arrays (overlay ignored).
    fn bulk_dependents(&self, node: Node) -> &[Node] {
        let i = node as usize;
        if i < self.bulk_nodes() {
            &self.dependents[self.offsets[i] as usize..self.offsets[i + 1] as usize]
        } else {
            &[]
        }
    }

    /// The CIs that depend directly on `node`.
    pub fn dependents(&self, node: Node) -> impl Iterator<Item = Node> + '_ {
        let bulk = self.bulk_dependents(node);
        let added = overlay(&self.added, node);
        let removed = if self.removed.is_empty() {
            None
        } else {
            self.removed.get(&node)
        };
        bulk.iter()
            .filter(move |d| removed.is_none_or(|r| !r.contains(d)))
            .chain(added)
            .copied()
    }

    /// Bytes held by the adjacency arrays and the overlay (approximate).
    pub fn memory_bytes(&self) -> usize {
        let word = std::mem::size_of::<u32>();
        let arrays = (self.offsets.capacity() + self.dependents.capacity()) * word;
        let added: usize = (self.added.values())
            .map(|v| v.capacity() * word + 32)
            .sum();
        let removed: usize = (self.removed.values())
            .map(|v| v.capacity() * (word + 1) + 48)
            .sum();
        let overlay = added + removed;
        arrays + overlay
    }
}

/// `node`'s entries in an overlay map. The overlays are usually empty: skip
/// hashing the key then, since a walk asks once per CI it visits.
fn overlay(map: &HashMap<Node, Vec<Node>>, node: Node) -> &[Node] {
    if map.is_empty() {
        &[]
    } else {
        map.get(&node).map_or(&[][..], Vec::as_slice)
    }
}

/// One CI reached by a blast-radius walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// The CI.
    pub node: Node,
    /// Steps from the nearest root (1 = depends directly on a root).
    pub depth: u32,
    /// The CI through which it was first reached (a root or an impacted CI).
    pub via: Node,
}

/// What a walk found, in breadth-first order (by depth).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact {
    /// The distinct roots the walk started from.
    pub roots: Vec<Node>,
    /// Every impacted CI (roots excluded), each once, by depth.
    pub reached: Vec<Reached>,
    /// The deepest depth reached (0 when nothing depends on the roots).
    pub max_depth_reached: u32,
}

impl Impact {
    /// The dependency chain from an impacted CI back to its root: the CI
    /// first, the root last. Empty if the CI was not reached.
    pub fn path_to_root(&self, node: Node) -> Vec<Node> {
        let parent: std::collections::HashMap<Node, Node> =
            self.reached.iter().map(|r| (r.node, r.via)).collect();
        let mut path = Vec::new();
        let mut at = node;
        while let Some(&via) = parent.get(&at) {
            path.push(at);
            at = via;
        }
        if !path.is_empty() {
            path.push(at);
        }
        path
    }
}

/// Reusable scratch space for walks over one graph. Keep one per thread
/// (or per request) and reuse it: each walk costs only what it visits.
#[derive(Debug, Clone, Default)]
pub struct Walker {
    /// One bit per CI: visited by the current (or last) walk.
    seen: Vec<u64>,
    /// The CIs marked in `seen`, to unmark before the next walk.
    marked: Vec<Node>,
    /// The CI through which each CI was reached in the last walk.
    via: Vec<Node>,
}

impl Walker {
    /// A walker for graphs of up to `node_count` CIs (it grows as needed).
    pub fn new(node_count: usize) -> Self {
        Walker {
            seen: vec![0; node_count.div_ceil(64)],
            via: vec![0; node_count],
            ..Walker::default()
        }
    }

    /// Clears the last walk's marks and makes room for `node_count` CIs.
    /// After a walk that marked more CIs than the bitset has words (a core
    /// switch's), zeroing the whole bitset is cheaper than unmarking each.
    fn begin(&mut self, node_count: usize) {
        if self.marked.len() > self.seen.len() {
            self.seen.fill(0);
            self.marked.clear();
        }
        for node in self.marked.drain(..) {
            self.seen[node as usize / 64] &= !(1 << (node % 64));
        }
        if self.via.len() < node_count {
            self.seen.resize(node_count.div_ceil(64), 0);
            self.via.resize(node_count, 0);
        }
    }

    /// Whether the last walk reached `node`, roots included.
    pub fn visited(&self, node: Node) -> bool {
        self.is_marked(node)
    }

    fn is_marked(&self, node: Node) -> bool {
        self.seen
            .get(node as usize / 64)
            .is_some_and(|word| word & (1 << (node % 64)) != 0)
    }

    /// Every CI that depends, directly or transitively, on `roots`, up to
    /// `max_depth` steps (`None`: unlimited). Roots outside the graph are
    /// ignored; duplicates count once.
    pub fn blast_radius(
        &mut self,
        graph: &DependencyGraph,
        roots: &[Node],
        max_depth: Option<u32>,
    ) -> Impact {
        self.begin(graph.node_count());
        let mut impact = Impact::default();
        for &root in roots {
            if (root as usize) < graph.node_count() && self.mark(root) {
                impact.roots.push(root);
            }
        }
        // Breadth first, with the result as the queue: the CIs reached at
        // one depth are a slice of `reached`, and the next depth's are
        // appended after it.
        let plain = graph.added.is_empty() && graph.removed.is_empty();
        let mut level = 0..0;
        let mut depth = 0;
        while max_depth.is_none_or(|limit| depth < limit) {
            depth += 1;
            let parents = if depth == 1 {
                impact.roots.len()
            } else {
                level.len()
            };
            let start = impact.reached.len();
            for i in 0..parents {
                let parent = if depth == 1 {
                    impact.roots[i]
                } else {
                    impact.reached[level.start + i].node
                };
                // Without an overlay (the usual case) the walk reads the
                // compressed arrays directly.
                if plain {
                    for &child in graph.bulk_dependents(parent) {
                        self.reach(&mut impact, child, parent, depth);
                    }
                } else {
                    for child in graph.dependents(parent) {
                        self.reach(&mut impact, child, parent, depth);
                    }
                }
            }
            level = start..impact.reached.len();
            if level.is_empty() {
                break;
            }
            impact.max_depth_reached = depth;
        }
        impact
    }

    /// Marks `node` visited; false if it already was.
    fn mark(&mut self, node: Node) -> bool {
        let word = &mut self.seen[node as usize / 64];
        let bit = 1 << (node % 64);
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        // Past one mark per bitset word, the next walk zeroes the whole
        // bitset instead of unmarking each: no need to remember more.
        if self.marked.len() <= self.seen.len() {
            self.marked.push(node);
        }
        true
    }

    #[inline]
    fn reach(&mut self, impact: &mut Impact, child: Node, parent: Node, depth: u32) {
        if self.mark(child) {
            self.via[child as usize] = parent;
            impact.reached.push(Reached {
                node: child,
                depth,
                via: parent,
            });
        }
    }

    /// The chain from `node` back to its root in the last walk, as
    /// [`Impact::path_to_root`] gives it, in time proportional to its length.
    /// Only meaningful for a CI that walk reached.
    pub fn path_to_root(&self, impact: &Impact, node: Node) -> Vec<Node> {
        let is_root = |n: Node| impact.roots.contains(&n);
        if is_root(node) || !self.is_marked(node) {
            return Vec::new();
        }
        let mut path = vec![node];
        let mut at = node;
        while !is_root(at) && path.len() <= self.via.len() {
            at = self.via[at as usize];
            path.push(at);
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// host(0) ← vm(1) ← app(2) ← service(3); app(2) also depends on db(4).
    fn estate() -> DependencyGraph {
        DependencyGraph::from_edges(5, &[(1, 0), (2, 1), (3, 2), (2, 4)])
    }

    #[test]
    fn a_host_change_reaches_the_vms_apps_and_services_on_it() {
        let impact = Walker::new(5).blast_radius(&estate(), &[0], None);
        let found: Vec<(Node, u32)> = impact.reached.iter().map(|r| (r.node, r.depth)).collect();
        assert_eq!(found, [(1, 1), (2, 2), (3, 3)]);
        assert_eq!(impact.max_depth_reached, 3);
        assert_eq!(impact.path_to_root(3), [3, 2, 1, 0]);
        assert!(impact.path_to_root(4).is_empty());
    }

    #[test]
    fn depth_limits_cycles_and_unknown_roots_are_safe() {
        let mut walker = Walker::new(0);
        let limited = walker.blast_radius(&estate(), &[0], Some(1));
        assert_eq!(limited.reached.len(), 1);
        let cyclic = DependencyGraph::from_edges(3, &[(0, 1), (1, 2), (2, 0), (2, 2), (0, 1)]);
        let impact = walker.blast_radius(&cyclic, &[0, 0, 99], None);
        assert_eq!(impact.roots, [0]);
        let mut nodes: Vec<Node> = impact.reached.iter().map(|r| r.node).collect();
        nodes.sort();
        assert_eq!(nodes, [1, 2]);
        assert_eq!(cyclic.edge_count(), 5);
    }

    #[test]
    fn added_cis_and_edges_are_walked_at_once_and_survive_compaction() {
        let mut graph = estate();
        let lb = graph.add_node();
        assert!(graph.add_edge(lb, 3));
        assert!(!graph.add_edge(lb, 99));
        let mut walker = Walker::new(0);
        let impact = walker.blast_radius(&graph, &[0], None);
        assert_eq!(impact.path_to_root(lb), [lb, 3, 2, 1, 0]);
        let before = impact.reached.clone();
        graph.compact();
        assert_eq!(graph.overlay_edges(), 0);
        assert_eq!(walker.blast_radius(&graph, &[0], None).reached, before);
    }
}
