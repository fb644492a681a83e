# The front door. `make run` runs the main job, `make test` runs every test; both install what they need.
# The compiler is clang 16 unless CC/CXX say otherwise (CMakeLists.txt says why); a build directory keeps
# the compiler it was first configured with (`make clean` to switch).
JOBS ?= $(shell nproc)
CMAKE_GEN = -G Ninja
FUZZ_SECONDS ?= 30
BUILD_TYPE ?= Release

.PHONY: all build deps run test unit e2e asan tsan bench fuzz lint layers format clean

all: build

deps:
	@scripts/deps.sh

build/build.ninja:
	cmake -S . -B build $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

# A build directory first configured by `make run` (without tests, benchmarks and LTO) gets them back here.
build: build/build.ninja
	@if grep -q '^WAITLESS_TESTS:BOOL=OFF' build/CMakeCache.txt; then \
	  cmake -S . -B build -DWAITLESS_TESTS=ON -DWAITLESS_BENCH=ON -DWAITLESS_LTO=ON >/dev/null; fi
	cmake --build build -j $(JOBS)

# The demo (apps/demo): installs only what running needs, builds only the `waitless` command, serves on
# http://127.0.0.1:$${PORT:-8080} until Ctrl-C. The lab: `./build/waitless lab` (or `lab --quick`).
# Without link-time optimisation, to answer sooner on a fresh clone (the command's ThinLTO link alone took
# 29 s); `make build` turns it back on before tests and benchmarks.
run:
	@DEPS=run scripts/deps.sh
	@test -f build/build.ninja || cmake -S . -B build $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DWAITLESS_TESTS=OFF -DWAITLESS_BENCH=OFF -DWAITLESS_LTO=OFF
	cmake --build build -j $(JOBS) --target waitless_cmd
	./build/waitless demo --port $${PORT:-8080}

# Everything CI runs: Release unit tests, end-to-end tests (incl. the adversarial corpus and zero-loss
# shutdown; two scripts at a time), unit and end-to-end tests again under ASan+UBSan, the threaded ones
# under TSan, each fuzz target 20 s from its committed corpus (CI's whole run must stay under 30 minutes on
# two cores: a cold run of this took 30 min with 30 s per target and the e2e scripts one at a time;
# `make fuzz` alone still gives each 30 s).
test: layers deps build
	cd build && ctest --output-on-failure -j $(JOBS) -L unit
	tests/run_e2e.sh build
	$(MAKE) asan
	$(MAKE) tsan
	$(MAKE) fuzz FUZZ_SECONDS=20

unit: build
	cd build && ctest --output-on-failure -j $(JOBS) -L unit

e2e: build
	tests/run_e2e.sh build

reliability: build
	tests/reliability/run.sh build

# The sanitized build is also the fuzz build (one build of the library, not two): clang 16 whatever
# CC/CXX say, since libFuzzer needs clang, with libFuzzer's coverage on every object (a few % slower
# tests). Line tables only: sanitizer reports need file:line, not full debug info (a third less to
# compile and link).
build-asan/build.ninja:
	CC=clang-16 CXX=clang++-16 cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG='-gline-tables-only -O1' -DCMAKE_C_FLAGS_DEBUG='-gline-tables-only -O1' \
	  -DWAITLESS_SANITIZE=address,undefined -DWAITLESS_FUZZ=ON -DWAITLESS_BENCH=OFF

# The tests that exhaust file descriptors on purpose run apart (scripts/asan_fd_exhaustion.sh says why);
# every other test runs with every check on and halts on the first report, in GoogleTest shards rather
# than a process per test (scripts/run_unit_shards.sh: 45 s instead of 146 s, most of it process start-up).
FD_EXHAUSTION_TESTS = Emfile|OutOfDescriptors
FD_EXHAUSTION_FILTER = -*Emfile*:*OutOfDescriptors*
UNIT_SHARDS ?= 6
# Then the end-to-end suites against the sanitized `waitless` binary and test server: a sanitizer report
# aborts the server, which the suites see as a dropped connection or a failed check.
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan: build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)
	$(ASAN_ENV) scripts/run_unit_shards.sh build-asan $(UNIT_SHARDS) '$(FD_EXHAUSTION_FILTER)'
	scripts/asan_fd_exhaustion.sh build-asan '$(FD_EXHAUSTION_TESTS)'
	$(ASAN_ENV) tests/run_e2e.sh build-asan

build-tsan/build.ninja:
	cmake -S . -B build-tsan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_CXX_FLAGS_DEBUG='-gline-tables-only -O1' -DCMAKE_C_FLAGS_DEBUG='-gline-tables-only -O1' \
	  -DWAITLESS_SANITIZE=thread -DWAITLESS_BENCH=OFF

# The tests whose subject is threads (CMakeLists.txt lists their files: under TSan the test binary holds
# only those): pools, cross-thread post, multi-loop servers, the watchdog; and the threads outside the
# pools: child processes (the reaper), the fs pool and file streams, signals, and the HTTP tests that serve
# on one thread while a client runs on another. TSAN_FILTER narrows the run (a ctest -R regex).
TSAN_FILTER ?= .
tsan: build-tsan/build.ninja
	cmake --build build-tsan -j $(JOBS) --target unit_tests
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j $(JOBS) -L unit -R '$(TSAN_FILTER)'

bench: deps build
	WITH_NPM=1 scripts/deps.sh
	bench/run_all.sh build

# Each fuzz target (built by the sanitized build above, ASan + UBSan + libFuzzer) for FUZZ_SECONDS, JOBS
# targets at a time.
fuzz: deps build-asan/build.ninja
	cmake --build build-asan -j $(JOBS)
	fuzz/run_all.sh build-asan $(FUZZ_SECONDS) $(JOBS)

# Every #include under waitless/ against the layer order of README.md's "Layout" section (a second or
# so), after a self-test of the checker on small trees with good and bad includes.
layers:
	scripts/check_layers_test.py
	scripts/check_layers.py

lint: layers
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
	git ls-files 'waitless/*.cpp' | grep -v _test.cpp | xargs clang-tidy -p build --quiet

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-asan build-tsan build-fuzz  # build-fuzz: the fuzz build of earlier trees
