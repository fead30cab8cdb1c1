#!/bin/bash
# The benchmark (make bench; issue 6): netdisk against the servers a
# careful user would use today to move a file and check it, on loopback,
# in the same run, and against its own limits measured in that run.
#
#   peers    nginx (HTTP, curl), vsftpd (FTP, curl), an rsync daemon
#            (--cc=md5) and sshd (scp), from Debian's packages, each on a
#            free loopback port with a throw-away configuration
#            (test/bench/peers.sh)
#   limits   nd_ref md5 (one core hashing), nd_ref get and nd_ref put
#            (the two-process reference pipelines, with and without sync)
#   netdisk  a throw-away netdiskd (and a second one with TLS) on the
#            same storage, driven by the real client and by nd_load
#
# Workloads, interleaved tool by tool in every round: a verified get and
# a verified put of one big random file (a get through a peer is timed
# with the md5sum a user runs afterwards; a put with the md5sum of the
# local file; rsync --cc=md5 checks in-stream); the same over TLS; small
# files in one session and with a session per file; concurrent gets.
# Once: server CPU seconds per GiB served, and idle sessions held (RSS,
# descriptors, a get served meanwhile).  Before every timed run the
# sources it reads are read into the page cache (hot), and before every
# one that writes a large new file an untimed scratch file of the same
# size is written and deleted in the same filesystem, for every tool
# alike (the page-out and first-touch quirks of these machines; see
# issue 6).  The small-file gets write to a directory of their own under
# /dev/shm when it is a tmpfs (see OUTS below); everything else works in
# a directory under $TMPDIR.
# Every result is checked outside the timing (cmp against the source; the
# md5sum printed against the source's): a wrong result aborts the run.
#
# usage: test/bench/run.sh BUILD_DIR
#
# Environment (all optional):
#   BENCH_SMOKE=1     tiny sizes, one round, no peers and no installs,
#                     the report in the work directory (CI: it_bench_smoke)
#   BENCH_ROUNDS      rounds (3)
#   BENCH_SIZE_MB     the big file, MiB (1024)
#   BENCH_SMALL_N     small files of 4 KiB (1000)
#   BENCH_CONN_REPS   runs per round of the session-per-file workload (3)
#   BENCH_CONC_REPS   runs per round of the concurrent gets (3)
#   BENCH_CONC        concurrent gets (64), BENCH_CONC_MB of MiB each (16)
#   BENCH_CPU_GETS    gets of the big file per server for the CPU figure (4)
#   BENCH_IDLE        idle sessions held (1000), BENCH_IDLE_SECS long (15)
#   BENCH_WORKERS     the daemon's worker threads (2 x cores, at least 4)
#   BENCH_PEERS       peers to run ("nginx vsftpd rsync scp"; "none")
#   BENCH_DEADLINE    seconds the whole run may take (600; smoke 240)
#   BENCH_DOCS=0      do not write docs/benchmarks.md and the chart
#   BENCH_OUT_DIR     also copy samples.tsv, summary.tsv, report.md (and the
#                     chart) there
#   BENCH_KEEP=1      keep the work directory (and the small-file
#                     output directory under /dev/shm)
#
# Exit status: 0 when every step ran and every result verified; 1 when a
# step failed, a result was wrong, or the deadline cut a step short; 2 on
# a setup error.  Peers that cannot be installed or started are reported
# as "not run" and do not fail the run.  Only processes this script
# started are stopped, by pid.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILD=${1:-${BUILD:-build}}
START_US=${EPOCHREALTIME/./}
# cpu_ticks: the clock ticks of all CPUs so far (/proc/stat), as "steal
# total busy": the host's share of the run (report.sh), and the busy time
# (user, nice, system, irq, softirq) around the concurrent gets.  Nothing
# without /proc/stat.
cpu_ticks() {
    awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i
                       print $9, t, $2 + $3 + $4 + $7 + $8; exit }' \
        /proc/stat 2>/dev/null || true
}
START_TICKS=$(cpu_ticks)

say() { printf 'bench: %s\n' "$*"; }
note() { printf 'bench: NOTE: %s\n' "$*"; }
die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 2
}

SMOKE=${BENCH_SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
    d_rounds=1 d_size=4 d_small=20 d_conc=4 d_conc_mb=1 d_cpu=1 d_reps=1
    d_conc_reps=1 d_wake=1000
    d_idle=20 d_idle_secs=3 d_peers=none d_deadline=240 d_docs=0
else
    d_rounds=3 d_size=1024 d_small=1000 d_conc=64 d_conc_mb=16 d_cpu=4 d_reps=3
    d_conc_reps=3 d_wake=10000
    d_idle=1000 d_idle_secs=15 d_peers="nginx vsftpd rsync scp"
    d_deadline=600 d_docs=1
fi
ROUNDS=${BENCH_ROUNDS:-$d_rounds}
SIZE_MB=${BENCH_SIZE_MB:-$d_size}
SMALL_N=${BENCH_SMALL_N:-$d_small}
CONN_REPS=${BENCH_CONN_REPS:-$d_reps}
CONC_REPS=${BENCH_CONC_REPS:-$d_conc_reps}
CONC=${BENCH_CONC:-$d_conc}
CONC_MB=${BENCH_CONC_MB:-$d_conc_mb}
WAKE_N=$d_wake
CONC_PROC_MB=8
CPU_GETS=${BENCH_CPU_GETS:-$d_cpu}
IDLE=${BENCH_IDLE:-$d_idle}
IDLE_SECS=${BENCH_IDLE_SECS:-$d_idle_secs}
DEADLINE=${BENCH_DEADLINE:-$d_deadline}
PEERS=${BENCH_PEERS:-$d_peers}
DOCS=${BENCH_DOCS:-$d_docs}
KEEP=${BENCH_KEEP:-0}
OUT_DIR=${BENCH_OUT_DIR:-}
ncpu=$(nproc 2>/dev/null || echo 2)
WORKERS=${BENCH_WORKERS:-$((2 * ncpu > 4 ? 2 * ncpu : 4))}
if [ "$SMOKE" = 1 ]; then
    DOCS=0
    PEERS=
fi
[ "$PEERS" = none ] && PEERS=

for v in ROUNDS SIZE_MB SMALL_N CONN_REPS CONC_REPS CONC CONC_MB CPU_GETS IDLE IDLE_SECS \
    DEADLINE WORKERS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer: '${!v}'"
done
[ "$SMALL_N" -le 9999 ] || die "BENCH_SMALL_N: at most 9999"
[ "$CONC" -le 999 ] || die "BENCH_CONC: at most 999"
for p in $PEERS; do
    case $p in
    nginx | vsftpd | rsync | scp) ;;
    *) die "BENCH_PEERS: unknown peer '$p' (nginx vsftpd rsync scp, or none)" ;;
    esac
done
if [ ! -x "$BUILD/netdiskd" ] || [ ! -x "$BUILD/netdisk" ]; then
    die "$BUILD/netdiskd or $BUILD/netdisk is missing: build first (make bench does)"
fi
BUILD=$(cd "$BUILD" && pwd)
ND_LOAD=$BUILD/test/nd_load
ND_REF=$BUILD/test/bench/nd_ref

# ---- the clock -------------------------------------------------------------------
# Every command runs under timeout, capped by what is left of DEADLINE
# minus RESERVE (the report and the cleanup), so the run ends in time
# whatever hangs.
RESERVE=$((SMOKE == 1 ? 10 : 20))
DEADLINE_HIT=0
now_us() { printf '%s' "${EPOCHREALTIME/./}"; }
elapsed() { echo $((($(now_us) - START_US) / 1000000)); }
left() { echo $((DEADLINE - RESERVE - $(elapsed))); }

# cap_to SECS: sets CAP to SECS, or to what is left before the deadline
# if that is less (without a fork: it runs inside the timed commands);
# capped SECS prints it.
CAP=0
cap_to() {
    local l=$((DEADLINE - RESERVE - (${EPOCHREALTIME/./} - START_US) / 1000000))
    CAP=$1
    [ "$l" -ge "$CAP" ] || CAP=$l
}
capped() {
    cap_to "$1"
    echo "$CAP"
}

# bounded SECS CMD...: CMD under timeout, SECS at most and never past the
# deadline; 124 when it was cut (or not started: no time left).  In the
# background, use timeout itself with capped (so that $! is timeout's pid,
# and SIGTERM to it reaches CMD).
bounded() {
    local secs
    cap_to "$1"
    secs=$CAP
    shift
    if [ "$secs" -lt 1 ]; then
        DEADLINE_HIT=1
        return 124
    fi
    local rc=0
    timeout -k 2 "$secs" "$@" || rc=$?
    if [ "$rc" -eq 124 ] && [ "$(left)" -le 0 ]; then
        DEADLINE_HIT=1
    fi
    return "$rc"
}

# timed CMD...: runs CMD (a command or a function) and sets T_US to its
# wall-clock time in microseconds; returns CMD's status.
T_US=0
timed() {
    local t0 t1 rc=0
    t0=${EPOCHREALTIME/./}
    "$@" || rc=$?
    t1=${EPOCHREALTIME/./}
    T_US=$((t1 - t0))
    return "$rc"
}

# calc EXPR: EXPR evaluated by awk, printed with 4 significant digits or
# more.
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }

# ---- failures --------------------------------------------------------------------
FAILS=0
declare -A NOTRUN=() DISABLED=()
FAILED_STEPS=()

# step_failed WHAT WHY: a step that did not complete (the run goes on,
# and exits 1 at the end).
step_failed() {
    FAILS=$((FAILS + 1))
    FAILED_STEPS+=("$1: $2")
    say "FAILED: $1: $2"
}

