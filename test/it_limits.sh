#!/bin/bash
# Resource limits: out of file descriptors, the reactor pauses accepting
# instead of spinning on a listener it cannot accept from, and serves again
# once descriptors free up; at max_connections a further client is refused
# with BUSY, and served again once the others left.
#
# The first daemon runs under `prlimit --nofile=48:48`: netdiskd raises its
# soft limit to the hard one at start, so only a low hard limit makes
# accept(2) fail with EMFILE.  nd_start is used unchanged, through a
# directory whose netdiskd is a wrapper that execs prlimit, which execs the
# real netdiskd (so $ND_PID is still the daemon's pid, and the EXIT trap
# stops it as usual).  The client, run through $ND_BIN afterwards, has no
# such limit.
#
# The descriptors are used up by connections that are never logged in:
# each `nd_rawclient stall - SECS` connects and then waits, silent, for the
# server to close (it gives up after SECS s).  Those the daemon accepted
# each hold one of its fds; the rest wait in the listen backlog (511), where
# connect(2) has already succeeded.  A few logged-in sessions
# (`nd_rawclient idle`, which must be served: its HELLO waits for a reply)
# come first, while fds are still free.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

NOFILE=48
# Connections opened against the limited daemon: well over what 48 fds
# can hold, well under the listen backlog.
LOGGED_IN=6
STALLED=74
# How long the stalled clients wait at most (they are stopped earlier).
STALL_SECS=60
hz=$(getconf CLK_TCK)

command -v prlimit >/dev/null || fail "prlimit (util-linux) is not installed"

REAL_BIN=$ND_BIN
mkdir "$T/limited"
cat >"$T/limited/netdiskd" <<EOF
#!/bin/sh
exec prlimit --nofile=$NOFILE:$NOFILE "$REAL_BIN/netdiskd" "\$@"
EOF
chmod +x "$T/limited/netdiskd"

log_has() { grep -qF -- "$1" "$ND_LOG"; }

# Background clients of this test, stopped by pid.
STALL_PIDS=()
stop_stalls() {
    local p
    for p in "${STALL_PIDS[@]+"${STALL_PIDS[@]}"}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${STALL_PIDS[@]+"${STALL_PIDS[@]}"}"; do
        wait "$p" 2>/dev/null || true
    done
    STALL_PIDS=()
}

# ---- accept() out of fds: EMFILE -------------------------------------------
ND_BIN=$T/limited nd_start 'max_connections = 1000;' 'max_per_ip = 1000;' \
    'idle_timeout = 30;'
pool=$(pool_of "$ND_PID")
[ -n "$pool" ] || fail "no pool process under netdiskd $ND_PID"
lim=$(awk '/^Max open files/ { print $4 ":" $5 }' "/proc/$pool/limits")
assert_eq "$NOFILE:$NOFILE" "$lim" "the pool process runs with nofile $NOFILE:$NOFILE"
say "# the pool process holds $(fd_count "$pool") fds at rest"
nd_roundtrip "limited daemon, before the flood"

if nd_idle_hold "$LOGGED_IN" 90; then
    ok "$LOGGED_IN logged-in idle sessions are open"
else
    fail "$LOGGED_IN logged-in idle sessions are open: $(cat "$T/idle.err")"
fi
for ((i = 0; i < STALLED; i++)); do
    "$ND_TEST_BIN/nd_rawclient" 127.0.0.1 "$ND_PORT" stall - "$STALL_SECS" \
        >/dev/null 2>&1 &
    STALL_PIDS+=($!)
done
if wait_for 20 log_has 'accept() failed: Too many open files; pausing for 1s'; then
    ok "the daemon logs: accept() failed: Too many open files; pausing for 1s"
else
    not_ok "the daemon logs: accept() failed: Too many open files; pausing for 1s"
    nd_show_log
