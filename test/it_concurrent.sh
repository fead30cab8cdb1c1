#!/bin/bash
# Concurrency: 20 clients at once, each putting then getting its own random
# file; then 300 idle sessions held open against 2 workers while ordinary
# transfers still complete (idle sessions must not pin workers).
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# idle_timeout above the hold time below, so the server keeps all 300.
nd_start 'idle_timeout = 60;' 'max_connections = 1024;' 'max_per_ip = 1024;'
mkdir "$T/in" "$T/out" "$T/rc"

n=20
for ((i = 0; i < n; i++)); do
    mkrand "$T/in/c$i" $((1024 * 1024 + (RANDOM * 97 + i) % (3 * 1024 * 1024)))
done
pids=()
for ((i = 0; i < n; i++)); do
    (
        rc=0
        nd put "$T/in/c$i" "conc/c$i" >/dev/null 2>"$T/rc/put$i.err" || rc=$?
        if [ "$rc" -eq 0 ]; then
            nd get "conc/c$i" "$T/out/c$i" >/dev/null 2>"$T/rc/get$i.err" ||
                rc=$?
        fi
        echo "$rc" >"$T/rc/$i"
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || true
done
good=0
for ((i = 0; i < n; i++)); do
    rc=$(cat "$T/rc/$i" 2>/dev/null || echo none)
    if [ "$rc" = 0 ] && cmp -s "$T/in/c$i" "$T/out/c$i" &&
        [ "$(md5_of "$T/in/c$i")" = "$(md5_of "$ROOT/conc/c$i")" ]; then
        good=$((good + 1))
    else
        say "# client $i: exit $rc; $(cat "$T/rc/put$i.err" "$T/rc/get$i.err" 2>/dev/null)"
    fi
done
assert_eq "$n" "$good" "$n concurrent clients each put and got back their own file intact"
assert_no_temps "no .netdisk-* file left after the concurrent puts"
rm -rf "$T/out" && mkdir "$T/out"

# Readers during overwrites see the whole old file or the whole new one.
mkrand "$T/in/va" $((4 * 1024 * 1024))
mkrand "$T/in/vb" $((4 * 1024 * 1024 + 1))
nd put "$T/in/va" swap.bin >/dev/null
(
    for ((i = 0; i < 12; i++)); do
        if ((i % 2)); then v=va; else v=vb; fi
        nd put "$T/in/$v" swap.bin >/dev/null 2>&1 || echo "put $i failed"
    done
) >"$T/swap.put" &
writer=$!
ma=$(md5_of "$T/in/va")
mb=$(md5_of "$T/in/vb")
mixed=0 gets=0
for ((i = 0; i < 12; i++)); do
    if nd get swap.bin "$T/out/swap" >/dev/null 2>&1; then
        gets=$((gets + 1))
        m=$(md5_of "$T/out/swap")
        [ "$m" = "$ma" ] || [ "$m" = "$mb" ] || mixed=$((mixed + 1))
    fi
done
wait "$writer" || true
assert_eq 12 "$gets" "12 gets during 12 overwrites all succeeded"
assert_eq 0 "$mixed" "every get during the overwrites returned a whole version"
assert_eq "" "$(cat "$T/swap.put")" "all 12 overwriting puts succeeded"

# 300 idle sessions, each past its handshake, against workers = 2, held
# until $T/idle.stop appears (50 s at most, under idle_timeout).
if nd_idle_hold 300 50; then
    ok "300 idle sessions open (each answered its HELLO)"
else
    not_ok "300 idle sessions open: $(cat "$T/idle.err")"
fi
mkrand "$T/in/during" $((2 * 1024 * 1024))
ND_WHAT="put completes while 300 idle sessions are held (timeout 20 s)" \
    assert_exit 0 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" \
    put "$T/in/during" "during.bin"
ND_WHAT="get completes while 300 idle sessions are held (timeout 20 s)" \
    assert_exit 0 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" \
    get "during.bin" "$T/out/during"
check "...and returns the same bytes" cmp -s "$T/in/during" "$T/out/during"
ND_WHAT="ls completes while 300 idle sessions are held (timeout 20 s)" \
    assert_exit 0 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" ls
# Two transfers at once: both workers are free, not pinned by idle sessions.
(timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" get during.bin \
    "$T/out/d1" >/dev/null 2>&1) &
p1=$!
(timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" get conc/c0 \
    "$T/out/d2" >/dev/null 2>&1) &
p2=$!
r1=0 r2=0
wait "$p1" || r1=$?
wait "$p2" || r2=$?
check "two simultaneous gets complete while the idle sessions are held" \
    test "$r1" = 0 -a "$r2" = 0
check "...with the right bytes" \
    cmp -s "$T/in/during" "$T/out/d1"
check "the idle sessions were still held during those transfers" \
    nd_alive "$ND_IDLE_PID"
irc=0
nd_idle_release || irc=$?
assert_eq 0 "$irc" "the idle client finished cleanly"
if grep -q 'held 300 sessions .*(0 closed by the server)' "$T/idle.out"; then
    ok "the server kept all 300 idle sessions meanwhile ($(cat "$T/idle.out"))"
else
    not_ok "the server kept all 300 idle sessions: $(cat "$T/idle.out" "$T/idle.err")"
fi
nd_roundtrip "after-idle"

nd_stop
nd_done
