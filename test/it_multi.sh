#!/bin/bash
# Several files per invocation: `put LOCAL... REMOTE_DIR/` and
# `get REMOTE... LOCAL_DIR` over one session (one login, counted in the
# daemon's log), each file verified (cmp, md5sum), a failing file reported
# in one line without stopping the others, the worst exit status, usage
# errors before any connection, and the one-file forms unchanged.  A get
# of several files pipelines its requests: the order and the failures in
# the middle of such a list are checked too.
# shellcheck disable=SC2119
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

logins() { grep -c ' login peer=.* result=ok' "$ND_LOG" || true; }

# same FILE1 FILE2 WHAT: byte-identical by cmp and by md5sum.
same() {
    if [ -f "$2" ] && cmp -s "$1" "$2" &&
        [ "$(md5_of "$1")" = "$(md5_of "$2")" ]; then
        ok "$3"
    else
        not_ok "$3"
    fi
}

nd_start
mkdir "$T/in" "$T/out" "$T/out2"
mkrand "$T/in/a" 0
mkrand "$T/in/b" 70000
mkrand "$T/in/c" $((3 * 1024 * 1024 + 17))
mkrand "$T/in/with space" 1234

# --- put LOCAL... REMOTE_DIR/ ---------------------------------------------
before=$(logins)
assert_exit 0 nd put "$T/in/a" "$T/in/b" "$T/in/c" "$T/in/with space" up/
assert_eq $((before + 1)) "$(logins)" "put of four files logs in once"
for f in a b c "with space"; do
    same "$T/in/$f" "$ROOT/up/$f" "put: up/$f arrived byte-identical"
done
assert_eq "" "$(cat "$ND_ERR")" "...and said nothing (-q)"

assert_exit 0 nd put "$T/in/a" "$T/in/b" ./
same "$T/in/b" "$ROOT/b" "put ... ./ puts into the root"

# Verbose: one line per file.
assert_exit 0 nd -v put "$T/in/a" "$T/in/b" v/
assert_eq 2 "$(grep -c '^put .* -> v/[ab]: [0-9]* bytes, md5 [0-9a-f]*$' \
    "$ND_ERR")" "put -v prints one line per file"

# A failing LOCAL is one line; the others still go; exit 1.
before=$(logins)
assert_exit 1 nd put "$T/in/a" "$T/in/missing" "$T/in" "$T/in/c" part/
assert_eq $((before + 1)) "$(logins)" "...still one login"
assert_eq 2 "$(wc -l <"$ND_ERR")" "...one line per failing LOCAL"
check "...naming the missing file" \
    grep -qx "netdisk: cannot open \"$T/in/missing\": No such file or directory" \
    "$ND_ERR"
check "...and the directory" \
    grep -qx "netdisk: cannot put \"$T/in\": Is a directory" "$ND_ERR"
same "$T/in/a" "$ROOT/part/a" "...the file before it arrived"
same "$T/in/c" "$ROOT/part/c" "...and the file after it"

# Refused by the server (a file where the directory should be): exit 4.
: >"$ROOT/plain"
assert_exit 4 nd put "$T/in/a" "$T/in/b" plain/
assert_eq 2 "$(grep -c '^netdisk: put "plain/[ab]": server: ' "$ND_ERR")" \
    "each refused file is one line naming it"
# The worst status wins: 1 (local) and 4 (refused) give 4.
rm -f "$ROOT/a"
mkdir "$ROOT/a" # put onto a directory's name is refused
assert_exit 4 nd put "$T/in/missing" "$T/in/a" "$T/in/b" ./
same "$T/in/b" "$ROOT/b" "...and the good file still arrived"
rmdir "$ROOT/a"

# Usage errors come before any connection.
before=$(logins)
ND_WHAT="put of several files to a REMOTE without '/' is a usage error" \
    assert_exit 2 nd put "$T/in/a" "$T/in/b" dir
check "...that says why" grep -q "must be a remote directory ending in '/'" \
    "$ND_ERR"
assert_eq "$before" "$(logins)" "...and logs nobody in"

# The one-file forms are unchanged.
assert_exit 0 nd put "$T/in/b" renamed
same "$T/in/b" "$ROOT/renamed" "put LOCAL REMOTE still names the file"
assert_exit 0 nd put "$T/in/c" into/
same "$T/in/c" "$ROOT/into/c" "put LOCAL DIR/ still puts into DIR"
ND_WHAT="put of a missing LOCAL alone: exit 1, no login" \
    assert_exit 1 nd put "$T/in/missing"