# wrong WHAT: a result that is not what was sent: abort.
wrong() {
    printf 'bench: error: WRONG RESULT: %s\n' "$*" >&2
    FAILS=$((FAILS + 1))
    exit 1
}

# ---- the work directory, the processes, the cleanup -----------------------------
base=${TMPDIR:-/tmp}
if [ "$(stat -f -c %T "$base" 2>/dev/null)" = tmpfs ]; then
    if [ -z "${TMPDIR:-}" ] && [ -d /var/tmp ] &&
        [ "$(stat -f -c %T /var/tmp 2>/dev/null)" != tmpfs ]; then
        note "/tmp is a tmpfs: working in /var/tmp, on the disk"
        base=/var/tmp
    else
        note "$base is a tmpfs: the figures will not be those of a disk"
    fi
fi
W=$(mktemp -d "$base/nd-bench.XXXXXX")
chmod 0755 "$W"
# Where the small-file gets write their files, every tool alike: a tmpfs
# when there is one.  A create on this ext4 without a journal walks past
# every inode deleted in the block group in the last 60-360 s (whoever
# deleted them: a test run before the benchmark does), and cost 50 us to
# 1.1 ms per file by hand, against 11-13 us on tmpfs, for both clients;
# with that term in, a session-per-file sample measured the filesystem's
# last minutes more than either tool (docs/benchmarks.md, "Analysis").
# The daemon's store, its uploads and every large output stay on $base.
OUTS=
OUTS_TMPFS=0
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
    OUTS=$(mktemp -d /dev/shm/nd-bench-out.XXXXXX 2>/dev/null) && OUTS_TMPFS=1
fi
if [ "$OUTS_TMPFS" = 0 ]; then
    note "no writable tmpfs at /dev/shm: the small files are written to $base"
    OUTS=$W/outs
    mkdir -p "$OUTS"
fi
SMALL_OUT=$OUTS/small
umask 022
SAMPLES=$W/samples.tsv
: >"$SAMPLES"
DPID=
TPID=
IDLE_PID=
PEER_PIDS=()
BG_PIDS=()

# shellcheck source=test/bench/peers.sh
. "$HERE/peers.sh"
# shellcheck source=test/bench/report.sh
. "$HERE/report.sh"

cleanup() {
    local rc=$? p
    set +e
    trap - EXIT
    for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}" $IDLE_PID; do
        if peer__alive "$p"; then
            kill -TERM "$p" 2>/dev/null
        fi
    done
    for p in "${BG_PIDS[@]+"${BG_PIDS[@]}"}" $IDLE_PID; do
        wait "$p" 2>/dev/null
    done
    for p in "${PEER_PIDS[@]+"${PEER_PIDS[@]}"}"; do
        peer_stop "$p"
    done
    for p in $TPID $DPID; do
        peer__alive "$p" || continue
        kill -TERM "$p" 2>/dev/null
        for ((i = 0; i < 150; i++)); do
            peer__alive "$p" || break
            sleep 0.1
        done
        if peer__alive "$p"; then
            say "netdiskd $p ignored SIGTERM for 15 s: SIGKILL"
            kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    if [ "$KEEP" = 1 ]; then
        say "kept $W"
        [ "$OUTS_TMPFS" = 0 ] || say "kept $OUTS"
    else
        rm -rf "$W"
        [ "$OUTS_TMPFS" = 0 ] || rm -rf "$OUTS"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

SZ_LABEL=$(size_label "$SIZE_MB")
say "work directory $W ($(df -PT "$W" | awk 'NR == 2 { print $2 }')), deadline ${DEADLINE} s," \
    "$ROUNDS round(s), big file $SZ_LABEL, $SMALL_N small files," \
    "$CONC x $CONC_MB MiB concurrent, $IDLE idle sessions"
say "small-file gets write to $OUTS ($(stat -f -c %T "$OUTS" 2>/dev/null || echo '?'))"

# ---- the peers' packages -----------------------------------------------------------
if [ -n "$PEERS" ]; then
    irc=0
    bounded 300 "$SRCDIR/scripts/install-deps.sh" nginx-light vsftpd rsync \
        curl openssh-server gnuplot-nox >"$W/install.log" 2>&1 || irc=$?
    if [ "$irc" -ne 0 ]; then
        note "installing the peers' packages failed (exit $irc):" \
            "$(tail -n 2 "$W/install.log" | tr '\n' ' ')"
        note "the peers that are missing will not run"
    fi
fi

# ---- descriptors ---------------------------------------------------------------------
# nd_load holds a socket per idle session; the daemon two per logged-in
# session and a few per transfer.
need=$((2 * IDLE + 2 * CONC + 4 * WORKERS + 256))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    if ulimit -Hn "$need" 2>/dev/null; then
        hard=$need
    else
        fit=$(((hard - 2 * CONC - 4 * WORKERS - 256) / 2))
        [ "$fit" -ge 10 ] || die "the hard descriptor limit $hard is too low"
        note "the hard descriptor limit is $hard (not root?): $fit idle" \
            "sessions instead of $IDLE"
        IDLE=$fit
    fi
