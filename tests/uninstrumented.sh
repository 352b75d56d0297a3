# uninstrumented.sh — sourced by the tests that load the library's
# sanitized builds into programs that are not (python3,
# gdk-pixbuf-query-loaders, gdk-pixbuf-thumbnailer): `uninstrumented CMD
# ARGS...` runs CMD with the sanitizer runtimes of $IDFZIP_CC preloaded when
# $IDFZIP_CFLAGS asks for ASan or UBSan (make asan-test), and leak detection
# off (an interpreter keeps its allocations to the end); else as it is.

uninstrumented_preload=""
uninstrumented_find() { # the first of these runtimes the compiler has
    for f in "$@"; do
        p=$("${IDFZIP_CC:-cc}" -print-file-name="$f" 2>/dev/null)
        case $p in /*) uninstrumented_preload="$uninstrumented_preload $p"; return ;; esac
    done
}
case " ${IDFZIP_CFLAGS:-} " in
*-fsanitize=*address*) uninstrumented_find libasan.so libclang_rt.asan-x86_64.so ;;
esac
case " ${IDFZIP_CFLAGS:-} " in
*-fsanitize=*undefined*) uninstrumented_find libubsan.so libclang_rt.ubsan_standalone-x86_64.so ;;
esac

uninstrumented() {
    if [ -n "$uninstrumented_preload" ]; then
        LD_PRELOAD="${uninstrumented_preload# }" \
            ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "$@"
    else
        "$@"
    fi
}
