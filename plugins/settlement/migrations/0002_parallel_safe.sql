-- The two functions that compute a batch's lines only read: declared
-- PARALLEL SAFE, the query that materialises their rows (CREATE TEMP TABLE
-- ... AS, which may run in parallel, unlike INSERT ... SELECT) can scan and
-- aggregate with parallel workers.
ALTER FUNCTION settlement_sale_lines(timestamptz, timestamptz, integer, text, integer, integer,
                                     text[], bigint[], bigint[]) PARALLEL SAFE;
ALTER FUNCTION settlement_adjustment_lines(timestamptz, timestamptz, text, boolean, text[],
                                           bigint[]) PARALLEL SAFE;
