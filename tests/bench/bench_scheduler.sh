#!/bin/sh
# bench_scheduler.sh: the runner's own cost with a no-op plugin.
#  1. runs completed per second by one daemon, then by three daemons on one
#     database (fork + claim + heartbeat + record), over BENCH_RUNS runs each;
#     baseline in the same run: the same state changes as plain SQL (insert,
#     claim, finish) by one psql session — the database's floor.
#  2. the scheduler's CPU while idle with 1,000 jobs defined (over
#     BENCH_IDLE_SECONDS), against the same daemon with no jobs.
# Uses the test harness's server when PURSER_TEST_PGHOST is set, else
# starts a throwaway one and stops it on exit.
set -eu
: "${PURSER_BUILD:=build}"
PURSER="$PWD/$PURSER_BUILD/purser"
RUNS=${BENCH_RUNS:-600}
IDLE=${BENCH_IDLE_SECONDS:-20}
work=$(mktemp -d /tmp/purser-bench-sched.XXXXXX)
started=""
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
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
PSQL="$PURSER_TEST_PGBIN/psql -X -q -h $PURSER_TEST_PGHOST -p $PURSER_TEST_PGPORT -U purser"
$PSQL -d postgres -c "DROP DATABASE IF EXISTS bench_sched" -c "CREATE DATABASE bench_sched"
DB="host=$PURSER_TEST_PGHOST port=$PURSER_TEST_PGPORT dbname=bench_sched user=purser"
mkdir -p "$work/jobs" "$work/idle-jobs" "$work/no-jobs"
config() { # JOBS_DIR
    cat <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/test-plugins
  load: [noop.so]
jobs:
  dir: $1
runner:
  workers: 2
http:
  listen: "off"
log:
  level: warn
YAML
}
config "$work/jobs" >"$work/purser.yaml"
printf 'jobs:\n  noop:\n    plugin: noop\n    schedule: "@yearly"\n    overlap: allow(100)\n' >"$work/jobs/noop.yaml"
"$PURSER" -c "$work/purser.yaml" migrate >/dev/null 2>&1
q() { $PSQL -d bench_sched -At -c "$1"; }

# pending runs, all due now
enqueue() {
    q "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state)
       SELECT 'noop', 'noop', timestamptz '2000-01-01' + make_interval(hours => g + $2), '2000-01-01',
              'backfill', 'pending' FROM generate_series(1, $1) g" >/dev/null
}
# run N daemons until nothing is pending; prints runs/s
drain() {
    n=$1
    t0=$(date +%s.%N)
    i=0
    while [ $i -lt "$n" ]; do
        "$PURSER" -c "$work/purser.yaml" daemon >>"$work/daemon.log" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    while [ "$(q "SELECT count(*) FROM purser_runs WHERE state IN ('pending', 'running')")" != 0 ]; do
        sleep 0.1
    done
    t1=$(date +%s.%N)
    for p in $pids; do kill -TERM "$p"; done
    for p in $pids; do wait "$p" || true; done
    pids=""
    echo "$RUNS $t0 $t1" | awk '{ printf "%.1f", $1 / ($3 - $2) }'
}

enqueue "$RUNS" 0
one=$(drain 1)
enqueue "$RUNS" 100000
three=$(drain 3)
ok=$(q "SELECT count(*) FROM purser_runs WHERE state = 'succeeded'")
dups=$(q "SELECT count(*) FROM (SELECT slot FROM purser_runs GROUP BY job, slot HAVING count(*) > 1) d")

# baseline: the same three state changes per run as plain SQL, one session
{
    echo "BEGIN;"
    echo "CREATE TEMP TABLE b (LIKE purser_runs INCLUDING DEFAULTS);"
    echo "COMMIT;"
    i=0
    while [ $i -lt "$RUNS" ]; do
        echo "INSERT INTO purser_runs (job, plugin, slot, business_date, kind, state) VALUES ('floor', 'noop', timestamptz '2001-01-01' + interval '$i hours', '2001-01-01', 'backfill', 'pending');"
        echo "UPDATE purser_runs SET state = 'running', lease_owner = 'b', lease_until = now() + interval '30 s', started_at = now() WHERE job = 'floor' AND slot = timestamptz '2001-01-01' + interval '$i hours';"
        echo "UPDATE purser_runs SET state = 'succeeded', finished_at = now(), lease_owner = NULL, lease_until = NULL WHERE job = 'floor' AND slot = timestamptz '2001-01-01' + interval '$i hours';"
        i=$((i + 1))
    done
} >"$work/floor.sql"
t0=$(date +%s.%N)
$PSQL -d bench_sched -f "$work/floor.sql" >/dev/null
t1=$(date +%s.%N)
floor=$(echo "$RUNS $t0 $t1" | awk '{ printf "%.1f", $1 / ($3 - $2) }')

echo "runner throughput, no-op plugin, $RUNS runs each, runner.workers 2:"
echo "  one daemon:     $one runs/s"
echo "  three daemons:  $three runs/s  (x$(echo "$three $one" | awk '{ printf "%.2f", $1 / $2 }') of one daemon)"
echo "  baseline (the same state changes as plain SQL, one session): $floor runs/s"
echo "  ratio one daemon / baseline: $(echo "$one $floor" | awk '{ printf "%.3f", $1 / $2 }')"
echo "  succeeded: $ok of $((RUNS * 2)); slots run twice: $dups"

# idle CPU with 1,000 jobs
{
    echo "jobs:"
    i=0
    while [ $i -lt 1000 ]; do
        printf '  j%04d:\n    plugin: noop\n    schedule: "%d %d * * *"\n' $i $((i % 60)) $(((i / 60 + 3) % 24))
        i=$((i + 1))
    done
} >"$work/idle-jobs/jobs.yaml"
cpu_of() { # JOBS_DIR -> CPU seconds used over IDLE seconds after a 3 s warm-up
    config "$1" >"$work/idle.yaml"
    "$PURSER" -c "$work/idle.yaml" daemon >>"$work/daemon.log" 2>&1 &
    p=$!
    pids="$p"
    sleep 3
    a=$(awk '{ print $14 + $15 }' "/proc/$p/stat")
    sleep "$IDLE"
    b=$(awk '{ print $14 + $15 }' "/proc/$p/stat")
    kill -TERM "$p"
    wait "$p" || true
    pids=""
    echo "$a $b" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($2 - $1) / hz }'
}
busy=$(cpu_of "$work/idle-jobs")
none=$(cpu_of "$work/no-jobs")
echo "scheduler idle CPU over ${IDLE} s:"
echo "  1,000 jobs: ${busy} CPU s ($(echo "$busy $IDLE" | awk '{ printf "%.2f", 100 * $1 / $2 }')% of a core)"
echo "  baseline, no jobs: ${none} CPU s; ratio $(echo "$busy $none" | awk '{ if ($2 > 0) printf "%.1f", $1 / $2; else print "n/a (baseline 0)" }')"
