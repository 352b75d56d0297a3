# mk/bindings.mk — .idf outside the library: the Python module (with a Pillow
# plugin) and the gdk-pixbuf loader (image viewers, thumbnails).  Included at
# the end of the Makefile; uses its BUILDDIR, CC, CFLAGS, LDFLAGS, WARN, LIBS,
# PIC_OBJ, PREFIX, DESTDIR and INSTALL.  docs/bindings.md is the user's guide.
#
#   make python              build/python/idfzip/ (PYTHONPATH=build/python)
#   make pixbuf-loader       build/pixbuf/libpixbufloader-idf.so, loaders.cache
#                            (GDK_PIXBUF_MODULE_FILE=build/pixbuf/loaders.cache),
#                            a mime database that knows .idf in build/pixbuf/share
#                            (XDG_DATA_DIRS=build/pixbuf/share:/usr/local/share:/usr/share)
#                            and the test program build/pixbuf/pixbuf_load
#   make test-bindings       both, then tests/python (pytest), tests/test_pixbuf.sh
#                            and tests/test_bindings_install.sh
#   make install-bindings    [PREFIX=/usr/local] [DESTDIR=]   (make uninstall-bindings)
#
# Both link the library statically: the position-independent objects of the
# shared library ($(BUILDDIR)/pic/, hidden visibility) in an archive linked
# with --exclude-libs,ALL, so neither needs libidfzip.so at run time and
# neither exports any idfzip_* symbol.
#
# Packages (Debian): python3-dev (python3-numpy, python3-pil and
# python3-pytest to use and test it) for `make python`; libgdk-pixbuf-2.0-dev
# (libgdk-pixbuf2.0-bin, shared-mime-info to test) for `make pixbuf-loader`.
# install-bindings installs what can be built and says what it skips.

PYTHON3 ?= /usr/bin/python3
# include dir, extension suffix, X.Y; empty when there is no python3
PY_CONFIG := $(shell $(PYTHON3) -S -I -c 'import sys, sysconfig; print(sysconfig.get_paths()["include"], sysconfig.get_config_var("EXT_SUFFIX"), "%d.%d" % sys.version_info[:2])' 2>/dev/null)
PY_INCLUDE := $(word 1,$(PY_CONFIG))
PY_EXT_SUFFIX := $(or $(word 2,$(PY_CONFIG)),.so)
PY_VERSION := $(word 3,$(PY_CONFIG))
HAVE_PYTHON_DEV := $(if $(PY_INCLUDE),$(wildcard $(PY_INCLUDE)/Python.h))
HAVE_PIXBUF_DEV := $(shell pkg-config --exists gdk-pixbuf-2.0 2>/dev/null && echo yes)

# Recipe-time only (expanded when used).
PIXBUF_PC = pkg-config --variable=$(1) gdk-pixbuf-2.0 2>/dev/null
PIXBUF_CFLAGS = $(shell pkg-config --cflags gdk-pixbuf-2.0 2>/dev/null)
PIXBUF_LIBS = $(shell pkg-config --libs gdk-pixbuf-2.0 2>/dev/null)
PIXBUF_SYS_MODULEDIR = $(shell $(call PIXBUF_PC,gdk_pixbuf_moduledir))
PIXBUF_QUERY_LOADERS = $(or $(shell $(call PIXBUF_PC,gdk_pixbuf_query_loaders)),gdk-pixbuf-query-loaders)

BINDINGS_LIB = $(BUILDDIR)/bindings/libidfzip_pic.a
PY_DIR = $(BUILDDIR)/python/idfzip
PY_EXT = $(PY_DIR)/_idfzip$(PY_EXT_SUFFIX)
PY_SOURCES = python/idfzip/__init__.py python/idfzip/pillow_plugin.py
PY_FILES = $(PY_SOURCES:python/idfzip/%=$(PY_DIR)/%)
PIXBUF_DIR = $(BUILDDIR)/pixbuf
PIXBUF_LOADER = $(PIXBUF_DIR)/libpixbufloader-idf.so
PIXBUF_CACHE = $(PIXBUF_DIR)/loaders.cache
PIXBUF_TEST = $(PIXBUF_DIR)/pixbuf_load
PIXBUF_MIME = $(PIXBUF_DIR)/share/mime/mime.cache
BINDINGS_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -Iinclude

