-- The CAB: its meeting schedule (one settings document) and the outcomes
-- meetings recorded, kept so that a past meeting's agenda still shows its
-- items after the changes moved on.

CREATE TABLE cab_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        JSONB NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cab_outcomes (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meeting_id    TEXT NOT NULL,
    meeting_start TIMESTAMPTZ NOT NULL,
    change_id     BIGINT NOT NULL REFERENCES changes (id),
    outcome       TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected', 'deferred')),
    notes         TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);

CREATE INDEX cab_outcomes_meeting ON cab_outcomes (meeting_id);
CREATE INDEX cab_outcomes_start ON cab_outcomes (meeting_start);
