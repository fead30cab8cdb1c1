#!/bin/bash
# Faults (issue 5): a client killed mid-transfer frees its worker at once,
# is logged, and leaves no descriptor open in the pool process; the whole
# daemon killed with SIGKILL during a put and a get leaves only whole files,
# and after a restart both transfers resume; a full disk fails a put with
# NOSPC, keeps no partial, and the daemon goes on serving.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

MIB=$((1024 * 1024))
PROXY=$ND_TEST_BIN/nd_faultproxy
mkdir -p "$T/in" "$T/out"
mkrand "$T/in/big" $((24 * MIB))
big_md5=$(md5_of "$T/in/big")

# px_start ARGS...: a proxy in front of the daemon; PX_PORT, PX_PID.
PX_N=0
px_start() {
    PX_N=$((PX_N + 1))
    rm -f "$T/px.$PX_N.port"
    "$PROXY" --to "$ND_PORT" --port-file "$T/px.$PX_N.port" --timeout 120 \
        "$@" 2>>"$T/px.err" &
    PX_PID=$!
    wait_for 10 test -s "$T/px.$PX_N.port" ||
        fail "the proxy did not start: $(tail -n 3 "$T/px.err" 2>/dev/null | tr '\n' ' ')"
    PX_PORT=$(cat "$T/px.$PX_N.port")
}
px_stop() {
    kill -TERM "$PX_PID" 2>/dev/null || true
    wait "$PX_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
say "# 1. clients killed mid-transfer, one worker"
nd_start 'workers = 1;'
pool=$(pool_of)
assert_exit 0 nd put "$T/in/big" big.bin
assert_exit 0 nd ls
base_fds=$(fds_at_rest "$pool")
say "# pool process $pool holds $base_fds descriptors between requests"
fds_back() { [ "$(fd_count "$pool")" -eq "$base_fds" ]; }

# A get read at 256 KiB/s, killed once it has a few chunks.
log_mark
# Started directly, so that $! is the client itself (the EXIT trap stops
# it if the test ends early).
"$ND_TEST_BIN/nd_rawclient" 127.0.0.1 "$ND_PORT" slowget big.bin 256 \
    "$T/out/slow" >/dev/null 2>&1 &
kpid=$!
slow_started() { [ "$(fsize "$T/out/slow")" -gt 0 ]; }
wait_for 10 slow_started || not_ok "the slow get received nothing"
check "during the slow get the pool holds more descriptors" \
    test "$(fd_count "$pool")" -gt "$base_fds"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null || true
check_new "the killed get is logged as an aborted transfer" \
    'op=get path="big\.bin" .*result="send failed'
check "...and the pool process is back to $base_fds descriptors" \
    wait_for 10 fds_back
# With the one worker held, this would wait; it is served at once.
assert_exit 0 nd get big.bin "$T/out/after-get"
check "the one worker serves the next get in full (cmp)" \
    cmp -s "$T/in/big" "$T/out/after-get"

# A plain (not resumable) put sent at 256 KiB/s, killed.
log_mark
"$ND_TEST_BIN/nd_rawclient" 127.0.0.1 "$ND_PORT" slowput "$T/in/big" \
    raw.bin 256 >/dev/null 2>&1 &
kpid=$!
raw_temp() { nd_has_temps "$ROOT"; }
wait_for 10 raw_temp || not_ok "the slow put's temporary file never appeared"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null || true
check_new "the killed put is logged as an aborted transfer" \
    'op=put path="raw\.bin" .*result="connection lost'
check "...its temporary file is gone" wait_for 10 nd_no_temps
check "...nothing is stored under its name" test ! -e "$ROOT/raw.bin"
check "...and the pool process is back to $base_fds descriptors" \
    wait_for 10 fds_back

# The real client's put (resumable), slowed by the proxy, killed.
px_start --conn 1 --split 65536 --delay-ms 20 --max-conns 1
log_mark
timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$PX_PORT" put \
    "$T/in/big" kept.bin >/dev/null 2>&1 &
kpid=$!
partial_some() {
    [ -n "$(find "$ROOT/.netdisk-partial" -type f -size +512k 2>/dev/null)" ]
}
wait_for 20 partial_some || not_ok "the slow put's partial never grew"
pkill -KILL -P "$kpid" netdisk || not_ok "no client to kill"
wait "$kpid" 2>/dev/null || true
px_stop
check_new "the killed client's put is logged, its partial kept" \
    'op=put path="kept\.bin" .*result="connection lost; partial kept for resume'
check "...and the pool process is back to $base_fds descriptors" \
    wait_for 10 fds_back
log_mark
assert_exit 0 nd put "$T/in/big" kept.bin
check_new "the same put then resumes (from > 0)" \
    'op=put path="kept\.bin" from=[1-9][0-9]* .*result=ok'
assert_eq "$big_md5" "$(md5_of "$ROOT/kept.bin")" "kept.bin is whole"
nd_stop

# ---------------------------------------------------------------------------
say "# 2. the whole daemon killed (SIGKILL) during a put and a get"
port=$(nd_free_port) || fail "no free port"
nd_start 'workers = 2;' "port = $port;"
assert_exit 0 nd put "$T/in/big" old.bin
mkrand "$T/in/new" $((24 * MIB))
# Both slowed by one proxy (every connection), so both are in flight; the
# proxy keeps its port across the restart, since a resumed get names its
# server by port.
px_port=$(nd_free_port) || fail "no free port"
px_start --conn 0 --split 65536 --delay-ms 10 --listen-port "$px_port"
timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$PX_PORT" put \
    "$T/in/new" old.bin >/dev/null 2>&1 &
put_pid=$!
(
    cd "$T/out" || exit 1
    # The crash ends it with status 3; that is the point.
    timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$PX_PORT" get \
        old.bin crash.bin >/dev/null 2>&1 || true
) &
get_pid=$!
wait_for 20 partial_some || not_ok "the put's partial never grew"
part_some() { [ "$(fsize "$T/out/crash.bin.part")" -gt $((MIB / 2)) ]; }
wait_for 20 part_some || not_ok "the get's .part never grew"
nd_crash
wait "$put_pid" 2>/dev/null || true
wait "$get_pid" 2>/dev/null || true
px_stop
check "the get kept its .part and state" \
    test -f "$T/out/crash.bin.part" -a -f "$T/out/crash.bin.part.state"
assert_eq "$big_md5" "$(md5_of "$ROOT/old.bin")" \
    "old.bin is still the whole old version"
check "no temporary file beside it" \
    test -z "$(find "$ROOT" -name '.netdisk-*' -type f)"

nd_launch "$ND_CONF"
check "the restarted daemon has the same port" test "$ND_PORT" = "$port"
assert_exit 0 nd ls -R
check "ls -R after the crash shows no partial or temporary file" \
    test -z "$(grep -e 'netdisk' "$ND_OUT" || true)"
log_mark
px_start --conn 0 --listen-port "$px_port"
if ! (cd "$T/out" && timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 \
    -p "$PX_PORT" get old.bin crash.bin); then
    not_ok "the resumed get failed"
fi
px_stop
check_new "after the restart the get resumes (from > 0)" \
    'op=get path="old\.bin" from=[1-9][0-9]* .*result=ok'
check "...and ends byte-identical to the old version it started on (cmp)" \
    cmp -s "$T/in/big" "$T/out/crash.bin"
log_mark
assert_exit 0 nd put "$T/in/new" old.bin
check_new "after the restart the put resumes (from > 0)" \
    'op=put path="old\.bin" from=[1-9][0-9]* .*result=ok'
assert_eq "$(md5_of "$T/in/new")" "$(md5_of "$ROOT/old.bin")" \
    "old.bin is now the whole new version"

# ---------------------------------------------------------------------------
say "# 2b. the whole daemon killed while renames run"
# mv is renameat2 in one step, so whenever the kill lands, exactly one of
# the two names holds the whole file afterwards.  The kills are spread
# over the life of a session, so some land before, some during, some
# after the RENAME.
mkrand "$T/in/mv" $((1 * MIB))
mv_md5=$(md5_of "$T/in/mv")
assert_exit 0 nd put "$T/in/mv" mv-a
whole=0 moved=0
for ((i = 0; i < 10; i++)); do
    if [ -e "$ROOT/mv-a" ]; then from=mv-a to=mv-b; else from=mv-b to=mv-a; fi
    timeout -k 5 30 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" mv \
        "$from" "$to" >/dev/null 2>&1 &
    mv_pid=$!
    sleep "0.00$((i % 10))"
    nd_crash
    wait "$mv_pid" 2>/dev/null || true
    n=0
    for f in mv-a mv-b; do
        if [ -e "$ROOT/$f" ] && [ "$(md5_of "$ROOT/$f")" = "$mv_md5" ]; then
            n=$((n + 1))
        fi
    done
    [ "$n" -eq 1 ] && whole=$((whole + 1))
    [ -e "$ROOT/$to" ] && moved=$((moved + 1))
    # Quiet, not sent to /dev/null: a failed launch must say why.
    ND_LAUNCH_QUIET=1 nd_launch "$ND_CONF"
done
say "# the rename had happened before the kill in $moved of 10 rounds"
assert_eq 10 "$whole" "after 10 kills during mv, exactly one name holds the whole file each time"
nd_stop

# ---------------------------------------------------------------------------
say "# 3. disk full: the storage root on a 16 MiB tmpfs"
mkdir -p "$T/probe"
if [ "$(id -u)" -ne 0 ] ||
    ! unshare -m --propagation private \
        mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
    say "# skipped: needs root and a tmpfs in a private mount namespace"
    nd_done
fi
cat >"$T/inns.sh" <<EOF
#!/bin/sh
mkdir -p "$T/small" && mount -t tmpfs -o size=16m tmpfs "$T/small" || exit 97
exec "\$@"
EOF
chmod +x "$T/inns.sh"
DROOT=$T/small
ROOT=$DROOT/$ND_USER
nd_start 'workers = 2;'
# nd_start launched it plainly; start it again inside the namespace.
nd_stop
nd_launch "$ND_CONF" unshare -m --propagation private "$T/inns.sh"
in_ns() { nsenter -t "$ND_PID" -m "$@"; }
mkrand "$T/in/small" $((4 * MIB))
assert_exit 0 nd put "$T/in/small" small.bin
check "the daemon's root is the small tmpfs (seen from its namespace)" \
    test "$(in_ns stat -f -c %T "$ROOT")" = tmpfs -a \
    "$(in_ns md5sum "$ROOT/small.bin" | cut -d' ' -f1)" = "$(md5_of "$T/in/small")"
log_mark
assert_exit 4 nd put "$T/in/big" full.bin
check "the client says the server has no space" \
    grep -qi "no space" "$ND_ERR"
check_new "the daemon logged the failed write" \
    'op=put path="full\.bin" .*result="write failed: No space left'
check "nothing named full.bin, no temporary or partial file" \
    test -z "$(in_ns find "$ROOT" -type f ! -name small.bin)"
assert_exit 0 nd get small.bin "$T/out/small"
check "the daemon still serves gets (cmp)" cmp -s "$T/in/small" "$T/out/small"
in_ns rm -f "$ROOT/small.bin"
assert_exit 0 nd put "$T/in/small" again.bin
check "once space is free, puts work again" \
    test "$(in_ns md5sum "$ROOT/again.bin" | cut -d' ' -f1)" = "$(md5_of "$T/in/small")"
nd_stop
nd_done
