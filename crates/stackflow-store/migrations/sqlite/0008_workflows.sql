-- Approval workflow documents, versioned: every save is a new row and the
-- highest version of a name is its current document. Rows are never
-- updated or deleted, so the `workflow {name, version}` frozen in a
-- change's approval plan always names a readable document. `active` and
-- `priority` are projections of `doc`, kept for listing.
CREATE TABLE workflows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    priority   INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    -- Two concurrent saves of one name cannot both take the next version.
    UNIQUE (name, version)
);
