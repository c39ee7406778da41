-- The settlement plugin: one batch per business date, the statement lines
-- behind each seller's payout (each order line settled at most once),
-- rolling reserves, payouts with carried negative balances, and a
-- double-entry ledger whose journals the database keeps balanced.
-- Money is bigint minor units; see plugins/settlement/README.md.

-- ---- rounding ---------------------------------------------------------------

-- num / den rounded to an integer: 'half_even' (ties to the even neighbour)
-- or 'half_up' (ties away from zero); den > 0. Integer arithmetic only; an
-- inlinable SQL expression, so a million calls cost no function calls.
CREATE FUNCTION settlement_round(num bigint, den bigint, mode text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN num < 0 THEN -1 ELSE 1 END
         * (abs(num) / den
            + CASE WHEN 2 * (abs(num) % den) > den
                     OR (2 * (abs(num) % den) = den
                         AND (mode = 'half_up' OR (abs(num) / den) % 2 = 1))
                   THEN 1 ELSE 0 END)
$$;

-- ---- batches, lines, reserves, payouts --------------------------------------

CREATE TABLE settlement_batches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date   date NOT NULL,
    cutoff          timestamptz NOT NULL,
    timezone        text NOT NULL,
    rounding        text NOT NULL CHECK (rounding IN ('half_even', 'half_up')),
    settle_on       text NOT NULL CHECK (settle_on ~ '^(delivered|shipped\+[0-9]+d)$'),
    fee_estimate_bp integer NOT NULL CHECK (fee_estimate_bp BETWEEN 0 AND 10000),
    reserve_bp      integer NOT NULL CHECK (reserve_bp BETWEEN 0 AND 10000),
    reserve_days    integer NOT NULL CHECK (reserve_days >= 1),
    run_id          bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- one settlement batch per business date: running a date again finds it
    CONSTRAINT settlement_batches_business_date_key UNIQUE (business_date)
);

-- The statement lines: a sale (an order line, payment_id NULL), or the
-- share of one refund or chargeback falling on an order line. Signs:
-- gross, fee, refund and chargeback are >= 0; commission is negative on a
-- refund (the reversed part). net is what the line adds to the payout.
CREATE TABLE settlement_lines (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id         bigint NOT NULL, -- settlement_batches (id), written in its transaction
    seller_id        bigint NOT NULL,
    currency         text COLLATE "C" NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('sale', 'refund', 'chargeback')),
    order_id         bigint NOT NULL,
    order_item_id    bigint NOT NULL,
    payment_id       bigint,
    event_at         timestamptz NOT NULL,
    gross_minor      bigint NOT NULL,
    commission_minor bigint NOT NULL,
    fee_minor        bigint NOT NULL,
    fee_source       text CHECK (fee_source IN ('actual', 'estimate')),
    refund_minor     bigint NOT NULL,
    chargeback_minor bigint NOT NULL,
    net_minor        bigint NOT NULL,
    -- each order line is settled at most once (a sale has no payment), and
    -- each refund or chargeback is taken at most once per order line
    CONSTRAINT settlement_lines_once UNIQUE NULLS NOT DISTINCT (order_item_id, payment_id),
    CONSTRAINT settlement_lines_payment_check
        CHECK ((kind = 'sale') = (payment_id IS NULL)),
    CONSTRAINT settlement_lines_net_check
        CHECK (net_minor = gross_minor - commission_minor - fee_minor - refund_minor
                           - chargeback_minor)
);
-- A batch's lines: appended batch after batch, so a BRIN range finds them
-- at almost no cost per inserted row.
CREATE INDEX settlement_lines_batch ON settlement_lines USING brin (batch_id);

-- Rolling reserve: held from a seller's net in one batch, released by the
-- first batch on or after release_on.
CREATE TABLE settlement_reserves (
    batch_id          bigint NOT NULL REFERENCES settlement_batches (id),
    seller_id         bigint NOT NULL REFERENCES sellers (id),
    currency          text COLLATE "C" NOT NULL REFERENCES iso4217 (code),
    amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
    release_on        date NOT NULL,
    released_batch_id bigint REFERENCES settlement_batches (id),
    PRIMARY KEY (batch_id, seller_id, currency)
);
CREATE INDEX settlement_reserves_due ON settlement_reserves (release_on)
    WHERE released_batch_id IS NULL;

