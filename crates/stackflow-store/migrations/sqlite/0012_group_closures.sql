-- Each assignment group's closed changes per UTC day, and how many of them
-- succeeded: the group's 30-day record (read at every risk assessment)
-- adds up about 30 of these rows instead of one index entry per closure,
-- and reads only the two partial days at the ends of the period from the
-- changes themselves. Kept by the triggers below in the writing
-- transaction, whatever the code path.

CREATE TABLE group_closures (
    assignment_group TEXT NOT NULL,
    day              TEXT NOT NULL,
    closed           INTEGER NOT NULL,
    successful       INTEGER NOT NULL,
    PRIMARY KEY (assignment_group, day)
) WITHOUT ROWID;

INSERT INTO group_closures (assignment_group, day, closed, successful)
SELECT assignment_group, date(closed_at), COUNT(*),
       SUM(COALESCE(close_code IN ('successful', 'successful_with_issues'), 0))
FROM changes
WHERE closed_at IS NOT NULL AND assignment_group IS NOT NULL
GROUP BY assignment_group, date(closed_at);

CREATE TRIGGER group_closures_added AFTER INSERT ON changes
WHEN NEW.closed_at IS NOT NULL AND NEW.assignment_group IS NOT NULL
BEGIN
    INSERT INTO group_closures (assignment_group, day, closed, successful)
    VALUES (NEW.assignment_group, date(NEW.closed_at), 1,
            COALESCE(NEW.close_code IN ('successful', 'successful_with_issues'), 0))
    ON CONFLICT (assignment_group, day) DO UPDATE
    SET closed = closed + 1, successful = successful + excluded.successful;
END;

CREATE TRIGGER group_closures_moved
AFTER UPDATE OF closed_at, close_code, assignment_group ON changes
WHEN OLD.closed_at IS NOT NEW.closed_at
  OR OLD.close_code IS NOT NEW.close_code
  OR OLD.assignment_group IS NOT NEW.assignment_group
BEGIN
    UPDATE group_closures
    SET closed = closed - 1,
        successful = successful
            - COALESCE(OLD.close_code IN ('successful', 'successful_with_issues'), 0)
    WHERE OLD.closed_at IS NOT NULL AND OLD.assignment_group IS NOT NULL
      AND assignment_group = OLD.assignment_group AND day = date(OLD.closed_at);
    INSERT INTO group_closures (assignment_group, day, closed, successful)
    SELECT NEW.assignment_group, date(NEW.closed_at), 1,
           COALESCE(NEW.close_code IN ('successful', 'successful_with_issues'), 0)
    WHERE NEW.closed_at IS NOT NULL AND NEW.assignment_group IS NOT NULL
    ON CONFLICT (assignment_group, day) DO UPDATE
    SET closed = closed + 1, successful = successful + excluded.successful;
END;

CREATE TRIGGER group_closures_removed AFTER DELETE ON changes
WHEN OLD.closed_at IS NOT NULL AND OLD.assignment_group IS NOT NULL
BEGIN
    UPDATE group_closures
    SET closed = closed - 1,
        successful = successful
            - COALESCE(OLD.close_code IN ('successful', 'successful_with_issues'), 0)
    WHERE assignment_group = OLD.assignment_group AND day = date(OLD.closed_at);
END;
