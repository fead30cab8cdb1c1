#!/bin/bash
# Resuming interrupted transfers, with nd_faultproxy cutting connections at
# exact byte offsets.  get: cuts before any file byte, in the middle and
# just before the trailer; a remote file changed between the attempts (new
# content; same size and mtime with a stale and with a current digest
# record); a damaged .part; a client killed by SIGINT.  put: cuts in the
# middle, the hidden partial directory, a changed local mtime, the sweep of
# old partials, partial_ttl = 0, and concurrent puts of one name.  The byte
# counts come from the proxy's log and the daemon's from=/bytes= fields;
# the oracles are cmp and md5sum.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

MIB=$((1024 * 1024))
SIZE=$((24 * MIB))
# The trailer after the file bytes: a DIGEST frame, 8 bytes of header,
# 1 of algorithm, 16 of MD5.
TRAILER=25
PROXY=$ND_TEST_BIN/nd_faultproxy
[ -x "$PROXY" ] || fail "no nd_faultproxy in $ND_TEST_BIN"
PX_N=0
PX_PID=
PX_PORT=
PX_LOG=
RC=0

# px_start OPTION...: a fault proxy in front of the current daemon, at most
# 60 s; sets PX_PORT, PX_PID and PX_LOG.  A background job of this shell,
# so the EXIT trap of lib.sh stops it if it is still running; px_stop ends
# it earlier, by its pid.
px_start() {
    PX_N=$((PX_N + 1))
    PX_LOG=$T/px.$PX_N.log
    "$PROXY" --to "$ND_PORT" --port-file "$T/px.$PX_N.port" \
        --log "$PX_LOG" --timeout 60 "$@" 2>"$T/px.$PX_N.err" &
    PX_PID=$!
    wait_for 5 test -s "$T/px.$PX_N.port" ||
        fail "nd_faultproxy $* wrote no port file: $(cat "$T/px.$PX_N.err")"
    PX_PORT=$(cat "$T/px.$PX_N.port")
}

px_stop() {
    if [ -n "$PX_PID" ]; then
        kill -TERM "$PX_PID" 2>/dev/null || true
        wait "$PX_PID" 2>/dev/null || true
        PX_PID=
    fi
}

# px_line K: the proxy's line for connection K ("conn K up U down D end
# R"), waiting up to 10 s for it; empty when it never came.
px_line() {
    if wait_for 10 grep -q "^conn $1 " "$PX_LOG"; then
        grep "^conn $1 " "$PX_LOG" | head -n 1
    fi
}
px_up() { px_line "$1" | awk '{print $4}'; }
px_down() { px_line "$1" | awk '{print $6}'; }

# ndc PORT ARGS...: the client without -q (its notes are checked), bounded.
ndc() {
    local port=$1
    shift
    timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_BIN/netdisk" -H 127.0.0.1 \
        -p "$port" "$@"
}

# run CMD...: runs CMD with its output in $ND_OUT and $ND_ERR and its exit
# status in RC.
run() {
    RC=0
    "$@" >"$ND_OUT" 2>"$ND_ERR" || RC=$?
}

# xfer_re OP PATH FROM BYTES RESULT: an ERE for the daemon's transfer line.
xfer_re() {
    printf 'transfer peer=127\\.0\\.0\\.1:[0-9]+ op=%s path="%s" from=%s bytes=%s .*result=%s' \
        "$1" "$2" "$3" "$4" "$5"
}

err_has() { grep -qF -- "$1" "$ND_ERR"; }
check_err() {
    if err_has "$2"; then
        ok "$1"
    else
        not_ok "$1: stderr: $(head -c 400 "$ND_ERR")"
    fi
}
check_no_err() {
    if err_has "$2"; then
        not_ok "$1: stderr: $(head -c 400 "$ND_ERR")"
    else
        ok "$1"
    fi
}

mtime_of() { stat -c '%Y %y' "$1"; }
same_mtime() { [ "$(mtime_of "$1")" = "$(mtime_of "$2")" ]; }

# flip FILE OFFSET: inverts the byte at OFFSET in place.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' $((b ^ 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# The files of the partial directory, one per line.
partials() {
    if [ -d "$ROOT/.netdisk-partial" ]; then
        find "$ROOT/.netdisk-partial" -type f -print
    fi
}
no_partials() { [ -z "$(partials)" ]; }

nd_start
mkdir "$T/in" "$T/out"
t_start=$SECONDS