-- One payout line per seller and currency and batch. available = the
-- lines' net - reserve held + reserve released + carried_in; a negative
-- available is carried to the next batch instead of paid.
CREATE TABLE settlement_payouts (
    batch_id          bigint NOT NULL REFERENCES settlement_batches (id),
    seller_id         bigint NOT NULL REFERENCES sellers (id),
    currency          text COLLATE "C" NOT NULL REFERENCES iso4217 (code),
    journal_id        bigint, -- ledger_journals (journal_id)
    lines             bigint NOT NULL,
    gross_minor       bigint NOT NULL,
    commission_minor  bigint NOT NULL,
    fee_minor         bigint NOT NULL,
    refund_minor      bigint NOT NULL,
    chargeback_minor  bigint NOT NULL,
    reserve_held_minor     bigint NOT NULL CHECK (reserve_held_minor >= 0),
    reserve_released_minor bigint NOT NULL CHECK (reserve_released_minor >= 0),
    carried_in_minor  bigint NOT NULL CHECK (carried_in_minor <= 0),
    carried_out_minor bigint NOT NULL CHECK (carried_out_minor <= 0),
    payout_minor      bigint NOT NULL CHECK (payout_minor >= 0),
    PRIMARY KEY (batch_id, seller_id, currency),
    CONSTRAINT settlement_payouts_identity CHECK (
        payout_minor + carried_out_minor
        = gross_minor - commission_minor - fee_minor - refund_minor - chargeback_minor
          - reserve_held_minor + reserve_released_minor + carried_in_minor),
    CONSTRAINT settlement_payouts_carry_check CHECK (payout_minor = 0 OR carried_out_minor = 0)
);
-- the seller's latest carried balance
CREATE INDEX settlement_payouts_seller ON settlement_payouts (seller_id, currency, batch_id);

-- ---- the ledger -------------------------------------------------------------

