# shellcheck shell=bash
# Shared helpers for the integration tests (test/it_*.sh), sourced first:
#
#   . "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"
#
# Environment (set by ctest): ND_BIN holds netdiskd and netdisk, ND_TEST_BIN
# holds nd_rawclient, ND_TEST_SRC is this directory.
#
# Every test gets a private directory $T (removed on exit).  The daemon's
# storage root is $DROOT; the test user $ND_USER (password $ND_PASSWORD,
# created by nd_start through `netdiskd user add`, as an operator would)
# keeps its files in $ROOT = $DROOT/$ND_USER, so $ROOT is what the client
# sees.  NETDISK_USER and NETDISK_PASSWORD are exported, so the client and
# the raw client log in as that user.  nd_start starts a daemon on a
# kernel-chosen loopback port
# ($ND_PORT, pid $ND_PID, log $ND_LOG); the EXIT trap stops, by pid, only
# the daemons and background jobs this test started.  Checks print
# "ok - ..." or "not ok - ..."; nd_done prints "N passed, M failed" and
# exits, non-zero on any failure.  Oracles are md5sum and cmp only.
set -Eeuo pipefail

: "${ND_TEST_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${ND_BIN:?ND_BIN must name the directory holding netdiskd and netdisk}"
: "${ND_TEST_BIN:=$ND_BIN/test}"
export LC_ALL=C.UTF-8

T=$(mktemp -d "${TMPDIR:-/tmp}/nd-it.XXXXXX")
DROOT=$T/store
ND_USER=tester
ND_PASSWORD="pw-$RANDOM-$RANDOM"
ND_USERS=$T/users
ROOT=$DROOT/$ND_USER
mkdir -p "$ROOT"
export NETDISK_USER=$ND_USER NETDISK_PASSWORD=$ND_PASSWORD
# The client must not pick up the settings of whoever runs the tests: no
# ~/.config/netdisk/client.conf, no NETDISK_* variables but the two above.
export XDG_CONFIG_HOME=$T/xdg
unset NETDISK_CONFIG NETDISK_HOST NETDISK_PORT NETDISK_TLS NETDISK_CACERT
ND_PASS=0
ND_FAIL=0
ND_DONE=0
ND_ABORTED=0
ND_PID=
ND_PORT=
ND_LOG=
ND_CONF=
ND_STARTS=0
ND_RC=
LOG_MARK=0
# Where assert_exit leaves the command's output.
ND_OUT=$T/cmd.out
ND_ERR=$T/cmd.err
ND_DAEMONS=()
# Seconds any one client command may take before it counts as hung.
: "${ND_CMD_TIMEOUT:=120}"

say() { printf '%s\n' "$*"; }

# Shortens a command line for a check's description.
nd__show() {
    local s="$*"
    if [ "${#s}" -gt 100 ]; then
        s="${s:0:97}..."
    fi
    printf '%s' "$s"
}

ok() {
    ND_PASS=$((ND_PASS + 1))
    say "ok - $*"
}

# Records a failed check and carries on with the next one.
not_ok() {
    ND_FAIL=$((ND_FAIL + 1))
    say "not ok - $*"
}

# A failed precondition: record it, show the daemon's log, stop the test.
fail() {
    not_ok "$*"
    nd_show_log
    ND_ABORTED=1
    exit 1
}

nd_show_log() {
    if [ -n "$ND_LOG" ] && [ -f "$ND_LOG" ]; then
        say "# last lines of $ND_LOG:"
        tail -n 30 "$ND_LOG" | sed 's/^/#   /'
    fi
}

# check WHAT cmd...: ok when cmd succeeds.
check() {
    local what=$1
    shift
    if "$@"; then
        ok "$what"
    else
        not_ok "$what"
    fi
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    local what=${3:-"\"$2\" = \"$1\""}
    if [ "$1" == "$2" ]; then
        ok "$what"
    else
        not_ok "$what: expected \"$1\", got \"$2\""
    fi
}

# assert_exit CODE cmd...: runs cmd (output in $ND_OUT and $ND_ERR)
# and checks its exit status.  ND_WHAT, when set, describes the check.
assert_exit() {
    local want=$1 rc=0 what
    shift
    what=${ND_WHAT:-"exit $want: $(nd__show "$@")"}
    "$@" >"$ND_OUT" 2>"$ND_ERR" || rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$what"
    else
        not_ok "$what (exit $rc)"
        sed 's/^/#   stderr: /' "$ND_ERR" | head -n 5
    fi
}

