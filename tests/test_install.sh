#!/bin/sh
# test_install.sh BUILDDIR — idfzip as a packaged C library and tool: `make
# install` into a temporary prefix puts exactly the expected files and links
# there; the shared library exports the public API and nothing else;
# pkg-config describes it; the README's example program (tests/example.c)
# builds against the installed tree, shared and static, and runs; the
# installed idfzip and its man page work; `make uninstall` leaves nothing.
#
# The example is compiled with $IDFZIP_CC $IDFZIP_CFLAGS ... $IDFZIP_LDFLAGS
# (set by `make test`, so sanitizer builds link their runtime); default cc.
set -u
B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
B_ABS=$(cd "$B" && pwd) || exit 1
case $B_ABS in
"$ROOT"/*) B_REL=${B_ABS#"$ROOT"/} ;; # the name the Makefile's rules use
*) B_REL=$B_ABS ;;
esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: the command must succeed
    d=$1; shift
    if "$@" >"$T/check.out" 2>&1; then ok; else bad "$d"; sed 's/^/  /' "$T/check.out"; fi
}

CC=${IDFZIP_CC:-cc}
CFLAGS=${IDFZIP_CFLAGS:-}
LDFLAGS=${IDFZIP_LDFLAGS:-}
hv() { sed -n "s/^#define IDFZIP_VERSION_$1  *\([0-9][0-9]*\).*/\1/p" "$ROOT/include/idfzip.h"; }
MAJOR=$(hv MAJOR)
V=$MAJOR.$(hv MINOR).$(hv PATCH)
SO=libidfzip.so.$V

# make in the source tree, as a user would run it; not through the
# jobserver or command-line variables of a make that may be running us.
mk() {
    (
        cd "$ROOT" || exit 1
        unset MAKEFLAGS MFLAGS MAKELEVEL
        if [ -n "${IDFZIP_CC+set}" ]; then
            make -s INSTALL_BINDINGS=no BUILDDIR="$B_REL" CC="$CC" CFLAGS="$CFLAGS" LDFLAGS="$LDFLAGS" "$@"
        else
            make -s INSTALL_BINDINGS=no BUILDDIR="$B_REL" "$@"
        fi
    )
}
installed() { (cd "$1" && find . \( -type f -o -type l \) | LC_ALL=C sort); }
pc() { PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config "$@" idfzip | sed 's/ *$//'; }

# --- make install: exactly these files and links ---
check "make install PREFIX=$P" mk install DESTDIR= PREFIX="$P"
LC_ALL=C sort >"$T/expected" <<EOF
./bin/idfzip
./include/idfzip.h
./lib/$SO
./lib/libidfzip.a
./lib/libidfzip.so
./lib/libidfzip.so.$MAJOR
./lib/pkgconfig/idfzip.pc
./share/man/man1/idfzip.1
EOF
[ -d "$P" ] && installed "$P" >"$T/got"
check "installed files are exactly the expected ones" diff "$T/expected" "$T/got"
check "bin/idfzip is executable" test -x "$P/bin/idfzip" -a -f "$P/bin/idfzip"
check "lib/$SO is a file" test -f "$P/lib/$SO" -a ! -L "$P/lib/$SO"
for l in libidfzip.so.$MAJOR libidfzip.so; do
    if [ -L "$P/lib/$l" ] && [ "$(readlink "$P/lib/$l")" = "$SO" ]; then ok
    else bad "lib/$l is not a link to $SO"; fi
done
check "installed header is include/idfzip.h" cmp "$ROOT/include/idfzip.h" "$P/include/idfzip.h"
check "installed man page is idfzip.1" cmp "$ROOT/idfzip.1" "$P/share/man/man1/idfzip.1"
readelf -d "$P/lib/$SO" >"$T/dyn" 2>&1
check "soname libidfzip.so.$MAJOR" grep -q "Library soname: \[libidfzip.so.$MAJOR\]" "$T/dyn"

