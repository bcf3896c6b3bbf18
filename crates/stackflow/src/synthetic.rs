//! A synthetic CMDB, deterministic from a seed, shaped like a real estate:
//! business services → applications → databases and VMs → hosts → storage
//! and network, with shared hubs of very high fan-in (core switches, SAN
//! arrays, shared database clusters). The demo and the impact benchmark use
//! it; the same seed and size always give the same CMDB.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use stackflow_core::{Criticality, RelationshipType};
use stackflow_store::transfer::{CiRecord, CsvCiWriter, CsvRelationshipWriter, RelationshipRecord};
use std::io::Write;

/// One generated configuration item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticCi {
    /// Unique name, e.g. `app-000042`.
    pub name: String,
    /// CI class.
    pub class: &'static str,
    /// Criticality.
    pub criticality: Criticality,
    /// Owning group.
    pub owner_group: &'static str,
}

/// A generated CMDB: CIs, and "`from` depends on `to`" edges by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyntheticCmdb {
    /// The CIs; an edge names them by position here.
    pub cis: Vec<SyntheticCi>,
    /// Relationships: (from, to, type).
    pub relationships: Vec<(u32, u32, RelationshipType)>,
}

/// Share of the estate per layer, in parts per thousand; VMs take the rest.
const SERVICES: usize = 5;
const APPLICATIONS: usize = 100;
const DATABASES: usize = 40;
const HOSTS: usize = 80;
const STORAGE: usize = 10;
const NETWORK: usize = 10;

/// The index ranges of each layer.
struct Layers {
    services: std::ops::Range<usize>,
    applications: std::ops::Range<usize>,
    databases: std::ops::Range<usize>,
    vms: std::ops::Range<usize>,
    hosts: std::ops::Range<usize>,
    storage: std::ops::Range<usize>,
    network: std::ops::Range<usize>,
    /// Hubs: the first few of storage (SAN arrays), network (core switches)
    /// and databases (shared clusters).
    hubs: usize,
}

impl Layers {
    fn of(total: usize) -> Layers {
        let share = |parts: usize| (total * parts / 1000).max(1);
        let counts = [SERVICES, APPLICATIONS, DATABASES, HOSTS, STORAGE, NETWORK].map(share);
        let vms = total.saturating_sub(counts.iter().sum()).max(1);
        let mut bounds = [0; 8];
        for (i, count) in counts.iter().chain([vms].iter()).enumerate() {
            bounds[i + 1] = bounds[i] + count;
        }
        let range = |i: usize| bounds[i]..bounds[i + 1];
        Layers {
            services: range(0),
            applications: range(1),
            databases: range(2),
            hosts: range(3),
            storage: range(4),
            network: range(5),
            vms: range(6),
            hubs: (total / 250_000).clamp(2, 8),
        }
    }
}

/// Generates a CMDB of about `total` CIs (at least one per layer) from `seed`.
pub fn generate(total: usize, seed: u64) -> SyntheticCmdb {
    let layers = Layers::of(total);
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut cmdb = SyntheticCmdb::default();
    let mut add_layer = |range: &std::ops::Range<usize>,
                         prefix: &str,
                         class: &'static str,
                         owner: &'static str,
                         rng: &mut Pcg64Mcg| {
        for i in range.clone() {
            let hub = i - range.start < layers.hubs
                && matches!(class, "storage" | "network_device" | "database");
            let name = if hub {
                format!("{prefix}-hub-{:02}", i - range.start + 1)
            } else {
                format!("{prefix}-{:07}", i - range.start + 1)
            };
            let criticality = if hub || class == "business_service" {
                Criticality::Critical
            } else {
                weighted_criticality(rng)
            };
            cmdb.cis.push(SyntheticCi {
                name,
                class,
                criticality,
                owner_group: owner,
            });
        }
    };
    add_layer(
        &layers.services,
        "svc",
        "business_service",
        "service-desk",
        &mut rng,
    );
    add_layer(
        &layers.applications,
        "app",
        "application",
        "web-ops",
        &mut rng,
    );
    add_layer(&layers.databases, "db", "database", "dba", &mut rng);
    add_layer(&layers.hosts, "host", "host", "web-ops", &mut rng);
    add_layer(&layers.storage, "san", "storage", "dba", &mut rng);
    add_layer(&layers.network, "sw", "network_device", "web-ops", &mut rng);
    add_layer(&layers.vms, "vm", "virtual_machine", "web-ops", &mut rng);
    // The draws may repeat an edge; a CMDB holds each relationship once.
    let mut seen = std::collections::HashSet::new();
    cmdb.relationships = relationships(&layers, &mut rng)
        .into_iter()
        .filter(|edge| seen.insert(*edge))
        .collect();
    cmdb
}

