#!/bin/sh
# The store's constraints against a real PostgreSQL: each CHECK, unique key
# and foreign key that matters refuses a bad row with the error message a
# storefront integrator would see, and good rows go in.
. tests/lib/testlib.sh

DB=$(fresh_db purser_store)
expect 0 "purser migrate creates the store" env PURSER_DATABASE_URL="$DB" "$PURSER" migrate

psql_do() { "$PURSER_TEST_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# accepts "what" SQL
accepts() {
    run psql_do "$2"
    if [ "$T_RC" = 0 ]; then t_ok "$1"; else t_fail "$1" "$T_OUT"; fi
}
# rejects "what" PATTERN SQL: the statement fails with a message matching PATTERN
rejects() {
    run psql_do "$3"
    if [ "$T_RC" != 0 ] && printf '%s\n' "$T_OUT" | tr '\n' ' ' | grep -Eq -- "$2"; then
        t_ok "$1"
    else
        t_fail "$1" "exit $T_RC, output should match: $2" "$T_OUT"
    fi
}

same "$(sql "$DB" "SELECT exponent FROM iso4217 WHERE code = 'JPY'")" 0 "JPY has exponent 0"
same "$(sql "$DB" "SELECT exponent FROM iso4217 WHERE code = 'KWD'")" 3 "KWD has exponent 3"
same "$(sql "$DB" "SELECT exponent FROM iso4217 WHERE code = 'CLF'")" 4 "CLF has exponent 4"
same "$(sql "$DB" "SELECT count(*) >= 150 FROM iso4217")" t "every active currency is listed"

accepts "good parties and catalogue go in" "
INSERT INTO depots (code, name, latitude, longitude) VALUES ('BER-01', 'Mitte', 52.52, 13.405);
INSERT INTO buyers (external_ref, email, name, country) VALUES ('b-1', 'a@example.com', 'Anna', 'DE');
INSERT INTO sellers (external_ref, name, currency, commission_bp, commission_fixed_minor, commission_min_minor)
    VALUES ('s-1', 'Shop', 'EUR', 1200, 30, 50);
INSERT INTO delivery_agents (name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams)
    VALUES ('Ben', 1, '08:00', '16:00', 500000);
INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams)
    VALUES (1, 'SKU-1', 'Book', 'books', 1299, 'EUR', 400);
INSERT INTO inventory (product_id, warehouse_id, on_hand, reserved, safety_stock) VALUES (1, 1, 10, 2, 1);"

accepts "a good order with lines, payments, a delivery and its events goes in" "
INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor,
                    shipping_minor, tax_minor, discount_minor, total_minor)
    VALUES (1, 'web', 'W-1', 1, 'EUR', 'paid', '2025-01-01 10:00+00', 2598, 499, 494, 100, 3491);
INSERT INTO order_items (id, order_id, line_no, product_id, seller_id, currency, quantity,
                         unit_price_minor, line_total_minor)
    VALUES (1, 1, 1, 1, 1, 'EUR', 2, 1299, 2598);
INSERT INTO payments (id, order_id, provider, provider_ref, kind, amount_minor, currency, status, occurred_at)
    VALUES (1, 1, 'stripe', 'pi_1', 'authorisation', 3491, 'EUR', 'succeeded', '2025-01-01 10:00:05+00');
INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor, currency, status, occurred_at, fee_minor)
    VALUES (2, 1, 'stripe', 'ch_1', 'capture', 1, 3491, 'EUR', 'succeeded', '2025-01-01 10:30+00', 74);
INSERT INTO deliveries (id, order_id, depot_id, address, latitude, longitude, window_start, window_end,
                        weight_grams, service_minutes)
    VALUES (1, 1, 1, 'Torstraße 1, 10119 Berlin', 52.53, 13.40, '2025-01-02 09:00+00',
            '2025-01-02 11:00+00', 800, 5);
INSERT INTO delivery_events (delivery_id, seq, status, at) VALUES (1, 1, 'pending', '2025-01-01 10:30+00');"

