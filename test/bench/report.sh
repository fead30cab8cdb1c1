# shellcheck shell=bash
# The benchmark's report (test/bench/run.sh sources this file): medians
# and ranges of the raw samples, the ratios against issue 6's targets, the
# text table, the Markdown for docs/benchmarks.md and the gnuplot chart.
# awk and sort only (no python: CI machines may lack it).
#
# The samples are a TSV: workload, tool, round, value, unit; the round is
# R, or R.K for the K-th of several samples a round takes (the session per
# file, the concurrent gets), or xN for the extra CPU samples.  The caller
# provides the run's parameters (SIZE_MB, SMALL_N, CONN_REPS, CONC_REPS,
# CONC, CONC_MB, CONC_PROC_MB, IDLE, IDLE_SECS, ROUNDS, ROUNDS_RUN,
# CPU_GETS, WORKERS, WAKE_N, SMOKE), WAKE (what nd_ref wake printed, or
# empty), NOTRUN and DISABLED (associative arrays: what did not run, and
# why), TLS_PATH, the work directory W and the small-file output directory
# OUTS (OUTS_TMPFS 1 when it is on a tmpfs), SRCDIR and BUILD.

# size_label MB: "1 GiB", "4 MiB".
size_label() {
    if [ $(($1 % 1024)) -eq 0 ]; then
        echo "$(($1 / 1024)) GiB"
    else
        echo "$1 MiB"
    fi
}

# report_summarise SAMPLES: one line per workload and tool: workload,
# tool, median, min, max, n, unit.  The median of an even count is the
# mean of the middle two.
report_summarise() {
    sort -t "$(printf '\t')" -k1,1 -k2,2 -k4,4g "$1" | awk -F '\t' -v OFS='\t' '
        function flush() {
            if (n == 0)
                return
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            print wl, tool, med, v[1], v[n], n, unit
        }
        $1 != wl || $2 != tool { flush(); wl = $1; tool = $2; unit = $5; n = 0 }
        { v[++n] = $4 }
        END { flush() }'
}

# The order of the rows, and their labels.
REPORT_WORKLOADS="get put small-get small-get-conn small-put small-put-conn conc conc-cpu cpu idle-sessions idle-rss idle-rss-growth idle-fds idle-probe"
REPORT_TOOLS="netdisk netdisk-scram netdisk-tls nginx vsftpd rsync scp ref-md5 ref-get ref-put-sync ref-put ref-small-sync ref-small md5sum"

report_wl_label() {
    local sz
    sz=$(size_label "$SIZE_MB")
    case $1 in
    get) echo "verified get, $sz" ;;
    put) echo "verified put, $sz" ;;
    small-get) echo "$SMALL_N x 4 KiB gets, one session" ;;
    small-get-conn) echo "$SMALL_N x 4 KiB gets, a session each" ;;
    small-put) echo "$SMALL_N x 4 KiB puts, one session" ;;
    small-put-conn) echo "$SMALL_N x 4 KiB puts, a session each" ;;
    conc) echo "$CONC concurrent gets x $CONC_MB MiB" ;;
    conc-cpu) echo "$CONC concurrent gets: CPU, whole machine" ;;
    cpu) echo "server CPU per GiB served" ;;
    idle-sessions) echo "$IDLE idle sessions: logged in" ;;
    idle-rss) echo "$IDLE idle sessions: daemon RSS" ;;
    idle-rss-growth) echo "$IDLE idle sessions: RSS growth" ;;
    idle-fds) echo "$IDLE idle sessions: more fds" ;;
    idle-probe) echo "$IDLE idle sessions: a get meanwhile" ;;
    *) echo "$1" ;;
    esac
}

# Short names, for the ratio lines.
report_wl_short() {
    case $1 in
    get | put) echo "$1 $(size_label "$SIZE_MB")" ;;
    small-get) echo "small gets, 1 session" ;;
    small-get-conn) echo "small gets, session each" ;;
    small-put) echo "small puts, 1 session" ;;
    small-put-conn) echo "small puts, session each" ;;
    conc) echo "$CONC concurrent gets" ;;
    conc-cpu) echo "$CONC concurrent gets, machine CPU" ;;
    cpu) echo "server CPU per GiB" ;;
    idle-rss) echo "$IDLE idle sessions: RSS" ;;
    idle-probe) echo "$IDLE idle sessions: a get" ;;
    *) echo "$1" ;;
    esac
}

