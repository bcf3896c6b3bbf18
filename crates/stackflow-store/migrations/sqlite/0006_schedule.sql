-- The change schedule (`GET /api/schedule`) reads every change with a
-- planned window overlapping a range, in any state on the schedule (closed
-- ones included), so it cannot use the partial indexes of 0005, which
-- cover the active states only. Same split as conflict detection: windows
-- of at most 7 days are found by a bounded range scan on the first index,
-- longer ones through the second.
CREATE INDEX changes_planned_window ON changes (planned_start)
    WHERE planned_start IS NOT NULL;
CREATE INDEX changes_long_planned_window ON changes (planned_start)
    WHERE long_window;
