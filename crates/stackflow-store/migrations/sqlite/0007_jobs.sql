-- Durable background work: timers (an approval SLA falling due) and
-- follow-ups (reassessing a change whose conflicts moved). A job is
-- written in the same transaction as the business write that implies it,
-- claimed by one worker at a time with a lease, and deleted when done, so
-- a crash at any point leaves it to run again.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What to do, e.g. `risk.reassess`.
    kind         TEXT NOT NULL,
    -- Whom it is about, e.g. a change number: one pending job per kind and
    -- key, so repeated requests coalesce.
    job_key      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- Not before.
    run_at       TEXT NOT NULL,
    -- Bumped when the job is requested again; a worker that read an older
    -- generation leaves the job to run once more instead of deleting it.
    generation   BIGINT NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    -- The lease of the worker running it: another may claim it after.
    locked_by    TEXT,
    locked_until TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (kind, job_key)
);
CREATE INDEX jobs_due ON jobs (run_at);
