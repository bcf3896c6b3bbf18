//! Who people are and which groups they belong to, as plain values.

use crate::enums::{GroupKind, Role};
use serde::{Deserialize, Serialize};

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

/// The groups of the organisation at one moment: the approvers of a stage
/// are resolved against it when a vote is evaluated, so a person removed from
/// a group before voting no longer counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    /// Every group.
    pub groups: Vec<GroupInfo>,
}

impl Directory {
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

    /// Whether `username` is a member of `group`.
    pub fn is_member(&self, group: &str, username: &str) -> bool {
        self.members(group).iter().any(|m| m == username)
    }
}