# --- parties and catalogue ------------------------------------------------------
rejects "unknown currency is refused (FK to iso4217)" 'violates foreign key constraint "sellers_currency_fkey".*Key \(currency\)=\(EUX\) is not present in table "iso4217"' \
    "INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('s-2', 'X', 'EUX', 100)"
rejects "commission above 100% is refused" 'violates check constraint "sellers_commission_bp_check"' \
    "INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('s-2', 'X', 'EUR', 10001)"
rejects "negative commission minimum is refused" 'violates check constraint "sellers_commission_min_minor_check"' \
    "INSERT INTO sellers (external_ref, name, currency, commission_bp, commission_min_minor) VALUES ('s-2', 'X', 'EUR', 100, -1)"
rejects "duplicate seller reference is refused" 'duplicate key value violates unique constraint "sellers_external_ref_key"' \
    "INSERT INTO sellers (external_ref, name, currency, commission_bp) VALUES ('s-1', 'X', 'EUR', 100)"
rejects "duplicate buyer reference is refused" 'duplicate key value violates unique constraint "buyers_external_ref_key"' \
    "INSERT INTO buyers (external_ref, email, name, country) VALUES ('b-1', 'b@example.com', 'B', 'DE')"
rejects "a bad country code is refused" 'violates check constraint "buyers_country_check"' \
    "INSERT INTO buyers (external_ref, email, name, country) VALUES ('b-2', 'b@example.com', 'B', 'Germany')"
rejects "latitude out of range is refused" 'violates check constraint "depots_latitude_check"' \
    "INSERT INTO depots (code, name, latitude, longitude) VALUES ('X', 'X', 91, 13)"
rejects "an agent's shift must end after it starts" 'violates check constraint "delivery_agents_shift_check"' \
    "INSERT INTO delivery_agents (name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams) VALUES ('C', 1, '16:00', '08:00', 1000)"
rejects "an agent needs an existing home depot" 'violates foreign key constraint "delivery_agents_home_depot_id_fkey"' \
    "INSERT INTO delivery_agents (name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams) VALUES ('C', 99, '08:00', '16:00', 1000)"
rejects "an agent's vehicle capacity must be positive" 'violates check constraint "delivery_agents_vehicle_capacity_grams_check"' \
    "INSERT INTO delivery_agents (name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams) VALUES ('C', 1, '08:00', '16:00', 0)"
rejects "SKU is unique per seller" 'duplicate key value violates unique constraint "products_seller_sku_key".*\(seller_id, sku\)=\(1, SKU-1\)' \
    "INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams) VALUES (1, 'SKU-1', 'B', 'books', 1, 'EUR', 1)"
rejects "a product needs an existing seller" 'violates foreign key constraint "products_seller_id_fkey"' \
    "INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams) VALUES (9, 'SKU-9', 'B', 'books', 1, 'EUR', 1)"
rejects "a negative price is refused" 'violates check constraint "products_price_minor_check"' \
    "INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams) VALUES (1, 'SKU-2', 'B', 'books', -1, 'EUR', 1)"
rejects "a product weighs something" 'violates check constraint "products_weight_grams_check"' \
    "INSERT INTO products (seller_id, sku, name, category, price_minor, currency, weight_grams) VALUES (1, 'SKU-2', 'B', 'books', 1, 'EUR', 0)"
rejects "negative stock on hand is refused" 'violates check constraint "inventory_on_hand_check"' \
    "INSERT INTO inventory (product_id, warehouse_id, on_hand) VALUES (1, 1, -1) ON CONFLICT (product_id, warehouse_id) DO UPDATE SET on_hand = -1"
rejects "negative reservation is refused" 'violates check constraint "inventory_reserved_check"' \
    "UPDATE inventory SET reserved = -1"
rejects "one stock row per SKU and warehouse" 'duplicate key value violates unique constraint "inventory_pkey"' \
    "INSERT INTO inventory (product_id, warehouse_id, on_hand) VALUES (1, 1, 5)"
