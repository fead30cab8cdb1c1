#!/bin/bash
# TLS, with a throw-away CA made by the openssl command: tls = "required"
# (round trips, host name and CA checks, --insecure, plaintext refused, what
# openssl s_client sees, TLS 1.1 refused), tls = "optional" (TLS and
# plaintext side by side; stalled handshakes and silent sessions closed by
# idle_timeout while others are served), configurations refused at start
# (exit 78), and, in a private network namespace, the refusal of plaintext
# from a non-loopback peer.  Oracles: md5sum, cmp, exit codes, stderr lines,
# openssl s_client's output and the daemon log.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# Kept outside $T when re-run inside a network namespace (see the end).
PKI=${ND_TLS_PKI:-$T/pki}

# one_line WHAT: the last command's stderr ($ND_ERR) is exactly one line.
one_line() {
    local n
    n=$(wc -l <"$ND_ERR")
    if [ "$n" -eq 1 ]; then
        ok "$1: exactly one line on stderr ($(cat "$ND_ERR"))"
    else
        not_ok "$1: $n lines on stderr"
        sed 's/^/#   stderr: /' "$ND_ERR" | head -n 5
    fi
}

# lacks PATTERN FILE: FILE has no line matching PATTERN.
lacks() { ! grep -q -- "$1" "$2"; }


# quiet CMD...: CMD with its output discarded.
quiet() { "$@" >/dev/null 2>&1; }

# md5q FILE: FILE's md5, or "missing".
md5q() {
    if [ -f "$1" ]; then md5_of "$1"; else echo missing; fi
}

# ndh HOST ARGS...: the client against the current daemon's port on HOST.
ndh() {
    local host=$1
    shift
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_BIN/netdisk" -q -H "$host" \
        -p "$ND_PORT" "$@"
}

# tls_conf CERT KEY: the config lines for TLS with that certificate.
tls_conf() {
    printf '%s\n' "tls_cert = \"$1\";" "tls_key = \"$2\";"
}

# ---- In a private network namespace (see the end of the file) -------------
if [ "${ND_TLS_NETNS:-}" = 1 ]; then
    ND_ADDR=10.77.0.1
    ip link set lo up || fail "ip link set lo up"
    if ip link add d0 type dummy 2>/dev/null; then
        if ! ip addr add "$ND_ADDR/24" dev d0 || ! ip link set d0 up; then
            fail "cannot configure the dummy interface d0"
        fi
        say "# namespace: $ND_ADDR/24 on the dummy interface d0"
    else
        # No dummy driver (a container without the module): the address on
        # lo is just as far from 127.0.0.0/8 for the daemon.
        ip addr add "$ND_ADDR/24" dev lo || fail "cannot add $ND_ADDR to lo"
        say "# namespace: no dummy interface here; $ND_ADDR/24 on lo instead"
    fi

    # ns_start CONFIG LINE...: a daemon on 0.0.0.0 in this namespace; sets
    # ND_PID, ND_PORT and ND_LOG like nd_start.
    ns_start() {
        local i
        ND_STARTS=$((ND_STARTS + 1))
        ND_CONF=$T/ns.$ND_STARTS.conf
        ND_LOG=$T/daemon.ns.$ND_STARTS.log
        {
            printf '%s\n' 'listen = "0.0.0.0";' 'port = 0;' 'workers = 2;' \
                "root = \"$DROOT\";" "users_file = \"$ND_USERS\";" \
                'login_delay_ms = 100;' 'idle_timeout = 10;' \
                'log_level = "debug";'
            [ "$(id -u)" -ne 0 ] || printf '%s\n' 'allow_root = true;'
            printf '%s\n' "$@"
        } >"$ND_CONF"
        nd_user_add "$ND_USER" "$ND_PASSWORD"
        nd_launch "$ND_CONF"
        say "# netdiskd pid $ND_PID on 0.0.0.0:$ND_PORT in the namespace"
    }

    mkdir "$T/in" "$T/out"
    mkrand "$T/in/f" $((300 * 1024 + 5))
    ns_start 'tls = "optional";' "$(tls_conf "$PKI/srv.pem" "$PKI/srv.key")"
    check_log "listen 0.0.0.0 with tls = optional: plaintext only from loopback" \
        'plaintext sessions are refused except from loopback'
    ND_WHAT="plaintext client to $ND_ADDR (not loopback): exit 4" \
        assert_exit 4 ndh "$ND_ADDR" put "$T/in/f" plain.bin
    one_line "plaintext from $ND_ADDR"
    check "...naming PLAINTEXT" grep -q PLAINTEXT "$ND_ERR"
    check "...and nothing was stored" test ! -e "$ROOT/plain.bin"
    check_log "the daemon logs the refusal with the peer's address" \
        "peer=10\\.77\\.0\\.1:[0-9]+ plaintext session refused: not loopback and allow_plaintext is false"
    ND_WHAT="TLS client to $ND_ADDR (IP SAN) with --cacert: put works" \
        assert_exit 0 ndh "$ND_ADDR" --tls --cacert "$PKI/ca.pem" put "$T/in/f" tls.bin
    ND_WHAT="...and get" assert_exit 0 ndh "$ND_ADDR" --tls --cacert "$PKI/ca.pem" \
        get tls.bin "$T/out/tls.bin"
    check "...byte-identical (cmp)" cmp -s "$T/in/f" "$T/out/tls.bin"
    check "...and the stored copy has the md5" \
        test "$(md5q "$ROOT/tls.bin")" = "$(md5_of "$T/in/f")"
    ND_WHAT="plaintext from 127.0.0.1 in the same namespace is still served" \
        assert_exit 0 ndh 127.0.0.1 ls
    kill -TERM "$ND_PID"
    nd_wait_exit "$ND_PID" 20
    assert_eq 0 "$ND_RC" "the namespace's daemon stopped (exit 0)"

    ns_start 'tls = "optional";' 'allow_plaintext = true;' \
        "$(tls_conf "$PKI/srv.pem" "$PKI/srv.key")"
    check_log "allow_plaintext = true is warned about" \
        'allow_plaintext = true: plaintext sessions from the network are served'
    ND_WHAT="allow_plaintext = true: plaintext client to $ND_ADDR works" \
        assert_exit 0 ndh "$ND_ADDR" put "$T/in/f" plain.bin
    check "...and stored the bytes (cmp)" cmp -s "$T/in/f" "$ROOT/plain.bin"
    ND_WHAT="...TLS too" assert_exit 0 ndh "$ND_ADDR" --tls --cacert "$PKI/ca.pem" ls
    kill -TERM "$ND_PID"
    nd_wait_exit "$ND_PID" 20
    assert_eq 0 "$ND_RC" "the namespace's daemon stopped (exit 0)"
    nd_done
