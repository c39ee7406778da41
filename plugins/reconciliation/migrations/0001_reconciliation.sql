-- The payment reconciliation's tables: the providers' report files and
-- their rows (loaded with COPY), each run's results, the open list of
-- exceptions, and the fees we expected before the providers' were written
-- back. See plugins/reconciliation/README.md.

-- One row per report file loaded. The same content (SHA-256) is loaded
-- once per provider; a corrected file for the same provider, date and name
-- supersedes the earlier one.
CREATE TABLE recon_files (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text COLLATE "C" NOT NULL,
    business_date date NOT NULL,
    name          text NOT NULL,
    source        text NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes         bigint NOT NULL CHECK (bytes >= 0),
    rows          bigint NOT NULL CHECK (rows >= 0),
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    superseded_at timestamptz,
    CONSTRAINT recon_files_provider_sha256_key UNIQUE (provider, sha256)
);
CREATE INDEX recon_files_provider_date ON recon_files (provider, business_date);

-- The provider's rows, normalised: amount_minor is the signed gross in
-- `currency` (+ money to us; for payout rows + paid to our bank), net and
-- fee in `net_currency` (fee + a cost to us), identity_minor the row's own
-- arithmetic (gross x rate - fee - net; 0 when it ties, NULL when the
-- format has none). occurred_at is the instant, local_time and zone what
-- the file wrote.
-- (file_id is always the recon_files row made in the same transaction; no
-- foreign key, so that COPY does not pay a lookup per row.)
CREATE TABLE recon_rows (
    file_id        bigint NOT NULL,
    line           bigint NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('capture', 'refund', 'chargeback',
                                                 'chargeback_reversal', 'payout', 'fee', 'other')),
    type           text NOT NULL,
    reference      text COLLATE "C" NOT NULL,
    original_ref   text COLLATE "C" NOT NULL,
    merchant_ref   text COLLATE "C" NOT NULL,
    payout_ref     text COLLATE "C" NOT NULL,
    currency       text COLLATE "C" NOT NULL,
    amount_minor   bigint NOT NULL,
    net_currency   text COLLATE "C" NOT NULL,
    net_minor      bigint NOT NULL,
    fee_minor      bigint NOT NULL,
    identity_minor bigint,
    occurred_at    timestamptz NOT NULL,
    local_time     timestamp NOT NULL,
    zone           text NOT NULL,
    PRIMARY KEY (file_id, line)
);
-- "did another night's report settle this payment already?" (duplicates
-- across nights, payments settled early or late)
CREATE INDEX recon_rows_reference ON recon_rows (reference);

-- PayPal STL's per-currency footers, checked against the rows.
CREATE TABLE recon_footers (
    file_id      bigint NOT NULL REFERENCES recon_files (id) ON DELETE CASCADE,
    line         bigint NOT NULL,
    currency     text COLLATE "C" NOT NULL,
    gross_cr     bigint NOT NULL,
    gross_dr     bigint NOT NULL,
    fee_cr       bigint NOT NULL,
    fee_dr       bigint NOT NULL,
    record_count bigint NOT NULL,
    PRIMARY KEY (file_id, line)
);

-- One reconciliation of one provider for one business date. A re-run of
-- the same date makes the earlier run not current.
CREATE TABLE recon_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text COLLATE "C" NOT NULL,
    business_date date NOT NULL,
    run_id        bigint,
    started_at    timestamptz NOT NULL DEFAULT now(),
    is_current    boolean NOT NULL DEFAULT true,
    parameters    text NOT NULL,
    files         bigint[] NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX recon_runs_current ON recon_runs (provider, business_date) WHERE is_current;

-- Matched pairs that the rows do not imply. A row of a run's files with no
-- verdict in recon_results was matched on its own reference to a payment
-- of the run's date; every other match (on another key, or a payment of
-- another date) is stored here. recon_verdicts puts them together.
CREATE TABLE recon_matched (
    recon_run_id bigint NOT NULL,
    file_id      bigint NOT NULL,
    line         bigint NOT NULL,
    payment_id   bigint NOT NULL,
    match_key    text NOT NULL
);
CREATE INDEX recon_matched_run ON recon_matched USING brin (recon_run_id);
-- "was this payment reconciled by another night's run?" (late rows, duplicates)
CREATE INDEX recon_matched_payment ON recon_matched (payment_id);

-- Each run's verdict on every other provider row and every payment in
-- scope. category: the recon.h names, plus 'pending' (a payment within
-- the grace period) and 'other' (provider rows that are not payments:
-- fees, invoice deductions, adjustments). reference is the provider's
-- transaction reference (ours for missing_at_provider and pending).
CREATE TABLE recon_results (
    recon_run_id       bigint NOT NULL REFERENCES recon_runs (id) ON DELETE CASCADE,
    category           text NOT NULL CHECK (category IN (
                           'probable', 'amount_mismatch', 'currency_mismatch',
                           'missing_at_provider', 'missing_internally', 'duplicate_at_provider',
                           'fee_discrepancy', 'pending', 'other')),
    match_key          text,
    file_id            bigint,
    line               bigint,
    payment_id         bigint,
    reference          text COLLATE "C" NOT NULL,
    kind               text NOT NULL,
    currency           text COLLATE "C",
    amount_minor       bigint,
    our_currency       text COLLATE "C",
    our_amount_minor   bigint,
    net_currency       text COLLATE "C",
    net_minor          bigint,
    fee_minor          bigint,
    expected_fee_minor bigint,
    identity_minor     bigint,
    original_ref       text,
    original_payment   bigint,
    occurred_at        timestamptz,
    local_time         timestamp,
    zone               text,
    carried            boolean NOT NULL DEFAULT false,
    detail             text
);
CREATE INDEX recon_results_run ON recon_results (recon_run_id, category);
CREATE INDEX recon_results_payment ON recon_results (payment_id) WHERE payment_id IS NOT NULL;