rejects "stock in an unknown warehouse is refused" 'violates foreign key constraint "inventory_warehouse_id_fkey"' \
    "INSERT INTO inventory (product_id, warehouse_id, on_hand) VALUES (1, 42, 5)"

# --- orders and lines -------------------------------------------------------
order() { # order ID REF TOTALS(items,shipping,tax,discount,total) [STATUS] [BUYER] [CURRENCY]
    echo "INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor, shipping_minor, tax_minor, discount_minor, total_minor) VALUES ($1, 'web', '$2', ${5:-1}, '${6:-EUR}', '${4:-placed}', now(), $3)"
}
rejects "a retried order (same source and reference) is not stored twice" 'duplicate key value violates unique constraint "orders_source_external_ref_key".*\(source, external_ref\)=\(web, W-1\)' \
    "$(order 2 W-1 '100, 0, 0, 0, 100')"
accepts "the same reference from another source is another order" \
    "INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor) VALUES (2, 'shopify', 'W-1', 1, 'EUR', 'placed', now(), 100, 100)"
rejects "total must equal items + shipping + tax - discount" 'violates check constraint "orders_total_check"' \
    "$(order 3 W-3 '100, 10, 19, 5, 125')"
rejects "a negative discount is refused" 'violates check constraint "orders_discount_minor_check"' \
    "$(order 3 W-3 '100, 0, 0, -5, 105')"
rejects "an unknown order status is refused" 'violates check constraint "orders_status_check"' \
    "$(order 3 W-3 '100, 0, 0, 0, 100' shipped_maybe)"
rejects "an order needs an existing buyer" 'violates foreign key constraint "orders_buyer_id_fkey"' \
    "$(order 3 W-3 '100, 0, 0, 0, 100' placed 77)"
rejects "an order's currency must be ISO 4217" 'violates foreign key constraint "orders_currency_fkey"' \
    "$(order 3 W-3 '100, 0, 0, 0, 100' placed 1 XYZ)"
item() { # ID ORDER LINE QTY UNIT TOTAL [CURRENCY] [PRODUCT] [SELLER]
    echo "INSERT INTO order_items (id, order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor) VALUES ($1, $2, $3, ${8:-1}, ${9:-1}, '${7:-EUR}', $4, $5, $6)"
}
rejects "quantity must be positive" 'violates check constraint "order_items_quantity_check"' "$(item 10 1 2 0 1299 0)"
rejects "line total must be quantity x unit price" 'violates check constraint "order_items_line_total_check"' "$(item 10 1 2 2 1299 2500)"
rejects "a line's currency must be its order's" 'violates foreign key constraint "order_items_order_currency_fkey".*\(order_id, currency\)=\(1, USD\)' \
    "$(item 10 1 2 1 1299 1299 USD)"
rejects "a line's seller must be its product's seller" 'violates foreign key constraint "order_items_product_seller_fkey"' \
    "INSERT INTO sellers (id, external_ref, name, currency, commission_bp) VALUES (1000, 's-1000', 'Other', 'EUR', 100); $(item 10 1 2 1 1299 1299 EUR 1 1000)"
rejects "a line of an unknown order is refused" 'violates foreign key constraint "order_items_order_currency_fkey"' "$(item 10 99 1 1 1299 1299)"
rejects "line numbers are unique per order" 'duplicate key value violates unique constraint "order_items_order_line_key"' "$(item 10 1 1 1 1299 1299)"

# --- payments -----------------------------------------------------------------
pay() { # ID KIND REF AMOUNT [PARENT] [STATUS] [FEE] [PROVIDER] [ORDER]
    echo "INSERT INTO payments (id, order_id, provider, provider_ref, kind, parent_payment_id, amount_minor, currency, status, occurred_at, fee_minor) VALUES ($1, ${9:-1}, '${8:-stripe}', '$3', '$2', ${5:-NULL}, $4, 'EUR', '${6:-succeeded}', now(), ${7:-NULL})"
}
rejects "a provider reference is unique per provider" 'duplicate key value violates unique constraint "payments_provider_ref_key".*\(provider, provider_ref\)=\(stripe, ch_1\)' \
    "$(pay 3 capture ch_1 100 1)"
