//! Impact report pages against a naive full sort on random estates: every
//! page is the matching slice of the whole blast radius in report order
//! (most critical first, then nearest, then by name), and the totals hold.

use proptest::prelude::*;
use stackflow_core::Criticality;
use stackflow_core::impact::{CmdbSink, ImpactPage, IndexBuilder};
use std::cmp::Reverse;

/// CI count, criticality per CI, "depends on" edges by position, root.
type Estate = (Vec<u8>, Vec<(usize, usize)>, usize);

fn estates() -> impl Strategy<Value = Estate> {
    (2usize..60).prop_flat_map(|n| {
        (
            prop::collection::vec(0u8..4, n),
            prop::collection::vec((0..n, 0..n), 0..200),
            0..n,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pages_are_slices_of_the_fully_sorted_blast_radius(
        (criticality, edges, root) in estates(),
        limit in 1usize..9,
    ) {
        let mut builder = IndexBuilder::new();
        for (i, c) in criticality.iter().enumerate() {
            // Names deliberately out of id order, so name order matters.
            let name = format!("ci-{:03}", (i * 37) % 101);
            builder.ci(i as i64, &name, "host", Criticality::ALL[*c as usize]);
        }
        for &(from, to) in &edges {
            builder.relationship(from as i64, to as i64);
        }
        let index = builder.finish();
        let root_name = format!("ci-{:03}", (root * 37) % 101);
        let roots = [index.node(&root_name).expect("root")];
        let mut walker = index.walker();
        let impact = index.blast_radius(&mut walker, &roots, None);
        let everything = index.report(&walker, &impact, None, ImpactPage { offset: 0, limit: usize::MAX });
        let mut expected = everything.items.clone();
        expected.sort_by(|a, b| {
            (Reverse(a.criticality), a.depth, &a.name).cmp(&(Reverse(b.criticality), b.depth, &b.name))
        });
        prop_assert_eq!(&everything.items, &expected);
        prop_assert_eq!(everything.count, impact.reached.len());

        let mut paged = Vec::new();
        let mut offset = Some(0);
        while let Some(at) = offset {
            let report = index.report(&walker, &impact, None, ImpactPage { offset: at, limit });
            prop_assert!(report.items.len() <= limit);
            prop_assert_eq!(report.count, everything.count);
            paged.extend(report.items);
            offset = report.next_offset;
        }
        prop_assert_eq!(paged, expected);
    }
}

#[test]
fn a_cmdb_change_names_the_ci_whose_dependents_it_may_affect() {
    use stackflow_core::impact::CmdbChange;
    let rel = CmdbChange::Relationship {
        from: "app".into(),
        to: "db".into(),
    };
    assert_eq!(rel.touched(), Some("db"));
    let gone = CmdbChange::RelationshipDeleted {
        from: "app".into(),
        to: "db".into(),
    };
    assert_eq!(gone.touched(), Some("db"));
    assert_eq!(
        CmdbChange::CiDeleted { name: "vm".into() }.touched(),
        Some("vm")
    );
    assert_eq!(CmdbChange::Reload.touched(), None);
}

#[test]
fn deleting_a_ci_names_the_dependents_it_cuts_off() {
    use stackflow_core::impact::CmdbChange;
    // web and batch depend on app, which depends on db.
    let mut builder = IndexBuilder::new();
    for (id, name) in [(1, "web"), (2, "batch"), (3, "app"), (4, "db")] {
        builder.ci(id, name, "host", Criticality::Low);
    }
    builder.relationship(1, 3);
    builder.relationship(2, 3);
    builder.relationship(3, 4);
    let mut index = builder.finish();
    let delete_app = CmdbChange::CiDeleted { name: "app".into() };
    let mut cut_off = index.dependents_cut_off(&delete_app);
    cut_off.sort();
    assert_eq!(cut_off, ["batch", "web"]);
    // Only a deletion cuts edges off unlogged.
    let unlink = CmdbChange::RelationshipDeleted {
        from: "app".into(),
        to: "db".into(),
    };
    assert!(index.dependents_cut_off(&unlink).is_empty());
    index.apply(&delete_app).expect("applied");
    let web = index.node("web").expect("web");
    let mut walker = index.walker();
    let below = index.dependency_closure(&mut walker, &[web]);
    assert!(
        below.reached.is_empty(),
        "web no longer depends on anything"
    );
    assert!(
        index
            .dependents_cut_off(&CmdbChange::CiDeleted { name: "app".into() })
            .is_empty(),
        "a CI already gone cuts nothing off"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// The walk down (what a CI depends on) is the exact mirror of the walk
    /// up (what depends on it), before and after relationships are added
    /// and removed through the change log: `a` reaches `b` going down
    /// exactly when `b` reaches `a` going up.
    #[test]
    fn the_dependency_closure_mirrors_the_blast_radius(
        (criticality, edges, _root) in estates(),
        changes in prop::collection::vec((any::<bool>(), 0usize..60, 0usize..60), 0..40),
    ) {
        use stackflow_core::impact::CmdbChange;
        let n = criticality.len();
        let mut builder = IndexBuilder::new();
        for i in 0..n {
            builder.ci(i as i64, &format!("ci-{i}"), "host", Criticality::Low);
        }
        for &(from, to) in &edges {
            builder.relationship(from as i64, to as i64);
        }
        let mut index = builder.finish();
        for (add, from, to) in changes {
            let (from, to) = (format!("ci-{}", from % n), format!("ci-{}", to % n));
            let change = if add {
                CmdbChange::Relationship { from, to }
            } else {
                CmdbChange::RelationshipDeleted { from, to }
            };
            index.apply(&change).unwrap();
        }
        let mut up = index.walker();
        let mut down = index.walker();
        for a in 0..n {
            let a_node = index.node(&format!("ci-{a}")).unwrap();
            index.dependency_closure(&mut down, &[a_node]);
            for b in 0..n {
                let b_node = index.node(&format!("ci-{b}")).unwrap();
                index.blast_radius(&mut up, &[b_node], None);
                prop_assert_eq!(down.visited(b_node), up.visited(a_node), "{} / {}", a, b);
            }
        }
    }
}
