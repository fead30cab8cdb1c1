#!/bin/bash
# "netdiskd user": add, passwd, del and list against a users file named in
# a throw-away config, the password piped on stdin (the terminal prompt is
# not exercised here).  Checks the file's mode and records, the exit codes
# and messages of the error cases, invalid names and empty passwords.  No
# daemon is started.
# shellcheck disable=SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

# The storage root (lib.sh's $DROOT; $ROOT in older versions of lib.sh).
STORE=${DROOT:-$ROOT}
CONF=$T/users-test.conf
USERS=$T/users-test
printf 'root = "%s";\nusers_file = "%s";\n' "$STORE" "$USERS" >"$CONF"

# ndu ARGS...: netdiskd's user command with this test's config, bounded.
ndu() {
    timeout -k 2 30 "$ND_BIN/netdiskd" -c "$CONF" user "$@"
}

# The verifier recorded for NAME, or nothing.
verifier_of() {
    sed -n "s/^$1://p" "$USERS"
}

# assert_err_has TEXT: the last assert_exit's stderr contains TEXT.
assert_err_has() {
    if grep -qF -- "$1" "$ND_ERR"; then
        ok "the message says \"$1\""
    else
        not_ok "the message says \"$1\": $(cat "$ND_ERR")"
    fi
}

# add alice: the file is created, mode 0600, with her record.
ND_WHAT="user add alice (password on stdin) exits 0" \
    assert_exit 0 ndu add alice <<<'correct horse'
check "the users file exists" test -f "$USERS"
assert_eq 600 "$(stat -c %a "$USERS")" "the users file has mode 0600"
b64='[A-Za-z0-9+/=]+'
if grep -qE "^alice:SCRAM-SHA-256\\\$4096:$b64\\\$$b64:$b64\$" "$USERS"; then
    ok "alice's record is a SCRAM-SHA-256 verifier with 4096 iterations"
else
    not_ok "alice's record is a SCRAM-SHA-256 verifier: $(cat "$USERS")"
fi
assert_eq 1 "$(grep -c '^@mock:[0-9a-f]\{64\}$' "$USERS")" \
    "the file has one @mock line"
if grep -q 'correct horse' "$USERS"; then
    not_ok "the password does not appear in the file"
else
    ok "the password does not appear in the file"
fi
mock=$(grep '^@mock:' "$USERS")
v1=$(verifier_of alice)

# add alice again: exit 1, a clear message, nothing changed.
cp "$USERS" "$T/users.before"
ND_WHAT="user add alice a second time exits 1" \
    assert_exit 1 ndu add alice <<<'other'
assert_err_has "netdiskd: user alice already exists"
check "the file is unchanged" cmp -s "$USERS" "$T/users.before"

# A second user, a comment of the administrator's, then passwd.
ND_WHAT="user add bob exits 0" assert_exit 0 ndu add bob <<<'bobs password'
printf '# added by hand\n' >>"$USERS"
ND_WHAT="user passwd alice exits 0" \
    assert_exit 0 ndu passwd alice <<<'battery staple'
v2=$(verifier_of alice)
if [ -n "$v2" ] && [ "$v1" != "$v2" ]; then
    ok "passwd changed alice's verifier"
else
    not_ok "passwd changed alice's verifier ($v1 -> $v2)"
fi
assert_eq 600 "$(stat -c %a "$USERS")" "mode 0600 after passwd"
assert_eq "$mock" "$(grep '^@mock:' "$USERS")" \
    "the @mock line survives updates"
check "a comment added by hand survives passwd" grep -qx '# added by hand' \
    "$USERS"
# The same password again still makes a new verifier (a new salt).
ND_WHAT="user passwd alice with the same password exits 0" \
    assert_exit 0 ndu passwd alice <<<'battery staple'
if [ "$(verifier_of alice)" != "$v2" ]; then
    ok "every passwd picks a new salt"
else
    not_ok "every passwd picks a new salt"
fi
ND_WHAT="user passwd carol (no such user) exits 1" \
    assert_exit 1 ndu passwd carol <<<'x'
assert_err_has "netdiskd: no user carol"

# A password line may end in CRLF; a long one is refused.
ND_WHAT="user add crlf with a CRLF-ended password exits 0" \
    assert_exit 0 ndu add crlf < <(printf 'secret\r\n')
ND_WHAT="a password over 1023 bytes is refused" \
    assert_exit 1 ndu add longpw < <(head -c 1024 /dev/zero | tr '\0' x)
