#!/bin/bash
# Load test (make load): starts netdiskd on a free loopback port with a
# throw-away root and config, and runs test/nd_load against it: by default
# 500 concurrent logged-in sessions, all open for the whole run, each doing
# verified puts, gets, lists, stats and removes of small and medium files,
# in two phases of 60 s.  nd_load samples the pool process's VmRSS, VmHWM
# and open descriptors before, during and after each phase and checks that
# nothing failed, every byte verified, the descriptors came back to the
# baseline exactly, and the RSS after phase 2 is within LOAD_RSS_TOL_KB of
# the RSS after phase 1 (phase 1 warms the allocator up).
#
# usage: test/load/run.sh BUILD_DIR
#
# Environment (all optional):
#   LOAD_SESSIONS    concurrent sessions (500)
#   LOAD_SECONDS     seconds of requests per phase (60)
#   LOAD_PHASES      phases (2)
#   LOAD_WORKERS     the daemon's worker threads (4, its default)
#   LOAD_RSS_TOL_KB  allowed RSS growth after phase 1, KiB (2048; -1: off)
#   LOAD_MEDIUM      medium file sizes, KMIN:KMAX in KiB (256:4096)
#   LOAD_SMALL       small file sizes, KMIN:KMAX in KiB (1:64)
#   LOAD_OP_TIMEOUT  deadline of each request, seconds (60)
#   LOAD_KEEP        1: keep the daemon's directory (root, log) afterwards
#
# Exit status: 0 when every check passed; 1 when one failed (a failed
# request, a byte mismatch, a descriptor leak, RSS growth, a daemon that did
# not stop cleanly or logged a sanitizer report); 2 on a setup error.
# Only processes this script started are stopped, by pid.
set -Eeuo pipefail

BUILD=${1:-${BUILD:-build}}
SESSIONS=${LOAD_SESSIONS:-500}
SECONDS_PER_PHASE=${LOAD_SECONDS:-60}
PHASES=${LOAD_PHASES:-2}
WORKERS=${LOAD_WORKERS:-4}
RSS_TOL_KB=${LOAD_RSS_TOL_KB:-2048}
MEDIUM=${LOAD_MEDIUM:-256:4096}
SMALL=${LOAD_SMALL:-1:64}
OP_TIMEOUT=${LOAD_OP_TIMEOUT:-60}
KEEP=${LOAD_KEEP:-0}
USER_NAME=loader

say() { printf 'load: %s\n' "$*"; }
die() {
    say "error: $*" >&2
    exit 2
}

