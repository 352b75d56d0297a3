/* idfw_random.c — .idfw files from an architecture and seeded random
 * weights (see idfw_random.h and FORMAT.md, "The .idfw model format").
 *
 * Nets: conv(k, cin -> width) + act, (hidden - 1) x [conv(k, width ->
 * width) + act (+ add of the block input)], conv(k, width -> cout) with
 * clamp NN_MAX_CLAMP (outputs in 1/16 units).  hidden = 0 gives a single
 * conv(k, cin -> cout).
 *
 * The AR prior (arch.ar) has such a net from AR_PRIOR_FEATURES integer
 * features to (mean correction, scale index), both in 1/16, in place of
 * the top prior.
 *
 * "Small random" weights are scaled by fan-in so hidden activations of
 * pixel-like inputs stay around a few hundred (neither all zero nor all
 * clamped), translations stay mostly within +-20 and prior scale indices
 * mostly within 20..60 (the AR prior's: mean corrections mostly within +-2,
 * scale indices around 28).  Every conv's bias is kept inside the loader's
 * accumulator bound, whatever the mode.
 */
#include "idfw_random.h"

#include "../../common/bytes.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HIDDEN_CLAMP 4095
/* Headroom left for biases when a net's clamp has to shrink for wide convs. */
#define BIAS_HEADROOM ((int64_t)1 << 30)
#define ACC_LIMIT ((int64_t)1 << 31)
#define SMALL_WEIGHT 12
#define SMALL_WEIGHT_STD 7 /* of the uniform integers in [-12, 12] */
#define HIDDEN_RMS 300     /* target hidden activation size */
#define TRANSLATE_RMS 96   /* 1/16 units: translations of about +-6 */
#define MEAN_NOISE_RMS 64  /* 1/16 units around the data's middle */
#define SCALE_CENTER 40    /* scale index of the prior outputs and top */
#define SCALE_RMS 80       /* 1/16 units: scale indices of about 40 +- 5 */
#define AR_MEAN_RMS 16     /* 1/16 units: AR mean corrections of about +-1 */
#define AR_SCALE_CENTER 28 /* the AR prior's scale index */
#define AR_SCALE_RMS 64    /* 1/16 units: AR scale indices of about 28 +- 4 */
#define AR_LOGIT_RMS 64    /* 1/16 units: mixture weights of about 1/2 +- 1/4 */
#define MAX_FIELD16 0xFFFFu

/* ---- the presets: a table, one row per architecture ---- */

