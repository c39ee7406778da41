# The web page over HTTP (`purser serve`, curl): every authorisation rule —
# logged-out requests go to the login page, finance cannot act on jobs
# (403), forged or missing CSRF tokens are refused, traversal and symlink
# attempts get 404, intake tokens cannot log in, logins are rate-limited —
# plus downloads byte for byte, the audit trail, sessions stored as
# hashes, security headers, HTML escaping and `purser user`.
. tests/lib/testlib.sh
B=$PURSER_BUILD
DB=$(fresh_db t_web)
PY=/usr/bin/python3
HPORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U=http://127.0.0.1:$HPORT
mkdir -p "$T_TMP/jobs" "$T_TMP/reports"
cat >"$T_TMP/purser.yaml" <<YAML
database:
  url: "$DB"
plugins:
  dir: $PWD/$B/plugins
  load: [example.so, intake_http.so]
reports:
  output_dir: $T_TMP/reports
jobs:
  dir: $T_TMP/jobs
http:
  listen: 127.0.0.1:$HPORT
web:
  login_attempts: 5
  login_window: 10m
YAML
cat >"$T_TMP/jobs/nightly.yaml" <<'YAML'
jobs:
  nightly:
    plugin: example
    description: "Greets <script>alert(1)</script> & friends"
    schedule: "0 3 * * *"
    catchup: none
    params: { fail: true }
YAML
C="$T_TMP/purser.yaml"
unset PURSER_DATABASE_URL
P() { "$PURSER" -c "$C" "$@"; }
q() { sql "$DB" "$1"; }
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$T_TMP"' EXIT

P migrate >/dev/null 2>&1 || { t_fail "migrate"; t_done; }

# ---- purser user ----------------------------------------------------------------
expect_out 0 "user fin added with role finance" "user add (password from stdin)" sh -c "echo 'fin-pass-1' | '$PURSER' -c '$C' user add fin --role finance"
echo 'ops-pass-1' | P user add op --role ops >/dev/null 2>&1
echo 'adm-pass-1' | P user add adm --role admin >/dev/null 2>&1
echo 'gone-pass-1' | P user add gone --role ops >/dev/null 2>&1
expect_out 2 "exists already" "adding a user twice is refused" sh -c "echo 'fin-pass-2' | '$PURSER' -c '$C' user add fin --role finance"
expect_out 2 "expected finance, ops or admin" "an unknown role is refused" sh -c "echo 'whatever-1' | '$PURSER' -c '$C' user add x --role boss"
expect_out 2 "shorter than 8" "a short password is refused" sh -c "echo 'short' | '$PURSER' -c '$C' user add x --role ops"
expect_out 2 "expected 1 to 64" "a bad user name is refused" sh -c "echo 'whatever-1' | '$PURSER' -c '$C' user add 'a b' --role ops"
expect_out 0 "^adm +admin" "user list names users and roles" P user list
same "$(q "SELECT password_hash LIKE 'scrypt\$15\$8\$1\$%' AND position('fin-pass-1' in password_hash) = 0 FROM web_users WHERE name = 'fin'")" t "only a scrypt hash of the password is stored"

# ---- a failed run and some workbooks ------------------------------------------------
P backfill nightly --from 2026-01-02 --to 2026-01-02 >/dev/null 2>&1
RUN=$(q "SELECT id FROM purser_runs WHERE job = 'nightly' AND state = 'failed'")
[ -n "$RUN" ] && t_ok "a failed run to work with (run $RUN)" || t_fail "no failed run"
R="$T_TMP/reports"
head -c 20000 /dev/urandom >"$R/reconciliation_stripe_2026-01-02.xlsx"
head -c 3000 /dev/urandom >"$R/settlement_2026-01-02.xlsx"
echo "top secret" >"$T_TMP/secret.txt"
ln -s "$T_TMP/secret.txt" "$R/settlement_2026-01-03.xlsx"
ln -s /etc/passwd "$R/evil_2026-01-02.xlsx"
echo partial >"$R/settlement_2026-01-04.xlsx.17.tmp"

"$PURSER" -c "$C" serve >"$T_TMP/serve.log" 2>&1 & SERVER=$!
i=0; until curl -sf "$U/healthz" >/dev/null || [ $i -ge 75 ]; do sleep 0.2; i=$((i + 1)); done

