# idfzip — build, test and benchmark.
#
#   make                 ./idfzip and build/libidfzip.a
#   make test            unit tests, round trips, golden files, CLI tests
#   make asan-test       the same suite under AddressSanitizer + UBSan
#   make CC=clang test   any C11 compiler; CFLAGS may be overridden
#   make bench           coder speed and bits per subpixel against PNG
#   make bench-codecs    idfzip against PNG, WebP, JPEG XL, JPEG 2000, JPEG-LS ...
#   make install         program, shared and static library, header, idfzip.pc and
#                        man page under $(DESTDIR)$(PREFIX) (/usr/local); make uninstall
#
# Out-of-tree objects go to $(BUILDDIR) (default build/), so several
# configurations can coexist (build-asan/, build-clang/ ...).

CC ?= cc
BUILDDIR ?= build
# -O3 as zstd builds: on the held-out photos 8-9% faster than -O2 (Garden,
# one thread: decode 359 -> 330 ms, encode 375 -> 341 ms), the same bytes.
OPT ?= -O3 -g
WARN = -Wall -Wextra -Werror
CFLAGS ?= $(OPT)
PNG_CFLAGS := $(shell pkg-config --cflags libpng libdeflate 2>/dev/null)
PNG_LIBS := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng16)
DEFLATE_LIBS := $(shell pkg-config --libs libdeflate 2>/dev/null || echo -ldeflate)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PNG_CFLAGS) -MMD -MP
LIBS = $(PNG_LIBS) $(DEFLATE_LIBS) -lz -pthread

LIB_SRC = rans/rans.c rans/freq_table.c rans/dl_table.c \
          model/baseline_v1.c model/baseline_models.c model/predictor.c model/blend_weights.c model/predictor_search.c model/predictor_tile.c model/match.c model/ar_prior.c model/cpu.c model/nn.c model/flow.c model/flow_setup.c model/idfw.c model/composite.c model/registry.c \
          model/builtin_weights.c model/kernels/conv_avx2.c model/kernels/dense_avx2.c model/kernels/slog16_avx2.c model/kernels/lms_avx2.c \
          codec/container.c codec/palette_pack.c codec/sample_map.c codec/png_rules.c codec/png_read.c codec/png_deflate.c codec/png_write.c codec/image.c codec/tile_coder.c codec/idfzip.c
LIB_OBJ = $(LIB_SRC:%.c=$(BUILDDIR)/%.o)
LIB = $(BUILDDIR)/libidfzip.a
CLI = $(BUILDDIR)/idfzip

TESTS = test_rans test_dl test_container test_png test_codec test_nn test_idfw test_flow test_predictor \
        test_regressions test_nomem pngcmp support/flow_dump support/make_random_model
TEST_BIN = $(TESTS:%=$(BUILDDIR)/tests/%)
# The tools the README's recipes call (benchmarks, training data, corpus):
# built by `make`, so a recipe runs as written from a fresh clone.
TOOL_BIN = $(BUILDDIR)/tools/bench_rans $(BUILDDIR)/tools/bench_codec \
           $(BUILDDIR)/tools/box_downscale $(BUILDDIR)/tools/ar_features $(BUILDDIR)/tools/pngtool

.PHONY: all test test-trainer asan-test bench demo clean
.SECONDARY:
SAMPLE = tests/data/photos/chelsea.png
all: idfzip $(LIB) $(TOOL_BIN)

idfzip: $(CLI)
	@if [ "$(BUILDDIR)" = build ]; then cp $(CLI) idfzip; fi

$(CLI): $(BUILDDIR)/cli/idfzip_cli.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Test programs link the random-model builder (tests/support/).
SUPPORT_OBJ = $(BUILDDIR)/tests/support/idfw_random.o

$(BUILDDIR)/tests/%: $(BUILDDIR)/tests/%.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lm

# test_nomem runs the library with an allocator that fails on its Nth call:
# every malloc, calloc and realloc of the library's objects goes through
# tests/support/fail_alloc.c (the linker's --wrap), libpng's and zlib's
# through the library's own allocation hooks.
NOMEM_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
$(BUILDDIR)/tests/test_nomem: $(BUILDDIR)/tests/test_nomem.o $(BUILDDIR)/tests/support/fail_alloc.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(NOMEM_WRAP) -o $@ $^ $(LIBS) -lm

# The CLI with the failing allocator, for test_cli_nomem.sh.
$(BUILDDIR)/tests/idfzip_nomem: $(BUILDDIR)/cli/idfzip_cli.o $(BUILDDIR)/tests/support/fail_alloc.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $(NOMEM_WRAP) -o $@ $^ $(LIBS)

