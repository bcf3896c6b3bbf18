//! The rows of an import file once parsed, and the checks every row gets
//! whatever its format (names, classes, criticality, attributes). Checks
//! that need the database (owner groups, references, duplicates) run there.

use serde::{Serialize, Serializer};
use stackflow_core::{Criticality, Refusal, RelationshipType, validate};

/// Where a row is in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowRef {
    /// A CSV line number (the header is line 1).
    Line(u64),
    /// A JSON array position: `section[index]`.
    Index(&'static str, u64),
}

impl RowRef {
    /// The text kept beside a staged row: `17` or `cis[17]`.
    pub fn label(&self) -> String {
        match self {
            RowRef::Line(line) => line.to_string(),
            RowRef::Index(section, index) => format!("{section}[{index}]"),
        }
    }

    /// Reads a label back.
    pub fn from_label(label: &str) -> RowRef {
        if let Ok(line) = label.parse() {
            return RowRef::Line(line);
        }
        let parsed = label
            .strip_suffix(']')
            .and_then(|rest| rest.split_once('['));
        match parsed {
            Some(("relationships", index)) => {
                RowRef::Index("relationships", index.parse().unwrap_or(0))
            }
            Some((_, index)) => RowRef::Index("cis", index.parse().unwrap_or(0)),
            None => RowRef::Line(0),
        }
    }

    /// How a message names the row: `line 17` or `cis[17]`.
    pub fn describe(&self) -> String {
        match self {
            RowRef::Line(line) => format!("line {line}"),
            RowRef::Index(..) => self.label(),
        }
    }
}

impl Serialize for RowRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RowRef::Line(line) => serializer.serialize_u64(*line),
            RowRef::Index(..) => serializer.serialize_str(&self.label()),
        }
    }
}

/// A checked CI row, also what an export writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CiRecord {
    /// Unique name.
    pub name: String,
    /// Class.
    pub class: String,
    /// Criticality.
    pub criticality: Criticality,
    /// Environment (may be empty).
    pub environment: String,
    /// Owning group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_group: Option<String>,
    /// Free attributes: always a JSON object.
    pub attributes: serde_json::Value,
}

/// A checked relationship row: `from` depends on `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationshipRecord {
    /// The dependent CI.
    pub from: String,
    /// The CI depended on.
    pub to: String,
    /// Kind of dependency.
    #[serde(rename = "type")]
    pub rel_type: RelationshipType,
}

/// One row as the parser hands it on: `seq` is its position among all
/// rows of the file (so reports come out in file order).
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedRow {
    /// A valid CI row.
    Ci {
        /// Position in the file.
        seq: i64,
        /// Where it is.
        at: RowRef,
        /// The row.
        ci: CiRecord,
    },
    /// A valid relationship row.
    Relationship {
        /// Position in the file.
        seq: i64,
        /// Where it is.
        at: RowRef,
        /// The row.
        relationship: RelationshipRecord,
    },
    /// A row that failed its own checks.
    Rejected {
        /// Position in the file.
        seq: i64,
        /// Where it is.
        at: RowRef,
        /// True for a CI row, false for a relationship row.
        ci_row: bool,
        /// Why.
        reason: String,
    },
}

impl ParsedRow {
    /// A CI row, or its rejection.
    pub fn ci(seq: i64, at: RowRef, checked: Result<CiRecord, String>) -> ParsedRow {
        match checked {
            Ok(ci) => ParsedRow::Ci { seq, at, ci },
            Err(reason) => ParsedRow::Rejected {
                seq,
                at,
                ci_row: true,
                reason,
            },
        }
    }

    /// A relationship row, or its rejection.
    pub fn relationship(
        seq: i64,
        at: RowRef,
        checked: Result<RelationshipRecord, String>,
    ) -> ParsedRow {
        match checked {
            Ok(relationship) => ParsedRow::Relationship {
                seq,
                at,
                relationship,
            },
            Err(reason) => ParsedRow::Rejected {
                seq,
                at,
                ci_row: false,
                reason,
            },
        }
    }
}

/// The text fields of a CI row, from any format.
pub(super) struct CiFields<'a> {
    pub name: &'a str,
    pub class: &'a str,
    pub criticality: &'a str,
    pub environment: &'a str,
    pub owner_group: Option<&'a str>,
    pub attributes: Option<serde_json::Value>,
}

