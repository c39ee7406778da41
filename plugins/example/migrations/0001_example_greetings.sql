-- The example plugin's own table: one row per business date it has run
-- for, written idempotently (a re-run of the same date updates the row).
CREATE TABLE example_greetings (
    business_date date        PRIMARY KEY,
    greeting      text        NOT NULL,
    runs          integer     NOT NULL DEFAULT 1 CHECK (runs >= 1),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
