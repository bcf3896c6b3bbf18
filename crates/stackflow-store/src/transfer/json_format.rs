//! JSON documents: `{"cis": [{name, class, criticality, environment?,
//! owner_group?, attributes?}…], "relationships": [{from, to, type}…]}`,
//! either key optional. The document is read with a visitor that hands on
//! each array element as it is parsed, so a file of millions of rows never
//! sits in memory. A syntax error ends the file (there is no resyncing
//! inside JSON); an element of the wrong shape rejects only its row.

use super::rows::{CiFields, check_ci, check_relationship};
use super::{CiRecord, FileError, ImportKind, ParsedRow, RelationshipRecord, RowRef};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::io::{Read, Write};

/// A CI element before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCi {
    name: String,
    class: String,
    criticality: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    owner_group: Option<String>,
    #[serde(default)]
    attributes: Option<Value>,
}

/// A relationship element before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRelationship {
    from: String,
    to: String,
    #[serde(rename = "type")]
    rel_type: String,
}

/// Marks the error raised when `emit` asks to stop, so it is not reported
/// as a syntax error.
const ABANDONED: &str = "stackflow: import abandoned";

/// Reads a JSON document element by element.
pub(super) fn parse(
    reader: Box<dyn Read + Send>,
    emit: &mut dyn FnMut(ParsedRow) -> bool,
) -> Result<ImportKind, FileError> {
    let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    let mut seq = 0_i64;
    let result = Document {
        emit,
        seq: &mut seq,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match result {
        Ok(()) => Ok(ImportKind::Json),
        Err(err) if err.to_string().starts_with(ABANDONED) => Err(FileError::Abandoned),
        Err(err) if err.is_io() => Err(FileError::Read(err.into())),
        Err(err) => Err(FileError::Invalid(format!(
            "the document is not valid: {err}"
        ))),
    }
}

struct Document<'a> {
    emit: &'a mut dyn FnMut(ParsedRow) -> bool,
    seq: &'a mut i64,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object {"cis": […], "relationships": […]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let section = match key.as_str() {
                "cis" => "cis",
                "relationships" => "relationships",
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown key `{other}`; expected cis or relationships"
                    )));
                }
            };
            if seen.contains(&section) {
                return Err(A::Error::custom(format!("`{section}` appears twice")));
            }
            seen.push(section);
            map.next_value_seed(Section {
                section,
                emit: &mut *self.emit,
                seq: &mut *self.seq,
            })?;
        }
        Ok(())
    }
}

struct Section<'a> {
    section: &'static str,
    emit: &'a mut dyn FnMut(ParsedRow) -> bool,
    seq: &'a mut i64,
}

impl<'de> DeserializeSeed<'de> for Section<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Section<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {}", self.section)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0_u64;
        while let Some(element) = seq.next_element::<Value>()? {
            *self.seq += 1;
            let at = RowRef::Index(self.section, index);
            index += 1;
            let row = if self.section == "cis" {
                ci_row(element, *self.seq, at)
            } else {
                relationship_row(element, *self.seq, at)
            };
            if !(self.emit)(row) {
                // The consumer has gone: stop reading.
                return Err(A::Error::custom(ABANDONED));
            }
        }
        Ok(())
    }
}

fn shape_error(err: serde_json::Error) -> String {
    format!("malformed JSON row: {err}")
}

fn ci_row(element: Value, seq: i64, at: RowRef) -> ParsedRow {
    let checked = serde_json::from_value::<JsonCi>(element)
        .map_err(shape_error)
        .and_then(|ci| {
            check_ci(CiFields {
                name: &ci.name,
                class: &ci.class,
                criticality: &ci.criticality,
                environment: &ci.environment,
                owner_group: ci.owner_group.as_deref(),
                attributes: ci.attributes,
            })
        });
    ParsedRow::ci(seq, at, checked)
}

fn relationship_row(element: Value, seq: i64, at: RowRef) -> ParsedRow {
    let checked = serde_json::from_value::<JsonRelationship>(element)
        .map_err(shape_error)
        .and_then(|r| check_relationship(&r.from, &r.to, &r.rel_type));
    ParsedRow::relationship(seq, at, checked)
}

/// Which section a [`JsonWriter`] is in.
#[derive(PartialEq)]
enum Written {
    Nothing,
    Cis(usize),
    Relationships(usize),
}

/// Writes a JSON document: all CIs first, then all relationships, one
/// element per line, keys sorted, so the same CMDB gives the same file.
pub struct JsonWriter<W: Write> {
    out: W,
    written: Written,
}

impl<W: Write> JsonWriter<W> {
    /// Starts a document.
    pub fn new(out: W) -> Self {
        JsonWriter {
            out,
            written: Written::Nothing,
        }
    }

    fn element(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        Ok(())
    }