fi
soft=$(ulimit -Sn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$hard"
fi

# ---- data ----------------------------------------------------------------------------
need_mb=$((5 * SIZE_MB + 3 * CONC * CONC_MB + SMALL_N * 4 / 256 + 256))
free_mb=$(df -Pm "$W" | awk 'NR == 2 { print $4 }')
if [ -n "$free_mb" ] && [ "$free_mb" -lt "$need_mb" ]; then
    die "$W has $free_mb MiB free; the run needs about $need_mb MiB (set TMPDIR, or lower BENCH_SIZE_MB)"
fi
mkdir -p "$W/src" "$W/out" "$W/refput"
SRC=$W/src/big.bin
say "writing the test data"
bounded 300 head -c "${SIZE_MB}M" /dev/urandom >"$SRC" ||
    die "cannot write $SRC"
SRC_MD5=$(bounded 120 md5sum <"$SRC" | cut -d' ' -f1)
[ -n "$SRC_MD5" ] || die "md5sum of $SRC failed"
SRC_BYTES=$(stat -c %s "$SRC")
mkdir "$W/src/small" "$W/src/conc"
bounded 60 head -c $((SMALL_N * 4096)) /dev/urandom >"$W/src/small.all" ||
    die "cannot write the small files"
(cd "$W/src/small" && split -b 4096 -d -a 4 ../small.all f) ||
    die "cannot split the small files"
rm -f "$W/src/small.all"
bounded 300 head -c "$((CONC * CONC_MB))M" /dev/urandom >"$W/src/conc.all" ||
    die "cannot write the concurrent files"
(cd "$W/src/conc" && split -b "${CONC_MB}M" -d -a 3 ../conc.all c) ||
    die "cannot split the concurrent files"
rm -f "$W/src/conc.all"
SMALL_NAMES=()
for ((i = 0; i < SMALL_N; i++)); do
    SMALL_NAMES+=("$(printf 'f%04d' "$i")")
done
CONC_NAMES=()
for ((i = 0; i < CONC; i++)); do
    CONC_NAMES+=("$(printf 'c%03d' "$i")")
done

# ---- netdiskd ------------------------------------------------------------------------
NDU=bench
NDPW="bench-$RANDOM-$RANDOM-$RANDOM"
STORE=$W/nd/store
USERDIR=$STORE/$NDU
mkdir -p "$W/nd" "$STORE" "$W/xdg"
export NETDISK_USER=$NDU NETDISK_PASSWORD=$NDPW NETDISK_HOST=127.0.0.1
export XDG_CONFIG_HOME=$W/xdg
unset NETDISK_CONFIG NETDISK_TLS NETDISK_CACERT NETDISK_PORT
# Nothing between the tools and 127.0.0.1, and no user configuration.
unset http_proxy https_proxy ftp_proxy all_proxy no_proxy HTTP_PROXY \
    HTTPS_PROXY FTP_PROXY ALL_PROXY NO_PROXY RSYNC_PROXY RSYNC_CONNECT_PROG \
    RSYNC_RSH SSH_AUTH_SOCK CURL_HOME
LIMIT=$((2 * IDLE + 2 * CONC + 100))
[ "$LIMIT" -ge 1024 ] || LIMIT=1024
QUEUE=$((LIMIT > 65536 ? 65536 : LIMIT))

# nd_conf FILE [LINE...]: a daemon configuration on the bench's store.
nd_conf() {
    local f=$1
    shift
    {
        printf 'listen = "127.0.0.1";\nport = 0;\n'
        printf 'root = "%s";\nusers_file = "%s";\n' "$STORE" "$W/nd/users"
        printf 'workers = %d;\nqueue_capacity = %d;\n' "$WORKERS" "$QUEUE"
        printf 'max_connections = %d;\nmax_per_ip = %d;\n' "$LIMIT" "$LIMIT"
        printf 'idle_timeout = 900;\nlogin_timeout = 300;\n'
        printf 'shutdown_timeout = 10;\nlog_level = "info";\n'
        if [ "$(id -u)" -eq 0 ]; then
            printf 'allow_root = true;\n'
        fi
        if [ "$#" -gt 0 ]; then
            printf '%s\n' "$@"
        fi
    } >"$f"
}

# nd_launch CONF LOG: starts netdiskd; sets LAUNCH_PID and LAUNCH_PORT.
nd_launch() {
    local conf=$1 log=$2 i
    : >"$log"
    "$BUILD/netdiskd" -c "$conf" </dev/null >>"$log" 2>&1 &
    LAUNCH_PID=$!
    LAUNCH_PORT=
    for ((i = 0; i < 100; i++)); do
        LAUNCH_PORT=$(sed -n 's/.* listening on .*:\([0-9][0-9]*\)$/\1/p' "$log" | head -n 1)
        [ -n "$LAUNCH_PORT" ] && grep -q ' ready' "$log" && return 0
        peer__alive "$LAUNCH_PID" || break
        sleep 0.1
    done
    tail -n 10 "$log" >&2
    return 1
}

nd_conf "$W/nd/netdiskd.conf"
printf '%s\n' "$NDPW" |
    "$BUILD/netdiskd" -c "$W/nd/netdiskd.conf" user add "$NDU" >/dev/null \
        2>"$W/nd/useradd.err" ||
    die "netdiskd user add: $(cat "$W/nd/useradd.err")"
DLOG=$W/nd/daemon.log
nd_launch "$W/nd/netdiskd.conf" "$DLOG" || {
    DPID=$LAUNCH_PID
    die "netdiskd did not start"
}
DPID=$LAUNCH_PID
PORT=$LAUNCH_PORT
export NETDISK_PORT=$PORT
POOL=$(pgrep -P "$DPID" | head -n 1) || true
[ -n "$POOL" ] || die "no pool process under netdiskd $DPID"
ND=("$BUILD/netdisk" -q)
say "netdiskd $DPID (pool $POOL) on 127.0.0.1:$PORT, $WORKERS workers"

# The same store over TLS: a second daemon with tls = "required" and a
# throw-away CA (as test/it_tls.sh makes one).
TLS_ON=0
PKI=$W/pki
mkpki() {
    mkdir -p "$PKI"
    printf '%s\n' 'subjectAltName = IP:127.0.0.1' 'basicConstraints = CA:FALSE' \
        'keyUsage = critical, digitalSignature' \
        'extendedKeyUsage = serverAuth' >"$PKI/srv.ext"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 2 \
        -subj "/CN=netdisk bench CA" \
        -addext 'basicConstraints = critical, CA:TRUE' \
        -addext 'keyUsage = critical, keyCertSign, cRLSign' &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$PKI/srv.key" -out "$PKI/srv.csr" \
            -subj "/CN=netdisk bench server" &&
        openssl x509 -req -in "$PKI/srv.csr" -CA "$PKI/ca.pem" \
            -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
            -days 2 -extfile "$PKI/srv.ext" -out "$PKI/srv.pem"
} >"$W/pki.log" 2>&1
TLOG=$W/nd/daemon.tls.log
if ! command -v openssl >/dev/null 2>&1; then
    NOTRUN[netdisk-tls]="no openssl command to make a certificate"
elif ! mkpki; then
    NOTRUN[netdisk-tls]="openssl: $(tail -n 2 "$W/pki.log" | tr '\n' ' ')"
else
    nd_conf "$W/nd/netdiskd.tls.conf" 'tls = "required";' \
        "tls_cert = \"$PKI/srv.pem\";" "tls_key = \"$PKI/srv.key\";"
    if nd_launch "$W/nd/netdiskd.tls.conf" "$TLOG"; then
        TPID=$LAUNCH_PID
        TPORT=$LAUNCH_PORT
        TLS_ON=1
        NDT=("$BUILD/netdisk" -q -p "$TPORT" --tls --cacert "$PKI/ca.pem")
        say "netdiskd $TPID with TLS on 127.0.0.1:$TPORT"
    else
        TPID=$LAUNCH_PID
        NOTRUN[netdisk-tls]="the TLS daemon did not start: $(tail -n 2 "$TLOG" | tr '\n' ' ')"
    fi
fi
[ -z "${NOTRUN[netdisk-tls]:-}" ] || note "TLS not run: ${NOTRUN[netdisk-tls]}"

# The daemon's copies, uploaded once (so it holds their digests).
say "uploading the test data to netdiskd"
bounded 300 "${ND[@]}" put "$SRC" big.bin ||
    die "netdisk put of the big file failed"
# The small files are not uploaded here: each round's timed put lands
# them in small/ for that round's gets (a put of many small files costs
# as much as the round's).  One of them, for the get while sessions idle:
bounded 60 "${ND[@]}" put "$W/src/small/f0000" probe/f0000 ||
    die "netdisk put of a small file failed"
bounded 300 "${ND[@]}" put "${CONC_NAMES[@]/#/$W/src/conc/}" conc/ ||
    die "netdisk put of the concurrent files failed"
bounded 120 cmp -s "$SRC" "$USERDIR/big.bin" ||
    wrong "the daemon's copy of big.bin"
bounded 60 cmp -s "$W/src/small/f0000" "$USERDIR/probe/f0000" ||
    wrong "the daemon's copy of probe/f0000"
bounded 120 diff -rq "$W/src/conc" "$USERDIR/conc" >/dev/null ||
    wrong "the daemon's copies of the concurrent files"
# From here on each big source and the daemon's copy of it are one inode
# (the peers' files below are hard links to the same), so the run keeps
# one copy of each in the page cache.  On these machines a page frame not
# touched for a while costs the host a fault on first touch, and every
# GiB the run keeps cached is a GiB of recently used frames a new file
# cannot reuse: a new 1 GiB file took 0.32 s on frames just freed and
# 3.0-5.6 s with 1-6 GiB of other files cached (docs/benchmarks.md,
# "Analysis").  Two copies of every source held 4 GiB.
ln -f "$USERDIR/big.bin" "$SRC"
for n in "${CONC_NAMES[@]}"; do
    ln -f "$USERDIR/conc/$n" "$W/src/conc/$n"
done

# ---- the peers -------------------------------------------------------------------------
# Each serves its own directory; the files in them are hard links to the
# sources (one inode, so every server reads the same cached pages).
declare -A PEER_UP=()
peer_data() {
    mkdir -p "$1"
    ln "$SRC" "$1/big.bin"
    if [ "${2:-}" = all ]; then
        cp -al "$W/src/small" "$1/small"
        cp -al "$W/src/conc" "$1/conc"
    fi
}
for p in $PEERS; do
    PEER_WHY=
    case $p in
    nginx)
        if ! command -v curl >/dev/null 2>&1; then
            PEER_WHY="no curl command"
        elif peer_data "$W/www" all && peer_nginx_start "$W/www"; then
            PEER_PIDS+=("$NGINX_PID")
            PEER_UP[nginx]=1
            say "nginx $NGINX_PID on 127.0.0.1:$NGINX_PORT"
        fi
        ;;
    vsftpd)
        if ! command -v curl >/dev/null 2>&1; then
            PEER_WHY="no curl command"
        elif peer_data "$W/ftp" && peer_vsftpd_start "$W/ftp"; then
            PEER_PIDS+=("$VSFTPD_PID")
            PEER_UP[vsftpd]=1
            say "vsftpd $VSFTPD_PID on 127.0.0.1:$VSFTPD_PORT"
        fi
        ;;
    rsync)
        if peer_data "$W/rsync" && mkdir -p "$W/rsync/up" &&
            peer_rsync_start "$W/rsync"; then
            PEER_PIDS+=("$RSYNC_PID")
            PEER_UP[rsync]=1
            say "rsync daemon $RSYNC_PID on 127.0.0.1:$RSYNC_PORT"
        fi
        ;;
    scp)
        if peer_data "$W/ssh" && mkdir -p "$W/ssh/up" && peer_sshd_start; then
            PEER_PIDS+=("$SSHD_PID")
            PEER_UP[scp]=1
            say "sshd $SSHD_PID on 127.0.0.1:$SSHD_PORT"
        fi
        ;;
    esac
    if [ -z "${PEER_UP[$p]:-}" ]; then
        NOTRUN[$p]=${PEER_WHY:-"did not start"}
        note "$p not run: ${NOTRUN[$p]}"
    fi
done
if [ "$SMOKE" = 1 ]; then
    why="smoke mode: no peers"
else
    why="not selected (BENCH_PEERS)"
fi
for p in nginx vsftpd rsync scp; do
    case " $PEERS " in
    *" $p "*) ;;
    *) NOTRUN[$p]=$why ;;
    esac
done

# up NAME: the peer or tool NAME is running and has not failed.
up() {
    case $1 in
    netdisk | netdisk-scram) return 0 ;;
    netdisk-tls) [ "$TLS_ON" = 1 ] && [ -z "${DISABLED[$1]:-}" ] ;;
    ref-*) [ -n "${REF_OK:-}" ] && [ -z "${DISABLED[nd_ref]:-}" ] ;;
    md5sum) return 0 ;;
    *) [ -n "${PEER_UP[$1]:-}" ] && [ -z "${DISABLED[$1]:-}" ] ;;
    esac
}

# Curl's lists: the small files and the concurrent files, as URL and
# output pairs (one curl process fetches them all), and the small files
# as upload pairs for vsftpd.
if up nginx; then
    for n in "${SMALL_NAMES[@]}"; do
        printf 'url = "http://127.0.0.1:%d/small/%s"\noutput = "%s/%s"\n' \
            "$NGINX_PORT" "$n" "$SMALL_OUT" "$n"
    done >"$W/curl.small"
    for n in "${CONC_NAMES[@]}"; do
        printf 'url = "http://127.0.0.1:%d/conc/%s"\noutput = "%s/out/conc/%s"\n' \
            "$NGINX_PORT" "$n" "$W" "$n"
    done >"$W/curl.conc"
fi
if up vsftpd; then
    for n in "${SMALL_NAMES[@]}"; do
        printf 'upload-file = "%s/src/small/%s"\nurl = "ftp://127.0.0.1:%d/up/sput/%s"\n' \
            "$W" "$n" "$VSFTPD_PORT" "$n"
    done >"$W/curl.sput"
fi
if up scp; then
    peer_ssh_opts
fi

# ---- nd_ref and nd_load --------------------------------------------------------------------
REF_OK=
if [ -x "$ND_REF" ]; then
    REF_OK=1