static const idfw_arch PRESETS[] = {
    {.name = "tiny-rgb", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 2,
     .level = {{1, 1, FLOW_BIPARTITE, 2}, {1, 0, FLOW_QUADRIPARTITE, 2}},
     .width = 8, .hidden = 1, .kernel = 3, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_SHUFFLE},
    {.name = "tiny-grey", .channels = 1, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 2,
     .level = {{1, 1, FLOW_BIPARTITE, 2}, {1, 0, FLOW_QUADRIPARTITE, 2}},
     .width = 8, .hidden = 1, .kernel = 3, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP},
    {.name = "digits-bi", .channels = 1, .bit_depth = 8, .maxval = 16, .tile_w = 8,
     .tile_h = 8, .initial_squeezes = 3, .nlevels = 1,
     .level = {{0, 0, FLOW_BIPARTITE, 8}},
     .width = 256, .hidden = 2, .kernel = 1, .leaky_shift = 3, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP},
    {.name = "digits-quad", .channels = 1, .bit_depth = 8, .maxval = 16, .tile_w = 8,
     .tile_h = 8, .initial_squeezes = 3, .nlevels = 1,
     .level = {{0, 0, FLOW_QUADRIPARTITE, 8}},
     .width = 256, .hidden = 2, .kernel = 1, .leaky_shift = 3, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP},
    {.name = "tiny-rgb-mix", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 2,
     .level = {{1, 1, FLOW_BIPARTITE, 2}, {1, 0, FLOW_QUADRIPARTITE, 2}},
     .width = 8, .hidden = 1, .kernel = 3, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP, .top_components = 3},
    /* tiny-rgb with a checkerboard (two-pass) factor-out: factor_out 2 */
    {.name = "tiny-rgb-checker", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 2,
     .level = {{1, 2, FLOW_QUADRIPARTITE, 2}, {1, 0, FLOW_QUADRIPARTITE, 1}},
     .width = 8, .hidden = 1, .kernel = 3, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_SHUFFLE},
    /* ~70k MACs/pixel: more couplings where the maps are larger would cost
     * four times as much per coupling. */
    {.name = "rgb-64x8", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 64,
     .tile_h = 64, .initial_squeezes = 0, .nlevels = 3,
     .level = {{1, 1, FLOW_QUADRIPARTITE, 6}, {1, 1, FLOW_QUADRIPARTITE, 5},
               {1, 0, FLOW_QUADRIPARTITE, 4}},
     .width = 64, .hidden = 1, .kernel = 3, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_SHUFFLE},
    /* The AR prior: no levels, top K = 0, a dense net 29 -> 8 -> 2 (ReLU). */
    {.name = "tiny-ar", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 0,
     .width = 8, .hidden = 1, .kernel = 1, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP, .ar = 1},
    /* The AR prior with a mixture of two DLs per sample: 29 -> 8 -> 6. */
    {.name = "tiny-ar-mix", .channels = 3, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 0,
     .width = 8, .hidden = 1, .kernel = 1, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP, .ar = 1, .ar_outputs = 6},
    /* The same for grey images. */
    {.name = "tiny-ar-grey", .channels = 1, .bit_depth = 8, .maxval = 255, .tile_w = 32,
     .tile_h = 32, .initial_squeezes = 0, .nlevels = 0,
     .width = 8, .hidden = 1, .kernel = 1, .leaky_shift = 0, .residual = 0,
     .weight_mode = IDFW_WEIGHTS_SMALL, .perm_mode = IDFW_PERM_FLIP, .ar = 1},
};

#define PRESET_COUNT (sizeof PRESETS / sizeof PRESETS[0])

const char *idfw_preset_name(size_t i) { return i < PRESET_COUNT ? PRESETS[i].name : NULL; }

int idfw_arch_preset(const char *name, idfw_arch *a)
{
    for (size_t i = 0; name && i < PRESET_COUNT; i++) {
        if (strcmp(PRESETS[i].name, name) == 0) {
            *a = PRESETS[i];
            return 0;
        }
    }
    return -1;
}

/* ---- little-endian writer (common/bytes.h) ---- */

typedef byte_writer writer;

static void put_u8(writer *w, uint32_t v) { byte_writer_put_le(w, v, 1); }
static void put_u16(writer *w, uint32_t v) { byte_writer_put_le(w, v, 2); }
static void put_u32(writer *w, uint32_t v) { byte_writer_put_le(w, v, 4); }
/* Two's complement bytes; the conversion to uint32_t is well defined. */
static void put_i32(writer *w, int32_t v) { byte_writer_put_le(w, (uint32_t)v, 4); }

/* ---- the builder: writer, random state, arch ---- */

typedef struct builder {
    writer w;
    uint64_t rng;
    const idfw_arch *a;
    int failed; /* the arch cannot be written */
} builder;

