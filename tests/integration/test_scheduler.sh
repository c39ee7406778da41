# The scheduler and runner against a real PostgreSQL: once per slot with
# several daemons and backfills at once, lease rescue after kill -9,
# crashing and hanging plugins, retries with backoff, `after:`
# dependencies, every overlap policy, catch-up, cancel, pause, SIGTERM.
. tests/lib/testlib.sh
B=$PURSER_BUILD
DB=$(fresh_db t_sched)
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
  workers: 2
  lease: 15s
  kill_grace: 1s
  shutdown_grace: 2s
http:
  listen: "off"
YAML
C="$T_TMP/purser.yaml"
# The rescue test uses a short lease; the others a long one, so that a
# slow machine (sanitizers, parallel builds) never loses a lease by delay.
sed 's/lease: 15s/lease: 3s/' "$C" >"$T_TMP/short-lease.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
jobs() { cat >"$T_TMP/jobs/jobs.yaml"; }
DAEMONS=""
# Background processes are started without a function wrapper, so that $!
# is purser itself and signals reach it.
start_daemon() { "$PURSER" -c "$C" daemon >>"$T_TMP/daemon-$1.log" 2>&1 & DAEMONS="$DAEMONS $!"; eval "D_$1=$!"; }
stop_daemons() { for p in $DAEMONS; do kill -TERM "$p" 2>/dev/null; done; for p in $DAEMONS; do wait "$p" 2>/dev/null; done; DAEMONS=""; }
# wait_for SQL EXPECTED SECONDS
wait_for() { i=0; while [ "$(q "$1")" != "$2" ] && [ $i -lt $(($3 * 5)) ]; do sleep 0.2; i=$((i + 1)); done; }
trap 'stop_daemons; rm -rf "$T_TMP"' EXIT

P migrate >/dev/null 2>&1 || { t_fail "migrate"; t_done; }

# --- once per slot: two daemons and two concurrent backfills over 48 slots ---------
jobs <<'YAML'
jobs:
  hourly:
    plugin: example
    schedule: "0 * * * *"
    timezone: Europe/Berlin
    overlap: allow(4)
YAML
start_daemon a; start_daemon b
"$PURSER" -c "$C" backfill hourly --from 2026-03-28 --to 2026-03-29 >"$T_TMP/bf1.log" 2>&1 & BF1=$!
"$PURSER" -c "$C" backfill hourly --from 2026-03-28 --to 2026-03-29 >"$T_TMP/bf2.log" 2>&1 & BF2=$!
wait $BF1; r1=$?; wait $BF2; r2=$?
same "$r1 $r2" "0 0" "two concurrent backfills both end successfully"
# 2026-03-29 is the spring-forward day in Berlin: 24 + 23 hourly slots
same "$(q "SELECT count(*) FROM purser_runs WHERE job = 'hourly'")" 47 "one row per slot (47 over the DST weekend)"
same "$(q "SELECT count(*) FROM purser_runs WHERE job = 'hourly' AND state = 'succeeded'")" 47 "every slot succeeded"
same "$(q "SELECT coalesce(sum(runs), 0) FROM example_greetings WHERE business_date BETWEEN '2026-03-27' AND '2026-03-29'")" 47 "the plugin ran exactly 47 times: no slot ran twice"
same "$(q "SELECT count(DISTINCT lease_owner) FROM purser_runs WHERE job = 'hourly'")" 0 "no lease left behind"
expect_out 0 "hourly: 47 slots: 47 succeeded" "a repeated backfill runs nothing again" P backfill hourly --from 2026-03-28 --to 2026-03-29
same "$(q "SELECT coalesce(sum(runs), 0) FROM example_greetings WHERE business_date BETWEEN '2026-03-27' AND '2026-03-29'")" 47 "still 47 plugin runs"
same "$(q "SELECT business_date || ' ' || to_char(interval_start AT TIME ZONE 'UTC', 'HH24:MI') || '-' || to_char(interval_end AT TIME ZONE 'UTC', 'HH24:MI') FROM purser_runs WHERE job = 'hourly' ORDER BY slot LIMIT 1")" "2026-03-27 22:00-23:00" "business date = local date of the data interval's start"
stop_daemons

# --- a crashing and a hanging plugin fail their runs; the daemon lives on ----------
jobs <<'YAML'
jobs:
  crasher:
    plugin: example
    schedule: "@daily"
    params: { crash: true }
  hanger:
    plugin: example
    schedule: "@daily"
    timeout: 2s
    params: { hang: true }
