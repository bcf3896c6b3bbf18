//! Change numbers: `CHG` followed by at least seven digits.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A change's public number, e.g. `CHG0000456`. Numbers are allocated from a
/// database sequence, so they are unique and increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeNumber(u64);

impl ChangeNumber {
    /// The number for a sequence value.
    pub fn new(sequence: u64) -> Self {
        ChangeNumber(sequence)
    }

    /// The sequence value behind the number.
    pub fn sequence(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ChangeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHG{:07}", self.0)
    }
}

impl FromStr for ChangeNumber {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("CHG")
            .or_else(|| s.strip_prefix("chg"))
            .ok_or_else(|| format!("`{s}` is not a change number (expected CHG and 7 digits)"))?;
        if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{s}` is not a change number (expected CHG and 7 digits)"
            ));
        }
        digits
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(ChangeNumber)
            .ok_or_else(|| format!("`{s}` is not a change number"))
    }
}

impl Serialize for ChangeNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChangeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for ChangeNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^CHG[0-9]{7,}$"))
            .examples([serde_json::json!("CHG0000456")])
            .into()
    }
}

impl utoipa::ToSchema for ChangeNumber {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_seven_digits_and_parses_back() {
        let number = ChangeNumber::new(456);
        assert_eq!(number.to_string(), "CHG0000456");
        assert_eq!("CHG0000456".parse::<ChangeNumber>(), Ok(number));
        assert_eq!(
            "CHG12345678".parse::<ChangeNumber>().unwrap().sequence(),
            12_345_678
        );
    }

    #[test]
    fn rejects_malformed_numbers() {
        for bad in ["", "CHG", "CHG12", "INC0000001", "CHG00000x1", "CHG0000000"] {
            assert!(bad.parse::<ChangeNumber>().is_err(), "{bad} accepted");
        }
    }
}
