# The backup plugin against a real PostgreSQL: a nightly dump taken (custom
# format, atomic, checksum that `sha256sum -c` accepts, restore check into
# a scratch database that is dropped again), retention over simulated
# dates, `purser restore` into a new database with row counts compared,
# a non-empty target refused without --force, a corrupted dump refused,
# and failures (pg_dump failing, a restore check that does not match, a
# pg_dump of another major version) failing the run with an alert.
. tests/lib/testlib.sh
B=$PURSER_BUILD
unset PURSER_DATABASE_URL
PY=/usr/bin/python3
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
APORT=$(free_port)
SINK=""
cleanup() {
    [ -n "$SINK" ] && { kill "$SINK" 2>/dev/null; wait "$SINK" 2>/dev/null; }
    rm -rf "$T_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

DB=$(fresh_db t_backup)
BK="$T_TMP/backups"
mkdir -p "$T_TMP/jobs" "$T_TMP/plugins"
ln -sf "$PWD/$B/plugins/backup.so" "$T_TMP/plugins/backup.so"
C="$T_TMP/purser.yaml"
# config [EXTRA SETTINGS]: the config file, with extra plugins.backup keys
config() {
    cat >"$C" <<YAML
database:
  url: "$DB"
plugins:
  dir: $T_TMP/plugins
  backup:
    dir: $BK
    keep: { daily: 3, weekly: 3 }
${1:-}
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
alerts:
  webhook_url: http://127.0.0.1:$APORT/hook
YAML
}
config
cat >"$T_TMP/jobs/backup.yaml" <<'YAML'
jobs:
  backup-nightly:
    plugin: backup
    schedule: "@daily"
    timezone: UTC
YAML
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
P migrate >"$T_TMP/migrate.log" 2>&1 || { t_fail "migrate" "$(cat "$T_TMP/migrate.log")"; t_done; }
$PY tests/lib/webhook_sink.py "$APORT" "$T_TMP/alerts.txt" & SINK=$!

# a small store: 3 sellers and products, 50 buyers, 200 orders with a line,
# a capture and a delivery with one event each
q "INSERT INTO depots (id, code, name, latitude, longitude) VALUES (1, 'BER-01', 'Berlin', 52.5, 13.4);
   INSERT INTO delivery_agents (id, name, home_depot_id, shift_start, shift_end, vehicle_capacity_grams)
   VALUES (1, 'Agent', 1, '08:00', '18:00', 100000);
   INSERT INTO sellers (id, external_ref, name, currency, commission_bp)
   SELECT g, 'seller-' || g, 'Seller ' || g, 'EUR', 1000 FROM generate_series(1, 3) g;
   INSERT INTO products (id, seller_id, sku, name, category, price_minor, currency, weight_grams)
   SELECT g, g, 'sku-' || g, 'Product ' || g, 'home', 1000, 'EUR', 100 FROM generate_series(1, 3) g;
   INSERT INTO buyers (id, external_ref, email, name, country)
   SELECT g, 'b-' || g, 'b' || g || '@x.de', 'Buyer ' || g, 'DE' FROM generate_series(1, 50) g;
   INSERT INTO orders (id, source, external_ref, buyer_id, currency, status, placed_at, items_minor, total_minor)
   SELECT g, 'web', 'W-' || g, g % 50 + 1, 'EUR', 'delivered', '2025-03-01 10:00+00', 1000, 1000
     FROM generate_series(1, 200) g;
   INSERT INTO order_items (order_id, line_no, product_id, seller_id, currency, quantity, unit_price_minor, line_total_minor)
   SELECT g, 1, g % 3 + 1, g % 3 + 1, 'EUR', 1, 1000, 1000 FROM generate_series(1, 200) g;
   INSERT INTO payments (order_id, provider, provider_ref, kind, amount_minor, currency, status, occurred_at)
   SELECT g, 'stripe', 'ch-' || g, 'capture', 1000, 'EUR', 'succeeded', '2025-03-01 10:05+00' FROM generate_series(1, 200) g;
   INSERT INTO deliveries (id, order_id, depot_id, agent_id, address, latitude, longitude, window_start, window_end,
                           weight_grams, service_minutes, status, delivered_at)
   SELECT g, g, 1, 1, 'Street ' || g, 52.5, 13.4, '2025-03-02 08:00+00', '2025-03-02 10:00+00', 100, 5,
          'delivered', '2025-03-02 09:00+00' FROM generate_series(1, 200) g;
   INSERT INTO delivery_events (delivery_id, seq, status, at, agent_id)
   SELECT g, 1, 'delivered', '2025-03-02 09:00+00', 1 FROM generate_series(1, 200) g" >/dev/null
COUNTS="SELECT concat_ws(' ', (SELECT count(*) FROM sellers), (SELECT count(*) FROM buyers),
          (SELECT count(*) FROM products), (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items),
          (SELECT count(*) FROM payments), (SELECT count(*) FROM deliveries), (SELECT count(*) FROM delivery_events))"