impl SyntheticCmdb {
    /// Writes the estate as the two CSV files an operator would import
    /// (see `docs/cmdb-import.md`).
    pub fn write_csv(&self, cis: impl Write, relationships: impl Write) -> std::io::Result<()> {
        let mut out = CsvCiWriter::new(cis)?;
        for ci in &self.cis {
            out.write(&CiRecord {
                name: ci.name.clone(),
                class: ci.class.to_owned(),
                criticality: ci.criticality,
                environment: "production".to_owned(),
                owner_group: Some(ci.owner_group.to_owned()),
                attributes: serde_json::json!({}),
            })?;
        }
        out.finish()?.flush()?;
        let mut out = CsvRelationshipWriter::new(relationships)?;
        for (from, to, rel_type) in &self.relationships {
            out.write(&RelationshipRecord {
                from: self.cis[*from as usize].name.clone(),
                to: self.cis[*to as usize].name.clone(),
                rel_type: *rel_type,
            })?;
        }
        out.finish()?.flush()
    }
}

fn weighted_criticality(rng: &mut Pcg64Mcg) -> Criticality {
    match rng.random_range(0..100) {
        0..40 => Criticality::Low,
        40..75 => Criticality::Medium,
        75..95 => Criticality::High,
        _ => Criticality::Critical,
    }
}

/// Tiers of applications (front ends, middle tier, back ends).
const APPLICATION_TIERS: usize = 3;

/// Which tier of `range` (0 = front ends) `index` falls in.
fn tier_of(index: usize, range: &std::ops::Range<usize>) -> usize {
    let tier_size = (range.len() / APPLICATION_TIERS).max(1);
    ((index - range.start) / tier_size).min(APPLICATION_TIERS - 1)
}

