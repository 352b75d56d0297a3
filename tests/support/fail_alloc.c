/* fail_alloc.c — an allocator that fails on its Nth call, for
 * tests/test_nomem.c and the CLI build tests/test_cli_nomem.sh runs.
 *
 * The programs are linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc, so every allocation the library's objects (and the CLI's)
 * make comes here; libpng and zlib allocate through the library's hooks,
 * so theirs do too.  The count is this test program's own state (the
 * library keeps none); with several threads the count would race, so the
 * tests run one thread.  N comes from fail_alloc_at() or, for the CLI, the
 * environment variable IDFZIP_FAIL_ALLOC; 0 fails nothing.
 */
#include <stdlib.h>

#include "fail_alloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t n);
void *__real_realloc(void *p, size_t n);

static long fail_at = -1; /* -1: not read from the environment yet */
static long calls;

void fail_alloc_at(long n)
{
    fail_at = n;
    calls = 0;
}

long fail_alloc_calls(void)
{
    return calls;
}

/* 1 when this call is the one to fail. */
static int this_one_fails(void)
{
    if (fail_at < 0) {
        const char *env = getenv("IDFZIP_FAIL_ALLOC");
        fail_at = env ? strtol(env, NULL, 10) : 0;
    }
    return ++calls == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return this_one_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t n)
{
    return this_one_fails() ? NULL : __real_calloc(count, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return this_one_fails() ? NULL : __real_realloc(p, n);
}
