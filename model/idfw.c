/* idfw.c — loading and validating .idfw model files (FORMAT.md, "The .idfw
 * model format, version 1").
 *
 * The file is untrusted: every read is bounds-checked, every count and
 * channel chain is checked before it sizes anything, and every conv's
 * worst-case accumulator is proved to fit in int32 before nn.c runs it.
 *
 * The file's arrays are unaligned, so they are copied into one owned block
 * (m->storage).  To size that block exactly the parser runs twice over the
 * same bytes: a measuring pass (no block yet: the arena only counts) and a
 * storing pass (the arena hands out aligned slices of the block).  Both
 * passes run the same code, so they cannot disagree on the layout.
 */
#include "idfw.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../common/bytes.h"
#include "ar_prior.h"

static const uint8_t IDFW_MAGIC[IDFW_MAGIC_SIZE] = {0x89, 'I', 'D', 'W', 0x0D, 0x0A, 0x1A, 0x0A};

/* The fixed header: magic, version, name, channels, bit depth, maxval,
 * tile size, initial squeezes, level count. */
#define IDFW_HEADER_SIZE (IDFW_MAGIC_SIZE + 2 + IDFZIP_MODEL_NAME_MAX + 1 + 1 + 4 + 2 + 2 + 1 + 1)
#define IDFW_CRC_SIZE 4
/* Where the block size stands in the header (after magic, version, name,
 * channels, bit depth, maxval). */
#define IDFW_TILE_OFFSET (IDFW_MAGIC_SIZE + 2 + IDFZIP_MODEL_NAME_MAX + 1 + 1 + 4)
#define IDFW_MAX_INITIAL_SQUEEZES 8
/* A level's nets take at most C/2 channels, so C never needs to exceed this;
 * the net checks enforce the tighter per-kind limits. */
#define IDFW_MAX_LEVEL_CHANNELS (2 * NN_MAX_CHANNELS)
#define IDFW_MAX_LEAKY_SHIFT 31
/* A coupling moves a latent by at most |floor((out + 8) / 16)| <= 2^16 for
 * |out| <= NN_MAX_CLAMP; one more for margin, so the bound stays safe should
 * the rounding of translations ever change. */
#define IDFW_MAX_TRANSLATION ((1 << 16) + 1)
#define IDFW_ACC_LIMIT ((int64_t)1 << 31)

/* ---- arena: counts (measuring pass) or hands out slices (storing pass) -- */

typedef struct arena {
    uint8_t *base; /* NULL while measuring */
    size_t used, cap;
} arena;

/* n bytes aligned to align (a power of two); NULL while measuring or if the
 * block is too small (which the storing pass never hits). */
static void *arena_take(arena *a, size_t n, size_t align)
{
    size_t at = (a->used + align - 1) & ~(align - 1);
    if (!a->base) {
        a->used = at + n;
        return NULL;
    }
    if (at > a->cap || n > a->cap - at)
        return NULL;
    a->used = at + n;
    return a->base + at;
}

/* ---- the parser context: reader over the body plus the arena ---- */

typedef struct loader {
    byte_reader in; /* the body: its size excludes the CRC; failed is sticky
                       and also set by a failed check, after which reads
                       return zeros */
    arena store;
} loader;

/* Records a failed check; returns whether everything so far holds, so
 * callers can stop before using a value that failed. */
static int need(loader *ld, int cond)
{
    if (!cond)
        ld->in.failed = 1;
    return cond && !ld->in.failed;
}

/* The next n raw bytes, or NULL (and failed) past the end. */
static const uint8_t *take(loader *ld, size_t n)
{
    return byte_reader_take(&ld->in, n);
}

static uint8_t read_u8(loader *ld)
{
    const uint8_t *p = take(ld, 1);
    return p ? p[0] : 0;
}

static uint16_t read_u16(loader *ld)
{
    const uint8_t *p = take(ld, 2);
    return p ? get_le16(p) : 0;
}

static uint32_t read_u32(loader *ld)
{
    const uint8_t *p = take(ld, 4);
    return p ? get_le32(p) : 0;
}