fi

if ! command -v openssl >/dev/null 2>&1; then
    say "# skipped: no openssl command (scripts/install-deps.sh installs it)"
    nd_done
fi

# ---- A throw-away PKI -------------------------------------------------------
mkdir -p "$PKI" "$T/in" "$T/out"
# mkca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$PKI/$1.key" -out "$PKI/$1.pem" -days 2 -subj "/CN=$2" \
        -addext 'basicConstraints = critical, CA:TRUE' \
        -addext 'keyUsage = critical, keyCertSign, cRLSign' \
        >"$PKI/openssl.log" 2>&1 ||
        fail "openssl req -x509 ($1): $(cat "$PKI/openssl.log")"
}
# mkleaf NAME CA CN SAN: a server certificate NAME.pem signed by CA.
mkleaf() {
    printf '%s\n' "subjectAltName = $4" 'basicConstraints = CA:FALSE' \
        'keyUsage = critical, digitalSignature' \
        'extendedKeyUsage = serverAuth' >"$PKI/$1.ext"
    if ! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$3" \
        >"$PKI/openssl.log" 2>&1 ||
        ! openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.pem" \
            -CAkey "$PKI/$2.key" -set_serial "0x$(openssl rand -hex 8)" \
            -days 2 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" \
            >>"$PKI/openssl.log" 2>&1; then
        fail "openssl ($1): $(cat "$PKI/openssl.log")"
    fi
}
mkca ca "netdisk test CA"
mkca otherca "unrelated test CA"
mkleaf srv ca "netdisk test server" \
    'IP:127.0.0.1, IP:::1, DNS:localhost, IP:10.77.0.1'
mkleaf wrongname ca "netdisk elsewhere" 'DNS:elsewhere.invalid'
check "the server certificate verifies against the test CA (openssl verify)" \
    quiet openssl verify -CAfile "$PKI/ca.pem" "$PKI/srv.pem"

# ndt ARGS...: the client over TLS, trusting the test CA.
ndt() { nd --tls --cacert "$PKI/ca.pem" "$@"; }

