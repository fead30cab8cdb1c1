#!/bin/bash
# Logins (SCRAM-SHA-256): a round trip as a logged-in user; wrong password,
# unknown user and a malformed proof all fail the same way (exit 6, one
# line, nothing stored); an unknown user's CHALLENGE looks like a real one;
# requests before the login are refused; users cannot reach each other's
# files; failures from one address lead to a ban that expires; password
# sources; max_per_ip; accounts added, changed and removed while the daemon
# runs.  Oracles: md5sum, cmp, exit codes, stderr lines and the daemon log.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

mkdir "$T/in" "$T/out"
PEER='peer=127\.0\.0\.1:[0-9][0-9]*'

# lacks -F|-E PATTERN FILE: FILE has no line matching PATTERN.
lacks() { ! grep -q "$1" -- "$2" "$3"; }

# one_line WHAT: the last command's stderr ($ND_ERR) is exactly one line.
one_line() {
    local n
    n=$(wc -l <"$ND_ERR")
    if [ "$n" -eq 1 ]; then
        ok "$1: exactly one line on stderr ($(cat "$ND_ERR"))"
    else
        not_ok "$1: $n lines on stderr"
        sed 's/^/#   stderr: /' "$ND_ERR" | head -n 5
    fi
}

# as USER PASSWORD ARGS...: the client logged in as USER.
as() {
    local user=$1 pw=$2
    shift 2
    NETDISK_USER=$user NETDISK_PASSWORD=$pw nd "$@"
}

# tree DIR: every name under DIR with its type, size and md5, sorted (an
# empty line for a missing DIR).
tree() {
    [ -d "$1" ] || return 0
    (cd "$1" && find . -printf '%y %s %p\n' | sort &&
        find . -type f -exec md5sum {} + | sort -k2)
}

# salt_of CHALLENGE / iter_of CHALLENGE: the s= and i= attributes.
salt_of() { printf '%s\n' "$1" | tr ',' '\n' | sed -n 's/^s=//p'; }
iter_of() { printf '%s\n' "$1" | tr ',' '\n' | sed -n 's/^i=//p'; }

# The failures below add up (a success does not clear them): keep this
# daemon from banning; the ban has a daemon of its own further down.
nd_start 'login_ban_after = 100;'

# ---- A logged-in round trip ------------------------------------------------
mkrand "$T/in/a" $((200 * 1024 + 3))
assert_exit 0 nd put "$T/in/a" docs/a.bin
rm -f "$T/out/a"
assert_exit 0 nd get docs/a.bin "$T/out/a"
assert_eq "$(md5_of "$T/in/a")" "$(md5_of "$T/out/a")" \
    "login round trip: the downloaded copy has the uploaded md5"
check "...and the stored copy is in the user's own directory \$DROOT/$ND_USER" \
    cmp -s "$T/in/a" "$ROOT/docs/a.bin"
assert_exit 0 nd ls docs
if grep -Eq "^f +$((200 * 1024 + 3)) [0-9TZ:-]+ a\.bin\$" "$ND_OUT"; then
    ok "ls after the login lists the uploaded file"
else
    not_ok "ls after the login lists the uploaded file: $(cat "$ND_OUT")"
fi
check_log "the daemon logs the successful login with the peer" \
    "login $PEER user=\"$ND_USER\" result=ok"

# ---- Wrong password ------------------------------------------------------
mkrand "$T/in/w" 5000
NETDISK_PASSWORD="wrong-$ND_PASSWORD" ND_WHAT="wrong password: exit 6" \
    assert_exit 6 nd put "$T/in/w" wrong.bin
one_line "wrong password"
cp "$ND_ERR" "$T/wrong.err"
check "wrong password: stderr says the authentication failed" \
    grep -qi 'authentication failed' "$T/wrong.err"
check "wrong password: nothing was stored" \
    test -z "$(find "$DROOT" -name 'wrong.bin*' -print)"
check_log "the daemon logs the wrong password with the peer and the count" \
    "login failed $PEER user=\"$ND_USER\" reason=\"wrong password\" failures=1"
check "the password itself is not in the daemon log" \
    lacks -F "$ND_PASSWORD" "$ND_LOG"

# ---- Unknown user --------------------------------------------------------
NETDISK_USER=nosuchuser ND_WHAT="unknown user: exit 6" \
    assert_exit 6 nd put "$T/in/w" wrong.bin
