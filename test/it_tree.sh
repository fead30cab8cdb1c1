#!/bin/bash
# Whole trees: `put -r LOCAL... [REMOTE]` and `get -r REMOTE... [LOCAL]`
# over one session (one login, counted in the daemon's log).  Relative
# paths, empty directories, names with spaces, a 0-byte and a 3 MiB file
# arrive byte-identical (diff -r, cmp); files keep their mtimes both ways
# and get -r gives each local directory its remote mtime; symbolic links
# and special files are skipped with a note; the destination rules; the
# depth and path length limits; and the error cases with their exit
# statuses, leaving everything else as it was.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

logins() { grep -c ' login peer=.* result=ok' "$ND_LOG" || true; }

# ndn ARGS...: the client without -q, so that its notes can be checked.
ndn() {
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_BIN/netdisk" -H 127.0.0.1 \
        -p "$ND_PORT" "$@"
}

# mtimes DIR TYPE: "path mtime" of each entry of TYPE (f or d) below DIR,
# sorted; files to the nanosecond, directories to the second.
mtimes() {
    if [ "$2" = f ]; then
        (cd "$1" && find . -mindepth 1 -type f -printf '%P %T@\n') |
            LC_ALL=C sort
    else
        (cd "$1" && find . -type d -printf '%P %T@\n') |
            sed 's/\.[0-9]*$//' | LC_ALL=C sort
    fi
}

# same_tree A B WHAT [EXCLUDE...]: diff -r finds no difference.
same_tree() {
    local a=$1 b=$2 what=$3 x=()
    shift 3
    for e in "$@"; do
        x+=(-x "$e")
    done
    if diff -r --no-dereference "${x[@]}" "$a" "$b" >"$T/diff.out" 2>&1; then
        ok "$what"
    else
        not_ok "$what"
        head -n 5 "$T/diff.out" | sed 's/^/#   /'
    fi
}

# same_mtimes A B TYPE WHAT: the entries of TYPE below A and B have the
# same mtimes.
same_mtimes() {
    mtimes "$1" "$3" >"$T/m1"
    mtimes "$2" "$3" >"$T/m2"
    if [ -s "$T/m1" ] && cmp -s "$T/m1" "$T/m2"; then
        ok "$4 ($(wc -l <"$T/m1") entries)"
    else
        not_ok "$4"
        diff "$T/m1" "$T/m2" | head -n 6 | sed 's/^/#   /'
    fi
}

nd_start

# --- The source tree --------------------------------------------------------
S=$T/src
mkdir -p "$S/a/b/c" "$S/a/b/emptydir" "$S/emptytop" "$S/with space"
mkrand "$S/top.txt" 1000
mkrand "$S/empty" 0
mkrand "$S/big.bin" $((3 * 1024 * 1024))
mkrand "$S/with space/file one.txt" 777
mkrand "$S/a/b/c/deep.txt" 4321
mkrand "$S/a/mid" 12345
ln -s top.txt "$S/link"
ln -s ../a "$S/a/dirlink"
mkfifo "$S/a/pipe"
# Old, distinct mtimes, so that a copy stamped "now" would be caught.
i=0
while IFS= read -r -d '' f; do
    i=$((i + 1))
    touch -d "2020-01-0$((i % 9 + 1)) 03:04:05.$((100000000 + i))" "$f"
done < <(find "$S" -type f -print0)

# --- put -r DIR: the tree at the root under DIR's base name ----------------
before=$(logins)
ND_WHAT="put -r DIR: exit 0" assert_exit 0 ndn put -r "$S"
assert_eq $((before + 1)) "$(logins)" "put -r of the whole tree logs in once"
check "...noting the skipped symlink" \
    grep -qx "netdisk: skipping symlink \"$S/link\"" "$ND_ERR"
check "...and the link to a directory" \
    grep -qx "netdisk: skipping symlink \"$S/a/dirlink\"" "$ND_ERR"
check "...and the FIFO" \
    grep -qx "netdisk: skipping special file \"$S/a/pipe\"" "$ND_ERR"
assert_eq 3 "$(wc -l <"$ND_ERR")" "...and saying nothing else"
same_tree "$S" "$ROOT/src" "the server's copy is byte-identical (diff -r)" \
    link dirlink pipe