YAML
start_daemon c
P backfill crasher --from 2026-01-01 --to 2026-01-01 >/dev/null 2>&1
same "$(q "SELECT state || ': ' || message FROM purser_runs WHERE job = 'crasher'")" "failed: plugin example crashed: signal 11 (Segmentation fault)" "a crash fails its run with the signal named"
t0=$(date +%s)
P backfill hanger --from 2026-01-01 --to 2026-01-01 >/dev/null 2>&1
t1=$(date +%s)
same "$(q "SELECT state FROM purser_runs WHERE job = 'hanger'")" "failed" "a hanging run fails"
expect_out 0 "timed out after [0-9]+ s \(timeout 2 s\)" "the reason is the timeout" q "SELECT message FROM purser_runs WHERE job = 'hanger'"
if [ $((t1 - t0)) -le 10 ]; then t_ok "SIGKILL after the grace ended the hang ($((t1 - t0)) s)"; else t_fail "hang took $((t1 - t0)) s"; fi
if kill -0 "$D_c" 2>/dev/null; then t_ok "the daemon lives on"; else t_fail "the daemon died"; fi
stop_daemons

# --- retries with exponential backoff --------------------------------------------
jobs <<'YAML'
jobs:
  flaky:
    plugin: example
    schedule: "@daily"
    retries: { max: 2, backoff: 1s, max_backoff: 10s }
    params: { retry: true, sleep_ms: 100 }
  broken:
    plugin: example
    schedule: "@daily"
    retries: { max: 2, backoff: 1s }
    params: { fail: true }
YAML
expect 1 "a run that keeps asking for a retry ends failed" P backfill flaky --from 2026-01-02 --to 2026-01-02
same "$(q "SELECT state || ' ' || attempt || '/' || max_attempts FROM purser_runs WHERE job = 'flaky'")" "failed 3/3" "three attempts: the first and two retries"
same "$(q "SELECT count(DISTINCT l.attempt) FROM purser_run_logs l JOIN purser_runs r ON r.id = l.run_id WHERE r.job = 'flaky'")" 3 "each attempt's log kept"
expect 1 "a permanent error is not retried" P backfill broken --from 2026-01-02 --to 2026-01-02
same "$(q "SELECT attempt FROM purser_runs WHERE job = 'broken'")" 1 "PURSER_ERROR: one attempt only"

# --- after: dependencies -----------------------------------------------------------
jobs <<'YAML'
jobs:
  first:
    plugin: example
    schedule: "0 2 * * *"
    params: { sleep_ms: 1500 }
  second:
    plugin: example
    schedule: "30 2 * * *"
    after: [first]
YAML
"$PURSER" -c "$C" backfill second --from 2026-02-10 --to 2026-02-10 >"$T_TMP/second.log" 2>&1 & BS=$!
sleep 2
same "$(q "SELECT state FROM purser_runs WHERE job = 'second'")" "pending" "second waits for first (same business date)"
P backfill first --from 2026-02-10 --to 2026-02-10 >/dev/null 2>&1
wait $BS
same "$(q "SELECT s.state FROM purser_runs s, purser_runs f WHERE s.job = 'second' AND f.job = 'first' AND s.started_at >= f.finished_at")" "succeeded" "second ran after first succeeded"

# --- overlap policies: a slot due while another run of the job is running -----------
# A fake run of another worker holds the job; the slot came due after it started.
overlap_case() { # POLICY -> prints the new slot's state after a daemon looked
    jobs <<YAML
jobs:
  ov:
    plugin: example
    schedule: "@daily"
    overlap: $1
YAML
    q "DELETE FROM purser_runs WHERE job = 'ov'" >/dev/null
    q "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state, started_at, lease_owner, lease_until) VALUES ('ov', 'example', now() - interval '1 hour', current_date, 'scheduled', 'running', now() - interval '10 minutes', 'elsewhere:1', now() + interval '1 hour')" >/dev/null
    q "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state, not_before) VALUES ('ov', 'example', now() - interval '1 minute', current_date, 'scheduled', 'pending', now() - interval '1 minute')" >/dev/null
    start_daemon ov
    wait_for "SELECT count(*) FROM purser_runs WHERE job = 'ov' AND state IN ('skipped', 'succeeded')" 1 4
    sleep 1
    stop_daemons
    q "SELECT state FROM purser_runs WHERE job = 'ov' AND lease_owner IS DISTINCT FROM 'elsewhere:1' ORDER BY id DESC LIMIT 1"
}
same "$(overlap_case skip)" "skipped" "overlap: skip records the slot as skipped"
same "$(overlap_case queue)" "pending" "overlap: queue keeps it waiting"
same "$(overlap_case 'allow(2)')" "succeeded" "overlap: allow(2) runs it alongside"
same "$(overlap_case replace)" "succeeded" "overlap: replace runs it..."
same "$(q "SELECT cancel_requested FROM purser_runs WHERE job = 'ov' AND lease_owner = 'elsewhere:1'")" "t" "...and asks the running one to stop"

