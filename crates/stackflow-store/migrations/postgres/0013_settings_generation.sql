-- A number that moves whenever the organisation's settings move: people
-- and groups, workflows, the business calendar, the CAB schedule and the
-- maintenance and blackout windows. Every decision reads these settings,
-- and they change rarely, so the server keeps them in memory and checks
-- this one number instead of reading them again (stackflow-store's
-- `settings` module). Kept by the triggers below in the writing
-- transaction, whatever writes (the server, the CLI, plain SQL).

CREATE TABLE settings_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO settings_generation (id, value) VALUES (1, 1);

CREATE FUNCTION settings_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workflows
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON business_calendar
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cab_schedule
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
CREATE TRIGGER settings_moved AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON windows
FOR EACH STATEMENT EXECUTE FUNCTION settings_moved();