else
    NOTRUN[nd_ref]="$ND_REF is missing"
    note "limits not run: ${NOTRUN[nd_ref]}"
    [ "$SMOKE" = 1 ] && step_failed "limits" "${NOTRUN[nd_ref]}"
fi
# The concurrent files' digests, to check those the limit prints
# (conc_ref_check).
declare -A CONC_MD5=()
if [ -n "$REF_OK" ]; then
    while read -r h n; do
        CONC_MD5[$n]=$h
    done < <(cd "$W/src/conc" && bounded 300 md5sum -- "${CONC_NAMES[@]}")
    for n in "${CONC_NAMES[@]}"; do
        [ -n "${CONC_MD5[$n]:-}" ] || die "cannot hash the concurrent file $n"
    done
fi
# What waking a sleeping thread costs here (nd_ref wake), for the Machine
# section: the step from the daemon's reactor to a worker, which a session
# per file takes once more than nginx's one event loop (docs/benchmarks.md,
# "A session per file").  Measured once, before the rounds.
WAKE=
if [ -n "$REF_OK" ]; then
    if ! WAKE=$(bounded 90 "$ND_REF" wake "$WAKE_N" 2>"$W/wake.err") ||
        ! [[ "$WAKE" =~ ^wake\ (-|[0-9.]+)\ [0-9.]+\ [0-9.]+\ [0-9]+$ ]]; then
        note "nd_ref wake failed: '$WAKE' $(tail -n 1 "$W/wake.err")"
        [ "$SMOKE" = 1 ] && step_failed "nd_ref wake" "printed '$WAKE'"
        WAKE=
    fi
    [ -z "$WAKE" ] || say "nd_ref $WAKE (us a wake-up: two CPUs, one, free; % apart)"
fi
LOAD_HELP=
[ -x "$ND_LOAD" ] && LOAD_HELP=$("$ND_LOAD" --help 2>&1 || true)
for opt in churn churn-op idle; do
    if ! grep -q -- "--$opt" <<<"$LOAD_HELP"; then
        NOTRUN[nd_load-$opt]="$ND_LOAD has no --$opt option"
        note "${NOTRUN[nd_load-$opt]}: that workload is not run"
        [ "$SMOKE" = 1 ] && step_failed "nd_load --$opt" "${NOTRUN[nd_load-$opt]}"
    fi
done

# ---- the measurements -----------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
ROUND=0
T_BIG=$((60 + SIZE_MB * 120 / 1024))
T_SMALL=$((60 + SMALL_N / 10))
T_CONC=$((60 + CONC * CONC_MB * 120 / 1024))
SAMPLE=
WHY=

# record WORKLOAD TOOL ROUND VALUE UNIT
record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$SAMPLES"
    say "r$3 $1 $2: $4 $5"
}

# warm MB: sync, so that no writeback left by the step before (a put
# lands 1 GiB of dirty pages) competes with the timed run, then write and
# delete an untimed scratch file of MB MiB where the timed run will write
# (see the header).  In that order: pages freed and left alone for the
# seconds a sync can take are handed back to the host and fault again.
# The scratch file is written 1 MiB at a time: ext4 then caches it in
# large folios, and only memory freed from large folios warms a writer
# that uses them.  A scratch file written 4 KiB at a time (head -c) left
# the next 1 MiB writer as cold as none: 3.7 s for a new 1 GiB file
# against 0.3 s after a 1 MiB scratch (docs/benchmarks.md, "Analysis").
# Writers of small units are warmed either way.
warm() {
    bounded 120 sync || true
    bounded 120 dd if=/dev/zero of="$W/scratch" bs=1M count="$1" \
        status=none || true
    rm -f "$W/scratch"
}

# hot PATH...: reads PATH (files, or the files under directories) into the
# page cache, untimed, before a timed run reads them.  The issue's
# workloads read page-cached sources, but DAMON's pageout scheme on these
# machines drops file pages idle for a minute, a few percent of a file at
# a time and scattered: a 1 GiB file missing 35 MiB of its pages took
# 0.84 s to read instead of 0.15 s (docs/benchmarks.md, "The big get").
# Between two rounds' get phases the sources sit idle for minutes, and
# whichever tool read one first paid for its misses.  Reading a cached
# file again costs 0.15 s per GiB and allocates nothing.
hot() {
    bounded 60 find "$@" -type f -exec cat {} + >/dev/null 2>&1 || true
}

# aside DIR: moves DIR (files that a workload made) out of the way under
# $W/aside, where it stays until the run ends, instead of deleting it.  On
# an ext4 without a journal (these machines') a new inode is never one
# deleted in the last 60-360 s: each create in a directory's block group
# walks past every recently deleted inode there, so 1000 files made right
# after 1000 were deleted took 0.7 ms of system time each instead of about
# 0.2 ms (docs/benchmarks.md, "Analysis").  The big files are still
# deleted: one inode, and their pages must go.
aside() {
    [ -e "$1" ] || return 0
    mkdir -p "$W/aside"
    mv "$1" "$(mktemp -d "$W/aside/XXXXXX")/"
}

fresh_out() {
    rm -rf "$W/out"
    mkdir -p "$W/out"
}

# small_out_done: the small files a get wrote are checked; on the tmpfs
# they go at once, elsewhere they are moved aside.
small_out_done() {
    if [ "$OUTS_TMPFS" = 1 ]; then
        rm -rf "$SMALL_OUT"
    else
        aside "$SMALL_OUT"
    fi
}

# checked RC WHAT: after a check that returned RC: 0 passes; a check cut
# by the deadline fails the step (WHY); anything else is a wrong result.
checked() {
    [ "$1" -eq 0 ] && return 0
    if [ "$1" -eq 124 ] && [ "$DEADLINE_HIT" = 1 ]; then
        WHY="cut by the deadline while checking the result"
        return 1
    fi
    wrong "$2"
}

# check_same WHAT FILE: FILE is the big source, byte for byte.
check_same() {
    local rc=0
    [ -f "$2" ] || wrong "$1: $2 is missing"
    bounded 120 cmp -s "$SRC" "$2" || rc=$?
    checked "$rc" "$1: $2 differs from the source"
}

# check_md5out WHAT: the md5sum the timed command printed is the source's.
check_md5out() {
    local got
    got=$(cut -d' ' -f1 "$W/md5.out" 2>/dev/null || true)
    [ "$got" = "$SRC_MD5" ] || wrong "$1: md5sum printed '$got', the source's is $SRC_MD5"
}

# then_md5 FILE CMD...: CMD, then md5sum FILE (a verified download).
then_md5() {
    local f=$1
    shift
    bounded "$T_BIG" "$@" && bounded "$T_BIG" md5sum "$f" >"$W/md5.out"
}

# md5_then FILE CMD...: md5sum FILE, then CMD (what a user can check of
# an upload with FTP or scp).
md5_then() {
    local f=$1
    shift
    bounded "$T_BIG" md5sum "$f" >"$W/md5.out" && bounded "$T_BIG" "$@"
}

# ref KIND ARGS...: nd_ref KIND ARGS; checks what it printed (KIND
# SECONDS HEX [BYTES]) and sets SAMPLE to SECONDS per GiB.
ref() {
    local kind=$1 line sec hex bytes
    shift
    if ! bounded "$T_BIG" "$ND_REF" "$kind" "$@" >"$W/ref.out" 2>"$W/ref.err"; then
        WHY="nd_ref $kind exit status: $(tail -n 2 "$W/ref.err" | tr '\n' ' ')"
        return 1
    fi
    line=$(grep "^$kind " "$W/ref.out" | tail -n 1)
    read -r _ sec hex bytes <<<"$line"
    [[ ${sec:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
        WHY="nd_ref $kind printed no seconds: '$line'"
        return 1
    }
    [ "$hex" = "$SRC_MD5" ] || wrong "nd_ref $kind: digest '$hex', the source's is $SRC_MD5"
    if [ "$kind" != md5 ] && [ "$bytes" != "$SRC_BYTES" ]; then
        wrong "nd_ref $kind: $bytes bytes, the source has $SRC_BYTES"
    fi
    SAMPLE=$(calc "$sec * 1024 / $SIZE_MB")
}

per_gib() { calc "$1 / 1000000 * 1024 / $SIZE_MB"; }

# server_pids TOOL: the processes that serve TOOL's gets: netdiskd's pool
# process, nginx's workers.
server_pids() {
    case $1 in
    netdisk) echo "$POOL" ;;
    nginx) pgrep -P "$NGINX_PID" | tr '\n' ' ' ;;
    esac
}