one_line "unknown user"
assert_eq "$(sed "s/$ND_USER/USER/g" "$T/wrong.err")" \
    "$(sed 's/nosuchuser/USER/g' "$ND_ERR")" \
    "unknown user: stderr is the wrong password's, user name aside"
check "unknown user: nothing was stored" \
    test -z "$(find "$DROOT" -name 'wrong.bin*' -print)"
check "unknown user: no directory was made for it" test ! -e "$DROOT/nosuchuser"
check_log "the daemon logs the unknown user with the peer" \
    "login failed $PEER user=\"nosuchuser\" reason=\"unknown user\" failures=2"

# A successful login resets the count (so the 5 allowed by default are not
# reached by the cases below).
assert_exit 0 nd ls

# ---- The CHALLENGE an unknown user gets looks like a real one -------------
raw "challenge for $ND_USER" challenge "$ND_USER"
real=$(head -n 1 "$T/raw.out")
raw "challenge for nosuchuser" challenge nosuchuser
fake1=$(head -n 1 "$T/raw.out")
raw "challenge for nosuchuser again" challenge nosuchuser
fake2=$(head -n 1 "$T/raw.out")
raw "challenge for otherunknown" challenge otherunknown
fake3=$(head -n 1 "$T/raw.out")
raw "challenge for $ND_USER again" challenge "$ND_USER"
real2=$(head -n 1 "$T/raw.out")
say "# real: $real"
say "# fake: $fake1"
stored_salt=$(sed -n "s/^$ND_USER:SCRAM-SHA-256\\\$[0-9]*:\\([^\$]*\\)\\\$.*/\\1/p" "$ND_USERS")
stored_iter=$(sed -n "s/^$ND_USER:SCRAM-SHA-256\\\$\\([0-9]*\\):.*/\\1/p" "$ND_USERS")
assert_eq "$stored_salt" "$(salt_of "$real")" \
    "a real user's CHALLENGE carries the salt of its verifier in the users file"
assert_eq "$stored_iter" "$(iter_of "$real")" \
    "a real user's CHALLENGE carries its verifier's iteration count"
assert_eq "$(iter_of "$real")" "$(iter_of "$fake1")" \
    "an unknown user's CHALLENGE has the same i= as a real user's"
assert_eq "${#stored_salt}" "$(salt_of "$fake1" | tr -d '\n' | wc -c)" \
    "an unknown user's salt has the real salt's length (${#stored_salt} base64 chars)"
assert_eq 24 "$(salt_of "$fake1" | tr -d '\n' | wc -c)" \
    "an unknown user's salt is 16 bytes (24 base64 chars)"
assert_eq "$(salt_of "$fake1")" "$(salt_of "$fake2")" \
    "an unknown user's salt is the same on every attempt"
check "two unknown users get different salts" \
    test "$(salt_of "$fake1")" != "$(salt_of "$fake3")"
assert_eq "$(salt_of "$real")" "$(salt_of "$real2")" \
    "a real user's salt is the same on every attempt"
assert_eq "$(printf '%s' "$real" | tr ',' '\n' | cut -c1-2 | paste -sd,)" \
    "$(printf '%s' "$fake1" | tr ',' '\n' | cut -c1-2 | paste -sd,)" \
    "the two CHALLENGEs have the same attributes in the same order"
check "the server nonces differ between attempts" \
    test "${fake1%%,*}" != "${fake2%%,*}"

# ---- Requests before the login; a malformed PROOF -------------------------
raw "GET after HELLO without a login: ERROR AUTH, then a close" nologin
check "...and its message is \"log in first\"" grep -q '"log in first"' "$T/raw.out"
NETDISK_USER='' NETDISK_PASSWORD='' raw \
    "before the login a frame over 4096 bytes: ERROR TOOBIG, then a close" \
    bigframe 4097
check_log "the daemon logs the request before the login" \
    "$PEER sent GET before logging in"
raw "a malformed PROOF for a real user: ERROR AUTH, then a close" badproof "$ND_USER"
check "...with the same message as a wrong password" \
    grep -q '"authentication failed"' "$T/raw.out"
check_log "the daemon logs the malformed proof" \
    "login failed $PEER user=\"$ND_USER\" reason=\"malformed proof\" failures=3"
nd_roundtrip "after the refused logins"

