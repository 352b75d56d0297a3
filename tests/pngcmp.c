/* pngcmp A.png B.png — exit 0 when both PNGs hold the same image (pixels,
 * palette, tRNS, bit depth, colour type, copied chunks), 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "../include/idfzip.h"
#include "../tools/read_file.h"

static int load_png(const char *path, idfzip_image *img)
{
    size_t size;
    uint8_t *buf = read_file(path, &size);
    int st = buf ? idfzip_png_decode(buf, size, 0, img) : -1;
    free(buf);
    return st;
}

int main(int argc, char **argv)
{
    idfzip_image a, b;
    if (argc != 3) {
        fprintf(stderr, "usage: pngcmp A.png B.png\n");
        return 2;
    }
    if (load_png(argv[1], &a) != 0 || load_png(argv[2], &b) != 0) {
        fprintf(stderr, "pngcmp: cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    int same = idfzip_image_equal(&a, &b);
    if (!same)
        fprintf(stderr, "pngcmp: %s and %s differ\n", argv[1], argv[2]);
    idfzip_image_free(&a);
    idfzip_image_free(&b);
    return same ? 0 : 1;
}
