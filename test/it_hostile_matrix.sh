#!/bin/bash
# Hostile input as a matrix, through nd_hostile (test/nd_hostile.c): every
# frame type (reply-only and unknown ones too) at every edge of the length
# field in every phase of a session; 64-bit and flag fields at their edges;
# u16 string counts that lie; refused, over-long and non-UTF-8 paths;
# symlinks planted here that lead out of the user's directory, to a canary
# beside the store and to a sibling user's files; valid frames cut at every
# byte and half-closed; whole sessions dripped a byte at a time; uploads
# with too few or too many bytes or the wrong digest.  Each case must get
# the reply docs/protocol.md promises.  After each case nd_hostile checks
# that a new session still works, the pool pid is the same, the store and
# the canary are unchanged and the log is clean; after each group this
# script checks the same with its own tools: a real `netdisk get` with
# md5sum, a recursive listing (type, mode, size, link target, md5) of the
# whole store, the daemon log, and the pool pid.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

HOSTILE=$ND_TEST_BIN/nd_hostile
SIB=hxsib
SIB_PW="ps-$RANDOM-$RANDOM"
canary=$T/canary
mkdir "$canary" "$T/in" "$T/out"
printf 'top secret\n' >"$canary/secret"

# No delay after a failed login (a few cases fail one on purpose) and no
# ban, so the cases after them can log in at once.
nd_start 'login_delay_ms = 0;' 'login_ban_after = 1000;'

mkrand "$T/in/ref" 70001
ref_md5=$(md5_of "$T/in/ref")
assert_exit 0 nd put "$T/in/ref" keep/ref.bin
printf 'victim\n' >"$T/in/victim"
assert_exit 0 nd put "$T/in/victim" keep/victim
nd_user_add "$SIB" "$SIB_PW"
printf 'the sibling user'"'"'s secret\n' >"$T/in/sib"
NETDISK_USER=$SIB NETDISK_PASSWORD=$SIB_PW ND_WHAT="the sibling user puts a file" \
    assert_exit 0 nd put "$T/in/sib" secret.bin
check "the sibling's file is in \$DROOT/$SIB" test -f "$DROOT/$SIB/secret.bin"

# Symlinks planted in the test user's directory: out of the store (to the
# canary, absolute and relative), to /etc, to the sibling's directory and
# file, dangling, and a loop.
ln -s "$canary" "$ROOT/esc_abs"
ln -s ../../canary "$ROOT/esc_rel"
ln -s /etc "$ROOT/esc_etc"
ln -s "../$SIB" "$ROOT/sib"
ln -s "../$SIB/secret.bin" "$ROOT/sibfile"
ln -s ../../no-such-dir/x "$ROOT/dangling"
ln -s loop "$ROOT/loop"
# A FIFO nobody writes to: a GET must refuse it, not block on it.
mkfifo "$ROOT/fifo"

# snapshot: every entry of the store and the canary with its type, mode,
# size (not for directories: that depends on the file system) and link
# target, then every file's md5.  Nothing is left out, the daemon's
# reserved .netdisk-* entries included.
snapshot() {
    (cd "$T" && find store canary -printf '%y %m %s %p -> %l\n' |
        sed -E 's/^(d [0-7]+) [0-9]+ /\1 /' | sort &&
        find store canary -type f -exec md5sum {} + | sort -k2)
}
baseline=$(snapshot)
say "# the store and the canary: $(printf '%s\n' "$baseline" | grep -c .) lines"

pool=$(pgrep -P "$ND_PID" | head -n 1)
[ -n "$pool" ] || fail "no pool process under netdiskd $ND_PID"
say "# pool process $pool"

# group NAME: runs one group of nd_hostile's cases, counts its checks as
# ours, then checks the daemon from the outside.
group() {
    local g=$1 rc=0 line t0=$SECONDS left
    log_mark
    timeout -k 5 300 "$HOSTILE" --port "$ND_PORT" --ref-remote keep/ref.bin \
        --ref-local "$ROOT/keep/ref.bin" --root "$DROOT" --root "$canary" \
        --pool "$pool" --log "$ND_LOG" "$g" >"$T/hostile.out" \
        2>"$T/hostile.err" || rc=$?
    while IFS= read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) say "$line" ;;
        esac
    done <"$T/hostile.out"
    if [ "$rc" -eq 0 ]; then
        ok "$g: nd_hostile exit 0 ($((SECONDS - t0)) s)"
    else
        not_ok "$g: nd_hostile exit $rc (see above)$(head -c 500 "$T/hostile.err")"
    fi
    rm -f "$T/out/ref"
    if nd get keep/ref.bin "$T/out/ref" >/dev/null 2>"$T/get.err" &&
        [ "$(md5_of "$T/out/ref")" = "$ref_md5" ]; then
        ok "$g: afterwards a real netdisk get returns keep/ref.bin (md5sum)"
    else
        not_ok "$g: afterwards a real netdisk get returns keep/ref.bin:" \
            "$(cat "$T/get.err")"
    fi
    left=$(diff <(printf '%s\n' "$baseline") <(snapshot) | head -n 20) || true
    if [ -z "$left" ]; then
        ok "$g: the store and the canary are unchanged (listing, sizes, md5)"
    else
        not_ok "$g: the store or the canary changed:"
        printf '%s\n' "$left" | sed 's/^/#   /'
    fi
    if has_new ' error: |[Ii]nternal|Sanitizer|runtime error:|pool process'; then
        not_ok "$g: the daemon logged an error:"
        log_new | grep -E ' error: |[Ii]nternal|Sanitizer|runtime error:|pool process' |
            head -n 5 | sed 's/^/#   /'
    else
        ok "$g: no error, internal or sanitizer line in the daemon log"
    fi
    assert_eq "$pool" "$(pgrep -P "$ND_PID" | head -n 1)" \
        "$g: the pool process is still $pool (no watchdog restart)"
}

for g in prehello prelogin len types fields strlen paths links trunc drip put; do
    group "$g"
done

check "the canary is intact" test "$(cat "$canary/secret")" = "top secret"
check "the planted links are all still links" test -L "$ROOT/esc_abs" -a \
    -L "$ROOT/sib" -a -L "$ROOT/sibfile" -a -L "$ROOT/loop"
nd_roundtrip "after the hostile matrix"
nd_stop
nd_done
