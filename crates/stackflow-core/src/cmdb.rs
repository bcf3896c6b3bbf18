//! Rules of the configuration management database.

use crate::errors::Refusal;
use crate::number::ChangeNumber;

/// A CI may be deleted only while no open change (one not closed or
/// canceled) names it: the change's record, approvals and impact would
/// otherwise point at nothing.
pub fn check_deletable(ci: &str, open_changes: &[ChangeNumber]) -> Result<(), Refusal> {
    if open_changes.is_empty() {
        return Ok(());
    }
    let numbers: Vec<String> = open_changes.iter().map(ToString::to_string).collect();
    Err(Refusal::conflict(
        "ci_in_open_change",
        format!(
            "`{ci}` is named by open change(s) {}; close or edit them first",
            numbers.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ci_named_by_an_open_change_stays() {
        assert!(check_deletable("db", &[]).is_ok());
        let err = check_deletable("db", &[ChangeNumber::new(7)]).unwrap_err();
        assert!(
            matches!(err, Refusal::Conflict { rule: "ci_in_open_change", ref detail } if detail.contains("CHG0000007"))
        );
    }
}
