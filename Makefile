# idfzip — build, test and benchmark.
#
#   make                 ./idfzip and build/libidfzip.a
#   make test            unit tests, round trips, golden files, CLI tests
#   make asan-test       the same suite under AddressSanitizer + UBSan
#   make CC=clang test   any C11 compiler; CFLAGS may be overridden
#   make bench           coder speed and bits per subpixel against PNG
#
# Out-of-tree objects go to $(BUILDDIR) (default build/), so several
# configurations can coexist (build-asan/, build-clang/ ...).

CC ?= cc
BUILDDIR ?= build
OPT ?= -O2 -g
WARN = -Wall -Wextra -Werror
CFLAGS ?= $(OPT)
PNG_CFLAGS := $(shell pkg-config --cflags libpng 2>/dev/null)
PNG_LIBS := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng16)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PNG_CFLAGS) -MMD -MP
LIBS = $(PNG_LIBS) -lz -pthread

LIB_SRC = rans/rans.c rans/freq_table.c rans/dl_table.c \
          model/baseline.c model/nn.c model/flow.c model/idfw.c model/registry.c \
          model/builtin_weights.c \
          codec/container.c codec/png_io.c codec/tile_coder.c codec/idfzip.c
LIB_OBJ = $(LIB_SRC:%.c=$(BUILDDIR)/%.o)
LIB = $(BUILDDIR)/libidfzip.a
CLI = $(BUILDDIR)/idfzip

TESTS = test_rans test_dl test_container test_png test_codec test_nn test_idfw test_flow pngcmp
TEST_BIN = $(TESTS:%=$(BUILDDIR)/tests/%)
BENCH_BIN = $(BUILDDIR)/tools/bench_rans $(BUILDDIR)/tools/bench_codec $(BUILDDIR)/tools/box_downscale
TOOL_BIN = $(BUILDDIR)/tools/flow_dump $(BUILDDIR)/tools/make_random_model

.PHONY: all test asan-test bench demo clean
.SECONDARY:
SAMPLE = tests/data/photos/chelsea.png
all: idfzip $(LIB)

idfzip: $(CLI)
	@if [ "$(BUILDDIR)" = build ]; then cp $(CLI) idfzip; fi

$(CLI): $(BUILDDIR)/codec/cli.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Test and tool programs link the random-model builder (test support only).
SUPPORT_OBJ = $(BUILDDIR)/tools/idfw_random.o

$(BUILDDIR)/tests/%: $(BUILDDIR)/tests/%.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lm

$(BUILDDIR)/tools/%: $(BUILDDIR)/tools/%.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lm

test: $(CLI) $(TEST_BIN) $(TOOL_BIN)
	sh tests/run_tests.sh $(BUILDDIR)

asan-test:
	$(MAKE) BUILDDIR=build-asan \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" test

bench: $(BENCH_BIN)
	$(BUILDDIR)/tools/bench_rans
	$(BUILDDIR)/tools/bench_codec -T 1 tests/data/photos/*.png
	$(BUILDDIR)/tools/bench_codec -T 2 tests/data/photos/*.png

# Compress and decompress a sample photo with the built-in model and check
# that the pixels come back exactly.
demo: $(CLI) $(BUILDDIR)/tests/pngcmp
	$(CLI) compress -v -f $(SAMPLE) -o $(BUILDDIR)/sample.idf
	$(CLI) decompress -v -f $(BUILDDIR)/sample.idf -o $(BUILDDIR)/sample.png
	$(BUILDDIR)/tests/pngcmp $(SAMPLE) $(BUILDDIR)/sample.png
	@echo "demo: $(SAMPLE) -> $(BUILDDIR)/sample.idf -> $(BUILDDIR)/sample.png is lossless"

clean:
	rm -rf build build-* idfzip

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