# ---------------------------------------------------------------------------
say "# 1. get cut at several offsets, resumed by the same get"
mkrand "$T/in/a" "$SIZE"
assert_exit 0 nd put "$T/in/a" a.bin
check "the stored a.bin has the source's md5" \
    test "$(md5_of "$ROOT/a.bin")" = "$(md5_of "$T/in/a")"
a_md5=$(md5_of "$T/in/a")
a_sec=$(stat -c %Y "$ROOT/a.bin")
a_nsec=$(stat -c %y "$ROOT/a.bin" | sed 's/^[^.]*\.\([0-9]*\) .*/\1/;s/^0*//')
a_nsec=${a_nsec:-0}

# An uncut get through the proxy: its down count is the header before the
# file bytes, the file and the trailer.
px_start --conn 0 --max-conns 1
run ndc "$PX_PORT" get a.bin "$T/out/cal"
assert_eq 0 "$RC" "an uncut get through the proxy exits 0"
check "...and is byte-identical" cmp -s "$T/in/a" "$T/out/cal"
full_down=$(px_down 1)
px_stop
rm -f "$T/out/cal"
[ -n "$full_down" ] || fail "the proxy logged no line for the uncut get"
hdr_down=$((full_down - SIZE - TRAILER))
say "# an uncut get moves $full_down bytes down: $hdr_down before the file, $TRAILER after"
[ "$hdr_down" -gt 100 ] || fail "header of only $hdr_down bytes before the file"

for cut in 100 $((1 * MIB)) $((17 * MIB)) $((full_down - 1)); do
    out=$T/out/a.$cut
    px_start --conn 1 --cut-down "$cut" --max-conns 2
    log_mark
    run ndc "$PX_PORT" get a.bin "$out"
    check "cut $cut: the interrupted get exits non-zero ($RC)" test "$RC" -ne 0
    l1=$(px_line 1)
    assert_eq "conn 1 down $cut end cut-down" \
        "$(printf '%s' "$l1" | awk '{print $1, $2, $5, $6, $7, $8}')" \
        "cut $cut: the proxy cut connection 1 after exactly $cut bytes down"
    kept=$(fsize "$out.part")
    want=$((cut > hdr_down ? cut - hdr_down : 0))
    [ "$want" -le "$SIZE" ] || want=$SIZE
    check "cut $cut: the kept part ($kept) is at most the bytes cut" \
        test "$kept" -le "$cut"
    assert_eq "$want" "$kept" \
        "cut $cut: every file byte that arrived was kept ($want)"
    check "cut $cut: no LOCAL yet" test ! -e "$out"
    if [ "$want" -eq 0 ]; then
        check "cut $cut (before any file byte): neither .part nor .part.state" \
            test ! -e "$out.part" -a ! -e "$out.part.state"
    else
        check "cut $cut: .part and .part.state are kept" \
            test -f "$out.part" -a -f "$out.part.state"
        assert_eq "netdisk-resume 1 $SIZE $a_sec $a_nsec $a_md5 $ND_USER@127.0.0.1:$PX_PORT:a.bin" \
            "$(cat "$out.part.state" 2>/dev/null)" \
            "cut $cut: the state names size, mtime, md5 and origin"
        check_err "cut $cut: the client says what it kept" \
            "; the same get resumes it"
    fi
    log_mark
    run ndc "$PX_PORT" get a.bin "$out"
    assert_eq 0 "$RC" "cut $cut: the same get again exits 0"
    check "cut $cut: the resumed file is byte-identical (cmp)" \
        cmp -s "$T/in/a" "$out"
    assert_eq "$a_md5" "$(md5_of "$out")" "cut $cut: ...and has the md5"
    assert_eq "$(mtime_of "$ROOT/a.bin")" "$(mtime_of "$out")" \
        "cut $cut: LOCAL has the remote mtime"
    check "cut $cut: no .part or .part.state left" \
        test ! -e "$out.part" -a ! -e "$out.part.state"
    if [ "$kept" -gt 0 ]; then
        check_err "cut $cut: the client says it resumes" "resuming after"
    fi
    down2=$(px_down 2)
    say "# cut $cut: kept $kept, the second connection moved ${down2:-?} bytes down"
    check "cut $cut: the second connection moved only the rest (${down2:-none} < $((SIZE - kept + 4096)))" \
        test "${down2:-999999999999}" -lt $((SIZE - kept + 4096))
    check_new "cut $cut: the daemon logged from=$kept bytes=$((SIZE - kept))" \
        "$(xfer_re get a.bin "$kept" $((SIZE - kept)) ok)"
    px_stop
    rm -f "$out"
done