accepts "the same reference at another provider is another payment" "$(pay 3 capture ch_1 100 NULL succeeded 3 adyen)"
rejects "an unknown payment kind is refused" 'violates check constraint "payments_kind_check"' "$(pay 4 settlement re_1 100 2)"
rejects "a payment amount is positive (the kind gives the direction)" 'violates check constraint "payments_amount_minor_check"' "$(pay 4 refund re_1 -100 2)"
rejects "a refund names the payment it refunds" 'violates check constraint "payments_parent_check"' "$(pay 4 refund re_1 100)"
rejects "a refund of an unknown payment is refused" 'violates foreign key constraint "payments_parent_payment_id_fkey"' "$(pay 4 refund re_1 100 999)"
rejects "an unknown payment status is refused" 'violates check constraint "payments_status_check"' "$(pay 4 refund re_1 100 2 done)"
rejects "a negative fee is refused" 'violates check constraint "payments_fee_minor_check"' "$(pay 4 refund re_1 100 2 succeeded -1)"
rejects "a payment of an unknown order is refused" 'violates foreign key constraint "payments_order_id_fkey"' "$(pay 4 capture ch_9 100 NULL succeeded 0 stripe 404)"
accepts "a partial refund is its own row" "$(pay 4 refund re_1 1000 2 succeeded 0)"

# --- deliveries -----------------------------------------------------------------
dlv() { # ID WINDOW_START WINDOW_END [STATUS] [AGENT] [DELIVERED_AT] [SERVICE]
    echo "INSERT INTO deliveries (id, order_id, depot_id, agent_id, address, latitude, longitude, window_start, window_end, weight_grams, service_minutes, status, delivered_at) VALUES ($1, 1, 1, ${5:-NULL}, 'Torstraße 2', 52.5, 13.4, '$2', '$3', 100, ${7:-5}, '${4:-pending}', ${6:-NULL})"
}
rejects "a delivery window must start before it ends" 'violates check constraint "deliveries_window_check"' \
    "$(dlv 2 '2025-01-02 11:00+00' '2025-01-02 09:00+00')"
rejects "an unknown delivery status is refused" 'violates check constraint "deliveries_status_check"' \
    "$(dlv 2 '2025-01-02 09:00+00' '2025-01-02 11:00+00' lost 1)"
rejects "an assigned delivery has an agent" 'violates check constraint "deliveries_agent_check"' \
    "$(dlv 2 '2025-01-02 09:00+00' '2025-01-02 11:00+00' assigned)"
rejects "a delivered delivery has its delivery time" 'violates check constraint "deliveries_delivered_at_check"' \
    "$(dlv 2 '2025-01-02 09:00+00' '2025-01-02 11:00+00' delivered 1)"
rejects "service time must be positive" 'violates check constraint "deliveries_service_minutes_check"' \
    "$(dlv 2 '2025-01-02 09:00+00' '2025-01-02 11:00+00' pending NULL NULL 0)"
rejects "a delivery by an unknown agent is refused" 'violates foreign key constraint "deliveries_agent_id_fkey"' \
    "$(dlv 2 '2025-01-02 09:00+00' '2025-01-02 11:00+00' assigned 55)"
rejects "an event of an unknown delivery is refused" 'violates foreign key constraint "delivery_events_delivery_id_fkey"' \
    "INSERT INTO delivery_events (delivery_id, seq, status, at) VALUES (77, 1, 'pending', now())"
rejects "event sequence numbers are unique per delivery" 'duplicate key value violates unique constraint "delivery_events_pkey"' \
    "INSERT INTO delivery_events (delivery_id, seq, status, at) VALUES (1, 1, 'assigned', now())"
rejects "delivery events are append-only (no update)" 'delivery_events is append-only: UPDATE refused' \
    "UPDATE delivery_events SET status = 'delivered'"
rejects "delivery events are append-only (no delete)" 'delivery_events is append-only: DELETE refused' \
    "DELETE FROM delivery_events"

t_done
