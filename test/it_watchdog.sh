#!/bin/bash
# The watchdog: kill -9 of the pool process brings up a new one within 10 s
# that serves, keeps the stored data, and sweeps temporary upload files
# (planted ones and one left by an upload the crash interrupted) without
# following symlinks out of the root.  Then SIGTERM still exits 0.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

mkdir "$T/in" "$T/out" "$T/outside"
nd_start
child=$(pool_of)
[ -n "$child" ] || fail "netdiskd $ND_PID has no pool process"
assert_eq 1 "$(pgrep -P "$ND_PID" | wc -l)" "the watchdog has exactly one pool process"
mkrand "$T/in/keep" 500000
assert_exit 0 nd put "$T/in/keep" keep/keep.bin

# Temporary files a crash could leave: in a subdirectory and at the top;
# and one beyond a symlink, which the sweep must not follow.
mkdir -p "$ROOT/sub/deeper"
printf 'stale\n' >"$ROOT/sub/deeper/.netdisk-stale"
printf 'stale\n' >"$ROOT/.netdisk-stale2"
printf 'not ours\n' >"$T/outside/.netdisk-keepme"
ln -s ../outside "$ROOT/outlink"

# An upload in flight when the pool dies leaves its temp file behind.
mkrand "$T/in/slow" $((16 * 1024 * 1024))
nd_raw slowput "$T/in/slow" sub/slow.bin 1024 >"$T/slow.out" 2>"$T/slow.err" &
slow_pid=$!
slow_temp() { [ -n "$(find "$ROOT/sub" -maxdepth 1 -name '.netdisk-*')" ]; }
wait_for 10 slow_temp || fail "the slow upload's temp file never appeared"
ok "an upload is in flight (its .netdisk-* temp file exists)"

restarts_before=$(grep -c 'restarting' "$ND_LOG" || true)
readies_before=$(grep -c ' ready' "$ND_LOG" || true)
kill -KILL "$child"
t0=$SECONDS
new_child() {
    local c
    c=$(pool_of)
    [ -n "$c" ] && [ "$c" != "$child" ]
}
if wait_for 10 new_child; then
    ok "a new pool process ($(pool_of)) replaced the killed one ($child) in $((SECONDS - t0)) s"
else
    fail "no new pool process within 10 s of kill -9"
fi
check "the watchdog itself is still running" nd_alive "$ND_PID"
new_ready() { [ "$(grep -c ' ready' "$ND_LOG")" -gt "$readies_before" ]; }
check "the new pool process logged 'ready'" wait_for 10 new_ready
check "the watchdog logged the restart ('restarting')" \
    test "$(grep -c 'restarting' "$ND_LOG" || true)" -gt "$restarts_before"
src=0
wait "$slow_pid" || src=$?
check "the upload cut by the crash failed at the client" test "$src" -ne 0
check "the interrupted upload stored nothing" test ! -e "$ROOT/sub/slow.bin"

nd_roundtrip "after restart"
assert_exit 0 nd get keep/keep.bin "$T/out/keep"
check "a file stored before the crash is intact" cmp -s "$T/in/keep" "$T/out/keep"
check "the planted stale temp file in a subdirectory was swept" \
    test ! -e "$ROOT/sub/deeper/.netdisk-stale"
check "the planted stale temp file at the top was swept" \
    test ! -e "$ROOT/.netdisk-stale2"
assert_no_temps "no .netdisk-* file is left (incl. the interrupted upload's)"
check "the sweep did not follow a symlink out of the root" \
    test -f "$T/outside/.netdisk-keepme"
check "the planted directories and symlink are untouched" \
    test -d "$ROOT/sub/deeper" -a -L "$ROOT/outlink"

# A second crash is survived too (back-off stays well under 10 s).
child=$(pool_of)
readies_before=$(grep -c ' ready' "$ND_LOG" || true)
kill -KILL "$child"
t0=$SECONDS
if wait_for 10 new_child; then
    ok "a second kill -9 is also recovered from in $((SECONDS - t0)) s"
else
    not_ok "a second kill -9 is also recovered from within 10 s"
fi
wait_for 10 new_ready || true
nd_roundtrip "after the second restart"

child=$(pool_of)
nd_stop
check "the pool process is gone too" nd_dead "$child"

# Repeated crashes back off: the delay before each restart doubles (100 ms
# after the first crash within 60 s, then 200, 400, ...), and the sixth
# crash within 60 s makes the watchdog give up and exit 1 instead of
# looping.  A fresh daemon, so that its 60 s window starts here.
nd_start
t0=$SECONDS
readies() { [ "$(grep -c ' ready' "$ND_LOG")" -gt "$1" ]; }
for i in 1 2 3 4 5; do
    child=$(pool_of)
    kill -KILL "$child"
    wait_for 10 new_child || fail "crash $i: no new pool process within 10 s"
    wait_for 10 readies "$i" || fail "crash $i: the new pool is not ready"
done
delays=$(grep -oE 'restarting in [0-9]+ ms' "$ND_LOG" | grep -oE '[0-9]+' |
    tr '\n' ' ')
assert_eq "100 200 400 800 1600 " "$delays" \
    "five crashes in $((SECONDS - t0)) s: restart delays double (ms: $delays)"
child=$(pool_of)
kill -KILL "$child"
nd_wait_exit "$ND_PID" 10
assert_eq 1 "$ND_RC" "the sixth crash within 60 s: the watchdog gives up, exit 1"
check_log "...and says so" 'died 6 times within 60s: giving up'
check "...and leaves no pool process" nd_dead "$child"
nd_done
