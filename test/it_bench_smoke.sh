#!/bin/bash
# The benchmark, smoke-sized (BENCH_SMOKE=1 test/bench/run.sh): a 4 MiB big
# file, 20 small files, 4 concurrent gets of 1 MiB, 20 idle sessions, one
# round, TLS included, no peers and no package installs.  No timing is
# judged: this keeps the harness from rotting.  Checks that the run
# passes (every step ran, every result verified), that its table has a
# row for every netdisk workload and limit, and that it wrote its report
# to its work directory, not to docs/.
# shellcheck disable=SC2119,SC2317
# shellcheck source=lib.sh
. "${ND_TEST_SRC:-$(dirname "$0")}/lib.sh"

docs=$ND_TEST_SRC/../docs/benchmarks.md
before=absent
[ -e "$docs" ] && before=$(stat -c %Y.%s "$docs")

rc=0
TMPDIR=$T BENCH_SMOKE=1 BENCH_OUT_DIR=$T/report \
    timeout -k 10 500 bash "$ND_TEST_SRC/bench/run.sh" "$ND_BIN" \
    >"$T/bench.out" 2>"$T/bench.err" || rc=$?
sed 's/^/# /' "$T/bench.out"
sed 's/^/# stderr: /' "$T/bench.err" | head -n 30
assert_eq 0 "$rc" "BENCH_SMOKE=1 test/bench/run.sh passed (exit status)"
check "it printed PASS" grep -q '^bench: PASS' "$T/bench.out"

# row WORKLOAD TOOL WORKLOAD_LABEL TOOL_LABEL: the run measured TOOL on
# WORKLOAD (summary.tsv) and its table shows that row.
row() {
    if awk -F '\t' -v w="$1" -v t="$2" '$1 == w && $2 == t { f = 1 } END { exit !f }' \
        "$T/report/summary.tsv" 2>/dev/null &&
        grep -F -- "$3" "$T/bench.out" | grep -qF -- "$4"; then
        ok "the table has a row for $1 / $2"
    else
        not_ok "the table has a row for $1 / $2 ('$3' ... '$4')"
    fi
}
row get netdisk "verified get, 4 MiB" "netdisk get (verifies)"
row get netdisk-tls "verified get, 4 MiB" "netdisk over TLS"
row get ref-md5 "verified get, 4 MiB" "limit: MD5 on one core"
row get ref-get "verified get, 4 MiB" "limit: nd_ref get"
row put netdisk "verified put, 4 MiB" "netdisk put (verifies, fsync)"
row put netdisk-tls "verified put, 4 MiB" "netdisk over TLS"
row put ref-put-sync "verified put, 4 MiB" "limit: nd_ref put --sync"
row put ref-put "verified put, 4 MiB" "limit: nd_ref put (no sync)"
row small-get netdisk "20 x 4 KiB gets, one session" "netdisk get, one login"
row small-get-conn netdisk "20 x 4 KiB gets, a session each" "nd_load --churn"
row small-put netdisk "20 x 4 KiB puts, one session" "netdisk put, one login"
row small-put-conn netdisk "20 x 4 KiB puts, a session each" "nd_load --churn-op put"
row conc netdisk "4 concurrent gets x 1 MiB" "netdisk get x 4"
row conc-cpu netdisk "4 concurrent gets: CPU, whole machine" "netdisk x 4 and netdiskd"
row conc ref-get "4 concurrent gets x 1 MiB" "limit: nd_ref get x 4"
row cpu netdisk "server CPU per GiB served" "netdiskd pool process"
row idle-rss netdisk "20 idle sessions: daemon RSS" "netdiskd"
row idle-probe netdisk "20 idle sessions: a get meanwhile" "netdiskd"
# With schedstat the CPU figure is read in nanoseconds, and a get of 4 MiB
# cannot cost the server none; in clock ticks it could.
cpu_measured() {
    awk -F '\t' '$1 == "cpu" && $2 == "netdisk" && $3 > 0 { f = 1 } END { exit !f }' \
        "$T/report/summary.tsv"
}
if [ -r /proc/self/schedstat ]; then
    check "the server CPU sample is a measured time (schedstat), not zero" \
        cpu_measured
