//! `stackflow import` and `stackflow export`: CMDB files in and out,
//! through the same store operations as `POST /api/cmdb/import`.

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stackflow_store::transfer::{
    CiRecord, CsvCiWriter, CsvKind, CsvRelationshipWriter, ExportSink, ImportFormat, ImportOptions,
    ImportReport, ImportSource, JsonWriter, RelationshipRecord,
};
use stackflow_store::{Caller, Store};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// CSV: one file of CIs, one of relationships.
    Csv,
    /// One JSON document with both.
    Json,
}

/// `stackflow import FILE`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: CSV (CIs or relationships) or JSON.
    pub file: PathBuf,
    /// csv or json (default: from the file name; `.json` is JSON, else CSV).
    #[arg(long)]
    pub format: Option<FileFormat>,
    /// For CSV: cis or relationships (default: detected from the header).
    #[arg(long)]
    pub kind: Option<CsvKind>,
    /// Check and count everything, then roll back.
    #[arg(long)]
    pub dry_run: bool,
}

/// `stackflow export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// csv (needs --cis and --relationships) or json.
    #[arg(long, default_value = "json")]
    pub format: FileFormat,
    /// CSV: where to write the CIs.
    #[arg(long, required_if_eq("format", "csv"))]
    pub cis: Option<PathBuf>,
    /// CSV: where to write the relationships.
    #[arg(long, required_if_eq("format", "csv"))]
    pub relationships: Option<PathBuf>,
    /// JSON: where to write the document (`-` or nothing for stdout).
    pub output: Option<PathBuf>,
}

/// Imports one file with a progress bar over the bytes read; prints the
/// report as JSON on stdout. Fails when rows were rejected.
pub async fn import(store: &Arc<dyn Store>, by: &Caller, args: ImportArgs) -> anyhow::Result<()> {
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let format = match args.format.unwrap_or_else(|| format_of(&args.file)) {
        FileFormat::Csv => ImportFormat::Csv(args.kind),
        FileFormat::Json if args.kind.is_some() => {
            anyhow::bail!("--kind applies to CSV files only")
        }
        FileFormat::Json => ImportFormat::Json,
    };
    let progress = progress_bar(length);
    let source = ImportSource {
        reader: Box::new(progress.wrap_read(file)),
        format,
    };
    let options = ImportOptions {
        dry_run: args.dry_run,
    };
    let report = store.import_cmdb(by, source, options).await;
    progress.finish_and_clear();
    let report = report.with_context(|| format!("importing {}", args.file.display()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    eprintln!("{}", summary(&report));
    if report.rejected() > 0 {
        anyhow::bail!(
            "{} row(s) rejected; nothing was imported",
            report.rejected()
        );
    }
    Ok(())
}

fn format_of(path: &Path) -> FileFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("json") => FileFormat::Json,
        _ => FileFormat::Csv,
    }
}

/// Bytes read of the file; the spinner keeps turning while the database
/// applies what was read. Hidden when stderr is not a terminal.
fn progress_bar(length: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// One line for people: what happened.
pub fn summary(report: &ImportReport) -> String {
    let outcome = if report.applied {
        "applied"
    } else if report.rejected() > 0 {
        "NOT applied (rows rejected)"
    } else {
        "dry run, rolled back"
    };
    format!(
        "{}: {outcome}; CIs {} created, {} updated, {} unchanged, {} rejected; \
         relationships {} created, {} unchanged, {} rejected",
        report.kind.as_str(),
        report.cis.created,
        report.cis.updated,
        report.cis.unchanged,
        report.cis.rejected,
        report.relationships.created,
        report.relationships.unchanged,
        report.relationships.rejected,
    )
}

/// Writes the CMDB as CSV files or one JSON document.
pub async fn export(store: &Arc<dyn Store>, args: ExportArgs) -> anyhow::Result<()> {
    match args.format {
        FileFormat::Csv => {
            let (Some(cis), Some(relationships)) = (args.cis, args.relationships) else {
                anyhow::bail!("--format csv needs --cis FILE and --relationships FILE");
            };
            let mut sink = CsvSink {
                cis: CsvCiWriter::new(create(&cis)?)?,
                relationships: CsvRelationshipWriter::new(create(&relationships)?)?,
            };
            store.export_cmdb(&mut sink).await?;
            sink.cis.finish()?.flush()?;
            sink.relationships.finish()?.flush()?;
        }
        FileFormat::Json => {
            let out: Box<dyn Write + Send> = match args.output {
                Some(path) if path.as_os_str() != "-" => Box::new(create(&path)?),
                _ => Box::new(BufWriter::new(std::io::stdout())),
            };
            let mut sink = JsonSink(JsonWriter::new(out));
            store.export_cmdb(&mut sink).await?;
            sink.0.finish()?.flush()?;
        }
    }
    Ok(())
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Exports into two CSV files.
pub struct CsvSink<W: Write> {
    /// The CI file.
    pub cis: CsvCiWriter<W>,
    /// The relationship file.
    pub relationships: CsvRelationshipWriter<W>,
}

impl<W: Write> ExportSink for CsvSink<W> {
    fn ci(&mut self, ci: &CiRecord) -> std::io::Result<()> {
        self.cis.write(ci)
    }

    fn relationship(&mut self, relationship: &RelationshipRecord) -> std::io::Result<()> {
        self.relationships.write(relationship)
    }
}

/// Exports into one JSON document.
struct JsonSink<W: Write>(JsonWriter<W>);

impl<W: Write> ExportSink for JsonSink<W> {
    fn ci(&mut self, ci: &CiRecord) -> std::io::Result<()> {
        self.0.ci(ci)
    }

    fn relationship(&mut self, relationship: &RelationshipRecord) -> std::io::Result<()> {
        self.0.relationship(relationship)
    }
}
