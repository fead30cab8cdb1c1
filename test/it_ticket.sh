#!/bin/bash
# Resumption tickets (docs/protocol.md, Login with a ticket): a logged-in
# session asks for a ticket; a new connection sends HELLO, RESUME and its
# next request together and is logged in with one round trip, the server
# proving it holds the ticket's key; the resumed session gets the next
# ticket.  A ticket is good once, also when its RESUME is refused for a
# wait after a failed login; a session gets one ticket; a wrong proof is a
# failed login (counted, answered late); a ticket outlives neither a
# password change nor the user; TICKET before a login and a malformed
# RESUME are refused.  Oracles: nd_rawclient's checks of every reply, and
# the daemon log.
# shellcheck disable=SC2119
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

PEER='peer=127\.0\.0\.1:[0-9][0-9]*'

# A failed login makes the address wait 1.5 s before its next try.
nd_start 'login_delay_ms = 1500;'

raw "a logged-in session gets a ticket" getticket "$T/t1"
log_mark
raw "a new connection resumes with it in one round trip" resume "$T/t1" ok
check_new "...logged in by ticket" "login $PEER user=\"$ND_USER\" result=ok by=ticket"
raw "...and the ticket it got next resumes too" resume "$T/t1" ok
cp "$T/t1" "$T/t1.used"
raw "...and the one after that" resume "$T/t1" ok
log_mark
raw "a ticket used once is refused" resume "$T/t1.used" refused
check_new "...as unknown, used or expired" \
    "login refused $PEER: ticket unknown, used or expired"
check "...and not counted as a failed login" \
    bash -c "! grep -q 'login failed' \"$ND_LOG\""

raw "one ticket per session" getticket "$T/t2" twice
raw "another ticket" getticket "$T/t6"
log_mark
# The wrong proof's answer waits out the delay (1.5 s); meanwhile another
# RESUME from the address is refused for the wait, and its ticket is
# spent all the same (a recorded RESUME must not stay good).
nd_raw resume "$T/t2" wrong >"$T/wrong.out" 2>"$T/wrong.err" &
wrong_pid=$!
sleep 0.5
raw "a RESUME while the address waits after a failed login is refused" \
    resume "$T/t6" wait
rc=0
wait "$wrong_pid" || rc=$?
assert_eq 0 "$rc" "a RESUME with a wrong proof is refused: $(cat "$T/wrong.out" "$T/wrong.err")"
check_new "...as a failed login, counted" \
    "login failed $PEER user=\"$ND_USER\" reason=\"wrong ticket proof\" failures=1"
check_new "...and the other RESUME for the wait" \
    "login refused at RESUME $PEER: waiting after a failed login"
sleep 0.3
raw "...that ticket is gone" resume "$T/t2" refused
raw "...and so is the one refused for the wait" resume "$T/t6" refused

# A password changed, or the user removed, since the ticket was issued.
dave_pw="pd-$RANDOM-$RANDOM"
nd_user_add dave "$dave_pw"
NETDISK_USER=dave NETDISK_PASSWORD=$dave_pw raw "dave gets a ticket" \
    getticket "$T/t3"
NETDISK_USER=dave NETDISK_PASSWORD=$dave_pw raw "...and another" \
    getticket "$T/t4"
if printf '%s\n' "pn-$RANDOM" |
    "$ND_BIN/netdiskd" -c "$ND_CONF" user passwd dave >/dev/null 2>"$T/cli.err"; then
    log_mark
    raw "after 'user passwd' dave's ticket is refused" resume "$T/t3" refused
    check_new "...because the password changed" \
        "login refused $PEER user=\"dave\": ticket of a password since changed"
else
    not_ok "netdiskd user passwd dave: $(cat "$T/cli.err")"
fi
if "$ND_BIN/netdiskd" -c "$ND_CONF" user del dave >/dev/null 2>"$T/cli.err" </dev/null; then
    log_mark
    raw "after 'user del' dave's other ticket is refused" resume "$T/t4" refused
    check_new "...because he is gone" \
        "login refused $PEER user=\"dave\": ticket of a user no longer there"
else
    not_ok "netdiskd user del dave: $(cat "$T/cli.err")"
fi

raw "TICKET before a login is refused" nologin ticket
raw "another ticket" getticket "$T/t5"
raw "a RESUME whose body is a byte short is refused" resume "$T/t5" malformed

# A session per file with tickets, every file checked, a used ticket
# offered again at the end (nd_load's own check).
rc=0
timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_TEST_BIN/nd_load" --port "$ND_PORT" \
    --dir churn --churn 20 --churn-size 1000 >"$T/load.out" 2>"$T/load.err" ||
    rc=$?
assert_eq 0 "$rc" "nd_load --churn: 20 files, a ticket login each"
check "...all verified, none logged in again, a used ticket refused" \
    grep -q '^churn: gets 20 .* failed 0 login ticket relogins 0 replay refused ' \
    "$T/load.out"
assert_eq 20 "$(grep -c "login $PEER user=\"$ND_USER\" result=ok by=ticket" \
    "$ND_LOG" | awk '{print $1 - 3}')" "...20 logins by ticket in the log"

# The same with a put per session (nd_load --churn-op put checks each OK
# against what it sent and gets every file back afterwards).
rc=0
timeout -k 5 "$ND_CMD_TIMEOUT" "$ND_TEST_BIN/nd_load" --port "$ND_PORT" \
    --dir churnput --churn 20 --churn-size 1000 --churn-op put \
    >"$T/loadput.out" 2>"$T/loadput.err" || rc=$?
assert_eq 0 "$rc" "nd_load --churn-op put: 20 files, a ticket login and a put each"
check "...all verified, none logged in again, a used ticket refused" \
    grep -q '^churn: puts 20 .* failed 0 login ticket relogins 0 replay refused ' \
    "$T/loadput.out"
assert_eq 20 "$(find "$ROOT/churnput" -type f -size 1000c | wc -l)" \
    "...20 files of 1000 bytes landed"
# An oracle of its own: the MD5 the daemon logged for one of the puts is
# that of the file as a real client gets it.
logged=$(sed -n 's/.*op=put path="churnput\/c0007" .* md5=\([0-9a-f]*\) result=ok.*/\1/p' "$ND_LOG")
assert_exit 0 nd get churnput/c0007 "$T/c0007"
assert_eq "$logged" "$(md5_of "$T/c0007")" "...the MD5 logged for c0007 is that of the file got back"

nd_done
