# The web page in a real browser: headless Debian chromium driven by
# playwright-core (installed from npm under $PURSER_BUILD/node) against
# `purser daemon`. Finance downloads a reconciliation workbook (bytes
# compared), operations re-run a failed run and see it succeed; the
# screenshots are kept in $PURSER_BUILD/test-artifacts/web. Skipped, saying
# so, only when chromium is not installed (make deps installs it).
. tests/lib/testlib.sh
B=$PURSER_BUILD
CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
if [ ! -x "$CHROMIUM" ]; then
    t_skip "browser test" "chromium is not installed and could not be (make deps installs the Debian package chromium)"
    t_done
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    t_fail "node and npm are needed for the browser test (make deps installs nodejs and npm)"
    t_done
fi
NODE_DIR="$PWD/$B/node"
PW="$NODE_DIR/node_modules/playwright-core"
if [ ! -f "$PW/package.json" ]; then
    mkdir -p "$NODE_DIR"
    if ! npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error playwright-core@1 >"$T_TMP/npm.log" 2>&1; then
        t_fail "npm install playwright-core into $NODE_DIR" "$(tail -n 5 "$T_TMP/npm.log")"
        t_done
    fi
fi

DB=$(fresh_db t_web_browser)
PY=/usr/bin/python3
HPORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U=http://127.0.0.1:$HPORT
ART="$PWD/$B/test-artifacts/web"
rm -rf "$ART"; mkdir -p "$ART" "$T_TMP/jobs" "$T_TMP/reports"
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$B/plugins
  load: [example.so]
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
http:
  listen: 127.0.0.1:$HPORT
runner:
  lease: 15s
YAML
nightly() { # nightly true|false: the job, failing or not
    cat >"$T_TMP/jobs/nightly.yaml" <<YAML
jobs:
  nightly:
    plugin: example
    description: Greets the business date
    schedule: "0 3 * * *"
    catchup: none
    params: { fail: $1 }
YAML
}
C="$T_TMP/purser.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
DAEMON=""
trap '[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null; wait 2>/dev/null; rm -rf "$T_TMP"' EXIT

P migrate >/dev/null 2>&1 || { t_fail "migrate"; t_done; }
echo 'fin-pass-1' | P user add fin --role finance >/dev/null 2>&1
echo 'ops-pass-1' | P user add op --role ops >/dev/null 2>&1
echo 'adm-pass-1' | P user add adm --role admin >/dev/null 2>&1
nightly true
P backfill nightly --from 2026-01-02 --to 2026-01-02 >/dev/null 2>&1
RUN=$(q "SELECT id FROM purser_runs WHERE job = 'nightly' AND state = 'failed'")
[ -n "$RUN" ] && t_ok "a failed run (run $RUN)" || { t_fail "no failed run to re-run"; t_done; }
nightly false # the cause is fixed; the operator re-runs the night from the page
REPORT="$T_TMP/reports/reconciliation_stripe_2026-01-02.xlsx"
$PY - "$REPORT" <<'PYEOF'
import sys
from openpyxl import Workbook
wb = Workbook()
ws = wb.active
ws.title = "Summary"
ws.append(["currency", "provider total", "matched", "difference"])
ws.append(["EUR", 1234567, 1234567, 0])
wb.save(sys.argv[1])
PYEOF
[ -s "$REPORT" ] && t_ok "a reconciliation workbook to download" || t_fail "writing the workbook"

"$PURSER" -c "$C" daemon >"$T_TMP/daemon.log" 2>&1 & DAEMON=$!
i=0; until curl -sf "$U/healthz" >/dev/null || [ $i -ge 75 ]; do sleep 0.2; i=$((i + 1)); done

WEB_URL=$U WEB_ARTIFACTS=$ART WEB_RUN=$RUN WEB_REPORT=$REPORT WEB_PLAYWRIGHT=$PW WEB_CHROMIUM=$CHROMIUM \
    node tests/integration/web_browser.js >"$T_TMP/browser.log" 2>&1
while IFS= read -r line; do
    case "$line" in
    "PASS "*) t_ok "${line#PASS }" ;;
    "FAIL "*) t_fail "${line#FAIL }" ;;
    *) echo "# $line" ;;
    esac
done <"$T_TMP/browser.log"
same "$(q "SELECT state || ' ' || attempt FROM purser_runs WHERE id = $RUN")" "succeeded 2" "the database agrees: run $RUN succeeded on attempt 2"
n=$(ls "$ART"/*.png 2>/dev/null | wc -l)
[ "$n" -ge 7 ] && t_ok "$n screenshots kept in $B/test-artifacts/web" || t_fail "screenshots: $n in $ART"
t_done