/* splitmix64: small, seedable, identical on every platform. */
static uint64_t next_random(builder *b)
{
    uint64_t z = (b->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform-ish integer in [lo, hi]. */
static int64_t random_in(builder *b, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(next_random(b) % (uint64_t)(hi - lo + 1));
}

static uint64_t isqrt(uint64_t v)
{
    uint64_t r = 0;
    while ((r + 1) * (r + 1) <= v)
        r++;
    return r;
}

/* ---- convs ---- */

enum conv_role { ROLE_HIDDEN, ROLE_TRANSLATE, ROLE_PRIOR, ROLE_AR };

typedef struct conv_spec {
    uint32_t cin, cout;
    int32_t clamp;    /* of its output */
    int32_t in_bound; /* clamp of the tensor it reads */
    uint32_t in_rms;  /* typical magnitude of that tensor */
    enum conv_role role;
} conv_spec;

typedef struct channel_params {
    int32_t bias, mult;
    uint8_t shift;
} channel_params;

static int8_t random_weight(builder *b)
{
    switch (b->a->weight_mode) {
    case IDFW_WEIGHTS_SMALL:
        return (int8_t)random_in(b, -SMALL_WEIGHT, SMALL_WEIGHT);
    case IDFW_WEIGHTS_EXTREME:
        return (next_random(b) & 1) ? 127 : -128;
    default:
        return 0;
    }
}

/* What output o of an AR net of cout outputs is: one DL's (mean
 * correction, scale index), or a mixture's (2 means, 2 scales, 2 logits). */
enum ar_output { AR_MEAN, AR_SCALE, AR_LOGIT };
static enum ar_output ar_output_of(uint32_t cout, uint32_t o)
{
    if (cout == 2)
        return o == 0 ? AR_MEAN : AR_SCALE;
    return o < 2 ? AR_MEAN : (o < 4 ? AR_SCALE : AR_LOGIT);
}

/* What output channel o should look like before weights: its typical size
 * (rms) and its centre, both in output units. */
static void output_target(builder *b, const conv_spec *c, uint32_t o, int64_t *rms,
                          int64_t *centre)
{
    int64_t mid16 = 16 * (((int64_t)b->a->maxval + 1) / 2);
    if (c->role == ROLE_HIDDEN) {
        *rms = HIDDEN_RMS;
        *centre = random_in(b, -HIDDEN_RMS / 4, HIDDEN_RMS / 4);
    } else if (c->role == ROLE_TRANSLATE) {
        *rms = TRANSLATE_RMS;
        *centre = random_in(b, -32, 32);
    } else if (c->role == ROLE_AR) {
        enum ar_output kind = ar_output_of(c->cout, o);
        *rms = kind == AR_MEAN ? AR_MEAN_RMS : (kind == AR_SCALE ? AR_SCALE_RMS : AR_LOGIT_RMS);
        *centre = (kind == AR_SCALE ? 16 * AR_SCALE_CENTER : 0) + random_in(b, -16, 16);
    } else { /* prior: first half means of z, second half scale indices */
        *rms = o < c->cout / 2 ? MEAN_NOISE_RMS : SCALE_RMS;
        *centre = (o < c->cout / 2 ? mid16 : 16 * SCALE_CENTER) + random_in(b, -16, 16);
    }
}

/* Small mode: out ~ sqrt(fan_in) * weight_std * in_rms * mult / 2^shift
 * should land near the target rms. */
static channel_params small_params(builder *b, const conv_spec *c, uint32_t o)
{
    int64_t rms, centre;
    output_target(b, c, o, &rms, &centre);
    uint32_t fan_in = (uint32_t)b->a->kernel * b->a->kernel * c->cin;
    uint64_t spread = isqrt(fan_in) * SMALL_WEIGHT_STD * (c->in_rms ? c->in_rms : 1);
    channel_params p = {.shift = (uint8_t)random_in(b, 16, 18)};
    int64_t mult = (int64_t)(((uint64_t)rms << p.shift) / (spread ? spread : 1));
    mult = mult * random_in(b, 48, 80) / 64; /* +-25% per channel */
    p.mult = (int32_t)(mult < 1 ? 1 : (mult >= NN_MAX_MULT ? NN_MAX_MULT - 1 : mult));
    int64_t bias = (centre * ((int64_t)1 << p.shift)) / p.mult;
    p.bias = (int32_t)(bias > INT32_MAX ? INT32_MAX : (bias < INT32_MIN ? INT32_MIN : bias));
    return p;
}

/* Zero mode: no weights; a prior still gets a constant, sensible output. */
static channel_params zero_params(builder *b, const conv_spec *c, uint32_t o)
{
    channel_params p = {0, 0, 0};
    if (c->role == ROLE_PRIOR) {
        int64_t mid16 = 16 * (((int64_t)b->a->maxval + 1) / 2);
        p.mult = 1;
        p.bias = (int32_t)(o < c->cout / 2 ? mid16 : 16 * SCALE_CENTER);
    } else if (c->role == ROLE_AR) {
        p.mult = 1;
        p.bias = ar_output_of(c->cout, o) == AR_SCALE ? 16 * AR_SCALE_CENTER : 0;
    }
    return p;
}

/* Extreme mode: huge gains, tiny shifts, biases up to the bound. */
static channel_params extreme_params(builder *b, int64_t max_bias)
{
    channel_params p;
    p.mult = (int32_t)random_in(b, NN_MAX_MULT / 2, NN_MAX_MULT - 1);
    p.shift = (uint8_t)((next_random(b) & 7) == 0 ? NN_MAX_SHIFT : random_in(b, 0, 12));
    p.bias = (int32_t)random_in(b, -max_bias, max_bias);
    return p;
}

static void write_conv(builder *b, const conv_spec *c)
{
    writer *w = &b->w;
    uint32_t k = b->a->kernel;
    int64_t max_bias = ACC_LIMIT - 1 - (int64_t)k * k * c->cin * c->in_bound * 128;
    if (max_bias < 0 || c->cin > MAX_FIELD16 || c->cout > MAX_FIELD16) {
        b->failed = 1;
        return;
    }
    put_u8(w, NN_CONV);
    put_u8(w, k);
    put_u16(w, c->cin);
    put_u16(w, c->cout);
    put_i32(w, c->clamp);
    size_t taps = (size_t)k * k * c->cin;
    for (size_t i = 0; i < taps * c->cout && !w->failed; i++) {
        int8_t v = random_weight(b);
        byte_writer_put(w, &v, 1);
    }
    channel_params *p = malloc(sizeof *p * (c->cout ? c->cout : 1));
    if (!p) {
        w->failed = 1;
        return;
    }
    for (uint32_t o = 0; o < c->cout; o++) {
        if (b->a->weight_mode == IDFW_WEIGHTS_SMALL)
            p[o] = small_params(b, c, o);
        else if (b->a->weight_mode == IDFW_WEIGHTS_EXTREME)
            p[o] = extreme_params(b, max_bias);
        else
            p[o] = zero_params(b, c, o);
        p[o].bias = (int32_t)(p[o].bias > max_bias ? max_bias
                                                   : (p[o].bias < -max_bias ? -max_bias : p[o].bias));
    }
    for (uint32_t o = 0; o < c->cout; o++)
        put_i32(w, p[o].bias);
    for (uint32_t o = 0; o < c->cout; o++)
        put_i32(w, p[o].mult);
    for (uint32_t o = 0; o < c->cout; o++)
        put_u8(w, p[o].shift);
    free(p);
}

/* ---- nets ---- */

static void write_activation(builder *b)
{
    if (b->a->leaky_shift) {
        put_u8(&b->w, NN_LEAKY);
        put_u8(&b->w, b->a->leaky_shift);
    } else {
        put_u8(&b->w, NN_RELU);
    }
}

/* 4095, or less when a wide conv would otherwise leave its bias no room. */
static int32_t net_clamp(const idfw_arch *a, uint32_t cin)
{
    uint64_t widest = cin > a->width ? cin : a->width;
    uint64_t per_unit = (uint64_t)a->kernel * a->kernel * (widest ? widest : 1) * 128;
    uint64_t fit = (uint64_t)BIAS_HEADROOM / per_unit;
    return (int32_t)(fit < HIDDEN_CLAMP ? fit : HIDDEN_CLAMP);
}

static uint32_t net_layers(const idfw_arch *a)
{
    if (a->hidden == 0)
        return 1;
    return 2 + (a->hidden - 1) * (a->residual ? 3 : 2) + 1;
}

static void write_net(builder *b, uint32_t cin, uint32_t cout, enum conv_role out_role)
{
    const idfw_arch *a = b->a;
    int32_t clamp = net_clamp(a, cin);
    uint32_t layers = net_layers(a);
    if (clamp < 1 || layers > MAX_FIELD16) {
        b->failed = 1;
        return;
    }
    put_u16(&b->w, layers);
    put_i32(&b->w, clamp);
    /* Inputs are latents of pixel-like magnitude (the AR prior's features
     * are of about that size too). */
    conv_spec c = {.cin = cin, .cout = a->width, .clamp = clamp, .in_bound = clamp,
                   .in_rms = a->maxval / 2 + 1, .role = ROLE_HIDDEN};
    uint32_t tensor = 0; /* index of the tensor the next layer reads */
    for (uint32_t h = 0; h < a->hidden && !b->failed; h++) {
        uint32_t block_input = tensor;
        write_conv(b, &c);
        write_activation(b);
        tensor += 2;
        if (a->residual && h > 0) {
            put_u8(&b->w, NN_ADD);
            put_u16(&b->w, block_input);
            put_i32(&b->w, clamp);
            tensor++;
        }
        c = (conv_spec){.cin = a->width, .cout = a->width, .clamp = clamp, .in_bound = clamp,
                        .in_rms = HIDDEN_RMS / 2, .role = ROLE_HIDDEN};
    }
    c.cout = cout;
    c.clamp = NN_MAX_CLAMP;
    c.role = out_role;
    write_conv(b, &c);
}

/* ---- couplings, levels, the file ---- */

static void write_perm(builder *b, uint32_t channels)
{
    uint16_t *perm = malloc(sizeof *perm * (channels ? channels : 1));
    if (!perm) {
        b->w.failed = 1;
        return;
    }
    for (uint32_t i = 0; i < channels; i++)
        perm[i] = (uint16_t)(channels - 1 - i);
    if (b->a->perm_mode == IDFW_PERM_SHUFFLE) {
        for (uint32_t i = channels; i > 1; i--) { /* Fisher-Yates */
            uint32_t j = (uint32_t)(next_random(b) % i);
            uint16_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
    }
    for (uint32_t i = 0; i < channels; i++)
        put_u16(&b->w, perm[i]);
    free(perm);
}

static void write_coupling(builder *b, uint8_t kind, uint32_t channels)
{
    put_u8(&b->w, kind);
    write_perm(b, channels);
    if (kind == FLOW_QUADRIPARTITE) {
        for (int k = 0; k < 4; k++)
            write_net(b, 3 * channels / 4, channels / 4, ROLE_TRANSLATE);
    } else {
        write_net(b, channels / 2, channels / 2, ROLE_TRANSLATE);
    }
}

/* Writes level li entered with *channels; leaves what remains after it. */
static void write_level(builder *b, uint32_t li, uint32_t *channels)
{
    const idfw_arch *a = b->a;
    uint32_t c = *channels * (a->level[li].squeeze ? 4 : 1);
    uint32_t k = a->level[li].ncouplings;
    if (c > MAX_FIELD16 || k > MAX_FIELD16) {
        b->failed = 1;
        return;
    }
    put_u8(&b->w, a->level[li].squeeze);
    put_u8(&b->w, a->level[li].factor_out);
    put_u16(&b->w, k);
    for (uint32_t i = 0; i < k && !b->failed && !b->w.failed; i++)
        write_coupling(b, a->level[li].kind, c);
    *channels = c;
    if (a->level[li].factor_out) {
        write_net(b, c / 2, c, ROLE_PRIOR);
        if (a->level[li].factor_out == 2) /* checkerboard: (h, anchors) -> params */
            write_net(b, c, c, ROLE_PRIOR);
        *channels = c / 2;
    }
}

static void write_header(builder *b)
{
    const idfw_arch *a = b->a;
    static const uint8_t magic[8] = {0x89, 'I', 'D', 'W', 0x0D, 0x0A, 0x1A, 0x0A};
    char name[IDFZIP_MODEL_NAME_MAX] = {0};
    size_t len = a->name ? strlen(a->name) : 0;
    if (len > IDFZIP_MODEL_NAME_MAX || a->channels > 0xFF || a->bit_depth > 0xFF ||
        a->tile_w > MAX_FIELD16 || a->tile_h > MAX_FIELD16 || a->initial_squeezes > 0xFF ||
        a->nlevels > FLOW_MAX_LEVELS) {
        b->failed = 1;
        return;
    }
    if (len)
        memcpy(name, a->name, len);
    byte_writer_put(&b->w, magic, sizeof magic);
    put_u16(&b->w, 1);
    byte_writer_put(&b->w, name, sizeof name);
    put_u8(&b->w, a->channels);
    put_u8(&b->w, a->bit_depth);
    put_u32(&b->w, a->maxval);
    put_u16(&b->w, a->tile_w);
    put_u16(&b->w, a->tile_h);
    put_u8(&b->w, a->initial_squeezes);
    put_u8(&b->w, a->nlevels);
}

/* Constant per-channel prior of what is left after the last level: K
 * components with spread means, then their scales, then weights summing
 * to 2^15 (the first component takes the rounding remainder). */
static void write_top(builder *b, uint32_t channels)
{
    int32_t mid16 = (int32_t)(16 * (((int64_t)b->a->maxval + 1) / 2));
    int zero = b->a->weight_mode == IDFW_WEIGHTS_ZERO;
    uint32_t k = b->a->top_components > 1 ? b->a->top_components : 1;
    put_u8(&b->w, (uint8_t)k);
    for (uint32_t c = 0; c < channels; c++)
        for (uint32_t j = 0; j < k; j++)
            put_i32(&b->w, mid16 + 16 * 8 * (int32_t)j + (zero ? 0 : (int32_t)random_in(b, -16, 16)));
    for (uint32_t c = 0; c < channels; c++)
        for (uint32_t j = 0; j < k; j++)
            put_i32(&b->w, SCALE_CENTER + (zero ? 0 : (int32_t)random_in(b, -4, 4)));
    for (uint32_t c = 0; c < channels; c++)
        for (uint32_t j = 0; j < k; j++)
            put_u16(&b->w, (uint16_t)((1u << 15) / k + (j == 0 ? (1u << 15) % k : 0)));
}

/* Channels entering level 0, or 0 when they cannot fit any field. */
static uint32_t initial_channels(const idfw_arch *a)
{
    uint64_t c = a->channels;
    for (uint32_t s = 0; s < a->initial_squeezes && c <= MAX_FIELD16; s++)
        c *= 4;
    return c <= MAX_FIELD16 ? (uint32_t)c : 0;
}

int idfw_build_random(const idfw_arch *a, uint64_t seed, uint8_t **out, size_t *size)
{
    builder b = {.rng = seed, .a = a};
    write_header(&b);
    uint32_t channels = initial_channels(a);
    b.failed |= channels == 0 && a->channels != 0;
    for (uint32_t li = 0; li < a->nlevels && !b.failed && !b.w.failed; li++)
        write_level(&b, li, &channels);
    if (!b.failed && a->ar) { /* K = 0, then the AR prior's net */
        put_u8(&b.w, 0);
        write_net(&b, AR_PRIOR_FEATURES, idfw_ar_outputs(a), ROLE_AR);
    } else if (!b.failed) {
        write_top(&b, channels);
    }
    if (!b.failed && !b.w.failed)
        put_u32(&b.w, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b.w.buf, (uInt)b.w.size));
    if (b.failed || b.w.failed) {
        free(b.w.buf);
        return -1;
    }
    *out = b.w.buf;
    *size = b.w.size;
    return 0;
}
