-- How far the CMDB change log has been pruned: entries up to and including
-- `pruned_through` may be gone. An instance whose index is older than that
-- cannot catch up entry by entry and rebuilds from the tables instead.
CREATE TABLE cmdb_log_horizon (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through BIGINT NOT NULL
);
INSERT INTO cmdb_log_horizon (id, pruned_through) VALUES (1, 0);
