-- The spine: people, CMDB, templates, changes, votes, tasks, audit trail, outbox.
-- Timestamps are RFC 3339 text in UTC; JSON documents are text.

CREATE TABLE users (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TEXT NOT NULL
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX groups_kind ON groups (kind);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE cis (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    class       TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    criticality TEXT NOT NULL,
    owner_group TEXT,
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX cis_class ON cis (class);

CREATE TABLE relationships (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_ci    INTEGER NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    to_ci      INTEGER NOT NULL REFERENCES cis (id) ON DELETE CASCADE,
    rel_type   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (from_ci, to_ci, rel_type)
);
CREATE INDEX relationships_to ON relationships (to_ci);

CREATE TABLE templates (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    active     BOOLEAN NOT NULL,
    doc        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sequences (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO sequences (name, value) VALUES ('change', 0);

-- The whole change is the `doc` JSON document; the other columns are
-- projections of it that the list filters and indexes need.
CREATE TABLE changes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    number           TEXT NOT NULL UNIQUE,
    change_type      TEXT NOT NULL,
    state            TEXT NOT NULL,
    title            TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    assignment_group TEXT,
    cab_date         TEXT,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    doc              TEXT NOT NULL,
    -- Number and title, lowercased by StackFlow (Unicode-aware), for `?q=`.
    search_text      TEXT NOT NULL
);
CREATE INDEX changes_state ON changes (state, id);
CREATE INDEX changes_cab_date ON changes (cab_date);
CREATE INDEX changes_type ON changes (change_type, id);
CREATE INDEX changes_requested_by ON changes (requested_by, id);
CREATE INDEX changes_assignment_group ON changes (assignment_group, id);

CREATE TABLE change_cis (
    change_id INTEGER NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    ci_name   TEXT NOT NULL,
    PRIMARY KEY (change_id, ci_name)
);
CREATE INDEX change_cis_ci ON change_cis (ci_name, change_id);

CREATE TABLE votes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id  INTEGER NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    round      INTEGER NOT NULL,
    stage      INTEGER NOT NULL,
    voter      TEXT NOT NULL,
    decision   TEXT NOT NULL,
    notes      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- A person's vote counts once per stage of a round.
    UNIQUE (change_id, round, stage, voter)
);

CREATE TABLE tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id  INTEGER NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    assignee   TEXT,
    position   INTEGER NOT NULL,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX tasks_change ON tasks (change_id, position);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_type TEXT NOT NULL,
    entity_key  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    before_doc  TEXT,
    after_doc   TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_key, id);

-- Notifications written in the same transaction as the change that implies
-- them; a worker delivers them at least once.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    topic        TEXT NOT NULL,
    entity_key   TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    available_at TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT,
    last_error   TEXT
);
CREATE INDEX outbox_pending ON outbox (delivered_at, available_at);
