# haravan-crm: a thin driver over CMake and the stack script. See README.md.
#
#   make run     build, then start the whole stack under var/ on 127.0.0.1:$(PORT)
#   make stop    stop it
#   make check   the unit tests alone (normal build): no root, no servers, seconds
#   make test    unit and integration tests, normal and sanitizer builds, then
#                the settings page in headless Chromium (tests/e2e)
#   make bench   the intake benchmark (docs/PERFORMANCE.md)
#   make bench-processing   the processing benchmark (docs/PERFORMANCE.md)
#   make bench-burst        20,000 deliveries at once: answered, stored, drained
#   make bench-import       the historical import against the rate limit (issue #11)
#   make soak    faults under load, a minute each, invariants checked (docs/RELIABILITY.md)
#   make fuzz    each libFuzzer target for FUZZ_SECONDS (default 60): tests/fuzz
#   make test-valgrind      integration tests with haravan-fcgi under valgrind memcheck
#   (make bench installs its PHP-FPM peer first: deps.sh bench)

BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
PORT       ?= 8080
JOBS       ?= $(shell nproc)

.PHONY: all deps deps-test deps-bench build build-asan run stop check test bench bench-processing \
	bench-burst bench-import soak format clean build-fuzz fuzz test-valgrind

all: build

deps:
	@tests/stack/deps.sh

deps-test:
	@tests/stack/deps.sh test

deps-bench:
	@tests/stack/deps.sh bench

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

build-asan: deps
	@cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DHARAVAN_SANITIZE=ON > /dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS) -- --no-print-directory

# The libFuzzer targets (tests/fuzz): clang, the library instrumented.
build-fuzz: deps-test
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DHARAVAN_FUZZ=ON > /dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) -- --no-print-directory

run: build
	@BUILD=$(CURDIR)/$(BUILD) tests/stack/stack.sh start var $(PORT)
	@echo
	@echo "Next (README, Quick start):"
	@echo "  curl http://127.0.0.1:$(PORT)/api/haravan/health"
	@echo "  export HARAVAN_CONFIG=$(CURDIR)/var/stack.env"
	@echo "  $(BUILD)/haravan-ctl admin password        # then sign in on the settings page:"
	@echo "  settings page:  http://127.0.0.1:$(PORT)/haravan/"
	@echo "  Haravan portal: http://127.0.0.1:$$(sed -n 's/^STACK_SIM_PORT=//p' var/stack.env)/sim/portal   # the simulator's"
	@echo "  $(BUILD)/haravan-ctl events"
	@echo "  make stop"

stop:
	@tests/stack/stack.sh stop var

# The quick loop while changing code: what it runs needs no PostgreSQL, no
# nginx, no browser and no root (ctest's `unit` label, tests/CMakeLists.txt).
check: build
	@cd $(BUILD) && ctest -L unit -j $(JOBS) --output-on-failure

test: deps-test build build-asan build-fuzz
	@BUILD=$(CURDIR)/$(BUILD) BUILD_ASAN=$(CURDIR)/$(BUILD_ASAN) BUILD_FUZZ=$(CURDIR)/$(BUILD_FUZZ) \
		tests/run-tests.sh

fuzz: build-fuzz
	@BUILD_FUZZ=$(CURDIR)/$(BUILD_FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh fuzz

test-valgrind: deps-test build
	@BUILD=$(CURDIR)/$(BUILD) tests/valgrind.sh

bench: deps-bench build
	@BUILD=$(CURDIR)/$(BUILD) tests/bench/run.sh

bench-processing: build
	@BUILD=$(CURDIR)/$(BUILD) tests/bench/processing.sh

bench-burst: build
	@BUILD=$(CURDIR)/$(BUILD) tests/bench/burst.sh

bench-import: build
	@BUILD=$(CURDIR)/$(BUILD) tests/bench/import.sh

soak: build
	@BUILD=$(CURDIR)/$(BUILD) tests/soak/soak.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