# ---- tls = "required" ---------------------------------------------------------
nd_start 'tls = "required";' "$(tls_conf "$PKI/srv.pem" "$PKI/srv.key")"
mkrand "$T/in/big" $((3 * 1024 * 1024 + 4321))
big_md5=$(md5_of "$T/in/big")
assert_exit 0 ndt put "$T/in/big" tls/big.bin
assert_exit 0 ndt get tls/big.bin "$T/out/big"
check "TLS round trip of 3 MiB is byte-identical (cmp)" cmp -s "$T/in/big" "$T/out/big"
assert_eq "$big_md5" "$(md5q "$T/out/big")" "...and has the md5 it was sent with"
assert_eq "$big_md5" "$(md5q "$ROOT/tls/big.bin")" \
    "...and so has the stored copy"
assert_exit 0 ndt ls tls
if grep -Eq "^f +$((3 * 1024 * 1024 + 4321)) [0-9TZ:-]+ big\\.bin\$" "$ND_OUT"; then
    ok "ls over TLS lists the file with its size"
else
    not_ok "ls over TLS lists the file with its size: $(cat "$ND_OUT")"
fi
check_log "the daemon logs the TLS session's protocol" \
    'TLS established: TLSv1\.[23] '
rm -f "$T/out/big"
ND_WHAT="-H localhost (DNS SAN) verifies too" \
    assert_exit 0 ndh localhost --tls --cacert "$PKI/ca.pem" get tls/big.bin "$T/out/big"
check "...and the file is intact (cmp)" cmp -s "$T/in/big" "$T/out/big"

ND_WHAT="TLS with an unrelated CA: exit 3" \
    assert_exit 3 nd --tls --cacert "$PKI/otherca.pem" put "$T/in/big" wrongca.bin
one_line "unrelated CA"
check "...and the message is about the certificate" grep -qi 'certificate' "$ND_ERR"
check "...and nothing was stored" test ! -e "$ROOT/wrongca.bin"
ND_WHAT="TLS with the system's trust store (no --cacert): exit 3" \
    assert_exit 3 nd --tls ls
check "...about the certificate" grep -qi 'certificate' "$ND_ERR"
ND_WHAT="--insecure with the unrelated CA works" \
    assert_exit 0 nd --tls --cacert "$PKI/otherca.pem" --insecure ls tls
check "...and lists the file" grep -q ' big\.bin$' "$ND_OUT"
ND_WHAT="a plaintext client against tls = required: exit 4" \
    assert_exit 4 nd put "$T/in/big" plain.bin
one_line "plaintext against required"
check "...naming PLAINTEXT" grep -q 'PLAINTEXT' "$ND_ERR"
check "...and nothing was stored" test ! -e "$ROOT/plain.bin"
check_log "the daemon logs the plaintext refusal" \
    'plaintext session refused: tls = "required"'
ND_WHAT="a wrong password over TLS: exit 6" NETDISK_PASSWORD=wrong \
    assert_exit 6 ndt ls
one_line "wrong password over TLS"

# What a generic TLS client sees.
port=$ND_PORT
timeout -k 5 20 openssl s_client -connect "127.0.0.1:$port" \
    -CAfile "$PKI/ca.pem" -verify_return_error </dev/null >"$T/sc.out" 2>&1 &&
    scrc=0 || scrc=$?
assert_eq 0 "$scrc" "openssl s_client -verify_return_error completes a handshake"
check "...shows the server certificate's subject" \
    grep -q '^subject=.*CN *= *netdisk test server' "$T/sc.out"
check "...and \"Verify return code: 0 (ok)\"" \
    grep -q 'Verify return code: 0 (ok)' "$T/sc.out"
check "...over TLS 1.2 or later" grep -Eq '^New, TLSv1\.[23],' "$T/sc.out"
timeout -k 5 20 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
    -CAfile "$PKI/ca.pem" -verify_return_error </dev/null >"$T/sc12.out" 2>&1 &&
    scrc=0 || scrc=$?
check "openssl s_client -tls1_2 completes a handshake" \
    test "$scrc" -eq 0 -a -n "$(grep -E '^New, TLSv1\.2,' "$T/sc12.out")"
# TLS 1.1: the local OpenSSL may itself refuse to offer it at its default
# security level, so lower that for this client only.
timeout -k 5 20 openssl s_client -connect "127.0.0.1:$port" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -CAfile "$PKI/ca.pem" </dev/null \
    >"$T/sc11.out" 2>&1 && scrc=0 || scrc=$?
if grep -Eqi 'no protocols available|unknown option|wrong version number.*client|unsupported option' "$T/sc11.out"; then
    say "# skipped: this openssl will not offer TLS 1.1 ($(head -n 1 "$T/sc11.out"))"