# wait_for SECS cmd...: polls cmd every 0.1 s until it succeeds; fails once
# SECS seconds have passed (measured on the clock, however long cmd takes).
wait_for() {
    local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
    shift
    while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
        if "$@"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# True while pid runs (a zombie awaiting wait does not count).
nd_alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) ||
        return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

nd_dead() { ! nd_alive "$1"; }

mkrand() { head -c "$2" /dev/urandom >"$1"; }
md5_of() { md5sum <"$1" | cut -d' ' -f1; }

# The temporary upload files (.netdisk-*) under DIR (default $ROOT).
# nd_temps [DIR]: temporary files of uploads (.netdisk-*) and the partial
# files kept for resumable uploads (in .netdisk-partial/), one per line.
nd_temps() {
    find "${1:-$ROOT}" -type f \( -name '.netdisk-*' -o \
        -path '*/.netdisk-partial/*' \) -print
}
nd_no_temps() { [ -z "$(nd_temps "${1:-$ROOT}")" ]; }
nd_has_temps() { ! nd_no_temps "${1:-$ROOT}"; }

# assert_no_temps [WHAT]: no .netdisk-* file anywhere in the root.
assert_no_temps() {
    local left
    left=$(nd_temps)
    if [ -z "$left" ]; then
        ok "${1:-no .netdisk-* temporary file in the root}"
    else
        not_ok "${1:-no .netdisk-* temporary file in the root}: found" \
            "$(printf '%s' "$left" | tr '\n' ' ')"
    fi
}

# nd_start [CONFIG LINE...]: writes a config (a line "key = value;" replaces
# that key's default) and starts the daemon, waiting (10 s at most) for its
# port and for the pool process to be ready.
nd_start() {
    local defaults=(
        'listen = "127.0.0.1";'
        'port = 0;'
        'workers = 2;'
        "root = \"$DROOT\";"
        "users_file = \"$ND_USERS\";"
        'login_delay_ms = 100;'
        'idle_timeout = 10;'
        'shutdown_timeout = 10;'
        'log_level = "debug";'
    )
    # The tests run as root on CI machines; serving as root is then allowed
    # explicitly (it_privdrop covers dropping privileges).
    if [ "$(id -u)" -eq 0 ]; then
        defaults+=('allow_root = true;')
    fi
    local line key extra i
    ND_STARTS=$((ND_STARTS + 1))
    if [ "$ND_STARTS" -eq 1 ]; then
        ND_CONF=$T/netdiskd.conf
        ND_LOG=$T/daemon.log
    else
        ND_CONF=$T/netdiskd.$ND_STARTS.conf
        ND_LOG=$T/daemon.$ND_STARTS.log
    fi
    : >"$ND_CONF"
    for line in "${defaults[@]}"; do
        key=${line%% *}
        for extra in "$@"; do
            if [[ $extra =~ ^[[:space:]]*${key}[[:space:]]*[=:] ]]; then
                continue 2
            fi
        done
        printf '%s\n' "$line" >>"$ND_CONF"
    done
    for extra in "$@"; do
        printf '%s\n' "$extra" >>"$ND_CONF"
    done
    nd_user_add "$ND_USER" "$ND_PASSWORD"
    nd_launch "$ND_CONF"
}

# nd_launch CONF [LAUNCHER...]: starts netdiskd -c CONF, through LAUNCHER
# (such as prlimit or setpriv) when given, logging to $ND_LOG; sets ND_PID
# and ND_PORT and waits (10 s at most) for the port and for the pool
# process to be ready.  The daemon is stopped at exit like nd_start's.
nd_launch() {
    local conf=$1 i
    shift
    # Created here, not by the background job's redirection, so the polling
    # below never races the child to the file.
    : >"$ND_LOG"
    "$@" "$ND_BIN/netdiskd" -c "$conf" 2>>"$ND_LOG" &
    ND_PID=$!
    ND_DAEMONS+=("$ND_PID")
    ND_PORT=
    for ((i = 0; i < 100; i++)); do
        ND_PORT=$(sed -n 's/.* listening on .*:\([0-9][0-9]*\)$/\1/p' \
            "$ND_LOG" | head -n 1)
        [ -n "$ND_PORT" ] && break
        nd_alive "$ND_PID" || break
        sleep 0.1
    done
    [ -n "$ND_PORT" ] || fail "netdiskd printed no 'listening on' line"
    wait_for 10 grep -q ' ready' "$ND_LOG" ||
        fail "netdiskd's pool process did not log 'ready'"
    [ -n "${ND_LAUNCH_QUIET:-}" ] ||
        say "# netdiskd pid $ND_PID on port $ND_PORT, config $conf"
}

