//! Closed sets of the domain, each an enum with its wire name.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a closed set whose wire form is a snake_case string, with
/// `as_str`, `Display`, `FromStr` (naming the accepted values on error) and
/// `ALL`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The accepted wire names, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err(format!("unknown value `{other}`; expected one of: {}", Self::expected())),
                }
            }
        }
    };
}

wire_enum!(
    /// The ITIL change type, fixed at creation; it decides the lifecycle path.
    ChangeType {
        /// Pre-approved, created from a standard change template.
        Standard => "standard",
        /// Assessed and authorised by the CAB.
        Normal => "normal",
        /// Urgent, authorised out of band by the ECAB.
        Emergency => "emergency",
    }
);

impl ChangeType {
    /// Whether a change of this type is risk-scored. A standard change is
    /// pre-approved by its template: not scored, though its window still
    /// conflicts like any other.
    pub fn is_risk_scored(self) -> bool {
        self != ChangeType::Standard
    }
}

wire_enum!(
    /// Where a change is in its lifecycle.
    ChangeState {
        /// Being drafted (or returned after a rejection).
        New => "new",
        /// Technical assessment (normal changes).
        Assess => "assess",
        /// Authorisation by the CAB or ECAB.
        Authorize => "authorize",
        /// Approved and waiting for its window.
        Scheduled => "scheduled",
        /// Being implemented.
        Implement => "implement",
        /// Implemented; waiting for its post-implementation review.
        Review => "review",
        /// Reviewed and closed.
        Closed => "closed",
        /// Withdrawn before implementation.
        Canceled => "canceled",
    }
);

impl ChangeState {
    /// The states in which a change may have an approval stage open.
    pub const AWAITING_APPROVAL: [ChangeState; 2] = [ChangeState::Assess, ChangeState::Authorize];

    /// True once a change can no longer move.
    pub fn is_terminal(self) -> bool {
        matches!(self, ChangeState::Closed | ChangeState::Canceled)
    }
}

wire_enum!(
    /// A user's role: what kind of work they may do. Approval rights come from
    /// group membership, not from the role.
    Role {
        /// Everything, including people and configuration.
        Admin => "admin",
        /// Runs the change process: may act on any change.
        ChangeManager => "change_manager",
        /// Raises changes.
        Requester => "requester",
        /// Carries out changes.
        Implementer => "implementer",
        /// Reads only.
        Viewer => "viewer",
    }
);

wire_enum!(
    /// What a group is for.
    GroupKind {
        /// The Change Advisory Board.
        Cab => "cab",
        /// The Emergency CAB.
        Ecab => "ecab",
        /// A team that implements changes.
        Implementation => "implementation",
        /// Change managers (escalations go here).
        ChangeManagement => "change_management",
        /// The service desk.
        ServiceDesk => "service_desk",
    }
);

wire_enum!(
    /// An approver's decision.
    Decision {
        /// In favour.
        Approved => "approved",
        /// Against.
        Rejected => "rejected",
    }
);

wire_enum!(
    /// The channel an action came through, recorded on votes and audit events.
    Channel {
        /// The REST API.
        Api => "api",
        /// The web portal.
        Portal => "portal",
        /// An email reply.
        Email => "email",
        /// The command line.
        Cli => "cli",
        /// StackFlow itself (timers, seeding).
        System => "system",
    }
);

wire_enum!(
    /// The state of an implementation task.
    TaskState {
        /// Not started.
        Open => "open",
        /// Being worked on.
        InProgress => "in_progress",
        /// Finished.
        Done => "done",
        /// Deliberately not done.
        Skipped => "skipped",
    }
);

impl TaskState {
    /// A task in this state still blocks completing the change.
    pub fn is_pending(self) -> bool {
        matches!(self, TaskState::Open | TaskState::InProgress)
    }
}

wire_enum!(
    /// How a change ended.
    CloseCode {
        /// It did what it should.
        Successful => "successful",
        /// It did, with problems worth recording.
        SuccessfulWithIssues => "successful_with_issues",
        /// It failed.
        Unsuccessful => "unsuccessful",
        /// It was withdrawn.
        Canceled => "canceled",
    }
);

wire_enum!(
    /// Whether a change achieved its objectives (the PIR's verdict).
    ObjectivesMet {
        /// Fully.
        Yes => "yes",
        /// In part.
        Partially => "partially",
        /// Not at all.
        No => "no",
    }
);

wire_enum!(
    /// How much harm a configuration item's failure does.
    Criticality {
        /// Little.
        Low => "low",
        /// Some.
        Medium => "medium",
        /// Much.
        High => "high",
        /// Business-stopping.
        Critical => "critical",
    }
);

wire_enum!(
    /// The kind of a "from depends on to" relationship between CIs.
    RelationshipType {
        /// Generic dependency.
        DependsOn => "depends_on",
        /// Software runs on a platform.
        RunsOn => "runs_on",
        /// A VM or container is hosted on a host.
        HostedOn => "hosted_on",
        /// A network connection.
        ConnectsTo => "connects_to",
        /// Uses a service.
        Uses => "uses",
    }
);

wire_enum!(
    /// Where a change's approval stands.
    ApprovalStatus {
        /// Standard changes before submit: pre-approved by their template.
        NotRequired => "not_required",
        /// Not submitted yet.
        NotRequested => "not_requested",
        /// A round is open.
        Requested => "requested",
        /// Every stage approved.
        Approved => "approved",
        /// The last round was rejected.
        Rejected => "rejected",
    }
);

wire_enum!(
    /// A day of the week, as the business calendar lists working days.
    DayOfWeek {
        /// Monday.
        Mon => "mon",
        /// Tuesday.
        Tue => "tue",
        /// Wednesday.
        Wed => "wed",
        /// Thursday.
        Thu => "thu",
        /// Friday.
        Fri => "fri",
        /// Saturday.
        Sat => "sat",
        /// Sunday.
        Sun => "sun",
    }
);

impl DayOfWeek {
    /// Days since Monday (Monday is 0), the index into
    /// `BusinessCalendar::working_days`.
    pub fn index(self) -> usize {
        self as usize
    }
}

wire_enum!(
    /// What a maintenance or blackout window means for changes.
    WindowKind {
        /// Changes are welcome: the affected CIs may be taken down.
        Maintenance => "maintenance",
        /// Changes are not allowed (a freeze: month end, a launch, a peak).
        Blackout => "blackout",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_and_unknown_values_name_the_choices() {
        for state in ChangeState::ALL {
            assert_eq!(state.as_str().parse::<ChangeState>(), Ok(*state));
        }
        let err = "approvedd".parse::<Decision>().unwrap_err();
        assert!(err.contains("approved, rejected"), "{err}");
        assert_eq!(
            serde_json::to_string(&TaskState::InProgress).unwrap(),
            "\"in_progress\""
        );
    }
}