# m_get TOOL: one verified get of the big file; SAMPLE in s/GiB.  From
# netdiskd and nginx, also a sample of the server's CPU time (workload
# cpu), as m_cpu takes it.
m_get() {
    local tool=$1 out=$W/out/big.bin rc=0 pids='' cpu=''
    fresh_out
    hot "$SRC"
    case $tool in
    ref-md5 | md5sum) ;;
    *) warm "$SIZE_MB" ;;
    esac
    case $tool in
    netdisk | nginx)
        pids=$(server_pids "$tool")
        # shellcheck disable=SC2086
        cpu_mark $pids
        ;;
    esac
    case $tool in
    netdisk) timed bounded "$T_BIG" "${ND[@]}" get big.bin "$out" || rc=$? ;;
    netdisk-tls) timed bounded "$T_BIG" "${NDT[@]}" get big.bin "$out" || rc=$? ;;
    nginx)
        timed then_md5 "$out" curl -q -s -S -f --noproxy '*' -o "$out" \
            "http://127.0.0.1:$NGINX_PORT/big.bin" || rc=$?
        ;;
    vsftpd)
        timed then_md5 "$out" curl -q -s -S --noproxy '*' -o "$out" \
            "ftp://127.0.0.1:$VSFTPD_PORT/big.bin" || rc=$?
        ;;
    rsync)
        timed bounded "$T_BIG" rsync -q --cc=md5 \
            "rsync://127.0.0.1:$RSYNC_PORT/data/big.bin" "$out" || rc=$?
        ;;
    scp)
        timed then_md5 "$out" scp -q "${SSH_OPTS[@]}" -P "$SSHD_PORT" \
            "$SSH_USER@127.0.0.1:$W/ssh/big.bin" "$out" || rc=$?
        ;;
    md5sum) timed bounded "$T_BIG" md5sum "$SRC" >"$W/md5.out" || rc=$? ;;
    ref-get)
        ref get "$SRC" "$out" || return 1
        check_same "nd_ref get" "$out" || return 1
        return 0
        ;;
    ref-md5)
        ref md5 "$SRC"
        return
        ;;
    esac
    # shellcheck disable=SC2086
    if [ -n "$pids" ] && ! cpu=$(cpu_since $pids); then
        note "r$ROUND get $tool: the server's threads changed during the get; no CPU sample"
    fi
    if [ "$rc" -ne 0 ]; then
        WHY="exit status $rc"
        return 1
    fi
    case $tool in
    nginx | vsftpd | scp | md5sum) check_md5out "get $tool" ;;
    esac
    if [ "$tool" != md5sum ]; then
        check_same "get $tool" "$out" || return 1
    fi
    if [ -n "$cpu" ]; then
        record cpu "$tool" "$ROUND" "$cpu" s/GiB
    fi
    SAMPLE=$(per_gib "$T_US")
}

# m_put TOOL: one verified put of the big file; SAMPLE in s/GiB.
m_put() {
    local tool=$1 rc=0 landed
    fresh_out
    rm -rf "$W/refput" "$W/ftp/up/put.bin" "$W/rsync/up/put.bin" \
        "$W/ssh/up/put.bin"
    mkdir -p "$W/refput"
    hot "$SRC"
    warm "$SIZE_MB"
    case $tool in
    netdisk | netdisk-tls)
        landed=$USERDIR/put.bin
        if [ "$tool" = netdisk ]; then
            timed bounded "$T_BIG" "${ND[@]}" put "$SRC" put.bin || rc=$?
        else
            timed bounded "$T_BIG" "${NDT[@]}" put "$SRC" put.bin || rc=$?
        fi
        ;;
    vsftpd)
        landed=$W/ftp/up/put.bin
        timed md5_then "$SRC" curl -q -s -S --noproxy '*' -T "$SRC" \
            "ftp://127.0.0.1:$VSFTPD_PORT/up/put.bin" || rc=$?
        ;;
    rsync)
        landed=$W/rsync/up/put.bin
        timed bounded "$T_BIG" rsync -q --cc=md5 "$SRC" \
            "rsync://127.0.0.1:$RSYNC_PORT/data/up/put.bin" || rc=$?
        ;;
    scp)
        landed=$W/ssh/up/put.bin
        timed md5_then "$SRC" scp -q "${SSH_OPTS[@]}" -P "$SSHD_PORT" \
            "$SRC" "$SSH_USER@127.0.0.1:$landed" || rc=$?
        ;;
    ref-put-sync | ref-put)
        if [ "$tool" = ref-put-sync ]; then
            ref put "$SRC" "$W/refput" --sync || return 1
        else
            ref put "$SRC" "$W/refput" || return 1
        fi
        # nd_ref's server lands the bytes in an unnamed temporary file,
        # compares its own MD5 of them with the client's trailer, and
        # answers 'N' (exit 1) on a mismatch; nothing is left to cmp.
        # ref checked the digest and the byte count it printed.
        [ -z "$(find "$W/refput" -mindepth 1 -print -quit)" ] ||
            wrong "nd_ref put left files in $W/refput"
        return 0
        ;;
    esac
    if [ "$rc" -ne 0 ]; then
        WHY="exit status $rc"
        return 1
    fi
    case $tool in
    vsftpd | scp) check_md5out "put $tool" ;;
    esac
    check_same "put $tool" "$landed" || return 1
    case $tool in
    netdisk | netdisk-tls)
        bounded 60 "${ND[@]}" rm put.bin || {
            WHY="netdisk rm put.bin failed"
            return 1
        }
        ;;
    *) rm -f "$landed" ;;
    esac
    SAMPLE=$(per_gib "$T_US")
}

# check_small WHAT DIR: DIR holds exactly the small files.
check_small() {
    local rc=0
    bounded 120 diff -rq "$W/src/small" "$2" >"$W/diff.out" 2>&1 || rc=$?
    checked "$rc" "$1: $(head -n 3 "$W/diff.out" | tr '\n' ' ')"
}

