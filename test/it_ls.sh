#!/bin/bash
# ls -l and ls -R through the real client against a tree made in $ROOT:
# the exact lines (human-readable sizes, local time, names), plain ls
# unchanged, the recursive walk's order and headers, symbolic links listed
# but never descended, one login per invocation, usage errors and a
# directory that cannot be listed.
# shellcheck disable=SC2012,SC2119 # ls -lh is the oracle for the sizes
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# The long format shows local time; fix it so the lines are exact.
export TZ=UTC

logins() { grep -c ' login peer=.* result=ok' "$ND_LOG" || true; }

# touch_at PATH: a fixed mtime, so every line is known in advance.
touch_at() { touch -h -d '2024-02-29 13:45:07 UTC' "$@"; }

mkdir -p "$ROOT/docs/sub/deeper" "$ROOT/empty" "$ROOT/z"
head -c 0 /dev/zero >"$ROOT/zero"
head -c 1000 /dev/zero >"$ROOT/docs/k1000"
head -c 1536 /dev/zero >"$ROOT/docs/k1536"
head -c 1025 /dev/zero >"$ROOT/docs/sub/k1025"
head -c $((10 * 1024)) /dev/zero >"$ROOT/docs/sub/deeper/k10"
truncate -s $((1024 * 1024 + 1)) "$ROOT/z/m1"
truncate -s $((5 * 1024 * 1024 * 1024)) "$ROOT/z/g5"
ln -s docs "$ROOT/link"
touch_at "$ROOT/zero" "$ROOT/docs/k1000" "$ROOT/docs/k1536" \
    "$ROOT/docs/sub/k1025" "$ROOT/docs/sub/deeper/k10" "$ROOT/z/m1" \
    "$ROOT/z/g5" "$ROOT/link"
touch_at "$ROOT/docs/sub/deeper" "$ROOT/docs/sub" "$ROOT/docs" \
    "$ROOT/empty" "$ROOT/z"
dsize() { stat -c %s "$1"; }
W='2024-02-29 13:45'
P='2024-02-29T13:45:07Z'

nd_start

# expect_out WHAT LINES: the last assert_exit printed exactly LINES.
expect_out() {
    assert_eq "$2" "$(cat "$ND_OUT")" "$1"
}

# --- plain ls is unchanged ------------------------------------------------
assert_exit 0 nd ls docs
expect_out "plain ls keeps its script format" \
"$(printf 'f %12d %s k1000\nf %12d %s k1536\nd %12d %s sub' \
    1000 "$P" 1536 "$P" "$(dsize "$ROOT/docs/sub")" "$P")"

# --- ls -l ----------------------------------------------------------------
assert_exit 0 nd ls -l
hd() { # the human size of a directory's size, as ls -lh would show it
    local s
    s=$(dsize "$1")
    if [ "$s" -lt 1024 ]; then echo "$s"; else ls -lhd "$1" | awk '{print $5}'; fi
}
expect_out "ls -l of the root: type, human size, time, name" \
"$(printf 'd %5s %s docs\nd %5s %s empty\nl %5s %s link\nd %5s %s z\nf %5s %s zero' \
    "$(hd "$ROOT/docs")" "$W" "$(hd "$ROOT/empty")" "$W" \
    "$(stat -c %s "$ROOT/link")" "$W" "$(hd "$ROOT/z")" "$W" 0 "$W")"
assert_exit 0 nd ls -l z
expect_out "ls -l z: 1 MiB + 1 byte is 1.1M (rounded up), 5 GiB is 5.0G" \
"$(printf 'f %5s %s g5\nf %5s %s m1' 5.0G "$W" 1.1M "$W")"
assert_exit 0 nd ls docs -l
expect_out "ls DIR -l: 1000 stays 1000, 1536 is 1.5K" \
"$(printf 'f %5s %s k1000\nf %5s %s k1536\nd %5s %s sub' \
    1000 "$W" 1.5K "$W" "$(hd "$ROOT/docs/sub")" "$W")"