# ---- Users cannot reach each other's files --------------------------------
alice_pw="pa-$RANDOM-$RANDOM"
bob_pw="pb-$RANDOM-$RANDOM"
nd_user_add alice "$alice_pw"
nd_user_add bob "$bob_pw"
mkrand "$T/in/secret" 77777
secret_md5=$(md5_of "$T/in/secret")
ND_WHAT="alice puts f" assert_exit 0 as alice "$alice_pw" put "$T/in/secret" f
check "alice's file is on disk under \$DROOT/alice/" \
    cmp -s "$T/in/secret" "$DROOT/alice/f"
ND_WHAT="bob can log in" assert_exit 0 as bob "$bob_pw" ls
check "bob's ls does not show alice's f" \
    lacks -E ' f$' "$ND_OUT"
check "bob's ls does not show $ND_USER's docs either" \
    lacks -E ' docs$' "$ND_OUT"
bob_before=$(tree "$DROOT/bob")
ND_WHAT="bob's get of f fails (exit 4)" \
    assert_exit 4 as bob "$bob_pw" get f "$T/out/bob-f"
check "...with NOENT" grep -q 'NOENT' "$ND_ERR"
ND_WHAT="bob's get of ../alice/f is refused (exit 4)" \
    assert_exit 4 as bob "$bob_pw" get "../alice/f" "$T/out/bob-f"
check "...with ACCESS" grep -q 'ACCESS' "$ND_ERR"
ND_WHAT="bob's ls of ../alice is refused (exit 4)" \
    assert_exit 4 as bob "$bob_pw" ls "../alice"
ND_WHAT="bob's put to ../alice/f is refused (exit 4)" \
    assert_exit 4 as bob "$bob_pw" put "$T/in/a" "../alice/f"
check "bob got no local copy" test ! -e "$T/out/bob-f" -a ! -e "$T/out/bob-f.part"
assert_eq "$bob_before" "$(tree "$DROOT/bob")" \
    "nothing under \$DROOT/bob changed"
assert_eq "$secret_md5" "$(md5_of "$DROOT/alice/f")" \
    "alice's f is unchanged (md5sum)"
ND_WHAT="bob puts his own f" assert_exit 0 as bob "$bob_pw" put "$T/in/a" f
check "bob's f is under \$DROOT/bob/" cmp -s "$T/in/a" "$DROOT/bob/f"
assert_eq "$secret_md5" "$(md5_of "$DROOT/alice/f")" \
    "alice's f is still unchanged after bob's put of the same name"
rm -f "$T/out/af"
ND_WHAT="alice gets her own f back" \
    assert_exit 0 as alice "$alice_pw" get f "$T/out/af"
assert_eq "$secret_md5" "$(md5_of "$T/out/af")" \
    "...with her own bytes (md5sum)"
ND_WHAT="alice with bob's password: exit 6" \
    assert_exit 6 as alice "$bob_pw" ls
assert_exit 0 nd ls

# ---- Accounts change while the daemon runs ---------------------------------
carol_pw="pc-$RANDOM-$RANDOM"
ND_WHAT="carol cannot log in before her account exists (exit 6)" \
    assert_exit 6 as carol "$carol_pw" ls
nd_user_add carol "$carol_pw"
ND_WHAT="carol, added while the daemon runs, logs in at once" \
    assert_exit 0 as carol "$carol_pw" put "$T/in/a" c.bin
check "...and her file is under \$DROOT/carol/" cmp -s "$T/in/a" "$DROOT/carol/c.bin"
new_pw="pn-$RANDOM-$RANDOM"
if printf '%s\n' "$new_pw" |
    "$ND_BIN/netdiskd" -c "$ND_CONF" user passwd carol >/dev/null 2>"$T/cli.err"; then
    ND_WHAT="after 'user passwd' the old password fails at once (exit 6)" \
        assert_exit 6 as carol "$carol_pw" ls
    ND_WHAT="...and the new one works" assert_exit 0 as carol "$new_pw" ls
else
    not_ok "netdiskd user passwd carol: $(cat "$T/cli.err")"
fi
if "$ND_BIN/netdiskd" -c "$ND_CONF" user del carol >/dev/null 2>"$T/cli.err" </dev/null; then
    ND_WHAT="after 'user del' carol cannot log in (exit 6)" \
        assert_exit 6 as carol "$new_pw" ls
    check_log "...and the daemon calls her an unknown user" \
        "login failed $PEER user=\"carol\" reason=\"unknown user\""
