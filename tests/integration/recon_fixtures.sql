-- Our side of the real provider samples (tests/integration/test_reconciliation.sh):
-- the payments the samples settle, as our store would hold them, so that
-- each sample row is classified as its source says.
INSERT INTO buyers (id, external_ref, email, name, country)
VALUES (1, 'fixture-buyer', 'b@example.org', 'Fixture Buyer', 'US');
INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor,
                    total_minor)
VALUES (1, 'web', '24310.1', 1, 'USD', 'paid', '2026-01-30 10:00Z', 2500, 2500),
       (2, 'web', '24315.1', 1, 'USD', 'paid', '2026-02-01 08:00Z', 3000, 3000),
       (3, 'web', '24315.2', 1, 'USD', 'paid', '2026-01-20 08:00Z', 3000, 3000),
       (4, 'web', '662716.1', 1, 'JPY', 'paid', '2025-09-11 10:00Z', 3158, 3158),
       (5, 'web', '662718.1', 1, 'JPY', 'paid', '2025-09-11 10:00Z', 335, 335),
       (6, 'web', '662720.1', 1, 'CAD', 'paid', '2025-09-11 10:00Z', 1000, 1000),
       (7, 'web', '3vpzf7', 1, 'GBP', 'paid', '2013-06-03 09:00Z', 500, 500),
       (8, 'web', '324959451', 1, 'EUR', 'paid', '2013-03-01 09:00Z', 34999, 34999),
       (9, 'web', '2444.1', 1, 'AUD', 'paid', '2026-01-06 08:00Z', 5200, 5200),
       (10, 'web', '2443.1', 1, 'AUD', 'paid', '2026-01-06 08:00Z', 535, 535),
       (11, 'web', '2213.15', 1, 'GBP', 'paid', '2026-01-07 07:00Z', 834, 834),
       (12, 'web', '2216.15', 1, 'GBP', 'paid', '2026-01-05 07:00Z', 134, 134);
INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id,
                      amount_minor, currency, status, occurred_at, fee_minor)
VALUES -- Stripe settlement report: a charge and its partial refund
       (1, 1, 'stripe', 'ch_123', 'capture', NULL, 2500, 'USD', 'succeeded', '2026-01-30 10:11:12Z', 95),
       -- (re_123, its refund, is added later by the test: an exception resolved)
       -- a capture the report does not have: pending, then missing_at_provider
       (2, 1, 'stripe', 'ch_late', 'capture', NULL, 700, 'USD', 'succeeded', '2026-01-30 20:00:00Z', 40),
       -- Stripe payments activity: a charge, and a dispute of an earlier charge
       -- whose fee we did not know at intake
       (3, 2, 'stripe2', 'ch_aaa', 'capture', NULL, 3000, 'USD', 'succeeded', '2026-02-01 09:00:00Z', 120),
       (4, 3, 'stripe2', 'ch_bbb', 'capture', NULL, 3000, 'USD', 'succeeded', '2026-01-20 09:00:00Z', 120),
       (5, 3, 'stripe2', 'dp_bbb', 'chargeback', 4, 3000, 'USD', 'succeeded', '2026-02-02 10:00:00Z', NULL),
       -- Adyen batch 1128: two JPY captures settled in USD, one CAD capture
       (6, 4, 'adyen', '2VXYZ12345678910', 'capture', NULL, 3158, 'JPY', 'succeeded', '2025-09-12 02:23:11Z', NULL),
       (7, 5, 'adyen', '4VXYZ12345678910', 'capture', NULL, 335, 'JPY', 'succeeded', '2025-09-11 12:40:49Z', NULL),
       (8, 6, 'adyen', '6VXYZ12345678910', 'capture', NULL, 1000, 'CAD', 'succeeded', '2025-09-11 23:04:48Z', 46),
       -- Adyen documentation sample: a capture, a chargeback of an earlier capture
       (9, 7, 'adyendocs', '1713702551795048', 'capture', NULL, 500, 'GBP', 'succeeded', '2013-06-03 09:26:49Z', 12),
       (10, 8, 'adyendocs', '1313642467023511', 'capture', NULL, 34999, 'EUR', 'succeeded', '2013-03-01 09:00:00Z', 300),
       (11, 8, 'adyendocs', '2313642467170922', 'chargeback', 10, 34999, 'EUR', 'succeeded', '2013-03-26 21:37:26Z', NULL),
       -- PayPal STL: three payments and a refund of an earlier one
       (12, 9, 'paypal', '5678', 'capture', NULL, 5200, 'AUD', 'succeeded', '2026-01-06 08:00:30Z', 225),
       (13, 10, 'paypal', '6789', 'capture', NULL, 535, 'AUD', 'succeeded', '2026-01-06 08:06:02Z', 75),
       (14, 11, 'paypal', '68C7', 'capture', NULL, 834, 'GBP', 'succeeded', '2026-01-07 07:31:39Z', 87),
       (15, 12, 'paypal', '99900', 'capture', NULL, 134, 'GBP', 'succeeded', '2026-01-05 07:00:00Z', 30),
       (16, 12, 'paypal', '6899', 'refund', 15, 134, 'GBP', 'succeeded', '2026-01-07 07:31:39Z', NULL);
SELECT setval(pg_get_serial_sequence('payments', 'id'), 100);
SELECT setval(pg_get_serial_sequence('orders', 'id'), 100);
SELECT setval(pg_get_serial_sequence('buyers', 'id'), 100);