static int32_t read_i32(loader *ld)
{
    const uint8_t *p = take(ld, 4);
    return p ? get_le32_signed(p) : 0;
}

/* Storage for n bytes; while storing, running out of the block (which the
 * measuring pass sized, so it cannot happen) still fails safely. */
static void *store(loader *ld, size_t n, size_t align)
{
    void *p = arena_take(&ld->store, n, align);
    if (ld->store.base && !p)
        ld->in.failed = 1;
    return p;
}

static int clamp_ok(int32_t clamp) { return clamp >= 1 && clamp <= NN_MAX_CLAMP; }

/* ---- nets ---- */

/* Channels and bound (largest magnitude) of every tensor of a net:
 * tensor 0 is the input, tensor i + 1 the output of layer i. */
typedef struct tensor_info {
    uint32_t channels[NN_MAX_LAYERS + 1];
    int32_t bound[NN_MAX_LAYERS + 1];
} tensor_info;

/* cout int32 biases: each must keep the worst-case accumulator below 2^31
 * given the input's bound, with |weight| <= 128. */
static const int32_t *read_biases(loader *ld, uint32_t cout, int64_t weight_term)
{
    const uint8_t *raw = take(ld, (size_t)cout * 4);
    int32_t *bias = store(ld, (size_t)cout * 4, alignof(int32_t));
    for (uint32_t o = 0; raw && o < cout; o++) {
        int64_t b = get_le32_signed(raw + 4 * o);
        need(ld, weight_term + (b < 0 ? -b : b) < IDFW_ACC_LIMIT);
        if (bias)
            bias[o] = (int32_t)b;
    }
    return bias;
}

static const int32_t *read_mults(loader *ld, uint32_t cout)
{
    const uint8_t *raw = take(ld, (size_t)cout * 4);
    int32_t *mult = store(ld, (size_t)cout * 4, alignof(int32_t));
    for (uint32_t o = 0; raw && o < cout; o++) {
        int32_t v = get_le32_signed(raw + 4 * o);
        need(ld, v >= 0 && v < NN_MAX_MULT);
        if (mult)
            mult[o] = v;
    }
    return mult;
}

static const uint8_t *read_shifts(loader *ld, uint32_t cout)
{
    const uint8_t *raw = take(ld, cout);
    uint8_t *shift = store(ld, cout, 1);
    for (uint32_t o = 0; raw && o < cout; o++) {
        need(ld, raw[o] <= NN_MAX_SHIFT);
        if (shift)
            shift[o] = raw[o];
    }
    return shift;
}

static void read_conv(loader *ld, nn_layer *l, tensor_info *t, uint32_t i)
{
    l->kernel = read_u8(ld);
    l->cin = read_u16(ld);
    l->cout = read_u16(ld);
    l->clamp = read_i32(ld);
    if (!need(ld, (l->kernel == 1 || l->kernel == 3) && l->cin == t->channels[i] &&
                      l->cout >= 1 && l->cout <= NN_MAX_CHANNELS && clamp_ok(l->clamp)))
        return;
    size_t taps = (size_t)l->kernel * l->kernel * l->cin;
    const uint8_t *raw = take(ld, taps * l->cout);
    int8_t *weight = store(ld, taps * l->cout, 1);
    if (raw && weight)
        memcpy(weight, raw, taps * l->cout);
    l->weight = weight;
    int64_t weight_term = (int64_t)taps * t->bound[i] * 128;
    l->bias = read_biases(ld, l->cout, weight_term);
    l->mult = read_mults(ld, l->cout);
    l->shift = read_shifts(ld, l->cout);
    t->channels[i + 1] = l->cout;
    t->bound[i + 1] = l->clamp;
}

static void read_add(loader *ld, nn_layer *l, tensor_info *t, uint32_t i)
{
    l->src = read_u16(ld);
    l->clamp = read_i32(ld);
    if (!need(ld, l->src <= i && clamp_ok(l->clamp)))
        return;
    need(ld, t->channels[l->src] == t->channels[i]);
    t->channels[i + 1] = t->channels[i];
    t->bound[i + 1] = l->clamp;
}

