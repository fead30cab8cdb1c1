#!/bin/bash
# Replies that leave together: seen in the daemon's own system calls
# (strace on the pool process), one send where the client would otherwise
# be woken once per frame.  A session that pipelines HELLO with AUTH gets
# the HELLO reply and the CHALLENGE in one send, from the reactor; PROOF
# pipelined with a GET of a small file gets WELCOME, FILE, the file's
# bytes and its DIGEST trailer in one send, from the worker's hold buffer
# (no sendfile for a file that small).  A file larger than that buffer
# still goes by sendfile.  A session that resumes with a ticket gets
# everything, HELLO's reply to the file's trailer, in one send.  nd_load
# --churn is the pipelining client, and it checks every byte and digest it
# gets.  The netdisk client pipelines AUTH behind HELLO too.
# shellcheck disable=SC2119
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

if ! command -v strace >/dev/null 2>&1; then
    say "1..0 # SKIP strace is missing"
    exit 0
fi

nd_start

rc=0
nd_strace_pool "$T/trace" timeout -k 5 "$ND_CMD_TIMEOUT" \
    "$ND_TEST_BIN/nd_load" --port "$ND_PORT" --dir churn --churn 3 \
    --churn-size 4096 --churn-login scram >"$T/load.out" 2>"$T/load.err" ||
    rc=$?
assert_eq 0 "$rc" "nd_load --churn got three files, a SCRAM login each, under strace"
check "...every one verified" grep -q '^churn: gets 3 .* failed 0 ' "$T/load.out"

# HELLO's reply is 16 bytes; with the CHALLENGE (8 + about 100) behind it
# in the same call the send is longer, and no send is HELLO's alone.
hello=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\1\\0\\0NDSK\\0\\1\\0\\1\\0\\0\\0.\\1\\6' \
    "$T/trace" || true)
alone=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\1\\0\\0NDSK\\0\\1\\0\\1", 16,' \
    "$T/trace" || true)
# Four sessions: nd_load puts the three files in one, then gets each in
# one of its own.
assert_eq 4 "$hello" "each session's HELLO reply and CHALLENGE left in one send"
assert_eq 0 "$alone" "...and no HELLO reply left alone"
# WELCOME (8 + 46), FILE (8 + 45), 4096 bytes, DIGEST (8 + 17): 4228.
welcome=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\.\\1\\10\\0\\0v=.*, 4228, ' "$T/trace" ||
    true)
assert_eq 3 "$welcome" "each WELCOME, FILE, file and trailer left in one send of 4228 bytes"
sent=$(grep -c '^[0-9]* *sendfile(' "$T/trace" || true)
assert_eq 0 "$sent" "...without sendfile"

# With a ticket: HELLO, RESUME, TICKET and GET in one segment, and HELLO
# (8 + 8), RESUMED (8 + 32), TICKET (8 + 20), FILE, the file and DIGEST in
# one send of 4258 bytes, the reactor's HELLO reply handed to the worker
# that answers the rest.  The first session logs in with SCRAM.
rc=0
nd_strace_pool "$T/trace3" timeout -k 5 "$ND_CMD_TIMEOUT" \
    "$ND_TEST_BIN/nd_load" --port "$ND_PORT" --dir churnt --churn 3 \
    --churn-size 4096 >"$T/load3.out" 2>"$T/load3.err" || rc=$?
assert_eq 0 "$rc" "nd_load --churn got three files, a ticket login each, under strace"
check "...every one verified, a used ticket refused" \
    grep -q '^churn: gets 3 .* failed 0 login ticket relogins 0 replay refused ' \
    "$T/load3.out"
resumed=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\1\\0\\0NDSK\\0\\1\\0\\1\\0\\0\\0 \\1\\v.*, 4258, ' \
    "$T/trace3" || true)
assert_eq 3 "$resumed" "each HELLO, RESUMED, TICKET, FILE, file and trailer left in one send"

# A file beyond the hold buffer (64 KiB) goes by sendfile, after the
# replies held before it.
mkrand "$T/big" $((1024 * 1024))
assert_exit 0 nd put "$T/big" big
rc=0
nd_strace_pool "$T/trace2" nd get big "$T/big.out" || rc=$?
assert_eq 0 "$rc" "a get of 1 MiB under strace"
check "...arrived whole" cmp -s "$T/big" "$T/big.out"
check "...by sendfile" grep -q 'sendfile(' "$T/trace2"
# The netdisk client sends AUTH behind HELLO, so its HELLO reply too
# leaves with the CHALLENGE: one round trip fewer per invocation.
hello=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\1\\0\\0NDSK\\0\\1\\0\\1\\0\\0\\0.\\1\\6' \
    "$T/trace2" || true)
alone=$(grep -c 'sendto([0-9]*, "\\0\\0\\0\\10\\1\\1\\0\\0NDSK\\0\\1\\0\\1", 16,' \
    "$T/trace2" || true)
assert_eq "1 0" "$hello $alone" "netdisk's HELLO reply left with the CHALLENGE, not alone"

nd_done
