# SPDX-License-Identifier: MIT
# A thin wrapper over the CMake presets in CMakePresets.json.
#   make [build] | test | asan | tsan | fuzz | fuzz-offline | demo | bench [FULL=1] | format | lint
#        | install PREFIX=... | deb | test-kqueue | clean
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
FUZZ_OPS ?= 10000000
FUZZ_BACKEND ?= uring
SOURCES = $(shell find include src tests examples bench fuzz \
	    \( -name '*.[ch]' -o -name '*.[ch]pp' \) 2>/dev/null)

.PHONY: all build deps test asan tsan fuzz fuzz-offline demo bench format lint install deb test-kqueue clean

all: build

deps:
	@scripts/install-deps

build: deps
	cmake --preset default
	cmake --build --preset default -j$(JOBS)

test: build
	ctest --preset default -j2 --output-on-failure

asan: deps
	cmake --preset asan
	cmake --build --preset asan -j$(JOBS)
	UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j2 --output-on-failure

# The whole suite under TSan: threads appear in ring, API and origin cases too.
tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan -j$(JOBS)
	ctest --preset tsan -j2 --output-on-failure

# The libFuzzer targets (clang 14), FUZZ_SECONDS each, from the committed
# corpora (fuzz/run.sh; new inputs go to build/fuzz/corpus, not the tree).
fuzz:
	@scripts/install-deps base fuzz
	cmake --preset fuzz
	cmake --build --preset fuzz -j$(JOBS)
	fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

# The long differential run (fuzz/offline.sh): FUZZ_OPS operations against
# FUZZ_BACKEND (uring; epoll; empty: both), divergences counted, not fatal.
fuzz-offline:
	@scripts/install-deps base fuzz
	cmake --preset fuzz
	cmake --build --preset fuzz -j$(JOBS) -t differential_fuzzer
	fuzz/offline.sh build/fuzz $(FUZZ_OPS) $(FUZZ_BACKEND)

# Only what the demo runs: the library, evserver and evload (not the tests).
demo: deps
	cmake --preset default
	cmake --build --preset default -j$(JOBS) --target evserver evload
	bash scripts/demo.sh build/default

# libkevent against raw epoll, raw io_uring, libevent, libev, libuv, Asio and
# nginx (docs/benchmarks.md): a Release build in build/bench, then the
# runner. Quick mode by default (a few minutes); FULL=1 runs the sweeps.
# BENCH_ARGS passes more options to bench/run.py (--only, --rows,
# --update-docs, --pin split|shared).
bench:
	@scripts/install-deps base bench
	cmake --preset bench
	cmake --build --preset bench -j$(JOBS)
	python3 bench/run.py $(if $(FULL),--full) $(BENCH_ARGS)

format:
	@scripts/install-deps lint
	clang-format -i $(SOURCES)

lint:
	@scripts/install-deps base lint
	cmake --preset default
	clang-tidy -p build/default --quiet $(filter src/%.cpp,$(SOURCES))

install:
	@scripts/install-deps
	cmake --preset release -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build --preset release -j$(JOBS)
	cmake --install build/release

# The Debian packages libkevent0 and libkevent-dev (debian/), built as Debian
# builds them: dpkg-buildpackage -b in a copy of the tree under build/deb (it
# writes the packages to the parent directory, build/deb), then checked by
# scripts/check-deb: lintian clean, the right files in the right places, and
# an outside project builds against the unpacked packages.
deb:
	@scripts/install-deps base deb
	rm -rf build/deb
	mkdir -p build/deb/libkevent
	tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C build/deb/libkevent
	cd build/deb/libkevent && dpkg-buildpackage -us -uc -b -j$(JOBS)
	scripts/check-deb build/deb

# libevent 2.1.12, from Debian 12's source package (apt-get source), built
# over libkevent-kqueue's <sys/event.h>: with kqueue as libevent's backend,
# its regress suite and test-* programs must pass (scripts/test-kqueue,
# docs/kqueue.md). As root: it enables deb-src and installs the build deps.
test-kqueue: deps
	cmake --preset release
	cmake --build --preset release -j$(JOBS)
	rm -rf build/test-kqueue/prefix
	cmake --install build/release --prefix $(CURDIR)/build/test-kqueue/prefix
	scripts/test-kqueue build/test-kqueue/prefix

clean:
	rm -rf build
