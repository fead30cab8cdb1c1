#!/bin/bash
# Round trips through the real client: sizes from 0 B to 100 MiB, awkward
# names, parents created on demand, overwrite, missing files, ls output,
# usage errors and an unreachable server.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

nd_start
mkdir "$T/in" "$T/out"

# put LOCAL as REMOTE, get it back as OUT; cmp and md5sum must agree.
roundtrip() {
    local src=$1 remote=$2 dst=$3 what=$4
    if ! nd put "$src" "$remote" >/dev/null 2>"$T/err"; then
        not_ok "$what: put failed: $(cat "$T/err")"
        return 0
    fi
    if ! nd get "$remote" "$dst" >/dev/null 2>"$T/err"; then
        not_ok "$what: get failed: $(cat "$T/err")"
        return 0
    fi
    if cmp -s "$src" "$dst" && [ "$(md5_of "$src")" = "$(md5_of "$dst")" ]; then
        ok "$what: put+get round trip is byte-identical (cmp, md5sum)"
    else
        not_ok "$what: downloaded copy differs"
    fi
}

for size in 0 1 65537; do
    mkrand "$T/in/f$size" "$size"
    roundtrip "$T/in/f$size" "f$size" "$T/out/f$size" "$size bytes"
done
assert_eq "$(md5_of "$T/in/f65537")" "$(md5_of "$ROOT/f65537")" \
    "the stored copy of f65537 has the uploaded md5"
if grep -q "transfer peer=127\.0\.0\.1:[0-9]* op=put path=\"f65537\" from=0 bytes=65537 .*md5=$(md5_of "$T/in/f65537") result=ok" "$ND_LOG"; then
    ok "the daemon logged the put of f65537 with its size and md5"
else
    not_ok "the daemon logged the put of f65537 with its size and md5"
fi

mkrand "$T/in/big" $((100 * 1024 * 1024))
t0=$SECONDS
roundtrip "$T/in/big" "big/100MiB" "$T/out/big" "100 MiB"
say "# 100 MiB round trip took $((SECONDS - t0)) s"
rm -f "$T/in/big" "$T/out/big" "$ROOT/big/100MiB"

# Names with spaces and UTF-8, in the root and in a UTF-8 directory.
mkrand "$T/in/u1" 1000
mkrand "$T/in/u2" 2000
roundtrip "$T/in/u1" "héllo wörld.txt" "$T/out/héllo wörld.txt" \
    "name with a space and UTF-8"
roundtrip "$T/in/u2" "日本語/ファイル" "$T/out/ファイル" "UTF-8 directory and name"
check "the UTF-8 names are stored as given" \
    test -f "$ROOT/héllo wörld.txt" -a -f "$ROOT/日本語/ファイル"
assert_exit 0 nd ls "日本語"
if grep -Eq '^f +2000 [0-9TZ:-]+ ファイル$' "$ND_OUT"; then
    ok "ls of a UTF-8 directory shows its UTF-8 entry"
else
    not_ok "ls of a UTF-8 directory shows its UTF-8 entry: $(cat "$ND_OUT")"
fi

# Missing parents are created.
mkrand "$T/in/deep" 3000
roundtrip "$T/in/deep" "a/b/c/d/deep.bin" "$T/out/deep" "put into a new subdirectory"
check "put created the parent directories a/b/c/d" \
    cmp -s "$T/in/deep" "$ROOT/a/b/c/d/deep.bin"

# Overwrite: the second put wins.
mkrand "$T/in/v1" 5000
mkrand "$T/in/v2" 7000
roundtrip "$T/in/v1" "ow.bin" "$T/out/ow1" "first version"
roundtrip "$T/in/v2" "ow.bin" "$T/out/ow2" "overwrite with different content"
check "after the overwrite get returns the new content" \
    cmp -s "$T/in/v2" "$T/out/ow2"
assert_no_temps "no .netdisk-* file left after the puts"

# Names that clash with the tree.
ND_WHAT="put onto an existing directory's name is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/v1" "a/b"
check "...and the directory is intact" test -d "$ROOT/a/b/c/d" -a -f "$ROOT/a/b/c/d/deep.bin"
ND_WHAT="put below a regular file is refused (exit 4)" \
    assert_exit 4 nd put "$T/in/v1" "ow.bin/x"
check "...and the file is intact" cmp -s "$T/in/v2" "$ROOT/ow.bin"
assert_exit 0 nd put "$T/in/v1" "a/b/"
check "put to REMOTE ending in / stores LOCAL's base name there" \
    cmp -s "$T/in/v1" "$ROOT/a/b/v1"
cp "$T/in/v1" "$T/out/existing"
assert_exit 0 nd get "ow.bin" "$T/out/existing"
check "get over an existing local file replaces it" \
    cmp -s "$T/in/v2" "$T/out/existing"

# A missing remote file: exit 4, and neither LOCAL nor LOCAL.part is left.
ND_WHAT="get of a missing file exits 4" \
    assert_exit 4 nd get "no/such/file" "$T/out/missing"
