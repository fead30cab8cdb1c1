#!/bin/bash
# Stalled clients (issue 5): sessions that stop in the middle of a GET
# (never reading), of a PUT (after some bytes) or of a request frame hold
# no worker.  With 2 workers and 250 such sessions open, normal clients'
# puts and gets are served at once; after idle_timeout the server closes
# every stalled session, logs each stalled transfer, keeps no temporary
# file and no descriptor, and goes on serving.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

MIB=$((1024 * 1024))
# idle_timeout: the 250 stalled sessions must all be set up (each parks
# when its own setup is done) and the normal clients served well within
# it; a sanitizer build logs in far more slowly.
IDLE=12
if [ -n "$(nd_sanitizer)" ]; then
    IDLE=40
fi
# How long the stalling clients watch for the server's closes: long
# enough for idle_timeout and a slow (sanitizer) daemon to act.
WATCH=$((IDLE + 10))
NGET=100
NPUT=100
NFRAME=50
RAW=$ND_TEST_BIN/nd_rawclient
mkdir -p "$T/in" "$T/out"
mkrand "$T/in/big" $((16 * MIB))
mkrand "$T/in/mid" $((4 * MIB))
mid_md5=$(md5_of "$T/in/mid")

nd_start 'workers = 2;' "idle_timeout = $IDLE;" 'max_connections = 1000;' \
    'max_per_ip = 1000;' 'queue_capacity = 1024;'
pool=$(pool_of)
assert_exit 0 nd put "$T/in/big" big.bin
base_fds=$(fds_at_rest "$pool")
say "# pool process $pool holds $base_fds descriptors between requests"
log_mark

# The stalling clients run in the background, started directly so that
# their PIDs are theirs (the EXIT trap stops them if the test ends early).
"$RAW" 127.0.0.1 "$ND_PORT" stallxfer "$NGET" "$WATCH" "$T/get.ready" \
    get big.bin >"$T/get.out" 2>"$T/get.err" &
gpid=$!
"$RAW" 127.0.0.1 "$ND_PORT" stallxfer "$NPUT" "$WATCH" "$T/put.ready" \
    put up/s.bin $((8 * MIB)) 100000 >"$T/put.out" 2>"$T/put.err" &
ppid=$!
"$RAW" 127.0.0.1 "$ND_PORT" stallxfer "$NFRAME" "$WATCH" "$T/frame.ready" \
    frame >"$T/frame.out" 2>"$T/frame.err" &
fpid=$!
# Ready, or no use waiting: a stalling client died.
t_setup=$SECONDS
all_ready() {
    [ -e "$T/get.ready" ] && [ -e "$T/put.ready" ] && [ -e "$T/frame.ready" ] ||
        ! nd_alive "$gpid" || ! nd_alive "$ppid" || ! nd_alive "$fpid"
}
wait_for 60 all_ready || true
if ! [ -e "$T/get.ready" ] || ! [ -e "$T/put.ready" ] ||
    ! [ -e "$T/frame.ready" ]; then
    cat "$T/get.err" "$T/put.err" "$T/frame.err" >&2
    fail "the stalling clients did not get their sessions open"
fi
stalled=$((NGET + NPUT + NFRAME))
ok "$stalled sessions stalled in $((SECONDS - t_setup)) s: $NGET in a GET, $NPUT in a PUT, $NFRAME mid-frame"
open_fds=$(fd_count "$pool")
check "the pool holds a descriptor for each stalled session ($open_fds)" \
    test "$open_fds" -ge $((base_fds + stalled))

# Normal clients while every stalled session is open.  With a worker held
# per stalled transfer they would wait for idle_timeout at least.
t0=$(date +%s%N)
rounds=0
for i in 1 2 3 4 5; do
    if nd put "$T/in/mid" "normal/$i.bin" && nd get "normal/$i.bin" "$T/out/$i" &&
        cmp -s "$T/in/mid" "$T/out/$i"; then
        rounds=$((rounds + 1))
    fi
    rm -f "$T/out/$i"
done
assert_exit 0 nd ls normal
t1=$(date +%s%N)
cut_early=$(new_count 'stalled past idle_timeout|request not complete within idle_timeout')
assert_eq 5 "$rounds" \
    "5 put/get round trips of 4 MiB verified while the stalls held"
assert_eq 0 "$cut_early" "no stalled session had timed out by then"
stallers_alive() { nd_alive "$gpid" && nd_alive "$ppid" && nd_alive "$fpid"; }
check "the stalling clients were all still waiting then" stallers_alive
say "# 5 verified put+get round trips of 4 MiB and an ls took" \
    "$(((t1 - t0) / 1000000)) ms with $stalled sessions stalled and 2 workers"
