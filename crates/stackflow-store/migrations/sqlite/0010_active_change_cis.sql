-- The CIs of the active changes that have a planned window, with that
-- window: what conflict detection looks up by CI. Through `change_cis` it
-- had to visit every change that ever named a CI (at a million changes,
-- most of them closed) to find the few that are active; this table holds
-- only those few. Kept by the triggers below, in the transaction of the
-- write that moves a change, whatever the code path, so it never drifts
-- from `changes` and `change_cis`.

CREATE TABLE active_change_cis (
    ci_name       TEXT NOT NULL,
    change_id     INTEGER NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    planned_start TEXT NOT NULL,
    planned_end   TEXT NOT NULL,
    PRIMARY KEY (ci_name, change_id)
) WITHOUT ROWID;
CREATE INDEX active_change_cis_change ON active_change_cis (change_id);

INSERT INTO active_change_cis (ci_name, change_id, planned_start, planned_end)
SELECT x.ci_name, c.id, c.planned_start, c.planned_end
FROM change_cis x JOIN changes c ON c.id = x.change_id
WHERE c.state IN ('assess', 'authorize', 'scheduled', 'implement')
  AND c.planned_start IS NOT NULL AND c.planned_end IS NOT NULL;

-- A change names a CI (its row in `changes` is written first).
CREATE TRIGGER active_change_cis_ci_named AFTER INSERT ON change_cis
BEGIN
    INSERT INTO active_change_cis (ci_name, change_id, planned_start, planned_end)
    SELECT NEW.ci_name, c.id, c.planned_start, c.planned_end FROM changes c
    WHERE c.id = NEW.change_id
      AND c.state IN ('assess', 'authorize', 'scheduled', 'implement')
      AND c.planned_start IS NOT NULL AND c.planned_end IS NOT NULL;
END;

-- A change stops naming a CI.
CREATE TRIGGER active_change_cis_ci_dropped AFTER DELETE ON change_cis
BEGIN
    DELETE FROM active_change_cis WHERE ci_name = OLD.ci_name AND change_id = OLD.change_id;
END;

-- A change enters or leaves the active states, or its window moves.
CREATE TRIGGER active_change_cis_change_moved
AFTER UPDATE OF state, planned_start, planned_end ON changes
WHEN OLD.state IS NOT NEW.state
  OR OLD.planned_start IS NOT NEW.planned_start
  OR OLD.planned_end IS NOT NEW.planned_end
BEGIN
    DELETE FROM active_change_cis WHERE change_id = NEW.id;
    INSERT INTO active_change_cis (ci_name, change_id, planned_start, planned_end)
    SELECT x.ci_name, NEW.id, NEW.planned_start, NEW.planned_end FROM change_cis x
    WHERE x.change_id = NEW.id
      AND NEW.state IN ('assess', 'authorize', 'scheduled', 'implement')
      AND NEW.planned_start IS NOT NULL AND NEW.planned_end IS NOT NULL;
END;