-- A journal: entries posted together, in one currency, summing to zero.
CREATE TABLE ledger_journals (
    journal_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL CHECK (source ~ '^[a-z][a-z_]*$'),
    source_id   bigint,   -- settlement: settlement_batches (id)
    seller_id   bigint REFERENCES sellers (id),
    currency    text COLLATE "C" NOT NULL REFERENCES iso4217 (code),
    description text NOT NULL,
    created_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_journals_source ON ledger_journals (source, source_id);

-- The entries: debits positive, credits negative, minor units of currency.
-- No foreign keys (a night posts millions of rows): the statement trigger
-- below checks every journal an INSERT touches, once per statement.
CREATE TABLE ledger_entries (
    journal_id   bigint NOT NULL,
    account      text COLLATE "C" NOT NULL CHECK (account <> ''),
    amount_minor bigint NOT NULL,
    currency     text COLLATE "C" NOT NULL,
    seller_id    bigint,
    line_id      bigint, -- settlement_lines (id); NULL for batch-level entries
    memo         text    -- what a batch-level entry is ('reserve held', 'payout', ...)
);
CREATE INDEX ledger_entries_journal ON ledger_entries USING brin (journal_id);

-- Per journal and account, the sum of its entries: kept by the trigger,
-- read by the balance check and by reports.
CREATE TABLE ledger_balances (
    journal_id   bigint NOT NULL REFERENCES ledger_journals (journal_id),
    account      text COLLATE "C" NOT NULL,
    currency     text COLLATE "C" NOT NULL,
    amount_minor bigint NOT NULL,
    entries      bigint NOT NULL,
    PRIMARY KEY (journal_id, account)
);

-- After each INSERT into ledger_entries: every touched journal exists, is
-- still open (created by this transaction) and has the entries' currency;
-- the per-account balances are brought up to date.
CREATE FUNCTION ledger_entries_posted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    g record;
    j record;
    checked bigint; -- the journal j holds
BEGIN
    FOR g IN SELECT journal_id, account, currency, sum(amount_minor) AS amount, count(*) AS n
               FROM ledger_new GROUP BY journal_id, account, currency
               ORDER BY journal_id, account
    LOOP
        IF checked IS NULL OR checked <> g.journal_id THEN
            SELECT journal_id, currency, created_xid = pg_current_xact_id() AS open
              INTO j FROM ledger_journals WHERE journal_id = g.journal_id;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'ledger: entries for journal %, which does not exist', g.journal_id
                    USING ERRCODE = 'foreign_key_violation',
                          HINT = 'insert the journal into ledger_journals first, in the same transaction';
            END IF;
            IF NOT j.open THEN
                RAISE EXCEPTION 'ledger: journal % is closed (posted by an earlier transaction)', g.journal_id
                    USING ERRCODE = 'restrict_violation',
                          HINT = 'post a new journal that corrects it';
            END IF;
            checked := g.journal_id;
        END IF;
        IF g.currency <> j.currency THEN
            RAISE EXCEPTION 'ledger: journal % is in %, an entry is in %', g.journal_id, j.currency, g.currency
                USING ERRCODE = 'check_violation', HINT = 'currencies are never mixed in a journal';
        END IF;
        INSERT INTO ledger_balances AS b (journal_id, account, currency, amount_minor, entries)
        VALUES (g.journal_id, g.account, g.currency, g.amount, g.n)
        ON CONFLICT (journal_id, account) DO UPDATE
            SET amount_minor = b.amount_minor + EXCLUDED.amount_minor,
                entries = b.entries + EXCLUDED.entries;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_entries_posted AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS ledger_new
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_posted();

-- At commit, each journal created by the transaction sums to zero per
-- currency: a deferred constraint trigger, so entries may come in any
-- number of statements, but an unbalanced journal never commits.
CREATE FUNCTION ledger_journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT currency, sum(amount_minor) AS off FROM ledger_balances
              WHERE journal_id = NEW.journal_id GROUP BY currency HAVING sum(amount_minor) <> 0
    LOOP
        RAISE EXCEPTION 'ledger: journal % (%) does not balance: debits - credits = % % minor units',
                        NEW.journal_id, NEW.description, r.off, r.currency
            USING ERRCODE = 'check_violation',
                  HINT = 'every journal''s entries must sum to zero per currency';
    END LOOP;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_journals_balanced AFTER INSERT ON ledger_journals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_journal_balanced();

-- The ledger is append-only: a posted entry is corrected by a new journal,
-- never edited. ledger_balances is written by the trigger only.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ledger_balances' AND pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'ledger: % on % refused: the ledger is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'post a correcting journal instead';
END
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_journals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_journals
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_balances_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON ledger_balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- ---- what a batch takes ------------------------------------------------------
--
-- A line's share of an order-level amount (the payment fee, a refund, a
-- chargeback, a dispute fee) is amount x line total / max(items, captured):
-- the sellers' goods bear their part, shipping and tax the platform's. The
-- shares of one amount are rounded as a whole: their total is rounded with
-- the batch's mode, each line gets the floor of its exact share, and the
-- units left over go to the largest remainders (ties: lowest line id), so
-- the lines sum exactly to the total.

-- The order lines that become settleable by p_cutoff (delivered, or shipped
-- p_shipped_days before it, since p_since) with a succeeded capture before
-- it, not yet settled: gross, commission and payment fee per line.
CREATE FUNCTION settlement_sale_lines(
    p_cutoff timestamptz, p_since timestamptz, p_shipped_days integer, p_rounding text,
    p_fee_estimate_bp integer, p_default_bp integer, p_currencies text[],
    p_fixed bigint[], p_minimum bigint[])
RETURNS TABLE (seller_id bigint, currency text, order_id bigint, order_item_id bigint,
               event_at timestamptz, gross_minor bigint, commission_minor bigint,
               fee_minor bigint, fee_source text)
