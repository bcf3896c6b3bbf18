//! The blast-radius walk against a naive reference on random graphs:
//! cycles, self-loops, duplicate edges, unknown roots and depth limits.

use proptest::prelude::*;
use stackflow_core::graph::{DependencyGraph, Node, Walker};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// The obvious, slow definition: shortest distance along "depends on"
/// edges, reversed, from any root; roots themselves excluded.
fn reference(
    node_count: usize,
    edges: &[(Node, Node)],
    roots: &[Node],
    max_depth: Option<u32>,
) -> BTreeMap<Node, u32> {
    let mut depth: BTreeMap<Node, u32> = BTreeMap::new();
    let valid_roots: HashSet<Node> = roots
        .iter()
        .copied()
        .filter(|&r| (r as usize) < node_count)
        .collect();
    let mut queue: VecDeque<(Node, u32)> = valid_roots.iter().map(|&r| (r, 0)).collect();
    let mut seen = valid_roots.clone();
    while let Some((at, d)) = queue.pop_front() {
        if max_depth.is_some_and(|limit| d >= limit) {
            continue;
        }
        for &(from, to) in edges {
            if to == at && (from as usize) < node_count && seen.insert(from) {
                depth.insert(from, d + 1);
                queue.push_back((from, d + 1));
            }
        }
    }
    depth
}

/// A random case: CI count, "depends on" edges, roots, depth limit.
type Case = (usize, Vec<(Node, Node)>, Vec<Node>, Option<u32>);

fn graphs() -> impl Strategy<Value = Case> {
    (1usize..40).prop_flat_map(|n| {
        let node = 0..(n as Node + 2); // a few out-of-range indices too
        (
            Just(n),
            prop::collection::vec((node.clone(), node.clone()), 0..120),
            prop::collection::vec(node, 0..5),
            prop::option::of(0u32..6),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_walk_finds_exactly_what_the_reference_finds((n, edges, roots, max_depth) in graphs()) {
        let graph = DependencyGraph::from_edges(n, &edges);
        let mut walker = Walker::new(n);
        // Walk twice with the same walker: reused scratch must not leak.
        let _ = walker.blast_radius(&graph, &roots, None);
        let impact = walker.blast_radius(&graph, &roots, max_depth);
        let found: BTreeMap<Node, u32> = impact.reached.iter().map(|r| (r.node, r.depth)).collect();
        prop_assert_eq!(found.len(), impact.reached.len(), "a CI reported twice");
        let expected = reference(n, &edges, &roots, max_depth);
        prop_assert_eq!(&found, &expected);
        prop_assert_eq!(impact.max_depth_reached, expected.values().copied().max().unwrap_or(0));
        let edge_set: HashSet<(Node, Node)> = edges.iter().copied().collect();
        for reached in &impact.reached {
            // Each step of the chain is a real edge, one level up.
            prop_assert!(edge_set.contains(&(reached.node, reached.via)));
            let path = impact.path_to_root(reached.node);
            prop_assert_eq!(path.len() as u32, reached.depth + 1);
            // The walker's own chain (what the API serves) is the same one.
            prop_assert_eq!(&walker.path_to_root(&impact, reached.node), &path);
            prop_assert!(impact.roots.contains(path.last().expect("non-empty path")));
        }
    }

    #[test]
    fn a_graph_grown_write_by_write_walks_like_one_built_in_bulk(
        (n, edges, roots, max_depth) in graphs(),
        split in 0usize..40,
    ) {
        // Bulk-build the first CIs and edges, then add the rest one by one,
        // as writes arrive after start-up.
        let bulk_nodes = split.min(n);
        let (early, late): (Vec<_>, Vec<_>) = edges
            .iter()
            .partition(|(from, to)| (*from as usize) < bulk_nodes && (*to as usize) < bulk_nodes);
        let mut graph = DependencyGraph::from_edges(bulk_nodes, &early);
        for _ in bulk_nodes..n {
            graph.add_node();
        }
        for (from, to) in late {
            let in_range = (from as usize) < n && (to as usize) < n;
            prop_assert_eq!(graph.add_edge(from, to), in_range);
        }
        let mut walker = Walker::new(0);
        let grown: BTreeMap<Node, u32> =
            walker.blast_radius(&graph, &roots, max_depth).reached.iter().map(|r| (r.node, r.depth)).collect();
        prop_assert_eq!(&grown, &reference(n, &edges, &roots, max_depth));
        graph.compact();
        let compacted: BTreeMap<Node, u32> =
            walker.blast_radius(&graph, &roots, max_depth).reached.iter().map(|r| (r.node, r.depth)).collect();
        prop_assert_eq!(compacted, grown);
    }

    #[test]
    fn removed_edges_are_gone_wherever_they_were_added(
        (n, edges, roots, max_depth) in graphs(),
        split in 0usize..120,
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..30),
    ) {
        // Some edges in the bulk arrays, some in the overlay; then remove a
        // random selection (a pair goes entirely, duplicates included), as
        // relationship deletions arrive.
        let (bulk, late) = edges.split_at(split.min(edges.len()));
        let mut graph = DependencyGraph::from_edges(n, bulk);
        for &(from, to) in late {
            graph.add_edge(from, to);
        }
        let mut kept: Vec<(Node, Node)> = edges.clone();
        for pick in &removals {
            if edges.is_empty() {
                break;
            }
            let (from, to) = edges[pick.index(edges.len())];
            let present = kept.contains(&(from, to))
                && (from as usize) < n && (to as usize) < n;
            prop_assert_eq!(graph.remove_edge(from, to), present);
            kept.retain(|&e| e != (from, to));
        }
        let mut walker = Walker::new(n);
        let walked: BTreeMap<Node, u32> =
            walker.blast_radius(&graph, &roots, max_depth).reached.iter().map(|r| (r.node, r.depth)).collect();
        prop_assert_eq!(&walked, &reference(n, &kept, &roots, max_depth));
        graph.compact();
        let compacted: BTreeMap<Node, u32> =
            walker.blast_radius(&graph, &roots, max_depth).reached.iter().map(|r| (r.node, r.depth)).collect();
        prop_assert_eq!(compacted, walked);
        // Adding a removed edge back restores it.
        if let Some(&(from, to)) = edges.first()
            && (from as usize) < n && (to as usize) < n
        {
            graph.remove_edge(from, to);
            prop_assert!(graph.add_edge(from, to));
            prop_assert!(graph.dependents(to).any(|d| d == from));
        }
    }
}
