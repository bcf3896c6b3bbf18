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

CREATE TRIGGER settings_moved_users_insert AFTER INSERT ON users
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_users_update AFTER UPDATE ON users
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_users_delete AFTER DELETE ON users
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_groups_insert AFTER INSERT ON groups
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_groups_update AFTER UPDATE ON groups
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_groups_delete AFTER DELETE ON groups
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_group_members_insert AFTER INSERT ON group_members
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_group_members_update AFTER UPDATE ON group_members
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_group_members_delete AFTER DELETE ON group_members
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_workflows_insert AFTER INSERT ON workflows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_workflows_update AFTER UPDATE ON workflows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_workflows_delete AFTER DELETE ON workflows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_business_calendar_insert AFTER INSERT ON business_calendar
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_business_calendar_update AFTER UPDATE ON business_calendar
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_business_calendar_delete AFTER DELETE ON business_calendar
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_cab_schedule_insert AFTER INSERT ON cab_schedule
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_cab_schedule_update AFTER UPDATE ON cab_schedule
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_cab_schedule_delete AFTER DELETE ON cab_schedule
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_windows_insert AFTER INSERT ON windows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_windows_update AFTER UPDATE ON windows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER settings_moved_windows_delete AFTER DELETE ON windows
BEGIN
    UPDATE settings_generation SET value = value + 1 WHERE id = 1;
END;