report_tool_short() {
    case $1 in
    netdisk-tls) echo "netdisk TLS" ;;
    netdisk-scram) echo "netdisk SCRAM" ;;
    rsync) echo "rsync --cc=md5" ;;
    ref-md5) echo "MD5 1 core" ;;
    ref-get) echo "nd_ref get" ;;
    ref-put-sync) echo "nd_ref put --sync" ;;
    ref-put) echo "nd_ref put" ;;
    ref-small-sync) echo "nd_ref small --sync" ;;
    ref-small) echo "nd_ref small" ;;
    *) echo "$1" ;;
    esac
}

report_tool_label() {
    case $1/$2 in
    get/netdisk) echo "netdisk get (verifies)" ;;
    put/netdisk) echo "netdisk put (verifies, fsync)" ;;
    get/netdisk-tls | put/netdisk-tls) echo "netdisk over TLS" ;;
    get/nginx) echo "nginx: curl + md5sum" ;;
    get/vsftpd) echo "vsftpd: curl + md5sum" ;;
    put/vsftpd) echo "vsftpd: md5sum + curl -T" ;;
    get/rsync | put/rsync) echo "rsync daemon --cc=md5" ;;
    get/scp) echo "sshd: scp aes128-gcm + md5sum" ;;
    put/scp) echo "sshd: md5sum + scp aes128-gcm" ;;
    get/ref-md5) echo "limit: MD5 on one core (nd_ref)" ;;
    get/ref-get) echo "limit: nd_ref get" ;;
    put/ref-put-sync) echo "limit: nd_ref put --sync" ;;
    put/ref-put) echo "limit: nd_ref put (no sync)" ;;
    get/md5sum) echo "md5sum alone (context)" ;;
    small-get/netdisk) echo "netdisk get, one login" ;;
    small-get/nginx) echo "nginx: one curl, keep-alive" ;;
    small-get-conn/netdisk) echo "nd_load --churn, ticket login each" ;;
    small-get-conn/netdisk-scram) echo "nd_load --churn, SCRAM login each" ;;
    small-get-conn/nginx) echo "nginx: curl, Connection: close" ;;
    small-put/netdisk) echo "netdisk put, one login (fsync)" ;;
    small-put-conn/netdisk) echo "nd_load --churn-op put, ticket each" ;;
    small-put/vsftpd) echo "vsftpd: one curl -T" ;;
    small-put/ref-small-sync) echo "limit: landing them with the syncs (nd_ref small --sync)" ;;
    small-put/ref-small) echo "limit: landing them without (nd_ref small)" ;;
    conc/netdisk) echo "netdisk get x $CONC (verified)" ;;
    conc/nginx) echo "nginx: curl --parallel (unverified)" ;;
    conc/ref-get) echo "limit: nd_ref get x $CONC (verified)" ;;
    conc-cpu/netdisk) echo "netdisk x $CONC and netdiskd" ;;
    conc-cpu/nginx) echo "curl --parallel and nginx" ;;
    conc-cpu/ref-get) echo "nd_ref get x $CONC, both ends" ;;
    cpu/netdisk) echo "netdiskd pool process" ;;
    cpu/nginx) echo "nginx workers (sendfile)" ;;
    idle-*/netdisk) echo "netdiskd" ;;
    *) echo "$2" ;;
    esac
}

