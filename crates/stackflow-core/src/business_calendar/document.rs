//! The business calendar as JSON: what `GET`/`PUT /api/calendar` carry and
//! what the store keeps. Parsing it is validating it: a document becomes a
//! [`BusinessCalendar`] only through [`CalendarDocument::validate`], whose
//! errors name the field (`time_zone`, `working_hours.start`,
//! `holidays[2].date`, …).

use super::{BusinessCalendar, Holiday};
use crate::change::{MAX_YEAR, MIN_YEAR};
use crate::enums::DayOfWeek;
use crate::errors::{FieldError, Refusal};
use chrono::{Datelike, NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most holidays one calendar may list.
pub const MAX_HOLIDAYS: usize = 1_000;
/// Longest holiday name accepted.
pub const MAX_HOLIDAY_NAME: usize = 200;

/// The business calendar document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "time_zone": "Europe/Berlin",
    "working_days": ["mon", "tue", "wed", "thu", "fri"],
    "working_hours": {"start": "09:00", "end": "17:00"},
    "holidays": [{"date": "2026-12-25", "name": "Christmas Day", "yearly": true}]
}))]
pub struct CalendarDocument {
    /// IANA time zone, e.g. `Europe/Berlin` or `UTC`.
    pub time_zone: String,
    /// Working weekdays (at least one).
    pub working_days: Vec<DayOfWeek>,
    /// When a working day starts and ends, local.
    pub working_hours: WorkingHours,
    /// Days off.
    #[serde(default)]
    pub holidays: Vec<HolidayDocument>,
}

/// Working hours, local `HH:MM`. An end at or before the start is a night
/// shift: it ends the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
}

/// A day off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayDocument {
    /// The date, `YYYY-MM-DD` (for a yearly holiday only month and day count).
    pub date: NaiveDate,
    /// What the day is.
    pub name: String,
    /// The same month and day every year (default false).
    #[serde(default)]
    pub yearly: bool,
}

impl CalendarDocument {
    /// Checks every field and builds the calendar, or lists every bad field.
    pub fn validate(&self) -> Result<BusinessCalendar, Refusal> {
        let mut errors = Vec::new();
        let time_zone = match self.time_zone.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                errors.push(FieldError::new(
                    "time_zone",
                    format!(
                        "unknown time zone `{}`: use an IANA name such as `Europe/Berlin` or `UTC`",
                        self.time_zone
                    ),
                ));
                None
            }
        };
        let mut working_days = [false; 7];
        for (i, day) in self.working_days.iter().enumerate() {
            if std::mem::replace(&mut working_days[day.index()], true) {
                errors.push(FieldError::new(
                    format!("working_days[{i}]"),
                    format!("`{day}` is listed twice"),
                ));
            }
        }
        if self.working_days.is_empty() {
            errors.push(FieldError::new(
                "working_days",
                "at least one working day is required",
            ));
        }
        let start = time_of_day(
            "working_hours.start",
            &self.working_hours.start,
            &mut errors,
        );
        // An end before the start runs past midnight; an end equal to the
        // start is a whole day's shift (`00:00`–`00:00` on every day: 24×7).
        let end = time_of_day("working_hours.end", &self.working_hours.end, &mut errors);
        let holidays = self.holidays(&mut errors);
        match (time_zone, start, end) {
            (Some(time_zone), Some(start), Some(end)) if errors.is_empty() => {
                Ok(BusinessCalendar {
                    time_zone,
                    working_days,
                    start,
                    end,
                    holidays,
                })
            }
            _ => Err(Refusal::Invalid(errors)),
        }
    }

    fn holidays(&self, errors: &mut Vec<FieldError>) -> Vec<Holiday> {
        if self.holidays.len() > MAX_HOLIDAYS {
            errors.push(FieldError::new(
                "holidays",
                format!("at most {MAX_HOLIDAYS} holidays"),
            ));
        }
        // A yearly holiday is keyed by month and day, a dated one by its
        // date; a dated holiday on a yearly one's day is a duplicate too.
        let mut yearly: HashMap<(u32, u32), usize> = HashMap::new();
        let mut dated: HashMap<NaiveDate, usize> = HashMap::new();
        for (i, h) in self.holidays.iter().enumerate() {
            if h.yearly {
                yearly.entry((h.date.month(), h.date.day())).or_insert(i);
            }
        }
        for (i, h) in self.holidays.iter().enumerate() {
            let field = |name: &str| format!("holidays[{i}].{name}");
            if h.name.trim().is_empty() {
                errors.push(FieldError::new(field("name"), "required"));
            } else if h.name.chars().count() > MAX_HOLIDAY_NAME {
                errors.push(FieldError::new(
                    field("name"),
                    format!("at most {MAX_HOLIDAY_NAME} characters"),
                ));
            }
            if !(MIN_YEAR..=MAX_YEAR).contains(&h.date.year()) {
                errors.push(FieldError::new(
                    field("date"),
                    format!("must be between the years {MIN_YEAR} and {MAX_YEAR}"),
                ));
            }
            let first = if h.yearly {
                yearly.get(&(h.date.month(), h.date.day())).copied()
            } else {
                yearly
                    .get(&(h.date.month(), h.date.day()))
                    .copied()
                    .or_else(|| dated.get(&h.date).copied())
            };
            match first {
                Some(j) if j != i => errors.push(FieldError::new(
                    field("date"),
                    format!("the same day as holidays[{j}]"),
                )),
                _ => {
                    if !h.yearly {
                        dated.insert(h.date, i);
                    }
                }
            }
        }
        self.holidays
            .iter()
            .map(|h| Holiday {
                date: h.date,
                name: h.name.trim().to_owned(),
                yearly: h.yearly,
            })
            .collect()
    }
}

