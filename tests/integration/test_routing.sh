# The routing plugin through the real binary: `purser route-solve` on
# literature instances and on bad input; the nightly job on simulated data
# against a real PostgreSQL — every pending delivery of the date routed
# exactly once or listed unassigned with a reason, an independent
# feasibility check of the rows written (capacity, windows, shift, travel
# times), a re-run that replaces unstarted routes and keeps started ones,
# the workbook read back with openpyxl and the GeoJSON with json.
. tests/lib/testlib.sh
FIX=${PURSER_FIXTURES:-../shared/fixtures}/vrp
PY=/usr/bin/python3

# --- route-solve -----------------------------------------------------------------
if [ -f "$FIX/solomon/C101.txt" ] && [ -f "$FIX/cvrp/A-n32-k5.vrp" ]; then
    expect_out 0 "^Cost [0-9]+\.[0-9]{2}$" "route-solve C101 (Solomon) through the host" \
        "$PURSER" route-solve "$FIX/solomon/C101.txt" --time-limit 0.5 --seed 3
    printf '%s\n' "$T_OUT" >"$T_TMP/c101.sol"
    same "$($PY - "$T_TMP/c101.sol" <<'PY'
import sys
seen = []
for line in open(sys.argv[1]):
    if line.startswith("Route #"):
        seen += [int(x) for x in line.split(":")[1].split()]
print("ok" if sorted(seen) == list(range(1, 101)) else "customers %d" % len(seen))
PY
)" ok "route-solve C101: customers 1..100 each served once"
    expect_out 0 "^Cost [0-9]+$" "route-solve A-n32-k5 (CVRPLIB) through the host" \
        "$PURSER" route-solve "$FIX/cvrp/A-n32-k5.vrp" --time-limit 0.5
    cost=$(printf '%s\n' "$T_OUT" | awk '$1 == "Cost" { print $2 }')
    if [ -n "$cost" ] && [ "$cost" -le 800 ]; then t_ok "A-n32-k5 within 2% of the best known 784 ($cost)"
    else t_fail "A-n32-k5 cost $cost, best known 784"; fi
else
    t_skip "route-solve on fixture instances" "no fixtures at $FIX"
    t_skip "route-solve C101 customers" "no fixtures at $FIX"
    t_skip "route-solve A-n32-k5" "no fixtures at $FIX"
    t_skip "A-n32-k5 gap" "no fixtures at $FIX"
fi
printf 'NAME : bad\nTYPE : CVRP\nDIMENSION : x3\n' >"$T_TMP/bad.vrp"
expect_out 2 "bad\.vrp:3: " "a bad file: exit 2 with FILE:LINE" "$PURSER" route-solve "$T_TMP/bad.vrp"
expect_out 2 "no FILE given; usage: route-solve FILE" "no file: exit 2 with the usage" "$PURSER" route-solve
expect_out 2 "unknown option --fast" "an unknown option: exit 2" "$PURSER" route-solve x.vrp --fast

# --- the nightly job on simulated data -----------------------------------------
DB=$(fresh_db t_routing)
D=2026-03-05
mkdir -p "$T_TMP/jobs"
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$PURSER_BUILD/plugins
  routing:
    road_factor: "1.3"
    speed_kmh: 25
    time_limit: 2s
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
YAML
cat >"$T_TMP/jobs/routing.yaml" <<'YAML'
jobs:
  routing-job:
    plugin: routing
    schedule: "0 21 * * *"
    timezone: Europe/Berlin
YAML
C="$T_TMP/purser.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }

expect 0 "migrate (core + routing)" env PURSER_DATABASE_URL="$DB" "$PURSER" migrate
expect 0 "simulate 2000 orders over 3 days" env PURSER_DATABASE_URL="$DB" "$PURSER" simulate \
    --orders 2000 --days 3 --start 2026-03-02 --out "$T_TMP/sim"
expect_out 0 "time_limit" "the settings are described" P plugins --describe routing
q "CREATE TABLE t_pending AS SELECT id FROM deliveries WHERE status = 'pending'
   AND (window_start AT TIME ZONE 'Europe/Berlin')::date = '$D'" >/dev/null
PENDING=$(q "SELECT count(*) FROM t_pending")
if [ "$PENDING" -gt 100 ]; then t_ok "$PENDING pending deliveries on $D"; else t_fail "only $PENDING pending on $D"; fi