$(BUILDDIR)/tools/%: $(BUILDDIR)/tools/%.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lm

test: $(CLI) $(TEST_BIN) $(TOOL_BIN) $(BUILDDIR)/tests/idfzip_nomem
	IDFZIP_CC="$(CC)" IDFZIP_CFLAGS="$(CFLAGS)" IDFZIP_LDFLAGS="$(LDFLAGS)" \
	  sh tests/run_tests.sh $(BUILDDIR)

# The trainer's tests (Debian's python3-torch): its exact emulation against
# the C model, the AR prior's, and its plumbing.  Not in `make test`, which
# needs no torch; tools/setup.sh test (CI) runs both.
test-trainer: $(CLI) $(TEST_BIN) $(TOOL_BIN)
	sh tests/run_tests.sh $(BUILDDIR) trainer

asan-test:
	$(MAKE) BUILDDIR=build-asan \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" test

# The held-out photos (768x512, tools/corpus) when they have been built,
# else the small photo fixtures; BENCH_MODEL=file.idfw measures that model.
BENCH_IMAGES ?= $(or $(wildcard corpus/heldout/*.png),$(wildcard tests/data/photos/*.png))
BENCH_MODEL_OPT = $(if $(BENCH_MODEL),-n -m $(BENCH_MODEL))
bench: $(TOOL_BIN)
	$(BUILDDIR)/tools/bench_rans
	$(BUILDDIR)/tools/bench_codec -b -T 1 $(BENCH_MODEL_OPT) $(BENCH_IMAGES)
	$(BUILDDIR)/tools/bench_codec -T 2 $(BENCH_MODEL_OPT) $(BENCH_IMAGES)

# Comparison with other lossless codecs through their Debian command-line
# tools (tools/bench_codecs.py: what it measures and how).  Tools that are
# not installed are skipped with a note.  Writes $(OUT)/table.md,
# per_image.csv and plot.png.
#   make bench-codecs [CORPUS=dir] [OUT=dir] [RUNS=3] [THREADS=2] [BEST=1]
#                               (BEST=1: the fastest run counts, not the median)
#   make bench-codecs-smoke     the two smallest images of CORPUS, one run
CORPUS = tests/data/photos
OUT = $(BUILDDIR)/bench-codecs
RUNS = 3
THREADS = 2
BENCH_CODECS = /usr/bin/python3 tools/bench_codecs.py --idfzip $(CLI) \
  --pngtool $(BUILDDIR)/tools/pngtool --threads $(THREADS) $(if $(BEST),--best)

.PHONY: bench-codecs bench-codecs-smoke
bench-codecs: idfzip $(BUILDDIR)/tools/pngtool
	$(BENCH_CODECS) --runs $(RUNS) $(CORPUS) $(OUT)

bench-codecs-smoke: idfzip $(BUILDDIR)/tools/pngtool
	$(BENCH_CODECS) --smoke $(CORPUS) $(BUILDDIR)/bench-codecs-smoke

# Compress and decompress a sample photo with the built-in model and check
# that the pixels come back exactly.
demo: $(CLI) $(BUILDDIR)/tests/pngcmp
	$(CLI) compress -v -f $(SAMPLE) -o $(BUILDDIR)/sample.idf
	$(CLI) decompress -v -f $(BUILDDIR)/sample.idf -o $(BUILDDIR)/sample.png
	$(BUILDDIR)/tests/pngcmp $(SAMPLE) $(BUILDDIR)/sample.png
	@echo "demo: $(SAMPLE) -> $(BUILDDIR)/sample.idf -> $(BUILDDIR)/sample.png is lossless"

# ---- Install: shared and static library, header, pkg-config, man page ----
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   make uninstall (same variables)
#
# The shared library has its own position-independent objects
# ($(BUILDDIR)/pic/), compiled with hidden visibility: it exports only what
# include/idfzip.h marks IDFZIP_API.  Its version comes from the
# IDFZIP_VERSION_* macros in include/idfzip.h: libidfzip.so.MAJOR.MINOR.PATCH,
# soname libidfzip.so.MAJOR.  The built-in weights are compiled into both
# libraries.  idfzip.pc is made from idfzip.pc.in at install time.
header_version = $(shell sed -n 's/^.define IDFZIP_VERSION_$(1)  *\([0-9][0-9]*\).*/\1/p' include/idfzip.h)
SO_MAJOR := $(call header_version,MAJOR)
SO_VERSION := $(SO_MAJOR).$(call header_version,MINOR).$(call header_version,PATCH)
ifneq ($(words $(subst ., ,$(SO_VERSION))),3)
$(error cannot read IDFZIP_VERSION_MAJOR/MINOR/PATCH from include/idfzip.h)
endif
SONAME = libidfzip.so.$(SO_MAJOR)
SHLIB = $(BUILDDIR)/libidfzip.so.$(SO_VERSION)
PIC_OBJ = $(LIB_SRC:%.c=$(BUILDDIR)/pic/%.o)
SHLIB_CFLAGS = -fPIC -fvisibility=hidden -DIDFZIP_BUILD_SHARED

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install
# idfzip.pc names folders under the prefix as ${prefix}/...
under_prefix = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

.PHONY: install uninstall
all: $(SHLIB)
test: $(SHLIB)

$(BUILDDIR)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SHLIB_CFLAGS) -c -o $@ $<

$(SHLIB): $(PIC_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LIBS)
	ln -sf $(notdir $@) $(BUILDDIR)/$(SONAME)
	ln -sf $(notdir $@) $(BUILDDIR)/libidfzip.so

install: $(CLI) $(LIB) $(SHLIB)
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" \
	  "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(MANDIR)/man1"
	$(INSTALL) -m 755 $(CLI) "$(DESTDIR)$(BINDIR)/idfzip"
	$(INSTALL) -m 755 $(SHLIB) "$(DESTDIR)$(LIBDIR)/libidfzip.so.$(SO_VERSION)"
	ln -sf libidfzip.so.$(SO_VERSION) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sf libidfzip.so.$(SO_VERSION) "$(DESTDIR)$(LIBDIR)/libidfzip.so"
	$(INSTALL) -m 644 $(LIB) "$(DESTDIR)$(LIBDIR)/libidfzip.a"
	$(INSTALL) -m 644 include/idfzip.h "$(DESTDIR)$(INCLUDEDIR)/idfzip.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call under_prefix,$(LIBDIR))|g' \
	  -e 's|@INCLUDEDIR@|$(call under_prefix,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(SO_VERSION)|g' \
	  idfzip.pc.in >"$(DESTDIR)$(PKGCONFIGDIR)/idfzip.pc"
	chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/idfzip.pc"
	$(INSTALL) -m 644 idfzip.1 "$(DESTDIR)$(MANDIR)/man1/idfzip.1"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/idfzip" \
	  "$(DESTDIR)$(LIBDIR)/libidfzip.so.$(SO_VERSION)" "$(DESTDIR)$(LIBDIR)/$(SONAME)" \
	  "$(DESTDIR)$(LIBDIR)/libidfzip.so" "$(DESTDIR)$(LIBDIR)/libidfzip.a" \
	  "$(DESTDIR)$(INCLUDEDIR)/idfzip.h" "$(DESTDIR)$(PKGCONFIGDIR)/idfzip.pc" \
	  "$(DESTDIR)$(MANDIR)/man1/idfzip.1"
# ---- end of Install ----

clean:
	rm -rf build build-* idfzip

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)

