# hubkey — top-level entry points. CMake does the work; build dirs:
#   build/       host build (clang, ASan + UBSan, libFuzzer harnesses)
#   build-size/  Cortex-M4 cross build for make size
#   build-bench/ optimized host build without sanitizers, for make bench
#   build-firmware/ Cortex-M4 firmware images for QEMU mps2-an386 (make firmware);
#                the host build runs them in its mcu tests
#   build-cross-ARCH/ device libraries and their unit tests for armhf and
#                s390x, run under qemu-user, for make test-cross
#   build-release/ optimised build without sanitizers or tests, for make install
#
# Every build configured here is a development build: warnings are errors
# (HK_WERROR=ON). A plain `cmake` configuration, as a consumer or a packager
# makes it, leaves HK_WERROR off (docs/install.md).
.PHONY: all host deps test test-cross size fuzz bench clean demo demo-firmware bench-firmware firmware firmware-build release install

BUILD      ?= build
SIZE_BUILD ?= build-size
CROSS_ARCHS ?= armhf s390x
BENCH_BUILD ?= build-bench
FIRMWARE_BUILD ?= build-firmware
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_SECONDS ?= 600
RELEASE_BUILD ?= build-release
PREFIX ?= /usr/local
DESTDIR ?=

# The host build's mcu tests run the firmware images: the host configuration
# is told where they will be (HK_FIRMWARE_DIR), the host programs are built
# (hubkey-factory makes the CA whose certificate definitions the firmware
# compiles in), then the firmware.
all: deps host firmware-build

host:
	@JOBS=$(JOBS) scripts/build-mbedtls3 $(BUILD)/mbedtls3
	@JOBS=$(JOBS) scripts/build-mbedtls3-fuzz $(BUILD)/mbedtls3
	@cmake -S . -B $(BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHK_WERROR=ON \
	  -DHK_SANITIZE=ON -DHK_FUZZ=ON -DHK_FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) \
	  -DHK_FUZZ_LONG_SECONDS=$(FUZZ_SECONDS) -DHK_MBEDTLS3_DIR=$(abspath $(BUILD))/mbedtls3/install \
	  -DHK_MBEDTLS3_FUZZ_DIR=$(abspath $(BUILD))/mbedtls3/install-fuzz \
	  -DHK_FIRMWARE_DIR=$(abspath $(FIRMWARE_BUILD)) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

# The registered tests must be exactly tests/expected-tests.txt (nothing
# silently left out by a missing dependency) before they run.
test: all
	@python3 scripts/check-test-set $(BUILD)
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The device libraries' unit tests on 32-bit ARM (armhf) and big-endian
# s390x: cross-built with Debian's compilers (cmake/linux-ARCH.cmake), run
# by CTest under qemu-user; no sanitizers (qemu-user cannot host them).
test-cross:
	@scripts/install-deps --cross $(CROSS_ARCHS)
	@for a in $(CROSS_ARCHS); do \
	  echo "test-cross: $$a"; \
	  cmake -S . -B build-cross-$$a -DCMAKE_TOOLCHAIN_FILE=cmake/linux-$$a.cmake \
	    -DHK_CROSS_TEST=ON -DHK_PRODUCTION_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DHK_WERROR=ON >/dev/null && \
	  cmake --build build-cross-$$a -j $(JOBS) && \
	  ctest --test-dir build-cross-$$a --output-on-failure -j $(JOBS) || exit 1; \
	done

# A size build configured before the toolchain file's current LTO flags
# (fat LTO objects, one partition) keeps its old cached flags: made anew.
size: deps
	@if [ -f $(SIZE_BUILD)/CMakeCache.txt ] && \
	    ! grep -q -- '-flto-partition=one' $(SIZE_BUILD)/CMakeCache.txt; then rm -rf $(SIZE_BUILD); fi
	@cmake -S . -B $(SIZE_BUILD) -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
	  -DHK_SIZE_BUILD=ON -DCMAKE_BUILD_TYPE=MinSizeRel -DHK_WERROR=ON >/dev/null
	@cmake --build $(SIZE_BUILD) -j $(JOBS)
	@python3 scripts/check-no-heap-map $(SIZE_BUILD)
	@python3 scripts/size-report $(SIZE_BUILD)

# Firmware images for the Cortex-M4 board QEMU emulates (mps2-an386):
# board, lwIP (scripts/build-lwip-arm), mbedTLS (scripts/build-mbedtls-arm)
# and the images in $(FIRMWARE_BUILD)/images. See docs/firmware.md.
# The hubkey firmware compiles in the certificate definitions of the CA it
# serves: FIRMWARE_CA (a hubkey-factory CA directory), by default one made
# once in $(FIRMWARE_BUILD)/ca with the host build's hubkey-factory.
FIRMWARE_CA ?= $(abspath $(FIRMWARE_BUILD))/ca
firmware: deps host firmware-build

firmware-build:
	@if [ ! -f $(FIRMWARE_CA)/certdefs.h ]; then \
	  mkdir -p $(dir $(FIRMWARE_CA)) && \
	  $(BUILD)/bin/hubkey-factory ca init --ca $(FIRMWARE_CA) >/dev/null && \
	  echo "firmware: made the firmware's CA in $(FIRMWARE_CA)"; fi
	@cmake -S . -B $(FIRMWARE_BUILD) -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
	  -DHK_FIRMWARE_BUILD=ON -DCMAKE_BUILD_TYPE=MinSizeRel -DHK_FIRMWARE_CA=$(FIRMWARE_CA) \
	  -DHK_WERROR=ON >/dev/null
	@cmake --build $(FIRMWARE_BUILD) -j $(JOBS)

# On-target figures of the firmware (docs/performance.md): a benchmark.
bench-firmware: all
	@scripts/bench-firmware $(BUILD) $(FIRMWARE_BUILD)

# The zero-touch flow on the Cortex-M4 in QEMU (docs/firmware.md).
demo-firmware: all
	@scripts/demo-firmware $(BUILD) $(FIRMWARE_BUILD)

demo: all
	@scripts/demo $(BUILD)

fuzz: all
	@cmake --build $(BUILD) --target fuzz-long

# Benchmarks measure; they never gate. Sanitizers would distort every figure,
# so they run from their own optimized build.
bench: deps
	@JOBS=$(JOBS) scripts/build-mbedtls3 $(BUILD)/mbedtls3
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DHK_WERROR=ON \
	  -DHK_MBEDTLS3_DIR=$(abspath $(BUILD))/mbedtls3/install >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(JOBS) --target bench

# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, the broker
# plugin, headers, libraries, hubkey.pc, the CMake package, man pages, the
# systemd unit, docs (docs/install.md), from $(RELEASE_BUILD): the system's
# C compiler, Release, no sanitizers, no tests (what is installed and
# nothing else), HK_WERROR off as for any consumer. The packages it needs:
# scripts/install-deps --install. The test build (build/) is instrumented
# and refuses to install.
release:
	@cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(RELEASE_BUILD) -j $(JOBS)

install: release
	@DESTDIR="$(DESTDIR)" cmake --install $(RELEASE_BUILD)

clean:
	rm -rf $(BUILD) $(SIZE_BUILD) $(BENCH_BUILD) $(FIRMWARE_BUILD) $(RELEASE_BUILD) \
	  $(addprefix build-cross-,$(CROSS_ARCHS))