# --- lease rescue: kill -9 of the worker mid-run -----------------------------------
jobs <<'YAML'
jobs:
  slow:
    plugin: example
    schedule: "@daily"
    retries: { max: 1, backoff: 1s }
    params: { sleep_ms: 2500 }
YAML
"$PURSER" -c "$T_TMP/short-lease.yaml" backfill slow --from 2026-01-03 --to 2026-01-03 >/dev/null 2>&1 & BK=$!
wait_for "SELECT state FROM purser_runs WHERE job = 'slow'" "running" 5
kill -9 $BK; wait $BK 2>/dev/null
same "$(q "SELECT state FROM purser_runs WHERE job = 'slow'")" "running" "after kill -9 the run still looks running"
"$PURSER" -c "$T_TMP/short-lease.yaml" daemon >>"$T_TMP/daemon-r.log" 2>&1 & DAEMONS="$DAEMONS $!"
wait_for "SELECT state FROM purser_runs WHERE job = 'slow'" "succeeded" 20
same "$(q "SELECT state || ' attempt ' || attempt FROM purser_runs WHERE job = 'slow'")" "succeeded attempt 2" "the lease expired, a daemon rescued it and it completed"
same "$(q "SELECT count(*) FROM purser_runs WHERE job = 'slow'")" 1 "still one row for the slot"
stop_daemons

# --- catch-up after the daemon was down for several slots ---------------------------
# A daily job whose slots were last planned five days ago: five slots were
# missed (the newest, today 00:00 UTC, is more than a minute old unless the
# test runs right after midnight, so wait that minute out).
[ "$(date -u +%H%M)" -lt 0002 ] && sleep 120
catchup_case() { # POLICY [MAX] -> "ran skipped"
    jobs <<YAML
jobs:
  cu:
    plugin: example
    schedule: "0 0 * * *"
    catchup: $1
    max_catchup: ${2:-10}
    overlap: queue
YAML
    q "DELETE FROM purser_runs WHERE job = 'cu'; DELETE FROM purser_jobs WHERE job = 'cu'" >/dev/null
    q "INSERT INTO purser_jobs (job, planned_until) VALUES ('cu', date_trunc('day', now()) - interval '4 days 12 hours')" >/dev/null
    start_daemon cu
    wait_for "SELECT count(*) > 0 AND count(*) FILTER (WHERE state IN ('pending', 'running')) = 0 FROM purser_runs WHERE job = 'cu'" t 15
    stop_daemons
    q "SELECT count(*) FILTER (WHERE state <> 'skipped') || ' ' || count(*) FILTER (WHERE state = 'skipped') FROM purser_runs WHERE job = 'cu'"
}
same "$(catchup_case none)" "0 5" "catchup: none records the 5 missed slots as skipped"
same "$(catchup_case latest)" "1 4" "catchup: latest runs the most recent missed slot only"
same "$(catchup_case all 3)" "3 2" "catchup: all runs the missed slots, at most max_catchup"
same "$(q "SELECT min(business_date) FILTER (WHERE state = 'succeeded') FROM purser_runs WHERE job = 'cu'")" "$(date -u -d '3 days ago' +%Y-%m-%d)" "the newest three ran, each with its own business date"

# --- cancel, retry, pause -------------------------------------------------------------
jobs <<'YAML'
jobs:
  long:
    plugin: example
    schedule: "@daily"
    params: { sleep_ms: 20000 }