check "md5 of a file put meanwhile" \
    test "$(md5_of "$ROOT/normal/5.bin")" = "$mid_md5"

# The server closes them all after idle_timeout.
for p in "$gpid" "$ppid" "$fpid"; do
    wait "$p" || not_ok "a stalling client failed: $(cat "$T"/*.err)"
done
for kind in get put frame; do
    say "# $(cat "$T/$kind.out")"
done
n=$NGET
check "the server closed all $n stalled GETs" \
    grep -q "^stallxfer get: $n sessions stalled, $n closed" "$T/get.out"
n=$NPUT
check "the server closed all $n stalled PUTs" \
    grep -q "^stallxfer put: $n sessions stalled, $n closed" "$T/put.out"
n=$NFRAME
check "the server closed all $n sessions stalled mid-frame" \
    grep -q "^stallxfer frame: $n sessions stalled, $n closed" "$T/frame.out"
assert_eq "$NGET" \
    "$(new_count 'op=get path="big\.bin" .*result="stalled past idle_timeout')" \
    "each stalled GET is logged as stalled"
assert_eq "$NPUT" \
    "$(new_count 'op=put path="up/s\.bin\.[0-9]+" .*result="stalled past idle_timeout')" \
    "each stalled PUT is logged as stalled"
assert_eq "$NFRAME" "$(new_count 'request not complete within idle_timeout')" \
    "each mid-frame stall is logged"
fds_back() { [ "$(fd_count "$pool")" -eq "$base_fds" ]; }
if ! wait_for 10 fds_back; then
    # Name what is still open, so that a leak can be told from a late close.
    say "# the pool holds $(fd_count "$pool") descriptors, $(conn_count "$pool") of them connections:"
    fd_list "$pool" -printf '#   %f -> %l\n'
fi
check "the pool is back to its $base_fds descriptors" fds_back
assert_no_temps
check "no stalled upload left a file" \
    test -z "$(find "$ROOT/up" -type f 2>/dev/null)"
check "the pool process was never restarted" test "$(pool_of)" = "$pool"
nd_roundtrip after-stalls

# ---------------------------------------------------------------------------
say "# 2. a real client stopped by SIGSTOP mid-transfer holds no worker"
# With one worker, a get by another client is served while the stopped
# client's transfer waits (parked, plaintext and TLS alike); once the
# client continues, its transfer ends whole.
nd_stop
have_tls=0
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1 >"$T/openssl.log" 2>&1; then
    have_tls=1
    nd_start 'workers = 1;' "idle_timeout = $IDLE;" 'tls = "optional";' \
        "tls_cert = \"$T/cert.pem\";" "tls_key = \"$T/key.pem\";"
else
    say "# skipped: TLS (no openssl command to make a certificate)"
    nd_start 'workers = 1;' "idle_timeout = $IDLE;"
