#!/bin/sh
# bench_analytics.sh: the daily-sales and customer-insights reports over
# BENCH_ORDERS simulated orders (default 1,000,000, over 90 days, with
# BENCH_BUYERS buyers, default 200,000), rendered by `purser run`: seconds
# and peak memory (max RSS of the run, its worker included). Baseline in
# the same run: the same queries alone through psql (results saved as CSV),
# plus a plain libxlsxwriter program (constant_memory, built here with cc)
# writing those same rows to one workbook; the ratio is ours / theirs.
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else
# starts a throwaway one and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER="$PWD/$PURSER_BUILD/purser"
ORDERS=${BENCH_ORDERS:-1000000}
BUYERS=${BENCH_BUYERS:-200000}
D=2026-03-31
TZ_JOB=Europe/Berlin
work=$(mktemp -d /tmp/purser-bench-analytics.XXXXXX)
started=""
cleanup() {
    [ -n "$started" ] && tests/lib/pg_harness.sh stop "$PURSER_TEST_PGDIR"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
if [ -z "${PURSER_TEST_PGHOST:-}" ]; then
    tests/lib/pg_harness.sh start >"$work/env"
    . "$work/env"
    started=1
fi
unset PURSER_DATABASE_URL
PSQL="$PURSER_TEST_PGBIN/psql"
"$PSQL" -X -q -h "$PURSER_TEST_PGHOST" -p "$PURSER_TEST_PGPORT" -U purser -d postgres \
    -c "DROP DATABASE IF EXISTS bench_analytics" -c "CREATE DATABASE bench_analytics"
DB="host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=bench_analytics user=purser"
mkdir -p "$work/jobs" "$work/reports" "$work/csv"
cat >"$work/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  load: [analytics.so]
  analytics:
    reports_dir: $PWD/reports
reports:
  output_dir: $work/reports
jobs:
  dir: $work/jobs
log:
  level: warn
YAML
printf 'jobs:\n  analytics-daily:\n    plugin: analytics\n    schedule: "15 2 * * *"\n    timezone: %s\n' "$TZ_JOB" >"$work/jobs/a.yaml"
P() { "$PURSER" -c "$work/purser.yaml" "$@"; }
P migrate >/dev/null 2>&1
t0=$(date +%s.%N)
P simulate --orders "$ORDERS" --buyers "$BUYERS" --days 90 --start 2026-01-01 --out "$work/sim" >/dev/null 2>&1
t1=$(date +%s.%N)
"$PSQL" -X -q -d "$DB" -c "VACUUM ANALYZE" >/dev/null
echo "data: $ORDERS orders, $BUYERS buyers over 90 days (simulated in $(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s); reports for $D"

# --- ours: purser run, both reports ---------------------------------------------
run_ours() {
    /usr/bin/time -f "%e %M" -o "$work/time" "$PURSER" -c "$work/purser.yaml" run analytics-daily \
        --date $D --param reports=daily-sales,customer-insights >"$work/run.log" 2>&1 \
        || { cat "$work/run.log"; exit 1; }
    cat "$work/time"
}
run_ours >/dev/null # warm the cache once
set -- $(run_ours)
ours_s=$1 ours_kb=$2
rows=$(/usr/bin/python3 -c "
import openpyxl, sys
n = 0
for f in sys.argv[1:]:
    wb = openpyxl.load_workbook(f, read_only=True)
    n += sum(ws.max_row - 1 for ws in wb.worksheets[1:])
print(n)" "$work/reports/daily-sales_$D.xlsx" "$work/reports/customer-insights_$D.xlsx" 2>/dev/null || echo '?')

# --- baseline: the queries alone in psql, then a plain libxlsxwriter write --------
/usr/bin/python3 - "$work/csv" "$D" reports/daily_sales.yaml reports/customer_insights.yaml <<'PY'
import datetime, os, re, sys, yaml
out, day = sys.argv[1], datetime.date.fromisoformat(sys.argv[2])
types = {"text": "text", "integer": "bigint", "decimal": "numeric", "date": "date", "datetime": "timestamptz", "boolean": "boolean"}
n = 0
for path in sys.argv[3:]:
    d = yaml.safe_load(open(path))
    p = d.get("period", "day")
    if p == "day": f, t = day, day + datetime.timedelta(1)
    elif p == "week": f = day - datetime.timedelta(day.weekday()); t = f + datetime.timedelta(7)
    else: f = day.replace(day=1); t = (f + datetime.timedelta(32)).replace(day=1)
    vals = {"from": (str(f), "timestamptz"), "to": (str(t), "timestamptz"), "date": (str(day), "date")}
    for prm in d.get("parameters") or []:
        vals[prm["name"]] = (str(prm.get("default")), types[prm.get("type", "text")])
    for sh in d["sheets"]:
        q = re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", lambda m: "(%s)::%s" % ("'" + vals[m.group(1)][0] + "'", vals[m.group(1)][1]), sh["query"])
        n += 1
        with open(os.path.join(out, "all.sql"), "a") as f:
            f.write("\\o %s/q%02d.csv\nCOPY (\n%s\n) TO STDOUT WITH (FORMAT csv);\n" % (out, n, q.strip().rstrip(";")))
PY
cat >"$work/xlsx_plain.c" <<'C'
/* The baseline writer: each CSV file becomes a sheet, numbers as numbers,
 * constant_memory mode, no formats, charts or totals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>
int main(int argc, char **argv)
{
    lxw_workbook_options o = {.constant_memory = LXW_TRUE};
    lxw_workbook *wb = workbook_new_opt(argv[1], &o);
    static char line[1 << 16], field[1 << 16];
    for (int i = 2; i < argc; i++) {
        char name[16];
        snprintf(name, sizeof name, "S%d", i - 1);
        lxw_worksheet *ws = workbook_add_worksheet(wb, name);
        FILE *f = fopen(argv[i], "r");
        lxw_row_t row = 0;
        while (f && fgets(line, sizeof line, f)) {
            lxw_col_t col = 0;
            char *p = line;
            for (;;) {
                size_t n = 0;
                int quoted = *p == '"';
                if (quoted) {
                    for (p++; *p && !(*p == '"' && p[1] != '"'); p++)
                        field[n++] = *p == '"' ? *++p : *p;
                    p++;
                } else {
                    while (*p && *p != ',' && *p != '\n')
                        field[n++] = *p++;
                }
                field[n] = '\0';
                char *end;
                double v = strtod(field, &end);
                if (n && !*end && !quoted)
                    worksheet_write_number(ws, row, col, v, NULL);
                else if (n)
                    worksheet_write_string(ws, row, col, field, NULL);
                col++;
                if (*p != ',')
                    break;
                p++;
            }
            row++;
        }
        if (f)
            fclose(f);
    }
    return workbook_close(wb) == LXW_NO_ERROR ? 0 : 1;
}
C
cc -O2 -o "$work/xlsx_plain" "$work/xlsx_plain.c" -lxlsxwriter
psql_all() { # one session, as the plugin uses one connection
    PGOPTIONS="-c TimeZone=$TZ_JOB -c jit=off" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$work/csv/all.sql"
}
psql_all # warm
t0=$(date +%s.%N)
psql_all
t1=$(date +%s.%N)
psql_s=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')
/usr/bin/time -f "%e %M" -o "$work/time" "$work/xlsx_plain" "$work/plain.xlsx" "$work"/csv/q*.csv
set -- $(cat "$work/time")
write_s=$1 write_kb=$2
base_rows=$(cat "$work"/csv/q*.csv | wc -l)
base_s=$(echo "$psql_s $write_s" | awk '{ printf "%.2f", $1 + $2 }')
echo "daily-sales + customer-insights, $rows rows in 10 sheets:"
echo "  purser run (2 workbooks, cover, formats, totals, charts): $ours_s s, peak $(echo "$ours_kb" | awk '{ printf "%.1f", $1 / 1024 }') MiB"
echo "  baseline: the same queries alone in psql $psql_s s + plain libxlsxwriter write of the $base_rows rows $write_s s (peak $(echo "$write_kb" | awk '{ printf "%.1f", $1 / 1024 }') MiB) = $base_s s"
echo "  ratio purser / baseline: $(echo "$ours_s $base_s" | awk '{ printf "%.2f", $1 / $2 }')"
