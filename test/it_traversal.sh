#!/bin/bash
# Confinement: paths that leave the root, reserved names and over-long names
# are refused (client exit 4) for put, get and ls; symlinks planted inside
# the root that lead out are refused too, and nothing beside the root is
# created, changed or handed out.  Symlinks that stay inside are followed.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# A canary directory beside the root: nothing may create, change or leak it.
canary=$T/canary
mkdir "$canary" "$T/in" "$T/out"
printf 'top secret\n' >"$canary/secret"
snapshot() {
    (cd "$T" && find . -mindepth 1 -path ./store -prune -o -name users -prune -o -name useradd.err -prune -o -path ./out -prune \
        -o -path ./in -prune -o -name 'cmd.*' -prune -o -name 'daemon*.log' \
        -prune -o -name 'netdiskd*.conf' -prune -o \
        -printf '%p %y %s %T@\n' | sort)
}

# Symlinks planted in the root.
mkdir -p "$ROOT/real"
printf 'inside\n' >"$ROOT/real/inside.txt"
ln -s /etc "$ROOT/escape"
ln -s ../../../ "$ROOT/outside"
ln -s ../../canary "$ROOT/canarylink"
ln -s "$canary/secret" "$ROOT/secretabs"
ln -s ../../canary/secret "$ROOT/secretrel"
ln -s real/inside.txt "$ROOT/insidelink"
ln -s real "$ROOT/realdir"
ln -s real/../real/inside.txt "$ROOT/insidedots"
before=$(snapshot)

nd_start
openat2=1
if grep -q 'openat2() unavailable' "$ND_LOG"; then
    openat2=0
    say "# openat2 is unavailable: the daemon refuses every symlink"
fi
printf 'payload\n' >"$T/in/p"

# --- lexical refusals --------------------------------------------------
long_comp=$(printf 'c%.0s' $(seq 300))
long_path=$(printf 'dddddddddd/%.0s' $(seq 455))x  # 5006 bytes
tname=$(basename "$T")
bad=(
    '../x'
    'a/../../x'
    './x'
    'a/./x'
    'a//b'
    '.netdisk-foo'
    'a/.netdisk-foo'
    "$long_comp"
)
for p in "${bad[@]}"; do
    shown=$(nd__show "$p")
    ND_WHAT="put to \"$shown\" is refused (exit 4)" \
        assert_exit 4 nd put "$T/in/p" "$p"
    ND_WHAT="get of \"$shown\" is refused (exit 4)" \
        assert_exit 4 nd get "$p" "$T/out/got"
    ND_WHAT="ls of \"$shown\" is refused (exit 4)" assert_exit 4 nd ls "$p"
done
# A path over 4095 bytes cannot even be encoded: the client refuses it as a
# usage error before connecting (the server's own refusal of such a frame is
# it_hostile's bigname case).
ND_WHAT="put to a 5006-byte path is refused by the client (exit 2)" \
    assert_exit 2 nd put "$T/in/p" "$long_path"
ND_WHAT="get of a 5006-byte path is refused by the client (exit 2)" \
    assert_exit 2 nd get "$long_path" "$T/out/got"
ND_WHAT="ls of a 5006-byte path is refused by the client (exit 2)" \
    assert_exit 2 nd ls "$long_path"
check "the refused gets wrote no local file" \
    test ! -e "$T/out/got" -a ! -e "$T/out/got.part"
# Absolute paths: read-only operations on /etc/passwd, and a put aimed at
# the canary (never at a system file).
ND_WHAT="get of /etc/passwd is refused (exit 4)" \
    assert_exit 4 nd get /etc/passwd "$T/out/passwd"
check "...and wrote no local file" test ! -e "$T/out/passwd"
ND_WHAT="ls of /etc is refused (exit 4)" assert_exit 4 nd ls /etc
ND_WHAT="put to an absolute path is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" "$canary/abs"
check "nothing named ../x was created beside the root" test ! -e "$T/x"
check "no directory 'a' was created in the root by refused paths" \
    test ! -e "$ROOT/a"

# --- symlinks that lead out of the root --------------------------------
ND_WHAT="get through a link to /etc is refused (exit 4)" \
    assert_exit 4 nd get escape/passwd "$T/out/p1"
ND_WHAT="ls through a link to /etc is refused (exit 4)" \
    assert_exit 4 nd ls escape
ND_WHAT="ls of a link to /etc with a trailing slash is refused (exit 4)" \
    assert_exit 4 nd ls escape/