# A file under 1 MiB is fetched again, not resumed: an interrupted get of
# one leaves neither .part nor .part.state, and the next get is whole.
mkrand "$T/in/s" $((64 * 1024))
assert_exit 0 nd put "$T/in/s" s.bin
out=$T/out/s
px_start --conn 1 --cut-down $((hdr_down + 20000)) --max-conns 2
run ndc "$PX_PORT" get s.bin "$out"
check "small file: the interrupted get exits non-zero ($RC)" test "$RC" -ne 0
check "small file: neither LOCAL, .part nor .part.state is left" \
    test ! -e "$out" -a ! -e "$out.part" -a ! -e "$out.part.state"
run ndc "$PX_PORT" get s.bin "$out"
assert_eq 0 "$RC" "small file: the same get again exits 0"
check "small file: ...and is byte-identical (cmp)" cmp -s "$T/in/s" "$out"
check "small file: ...without a resume" test "$(grep -c "resuming after" "$ND_ERR" || true)" = 0
px_stop
rm -f "$out"

# A resumed file in the middle of a list: its ranged GET goes out while
# the file before it still comes (pipelining), and the file after it is
# asked for only once the resumed one's reply came.
mkdir -p "$T/out/list"
mkrand "$T/in/probe" 3000
assert_exit 0 nd put "$T/in/probe" probe.bin
out=$T/out/list/a.bin
px_start --conn 1 --cut-down $((17 * MIB)) --max-conns 2
run ndc "$PX_PORT" get a.bin "$out"
check "list: the interrupted get exits non-zero ($RC)" test "$RC" -ne 0
kept=$(fsize "$out.part")
check "list: a part of a.bin is kept ($kept bytes)" test "$kept" -gt 0
log_mark
run ndc "$PX_PORT" get s.bin a.bin probe.bin "$T/out/list"
assert_eq 0 "$RC" "list: get s.bin a.bin probe.bin exits 0"
check "list: a.bin resumed (cmp)" cmp -s "$T/in/a" "$out"
check "list: ...and the files around it arrived" \
    cmp -s "$T/in/s" "$T/out/list/s.bin"
check "list: ...both" cmp -s "$T/in/probe" "$T/out/list/probe.bin"
check_err "list: the client says it resumes" "resuming after"
check_new "list: the daemon sent a.bin from=$kept" \
    "$(xfer_re get a.bin "$kept" $((SIZE - kept)) ok)"
check "list: no .part or .part.state left" \
    test -z "$(find "$T/out/list" -name '*.part*')"
px_stop
rm -rf "$T/out/list"

# A fresh get through another port is another origin: it starts at 0.
px_start --conn 1 --cut-down $((3 * MIB)) --max-conns 1
run ndc "$PX_PORT" get a.bin "$T/out/orig"
px_stop
kept=$(fsize "$T/out/orig.part")
log_mark
run ndc "$ND_PORT" get a.bin "$T/out/orig"
assert_eq 0 "$RC" "a get of the same file from another port exits 0"
check_new "...and starts at 0, not after the $kept bytes kept for the other origin" \
    "$(xfer_re get a.bin 0 "$SIZE" ok)"
check "...with the right content" cmp -s "$T/in/a" "$T/out/orig"
check "...and no .part left" test ! -e "$T/out/orig.part" -a ! -e "$T/out/orig.part.state"
rm -f "$T/out/orig"

# ---------------------------------------------------------------------------
say "# 2. the remote file changed between the attempts"
mkrand "$T/in/b1" "$SIZE"
mkrand "$T/in/b2" "$SIZE"
assert_exit 0 nd put "$T/in/b1" b.bin
px_start --conn 1 --cut-down $((5 * MIB)) --max-conns 2
run ndc "$PX_PORT" get b.bin "$T/out/b"
kept=$(fsize "$T/out/b.part")
check "the cut get kept a part ($kept bytes)" test "$kept" -gt 0
assert_exit 0 nd put "$T/in/b2" b.bin
log_mark
run ndc "$PX_PORT" get b.bin "$T/out/b"
assert_eq 0 "$RC" "the get after the change exits 0"
check_err "the client says it starts over" \
    "the remote file changed since the interrupted get; starting over"
check_no_err "...and does not claim to resume" "resuming after"
check "the result is the new content (cmp)" cmp -s "$T/in/b2" "$T/out/b"
check_new "the daemon sent the whole file (from=0 bytes=$SIZE)" \
    "$(xfer_re get b.bin 0 "$SIZE" ok)"
down2=$(px_down 2)
check "the second connection moved the whole file (${down2:-none} >= $SIZE)" \
    test "${down2:-0}" -ge "$SIZE"
