#!/bin/sh
# `make demo`: the embedded database (unless one is configured), the
# schema, the plugins, then last night's jobs, and where their output is.
set -eu
: "${PURSER_BUILD:=build}"
P="$PURSER_BUILD/purser"
if [ -t 2 ]; then
    say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
else
    say() { printf '\n== %s\n' "$*" >&2; }
fi

say "purser $($P --version | cut -d' ' -f2-)"
if [ -z "${PURSER_DATABASE_URL:-}" ] && ! grep -Eq '^[[:space:]]+url:' config/purser.yaml; then
    say "embedded PostgreSQL under var/pg (no database configured)"
    $P db start
else
    say "database: $($P db url | sed 's/password=[^ ]*/password=***/')"
fi

say "schema migrations (core + plugins)"
$P migrate

orders=$(psql -X -At -d "$($P db url)" -c "SELECT count(*) FROM orders" 2>/dev/null || echo 0)
if [ "${orders:-0}" = 0 ]; then
    start=$(date -u -d '8 days ago' +%Y-%m-%d)
    say "a week of simulated storefront traffic from $start (purser simulate)"
    $P simulate --orders "${DEMO_ORDERS:-20000}" --days 8 --agents 100 --start "$start" \
        --out var/simulated
else
    say "the store already holds $orders orders (make demo-reset starts afresh)"
fi

say "configuration, plugins and jobs check"
$P check
$P plugins

yesterday=$(date -u -d yesterday +%Y-%m-%d)
say "last night's jobs for $yesterday"
$P jobs
# `purser jobs` prints each job's name flush left ("(disabled)" after it
# when it is); jobs/ files are read in name order.
for job in $($P jobs | awk '/^[^ ]/ && !/\(disabled\)/ { print $1 }'); do
    case $job in
    routing-*) $P run "$job" --date "$yesterday" --param "time_limit=${DEMO_ROUTING_TIME:-20s}" ;;
    *) $P run "$job" --date "$yesterday" ;;
    esac
done

say "recent runs"
$P history --limit 10

reports=$(sed -n 's/^  output_dir: *//p' config/purser.yaml | head -n 1)
dir="$(cd config && mkdir -p "$reports" && cd "$reports" && pwd)"
say "done: the workbooks are in $dir"
ls -l "$dir" >&2
echo "last night's backup (plugins.backup.dir, restore-checked): $(ls var/backups 2>/dev/null | tr '\n' ' ')" >&2

say "the web page (reports for finance, jobs for operations)"
if [ -z "$($P user list 2>/dev/null)" ]; then
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    echo "$pw" | $P user add demo --role admin >/dev/null
    echo "created user 'demo' (role admin) with password $pw (shown only now)" >&2
fi
echo "users: $P user list; more: $P user add NAME --role finance|ops|admin" >&2
listen=$(sed -n '/^http:/,/^[^ #]/s/^  listen: *//p' config/purser.yaml | tr -d '"' | head -n 1)
echo "start it with '$P serve' (or '$P daemon'), then open http://${listen:-127.0.0.1:8080}/" >&2