check "the failed get left no LOCAL and no LOCAL.part" \
    test ! -e "$T/out/missing" -a ! -e "$T/out/missing.part"
ND_WHAT="get of a missing file into the root's name exits 4" \
    assert_exit 4 nd get "nosuch.bin" "$T/out/nosuch.bin"
check "...and left no file" test ! -e "$T/out/nosuch.bin" -a ! -e "$T/out/nosuch.bin.part"
ND_WHAT="get of a directory exits 4" assert_exit 4 nd get "a/b" "$T/out/dir"
check "...and left no file" test ! -e "$T/out/dir" -a ! -e "$T/out/dir.part"

# ls: one line per entry, sorted by name, with type, size, mtime and name.
printf 'bb' >"$T/in/b"
printf '0123456789' >"$T/in/a"
nd put "$T/in/b" "lsdir/b.txt" >/dev/null
nd put "$T/in/a" "lsdir/a.txt" >/dev/null
nd put "$T/in/a" "lsdir/sub/c.txt" >/dev/null
touch "$ROOT/lsdir/.netdisk-planted"
ln -s a.txt "$ROOT/lsdir/link"
assert_exit 0 nd ls lsdir
ls_out=$(cat "$ND_OUT")
assert_eq "4" "$(printf '%s\n' "$ls_out" | wc -l)" \
    "ls lsdir prints 4 lines (the .netdisk-* file is hidden)"
assert_eq "a.txt b.txt link sub" \
    "$(printf '%s\n' "$ls_out" | awk '{print $4}' | paste -sd' ')" \
    "ls entries are sorted by name"
assert_eq "f 10 a.txt|f 2 b.txt|l link|d sub" \
    "$(printf '%s\n' "$ls_out" | awk '{ if ($1 == "f") print $1, $2, $4; else print $1, $4 }' | paste -sd'|')" \
    "ls shows the right type and size for each entry"
mt=$(date -u -d "@$(stat -c %Y "$ROOT/lsdir/a.txt")" +%Y-%m-%dT%H:%M:%SZ)
assert_eq "$(printf 'f %12d %s a.txt' 10 "$mt")" \
    "$(printf '%s\n' "$ls_out" | head -n 1)" \
    "ls line format: type, size in 12 columns, mtime in ISO UTC, name"
assert_exit 0 nd ls
if grep -Eq '^d +[0-9]+ [0-9TZ:-]+ lsdir$' "$ND_OUT" &&
    grep -Eq '^f +1000 [0-9TZ:-]+ héllo wörld\.txt$' "$ND_OUT"; then
    ok "ls of the root lists files and directories"
else
    not_ok "ls of the root lists files and directories: $(cat "$ND_OUT")"
fi
if grep -q 'netdisk-' "$ND_OUT"; then
    not_ok "ls of the root shows no .netdisk-* name"
else
    ok "ls of the root shows no .netdisk-* name"
fi
assert_exit 0 nd ls lsdir/
check "ls DIR/ (one trailing slash) lists DIR" \
    test "$(cat "$ND_OUT")" = "$ls_out"
ND_WHAT="ls of a missing directory exits 4" assert_exit 4 nd ls "no/such/dir"
ND_WHAT="ls of a file exits 4" assert_exit 4 nd ls "lsdir/a.txt"

# Usage.
assert_exit 0 "$ND_BIN/netdisk" --help
check "--help prints a usage text" grep -qi usage "$ND_OUT"
ND_WHAT="no command: exit 2" assert_exit 2 "$ND_BIN/netdisk"
ND_WHAT="unknown command: exit 2" assert_exit 2 "$ND_BIN/netdisk" frobnicate
ND_WHAT="put without LOCAL: exit 2" assert_exit 2 "$ND_BIN/netdisk" put
ND_WHAT="get without REMOTE: exit 2" assert_exit 2 "$ND_BIN/netdisk" get
ND_WHAT="unknown option: exit 2" assert_exit 2 "$ND_BIN/netdisk" --no-such-option ls
ND_WHAT="put of a missing local file: exit 1" \
    assert_exit 1 nd put "$T/in/does-not-exist" "x"

# Connection refused.
port=$(nd_free_port) || fail "found no unused port"
ND_WHAT="connection refused (port $port): exit 3" \
    assert_exit 3 timeout 20 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$port" ls

# get into an existing directory puts the file inside it.
mkdir "$T/dl"
assert_exit 0 nd get "f65537" "$T/dl"
check "get into a directory wrote DIR/f65537" cmp -s "$T/in/f65537" "$T/dl/f65537"
check "...and left no .part file" test ! -e "$T/dl/f65537.part"
# get without LOCAL writes the remote's base name in the working directory.
mkdir "$T/cwd"
(cd "$T/cwd" && nd get "a/b/c/d/deep.bin" >/dev/null 2>&1) || true
check "get without LOCAL writes the base name into the working directory" \
    cmp -s "$T/in/deep" "$T/cwd/deep.bin"

nd_stop
nd_done