ND_WHAT="get through a link to ../../ is refused (exit 4)" \
    assert_exit 4 nd get "outside/$tname/canary/secret" "$T/out/p2"
ND_WHAT="ls through a link to ../../ is refused (exit 4)" \
    assert_exit 4 nd ls outside
ND_WHAT="put through a link to ../../ is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" "outside/$tname/canary/new1"
ND_WHAT="get through a link to the canary dir is refused (exit 4)" \
    assert_exit 4 nd get canarylink/secret "$T/out/p3"
ND_WHAT="ls through a link to the canary dir is refused (exit 4)" \
    assert_exit 4 nd ls canarylink
ND_WHAT="put through a link to the canary dir is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" canarylink/new2
ND_WHAT="put over a file through a link to the canary dir is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" canarylink/secret
ND_WHAT="put into a new subdirectory through an escaping link is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" canarylink/sub/new3
ND_WHAT="get of an absolute link to a file outside is refused (exit 4)" \
    assert_exit 4 nd get secretabs "$T/out/p4"
ND_WHAT="get of a relative link to a file outside is refused (exit 4)" \
    assert_exit 4 nd get secretrel "$T/out/p5"
# A put through the /etc link must not write into /etc; use a name nobody
# else would, and remove it should the server be broken.
etcname=netdisk-it-must-not-exist-$$
ND_WHAT="put through a link to /etc is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/p" "escape/$etcname"
if [ -e "/etc/$etcname" ]; then
    rm -f "/etc/$etcname"
    not_ok "put through the /etc link wrote /etc/$etcname (removed)"
else
    ok "nothing was written to /etc"
fi
# A put naming the escaping link itself may replace the link inside the root
# or be refused; either way the file outside must not change.
rc=0
nd put "$T/in/p" secretrel >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ]; then
    ok "put onto an escaping link's own name: exit $rc (replaced or refused)"
else
    not_ok "put onto an escaping link's own name: exit $rc"
fi
check "...and the file it pointed to is unchanged" \
    test "$(cat "$canary/secret")" = "top secret"
got=$(find "$T/out" -mindepth 1 | wc -l)
assert_eq 0 "$got" "the refused gets left no local file or .part behind"
if grep -rq 'top secret' "$T/out" "$ND_OUT" 2>/dev/null; then
    not_ok "the canary's content leaked to a client"
else
    ok "the canary's content never reached a client"
fi
assert_eq "$before" "$(snapshot)" \
    "nothing beside the root was created or changed (canary snapshot)"
check "the planted links are all still links" test -L "$ROOT/escape" -a \
    -L "$ROOT/outside" -a -L "$ROOT/canarylink" -a -L "$ROOT/secretabs"

# ls of the root shows the links as links, without following them.
assert_exit 0 nd ls
if grep -Eq '^l +[0-9]+ [0-9TZ:-]+ escape$' "$ND_OUT" &&
    grep -Eq '^l +[0-9]+ [0-9TZ:-]+ canarylink$' "$ND_OUT"; then
    ok "ls of the root shows the escaping links with type l"
else
    not_ok "ls of the root shows the escaping links with type l: $(cat "$ND_OUT")"
fi

# --- symlinks that stay inside the root --------------------------------
if [ "$openat2" -eq 1 ]; then
    assert_exit 0 nd get insidelink "$T/out/in1"
    check "get through a link to a file inside the root returns it" \
        cmp -s "$ROOT/real/inside.txt" "$T/out/in1"
    assert_exit 0 nd get realdir/inside.txt "$T/out/in2"
    check "get through a link to a directory inside the root works" \
        cmp -s "$ROOT/real/inside.txt" "$T/out/in2"
    assert_exit 0 nd get insidedots "$T/out/in3"
    check "a link whose target has .. but stays inside works" \
        cmp -s "$ROOT/real/inside.txt" "$T/out/in3"
    assert_exit 0 nd ls realdir
    check "ls through a link to a directory inside the root lists it" \
        grep -Eq '^f +7 [0-9TZ:-]+ inside\.txt$' "$ND_OUT"
    assert_exit 0 nd put "$T/in/p" realdir/new.txt
    check "put through a link to a directory inside lands in the target" \
        cmp -s "$T/in/p" "$ROOT/real/new.txt"
else
    say "# skipped: inside-root links (the O_NOFOLLOW fallback refuses them)"
fi

assert_no_temps
nd_roundtrip "after-traversal"
nd_stop
nd_done
