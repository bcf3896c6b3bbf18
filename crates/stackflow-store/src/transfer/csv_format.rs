//! CSV files: one file of CIs (`name,class,criticality` required;
//! `environment,owner_group,attributes` optional, any order) or one of
//! relationships (`from,to,type`). Columns are found by header name; an
//! unknown or missing column rejects the whole file, since guessing what a
//! column means would import wrong data silently.

use super::rows::{CiFields, check_ci, check_relationship};
use super::{CiRecord, CsvKind, FileError, ImportKind, ParsedRow, RelationshipRecord, RowRef};
use std::io::{Read, Write};

const CI_REQUIRED: &[&str] = &["name", "class", "criticality"];
const CI_OPTIONAL: &[&str] = &["environment", "owner_group", "attributes"];
const RELATIONSHIP_COLUMNS: &[&str] = &["from", "to", "type"];

/// Column positions by name for one header.
struct Columns(Vec<(&'static str, usize)>);

impl Columns {
    fn get<'r>(&self, record: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.0
            .iter()
            .find(|(column, _)| *column == name)
            .and_then(|(_, index)| record.get(*index))
    }
}

/// Which kind the header describes (checked against `expected`), and where
/// each column is.
fn read_header(
    header: &csv::StringRecord,
    expected: Option<CsvKind>,
) -> Result<(CsvKind, Columns), FileError> {
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    let detected = if names.contains(&"from") || names.contains(&"to") || names.contains(&"type") {
        CsvKind::Relationships
    } else {
        CsvKind::Cis
    };
    let kind = expected.unwrap_or(detected);
    let (required, optional): (&[&str], &[&str]) = match kind {
        CsvKind::Cis => (CI_REQUIRED, CI_OPTIONAL),
        CsvKind::Relationships => (RELATIONSHIP_COLUMNS, &[]),
    };
    let mut columns = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let Some(known) = required.iter().chain(optional).find(|c| *c == name) else {
            let all: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(FileError::Invalid(format!(
                "unknown column `{name}` in the header; a {} file has the columns {}",
                kind_name(kind),
                all.join(", ")
            )));
        };
        if columns.iter().any(|(c, _)| c == known) {
            return Err(FileError::Invalid(format!(
                "column `{name}` appears twice in the header"
            )));
        }
        columns.push((*known, index));
    }
    let missing: Vec<&str> = required
        .iter()
        .filter(|r| !columns.iter().any(|(c, _)| c == *r))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(FileError::Invalid(format!(
            "the header lacks the column(s) {} of a {} file",
            missing.join(", "),
            kind_name(kind)
        )));
    }
    Ok((kind, Columns(columns)))
}

fn kind_name(kind: CsvKind) -> &'static str {
    match kind {
        CsvKind::Cis => "CI",
        CsvKind::Relationships => "relationship",
    }
}

/// Reads a CSV file row by row.
pub(super) fn parse(
    reader: Box<dyn Read + Send>,
    expected: Option<CsvKind>,
    emit: &mut dyn FnMut(ParsedRow) -> bool,
) -> Result<ImportKind, FileError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let header = match csv.headers() {
        Ok(header) => header.clone(),
        Err(err) => return Err(file_error(err)),
    };
    if header.is_empty() {
        return Err(FileError::Invalid("the file is empty: no header".into()));
    }
    let (kind, columns) = read_header(&header, expected)?;
    let mut record = csv::StringRecord::new();
    let mut seq = 0_i64;
    loop {
        seq += 1;
        let row = match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let at = RowRef::Line(record.position().map_or(0, csv::Position::line));
                row_of(kind, &columns, &record, seq, at)
            }
            Err(err) => {
                let line = err.position().map_or(0, csv::Position::line);
                if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                    return Err(file_error(err));
                }
                ParsedRow::Rejected {
                    seq,
                    at: RowRef::Line(line),
                    ci_row: kind == CsvKind::Cis,
                    reason: format!("malformed CSV row: {}", csv_reason(&err)),
                }
            }
        };
        if !emit(row) {
            return Err(FileError::Abandoned);
        }
    }
    Ok(match kind {
        CsvKind::Cis => ImportKind::Cis,
        CsvKind::Relationships => ImportKind::Relationships,
    })
}

fn file_error(err: csv::Error) -> FileError {
    match err.into_kind() {
        csv::ErrorKind::Io(err) => FileError::Read(err),
        other => FileError::Invalid(format!("unreadable CSV header: {other:?}")),
    }
}

fn csv_reason(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} field(s) where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => err.to_string(),
    }
}

fn row_of(
    kind: CsvKind,
    columns: &Columns,
    record: &csv::StringRecord,
    seq: i64,
    at: RowRef,
) -> ParsedRow {
    let field = |name| columns.get(record, name).unwrap_or("");
    match kind {
        CsvKind::Cis => {
            let attributes = match field("attributes") {
                "" => Ok(None),
                text => serde_json::from_str(text)
                    .map(Some)
                    .map_err(|e| format!("attributes: not JSON: {e}")),
            };
            let checked = attributes.and_then(|attributes| {
                check_ci(CiFields {
                    name: field("name"),
                    class: field("class"),
                    criticality: field("criticality"),
                    environment: field("environment"),
                    owner_group: Some(field("owner_group")),
                    attributes,
                })
            });
            ParsedRow::ci(seq, at, checked)
        }
        CsvKind::Relationships => ParsedRow::relationship(
            seq,
            at,
            check_relationship(field("from"), field("to"), field("type")),
        ),
    }
}

/// Writes a CSV file of CIs, header first, in the order given.
pub struct CsvCiWriter<W: Write>(csv::Writer<W>);