LANGUAGE sql STABLE AS $$
WITH ready AS (
    SELECT o.order_id, min(o.at) AS at
      FROM (SELECT d.order_id, d.delivered_at AS at
              FROM deliveries d
             WHERE d.status = 'delivered' AND d.delivered_at < p_cutoff
               AND d.delivered_at >= p_since
            UNION ALL
            SELECT d.order_id, e.at + make_interval(days => p_shipped_days)
              FROM delivery_events e JOIN deliveries d ON d.id = e.delivery_id
             WHERE p_shipped_days IS NOT NULL AND e.status = 'picked_up'
               AND e.at < p_cutoff - make_interval(days => p_shipped_days)
               AND e.at >= p_since - make_interval(days => p_shipped_days)) o
     GROUP BY o.order_id
), lines AS (
    SELECT i.id, i.order_id, i.seller_id, i.currency, i.line_total_minor AS gross, r.at,
           c.fee, c.fee_known,
           greatest(sum(i.line_total_minor) OVER w, c.amount)::bigint AS den,
           (sum(i.line_total_minor) OVER w)::bigint AS items
      FROM ready r
     CROSS JOIN LATERAL (
           SELECT sum(p.amount_minor)::bigint AS amount, sum(p.fee_minor)::bigint AS fee,
                  count(p.fee_minor) = count(*) AS fee_known
             FROM payments p
            WHERE p.order_id = r.order_id AND p.kind = 'capture' AND p.status = 'succeeded'
              AND p.occurred_at < p_cutoff) c
      JOIN order_items i ON i.order_id = r.order_id
     WHERE c.amount IS NOT NULL
    WINDOW w AS (PARTITION BY i.order_id)
), shares AS (
    SELECT l.*,
           CASE WHEN l.fee_known AND l.den > 0 THEN l.fee * l.gross / l.den END AS q,
           CASE WHEN l.fee_known AND l.den > 0 THEN l.fee * l.gross % l.den END AS rem,
           CASE WHEN l.fee_known AND l.den > 0
                THEN settlement_round(l.fee * l.items, l.den, p_rounding) END AS total
      FROM lines l
), fees AS (
    SELECT s.*,
           s.q + CASE WHEN row_number() OVER (PARTITION BY s.order_id ORDER BY s.rem DESC, s.id)
                           <= s.total - sum(s.q) OVER (PARTITION BY s.order_id)
                      THEN 1 ELSE 0 END AS fee_share
      FROM shares s
)
SELECT l.seller_id, l.currency, l.order_id, l.id, l.at, l.gross,
       greatest(t.minimum, settlement_round(l.gross * t.bp, 10000, p_rounding) + t.fixed),
       coalesce(l.fee_share, CASE WHEN l.fee_known THEN 0
                                  ELSE settlement_round(l.gross * p_fee_estimate_bp, 10000, p_rounding) END),
       CASE WHEN l.fee_known THEN 'actual' ELSE 'estimate' END
  FROM fees l
  JOIN sellers s ON s.id = l.seller_id
  LEFT JOIN unnest(p_currencies, p_fixed, p_minimum) AS dflt(currency, fixed, minimum)
         ON dflt.currency = l.currency
  CROSS JOIN LATERAL (
      SELECT CASE WHEN terms_own THEN s.commission_bp ELSE p_default_bp END AS bp,
             CASE WHEN terms_own AND s.currency = l.currency THEN s.commission_fixed_minor
                  ELSE coalesce(dflt.fixed, 0) END AS fixed,
             CASE WHEN terms_own AND s.currency = l.currency THEN s.commission_min_minor
                  ELSE coalesce(dflt.minimum, 0) END AS minimum
        FROM (SELECT s.commission_bp <> 0 OR s.commission_fixed_minor <> 0
                     OR s.commission_min_minor <> 0 AS terms_own) own) t
 WHERE NOT EXISTS (SELECT 1 FROM settlement_lines x
                    WHERE x.order_item_id = l.id AND x.payment_id IS NULL)
$$;

-- The shares of the succeeded refunds and chargebacks before p_cutoff (and
-- since p_since) that fall on order lines already settled (in an earlier
-- batch or this one's sales) and were not taken yet. A refund reverses the
-- line's commission proportionally: after it, the commission reversed in
-- total is round(commission x refunded / gross) with refunded capped at the
-- gross. A chargeback's dispute fee (the provider's, else the estimate per
-- currency) is shared like the amount when p_dispute_fee.
CREATE FUNCTION settlement_adjustment_lines(
    p_cutoff timestamptz, p_since timestamptz, p_rounding text, p_dispute_fee boolean,
    p_currencies text[], p_dispute_estimate bigint[])
RETURNS TABLE (seller_id bigint, currency text, kind text, order_id bigint,
               order_item_id bigint, payment_id bigint, event_at timestamptz,
               commission_minor bigint, fee_minor bigint, fee_source text,
               refund_minor bigint, chargeback_minor bigint)