/* Layer i reads tensor i and writes tensor i + 1. */
static void read_layer(loader *ld, nn_layer *l, tensor_info *t, uint32_t i)
{
    l->op = read_u8(ld);
    l->cin = t->channels[i];
    l->cout = t->channels[i];
    /* Activations keep channels and bound. */
    t->channels[i + 1] = t->channels[i];
    t->bound[i + 1] = t->bound[i];
    switch (l->op) {
    case NN_CONV:
        read_conv(ld, l, t, i);
        break;
    case NN_RELU:
        break;
    case NN_LEAKY:
        l->leaky_shift = read_u8(ld);
        need(ld, l->leaky_shift >= 1 && l->leaky_shift <= IDFW_MAX_LEAKY_SHIFT);
        break;
    case NN_ADD:
        read_add(ld, l, t, i);
        break;
    default:
        need(ld, 0);
    }
}

#define ANY_COUT UINT32_MAX

/* A net that must map cin channels to cout channels (ANY_COUT: to
 * whatever its last layer gives, for the caller to check). */
static void read_net(loader *ld, nn_net *net, uint32_t cin, uint32_t cout)
{
    net->cin = cin;
    net->cout = cout;
    net->nlayers = read_u16(ld);
    net->in_clamp = read_i32(ld);
    if (!need(ld, cin >= 1 && cin <= NN_MAX_CHANNELS && cout >= 1 &&
                      (cout == ANY_COUT || cout <= NN_MAX_CHANNELS) &&
                      net->nlayers >= 1 && net->nlayers <= NN_MAX_LAYERS &&
                      clamp_ok(net->in_clamp)))
        return;
    tensor_info t;
    t.channels[0] = cin;
    t.bound[0] = net->in_clamp;
    for (uint32_t i = 0; i < net->nlayers && !ld->in.failed; i++)
        read_layer(ld, &net->layer[i], &t, i);
    /* After a failed layer the later tensors were never described. */
    if (need(ld, !ld->in.failed && (cout == ANY_COUT || t.channels[net->nlayers] == cout)))
        net->cout = t.channels[net->nlayers];
}

/* ---- couplings and levels ---- */

/* channels uint16 entries that must be a bijection of 0..channels-1. */
static const uint16_t *read_perm(loader *ld, uint32_t channels)
{
    uint8_t seen[IDFW_MAX_LEVEL_CHANNELS] = {0};
    const uint8_t *raw = take(ld, (size_t)channels * 2);
    uint16_t *perm = store(ld, (size_t)channels * 2, alignof(uint16_t));
    for (uint32_t i = 0; raw && i < channels; i++) {
        uint16_t v = get_le16(raw + 2 * i);
        if (!need(ld, v < channels && !seen[v]))
            break;
        seen[v] = 1;
        if (perm)
            perm[i] = v;
    }
    return perm;
}

static void read_coupling(loader *ld, flow_coupling *c, uint32_t channels)
{
    c->kind = read_u8(ld);
    if (!need(ld, (c->kind == FLOW_BIPARTITE || c->kind == FLOW_QUADRIPARTITE) &&
                      channels % c->kind == 0))
        return;
    c->perm = read_perm(ld, channels);
    if (c->kind == FLOW_BIPARTITE) {
        read_net(ld, &c->net[0], channels / 2, channels / 2);
        return;
    }
    for (int k = 0; k < 4; k++)
        read_net(ld, &c->net[k], 3 * channels / 4, channels / 4);
}