# ---- a backup taken, checked and restore-checked ------------------------------------------
D=2025-03-07
DUMP="$BK/purser_$D.dump"
expect_out 0 "restore check: [0-9]+ tables, row counts equal" "the nightly job dumps the store and restore-checks it" \
    P run backup-nightly --date $D
printf '%s\n' "$T_OUT" | grep -Eq "$DUMP: [0-9]+ bytes, restore check passed; 1 dumps kept, 0 deleted" \
    && t_ok "its result names the dump, its size, the check and the retention" || t_fail "its result names the dump, its size, the check and the retention" "$T_OUT"
same "$(head -c 5 "$DUMP")" PGDMP "the dump is in pg_dump's custom format"
expect_out 0 "purser_$D.dump: OK" "the checksum file is sha256sum -c compatible" sh -c "cd '$BK' && sha256sum -c 'purser_$D.dump.sha256'"
same "$(ls -A "$BK" | grep -c 'tmp')" 0 "no temporary file is left behind"
same "$(q "SELECT count(*) FROM pg_database WHERE datname LIKE 'purser_restore_check%'")" 0 "the scratch database is dropped"
expect_out 0 "dry run: would dump the store to $BK/purser_2025-03-08.dump" "a dry run says where it would write" \
    P run backup-nightly --date 2025-03-08 --dry-run
same "$(ls "$BK" | grep -c 2025-03-08)" 0 "and writes nothing"

# ---- restore into a new database ------------------------------------------------------------------
DB2=$(fresh_db t_backup_restored)
expect_out 0 "restored $DUMP into database 't_backup_restored'" "purser restore FILE --into URL: a new database" \
    P restore "$DUMP" --into "$DB2"
same "$(sql "$DB2" "$COUNTS")" "$(q "$COUNTS")" "the restored database has the store's row counts"
same "$(sql "$DB2" "SELECT sum(total_minor) FROM orders")" "$(q "SELECT sum(total_minor) FROM orders")" "and the same data"
expect_out 2 "database 't_backup_restored' is not empty .* add --force" "a non-empty target is refused without --force" \
    P restore "$DUMP" --into "$DB2"
sql "$DB2" "INSERT INTO buyers (id, external_ref, email, name, country) VALUES (1000, 'extra', 'e@x.de', 'Extra', 'DE')" >/dev/null
expect_out 0 "restored" "with --force the dump's objects are re-created" P restore "$DUMP" --into "$DB2" --force
same "$(sql "$DB2" "SELECT count(*) FROM buyers")" 50 "and the target holds the dump's rows again"
expect_out 2 "usage: purser restore FILE --into URL" "restore without --into: usage" P restore "$DUMP"

# ---- corrupted dumps are refused ----------------------------------------------------------------------
cp "$DUMP" "$T_TMP/bad.dump"
cp "$DUMP.sha256" "$T_TMP/bad.dump.sha256"
printf 'X' | dd of="$T_TMP/bad.dump" bs=1 seek=2000 conv=notrunc 2>/dev/null
DB3=$(fresh_db t_backup_empty)
expect_out 1 "checksum mismatch: .*bad.dump has SHA-256 [0-9a-f]{12}\.\.\., .*says [0-9a-f]{12}" "a corrupted dump (checksum mismatch) is refused" \
    P restore "$T_TMP/bad.dump" --into "$DB3"
same "$(sql "$DB3" "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" 0 "and nothing is restored"
rm "$T_TMP/bad.dump.sha256"
expect_out 1 "no checksum file .*bad.dump.sha256" "a dump without its checksum file is refused" P restore "$T_TMP/bad.dump" --into "$DB3"