    /// One CI; every CI must come before the first relationship.
    pub fn ci(&mut self, ci: &CiRecord) -> std::io::Result<()> {
        match self.written {
            Written::Nothing => self.out.write_all(b"{\"cis\": [\n")?,
            Written::Cis(_) => self.out.write_all(b",\n")?,
            Written::Relationships(_) => {
                return Err(std::io::Error::other("CIs must precede relationships"));
            }
        }
        self.element(ci)?;
        self.written = match self.written {
            Written::Cis(n) => Written::Cis(n + 1),
            _ => Written::Cis(1),
        };
        Ok(())
    }

    /// One relationship.
    pub fn relationship(&mut self, relationship: &RelationshipRecord) -> std::io::Result<()> {
        match self.written {
            Written::Nothing => self
                .out
                .write_all(b"{\"cis\": [],\n\"relationships\": [\n")?,
            Written::Cis(_) => self.out.write_all(b"\n],\n\"relationships\": [\n")?,
            Written::Relationships(_) => self.out.write_all(b",\n")?,
        }
        self.element(relationship)?;
        self.written = match self.written {
            Written::Relationships(n) => Written::Relationships(n + 1),
            _ => Written::Relationships(1),
        };
        Ok(())
    }

    /// Closes the document and returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        let tail: &[u8] = match self.written {
            Written::Nothing => b"{\"cis\": [],\n\"relationships\": []}\n",
            Written::Cis(_) => b"\n],\n\"relationships\": []}\n",
            Written::Relationships(_) => b"\n]}\n",
        };
        self.out.write_all(tail)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackflow_core::{Criticality, RelationshipType};

    fn rows(text: &str) -> Result<Vec<ParsedRow>, FileError> {
        let mut rows = Vec::new();
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.to_owned()));
        parse(reader, &mut |row| {
            rows.push(row);
            true
        })?;
        Ok(rows)
    }

    #[test]
    fn both_sections_in_either_order_with_positions() {
        let text = r#"{"relationships": [{"from": "app", "to": "db", "type": "depends_on"}],
            "cis": [{"name": "db", "class": "database", "criticality": "high"},
                    {"name": "app", "class": "application", "criticality": "urgent"}]}"#;
        let rows = rows(text).expect("parses");
        assert!(matches!(
            &rows[0],
            ParsedRow::Relationship {
                seq: 1,
                at: RowRef::Index("relationships", 0),
                ..
            }
        ));
        assert!(matches!(
            &rows[1],
            ParsedRow::Ci {
                seq: 2,
                at: RowRef::Index("cis", 0),
                ..
            }
        ));
        assert!(
            matches!(&rows[2], ParsedRow::Rejected { at: RowRef::Index("cis", 1), ci_row: true, reason, .. } if reason.contains("urgent"))
        );
    }

    #[test]
    fn an_element_of_the_wrong_shape_rejects_only_its_row() {
        let text = r#"{"cis": [{"name": "db"}, 7, {"name": "x", "class": "server", "criticality": "low", "colour": "red"},
            {"name": "ok", "class": "server", "criticality": "low"}]}"#;
        let rows = rows(text).expect("parses");
        assert_eq!(rows.len(), 4);
        for row in &rows[..3] {
            assert!(
                matches!(row, ParsedRow::Rejected { reason, .. } if reason.starts_with("malformed JSON row")),
                "{row:?}"
            );
        }
        assert!(matches!(&rows[3], ParsedRow::Ci { .. }));
    }

    #[test]
    fn a_broken_document_is_a_file_error() {
        assert!(matches!(
            rows(r#"{"cis": [{"name": "#),
            Err(FileError::Invalid(_))
        ));
        assert!(matches!(
            rows(r#"{"items": []}"#),
            Err(FileError::Invalid(_))
        ));
        assert!(matches!(rows(r#"[]"#), Err(FileError::Invalid(_))));
        assert!(rows("{}").expect("empty document").is_empty());
    }

    #[test]
    fn written_documents_read_back_the_same() {
        let ci = CiRecord {
            name: "db".into(),
            class: "database".into(),
            criticality: Criticality::Low,
            environment: String::new(),
            owner_group: None,
            attributes: serde_json::json!({"b": 1, "a": {"y": 1, "x": 2}}),
        };
        let relationship = RelationshipRecord {
            from: "app".into(),
            to: "db".into(),
            rel_type: RelationshipType::RunsOn,
        };
        let mut writer = JsonWriter::new(Vec::new());
        writer.ci(&ci).unwrap();
        writer.relationship(&relationship).unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        assert!(
            text.contains(r#""attributes":{"a":{"x":2,"y":1},"b":1}"#),
            "{text}"
        );
        let parsed = rows(&text).expect("parses");
        assert!(matches!(&parsed[0], ParsedRow::Ci { ci: read, .. } if *read == ci));
        assert!(
            matches!(&parsed[1], ParsedRow::Relationship { relationship: read, .. } if *read == relationship)
        );
        let empty = String::from_utf8(JsonWriter::new(Vec::new()).finish().unwrap()).unwrap();
        assert!(rows(&empty).expect("parses").is_empty());
    }
}