YAML
start_daemon x
"$PURSER" -c "$C" backfill long --from 2026-01-04 --to 2026-01-04 >/dev/null 2>&1 & BL=$!
wait_for "SELECT state FROM purser_runs WHERE job = 'long'" "running" 5
RID=$(q "SELECT id FROM purser_runs WHERE job = 'long'")
expect_out 0 "cancel requested" "cancel a running run" P cancel "$RID"
wait $BL
same "$(q "SELECT state FROM purser_runs WHERE id = $RID")" "cancelled" "the run ends cancelled, promptly"
expect_out 2 "not found, or not pending or running" "cancel of a finished run is refused" P cancel "$RID"
stop_daemons
expect_out 0 "queued for another attempt" "retry a cancelled run" P retry "$RID"
same "$(q "SELECT state FROM purser_runs WHERE id = $RID")" "pending" "it is pending again"
expect_out 0 "cancelled$" "cancel a pending run" P cancel "$RID"
expect_out 0 "job long paused" "pause a job" P pause long
q "INSERT INTO purser_jobs (job) VALUES ('long') ON CONFLICT DO NOTHING; UPDATE purser_jobs SET planned_until = now() - interval '2 days' WHERE job = 'long'" >/dev/null
start_daemon p
wait_for "SELECT count(*) FROM purser_runs WHERE job = 'long' AND kind = 'scheduled'" 2 5
stop_daemons
same "$(q "SELECT string_agg(DISTINCT state || ': ' || message, ',') FROM purser_runs WHERE job = 'long' AND kind = 'scheduled'")" "skipped: skipped: the job was paused" "a paused job's slots are recorded as skipped"
expect_out 0 "job long resumed" "resume it" P resume long
expect_out 2 "no job named 'nosuch'" "pause of an unknown job" P pause nosuch

# --- SIGTERM: stop claiming, let runs finish within the grace, hand the rest back ----
jobs <<'YAML'
jobs:
  lingering:
    plugin: example
    schedule: "@daily"
    params: { sleep_ms: 30000 }
YAML
q "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state) VALUES ('lingering', 'example', '2026-01-05', '2026-01-04', 'backfill', 'pending')" >/dev/null
start_daemon t
wait_for "SELECT state FROM purser_runs WHERE job = 'lingering'" "running" 5
t0=$(date +%s); kill -TERM "$D_t"; wait "$D_t"; rc=$?; t1=$(date +%s); DAEMONS=""
same "$rc" 0 "the daemon exits 0 on SIGTERM"
if [ $((t1 - t0)) -le 8 ]; then t_ok "within shutdown_grace + kill_grace ($((t1 - t0)) s)"; else t_fail "SIGTERM took $((t1 - t0)) s"; fi
same "$(q "SELECT state FROM purser_runs WHERE job = 'lingering'")" "pending" "the unfinished run is handed back for another attempt"

# --- SIGHUP reloads the job definitions -------------------------------------------
start_daemon h
sleep 1
cat >>"$T_TMP/jobs/jobs.yaml" <<'YAML'
  reloaded:
    plugin: example
    schedule: "@daily"
YAML
kill -HUP "$D_h"
i=0; until grep -q "2 jobs scheduled" "$T_TMP/daemon-h.log" || [ $i -ge 25 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 0 "SIGHUP, reloading job definitions" "SIGHUP reloads the job files" cat "$T_TMP/daemon-h.log"
expect_out 0 "daemon: 2 jobs scheduled" "the new job is scheduled" cat "$T_TMP/daemon-h.log"
printf 'jobs:\n  broken: { plugin: nosuch, schedule: "@daily" }\n' >"$T_TMP/jobs/jobs.yaml"
kill -HUP "$D_h"
i=0; until grep -q "keeping the previous job definitions" "$T_TMP/daemon-h.log" || [ $i -ge 25 ]; do sleep 0.2; i=$((i + 1)); done
expect_out 0 "no plugin named 'nosuch'.*keeping the previous job definitions" "a bad reload keeps the previous definitions" cat "$T_TMP/daemon-h.log"
if kill -0 "$D_h" 2>/dev/null; then t_ok "and the daemon lives on"; else t_fail "the daemon died on a bad reload"; fi
stop_daemons
jobs <<'YAML'
jobs:
  lingering:
    plugin: example
    schedule: "@daily"
YAML

# --- purser jobs and history --------------------------------------------------------------
expect_out 0 "next: 2[0-9-]+T[0-9:]+\+00:00  \(2[0-9-]+T[0-9:]+Z\)" "purser jobs shows next fire times, local and UTC" P jobs
expect_out 0 '"state" : "pending"' "history --json" P history lingering --json
t_done