expect_out 0 "dry run: $D: " "days_ahead: the day before + 1 plans $D" P run routing-job --date 2026-03-04 --param days_ahead=1 --dry-run
expect 0 "a dry run" P run routing-job --date $D --dry-run
same "$(q "SELECT count(*) FROM routes")" 0 "a dry run writes no route"
expect_out 0 "succeeded: $D: [0-9]+ deliveries in [0-9]+ routes" "the nightly job runs" P run routing-job --date $D

# every pending delivery of D: on exactly one route of D, or unassigned with a reason
check_cover() {
    same "$(q "SELECT count(*) FROM t_pending p WHERE
        (SELECT count(*) FROM route_stops s JOIN routes r ON r.id = s.route_id
          WHERE s.delivery_id = p.id AND r.business_date = '$D')
      + (SELECT count(*) FROM route_unassigned u WHERE u.delivery_id = p.id
          AND u.business_date = '$D' AND u.reason <> '') <> 1")" 0 "$1: each pending delivery routed once or unassigned with a reason"
    same "$(q "SELECT count(*) FROM route_stops s JOIN routes r ON r.id = s.route_id
        JOIN deliveries d ON d.id = s.delivery_id
        WHERE d.agent_id IS DISTINCT FROM r.agent_id OR d.status NOT IN ('assigned', 'picked_up')")" 0 "$1: routed deliveries assigned to their route's agent"
    same "$(q "SELECT count(*) FROM route_unassigned u JOIN deliveries d ON d.id = u.delivery_id
        WHERE d.status <> 'pending' OR d.agent_id IS NOT NULL")" 0 "$1: unassigned deliveries stay pending"
    same "$(q "SELECT count(*) FROM route_stops s WHERE s.delivery_id NOT IN (SELECT id FROM t_pending)")" 0 "$1: nothing but the date's pending deliveries routed"
}
check_cover "first run"
ROUTED=$(q "SELECT count(*) FROM route_stops")
if [ "$ROUTED" -gt 0 ]; then t_ok "$ROUTED deliveries routed"; else t_fail "nothing routed"; fi
same "$(q "SELECT count(*) FROM delivery_events WHERE status = 'assigned' AND note = 'routing $D'")" "$ROUTED" "one 'assigned' event per routed delivery"

# The independent checker: re-simulates every route from the rows written.
check_feasible() {
    "$PURSER_TEST_PGBIN/psql" -X -q --csv -d "$DB" -c "
      SELECT r.id, r.agent_id, r.stops, r.distance_m, r.duration_s, r.load_grams, a.vehicle_capacity_grams,
             extract(epoch FROM r.start_at), extract(epoch FROM r.end_at),
             extract(epoch FROM ('$D'::date + a.shift_start) AT TIME ZONE 'Europe/Berlin'),
             extract(epoch FROM ('$D'::date + a.shift_end) AT TIME ZONE 'Europe/Berlin'),
             dp.latitude, dp.longitude, s.seq, d.id, d.latitude, d.longitude, d.weight_grams,
             d.service_minutes, extract(epoch FROM d.window_start), extract(epoch FROM d.window_end),
             extract(epoch FROM s.planned_arrival), extract(epoch FROM s.planned_departure)
      FROM routes r JOIN delivery_agents a ON a.id = r.agent_id JOIN depots dp ON dp.id = r.depot_id
      JOIN route_stops s ON s.route_id = r.id JOIN deliveries d ON d.id = s.delivery_id
      WHERE r.business_date = '$D' ORDER BY r.id, s.seq" >"$T_TMP/rows.csv"
    $PY - "$T_TMP/rows.csv" 2>&1 <<'PY'
import csv, math, sys
R, FACTOR, SPEED = 6371008.8, 1.3, 25 / 3.6
def dist(a, b):
    la1, lo1, la2, lo2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * R * math.asin(math.sqrt(h)) * FACTOR
routes = {}
rows = csv.reader(open(sys.argv[1]))
next(rows)
for v in rows:
    routes.setdefault(v[0], []).append([float(x) for x in v])
errors, agents = [], set()
for rid, stops in routes.items():
    r = stops[0]
    agent, n, dist_m, dur, load, cap, start, end, s0, s1, dlat, dlon = r[1:13]
    if agent in agents: errors.append("agent %d has two routes" % agent)
    agents.add(agent)
    if [s[13] for s in stops] != list(range(1, len(stops) + 1)) or n != len(stops):
        errors.append("route %s: seq not 1..%d" % (rid, n))
    w = sum(s[17] for s in stops)
    if w != load or w > cap: errors.append("route %s: load %d (says %d), capacity %d" % (rid, w, load, cap))
    if start < s0 - 1 or end > s1 + 1: errors.append("route %s: outside the shift" % rid)
    t, pos, total = start, (dlat, dlon), 0.0
    for s in stops:
        here = (s[15], s[16]); leg = dist(pos, here); total += leg
        arr, dep = s[21], s[22]
        if arr < t + leg / SPEED - 1: errors.append("route %s seq %d: arrives before it can" % (rid, s[13]))
        if arr < s[19] - 1 or dep > s[20] + 1: errors.append("route %s seq %d: outside the window" % (rid, s[13]))
        if abs(dep - arr - 60 * s[18]) > 1: errors.append("route %s seq %d: service time" % (rid, s[13]))
        t, pos = dep, here
    leg = dist(pos, (dlat, dlon)); total += leg
    if end < t + leg / SPEED - 1: errors.append("route %s: back at the depot too early" % rid)
    if abs(total - dist_m) > 2: errors.append("route %s: distance %d, recomputed %.0f" % (rid, dist_m, total))
    if abs((end - start) - dur) > 1: errors.append("route %s: duration" % rid)
print("\n".join(errors[:5]) if errors else "feasible %d routes" % len(routes))
PY
}
res=$(check_feasible)
case $res in feasible*) t_ok "first run: $res (independent checker)";; *) t_fail "first run: checker" "$res";; esac