# ---- fuzzing: libFuzzer targets (tests/fuzz/), not part of `make test` ----
#
#   make fuzz [FUZZ_SECONDS=60]   build into build-fuzz/ with clang, libFuzzer,
#                                 ASan and UBSan, then run every target
#   make valgrind-test            unit tests and CLI round trips under valgrind
FUZZ_SECONDS ?= 60
FUZZ_DIR = build-fuzz
FUZZ_TARGETS = fuzz_idf fuzz_idfw fuzz_png fuzz_roundtrip fuzz_flow
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_IGNORE = -fsanitize-ignorelist=tests/fuzz/sanitize_ignore.txt \
              -fsanitize-coverage-ignorelist=tests/fuzz/coverage_ignore.txt

.PHONY: fuzz fuzz-build valgrind-test
fuzz: fuzz-build
	sh tests/fuzz/run_fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The library is instrumented for coverage (fuzzer-no-link); only the
# targets link libFuzzer's main.
fuzz-build:
	$(MAKE) BUILDDIR=$(FUZZ_DIR) CC=clang \
	  CFLAGS="-O2 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(FUZZ_IGNORE)" \
	  LDFLAGS="-fsanitize=fuzzer $(FUZZ_SAN)" \
	  $(FUZZ_TARGETS:%=$(FUZZ_DIR)/tests/fuzz/%)

valgrind-test: $(CLI) $(TEST_BIN)
	sh tests/valgrind.sh $(BUILDDIR)
# ---- end of fuzzing ----

# ---- the Python module and the gdk-pixbuf loader (mk/bindings.mk) ----
include mk/bindings.mk
install: install-bindings
uninstall: uninstall-bindings
test: python pixbuf-loader