check "no record for longpw" test -z "$(verifier_of longpw)"

# list: names in file order, on stdout.
ND_WHAT="user list exits 0" assert_exit 0 ndu list
assert_eq "alice bob crlf" "$(tr '\n' ' ' <"$ND_OUT" | sed 's/ $//')" \
    "user list prints the names in order"

# del: the record goes, the user's files stay, and the message says so.
mkdir -p "$STORE/bob"
echo data >"$STORE/bob/file"
ND_WHAT="user del bob exits 0" assert_exit 0 ndu del bob
check "bob's record is gone" test -z "$(verifier_of bob)"
check "bob's files are left in place" test -f "$STORE/bob/file"
assert_err_has "$STORE/bob/"
assert_eq 600 "$(stat -c %a "$USERS")" "mode 0600 after del"
ND_WHAT="user del bob again exits 1" assert_exit 1 ndu del bob
assert_err_has "netdiskd: no user bob"
ND_WHAT="user list after del" assert_exit 0 ndu list
assert_eq "alice crlf" "$(tr '\n' ' ' <"$ND_OUT" | sed 's/ $//')" \
    "user list no longer shows bob"

# Empty passwords: an empty line, and nothing at all.
ND_WHAT="an empty password is refused" assert_exit 1 ndu add carol <<<''
assert_err_has "empty password"
ND_WHAT="no password at all is refused" assert_exit 1 ndu add carol </dev/null
check "no record for carol" test -z "$(verifier_of carol)"

# Invalid names are refused before anything is read or written.
cp "$USERS" "$T/users.before"
long=$(printf 'a%.0s' {1..40})
for name in "../x" "Alice" "a:b" "$long" "" "-x" "a/b" "a b" "."; do
    rc=0
    ndu add "$name" <<<'pw' >"$ND_OUT" 2>"$ND_ERR" || rc=$?
    if [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; then
        ok "user add \"$name\" is refused (exit $rc)"
    else
        not_ok "user add \"$name\" is refused (exit $rc)"
    fi
done
check "the invalid names changed nothing" cmp -s "$USERS" "$T/users.before"

# Usage errors exit 2.
ND_WHAT="user without a command exits 2" assert_exit 2 ndu
ND_WHAT="user frob exits 2" assert_exit 2 ndu frob alice
ND_WHAT="user add without a name exits 2" assert_exit 2 ndu add </dev/null
ND_WHAT="user add with two names exits 2" assert_exit 2 ndu add a b </dev/null
ND_WHAT="user list with a name exits 2" assert_exit 2 ndu list alice
ND_WHAT="a stray argument without user still exits 2" \
    assert_exit 2 timeout 10 "$ND_BIN/netdiskd" -c "$CONF" frob

# A bad config is 78, as for the daemon.
printf 'root = "%s";\nbogus = 1;\n' "$STORE" >"$T/bad.conf"
ND_WHAT="user list with a bad config exits 78" \
    assert_exit 78 timeout 10 "$ND_BIN/netdiskd" -c "$T/bad.conf" user list

# A malformed users file: the line is named, nothing is rewritten.
printf 'alice:not-a-verifier\n' >>"$USERS"
cp "$USERS" "$T/users.before"
line=$(wc -l <"$USERS")
ND_WHAT="user add on a malformed file exits 1" \
    assert_exit 1 ndu add dave <<<'pw'
assert_err_has "$USERS:$line:"
check "the malformed file was not rewritten" cmp -s "$USERS" \
    "$T/users.before"
ND_WHAT="user list on a malformed file exits 1" assert_exit 1 ndu list

# A users file in a directory that does not exist.
printf 'root = "%s";\nusers_file = "%s";\n' "$STORE" "$T/nodir/users" \
    >"$T/nodir.conf"
ND_WHAT="user add with a missing directory exits 1" \
    assert_exit 1 timeout 10 "$ND_BIN/netdiskd" -c "$T/nodir.conf" user add \
    alice <<<'pw'
ND_WHAT="user list without a users file exits 0" \
    assert_exit 0 timeout 10 "$ND_BIN/netdiskd" -c "$T/nodir.conf" user list
assert_eq "" "$(cat "$ND_OUT")" "and prints no names"

# No temporary file is ever left beside the users file.
assert_eq "" "$(find "$T" -maxdepth 1 -name '.users-test.*' -print)" \
    "no temporary file left in the directory"
nd_done
