#!/bin/bash
# File management through the real client and daemon: mkdir [-p], rm [-r]
# and mv, their errors (missing paths, non-empty directories, name clashes),
# several operands in one session, confinement of every path argument
# ("..", absolute paths, reserved names, planted symlinks that lead out),
# and a get racing a mv of the same file.  Oracles: the files under $ROOT,
# ls output, md5sum and cmp, exit statuses and the exact one-line messages,
# and a snapshot of a canary directory beside the root.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# A canary beside the root: nothing may create, change or remove in it.
canary=$T/canary
mkdir -p "$canary/dir" "$T/in" "$T/out"
printf 'top secret\n' >"$canary/secret"
printf 'keep me\n' >"$canary/dir/keep"
snapshot() {
    (cd "$T" && find . -mindepth 1 -path ./store -prune -o -path ./out -prune \
        -o -path ./in -prune -o -path ./xdg -prune -o -name users -prune \
        -o -name useradd.err -prune -o -name 'cmd.*' -prune \
        -o -name 'daemon*.log' -prune -o -name 'netdiskd*.conf' -prune \
        -o -name 'get.*' -prune -o -name 'mover.*' -prune \
        -o -printf '%p %y %s %T@\n' | sort)
}
# Links planted in the root that lead out.
ln -s ../../canary "$ROOT/canarylink"
ln -s "$canary" "$ROOT/canaryabs"
ln -s "$canary/secret" "$ROOT/secretlink"
ln -s ../../ "$ROOT/up"
before=$(snapshot)

# assert_err LINE: the last assert_exit printed exactly LINE on stderr.
assert_err() {
    assert_eq "$1" "$(cat "$ND_ERR")" "...and said: $1"
}

# logins: how many sessions have logged in so far.
logins() { grep -c ' login peer=.* result=ok' "$ND_LOG" || true; }

nd_start
tname=$(basename "$T")

# --- mkdir ---------------------------------------------------------------
assert_exit 0 nd mkdir a
check "mkdir made the directory" test -d "$ROOT/a"
assert_exit 0 nd mkdir -p x/y/z
check "mkdir -p made every level" test -d "$ROOT/x/y/z"
assert_exit 0 nd mkdir -p x/y/z
assert_exit 0 nd mkdir b/
check "mkdir of b/ made b" test -d "$ROOT/b"
assert_exit 0 nd ls
if grep -Eq '^d +[0-9]+ [0-9TZ:-]+ a$' "$ND_OUT" &&
    grep -Eq '^d +[0-9]+ [0-9TZ:-]+ x$' "$ND_OUT"; then
    ok "ls shows the new directories with type d"
else
    not_ok "ls shows the new directories with type d: $(cat "$ND_OUT")"
fi
ND_WHAT="mkdir of an existing name is refused (exit 4)" \
    assert_exit 4 nd mkdir a
assert_err 'netdisk: mkdir "a": server: already exists (EXIST)'
printf 'file\n' >"$ROOT/plain"
ND_WHAT="mkdir -p over a file is refused (exit 4)" \
    assert_exit 4 nd mkdir -p plain
assert_err 'netdisk: mkdir "plain": server: already exists (EXIST)'
check "...and the file is still a file" test -f "$ROOT/plain"
ND_WHAT="mkdir with a missing parent is refused (exit 4)" \
    assert_exit 4 nd mkdir q/r
assert_err 'netdisk: mkdir "q/r": server: no such file or directory (NOENT)'
check "...and made nothing" test ! -e "$ROOT/q"
ND_WHAT="mkdir without an operand is a usage error (exit 2)" \
    assert_exit 2 nd mkdir
ND_WHAT="mkdir -r is a usage error (exit 2)" assert_exit 2 nd mkdir -r c
assert_err "netdisk: mkdir: unknown option: -r (try 'netdisk --help')"

# Several operands, one session; the refused one does not stop the rest.
n0=$(logins)
l0=$(grep -c ' op=mkdir ' "$ND_LOG")
ND_WHAT="mkdir m1 m2 a m3: exit 4 for the existing a" \
    assert_exit 4 nd mkdir m1 m2 a m3
assert_err 'netdisk: mkdir "a": server: already exists (EXIST)'
check "...and m1, m2 and m3 were made" \
    test -d "$ROOT/m1" -a -d "$ROOT/m2" -a -d "$ROOT/m3"