# churn OP LOGIN [ARGS...]: nd_load --churn SMALL_N files of 4 KiB, a
# connection each doing OP (get or put), logged in by LOGIN (ticket or
# scram); sets CHURN_RATE to its files per second and CHURN_SECS to the
# seconds they took, or WHY and returns 1.
CHURN_RATE=
CHURN_SECS=
churn() {
    local op=$1 login=$2 rc=0 line n r f s
    shift 2
    CHURN_RATE=
    CHURN_SECS=
    # --churn-op only for puts: a get is nd_load's default.
    [ "$op" = get ] || set -- --churn-op "$op" "$@"
    bounded $((T_SMALL * 4)) "$ND_LOAD" --port "$PORT" --churn "$SMALL_N" \
        --churn-size 4096 --churn-login "$login" "$@" \
        >"$W/churn.out" 2>"$W/churn.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        WHY="nd_load --churn exit status $rc: $(tail -n 2 "$W/churn.err" | tr '\n' ' ')"
        return 1
    fi
    # churn: gets|puts N seconds S per_sec R ... failed F ...
    line=$(grep '^churn: ' "$W/churn.out" | tail -n 1)
    n=$(sed -n 's/^churn: '"$op"'s \([0-9]*\) .*/\1/p' <<<"$line")
    r=$(sed -n 's/.* per_sec \([0-9.]*\).*/\1/p' <<<"$line")
    s=$(sed -n 's/.* seconds \([0-9.]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.* failed \([0-9]*\).*/\1/p' <<<"$line")
    if [ "${n:-}" != "$SMALL_N" ] || [ "${f:-0}" != 0 ] ||
        ! [[ ${r:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        ! [[ ${s:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        [[ $line != *" login $login "* ]]; then
        WHY="nd_load --churn printed '$line'"
        return 1
    fi
    # A ticket refused makes that connection log in with SCRAM.
    f=$(sed -n 's/.* relogins \([0-9]*\).*/\1/p' <<<"$line")
    [ "${f:-0}" = 0 ] || note "nd_load --churn: ${f} ticket(s) refused, logged in again"
    # churn: ... login L relogins N replay refused ...; nd_load itself
    # fails when a used ticket is accepted again.
    CHURN_RATE=$r
    CHURN_SECS=$s
}

# m_small WORKLOAD TOOL: the small-file workloads.
m_small() {
    local wl=$1 tool=$2 rc=0 line n r login
    fresh_out
    rm -rf "$SMALL_OUT"
    mkdir -p "$SMALL_OUT"
    # The sources: the puts' and nginx's (hard links), and the daemon's
    # copies, once this round's put has made them (hot skips a path that
    # is not there).
    hot "$W/src/small" "$USERDIR/small"
    case $wl/$tool in
    small-get/netdisk)
        timed bounded "$T_SMALL" "${ND[@]}" get "${SMALL_NAMES[@]/#/small/}" \
            "$SMALL_OUT" || rc=$?
        ;;
    small-get/nginx)
        timed bounded "$T_SMALL" curl -q -s -S -f --noproxy '*' \
            --config "$W/curl.small" || rc=$?
        ;;
    small-get-conn/nginx)
        timed bounded "$T_SMALL" curl -q -s -S -f --noproxy '*' \
            -H 'Connection: close' --config "$W/curl.small" || rc=$?
        ;;
    small-get-conn/netdisk | small-get-conn/netdisk-scram)
        # nd_load writes each file it got, as curl does in the row beside.
        # Each connection logs in with the ticket the one before got (one
        # round trip), or, for the row beside, with SCRAM (two).
        login=ticket
        [ "$tool" = netdisk-scram ] && login=scram
        churn get "$login" --churn-out "$SMALL_OUT" || return 1
        # nd_load checked every file against what it put; here, that it
        # wrote them all.
        n=$(find "$SMALL_OUT" -type f -size 4096c | wc -l)
        [ "$n" = "$SMALL_N" ] ||
            wrong "nd_load --churn-out: $n files of 4096 bytes, not $SMALL_N"
        small_out_done
        SAMPLE=$CHURN_RATE
        return 0
        ;;
    small-put-conn/netdisk)
        # Each connection logs in with a ticket and puts one file (synced
        # as every upload is); nd_load checks each OK against what it sent
        # and gets every file back afterwards, untimed.
        bounded 120 sync || true
        churn put ticket || return 1
        SAMPLE=$(calc "$CHURN_SECS * 1000 / $SMALL_N")
        return 0
        ;;
    small-put/netdisk)
        # No earlier write left for the disk to catch up with meanwhile.
        bounded 120 sync || true
        timed bounded "$T_SMALL" "${ND[@]}" put \
            "${SMALL_NAMES[@]/#/$W/src/small/}" small/ || rc=$?
        ;;
    small-put/ref-small-sync | small-put/ref-small)
        # What landing the files costs with no protocol around it, with
        # the daemon's syncs (an fdatasync of each file and an fsync of
        # its directory) and without: the difference is what the syncs
        # cost per file.
        mkdir -p "$W/out/refsmall"
        bounded 120 sync || true
        local sync_arg=()
        [ "$tool" = ref-small-sync ] && sync_arg=(--sync)
        bounded "$T_SMALL" "$ND_REF" small "$W/out/refsmall" "$SMALL_N" 4096 \
            "${sync_arg[@]}" >"$W/ref.out" 2>"$W/ref.err" || rc=$?
        if [ "$rc" -ne 0 ]; then
            WHY="nd_ref small exit status $rc: $(tail -n 2 "$W/ref.err" | tr '\n' ' ')"
            return 1
        fi
        line=$(grep '^small ' "$W/ref.out" | tail -n 1)
        read -r _ r n <<<"$line"
        if ! [[ ${r:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || [ "${n:-}" != "$SMALL_N" ]; then
            WHY="nd_ref small printed '$line'"
            return 1
        fi
        n=$(find "$W/out/refsmall" -type f -name 'f*' -size 4096c | wc -l)
        [ "$n" = "$SMALL_N" ] || wrong "nd_ref small: $n files of 4096 bytes, not $SMALL_N"
        aside "$W/out/refsmall"
        SAMPLE=$(calc "$r * 1000 / $SMALL_N")
        return 0
        ;;
    small-put/vsftpd)
        aside "$W/ftp/up/sput"
        bounded 120 sync || true
        timed bounded "$T_SMALL" curl -q -s -S --noproxy '*' --ftp-create-dirs \
            --config "$W/curl.sput" || rc=$?
        ;;
    esac
    if [ "$rc" -ne 0 ]; then
        WHY="exit status $rc"
        return 1
    fi
    case $wl/$tool in
    small-get/* | small-get-conn/*)
        check_small "$wl $tool" "$SMALL_OUT" || return 1
        small_out_done
        SAMPLE=$(calc "$SMALL_N / ($T_US / 1000000)")
        ;;
    small-put/netdisk)
        check_small "$wl $tool" "$USERDIR/small" || return 1
        SAMPLE=$(calc "$T_US / 1000 / $SMALL_N")
        ;;
    small-put/vsftpd)
        check_small "$wl $tool" "$W/ftp/up/sput" || return 1
        aside "$W/ftp/up/sput"
        SAMPLE=$(calc "$T_US / 1000 / $SMALL_N")
        ;;
    esac
}

# conc_gets TOOL: CONC gets at once, a process each: netdisk's client
# (each verifies its file), or for ref-get their limit, nd_ref get (its
# server child sendfile()s the source; its client receives, writes and
# hashes on a second thread), with no protocol, login or store around
# them.  Each nd_ref prints its digest into $W/refconc, checked in m_conc.
conc_gets() {
    local tool=$1 n pid bad=0
    BG_PIDS=()
    local secs
    secs=$(capped "$T_CONC")
    [ "$secs" -ge 1 ] || return 124
    if [ "$tool" = ref-get ]; then
        rm -rf "$W/refconc"
        mkdir -p "$W/refconc"
    fi
    for n in "${CONC_NAMES[@]}"; do
        if [ "$tool" = ref-get ]; then
            timeout -k 2 "$secs" "$ND_REF" get "$W/src/conc/$n" \
                "$W/out/conc/$n" >"$W/refconc/$n" 2>>"$W/conc.err" &
        else
            timeout -k 2 "$secs" "${ND[@]}" get "conc/$n" "$W/out/conc/$n" \
                2>>"$W/conc.err" &
        fi
        BG_PIDS+=("$!")
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" || bad=$((bad + 1))
    done
    BG_PIDS=()
    [ "$bad" -eq 0 ]
}

# conc_ref_check: every nd_ref get of conc_gets printed its file's digest
# and size.
conc_ref_check() {
    local n line
    for n in "${CONC_NAMES[@]}"; do
        line=
        read -r line <"$W/refconc/$n" || true
        [[ "$line" == "get "*" ${CONC_MD5[$n]} $((CONC_MB * 1048576))" ]] ||
            wrong "nd_ref get of conc/$n printed '$line', the source's md5 is ${CONC_MD5[$n]}"
    done
    rm -rf "$W/refconc"
}

# m_conc TOOL: concurrent gets; SAMPLE in MiB/s, all bytes over the wall
# time.  Also records conc-cpu: the CPU time the whole machine spent during
# the gets, per GiB (both ends of every transfer, and anything else that
# ran), in clock ticks: a small run may count none.
m_conc() {
    local tool=$1 rc=0 b0 b1
    fresh_out
    mkdir -p "$W/out/conc"
    : >"$W/conc.err"
    hot "$W/src/conc"
    # The scratch file covers what the run will take: the files it writes
    # and, for every tool alike, CONC_PROC_MB for each of CONC processes
    # (a netdisk get of 16 MiB peaks at 8.6 MiB RSS, shared libraries
    # included; nd_ref get runs two).  With the files' size alone, the
    # tools that run a process per get paid the host's first touch for
    # their memory: by hand, nine runs of each in turn, netdisk and nd_ref
    # took 1.32 and 1.31 s at the median, curl 1.16; with 512 MiB more,
    # 1.24 and 1.20 s, curl 1.18 (docs/benchmarks.md, "64 concurrent
    # gets: their limit, and the warm-up").
    warm $((CONC * CONC_MB + CONC * CONC_PROC_MB))
    read -r _ _ b0 <<<"$(cpu_ticks)"
    case $tool in
    netdisk | ref-get) timed conc_gets "$tool" || rc=$? ;;
    nginx)
        timed bounded "$T_CONC" curl -q -s -S -f --noproxy '*' --parallel \
            --parallel-immediate --parallel-max "$CONC" \
            --config "$W/curl.conc" 2>"$W/conc.err" || rc=$?
        ;;
    esac
    read -r _ _ b1 <<<"$(cpu_ticks)"
    if [ "$rc" -ne 0 ]; then
        WHY="a get failed: $(head -n 2 "$W/conc.err" | tr '\n' ' ')"
        return 1
    fi
    rc=0
    bounded 120 diff -rq "$W/src/conc" "$W/out/conc" >"$W/diff.out" 2>&1 || rc=$?
    checked "$rc" "concurrent gets $tool: $(head -n 3 "$W/diff.out" | tr '\n' ' ')" ||
        return 1
    [ "$tool" != ref-get ] || conc_ref_check
    if [ "${b1:-0}" -gt 0 ] && [ "$b1" -ge "${b0:-0}" ]; then
        record conc-cpu "$tool" "$ROUND" \
            "$(calc "($b1 - $b0) / $CLK_TCK * 1024 / ($CONC * $CONC_MB)")" s/GiB
    fi
    SAMPLE=$(calc "$CONC * $CONC_MB / ($T_US / 1000000)")
}

# cpu_ns PID...: the CPU time the PIDs' threads have had, in nanoseconds:
# the first field of /proc/PID/task/TID/schedstat, the scheduler's own
# sum of run time.  /proc/PID/stat counts in clock ticks of 10 ms, and one
# get of the big file costs a server only 10 to 20 of them: a tick was
# 5 to 10 % of a sample.  Where the kernel has no schedstat, ticks are
# used.  Only live threads are summed, so tasks_of() must be the same
# before and after a sample (neither server starts a thread to serve a
# get).
if [ -r /proc/self/schedstat ]; then
    CPU_CLOCK=schedstat
else
    CPU_CLOCK=ticks
fi
cpu_ns() {
    local p f t sum=0
    for p in "$@"; do
        if [ "$CPU_CLOCK" = ticks ]; then
            t=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null |
                awk '{ print $12 + $13 }') || t=0
            sum=$((sum + ${t:-0} * 1000000000 / CLK_TCK))
            continue
        fi
        for f in "/proc/$p/task/"*/schedstat; do
            { read -r t _ <"$f"; } 2>/dev/null || continue
            sum=$((sum + t))
        done
    done
    echo "$sum"
}

# tasks_of PID...: the thread ids of the PIDs, on one line.
tasks_of() {
    local p t
    for p in "$@"; do
        for t in "/proc/$p/task/"*; do
            printf '%s ' "${t##*/}"
        done
    done
}

# cpu_per_gib BEFORE AFTER: CPU seconds per GiB of the big file, from two
# cpu_ns readings.
cpu_per_gib() {
    calc "($2 - $1) / 1000000000 * 1024 / $SIZE_MB"
}

# cpu_mark PID...: the PIDs' threads and CPU time before a get of the big
# file (CPU_TB, CPU_B), for cpu_since.
CPU_TB=
CPU_B=0
cpu_mark() {
    CPU_TB=$(tasks_of "$@")
    CPU_B=$(cpu_ns "$@")
}

# cpu_since PID...: the CPU seconds per GiB the PIDs took since cpu_mark;
# nothing, and status 1, when their threads changed meanwhile (the sample
# is dropped: see cpu_ns).
cpu_since() {
    local a
    a=$(cpu_ns "$@")
    [ "$(tasks_of "$@")" = "$CPU_TB" ] || return 1
    cpu_per_gib "$CPU_B" "$a"
}

# m_cpu TOOL: the server's CPU time for one get of the big file; SAMPLE
# in CPU seconds per GiB.
m_cpu() {
    local tool=$1 out=$W/out/big.bin rc=0 pids cpu=''
    fresh_out
    hot "$SRC"
    warm "$SIZE_MB"
    pids=$(server_pids "$tool")
    # shellcheck disable=SC2086
    cpu_mark $pids
    case $tool in
    netdisk) bounded "$T_BIG" "${ND[@]}" get big.bin "$out" || rc=$? ;;
    nginx)
        bounded "$T_BIG" curl -q -s -S -f --noproxy '*' -o "$out" \
            "http://127.0.0.1:$NGINX_PORT/big.bin" || rc=$?
        ;;
    esac
    # shellcheck disable=SC2086
    cpu=$(cpu_since $pids) || cpu=''
    if [ "$rc" -ne 0 ]; then
        WHY="exit status $rc"
        return 1
    fi
    check_same "cpu get $tool" "$out" || return 1
    if [ -z "$cpu" ]; then
        note "r$ROUND cpu $tool: the server's threads changed during the get; sample dropped"
        return 0
    fi
    SAMPLE=$cpu
}

