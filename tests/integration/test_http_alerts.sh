# The daemon's HTTP server (/healthz, /metrics, 404/405) and its alerts:
# a failure for good, a recovery, a missed deadline, each POSTed as JSON
# with a Slack-compatible "text" to a local receiver (retried on 500).
. tests/lib/testlib.sh
B=$PURSER_BUILD
DB=$(fresh_db t_http)
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HPORT=$(free_port)
APORT=$(free_port)
mkdir -p "$T_TMP/jobs"
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$B/plugins
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
runner:
  lease: 3s
  kill_grace: 1s
http:
  listen: 127.0.0.1:$HPORT
alerts:
  webhook_url: http://127.0.0.1:$APORT/hook
YAML
cat >"$T_TMP/jobs/jobs.yaml" <<'YAML'
jobs:
  flappy:
    plugin: example
    schedule: "@daily"
  late:
    plugin: example
    schedule: "0 3 * * *"
    deadline: 1s
YAML
C="$T_TMP/purser.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
expect_out 1 "run .purser migrate. first" "the daemon refuses an unmigrated database" P daemon
P migrate >/dev/null 2>&1
/usr/bin/python3 tests/lib/webhook_sink.py "$APORT" "$T_TMP/alerts.txt" 1 & SINK=$!
"$PURSER" -c "$C" daemon >"$T_TMP/daemon.log" 2>&1 & D=$!
trap 'kill $D $SINK 2>/dev/null; wait $D 2>/dev/null; rm -rf "$T_TMP"' EXIT
i=0; until curl -sf "http://127.0.0.1:$HPORT/healthz" >/dev/null || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done

expect_out 0 "^ok$" "/healthz answers 200 when the database does" curl -sf "http://127.0.0.1:$HPORT/healthz"
expect_out 0 "^404$" "unknown route: 404" curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/nope"
expect_out 0 "^405$" "wrong method: 405" curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$HPORT/metrics"

expect 1 "a failing run" P run flappy --date 2026-05-01 --param fail=true
expect 0 "then a succeeding one" P run flappy --date 2026-05-01
lines() { n=$(grep -c . "$T_TMP/alerts.txt" 2>/dev/null); echo "${n:-0}"; }
i=0; until [ "$(lines)" -ge 2 ] || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 0 '^\{"text": "purser: job flappy failed for 2026-05-01 \(run [0-9]+, attempt 1/1\): failed on purpose' "failure for good alerted (after a 500, retried)" cat "$T_TMP/alerts.txt"
expect_out 0 '"purser: job flappy recovered: run [0-9]+ for 2026-05-01 succeeded"' "recovery alerted" cat "$T_TMP/alerts.txt"

# A scheduled slot still pending past its deadline (queued behind a paused job).
P pause late >/dev/null 2>&1
q "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state) VALUES ('late', 'example', now() - interval '10 seconds', current_date, 'scheduled', 'pending')" >/dev/null
i=0; until grep -q "missed its deadline" "$T_TMP/alerts.txt" 2>/dev/null || [ $i -ge 60 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 0 '"purser: job late missed its deadline for [0-9-]+ \(run [0-9]+ is pending\)"' "missed deadline alerted" cat "$T_TMP/alerts.txt"
sleep 6
same "$(grep -c "missed its deadline" "$T_TMP/alerts.txt")" 1 "only once per slot"

M=$(curl -s "http://127.0.0.1:$HPORT/metrics")
expect_out 0 '^purser_runs\{job="flappy",state="failed"\} 1$' "/metrics: runs by job and state" printf '%s\n' "$M"
expect_out 0 '^purser_job_last_success_timestamp_seconds\{job="flappy"\} [0-9.]+$' "/metrics: last success per job" printf '%s\n' "$M"
expect_out 0 '^purser_queue_depth 1$' "/metrics: queue depth" printf '%s\n' "$M"
expect_out 0 '^purser_http_requests_total\{route="/healthz",method="GET",status="200"\} [0-9]+$' "/metrics: HTTP requests by route and status" printf '%s\n' "$M"
expect_out 0 '^purser_run_duration_seconds_count\{job="flappy"\} 2$' "/metrics: run durations" printf '%s\n' "$M"

kill -TERM $D; wait $D; rc=$?
same "$rc" 0 "daemon and its HTTP server stop on SIGTERM"
expect 7 "the port is free again" curl -s "http://127.0.0.1:$HPORT/healthz"
printf 'database:\n  url: "%s"\nplugins:\n  dir: %s\nhttp:\n  listen: "off"\n' "$DB" "$PWD/$B/plugins" >"$T_TMP/off.yaml"
expect_out 2 "http.listen is off" "serve with the server off" "$PURSER" -c "$T_TMP/off.yaml" serve
t_done
