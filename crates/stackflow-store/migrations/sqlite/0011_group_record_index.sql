-- The assignment group's record over the last 30 days (closed changes and
-- how many succeeded) is read at every risk assessment. With the close
-- code in the index, it is counted from the index alone; before, each of
-- the group's closed changes in the period was also read from the table
-- (81 ms per assessment for a group closing 670 changes a day).
DROP INDEX changes_group_closed;
CREATE INDEX changes_group_closed ON changes (assignment_group, closed_at, close_code)
    WHERE closed_at IS NOT NULL;