# get JAR PATH [curl args]: CODE, BODY (file $T_TMP/body), headers in $T_TMP/hdr
get() {
    jar=$1; p=$2; shift 2
    CODE=$(curl -s -o "$T_TMP/body" -D "$T_TMP/hdr" -w '%{http_code}' -b "$T_TMP/$jar" -c "$T_TMP/$jar" "$@" "$U$p")
}
# post JAR PATH FORM [curl args]
post() {
    jar=$1; p=$2; form=$3; shift 3
    CODE=$(curl -s -o "$T_TMP/body" -D "$T_TMP/hdr" -w '%{http_code}' -b "$T_TMP/$jar" -c "$T_TMP/$jar" \
        --data "$form" "$@" "$U$p")
}
hdr() { tr -d '\r' <"$T_TMP/hdr" | sed -n "s/^$1: //Ip" | head -n 1; }
csrf() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T_TMP/body" | head -n 1; }
# login JAR USER PASSWORD [EXTRA]: the form's cookie and token first
login() {
    get "$1" /login
    post "$1" /login "csrf=$(csrf)&user=$2&password=$3${4:-}"
}

# ---- logged out -------------------------------------------------------------------------
get anon /reports
same "$CODE $(hdr Location)" "303 /login?next=%2Freports" "logged out: /reports redirects to the login page"
get anon /reports/2026-01-02/reconciliation_stripe_2026-01-02.xlsx
same "$CODE $(hdr Location)" "303 /login?next=%2Freports%2F2026-01-02%2Freconciliation_stripe_2026-01-02.xlsx" "logged out: a download redirects to login (and back after it)"
get anon /jobs
same "$CODE" 303 "logged out: /jobs redirects"
post anon "/runs/$RUN/retry" "csrf=x"
same "$CODE $(hdr Location)" "303 /login" "logged out: a POST action redirects to login"
same "$(q "SELECT state FROM purser_runs WHERE id = $RUN")" failed "...and does nothing"
get anon /login
same "$CODE" 200 "the login page is public"
expect_out 0 "frame-ancestors 'none'" "CSP with frame-ancestors 'none'" hdr Content-Security-Policy
expect_out 0 "default-src 'self'" "CSP default-src 'self'" hdr Content-Security-Policy
same "$(hdr X-Content-Type-Options)" nosniff "X-Content-Type-Options: nosniff"
same "$(hdr X-Frame-Options)" DENY "X-Frame-Options: DENY"
if grep -qi "<script" "$T_TMP/body"; then t_fail "no script on the login page"; else t_ok "no script on the login page"; fi

# ---- logging in --------------------------------------------------------------------------------
post fresh /login "user=fin&password=fin-pass-1&csrf=0000"
same "$CODE" 403 "a login without the form's cookie and token is refused"
login fin fin wrong-password
same "$CODE" 401 "a wrong password is refused (401)"
login fin fin fin-pass-1
same "$CODE $(hdr Location)" "303 /reports" "finance logs in"
cookie=$(tr -d '\r' <"$T_TMP/hdr" | grep -i '^Set-Cookie: purser_session=')
case "$cookie" in *HttpOnly*SameSite=Strict*) t_ok "session cookie is HttpOnly and SameSite=Strict" ;; *) t_fail "session cookie attributes" "$cookie" ;; esac
SID=$(awk '$6 == "purser_session" { print $7 }' "$T_TMP/fin")
same "$(q "SELECT count(*) FROM web_sessions WHERE encode(id_sha256, 'hex') = encode(sha256('$SID'::bytea), 'hex')")" 1 "only the SHA-256 of the session id is stored"
same "$(q "SELECT count(*) FROM web_sessions WHERE position('$SID' in encode(id_sha256, 'escape')) > 0")" 0 "the session id itself is not"
login nx fin fin-pass-1 "&next=%2Freports%2F2026-01-02%2Fsettlement_2026-01-02.xlsx"
same "$(hdr Location)" "/reports/2026-01-02/settlement_2026-01-02.xlsx" "after login, back to the bookmarked address"
login nx2 fin fin-pass-1 "&next=%2F%2Fevil.example"
same "$(hdr Location)" "/reports" "next=//host is not followed (no open redirect)"

# ---- reports and downloads ----------------------------------------------------------------------
get fin /reports
same "$CODE" 200 "finance sees the reports page"
expect_out 0 "Reconciliation: stripe" "the reconciliation workbook is listed with its kind" cat "$T_TMP/body"
expect_out 0 'href="/reports/2026-01-02/settlement_2026-01-02.xlsx"' "a bookmarkable link per workbook" cat "$T_TMP/body"
expect_out 0 "19.5 KiB" "with its size" cat "$T_TMP/body"
if grep -q "evil_\|2026-01-03\|\.tmp" "$T_TMP/body"; then t_fail "symlinks and temporary files are not listed"; else t_ok "symlinks and temporary files are not listed"; fi
get fin /reports/2026-01-02/reconciliation_stripe_2026-01-02.xlsx
same "$CODE" 200 "download answers 200"
same "$(hdr Content-Type)" "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" "with the xlsx Content-Type"
same "$(hdr Content-Disposition)" 'attachment; filename="reconciliation_stripe_2026-01-02.xlsx"' "as an attachment with its name"
if cmp -s "$T_TMP/body" "$R/reconciliation_stripe_2026-01-02.xlsx"; then t_ok "the bytes are the file's"; else t_fail "downloaded bytes differ"; fi

