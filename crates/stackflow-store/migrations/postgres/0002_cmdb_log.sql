-- The CMDB change log: one row per CI or relationship change, in commit
-- order. Every StackFlow instance keeps its in-process impact index current
-- by reading the rows after the last sequence number it applied.
--
-- Writers take a transaction-scoped advisory lock before inserting here, so
-- sequence numbers are allocated, and become visible, in commit order: a
-- reader that sees `seq = n` has already seen every row below `n`.
CREATE TABLE cmdb_log (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- `ci` (created or changed), `ci_deleted`, `rel`, `rel_deleted`, or
    -- `reload` (a bulk change: rebuild the index from the tables).
    kind        TEXT NOT NULL,
    -- The CI, or the dependent end of a relationship.
    name        TEXT,
    -- The dependency end of a relationship.
    other       TEXT,
    class       TEXT,
    criticality TEXT,
    at          TIMESTAMPTZ NOT NULL
);