check "no .part or .part.state left" \
    test ! -e "$T/out/b.part" -a ! -e "$T/out/b.part.state"
px_stop
rm -f "$T/out/b" "$T/in/b1" "$T/in/b2"

# ---------------------------------------------------------------------------
say "# 3a. same size, mtime restored by touch on the server (stale record)"
mkrand "$T/in/c1" "$SIZE"
mkrand "$T/in/c2" "$SIZE"
assert_exit 0 nd put "$T/in/c1" c.bin
old_mtime=$(stat -c %.9Y "$ROOT/c.bin")
px_start --conn 1 --cut-down $((6 * MIB)) --max-conns 2
run ndc "$PX_PORT" get c.bin "$T/out/c"
kept=$(fsize "$T/out/c.part")
check "the cut get kept a part ($kept bytes)" test "$kept" -gt 0
assert_exit 0 nd put "$T/in/c2" c.bin
touch -d "@$old_mtime" "$ROOT/c.bin"
assert_eq "$old_mtime $SIZE" "$(stat -c '%.9Y %s' "$ROOT/c.bin")" \
    "the new content has the old size and mtime"
log_mark
run ndc "$PX_PORT" get c.bin "$T/out/c"
assert_eq 0 "$RC" "the get of the changed file exits 0"
check "the result is the new content (cmp)" cmp -s "$T/in/c2" "$T/out/c"
assert_eq "$(mtime_of "$ROOT/c.bin")" "$(mtime_of "$T/out/c")" \
    "LOCAL has the remote mtime"
check "no .part or .part.state left" \
    test ! -e "$T/out/c.part" -a ! -e "$T/out/c.part.state"
wait_for 5 has_new "$(xfer_re get c.bin '[0-9]+' '[0-9]+' ok)" || true
froms=$(log_new | grep -E "$(xfer_re get c.bin '[0-9]+' '[0-9]+' ok)" |
    sed 's/.* from=\([0-9]*\) .*/\1/' | paste -sd' ')
down2=$(px_down 2)
say "# 3a: kept $kept; the daemon's transfers had from=[$froms]; conn 2 moved ${down2:-?} down"
if [ "$froms" = "0" ]; then
    ok "3a: the daemon refused the range and sent the whole file (from=0)"
    check_err "3a: ...and the client starts over" "starting over"
elif [ "$froms" = "$kept 0" ]; then
    ok "3a: the stale record let the range through (from=$kept); the client re-fetched (from=0)"
    check_err "3a: ...and the client says the resumed file did not verify" \
        "the resumed file did not verify; getting all of it"
else
    not_ok "3a: unexpected transfers from=[$froms] (kept $kept)"
fi
px_stop
rm -f "$T/out/c" "$T/in/c1" "$T/in/c2"

say "# 3b. same size and mtime, a current digest record of other content"
mkrand "$T/in/d1" "$SIZE"
mkrand "$T/in/d2" "$SIZE"
touch -d "@$(stat -c %.9Y "$T/in/d1")" "$T/in/d2"
assert_exit 0 nd put "$T/in/d1" d.bin
px_start --conn 1 --cut-down $((6 * MIB)) --max-conns 2
run ndc "$PX_PORT" get d.bin "$T/out/d"
kept=$(fsize "$T/out/d.part")
check "the cut get kept a part ($kept bytes)" test "$kept" -gt 0
assert_exit 0 nd put "$T/in/d2" d.bin
assert_eq "$(mtime_of "$T/in/d1") $SIZE" "$(mtime_of "$ROOT/d.bin") $(fsize "$ROOT/d.bin")" \
    "the new content was stored with the old size and mtime"
log_mark
run ndc "$PX_PORT" get d.bin "$T/out/d"
assert_eq 0 "$RC" "the get of the changed file exits 0"
check_new "the digest differs: the daemon sent the whole file (from=0)" \
    "$(xfer_re get d.bin 0 "$SIZE" ok)"
check_err "the client says it starts over" "starting over"
check "the result is the new content (cmp)" cmp -s "$T/in/d2" "$T/out/d"
assert_eq 1 "$(new_count "op=get path=\"d.bin\"")" "one transfer only"
px_stop
rm -f "$T/out/d" "$T/in/d1" "$T/in/d2"