fi
# Each concurrent-get sample has its CPU figure, in seconds per GiB.  The
# CPU it stands for is a whole number of clock ticks, more than none (four
# netdisk processes log in with 4096 rounds of PBKDF2 each), and fits in
# the sample's wall time on every online CPU, all of which /proc/stat
# counts (with a tick per CPU and two more to spare: the reads of
# /proc/stat around the sample are a little wider than its timing): a
# figure off by the size (x 256 here) or by the clock (x 100), either
# way, cannot pass all three.
conc_cpu_fits() {
    awk -F '\t' -v n="$(getconf _NPROCESSORS_ONLN)" -v tick="$(getconf CLK_TCK)" -v mib=4 '
        $1 == "conc" && $2 == "netdisk" { rate[$3] = $4 }
        $1 == "conc-cpu" && $2 == "netdisk" { cpu[$3] = $4 }
        END {
            for (k in rate) {
                if (!(k in cpu) || cpu[k] <= 0)
                    exit 1
                if (cpu[k] * mib / 1024 > n * mib / rate[k] + (n + 2) / tick)
                    exit 1
                t = cpu[k] * mib / 1024 * tick
                if (t - int(t + 0.5) > 0.001 || int(t + 0.5) - t > 0.001)
                    exit 1
                seen++
            }
            exit !seen
        }' "$T/report/samples.tsv"
}
check "each concurrent-get sample has a CPU figure that fits its wall time" \
    conc_cpu_fits
check "the table is followed by the ratios" \
    grep -q '^get 4 MiB: netdisk / MD5 1 core ' "$T/bench.out"
check "the TLS path is reported" grep -q '^TLS path: ' "$T/bench.out"
check "the report was written (report.md with its results)" \
    grep -q '^## Results' "$T/report/report.md"
check "the report says how much CPU time the host took during the run" \
    grep -Eq '^- Taken by the host: [0-9]+\.[0-9] % ' "$T/report/report.md"
# nd_ref wake's figures (microseconds a wake-up on one CPU, where the
# scheduler put the threads, and on two CPUs where there are two) are in
# the Machine section, and none is zero: a wake-up through the task queue
# is at least two system calls.
wake_reported() {
    local line two
    line=$(grep '^- Waking a sleeping thread: ' "$T/report/report.md") || return 1
    if [ "$(nproc)" -ge 2 ]; then
        two=$(sed -n 's/^- Waking a sleeping thread: \([0-9.]*\) us on two CPUs, .*/\1/p' <<<"$line")
        awk -v x="${two:-0}" 'BEGIN { exit !(x > 0) }' || return 1
    fi
    sed -n 's/.* \([0-9.]*\) us on one, \([0-9.]*\) us where the scheduler .*/\1 \2/p' <<<"$line" |
        awk 'NF == 2 && $1 > 0 && $2 > 0 { f = 1 } END { exit !f }'
}
check "the report says what waking a sleeping thread costs (nd_ref wake)" \
    wake_reported
check "the report says how idle CPUs wait" \
    grep -Eq '^- Idle CPUs: cpuidle driver [^ ]+, governor ' "$T/report/report.md"
after=absent
[ -e "$docs" ] && after=$(stat -c %Y.%s "$docs")
assert_eq "$before" "$after" "docs/benchmarks.md was left alone"
check "the work directory was removed" \
    test -z "$(find "$T" -maxdepth 1 -name 'nd-bench.*' -print)"
# The small-file gets write outside the work directory, to /dev/shm when
# it is a tmpfs; the run says where, and must remove it too.
outs=$(sed -n 's/^bench: small-file gets write to \(.*\) ([^()]*)$/\1/p' \
    "$T/bench.out" | head -n 1)
check "it said where the small-file gets write" test -n "$outs"
if [ -n "$outs" ]; then
    check "the small-file output directory was removed" test ! -e "$outs"
    # Left behind (a run cut by its timeout): this test's to remove.
    case $outs in
    /dev/shm/nd-bench-out.* | "$T"/*) rm -rf "$outs" ;;
    esac
fi
nd_done