check "...without the links and the FIFO" \
    test ! -e "$ROOT/src/link" -a ! -e "$ROOT/src/a/dirlink" \
    -a ! -e "$ROOT/src/a/pipe"
check "...with the empty directories" \
    test -d "$ROOT/src/emptytop" -a -d "$ROOT/src/a/b/emptydir"
same_mtimes "$S" "$ROOT/src" f "the server's files have the local mtimes"
assert_no_temps

ND_WHAT="ls -R src: exit 0" assert_exit 0 nd ls -R src
assert_eq "src: src/a: src/a/b: src/a/b/c: src/a/b/emptydir: src/emptytop: src/with space:" \
    "$(grep ':$' "$ND_OUT" | paste -sd' ')" "ls -R shows every directory"
assert_eq 12 "$(grep -c '^[fd] ' "$ND_OUT")" \
    "...and its 6 files and 6 directories"
assert_eq 0 "$(grep -c '^[l?] ' "$ND_OUT" || true)" "...and no link or FIFO"

# -q silences the notes; -v prints one line per file.
ND_WHAT="put -r -q: exit 0" assert_exit 0 nd put -r "$S" q/
assert_eq "" "$(cat "$ND_ERR")" "-q: not a word, the notes included"
ND_WHAT="put -r -v: exit 0" assert_exit 0 nd -v put -r "$S" v/
assert_eq 6 "$(grep -c '^put .* -> v/src/.*: [0-9]* bytes, md5 [0-9a-f]*$' \
    "$ND_ERR")" "-v: one line per file"

# --- get -r back ------------------------------------------------------------
# On the server: a link and a FIFO to skip, and old directory mtimes, set
# last since adding entries moves them.
ln -s top.txt "$ROOT/src/rlink"
mkfifo "$ROOT/src/a/rpipe"
find "$ROOT/src" -type d -exec touch -d '2019-05-06 07:08:09' {} +
touch -d '2018-02-03 04:05:06' "$ROOT/src/a/b"

before=$(logins)
ND_WHAT="get -r DIR NEW: exit 0" assert_exit 0 ndn get -r src "$T/back"
assert_eq $((before + 1)) "$(logins)" "get -r of the whole tree logs in once"
check "...noting the skipped remote symlink" \
    grep -qx 'netdisk: skipping symlink "src/rlink"' "$ND_ERR"
check "...and the special file" \
    grep -qx 'netdisk: skipping special file "src/a/rpipe"' "$ND_ERR"
same_tree "$S" "$T/back" "get -r: the copy equals the source (diff -r)" \
    link dirlink pipe
check "...without the remote link and FIFO" \
    test ! -e "$T/back/rlink" -a ! -e "$T/back/a/rpipe"
same_mtimes "$ROOT/src" "$T/back" f "get -r: files have the server's mtimes"
same_mtimes "$ROOT/src" "$T/back" d \
    "get -r: directories have the server's mtimes, the root included"
assert_eq "" "$(find "$T/back" -name '*.part*')" "no .part file is left"

# Again: LOCAL exists now, so the copy goes below it, as with cp -r.
ND_WHAT="get -r DIR LOCAL again: exit 0" assert_exit 0 nd get -r src "$T/back"
same_tree "$S" "$T/back/src" "...into LOCAL/BASE this time" link dirlink pipe \
    rlink rpipe
rm -rf "$T/back/src"
# The root, into a new directory.
ND_WHAT="get -r ./ NEW: exit 0" assert_exit 0 nd get -r ./ "$T/all"
same_tree "$S" "$T/all/src" "...the root's tree, src included" link dirlink \
    pipe rlink rpipe
# Into an existing directory: under the base name.
mkdir "$T/exist"
ND_WHAT="get -r DIR EXISTING: exit 0" assert_exit 0 nd get -r src "$T/exist"
same_tree "$S" "$T/exist/src" "get -r into an existing directory: DIR/src" \
    link dirlink pipe
# Without LOCAL: ./BASE.
mkdir "$T/cwd"
if (cd "$T/cwd" && nd get -r src/a && nd get -r src/a) 2>"$ND_ERR"; then
    same_tree "$S/a" "$T/cwd/a" "get -r REMOTE alone, twice: ./BASE, merged" \
        dirlink pipe rpipe
