# A thin wrapper around CMake: every target sets up what it needs first.
BUILD    ?= build
CONF     ?= conf/netdiskd.conf
CMAKE_ARGS ?=
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test load bench asan tsan fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Starts the daemon in the foreground on the default configuration.
# scripts/make-root.sh first makes what the config needs: as root, the
# system account netdisk and /var/lib/netdisk (the daemon creates the
# storage root files/ inside it); as anyone else, /var/lib/netdisk through
# sudo.
run: build
	@scripts/make-root.sh $(CONF)
	$(BUILD)/netdiskd -c $(CONF)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# Load test: 500 concurrent logged-in sessions of verified puts, gets,
# lists and stats against a throw-away daemon, two phases of 60 s; checks
# for failed requests, descriptor leaks and RSS growth.  LOAD_SESSIONS,
# LOAD_SECONDS and more: see test/load/run.sh.
load: build
	test/load/run.sh $(BUILD)

# Benchmark (issue 6): netdisk against nginx, vsftpd, rsync and scp on
# loopback, and against its own limits (one-core MD5, test/bench/nd_ref),
# interleaved over rounds; prints medians and ratios against the targets
# and writes docs/benchmarks.md and docs/benchmarks.png.  Installs the
# peers' packages when missing; bounded to 10 minutes.  BENCH_ROUNDS,
# BENCH_SIZE_MB and more: see test/bench/run.sh.
bench: build
	test/bench/run.sh $(BUILD)

asan:
	$(MAKE) test BUILD=build-asan CMAKE_ARGS="-DND_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DND_WERROR=ON"

tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_ARGS="-DND_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug -DND_WERROR=ON"

# libFuzzer: builds test/fuzz with clang into build-fuzz and runs each target
# for FUZZ_SECONDS (scripts/fuzz.sh; make fuzz FUZZ_SECONDS=10 for a quick run).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-fuzz