else
    not_ok "netdiskd user del carol: $(cat "$T/cli.err")"
fi
check "the daemon was not restarted for any of it (one 'ready' line)" \
    test "$(grep -c ' ready' "$ND_LOG")" -eq 1
assert_exit 0 nd ls

# ---- Password sources -------------------------------------------------------
# nopw ARGS...: the client without NETDISK_PASSWORD.
nopw() { (unset NETDISK_PASSWORD && nd "$@"); }
printf '%s\n' "$ND_PASSWORD" >"$T/pwfile"
ND_WHAT="--password-file FILE works without NETDISK_PASSWORD" \
    assert_exit 0 nopw --password-file "$T/pwfile" ls docs
check "...and lists the user's files" grep -q ' a\.bin$' "$ND_OUT"
NETDISK_PASSWORD=wrong ND_WHAT="--password-file wins over NETDISK_PASSWORD" \
    assert_exit 0 nd --password-file "$T/pwfile" ls
printf '%s' "$ND_PASSWORD" >"$T/pwfile-nonl"
ND_WHAT="a password file without a final newline works" \
    assert_exit 0 nopw --password-file "$T/pwfile-nonl" ls
: >"$T/pwfile-empty"
ND_WHAT="an empty password file: exit 2" \
    assert_exit 2 nopw --password-file "$T/pwfile-empty" ls
one_line "empty password file"
ND_WHAT="a missing password file: exit 1 (local error)" \
    assert_exit 1 nopw --password-file "$T/no-such-pwfile" ls
ND_WHAT="no NETDISK_PASSWORD and no terminal: exit 2" \
    assert_exit 2 timeout -k 5 60 setsid -w env -u NETDISK_PASSWORD \
    "$ND_BIN/netdisk" -q -H 127.0.0.1 -p "$ND_PORT" ls </dev/null
one_line "no password source"
check "...and the message names NETDISK_PASSWORD" grep -q NETDISK_PASSWORD "$ND_ERR"
unknown_salt=$(salt_of "$fake1")
nd_stop

# ---- A ban after repeated failures --------------------------------------------
nd_start 'login_ban_after = 3;' 'login_ban_seconds = 4;' 'login_delay_ms = 50;'
raw "challenge for nosuchuser after a restart" challenge nosuchuser
assert_eq "$unknown_salt" "$(salt_of "$(head -n 1 "$T/raw.out")")" \
    "an unknown user's salt survives a restart of the daemon"
for i in 1 2 3; do
    NETDISK_PASSWORD="wrong-$i" ND_WHAT="ban: wrong password #$i: exit 6" \
        assert_exit 6 nd ls
done
check_log "the third failure is logged with a ban of 4 s" \
    "login failed $PEER user=\"$ND_USER\" reason=\"wrong password\" failures=3; address banned for 4 s"
ND_WHAT="banned: the right password gets exit 6" assert_exit 6 nd ls
one_line "banned"
check "...and stderr says too many failed logins" \
    grep -q 'too many failed logins' "$ND_ERR"
check "...and how long to wait" \
    grep -Eq 'try again in [1-5] seconds' "$ND_ERR"
check_log "the daemon logs the refusal as banned" \
    "login refused at AUTH $PEER: address banned for [0-9]+ s"
ND_WHAT="banned: another user from the same address gets exit 6 too" \
    assert_exit 6 as nosuchuser x ls
check "...with the ban message" grep -q 'too many failed logins' "$ND_ERR"
ND_WHAT="banned: a put gets exit 6" assert_exit 6 nd put "$T/in/a" banned.bin
check "...and stores nothing" test ! -e "$ROOT/banned.bin"
# login_ok: one login attempt with the right password, at most every 0.5 s.
login_ok() {
    nd ls >/dev/null 2>&1 && return 0
    sleep 0.4
    return 1
}
if wait_for 15 login_ok; then
    ok "after the ban expires the right password works again"
else
    not_ok "after the ban expires the right password works again"
fi
nd_roundtrip "after the ban"
ones=$(grep -c 'reason="wrong password" failures=1$' "$ND_LOG" || true)
NETDISK_PASSWORD=wrong ND_WHAT="after the ban a wrong password is one failure again" \
    assert_exit 6 nd ls