fi
say "# the pool process holds $(fd_count "$pool") fds (limit $NOFILE; an fd inherited from the caller counts too)"
# The connections it could not accept wait in the listen queue (Recv-Q of
# a listening socket), where no timeout of ours touches them.
if command -v ss >/dev/null; then
    queued=$(ss -Hltn "sport = :$ND_PORT" | awk '{ print $2; exit }')
    if [ -n "$queued" ] && [ "$queued" -gt 0 ]; then
        ok "$queued connections wait in the listen backlog, unaccepted"
    else
        not_ok "connections wait in the listen backlog, unaccepted: Recv-Q '${queued}'"
    fi
fi
# Saturated: the listener still has connections queued that cannot be
# accepted.  A reactor that spun on it would burn a full CPU second per
# second; one that pauses wakes once a second.
pauses0=$(grep -c 'accept() failed: Too many open files' "$ND_LOG" || true)
c0=$(nd_cpu_ticks "$pool")
sleep 3
c1=$(nd_cpu_ticks "$pool")
pauses1=$(grep -c 'accept() failed: Too many open files' "$ND_LOG" || true)
used=$((c1 - c0))
say "# pool CPU over 3 s while saturated: $used ticks (CLK_TCK $hz), $((pauses1 - pauses0)) more pauses logged"
if [ "$pauses1" -gt "$pauses0" ]; then
    ok "accepting stayed paused and retried during those 3 s ($((pauses1 - pauses0)) more pauses)"
else
    not_ok "accepting stayed paused and retried during those 3 s: no new pause logged"
fi
if [ "$used" -lt 100 ]; then
    ok "no spin while out of fds: $used ticks of CPU in 3 s (bound 100)"
else
    not_ok "no spin while out of fds: $used ticks of CPU in 3 s (bound 100)"
fi
check "the daemon is still alive while saturated" nd_alive "$ND_PID"
check "the pool process is still alive while saturated" nd_alive "$pool"

# Release everything: the stalled clients, then the idle sessions.
stop_stalls
irc=0
nd_idle_release || irc=$?
if [ "$irc" -eq 0 ]; then
    ok "the logged-in idle sessions lasted through the flood ($(cat "$T/idle.out"))"
else
    not_ok "the logged-in idle sessions lasted through the flood: exit $irc: $(cat "$T/idle.out" "$T/idle.err")"
fi
ls_ok() { nd ls >/dev/null 2>&1; }
check "once fds are free a client is served again" wait_for 15 ls_ok
nd_roundtrip "after EMFILE"
check "the same pool process serves (no restart)" \
    test "$(pool_of "$ND_PID")" = "$pool"
nd_stop

# ---- max_connections ---------------------------------------------------------
nd_start 'max_connections = 3;' 'max_per_ip = 1000;' 'idle_timeout = 30;'
if nd_idle_hold 3 60; then
    ok "max_connections = 3: three idle sessions are open"
else
    fail "max_connections = 3: three idle sessions are open: $(cat "$T/idle.err")"
fi
ND_WHAT="a fourth connection: the client exits 4" assert_exit 4 nd ls
check "...saying \"server busy\"" grep -q 'server busy' "$ND_ERR"
if nd_raw busy >"$T/busy.out" 2>"$T/busy.err"; then
    ok "a raw fourth connection gets ERROR BUSY, then a close ($(cat "$T/busy.out"))"
else
    not_ok "a raw fourth connection gets ERROR BUSY, then a close: $(cat "$T/busy.err")"
fi
check "the daemon logs max_connections" log_has 'max_connections reached'
irc=0
nd_idle_release || irc=$?
if [ "$irc" -eq 0 ] && grep -q '(0 closed by the server)' "$T/idle.out"; then
    ok "the three sessions were kept meanwhile ($(cat "$T/idle.out"))"
else
    not_ok "the three sessions were kept meanwhile: exit $irc: $(cat "$T/idle.out" "$T/idle.err")"
fi
check "after they close, a client is served again" wait_for 10 ls_ok
nd_roundtrip "after max_connections"
nd_stop
nd_done