# nd_crash: SIGKILL to the current daemon and its pool process at once, a
# crash of the whole daemon; waits (10 s at most each) until both are gone.
# The pool must be gone too before the next nd_launch binds the same port:
# a process killed inside a system call that sleeps uninterruptibly (an
# fsync) dies only when the call returns, and keeps its listening socket
# until then.
nd_crash() {
    local pool
    pool=$(pool_of) || true
    kill -KILL "$ND_PID" ${pool:+"$pool"} 2>/dev/null || true
    nd_wait_exit "$ND_PID" 10
    if [ -n "$pool" ] && ! wait_for 10 nd_dead "$pool"; then
        not_ok "the killed pool process $pool still runs after 10 s"
    fi
}

# nd_user_add NAME PASSWORD: creates the account with the operator's CLI
# under the current config ($ND_CONF) unless it exists.
nd_user_add() {
    [ -f "$ND_USERS" ] && grep -q "^$1:" "$ND_USERS" && return 0
    printf '%s\n' "$2" | "$ND_BIN/netdiskd" -c "$ND_CONF" user add "$1" \
        >/dev/null 2>"$T/useradd.err" ||
        fail "netdiskd user add $1: $(cat "$T/useradd.err")"
}

# nd_wait_exit PID SECS: waits (SECS at most) for a daemon this test started
# and sets ND_RC to its exit status, or to "timeout".
nd_wait_exit() {
    local pid=$1 secs=$2 d keep=()
    ND_RC=0
    if ! wait_for "$secs" nd_dead "$pid"; then
        ND_RC=timeout
        return 0
    fi
    wait "$pid" || ND_RC=$?
    for d in "${ND_DAEMONS[@]+"${ND_DAEMONS[@]}"}"; do
        [ "$d" = "$pid" ] || keep+=("$d")
    done
    ND_DAEMONS=("${keep[@]+"${keep[@]}"}")
}

# nd_stop [SECS]: SIGTERM to the current daemon; asserts exit 0 within SECS
# (default 20).
nd_stop() {
    local secs=${1:-20} t0=$SECONDS
    kill -TERM "$ND_PID"
    nd_wait_exit "$ND_PID" "$secs"
    if [ "$ND_RC" = 0 ]; then
        ok "SIGTERM: netdiskd exited 0 in $((SECONDS - t0)) s"
    else
        not_ok "SIGTERM: netdiskd exit status $ND_RC (bound ${secs} s)"
        nd_show_log
    fi
}

# nd ARGS...: the real client against the current daemon, bounded in time.
nd() {
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_BIN/netdisk" -q -H 127.0.0.1 \
        -p "$ND_PORT" "$@"
}

# nd_raw SUBCOMMAND ARGS...: the raw protocol client, bounded in time.
nd_raw() {
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_TEST_BIN/nd_rawclient" 127.0.0.1 \
        "$ND_PORT" "$@"
}

# nd_cpu_ticks PID: the CPU time PID has used so far, user and system, in
# clock ticks (getconf CLK_TCK), from /proc/PID/stat.  The fields are
# counted after the ")" that ends the command name, which may hold spaces.
nd_cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# nd_strace_pool FILE CMD...: runs CMD with the daemon's pool process under
# strace, which writes each send, sendfile, write and pread (the first 64
# bytes of data, escaped) to FILE.  For tests that check which system calls
# carry what, in which order; call only where strace exists.
nd_strace_pool() {
    local out=$1 pool spid i
    shift
    pool=$(pool_of "$ND_PID") || true
    [ -n "$pool" ] || fail "no pool process under netdiskd $ND_PID"
    : >"$T/strace.err"
    timeout -k 5 120 strace -f -s 64 \
        -e trace=sendto,sendmsg,sendfile,write,pread64 -o "$out" \
        -p "$pool" 2>"$T/strace.err" &
    spid=$!
    for ((i = 0; i < 100; i++)); do
        grep -q 'attached' "$T/strace.err" && break
        sleep 0.1
    done
    "$@"
    # Let the last replies be traced before detaching.
    sleep 0.5
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
}