/* Level li, entered with *channels remaining; leaves what remains after it. */
static void read_level(loader *ld, flow_model *m, uint32_t li, uint32_t *channels)
{
    flow_level *lv = &m->level[li];
    lv->squeeze = read_u8(ld);
    uint8_t factor_out = read_u8(ld); /* 2: a checkerboard factor-out, with prior2 */
    lv->factor_out = factor_out != 0;
    lv->checkerboard = factor_out == 2;
    lv->ncouplings = read_u16(ld);
    int last = li + 1 == m->nlevels;
    if (!need(ld, lv->squeeze <= 1 && factor_out <= 2 && !(last && lv->factor_out) &&
                      lv->ncouplings >= 1 && lv->ncouplings <= FLOW_MAX_COUPLINGS))
        return;
    uint64_t c = (uint64_t)*channels * (lv->squeeze ? 4 : 1);
    if (!need(ld, c <= IDFW_MAX_LEVEL_CHANNELS))
        return;
    lv->channels = (uint32_t)c;
    for (uint32_t k = 0; k < lv->ncouplings && !ld->in.failed; k++)
        read_coupling(ld, &lv->coupling[k], lv->channels);
    *channels = lv->channels;
    if (lv->factor_out && need(ld, lv->channels % 2 == 0)) {
        read_net(ld, &lv->prior, lv->channels / 2, lv->channels);
        if (lv->checkerboard)
            read_net(ld, &lv->prior2, lv->channels, lv->channels);
        *channels = lv->channels / 2;
    }
}

/* ---- header, top prior, whole-model checks ---- */

/* Printable ASCII, non-empty, NUL-padded (nothing after the first NUL). */
static void read_name(loader *ld, char name[IDFZIP_MODEL_NAME_MAX])
{
    const uint8_t *raw = take(ld, IDFZIP_MODEL_NAME_MAX);
    if (!raw)
        return;
    int ended = 0;
    for (size_t i = 0; i < IDFZIP_MODEL_NAME_MAX; i++) {
        ended |= raw[i] == 0;
        need(ld, ended ? raw[i] == 0 : (raw[i] >= 0x20 && raw[i] <= 0x7e));
        name[i] = (char)raw[i];
    }
    need(ld, raw[0] != 0);
}

/* The fixed header's fields, common to both kinds of model. */
typedef struct idfw_fields {
    char name[IDFZIP_MODEL_NAME_MAX];
    uint32_t channels, bit_depth, maxval;
    uint32_t tile_width, tile_height; /* the block the nets see */
    uint32_t initial_squeezes, nlevels;
} idfw_fields;

static void read_header(loader *ld, idfw_fields *f)
{
    take(ld, IDFW_MAGIC_SIZE + 2); /* magic and version, checked up front */
    read_name(ld, f->name);
    f->channels = read_u8(ld);
    f->bit_depth = read_u8(ld);
    f->maxval = read_u32(ld);
    f->tile_width = read_u16(ld);
    f->tile_height = read_u16(ld);
    f->initial_squeezes = read_u8(ld);
    f->nlevels = read_u8(ld);
    need(ld, f->channels >= 1 && f->channels <= 4 && f->bit_depth >= 1 && f->bit_depth <= 16 &&
                 f->maxval >= 1 && f->maxval <= (1u << f->bit_depth) - 1 && f->tile_width >= 1 &&
                 f->tile_height >= 1 && f->initial_squeezes <= IDFW_MAX_INITIAL_SQUEEZES &&
                 f->nlevels <= FLOW_MAX_LEVELS);
}

/* The AR prior (no levels, top K = 0): 8-bit RGB or grey, a net of dense
 * layers (1x1 convs) from the AR_PRIOR_FEATURES features to 2 outputs (one
 * DL) or 6 (a mixture of two). */
static void read_ar_prior(loader *ld, const idfw_fields *f, ar_prior_model *m)
{
    need(ld, read_u8(ld) == 0); /* top K */
    if (!need(ld, f->initial_squeezes == 0 && (f->channels == 1 || f->channels == 3) &&
                      f->bit_depth == 8 && f->maxval == 255))
        return;
    memcpy(m->slot.name, f->name, sizeof m->slot.name);
    m->channels = f->channels;
    m->bit_depth = f->bit_depth;
    m->maxval = f->maxval;
    read_net(ld, &m->net, AR_PRIOR_FEATURES, ANY_COUT);
    need(ld, m->net.cout == AR_PRIOR_OUTPUTS || m->net.cout == AR_PRIOR_MIX_OUTPUTS);
    for (uint32_t i = 0; i < m->net.nlayers && !ld->in.failed; i++)
        need(ld, m->net.layer[i].op != NN_CONV || m->net.layer[i].kernel == 1);
}