# The targets of issue 6: id, workload, numerator tool, denominator tool
# (or "-" for an absolute value), test (le, ge, info), threshold, what the
# target says.
REPORT_TARGETS='get	netdisk	ref-md5	le	1.2	<= 1.2 x the MD5 time
get	netdisk	ref-get	info	-	the reference get (limit about 1.06 x MD5)
get	netdisk	rsync	le	0.5882	>= 1.7 x faster than rsync --cc=md5
get	ref-md5	rsync	info	-	about the floor of netdisk / rsync: one MD5 pass
get	netdisk	nginx	le	0.5556	>= 1.8 x faster than nginx + curl + md5sum
get	ref-md5	nginx	info	-	about the floor of netdisk / nginx
get	netdisk	vsftpd	info	-	-
get	netdisk	scp	info	-	-
put	netdisk	ref-put-sync	le	1.15	<= 1.15 x nd_ref put --sync
put	netdisk	rsync	le	1.0	no slower than rsync --cc=md5
put	netdisk	ref-put	info	-	-
put	netdisk	vsftpd	info	-	-
put	netdisk	scp	info	-	-
small-get	netdisk	nginx	ge	1.0	>= nginx keep-alive (stretch 2 x)
small-get-conn	netdisk	nginx	ge	1.0	>= nginx Connection: close
small-get-conn	netdisk-scram	nginx	info	-	SCRAM login each (2 round trips), reported
small-put	netdisk	vsftpd	info	-	report ms per file (fsync each)
small-put	netdisk	ref-small-sync	info	-	netdisk / landing the files with the syncs alone
small-put	ref-small-sync	ref-small	info	-	what the syncs cost: with / without them
conc	netdisk	nginx	ge	0.95	>= 0.95 x nginx aggregate
conc	ref-get	nginx	info	-	the limit: nd_ref get at the same concurrency / nginx
conc	netdisk	ref-get	info	-	netdisk / its limit
conc-cpu	netdisk	nginx	info	-	CPU per GiB, reported
cpu	netdisk	nginx	le	1.25	<= 1.25 x nginx
idle-rss	netdisk	-	le	64	<= 64 MiB RSS
idle-probe	netdisk	-	served	-	no worker held: a get is served
get	netdisk-tls	netdisk	info	-	TLS / plaintext, reported
put	netdisk-tls	netdisk	info	-	TLS / plaintext, reported'

declare -A R_MED=() R_MIN=() R_MAX=() R_N=() R_UNIT=()
REPORT_ROWS=()
REPORT_RATIOS=()
REPORT_MET=0
REPORT_MISSED=0

# report_fmt NUMBER: 3 significant digits, at least 2 decimals below 10.
report_fmt() {
    awk -v x="$1" 'BEGIN {
        a = x < 0 ? -x : x
        if ((x == int(x) && a >= 10) || a >= 1000) printf "%.0f", x
        else if (a >= 100) printf "%.1f", x
        else if (a >= 10) printf "%.2f", x
        else printf "%.3f", x
    }'
}

# report_build SUMMARY: fills REPORT_ROWS (workload label, tool label,
# median, min-max, n, unit; tab-separated) and REPORT_RATIOS (what,
# ratio, target, verdict).
report_build() {
    local wl tool med mn mx n unit key num den op thr what ratio
    local verdict label t1 t2
    while IFS=$'\t' read -r wl tool med mn mx n unit; do
        key=$wl/$tool
        R_MED[$key]=$med
        R_MIN[$key]=$mn
        R_MAX[$key]=$mx
        R_N[$key]=$n
        R_UNIT[$key]=$unit
    done <"$1"
    for wl in $REPORT_WORKLOADS; do
        for tool in $REPORT_TOOLS; do
            key=$wl/$tool
            if [ -n "${R_MED[$key]:-}" ]; then
                REPORT_ROWS+=("$(report_wl_label "$wl")	$(report_tool_label "$wl" "$tool")	$(report_fmt "${R_MED[$key]}")	$(report_fmt "${R_MIN[$key]}")-$(report_fmt "${R_MAX[$key]}")	${R_N[$key]}	${R_UNIT[$key]}")
            fi
        done
    done
    while IFS=$'\t' read -r wl num den op thr what; do
        t1=$(report_tool_short "$num")
        if [ "$den" = - ]; then
            label="$(report_wl_short "$wl"): $t1"
        else
            t2=$(report_tool_short "$den")
            label="$(report_wl_short "$wl"): $t1 / $t2"
        fi
        [ "$what" != - ] || what=
        ratio=
        verdict=
        if [ "$op" = served ]; then
            if [ -n "${R_MED[$wl/$num]:-}" ]; then
                ratio="$(report_fmt "${R_MED[$wl/$num]}") ${R_UNIT[$wl/$num]}"
                verdict=MET
            elif report_ran idle; then
                verdict=MISSED
            fi
        elif [ -z "${R_MED[$wl/$num]:-}" ] ||
            { [ "$den" != - ] && [ -z "${R_MED[$wl/$den]:-}" ]; }; then
            verdict="not run"
        else
            if [ "$den" = - ]; then
                ratio=${R_MED[$wl/$num]}
            else
                ratio=$(awk -v a="${R_MED[$wl/$num]}" -v b="${R_MED[$wl/$den]}" \
                    'BEGIN { if (b > 0) printf "%.6g", a / b; else print "inf" }')
            fi
            case $op in
            le | ge)
                if awk -v r="$ratio" -v t="$thr" -v op="$op" \
                    'BEGIN { exit !((op == "le" && r <= t) || (op == "ge" && r >= t)) }'; then
                    verdict=MET
                else
                    verdict=MISSED
                fi
                ;;
            *) verdict=- ;;
            esac
            if [ "$wl" = small-get ] && [ "$verdict" != - ]; then
                if awk -v r="$ratio" 'BEGIN { exit !(r >= 2) }'; then
                    verdict="$verdict (stretch 2 x: MET)"
                else
                    verdict="$verdict (stretch 2 x: MISSED)"
                fi
            fi
            ratio=$(report_fmt "$ratio")
            [ "$den" != - ] || ratio="$ratio ${R_UNIT[$wl/$num]}"
        fi
        [ -n "$verdict" ] || verdict="not run"
        case $verdict in
        MET*) REPORT_MET=$((REPORT_MET + 1)) ;;
        MISSED*) REPORT_MISSED=$((REPORT_MISSED + 1)) ;;
        esac
        REPORT_RATIOS+=("$label	${ratio:--}	${what:--}	$verdict")
    done <<<"$REPORT_TARGETS"
}