# raw WHAT SUBCOMMAND ARGS...: nd_rawclient must see the reply it expects
# (it prints one line saying what happened, left in $T/raw.out).
raw() {
    local what=$1 rc=0
    shift
    nd_raw "$@" >"$T/raw.out" 2>"$T/raw.err" || rc=$?
    if [ "$rc" -eq 0 ]; then
        ok "$what: $(head -n 1 "$T/raw.out")"
    else
        not_ok "$what: nd_rawclient exit $rc: $(cat "$T/raw.err")"
    fi
}

# nd_roundtrip TAG: a fresh random file goes up and comes back intact.
nd_roundtrip() {
    local tag=$1 src=$T/rt.$1.src dst=$T/rt.$1.dst
    mkrand "$src" $((4096 + RANDOM))
    rm -f "$dst"
    if nd put "$src" "rt/$tag" >/dev/null 2>"$T/rt.err" &&
        nd get "rt/$tag" "$dst" >/dev/null 2>>"$T/rt.err" &&
        cmp -s "$src" "$dst"; then
        ok "$tag: the daemon still serves a put/get round trip"
        rm -f "$src" "$dst"
    else
        not_ok "$tag: the daemon still serves a put/get round trip"
        sed 's/^/#   /' "$T/rt.err"
    fi
}

# nd_idle_hold N SECS: the raw client holds N logged-in idle sessions in
# the background ($ND_IDLE_PID; output in $T/idle.out, $T/idle.err) for
# SECS at most, until nd_idle_release.  Fails unless all are open within
# 20 s.
nd_idle_hold() {
    rm -f "$T/idle.ready" "$T/idle.stop"
    nd_raw idle "$1" "$2" "$T/idle.ready" "$T/idle.stop" >"$T/idle.out" \
        2>"$T/idle.err" &
    ND_IDLE_PID=$!
    wait_for 20 test -e "$T/idle.ready"
}

# nd_idle_release: ends nd_idle_hold's sessions and returns the raw
# client's exit status.
nd_idle_release() {
    local rc=0
    touch "$T/idle.stop"
    wait "$ND_IDLE_PID" || rc=$?
    return "$rc"
}

# log_mark: remembers where the daemon's log ends; log_new prints the lines
# written since, has_new ERE and new_count ERE look for them, and
# check_new WHAT ERE waits (5 s at most) for one.  For checks that must
# not match a line an earlier request wrote.
log_mark() { LOG_MARK=$(wc -l <"$ND_LOG"); }
log_new() { tail -n "+$((LOG_MARK + 1))" "$ND_LOG"; }
# Not grep -q: an early exit would hand tail a SIGPIPE, and pipefail.
has_new() { log_new | grep -E -- "$1" >/dev/null; }
new_count() { log_new | grep -cE -- "$1" || true; }
check_new() {
    if wait_for 5 has_new "$2"; then
        ok "$1"
    else
        not_ok "$1: no line matching /$2/ since the mark"
        log_new | tail -n 6 | sed 's/^/#   /'
    fi
}

# has_log PATTERN: the current daemon's log has a line matching PATTERN
# (an extended regular expression).
has_log() { grep -Eq -- "$1" "$ND_LOG"; }

# check_log WHAT PATTERN: has_log as a check, waiting up to 5 s, since the
# log line may be written just after the client saw the reply.
check_log() {
    if wait_for 5 has_log "$2"; then
        ok "$1"
    else
        not_ok "$1: no line matching /$2/ in the daemon log"
        tail -n 8 "$ND_LOG" | sed 's/^/#   /'
    fi
}

