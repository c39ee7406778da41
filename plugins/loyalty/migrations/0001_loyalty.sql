-- The loyalty plugin: points earned on delivered, captured orders, posted
-- to an append-only ledger (one row per movement), reversed on refunds and
-- chargebacks, expired first-in first-out, and each buyer's tier with its
-- history. Points are whole numbers kept per buyer and currency (the
-- currency of the order that earned them). See plugins/loyalty/README.md.

-- One row per business date posted: running a date again finds it. `rules`
-- is the snapshot of the settings the run used (earn rates, point values,
-- multipliers, campaigns, tiers), so a workbook written again later shows
-- the liability at the value of that night.
CREATE TABLE loyalty_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date date NOT NULL,
    cutoff        timestamptz NOT NULL,
    timezone      text NOT NULL,
    rules         jsonb NOT NULL,
    run_id        bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT loyalty_runs_business_date_key UNIQUE (business_date)
);

-- The points ledger. Accruals are positive; reversals, expiries and
-- redemptions negative. A buyer's balance in a currency is the sum of the
-- rows. Redemptions (points spent at checkout) are written by the
-- storefront side, not by this plugin; expiry takes them into account.
CREATE TABLE loyalty_points (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_run_id bigint REFERENCES loyalty_runs (id),
    business_date  date NOT NULL,
    buyer_id       bigint NOT NULL REFERENCES buyers (id),
    currency       text COLLATE "C" NOT NULL REFERENCES iso4217 (code),
    kind           text NOT NULL CHECK (kind IN ('accrual', 'reversal', 'expiry', 'redemption')),
    order_id       bigint REFERENCES orders (id),
    payment_id     bigint REFERENCES payments (id),
    points         bigint NOT NULL,
    -- accrual: the goods amount the points were computed on; reversal: the
    -- refund or chargeback amount (minor units of `currency`)
    basis_minor    bigint,
    reason         text NOT NULL CHECK (reason <> ''),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT loyalty_points_sign_check
        CHECK (CASE WHEN kind = 'accrual' THEN points > 0 ELSE points < 0 END),
    CONSTRAINT loyalty_points_order_check CHECK (kind = 'redemption' OR order_id IS NOT NULL),
    CONSTRAINT loyalty_points_payment_check CHECK ((kind = 'reversal') = (payment_id IS NOT NULL)),
    CONSTRAINT loyalty_points_run_check CHECK (kind = 'redemption' OR loyalty_run_id IS NOT NULL)
);
-- Each order accrues at most once, each refund or chargeback is reversed
-- at most once, each accrual expires at most once: even two runs racing
-- cannot post a movement twice.
CREATE UNIQUE INDEX loyalty_points_accrual_once ON loyalty_points (order_id) WHERE kind = 'accrual';
CREATE UNIQUE INDEX loyalty_points_reversal_once ON loyalty_points (payment_id)
    WHERE kind = 'reversal';
CREATE UNIQUE INDEX loyalty_points_expiry_once ON loyalty_points (order_id) WHERE kind = 'expiry';
-- balances and FIFO expiry per buyer and currency; the workbook by date
CREATE INDEX loyalty_points_buyer ON loyalty_points (buyer_id, currency);
CREATE INDEX loyalty_points_date ON loyalty_points (business_date);

-- Tier history: one row per change (never for a buyer who stays put). A
-- buyer with no row is in the lowest tier.
CREATE TABLE loyalty_tier_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loyalty_run_id bigint NOT NULL REFERENCES loyalty_runs (id),
    business_date  date NOT NULL,
    buyer_id       bigint NOT NULL REFERENCES buyers (id),
    from_tier      text NOT NULL,
    to_tier        text NOT NULL,
    -- the trailing spend that decided it: the buyer's best currency
    currency       text COLLATE "C" REFERENCES iso4217 (code),
    spend_minor    bigint NOT NULL CHECK (spend_minor >= 0),
    window_days    integer NOT NULL CHECK (window_days > 0),
    CONSTRAINT loyalty_tier_changes_check CHECK (from_tier <> to_tier),
    CONSTRAINT loyalty_tier_changes_once UNIQUE (buyer_id, business_date)
);

-- Each buyer's current tier (buyers without a change are in the lowest).
CREATE VIEW loyalty_buyer_tiers AS
SELECT DISTINCT ON (buyer_id) buyer_id, to_tier AS tier, business_date AS since
  FROM loyalty_tier_changes
 ORDER BY buyer_id, business_date DESC, id DESC;

-- Each buyer's points balance per currency.
CREATE VIEW loyalty_balances AS
SELECT buyer_id, currency, sum(points) AS points
  FROM loyalty_points
 GROUP BY buyer_id, currency;

-- The ledger and the tier history are append-only: a correction is a new
-- movement, never an edit.
CREATE FUNCTION loyalty_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'post a new movement (a reversal or a redemption) instead';
END
$$;
CREATE TRIGGER loyalty_points_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty_points
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty_append_only();
CREATE TRIGGER loyalty_tier_changes_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON loyalty_tier_changes
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty_append_only();

-- The points reversed in total once `part` of `whole` was refunded or
-- charged back: floor(points x min(part, whole) / whole), in exact
-- integer arithmetic (numeric, so no product overflows).
CREATE FUNCTION loyalty_share(points bigint, part numeric, whole numeric) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN whole <= 0 THEN points
                ELSE div(points::numeric * least(part, whole), whole)::bigint END
$$;