/* Top prior: K components per channel (K = 1: one DL), then Ct*K means,
 * Ct*K scale indices, Ct*K weights (each >= 1, summing to 2^15 per
 * channel). */
static void read_top(loader *ld, flow_model *m)
{
    uint32_t k = read_u8(ld);
    if (!need(ld, k >= 1 && k <= FLOW_MAX_COMPONENTS))
        return;
    size_t n = (size_t)m->top_channels * k;
    const uint8_t *means = take(ld, n * 4), *scales = take(ld, n * 4), *weights = take(ld, n * 2);
    int32_t *mean16 = store(ld, n * 4, alignof(int32_t));
    int32_t *scale = store(ld, n * 4, alignof(int32_t));
    uint16_t *weight = store(ld, n * 2, alignof(uint16_t));
    for (size_t i = 0; means && scales && weights && i < n; i++) {
        int32_t mu = get_le32_signed(means + 4 * i), s = get_le32_signed(scales + 4 * i);
        uint32_t w = (uint32_t)weights[2 * i] | (uint32_t)weights[2 * i + 1] << 8;
        need(ld, mu >= -NN_MAX_CLAMP && mu <= NN_MAX_CLAMP && s >= 0 && s < DL_NUM_SCALES && w >= 1);
        if (mean16) {
            mean16[i] = mu;
            scale[i] = s;
            weight[i] = (uint16_t)w;
        }
    }
    for (uint32_t c = 0; weights && c < m->top_channels; c++) {
        uint32_t sum = 0;
        for (uint32_t j = 0; j < k; j++)
            sum += (uint32_t)weights[2 * ((size_t)c * k + j)] | (uint32_t)weights[2 * ((size_t)c * k + j) + 1] << 8;
        need(ld, sum == FLOW_WEIGHT_ONE);
    }
    m->top_components = k;
    m->top_mean16 = mean16;
    m->top_scale = scale;
    m->top_weight = weight;
}

/* Worst-case latents must stay inside the entropy coder's value range. */
static void check_latent_range(loader *ld, const flow_model *m)
{
    uint64_t couplings = 0;
    for (uint32_t li = 0; li < m->nlevels; li++)
        couplings += m->level[li].ncouplings;
    need(ld, m->maxval + couplings * IDFW_MAX_TRANSLATION < DL_VALUE_LIMIT);
}

/* Every squeeze halves the tile; a tile smaller than the alignment would
 * leave no flow region at all. */
static void check_alignment(loader *ld, const flow_model *m)
{
    uint32_t squeezes = m->initial_squeezes;
    for (uint32_t li = 0; li < m->nlevels; li++)
        squeezes += m->level[li].squeeze;
    uint64_t align = (uint64_t)1 << squeezes;
    need(ld, m->slot.tile_width >= align && m->slot.tile_height >= align);
}

/* The flow (levels >= 1): its levels, top prior and whole-model checks. */
static void read_flow(loader *ld, const idfw_fields *f, flow_model *m)
{
    memcpy(m->slot.name, f->name, sizeof m->slot.name);
    m->image_channels = f->channels;
    m->bit_depth = f->bit_depth;
    m->maxval = f->maxval;
    m->slot.tile_width = f->tile_width;
    m->slot.tile_height = f->tile_height;
    m->initial_squeezes = f->initial_squeezes;
    m->nlevels = f->nlevels;
    uint32_t channels = m->image_channels << (2 * m->initial_squeezes);
    for (uint32_t li = 0; li < m->nlevels && !ld->in.failed; li++)
        read_level(ld, m, li, &channels);
    if (ld->in.failed)
        return;
    m->top_channels = channels;
    read_top(ld, m);
    check_latent_range(ld, m);
    check_alignment(ld, m);
}

/* One full pass over the body into the model its header announces (the
 * caller allocated that one); leaves ld->in.failed set on any violation. */
