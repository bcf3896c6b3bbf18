//! The synthetic CMDB in the benchmark's database: loaded once, reused by
//! later runs, and never mixed with another estate.

use crate::synthetic::SyntheticCmdb;
use anyhow::{Context, bail};
use stackflow_store::transfer::CsvKind;
use stackflow_store::{CiFilter, PageRequest, Store};
use stackflow_web::impact::IndexStats;
use std::sync::Arc;
use std::time::Instant;

/// Makes sure the synthetic CMDB is in the database: the last CI it
/// generates is the marker that a run with the same size and seed loaded
/// it. A database with other CIs but not that one holds another estate and
/// is refused before anything is written to it.
pub(super) async fn ensure_loaded(
    store: &Arc<dyn Store>,
    cmdb: &SyntheticCmdb,
    seed: u64,
    bench: &str,
) -> anyhow::Result<()> {
    let last = &cmdb.cis.last().context("an empty synthetic CMDB")?.name;
    if store.get_ci(last).await?.is_some() {
        eprintln!("reusing the synthetic CMDB already in the database ({last} exists)");
        return Ok(());
    }
    let any = store
        .list_cis(
            &CiFilter::default(),
            PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await?;
    if let Some(ci) = any.items.first() {
        bail!(
            "the database holds another CMDB (it has {} but not {last}, the last CI of \
             {} generated with seed {seed}): run the benchmark on an empty database",
            ci.name,
            cmdb.cis.len()
        );
    }
    eprintln!(
        "generating a synthetic CMDB of {} CIs (seed {seed}) into the database",
        cmdb.cis.len()
    );
    let started = Instant::now();
    super::import::create_owner_groups(store, cmdb).await?;
    // Unique per call: two loads in one process (the tests) must not share
    // files, and each removes its own directory when done.
    let dir = std::env::temp_dir().join(format!(
        "stackflow-bench-{bench}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).context("creating the bench directory")?;
    let loaded = async {
        let (cis, relationships) = super::import::write_files(cmdb, &dir)?;
        super::import::import_file(store, "load", &cis, CsvKind::Cis).await?;
        super::import::import_file(store, "load", &relationships, CsvKind::Relationships).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    loaded?;
    eprintln!("loaded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Refuses an impact index built from a database whose CMDB is not (only)
/// the generated one: the figures would be of another estate.
pub(super) fn check_index(
    stats: &IndexStats,
    cis: usize,
    relationships: usize,
) -> anyhow::Result<()> {
    if stats.cis != cis || stats.edges != relationships {
        bail!(
            "the database holds another CMDB ({} CIs, {} dependency edges; this benchmark \
             generates {cis} and {relationships}): run it on an empty database",
            stats.cis,
            stats.edges
        );
    }
    Ok(())
}