# report_ran WORKLOAD: some sample of WORKLOAD was recorded.
report_ran() {
    local k
    for k in "${!R_MED[@]}"; do
        case $k in "$1"*) return 0 ;; esac
    done
    return 1
}

# report_notrun: one line per tool that did not run, and why.
report_notrun() {
    local k
    for k in "${!NOTRUN[@]}"; do
        printf '%s: %s\n' "$k" "${NOTRUN[$k]}"
    done | sort
    for k in "${!DISABLED[@]}"; do
        printf '%s: failed during the run (see the output); dropped from later steps\n' "$k"
    done | sort
}

report_text() {
    local r
    printf '%s\n' "${REPORT_ROWS[@]+"${REPORT_ROWS[@]}"}" | awk -F '\t' '
        BEGIN { printf "%-36s %-36s %9s %-19s %2s  %s\n", "workload", "tool", "median", "min-max", "n", "unit"
                printf "%-36s %-36s %9s %-19s %2s  %s\n", "--------", "----", "------", "-------", "-", "----" }
        NF { printf "%-36s %-36s %9s %-19s %2s  %s\n", $1, $2, $3, $4, $5, $6 }'
    echo
    printf '%s\n' "${REPORT_RATIOS[@]}" | awk -F '\t' '
        BEGIN { printf "%-44s %10s  %-44s %s\n", "ratio (medians)", "value", "target (issue 6)", "verdict"
                printf "%-44s %10s  %-44s %s\n", "---------------", "-----", "----------------", "-------" }
        NF { printf "%-44s %10s  %-44s %s\n", $1, $2, $3, $4 }'
    echo
    printf 'targets: %d MET, %d MISSED\n' "$REPORT_MET" "$REPORT_MISSED"
    printf 'TLS path: %s\n' "$TLS_PATH"
    r=$(report_notrun)
    if [ -n "$r" ]; then
        printf 'not run:\n'
        printf '%s\n' "$r" | sed 's/^/  /'
    fi
}

# report_cpu_clock: how the server CPU figures were read (CPU_CLOCK, set by
# run.sh).
report_cpu_clock() {
    if [ "${CPU_CLOCK:-ticks}" = schedstat ]; then
        printf '%s\n    %s\n    %s' \
            "Read from /proc/PID/task/TID/schedstat, the scheduler's sum of" \
            "run time in nanoseconds; a sample during which the set of threads" \
            "changed is dropped."
    else
        printf '%s\n    %s' \
            "Read from /proc/PID/stat as utime + stime, in clock ticks of" \
            "1/$(getconf CLK_TCK) s (this kernel has no schedstat)."
    fi
}

