-- Runs of jobs and their log lines: the history operations staff read
-- with `purser history` and `purser logs`.
CREATE TABLE purser_runs (
    id            bigserial PRIMARY KEY,
    job           text        NOT NULL,
    plugin        text        NOT NULL,
    slot          timestamptz NOT NULL,
    business_date date        NOT NULL,
    kind          text        NOT NULL DEFAULT 'manual'
                  CHECK (kind IN ('scheduled', 'manual', 'backfill')),
    state         text        NOT NULL
                  CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt       integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    params        jsonb       NOT NULL DEFAULT '{}',
    dry_run       boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    message       text,
    CHECK (finished_at IS NULL OR started_at IS NOT NULL)
);
CREATE INDEX purser_runs_job_slot ON purser_runs (job, slot DESC);

CREATE TABLE purser_run_logs (
    run_id  bigint      NOT NULL REFERENCES purser_runs (id) ON DELETE CASCADE,
    seq     integer     NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    level   text        NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message text        NOT NULL,
    PRIMARY KEY (run_id, seq)
);