for path in \
    "/reports/2026-01-02/..%2f..%2fsecret.txt" \
    "/reports/2026-01-02/%2e%2e" \
    "/reports/2026-01-02/%2e%2e%2fsecret.txt" \
    "/reports/2026-01-02/%252e%252e%252fsecret.txt" \
    "/reports/2026-01-02/../../secret.txt" \
    "/reports/../../secret.txt" \
    "/reports/2026-01-02/..%5c..%5csecret.txt" \
    "/reports/2026-01-03/settlement_2026-01-03.xlsx" \
    "/reports/2026-01-02/evil_2026-01-02.xlsx" \
    "/reports/2026-01-03/reconciliation_stripe_2026-01-02.xlsx" \
    "/reports/2026-01-04/settlement_2026-01-04.xlsx.17.tmp" \
    "/reports/2026-01-02/.%2fsettlement_2026-01-02.xlsx"; do
    get fin "$path" --path-as-is
    if [ "$CODE" = 404 ] && ! grep -q "top secret\|root:" "$T_TMP/body"; then t_ok "404: $path"; else t_fail "traversal $path" "got $CODE"; fi
done

# ---- finance may look at jobs, not act -----------------------------------------------------------
get fin /jobs
same "$CODE" 200 "finance sees the jobs page"
FCSRF=$(csrf)
if grep -q ">Re-run<" "$T_TMP/body"; then t_fail "finance gets no Re-run button"; else t_ok "finance gets no Re-run button"; fi
expect_out 0 "Greets &lt;script&gt;alert\(1\)&lt;/script&gt; &amp; friends" "job descriptions are HTML-escaped" cat "$T_TMP/body"
if grep -q "<script>alert" "$T_TMP/body"; then t_fail "raw script in the page"; else t_ok "no raw script in the page"; fi
post fin "/runs/$RUN/retry" "csrf=$FCSRF"
same "$CODE" 403 "finance cannot re-run a run (403), even with a valid token"
post fin /jobs/nightly/pause "csrf=$FCSRF"
same "$CODE" 403 "finance cannot pause a job"
post fin /jobs/nightly/backfill "csrf=$FCSRF&from=2026-01-05&to=2026-01-05"
same "$CODE" 403 "finance cannot backfill"
get fin /audit
same "$CODE" 403 "finance cannot read the audit trail"
same "$(q "SELECT state || ' ' || attempt FROM purser_runs WHERE id = $RUN")" "failed 1" "the run is untouched"

# ---- ops: CSRF, then the actions -------------------------------------------------------------------
login op op ops-pass-1
same "$CODE" 303 "ops logs in"
get op /jobs
OCSRF=$(csrf)
expect_out 0 ">Re-run<" "ops gets a Re-run button for the failed run" cat "$T_TMP/body"
post op "/runs/$RUN/retry" "x=1"
same "$CODE" 403 "a POST without a CSRF token is refused"
post op "/runs/$RUN/retry" "csrf=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
same "$CODE" 403 "a forged CSRF token is refused"
post op "/runs/$RUN/retry" "csrf=$FCSRF"
same "$CODE" 403 "another session's CSRF token is refused"
same "$(q "SELECT state FROM purser_runs WHERE id = $RUN")" failed "refused requests changed nothing"
get op "/runs/$RUN/retry"
same "$CODE" 405 "actions are POST only (GET: 405)"
post op "/runs/$RUN/retry" "csrf=$OCSRF"
same "$CODE $(hdr Location)" "303 /runs/$RUN?notice=queued" "ops re-runs the failed run"
same "$(q "SELECT state || ' ' || attempt FROM purser_runs WHERE id = $RUN")" "pending 2" "the run is queued for attempt 2 (as purser retry does)"
post op "/runs/$RUN/retry" "csrf=$OCSRF"
same "$CODE" 409 "a run that is not failed cannot be re-run"
post op /jobs/nightly/pause "csrf=$OCSRF"
same "$CODE $(q "SELECT paused FROM purser_jobs WHERE job = 'nightly'")" "303 t" "ops pauses a job"
get op /jobs
expect_out 0 ">Resume<" "the page offers to resume it" cat "$T_TMP/body"
post op /jobs/nightly/resume "csrf=$OCSRF"
same "$CODE $(q "SELECT paused FROM purser_jobs WHERE job = 'nightly'")" "303 f" "ops resumes it"
post op /jobs/nosuch/pause "csrf=$OCSRF"
same "$CODE" 404 "an unknown job is 404"
post op /jobs/nightly/backfill "csrf=$OCSRF&from=2026-01-09&to=2026-01-05"
same "$CODE" 400 "a backfill with from after to is refused"
post op /jobs/nightly/backfill "csrf=$OCSRF&from=2026-01-05&to=2026-01-07"
same "$CODE $(q "SELECT count(*) FROM purser_runs WHERE job = 'nightly' AND kind = 'backfill' AND state = 'pending' AND business_date BETWEEN '2026-01-04' AND '2026-01-07'")" "303 3" "ops plans a backfill: three pending slots"
get op "/runs/$RUN"
expect_out 0 "retry requested by an operator" "the run page shows the run and its message" cat "$T_TMP/body"
get op /audit
same "$CODE" 403 "ops cannot read the audit trail"

