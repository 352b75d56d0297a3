/* read_file.h — whole-file loading for the tools and tests (not the library,
 * which never touches files). */
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

#endif
