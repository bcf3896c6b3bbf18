-- The schedule finds a change whose window lasts more than a day
-- (`long_window`, see 0005) and began more than a day before the range by
-- its end: `planned_end > from`. Indexed by the start (0006), that branch
-- read every long window that ever began before the range, closed ones
-- included, and grew with the history; by the end it reads only those
-- still running at the range's start or later.
DROP INDEX changes_long_planned_window;
CREATE INDEX changes_long_planned_window_end ON changes (planned_end)
    WHERE long_window;