fn relationships(layers: &Layers, rng: &mut Pcg64Mcg) -> Vec<(u32, u32, RelationshipType)> {
    use RelationshipType::*;
    let mut edges = Vec::new();
    let pick =
        |range: &std::ops::Range<usize>, rng: &mut Pcg64Mcg| rng.random_range(range.clone()) as u32;
    let hub = |range: &std::ops::Range<usize>, rng: &mut Pcg64Mcg| {
        (range.start + rng.random_range(0..layers.hubs.min(range.len()))) as u32
    };
    for service in layers.services.clone() {
        for _ in 0..rng.random_range(5..40) {
            edges.push((service as u32, pick(&layers.applications, rng), DependsOn));
        }
    }
    for app in layers.applications.clone() {
        for _ in 0..rng.random_range(2..7) {
            edges.push((app as u32, pick(&layers.vms, rng), RunsOn));
        }
        for _ in 0..rng.random_range(1..4) {
            edges.push((app as u32, pick(&layers.databases, rng), Uses));
        }
        if rng.random_bool(0.1) {
            edges.push((app as u32, hub(&layers.databases, rng), Uses));
        }
        // Applications call others in the tier below (front ends → services
        // → back ends), never back up: dependencies between applications
        // form layers, as in a real estate, not one web where everything
        // reaches everything.
        let tier_end = layers.applications.end;
        let below = tier_of(app, &layers.applications) + 1;
        if below < APPLICATION_TIERS {
            let tier_size = layers.applications.len() / APPLICATION_TIERS;
            let start = layers.applications.start + below * tier_size;
            let end = if below + 1 == APPLICATION_TIERS {
                tier_end
            } else {
                start + tier_size
            };
            for _ in 0..rng.random_range(0..4) {
                edges.push((app as u32, pick(&(start..end), rng), DependsOn));
            }
        }
    }
    for db in layers.databases.clone() {
        for _ in 0..rng.random_range(1..4) {
            edges.push((db as u32, pick(&layers.vms, rng), RunsOn));
        }
        edges.push((db as u32, hub(&layers.storage, rng), DependsOn));
    }
    for vm in layers.vms.clone() {
        edges.push((vm as u32, pick(&layers.hosts, rng), HostedOn));
        edges.push((vm as u32, pick(&layers.storage, rng), DependsOn));
        edges.push((vm as u32, pick(&layers.network, rng), ConnectsTo));
        if rng.random_bool(0.5) {
            edges.push((vm as u32, pick(&layers.vms, rng), Uses));
        }
    }
    for host in layers.hosts.clone() {
        edges.push((host as u32, hub(&layers.network, rng), ConnectsTo));
        edges.push((host as u32, pick(&layers.network, rng), ConnectsTo));
        edges.push((host as u32, hub(&layers.storage, rng), DependsOn));
    }
    for storage in layers.storage.clone().skip(layers.hubs) {
        edges.push((storage as u32, hub(&layers.network, rng), ConnectsTo));
    }
    for switch in layers.network.clone().skip(layers.hubs) {
        edges.push((switch as u32, hub(&layers.network, rng), ConnectsTo));
    }
    edges.retain(|(from, to, _)| from != to);
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackflow_core::graph::{DependencyGraph, Walker};

    #[test]
    fn the_same_seed_gives_the_same_cmdb_and_another_seed_another() {
        assert_eq!(generate(2_000, 7), generate(2_000, 7));
        assert_ne!(
            generate(2_000, 7).relationships,
            generate(2_000, 8).relationships
        );
    }

    #[test]
    fn the_estate_is_layered_with_unique_names_and_hubs_of_high_fan_in() {
        let cmdb = generate(20_000, 42);
        assert_eq!(cmdb.cis.len(), 20_000);
        let names: std::collections::HashSet<&str> =
            cmdb.cis.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), cmdb.cis.len(), "names are unique");
        let per_ci = cmdb.relationships.len() as f64 / cmdb.cis.len() as f64;
        assert!(
            (3.0..5.0).contains(&per_ci),
            "about four relationships per CI, got {per_ci:.2}"
        );
        let edges: Vec<(u32, u32)> = cmdb
            .relationships
            .iter()
            .map(|(f, t, _)| (*f, *t))
            .collect();
        let graph = DependencyGraph::from_edges(cmdb.cis.len(), &edges);
        let core_switch = cmdb
            .cis
            .iter()
            .position(|c| c.name == "sw-hub-01")
            .expect("a core switch") as u32;
        assert!(
            graph.dependents(core_switch).count() > 100,
            "a core switch has high fan-in"
        );
        let impact = Walker::new(cmdb.cis.len()).blast_radius(&graph, &[core_switch], None);
        assert!(
            impact.reached.len() > cmdb.cis.len() / 2,
            "a core switch change touches most of the estate"
        );
        // …while an ordinary CI's blast radius stays local: no web of
        // dependencies through which everything reaches everything.
        let mut walker = Walker::new(cmdb.cis.len());
        let mut radii: Vec<usize> = (0..cmdb.cis.len())
            .step_by(97)
            .filter(|&i| !cmdb.cis[i].name.contains("-hub-"))
            .map(|i| walker.blast_radius(&graph, &[i as u32], None).reached.len())
            .collect();
        radii.sort_unstable();
        let median = radii[radii.len() / 2];
        assert!(
            median < cmdb.cis.len() / 200,
            "median blast radius {median}"
        );
        let services = cmdb
            .cis
            .iter()
            .filter(|c| c.class == "business_service")
            .count();
        assert_eq!(services, 100);
    }
}
