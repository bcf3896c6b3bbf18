//! The business calendar: when the organisation works, in its own time
//! zone, so SLA clocks and "inside business hours" answers are right across
//! daylight-saving changes, weekends and holidays.
//!
//! Working time is a set of intervals, one per working day that is not a
//! holiday: from the day's start time to its end time, local; an end at or
//! before the start means the shift runs past midnight into the next day.
//! Local times are turned into instants with the IANA time-zone database
//! (`chrono-tz`): a start that falls into a spring-forward gap moves to the
//! first instant after it, and one that is ambiguous (autumn) takes the
//! earlier.

//!
//! Its wire and storage form is [`CalendarDocument`] (module `document`),
//! which validates into a calendar with errors that name the field.

mod document;

pub use document::{CalendarDocument, HolidayDocument, WorkingHours};

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A day off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The date (for a yearly holiday, the year is ignored).
    pub date: NaiveDate,
    /// What the day is, e.g. "Christmas Day".
    pub name: String,
    /// The same month and day every year.
    pub yearly: bool,
}

/// When the organisation works. Serialised as its [`CalendarDocument`], and
/// deserialised only through its validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "CalendarDocument", try_from = "CalendarDocument")]
pub struct BusinessCalendar {
    /// Its time zone.
    pub time_zone: Tz,
    /// Working weekdays, Monday first.
    pub working_days: [bool; 7],
    /// When a working day starts, local.
    pub start: NaiveTime,
    /// When it ends, local; at or before `start`: the next day.
    pub end: NaiveTime,
    /// Days off.
    pub holidays: Vec<Holiday>,
}

/// Working days searched at most when adding or measuring time: a calendar
/// with no working day at all must not loop forever.
const MAX_DAYS: i64 = 366 * 20;

impl BusinessCalendar {
    /// Monday to Friday, 09:00–17:00 in `time_zone`, no holidays.
    pub fn office_hours(time_zone: Tz) -> Self {
        BusinessCalendar {
            time_zone,
            working_days: [true, true, true, true, true, false, false],
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            holidays: Vec::new(),
        }
    }

    /// The calendar in force when none is configured: Monday to Friday,
    /// 09:00–17:00 UTC, no holidays.
    pub fn default_calendar() -> Self {
        Self::office_hours(Tz::UTC)
    }

