-- The scheduler's state: every run belongs to a slot (job, scheduled
-- instant); a scheduled or backfilled slot exists once (unique), so it runs
-- to success at most once however many daemons are alive. Claims use
-- FOR UPDATE SKIP LOCKED; every state change compares the current state,
-- attempt and lease owner (fencing), so a late worker cannot overwrite a
-- newer result.
ALTER TABLE purser_runs
    DROP CONSTRAINT purser_runs_state_check,
    ADD CONSTRAINT purser_runs_state_check
        CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    ADD COLUMN interval_start   timestamptz,
    ADD COLUMN interval_end     timestamptz,
    ADD COLUMN timezone         text NOT NULL DEFAULT 'UTC',
    ADD COLUMN max_attempts     integer NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    ADD COLUMN not_before       timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_owner      text,
    ADD COLUMN lease_until      timestamptz,
    ADD COLUMN heartbeat_at     timestamptz,
    ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false,
    ADD COLUMN worker_pid       integer,
    ADD COLUMN deadline_alerted boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT purser_runs_lease_check
        CHECK (state <> 'running' OR (lease_owner IS NOT NULL AND lease_until IS NOT NULL));

-- One row per scheduled instant of a job: the once-only guarantee.
CREATE UNIQUE INDEX purser_runs_slot_once ON purser_runs (job, slot) WHERE kind <> 'manual';
-- The claim query's path: due pending runs in order.
CREATE INDEX purser_runs_due ON purser_runs (not_before, id) WHERE state = 'pending';
-- Rescue of expired leases.
CREATE INDEX purser_runs_leases ON purser_runs (lease_until) WHERE state = 'running';
-- `after:` dependencies and `purser jobs`: a job's runs by business date.
CREATE INDEX purser_runs_job_date ON purser_runs (job, business_date, state);

ALTER TABLE purser_run_logs ADD COLUMN attempt integer NOT NULL DEFAULT 1;

-- Operator switches per job (pause/resume) and the scheduler's memory of
-- how far it has planned each job.
CREATE TABLE purser_jobs (
    job            text PRIMARY KEY,
    paused         boolean NOT NULL DEFAULT false,
    paused_at      timestamptz,
    planned_until  timestamptz,
    last_alert     text
);