-- Payout / batch / footer checks of each run.
CREATE TABLE recon_payouts (
    recon_run_id     bigint NOT NULL REFERENCES recon_runs (id) ON DELETE CASCADE,
    category         text NOT NULL CHECK (category IN ('matched', 'payout_mismatch')),
    file_id          bigint NOT NULL,
    line             bigint,
    reference        text NOT NULL,
    payout_ref       text NOT NULL,
    currency         text COLLATE "C" NOT NULL,
    row_count        bigint NOT NULL,
    rows_net_minor   bigint NOT NULL,
    payout_minor     bigint NOT NULL,
    difference_minor bigint NOT NULL,
    occurred_at      timestamptz,
    local_time       timestamp,
    zone             text,
    detail           text
);
CREATE INDEX recon_payouts_run ON recon_payouts (recon_run_id);

-- The open list: an exception stays open until a later run no longer finds
-- it (explained), then carries the date it was resolved. 'pending'
-- payments are tracked here too (not exceptions: within the grace period).
CREATE TABLE recon_exceptions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider      text COLLATE "C" NOT NULL,
    category      text NOT NULL,
    reference     text COLLATE "C" NOT NULL,
    currency      text COLLATE "C" NOT NULL DEFAULT '',
    file_id       bigint,
    line          bigint,
    payment_id    bigint,
    first_seen    date NOT NULL,
    last_seen     date NOT NULL,
    last_run      bigint NOT NULL,
    resolved_on   date,
    resolved_run  bigint,
    resolution    text,
    CONSTRAINT recon_exceptions_key UNIQUE (provider, category, reference, currency)
);
CREATE INDEX recon_exceptions_open ON recon_exceptions (provider) WHERE resolved_on IS NULL;

-- The fee we held for a payment before the provider's actual fee was
-- written to payments.fee_minor: the expectation later runs compare with.
CREATE TABLE recon_fee_intake (
    payment_id       bigint PRIMARY KEY REFERENCES payments (id) ON DELETE CASCADE,
    intake_fee_minor bigint,
    provider_fee     bigint NOT NULL,
    recon_run_id     bigint NOT NULL,
    written_at       timestamptz NOT NULL DEFAULT now()
);

-- An amount for messages: minor units of a currency as "12.34 EUR"
-- (exact numeric arithmetic, the currency's own exponent).
CREATE FUNCTION recon_fmt(minor numeric, currency text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN minor IS NULL THEN NULL ELSE coalesce(
        (SELECT round(minor / power(10::numeric, i.exponent), i.exponent)::text
                || ' ' || currency FROM iso4217 i WHERE i.code = currency),
        minor::text || ' minor units of ' || coalesce(currency, '?')) END
$$;

-- Every verdict of every run in one place: each row of the run's report
-- files (matched when no other verdict was stored), rows carried from
-- earlier nights, and our payments the reports lack.
CREATE VIEW recon_verdicts AS
SELECT u.id AS recon_run_id, u.provider, u.business_date, u.is_current,
       coalesce(x.category, 'matched') AS category,
       coalesce(x.match_key, m.match_key, CASE WHEN x.category IS NULL THEN 'reference' END)
           AS match_key,
       r.file_id, r.line, r.reference, r.kind,
       coalesce(x.payment_id, m.payment_id, p.id) AS payment_id,
       r.currency, r.amount_minor, r.net_currency, r.net_minor, r.fee_minor, r.identity_minor,
       nullif(r.original_ref, '') AS original_ref,
       coalesce(x.original_payment, p.parent_payment_id, mp.parent_payment_id)
           AS original_payment,
       r.occurred_at, r.local_time, r.zone, false AS carried, x.detail
FROM recon_runs u
JOIN recon_rows r ON r.file_id = ANY (u.files) AND r.kind <> 'payout'
LEFT JOIN recon_results x ON x.recon_run_id = u.id AND x.file_id = r.file_id AND x.line = r.line
LEFT JOIN recon_matched m ON m.recon_run_id = u.id AND m.file_id = r.file_id AND m.line = r.line
LEFT JOIN payments mp ON mp.id = m.payment_id
LEFT JOIN payments p ON x.category IS NULL AND m.payment_id IS NULL AND p.provider = u.provider
    AND p.provider_ref = r.reference
    AND p.kind = CASE r.kind WHEN 'chargeback_reversal' THEN 'chargeback' ELSE r.kind END
UNION ALL
SELECT u.id, u.provider, u.business_date, u.is_current, 'matched', m.match_key, r.file_id,
       r.line, r.reference, r.kind, m.payment_id, r.currency, r.amount_minor, r.net_currency,
       r.net_minor, r.fee_minor, r.identity_minor, nullif(r.original_ref, ''),
       mp.parent_payment_id, r.occurred_at, r.local_time, r.zone, true, NULL
FROM recon_runs u
JOIN recon_matched m ON m.recon_run_id = u.id AND NOT (m.file_id = ANY (u.files))
JOIN recon_rows r ON r.file_id = m.file_id AND r.line = m.line
JOIN payments mp ON mp.id = m.payment_id
UNION ALL
SELECT u.id, u.provider, u.business_date, u.is_current, x.category, x.match_key, x.file_id,
       x.line, x.reference, x.kind, x.payment_id, x.currency, x.amount_minor, x.net_currency,
       x.net_minor, x.fee_minor, x.identity_minor, x.original_ref, x.original_payment,
       x.occurred_at, x.local_time, x.zone, true, x.detail
FROM recon_runs u
JOIN recon_results x ON x.recon_run_id = u.id
WHERE x.file_id IS NULL OR NOT (x.file_id = ANY (u.files));
