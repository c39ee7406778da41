# The libFuzzer harness of intake_http's body validators and signature
# checks (tests/fuzz/fuzz_intake.c), run for a short fixed number of
# iterations from the seed corpus (plus the webhook fixtures when present).
# `make fuzz` runs it for longer. Skipped when clang is missing.
. tests/lib/testlib.sh
FUZZ="$PWD/$PURSER_BUILD/fuzz/fuzz_intake"
SRC="tests/fuzz/fuzz_intake.c plugins/intake_http/intake_json.c plugins/intake_http/intake_validate.c plugins/intake_http/intake_sig.c"
RUNS=${FUZZ_RUNS:-3000}
if ! command -v clang >/dev/null 2>&1; then
    t_skip "fuzz the intake validators" "clang is not installed"
    t_done
fi
stale=0
[ -x "$FUZZ" ] || stale=1
for f in $SRC plugins/intake_http/intake_internal.h; do [ "$f" -nt "$FUZZ" ] && stale=1; done
if [ $stale = 1 ]; then
    mkdir -p "$(dirname "$FUZZ")"
    expect 0 "the fuzz harness builds (clang -fsanitize=fuzzer,address,undefined)" \
        clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Icore/include $SRC -lcjson -lcrypto -o "$FUZZ"
fi
mkdir -p "$T_TMP/corpus"
seeds="tests/fuzz/corpus/intake"
[ -d "${PURSER_FIXTURES:-../shared/fixtures}/webhooks" ] && seeds="$seeds ${PURSER_FIXTURES:-../shared/fixtures}/webhooks"
run env ASAN_OPTIONS=detect_leaks=1 "$FUZZ" -runs="$RUNS" -seed=1 -max_len=16384 -timeout=10 "$T_TMP/corpus" $seeds
if [ "$T_RC" = 0 ] && printf '%s\n' "$T_OUT" | grep -q "^Done $RUNS runs"; then
    t_ok "$RUNS fuzz iterations: no crash, leak or broken invariant"
else
    t_fail "$RUNS fuzz iterations: no crash, leak or broken invariant" "$(printf '%s\n' "$T_OUT" | tail -n 30)"
fi
t_done
