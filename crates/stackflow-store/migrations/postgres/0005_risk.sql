-- Risk assessment and schedule conflicts: projections of the change
-- document that scoring and conflict detection query, and the history of
-- every assessment made.

ALTER TABLE changes ADD COLUMN planned_start TIMESTAMPTZ;
ALTER TABLE changes ADD COLUMN planned_end TIMESTAMPTZ;
-- Planned windows longer than a day: conflict detection scans windows
-- starting at most a day before the one it checks, plus these.
ALTER TABLE changes ADD COLUMN long_window BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE changes ADD COLUMN template TEXT;
ALTER TABLE changes ADD COLUMN close_code TEXT;
-- When the post-implementation review closed it (not set for cancellations).
ALTER TABLE changes ADD COLUMN closed_at TIMESTAMPTZ;

UPDATE changes SET
    planned_start = (doc ->> 'planned_start')::timestamptz,
    planned_end = (doc ->> 'planned_end')::timestamptz,
    template = doc ->> 'template',
    close_code = doc ->> 'close_code',
    closed_at = (doc #>> '{pir,review,reviewed_at}')::timestamptz;
UPDATE changes SET long_window = TRUE
    WHERE planned_end - planned_start > INTERVAL '1 day';

-- Covering: the overlap test and the numbers come from the index alone.
CREATE INDEX changes_active_window ON changes (planned_start, planned_end, number)
    WHERE state IN ('assess', 'authorize', 'scheduled', 'implement');
CREATE INDEX changes_active_long_window ON changes (planned_start)
    WHERE long_window AND state IN ('assess', 'authorize', 'scheduled', 'implement');
CREATE INDEX changes_group_closed ON changes (assignment_group, closed_at)
    WHERE closed_at IS NOT NULL;
CREATE INDEX changes_failed ON changes (closed_at)
    WHERE close_code = 'unsuccessful';
CREATE INDEX changes_template ON changes (template) WHERE template IS NOT NULL;

CREATE TABLE risk_assessments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_id   BIGINT NOT NULL REFERENCES changes (id) ON DELETE CASCADE,
    -- What caused it: `submit` or `reassessment`.
    cause       TEXT NOT NULL,
    score       INTEGER NOT NULL,
    level       TEXT NOT NULL,
    assessed_at TIMESTAMPTZ NOT NULL,
    doc         JSONB NOT NULL
);
CREATE INDEX risk_assessments_change ON risk_assessments (change_id, id);
