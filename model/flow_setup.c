/* flow_setup.c — a loaded flow made ready to code, and freed: its convs'
 * weights packed for the SIMD kernel, the top prior's mixture tables, its
 * size in MACs per pixel (see flow.h). */
#include <stdlib.h>

#include "flow.h"

/* Calls fn on every net of m. */
static void for_each_net(flow_model *m, void (*fn)(nn_net *net, void *ctx), void *ctx)
{
    for (uint32_t l = 0; l < m->nlevels; l++) {
        flow_level *lv = &m->level[l];
        for (uint32_t k = 0; k < lv->ncouplings; k++)
            for (uint32_t p = 0; p < (lv->coupling[k].kind == FLOW_BIPARTITE ? 1u : 4u); p++)
                fn(&lv->coupling[k].net[p], ctx);
        if (lv->factor_out)
            fn(&lv->prior, ctx);
        if (lv->checkerboard)
            fn(&lv->prior2, ctx);
    }
}

/* Packs (next set) or counts each net's conv weights for conv_avx2. */
typedef struct kernel_packer {
    size_t size;   /* int32 elements so far */
    int32_t *next; /* where the next net goes; NULL: count only */
} kernel_packer;

static void pack_net(nn_net *net, void *ctx)
{
    kernel_packer *pk = ctx;
    size_t n = nn_pack_net(net, 0, pk->next);
    pk->size += n;
    if (pk->next)
        pk->next += n;
}

int flow_pack_kernels(flow_model *m)
{
    if (nn_kernel_best() == NN_KERNEL_PORTABLE)
        return IDFZIP_OK;
    kernel_packer count = {0, NULL};
    for_each_net(m, pack_net, &count);
    int32_t *p = malloc((count.size ? count.size : 1) * sizeof *p);
    if (!p)
        return IDFZIP_ERR_NOMEM;
    m->kernel_storage = p;
    kernel_packer pack = {0, p};
    for_each_net(m, pack_net, &pack);
    return IDFZIP_OK;
}

/* Only for freeing the model: the layers keep pointers into the storage,
 * and the model may be half-parsed (walking its nets is not safe). */
void flow_free_kernels(flow_model *m)
{
    free(m->kernel_storage);
    m->kernel_storage = NULL;
}

void flow_free_top_tables(flow_model *m)
{
    free(m->top_storage);
    m->top_storage = NULL;
    m->top_table = NULL;
    m->top_lo = NULL;
}

int flow_build_top_tables(flow_model *m)
{
    if (m->top_components <= 1)
        return IDFZIP_OK;
    size_t c = m->top_channels, k = m->top_components;
    size_t bytes = c * (sizeof(freq_table) + sizeof(int32_t) +
                        (DL_MIXTURE_MAX_SYMBOLS + 1 + FREQ_GUIDE_SIZE) * sizeof(uint16_t));
    uint8_t *p = malloc(bytes);
    if (!p)
        return IDFZIP_ERR_NOMEM;
    m->top_storage = p;
    m->top_table = (freq_table *)p;
    m->top_lo = (int32_t *)(p + c * sizeof(freq_table));
    uint16_t *u16 = (uint16_t *)(p + c * (sizeof(freq_table) + sizeof(int32_t)));
    for (size_t ch = 0; ch < c; ch++) {
        uint16_t *cum = u16 + ch * (DL_MIXTURE_MAX_SYMBOLS + 1 + FREQ_GUIDE_SIZE);
        dl_mixture_table(m->top_mean16 + ch * k, m->top_scale + ch * k, m->top_weight + ch * k,
                         (uint32_t)k, &m->top_table[ch], &m->top_lo[ch], cum,
                         cum + DL_MIXTURE_MAX_SYMBOLS + 1);
    }
    return IDFZIP_OK;
}

uint64_t flow_macs_per_pixel(const flow_model *m)
{
    /* Positions per pixel at level l are 4^-(squeezes so far); sum in units
     * of 1/4^16 of a pixel to stay in integers. */
    uint64_t total = 0;
    uint32_t s = m->initial_squeezes;
    for (uint32_t l = 0; l < m->nlevels; l++) {
        const flow_level *lv = &m->level[l];
        s += lv->squeeze;
        uint64_t macs = lv->factor_out ? nn_macs_per_position(&lv->prior) : 0;
        macs += lv->checkerboard ? nn_macs_per_position(&lv->prior2) : 0;
        for (uint32_t k = 0; k < lv->ncouplings; k++)
            for (uint32_t p = 0; p < (lv->coupling[k].kind == FLOW_BIPARTITE ? 1u : 4u); p++)
                macs += nn_macs_per_position(&lv->coupling[k].net[p]);
        total += macs << (2 * (16 - s));
    }
    return total >> 32;
}

void flow_model_free(flow_model *m)
{
    if (!m)
        return;
    flow_free_top_tables(m);
    flow_free_kernels(m);
    free(m->storage);
    free(m);
}

