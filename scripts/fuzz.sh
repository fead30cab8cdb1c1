#!/bin/bash
# Builds the libFuzzer targets of test/fuzz with clang (AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage) into build-fuzz, then
# runs each one after the other for FUZZ_SECONDS (default 60) on a scratch
# copy of its seed corpus, so the checked-in corpus never grows.  Prints per
# target the executions done and the corpus size, then a total, and exits
# non-zero if any target crashed, leaked, timed out, broke an invariant or
# got a sanitizer report.  The input that did it is kept in
# build-fuzz/artifacts/RUN/, and the command that replays it is printed.
#
#   scripts/fuzz.sh                     fuzz every target (make fuzz)
#   scripts/fuzz.sh TARGET FILE...      replay inputs on one target, e.g.
#                                       scripts/fuzz.sh config crash-1234
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (a space-separated
# subset of proto path scram config), FUZZ_BUILD (a build-fuzz* directory).
set -euo pipefail

# Inputs to replay are named relative to where the caller stands.
replay=()
if [ $# -gt 1 ]; then
    replay=("$1")
    shift
    for f in "$@"; do
        replay+=("$(realpath -e -- "$f")")
    done
elif [ $# -eq 1 ]; then
    echo "usage: scripts/fuzz.sh [TARGET FILE...]" >&2
    exit 2
fi
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
src=test/fuzz

case $seconds in
'' | *[!0-9]*)
    echo "fuzz: FUZZ_SECONDS must be a whole number of seconds" >&2
    exit 2
    ;;
esac

# clang and its runtime (libFuzzer, ASan, UBSan live in libclang-rt-dev,
# which clang only recommends) and llvm-symbolizer (package llvm) for
# readable stack traces; install-deps.sh installs those that are missing.
install_clang() {
    scripts/install-deps.sh clang libclang-rt-dev llvm
}

build_fuzzers() {
    if [ ! -f "$build/CMakeCache.txt" ]; then
        # BUILD_TESTING=OFF: the Check suites are the gcc build's business;
        # this tree holds nd_common and the fuzzers only.
        cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
            -DND_SANITIZE=address,undefined -DND_FUZZ=ON >/dev/null
    fi
    cmake --build "$build" --target fuzz_all -j "$(nproc 2>/dev/null || echo 2)"
}

install_clang
build_fuzzers

# Every sanitizer report ends the run with a non-zero exit: UBSan is built
# with -fno-sanitize-recover=all (ND_SANITIZE) and told again here.
export ASAN_OPTIONS=detect_leaks=1:symbolize=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS="suppressions=$PWD/$src/lsan.supp:print_suppressions=0"

# The fuzzers' temporary files (fuzz_path's tree, fuzz_config's input
# file) go under the scratch directory, so a crash leaves nothing in /tmp.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/nd-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/tmp"
export TMPDIR=$scratch/tmp

# Replaying inputs: libFuzzer runs each file once and reports.
if [ ${#replay[@]} -gt 0 ]; then
    rc=0
    "$build/test/fuzz/fuzz_${replay[0]}" -detect_leaks=1 "${replay[@]:1}" ||
        rc=$?
    exit "$rc"
fi

if [ -n "${FUZZ_TARGETS:-}" ]; then
    targets=$FUZZ_TARGETS
else
    targets=$(for f in "$src"/fuzz_*.c; do basename "$f" .c; done |
        sed 's/^fuzz_//')
fi
# Where this run keeps what made a target fail.
artifacts=$build/artifacts/$(date +%Y%m%d-%H%M%S)

total=0
passed=0
failed=0
for t in $targets; do
    bin=$build/test/fuzz/fuzz_$t
    work=$scratch/corpus/$t
    log=$scratch/$t.log
    mkdir -p "$work" "$artifacts"
    seeds=0
    if [ -d "$src/corpus/$t" ]; then
        cp "$src/corpus/$t"/* "$work"/
        seeds=$(find "$work" -type f | wc -l)
    fi
    args=(-max_total_time="$seconds" -print_final_stats=1 -detect_leaks=1
        -timeout=10 -rss_limit_mb=2048 -print_funcs=0
        -artifact_prefix="$artifacts/fuzz_$t-")
    if [ -f "$src/$t.dict" ]; then
        args+=(-dict="$src/$t.dict")
    fi
    echo "fuzz: running fuzz_$t for ${seconds}s on $seeds seeds"
    rc=0
    "$bin" "${args[@]}" "$work" >"$log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(sed -n 's/.*DONE *cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
    size=$(find "$work" -type f | wc -l)
    total=$((total + ${execs:-0}))
    printf 'fuzz_%-8s executions %10s (%s/s)  corpus %5s (%s seeds)  cov %s\n' \
        "$t" "${execs:-?}" "${rate:-?}" "$size" "$seeds" "${cov:-?}"
    # libFuzzer exits 0 only when no input crashed, leaked or timed out;
    # the log must also hold its final stats, or it died some other way.
    if [ "$rc" -ne 0 ] || [ -z "$execs" ] ||
        grep -q -E '^(==[0-9]+==ERROR|SUMMARY: )|runtime error:' "$log"; then
        failed=$((failed + 1))
        echo "fuzz: fuzz_$t FAILED (exit $rc); the end of its log:" >&2
        tail -n 60 "$log" >&2
        for a in "$artifacts"/fuzz_"$t"-*; do
            if [ -f "$a" ]; then
                echo "fuzz: replay with: scripts/fuzz.sh $t $a" >&2
            fi
        done
    else
        passed=$((passed + 1))
    fi
done
printf 'fuzz: total executions %s\n' "$total"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
