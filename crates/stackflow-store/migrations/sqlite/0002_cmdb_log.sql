-- The CMDB change log: one row per CI or relationship change, in commit
-- order. Every StackFlow instance keeps its in-process impact index current
-- by reading the rows after the last sequence number it applied. SQLite has
-- one writer at a time, so sequence order is commit order.
CREATE TABLE cmdb_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- `ci` (created or changed), `ci_deleted`, `rel`, `rel_deleted`, or
    -- `reload` (a bulk change: rebuild the index from the tables).
    kind        TEXT NOT NULL,
    -- The CI, or the dependent end of a relationship.
    name        TEXT,
    -- The dependency end of a relationship.
    other       TEXT,
    class       TEXT,
    criticality TEXT,
    at          TEXT NOT NULL
);