# --- only the public API leaves the shared library ---
# The API: every function idfzip.h declares (each must be marked IDFZIP_API,
# or it goes missing from the exports).
sed -n 's/^\(IDFZIP_API \)\{0,1\}[a-z][a-z0-9_ ]*[ *]\(idfzip_[a-z0-9_]*\)(.*/\2/p' \
    "$P/include/idfzip.h" | LC_ALL=C sort >"$T/api"
nm -D --defined-only "$P/lib/$SO" | awk '{print $NF}' | LC_ALL=C sort >"$T/exported"
check "the header declares the API (>= 10 functions)" test "$(wc -l <"$T/api")" -ge 10
if diff "$T/api" "$T/exported" >"$T/diff"; then ok; else
    bad "exported symbols differ from the functions idfzip.h declares (< API, > exported)"
    sed 's/^/  /' "$T/diff"
fi
check "every exported symbol is idfzip_*" sh -c "! grep -v '^idfzip_' '$T/exported'"
# The built-in weights are compiled into both libraries (hidden in the .so).
for lib in "$SO" libidfzip.a; do
    nm "$P/lib/$lib" >"$T/nm" 2>/dev/null
    check "built-in weights inside $lib" grep -q ' [dDrR] idfzip_builtin_weights$' "$T/nm"
done

# --- pkg-config ---
check "pkg-config finds idfzip $V" test "$(pc --modversion)" = "$V"
check "pkg-config prefix" test "$(pc --variable=prefix)" = "$P"
pc --cflags >"$T/cflags"
check "pkg-config --cflags has -I$P/include" grep -qF -- "-I$P/include" "$T/cflags"
check "pkg-config --libs" test "$(pc --libs)" = "-L$P/lib -lidfzip"
pc --print-requires-private >"$T/req" 2>&1
check "Requires.private libpng" grep -q '^libpng' "$T/req"
check "Requires.private zlib" grep -q '^zlib' "$T/req"

# --- the README's example, built against the installed tree ---
awk 'p && /^```$/ {exit} p {print; next} found && /^```c$/ {p=1}
     /^This is `tests\/example\.c`/ {found=1}' "$ROOT/README.md" >"$T/readme_example.c"
check "README shows tests/example.c verbatim" cmp "$HERE/example.c" "$T/readme_example.c"
cd "$T" || exit 1
# shellcheck disable=SC2046,SC2086 # flags are word lists
check "example builds with pkg-config --cflags --libs" \
    $CC $CFLAGS -std=c11 -Wall -Wextra -Werror -pedantic -o example "$HERE/example.c" \
    $(pc --cflags --libs) $LDFLAGS
LD_LIBRARY_PATH=$P/lib ./example >"$T/ex.out" 2>&1
rc=$?
cat "$T/ex.out"
check "example runs (exit $rc)" test $rc -eq 0
check "example round trip is exact" grep -q "^idfzip $V: .* decoded exactly\$" "$T/ex.out"
readelf -d example >"$T/ex.dyn" 2>&1
check "example uses libidfzip.so.$MAJOR" grep -q "Shared library: \[libidfzip.so.$MAJOR\]" "$T/ex.dyn"
# Static: libidfzip.a and pkg-config's --static flags (Libs.private, Requires.private).
static_libs=$(pc --static --libs | sed 's/-lidfzip/-l:libidfzip.a/')
# shellcheck disable=SC2046,SC2086
check "example links statically with pkg-config --static" \
    $CC $CFLAGS -std=c11 -Wall -Wextra -Werror -o example_static "$HERE/example.c" \
    $(pc --cflags) $static_libs $LDFLAGS
check "static example runs" ./example_static
readelf -d example_static >"$T/st.dyn" 2>&1
check "static example needs no libidfzip.so" sh -c "! grep -q libidfzip '$T/st.dyn'"
# The header from C++ (compile only: the C++ compiler that matches CC).
case $CC in *clang*) CXX=clang++ ;; *) CXX=c++ ;; esac
if command -v "$CXX" >/dev/null 2>&1; then
    printf '#include <idfzip.h>\nint main() { idfzip_options o; %s }\n' \
        'idfzip_options_init(&o); return o.threads - 1;' >cxx.cc
    # shellcheck disable=SC2046
    check "idfzip.h compiles as C++" \
        "$CXX" -std=c++11 -Wall -Wextra -Werror -pedantic -c cxx.cc $(pc --cflags)