more_ones() {
    [ "$(grep -c 'reason="wrong password" failures=1$' "$ND_LOG")" -gt "$ones" ]
}
check "...counted from 1 (failures=1 in the log)" wait_for 5 more_ones
nd_stop

# ---- Parallel guesses: one is checked per delay ------------------------------
# Eight clients with wrong passwords at once: after the first failure the
# address must wait 3 s, so the PROOFs still in flight are refused without
# being checked.  At most one check per worker can already be running.
nd_start 'login_ban_after = 100;' 'login_delay_ms = 3000;' 'workers = 2;'
pids=()
for i in 1 2 3 4 5 6 7 8; do
    NETDISK_PASSWORD="guess-$i" nd ls >"$T/par.$i.out" 2>&1 &
    pids+=($!)
done
fails=0
for pid in "${pids[@]}"; do
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 6 ] || fails=$((fails + 1))
done
assert_eq 0 "$fails" "all eight parallel guesses exit 6"
checked=$(grep -c 'reason="wrong password"' "$ND_LOG" || true)
refused=$(grep -c 'login refused at \(AUTH\|PROOF\) .*waiting after a failed login' \
    "$ND_LOG" || true)
say "# parallel guesses: $checked checked, $refused refused unchecked"
check "at most two of eight parallel guesses were checked (workers = 2)" \
    test "$checked" -ge 1 -a "$checked" -le 2
assert_eq 8 "$((checked + refused))" "every guess was either checked or refused"
check "the refused ones were told to wait" \
    grep -l 'a login just failed; try again in' "$T"/par.*.out
nd_stop

# ---- login_timeout: no login, no connection -------------------------------
# HELLO, then silence: closed after login_timeout (2 s), well before
# idle_timeout (30 s), while a logged-in idle session stays open.
nd_start 'login_timeout = 2;' 'idle_timeout = 30;'
if nd_idle_hold 1 10; then
    ok "a logged-in idle session is open"
else
    not_ok "a logged-in idle session is open: $(cat "$T/idle.err")"
fi
# A session that only says HELLO, held by a second raw client.
rm -f "$T/nologin.ready" "$T/nologin.stop"
NETDISK_USER='' NETDISK_PASSWORD='' nd_raw idle 1 10 "$T/nologin.ready" \
    "$T/nologin.stop" >"$T/nologin.out" 2>"$T/nologin.err" &
nologin_pid=$!
check_log "HELLO and no login: closed after login_timeout" \
    "no login within login_timeout: closing"
touch "$T/nologin.stop"
nrc=0
wait "$nologin_pid" || nrc=$?
assert_eq 0 "$nrc" "...the raw client ran to its end"
check "...and saw the server close the session" \
    grep -q '(1 closed by the server)' "$T/nologin.out"
irc=0
nd_idle_release || irc=$?
if [ "$irc" -eq 0 ] && grep -q '(0 closed by the server)' "$T/idle.out"; then
    ok "the logged-in session outlived login_timeout ($(cat "$T/idle.out"))"
else
    not_ok "the logged-in session outlived login_timeout: exit $irc: $(cat "$T/idle.out" "$T/idle.err")"
fi
nd_stop

# ---- max_per_ip --------------------------------------------------------------
nd_start 'max_per_ip = 2;'
if nd_idle_hold 2 40; then
    ok "max_per_ip = 2: two idle sessions are open"
else
    not_ok "max_per_ip = 2: two idle sessions are open: $(cat "$T/idle.err")"
fi
raw "a third connection from the same address gets ERROR BUSY" busy
check "...saying \"too many connections from your address\"" \
    grep -q '"too many connections from your address"' "$T/raw.out"
ND_WHAT="the client as the third connection: exit 4" assert_exit 4 nd ls
check "...showing BUSY" grep -q BUSY "$ND_ERR"
check_log "the daemon logs max_per_ip" "max_per_ip reached"
irc=0
nd_idle_release || irc=$?
if [ "$irc" -eq 0 ] && grep -q '(0 closed by the server)' "$T/idle.out"; then
    ok "the two idle sessions were served meanwhile ($(cat "$T/idle.out"))"
else
    not_ok "the two idle sessions were served meanwhile: exit $irc: $(cat "$T/idle.out" "$T/idle.err")"
fi
ls_ok() { nd ls >/dev/null 2>&1; }
check "after they close, a normal client works again" wait_for 10 ls_ok
nd_roundtrip "after max_per_ip"
nd_stop
nd_done
