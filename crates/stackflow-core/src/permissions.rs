//! What each role may do outside the change lifecycle (which has its own,
//! finer rules in [`crate::lifecycle`]).

use crate::directory::Actor;
use crate::enums::Role;
use crate::errors::Refusal;

/// A capability checked before a non-lifecycle operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Raise a new change.
    CreateChange,
    /// Create and edit configuration items and relationships.
    ManageCmdb,
    /// Create and edit standard change templates.
    ManageTemplates,
    /// Manage users, groups and other people's tokens.
    ManagePeople,
    /// Set the business calendar and manage maintenance and blackout windows.
    ManageSchedule,
    /// Create and edit approval workflow documents.
    ManageWorkflows,
}

impl Permission {
    fn roles(self) -> &'static [Role] {
        match self {
            Permission::CreateChange => &[
                Role::Admin,
                Role::ChangeManager,
                Role::Requester,
                Role::Implementer,
            ],
            Permission::ManageCmdb
            | Permission::ManageTemplates
            | Permission::ManageSchedule
            | Permission::ManageWorkflows => &[Role::Admin, Role::ChangeManager],
            Permission::ManagePeople => &[Role::Admin],
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Permission::CreateChange => "role_may_not_create_changes",
            Permission::ManageCmdb => "role_may_not_manage_cmdb",
            Permission::ManageTemplates => "role_may_not_manage_templates",
            Permission::ManagePeople => "role_may_not_manage_people",
            Permission::ManageSchedule => "role_may_not_manage_schedule",
            Permission::ManageWorkflows => "role_may_not_manage_workflows",
        }
    }
}

/// Refuses with 403 unless the actor's role grants the permission.
pub fn require(actor: &Actor, permission: Permission) -> Result<(), Refusal> {
    if permission.roles().contains(&actor.role) {
        Ok(())
    } else {
        let allowed: Vec<_> = permission.roles().iter().map(|r| r.as_str()).collect();
        Err(Refusal::forbidden(
            permission.rule(),
            format!(
                "role `{}` may not do this; it needs one of: {}",
                actor.role,
                allowed.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_only_and_only_admins_manage_people() {
        let viewer = Actor::new("vic", Role::Viewer);
        let manager = Actor::new("max", Role::ChangeManager);
        assert!(require(&viewer, Permission::CreateChange).is_err());
        assert!(require(&manager, Permission::ManageCmdb).is_ok());
        assert!(require(&manager, Permission::ManagePeople).is_err());
        assert!(require(&Actor::new("ada", Role::Admin), Permission::ManagePeople).is_ok());
        assert!(require(&manager, Permission::ManageSchedule).is_ok());
        assert!(
            require(
                &Actor::new("rita", Role::Requester),
                Permission::ManageSchedule
            )
            .is_err()
        );
    }
}
