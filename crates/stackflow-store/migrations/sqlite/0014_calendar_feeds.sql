-- Calendar feeds: a secret address from which a calendar client that
-- cannot send an `Authorization` header (Outlook, Google Calendar,
-- Thunderbird) subscribes to the change schedule. The secret is stored as a
-- SHA-256 hash, like an API token's, and opens nothing but the schedule's
-- iCalendar form; it is revoked on its own, and stops working when its
-- owner is deactivated (docs/schedule.md).

CREATE TABLE calendar_feeds (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX calendar_feeds_user ON calendar_feeds (user_id);