# Programs not built with the sanitizers (python3, gdk-pixbuf-query-loaders,
# gdk-pixbuf-thumbnailer) load sanitized modules only with the runtime
# preloaded (make asan-test): these are the runtimes to preload, if any.
sanitizer_runtime = $(firstword $(foreach f,$(1),$(if $(filter /%,$(shell $(CC) -print-file-name=$(f))),$(shell $(CC) -print-file-name=$(f)))))
BINDINGS_PRELOAD = $(strip \
  $(if $(findstring address,$(filter -fsanitize=%,$(CFLAGS))),$(call sanitizer_runtime,libasan.so libclang_rt.asan-x86_64.so)) \
  $(if $(findstring undefined,$(filter -fsanitize=%,$(CFLAGS))),$(call sanitizer_runtime,libubsan.so libclang_rt.ubsan_standalone-x86_64.so)))
BINDINGS_RUN = $(if $(BINDINGS_PRELOAD),env LD_PRELOAD="$(BINDINGS_PRELOAD)" ASAN_OPTIONS=detect_leaks=0)

.PHONY: python pixbuf-loader test-bindings install-bindings uninstall-bindings
python: $(PY_EXT) $(PY_FILES)
pixbuf-loader: $(PIXBUF_LOADER) $(PIXBUF_CACHE) $(PIXBUF_MIME) $(PIXBUF_TEST)