# --- the workbook and the GeoJSON ------------------------------------------------
XLSX="$T_TMP/reports/routes_$D.xlsx"
GEO="$T_TMP/reports/routes_$D.geojson"
if [ -f "$XLSX" ] && [ -f "$GEO" ] && ! ls "$T_TMP/reports"/*.tmp >/dev/null 2>&1; then
    t_ok "routes_$D.xlsx and .geojson written, no .tmp left"
else
    t_fail "reports missing" "$(ls -la "$T_TMP/reports" 2>&1)"
fi
q "SELECT r.agent_id || ' ' || r.stops FROM routes r WHERE business_date = '$D' ORDER BY 1" >"$T_TMP/db_routes.txt"
UNASSIGNED=$(q "SELECT count(*) FROM route_unassigned WHERE business_date = '$D'")
same "$($PY - "$XLSX" "$T_TMP/db_routes.txt" "$UNASSIGNED" <<'PY'
import sys, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
want = sorted(l.strip() for l in open(sys.argv[2]) if l.strip())
names = wb.sheetnames
problems = []
if names[:2] != ["Summary", "Unassigned"]: problems.append("first sheets %s" % names[:2])
got = []
for n in names[2:]:
    ws = wb[n]
    got.append("%s %d" % (n.split(" ")[0], ws.max_row - 1))
    if ws.freeze_panes != "A2": problems.append("%s: panes %s" % (n, ws.freeze_panes))
    if ws.page_setup.orientation != "landscape": problems.append("%s: not landscape" % n)
    if not ws.auto_filter.ref: problems.append("%s: no autofilter" % n)
    if ws.print_title_rows not in ("1:1", "$1:$1"): problems.append("%s: header row not repeated (%s)" % (n, ws.print_title_rows))
    if [c.value for c in ws[2]][0] != 1: problems.append("%s: first stop not seq 1" % n)
if sorted(got) != want: problems.append("agent sheets/stops differ from the DB: %s vs %s" % (sorted(got)[:3], want[:3]))
s = wb["Summary"]
hdr = [c.value for c in s[1]]
routed = sum(r[hdr.index("Routed")] for r in s.iter_rows(min_row=2, values_only=True))
routes = sum(r[hdr.index("Routes")] for r in s.iter_rows(min_row=2, values_only=True))
if routed != sum(int(w.split()[1]) for w in want) or routes != len(want):
    problems.append("summary routed %d routes %d" % (routed, routes))
if wb["Unassigned"].max_row - 1 != int(sys.argv[3]): problems.append("unassigned rows %d" % (wb["Unassigned"].max_row - 1))
print("; ".join(problems) if problems else "ok")
PY
)" ok "workbook: Summary, Unassigned and one printable sheet per agent matching the DB"
same "$($PY - "$GEO" "$ROUTED" "$(wc -l <"$T_TMP/db_routes.txt")" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
lines = [f for f in g["features"] if f["geometry"]["type"] == "LineString"]
pts = [f for f in g["features"] if f["geometry"]["type"] == "Point"]
ok = (g["type"] == "FeatureCollection" and len(lines) == int(sys.argv[3]) and len(pts) == int(sys.argv[2])
      and all({"agent", "seq", "arrival"} <= set(p["properties"]) for p in pts)
      and all(len(l["geometry"]["coordinates"]) == l["properties"]["stops"] + 2 for l in lines))
print("ok" if ok else "lines %d points %d" % (len(lines), len(pts)))
PY
)" ok "GeoJSON: a LineString per route, a Point per stop with agent, seq, arrival"

# --- re-runs: replace unstarted routes, keep started ones --------------------------
MAXID1=$(q "SELECT max(id) FROM routes")
expect 0 "a re-run of the same date" P run routing-job --date $D
check_cover "re-run"
same "$(q "SELECT count(*) FROM routes WHERE id <= $MAXID1")" 0 "re-run: the unstarted routes were replaced"
same "$(q "SELECT count(*) - count(DISTINCT agent_id) FROM routes WHERE business_date = '$D'")" 0 "re-run: one route per agent, no duplicates"
# the first stop of one route is picked up: that route is started and kept
KEEP=$(q "SELECT min(id) FROM routes")
q "UPDATE deliveries SET status = 'picked_up' WHERE id = (SELECT delivery_id FROM route_stops WHERE route_id = $KEEP AND seq = 1)" >/dev/null
KEEP_STOPS=$(q "SELECT string_agg(delivery_id::text, ',' ORDER BY seq) FROM route_stops WHERE route_id = $KEEP")
MAXID2=$(q "SELECT max(id) FROM routes")
expect 0 "a re-run after a pick-up" P run routing-job --date $D
same "$(q "SELECT string_agg(delivery_id::text, ',' ORDER BY seq) FROM route_stops WHERE route_id = $KEEP")" "$KEEP_STOPS" "the started route is kept as it was"
same "$(q "SELECT count(*) FROM routes WHERE id <= $MAXID2 AND id <> $KEEP")" 0 "the other routes were replaced"
check_cover "re-run after a pick-up"
res=$(check_feasible)
case $res in feasible*) t_ok "re-run: $res (independent checker)";; *) t_fail "re-run: checker" "$res";; esac
same "$(q "SELECT count(*) - count(DISTINCT agent_id) FROM routes WHERE business_date = '$D'")" 0 "re-run after a pick-up: one route per agent"
same "$(q "SELECT count(*) - count(DISTINCT delivery_id) FROM route_stops")" 0 "no delivery on two routes"
same "$(q "SELECT count(*) FROM (SELECT delivery_id, seq FROM delivery_events GROUP BY 1, 2 HAVING count(*) > 1) x")" 0 "delivery events keep unique sequence numbers"

# --- OSRM: travel times and distances from its table service, with a fallback --------
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OPORT=$(free_port)
$PY tests/lib/fake_osrm.py "$OPORT" "$T_TMP/osrm.log" & OSRM=$!
i=0; until curl -s -o /dev/null "http://127.0.0.1:$OPORT/" || [ $i -ge 25 ]; do sleep 0.2; i=$((i + 1)); done
sed "s|    time_limit: 2s|    time_limit: 2s\n    osrm_url: http://127.0.0.1:$OPORT|" "$C" >"$T_TMP/osrm.yaml"
D2=$D  # re-runs of D: every route but the started one ($KEEP) is planned again
expect_out 0 "travel table from OSRM" "with osrm_url the matrices come from OSRM" "$PURSER" -c "$T_TMP/osrm.yaml" run routing-job --date $D2
if [ -s "$T_TMP/osrm.log" ]; then t_ok "OSRM was asked ($(wc -l <"$T_TMP/osrm.log") table requests)"; else t_fail "OSRM was not asked"; fi
same "$(q "SELECT count(*) > 0 FROM routes WHERE business_date = '$D2' AND id <> $KEEP")" t "routes were planned"
same "$(q "SELECT count(*) FROM routes WHERE business_date = '$D2' AND id <> $KEEP AND distance_m <> 1000 * (stops + 1)")" 0 "route distances are OSRM's (1000 m per leg)"
kill $OSRM; wait $OSRM 2>/dev/null
expect_out 0 "did not answer for depot .*using great-circle distance x 1.30 at 25 km/h instead" "OSRM down: a clear fallback line" "$PURSER" -c "$T_TMP/osrm.yaml" run routing-job --date $D2
same "$(q "SELECT count(*) FROM routes WHERE business_date = '$D2' AND id <> $KEEP AND distance_m = 1000 * (stops + 1)")" 0 "and great-circle distances again"
t_done