assert_eq $((n0 + 1)) "$(logins)" "...in one session (one login)"
assert_eq $((l0 + 4)) "$(grep -c ' op=mkdir ' "$ND_LOG")" \
    "...with one log line per operand"

# --- rm ------------------------------------------------------------------
mkrand "$ROOT/f" 1000
assert_exit 0 nd rm f
check "rm removed the file" test ! -e "$ROOT/f"
mkdir "$ROOT/emptydir"
assert_exit 0 nd rm emptydir
check "rm removed the empty directory" test ! -e "$ROOT/emptydir"
mkdir -p "$ROOT/full/sub"
printf 'x\n' >"$ROOT/full/sub/file"
ND_WHAT="rm of a non-empty directory without -r is refused (exit 4)" \
    assert_exit 4 nd rm full
assert_err 'netdisk: rm "full": server: directory not empty (EXIST)'
check "...and left it whole" test -f "$ROOT/full/sub/file"
ND_WHAT="rm of a missing name is refused (exit 4)" assert_exit 4 nd rm nope
assert_err 'netdisk: rm "nope": server: no such file or directory (NOENT)'
ND_WHAT="rm of the root itself is refused (exit 4)" assert_exit 4 nd rm ''
assert_err 'netdisk: rm "": server: invalid path or argument (INVAL)'
ND_WHAT="rm -r of the root itself is refused (exit 4)" \
    assert_exit 4 nd rm -r ''
check "...and the root is still there" test -d "$ROOT/full"
ND_WHAT="rm -p is a usage error (exit 2)" assert_exit 2 nd rm -p full
ND_WHAT="rm -rx is a usage error (exit 2)" assert_exit 2 nd rm -rx full
ND_WHAT="rm without an operand is a usage error (exit 2)" assert_exit 2 nd rm
check "...and nothing was removed" test -f "$ROOT/full/sub/file"

# A tree with nested directories, files, an empty directory and symlinks
# that lead out: rm -r removes the links, never what they point to.
mkdir -p "$ROOT/tree/d1/d2/d3" "$ROOT/tree/empty"
for f in tree/t1 tree/d1/t2 tree/d1/d2/t3 tree/d1/d2/d3/t4; do
    mkrand "$ROOT/$f" $((RANDOM + 1))
done
ln -s ../../../canary "$ROOT/tree/out"
ln -s "$canary/secret" "$ROOT/tree/d1/d2/secret"
ln -s "$canary/dir" "$ROOT/tree/d1/d2/d3/outdir"
assert_exit 0 nd rm -r tree
check "rm -r removed the whole tree" test ! -e "$ROOT/tree" -a ! -L "$ROOT/tree"
check "...and the targets of its links survive" \
    test "$(cat "$canary/secret")" = "top secret" -a -f "$canary/dir/keep"
assert_exit 0 nd rm full -r
check "rm PATH -r (option after the operand) removed the tree" \
    test ! -e "$ROOT/full"
# A link that leads out, removed by name: the link goes, the target stays.
ln -s "$canary/secret" "$ROOT/gone-link"
assert_exit 0 nd rm gone-link
check "rm of a link removed the link" test ! -L "$ROOT/gone-link"
check "...and not its target" test -f "$canary/secret"

n0=$(logins)
mkrand "$ROOT/r1" 10
mkrand "$ROOT/r2" 10
ND_WHAT="rm r1 missing r2: exit 4 for the missing one" \
    assert_exit 4 nd rm r1 missing r2
assert_err 'netdisk: rm "missing": server: no such file or directory (NOENT)'
check "...and r1 and r2 were removed" test ! -e "$ROOT/r1" -a ! -e "$ROOT/r2"
assert_eq $((n0 + 1)) "$(logins)" "...in one session (one login)"

# --- mv ------------------------------------------------------------------
mkrand "$ROOT/f1" 70000
sum_f1=$(md5_of "$ROOT/f1")
assert_exit 0 nd mv f1 f1moved
check "mv renamed the file" test ! -e "$ROOT/f1" -a -f "$ROOT/f1moved"
assert_eq "$sum_f1" "$(md5_of "$ROOT/f1moved")" "...with the same content"
check "...and logged both paths" \
    grep -q 'op=rename path="f1" to="f1moved" .*result=ok' "$ND_LOG"
