# A thin wrapper around CMake: every target sets up what it needs first.
BUILD    ?= build
CONF     ?= conf/netdiskd.conf
CMAKE_ARGS ?=
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test asan tsan install clean

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

asan:
	$(MAKE) test BUILD=build-asan CMAKE_ARGS="-DND_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug -DND_WERROR=ON"

tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_ARGS="-DND_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug -DND_WERROR=ON"

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan
