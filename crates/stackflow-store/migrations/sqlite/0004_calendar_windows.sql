-- The business calendar (one row: absent means the default, Monday to
-- Friday 09:00–17:00 UTC) and maintenance and blackout windows.

CREATE TABLE business_calendar (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The whole window is the `doc` JSON document; the other columns are
-- projections of it for lookups by name, kind and first occurrence.
CREATE TABLE windows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    start_at   TEXT NOT NULL,
    end_at     TEXT NOT NULL,
    recurring  BOOLEAN NOT NULL,
    doc        TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX windows_kind_start ON windows (kind, start_at);
