# Veil: the commands. Each target sets itself up on a fresh Debian 12 machine.
#   make deps         install every Debian package Veil builds, tests or runs with (idempotent)
#   make build        Release build into build/ (binaries in build/bin/)
#   make test         deps + build + every test (ctest), ending with ctest's summary line
#   make demo         start veild on a fresh data directory and walk the flow
#   make bench        benchmarks (wrk against veild, build time, ...)
#   make format / format-check   clang-format 14
#   make asan         ASan + UBSan build, every test (ASAN_LABELS='unit|integration|e2e')
#   make fuzz         libFuzzer (clang 14) on Veil's parsers, FUZZ_SECONDS (60) per target (docs/fuzzing.md)
SHELL := /bin/bash
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
WERROR ?= $(if $(CI),ON,OFF)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CLANG_FORMAT ?= $(shell command -v clang-format-14 || command -v clang-format)
FORMAT_FILES = $(shell git ls-files '*.cc' '*.h' 2>/dev/null)

# Build: compiler, CMake, libraries. Test/run: the real tools the tests drive.
DEPS_BUILD := build-essential cmake ninja-build pkg-config git \
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
  libexpected-dev libcli11-dev libssl-dev libsqlite3-dev libcryptsetup-dev libp11-kit-dev \
  zlib1g-dev ccache \
  libgtest-dev googletest clang-format-14
DEPS_RUN := softhsm2 sqlite3 openssl curl wrk cryptsetup-bin qemu-utils python3-cryptography \
  python3-jwt procps fdisk bsdutils time jq nodejs npm \
  awscli python3-boto3 s3cmd rclone
# Fuzz: clang 14, libFuzzer's runtime (libclang-rt-14-dev) and llvm-symbolizer (llvm-14).
DEPS_FUZZ := clang-14 libclang-rt-14-dev llvm-14
# `make deps` (run by build, test, demo) installs what building and testing need; the fuzzing
# toolchain comes only with `make fuzz` (deps-fuzz), so CI and the demo do not pay for it.
DEPS := $(DEPS_BUILD) $(DEPS_RUN)
ASAN_LABELS ?= unit|integration|e2e
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= luks_header_fuzz luks_cryptsetup_diff_fuzz disk_image_fuzz partition_table_fuzz \
  http_request_fuzz iam_request_fuzz jwt_fuzz kms_request_fuzz cos_sigv4_fuzz

.PHONY: all deps deps-fuzz build test demo bench format format-check asan fuzz clean configure

all: build

deps: PKGS = $(DEPS)
deps-fuzz: PKGS = $(DEPS_FUZZ)
deps deps-fuzz:
	@provided=$$(dpkg-query -W -f='$${Status}|$${Provides}\n' 2>/dev/null | sed -n 's/^install ok installed|//p' | tr ',' '\n' | sed 's/ *(.*//; s/^ *//'); \
	missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || grep -qx "$$p" <<<"$$provided" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make $@: installing $$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "make $@: all $(words $(PKGS)) packages present"; fi

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DVEIL_WERROR=$(WERROR)

configure: $(BUILD_DIR)/build.ninja

build: deps configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	./scripts/demo.sh

bench: build
	./bench/run.sh

format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check:
	@$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files clean"

# ASan + UBSan at -O1 with line tables (-g1): a faster build and test run than -O0 -g, with stack
# traces that still name files and lines. The e2e suites run the sanitized veild and veil too.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DVEIL_SANITIZE=ON -DVEIL_WERROR=$(WERROR)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900 -L '$(ASAN_LABELS)'

fuzz: deps deps-fuzz
	CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVEIL_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(FUZZ_TARGETS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" ./fuzz/run.sh $(FUZZ_DIR)

clean:
	rm -rf $(BUILD_DIR) build-asan $(FUZZ_DIR)