fn refusal_text(refusal: Refusal) -> String {
    match refusal {
        Refusal::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// PostgreSQL cannot store NUL characters in text; nothing we store has them.
fn no_nul(field: &str, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        Err(format!("{field}: may not contain NUL characters"))
    } else {
        Ok(())
    }
}

/// Checks a CI row's own fields (the same rules as `POST /api/cis`).
pub(super) fn check_ci(fields: CiFields<'_>) -> Result<CiRecord, String> {
    validate::name("name", fields.name).map_err(refusal_text)?;
    validate::ci_class(fields.class).map_err(refusal_text)?;
    let criticality = fields
        .criticality
        .parse::<Criticality>()
        .map_err(|e| format!("criticality: {e}"))?;
    if fields.environment.chars().count() > 64 {
        return Err("environment: at most 64 characters".to_owned());
    }
    no_nul("environment", fields.environment)?;
    let owner_group = fields.owner_group.filter(|g| !g.is_empty());
    if let Some(group) = owner_group {
        no_nul("owner_group", group)?;
    }
    let attributes = fields
        .attributes
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    if !attributes.is_object() {
        return Err("attributes: must be a JSON object".to_owned());
    }
    if attributes.to_string().contains("\\u0000") {
        return Err("attributes: may not contain NUL characters".to_owned());
    }
    Ok(CiRecord {
        name: fields.name.to_owned(),
        class: fields.class.to_owned(),
        criticality,
        environment: fields.environment.to_owned(),
        owner_group: owner_group.map(str::to_owned),
        attributes,
    })
}

/// Checks a relationship row's own fields; whether its CIs exist is the
/// database's to say.
pub(super) fn check_relationship(
    from: &str,
    to: &str,
    rel_type: &str,
) -> Result<RelationshipRecord, String> {
    validate::name("from", from).map_err(refusal_text)?;
    validate::name("to", to).map_err(refusal_text)?;
    let rel_type = rel_type
        .parse::<RelationshipType>()
        .map_err(|e| format!("type: {e}"))?;
    if from == to {
        return Err(format!("a CI cannot depend on itself (`{from}`)"));
    }
    Ok(RelationshipRecord {
        from: from.to_owned(),
        to: to.to_owned(),
        rel_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(name: &'a str, class: &'a str, criticality: &'a str) -> CiFields<'a> {
        CiFields {
            name,
            class,
            criticality,
            environment: "",
            owner_group: Some(""),
            attributes: None,
        }
    }

    #[test]
    fn ci_rows_follow_the_api_rules() {
        let ci = check_ci(fields("db-1", "database", "high")).expect("valid");
        assert_eq!(ci.owner_group, None, "an empty owner group is none");
        assert_eq!(ci.attributes, serde_json::json!({}));
        assert!(
            check_ci(fields(" db", "database", "high"))
                .unwrap_err()
                .starts_with("name:")
        );
        assert!(
            check_ci(fields("db", "Data Base", "high"))
                .unwrap_err()
                .starts_with("class:")
        );
        assert!(
            check_ci(fields("db", "database", "urgent"))
                .unwrap_err()
                .contains("unknown value `urgent`")
        );
        let mut list = fields("db", "database", "low");
        list.attributes = Some(serde_json::json!([1]));
        assert_eq!(
            check_ci(list).unwrap_err(),
            "attributes: must be a JSON object"
        );
    }

    #[test]
    fn relationship_rows_name_two_different_cis_and_a_known_type() {
        assert!(check_relationship("a", "b", "runs_on").is_ok());
        assert!(
            check_relationship("a", "a", "runs_on")
                .unwrap_err()
                .contains("itself")
        );
        assert!(
            check_relationship("a", "b", "likes")
                .unwrap_err()
                .starts_with("type:")
        );
    }

    #[test]
    fn row_references_survive_their_label() {
        for at in [
            RowRef::Line(17),
            RowRef::Index("cis", 3),
            RowRef::Index("relationships", 0),
        ] {
            assert_eq!(RowRef::from_label(&at.label()), at);
        }
        assert_eq!(
            serde_json::to_value(RowRef::Line(4)).unwrap(),
            serde_json::json!(4)
        );
        assert_eq!(
            serde_json::to_value(RowRef::Index("cis", 4)).unwrap(),
            serde_json::json!("cis[4]")
        );
    }
}