for v in SESSIONS SECONDS_PER_PHASE PHASES WORKERS OP_TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer: '${!v}'"
done
[[ $RSS_TOL_KB =~ ^(-1|[0-9]+)$ ]] || die "LOAD_RSS_TOL_KB: '$RSS_TOL_KB'"
for b in netdiskd test/nd_load; do
    [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing: build first (make load does)"
done
BUILD=$(cd "$BUILD" && pwd)

# ---- descriptors -----------------------------------------------------------
# The generator holds one socket per session.  The daemon holds two per
# logged-in session (the socket and the user's directory), two or three
# more per transfer in progress (the file, its directory, a temporary
# file) and a dozen of its own.  Both inherit this shell's limits (the
# daemon raises its soft limit to the hard one).  As root the hard limit
# can be raised; otherwise fewer sessions run.
need=$((2 * SESSIONS + 4 * WORKERS + 64))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    if ulimit -Hn "$need" 2>/dev/null; then
        hard=$need
    else
        fit=$(((hard - 4 * WORKERS - 64) / 2))
        if [ "$fit" -lt 10 ]; then
            die "the hard descriptor limit is $hard: too low for any load (run as root or raise ulimit -Hn)"
        fi
        say "NOTE: the hard descriptor limit is $hard and cannot be raised" \
            "(not root): running $fit sessions instead of $SESSIONS"
        SESSIONS=$fit
        need=$((2 * SESSIONS + 4 * WORKERS + 64))
    fi
fi
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$hard"
fi
say "descriptor limits: soft $(ulimit -Sn), hard $(ulimit -Hn)"

# ---- a throw-away daemon ---------------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/nd-load.XXXXXX")
CONF=$T/netdiskd.conf
LOG=$T/daemon.log
PASSWORD="load-$RANDOM-$RANDOM-$RANDOM"
DPID=
GPID=

cleanup() {
    local rc=$? i
    set +e
    trap - EXIT
    if [ -n "$GPID" ] && kill -0 "$GPID" 2>/dev/null; then
        kill -TERM "$GPID" 2>/dev/null
        wait "$GPID" 2>/dev/null
    fi
    if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
        kill -TERM "$DPID" 2>/dev/null
        for ((i = 0; i < 300; i++)); do
            kill -0 "$DPID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$DPID" 2>/dev/null; then
            say "netdiskd $DPID ignored SIGTERM for 30 s: SIGKILL"
            kill -KILL "$DPID" 2>/dev/null
        fi
        wait "$DPID" 2>/dev/null
    fi
    if [ "$KEEP" = 1 ]; then
        say "kept $T"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every request a session may queue fits in the queue; every session and a
# few spare fit under both connection limits.
LIMIT=$((SESSIONS + 64))
QUEUE=$((LIMIT > 65536 ? 65536 : LIMIT))
{
    printf 'listen = "127.0.0.1";\nport = 0;\n'
    printf 'root = "%s";\nusers_file = "%s";\n' "$T/store" "$T/users"
    printf 'workers = %d;\nqueue_capacity = %d;\n' "$WORKERS" "$QUEUE"
    printf 'max_connections = %d;\nmax_per_ip = %d;\n' "$LIMIT" "$LIMIT"
    # Sessions wait, idle, while the others log in and finish.
    printf 'idle_timeout = 900;\nlogin_timeout = 300;\n'
    printf 'shutdown_timeout = 10;\nlog_level = "info";\n'
    if [ "$(id -u)" -eq 0 ]; then
        printf 'allow_root = true;\n'
    fi
} >"$CONF"
mkdir "$T/store"
# Disk: each session keeps at most three small files and a medium one,
# plus an upload in progress; the generator checks every byte, so a full
# disk would show as failed requests, not as a clear message.
kmax() { printf '%s' "${1#*:}"; }
[[ $(kmax "$SMALL") =~ ^[0-9]+$ && $(kmax "$MEDIUM") =~ ^[0-9]+$ ]] ||
    die "LOAD_SMALL and LOAD_MEDIUM are KMIN:KMAX in KiB"
need_kb=$((SESSIONS * (3 * $(kmax "$SMALL") + 2 * $(kmax "$MEDIUM")) + 65536))
free_kb=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
    die "$T has $((free_kb / 1024)) MiB free; $SESSIONS sessions may need $((need_kb / 1024)) MiB (set TMPDIR, or lower LOAD_SESSIONS or LOAD_MEDIUM)"
fi
printf '%s\n' "$PASSWORD" |
    "$BUILD/netdiskd" -c "$CONF" user add "$USER_NAME" >/dev/null 2>"$T/useradd.err" ||
    die "netdiskd user add: $(cat "$T/useradd.err")"

: >"$LOG"
"$BUILD/netdiskd" -c "$CONF" >>"$LOG" 2>&1 </dev/null &
DPID=$!
PORT=
for ((i = 0; i < 100; i++)); do
    PORT=$(sed -n 's/.* listening on .*:\([0-9][0-9]*\)$/\1/p' "$LOG" | head -n 1)
    [ -n "$PORT" ] && grep -q ' ready' "$LOG" && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ] || ! grep -q ' ready' "$LOG"; then
    tail -n 20 "$LOG" >&2
    die "netdiskd did not start"
fi
POOL=$(pgrep -P "$DPID" | head -n 1) || true
[ -n "$POOL" ] || die "no pool process under netdiskd $DPID"
say "netdiskd $DPID (pool process $POOL) on 127.0.0.1:$PORT, $WORKERS workers, root $T/store"

# ---- the load ----------------------------------------------------------------
# Bounded: logins, the phases, the last requests and the settling.
BOUND=$((PHASES * (SECONDS_PER_PHASE + 2 * OP_TIMEOUT + 60) + 120))
say "$SESSIONS sessions, $PHASES phases of $SECONDS_PER_PHASE s (bound ${BOUND} s)"
grc=0
NETDISK_USER=$USER_NAME NETDISK_PASSWORD=$PASSWORD \
    timeout -k 10 "$BOUND" "$BUILD/test/nd_load" --port "$PORT" --pid "$POOL" \
    --sessions "$SESSIONS" --phases "$PHASES" --seconds "$SECONDS_PER_PHASE" \
    --op-timeout "$OP_TIMEOUT" --small "$SMALL" --medium "$MEDIUM" \
    --rss-tol-kb "$RSS_TOL_KB" &
GPID=$!
wait "$GPID" || grc=$?
GPID=
[ "$grc" -ne 124 ] || say "nd_load did not finish within $BOUND s"

# ---- the daemon afterwards ---------------------------------------------------
bad=0
if ! kill -0 "$POOL" 2>/dev/null; then
    say "not ok - the pool process $POOL is gone (crashed or restarted)"
    bad=1
fi
t0=$SECONDS
kill -TERM "$DPID"
drc=timeout
for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$DPID" 2>/dev/null; then
        drc=0
        wait "$DPID" || drc=$?
        break
    fi
    sleep 0.1
done
if [ "$drc" = 0 ]; then
    DPID=
    say "ok - SIGTERM: netdiskd exited 0 in $((SECONDS - t0)) s"
else
    say "not ok - SIGTERM: netdiskd exit status $drc"
    bad=1
fi
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$LOG"; then
    say "not ok - sanitizer report in the daemon log:"
    head -n 40 "$LOG"
    bad=1
fi
# Expected: the root warning, and the refusals of GET and STAT of files the
# generator removed on purpose (it checks those answer NOENT).
unexpected() {
    grep -E '\] (error|warn): ' "$LOG" |
        grep -vE 'serving as root|op=(get|stat) .*result="refused: No such file or directory"' ||
        true
}
nerr=$(unexpected | wc -l)
say "daemon log: $(wc -l <"$LOG") lines, $nerr unexpected at level warn or error"
unexpected | head -n 10 | sed 's/^/load:   /'
if [ "$grc" -ne 0 ] || [ "$bad" -ne 0 ]; then
    say "FAIL (nd_load exit $grc)"
    exit 1
fi
say "PASS"
