/* fail_alloc.h — make the Nth allocation fail (see fail_alloc.c). */
#ifndef IDFZIP_FAIL_ALLOC_H
#define IDFZIP_FAIL_ALLOC_H

/* From now on, the nth allocation fails (0: none); restarts the count. */
void fail_alloc_at(long n);

/* Allocations since the last fail_alloc_at(). */
long fail_alloc_calls(void);

#endif