    /// Whether `date` is a working day (a working weekday, not a holiday).
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.working_days[date.weekday().num_days_from_monday() as usize]
            && !self.holidays.iter().any(|h| {
                h.date == date
                    || (h.yearly && h.date.month() == date.month() && h.date.day() == date.day())
            })
    }

    /// The working interval that starts on local `date`, if it is a working
    /// day.
    fn shift(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working_day(date) {
            return None;
        }
        let end_date = if self.end <= self.start {
            date.succ_opt()?
        } else {
            date
        };
        let start = self.instant(date, self.start)?;
        let end = self.instant(end_date, self.end)?;
        (end > start).then_some((start, end))
    }

    /// A local wall-clock time as an instant.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        let local = date.and_time(time);
        match self.time_zone.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
            // In a spring-forward gap: the first instant after it.
            LocalResult::None => (1..=180).find_map(|minutes| {
                self.time_zone
                    .from_local_datetime(&(local + Duration::minutes(minutes)))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            }),
        }
    }

    /// Working intervals that end after `from`, in order (the first may
    /// have started before it), for at most [`MAX_DAYS`] days.
    fn shifts_from(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        // A shift that began the day before may still be running.
        let first = from.with_timezone(&self.time_zone).date_naive().pred_opt();
        let first = first.unwrap_or(from.with_timezone(&self.time_zone).date_naive());
        first
            .iter_days()
            .take(MAX_DAYS as usize)
            .filter_map(|date| self.shift(date))
            .filter(move |(_, end)| *end > from)
    }

    /// Whether `at` is inside working time.
    pub fn is_business_time(&self, at: DateTime<Utc>) -> bool {
        self.shifts_from(at)
            .next()
            .is_some_and(|(start, _)| start <= at)
    }

    /// Working time between two instants (zero if `to` is not after `from`).
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if to <= from {
            return total;
        }
        for (start, end) in self.shifts_from(from) {
            if start >= to {
                break;
            }
            total += end.min(to) - start.max(from);
        }
        total
    }

    /// The instant after `amount` of working time from `from`; `None` if the
    /// calendar has no working time within twenty years.
    pub fn add_working_time(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        let mut left = amount;
        for (start, end) in self.shifts_from(from) {
            let begin = start.max(from);
            let available = end - begin;
            if left <= available {
                return Some(begin + left);
            }
            left -= available;
        }
        None
    }

    /// The length of a working day's shift on the wall clock (a shift that
    /// runs past midnight counts the hours on both sides of it).
    pub fn working_day_length(&self) -> Duration {
        let length = self.end - self.start;
        if self.end <= self.start {
            length + Duration::days(1)
        } else {
            length
        }
    }

    /// The instant `days` working days after `from`: `days` times
    /// [`working_day_length`](Self::working_day_length) of working time, so
    /// that measuring back with [`working_time_between`](Self::working_time_between)
    /// gives exactly that. From inside a shift, that is the same time of
    /// day `days` working days later, except where a daylight-saving
    /// change shortens or lengthens a shift that spans it (a night shift):
    /// the hour it loses or gains is working time too. When the time runs
    /// out exactly at the end of a shift, the answer is the start of the
    /// next one, the same point in working time: a day counted from
    /// outside working hours ends when the following working day begins.
    pub fn add_business_days(&self, from: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
        if days == 0 {
            return Some(from);
        }
        let mut left = self.working_day_length() * i32::try_from(days).ok()?;
        let mut shifts = self.shifts_from(from);
        while let Some((start, end)) = shifts.next() {
            let begin = start.max(from);
            let available = end - begin;
            if left < available {
                return Some(begin + left);
            }
            if left == available {
                return shifts.next().map(|(next_start, _)| next_start);
            }
            left -= available;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> BusinessCalendar {
        BusinessCalendar::office_hours(chrono_tz::Europe::Berlin)
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    #[test]
    fn business_hours_are_local_and_follow_daylight_saving() {
        let cal = berlin();
        // Winter: 09:00 Berlin is 08:00 UTC; summer: 07:00 UTC.
        assert!(cal.is_business_time(utc("2026-01-14T08:00:00Z")));
        assert!(!cal.is_business_time(utc("2026-01-14T07:59:59Z")));
        assert!(cal.is_business_time(utc("2026-07-15T07:00:00Z")));
        assert!(!cal.is_business_time(utc("2026-07-15T15:00:00Z")));
        // Saturday.
        assert!(!cal.is_business_time(utc("2026-07-18T10:00:00Z")));
    }

    #[test]
    fn working_time_skips_weekends_and_holidays_across_a_dst_change() {
        let mut cal = berlin();
        // Friday 27 March 2026 16:00 local (15:00 UTC) to Tuesday 31 March
        // 10:00 local (08:00 UTC, after the clocks went forward on Sunday
        // 29 March); Monday 30 March is a holiday.
        cal.holidays.push(Holiday {
            date: NaiveDate::from_ymd_opt(2026, 3, 30).unwrap(),
            name: "Easter Monday".into(),
            yearly: false,
        });
        let from = utc("2026-03-27T15:00:00Z");
        let to = utc("2026-03-31T08:00:00Z");
        assert_eq!(cal.working_time_between(from, to), Duration::hours(2));
        assert_eq!(cal.add_working_time(from, Duration::hours(2)), Some(to));
        assert_eq!(
            cal.add_business_days(from, 1),
            Some(utc("2026-03-31T14:00:00Z"))
        );
    }

    #[test]
    fn equal_start_and_end_is_a_whole_day_shift_round_the_clock() {
        // Every day, 00:00 to 00:00: a 24×7 operation, across the night
        // the clocks go back in Berlin (25 hours of working time).
        let mut cal = berlin();
        cal.working_days = [true; 7];
        cal.start = NaiveTime::from_hms_opt(0, 0, 0).unwrap();
        cal.end = cal.start;
        assert_eq!(cal.working_day_length(), Duration::hours(24));
        for at in [
            "2026-11-28T22:59:30Z", // 23:59:30 Saturday, Berlin
            "2026-11-28T23:00:00Z", // midnight
            "2026-10-25T01:30:00Z", // the repeated hour
        ] {
            assert!(cal.is_business_time(utc(at)), "{at}");
        }
        let week = (utc("2026-11-23T00:00:00Z"), utc("2026-11-30T00:00:00Z"));
        assert_eq!(cal.working_time_between(week.0, week.1), Duration::days(7));
        let autumn = (utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"));
        assert_eq!(
            cal.working_time_between(autumn.0, autumn.1),
            Duration::hours(25)
        );
        let from = utc("2026-11-25T10:15:00Z");
        assert_eq!(
            cal.add_business_days(from, 2),
            Some(from + Duration::days(2))
        );
        assert_eq!(
            cal.add_working_time(from, Duration::hours(30)),
            Some(from + Duration::hours(30))
        );
    }

    #[test]
    fn working_time_between_reversed_or_equal_instants_is_zero() {
        let cal = berlin();
        // Wednesday, both inside working hours.
        let earlier = utc("2026-11-25T10:00:00Z");
        let later = utc("2026-11-25T12:00:00Z");
        assert_eq!(cal.working_time_between(earlier, later), Duration::hours(2));
        assert_eq!(cal.working_time_between(later, earlier), Duration::zero());
        assert_eq!(cal.working_time_between(later, later), Duration::zero());
    }

    #[test]
    fn yearly_holidays_recur_and_night_shifts_span_midnight() {
        let mut cal = berlin();
        cal.holidays.push(Holiday {
            date: NaiveDate::from_ymd_opt(2000, 12, 25).unwrap(),
            name: "Christmas Day".into(),
            yearly: true,
        });
        assert!(!cal.is_working_day(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()));
        cal.start = NaiveTime::from_hms_opt(22, 0, 0).unwrap();
        cal.end = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        // Wednesday 22:00 to Thursday 06:00 local (winter: UTC+1).
        assert!(cal.is_business_time(utc("2026-01-14T23:30:00Z")));
        assert!(cal.is_business_time(utc("2026-01-15T04:59:00Z")));
        assert!(!cal.is_business_time(utc("2026-01-15T05:00:00Z")));
        // From Wednesday 00:00 UTC: the rest of Tuesday night's shift (to
        // 05:00 UTC, 5 h), then Wednesday night's whole shift (8 h).
        let night =
            cal.working_time_between(utc("2026-01-14T00:00:00Z"), utc("2026-01-15T12:00:00Z"));
        assert_eq!(night, Duration::hours(13));
    }

    #[test]
    fn a_calendar_without_working_days_never_answers_a_deadline() {
        let mut cal = berlin();
        cal.working_days = [false; 7];
        assert_eq!(
            cal.add_working_time(utc("2026-01-14T08:00:00Z"), Duration::hours(1)),
            None
        );
        assert_eq!(
            cal.working_time_between(utc("2026-01-01T00:00:00Z"), utc("2026-02-01T00:00:00Z")),
            Duration::zero()
        );
    }

    /// Berlin, every day a working day, 22:00–06:00: the shift of Saturday
    /// 28 March 2026 loses an hour to the clocks going forward.
    fn berlin_nights() -> BusinessCalendar {
        let mut cal = berlin();
        cal.working_days = [true; 7];
        cal.start = NaiveTime::from_hms_opt(22, 0, 0).unwrap();
        cal.end = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        cal
    }

    #[test]
    fn business_days_across_a_shift_shortened_by_daylight_saving_keep_counting() {
        let cal = berlin_nights();
        // Saturday 05:30 local (04:30 UTC), half an hour before the end of
        // Friday night's shift. Saturday night's shift runs 22:00 (21:00
        // UTC) to 06:00 (04:00 UTC, summer time): 7 hours.
        let from = utc("2026-03-28T04:30:00Z");
        assert_eq!(cal.working_day_length(), Duration::hours(8));
        // Half an hour, the 7 hours of the short shift, then half an hour
        // of Sunday night's: Sunday 22:30 local (20:30 UTC).
        let one = cal.add_business_days(from, 1).unwrap();
        assert_eq!(one, utc("2026-03-29T20:30:00Z"));
        // From there the time of day holds: Monday 22:30, Tuesday 22:30.
        assert_eq!(
            cal.add_business_days(from, 3),
            Some(utc("2026-03-31T20:30:00Z"))
        );
        for days in 1..=3 {
            let to = cal.add_business_days(from, days).unwrap();
            assert_eq!(
                cal.working_time_between(from, to),
                Duration::hours(8) * i32::try_from(days).unwrap(),
                "{days} day(s)"
            );
        }
        // From outside a shift, a day is the next shift's whole 8 hours
        // and ends when the following one begins: from Thursday noon,
        // Friday 22:00 local (21:00 UTC).
        assert_eq!(
            cal.add_business_days(utc("2026-03-26T12:00:00Z"), 1),
            Some(utc("2026-03-27T21:00:00Z"))
        );
        // The short shift gives 7 of the 8 hours: from Saturday noon, the
        // day ends an hour into Sunday night's shift (23:00 local).
        assert_eq!(
            cal.add_business_days(utc("2026-03-28T12:00:00Z"), 1),
            Some(utc("2026-03-29T21:00:00Z"))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Adding N business days and measuring the working time back gives
        /// N working days, wherever the start falls (in a shift, between
        /// shifts, on a weekend, across DST changes and holidays).
        #[test]
        fn adding_days_and_measuring_back_agree(
            minutes in 0i64..(2 * 366 * 24 * 60),
            days in 0u32..30,
            holidays in proptest::collection::vec(0i64..730, 0..20),
            nights in proptest::bool::ANY,
        ) {
            let mut cal = BusinessCalendar::office_hours(chrono_tz::America::New_York);
            if nights {
                // A night shift every night: the shifts of the nights the
                // clocks change are an hour shorter or longer.
                cal.working_days = [true; 7];
                cal.start = NaiveTime::from_hms_opt(22, 0, 0).unwrap();
                cal.end = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
            }
            let base = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
            cal.holidays = holidays
                .iter()
                .map(|d| Holiday { date: base + Duration::days(*d), name: format!("day {d}"), yearly: false })
                .collect();
            let from = utc("2026-01-01T00:00:00Z") + Duration::minutes(minutes);
            let to = cal.add_business_days(from, days).expect("a working day ahead");
            proptest::prop_assert_eq!(
                cal.working_time_between(from, to),
                Duration::hours(8) * days as i32
            );
        }
    }
}
