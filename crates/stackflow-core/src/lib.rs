//! StackFlow's pure domain core.
//!
//! Everything here is plain code over plain values: no I/O, no clocks, no
//! database. The store and the web layer gather the inputs (the change, the
//! votes, the group directory, the current time), call into this crate for a
//! decision, and persist what it returns. That keeps every rule of change
//! enablement — who may do what, in which state, with what effect — in one
//! place where it can be tested directly and exhaustively.

pub mod approval;
pub mod business_calendar;
pub mod cab;
pub mod calendar;
pub mod change;
pub mod cmdb;
pub mod conflict;
pub mod directory;
pub mod enums;
pub mod errors;
pub mod escalation;
pub mod graph;
pub mod impact;
pub mod lifecycle;
pub mod number;
pub mod permissions;
pub mod risk;
pub mod task;
pub mod validate;
pub mod windows;
pub mod workflow;

pub use approval::{
    ApprovalPlan, ApprovalRecord, Approvers, Board, Lane, LaneRule, Stage, StageOutcome, Vote,
    WorkflowRef,
};
pub use business_calendar::{BusinessCalendar, CalendarDocument};
pub use cab::{
    Agenda, AgendaItem, CabOutcome, CabSchedule, Meeting, MeetingSchedule, OutcomeEffect,
};
pub use change::Template;
pub use change::{Change, ChangeDraft, ChangePatch, PirRecord, PirState, Rejection};
pub use directory::{Actor, Directory, GroupInfo};
pub use enums::{
    ApprovalStatus, ChangeState, ChangeType, Channel, CloseCode, Criticality, DayOfWeek, Decision,
    GroupKind, ObjectivesMet, RelationshipType, Role, TaskState, WindowKind,
};
pub use errors::{FieldError, Refusal};
pub use lifecycle::{Action, Context, Notification, Transition, decide};
pub use number::ChangeNumber;
pub use windows::{ChangeWindow, NewWindow, Occurrence, WindowFit, WindowScope};
pub use workflow::{ChangeFacts, SelectedWorkflow, Workflow, WorkflowDocument};