# ---------------------------------------------------------------------------
say "# 4. a damaged .part is fetched again in full"
px_start --conn 1 --cut-down $((9 * MIB)) --max-conns 2
run ndc "$PX_PORT" get a.bin "$T/out/e"
kept=$(fsize "$T/out/e.part")
check "the cut get kept a part ($kept bytes)" test "$kept" -gt $((4 * MIB))
before=$(md5_of "$T/out/e.part")
flip "$T/out/e.part" $((kept / 2))
check "one byte of the part was flipped" \
    test "$before" != "$(md5_of "$T/out/e.part")" -a "$(fsize "$T/out/e.part")" -eq "$kept"
log_mark
run ndc "$PX_PORT" get a.bin "$T/out/e"
assert_eq 0 "$RC" "the get with a damaged part exits 0"
check_err "the client says the resumed file did not verify" \
    "the resumed file did not verify; getting all of it"
check "the result is byte-identical (cmp)" cmp -s "$T/in/a" "$T/out/e"
assert_eq "$a_md5" "$(md5_of "$T/out/e")" "...and has the md5"
check_new "the daemon first sent the rest (from=$kept)" \
    "$(xfer_re get a.bin "$kept" $((SIZE - kept)) ok)"
check_new "...then the whole file (from=0 bytes=$SIZE)" \
    "$(xfer_re get a.bin 0 "$SIZE" ok)"
check "no .part or .part.state left" \
    test ! -e "$T/out/e.part" -a ! -e "$T/out/e.part.state"
px_stop
rm -f "$T/out/e"

# ---------------------------------------------------------------------------
say "# 5. the client killed by SIGINT mid-get"
px_start --conn 1 --split 16384 --delay-ms 4 --max-conns 2
timeout -k 5 60 "$ND_BIN/netdisk" -H 127.0.0.1 -p "$PX_PORT" get a.bin \
    "$T/out/f" >"$T/f.out" 2>"$T/f.err" &
tpid=$!
# A function, so that wait_for runs pgrep again on every try.
client_up() { [ -n "$(pgrep -P "$tpid")" ]; }
wait_for 10 client_up || fail "the client did not start"
cpid=$(pgrep -P "$tpid" | head -n 1)
sigign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$cpid/status")
check "SIGINT is not ignored by the client ($sigign)" \
    test $((0x${sigign:-0} & 2)) -eq 0
part_big() { [ "$(fsize "$T/out/f.part")" -ge $((2 * MIB)) ]; }
if wait_for 30 part_big; then
    kill -INT "$cpid"
else
    not_ok "the slow get's .part never reached 2 MiB"
fi
wait_for 10 nd_dead "$tpid" || not_ok "the client did not end within 10 s of SIGINT"
frc=0
wait "$tpid" || frc=$?
check "the client killed by SIGINT exited non-zero ($frc)" test "$frc" -ne 0
kept=$(fsize "$T/out/f.part")
check "SIGINT: .part ($kept bytes) and .part.state are kept" \
    test -f "$T/out/f.part" -a -f "$T/out/f.part.state" -a "$kept" -gt 0
check "SIGINT: the get stopped mid-file" test "$kept" -lt "$SIZE"
check "SIGINT: the client said how to go on" \
    grep -q "interrupted; the same command resumes the transfer" "$T/f.err"
l1=$(px_line 1)
say "# SIGINT: kept $kept; proxy: $l1"
log_mark
run ndc "$PX_PORT" get a.bin "$T/out/f"
assert_eq 0 "$RC" "SIGINT: the same get again exits 0"
check_err "SIGINT: the client says it resumes" "resuming after"
check "SIGINT: the resumed file is byte-identical (cmp)" cmp -s "$T/in/a" "$T/out/f"
check_new "SIGINT: the daemon logged from=$kept" \
    "$(xfer_re get a.bin "$kept" $((SIZE - kept)) ok)"
down2=$(px_down 2)
check "SIGINT: the second connection moved only the rest (${down2:-none} < $((SIZE - kept + 4096)))" \
    test "${down2:-999999999999}" -lt $((SIZE - kept + 4096))
check "SIGINT: no .part or .part.state left" \
    test ! -e "$T/out/f.part" -a ! -e "$T/out/f.part.state"
px_stop
rm -f "$T/out/f" "$T/out/a".*

# ---------------------------------------------------------------------------
say "# 6. put cut at several offsets, resumed by the same put"
mkrand "$T/in/p" "$SIZE"
px_start --conn 0 --max-conns 1
run ndc "$PX_PORT" put "$T/in/p" p.bin
assert_eq 0 "$RC" "an uncut put through the proxy exits 0"
full_up=$(px_up 1)
px_stop
[ -n "$full_up" ] || fail "the proxy logged no line for the uncut put"
hdr_up=$((full_up - SIZE - TRAILER))
check_no_ls() { ! grep -q 'netdisk' "$ND_OUT"; }
say "# an uncut put of p.bin moves $full_up bytes up: $hdr_up before the file"
rm -f "$ROOT/p.bin"