before=$(logins)
assert_exit 1 nd put "$T/in/missing" "$T/in/missing2" d/
assert_eq "$before" "$(logins)" "no usable LOCAL: no connection at all"

# --- get REMOTE... LOCAL_DIR ----------------------------------------------
before=$(logins)
assert_exit 0 nd get up/a up/b up/c "up/with space" "$T/out"
assert_eq $((before + 1)) "$(logins)" "get of four files logs in once"
for f in a b c "with space"; do
    same "$T/in/$f" "$T/out/$f" "get: $f arrived byte-identical"
done
assert_eq "" "$(find "$T/out" -name '*.part')" "no .part file is left"

assert_exit 0 nd -v get up/a up/b "$T/out2/"
assert_eq 2 "$(grep -c '^get up/[ab] -> .*: [0-9]* bytes, md5 [0-9a-f]*$' \
    "$ND_ERR")" "get -v prints one line per file"

# A missing REMOTE is one line; the others still come; exit 4.
rm -rf "$T/out" && mkdir "$T/out"
before=$(logins)
assert_exit 4 nd get up/a up/nope up/c "$T/out"
assert_eq $((before + 1)) "$(logins)" "...still one login"
assert_eq 'netdisk: get "up/nope": server: no such file or directory (NOENT)' \
    "$(cat "$ND_ERR")" "...one line naming the missing file"
same "$T/in/a" "$T/out/a" "...the file before it arrived"
same "$T/in/c" "$T/out/c" "...and the file after it"

# A local file that cannot be created: its bytes are read into nothing,
# the session goes on; exit 1.
rm -rf "$T/out" && mkdir -p "$T/out/b.part"
assert_exit 1 nd get up/b up/c "$T/out"
check "...one line about the .part file" \
    grep -q "^netdisk: cannot create \"$T/out/b.part\": " "$ND_ERR"
same "$T/in/c" "$T/out/c" "...and the next file arrived"
rmdir "$T/out/b.part"
# Worst of 1 and 4 is 4.
mkdir -p "$T/out/a.part"
assert_exit 4 nd get up/a up/nope up/b "$T/out"
same "$T/in/b" "$T/out/b" "...the good file arrived"
rmdir "$T/out/a.part"

