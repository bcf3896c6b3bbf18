//! The CAB module: meetings from the recurrence (across daylight-saving
//! changes), agenda cut-off and placement, agendas, outcomes, validation
//! and the agenda text.

mod agenda;
mod lifecycle;
mod meetings;
mod outcome;
mod properties;
mod schedule;
mod support;
mod text;
