//! Who people are and which groups they belong to, as plain values.

use crate::enums::{GroupKind, Role};
use crate::errors::Refusal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The person acting, as the store resolved them from a token or the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    /// Unique login name.
    pub username: String,
    /// Their role.
    pub role: Role,
}

impl Actor {
    /// An actor.
    pub fn new(username: impl Into<String>, role: Role) -> Self {
        Actor {
            username: username.into(),
            role,
        }
    }

    /// Admins and change managers run the process and may act on any change.
    pub fn is_manager(&self) -> bool {
        matches!(self.role, Role::Admin | Role::ChangeManager)
    }
}

/// A group with its current members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub kind: GroupKind,
    /// Usernames of active members.
    pub members: Vec<String>,
}

/// The groups and active users of the organisation at one moment: the
/// approvers of a stage are resolved against it when a vote is evaluated,
/// so a person removed from a group, or deactivated, before voting no
/// longer counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Every group.
    pub groups: Vec<GroupInfo>,
    /// Usernames of the active users. Approvers named one by one (a `users`
    /// lane, the holders of a role) count only while they are in it.
    pub active_users: BTreeSet<String>,
}

impl Directory {
    /// A directory of these groups in which every member is active.
    pub fn of_groups(groups: Vec<GroupInfo>) -> Directory {
        let active_users = groups
            .iter()
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        Directory {
            groups,
            active_users,
        }
    }

    /// The group with this name.
    pub fn group(&self, name: &str) -> Option<&GroupInfo> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The first group (by name) of this kind: the CAB, the ECAB.
    pub fn group_of_kind(&self, kind: GroupKind) -> Option<&GroupInfo> {
        self.groups
            .iter()
            .filter(|g| g.kind == kind)
            .min_by(|a, b| a.name.cmp(&b.name))
    }

    /// Members of a group, or none if it does not exist.
    pub fn members(&self, group: &str) -> &[String] {
        self.group(group).map_or(&[], |g| g.members.as_slice())
    }

    /// Whether `username` is an active user.
    pub fn is_active(&self, username: &str) -> bool {
        self.active_users.contains(username)
    }

    /// Whether `username` is a member of `group`.
    pub fn is_member(&self, group: &str, username: &str) -> bool {
        self.members(group).iter().any(|m| m == username)
    }

    /// ECAB members who belong to no CAB group, as (ECAB group, member):
    /// the ECAB is a subset of the CAB, so that an emergency approver is
    /// someone the CAB already trusts with changes.
    pub fn ecab_members_outside_cab(&self) -> Vec<(&str, &str)> {
        let in_cab = |person: &str| {
            self.groups
                .iter()
                .any(|g| g.kind == GroupKind::Cab && g.members.iter().any(|m| m == person))
        };
        self.groups
            .iter()
            .filter(|g| g.kind == GroupKind::Ecab)
            .flat_map(|g| g.members.iter().map(move |m| (g.name.as_str(), m.as_str())))
            .filter(|(_, member)| !in_cab(member))
            .collect()
    }

    /// Refuses a directory where an ECAB member is in no CAB group, naming
    /// them; checked after every change of groups.
    pub fn check_ecab_within_cab(&self) -> Result<(), Refusal> {
        let outside = self.ecab_members_outside_cab();
        if outside.is_empty() {
            return Ok(());
        }
        let named: Vec<String> = outside
            .iter()
            .map(|(ecab, member)| format!("{member} (in {ecab})"))
            .collect();
        Err(Refusal::invalid(
            "members",
            format!(
                "ECAB members must also be CAB members: {} would be in no CAB group",
                named.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, kind: GroupKind, members: &[&str]) -> GroupInfo {
        GroupInfo {
            name: name.into(),
            kind,
            members: members.iter().map(|m| (*m).into()).collect(),
        }
    }

    #[test]
    fn ecab_members_must_sit_in_some_cab() {
        let mut directory = Directory {
            groups: vec![
                group("CAB", GroupKind::Cab, &["bob", "carol"]),
                group("night-cab", GroupKind::Cab, &["nina"]),
                group("ECAB", GroupKind::Ecab, &["bob", "nina"]),
            ],
            ..Directory::default()
        };
        assert!(directory.check_ecab_within_cab().is_ok());
        directory.groups[2].members.push("olga".into());
        assert_eq!(directory.ecab_members_outside_cab(), vec![("ECAB", "olga")]);
        let Err(Refusal::Invalid(errors)) = directory.check_ecab_within_cab() else {
            panic!("refused")
        };
        assert_eq!(errors[0].field, "members");
        assert!(errors[0].message.contains("olga (in ECAB)"));
    }
}
