//! CMDB import and export: the file formats (CSV and JSON), their parsing
//! into checked rows, the writers that produce them again, and the report
//! an import returns.
//!
//! Parsing is synchronous and streaming (a `Read`, never the whole file in
//! memory) because the store runs it on a blocking thread and feeds the
//! rows to the database as they come; see `ops/transfer.rs`.

mod csv_format;
mod json_format;
mod rows;

pub use csv_format::{CsvCiWriter, CsvRelationshipWriter};
pub use json_format::JsonWriter;
pub use rows::{CiRecord, ParsedRow, RelationshipRecord, RowRef};

use serde::Serialize;
use std::io::Read;

/// Most rejected rows listed in a report; the count is always complete.
pub const MAX_REJECTED_LISTED: usize = 1_000;

/// What a CSV file holds; JSON documents hold both sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsvKind {
    /// Configuration items: `name,class,criticality[,environment,owner_group,attributes]`.
    Cis,
    /// Relationships: `from,to,type`.
    Relationships,
}

impl std::str::FromStr for CsvKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cis" => Ok(CsvKind::Cis),
            "relationships" => Ok(CsvKind::Relationships),
            other => Err(format!(
                "unknown kind `{other}`; expected cis or relationships"
            )),
        }
    }
}

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// CSV; the kind is detected from the header unless given.
    Csv(Option<CsvKind>),
    /// One JSON document `{"cis": […], "relationships": […]}`.
    Json,
}

/// A file to import: its bytes, read as they are parsed, and its format.
pub struct ImportSource {
    /// The bytes; read on a blocking thread.
    pub reader: Box<dyn Read + Send>,
    /// How to read them.
    pub format: ImportFormat,
}

/// Options of an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Compute everything, then roll back.
    pub dry_run: bool,
}

/// What kind of file was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// A CSV file of CIs.
    Cis,
    /// A CSV file of relationships.
    Relationships,
    /// A JSON document.
    Json,
}

impl ImportKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Cis => "cis",
            ImportKind::Relationships => "relationships",
            ImportKind::Json => "json",
        }
    }
}

/// CI counts of an import. When the file is not applied they say what
/// applying it would have done with its valid rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CiCounts {
    /// New CIs.
    pub created: u64,
    /// Existing CIs whose fields differ from the row.
    pub updated: u64,
    /// Existing CIs equal to the row.
    pub unchanged: u64,
    /// Rows rejected.
    pub rejected: u64,
}

/// Relationship counts of an import (relationships have no fields to update).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RelationshipCounts {
    /// New relationships.
    pub created: u64,
    /// Relationships that already existed.
    pub unchanged: u64,
    /// Rows rejected.
    pub rejected: u64,
}

/// One rejected row and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RejectedRow {
    /// CSV: the line number; JSON: the array position, e.g. `cis[17]`.
    #[schema(value_type = Object)]
    pub line: RowRef,
    /// What is wrong with it.
    pub reason: String,
}

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// The kind of file.
    pub kind: ImportKind,
    /// Whether the file's rows are now in the CMDB (false when any row was
    /// rejected, and for a dry run).
    pub applied: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// CI counts.
    pub cis: CiCounts,
    /// Relationship counts.
    pub relationships: RelationshipCounts,
    /// Rejected rows in file order, at most [`MAX_REJECTED_LISTED`].
    pub rejected_rows: Vec<RejectedRow>,
    /// True when more rows were rejected than are listed.
    pub rejected_rows_truncated: bool,
}

impl ImportReport {
    /// Rows rejected, CIs and relationships together.
    pub fn rejected(&self) -> u64 {
        self.cis.rejected + self.relationships.rejected
    }
}

/// Receives a CMDB export: every CI in id order, then every relationship
/// in id order, from one consistent snapshot.
pub trait ExportSink {
    /// One CI.
    fn ci(&mut self, ci: &CiRecord) -> std::io::Result<()>;
    /// One relationship.
    fn relationship(&mut self, relationship: &RelationshipRecord) -> std::io::Result<()>;
}

/// Why a file could not be read at all (as opposed to rejected rows).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file's structure is wrong: header, document shape, syntax.
    #[error("{0}")]
    Invalid(String),
    /// Reading failed.
    #[error("could not read the file: {0}")]
    Read(#[from] std::io::Error),
    /// The consumer stopped taking rows (the import failed elsewhere).
    #[error("the import was abandoned")]
    Abandoned,
}

/// Parses a file, handing each row to `emit` in file order; `emit` returns
/// false to stop. Returns the kind of file read.
pub fn parse(
    source: ImportSource,
    emit: &mut dyn FnMut(ParsedRow) -> bool,
) -> Result<ImportKind, FileError> {
    match source.format {
        ImportFormat::Csv(kind) => csv_format::parse(source.reader, kind, emit),
        ImportFormat::Json => json_format::parse(source.reader, emit),
    }
}
