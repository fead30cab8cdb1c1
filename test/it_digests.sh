#!/bin/bash
# Stored digests and the stat and md5 commands: a put records the MD5 in
# the user.netdisk.md5 attribute; get sends a trusted record as its trailer
# without hashing (a forged record makes the client refuse the file, which
# proves where the trailer came from), over TLS too; files that appear in
# the root by other means are hashed once and then recorded; a record whose
# size or mtime no longer matches, or a corrupt one, is ignored; stat and
# md5 output, errors, confinement and one session for several paths; a
# client that leaves ends a long hash; and a root without user extended
# attributes (ramfs, when the test runs as root) falls back to hashing.
# Oracles: md5sum, cmp, the attribute read with python3, exit codes and the
# daemon's debug "digest" lines.
# shellcheck disable=SC2016,SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# The attribute, read and written with python3 (getfattr may be missing).
have_py=0
if command -v python3 >/dev/null 2>&1; then
    have_py=1
fi

# rec FILE: prints "MD5HEX SIZE SEC NSEC" of FILE's record, or "none" /
# "corrupt" / "unsupported".
rec() {
    python3 - "$1" <<'EOF'
import errno, os, sys
try:
    v = os.getxattr(sys.argv[1], "user.netdisk.md5")
except OSError as e:
    print("none" if e.errno == errno.ENODATA else "unsupported")
    sys.exit(0)
if len(v) != 37 or v[0] != 1:
    print("corrupt")
else:
    print(v[1:17].hex(), int.from_bytes(v[17:25], "big"),
          int.from_bytes(v[25:33], "big", signed=True),
          int.from_bytes(v[33:37], "big"))
EOF
}

# rec_ok FILE: the record exists and names FILE's md5, size and mtime now.
rec_ok() {
    local want
    want="$(md5_of "$1") $(stat -c %s "$1") $(python3 -c '
import os, sys
t = os.stat(sys.argv[1]).st_mtime_ns
print(t // 10**9, t % 10**9)' "$1")"
    [ "$(rec "$1")" = "$want" ]
}

# forge FILE HEX: writes a well-formed record with digest HEX and FILE's
# current size and mtime, as if the daemon had stored it.
forge() {
    python3 - "$1" "$2" <<'EOF'
import os, sys
p, md5 = sys.argv[1], bytes.fromhex(sys.argv[2])
st = os.stat(p)
t = st.st_mtime_ns
os.setxattr(p, "user.netdisk.md5", bytes([1]) + md5 +
            st.st_size.to_bytes(8, "big") +
            (t // 10**9).to_bytes(8, "big", signed=True) +
            (t % 10**9).to_bytes(4, "big"))
EOF
}

# digest_line PATH: the last debug "digest" line the daemon logged for PATH.
digest_line() {
    grep "digest peer=[^ ]* path=\"$1\" " "$ND_LOG" | tail -n 1
}

nd_start
mkdir "$T/in" "$T/copy"

if [ "$have_py" -eq 1 ] && [ "$(rec "$ROOT")" = unsupported ]; then
    say "# $ROOT has no user extended attributes: nothing to test here"
    nd_stop
    nd_done
fi

# 1. put records the digest beside the bytes.
mkrand "$T/in/f" 100000
assert_exit 0 nd put "$T/in/f" f
if [ "$have_py" -eq 1 ]; then
    check "put stored user.netdisk.md5 = md5, size and mtime of \$ROOT/f" \
        rec_ok "$ROOT/f"
fi
assert_no_temps

# 2. md5 prints md5sum's format; md5sum -c accepts it against a local copy.
assert_exit 0 nd md5 f
assert_eq "$(md5_of "$T/in/f")  f" "$(cat "$ND_OUT")" \
    "netdisk md5 f prints '<md5>  f', as md5sum does"
cp "$T/in/f" "$T/copy/f"
if (cd "$T/copy" && nd md5 f | md5sum -c --status); then
    ok "netdisk md5 f | md5sum -c passes against a local copy"
else
    not_ok "netdisk md5 f | md5sum -c passes against a local copy"
fi
printf 'x' >"$T/copy/f"
if (cd "$T/copy" && nd md5 f | md5sum -c --status 2>/dev/null); then
    not_ok "...and fails against a different local file"
else
    ok "...and fails against a different local file"
fi

# 3. get of a recorded file: the trailer is the record, nothing is hashed.
assert_exit 0 nd get f "$T/out.f"
check "get f is byte-identical" cmp -s "$T/in/f" "$T/out.f"
case "$(digest_line f)" in
*" from=record "*) ok "the daemon logged that get f used the record" ;;
*) not_ok "the daemon logged that get f used the record: $(digest_line f)" ;;
esac