else
    check "openssl s_client -tls1_1 fails (the server wants TLS 1.2 or later)" \
        test "$scrc" -ne 0 -a -n "$(grep -E '^New, \(NONE\)' "$T/sc11.out")"
    check_log "...and the daemon logs the failed handshake" \
        'TLS handshake failed: .*unsupported protocol'
fi
mkrand "$T/in/small" 12345
rm -f "$T/out/small"
if ndt put "$T/in/small" after-sclient.bin >/dev/null 2>"$T/rt.err" &&
    ndt get after-sclient.bin "$T/out/small" >/dev/null 2>>"$T/rt.err" &&
    cmp -s "$T/in/small" "$T/out/small"; then
    ok "after the s_client sessions a TLS put/get round trip still works"
else
    not_ok "after the s_client sessions a TLS put/get round trip still works"
    sed 's/^/#   /' "$T/rt.err"
fi
nd_stop

# A certificate for another name: the host name check fails.
nd_start 'tls = "required";' "$(tls_conf "$PKI/wrongname.pem" "$PKI/wrongname.key")"
ND_WHAT="a certificate not valid for 127.0.0.1: exit 3" \
    assert_exit 3 ndt ls
one_line "certificate for another name"
check "...and the message is about the certificate" grep -qi 'certificate' "$ND_ERR"
ND_WHAT="...while --insecure works" assert_exit 0 ndt --insecure ls
nd_stop

# ---- tls = "optional" ---------------------------------------------------------
nd_start 'tls = "optional";' 'idle_timeout = 2;' \
    "$(tls_conf "$PKI/srv.pem" "$PKI/srv.key")"
mkrand "$T/in/opt" $((1024 * 1024 + 99))
# Clients that go silent: a TLS record header and half a ClientHello, a
# connection that sends nothing, and a TLS session (handshake done) that
# sends no frame.  idle_timeout (2 s) must close each of them.
stalls=()
nd_raw stall 160301 30 >"$T/stall1.out" 2>&1 &
stalls+=($!)
nd_raw stall 16030100c8010000c40303 30 >"$T/stall2.out" 2>&1 &
stalls+=($!)
nd_raw stall - 30 >"$T/stall3.out" 2>&1 &
stalls+=($!)
timeout -k 5 30 openssl s_client -connect "127.0.0.1:$ND_PORT" -ign_eof \
    -CAfile "$PKI/ca.pem" </dev/null >"$T/stall4.out" 2>&1 &
stall4=$!
# Meanwhile, both kinds of client are served.
ND_WHAT="optional: a TLS client's put works" \
    assert_exit 0 ndt put "$T/in/opt" opt/tls.bin
ND_WHAT="optional: a plaintext client (127.0.0.1) gets it" \
    assert_exit 0 nd get opt/tls.bin "$T/out/opt-plain"
check "...byte-identical (cmp)" cmp -s "$T/in/opt" "$T/out/opt-plain"
ND_WHAT="optional: a plaintext client's put works" \
    assert_exit 0 nd put "$T/in/opt" opt/plain.bin
ND_WHAT="optional: a TLS client gets it" \
    assert_exit 0 ndt get opt/plain.bin "$T/out/opt-tls"
check "...byte-identical (cmp)" cmp -s "$T/in/opt" "$T/out/opt-tls"
assert_eq "$(md5_of "$T/in/opt")" "$(md5q "$ROOT/opt/plain.bin")" \
    "the plaintext upload is stored with its md5"
raw_ok=0
nd_raw hello >"$T/raw.out" 2>&1 || raw_ok=$?
assert_eq 0 "$raw_ok" "optional: the raw (plaintext) client's handshake and login work"
for s in 1 2 3; do
    src=0
    wait "${stalls[s - 1]}" || src=$?
    if [ "$src" -eq 0 ]; then
        ok "stalled client #$s was closed by the server: $(cat "$T/stall$s.out")"
    else
        not_ok "stalled client #$s was closed by the server: exit $src: $(cat "$T/stall$s.out")"
    fi
done
src=0
wait "$stall4" || src=$?
# s_client exits by itself only when the server closes; timeout says 124.
if [ "$src" -ne 124 ] && grep -q 'Verify return code: 0 (ok)' "$T/stall4.out"; then
    ok "a TLS session that sends no frame is closed by the server (s_client exit $src)"
