//! When an approval round is due.

use super::Sla;
use crate::business_calendar::BusinessCalendar;
use crate::enums::ChangeType;
use chrono::{DateTime, Duration, Utc};

/// The longest SLA a workflow may set: a year, whatever the unit. It keeps
/// the due-time arithmetic bounded.
pub const MAX_SLA_DAYS: u32 = 366;

impl Sla {
    /// Whether the amount is within `1..=` a year ([`MAX_SLA_DAYS`]).
    pub fn is_within_bounds(self) -> bool {
        let (amount, per_day) = self.amount_and_units_per_day();
        amount >= 1 && amount <= MAX_SLA_DAYS * per_day
    }

    fn amount_and_units_per_day(self) -> (u32, u32) {
        match self {
            Sla::BusinessDays(days) => (days, 1),
            Sla::BusinessHours(hours) | Sla::Hours(hours) => (hours, 24),
            Sla::Minutes(minutes) => (minutes, 24 * 60),
        }
    }

    /// The same SLA with its amount capped at a year, so that an
    /// unvalidated document cannot make the arithmetic overflow or spin.
    fn capped(self) -> Sla {
        let (amount, per_day) = self.amount_and_units_per_day();
        let amount = amount.min(MAX_SLA_DAYS * per_day);
        match self {
            Sla::BusinessDays(_) => Sla::BusinessDays(amount),
            Sla::BusinessHours(_) => Sla::BusinessHours(amount),
            Sla::Hours(_) => Sla::Hours(amount),
            Sla::Minutes(_) => Sla::Minutes(amount),
        }
    }

    /// The SLA when a workflow names none: 2 hours wall clock for emergency
    /// changes, 5 business days otherwise (standard changes never wait).
    pub fn default_for(change_type: ChangeType) -> Sla {
        match change_type {
            ChangeType::Emergency => Sla::Hours(2),
            ChangeType::Normal | ChangeType::Standard => Sla::BusinessDays(5),
        }
    }
}

/// The due time of an approval round requested at `requested_at`: business
/// days and hours count working time in `calendar`, hours and minutes are
/// wall clock. `sla` absent: [`Sla::default_for`] the change type.
///
/// A calendar with no working time at all within twenty years (every day a
/// holiday) cannot answer; then business days fall back to Monday–Friday in
/// UTC and business hours to wall-clock hours, so a round is never left
/// without a due time.
pub fn approval_due_at(
    sla: Option<Sla>,
    change_type: ChangeType,
    requested_at: DateTime<Utc>,
    calendar: &BusinessCalendar,
) -> DateTime<Utc> {
    match sla
        .unwrap_or_else(|| Sla::default_for(change_type))
        .capped()
    {
        Sla::BusinessDays(days) => calendar
            .add_business_days(requested_at, days)
            .unwrap_or_else(|| crate::calendar::add_business_days(requested_at, days)),
        Sla::BusinessHours(hours) => {
            let amount = Duration::hours(i64::from(hours));
            calendar
                .add_working_time(requested_at, amount)
                .unwrap_or(requested_at + amount)
        }
        Sla::Hours(hours) => requested_at + Duration::hours(i64::from(hours)),
        Sla::Minutes(minutes) => requested_at + Duration::minutes(i64::from(minutes)),
    }
}
