//! The import benchmark: writes a synthetic CMDB (`synthetic::generate`,
//! about four relationships per CI) as the two CSV files an operator
//! would import, imports them through the store, and imports them again
//! to time the pass where nothing changes.

use crate::cli::cli_caller;
use crate::synthetic::{SyntheticCmdb, generate};
use anyhow::Context;
use clap::Args;
use stackflow_core::GroupKind;
use stackflow_store::transfer::{CsvKind, ImportFormat, ImportOptions, ImportSource};
use stackflow_store::{NewGroup, Store, StoreError};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// `stackflow bench import`.
#[derive(Debug, Args)]
pub struct ImportBench {
    /// How many CIs to generate (relationships: about four per CI).
    #[arg(long, default_value_t = 100_000)]
    pub cis: usize,
    /// Seed of the synthetic estate.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Runs the benchmark and prints one line per imported file.
pub async fn run(store: &Arc<dyn Store>, args: ImportBench) -> anyhow::Result<()> {
    let started = Instant::now();
    let cmdb = generate(args.cis, args.seed);
    create_owner_groups(store, &cmdb).await?;
    let dir = std::env::temp_dir().join(format!("stackflow-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating the bench directory")?;
    let outcome = async {
        let (cis, relationships) = write_files(&cmdb, &dir)?;
        println!(
            "synthetic CMDB: {} CIs, {} relationships drawn (seed {}), files written in {:.1} s",
            cmdb.cis.len(),
            cmdb.relationships.len(),
            args.seed,
            started.elapsed().as_secs_f64()
        );
        for pass in ["import", "re-import"] {
            import_file(store, pass, &cis, CsvKind::Cis).await?;
            import_file(store, pass, &relationships, CsvKind::Relationships).await?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// The synthetic estate names owner groups; an import refuses unknown ones.
pub(super) async fn create_owner_groups(
    store: &Arc<dyn Store>,
    cmdb: &SyntheticCmdb,
) -> anyhow::Result<()> {
    let groups: BTreeSet<&str> = cmdb.cis.iter().map(|ci| ci.owner_group).collect();
    for name in groups {
        let group = NewGroup {
            name: name.to_owned(),
            kind: GroupKind::Implementation,
            description: "synthetic CMDB owner".to_owned(),
            members: Vec::new(),
        };
        match store.create_group(&cli_caller(), group).await {
            Ok(_) | Err(StoreError::Duplicate(_)) => {}
            Err(err) => return Err(err).context("creating owner groups"),
        }
    }
    Ok(())
}

pub(super) fn write_files(cmdb: &SyntheticCmdb, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cis = dir.join("cis.csv");
    let relationships = dir.join("relationships.csv");
    cmdb.write_csv(
        BufWriter::new(File::create(&cis)?),
        BufWriter::new(File::create(&relationships)?),
    )?;
    Ok((cis, relationships))
}

pub(super) async fn import_file(
    store: &Arc<dyn Store>,
    pass: &str,
    path: &Path,
    kind: CsvKind,
) -> anyhow::Result<()> {
    let source = ImportSource {
        reader: Box::new(BufReader::with_capacity(1 << 20, File::open(path)?)),
        format: ImportFormat::Csv(Some(kind)),
    };
    let started = Instant::now();
    let report = store
        .import_cmdb(&cli_caller(), source, ImportOptions::default())
        .await
        .with_context(|| format!("importing {}", path.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.applied,
        "the benchmark file was rejected: {:?}",
        report.rejected_rows.first()
    );
    let rows = report.cis.created
        + report.cis.updated
        + report.cis.unchanged
        + report.relationships.created
        + report.relationships.unchanged;
    println!(
        "{pass:<9} {:<13} {rows:>9} rows {seconds:>8.1} s {:>10.0} rows/s   {}",
        report.kind.as_str(),
        rows as f64 / seconds.max(1e-9),
        crate::transfer::summary(&report)
    );
    Ok(())
}