else
    not_ok "a TLS session that sends no frame is closed by the server: s_client exit $src"
    tail -n 5 "$T/stall4.out" | sed 's/^/#   /'
fi
check_log "the daemon logs closing idle connections" 'idle_timeout: closing'
nd_roundtrip "optional, after the stalled clients"
nd_stop

# ---- Configurations refused at start ------------------------------------------
# bad_conf WHAT NAME LINE...: netdiskd, and netdiskd -t, exit 78 for a config
# with these lines; stderr must name NAME; nothing may be listening.
bad_conf() {
    local what=$1 name=$2 conf=$T/bad.conf
    shift 2
    {
        printf '%s\n' 'port = 0;' "root = \"$DROOT\";" \
            "users_file = \"$ND_USERS\";"
        [ "$(id -u)" -ne 0 ] || printf '%s\n' 'allow_root = true;'
        printf '%s\n' "$@"
    } >"$conf"
    ND_WHAT="$what: netdiskd exits 78" \
        assert_exit 78 timeout -k 5 20 "$ND_BIN/netdiskd" -c "$conf"
    check "...naming $name" grep -q -- "$name" "$ND_ERR"
    check "...having bound nothing" lacks 'listening on' "$ND_ERR"
    ND_WHAT="$what: netdiskd -t exits 78" \
        assert_exit 78 timeout -k 5 20 "$ND_BIN/netdiskd" -t -c "$conf"
    check "...naming $name" grep -q -- "$name" "$ND_ERR"
}
bad_conf 'tls = "off" on 0.0.0.0 without allow_plaintext' allow_plaintext \
    'listen = "0.0.0.0";' 'tls = "off";'
bad_conf 'the tls default (off) on :: without allow_plaintext' allow_plaintext \
    'listen = "::";'
bad_conf 'a missing tls_key file' tls_key 'listen = "127.0.0.1";' \
    'tls = "required";' "tls_cert = \"$PKI/srv.pem\";" \
    "tls_key = \"$PKI/no-such.key\";"
bad_conf 'a tls_key that does not match tls_cert' tls_key \
    'listen = "127.0.0.1";' 'tls = "optional";' \
    "tls_cert = \"$PKI/srv.pem\";" "tls_key = \"$PKI/otherca.key\";"
bad_conf 'a missing tls_cert file' tls_cert 'listen = "127.0.0.1";' \
    'tls = "optional";' "tls_cert = \"$PKI/no-such.pem\";" \
    "tls_key = \"$PKI/srv.key\";"
bad_conf 'tls = "required" without tls_key' tls_key \
    'listen = "127.0.0.1";' 'tls = "required";' "tls_cert = \"$PKI/srv.pem\";"
printf '%s\n' 'listen = "0.0.0.0";' 'tls = "off";' 'allow_plaintext = true;' \
    'port = 0;' "root = \"$DROOT\";" "users_file = \"$ND_USERS\";" \
    >"$T/good.conf"
ND_WHAT='tls = "off" on 0.0.0.0 with allow_plaintext = true: netdiskd -t accepts it' \
    assert_exit 0 timeout -k 5 20 "$ND_BIN/netdiskd" -t -c "$T/good.conf"

# ---- Plaintext from a non-loopback peer, in a private network namespace --------
if [ "$(id -u)" -ne 0 ]; then
    say "# skipped: the network namespace case needs root"
elif ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
    say "# skipped: the network namespace case needs unshare and ip (iproute2)"
elif ! unshare -n true 2>/dev/null; then
    say "# skipped: unshare -n is not permitted here"
else
    # The same script again, in a new network namespace: it runs its own
    # checks and stops its own daemons (by pid, from its EXIT trap) before
    # the namespace goes away with it.
    nsrc=0
    ND_TLS_NETNS=1 ND_TLS_PKI=$PKI timeout -k 10 120 unshare -n \
        bash "${BASH_SOURCE[0]}" >"$T/ns.out" 2>&1 || nsrc=$?
    sed 's/^/  /' "$T/ns.out"
    npass=$(grep -c '^ok - ' "$T/ns.out" || true)
    nfail=$(grep -c '^not ok - ' "$T/ns.out" || true)
    ND_PASS=$((ND_PASS + npass))
    ND_FAIL=$((ND_FAIL + nfail))
    if [ "$nsrc" -eq 0 ] && [ "$npass" -gt 0 ]; then
        ok "network namespace: $npass checks passed"
    else
        not_ok "network namespace: exit $nsrc, $npass passed, $nfail failed"
    fi
fi
nd_done