else
    not_ok "get -r src/a in an empty directory failed: $(cat "$ND_ERR")"
fi
# A remote file under -r: as without it.
ND_WHAT="get -r FILE LOCAL: exit 0" assert_exit 0 nd get -r src/big.bin \
    "$T/one.bin"
check "...the file arrives like a plain get" cmp -s "$S/big.bin" "$T/one.bin"
# The option anywhere before "--", in its long form too.
ND_WHAT="get SRC LOCAL --recursive" assert_exit 0 nd get "src/with space" \
    "$T/lopt" --recursive
check "...copied the directory" cmp -s "$S/with space/file one.txt" \
    "$T/lopt/file one.txt"
rm -f "$ROOT/src/rlink" "$ROOT/src/a/rpipe"

# --- Destinations and several sources ---------------------------------------
ND_WHAT="put -r DIR REMOTE: exit 0" assert_exit 0 nd put -r "$S/a" put/here
same_tree "$S/a" "$ROOT/put/here" "put -r DIR REMOTE: the contents at REMOTE" \
    dirlink pipe
ND_WHAT="...again, merged into what is there" assert_exit 0 nd put -r \
    "$S/a" put/here
ND_WHAT="put -r DIR REMOTE/: exit 0" assert_exit 0 nd put -r "$S/a" into/
same_tree "$S/a" "$ROOT/into/a" "put -r DIR REMOTE/: REMOTE/BASE" dirlink pipe
ND_WHAT="put --recursive DIR ./: exit 0" assert_exit 0 nd put --recursive \
    "$S/with space" ./
check "...at the root under its base name" cmp -s \
    "$S/with space/file one.txt" "$ROOT/with space/file one.txt"
# "." has no base name to copy under, but a REMOTE names the copy.
ND_WHAT="put -r . REMOTE: exit 0" assert_exit 0 sh -c "cd '$S/a' && exec \"\$@\"" \
    sh timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" \
    put -r . dotcopy
same_tree "$S/a" "$ROOT/dotcopy" "...the working directory's contents" \
    dirlink pipe
# The operand is taken as named, even a link; below it nothing is followed.
ln -s "$S/a" "$T/alink"
ND_WHAT="put -r LINK-TO-DIR: exit 0" assert_exit 0 nd put -r "$T/alink"
same_tree "$S/a" "$ROOT/alink" "...copies the directory it names" dirlink pipe
ND_WHAT="put -r FILE REMOTE: exit 0" assert_exit 0 nd put -r "$S/top.txt" \
    single
check "...a file operand is put as without -r" cmp -s "$S/top.txt" \
    "$ROOT/single"

before=$(logins)
ND_WHAT="put -r several: exit 0" assert_exit 0 nd put -r "$S/a" \
    "$S/with space" "$S/top.txt" multi
assert_eq $((before + 1)) "$(logins)" "put -r of several sources logs in once"
same_tree "$S/a" "$ROOT/multi/a" "...each under REMOTE/BASE" dirlink pipe
same_tree "$S/with space" "$ROOT/multi/with space" "...the second too"
check "...and the file" cmp -s "$S/top.txt" "$ROOT/multi/top.txt"
mkdir "$T/several"
before=$(logins)
ND_WHAT="get -r several: exit 0" assert_exit 0 nd get -r multi/a \
    "multi/with space" multi/top.txt "$T/several"
assert_eq $((before + 1)) "$(logins)" "get -r of several sources logs in once"
same_tree "$S/a" "$T/several/a" "...each into LOCAL/BASE" dirlink pipe
same_tree "$S/with space" "$T/several/with space" "...the second too"
check "...and the file" cmp -s "$S/top.txt" "$T/several/top.txt"

# --- Errors -----------------------------------------------------------------
# A failing source does not stop the others.
ND_WHAT="put -r missing and good sources: exit 1" \
    assert_exit 1 nd put -r "$T/missing" "$S/a" good/
same_tree "$S/a" "$ROOT/good/a" "...the good source still arrived" dirlink pipe

