# The analytics plugin through the real binary on simulated data: every
# shipped report in reports/ renders, and each workbook, read back with
# openpyxl, holds what the same SQL gives when run directly through psql
# (analytics_verify.py), with its charts; the cover names the definition's
# SHA-256. Then the refusals: a malformed definition (exit 2 with
# FILE:LINE:COL, from `purser analytics check`, `purser check` and a run),
# queries that write (INSERT in a WITH, UPDATE, DDL, nextval) refused by
# the read-only transaction, the statement timeout, and parameters that
# are bound, not spliced (a value with quotes is data).
. tests/lib/testlib.sh
PY=/usr/bin/python3
PSQL="$PURSER_TEST_PGBIN/psql"
DB=$(fresh_db t_analytics)
D=2026-03-05
TZ_JOB=Europe/Berlin
mkdir -p "$T_TMP/jobs" "$T_TMP/bad"
config() { # REPORTS_DIR [extra plugin setting line]
    cat <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  load: [analytics.so, routing.so]
  analytics:
    reports_dir: $1
    statement_timeout: ${2:-1m}
  routing:
    time_limit: 1s
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
YAML
}
config "$PWD/reports" >"$T_TMP/purser.yaml"
config "$T_TMP/bad" >"$T_TMP/bad.yaml"
config "$T_TMP/bad" 300ms >"$T_TMP/slow.yaml"
cat >"$T_TMP/jobs/jobs.yaml" <<YAML
jobs:
  analytics-daily:
    plugin: analytics
    schedule: "15 2 * * *"
    timezone: $TZ_JOB
  routing-job:
    plugin: routing
    schedule: "30 0 * * *"
    timezone: $TZ_JOB
YAML
C="$T_TMP/purser.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }

expect 0 "migrate (core + analytics + routing)" P migrate
expect 0 "simulate 3000 orders over 10 days" P simulate --orders 3000 --days 10 --start 2026-03-01 --out "$T_TMP/sim"
D2=2026-03-11  # the last simulated day: its deliveries are still pending, to be routed
expect 0 "routes planned for $D2 (for the delivery report)" P run routing-job --date $D2 --param days_ahead=0
rm -f "$T_TMP/reports"/routes_*
expect_out 0 "reports_dir" "the settings are described" P plugins --describe analytics
expect_out 0 "daily_sales.yaml: ok: report daily-sales, 6 sheets" "purser analytics check: the shipped reports are valid" P analytics check
if [ "$(printf '%s\n' "$T_OUT" | grep -c ': ok: report ')" = "$(ls reports/*.yaml | wc -l)" ]; then t_ok "every shipped definition checked"; else t_fail "not every definition checked" "$T_OUT"; fi
expect 0 "purser check runs the plugin's check" P check