# 4. A file placed into the root directly: hashed once, then recorded.
mkrand "$ROOT/direct1" 70000
mkrand "$ROOT/direct2" 80000
if [ "$have_py" -eq 1 ]; then
    assert_eq none "$(rec "$ROOT/direct1")" "a file copied in has no record"
fi
assert_exit 0 nd md5 direct1
assert_eq "$(md5_of "$ROOT/direct1")  direct1" "$(cat "$ND_OUT")" \
    "md5 of a file copied in is right"
case "$(digest_line direct1)" in
*" from=hash had=none stored=yes"*)
    ok "...it was hashed (no record) and the record stored" ;;
*) not_ok "...it was hashed and the record stored: $(digest_line direct1)" ;;
esac
if [ "$have_py" -eq 1 ]; then
    check "...and \$ROOT/direct1 now has a correct record" \
        rec_ok "$ROOT/direct1"
fi
assert_exit 0 nd md5 direct1
case "$(digest_line direct1)" in
*" from=record "*) ok "a second md5 of it uses the record" ;;
*) not_ok "a second md5 of it uses the record: $(digest_line direct1)" ;;
esac
assert_exit 0 nd get direct2 "$T/out.d2"
check "get of a file copied in is byte-identical" \
    cmp -s "$ROOT/direct2" "$T/out.d2"
case "$(digest_line direct2)" in
*" from=hash had=none stored=yes"*)
    ok "...it was hashed while sent and the record stored" ;;
*) not_ok "...hashed while sent and recorded: $(digest_line direct2)" ;;
esac
if [ "$have_py" -eq 1 ]; then
    check "...and \$ROOT/direct2 now has a correct record" \
        rec_ok "$ROOT/direct2"
fi
assert_exit 0 nd get direct2 "$T/out.d2"
case "$(digest_line direct2)" in
*" from=record "*) ok "the next get of it uses the record" ;;
*) not_ok "the next get of it uses the record: $(digest_line direct2)" ;;
esac

# 5. Changed in place, same size, new content and mtime: the stale record
# is not trusted; get and md5 report the new digest.
old=$(md5_of "$ROOT/f")
mkrand "$T/in/f2" 100000
dd if="$T/in/f2" of="$ROOT/f" conv=notrunc status=none
assert_eq 100000 "$(stat -c %s "$ROOT/f")" "the rewritten file kept its size"
check "...and its content changed" test "$old" != "$(md5_of "$ROOT/f")"
assert_exit 0 nd get f "$T/out.f"
check "get after an in-place change returns the new bytes" \
    cmp -s "$T/in/f2" "$T/out.f"
case "$(digest_line f)" in
*" from=hash had=stale "*) ok "...the stale record was not trusted" ;;
*) not_ok "...the stale record was not trusted: $(digest_line f)" ;;
esac
assert_exit 0 nd md5 f
assert_eq "$(md5_of "$T/in/f2")  f" "$(cat "$ND_OUT")" \
    "md5 after the in-place change reports the new digest"
# Same again, with only the mtime telling: same size, content rewritten
# and the mtime set one second forward by hand.
mkrand "$T/in/f3" 100000
cp "$T/in/f3" "$T/f3.new"
dd if="$T/f3.new" of="$ROOT/f" conv=notrunc status=none
touch -m -d "@$(($(stat -c %Y "$ROOT/f") + 1))" "$ROOT/f"
assert_exit 0 nd md5 f
assert_eq "$(md5_of "$T/in/f3")  f" "$(cat "$ND_OUT")" \
    "md5 after a rewrite and a new mtime reports the new digest"

# 6. A forged record (wrong md5, matching size and mtime) is trusted: the
# client refuses the download (exit 5), so the trailer came from the
# record, and the daemon did not hash.
if [ "$have_py" -eq 1 ]; then
    mkrand "$ROOT/forged" 50000
    forge "$ROOT/forged" 0123456789abcdef0123456789abcdef
    ND_WHAT="get of a file with a forged record exits 5 (digest mismatch)" \
        assert_exit 5 nd get forged "$T/out.forged"
    check "...and kept nothing" \
        test ! -e "$T/out.forged" -a ! -e "$T/out.forged.part"
    case "$(digest_line forged)" in
    *" from=record "*) ok "...the daemon sent the record without hashing" ;;
    *) not_ok "...sent the record without hashing: $(digest_line forged)" ;;
    esac
    assert_exit 0 nd md5 forged
    assert_eq "0123456789abcdef0123456789abcdef  forged" "$(cat "$ND_OUT")" \
        "md5 reports the record as stored"
    # A corrupt record is ignored and replaced.
    python3 -c 'import os, sys
