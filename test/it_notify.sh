#!/bin/bash
# Type=notify: with NOTIFY_SOCKET set, as systemd sets it, the pool process
# reports READY=1 once it serves and STOPPING=1 when SIGTERM starts the
# drain.  nd_rawclient's notify command plays systemd's side of the socket.
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

sock=$T/notify.sock
timeout -k 5 60 "$ND_TEST_BIN/nd_rawclient" - - notify "$sock" 30 \
    >"$T/notify.out" 2>"$T/notify.err" &
listener=$!
wait_for 10 test -S "$sock" || fail "the notify listener did not bind"
export NOTIFY_SOCKET=$sock
nd_start
unset NOTIFY_SOCKET
wait_for 10 grep -qx 'READY=1' "$T/notify.out" ||
    fail "no READY=1 after the daemon logged ready"
ok "the pool process sent READY=1"
nd_roundtrip "after READY=1"
nd_stop
rc=0
wait "$listener" || rc=$?
assert_eq 0 "$rc" "the listener saw READY=1 then STOPPING=1 ($(tr '\n' ' ' <"$T/notify.out"))"
nd_done