# ---- retention: keep 3 daily and 3 weekly --------------------------------------------------------------
# Dumps of earlier dates (Mondays: Feb 10, 17, 24, Mar 3) beside the one of Mar 7 (Friday):
#   newest 3:                       03-07, 03-06, 03-05
#   newest of the 3 newest weeks:   03-07 (week of 03-03), 03-02 (of 02-24), 02-23 (of 02-17)
#   deleted:                        03-01, 02-20, 02-17, 02-16, 02-10 (with their .sha256)
for d in 2025-02-10 2025-02-16 2025-02-17 2025-02-20 2025-02-23 2025-03-01 2025-03-02 2025-03-05 2025-03-06; do
    cp "$DUMP" "$BK/purser_$d.dump"
    sed "s/$D/$d/" "$DUMP.sha256" >"$BK/purser_$d.dump.sha256"
done
echo "not a dump" >"$BK/notes.txt"
expect_out 0 "5 dumps kept, 5 deleted" "a run applies the retention policy" P run backup-nightly --date $D
same "$(ls "$BK" | tr '\n' ' ')" "notes.txt purser_2025-02-23.dump purser_2025-02-23.dump.sha256 purser_2025-03-02.dump purser_2025-03-02.dump.sha256 purser_2025-03-05.dump purser_2025-03-05.dump.sha256 purser_2025-03-06.dump purser_2025-03-06.dump.sha256 purser_2025-03-07.dump purser_2025-03-07.dump.sha256 " \
    "3 daily and the newest of 3 weeks are kept, other files untouched"

# ---- failures fail the run and alert ----------------------------------------------------------------------
PGBIN=$PURSER_TEST_PGBIN
mkdir -p "$T_TMP/failbin" "$T_TMP/emptybin" "$T_TMP/oldbin"
cat >"$T_TMP/failbin/pg_dump" <<SH
#!/bin/sh
[ "\$1" = --version ] && exec "$PGBIN/pg_dump" --version
echo "pg_dump: error: connection to server failed: simulated" >&2
exit 1
SH
ln -sf "$PGBIN/pg_restore" "$T_TMP/failbin/pg_restore"
ln -sf "$PGBIN/pg_dump" "$T_TMP/emptybin/pg_dump"
cat >"$T_TMP/emptybin/pg_restore" <<SH
#!/bin/sh
[ "\$1" = --version ] && exec "$PGBIN/pg_restore" --version
exit 0
SH
printf '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n' >"$T_TMP/oldbin/pg_dump"
chmod +x "$T_TMP"/failbin/pg_dump "$T_TMP"/emptybin/pg_restore "$T_TMP"/oldbin/pg_dump

config "    pg_bin_dir: $T_TMP/failbin"
expect_out 1 "backup of 2025-03-08 failed: pg_dump failed \(exit 1\): pg_dump: error: connection to server failed: simulated" \
    "a failing pg_dump fails the run, naming pg_dump's message" P run backup-nightly --date 2025-03-08
same "$(ls -A "$BK" | grep -c '2025-03-08')" 0 "and leaves no dump or temporary file"
i=0; until grep -q 'backup of 2025-03-08 failed' "$T_TMP/alerts.txt" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 0 '"text": "purser backup: backup of 2025-03-08 failed: pg_dump failed' "and alerts the operators" cat "$T_TMP/alerts.txt"

config "    pg_bin_dir: $T_TMP/emptybin"
expect_out 1 "restore check: table sellers is missing from the restored copy" "a restore check that does not match fails the run" \
    P run backup-nightly --date 2025-03-09
same "$(q "SELECT count(*) FROM pg_database WHERE datname LIKE 'purser_restore_check%'")" 0 "the scratch database is dropped after a failed check too"

config "    pg_bin_dir: $T_TMP/oldbin"
expect_out 1 "pg_dump is 14.11, the server is PostgreSQL 1[0-9]: pg_dump must be of the same major version" \
    "a pg_dump of another major version is refused" P run backup-nightly --date 2025-03-10

config "    restore_check: false"
sed -i "s#dir: $BK#dir: /dev/null/backups#" "$C"
expect_out 1 "cannot create /dev/null" "a folder that cannot be made fails the run" P run backup-nightly --date 2025-03-10
t_done
