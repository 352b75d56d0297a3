/* make_random_model PRESET SEED OUT.idfw — writes a model with random
 * weights from one of tests/support/idfw_random.c's architecture presets, for
 * benchmarks and tests of model-file handling (it compresses badly). */
#include <stdio.h>
#include <stdlib.h>

#include "idfw_random.h"

int main(int argc, char **argv)
{
    idfw_arch a;
    uint8_t *data = NULL;
    size_t size = 0;
    if (argc != 4 || idfw_arch_preset(argv[1], &a) != 0) {
        fprintf(stderr, "usage: make_random_model PRESET SEED OUT.idfw\n");
        return 2;
    }
    a.weight_mode = 1;
    if (idfw_build_random(&a, strtoull(argv[2], NULL, 10), &data, &size) != 0) {
        fprintf(stderr, "make_random_model: build failed\n");
        return 1;
    }
    FILE *f = fopen(argv[3], "wb");
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    free(data);
    if (!ok)
        fprintf(stderr, "make_random_model: cannot write %s\n", argv[3]);
    return ok ? 0 : 1;
}
