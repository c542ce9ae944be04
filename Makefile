# A thin wrapper around CMake (CMakeLists.txt) and the test runner (scripts/run-tests.sh).
#
#   make / make build   configure and build Release into build/
#   make test           install missing packages, then build and run every test (build/,
#                       build-asan/, build-fuzz/); ends with "N passed, N failed"
#   make run            build and start the node in dev mode with a demo client, build/lxdexd
#                       (RUN_ARGS=..., default --demo); Ctrl-C stops it
#   make bench          build and run build/lxdex-bench (BENCH_ARGS=...)
#   make fuzz           build build-fuzz/ with clang and run each fuzzer FUZZ_SECONDS (600) seconds
#   make format         clang-format every C source in place
#   make clean          remove every build directory

BUILD_DIR    ?= build
BUILD_TYPE   ?= Release
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 600
BENCH_ARGS   ?=

FORMAT_DIRS := include src tests bench fuzz tools

# cmake --build runs make underneath: keep it from announcing every directory.
MAKEFLAGS += --no-print-directory

.PHONY: all build test run bench fuzz format clean

all: build

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) --parallel $(JOBS)

test:
	scripts/install-deps.sh
	scripts/run-tests.sh

# The node in dev mode from the embedded config (data in build/dev-data), with the demo client
# trading on every market; RUN_ARGS replaces "--demo" (e.g. RUN_ARGS="--config node.yaml").
RUN_ARGS ?= --demo
run: build
	@if [ -x $(BUILD_DIR)/lxdexd ]; then \
		exec $(BUILD_DIR)/lxdexd $(RUN_ARGS); \
	else \
		echo "make run: the node ($(BUILD_DIR)/lxdexd, from tools/lxdexd/) is not built yet" >&2; \
		exit 1; \
	fi

bench: build
	@if [ -x $(BUILD_DIR)/lxdex-bench ]; then \
		$(BUILD_DIR)/lxdex-bench $(BENCH_ARGS); \
	else \
		echo "make bench: $(BUILD_DIR)/lxdex-bench is not built (no bench/*.c yet)" >&2; \
		exit 1; \
	fi

fuzz:
	FUZZ_TEST_SECONDS=$(FUZZ_SECONDS) scripts/run-tests.sh fuzz

format:
	@find $(FORMAT_DIRS) -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) 2>/dev/null \
		| xargs -r clang-format -i

clean:
	rm -rf build build-asan build-fuzz $(filter-out build,$(BUILD_DIR))