# The sizes agree with GNU ls -lh on the same files.
for f in docs/k1000 docs/k1536 docs/sub/k1025 docs/sub/deeper/k10 z/m1 z/g5; do
    want=$(ls -lh "$ROOT/$f" | awk '{print $5}')
    assert_exit 0 nd ls -l "$(dirname "$f")"
    got=$(awk -v n="$(basename "$f")" '$NF == n {print $2}' "$ND_OUT")
    assert_eq "$want" "$got" "ls -l size of $f is ls -lh's ($want)"
done

# --- ls -R ----------------------------------------------------------------
assert_exit 0 nd ls -R docs
expect_out "ls -R docs: headers, blank lines, depth first, sorted" \
"$(printf '%s\n' 'docs:' \
    "$(printf 'f %12d %s k1000' 1000 "$P")" \
    "$(printf 'f %12d %s k1536' 1536 "$P")" \
    "$(printf 'd %12d %s sub' "$(dsize "$ROOT/docs/sub")" "$P")" \
    '' 'docs/sub:' \
    "$(printf 'd %12d %s deeper' "$(dsize "$ROOT/docs/sub/deeper")" "$P")" \
    "$(printf 'f %12d %s k1025' 1025 "$P")" \
    '' 'docs/sub/deeper:' \
    "$(printf 'f %12d %s k10' 10240 "$P")")"
before=$(logins)
assert_exit 0 nd ls -lR
assert_eq $((before + 1)) "$(logins)" "ls -lR of the whole tree logs in once"
headers=$(grep ':$' "$ND_OUT" | paste -sd' ')
assert_eq ".: docs: docs/sub: docs/sub/deeper: empty: z:" "$headers" \
    "ls -lR visits every directory once, in order, never through the link"
assert_eq 5 "$(grep -c '^$' "$ND_OUT")" "ls -lR: a blank line between dirs"
if grep -qx "f  1.1K $W k1025" "$ND_OUT" && grep -qx "l .* $W link" "$ND_OUT"; then
    ok "ls -lR prints long lines and lists the link without following it"
else
    not_ok "ls -lR long lines: $(cat "$ND_OUT")"
fi
assert_exit 0 nd ls -R -l docs/
assert_eq "docs: docs/sub: docs/sub/deeper:" \
    "$(grep ':$' "$ND_OUT" | paste -sd' ')" "ls -R -l docs/ names dirs docs/..."
assert_exit 0 nd ls -R empty
expect_out "ls -R of an empty directory: its header only" "empty:"

# A directory that vanishes or cannot be listed is reported, the rest go on.
mkdir -p "$ROOT/r/a" "$ROOT/r/b" "$ROOT/r/c"
: >"$ROOT/r/c/f"
chmod 000 "$ROOT/r/b"
if [ "$(id -u)" -ne 0 ]; then
    before=$(logins)
    assert_exit 4 nd ls -R r
    assert_eq $((before + 1)) "$(logins)" "...still one login"
    check "...and the other directories are listed" \
        grep -qx 'r/c:' "$ND_OUT"
    check "...with one line naming the directory" \
        grep -q '^netdisk: ls "r/b": server: ' "$ND_ERR"
fi
chmod 755 "$ROOT/r/b"

# --- errors ---------------------------------------------------------------
ND_WHAT="ls -x is a usage error (exit 2)" assert_exit 2 nd ls -x
assert_eq "netdisk: ls: unknown option: -x (try 'netdisk --help')" \
    "$(cat "$ND_ERR")" "...naming the option"
ND_WHAT="ls with two DIRs is a usage error" assert_exit 2 nd ls -l a b
ND_WHAT="ls -R of a missing directory: exit 4" assert_exit 4 nd ls -R nope
assert_eq "" "$(cat "$ND_OUT")" "...and prints no header"
ND_WHAT="ls -- -l lists a directory named -l (missing: 4)" \
    assert_exit 4 nd ls -- -l
set +o pipefail
n=$(nd ls -R | head -n 1)
set -o pipefail
assert_eq ".:" "$n" "ls -R | head: the reader may stop early"

nd_done
