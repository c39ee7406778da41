# The host as a user meets it: the CLI, configuration errors, the plugin
# loader's refusals, migrations, the embedded cluster, foreground runs,
# install and an out-of-tree plugin build. Each check is one TAP line.
. tests/lib/testlib.sh
B=$PURSER_BUILD
TP="$PWD/$B/test-plugins"

# A configuration in a temp folder pointing at the build and a fresh db.
DB=$(fresh_db t_cli)
mkdir -p "$T_TMP/jobs" "$T_TMP/conf"
cat >"$T_TMP/conf/purser.yaml" <<YAML
database:
  url: "\${T_CLI_DB}"
plugins:
  dir: $PWD/$B/plugins
reports:
  output_dir: ../reports
jobs:
  dir: ../jobs
YAML
cat >"$T_TMP/jobs/example.yaml" <<YAML
jobs:
  greet:
    plugin: example
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    params: { sleep_ms: 0 }
YAML
export T_CLI_DB="$DB"
unset PURSER_DATABASE_URL
C="$T_TMP/conf/purser.yaml"

expect_out 0 '^purser [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\.[0-9]+\)$' "--version" "$PURSER" --version
expect_out 0 'Exit codes: 0 success, 1 runtime failure' "help documents exit codes" "$PURSER" help
expect_out 2 "unknown command 'frobnicate'" "unknown command exits 2" "$PURSER" -c "$C" frobnicate
expect_out 0 'plugins: [0-9]+ loaded' "check passes on a good setup" "$PURSER" -c "$C" check
expect_out 0 '^example +1\.0\.0 +1\.0 ' "plugins lists name, version, ABI" "$PURSER" -c "$C" plugins
expect_out 0 'plugins.example.greeting +string' "plugins --describe prints the config table" \
    "$PURSER" -c "$C" plugins --describe example

# --- configuration errors: one line, FILE:LINE:COLUMN, exit 2 -------------------
bad="$T_TMP/conf/bad.yaml"
printf 'database:\n  url: [unclosed\nplugins:\n  dir: x\n' >"$bad"
expect_out 2 "^.*bad\.yaml:[0-9]+:[0-9]+: " "broken YAML: FILE:LINE:COL, exit 2" "$PURSER" -c "$bad" check
same "$(printf '%s\n' "$T_OUT" | wc -l)" 1 "broken YAML: exactly one line"
printf 'databse:\n  url: x\n' >"$bad"
expect_out 2 "bad\.yaml:1:1: unknown key 'databse' \(did you mean 'database'\?\)" "unknown key with suggestion" "$PURSER" -c "$bad" check
printf 'runner:\n  workers: two\n' >"$bad"
expect_out 2 "bad\.yaml:2:12: key 'runner.workers': expected an integer, found 'two'" "type error with position" "$PURSER" -c "$bad" check
printf 'database:\n  url: ${T_CLI_UNSET_VARIABLE}\n' >"$bad"
expect_out 2 "environment variable 'T_CLI_UNSET_VARIABLE' is not set" "missing env var named" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  exampel:\n    greeting: hi\n' "$PWD/$B/plugins" >"$bad"
expect_out 2 "bad\.yaml:3:3: settings for plugin 'exampel', which is not loaded \(loaded: [a-z_, ]*example" "settings for an unknown plugin" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  example:\n    greting: hi\n' "$PWD/$B/plugins" >"$bad"
expect_out 2 "bad\.yaml:4:5: unknown key 'plugins.example.greting' \(did you mean 'greeting'\?\)" "unknown plugin setting with suggestion" "$PURSER" -c "$bad" check
expect_out 2 "nope\.yaml: configuration file not found" "missing config file" "$PURSER" -c "$T_TMP/nope.yaml" check
expect_out 2 "--log-format 'xml': expected text or json" "bad --log-format" "$PURSER" -c "$C" --log-format xml check

