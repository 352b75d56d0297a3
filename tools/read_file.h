/* read_file.h — whole-file loading, and int32 writing, for the tools and
 * tests (not the library, which never touches files). */
#ifndef IDFZIP_READ_FILE_H
#define IDFZIP_READ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Returns a malloc'ed copy of the file and its size, or NULL. */
static inline uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf && (n += fread(buf + n, 1, cap - n, f)) == cap) {
        uint8_t *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

/* Writes n int32 values little-endian: 0, or -1 on a write error. */
static inline int write_i32_le(FILE *f, const int32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b[4] = {(uint8_t)v[i], (uint8_t)(v[i] >> 8), (uint8_t)(v[i] >> 16),
                        (uint8_t)(v[i] >> 24)};
        if (fwrite(b, 1, 4, f) != 4)
            return -1;
    }
    return 0;
}

#endif
