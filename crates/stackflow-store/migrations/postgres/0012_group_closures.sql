-- Each assignment group's closed changes per UTC day, and how many of them
-- succeeded: the group's 30-day record (read at every risk assessment)
-- adds up about 30 of these rows instead of one index entry per closure,
-- and reads only the two partial days at the ends of the period from the
-- changes themselves. Kept by the trigger below in the writing
-- transaction, whatever the code path.

CREATE TABLE group_closures (
    assignment_group TEXT NOT NULL,
    day              DATE NOT NULL,
    closed           BIGINT NOT NULL,
    successful       BIGINT NOT NULL,
    PRIMARY KEY (assignment_group, day)
);

INSERT INTO group_closures (assignment_group, day, closed, successful)
SELECT assignment_group, (closed_at AT TIME ZONE 'UTC')::date, COUNT(*),
       COUNT(*) FILTER (WHERE close_code IN ('successful', 'successful_with_issues'))
FROM changes
WHERE closed_at IS NOT NULL AND assignment_group IS NOT NULL
GROUP BY 1, 2;

CREATE FUNCTION group_closures_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE')
       AND OLD.closed_at IS NOT NULL AND OLD.assignment_group IS NOT NULL THEN
        UPDATE group_closures
        SET closed = closed - 1,
            successful = successful
                - CASE WHEN OLD.close_code IN ('successful', 'successful_with_issues') THEN 1 ELSE 0 END
        WHERE assignment_group = OLD.assignment_group
          AND day = (OLD.closed_at AT TIME ZONE 'UTC')::date;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE')
       AND NEW.closed_at IS NOT NULL AND NEW.assignment_group IS NOT NULL THEN
        INSERT INTO group_closures (assignment_group, day, closed, successful)
        VALUES (NEW.assignment_group, (NEW.closed_at AT TIME ZONE 'UTC')::date, 1,
                CASE WHEN NEW.close_code IN ('successful', 'successful_with_issues') THEN 1 ELSE 0 END)
        ON CONFLICT (assignment_group, day) DO UPDATE
        SET closed = group_closures.closed + 1,
            successful = group_closures.successful + excluded.successful;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER group_closures_added AFTER INSERT ON changes
FOR EACH ROW EXECUTE FUNCTION group_closures_follow();
CREATE TRIGGER group_closures_removed AFTER DELETE ON changes
FOR EACH ROW EXECUTE FUNCTION group_closures_follow();
CREATE TRIGGER group_closures_moved AFTER UPDATE OF closed_at, close_code, assignment_group ON changes
FOR EACH ROW
WHEN (OLD.closed_at IS DISTINCT FROM NEW.closed_at
   OR OLD.close_code IS DISTINCT FROM NEW.close_code
   OR OLD.assignment_group IS DISTINCT FROM NEW.assignment_group)
EXECUTE FUNCTION group_closures_follow();