# ---- intake tokens cannot log in -----------------------------------------------------------------------
TOKEN=$(P token create shop-1 2>/dev/null)
login tok shop-1 "$TOKEN"
same "$CODE" 401 "an intake token cannot log in (as name and password)"
get tok2 /reports -H "Authorization: Bearer $TOKEN"
same "$CODE" 303 "nor as a bearer token"

# ---- the audit trail (admin) ------------------------------------------------------------------------------
login adm adm adm-pass-1
get adm /audit
same "$CODE" 200 "admin reads the audit trail"
for what in "fin|login|t" "fin|download|t" "fin|forbidden|f" "op|csrf_refused|f" "op|retry|t" "op|pause|t" "op|resume|t" "op|backfill|t" "fin|login_failed|f" "shop-1|login_failed|f"; do
    u=${what%%|*}; rest=${what#*|}; a=${rest%|*}; ok=${rest#*|}
    n=$(q "SELECT count(*) FROM web_audit WHERE username = '$u' AND action = '$a' AND ok = '$ok' AND at > now() - interval '10 minutes'")
    [ "$n" -ge 1 ] 2>/dev/null && t_ok "audited: $u $a" || t_fail "audited: $u $a" "rows: $n"
done
same "$(q "SELECT count(*) FROM web_audit WHERE action = 'download' AND target = '2026-01-02/reconciliation_stripe_2026-01-02.xlsx' AND address = '127.0.0.1' AND role = 'finance'")" 1 "a download records who, what, from where"

# ---- rate limit ---------------------------------------------------------------------------------------------
for i in 1 2 3 4 5; do login rl adm "wrong-$i"; done
same "$CODE" 401 "five wrong passwords: 401 each"
login rl adm adm-pass-1
same "$CODE" 429 "then even the right password is refused (429)"
[ -n "$(hdr Retry-After)" ] && t_ok "with Retry-After" || t_fail "Retry-After missing"
same "$(q "SELECT count(*) FROM web_audit WHERE action = 'login_limited' AND username = 'adm'")" 1 "the refusal is audited"
get adm /audit
same "$CODE" 200 "an existing session is not affected"

# ---- logout, user removal --------------------------------------------------------------------------------------
get fin /reports
post fin /logout "csrf=$(csrf)"
same "$CODE $(hdr Location)" "303 /login" "logout"
get fin /reports
same "$CODE" 303 "after logout the page asks to log in again"
same "$(q "SELECT count(*) FROM web_sessions s JOIN web_users u ON u.id = s.user_id WHERE u.name = 'fin' AND encode(id_sha256, 'hex') = encode(sha256('$SID'::bytea), 'hex')")" 0 "the session is deleted"
get op /jobs
expect_out 0 "password changed" "user passwd" sh -c "echo 'ops-pass-2' | '$PURSER' -c '$C' user passwd op"
get op /jobs
same "$CODE" 303 "a new password ends the user's sessions"
login op2 op ops-pass-1
same "$CODE" 401 "the old password no longer works"
login op2 op ops-pass-2
same "$CODE" 303 "the new one does"
login gone gone gone-pass-1
expect_out 0 "user gone removed" "user remove" P user remove gone
get gone /jobs
same "$CODE" 303 "a removed user's session no longer works"
expect_out 2 "no user named" "removing twice says so" P user remove gone
t_done