fi
mkrand "$T/in/huge" $((8 * MIB))
huge_md5=$(md5_of "$T/in/huge")
assert_exit 0 nd put "$T/in/huge" huge.bin
assert_exit 0 nd put "$T/in/mid" small.bin
pool=$(pool_of)
# The stopped client goes through a proxy, so that the stop falls in the
# middle of its transfer: for a get it moves 64 KiB per 10 ms (about
# 6 MB/s), for a put it holds the client's bytes for 5 s after 1 MiB.
# px_start NAME ARGS...: sets px_NAME to its port; px_pids gets its pid.
px_pids=()
px_get='' px_put=''
px_start() {
    local name=$1
    shift
    rm -f "$T/px.$name"
    "$ND_TEST_BIN/nd_faultproxy" --to "$ND_PORT" --port-file "$T/px.$name" \
        --timeout 300 "$@" 2>>"$T/px.err" &
    px_pids+=($!)
    wait_for 10 test -s "$T/px.$name" ||
        fail "the proxy did not start: $(tail -n 3 "$T/px.err" 2>/dev/null | tr '\n' ' ')"
    printf -v "px_$name" '%s' "$(cat "$T/px.$name")"
}
px_start get --conn 0 --split 65536 --delay-ms 10
px_start put --conn 0 --pause-up-at $((1 * MIB)) --pause-ms 5000
part_grows() { [ "$(fsize "$1")" -gt 0 ]; }
temp_grows() {
    local f
    for f in $(nd_temps); do
        [ "$(fsize "$f")" -gt 0 ] && return 0
    done
    return 1
}
# via_proxy PORT ARGS...: the real client through a proxy, in the
# background and started directly, so that $cpid is the client itself.
via_proxy() {
    local port=$1
    shift
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_BIN/netdisk" -q -H 127.0.0.1 \
        -p "$port" "$@" 2>"$T/client.err" &
    cpid=$!
}
# stopped_then_other MODE OP: while the client of OP (pid $cpid) is
# stopped, another client's get must be served; then it continues and must
# end well.
stopped_then_other() {
    local rc=0
    kill -STOP "$cpid"
    log_mark
    ND_WHAT="$1 $2 stopped: another client's get is served meanwhile" \
        assert_exit 0 nd get small.bin "$T/out/small"
    check "$1 $2 stopped: ...with the right bytes" \
        cmp -s "$T/in/mid" "$T/out/small"
    rm -f "$T/out/small"
    assert_eq 0 "$(new_count 'path="(huge|put\.)')" \
        "$1 $2 stopped: its transfer was still under way then"
    log_new | { grep -E 'path="(huge|put\.)' || true; } | sed 's/^/#   /'

    kill -CONT "$cpid"
    wait "$cpid" || rc=$?
    assert_eq 0 "$rc" "$1 $2 continued after SIGCONT and ended well"
}
modes=(plain)
[ "$have_tls" -eq 0 ] || modes+=(tls)
for mode in "${modes[@]}"; do
    flags=()
    [ "$mode" = plain ] || flags=(--tls --insecure)
    via_proxy "$px_get" "${flags[@]}" get huge.bin "$T/out/huge.$mode"
    wait_for 20 part_grows "$T/out/huge.$mode.part" ||
        fail "$mode get: nothing arrived: $(cat "$T/client.err")"
    stopped_then_other "$mode" get
    check "$mode get: the file came whole" \
        test "$(md5_of "$T/out/huge.$mode")" = "$huge_md5"
    rm -f "$T/out/huge.$mode"

    via_proxy "$px_put" "${flags[@]}" put "$T/in/huge" "put.$mode.bin"
    wait_for 20 temp_grows ||
        fail "$mode put: nothing arrived: $(cat "$T/client.err")"
    stopped_then_other "$mode" put
    check "$mode put: the file was stored whole" \
        test "$(md5_of "$ROOT/put.$mode.bin")" = "$huge_md5"
done
check "the pool process was never restarted" test "$(pool_of)" = "$pool"
for p in "${px_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done

# ---------------------------------------------------------------------------
say "# 3. a full queue does not push out a parked transfer"
# One worker and a queue of one: a put parks (its client's bytes held for
# 3 s), a fast get keeps the worker busy meanwhile, and an ls fills the
# queue.  When the put's socket is ready again it must still be queued
# (the ring keeps room beyond queue_capacity for parked transfers).
nd_stop
nd_start 'workers = 1;' 'queue_capacity = 1;' "idle_timeout = $IDLE;"
mkrand "$T/in/hold" $((256 * MIB))
hold_md5=$(md5_of "$T/in/hold")
assert_exit 0 nd put "$T/in/hold" hold.bin
px_pids=()
px_start put --conn 0 --pause-up-at $((1 * MIB)) --pause-ms 3000
px_start get --conn 0 --split 65536 --delay-ms 1
log_mark
# ended_well WHAT PID: the client PID exited 0.
ended_well() {
    local rc=0
    wait "$2" || rc=$?
    assert_eq 0 "$rc" "the $1 ended well"
}
via_proxy "$px_put" put "$T/in/huge" victim.bin
victim=$cpid
wait_for 20 temp_grows || fail "the parked put: nothing arrived"
mv "$T/client.err" "$T/victim.err"
via_proxy "$px_get" get hold.bin "$T/out/hold"
holder=$cpid
wait_for 20 part_grows "$T/out/hold.part" || fail "the busy get: nothing arrived"
nd ls >/dev/null 2>"$T/ls.err" &
ended_well "parked put" "$victim"
ended_well "busy get" "$holder"
# The ls is there to fill the queue: it is served, or, when the busy get
# sat in the queue for a moment, refused with the documented BUSY (exit
# 4); either way it must not disturb the put.
lister=$!
rc=0
wait "$lister" || rc=$?
if [ "$rc" -eq 0 ] || { [ "$rc" -eq 4 ] && grep -q '(BUSY)' "$T/ls.err"; }; then
    ok "the ls that filled the queue was served or refused BUSY (exit $rc)"
else
    not_ok "the ls that filled the queue: exit $rc: $(cat "$T/ls.err")"
fi
cat "$T/victim.err" "$T/client.err" "$T/ls.err" | sed 's/^/#   /'
check "the parked put was stored whole" \
    test "$(md5_of "$ROOT/victim.bin")" = "$huge_md5"
check "the get meanwhile came whole" \
    test "$(md5_of "$T/out/hold")" = "$hold_md5"
assert_eq 0 "$(new_count 'cannot queue a parked transfer')" \
    "no parked transfer was refused a place in the queue"
for p in "${px_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done
nd_done
