#!/bin/bash
# Load, reduced (the full run is `make load`, test/load/run.sh): nd_load
# opens 150 concurrent logged-in sessions, keeps them all open, and runs a
# mix of verified puts, gets, lists, stats and removes of small and medium
# files in each, in two phases.  No request may fail, every byte must
# verify both ways, the pool process must hold a descriptor per session
# while they are open and exactly its baseline after each phase, and (in a
# plain build) its RSS after phase 2 must stay within a tolerance of the
# RSS after phase 1.  Under sanitizers the load is smaller and the RSS is
# not judged (the sanitizers' own allocators and shadow memory dominate).
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# The build's sanitizers, from its CMake cache ("" for a plain build).
sanitize=$(nd_sanitizer)
case "$sanitize" in
*thread*)
    sessions=120 secs=8 medium=256:1024 rss_tol=-1 workers=4
    ;;
?*)
    sessions=150 secs=10 medium=256:1024 rss_tol=-1 workers=4
    ;;
*)
    sessions=150 secs=10 medium=256:2048 rss_tol=2048 workers=4
    ;;
esac
: "${LOAD_SESSIONS:=$sessions}"
: "${LOAD_SECONDS:=$secs}"
# The daemon holds two descriptors per logged-in session (the socket and
# the user's directory) and a few per transfer; nd_load one per session.
# Without the right to raise the hard limit, fewer sessions.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] &&
    [ "$hard" -lt $((2 * LOAD_SESSIONS + 4 * workers + 64)) ] &&
    ! ulimit -Hn $((2 * LOAD_SESSIONS + 4 * workers + 64)) 2>/dev/null; then
    LOAD_SESSIONS=$(((hard - 4 * workers - 64) / 2))
    say "# the hard descriptor limit is $hard: only $LOAD_SESSIONS sessions"
    [ "$LOAD_SESSIONS" -ge 10 ] || fail "descriptor limit $hard too low"
fi
say "# build sanitizers: ${sanitize:-none}; $LOAD_SESSIONS sessions, 2 phases of $LOAD_SECONDS s"

limit=$((LOAD_SESSIONS + 64))
nd_start "workers = $workers;" "queue_capacity = $limit;" \
    "max_connections = $limit;" "max_per_ip = $limit;" \
    'idle_timeout = 600;' 'login_timeout = 300;' 'log_level = "info";'
pool=$(pgrep -P "$ND_PID" | head -n 1) || true
[ -n "$pool" ] || fail "no pool process under netdiskd $ND_PID"

bound=$((2 * (LOAD_SECONDS + 2 * 60 + 60) + 60))
rc=0
timeout -k 5 "$bound" "$ND_TEST_BIN/nd_load" --port "$ND_PORT" --pid "$pool" \
    --sessions "$LOAD_SESSIONS" --phases 2 --seconds "$LOAD_SECONDS" \
    --medium "$medium" --rss-tol-kb "$rss_tol" >"$T/load.out" \
    2>"$T/load.err" || rc=$?
sed 's/^/# /' "$T/load.out"
sed 's/^/# stderr: /' "$T/load.err" | head -n 30

assert_eq 0 "$rc" "nd_load passed all its checks (exit status)"
summary=$(grep '^summary ' "$T/load.out" || true)
field() { printf '%s\n' "$summary" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
assert_eq 0 "$(field failed)" "no request or login failed"
assert_eq 0 "$(field checks_failed)" "no check of nd_load failed"
up=$(field up_bytes)
down=$(field down_bytes)
check "file bytes were verified both ways (up ${up:-?}, down ${down:-?})" \
    test "${up:-0}" -gt 0 -a "${down:-0}" -gt 0
for p in 1 2; do
    check "phase $p: all $LOAD_SESSIONS sessions were open at once" \
        grep -q "^ok - phase $p: $LOAD_SESSIONS of $LOAD_SESSIONS sessions open at once" \
        "$T/load.out"
    check "phase $p: the pool process's descriptors came back to the baseline" \
        grep -q "^ok - phase $p: descriptors back to the baseline" \
        "$T/load.out"
done
if [ "$rss_tol" -ge 0 ]; then
    check "RSS after phase 2 within $rss_tol KiB of after phase 1" \
        grep -q '^ok - RSS after phase 2 ' "$T/load.out"
fi
check "the same pool process served throughout (no crash, no restart)" \
    test "$(pgrep -P "$ND_PID" | head -n 1)" = "$pool"
assert_no_temps "no .netdisk-* temporary file left after the load"
# Expected warnings: serving as root, and GET/STAT of the files nd_load
# removed on purpose (it checks that those answer NOENT).
grep -E '\] (error|warn): ' "$ND_LOG" |
    grep -vE 'serving as root|op=(get|stat) .*result="refused: No such file or directory"' \
        >"$T/unexpected" || true
check "no unexpected warning or error in the daemon log ($(wc -l <"$T/unexpected"))" \
    test ! -s "$T/unexpected"
sed 's/^/#   /' "$T/unexpected" | head -n 10
nd_stop
nd_done
