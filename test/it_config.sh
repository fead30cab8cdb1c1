#!/bin/bash
# Configuration errors: an unknown key, a wrong type, an out-of-range port,
# a syntax error and a missing file each make netdiskd exit 78 before it
# listens, naming the file (and the line and key where there is one); a
# storage root that does not exist is a clear non-zero exit; then a valid
# configuration starts and serves.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

good_head() {
    printf 'listen = "127.0.0.1";\nport = 0;\nroot = "%s";\n' "$ROOT"
}

# bad NAME WANT_STATUS LINE KEY: runs netdiskd -c $T/NAME.conf (bounded) and
# checks the status and that stderr names the file, the line and the key
# (an empty LINE or KEY is not checked).
bad() {
    local name=$1 want=$2 line=$3 key=$4 f=$T/$1.conf rc=0 what
    timeout -k 2 10 "$ND_BIN/netdiskd" -c "$f" >"$T/$name.out" \
        2>"$T/$name.err" || rc=$?
    what="$name: netdiskd exits $want"
    if [ "$rc" -eq "$want" ]; then
        ok "$what"
    else
        not_ok "$what (exit $rc)"
    fi
    if grep -qF "$f" "$T/$name.err"; then
        ok "$name: the message names the file"
    else
        not_ok "$name: the message names the file: $(cat "$T/$name.err")"
    fi
    if [ -n "$line" ]; then
        if grep -qF "$f:$line" "$T/$name.err"; then
            ok "$name: the message names line $line"
        else
            not_ok "$name: the message names line $line: $(cat "$T/$name.err")"
        fi
    fi
    if [ -n "$key" ]; then
        if grep -qF "$key" "$T/$name.err"; then
            ok "$name: the message names the key '$key'"
        else
            not_ok "$name: the message names the key '$key': $(cat "$T/$name.err")"
        fi
    fi
    if grep -q 'listening on' "$T/$name.err"; then
        not_ok "$name: netdiskd did not start listening"
    else
        ok "$name: netdiskd did not start listening"
    fi
}

{
    good_head
    printf 'workers = 2;\nbogus_key = 1;\n'
} >"$T/unknown.conf"
bad unknown 78 5 bogus_key

{
    good_head
    printf 'workers = "two";\n'
} >"$T/type.conf"
bad type 78 4 workers

{
    printf 'listen = "127.0.0.1";\nroot = "%s";\nport = 70000;\n' "$ROOT"
} >"$T/range.conf"
bad range 78 3 port

{
    printf 'listen = "127.0.0.1";\nroot = "%s";\nport = -1;\n' "$ROOT"
} >"$T/negport.conf"
bad negport 78 3 port

{
    printf 'listen = "127.0.0.1";\nroot = "%s";\nworkers = 0;\n' "$ROOT"
} >"$T/zeroworkers.conf"
bad zeroworkers 78 3 workers

{
    good_head
    printf 'log_level = "loud";\n'
} >"$T/level.conf"
bad level 78 4 log_level

{
    good_head
    printf 'workers = 2;\nidle_timeout = ;\n'
} >"$T/syntax.conf"
bad syntax 78 5 ""

rm -f "$T/missing.conf"
bad missing 78 "" ""

# A root whose parent does not exist: a clear non-zero exit naming it.
{
    printf 'listen = "127.0.0.1";\nport = 0;\nroot = "%s";\n' "$T/no-such-dir/root"
    printf 'allow_root = true;\n'
} >"$T/noroot.conf"
rc=0
timeout -k 2 10 "$ND_BIN/netdiskd" -c "$T/noroot.conf" 2>"$T/noroot.err" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    ok "a missing root: netdiskd exits non-zero ($rc) at once"
else
    not_ok "a missing root: netdiskd exits non-zero at once (exit $rc)"
fi
if grep -qF "$T/no-such-dir/root" "$T/noroot.err"; then
    ok "a missing root: the message names the root: $(tail -n 1 "$T/noroot.err")"
else
    not_ok "a missing root: the message names the root: $(cat "$T/noroot.err")"
fi
check "a missing root: nothing was created" test ! -e "$T/no-such-dir"

# A root that is a file, not a directory.
: >"$T/rootfile"
{
    printf 'listen = "127.0.0.1";\nport = 0;\nroot = "%s";\n' "$T/rootfile"
    printf 'allow_root = true;\n'
} >"$T/fileroot.conf"
rc=0
timeout -k 2 10 "$ND_BIN/netdiskd" -c "$T/fileroot.conf" 2>"$T/fileroot.err" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
    ok "a root that is a file: netdiskd exits non-zero ($rc)"
else
    not_ok "a root that is a file: netdiskd exits non-zero (exit $rc)"
fi

# The check-only mode agrees.
{
    good_head
    printf 'workers = 3;\n'
} >"$T/valid.conf"
ND_WHAT="netdiskd -t accepts a valid config" \
    assert_exit 0 timeout 10 "$ND_BIN/netdiskd" -t -c "$T/valid.conf"
ND_WHAT="netdiskd -t rejects an unknown key with 78" \
    assert_exit 78 timeout 10 "$ND_BIN/netdiskd" -t -c "$T/unknown.conf"

# Finally a valid configuration (with every key) starts and serves.
nd_start 'workers = 3;' 'queue_capacity = 16;' 'max_connections = 64;' \
    'idle_timeout = 30;' 'shutdown_timeout = 5;' 'log_level = "info";'
ok "a valid configuration with every key starts"
nd_roundtrip "valid config"
nd_stop

# A missing root whose parent exists is created, private to the daemon.
nd_start "root = \"$T/fresh\";"
check "a missing root under an existing directory is created" test -d "$T/fresh"
assert_eq 700 "$(stat -c %a "$T/fresh")" "the created root has mode 0700"
nd_stop
nd_done
