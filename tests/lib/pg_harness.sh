#!/bin/sh
# A throwaway PostgreSQL server for one test run: a private folder under
# /tmp, a unix socket there only (no TCP), its own port number.
#   eval "$(tests/lib/pg_harness.sh start)"   # exports PURSER_TEST_* and PURSER_DATABASE_URL
#   tests/lib/pg_harness.sh stop "$PURSER_TEST_PGDIR"
# As root the server runs as user postgres (or nobody): PostgreSQL refuses root.
set -eu
cmd=${1:-}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg_harness: no PostgreSQL server installed (make deps)" >&2; exit 1; }

as_server() {
    if [ "$(id -u)" = 0 ]; then
        user=postgres; id postgres >/dev/null 2>&1 || user=nobody
        # setpriv keeps the environment and needs no login shell
        setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"
    else
        "$@"
    fi
}

case "$cmd" in
start)
    dir=$(mktemp -d /tmp/purser-test-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && { user=postgres; id postgres >/dev/null 2>&1 || user=nobody; chown "$user" "$dir"; }
    port=${PURSER_TEST_PGPORT:-$((20000 + $$ % 20000))}
    as_server "$bindir/initdb" -D "$dir/data" -U purser -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { echo "pg_harness: initdb failed, see $dir/initdb.log" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = on
synchronous_commit = on
max_connections = 200
shared_buffers = 256MB
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
log_min_messages = warning
CONF
    as_server "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { echo "pg_harness: server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
    "$bindir/psql" -X -q -h "$dir" -p "$port" -U purser -d postgres -c "CREATE DATABASE purser_test" >/dev/null
    echo "export PURSER_TEST_PGDIR='$dir' PURSER_TEST_PGHOST='$dir' PURSER_TEST_PGPORT='$port'"
    echo "export PURSER_TEST_PGBIN='$bindir'"
    echo "export PURSER_DATABASE_URL='host=$dir port=$port dbname=purser_test user=purser'"
    ;;
stop)
    dir=${2:?pg_harness stop DIR}
    case "$dir" in /tmp/purser-test-pg.*) ;; *) echo "pg_harness: refusing to remove $dir" >&2; exit 1;; esac
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_server "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg_harness.sh start | stop DIR" >&2; exit 2;;
esac