os.setxattr(sys.argv[1], "user.netdisk.md5", b"\1junk")' "$ROOT/forged"
    assert_exit 0 nd get forged "$T/out.forged"
    check "with a corrupt record get hashes and succeeds" \
        cmp -s "$ROOT/forged" "$T/out.forged"
    case "$(digest_line forged)" in
    *" from=hash had=corrupt stored=yes"*) ok "...and replaced the record" ;;
    *) not_ok "...and replaced the record: $(digest_line forged)" ;;
    esac
    check "...which is now correct" rec_ok "$ROOT/forged"
fi

# 7. stat: one line per path; directories have no digest.
mkdir -p "$ROOT/dir/sub"
assert_exit 0 nd stat f dir
mt=$(date -u -d "@$(stat -c %Y "$ROOT/f")" +%Y-%m-%dT%H:%M:%SZ)
assert_eq "$(printf 'f %12d %s %s f' 100000 "$mt" "$(md5_of "$ROOT/f")")" \
    "$(sed -n 1p "$ND_OUT")" \
    "stat line of a file: type, size in 12 columns, mtime (UTC), md5, name"
mt=$(date -u -d "@$(stat -c %Y "$ROOT/dir")" +%Y-%m-%dT%H:%M:%SZ)
assert_eq "$(printf 'd %12d %s - dir' "$(stat -c %s "$ROOT/dir")" "$mt")" \
    "$(sed -n 2p "$ND_OUT")" "stat line of a directory has '-' for md5"
assert_exit 0 nd stat "" dir/
check "stat \"\" shows the root as '.' and dir/ is allowed" \
    grep -Eq '^d +[0-9]+ [0-9TZ:-]+ - \.$' "$ND_OUT"
ND_WHAT="md5 of a directory exits 4" assert_exit 4 nd md5 dir
check "...with a one-line message" grep -q 'md5 "dir": Is a directory' "$ND_ERR"

# 8. Errors for one path do not stop the others; one session for all.
mkrand "$T/in/g" 3000
assert_exit 0 nd put "$T/in/g" g
logins=$(grep -c 'login peer=.* result=ok' "$ND_LOG")
ND_WHAT="md5 f nosuch g dir exits 4" assert_exit 4 nd md5 f nosuch g dir
assert_eq "$(md5_of "$ROOT/f")  f|$(md5_of "$T/in/g")  g" \
    "$(paste -sd'|' "$ND_OUT")" "...and still prints f and g"
check "...with a message naming the missing path" \
    grep -q 'md5 "nosuch": server: .*(NOENT)' "$ND_ERR"
assert_eq 2 "$(wc -l <"$ND_ERR")" "...one line for each failing path"
assert_eq $((logins + 1)) "$(grep -c 'login peer=.* result=ok' "$ND_LOG")" \
    "four paths used one session (one login)"
assert_exit 0 nd stat f g dir
assert_eq 3 "$(wc -l <"$ND_OUT")" "stat of three paths prints three lines"
assert_eq $((logins + 2)) "$(grep -c 'login peer=.* result=ok' "$ND_LOG")" \
    "...over one session"
ND_WHAT="stat of a missing path exits 4" assert_exit 4 nd stat no/such
ND_WHAT="md5 without REMOTE is a usage error" assert_exit 2 nd md5
ND_WHAT="stat without REMOTE is a usage error" assert_exit 2 nd stat

# 9. Confinement: reserved names, escapes and symlinks out are refused.
touch "$ROOT/.netdisk-planted"
ln -s "$T/in/f" "$ROOT/escape"
ln -s f "$ROOT/inside"
for p in .netdisk-planted ../tester/f escape /f a//b f/; do
    ND_WHAT="stat \"$p\" is refused (exit 4)" assert_exit 4 nd stat "$p"
done
rm -f "$ROOT/.netdisk-planted"
assert_exit 0 nd md5 inside
assert_eq "$(md5_of "$ROOT/f")  inside" "$(cat "$ND_OUT")" \
    "md5 follows a symlink that stays inside, as get does"