mkdir -p "$ROOT/dirA/in"
printf 'deep\n' >"$ROOT/dirA/in/file"
assert_exit 0 nd mv dirA dirB
check "mv renamed the directory with its contents" \
    test ! -e "$ROOT/dirA" -a -f "$ROOT/dirB/in/file"
assert_exit 0 nd mv f1moved dirB/
check "mv into DIR/ kept the base name" test -f "$ROOT/dirB/f1moved"
assert_exit 0 nd mv dirB/f1moved f1
mkrand "$ROOT/other" 5000
sum_other=$(md5_of "$ROOT/other")
ND_WHAT="mv onto an existing file is refused (exit 4)" \
    assert_exit 4 nd mv f1 other
assert_err 'netdisk: mv "f1" "other": server: target already exists (EXIST)'
assert_eq "$sum_f1 $sum_other" \
    "$(md5_of "$ROOT/f1") $(md5_of "$ROOT/other")" \
    "...and both files are unchanged (md5)"
ND_WHAT="mv onto an existing directory is refused (exit 4)" \
    assert_exit 4 nd mv f1 dirB
check "...and nothing moved" test -f "$ROOT/f1" -a ! -e "$ROOT/dirB/f1"
ND_WHAT="mv of a missing source is refused (exit 4)" \
    assert_exit 4 nd mv nothere newname
assert_err 'netdisk: mv "nothere" "newname": server: no such file or'\
' directory (NOENT)'
check "...and made nothing" test ! -e "$ROOT/newname"
ND_WHAT="mv into a missing directory is refused (exit 4)" \
    assert_exit 4 nd mv f1 no/such/x
check "...and left the source" test -f "$ROOT/f1"
ND_WHAT="mv of a directory into itself is refused (exit 4)" \
    assert_exit 4 nd mv dirB dirB/in/self
assert_err 'netdisk: mv "dirB" "dirB/in/self": server: cannot move a'\
' directory into itself (INVAL)'
check "...and left it in place" test -f "$ROOT/dirB/in/file"
ND_WHAT="mv with one operand is a usage error (exit 2)" assert_exit 2 nd mv f1
ND_WHAT="mv with three operands is a usage error (exit 2)" \
    assert_exit 2 nd mv f1 a b

# --- confinement of every path argument ----------------------------------
mkrand "$ROOT/victim" 100
sum_victim=$(md5_of "$ROOT/victim")
printf 'reserved\n' >"$ROOT/.netdisk-x"
bad=(
    '../x'
    'a/../../x'
    "$canary/new"
    '.netdisk-x'
    'a/.netdisk-y'
    'canarylink/new'
    'canaryabs/new'
    "canarylink/dir/new"
    "up/$tname/canary/new"
)
for p in "${bad[@]}"; do
    ND_WHAT="mkdir \"$p\" is refused (exit 4)" assert_exit 4 nd mkdir "$p"
    ND_WHAT="mkdir -p \"$p/z\" is refused (exit 4)" \
        assert_exit 4 nd mkdir -p "$p/z"
    ND_WHAT="mv victim \"$p\" is refused (exit 4)" \
        assert_exit 4 nd mv victim "$p"
done
for p in '../canary/secret' "../../canary/secret" "$canary/secret" \
    '.netdisk-x' 'canarylink/secret' 'canaryabs/secret' \
    "canarylink/dir" "canaryabs/dir/keep" "x/../../../canary" \
    "up/$tname/canary/secret" "up/$tname/canary/dir"; do
    ND_WHAT="rm \"$p\" is refused (exit 4)" assert_exit 4 nd rm "$p"
    ND_WHAT="rm -r \"$p\" is refused (exit 4)" assert_exit 4 nd rm -r "$p"
    ND_WHAT="mv \"$p\" stolen is refused (exit 4)" \
        assert_exit 4 nd mv "$p" stolen
done
ND_WHAT="the messages name the refusal" assert_exit 4 nd rm canarylink/secret
assert_err 'netdisk: rm "canarylink/secret": server: path refused (ACCESS)'
ND_WHAT="mkdir ../x names the refusal" assert_exit 4 nd mkdir ../x
assert_err 'netdisk: mkdir "../x": server: path refused (ACCESS)'
ND_WHAT="mv into the canary through a link names the refusal" \
    assert_exit 4 nd mv victim canaryabs/x