for cut in $((1 * MIB)) $((13 * MIB)); do
    px_start --conn 1 --cut-up "$cut" --max-conns 2
    log_mark
    run ndc "$PX_PORT" put "$T/in/p" p.bin
    check "put cut $cut: the interrupted put exits non-zero ($RC)" test "$RC" -ne 0
    assert_eq "conn 1 up $cut end cut-up" \
        "$(px_line 1 | awk '{print $1, $2, $3, $4, $7, $8}')" \
        "put cut $cut: the proxy cut connection 1 after exactly $cut bytes up"
    check_new "put cut $cut: the daemon kept the partial for a resume" \
        'op=put path="p\.bin" .*result="connection lost; partial kept for resume'
    pfiles=$(partials)
    assert_eq 1 "$(printf '%s' "$pfiles" | grep -c .)" \
        "put cut $cut: one file in .netdisk-partial"
    pfile=$(printf '%s\n' "$pfiles" | head -n 1)
    psize=$(fsize "$pfile")
    check "put cut $cut: the partial ($psize) is at most the bytes cut" \
        test "$psize" -le "$cut" -a "$psize" -gt 0
    assert_eq $((cut - hdr_up)) "$psize" \
        "put cut $cut: every file byte that arrived was kept"
    check "put cut $cut: the partial's name is 32 hex digits" \
        test -n "$(basename "$pfile" | grep -xE '[0-9a-f]{32}')"
    check "put cut $cut: nothing is stored as p.bin yet" test ! -e "$ROOT/p.bin"
    assert_exit 0 nd ls
    check "put cut $cut: ls does not show the partial directory" check_no_ls
    assert_exit 0 nd ls -R
    check "put cut $cut: ls -R does not show it either" check_no_ls
    log_mark
    if [ "$cut" -gt "$MIB" ] && command -v strace >/dev/null 2>&1; then
        # READY leaves before the daemon hashes the kept part (preads of
        # 1 MiB), so the client hashes its own part meanwhile, not after.
        nd_strace_pool "$T/put.trace" run ndc "$PX_PORT" put "$T/in/p" p.bin
        ready=$(grep -n 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\21\\0\\0' "$T/put.trace" |
            head -n 1 | cut -d: -f1)
        hashed=$(grep -n 'pread64([0-9]*, .*, 1048576, 0)' "$T/put.trace" |
            head -n 1 | cut -d: -f1)
        check "put cut $cut: READY went out (line ${ready:-none}) before the kept part was hashed (line ${hashed:-none})" \
            test -n "$ready" -a -n "$hashed" -a "${ready:-0}" -lt "${hashed:-0}"
    else
        run ndc "$PX_PORT" put "$T/in/p" p.bin
    fi
    assert_eq 0 "$RC" "put cut $cut: the same put again exits 0"
    check_err "put cut $cut: the client says it resumes" \
        "resuming: the server holds"
    check_new "put cut $cut: the daemon logged from=$psize bytes=$((SIZE - psize))" \
        "$(xfer_re put p.bin "$psize" $((SIZE - psize)) ok)"
    up2=$(px_up 2)
    say "# put cut $cut: partial $psize, the second connection moved ${up2:-?} bytes up"
    check "put cut $cut: the second connection sent only the rest (${up2:-none} < $((SIZE - psize + 4096)))" \
        test "${up2:-999999999999}" -lt $((SIZE - psize + 4096))
    check "put cut $cut: the stored file is byte-identical (cmp)" \
        cmp -s "$T/in/p" "$ROOT/p.bin"
    assert_eq "$(md5_of "$T/in/p")" "$(md5_of "$ROOT/p.bin")" \
        "put cut $cut: ...and has the md5"
    assert_eq "$(mtime_of "$T/in/p")" "$(mtime_of "$ROOT/p.bin")" \
        "put cut $cut: the stored file has the local mtime (%Y %y)"
    check "put cut $cut: no partial or temporary file is left" nd_no_temps
    px_stop
    rm -f "$ROOT/p.bin"
done
ND_WHAT="the reserved name .netdisk-partial cannot be listed" \
    assert_exit 4 nd ls .netdisk-partial