# 10. Names md5sum escapes are escaped the same way.
printf 'back\\slash' >"$T/in/bs"
assert_exit 0 nd put "$T/in/bs" 'a\b'
cp "$T/in/bs" "$T/copy/a\\b"
assert_exit 0 nd md5 'a\b'
assert_eq "$(cd "$T/copy" && md5sum 'a\b')" "$(cat "$ND_OUT")" \
    "md5 escapes a backslash in a name exactly as md5sum does"
if (cd "$T/copy" && nd md5 'a\b' | md5sum -c --status); then
    ok "...and md5sum -c reads it back"
else
    not_ok "...and md5sum -c reads it back"
fi

# 11. A client that gives up during a long hash ends it: the worker sees
# the connection gone between chunks (a sparse 64 GiB file takes minutes).
truncate -s 64G "$ROOT/sparse"
timeout 1 "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" md5 sparse \
    >/dev/null 2>&1 || true
if wait_for 10 grep -q 'op=stat path="sparse" .*hash failed' "$ND_LOG"; then
    ok "a hash for a client that went away stops early"
else
    not_ok "a hash for a client that went away stops early"
fi
rm -f "$ROOT/sparse"

assert_no_temps
nd_roundtrip digests
nd_stop

# 12. Over TLS the bytes pass through user space (unless kernel TLS is on),
# but a trusted record still spares the hash.
if command -v openssl >/dev/null 2>&1 && [ "$have_py" -eq 1 ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext subjectAltName=IP:127.0.0.1 >"$T/openssl.log" 2>&1 ||
        fail "openssl req: $(cat "$T/openssl.log")"
    nd_start 'tls = "required";' "tls_cert = \"$T/cert.pem\";" \
        "tls_key = \"$T/key.pem\";"
    mkrand "$ROOT/tls-direct" 300000
    mkrand "$ROOT/tls-forged" 300000
    forge "$ROOT/tls-forged" fedcba9876543210fedcba9876543210
    for i in 1 2; do
        ND_WHAT="TLS get $i of a file copied in" \
            assert_exit 0 nd --tls --insecure get tls-direct "$T/out.tls"
        check "...is byte-identical" cmp -s "$ROOT/tls-direct" "$T/out.tls"
    done
    case "$(digest_line tls-direct)" in
    *" from=record "*) ok "...and the second TLS get used the record" ;;
    *) not_ok "...the second TLS get used the record:" \
        "$(digest_line tls-direct)" ;;
    esac
    ND_WHAT="TLS get of a file with a forged record exits 5" \
        assert_exit 5 nd --tls --insecure get tls-forged "$T/out.tlsf"
    grep -o 'kernel TLS send [a-z]*' "$ND_LOG" | tail -n 1 | sed 's/^/# /'
    nd_stop
fi

# 13. A root without user extended attributes (ramfs, mounted in a private
# mount namespace that only the daemon sees): a warning at start, and every
# download and md5 is hashed, correctly.
if [ "$(id -u)" -eq 0 ] && unshare -m --propagation private \
    sh -c 'mount -t ramfs none "$0"' "$T" 2>/dev/null; then
    mkdir "$T/ramroot"
    sed "s|^root = .*|root = \"$T/ramroot\";|" "$T/netdiskd.conf" >"$T/ram.conf"
    ND_LOG=$T/daemon.ram.log
    nd_launch "$T/ram.conf" unshare -m --propagation private \
        sh -c 'mount -t ramfs -o mode=0700 none "$0" && exec "$@"' "$T/ramroot"
    check "the daemon warns that the root has no user extended attributes" \
        grep -q 'no user extended attributes' "$ND_LOG"
    assert_exit 0 nd put "$T/in/g" g
    case "$(digest_line g)" in
    *' from=upload had=none stored="no: Operation not supported"'*)
        ok "put on ramfs could not record the digest, and said why" ;;
    *) not_ok "put on ramfs could not record the digest: $(digest_line g)" ;;
    esac
    for i in 1 2; do
        assert_exit 0 nd get g "$T/out.g"
        check "...get $i is byte-identical" cmp -s "$T/in/g" "$T/out.g"
        case "$(digest_line g)" in
        *" from=hash had=unsupported "*) ok "...and was hashed" ;;
        *) not_ok "...and was hashed: $(digest_line g)" ;;
        esac
    done
    assert_exit 0 nd md5 g
    assert_eq "$(md5_of "$T/in/g")  g" "$(cat "$ND_OUT")" \
        "md5 on ramfs is right"
    nd_stop
else
    say "# skipped the ramfs root: needs root and unshare -m"
fi
nd_done
