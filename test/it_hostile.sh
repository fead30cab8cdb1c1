#!/bin/bash
# Hostile peers, through nd_rawclient: oversized frames and names, wrong
# versions, requests before the handshake, garbage, unknown frame types,
# half uploads, wrong digests and dripped requests.  After each one the
# daemon must still serve, an existing file must be unchanged and no
# .netdisk-* temporary file may remain in the root.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# A short idle_timeout so that the slow-drip case is cut off quickly.
nd_start 'idle_timeout = 5;'
mkdir "$T/in" "$T/out"
mkrand "$T/in/ref" $((1024 * 1024 + 17))
ref_md5=$(md5_of "$T/in/ref")
assert_exit 0 nd put "$T/in/ref" keep/ref.bin

# after TAG: the checks that follow every hostile step.
after() {
    local tag=$1
    nd_roundtrip "$tag"
    rm -f "$T/out/ref"
    if nd get keep/ref.bin "$T/out/ref" >/dev/null 2>&1 &&
        [ "$(md5_of "$T/out/ref")" = "$ref_md5" ] &&
        [ "$(md5_of "$ROOT/keep/ref.bin")" = "$ref_md5" ]; then
        ok "$tag: the existing file is unchanged (md5sum)"
    else
        not_ok "$tag: the existing file is unchanged (md5sum)"
    fi
    if wait_for 10 nd_no_temps; then
        ok "$tag: no .netdisk-* file remains in the root"
    else
        not_ok "$tag: no .netdisk-* file remains in the root: $(nd_temps | tr '\n' ' ')"
    fi
}

raw bigframe bigframe
after bigframe
raw bigname bigname
after bigname
raw badversion badversion
after badversion
raw nohello nohello
after nohello
raw badflags badflags
after badflags
raw badbody badbody
after badbody
raw unknown unknown
after unknown
for i in 1 2 3 4 5; do
    raw "garbage #$i" garbage
done
# Fixed patterns: a valid-looking header promising a body that never comes
# (closed by idle_timeout), and one with a huge length.
raw "garbage (valid header, no body)" garbage 0000001001200000
raw "garbage (huge length)" garbage ffffffff01200000
after garbage
raw hugeput hugeput keep/huge.bin
check "hugeput created nothing" test ! -e "$ROOT/keep/huge.bin"
after hugeput

# Half uploads: over the existing file, and to a new name.
raw "shortput over an existing file" shortput keep/ref.bin $((1024 * 1024)) 100000
after "shortput over an existing file"
raw "shortput of nothing but the request" shortput keep/new.bin 5000 0
raw "shortput to a new name" shortput keep/sub/new.bin 300000 299999
after "shortput to a new name"
check "the interrupted uploads created no file" \
    test ! -e "$ROOT/keep/new.bin" -a ! -e "$ROOT/keep/sub/new.bin"
if grep -q 'op=put path="keep/ref.bin" .*result=ok' \
    <(grep -v "md5=$ref_md5" "$ND_LOG"); then
    not_ok "an interrupted upload over keep/ref.bin was logged as ok"
else
    ok "no interrupted upload was logged as result=ok"
fi

# Trailers the server refuses (too long, wrong version, not a DIGEST): the
# matching ERROR, a close, and the file over which they were sent unchanged.
for kind in big version type; do
    raw "badtrailer ($kind) over an existing file" badtrailer keep/ref.bin "$kind"
done
after "badtrailer over an existing file"

# A wrong digest over the existing file: ERROR DIGEST, nothing changes.
raw "badput over an existing file" badput keep/ref.bin 200000
after "badput over an existing file"
raw "badput to a new name" badput keep/bad.bin 3000000
check "the rejected upload created no file" test ! -e "$ROOT/keep/bad.bin"
after "badput to a new name"

# A GET dripped one byte every 150 ms (about 4 s, under idle_timeout 5)
# while another client's put and get complete: dripping holds no worker.
nd_raw drip keep/ref.bin 150 >"$T/drip.out" 2>"$T/drip.err" &
drip_pid=$!
sleep 0.5
mkrand "$T/in/side" $((3 * 1024 * 1024))
ND_WHAT="a put completes while a request is being dripped" \
    assert_exit 0 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" \
    put "$T/in/side" side.bin
ND_WHAT="a get completes while a request is being dripped" \
    assert_exit 0 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" \
    get side.bin "$T/out/side"
check "...with the right bytes" cmp -s "$T/in/side" "$T/out/side"
check "the drip was still in progress meanwhile" nd_alive "$drip_pid"
drc=0
wait "$drip_pid" || drc=$?
if [ "$drc" -eq 0 ] && grep -q "md5 $ref_md5\$" "$T/drip.out"; then
    ok "the dripped GET was answered with the right file ($(cat "$T/drip.out"))"
else
    not_ok "the dripped GET was answered: exit $drc: $(cat "$T/drip.out" "$T/drip.err")"
fi
after drip

# A drip slower than idle_timeout (27 bytes at 1 s) is cut off.
t0=$SECONDS
drc=0
nd_raw drip keep/ref.bin 1000 >"$T/drip.out" 2>"$T/drip.err" || drc=$?
if [ "$drc" -ne 0 ] && [ $((SECONDS - t0)) -lt 15 ]; then
    ok "a request dripped slower than idle_timeout is closed ($((SECONDS - t0)) s)"
else
    not_ok "a request dripped slower than idle_timeout is closed: exit $drc after $((SECONDS - t0)) s"
fi
after "slow drip"

nd_stop
nd_done