# report_steal: the share of the CPUs' time the host took from this VM
# since the run started (steal time): a busy neighbour slows every tool,
# and the share says how much of that a run had.
report_steal() {
    local s0 t0 s1 t1
    read -r s0 t0 _ <<<"${START_TICKS:-}"
    read -r s1 t1 _ <<<"$(cpu_ticks)"
    if [ -z "${t0:-}" ] || [ -z "${t1:-}" ] || [ "$t1" -le "$t0" ]; then
        echo "not known (no /proc/stat)"
        return
    fi
    awk -v s="$((s1 - s0))" -v t="$((t1 - t0))" \
        'BEGIN { printf "%.1f %% of the CPUs'"'"' time during the run (steal, /proc/stat)\n", 100 * s / t }'
}

# report_reporting: free page reporting, when the kernel has it: memory
# freed in the guest is handed back to the host and faults on the host at
# its next first touch (docs/benchmarks.md, "The big get").
report_reporting() {
    local d=/sys/module/page_reporting/parameters order minfree
    if [ ! -r "$d/page_reporting_order" ]; then
        echo "none"
        return
    fi
    order=$(cat "$d/page_reporting_order" 2>/dev/null || echo "?")
    minfree=$(cat "$d/min_free_ms" 2>/dev/null || echo "")
    printf 'on (page_reporting_order %s%s): freed memory goes back to the host\n' \
        "$order" "${minfree:+, min_free_ms $minfree}"
}

# report_wake: what waking a sleeping thread cost in this run (nd_ref
# wake, run.sh's WAKE): the reactor's hand-off of a request to a worker.
report_wake() {
    local two one free apart
    read -r _ two one free apart <<<"${WAKE:-}"
    if [ -z "${apart:-}" ]; then
        echo "not measured"
        return
    fi
    if [ "$two" = - ]; then
        two="(not measured on two CPUs: this process may use one)"
    else
        two="$two us on two CPUs,"
    fi
    # shellcheck disable=SC2016 # the backquotes are Markdown's.
    printf '%s %s us on one, %s us where the scheduler put the threads (on two CPUs for %s %% of the second thread'"'"'s wake-ups) (`nd_ref wake`, through the task queue the reactor hands requests to workers with)\n' \
        "$two" "$one" "$free" "$apart"
}

# report_idle: how an idle CPU waits for work.  With guest halt polling
# off, an idle vCPU halts at once and the host must wake it again: what
# report_wake's figure across CPUs pays.
report_idle() {
    local d=/sys/devices/system/cpu/cpuidle drv gov poll
    drv=$(cat "$d/current_driver" 2>/dev/null || echo none)
    gov=$(cat "$d/current_governor" 2>/dev/null ||
        cat "$d/current_governor_ro" 2>/dev/null || echo none)
    poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns 2>/dev/null || true)
    case $poll in
    "") poll= ;;
    0) poll=", guest halt polling off (guest_halt_poll_ns 0)" ;;
    *) poll=", guest halt polling up to $poll ns" ;;
    esac
    printf 'cpuidle driver %s, governor %s%s\n' "$drv" "$gov" "$poll"
}

# report_pkg PACKAGE: its installed version, or "not installed".
report_pkg() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"
}