# Pipelining: each GET goes out while the file before it still comes.
# Many files, a large one first (its transfer fills the socket and waits,
# so the next GET arrives during it) and one in the middle, the same
# remote twice: every file byte-identical, one login, and the daemon sent
# them in the order asked for.
rm -rf "$T/pin" "$T/pout" && mkdir "$T/pin" "$T/pout"
mkrand "$T/pin/big1" $((6 * 1024 * 1024 + 5))
mkrand "$T/pin/big2" $((5 * 1024 * 1024))
names=(big1)
for i in $(seq -w 1 40); do
    mkrand "$T/pin/s$i" $((10#$i * 97))
    names+=("s$i")
    [ "$i" = 20 ] && names+=(big2)
done
: >"$T/pin/empty"
names+=(empty s07)
assert_exit 0 nd put "${names[@]/#/$T/pin/}" pipe/
log_mark
before=$(logins)
assert_exit 0 nd get "${names[@]/#/pipe/}" "$T/pout"
assert_eq $((before + 1)) "$(logins)" "a pipelined get of ${#names[@]} files logs in once"
bad=0
for f in "${names[@]}"; do
    cmp -s "$T/pin/$f" "$T/pout/$f" || bad=$((bad + 1))
done
assert_eq 0 "$bad" "...and every file arrived byte-identical (cmp)"
assert_eq "$(md5_of "$T/pin/big2")" "$(md5_of "$T/pout/big2")" \
    "...the large one in the middle too (md5sum)"
assert_eq "" "$(find "$T/pout" -name '*.part*')" "...no .part file is left"
assert_eq "$(printf '%s\n' "${names[@]/#/pipe/}")" \
    "$(log_new | sed -n 's/.* op=get path="\([^"]*\)".*result=ok.*/\1/p')" \
    "...sent in the order asked for, the same file twice included"
# That it is pipelined, seen in the client's system calls: the GET for
# the second file goes out before the first file's 97 bytes are read.
if command -v strace >/dev/null 2>&1; then
    rm -rf "$T/pout" && mkdir "$T/pout"
    # LeakSanitizer cannot run under a tracer (it ptraces the process
    # itself), so an ASan build's leak check is off for this one run.
    assert_exit 0 env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        timeout -k 5 "$ND_CMD_TIMEOUT" strace -o "$T/trace" \
        -e trace=sendto,recvfrom "$ND_BIN/netdisk" -q -H 127.0.0.1 \
        -p "$ND_PORT" get pipe/s01 pipe/s02 "$T/pout"
    get2=$(grep -n '^sendto(.*pipe/s02' "$T/trace" | head -n 1 | cut -d: -f1)
    data1=$(grep -n '^recvfrom(.*, 97, MSG_WAITALL' "$T/trace" | head -n 1 |
        cut -d: -f1)
    check "the second GET went out (line ${get2:-none}) before the first file's bytes were read (line ${data1:-none})" \
        test -n "$get2" -a -n "$data1" -a "${get2:-0}" -lt "${data1:-0}"
    same "$T/pin/s02" "$T/pout/s02" "...and both arrived"
else
    say "# strace is missing: the system-call check of pipelining is skipped"
fi
# The file after a missing one is asked for only once the ERROR came; a
# local failure still reads its file's bytes before the next one's.
rm -rf "$T/pout" && mkdir -p "$T/pout/s02.part"
assert_exit 4 nd get pipe/big1 pipe/s01 pipe/s02 pipe/nope pipe/big2 pipe/s03 "$T/pout"
for f in big1 s01 big2 s03; do
    same "$T/pin/$f" "$T/pout/$f" "after failures in a pipelined list: $f"
done
check "...s02 (its .part is a directory) reported" \
    grep -q "^netdisk: cannot create \"$T/pout/s02.part\": " "$ND_ERR"
check "...and the missing one" grep -q '^netdisk: get "pipe/nope": server: ' \
    "$ND_ERR"
rmdir "$T/pout/s02.part"

# Usage errors come before any connection.
before=$(logins)
ND_WHAT="get of several files to a missing directory is a usage error" \
    assert_exit 2 nd get up/a up/b "$T/no-such-dir"
: >"$T/afile"
ND_WHAT="get of several files to a local file is a usage error" \
    assert_exit 2 nd get up/a up/b "$T/afile"
check "...that says why" grep -q "must be an existing local directory" \
    "$ND_ERR"
assert_eq "$before" "$(logins)" "...and logs nobody in"

# The one-file forms are unchanged.
assert_exit 0 nd get up/b "$T/named"
same "$T/in/b" "$T/named" "get REMOTE LOCAL still names the file"
(cd "$T/out2" && nd get up/c) || not_ok "get REMOTE alone failed"
same "$T/in/c" "$T/out2/c" "get REMOTE alone still names it after REMOTE"

# A global option after the command word is refused, never taken for a
# name ("put f --tls" must not upload in plaintext to "--tls"); "--" lets a
# name start with '-'.
ND_WHAT="put LOCAL --tls: exit 2" assert_exit 2 nd put "$T/in/b" --tls
check "...saying options go before the command" \
    grep -q 'options go before the command' "$ND_ERR"
check "...and nothing named --tls was stored" test ! -e "$ROOT/--tls"
ND_WHAT="get REMOTE -q: exit 2" assert_exit 2 nd get up/b -q
cp "$T/in/b" "$T/-dash"
ND_WHAT="put -- -dash: a name starting with '-' after --" \
    assert_exit 0 sh -c "cd '$T' && exec \"\$@\"" sh \
    timeout -k 5 60 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" put -- -dash
same "$T/in/b" "$ROOT/-dash" "...stored under its own name"

# The progress bar on a terminal: the file name and the batch's total.
if command -v script >/dev/null 2>&1; then
    rm -rf "$T/out" && mkdir "$T/out"
    script -qec "$ND_BIN/netdisk -H 127.0.0.1 -p $ND_PORT get up/b up/c \
        $T/out" "$T/tty.log" >/dev/null 2>&1 || true
    if grep -q 'up/c.*\[2/2 ' "$T/tty.log" && grep -q 'up/b.*\[.*/2 ' \
        "$T/tty.log"; then
        ok "the bar shows each file's name and the files done of the batch"
        tr '\r' '\n' <"$T/tty.log" | grep -v '^$' | tail -n 2 | sed 's/^/# /'
    else
        not_ok "the bar on a terminal: $(tr '\r' '\n' <"$T/tty.log" | tail -n 3)"
    fi
    same "$T/in/c" "$T/out/c" "...and the files arrived"
fi

nd_done
