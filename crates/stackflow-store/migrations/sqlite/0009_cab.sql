-- The CAB: its meeting schedule (one settings document) and the outcomes
-- meetings recorded, kept so that a past meeting's agenda still shows its
-- items after the changes moved on.

CREATE TABLE cab_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE cab_outcomes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id    TEXT NOT NULL,
    meeting_start TEXT NOT NULL,
    change_id     INTEGER NOT NULL REFERENCES changes (id),
    outcome       TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected', 'deferred')),
    notes         TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);

CREATE INDEX cab_outcomes_meeting ON cab_outcomes (meeting_id);
CREATE INDEX cab_outcomes_start ON cab_outcomes (meeting_start);