# --- the loader: every refusal is one line naming the file; check exits 2 -----
for f in bad_abi:"ABI mismatch: host 1.x, plugin 2.x" no_entry:"no entry point \[purser_plugin_entry\]" \
         not_elf:"not a loadable shared object: .*invalid ELF header" missing_fields:"descriptor fields missing: name, version"; do
    name=${f%%:*}; msg=${f#*:}
    printf 'plugins:\n  dir: %s\n  load: [%s, %s]\n' "$TP" "$PWD/$B/plugins/example.so" "$name.so" >"$bad"
    expect_out 2 "$TP/$name\.so: $msg" "check refuses $name.so with one line" "$PURSER" -c "$bad" check
    same "$(printf '%s\n' "$T_OUT" | grep -c "$name\.so")" 1 "$name.so named on exactly one line"
done
printf 'plugins:\n  dir: %s\n  load: [%s, example_copy.so]\n' "$TP" "$PWD/$B/plugins/example.so" >"$bad"
expect_out 2 "example_copy\.so: duplicate plugin name 'example' \(already loaded from .*example\.so\)" "duplicate plugin name refused" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  load: [needs_config.so]\n' "$TP" >"$bad"
expect_out 2 "plugin 'needs_config' needs the setting 'plugins.needs_config.endpoint'" "missing required plugin setting" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  load: [needs_config.so]\n  needs_config:\n    endpoint: x\n    batch_size: lots\n    providers:\n      stripe: { format: stripe }\n' "$TP" >"$bad"
expect_out 2 "key 'plugins.needs_config.batch_size': expected an integer, found 'lots'" "plugin setting type checked" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  load: [needs_config.so]\n  needs_config:\n    endpoint: x\n    providers:\n      stripe: { timeout: 5s }\n' "$TP" >"$bad"
expect_out 2 "missing required key 'plugins.needs_config.providers.stripe.format'" "required key under a wildcard" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  load: [failing_check.so]\n' "$TP" >"$bad"
expect_out 2 "\[failing_check\] definitions/broken.yaml:3:7: unknown column 'gmv'" "a plugin's own check fails purser check" "$PURSER" -c "$bad" check
printf 'plugins:\n  dir: %s\n  load: [future_minor.so]\n' "$TP" >"$bad"
expect_out 0 "future_minor +9\.9 +1\.5" "a plugin built against a newer minor loads" "$PURSER" -c "$bad" plugins

# --- jobs validation ----------------------------------------------------------
mkdir -p "$T_TMP/badjobs"
printf 'plugins:\n  dir: %s\njobs:\n  dir: %s\n' "$PWD/$B/plugins" "$T_TMP/badjobs" >"$bad"
printf 'jobs:\n  j1:\n    plugin: example\n    schedule: "@daily"\n    params: { sleep_ms: soon }\n' >"$T_TMP/badjobs/a.yaml"
expect_out 2 "a\.yaml:5:25: key 'jobs.j1.params.sleep_ms': expected an integer, found 'soon'" "job params checked against the plugin" "$PURSER" -c "$bad" check
printf 'jobs:\n  j1:\n    plugin: nosuch\n    schedule: "@daily"\n' >"$T_TMP/badjobs/a.yaml"
expect_out 2 "a\.yaml:3:13: job 'j1': no plugin named 'nosuch' is loaded" "job naming an unknown plugin" "$PURSER" -c "$bad" check
printf 'jobs:\n  j1:\n    plugin: example\n    schedule: "@daily"\n    timezone: Mars/Olympus\n' >"$T_TMP/badjobs/a.yaml"
expect_out 2 "unknown time zone 'Mars/Olympus'" "job with an unknown zone" "$PURSER" -c "$bad" check
printf 'jobs:\n  j1:\n    plugin: example\n    schedule: "@daily"\n    retries: { mx: 3 }\n' >"$T_TMP/badjobs/a.yaml"
expect_out 2 "unknown key 'jobs.j1.retries.mx' \(did you mean 'max'\?\)" "job keys checked with suggestion" "$PURSER" -c "$bad" check

# --- database: bad URL and unreachable server: one line, exit 1 ----------------
expect_out 1 "database.url: invalid connection string" "malformed database URL" env PURSER_DATABASE_URL="host=x port" "$PURSER" -c "$C" migrate
same "$(printf '%s\n' "$T_OUT" | wc -l)" 1 "malformed URL: one line"
expect_out 1 "database: cannot connect \(host=/nonexistent.*\): .*check database.url" "unreachable database" env PURSER_DATABASE_URL="host=/nonexistent port=1 dbname=x connect_timeout=2" "$PURSER" -c "$C" migrate
expect_out 1 "password=" "no password in messages (negative check)" sh -c "! env PURSER_DATABASE_URL='postgresql://u:sekret@/x?host=/nonexistent' '$PURSER' -c '$C' migrate 2>&1 | grep -q sekret && echo password= && exit 1"

# --- migrations ----------------------------------------------------------------
expect_out 0 "migrations: [0-9]+ applied, 0 already applied" "migrate applies core and plugin migrations" "$PURSER" -c "$C" migrate
expect_out 0 "migrations: 0 applied, [0-9]+ already applied" "migrate twice is a no-op" "$PURSER" -c "$C" migrate
sql "$DB" "UPDATE purser_migrations SET checksum = repeat('0', 64) WHERE owner = 'example'"
expect_out 1 "migration example/0001_example_greetings was applied with checksum 000000000000 but now has" "edited applied migration is an error" "$PURSER" -c "$C" migrate
DB2=$(fresh_db t_cli_badmig)
printf 'database:\n  url: "%s"\nplugins:\n  dir: %s\n  load: [bad_migration.so]\n' "$DB2" "$TP" >"$bad"
expect_out 1 "migration bad_migration/0002_fails failed: ERROR:  division by zero \(rolled back" "failing migration reported" "$PURSER" -c "$bad" migrate
same "$(sql "$DB2" "SELECT string_agg(id, ',' ORDER BY id) FROM purser_migrations WHERE owner = 'bad_migration'")" "0001_ok" "failing migration left nothing half-applied"
same "$(sql "$DB2" "SELECT to_regclass('bad_migration_half') IS NULL")" "t" "the failing migration's table is gone"

# --- runs ------------------------------------------------------------------------
sql "$DB" "UPDATE purser_migrations SET checksum = (SELECT checksum FROM purser_migrations WHERE false) WHERE false" >/dev/null
DB3=$(fresh_db t_cli_runs); export T_CLI_DB="$DB3"
"$PURSER" -c "$C" migrate >/dev/null 2>&1
expect_out 0 "run [0-9]+ succeeded: Hello, 2026-03-29!" "run a job for a date" "$PURSER" -c "$C" run greet --date 2026-03-29
same "$(cat "$T_TMP/reports/example_2026-03-29.txt")" "Hello, 2026-03-29!" "the run wrote its report in reports.output_dir"
same "$(sql "$DB3" "SELECT state || ' ' || business_date || ' ' || (interval_start AT TIME ZONE 'UTC') || ' ' || (interval_end AT TIME ZONE 'UTC') FROM purser_runs ORDER BY id DESC LIMIT 1")" "succeeded 2026-03-29 2026-03-28 23:00:00 2026-03-29 22:00:00" "run recorded with its date and data interval (Berlin midnights, DST day)"
expect_out 1 "run [0-9]+ failed: failed on purpose \(param fail=true\)" "a failing run exits 1" "$PURSER" -c "$C" run greet --param fail=true
expect_out 1 "plugin example crashed: signal 11 \(Segmentation fault\)" "a crashing plugin fails its run, not purser" "$PURSER" -c "$C" run greet --param crash=true
same "$(sql "$DB3" "SELECT state FROM purser_runs ORDER BY id DESC LIMIT 1")" "failed" "the crash is recorded as failed"
expect_out 2 "--param sleep_ms=soon: expected an integer" "bad --param type" "$PURSER" -c "$C" run greet --param sleep_ms=soon
expect_out 2 "--date '2026-02-30': expected a calendar date" "bad --date" "$PURSER" -c "$C" run greet --date 2026-02-30
expect_out 2 "no job named 'nosuch'" "unknown job" "$PURSER" -c "$C" run nosuch
expect_out 0 "dry run: would write" "--dry-run reaches the plugin" "$PURSER" -c "$C" run greet --dry-run
expect_out 0 "greet +2026-03-29 +succeeded" "history lists runs" "$PURSER" -c "$C" history greet
RID=$(sql "$DB3" "SELECT min(id) FROM purser_runs")
expect_out 0 "info +greeted 2026-03-29" "logs shows the child's log lines" "$PURSER" -c "$C" logs "$RID"
expect_out 0 '^\{"ts":"[0-9T:.-]+Z","level":"info","component":"example","run":[0-9]+,"msg":"greeted 2026-03-30' "--log-format json" "$PURSER" -c "$C" --log-format json run greet --date 2026-03-30

# --- the embedded cluster (in a temp folder) -----------------------------------
E="$T_TMP/emb"; mkdir -p "$E"
printf 'database:\n  embedded:\n    dir: %s/pg\n    port: %s\nplugins:\n  dir: %s\njobs:\n  dir: %s/jobs\nreports:\n  output_dir: %s/reports\n' \
    "$E" "$((PURSER_TEST_PGPORT + 1))" "$PWD/$B/plugins" "$T_TMP" "$E" >"$E/purser.yaml"
expect_out 3 "not created" "db status before anything" "$PURSER" -c "$E/purser.yaml" db status
expect_out 0 "embedded PostgreSQL running: host=" "db start creates and starts the cluster" "$PURSER" -c "$E/purser.yaml" db start
expect_out 0 "running" "db status after start" "$PURSER" -c "$E/purser.yaml" db status
expect_out 0 "embedded PostgreSQL running" "db start twice is fine" "$PURSER" -c "$E/purser.yaml" db start
expect_out 0 "migrations: [0-9]+ applied" "migrate against the embedded cluster" "$PURSER" -c "$E/purser.yaml" migrate
if [ "$(id -u)" = 0 ]; then
    # T_TMP is mode 0700: closed to the server user, so the cluster lives in
    # the folder that LOCATION names, owned by that user.
    loc=$(cat "$E/pg/LOCATION" 2>/dev/null)
    case "$loc" in /var/tmp/purser-pg-*) t_ok "closed folder: cluster placed in $loc";; *) t_fail "closed folder: LOCATION" "'$loc'";; esac
    same "$(stat -c %U "$loc/data")" "postgres" "as root the server runs as an unprivileged user"
    expect_out 0 "host=$loc " "db url names the real socket folder" "$PURSER" -c "$E/purser.yaml" db url
