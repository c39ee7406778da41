# `purser next` as a user meets it: fire instants in a zone across the 2026
# DST changes, --from with Z, an offset or local time, the config's zone as
# the default, the exit-2 refusals; and `purser check` flagging a schedule.
. tests/lib/testlib.sh
B=$PURSER_BUILD

mkdir -p "$T_TMP/conf" "$T_TMP/jobs"
cat >"$T_TMP/conf/purser.yaml" <<YAML
plugins:
  dir: $PWD/$B/plugins
jobs:
  dir: ../jobs
timezone: America/New_York
YAML
C="$T_TMP/conf/purser.yaml"

run "$PURSER" next "30 2 * * *" --tz Europe/Berlin --from 2026-03-28T00:00:00Z --count 3
same "$T_OUT" "2026-03-28T02:30:00+01:00
2026-03-29T03:00:00+02:00
2026-03-30T02:30:00+02:00" "Berlin spring-forward: a 02:30 slot fires at 03:00 CEST"

run "$PURSER" next "30 2 * * *" --tz Europe/Berlin --from 2026-10-24T12:00:00Z --count 2
same "$T_OUT" "2026-10-25T02:30:00+02:00
2026-10-26T02:30:00+01:00" "Berlin fall-back: a 02:30 slot fires once, at its first occurrence"

run "$PURSER" next "0 * * * *" --tz America/New_York --from 2026-11-01T00:30:00 --count 4
same "$T_OUT" "2026-11-01T01:00:00-04:00
2026-11-01T01:00:00-05:00
2026-11-01T02:00:00-05:00
2026-11-01T03:00:00-05:00" "hourly job fires in both copies of the repeated hour (local --from)"

run "$PURSER" next "@daily" --tz Asia/Tokyo --from 2026-01-01T00:00:00+09:00 --count 1
same "$T_OUT" "2026-01-01T00:00:00+09:00" "--from with an offset is included"

run "$PURSER" -c "$C" next "0 9 * * MON" --from 2026-01-01T00:00:00Z --count 1
same "$T_OUT" "2026-01-05T09:00:00-05:00" "--tz defaults to the config's timezone"

run "$PURSER" next "*/20 * * * *" --tz UTC --from 2026-01-01T00:00:00Z
same "$(printf '%s\n' "$T_OUT" | wc -l | tr -d ' ')" 5 "--count defaults to 5"

expect_out 2 "field 2 \(hour\): 24 is out of range 0-23" "a bad expression exits 2" \
    "$PURSER" next "0 24 * * *" --tz UTC
expect_out 2 "@reboot is not supported" "@reboot is refused" "$PURSER" next "@reboot" --tz UTC
expect_out 2 "unknown time zone 'Mars/Base'" "a bad zone exits 2" \
    "$PURSER" next "0 0 * * *" --tz Mars/Base
expect_out 2 "--from '2026-02-30': expected an ISO-8601 time" "a bad date exits 2" \
    "$PURSER" next "0 0 * * *" --tz UTC --from 2026-02-30
expect_out 2 "never fires" "a schedule that never fires exits 2" \
    "$PURSER" next "0 0 30 2 *" --tz UTC
expect_out 2 "quote the schedule as one argument" "an unquoted schedule is explained" \
    "$PURSER" next 0 0 '*' '*' '*'
same "$(printf '%s\n' "$T_OUT" | wc -l | tr -d ' ')" 1 "a refusal is one line"

cat >"$T_TMP/jobs/bad.yaml" <<YAML
jobs:
  nightly:
    plugin: example
    schedule: "0 24 * * *"
YAML
expect_out 2 "bad.yaml:4:15: job 'nightly': schedule '0 24 \* \* \*': field 2 \(hour\): 24 is out of range 0-23" \
    "check reports a bad schedule at its position" "$PURSER" -c "$C" check
cat >"$T_TMP/jobs/bad.yaml" <<YAML
jobs:
  nightly:
    plugin: example
    schedule: "0 0 30 2 *"
YAML
expect_out 2 "bad.yaml:4:15: job 'nightly': schedule '0 0 30 2 \*': never fires" \
    "check flags a schedule that never fires" "$PURSER" -c "$C" check
t_done