# From here on nothing may change on the server.
: >"$ROOT/plainfile"
md5_before=$(cd "$ROOT" && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 md5sum | md5sum)

ND_WHAT="get -r of a missing remote directory: exit 4" \
    assert_exit 4 nd get -r nope "$T/nope"
assert_eq 'netdisk: get "nope": server: no such file or directory (NOENT)' \
    "$(cat "$ND_ERR")" "...one line with the server's NOENT"
check "...and nothing made locally" test ! -e "$T/nope"

before=$(logins)
ND_WHAT="put -r of a missing local directory: exit 1" \
    assert_exit 1 nd put -r "$T/missing"
check "...saying so" grep -q "\"$T/missing\": No such file or directory" \
    "$ND_ERR"
assert_eq "$before" "$(logins)" "...without logging in"

ND_WHAT="put -r onto a remote file: exit 4" \
    assert_exit 4 nd put -r "$S/a" plainfile
check "...one line from the server" grep -q \
    '^netdisk: mkdir "plainfile": server: .*(EXIST)$' "$ND_ERR"
check "...and the file is still an empty file" test -f "$ROOT/plainfile" -a \
    ! -s "$ROOT/plainfile"
ND_WHAT="put -r with a local (1) and a refused (4) failure: exit 4" \
    assert_exit 4 nd put -r "$T/missing" "$S/a" plainfile/

: >"$T/lfile"
ND_WHAT="get -r onto a local file: exit 1" assert_exit 1 nd get -r src \
    "$T/lfile"
check "...which stays an empty file" test -f "$T/lfile" -a ! -s "$T/lfile"
before=$(logins)
ND_WHAT="get -r of several to a missing directory: exit 2" \
    assert_exit 2 nd get -r src multi "$T/no-such-dir"
assert_eq "$before" "$(logins)" "...a usage error before any login"
ND_WHAT="put -r . (no name for the copy): exit 2" \
    assert_exit 2 sh -c "cd '$S' && exec \"\$@\"" sh \
    timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" put -r .
ND_WHAT="put -x: still an unknown option" assert_exit 2 nd put -x "$S"

# A link in place of a local directory is never written through.
mkdir "$T/trap" "$T/elsewhere"
ln -s "$T/elsewhere" "$T/trap/src"
ND_WHAT="get -r onto a link: exit 1" assert_exit 1 nd get -r src "$T/trap"
assert_eq "" "$(ls -A "$T/elsewhere")" "...and nothing arrived through it"

md5_after=$(cd "$ROOT" && find . -type f -print0 | LC_ALL=C sort -z |
    xargs -0 md5sum | md5sum)
rm -f "$ROOT/plainfile"
assert_eq "$md5_before" "$md5_after" \
    "the failures changed no file on the server"
same_tree "$S" "$ROOT/src" "...and the first copy is still intact" \
    link dirlink pipe

# --- Limits -----------------------------------------------------------------
# 258 nested directories: 256 levels are copied, the rest refused.
mkdir -p "$T/deep/$(printf 'd/%.0s' {1..258})"
: >"$T/deep/$(printf 'd/%.0s' {1..258})leaf"
ND_WHAT="put -r of a tree 258 levels deep: exit 1" \
    assert_exit 1 nd put -r "$T/deep"
check "...saying why" grep -q 'not copied: more than 256 levels' "$ND_ERR"
assert_eq 256 "$(find "$ROOT/deep" -mindepth 1 -type d | wc -l)" \
    "...and copying the first 256 levels"

# Components of 200 bytes, 21 levels: past the 4095-byte remote path.
name=$(printf 'n%.0s' {1..200})
(
    mkdir "$T/longpath"
    cd "$T/longpath" || exit 1
    for ((k = 0; k < 21; k++)); do
        mkdir "$name"
        cd "$name" || exit 1
    done
)
ND_WHAT="put -r past the remote path limit: exit 1" \
    assert_exit 1 nd put -r "$T/longpath"
check "...saying why" grep -q 'not copied: remote path longer than 4095' \
    "$ND_ERR"
assert_eq 20 "$(find "$ROOT/longpath" -mindepth 1 -type d | wc -l)" \
    "...and copying what fits"

nd_roundtrip after
nd_stop
nd_done
