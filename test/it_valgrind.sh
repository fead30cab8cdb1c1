#!/bin/bash
# Valgrind (issue 5): a short session, plaintext and TLS, with the daemon
# (watchdog and pool process) and every client run under
# valgrind --leak-check=full: no memory error and no leak (definite,
# indirect or possible) in any of the processes.  Valgrind lacks openat2,
# so the daemon confines paths with its O_NOFOLLOW walk here (it says so).
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# Valgrind cannot run a binary built with a sanitizer (both replace
# malloc); the plain build's run of this test covers the code.
if [ -n "$(nd_sanitizer)" ]; then
    say "# skipped: a sanitizer build (valgrind runs in the plain build)"
    nd_done
fi
if ! command -v valgrind >/dev/null 2>&1; then
    say "# skipped: valgrind is not installed (scripts/install-deps.sh installs it)"
    nd_done
fi
# shellcheck disable=SC2054 # the commas belong to the options
VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --num-callers=30)
mkdir -p "$T/in" "$T/out" "$T/vg"
mkrand "$T/in/f" $((3 * 1024 * 1024 + 17))
f_md5=$(md5_of "$T/in/f")

tls=()
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1 >"$T/openssl.log" 2>&1; then
    tls=('tls = "optional";' "tls_cert = \"$T/cert.pem\";"
        "tls_key = \"$T/key.pem\";")
else
    say "# TLS left out: no openssl command to make a certificate"
fi
# The config and the account are made by a plain start; the daemon is then
# started again under valgrind, which follows the fork into the pool.
nd_start 'workers = 2;' "${tls[@]}"
nd_stop
nd_launch "$ND_CONF" "${VG[@]}" --log-file="$T/vg/daemon.%p.log"
check_log "the daemon says it confines paths without openat2 here" \
    'openat2\(\) unavailable'

# vnd TAG ARGS...: the real client under valgrind.
vnd() {
    local tag=$1
    shift
    timeout -k 5 300 "${VG[@]}" --log-file="$T/vg/client.$tag.log" \
        "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" "$@"
}
ND_WHAT="put under valgrind" assert_exit 0 vnd put put "$T/in/f" d/f.bin
ND_WHAT="get under valgrind" assert_exit 0 vnd get get d/f.bin "$T/out/f"
check "the file came back whole" test "$(md5_of "$T/out/f")" = "$f_md5"
ND_WHAT="ls -l under valgrind" assert_exit 0 vnd ls ls -l d
ND_WHAT="md5 under valgrind" assert_exit 0 vnd md5 md5 d/f.bin
ND_WHAT="mkdir -p under valgrind" assert_exit 0 vnd mkdir mkdir -p e/g
ND_WHAT="mv under valgrind" assert_exit 0 vnd mv mv d/f.bin e/g/f.bin
ND_WHAT="a refused get under valgrind exits 4 (NOENT)" \
    assert_exit 4 vnd noent get d/f.bin "$T/out/x"
if [ "${#tls[@]}" -gt 0 ]; then
    ND_WHAT="TLS put under valgrind" \
        assert_exit 0 vnd tlsput --tls --insecure put "$T/in/f" t.bin
    rm -f "$T/out/f"
    ND_WHAT="TLS get under valgrind" \
        assert_exit 0 vnd tlsget --tls --insecure get t.bin "$T/out/f"
    check "the TLS file came back whole" test "$(md5_of "$T/out/f")" = "$f_md5"
fi
ND_WHAT="rm -r under valgrind" assert_exit 0 vnd rm rm -r e
nd_stop

# Every process valgrind ran must have ended clean.
n=0
for log in "$T"/vg/*.log; do
    n=$((n + 1))
    name=$(basename "$log" .log)
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
        not_ok "$name: valgrind found errors"
        grep -E '^==[0-9]+== ' "$log" | head -n 60 | sed 's/^/#   /'
    elif grep -qE '(definitely|indirectly|possibly) lost: [1-9]' "$log"; then
        not_ok "$name: valgrind found leaks"
        grep -E 'lost:' "$log" | sed 's/^/#   /'
    else
        ok "$name: no memory error, no leak ($(grep -oE 'total heap usage: [0-9,]+ allocs' "$log"))"
    fi
done
daemons=$(find "$T/vg" -name 'daemon.*.log' | wc -l)
check "valgrind followed the watchdog and the pool process ($daemons logs)" \
    test "$daemons" -ge 2
say "# $n processes checked under valgrind"
nd_done