impl<W: Write> CsvCiWriter<W> {
    /// Starts the file (writes the header).
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(CI_REQUIRED.iter().chain(CI_OPTIONAL))
            .map_err(std::io::Error::other)?;
        Ok(CsvCiWriter(csv))
    }

    /// One CI. Attributes are written as compact JSON with sorted keys, so
    /// the same CMDB always gives the same file.
    pub fn write(&mut self, ci: &CiRecord) -> std::io::Result<()> {
        let attributes = serde_json::to_string(&ci.attributes)?;
        self.0
            .write_record([
                ci.name.as_str(),
                ci.class.as_str(),
                ci.criticality.as_str(),
                ci.environment.as_str(),
                ci.owner_group.as_deref().unwrap_or(""),
                attributes.as_str(),
            ])
            .map_err(std::io::Error::other)
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> std::io::Result<W> {
        self.0.into_inner().map_err(|e| e.into_error())
    }
}

/// Writes a CSV file of relationships, header first.
pub struct CsvRelationshipWriter<W: Write>(csv::Writer<W>);

impl<W: Write> CsvRelationshipWriter<W> {
    /// Starts the file (writes the header).
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(RELATIONSHIP_COLUMNS)
            .map_err(std::io::Error::other)?;
        Ok(CsvRelationshipWriter(csv))
    }

    /// One relationship.
    pub fn write(&mut self, relationship: &RelationshipRecord) -> std::io::Result<()> {
        self.0
            .write_record([
                relationship.from.as_str(),
                relationship.to.as_str(),
                relationship.rel_type.as_str(),
            ])
            .map_err(std::io::Error::other)
    }

    /// Flushes and returns the output.
    pub fn finish(self) -> std::io::Result<W> {
        self.0.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, kind: Option<CsvKind>) -> Result<(ImportKind, Vec<ParsedRow>), FileError> {
        let mut rows = Vec::new();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.to_owned()));
        let kind = parse(reader, kind, &mut |row| {
            rows.push(row);
            true
        })?;
        Ok((kind, rows))
    }

    fn rejected(row: &ParsedRow) -> (u64, &str) {
        match row {
            ParsedRow::Rejected {
                at: RowRef::Line(line),
                reason,
                ..
            } => (*line, reason.as_str()),
            other => panic!("not rejected: {other:?}"),
        }
    }

    #[test]
    fn ci_columns_are_found_by_name_in_any_order() {
        let text = "criticality,name,attributes,class\nhigh,db-1,\"{\"\"b\"\":1,\"\"a\"\":2}\",database\nlow,db-2,,server\n";
        let (kind, rows) = rows(text, None).expect("parses");
        assert_eq!(kind, ImportKind::Cis);
        let ParsedRow::Ci { seq, at, ci } = &rows[0] else {
            panic!("{:?}", rows[0])
        };
        assert_eq!((*seq, at), (1, &RowRef::Line(2)));
        assert_eq!(ci.name, "db-1");
        assert_eq!(ci.attributes, serde_json::json!({"a": 2, "b": 1}));
        assert!(matches!(&rows[1], ParsedRow::Ci { ci, .. } if ci.class == "server"));
    }

    #[test]
    fn an_unknown_or_missing_column_rejects_the_file() {
        let err = rows("name,class,criticality,colour\n", None).unwrap_err();
        assert!(err.to_string().contains("unknown column `colour`"), "{err}");
        let err = rows("name,class\n", None).unwrap_err();
        assert!(err.to_string().contains("criticality"), "{err}");
        let err = rows("name,class,criticality\n", Some(CsvKind::Relationships)).unwrap_err();
        assert!(err.to_string().contains("unknown column `name`"), "{err}");
        assert!(rows("", None).is_err());
    }

    #[test]
    fn malformed_rows_are_rejected_with_their_line() {
        let text = "name,class,criticality\ndb-1,database,high\ndb-2,database\ndb-3,database,urgent\ndb-4,database,low,extra\ndb-5,database,low\n";
        let (_, rows) = rows(text, Some(CsvKind::Cis)).expect("parses");
        assert_eq!(rows.len(), 5);
        assert_eq!(
            rejected(&rows[1]),
            (3, "malformed CSV row: 2 field(s) where the header has 3")
        );
        assert_eq!(rejected(&rows[2]).0, 4);
        assert!(rejected(&rows[2]).1.contains("urgent"));
        assert_eq!(rejected(&rows[3]).0, 5);
        assert!(matches!(
            &rows[4],
            ParsedRow::Ci {
                at: RowRef::Line(6),
                ..
            }
        ));
    }

    #[test]
    fn relationship_files_are_detected_from_their_header() {
        let text = "from,to,type\napp,db,depends_on\napp,app,uses\n";
        let (kind, rows) = rows(text, None).expect("parses");
        assert_eq!(kind, ImportKind::Relationships);
        assert!(matches!(&rows[0], ParsedRow::Relationship { .. }));
        assert!(rejected(&rows[1]).1.contains("itself"));
    }

    #[test]
    fn written_files_read_back_the_same() {
        let ci = CiRecord {
            name: "db, \"main\"".into(),
            class: "database".into(),
            criticality: stackflow_core::Criticality::Critical,
            environment: "production".into(),
            owner_group: Some("dba".into()),
            attributes: serde_json::json!({"z": [1, 2], "a": "x,y"}),
        };
        let mut writer = CsvCiWriter::new(Vec::new()).unwrap();
        writer.write(&ci).unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let (_, rows) = rows(&text, None).expect("parses");
        assert_eq!(
            rows,
            vec![ParsedRow::Ci {
                seq: 1,
                at: RowRef::Line(2),
                ci
            }]
        );
    }
}