LANGUAGE sql STABLE AS $$
WITH adj AS (
    SELECT p.id, p.order_id, p.kind, p.amount_minor AS amount, p.occurred_at,
           CASE WHEN p.kind = 'chargeback' AND p_dispute_fee THEN p.fee_minor END AS fee_actual
      FROM payments p
     WHERE p.kind IN ('refund', 'chargeback') AND p.status = 'succeeded'
       AND p.occurred_at < p_cutoff AND p.occurred_at >= p_since
), lines AS (
    SELECT a.id AS payment_id, a.order_id, a.kind, a.amount, a.occurred_at,
           i.id, i.seller_id, i.currency, i.line_total_minor AS gross,
           CASE WHEN a.kind <> 'chargeback' OR NOT p_dispute_fee THEN 0
                ELSE coalesce(a.fee_actual, dflt.estimate, 0) END AS dfee,
           CASE WHEN a.kind = 'chargeback' AND p_dispute_fee
                THEN CASE WHEN a.fee_actual IS NOT NULL THEN 'actual'
                          WHEN dflt.estimate IS NOT NULL THEN 'estimate' END END AS dfee_source,
           greatest(sum(i.line_total_minor) OVER w, coalesce(c.amount, 0))::bigint AS den,
           (sum(i.line_total_minor) OVER w)::bigint AS items
      FROM adj a
     CROSS JOIN LATERAL (
           SELECT sum(p.amount_minor)::bigint AS amount
             FROM payments p
            WHERE p.order_id = a.order_id AND p.kind = 'capture' AND p.status = 'succeeded'
              AND p.occurred_at < p_cutoff) c
      JOIN order_items i ON i.order_id = a.order_id
      LEFT JOIN unnest(p_currencies, p_dispute_estimate) AS dflt(currency, estimate)
             ON dflt.currency = i.currency
    WINDOW w AS (PARTITION BY a.id)
), parts AS (
    SELECT l.*,
           l.amount * l.gross / l.den AS aq, l.amount * l.gross % l.den AS arem,
           settlement_round(l.amount * l.items, l.den, p_rounding) AS atotal,
           l.dfee * l.gross / l.den AS fq, l.dfee * l.gross % l.den AS frem,
           settlement_round(l.dfee * l.items, l.den, p_rounding) AS ftotal
      FROM lines l
     WHERE l.den > 0
), shares AS (
    SELECT p.*,
           p.aq + CASE WHEN row_number() OVER (PARTITION BY p.payment_id ORDER BY p.arem DESC, p.id)
                            <= p.atotal - sum(p.aq) OVER (PARTITION BY p.payment_id)
                       THEN 1 ELSE 0 END AS share,
           p.fq + CASE WHEN row_number() OVER (PARTITION BY p.payment_id ORDER BY p.frem DESC, p.id)
                            <= p.ftotal - sum(p.fq) OVER (PARTITION BY p.payment_id)
                       THEN 1 ELSE 0 END AS fee_share
      FROM parts p
), pending AS (
    SELECT sh.*, sale.gross_minor AS sale_gross, sale.commission_minor AS sale_commission
      FROM shares sh
      JOIN settlement_lines sale ON sale.order_item_id = sh.id AND sale.payment_id IS NULL
     WHERE NOT EXISTS (SELECT 1 FROM settlement_lines x
                        WHERE x.order_item_id = sh.id AND x.payment_id = sh.payment_id)
), unsettled AS (
    SELECT pe.*,
           coalesce((SELECT sum(x.refund_minor) FROM settlement_lines x
                      WHERE x.order_item_id = pe.id AND x.kind = 'refund'), 0)
           + coalesce(sum(CASE WHEN pe.kind = 'refund' THEN pe.share ELSE 0 END)
                 OVER (PARTITION BY pe.id ORDER BY pe.occurred_at, pe.payment_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS refunded_before
      FROM pending pe
)
SELECT t.seller_id, t.currency, t.kind, t.order_id, t.id, t.payment_id, t.occurred_at,
       CASE WHEN t.kind = 'refund' AND t.sale_gross > 0 THEN
           settlement_round(t.sale_commission * least(t.refunded_before, t.sale_gross)::bigint,
                            t.sale_gross, p_rounding)
           - settlement_round(t.sale_commission * least(t.refunded_before + t.share, t.sale_gross)::bigint,
                              t.sale_gross, p_rounding)
       ELSE 0 END,
       t.fee_share, t.dfee_source,
       CASE WHEN t.kind = 'refund' THEN t.share ELSE 0 END,
       CASE WHEN t.kind = 'chargeback' THEN t.share ELSE 0 END
  FROM unsettled t
$$;