# measure WORKLOAD TOOL ROUND UNIT FUNC ARGS...: one sample, recorded; a
# failure is noted and, for a peer, ends its part in the run.
measure() {
    local wl=$1 tool=$2 r=$3 unit=$4
    shift 4
    ROUND=$r
    SAMPLE=
    WHY=
    if "$@"; then
        # A step may succeed with no sample (one it had to drop): noted
        # by the step, not recorded.
        [ -z "$SAMPLE" ] || record "$wl" "$tool" "$r" "$SAMPLE" "$unit"
        return 0
    fi
    # (A command run in the background cannot set DEADLINE_HIT here.)
    [ "$(left)" -gt 0 ] || DEADLINE_HIT=1
    if [ "$DEADLINE_HIT" = 1 ]; then
        step_failed "r$r $wl $tool" "cut by the deadline"
        return 1
    fi
    step_failed "r$r $wl $tool" "${WHY:-failed}"
    case $tool in
    netdisk | md5sum) ;;
    ref-*) DISABLED[nd_ref]=1 ;;
    *) DISABLED[$tool]=1 ;;
    esac
    return 1
}

# A round: every tool in turn on each workload.
GET_TOOLS="netdisk nginx vsftpd rsync scp ref-get ref-md5 md5sum netdisk-tls"
PUT_TOOLS="netdisk vsftpd rsync scp ref-put-sync ref-put netdisk-tls"
# round R MODE: MODE "full" runs every workload, "big" only the get and
# put of the big file (when the deadline leaves no time for the rest);
# sets T_BIG_PART and T_REST_PART to the seconds each part took.
T_BIG_PART=0
T_REST_PART=0
# in_order R TOOL...: the tools in the order round R runs them: as given in
# odd rounds, reversed in even ones, so that no tool always runs first
# after a step that leaves the machine busy (writeback, freed memory).
in_order() {
    local r=$1 i
    shift
    local tools=("$@")
    if [ $((r % 2)) -eq 1 ]; then
        printf '%s\n' "${tools[@]}"
    else
        for ((i = ${#tools[@]} - 1; i >= 0; i--)); do
            printf '%s\n' "${tools[i]}"
        done
    fi
}

# in_turn N TOOL...: the tools rotated to start with the (N mod count)th,
# in the order given for even N / count and reversed for odd: for three
# tools, runs 0 to 5 take the six orders, so that each tool comes first,
# second and third twice and follows each of the others as often.  (With
# in_order's reversal a middle tool would always run in the middle, and
# here how a run goes depends on the run before it: docs/benchmarks.md,
# "64 concurrent gets: their limit, and the warm-up".)
in_turn() {
    local n=$1 i
    shift
    local tools=("$@") c=$#
    if [ $((n / c % 2)) -eq 1 ]; then
        for ((i = 0; i < c; i++)); do
            tools[i]=${*:c-i:1}
        done
    fi
    for ((i = 0; i < c; i++)); do
        printf '%s\n' "${tools[(n + i) % c]}"
    done
}

round() {
    local r=$1 mode=$2 t t0
    t0=$(elapsed)
    # shellcheck disable=SC2086
    for t in $(in_order "$r" $GET_TOOLS); do
        up "$t" || continue
        [ "$DEADLINE_HIT" = 0 ] || return 0
        measure get "$t" "$r" s/GiB m_get "$t" || true
    done
    # shellcheck disable=SC2086
    for t in $(in_order "$r" $PUT_TOOLS); do
        up "$t" || continue
        [ "$DEADLINE_HIT" = 0 ] || return 0
        measure put "$t" "$r" s/GiB m_put "$t" || true
    done
    T_BIG_PART=$(($(elapsed) - t0))
    [ "$mode" = full ] || return 0
    t0=$(elapsed)
    # The put lands the small files in small/, where the gets read them;
    # a round starts without them, so that every put makes new files.
    # The last round's are moved aside, not deleted (see aside()).
    if [ -e "$USERDIR/small" ] && ! bounded 120 "${ND[@]}" mv small "small.before-r$r"; then
        step_failed "r$r small-put netdisk" "netdisk mv small failed"
    fi
    for t in $(in_order "$r" netdisk vsftpd ref-small-sync ref-small); do
        up "$t" || continue
        [ "$DEADLINE_HIT" = 0 ] || return 0
        measure small-put "$t" "$r" ms/file m_small small-put "$t" || true
    done
    # The same puts with a session each: a figure of its own (no peer
    # here opens a session per file for a batch of uploads).
    if up netdisk && [ -z "${NOTRUN[nd_load-churn]:-}${NOTRUN[nd_load-churn-op]:-}" ] &&
        [ "$DEADLINE_HIT" = 0 ]; then
        measure small-put-conn netdisk "$r" ms/file m_small small-put-conn netdisk || true
    fi
    if ! bounded 60 diff -rq "$W/src/small" "$USERDIR/small" >/dev/null 2>&1; then
        # The timed put failed: put them for the gets, untimed.
        bounded 120 "${ND[@]}" rm -r small >/dev/null 2>&1 || true
        bounded "$T_SMALL" "${ND[@]}" put "${SMALL_NAMES[@]/#/$W/src/small/}" \
            small/ || step_failed "r$r small files" "netdisk put (untimed) failed"
    fi
    for t in $(in_order "$r" netdisk nginx); do
        up "$t" || continue
        [ "$DEADLINE_HIT" = 0 ] || return 0
        measure small-get "$t" "$r" files/s m_small small-get "$t" || true
    done
    # The session per file swings most from minute to minute (a round's
    # ratio went from 0.86 to 1.16 in one run): CONN_REPS interleaved runs
    # per round, every one a sample, so that its median rests on more.
    for ((k = 1; k <= CONN_REPS; k++)); do
        for t in $(in_order "$((r + k - 1))" netdisk netdisk-scram nginx); do
            up "$t" || continue
            [ "$DEADLINE_HIT" = 0 ] || return 0
            if [ "$t" != nginx ] && [ -n "${NOTRUN[nd_load-churn]:-}" ]; then
                continue
            fi
            measure small-get-conn "$t" "$r.$k" files/s m_small \
                small-get-conn "$t" || true
        done
    done
    # The concurrent gets swing as much (one run: 0.78, 1.21 and 0.95 a
    # round): CONC_REPS interleaved runs of each per round, each a sample,
    # with their limit, nd_ref get at the same concurrency.
    for ((k = 1; k <= CONC_REPS; k++)); do
        for t in $(in_turn "$(((r - 1) * CONC_REPS + k - 1))" netdisk nginx ref-get); do
            up "$t" || continue
            [ "$DEADLINE_HIT" = 0 ] || return 0
            measure conc "$t" "$r.$k" MiB/s m_conc "$t" || true
        done
    done
    T_REST_PART=$(($(elapsed) - t0))
}

# cpu_phase: the rounds' gets of the big file from netdiskd and nginx
# gave a server CPU sample each (m_get); more gets, CPU samples only, up
# to CPU_GETS per server while the time left allows.
cpu_phase() {
    local i t n need
    for t in netdisk nginx; do
        up "$t" || continue
        n=$(awk -F '\t' -v t="$t" '$1 == "cpu" && $2 == t' "$SAMPLES" | wc -l)
        [ "$n" -lt "$CPU_GETS" ] || continue
        say "server CPU: $((CPU_GETS - n)) more get(s) from $t"
        for ((i = n + 1; i <= CPU_GETS; i++)); do
            # A get, its scratch file and its check, with room to spare.
            need=$((10 + SIZE_MB * 10 / 1024))
            if [ "$DEADLINE_HIT" = 1 ] || [ "$(left)" -lt "$need" ]; then
                note "server CPU: $((i - 1)) get(s) from $t, not $CPU_GETS (BENCH_DEADLINE)"
                break
            fi
            measure cpu "$t" "x$i" s/GiB m_cpu "$t" || true
        done
    done
}

# pool_fds: how many descriptors the pool process holds.  find fails when
# one closes while it lists them; what it listed still counts, and under
# pipefail the failure must not end the run.
pool_fds() {
    { find "/proc/$POOL/fd" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l
}

# idle_phase: nd_load holds IDLE logged-in sessions for IDLE_SECS; while
# they are held, one verified get of a small file must be served.
idle_phase() {
    local base fds i rc=0 line probe_rc=0 rss_b rss_d fds_b fds_d li last stable
    if [ -n "${NOTRUN[nd_load-idle]:-}" ]; then
        return 0
    fi
    [ "$DEADLINE_HIT" = 0 ] || return 0
    fresh_out
    base=$(pool_fds)
    i=$(capped $((IDLE_SECS + 120)))
    [ "$i" -gt "$IDLE_SECS" ] || {
        DEADLINE_HIT=1
        step_failed "idle netdisk" "no time left before the deadline"
        return 0
    }
    timeout -k 2 "$i" "$ND_LOAD" --port "$PORT" --pid "$POOL" \
        --sessions "$IDLE" --idle "$IDLE_SECS" >"$W/idle.out" 2>"$W/idle.err" &
    IDLE_PID=$!
    # All are held once the pool has two more descriptors per session
    # (its socket and the user's directory), or, should that change, once
    # the count has stopped growing for a second above one per session.
    last=-1
    stable=0
    for ((i = 0; i < 10 * (IDLE_SECS + 60); i++)); do
        fds=$(pool_fds)
        [ "$fds" -ge $((base + 2 * IDLE)) ] && break
        if [ "$fds" -eq "$last" ]; then
            stable=$((stable + 1))
        else
            stable=0
        fi
        last=$fds
        [ "$stable" -ge 10 ] && [ "$fds" -ge $((base + IDLE)) ] && break
        peer__alive "$IDLE_PID" || break
        [ "$(left)" -gt 5 ] || break
        sleep 0.1
    done
    say "the pool holds $((fds - base)) more descriptors: the get while they are held"
    timed bounded 60 "${ND[@]}" get probe/f0000 "$W/out/probe" || probe_rc=$?
    if [ "$probe_rc" -eq 0 ] && cmp -s "$W/src/small/f0000" "$W/out/probe"; then
        record idle-probe netdisk 1 "$(calc "$T_US / 1000")" ms
    elif [ "$probe_rc" -eq 0 ]; then
        wrong "the get during the idle sessions returned other bytes"
    else
        step_failed "idle-probe netdisk" "the get while $IDLE sessions were idle failed (exit $probe_rc)"
    fi
    wait "$IDLE_PID" || rc=$?
    IDLE_PID=
    if [ "$rc" -eq 124 ] && [ "$(left)" -le 0 ]; then
        DEADLINE_HIT=1
        step_failed "idle netdisk" "cut by the deadline"
        return 0
    elif [ "$rc" -ne 0 ]; then
        step_failed "idle netdisk" "nd_load --idle exit status $rc: $(tail -n 2 "$W/idle.err" | tr '\n' ' ')"
        return 0
    fi
    line=$(grep '^idle: ' "$W/idle.out" | tail -n 1)
    # idle: sessions N logged_in L rss_kb_before X rss_kb_during Y
    #       fds_before A fds_during B
    li=$(sed -n 's/.* logged_in \([0-9]*\).*/\1/p' <<<"$line")
    rss_b=$(sed -n 's/.* rss_kb_before \([0-9]*\).*/\1/p' <<<"$line")
    rss_d=$(sed -n 's/.* rss_kb_during \([0-9]*\).*/\1/p' <<<"$line")
    fds_b=$(sed -n 's/.* fds_before \([0-9]*\).*/\1/p' <<<"$line")
    fds_d=$(sed -n 's/.* fds_during \([0-9]*\).*/\1/p' <<<"$line")
    if [ -z "$li" ] || [ -z "$rss_d" ] || [ -z "$fds_d" ]; then
        step_failed "idle netdisk" "nd_load --idle printed '$line'"
        return 0
    fi
    [ "$li" = "$IDLE" ] ||
        step_failed "idle netdisk" "$li of $IDLE sessions logged in"
    record idle-sessions netdisk 1 "$li" sessions
    record idle-rss netdisk 1 "$(calc "$rss_d / 1024")" MiB
    record idle-rss-growth netdisk 1 "$(calc "($rss_d - ${rss_b:-0}) / 1024")" MiB
    record idle-fds netdisk 1 "$((fds_d - ${fds_b:-0}))" fds
}

# Which TLS path served: kTLS (SSL_sendfile) when the kernel's TLS ULP
# counted transmissions, else OpenSSL in user space.
# ", CONFIG_TLS is not set" when the running kernel's config says so: kTLS
# is then out of reach on this machine, whatever the daemon does.
ktls_config() {
    if [ -r /proc/config.gz ] &&
        zcat /proc/config.gz 2>/dev/null | grep -q '^# CONFIG_TLS is not set'; then
        printf ', and /proc/config.gz says CONFIG_TLS is not set'
    fi
}

tls_stat() {
    if [ -r /proc/net/tls_stat ]; then
        awk '$1 == "TlsTxSw" || $1 == "TlsTxDevice" { s += $2 } END { print s + 0 }' \
            /proc/net/tls_stat
    else
        echo none
    fi
}

# ---- the run --------------------------------------------------------------------------------
TLS_STAT0=$(tls_stat)
say "setup took $(elapsed) s; $(left) s left for the measurements"
# Every workload runs in round 1, and the idle sessions right after it,
# so a short budget still measures everything once.  Later rounds run in
# full while the time left fits all of them; else they measure the big
# file's get and put only (the headline targets), while that fits.
ROUNDS_RUN=0
FULL_ROUNDS=0
mode=full
for ((r = 1; r <= ROUNDS; r++)); do
    if [ "$r" -gt 1 ]; then
        rem=$((ROUNDS - r + 1))
        l=$(left)
        if [ "$mode" = full ] &&
            [ "$l" -ge $((rem * (T_BIG_PART + T_REST_PART) * 21 / 20 + 10)) ]; then
            mode=full
        elif [ "$l" -ge $((T_BIG_PART * 21 / 20 + 10)) ]; then
            if [ "$mode" = full ]; then
                note "rounds $r to $ROUNDS: the big file's get and put only" \
                    "($l s left; a full round takes about" \
                    "$((T_BIG_PART + T_REST_PART)) s, its big-file part $T_BIG_PART s)"
            fi
            mode=big
        else
            note "rounds $r to $ROUNDS not run: $l s left, the big-file part" \
                "of a round takes about $T_BIG_PART s (BENCH_DEADLINE)"
            break
        fi
    fi
    if [ "$mode" = full ]; then
        say "round $r of $ROUNDS"
    else
        say "round $r of $ROUNDS (the big file only)"
    fi
    round "$r" "$mode"
    [ "$DEADLINE_HIT" = 0 ] || break
    ROUNDS_RUN=$r
    if [ "$mode" = full ]; then
        FULL_ROUNDS=$r
    fi
    if [ "$r" -eq 1 ]; then
        say "$IDLE idle sessions for $IDLE_SECS s"
        idle_phase
    fi
done
cpu_phase
TLS_STAT1=$(tls_stat)
if [ "$TLS_ON" = 1 ]; then
    if grep -qi 'ktls' "$TLOG"; then
        TLS_PATH="see the daemon log: $(grep -i -m 1 'ktls' "$TLOG" | sed 's/^.*\] //')"
    elif [ "$TLS_STAT0" != none ] && [ "$TLS_STAT1" -gt "$TLS_STAT0" ]; then
        TLS_PATH="kTLS: SSL_sendfile (the kernel's TLS ULP counted $((TLS_STAT1 - TLS_STAT0)) transmit sessions)"
    elif [ "$TLS_STAT0" != none ]; then
        TLS_PATH="user space: OpenSSL (the kernel has the TLS ULP, but OpenSSL did not enable kTLS)"
    else
        TLS_PATH="user space: OpenSSL (no kernel TLS ULP: /proc/net/tls_stat is absent$(ktls_config))"
    fi
else
    TLS_PATH="not run: ${NOTRUN[netdisk-tls]:-}"
fi

# ---- the daemons afterwards --------------------------------------------------------------------
stop_daemon() {
    local pid=$1 name=$2 i drc=timeout
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        if ! peer__alive "$pid"; then
            drc=0
            wait "$pid" || drc=$?
            break
        fi
        sleep 0.1
    done
    [ "$drc" = 0 ] || step_failed "$name" "SIGTERM: exit status $drc"
}
[ -z "$TPID" ] || { stop_daemon "$TPID" "netdiskd (TLS)"; TPID=; }
[ -n "$DPID" ] && ! peer__alive "$POOL" &&
    step_failed "netdiskd" "the pool process $POOL is gone (crashed or restarted)"
stop_daemon "$DPID" netdiskd
DPID=
for log in "$DLOG" "$TLOG"; do
    [ -f "$log" ] || continue
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$log"; then
        step_failed "$(basename "$log")" "sanitizer report:"
        grep -E -m 5 'ERROR: |WARNING: |runtime error:' "$log" | sed 's/^/bench:   /'
    fi
done

# ---- the report -----------------------------------------------------------------------------------
report_summarise "$SAMPLES" >"$W/summary.tsv"
report_build "$W/summary.tsv"
echo
report_text
echo
REPORT_MD=$W/report.md
report_markdown >"$REPORT_MD"
PNG=
if command -v gnuplot >/dev/null 2>&1; then
    if report_chart "$W/benchmarks.png" 2>"$W/gnuplot.err"; then
        PNG=$W/benchmarks.png
    else
        note "gnuplot failed: $(head -n 2 "$W/gnuplot.err" | tr '\n' ' ')"
    fi
else
    note "no gnuplot: no chart (scripts/install-deps.sh gnuplot-nox)"
fi
if [ "$DOCS" = 1 ]; then
    report_docs "$SRCDIR/docs/benchmarks.md" "$REPORT_MD"
    if [ -n "$PNG" ]; then
        cp "$PNG" "$SRCDIR/docs/benchmarks.png"
    fi
    say "wrote docs/benchmarks.md${PNG:+ and docs/benchmarks.png}"
else
    say "report: $REPORT_MD${PNG:+, chart $PNG} (removed with the work directory unless BENCH_KEEP=1)"
fi
if [ -n "$OUT_DIR" ]; then
    mkdir -p "$OUT_DIR"
    cp "$SAMPLES" "$W/summary.tsv" "$REPORT_MD" "$OUT_DIR/"
    [ -z "$PNG" ] || cp "$PNG" "$OUT_DIR/"
fi

say "$ROUNDS_RUN of $ROUNDS round(s) ($FULL_ROUNDS with every workload) in $(elapsed) s"
if [ "$FAILS" -ne 0 ] || [ "$DEADLINE_HIT" = 1 ]; then
    [ "$DEADLINE_HIT" = 0 ] || say "the deadline (${DEADLINE} s) cut the run short"
    for s in "${FAILED_STEPS[@]+"${FAILED_STEPS[@]}"}"; do
        say "failed: $s"
    done
    say "FAIL ($FAILS failed step(s))"
    exit 1
fi
say "PASS (every result verified)"