/// Parses `HH:MM` (00:00–23:59).
fn time_of_day(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<NaiveTime> {
    let parsed = (text.len() == 5)
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten();
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            format!("`{text}` is not a time of day: use `HH:MM`, 00:00 to 23:59"),
        ));
    }
    parsed
}

impl From<&BusinessCalendar> for CalendarDocument {
    fn from(calendar: &BusinessCalendar) -> Self {
        CalendarDocument {
            time_zone: calendar.time_zone.name().to_owned(),
            working_days: DayOfWeek::ALL
                .iter()
                .copied()
                .filter(|day| calendar.working_days[day.index()])
                .collect(),
            working_hours: WorkingHours {
                start: calendar.start.format("%H:%M").to_string(),
                end: calendar.end.format("%H:%M").to_string(),
            },
            holidays: calendar
                .holidays
                .iter()
                .map(|h| HolidayDocument {
                    date: h.date,
                    name: h.name.clone(),
                    yearly: h.yearly,
                })
                .collect(),
        }
    }
}

impl From<BusinessCalendar> for CalendarDocument {
    fn from(calendar: BusinessCalendar) -> Self {
        CalendarDocument::from(&calendar)
    }
}

impl TryFrom<CalendarDocument> for BusinessCalendar {
    type Error = Refusal;

    fn try_from(document: CalendarDocument) -> Result<Self, Self::Error> {
        document.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(value: serde_json::Value) -> CalendarDocument {
        serde_json::from_value(value).expect("a calendar document")
    }

    fn fields(refusal: Refusal) -> Vec<String> {
        match refusal {
            Refusal::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation refusal: {other:?}"),
        }
    }

    #[test]
    fn a_document_round_trips_through_the_calendar() {
        let doc = document(json!({
            "time_zone": "Europe/Berlin",
            "working_days": ["mon", "tue", "wed", "thu", "fri"],
            "working_hours": {"start": "22:00", "end": "06:00"},
            "holidays": [{"date": "2026-12-25", "name": "Christmas Day", "yearly": true}]
        }));
        let calendar = doc.validate().expect("valid");
        assert_eq!(calendar.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(
            calendar.working_days,
            [true, true, true, true, true, false, false]
        );
        assert!(!calendar.is_working_day(NaiveDate::from_ymd_opt(2030, 12, 25).unwrap()));
        assert_eq!(CalendarDocument::from(&calendar), doc);
        let stored = serde_json::to_value(&calendar).unwrap();
        assert_eq!(stored["working_hours"]["start"], "22:00");
        let back: BusinessCalendar = serde_json::from_value(stored).unwrap();
        assert_eq!(back, calendar);
    }

    #[test]
    fn the_default_is_office_hours_in_utc() {
        let doc = CalendarDocument::from(BusinessCalendar::default_calendar());
        assert_eq!(
            serde_json::to_value(doc).unwrap(),
            json!({
                "time_zone": "UTC",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
                "working_hours": {"start": "09:00", "end": "17:00"},
                "holidays": []
            })
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let doc = document(json!({
            "time_zone": "Mars/Olympus_Mons",
            "working_days": [],
            "working_hours": {"start": "9am", "end": "24:00"},
            "holidays": [
                {"date": "2026-12-25", "name": "Christmas Day", "yearly": true},
                {"date": "2027-12-25", "name": "Christmas again"},
                {"date": "2026-05-01", "name": " "},
                {"date": "2026-05-01", "name": "May Day"}
            ]
        }));
        assert_eq!(
            fields(doc.validate().unwrap_err()),
            [
                "time_zone",
                "working_days",
                "working_hours.start",
                "working_hours.end",
                "holidays[1].date",
                "holidays[2].name",
                "holidays[3].date",
            ]
        );
        let twice = document(json!({
            "time_zone": "UTC",
            "working_days": ["mon", "mon"],
            "working_hours": {"start": "09:00", "end": "09:00"}
        }));
        assert_eq!(fields(twice.validate().unwrap_err()), ["working_days[1]"]);
    }

    #[test]
    fn unknown_days_and_fields_do_not_parse() {
        let bad_day = serde_json::from_value::<CalendarDocument>(json!({
            "time_zone": "UTC", "working_days": ["monday"],
            "working_hours": {"start": "09:00", "end": "17:00"}
        }));
        assert!(
            bad_day
                .unwrap_err()
                .to_string()
                .contains("unknown variant `monday`")
        );
        let extra = serde_json::from_value::<CalendarDocument>(json!({
            "time_zone": "UTC", "working_days": ["mon"], "weekends": true,
            "working_hours": {"start": "09:00", "end": "17:00"}
        }));
        assert!(extra.is_err());
    }
}