# ---------------------------------------------------------------------------
say "# 9. concurrent resumable puts to one name"
mkrand "$T/in/s" "$SIZE"
mkrand "$T/in/s1" "$SIZE"
mkrand "$T/in/s2" "$SIZE"
touch -d "@$(stat -c %.9Y "$T/in/s1")" "$T/in/s2"
# race TAG A B: puts A and B to race.bin at once; both must end, each with
# 0 or a clean failure (an exit status with a message), at least one with
# 0, and race.bin must be A or B whole.
race() {
    local tag=$1 a=$2 b=$3 pa pb ra=0 rb=0
    nd put "$a" race.bin >"$T/ra.out" 2>"$T/ra.err" &
    pa=$!
    nd put "$b" race.bin >"$T/rb.out" 2>"$T/rb.err" &
    pb=$!
    wait "$pa" || ra=$?
    wait "$pb" || rb=$?
    if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]; then
        ok "$tag: both puts exit 0"
    elif { [ "$ra" -eq 0 ] && [ -s "$T/rb.err" ]; } ||
        { [ "$rb" -eq 0 ] && [ -s "$T/ra.err" ]; }; then
        ok "$tag: one put exits 0, the other fails cleanly ($ra/$rb: $(cat "$T/ra.err" "$T/rb.err" | head -c 200))"
    else
        not_ok "$tag: exit statuses $ra and $rb: $(cat "$T/ra.err" "$T/rb.err" | head -c 300)"
    fi
    if cmp -s "$a" "$ROOT/race.bin" || cmp -s "$b" "$ROOT/race.bin"; then
        ok "$tag: race.bin is one of the sources, whole (cmp)"
    else
        not_ok "$tag: race.bin is neither source"
    fi
    if nd_no_temps; then
        ok "$tag: no partial or temporary file is left"
    else
        not_ok "$tag: left: $(nd_temps | paste -sd' ')"
    fi
}
for i in 1 2 3 4 5; do
    race "same file, round $i" "$T/in/s" "$T/in/s"
done
for i in 1 2 3 4 5; do
    race "same size and mtime, other content, round $i" "$T/in/s1" "$T/in/s2"
done
rm -f "$T/in/s1" "$T/in/s2"

# A put that holds the partial for long: the next put of the same file
# waits about 2 s, then uploads into a fresh temporary file.
px_start --conn 1 --split 65536 --delay-ms 10 --max-conns 1
log_mark
ndc "$PX_PORT" put "$T/in/s" slow.bin >"$T/slow.out" 2>"$T/slow.err" &
spid=$!
slow_partial() { [ "$(fsize "$(partials | head -n 1)")" -gt $((2 * MIB)) ]; }
wait_for 20 slow_partial || not_ok "the slow put's partial never grew"
t0=${EPOCHREALTIME/./}
run nd put "$T/in/s" slow.bin
t1=${EPOCHREALTIME/./}
assert_eq 0 "$RC" "a put while another holds the partial exits 0"
say "# the second put took $(((t1 - t0) / 1000)) ms"
check "...after waiting for the lock (>= 1.5 s)" test $((t1 - t0)) -ge 1500000
check_new "...and uploaded the whole file (from=0)" \
    "$(xfer_re put slow.bin 0 "$SIZE" ok)"
check "...and slow.bin is byte-identical" cmp -s "$T/in/s" "$ROOT/slow.bin"
src=0
wait "$spid" || src=$?
assert_eq 0 "$src" "the slow put exits 0 too"
check "slow.bin is byte-identical after both (cmp)" cmp -s "$T/in/s" "$ROOT/slow.bin"
check "no partial or temporary file is left" nd_no_temps
px_stop
rm -f "$T/in/s"

# ---------------------------------------------------------------------------
say "# 7. put after the local mtime changed: no resume; the sweep"
mkrand "$T/in/m" "$SIZE"
px_start --conn 1 --cut-up $((5 * MIB)) --max-conns 2
log_mark
run ndc "$PX_PORT" put "$T/in/m" m.bin
check "the cut put exits non-zero ($RC)" test "$RC" -ne 0
check_new "the daemon kept the partial" \
    'op=put path="m\.bin" .*result="connection lost; partial kept for resume'
old_partial=$(partials | head -n 1)
check "the partial exists ($(fsize "$old_partial") bytes)" test -f "$old_partial"
touch -d "@$(($(stat -c %Y "$T/in/m") - 3600)).25" "$T/in/m"
log_mark
run ndc "$PX_PORT" put "$T/in/m" m.bin
assert_eq 0 "$RC" "the put after touch exits 0"
check_no_err "...and does not resume" "resuming"
check_new "...the daemon took the whole file (from=0 bytes=$SIZE)" \
    "$(xfer_re put m.bin 0 "$SIZE" ok)"
