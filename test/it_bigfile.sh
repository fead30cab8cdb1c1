#!/bin/bash
# A file over 4 GiB (so no 32-bit size or offset survives) round-trips with
# an identical md5sum.  The source is sparse (4 GiB of holes, then 4097
# random bytes, so the end is not zero); the server's and the downloaded
# copies are real, so each big file is deleted as soon as it is checked.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

size=$((4 * 1024 * 1024 * 1024 + 4097))
need_kib=$((2 * size / 1024 + 1024 * 1024))
avail_kib=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
if [ "$avail_kib" -lt "$need_kib" ]; then
    fail "need $((need_kib / 1024)) MiB free in $T, have $((avail_kib / 1024)) MiB"
fi

nd_start
src=$T/big.src
dst=$T/big.dst
truncate -s 4G "$src"
head -c 4097 /dev/urandom >>"$src"
assert_eq "$size" "$(stat -c %s "$src")" "the sparse source is 4 GiB + 4097 bytes"
want=$(md5_of "$src")

t0=$SECONDS
assert_exit 0 nd put "$src" "huge/big.bin"
say "# put took $((SECONDS - t0)) s"
assert_eq "$size" "$(stat -c %s "$ROOT/huge/big.bin")" \
    "the stored file has the full size"
assert_exit 0 nd ls huge
if grep -Eq "^f +$size [0-9TZ:-]+ big\.bin$" "$ND_OUT"; then
    ok "ls shows the size above 4 GiB exactly"
else
    not_ok "ls shows the size above 4 GiB exactly: $(cat "$ND_OUT")"
fi
if grep -q "op=put path=\"huge/big.bin\" from=0 bytes=$size .*md5=$want result=ok" "$ND_LOG"; then
    ok "the daemon logged the put with the full size and the right md5"
else
    not_ok "the daemon logged the put with the full size and the right md5"
fi

t0=$SECONDS
assert_exit 0 nd get "huge/big.bin" "$dst"
say "# get took $((SECONDS - t0)) s"
rm -f "$ROOT/huge/big.bin"
assert_eq "$size" "$(stat -c %s "$dst" 2>/dev/null || echo missing)" \
    "the downloaded file has the full size"
assert_eq "$want" "$(md5_of "$dst")" "the downloaded file has the source's md5sum"
check "the last 4097 bytes are the random tail" \
    cmp -s <(tail -c 4097 "$src") <(tail -c 4097 "$dst")
rm -f "$dst" "$src"
assert_no_temps

nd_stop
nd_done
