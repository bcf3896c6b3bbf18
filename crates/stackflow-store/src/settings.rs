//! The organisation's settings that every decision reads — people and
//! groups, workflows, the business calendar, the CAB schedule, the
//! maintenance and blackout windows — kept in memory between reads.
//!
//! A submission used to read all of them again, one statement each, and on
//! SQLite each statement is a round trip to the connection's thread while
//! the one writer waits. They change rarely, so the store keeps the last
//! set it read, tagged with the database's `settings_generation` (migration
//! 0013): triggers move that number in the same transaction as any write to
//! those tables, whoever makes it (this server, the CLI, another server on
//! the same database, plain SQL). A reader asks the database for the number
//! alone, and reads the settings again only when it moved.
//!
//! Only settings read from committed data, in one snapshot, are kept: a
//! write transaction that changed them sees its own uncommitted
//! generation, which a later commit could give the same number with other
//! contents were it kept. Writers of settings lock the generation row
//! before anything else, so that they queue in one order.
//!
//! The generation is trusted to move with every write: a database restored
//! from a dump, or written with triggers disabled, under a running server
//! is read again only once the generation differs from the one kept, so
//! restart the servers after either.

use crate::cab::CabScheduleState;
use stackflow_core::workflow::Workflow;
use stackflow_core::{Actor, BusinessCalendar, ChangeWindow, Directory};
use std::sync::{Arc, Mutex};

/// The settings as of one generation.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The `settings_generation` read before the settings, in the same
    /// snapshot (so the settings are those of this generation).
    pub generation: i64,
    /// Groups with their active members.
    pub directory: Directory,
    /// The current version of every workflow, by name.
    pub workflows: Vec<Workflow>,
    /// Every active user with their role (for `role` approvers).
    pub active_users: Vec<Actor>,
    /// The business calendar (the default one until one is set).
    pub calendar: BusinessCalendar,
    /// The CAB schedule in force, validated in the calendar's time zone.
    pub cab: CabScheduleState,
    /// Every maintenance and blackout window, by id.
    pub windows: Vec<ChangeWindow>,
}

/// The settings last read from committed data. Shared by the clones of a
/// store.
#[derive(Debug, Default)]
pub(crate) struct SettingsCache {
    newest: Mutex<Option<Arc<Settings>>>,
}

impl SettingsCache {
    /// The kept settings, if they are those of `generation`.
    pub fn get(&self, generation: i64) -> Option<Arc<Settings>> {
        self.lock()
            .as_ref()
            .filter(|kept| kept.generation == generation)
            .cloned()
    }

    /// Keeps `settings`, the last read, in place of what was kept. Two
    /// readers finishing out of order leave the older set, which the next
    /// read of the newer generation replaces; keeping the newest number
    /// instead would, after a restore took the generation back, keep
    /// settings that a later number could reach with other contents.
    pub fn keep(&self, settings: Arc<Settings>) {
        *self.lock() = Some(settings);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Settings>>> {
        // The guarded value is replaced whole, never left half written, so
        // a panic elsewhere while it was held leaves nothing to repair.
        self.newest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackflow_core::cab::default_schedule;

    fn settings(generation: i64) -> Arc<Settings> {
        let calendar = BusinessCalendar::default_calendar();
        let document = default_schedule(calendar.time_zone);
        let schedule = document
            .validate(
                calendar.time_zone,
                chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid instant"),
            )
            .expect("the default schedule validates");
        Arc::new(Settings {
            generation,
            directory: Directory::default(),
            workflows: Vec::new(),
            active_users: Vec::new(),
            calendar,
            cab: CabScheduleState {
                document,
                schedule,
                is_default: true,
            },
            windows: Vec::new(),
        })
    }

    #[test]
    fn kept_settings_serve_only_their_own_generation() {
        let cache = SettingsCache::default();
        assert!(cache.get(1).is_none());
        cache.keep(settings(1));
        assert_eq!(cache.get(1).map(|s| s.generation), Some(1));
        assert!(cache.get(2).is_none(), "a newer generation reads again");
        assert!(cache.get(0).is_none());
    }

    #[test]
    fn the_last_read_settings_are_kept_whatever_their_generation() {
        let cache = SettingsCache::default();
        cache.keep(settings(3));
        cache.keep(settings(4));
        assert!(cache.get(3).is_none());
        assert_eq!(cache.get(4).map(|s| s.generation), Some(4));
        // A restore took the generation back: what is read now is kept.
        cache.keep(settings(2));
        assert!(cache.get(4).is_none());
        assert_eq!(cache.get(2).map(|s| s.generation), Some(2));
    }
}