else
    echo "install: no $CXX, C++ header check skipped"
fi

# --- the installed program ---
check "installed idfzip --version" test "$("$P/bin/idfzip" --version)" = "idfzip $V"
cp "$HERE/data/pngsuite/basn2c08.png" a.png
check "installed idfzip compresses with the built-in model" "$P/bin/idfzip" compress -q --no-store a.png
"$P/bin/idfzip" info a.idf >info.txt 2>&1
check "info names a model" grep -q ' model ' info.txt
check "installed idfzip decompresses" "$P/bin/idfzip" decompress -o back.png a.idf
check "pixels equal" "$B_ABS/tests/pngcmp" a.png back.png

# --- the man page ---
if command -v man >/dev/null 2>&1; then
    MAN1=$P/share/man/man1/idfzip.1
    MANWIDTH=80 LC_ALL=C man --warnings -l "$MAN1" >man.txt 2>man.err
    check "man -l renders" test -s man.txt
    check "man -l renders without warnings" test ! -s man.err
    sed 's/^/  /' man.err
    MANWIDTH=80 LC_ALL=C man -M "$P/share/man" idfzip >man2.txt 2>/dev/null
    check "man finds idfzip under the prefix" cmp man.txt man2.txt
    for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS 'EXIT STATUS' 'FILE FORMAT' EXAMPLES 'SEE ALSO'; do
        check "man page has section $s" grep -q "^$s\$" man.txt
    done
    # Every command and every option that --help lists is documented.
    "$P/bin/idfzip" --help >help.txt
    words=$(sed -n '/^Commands:/,/^$/p' help.txt | sed -n 's/^  \([a-z]*\), \([a-z]*\) .*/\1 \2/p; s/^  \([a-z]*\)  .*/\1/p')
    opts=$(sed -n '/^Options:/,/^$/p' help.txt | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z-]*' | tr -d ' ,')
    check "--help lists commands and options" test -n "$words" -a -n "$opts"
    for w in $words; do
        check "man page documents command $w" grep -qE "^       ([a-z]+, )?$w(,|\$| )" man.txt
    done
    for o in $opts; do
        check "man page documents option $o" grep -qE "^       (-[A-Za-z], )?$o(,|\$| )" man.txt
    done
    for s in 0 1 2; do
        check "man page documents exit status $s" grep -qE "^       $s  " man.txt
    done
else
    bad "man is not installed (apt-get install man-db), man page not checked"
fi

# --- make uninstall leaves nothing behind ---
check "make uninstall" mk uninstall DESTDIR= PREFIX="$P"
left=$(installed "$P")
if [ -z "$left" ]; then ok; else bad "left after uninstall: $left"; fi

# --- staged install (DESTDIR) for packagers ---
S=$T/stage
check "make install DESTDIR=... PREFIX=/usr" mk install DESTDIR="$S" PREFIX=/usr
sed 's|^\./|./usr/|' "$T/expected" | LC_ALL=C sort >"$T/expected_staged"
[ -d "$S" ] && installed "$S" >"$T/got_staged"
check "staged files" diff "$T/expected_staged" "$T/got_staged"
check "staged idfzip.pc has prefix=/usr" grep -qx 'prefix=/usr' "$S/usr/lib/pkgconfig/idfzip.pc"
# shellcheck disable=SC2016 # a literal ${prefix}
check "staged idfzip.pc has libdir=\${prefix}/lib" \
    grep -qx 'libdir=${prefix}/lib' "$S/usr/lib/pkgconfig/idfzip.pc"
check "make uninstall DESTDIR=..." mk uninstall DESTDIR="$S" PREFIX=/usr
left=$(installed "$S")
if [ -z "$left" ]; then ok; else bad "left after staged uninstall: $left"; fi

echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
