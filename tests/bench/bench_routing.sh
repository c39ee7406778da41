#!/usr/bin/env bash
# bench_routing.sh: runs the route solver on the Solomon and CVRPLIB
# benchmark instances and compares each cost with the best known.
#
# usage: tests/bench/bench_routing.sh BINARY [ARGS...]
#   BINARY [ARGS...] behaves like `purser route-solve`, e.g.
#   tests/bench/bench_routing.sh build/purser route-solve
# env:
#   PURSER_FIXTURES  fixtures root (default: ../shared/fixtures from the repo root)
#   BENCH_QUICK=1    a representative subset at shorter time limits
#   BENCH_SOLOMON_SECONDS, BENCH_CVRP_SECONDS  override the time limits
#   BENCH_FILTER     only instances whose name matches this extended regex
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BINARY [ARGS...]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    read -r -a CMD <<<"$1"
else
    CMD=("$@")
fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX="${PURSER_FIXTURES:-$ROOT/../shared/fixtures}/vrp"
BKS="$FIX/bks.tsv"
if [ ! -f "$BKS" ]; then
    echo "bench_routing: skipped: no benchmark fixtures at $FIX"
    exit 0
fi

PIN=()
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
    PIN=(taskset -c 0)
fi

QUICK="${BENCH_QUICK:-0}"
if [ "$QUICK" = 1 ]; then
    T_SOL="${BENCH_SOLOMON_SECONDS:-1}"
    T_CVRP="${BENCH_CVRP_SECONDS:-3}"
    SOLOMON="C103 C206 R102 R107 R202 R209 RC105 RC203"
    CVRP="A-n45-k7 A-n80-k10 P-n50-k10 P-n101-k4 X-n101-k25 X-n134-k13 X-n167-k10 X-n200-k36"
else
    T_SOL="${BENCH_SOLOMON_SECONDS:-2}"
    T_CVRP="${BENCH_CVRP_SECONDS:-10}"
    SOLOMON=$(cd "$FIX/solomon" && ls ./*.txt | sed 's|^\./||; s|\.txt$||')
    CVRP=$(cd "$FIX/cvrp" && ls ./*.vrp | sed 's|^\./||; s|\.vrp$||')
fi

RESULTS=$(mktemp)
OUT=$(mktemp)
trap 'rm -f "$RESULTS" "$OUT"' EXIT
FAILS=0

# bks NAME KIND: the best-known distance used for the gap
bks() {
    awk -F'\t' -v n="$1" -v k="$2" '
        $1 == n && k == "cvrp" && $2 == "cvrp" { print $4; exit }
        $1 == n && k == "vrptw" && $6 == "distance-only" && $7 ~ /^double/ { print $4; exit }
    ' "$BKS"
}

# run CLASS NAME FILE KIND SECONDS
run() {
    local class=$1 name=$2 file=$3 kind=$4 secs=$5
    local t0 t1 rc cost routes best
    t0=$(date +%s.%N)
    "${PIN[@]}" "${CMD[@]}" "$file" --time-limit "$secs" --seed 1 >"$OUT" 2>/dev/null
    rc=$?
    t1=$(date +%s.%N)
    cost=$(awk '$1 == "Cost" { print $2 }' "$OUT")
    routes=$(grep -c '^Route #' "$OUT")
    best=$(bks "$name" "$kind")
    if [ $rc -ne 0 ] || [ -z "$cost" ] || [ -z "$best" ]; then
        printf '%-12s FAILED (exit %d)\n' "$name" "$rc"
        FAILS=$((FAILS + 1))
        return
    fi
    awk -v c="$class" -v n="$name" -v cost="$cost" -v r="$routes" -v b="$best" \
        -v t0="$t0" -v t1="$t1" 'BEGIN {
            gap = 100 * (cost - b) / b
            printf "%-12s %12s %4d %12s %7.2f%% %6.2fs\n", n, cost, r, b, gap, t1 - t0
            printf "%s %s %.6f %.3f\n", c, n, gap, t1 - t0 >> "/dev/stderr"
        }' 2>>"$RESULTS"
}

printf '%-12s %12s %4s %12s %8s %7s\n' instance cost veh bks gap seconds
for n in $SOLOMON; do
    if [ -n "${BENCH_FILTER:-}" ] && ! [[ $n =~ $BENCH_FILTER ]]; then continue; fi
    run solomon "$n" "$FIX/solomon/$n.txt" vrptw "$T_SOL"
done
for n in $CVRP; do
    if [ -n "${BENCH_FILTER:-}" ] && ! [[ $n =~ $BENCH_FILTER ]]; then continue; fi
    run "cvrp-${n%%-*}" "$n" "$FIX/cvrp/$n.vrp" cvrp "$T_CVRP"
done

echo
echo "time limits: Solomon ${T_SOL}s, CVRP ${T_CVRP}s per instance$([ "$QUICK" = 1 ] && echo ' (BENCH_QUICK subset)')"
awk '
    { g[$1] += $3; t[$1] += $4; n[$1]++
      if ($1 ~ /^cvrp/) { g["cvrp"] += $3; t["cvrp"] += $4; n["cvrp"]++ } }
    END {
        split("solomon cvrp-A cvrp-P cvrp-X cvrp", order, " ")
        for (i = 1; i <= 5; i++) {
            c = order[i]
            if (!n[c]) continue
            printf "average %-8s %3d instances  gap %6.3f%%  %6.2fs\n", c, n[c], g[c] / n[c], t[c] / n[c]
        }
        if (n["solomon"]) printf "Solomon vs VROOM (1.25%%): ratio %.2f; goal <= 1.2%%: %s\n",
            g["solomon"] / n["solomon"] / 1.25, g["solomon"] / n["solomon"] <= 1.2 ? "met" : "NOT met"
        if (n["cvrp"]) printf "CVRP vs VROOM (1.14%%): ratio %.2f; goal <= 1.1%%: %s\n",
            g["cvrp"] / n["cvrp"] / 1.14, g["cvrp"] / n["cvrp"] <= 1.1 ? "met" : "NOT met"
    }' "$RESULTS"
if [ "$FAILS" -gt 0 ]; then
    echo "bench_routing: $FAILS instance(s) failed"
    exit 1
fi
exit 0