fi
expect_out 0 "stopped" "db stop" "$PURSER" -c "$E/purser.yaml" db stop
expect_out 0 "run [0-9]+ succeeded" "other commands start it on demand" "$PURSER" -c "$E/purser.yaml" run greet --date 2026-01-02
"$PURSER" -c "$E/purser.yaml" db stop >/dev/null 2>&1
case "${loc:-}" in /var/tmp/purser-pg-*) rm -rf "$loc";; esac

# --- install and an out-of-tree plugin -----------------------------------------
D="$T_TMP/dest"
run make -s install DESTDIR="$D" PREFIX=/opt/purser BUILD="$B" SANITIZE="${SANITIZE:-0}"
if [ "$T_RC" = 0 ] && [ -x "$D/opt/purser/bin/purser" ] && [ -f "$D/opt/purser/include/purser/plugin.h" ] \
   && [ -f "$D/opt/purser/lib/pkgconfig/purser-plugin.pc" ] && [ -f "$D/opt/purser/lib/purser/plugins/example.so" ]; then
    t_ok "make install puts binary, plugins, header and pkg-config file in place"
else
    t_fail "make install" "$T_OUT"
fi
sed "s|^prefix=.*|prefix=$D/opt/purser|" "$D/opt/purser/lib/pkgconfig/purser-plugin.pc" >"$T_TMP/purser-plugin.pc"
cp plugins/example/example.c "$T_TMP/my.c"
printf '#include "purser/plugin.h"\nconst purser_migration example_migrations[] = {{0}};\n' >"$T_TMP/mig.c"
sed -i 's/\.name = "example"/.name = "mine"/' "$T_TMP/my.c"
expect 0 "an integrator builds a plugin out of tree with pkg-config" sh -c \
    "cc -shared \$(PKG_CONFIG_PATH='$T_TMP' pkg-config --cflags purser-plugin) $(pkg-config --cflags libpq) '$T_TMP/my.c' '$T_TMP/mig.c' -o '$T_TMP/mine.so' -lpq"
printf 'plugins:\n  dir: %s\n' "$T_TMP" >"$bad"
expect_out 0 "^mine +1\.0\.0" "and purser loads it" "$PURSER" -c "$bad" plugins
t_done