# --- every shipped report, read back and compared with psql -----------------------
expect 0 "a dry run" P run analytics-daily --date $D --dry-run
if ls "$T_TMP/reports"/*.xlsx >/dev/null 2>&1; then t_fail "the dry run wrote a workbook"; else t_ok "a dry run writes no workbook"; fi
expect_out 0 "succeeded: 6 reports for $D" "the nightly job renders the six reports" P run analytics-daily --date $D
if ! ls "$T_TMP/reports"/*.tmp >/dev/null 2>&1; then t_ok "no .tmp left behind"; else t_fail ".tmp files left" "$(ls "$T_TMP/reports")"; fi
bounds() { # DEFINITION -> FROM TO (the period of $D)
    $PY - "$1" "$D" <<'PY'
import datetime, sys, yaml
p = yaml.safe_load(open(sys.argv[1])).get("period", "day")
d = datetime.date.fromisoformat(sys.argv[2])
if p == "day": f, t = d, d + datetime.timedelta(1)
elif p == "week": f = d - datetime.timedelta(d.weekday()); t = f + datetime.timedelta(7)
else: f = d.replace(day=1); t = (f + datetime.timedelta(32)).replace(day=1)
print(f, t)
PY
}
for def in reports/*.yaml; do
    name=$($PY -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['report'])" "$def")
    set -- $(bounds "$def")
    res=$($PY tests/integration/analytics_verify.py "$T_TMP/reports/${name}_$D.xlsx" "$def" "$PSQL" "$DB" "$TZ_JOB" "$1" "$2" "$D" 2>&1)
    same "$res" ok "$name: every cell equals psql's answer, totals by currency, charts, frozen header, filter"
done
same "$($PY - "$T_TMP/reports/daily-sales_$D.xlsx" "$(sha256sum reports/daily_sales.yaml | cut -d' ' -f1)" <<'PY'
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1])["Cover"]
kv = {r[0]: r[1] for r in ws.iter_rows(values_only=True) if r[0]}
ok = kv.get("Definition SHA-256") == sys.argv[2] and kv.get("Report") == "daily-sales" \
     and kv.get("Period", "").startswith("2026-03-05 to 2026-03-05") and kv.get("Generated at (UTC)") \
     and kv.get("Definition version") == "1"
print("ok" if ok else kv)
PY
)" ok "cover: title, period, generation time, the definition's SHA-256 and version"
same "$(q "SELECT count(*) > 0 FROM routes WHERE business_date = '$D2'")" t "routes to show on $D2"
expect 0 "delivery performance of $D2" P run analytics-daily --date $D2 --param reports=delivery-performance
same "$($PY tests/integration/analytics_verify.py "$T_TMP/reports/delivery-performance_$D2.xlsx" reports/delivery_performance.yaml "$PSQL" "$DB" "$TZ_JOB" $D2 2026-03-12 $D2 2>&1)" ok "$D2: routes, stops per route and the rest equal psql's answer"
same "$($PY -c "import openpyxl; print(openpyxl.load_workbook('$T_TMP/reports/delivery-performance_$D2.xlsx')['Routes'].max_row > 1)")" True "the Routes sheet lists the routes"

rm -f "$T_TMP/reports"/*.xlsx
expect_out 0 "1 report for $D \(products\)" "param reports= renders only the named ones" P run analytics-daily --date $D --param reports=products
same "$(ls "$T_TMP/reports")" "products_$D.xlsx" "only products_$D.xlsx written"
expect_out 1 "no report named 'daily-sale' .*did you mean 'daily-sales'" "an unknown report name: refused with a suggestion" P run analytics-daily --date $D --param reports=daily-sale
expect_out 0 "1 report" "a declared parameter from --param args.NAME" P run analytics-daily --date $D --param reports=daily-sales --param args.chart_currency=JPY
same "$($PY -c "import openpyxl; print(openpyxl.load_workbook('$T_TMP/reports/daily-sales_$D.xlsx')['30-day trend']['B2'].value)")" JPY "the trend is in JPY"

# --- malformed definitions -------------------------------------------------------
cat >"$T_TMP/bad/broken.yaml" <<'YAML'
report: broken
title: Broken
sheets:
  - name: One
    query: |
      SELECT 1 AS a
    columns:
      - { field: a, type: integer, colour: red }
YAML
expect_out 2 "broken\.yaml:8:36: sheet 'One': columns\[0\]: unknown key 'colour'" "analytics check: unknown key, exit 2 with FILE:LINE:COL" "$PURSER" -c "$T_TMP/bad.yaml" analytics check
expect_out 2 "broken\.yaml:8:36: " "purser check: exit 2 with the same FILE:LINE:COL" "$PURSER" -c "$T_TMP/bad.yaml" check
expect_out 1 "broken\.yaml:8:36: " "a run fails on it with FILE:LINE:COL" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D
printf 'report: broken\nsheets:\n  - name: One\n    query: [SELECT 1\n' >"$T_TMP/bad/broken.yaml"
expect_out 2 "broken\.yaml:5:1: YAML: " "a YAML syntax error: exit 2 with its line and column" "$PURSER" -c "$T_TMP/bad.yaml" analytics check
cat >"$T_TMP/bad/broken.yaml" <<'YAML'
report: broken
sheets:
  - name: One
    query: |
      SELECT category,
             count(*) AS n
      FROM products
      WHERE pricee > 0
      GROUP BY category
    columns:
      - { field: category }
      - { field: total, type: integer }
YAML
expect_out 2 "broken\.yaml:8:13: sheet 'One': query: column \"pricee\" does not exist" "a server error points at the query's line and column" "$PURSER" -c "$T_TMP/bad.yaml" analytics check
sed -i 's/pricee/price_minor/' "$T_TMP/bad/broken.yaml"
expect_out 2 "broken\.yaml:12:9: sheet 'One': column 'total' is not in the query's result .*it has: category, n" "a column the query lacks is named" "$PURSER" -c "$T_TMP/bad.yaml" analytics check
sed -i 's/field: total/field: n/' "$T_TMP/bad/broken.yaml"
expect_out 0 "broken.yaml: ok" "fixed, it passes" "$PURSER" -c "$T_TMP/bad.yaml" analytics check

# --- queries that write: refused --------------------------------------------------
writes() { # NAME QUERY
    printf 'report: %s\nsheets:\n  - name: S\n    query: "%s"\n' "$1" "$2" >"$T_TMP/bad/$1.yaml"
}
rm -f "$T_TMP/bad"/*.yaml
writes cte "WITH x AS (INSERT INTO depots (code, name, latitude, longitude) VALUES ('ZZ', 'z', 0, 0) RETURNING id) SELECT id FROM x"
writes upd "UPDATE sellers SET name = 'x' RETURNING id"
writes ddl "CREATE TABLE t_evil AS SELECT 1 AS a"
writes seq "SELECT nextval('orders_id_seq') AS n"
expect_out 2 "cte\.yaml:4:13: sheet 'S': the query writes" "analytics check refuses INSERT in a WITH" "$PURSER" -c "$T_TMP/bad.yaml" analytics check "$T_TMP/bad/cte.yaml"
expect_out 2 "upd\.yaml:4:13: sheet 'S': the query writes" "analytics check refuses UPDATE" "$PURSER" -c "$T_TMP/bad.yaml" analytics check "$T_TMP/bad/upd.yaml"
expect_out 1 "cannot execute (INSERT|SELECT) in a read-only transaction" "a run: the read-only transaction refuses INSERT in a WITH" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param reports=cte
expect_out 1 "cannot execute UPDATE in a read-only transaction" "a run: UPDATE refused" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param reports=upd
expect_out 1 "cannot execute nextval\(\) in a read-only transaction" "a run: nextval() refused" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param reports=seq
expect_out 1 "ddl\.yaml.*returns no columns" "a run: DDL refused" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param reports=ddl
same "$(q "SELECT count(*) FROM depots WHERE code = 'ZZ'") $(q "SELECT count(*) FROM sellers WHERE name = 'x'") $(q "SELECT to_regclass('t_evil') IS NULL")" "0 0 t" "nothing was written"

# --- bound parameters, the statement timeout ---------------------------------------
rm -f "$T_TMP/bad"/*.yaml
cat >"$T_TMP/bad/bound.yaml" <<'YAML'
report: bound
parameters:
  - { name: who, type: text }
  - { name: n, type: integer, default: "3" }
sheets:
  - name: S
    query: |
      SELECT :who AS who, count(*) AS sellers, ':who' AS literal -- :who in a comment
      FROM sellers WHERE name <> :who AND id > :n
YAML
EVIL="O'Brien'); DROP TABLE sellers; --"
expect_out 1 "parameter 'who' of report 'bound' has no default" "a parameter without default must be given" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D
expect 0 "a value with quotes runs as data" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param "args.who=$EVIL"
same "$($PY - "$T_TMP/reports/bound_$D.xlsx" "$EVIL" <<'PY'
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1])["S"]
row = [c.value for c in ws[2]]
print("ok" if row[0] == sys.argv[2] and row[1] == 197 and row[2] == ":who" else row)
PY
)" ok "the value is the cell, untouched; :who inside quotes and comments is not a parameter"
same "$(q "SELECT count(*) FROM sellers")" 200 "the sellers table is still there"
expect_out 1 "args.n = 'x'|invalid input syntax for type bigint" "a value of the wrong type is refused" "$PURSER" -c "$T_TMP/bad.yaml" run analytics-daily --date $D --param "args.who=a" --param args.n=x
printf 'report: slow\nsheets:\n  - name: S\n    query: SELECT pg_sleep(3) AS slept\n' >"$T_TMP/bad/bound.yaml"
expect_out 1 "canceling statement due to statement timeout" "statement_timeout stops a slow query" "$PURSER" -c "$T_TMP/slow.yaml" run analytics-daily --date $D
t_done