check "m.bin is byte-identical (cmp)" cmp -s "$T/in/m" "$ROOT/m.bin"
assert_eq "$(mtime_of "$T/in/m")" "$(mtime_of "$ROOT/m.bin")" \
    "m.bin has the new local mtime"
check "the old partial is still there (partial_ttl 86400)" test -f "$old_partial"
px_stop
nd_stop

nd_start 'partial_ttl = 2;'
t0=$SECONDS
check_sweep() {
    has_log 'sweep: removed [0-9]+ partial uploads? older than partial_ttl' &&
        no_partials
}
if wait_for 10 check_sweep; then
    ok "a daemon with partial_ttl = 2 swept the old partial in $((SECONDS - t0)) s"
else
    not_ok "no sweep within 10 s: $(grep sweep "$ND_LOG" | head -n 2); left: $(partials)"
fi
check "m.bin is untouched by the sweep" cmp -s "$T/in/m" "$ROOT/m.bin"
nd_stop
rm -f "$T/in/m"

# ---------------------------------------------------------------------------
say "# 8. partial_ttl = 0: nothing is kept"
# A partial left by an earlier configuration (a young one: the sweep of a
# positive ttl would keep it) goes at the start.
mkdir -p "$ROOT/.netdisk-partial"
printf 'left over\n' >"$ROOT/.netdisk-partial/00112233445566778899aabbccddeeff"
nd_start 'partial_ttl = 0;'
check "partial_ttl = 0: the partial left from before was removed at start" \
    test ! -e "$ROOT/.netdisk-partial/00112233445566778899aabbccddeeff"
check_log "...and the start-up sweep said so" \
    "sweep: removed 1 partial upload older than partial_ttl"
mkrand "$T/in/z" "$SIZE"
px_start --conn 1 --cut-up $((5 * MIB)) --max-conns 2
log_mark
run ndc "$PX_PORT" put "$T/in/z" z.bin
check "the cut put exits non-zero ($RC)" test "$RC" -ne 0
check_new "the daemon logged the lost connection" \
    'op=put path="z\.bin" from=0 .*result="connection lost'
check "...without keeping a partial" \
    test "$(new_count 'partial kept')" -eq 0
wait_for 5 nd_no_temps || true
check "no file in .netdisk-partial" no_partials
assert_no_temps "no partial or temporary file at all"
log_mark
run ndc "$PX_PORT" put "$T/in/z" z.bin
assert_eq 0 "$RC" "the same put again exits 0"
check_no_err "...and does not resume" "resuming"
check_new "...from 0 (bytes=$SIZE)" "$(xfer_re put z.bin 0 "$SIZE" ok)"
check "z.bin is byte-identical (cmp)" cmp -s "$T/in/z" "$ROOT/z.bin"
px_stop
nd_stop

# ---------------------------------------------------------------------------
say "# 10. a resumed put whose client hashes longer than idle_timeout"
# The client hashes the 32 MiB the server kept before it sends the rest;
# the proxy holds its first body byte for 4 s, twice idle_timeout.  The
# server allows K / 8 MiB seconds more for that byte (5 s here), so the
# put completes; with idle_timeout alone it would be cut every time.
nd_start 'idle_timeout = 2;'
mkrand "$T/in/w" $((40 * MIB))
px_start --conn 1 --cut-up $((32 * MIB)) --max-conns 1
log_mark
run ndc "$PX_PORT" put "$T/in/w" w.bin
px_stop
# Measured once the daemon is done with the cut connection.
check_new "slow client: the daemon kept the partial" \
    'op=put path="w\.bin" .*result="connection lost; partial kept for resume'
pfile=$(partials | head -n 1)
wkept=$(fsize "$pfile")
check "slow client: the cut put kept a partial ($wkept bytes)" \
    test "$wkept" -gt $((16 * MIB))
whdr=$((32 * MIB - wkept))
px_start --conn 1 --pause-up-at "$whdr" --pause-ms 4000 --max-conns 1
log_mark
run ndc "$PX_PORT" put "$T/in/w" w.bin
assert_eq 0 "$RC" "slow client: the resumed put, held 4 s before its first byte, exits 0"
check_new "slow client: the daemon resumed it (from=$wkept)" \
    "$(xfer_re put w.bin "$wkept" $((40 * MIB - wkept)) ok)"
check "slow client: w.bin is byte-identical (cmp)" cmp -s "$T/in/w" "$ROOT/w.bin"
px_stop
nd_stop

say "# it_resume ran for $((SECONDS - t_start)) s"
nd_done