report_markdown() {
    local mem fs commit r
    mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    fs=$(df -PT "$W" | awk 'NR == 2 { print $2 " (" $1 ", mounted on " $7 ")" }')
    commit=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$SRCDIR" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit (with uncommitted changes)"
    fi
    # shellcheck disable=SC2016 # backquotes are Markdown here.
    printf '_Written by `make bench` (test/bench/run.sh) on %s, commit %s: %d of %d round(s), %d with every workload. Everything between the bench markers is rewritten by the next run; the rest of this file is kept._\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$commit" "$ROUNDS_RUN" "$ROUNDS" \
        "$FULL_ROUNDS"
    printf '## Results\n\n'
    printf '| workload | tool | median | min-max | n | unit |\n|---|---|---:|---|---:|---|\n'
    printf '%s\n' "${REPORT_ROWS[@]+"${REPORT_ROWS[@]}"}" |
        awk -F '\t' 'NF { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
    printf '\n## Ratios against the targets of issue 6\n\n'
    printf 'Ratios of medians, netdisk first: below 1 means netdisk took less time (s/GiB, ms/file) or, for rates (files/s, MiB/s), moved less.\n\n'
    printf '| ratio | value | target | verdict |\n|---|---:|---|---|\n'
    printf '%s\n' "${REPORT_RATIOS[@]}" |
        awk -F '\t' 'NF { printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
    printf '\n%d targets MET, %d MISSED. TLS path: %s.\n' "$REPORT_MET" \
        "$REPORT_MISSED" "$TLS_PATH"
    r=$(report_notrun)
    if [ -n "$r" ]; then
        printf '\nNot run:\n\n'
        printf '%s\n' "$r" | sed 's/^/- /'
    fi
    printf '\n![seconds per GiB of a verified get and put, by tool](benchmarks.png)\n'
    cat <<EOF

## Method

- Everything runs on this one machine over 127.0.0.1: netdiskd (${WORKERS}
  workers, \`log_level = "info"\`, the same storage for a second daemon with
  \`tls = "required"\` and a throw-away CA), and each peer started by the
  benchmark on a free loopback port with a throw-away configuration
  (test/bench/peers.sh), serving its own directory of hard links to the
  same source files. Each big source is itself a hard link to the
  daemon's uploaded copy, so the page cache holds one copy of each.
- Rounds: ${ROUNDS_RUN} (of ${ROUNDS} asked), ${FULL_ROUNDS} of them with
  every workload; when the 10-minute bound leaves too little time, the
  later rounds measure only the big file's get and put (column n). In
  every round each workload runs once per tool (the session per file
  ${CONN_REPS} times and the concurrent gets ${CONC_REPS} times, each run
  a sample), one tool after the other (netdisk, nginx, vsftpd, rsync,
  scp, the limits, netdisk over TLS; in even rounds, and for each further
  run, the other way round, so that no tool always comes first after a
  step that leaves the machine busy; the concurrent gets take turns
  instead, below), so that a slow moment of the
  machine falls on every tool alike. Reported: the median over all the
  samples and their range. The server CPU figure comes
  from the rounds' gets of the big file from netdiskd and nginx, plus more
  gets up to ${CPU_GETS} per server as time allows; the idle sessions are
  measured once, after round 1.
- Times are wall-clock (\`\$EPOCHREALTIME\` around the command), normalised
  to seconds per GiB for the big file ($(size_label "$SIZE_MB"), random
  bytes, in the page cache).
- Before every timed run, for every tool, the files it reads (the big
  source, the small files, the concurrent gets' files) are read into the
  page cache, untimed: a DAMON pageout scheme on these machines drops
  file pages idle for a minute, a few percent at a time and scattered,
  and whichever tool read a source first after that paid for its misses
  (a 1 GiB file missing 35 MiB of its pages took 0.84 s to read instead
  of 0.15 s).
- Before every timed run that writes a large new file (every get and every
  put, for every tool), the previous output is deleted, \`sync\` runs (so
  that no writeback left by the step before, a put leaves 1 GiB dirty,
  competes with the timed run), and then an untimed scratch file of the
  same size is written with \`dd bs=1M\` from /dev/zero and deleted in the
  same filesystem, right before the timed command: on these machines
  memory left free for a while costs a host fault on first touch (issue
  6), the sync must come first, or the pages the scratch file freed sit
  idle while it runs, and the scratch file must be written in large
  units, or its freed pages do not serve a writer of large units (see the
  analysis). Before the concurrent gets the scratch file is larger than
  their files by ${CONC_PROC_MB} MiB for each of the ${CONC} processes,
  for every tool alike: it covers the memory of a tool that runs a
  process per get, which otherwise paid the host's first touch for it.
- The small-file gets (every tool) write their ${SMALL_N} files to a tmpfs
  (/dev/shm) when there is one, and each sample's files are deleted once
  checked. On this ext4 without a journal a create walks past every inode
  deleted in its block group in the last 60-360 s, by anyone (a test run
  before the benchmark deletes tens of thousands): by hand a create cost
  from 50 us to 1.1 ms a file, for either client, against 11-13 us on
  tmpfs, so a session-per-file sample on the disk measured the file
  system's last minutes more than the tools (see the analysis). The
  daemon's store and every other output stay in the work directory, and
  the small-file outputs that must go there are moved aside, not deleted.
- Every result is checked outside the timing: \`cmp\` of the landed file
  against the source, \`diff -r\` of the small and concurrent files, and the
  digest that md5sum or nd_ref printed against the source's. A wrong result
  aborts the run.
- The commands, as a careful user verifies a transfer today:
  - netdisk: \`netdisk get big.bin OUT\` and \`netdisk put SRC put.bin\`
    (the client checks the MD5 end to end; the server fsyncs before it
    answers a put).
  - nginx 1 worker per core, \`sendfile on\`, keep-alive, \`access_log
    off\`: \`curl -o OUT http://.../big.bin && md5sum OUT\`.
  - vsftpd (anonymous, standalone, passive on loopback, sendfile):
    \`curl -o OUT ftp://.../big.bin && md5sum OUT\`; put: \`md5sum SRC &&
    curl -T SRC ftp://.../up/put.bin\` (all FTP lets a user check).
  - rsync daemon: \`rsync --cc=md5 rsync://.../data/big.bin OUT\` and
    \`rsync --cc=md5 SRC rsync://.../data/up/put.bin\` (both ends hash
    in-stream; rsync does not fsync).
  - sshd (SFTP subsystem, scp's default): \`scp -c aes128-gcm@openssh.com
    HOST:SRC OUT && md5sum OUT\`; put: \`md5sum SRC && scp -c ... SRC HOST:DEST\`.
  - Limits: \`nd_ref md5 FILE\` (one core hashing the file), \`nd_ref get
    FILE OUT\` and \`nd_ref put FILE DIR [--sync]\` (two-process reference
    pipelines: the best a verified transfer can do on this machine); their
    own printed seconds are used. Once, before the rounds, \`nd_ref wake
    ${WAKE_N}\`: two threads hand a token back and forth through the
    daemon's task queue (\`nd_queue\`), as the reactor hands a request to
    a worker, on two CPUs, on one, and where the scheduler puts them
    (Machine).
  - Small files (${SMALL_N} x 4 KiB): \`netdisk get small/f0000 ...
    small/fNNNN DIR\` (one login; the client pipelines its GETs) against
    one curl process fetching every
    URL over one keep-alive connection (\`curl --config LIST\`); a session
    per file: \`nd_load --churn ${SMALL_N} --churn-size 4096 --churn-out
    DIR\` (a connection and a login per get, each file written to DIR as
    curl writes its own; each login with the resumption ticket the
    connection before got, one round trip, and in the row beside with
    \`--churn-login scram\`, two) against the same curl with \`-H
    'Connection: close'\`, ${CONN_REPS} interleaved runs of each a round,
    each a sample; puts,
    first in the round (they land the files its gets read): \`netdisk put
    f... small/\` (one login, an fsync per file) against one \`curl
    --config\` uploading to vsftpd, and against \`nd_ref small DIR
    ${SMALL_N} 4096 [--sync]\` (the files landed as the daemon lands an
    upload, temporary file, write, rename, with and without its
    fdatasync of the file and fsync of the directory: the difference is
    what the syncs cost per file), each after an untimed \`sync\` (so
    that no earlier write is still being flushed); and the same puts with
    a session each, \`nd_load --churn ${SMALL_N} --churn-size 4096
    --churn-op put\` (a connection, a ticket login and a put per file,
    each OK checked against the bytes sent, every file got back and
    compared afterwards, untimed), once a round; no peer is run
    beside it. Rates are files over wall time.
  - Concurrency: ${CONC} \`netdisk get\` processes at once (each verifies
    its ${CONC_MB} MiB file) against \`curl --parallel --parallel-immediate
    --parallel-max ${CONC}\` from nginx (not verified), and their limit,
    ${CONC} \`nd_ref get\` at once (each a server child that sendfile()s
    and a client that hashes on a second thread, with no protocol, login
    or store; each digest checked): all bytes over the wall time;
    ${CONC_REPS} runs of each a round, each a sample. The three take turns
    in the six orders they can run in, one after the other across the
    rounds: over six runs of each, with all three up, each comes first,
    second and third twice and follows each of the others twice. Around
    each run the whole machine's busy CPU time is read
    from /proc/stat (user, nice, system, irq and softirq ticks of every
    CPU), per GiB moved: both ends of every transfer, and anything else
    the machine did meanwhile.
  - Server CPU: the run time of every thread of netdiskd's pool process,
    and of nginx's workers, around each get of the big file, in seconds
    per GiB served.
    $(report_cpu_clock)
  - Idle: \`nd_load --idle ${IDLE_SECS} --sessions ${IDLE}\` holds logged-in
    sessions and samples the pool process's RSS and descriptors; while
    they are held, one \`netdisk get\` of a small file is timed.
  - TLS: the same get and put against the TLS daemon (\`--tls --cacert\`),
    interleaved with the others; the ratio to plaintext is reported.

## Machine

- CPU: $(nproc) x $(awk -F ': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
- Memory: ${mem}; free page reporting: $(report_reporting)
- Taken by the host: $(report_steal)
- Waking a sleeping thread: $(report_wake)
- Idle CPUs: $(report_idle)
- Kernel: $(uname -r)
- Work directory filesystem: ${fs}
- Small-file gets write to: $(if [ "$OUTS_TMPFS" = 1 ]; then echo "tmpfs (/dev/shm)"; else echo "the work directory"; fi)
- Packages: nginx-light $(report_pkg nginx-light), vsftpd $(report_pkg vsftpd),
  rsync $(report_pkg rsync), openssh-server $(report_pkg openssh-server),
  curl $(report_pkg curl), openssl $(report_pkg openssl), libssl3
  $(report_pkg libssl3)
- Built: $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || echo "?") build type, sanitizers: $(sed -n 's/^ND_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null | grep . || echo none)
EOF
}

# report_chart PNG: grouped bars, seconds per GiB of the verified get and
# put, by tool.
report_chart() {
    local png=$1 dat=$W/chart.dat tool g p term
    {
        for tool in netdisk netdisk-tls ref-md5 ref-get ref-put-sync ref-put \
            nginx vsftpd rsync scp; do
            g=${R_MED[get/$tool]:--}
            p=${R_MED[put/$tool]:--}
            [ "$g" != - ] || [ "$p" != - ] || continue
            case $tool in
            netdisk) label="netdisk" ;;
            netdisk-tls) label="netdisk TLS" ;;
            ref-md5) label="MD5 1 core" ;;
            ref-get) label="ref get" ;;
            ref-put-sync) label="ref put sync" ;;
            ref-put) label="ref put" ;;
            nginx) label="nginx+md5sum" ;;
            vsftpd) label="vsftpd+md5sum" ;;
            rsync) label="rsync --cc=md5" ;;
            scp) label="scp+md5sum" ;;
            esac
            printf '"%s"\t%s\t%s\n' "$label" "$g" "$p"
        done
    } >"$dat"
    if gnuplot -e 'set terminal pngcairo' -e 'exit' >/dev/null 2>&1; then
        term="pngcairo size 960,480 font 'sans,10'"
    else
        term="png size 960,480"
    fi
    gnuplot <<EOF
set terminal $term
set output '$png'
set termoption noenhanced
set datafile separator "\t"
set datafile missing "-"
set title "Verified transfer of $(size_label "$SIZE_MB"), seconds per GiB (median of $ROUNDS_RUN round(s); lower is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set ylabel "s/GiB"
set grid ytics
set key top left
set xtics rotate by 30 right nomirror
plot '$dat' using 2:xtic(1) title "get", '' using 3 title "put"
EOF
}

# report_docs FILE BODY: writes BODY between the bench markers of FILE,
# keeping the rest; makes FILE with the markers when it is missing.
report_docs() {
    local f=$1 body=$2
    if [ ! -f "$f" ] || ! grep -q '^<!-- bench:begin -->$' "$f" ||
        ! grep -q '^<!-- bench:end -->$' "$f"; then
        if [ -f "$f" ]; then
            # A file without the markers: keep it all, below the figures.
            cp "$f" "$f.orig"
        fi
        {
            printf '# Benchmarks\n\n'
            printf '<!-- bench:begin -->\n<!-- bench:end -->\n\n'
            printf '## Analysis\n\n'
            # shellcheck disable=SC2016
            printf '_Kept across runs of `make bench`: only the part between the bench markers above is rewritten._\n'
            if [ -f "$f.orig" ]; then
                printf '\n'
                cat "$f.orig"
            fi
        } >"$f.new"
        rm -f "$f.orig"
        mv "$f.new" "$f"
    fi
    awk -v body="$body" '
        $0 == "<!-- bench:begin -->" {
            print
            print ""
            while ((getline line < body) > 0)
                print line
            print ""
            skip = 1
            next
        }
        $0 == "<!-- bench:end -->" { skip = 0 }
        !skip { print }' "$f" >"$f.new" && mv "$f.new" "$f"
}