# A loopback TCP port nothing listens on (connect is refused).
nd_free_port() {
    local p i lo=20000 n=30000 eph
    # Below the ephemeral range when there is room (32768-60999 by
    # default): a port from it may be taken by any outgoing connection
    # between this check and the bind, and a parallel test makes hundreds.
    { read -r eph _ </proc/sys/net/ipv4/ip_local_port_range; } 2>/dev/null || eph=0
    if [ "${eph:-0}" -gt $((lo + 2000)) ]; then
        n=$((eph - lo))
    fi
    for ((i = 0; i < 50; i++)); do
        p=$((lo + RANDOM % n))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# pool_of [PID]: the pool process of the daemon PID (default $ND_PID);
# fd_count PID: how many descriptors PID holds; fsize FILE: its size, 0 when
# it does not exist.
pool_of() { pgrep -P "${1:-$ND_PID}" | head -n 1; }
# fd_list PID [FIND-ARGS...]: find(1) over PID's descriptors.  find fails
# when a descriptor closes while it lists them: what it listed still
# counts, and the failure must not end the test.
fd_list() {
    local pid=$1
    shift
    find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 "$@" 2>/dev/null || true
}
fd_count() { fd_list "$1" | wc -l; }

# conn_count PID: how many TCP connections PID holds (its sockets found in
# /proc/net/tcp or tcp6 in a state other than LISTEN, 0A).
conn_count() {
    local inodes
    inodes=$(fd_list "$1" -lname 'socket:*' -printf '%l\n' |
        sed 's/^socket:\[\(.*\)\]$/\1/')
    if [ -z "$inodes" ]; then
        echo 0
        return
    fi
    local tables=() t
    for t in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$t" ] && tables+=("$t") # no tcp6 without IPv6
    done
    awk 'NR == FNR { want[$1] = 1; next }
         FNR > 1 && $4 != "0A" && ($10 in want) { n++ }
         END { print n + 0 }' <(printf '%s\n' "$inodes") "${tables[@]}"
}

# fds_at_rest PID: how many descriptors PID holds once it holds no
# connection (waiting up to 10 s for the server's side of a client that
# just exited to be closed), for a base that later counts are held to.
# no_conns PID: true when PID holds no TCP connection.
no_conns() { [ "$(conn_count "$1")" -eq 0 ]; }
fds_at_rest() {
    wait_for 10 no_conns "$1" ||
        say "# pid $1 still holds $(conn_count "$1") connections"
    fd_count "$1"
}
fsize() { if [ -e "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

# nd_sanitizer: the sanitizers the build under test was made with, from
# its CMake cache ("" for a plain build), for tests that scale or skip.
nd_sanitizer() {
    sed -n 's/^ND_SANITIZE:STRING=//p' "$ND_BIN/CMakeCache.txt" 2>/dev/null ||
        true
}

# After a failure: the end of each daemon log of this test, so that a
# failure in CI, where the logs are gone with $T, can be understood.
nd__dump_logs() {
    local log
    for log in "$T"/daemon*.log; do
        [ -s "$log" ] || continue
        say "# the last lines of $(basename "$log"):"
        tail -n 30 "$log" | sed 's/^/#   /'
    done
}

# Call last: prints the summary line and exits, non-zero on any failure.
nd_done() {
    local log
    ND_DONE=1
    # A sanitizer report in a pool process the watchdog then restarted would
    # otherwise go unnoticed: every daemon log of this test must be clean.
    for log in "$T"/daemon*.log; do
        [ -e "$log" ] || continue
        if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$log"; then
            not_ok "sanitizer report in $(basename "$log")"
            sed 's/^/#   /' "$log" | head -n 60
        fi
    done
    if [ "$ND_FAIL" -ne 0 ]; then
        nd__dump_logs
    fi
    say "$ND_PASS passed, $ND_FAIL failed"
    if [ "$ND_FAIL" -ne 0 ]; then
        exit 1
    fi
    exit 0
}

# SIGTERM to pid and, first, to all its descendants (a background function
# is a subshell whose children would otherwise outlive it).
nd__kill_tree() {
    local kid
    for kid in $(pgrep -P "$1"); do
        nd__kill_tree "$kid"
    done
    kill -TERM "$1" 2>/dev/null
}

nd__cleanup() {
    local rc=$? pid kids j
    set +e
    trap - ERR
    if [ "$ND_DONE" -eq 0 ]; then
        if [ "$ND_ABORTED" -eq 0 ]; then
            ND_FAIL=$((ND_FAIL + 1))
            say "not ok - the test stopped early (status $rc)"
        fi
        nd__dump_logs
        say "$ND_PASS passed, $ND_FAIL failed"
        [ "$rc" -ne 0 ] || rc=1
    fi
    for pid in "${ND_DAEMONS[@]+"${ND_DAEMONS[@]}"}"; do
        nd_alive "$pid" || continue
        kids=$(pgrep -P "$pid")
        kill -TERM "$pid" 2>/dev/null
        if ! wait_for 15 nd_dead "$pid"; then
            say "# netdiskd $pid ignored SIGTERM for 15 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
        for j in $kids; do
            wait_for 5 nd_dead "$j" || kill -KILL "$j" 2>/dev/null
        done
    done
    for pid in $(jobs -p); do
        nd__kill_tree "$pid"
    done
    wait 2>/dev/null
    rm -rf "$T"
    exit "$rc"
}
trap nd__cleanup EXIT
# Signals end the test through the EXIT trap, so its daemons are stopped.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
trap 'say "# command failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
