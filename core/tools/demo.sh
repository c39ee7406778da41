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

# Buyers review some delivered order lines the way a storefront sends them:
# through POST /v1/reviews of a short-lived `purser serve`.
db=$($P db url)
reviews=$(psql -X -At -d "$db" -c "SELECT count(*) FROM ratings_reviews" 2>/dev/null || echo 0)
listen=$(sed -n '/^http:/,/^[^ #]/s/^  listen: *//p' config/purser.yaml | tr -d '"' | head -n 1)
url="http://${listen:-127.0.0.1:8080}"
if [ "${reviews:-0}" = 0 ] && ! curl -s -o /dev/null "$url/healthz"; then
    say "buyers review delivered order lines (POST /v1/reviews on a short-lived purser serve)"
    $P serve >var/demo-serve.log 2>&1 &
    serve=$!
    i=0; until curl -sf -o /dev/null "$url/healthz" || [ $i -ge 50 ]; do sleep 0.2; i=$((i + 1)); done
    $P token revoke demo-reviews >/dev/null 2>&1 || true
    token=$($P token create demo-reviews 2>/dev/null | tail -n 1)
    # about one delivered line in forty; ratings skewed to the good end
    psql -X -At -F ' ' -d "$db" -c "
        SELECT o.source, o.external_ref, i.line_no, b.external_ref,
               CASE WHEN h < 45 THEN 5 WHEN h < 75 THEN 4 WHEN h < 87 THEN 3 WHEN h < 94 THEN 2 ELSE 1 END
          FROM orders o JOIN buyers b ON b.id = o.buyer_id JOIN order_items i ON i.order_id = o.id
         CROSS JOIN LATERAL (SELECT abs(hashtext(i.id::text)) % 100 AS h) x
         WHERE o.status = 'delivered' AND abs(hashtext(i.id::text || 'r')) % 40 = 0" |
    while read -r source ref line buyer rating; do
        case $rating in 5) text="Exactly as described, quick delivery." ;; 4) text="Good, packaging could be better." ;;
        3) text="Fine." ;; 2) text="Arrived late and scratched." ;; *) text="Not what I ordered." ;; esac
        curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' "$url/v1/reviews" \
            -d "{\"source\":\"$source\",\"order_ref\":\"$ref\",\"line_no\":$line,\"buyer\":\"$buyer\",\"rating\":$rating,\"text\":\"$text\"}"
    done | sort | uniq -c | awk '{ printf "  %s reviews answered %s\n", $1, $2 }' >&2
    $P token revoke demo-reviews >/dev/null 2>&1 || true
    kill "$serve" 2>/dev/null; wait "$serve" 2>/dev/null || true
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
    # the demo's reviews were written today: rate today to count them
    ratings-*) $P run "$job" --date "$(date -u +%Y-%m-%d)" ;;
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
echo "start it with '$P serve' (or '$P daemon'), then open http://${listen:-127.0.0.1:8080}/" >&2