assert_err 'netdisk: mv "victim" "canaryabs/x": server: path refused (ACCESS)'
check "no 'stolen' was made in the root" test ! -e "$ROOT/stolen"
assert_eq "$sum_victim" "$(md5_of "$ROOT/victim")" \
    "the victim file is unchanged"
check "the reserved file is untouched" \
    test "$(cat "$ROOT/.netdisk-x")" = reserved
check "nothing named x was made beside the root" \
    test ! -e "$T/x" -a ! -e "$DROOT/x" -a ! -e "$T/store/x"
assert_eq "$before" "$(snapshot)" \
    "nothing beside the root was created, changed or removed (snapshot)"
check "the planted links are all still links" \
    test -L "$ROOT/canarylink" -a -L "$ROOT/canaryabs" \
    -a -L "$ROOT/secretlink" -a -L "$ROOT/up"
# rm of the escaping links themselves removes just the links.
assert_exit 0 nd rm canarylink canaryabs secretlink
check "rm of the escaping links removed them" test ! -L "$ROOT/canarylink" \
    -a ! -L "$ROOT/canaryabs" -a ! -L "$ROOT/secretlink"
assert_eq "$before" "$(snapshot)" "...and nothing they pointed to (snapshot)"
rm -f "$ROOT/.netdisk-x"

# --- rm -r of a tree with an upload in progress ---------------------------
# The upload's temporary file goes with the tree; the upload then fails at
# its commit (NOENT) and stores nothing.
mkdir -p "$ROOT/busy/sub"
mkrand "$T/in/slow" $((256 * 1024))
nd_raw slowput "$T/in/slow" busy/sub/file 64 >"$T/out/slow.out" \
    2>"$T/out/slow.err" &
slow=$!
check "a slow upload has its temporary file in the tree" \
    wait_for 10 nd_has_temps "$ROOT/busy"
assert_exit 0 nd rm -r busy
check "rm -r removed the tree, the upload's temporary file included" \
    test ! -e "$ROOT/busy"
rc=0
wait "$slow" || rc=$?
if [ "$rc" -ne 0 ] &&
    grep -q 'got ERROR no such file or directory (3)' "$T/out/slow.err"; then
    ok "...and the upload then failed with NOENT"
else
    not_ok "...and the upload then failed with NOENT: exit $rc:" \
        "$(cat "$T/out/slow.err")"
fi
check "...having stored nothing" test ! -e "$ROOT/busy"
rm -f "$T/out/slow.out" "$T/out/slow.err"

# --- a get racing a mv of the same file ---------------------------------
mkrand "$T/in/big" $((8 * 1024 * 1024))
cp "$T/in/big" "$ROOT/big"
rm -f "$T/mover.stop"
(
    while [ ! -e "$T/mover.stop" ]; do
        nd mv big big2 2>/dev/null && nd mv big2 big 2>/dev/null
    done
) >"$T/mover.out" 2>&1 &
mover=$!
whole=0
noent=0
bad_get=0
for i in $(seq 1 12); do
    rc=0
    nd get big "$T/out/get.$i" >/dev/null 2>"$T/out/get.$i.err" || rc=$?
    if [ "$rc" -eq 0 ] && cmp -s "$T/in/big" "$T/out/get.$i"; then
        whole=$((whole + 1))
    elif [ "$rc" -eq 4 ] && [ ! -e "$T/out/get.$i" ] &&
        grep -q '(NOENT)$' "$T/out/get.$i.err"; then
        noent=$((noent + 1))
    else
        bad_get=$((bad_get + 1))
        say "# get $i: exit $rc: $(cat "$T/out/get.$i.err")"
    fi
    rm -f "$T/out/get.$i" "$T/out/get.$i.err"
done
touch "$T/mover.stop"
wait "$mover" || true
say "# racing gets: $whole whole, $noent NOENT"
assert_eq 0 "$bad_get" "every get racing a mv returned the whole file or NOENT"
check "...and the file was moved meanwhile" grep -q 'op=rename path="big"' \
    "$ND_LOG"
whole_at() {
    cmp -s "$T/in/big" "$ROOT/big" || cmp -s "$T/in/big" "$ROOT/big2"
}
check "...and the moved file is still whole" whole_at

assert_no_temps
nd_roundtrip "after-files"
nd_stop
nd_done