static void parse_model(loader *ld, flow_model *flow, ar_prior_model *ar)
{
    idfw_fields f;
    ld->in.pos = 0;
    read_header(ld, &f);
    if (ld->in.failed)
        return;
    if (!need(ld, (f.nlevels == 0) == (ar != NULL)))
        return;
    if (ar)
        read_ar_prior(ld, &f, ar);
    else
        read_flow(ld, &f, flow);
    need(ld, ld->in.pos == ld->in.size); /* no trailing bytes */
}

/* ---- entry points ---- */

static uint32_t crc_of(const uint8_t *data, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt n = size > (1u << 30) ? (1u << 30) : (uInt)size;
        crc = crc32(crc, data, n);
        data += n;
        size -= n;
    }
    return (uint32_t)crc;
}

/* Magic, version and CRC: cheap checks that need no allocation. */
static int check_envelope(const uint8_t *data, size_t size)
{
    if (!data || size < IDFW_HEADER_SIZE + IDFW_CRC_SIZE)
        return 0;
    if (memcmp(data, IDFW_MAGIC, IDFW_MAGIC_SIZE) != 0 ||
        get_le16(data + IDFW_MAGIC_SIZE) != IDFW_VERSION)
        return 0;
    size_t body = size - IDFW_CRC_SIZE;
    return crc_of(data, body) == get_le32(data + body);
}

void idfw_free(idf_model *m)
{
    if (m && m->destroy)
        m->destroy(m);
}

/* Both passes over the body (see the top of this file): measuring, then
 * storing into one block; *storage receives the block. */
static int parse_twice(const uint8_t *data, size_t size, flow_model *flow, ar_prior_model *ar,
                       void **storage)
{
    loader ld = {.in = {.data = data, .size = size - IDFW_CRC_SIZE}};
    parse_model(&ld, flow, ar); /* measuring pass */
    if (ld.in.failed)
        return IDFZIP_ERR_MODEL;
    /* + 1: a valid model always has arrays, but malloc(0) may return NULL. */
    ld.store = (arena){.base = malloc(ld.store.used + 1), .cap = ld.store.used + 1};
    *storage = ld.store.base;
    if (!*storage)
        return IDFZIP_ERR_NOMEM;
    parse_model(&ld, flow, ar); /* storing pass: same bytes, same checks */
    return ld.in.failed ? IDFZIP_ERR_MODEL : IDFZIP_OK;
}

static int load_flow(const uint8_t *data, size_t size, idf_model **out)
{
    flow_model *m = calloc(1, sizeof *m);
    if (!m)
        return IDFZIP_ERR_NOMEM;
    int st = parse_twice(data, size, m, NULL, &m->storage);
    if (st == IDFZIP_OK)
        st = flow_build_top_tables(m);
    if (st == IDFZIP_OK)
        st = flow_pack_kernels(m);
    if (st != IDFZIP_OK) {
        flow_model_free(m);
        return st;
    }
    m->slot.crc = get_le32(data + size - IDFW_CRC_SIZE);
    flow_model_bind(m);
    *out = &m->slot;
    return IDFZIP_OK;
}

static int load_ar_prior(const uint8_t *data, size_t size, idf_model **out)
{
    ar_prior_model *m = calloc(1, sizeof *m);
    if (!m)
        return IDFZIP_ERR_NOMEM;
    int st = parse_twice(data, size, NULL, m, &m->storage);
    if (st == IDFZIP_OK)
        st = ar_prior_finish(m, get_le16(data + IDFW_TILE_OFFSET),
                             get_le16(data + IDFW_TILE_OFFSET + 2));
    if (st != IDFZIP_OK) {
        ar_prior_free(m);
        return st;
    }
    m->slot.crc = get_le32(data + size - IDFW_CRC_SIZE);
    *out = &m->slot;
    return IDFZIP_OK;
}

int idfw_load(const uint8_t *data, size_t size, idf_model **out)
{
    if (!out)
        return IDFZIP_ERR_ARG;
    if (!check_envelope(data, size))
        return IDFZIP_ERR_MODEL;
    /* The level count, the header's last byte, says which kind of model. */
    return data[IDFW_HEADER_SIZE - 1] == 0 ? load_ar_prior(data, size, out)
                                           : load_flow(data, size, out);
}