$(BINDINGS_LIB): $(PIC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(PY_EXT): python/idfzip_module.c include/idfzip.h $(BINDINGS_LIB)
	@test -n "$(HAVE_PYTHON_DEV)" || { echo "make python: no Python.h for $(PYTHON3) (apt-get install python3-dev)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(BINDINGS_CFLAGS) -I$(PY_INCLUDE) $(LDFLAGS) -shared -o $@ python/idfzip_module.c \
	  $(BINDINGS_LIB) -Wl,--exclude-libs,ALL $(LIBS) -lm

$(PY_DIR)/%.py: python/idfzip/%.py
	@mkdir -p $(dir $@)
	cp $< $@

$(PIXBUF_LOADER): pixbuf/io-idf.c include/idfzip.h $(BINDINGS_LIB)
	@test -n "$(HAVE_PIXBUF_DEV)" || { echo "make pixbuf-loader: no gdk-pixbuf-2.0 (apt-get install libgdk-pixbuf-2.0-dev)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(BINDINGS_CFLAGS) $(PIXBUF_CFLAGS) $(LDFLAGS) -shared -o $@ pixbuf/io-idf.c \
	  $(BINDINGS_LIB) -Wl,--exclude-libs,ALL $(PIXBUF_LIBS) $(LIBS) -lm

# The system's loaders and this one, so that a viewer run with
# GDK_PIXBUF_MODULE_FILE=build/pixbuf/loaders.cache still opens every format.
$(PIXBUF_CACHE): $(PIXBUF_LOADER)
	$(BINDINGS_RUN) "$(PIXBUF_QUERY_LOADERS)" $$(ls "$(PIXBUF_SYS_MODULEDIR)"/*.so 2>/dev/null) \
	  "$(abspath $(PIXBUF_LOADER))" >$@.tmp
	@grep -q '"$(abspath $(PIXBUF_LOADER))"' $@.tmp || \
	  { echo "make pixbuf-loader: gdk-pixbuf-query-loaders did not accept $(PIXBUF_LOADER)" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

# gdk-pixbuf picks a loader by MIME type (GIO's sniffing, shared-mime-info):
# a database that knows image/x-idf, for XDG_DATA_DIRS=build/pixbuf/share:...
$(PIXBUF_MIME): pixbuf/idfzip-mime.xml
	@mkdir -p $(PIXBUF_DIR)/share/mime/packages
	cp pixbuf/idfzip-mime.xml $(PIXBUF_DIR)/share/mime/packages/idfzip.xml
	XDG_DATA_DIRS="$(abspath $(PIXBUF_DIR)/share)" update-mime-database $(PIXBUF_DIR)/share/mime

$(PIXBUF_TEST): tests/pixbuf_load.c
	@test -n "$(HAVE_PIXBUF_DEV)" || { echo "make pixbuf-loader: no gdk-pixbuf-2.0 (apt-get install libgdk-pixbuf-2.0-dev)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARN) $(CFLAGS) $(PIXBUF_CFLAGS) $(LDFLAGS) -o $@ tests/pixbuf_load.c $(PIXBUF_LIBS)

# Each test script prints its closing line "name: N passed, N failed";
# run_tests.sh runs the same three in `make test`.
BINDINGS_TEST_ENV = IDFZIP_CC="$(CC)" IDFZIP_CFLAGS="$(CFLAGS)" IDFZIP_LDFLAGS="$(LDFLAGS)"
test-bindings: python pixbuf-loader $(CLI)
	$(BINDINGS_TEST_ENV) sh tests/python/run_pytest.sh $(BUILDDIR)
	$(BINDINGS_TEST_ENV) sh tests/test_pixbuf.sh $(BUILDDIR)
	$(BINDINGS_TEST_ENV) sh tests/test_bindings_install.sh $(BUILDDIR)

# ---- install-bindings ----
#
# Python: the package idfzip/ (pure Python files and the extension) in
#   PYTHONDIR: $(PREFIX)/lib/python3/dist-packages for PREFIX=/usr (where
#   Debian's packages go), /usr/local/lib/python3.X/dist-packages for
#   /usr/local (Debian's python3 looks there, not in .../python3/dist-packages),
#   $(PREFIX)/lib/python3.X/site-packages for any other prefix (the user
#   site for PREFIX=$HOME/.local; elsewhere set PYTHONPATH).
# gdk-pixbuf: the loader in PIXBUF_MODULEDIR, gdk-pixbuf's module folder with
#   its prefix replaced by PREFIX (the system folder for PREFIX=/usr).  With
#   DESTDIR empty it is registered: for PREFIX=/usr by
#   `gdk-pixbuf-query-loaders --update-cache` (every GTK program then opens
#   .idf); for any other prefix, which the system's gdk-pixbuf never scans, a
#   loaders.cache next to the module folder lists the system's loaders and
#   this one, for GDK_PIXBUF_MODULE_FILE.
# shared-mime-info: pixbuf/idfzip-mime.xml as $(PREFIX)/share/mime/packages/idfzip.xml,
#   then update-mime-database $(PREFIX)/share/mime (DESTDIR empty only).
# thumbnailer: $(PREFIX)/share/thumbnailers/idfzip.thumbnailer (gdk-pixbuf-thumbnailer
#   for image/x-idf; it finds the loader when it is registered system-wide).
# INSTALL_BINDINGS=no makes install-bindings and uninstall-bindings do nothing.
INSTALL_BINDINGS ?= auto
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(if \
  $(filter /usr/local,$(PREFIX)),/usr/local/lib/python$(PY_VERSION)/dist-packages,$(PREFIX)/lib/python$(PY_VERSION)/site-packages))
PIXBUF_MODULEDIR ?= $(shell pkg-config --define-variable=prefix=$(PREFIX) --variable=gdk_pixbuf_moduledir gdk-pixbuf-2.0 2>/dev/null)
PIXBUF_PRIVATE_CACHE = $(dir $(PIXBUF_MODULEDIR))loaders.cache
MIMEDIR = $(PREFIX)/share/mime
THUMBNAILERDIR = $(PREFIX)/share/thumbnailers
BUILD_BINDINGS = $(if $(filter no,$(INSTALL_BINDINGS)),,$(if $(HAVE_PYTHON_DEV),python) $(if $(HAVE_PIXBUF_DEV),pixbuf-loader))
SYSTEM_PIXBUF = $(filter /usr,$(PREFIX))

install-bindings: $(BUILD_BINDINGS)
ifneq ($(INSTALL_BINDINGS),no)
ifneq ($(HAVE_PYTHON_DEV),)
	$(INSTALL) -d "$(DESTDIR)$(PYTHONDIR)/idfzip"
	$(INSTALL) -m 644 $(PY_FILES) "$(DESTDIR)$(PYTHONDIR)/idfzip/"
	$(INSTALL) -m 644 $(PY_EXT) "$(DESTDIR)$(PYTHONDIR)/idfzip/"
else
	@echo "install-bindings: no Python.h (python3-dev): the Python module is not installed"
endif
ifneq ($(HAVE_PIXBUF_DEV),)
	$(INSTALL) -d "$(DESTDIR)$(PIXBUF_MODULEDIR)" "$(DESTDIR)$(MIMEDIR)/packages" "$(DESTDIR)$(THUMBNAILERDIR)"
	$(INSTALL) -m 644 $(PIXBUF_LOADER) "$(DESTDIR)$(PIXBUF_MODULEDIR)/libpixbufloader-idf.so"
	$(INSTALL) -m 644 pixbuf/idfzip-mime.xml "$(DESTDIR)$(MIMEDIR)/packages/idfzip.xml"
	$(INSTALL) -m 644 pixbuf/idfzip.thumbnailer "$(DESTDIR)$(THUMBNAILERDIR)/idfzip.thumbnailer"
ifeq ($(DESTDIR),)
ifneq ($(SYSTEM_PIXBUF),)
	$(BINDINGS_RUN) "$(PIXBUF_QUERY_LOADERS)" --update-cache
else
	$(BINDINGS_RUN) "$(PIXBUF_QUERY_LOADERS)" $$(ls "$(PIXBUF_SYS_MODULEDIR)"/*.so 2>/dev/null) \
	  "$(PIXBUF_MODULEDIR)/libpixbufloader-idf.so" >"$(PIXBUF_PRIVATE_CACHE)"
	@echo "install-bindings: for GTK programs to open .idf, export GDK_PIXBUF_MODULE_FILE=$(PIXBUF_PRIVATE_CACHE)"
endif
	-update-mime-database "$(MIMEDIR)"
endif
else
	@echo "install-bindings: no gdk-pixbuf-2.0 (libgdk-pixbuf-2.0-dev): the loader is not installed"
endif
endif

# Removes what install-bindings put there (with the same PREFIX, DESTDIR),
# and updates the caches (DESTDIR empty).  The mime database that
# update-mime-database generated under $(PREFIX)/share/mime stays.
uninstall-bindings:
ifneq ($(INSTALL_BINDINGS),no)
	rm -f "$(DESTDIR)$(PYTHONDIR)/idfzip/__init__.py" "$(DESTDIR)$(PYTHONDIR)/idfzip/pillow_plugin.py" \
	  "$(DESTDIR)$(PYTHONDIR)/idfzip/_idfzip$(PY_EXT_SUFFIX)"
	rm -rf "$(DESTDIR)$(PYTHONDIR)/idfzip/__pycache__"
	rmdir "$(DESTDIR)$(PYTHONDIR)/idfzip" 2>/dev/null || true
	rm -f "$(DESTDIR)$(MIMEDIR)/packages/idfzip.xml" "$(DESTDIR)$(THUMBNAILERDIR)/idfzip.thumbnailer"
ifneq ($(PIXBUF_MODULEDIR),)
	rm -f "$(DESTDIR)$(PIXBUF_MODULEDIR)/libpixbufloader-idf.so"
ifeq ($(DESTDIR),)
ifneq ($(SYSTEM_PIXBUF),)
	$(BINDINGS_RUN) "$(PIXBUF_QUERY_LOADERS)" --update-cache
else
	rm -f "$(PIXBUF_PRIVATE_CACHE)"
endif
endif
endif
ifeq ($(DESTDIR),)
	-if [ -d "$(MIMEDIR)/packages" ]; then update-mime-database "$(MIMEDIR)"; fi
endif
endif
# ---- end of bindings ----
