/* test_nn.c — integer layer semantics of model/nn.c.
 *
 * nn_forward is compared bit for bit with a deliberately naive reference
 * written here (per output pixel, explicit padding tests, 64-bit
 * accumulation, floor division from % and /) on many random nets, and with
 * hand-computed examples.  On 1x1 maps (one position, the dense path of
 * the AR prior) every kernel, with and without the dense packing, must give
 * the reference's integers.
 * Because every result must equal the reference, building this test with
 * different compilers and flags shows the outputs do not depend on them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/nn.h"
#include "test_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define I32_LIMIT ((int64_t)1 << 31)

/* ---- the reference ---------------------------------------------------- */

/* floor(v / d) for d > 0, by removing the non-negative remainder first. */
static int64_t ref_floor_div(int64_t v, int64_t d)
{
    int64_t rem = ((v % d) + d) % d; /* in [0, d) whatever v's sign */
    return (v - rem) / d;
}

static int64_t ref_pow2(unsigned s)
{
    int64_t p = 1;
    while (s--)
        p *= 2;
    return p;
}

static int32_t ref_clamp(int64_t v, int32_t bound)
{
    return (int32_t)(v < -bound ? -bound : v > bound ? bound : v);
}

/* Set when an accumulator leaves int32: the random nets must never do that,
 * or they would test behaviour the loader rules out. */
static int ref_overflow;

static int32_t ref_conv_pixel(const nn_layer *l, const int32_t *in, int h,
                              int w, uint32_t o, int y, int x)
{
    const int k = l->kernel, r = k / 2;
    int64_t acc = l->bias[o];
    for (uint32_t i = 0; i < l->cin; i++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                int iy = y + ky - r, ix = x + kx - r;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                    continue; /* zero padding */
                int64_t wt = l->weight[((o * l->cin + i) * k + ky) * k + kx];
                acc += wt * in[((int64_t)i * h + iy) * w + ix];
                if (acc >= I32_LIMIT || acc < -I32_LIMIT)
                    ref_overflow = 1;
            }
    unsigned s = l->shift[o];
    int64_t half = s == 0 ? 0 : ref_pow2(s) / 2;
    return ref_clamp(ref_floor_div(acc * l->mult[o] + half, ref_pow2(s)),
                     l->clamp);
}

static void ref_layer(const nn_layer *l, int32_t *const *t, uint32_t idx,
                      int h, int w)
{
    const int32_t *in = t[idx];
    int32_t *out = t[idx + 1];
    const int64_t plane = (int64_t)h * w;
    for (uint32_t c = 0; c < l->cout; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int64_t p = c * plane + (int64_t)y * w + x;
                switch (l->op) {
                case NN_CONV:
                    out[p] = ref_conv_pixel(l, in, h, w, c, y, x);
                    break;
                case NN_RELU:
                    out[p] = in[p] < 0 ? 0 : in[p];
                    break;
                case NN_LEAKY:
                    out[p] = in[p] < 0
                                 ? (int32_t)ref_floor_div(in[p],
                                                          ref_pow2(l->leaky_shift))
                                 : in[p];
                    break;
                case NN_ADD:
                    out[p] = ref_clamp((int64_t)in[p] + t[l->src][p], l->clamp);
                    break;
                }
            }
}

/* Runs net through the reference; every tensor gets its own buffer. */
static void ref_forward(const nn_net *net, const int32_t *in, int h, int w,
                        int32_t *out)
{
    int32_t *t[NN_MAX_LAYERS + 1];
    const size_t plane = (size_t)h * w;
    t[0] = malloc(sizeof(int32_t) * (net->cin * plane + 1));
    for (size_t p = 0; p < net->cin * plane; p++)
        t[0][p] = ref_clamp(in[p], net->in_clamp);
    for (uint32_t i = 0; i < net->nlayers; i++) {
        t[i + 1] = malloc(sizeof(int32_t) * (net->layer[i].cout * plane + 1));
        ref_layer(&net->layer[i], t, i, h, w);
    }
    memcpy(out, t[net->nlayers], sizeof(int32_t) * net->cout * plane);
    for (uint32_t i = 0; i <= net->nlayers; i++)
        free(t[i]);
}

/* ---- running nn_forward under guard ------------------------------------ */

#define GUARD 8
#define GUARD_VALUE 0x5a5a5a5a

/* Runs nn_forward with exactly nn_scratch_size() elements of garbage-filled
 * scratch (so ASan sees any overrun and stale contents cannot leak into the
 * result) and checks it leaves its input and everything past out alone. */
static void run_nn(const nn_net *net, const int32_t *in, uint32_t h,
                   uint32_t w, int32_t *out, uint64_t *rng, nn_kernel kernel)
{
    const size_t plane = (size_t)h * w, nin = net->cin * plane;
    const size_t nout = net->cout * plane, nscratch = nn_scratch_size(net, h, w);
    int32_t *scratch = malloc(sizeof(int32_t) * (nscratch ? nscratch : 1));
    int32_t *in_copy = malloc(sizeof(int32_t) * (nin + 1));
    for (size_t k = 0; k < nscratch; k++)
        scratch[k] = (int32_t)test_rand(rng);
    for (size_t k = 0; k < GUARD; k++)
        out[nout + k] = GUARD_VALUE;
    memcpy(in_copy, in, sizeof(int32_t) * nin);

    nn_forward(net, in, h, w, out, scratch, kernel);

    int guard_ok = 1;
    for (size_t k = 0; k < GUARD; k++)
        guard_ok &= out[nout + k] == GUARD_VALUE;
    CHECK(guard_ok, "nn_forward wrote past the output");
    CHECK(memcmp(in_copy, in, sizeof(int32_t) * nin) == 0,
          "nn_forward changed its input");
    free(in_copy);
    free(scratch);
}

/* ---- random nets ------------------------------------------------------ */

/* A net plus the arrays it points to. */
typedef struct owned_net {
    nn_net net;
    int8_t *weight[NN_MAX_LAYERS];
    int32_t *bias[NN_MAX_LAYERS], *mult[NN_MAX_LAYERS];
    uint8_t *shift[NN_MAX_LAYERS];
} owned_net;

static void owned_net_free(owned_net *n)
{
    for (uint32_t i = 0; i < n->net.nlayers; i++) {
        free(n->weight[i]);
        free(n->bias[i]);
        free(n->mult[i]);
        free(n->shift[i]);
    }
}

static int64_t rand_range(uint64_t *rng, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(test_rand(rng) % (uint64_t)(hi - lo + 1));
}

/* A clamp or input bound: tiny, moderate, or the largest allowed. */
static int32_t random_bound(uint64_t *rng)
{
    switch (test_rand_below(rng, 6)) {
    case 0: return 1;
    case 1: return (int32_t)rand_range(rng, 1, 255);
    case 2: return NN_MAX_CLAMP;
    default: return (int32_t)rand_range(rng, 256, 40000);
    }
}

static int8_t random_weight(uint64_t *rng, int style)
{
    switch (style) {
    case 0: /* sparse */
        return test_rand_below(rng, 4) ? 0 : (int8_t)rand_range(rng, -128, 127);
    case 1: /* the extremes only */
        return test_rand_below(rng, 2) ? -128 : 127;
    default:
        return (int8_t)rand_range(rng, -128, 127);
    }
}

static unsigned bit_length(uint64_t v)
{
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* Fills the per-channel requantisation of a conv: biases within what the
 * overflow bound leaves (max_bias), and mult/shift that either are random
 * or roughly map the accumulator range onto the clamp, so outputs are not
 * all saturated. */
static void random_requant(owned_net *n, uint32_t li, int64_t max_bias,
                           int64_t typical_acc, uint64_t *rng)
{
    nn_layer *l = &n->net.layer[li];
    const int64_t small = max_bias < 1000 ? max_bias : 1000;
    for (uint32_t o = 0; o < l->cout; o++) {
        switch (test_rand_below(rng, 4)) {
        case 0: n->bias[li][o] = 0; break;
        case 1: n->bias[li][o] = (int32_t)(test_rand_below(rng, 2) ? max_bias : -max_bias); break;
        case 2: n->bias[li][o] = (int32_t)rand_range(rng, -small, small); break;
        default: n->bias[li][o] = (int32_t)rand_range(rng, -max_bias, max_bias); break;
        }
        switch (test_rand_below(rng, 5)) {
        case 0: n->mult[li][o] = test_rand_below(rng, 2); break;
        case 1: n->mult[li][o] = NN_MAX_MULT - 1; break;
        default: n->mult[li][o] = (int32_t)rand_range(rng, 1, NN_MAX_MULT - 1); break;
        }
        if (test_rand_below(rng, 3) == 0) {
            n->shift[li][o] = (uint8_t)rand_range(rng, 0, NN_MAX_SHIFT);
        } else {
            int64_t s = (int64_t)bit_length((uint64_t)typical_acc) +
                        bit_length((uint64_t)n->mult[li][o]) -
                        bit_length((uint64_t)l->clamp) + rand_range(rng, -3, 2);
            n->shift[li][o] = (uint8_t)(s < 0 ? 0 : s > NN_MAX_SHIFT ? NN_MAX_SHIFT : s);
        }
    }
}

static void add_dense_conv(owned_net *n, uint32_t li, int k, uint32_t c, uint32_t cout,
                           int64_t bound, int32_t clamp, uint64_t *rng);

/* Adds a conv reading a tensor of c channels bounded by bound, if the
 * overflow rule allows one; returns its output bound or -1. */
static int64_t add_random_conv(owned_net *n, uint32_t li, uint32_t c,
                               int64_t bound, uint64_t *rng)
{
    int k = test_rand_below(rng, 2) ? 3 : 1;
    int64_t terms = (int64_t)k * k * c * bound * 128;
    if (terms >= I32_LIMIT && k == 3) {
        k = 1;
        terms = (int64_t)c * bound * 128;
    }
    if (terms >= I32_LIMIT)
        return -1;
    const uint32_t cout = 1 + test_rand_below(rng, 40);
    const int32_t clamp = random_bound(rng);
    add_dense_conv(n, li, k, c, cout, bound, clamp, rng);
    return clamp;
}

/* Builds a random net of 1..6 layers obeying the loader's bounds. */
static void random_net(owned_net *n, uint64_t *rng)
{
    memset(n, 0, sizeof *n);
    nn_net *net = &n->net;
    uint32_t chans[NN_MAX_LAYERS + 1];
    int64_t bound[NN_MAX_LAYERS + 1];
    net->cin = chans[0] = 1 + test_rand_below(rng, 40);
    net->in_clamp = random_bound(rng);
    bound[0] = net->in_clamp;
    uint32_t nlayers = 1 + test_rand_below(rng, 6);
    for (uint32_t i = 0; i < nlayers; i++) {
        nn_layer *l = &net->layer[i];
        net->nlayers = i + 1; /* so owned_net_free sees this layer */
        uint32_t c = chans[i], pick = test_rand_below(rng, 10);
        int64_t out_bound = -1;
        if (i == 0 || pick < 5)
            out_bound = add_random_conv(n, i, c, bound[i], rng);
        if (out_bound >= 0) {
            chans[i + 1] = l->cout;
            bound[i + 1] = out_bound;
            continue;
        }
        l->cin = l->cout = chans[i + 1] = c;
        bound[i + 1] = bound[i];
        if (pick <= 5) { /* also when a conv did not fit */
            l->op = NN_RELU;
        } else if (pick == 6) {
            l->op = NN_LEAKY;
            l->leaky_shift = (uint8_t)(test_rand_below(rng, 4)
                                           ? rand_range(rng, 0, 8)
                                           : rand_range(rng, 9, 62));
        } else {
            /* Residual: any earlier tensor with as many channels. */
            uint32_t cand[NN_MAX_LAYERS + 1], ncand = 0;
            for (uint32_t t = 0; t <= i; t++)
                if (chans[t] == c)
                    cand[ncand++] = t;
            l->op = NN_ADD;
            l->src = (uint16_t)cand[test_rand_below(rng, ncand)];
            l->clamp = random_bound(rng);
            int64_t sum = bound[i] + bound[l->src];
            bound[i + 1] = sum < l->clamp ? sum : l->clamp;
        }
    }
    net->cout = chans[nlayers];
}

/* Input values: mostly near the clamp range, some at the int32 extremes. */
static int32_t random_input(uint64_t *rng, int32_t in_clamp)
{
    switch (test_rand_below(rng, 16)) {
    case 0: return INT32_MIN;
    case 1: return INT32_MAX;
    case 2: return (int32_t)test_rand(rng);
    default: {
        int64_t r = (int64_t)in_clamp + in_clamp / 8 + 2;
        return (int32_t)rand_range(rng, -r, r);
    }
    }
}

static const uint32_t map_sizes[][2] = {
    {1, 1}, {1, 7}, {7, 1}, {5, 5}, {16, 16}, {33, 17}, {2, 2}, {32, 32}, {3, 19},
};

/* Every kernel this machine runs, the portable reference first; each must
 * match the reference exactly. */
static int kernels_to_test(nn_kernel *k)
{
    int n = 0;
    for (int i = 0; i < NN_KERNEL_COUNT; i++)
        if (nn_kernel_supported((nn_kernel)i))
            k[n++] = (nn_kernel)i;
    return n;
}

/* One random net on one map size against the reference. */
static void check_random_net(uint64_t *rng, int trial)
{
    owned_net n;
    random_net(&n, rng);
    const nn_net *net = &n.net;
    const uint32_t *hw = map_sizes[test_rand_below(rng, ARRAY_LEN(map_sizes))];
    const uint32_t h = hw[0], w = hw[1];
    const size_t plane = (size_t)h * w, nout = net->cout * plane;
    int32_t *in = malloc(sizeof(int32_t) * net->cin * plane);
    int32_t *got = malloc(sizeof(int32_t) * (nout + GUARD));
    int32_t *want = malloc(sizeof(int32_t) * nout);
    for (size_t k = 0; k < net->cin * plane; k++)
        in[k] = random_input(rng, net->in_clamp);

    ref_overflow = 0;
    ref_forward(net, in, (int)h, (int)w, want);
    CHECK(!ref_overflow, "trial %d: the random net breaks the overflow bound",
          trial);
    nn_kernel kernels[NN_KERNEL_COUNT];
    for (int kk = 0; kk < kernels_to_test(kernels); kk++) {
        run_nn(net, in, h, w, got, rng, kernels[kk]);
        size_t k = 0;
        while (k < nout && got[k] == want[k])
            k++;
        CHECK(k == nout,
              "trial %d (%s kernel): %u layers, %ux%u, cin %u cout %u: element %zu is %d, "
              "reference %d",
              trial, nn_kernel_name(kernels[kk]), net->nlayers, h, w, net->cin, net->cout, k,
              k < nout ? got[k] : 0, k < nout ? want[k] : 0);
    }
    free(in);
    free(got);
    free(want);
    owned_net_free(&n);
}

static void test_random_nets(void)
{
    uint64_t rng = 20240611;
    for (int trial = 0; trial < 400; trial++)
        check_random_net(&rng, trial);
}

/* ---- hand-computed examples ------------------------------------------- */

static int same_i32(const int32_t *a, const int32_t *b, size_t n)
{
    return memcmp(a, b, sizeof(int32_t) * n) == 0;
}

static void print_i32(const char *what, const int32_t *v, size_t n)
{
    fprintf(stderr, "  %s:", what);
    for (size_t k = 0; k < n; k++)
        fprintf(stderr, " %d", v[k]);
    fputc('\n', stderr);
}

/* Runs a hand-made net and compares with hand-computed integers. */
static void check_hand(const char *name, const nn_net *net, const int32_t *in,
                       uint32_t h, uint32_t w, const int32_t *expect)
{
    uint64_t rng = 1;
    size_t nout = net->cout * (size_t)h * w;
    int32_t got[64 + GUARD];
    nn_kernel kernels[NN_KERNEL_COUNT];
    for (int kk = 0; kk < kernels_to_test(kernels); kk++) {
        run_nn(net, in, h, w, got, &rng, kernels[kk]);
        int ok = same_i32(got, expect, nout);
        CHECK(ok, "%s (%s kernel)", name, nn_kernel_name(kernels[kk]));
        if (!ok) {
            print_i32("got   ", got, nout);
            print_i32("expect", expect, nout);
        }
    }
}

/* 1x1 conv, 2 -> 2 channels on a 2x2 map.  Channel 0 shows floor (not
 * truncation) of negatives with round-half: floor((acc + 1) / 2); channel 1
 * extreme weights, mult 3, shift 2 and clamping. */
static void test_hand_conv1x1(void)
{
    static const int32_t in[8] = {3, -3, 5, -4, /* channel 0 */
                                  1, -1, -1, 3};  /* channel 1 */
    static const int8_t weight[4] = {2, -1, -128, 127};
    static const int32_t bias[2] = {1, -5}, mult[2] = {1, 3};
    static const uint8_t shift[2] = {1, 2};
    /* Channel 0: acc = 1 + 2*a - b = 6, -4, 12, -10;
     *   floor((acc + 1) / 2) = floor(3.5, -1.5, 6.5, -4.5) = 3, -2, 6, -5.
     * Channel 1: acc = -5 - 128*a + 127*b = -262, 252, -772, 888;
     *   floor((3*acc + 2) / 4) = floor(-196, 189.5, -578.5, 666.5)
     *   = -196, 189, -579, 666, clamped to +-200: -196, 189, -200, 200. */
    static const int32_t expect[8] = {3, -2, 6, -5, -196, 189, -200, 200};
    nn_net net = {.nlayers = 1, .cin = 2, .cout = 2, .in_clamp = 1000};
    net.layer[0] = (nn_layer){.op = NN_CONV, .kernel = 1, .cin = 2, .cout = 2,
                              .clamp = 200, .weight = weight, .bias = bias,
                              .mult = mult, .shift = shift};
    check_hand("1x1 conv with floor rounding", &net, in, 2, 2, expect);
}

/* 3x3 conv on the 3x3 map 1..9: an all-ones kernel sums each neighbourhood
 * (corners see 4 pixels, edges 6), and single-tap kernels show which way
 * the taps point and that padding reads zeros. */
static void test_hand_conv3x3(void)
{
    static const int32_t in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int8_t weight[27] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, /* all ones */
        1, 0, 0, 0, 0, 0, 0, 0, 0, /* top-left tap: in[y-1][x-1] */
        0, 0, 0, 0, 0, 0, 0, 1, 0, /* bottom-middle tap: in[y+1][x] */
    };
    static const int32_t bias[3] = {0, 0, 0}, mult[3] = {1, 1, 1};
    static const uint8_t shift[3] = {0, 0, 0};
    static const int32_t expect[27] = {
        12, 21, 16, 27, 45, 33, 24, 39, 28,
        0, 0, 0, 0, 1, 2, 0, 4, 5,
        4, 5, 6, 7, 8, 9, 0, 0, 0,
    };
    nn_net net = {.nlayers = 1, .cin = 1, .cout = 3, .in_clamp = 100};
    net.layer[0] = (nn_layer){.op = NN_CONV, .kernel = 3, .cin = 1, .cout = 3,
                              .clamp = 100, .weight = weight, .bias = bias,
                              .mult = mult, .shift = shift};
    check_hand("3x3 conv with zero padding", &net, in, 3, 3, expect);
}

static void test_hand_leaky(void)
{
    static const int32_t in[8] = {-1, -7, -9, -17, 0, 5, -8, 8};
    /* floor(v / 8) for negatives: -1, -1, -2, -3, -1 (for -8). */
    static const int32_t expect3[8] = {-1, -1, -2, -3, 0, 5, -1, 8};
    /* A shift beyond floor_shift's 62 still floors: -1 for negatives. */
    static const int32_t expect200[8] = {-1, -1, -1, -1, 0, 5, -1, 8};
    nn_net net = {.nlayers = 1, .cin = 1, .cout = 1, .in_clamp = 100};
    net.layer[0] = (nn_layer){.op = NN_LEAKY, .cin = 1, .cout = 1,
                              .leaky_shift = 3};
    check_hand("leaky shift 3", &net, in, 2, 4, expect3);
    net.layer[0].leaky_shift = 200;
    check_hand("leaky shift 200", &net, in, 2, 4, expect200);
}

/* Input clamp, relu, then a residual add of the clamped input. */
static void test_hand_relu_add(void)
{
    static const int32_t in[4] = {-7, 9, 4, -3};
    /* clamp to +-6: -6, 6, 4, -3; relu: 0, 6, 4, 0;
     * add tensor 0 then clamp to +-7: -6, 12 -> 7, 8 -> 7, -3. */
    static const int32_t expect_relu[4] = {0, 6, 4, 0};
    static const int32_t expect_add[4] = {-6, 7, 7, -3};
    nn_net net = {.nlayers = 1, .cin = 1, .cout = 1, .in_clamp = 6};
    net.layer[0] = (nn_layer){.op = NN_RELU, .cin = 1, .cout = 1};
    check_hand("input clamp and relu", &net, in, 1, 4, expect_relu);
    net.nlayers = 2;
    net.layer[1] = (nn_layer){.op = NN_ADD, .cin = 1, .cout = 1, .src = 0,
                              .clamp = 7};
    check_hand("residual add", &net, in, 1, 4, expect_add);
    /* No layers: the output is the clamped input. */
    static const int32_t expect_none[4] = {-6, 6, 4, -3};
    net.nlayers = 0;
    check_hand("empty net", &net, in, 2, 2, expect_none);
}

static void test_macs(void)
{
    nn_net net = {.nlayers = 5, .cin = 3, .cout = 6};
    net.layer[0] = (nn_layer){.op = NN_CONV, .kernel = 3, .cin = 3, .cout = 16};
    net.layer[1] = (nn_layer){.op = NN_RELU, .cin = 16, .cout = 16};
    net.layer[2] = (nn_layer){.op = NN_CONV, .kernel = 1, .cin = 16, .cout = 16};
    net.layer[3] = (nn_layer){.op = NN_ADD, .cin = 16, .cout = 16, .src = 2};
    net.layer[4] = (nn_layer){.op = NN_CONV, .kernel = 3, .cin = 16, .cout = 6};
    /* 3*16*9 + 16*16 + 16*6*9 = 432 + 256 + 864 */
    CHECK(nn_macs_per_position(&net) == 1552, "macs %llu",
          (unsigned long long)nn_macs_per_position(&net));
    net.nlayers = 0;
    CHECK(nn_macs_per_position(&net) == 0, "empty net has MACs");
}

/* ---- one position: the dense path -------------------------------------- */

/* Largest input bound a conv of c channels and kernel k may read: the
 * loader's k*k*c*bound*128 + |bias| < 2^31, leaving the bias some room. */
static int64_t dense_fit(uint32_t c, int k)
{
    return (I32_LIMIT / 2) / ((int64_t)k * k * c * 128);
}

/* A clamp for a tensor a conv of c channels (kernel k) reads, or the net's
 * output (c = 0): the AVX2 dense kernel serves inputs bounded by
 * NN_KERNEL_INT16_BOUND, so that bound and one past it come up often. */
static int32_t position_bound(uint64_t *rng, uint32_t c, int k)
{
    int64_t b;
    switch (test_rand_below(rng, 8)) {
    case 0: b = 1; break;
    case 1: b = rand_range(rng, 1, 255); break;
    case 2: b = NN_KERNEL_INT16_BOUND; break;
    case 3: b = NN_KERNEL_INT16_BOUND + 1; break;
    case 4: b = NN_MAX_CLAMP; break;
    default: b = rand_range(rng, 256, NN_KERNEL_INT16_BOUND); break;
    }
    if (c && b > dense_fit(c, k))
        b = dense_fit(c, k);
    return (int32_t)(b < 1 ? 1 : b);
}

/* Appends conv li: c -> cout channels reading a tensor bounded by bound,
 * output clamp `clamp`, random weights and requantisation. */
static void add_dense_conv(owned_net *n, uint32_t li, int k, uint32_t c, uint32_t cout,
                           int64_t bound, int32_t clamp, uint64_t *rng)
{
    nn_layer *l = &n->net.layer[li];
    const int64_t terms = (int64_t)k * k * c * bound * 128;
    l->op = NN_CONV;
    l->kernel = (uint8_t)k;
    l->cin = c;
    l->cout = cout;
    l->clamp = clamp;
    const size_t nw = (size_t)cout * c * k * k;
    n->weight[li] = malloc(nw);
    n->bias[li] = malloc(sizeof(int32_t) * cout);
    n->mult[li] = malloc(sizeof(int32_t) * cout);
    n->shift[li] = malloc(cout);
    const int style = (int)test_rand_below(rng, 4);
    for (size_t j = 0; j < nw; j++)
        n->weight[li][j] = random_weight(rng, style);
    random_requant(n, li, I32_LIMIT - 1 - terms, bound * 40, rng);
    l->weight = n->weight[li];
    l->bias = n->bias[li];
    l->mult = n->mult[li];
    l->shift = n->shift[li];
}

/* Layer li: ReLU or leaky on tensor li. */
static void add_activation(owned_net *n, uint32_t li, const uint32_t *chans, uint64_t *rng)
{
    nn_layer *l = &n->net.layer[li];
    l->cin = l->cout = chans[li];
    if (test_rand_below(rng, 4) == 0) {
        l->op = NN_LEAKY;
        l->leaky_shift = (uint8_t)rand_range(rng, 1, 31);
    } else {
        l->op = NN_RELU;
    }
}

/* Layer li: tensor li plus an earlier tensor of as many channels (not li
 * itself), clamped to `clamp`; returns 0 (no layer) when there is none. */
static int add_residual(owned_net *n, uint32_t li, const uint32_t *chans, int32_t clamp,
                        uint64_t *rng)
{
    uint32_t cand[NN_MAX_LAYERS], ncand = 0;
    for (uint32_t t = 0; t < li; t++)
        if (chans[t] == chans[li])
            cand[ncand++] = t;
    if (ncand == 0)
        return 0;
    nn_layer *l = &n->net.layer[li];
    l->op = NN_ADD;
    l->cin = l->cout = chans[li];
    l->src = (uint16_t)cand[test_rand_below(rng, ncand)];
    l->clamp = clamp;
    return 1;
}

/* A random net of 1-3 convs from cin to cout channels, mostly dense
 * (kernel 1; kernel 3 now and then: only its centre tap meets a 1x1 map),
 * an activation after each hidden conv, often followed by a residual add,
 * and sometimes an activation or add after the last conv; every bound
 * within the loader's rule (bound[t]: the clamp the loader gives tensor
 * t). */
static void random_dense_net(owned_net *n, uint32_t cin, uint32_t cout, uint64_t *rng)
{
    static const uint32_t widths[] = {1, 2, 8, 9, 16, 17, 24, 33, 40};
    memset(n, 0, sizeof *n);
    nn_net *net = &n->net;
    uint32_t chans[NN_MAX_LAYERS + 1];
    int64_t bound[NN_MAX_LAYERS + 1];
    const uint32_t nconv = 1 + test_rand_below(rng, 3);
    uint32_t width[3];
    int kernel[3];
    for (uint32_t j = 0; j < nconv; j++) {
        uint32_t pick = test_rand_below(rng, ARRAY_LEN(widths) + 3);
        if (j + 1 == nconv)
            width[j] = cout;
        else if (pick < ARRAY_LEN(widths))
            width[j] = widths[pick];
        else if (pick == ARRAY_LEN(widths)) /* the input's channels, or ... */
            width[j] = cin;
        else if (pick == ARRAY_LEN(widths) + 1) /* ... the last conv's, or ... */
            width[j] = cout;
        else /* ... the previous conv's: residual adds across convs fit */
            width[j] = j ? width[j - 1] : cin;
        kernel[j] = test_rand_below(rng, 5) == 0 ? 3 : 1;
    }
    net->cin = chans[0] = cin;
    net->in_clamp = position_bound(rng, cin, kernel[0]);
    bound[0] = net->in_clamp;
    uint32_t li = 0;
    for (uint32_t j = 0; j < nconv; j++) {
        const int last = j + 1 == nconv;
        /* What the next conv may read bounds this conv's clamp and the
         * clamp of an add that follows it. */
        const uint32_t next_c = last ? 0 : width[j];
        const int next_k = last ? 1 : kernel[j + 1];
        net->nlayers = li + 1; /* so owned_net_free sees this layer */
        add_dense_conv(n, li, kernel[j], chans[li], width[j], bound[li],
                       position_bound(rng, next_c, next_k), rng);
        chans[li + 1] = width[j];
        bound[li + 1] = net->layer[li].clamp;
        li++;
        const uint32_t after = test_rand_below(rng, 4);
        if (!last || after == 0) {
            add_activation(n, li, chans, rng);
            chans[li + 1] = chans[li];
            bound[li + 1] = bound[li];
            li++;
        }
        if ((!last && after < 2) || (last && after == 1)) {
            const int32_t clamp = position_bound(rng, next_c, next_k);
            if (add_residual(n, li, chans, clamp, rng)) {
                chans[li + 1] = chans[li];
                bound[li + 1] = clamp;
                li++;
            }
        }
    }
    net->nlayers = li;
    net->cout = chans[li];
}

/* The net with every conv's weights packed for dense_avx2 (layer.dense);
 * the packing buffers go to *storage (one per layer, NULL elsewhere). */
static nn_net *packed_net(const nn_net *net, int32_t **storage)
{
    nn_net *p = malloc(sizeof *p);
    *p = *net;
    for (uint32_t i = 0; i < p->nlayers; i++) {
        nn_layer *l = &p->layer[i];
        storage[i] = NULL;
        if (l->op != NN_CONV)
            continue;
        size_t size = dense_avx2_packed_size(l);
        storage[i] = malloc(sizeof(int32_t) * (size ? size : 1));
        dense_avx2_pack(l, storage[i]);
        l->dense = storage[i];
    }
    p->dense_net = (uint8_t)dense_avx2_net_serves(p->layer, p->nlayers, p->cin, p->in_clamp);
    return p;
}

/* Convs of net whose input bound lets nn_forward use dense_avx2. */
static long avx2_dense_convs(const nn_net *net)
{
    long count = 0;
    int32_t bound = net->in_clamp;
    for (uint32_t i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layer[i];
        count += l->op == NN_CONV && bound <= NN_KERNEL_INT16_BOUND;
        if (l->op == NN_CONV || l->op == NN_ADD)
            bound = l->clamp;
    }
    return count;
}

/* One random dense net on one input, nn_forward on a 1x1 map: with the
 * AVX2 kernel and nothing packed for the dense kernel, and with the packed
 * weights (the portable kernel must ignore them; the AVX2 one uses them
 * wherever the input bound allows), against the portable kernel unpacked,
 * itself checked against the naive reference. */
static void check_position_net(uint32_t cin, uint32_t cout, uint64_t *rng, int trial,
                               long *avx2_convs, long *fallback_convs, long *fused_nets)
{
    owned_net n;
    random_dense_net(&n, cin, cout, rng);
    const nn_net *net = &n.net;
    int32_t *in = malloc(sizeof(int32_t) * net->cin);
    int32_t *want = malloc(sizeof(int32_t) * (net->cout + GUARD));
    int32_t *naive = malloc(sizeof(int32_t) * net->cout);
    int32_t *got = malloc(sizeof(int32_t) * (net->cout + GUARD));
    for (size_t k = 0; k < net->cin; k++)
        in[k] = random_input(rng, net->in_clamp);

    run_nn(net, in, 1, 1, want, rng, NN_KERNEL_PORTABLE);
    ref_overflow = 0;
    ref_forward(net, in, 1, 1, naive);
    CHECK(!ref_overflow, "position trial %d: the random net breaks the overflow bound", trial);
    CHECK(same_i32(want, naive, net->cout), "position trial %d: nn_forward on 1x1 is not the "
          "reference", trial);

    int32_t *storage[NN_MAX_LAYERS];
    nn_net *packed = packed_net(net, storage);
    const int avx2 = nn_kernel_supported(NN_KERNEL_AVX2);
    const struct {
        const nn_net *net;
        nn_kernel kernel;
        const char *what;
    } runs[] = {
        {net, NN_KERNEL_AVX2, "AVX2 kernel, nothing packed"},
        {packed, NN_KERNEL_PORTABLE, "portable kernel, packed"},
        {packed, NN_KERNEL_AVX2, "AVX2 dense kernel"},
    };
    for (size_t r = 0; r < ARRAY_LEN(runs); r++) {
        if (runs[r].kernel == NN_KERNEL_AVX2 && !avx2)
            continue;
        run_nn(runs[r].net, in, 1, 1, got, rng, runs[r].kernel);
        size_t k = 0;
        while (k < net->cout && got[k] == want[k])
            k++;
        CHECK(k == net->cout,
              "position trial %d (%s): %u layers, cin %u cout %u, in_clamp %d: output %zu is %d, "
              "nn_forward %d",
              trial, runs[r].what, net->nlayers, net->cin, net->cout, net->in_clamp, k,
              k < net->cout ? got[k] : 0, k < net->cout ? want[k] : 0);
    }
    long convs = 0;
    for (uint32_t i = 0; i < net->nlayers; i++)
        convs += net->layer[i].op == NN_CONV;
    *avx2_convs += avx2_dense_convs(packed);
    *fused_nets += dense_avx2_net_serves(packed->layer, packed->nlayers, packed->cin,
                                         packed->in_clamp) != DENSE_NET_NONE;
    *fallback_convs += convs - avx2_dense_convs(packed);
    for (uint32_t i = 0; i < packed->nlayers; i++)
        free(storage[i]);
    free(packed);
    free(in);
    free(want);
    free(naive);
    free(got);
    owned_net_free(&n);
}

static void test_position_nets(void)
{
    /* The AR prior's 29 features; odd and even input pairs; one to many
     * blocks of 8 and 16 outputs. */
    static const uint32_t cins[] = {29, 1, 2, 3, 4, 33, 64, 65, 255, NN_MAX_CHANNELS};
    static const uint32_t couts[] = {2, 8, 16, 17, 40, 1, 7, 9, 24, 31, 33};
    uint64_t rng = 20261126;
    long avx2_convs = 0, fallback_convs = 0, fused_nets = 0;
    int trial = 0;
    for (size_t i = 0; i < ARRAY_LEN(cins); i++)
        for (size_t o = 0; o < ARRAY_LEN(couts); o++)
            for (int rep = 0; rep < 3; rep++)
                check_position_net(cins[i], couts[o], &rng, trial++, &avx2_convs,
                                   &fallback_convs, &fused_nets);
    for (int r = 0; r < 200; r++)
        check_position_net(1 + test_rand_below(&rng, 80), 1 + test_rand_below(&rng, 48), &rng,
                           trial++, &avx2_convs, &fallback_convs, &fused_nets);
    /* Both dense paths are reached many times. */
    CHECK(avx2_convs > 300 && fallback_convs > 100, "dense convs: %ld within the AVX2 bound, %ld "
          "beyond", avx2_convs, fallback_convs);
    /* ... and so is the whole-net kernel (dense_avx2_net). */
    CHECK(fused_nets > 40, "%ld nets for dense_avx2_net", fused_nets);
}

/* ---- the AR priors' shape --------------------------------------------- *
 * dense_avx2_net unrolls nets shaped as the shipped AR priors (29 or 30
 * inputs -> 16 -> ReLU -> 16 -> ReLU -> at most 8) whose convs requantise
 * narrowly (mult <= 2^(shift-1)): random nets of exactly that shape,
 * within the AVX2 bounds, half of them made narrow, against the portable
 * kernel; the others must go to the general kernel. */
static int narrow_layer(const nn_layer *l)
{
    for (uint32_t o = 0; o < l->cout; o++)
        if (l->shift[o] == 0 || (uint64_t)l->mult[o] > (uint64_t)1 << (l->shift[o] - 1))
            return 0;
    return 1;
}

/* Conv li's multipliers brought to at most 2^(shift-1), the largest
 * allowed at times (the clamp then decides most outputs). */
static void make_narrow(owned_net *n, uint32_t li, uint64_t *rng)
{
    for (uint32_t o = 0; o < n->net.layer[li].cout; o++) {
        if (n->shift[li][o] == 0)
            n->shift[li][o] = 1 + (uint8_t)test_rand_below(rng, 30);
        const uint64_t most = (uint64_t)1 << (n->shift[li][o] - 1);
        if ((uint64_t)n->mult[li][o] > most)
            n->mult[li][o] = test_rand_below(rng, 4) ? (int32_t)(n->mult[li][o] % (most + 1))
                                                     : (int32_t)most;
    }
}

/* nn_forward8 (AVX2, packed net) on eight random inputs, a stride with
 * room after each, against eight portable runs of the unpacked net. */
static int batch_differs(const nn_net *packed, const nn_net *net, uint64_t *rng)
{
    enum { STRIDE = 33 };
    int32_t in[NN_BATCH * STRIDE], want[8 + GUARD], got[8 * NN_BATCH], scratch[4096];
    for (uint32_t k = 0; k < NN_BATCH * STRIDE; k++)
        in[k] = random_input(rng, net->in_clamp);
    CHECK(nn_scratch_size(packed, 1, 1) <= 4096, "scratch for nn_forward8");
    nn_forward8(packed, in, STRIDE, got, scratch, NN_KERNEL_AVX2);
    int differ = 0;
    for (uint32_t b = 0; b < NN_BATCH; b++) {
        run_nn(net, in + b * STRIDE, 1, 1, want, rng, NN_KERNEL_PORTABLE);
        for (uint32_t o = 0; o < net->cout; o++)
            differ |= want[o] != got[o * NN_BATCH + b];
    }
    return differ;
}

static void test_ar_shape_nets(void)
{
    uint64_t rng = 20261207;
    int trials = 0, narrow_nets = 0, batches_differ = 0;
    for (int trial = 0; trial < 400; trial++) {
        owned_net n;
        memset(&n, 0, sizeof n);
        nn_net *net = &n.net;
        const uint32_t cin = 29 + test_rand_below(&rng, 2), cout = 1 + test_rand_below(&rng, 8);
        const uint32_t chans[6] = {cin, 16, 16, 16, 16, cout};
        net->cin = cin;
        net->cout = cout;
        net->in_clamp = (int32_t)rand_range(&rng, 1, 64 * (1 + (trial % 4 == 0) * 500));
        if (net->in_clamp > dense_fit(cin, 1))
            net->in_clamp = (int32_t)dense_fit(cin, 1);
        int64_t bound = net->in_clamp;
        for (uint32_t li = 0; li < 5; li++) {
            net->nlayers = li + 1;
            if (li % 2) {
                net->layer[li].op = NN_RELU;
                net->layer[li].cin = net->layer[li].cout = chans[li];
                continue;
            }
            int32_t clamp = (int32_t)rand_range(&rng, 1, NN_KERNEL_INT16_BOUND);
            if (li < 4 && clamp > dense_fit(16, 1))
                clamp = (int32_t)dense_fit(16, 1);
            add_dense_conv(&n, li, 1, chans[li], chans[li + 1], bound, clamp, &rng);
            if (trial % 2 == 0)
                make_narrow(&n, li, &rng);
            bound = clamp;
        }
        const int narrow = narrow_layer(&net->layer[0]) && narrow_layer(&net->layer[2]) &&
                           narrow_layer(&net->layer[4]);
        narrow_nets += narrow;
        int32_t in[30], want[8 + GUARD], got[8 + GUARD];
        for (uint32_t k = 0; k < cin; k++)
            in[k] = random_input(&rng, net->in_clamp);
        run_nn(net, in, 1, 1, want, &rng, NN_KERNEL_PORTABLE);
        int32_t *storage[NN_MAX_LAYERS];
        nn_net *packed = packed_net(net, storage);
        if (nn_kernel_supported(NN_KERNEL_AVX2) && packed->dense_net) {
            CHECK(packed->dense_net == (narrow ? DENSE_NET_AR_SHAPE : DENSE_NET_GENERAL),
                  "AR-shaped net %d (narrow %d) served as %d", trial, narrow, packed->dense_net);
            run_nn(packed, in, 1, 1, got, &rng, NN_KERNEL_AVX2);
            CHECK(same_i32(want, got, cout), "AR-shaped net %d (cin %u, cout %u): the AVX2 "
                  "kernel differs from the reference", trial, cin, cout);
            batches_differ += batch_differs(packed, net, &rng);
            trials++;
        }
        for (uint32_t i = 0; i < packed->nlayers; i++)
            free(storage[i]);
        free(packed);
        owned_net_free(&n);
    }
    CHECK(!nn_kernel_supported(NN_KERNEL_AVX2) || trials > 300, "%d AR-shaped nets checked",
          trials);
    CHECK(narrow_nets >= 150 && narrow_nets <= 300, "%d of 400 nets narrow", narrow_nets);
    CHECK(batches_differ == 0, "%d batches of eight (nn_forward8) differ from eight runs of "
          "the reference", batches_differ);
}

/* ---- floor_shift ---------------------------------------------------- */

static void check_floor_shift(int64_t v, unsigned s, int *bad)
{
    int64_t got = floor_shift(v, s), want = ref_floor_div(v, ref_pow2(s));
    if (got != want && (*bad)++ < 5)
        fprintf(stderr, "  floor_shift(%lld, %u) = %lld, want %lld\n",
                (long long)v, s, (long long)got, (long long)want);
}

static void test_floor_shift(void)
{
    CHECK(floor_shift(-3, 1) == -2, "-3/2");
    CHECK(floor_shift(3, 1) == 1, "3/2");
    CHECK(floor_shift(-4, 1) == -2, "-4/2");
    CHECK(floor_shift(-1, 5) == -1, "-1/32");
    CHECK(floor_shift(-32, 5) == -1, "-32/32");
    CHECK(floor_shift(-33, 5) == -2, "-33/32");
    CHECK(floor_shift(-7, 0) == -7, "shift 0");
    CHECK(floor_shift(-((int64_t)1 << 62) + 1, 62) == -1, "near -2^62");
    CHECK(floor_shift(((int64_t)1 << 62) - 1, 61) == 1, "near 2^62");

    const int64_t max = ((int64_t)1 << 62) - 1; /* |v| <= max */
    uint64_t rng = 77;
    int bad = 0;
    for (int n = 0; n < 200000; n++) {
        unsigned s = test_rand_below(&rng, 63);
        int64_t v;
        switch (n % 4) {
        case 0: /* anywhere */
            v = rand_range(&rng, -max, max);
            break;
        case 1: /* small */
            v = rand_range(&rng, -1000, 1000);
            s = test_rand_below(&rng, 13);
            break;
        default: { /* an exact multiple of 2^s, or one off */
            int64_t m = rand_range(&rng, -1000, 1000), p = ref_pow2(s);
            if (m > max / p || m < -max / p)
                m = 1;
            v = m * p;
            if (n % 4 == 3 && v > -max && v < max)
                v += test_rand_below(&rng, 2) ? 1 : -1;
        }
        }
        check_floor_shift(v, s, &bad);
    }
    CHECK(bad == 0, "%d floor_shift mismatches", bad);
}

/* ---- trunc_shift and div_round (branch-free since 0.7) ---------------- */

/* The definitions as they read up to 0.6, with a branch on the sign. */
static int64_t ref_trunc_shift(int64_t v, unsigned s)
{
    return v >= 0 ? v >> s : -((-v) >> s);
}

static int64_t ref_div_round(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

static void test_trunc_div(void)
{
    CHECK(trunc_shift(-3, 1) == -1 && trunc_shift(3, 1) == 1, "3/2 toward zero");
    CHECK(trunc_shift(-1, 5) == 0 && trunc_shift(-33, 5) == -1, "-1/32, -33/32");
    CHECK(div_round(-3, 2) == -2 && div_round(3, 2) == 2 && div_round(-5, 4) == -1, "halves");
    CHECK(div_round(-((int64_t)1 << 57), 3) == ref_div_round(-((int64_t)1 << 57), 3), "2^57");
    const int64_t max = ((int64_t)1 << 62) - 1;
    uint64_t rng = 78;
    int bad = 0;
    for (int n = 0; n < 200000; n++) {
        int64_t v = n % 2 ? rand_range(&rng, -max, max) : rand_range(&rng, -5000, 5000);
        unsigned s = test_rand_below(&rng, 63);
        int64_t b = n % 3 ? rand_range(&rng, 1, 1000) : rand_range(&rng, 1, max);
        if (trunc_shift(v, s) != ref_trunc_shift(v, s) && bad++ < 5)
            fprintf(stderr, "  trunc_shift(%lld, %u)\n", (long long)v, s);
        if (div_round(v, b) != ref_div_round(v, b) && bad++ < 5)
            fprintf(stderr, "  div_round(%lld, %lld)\n", (long long)v, (long long)b);
    }
    CHECK(bad == 0, "%d trunc_shift / div_round mismatches", bad);
}

/* ---- speed (printed, not asserted) ------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void print_conv_speed(void)
{
    enum { C = 64, H = 32, W = 32 };
    static int8_t weight[C * C * 9];
    static int32_t bias[C], mult[C], in[C * H * W], out[C * H * W];
    static uint8_t shift[C];
    uint64_t rng = 5;
    for (size_t k = 0; k < ARRAY_LEN(weight); k++)
        weight[k] = (int8_t)rand_range(&rng, 1, 127) * (test_rand(&rng) & 1 ? 1 : -1);
    for (int o = 0; o < C; o++) {
        bias[o] = (int32_t)rand_range(&rng, -1000, 1000);
        mult[o] = 1 << 12;
        shift[o] = 20;
    }
    for (size_t k = 0; k < ARRAY_LEN(in); k++)
        in[k] = (int32_t)rand_range(&rng, -255, 255);
    nn_net net = {.nlayers = 1, .cin = C, .cout = C, .in_clamp = 255};
    net.layer[0] = (nn_layer){.op = NN_CONV, .kernel = 3, .cin = C, .cout = C,
                              .clamp = 255, .weight = weight, .bias = bias,
                              .mult = mult, .shift = shift};
    int32_t *scratch = malloc(sizeof(int32_t) * nn_scratch_size(&net, H, W));
    double macs = (double)nn_macs_per_position(&net) * H * W;
    nn_kernel kernels[NN_KERNEL_COUNT];
    for (int kk = 0; kk < kernels_to_test(kernels); kk++) {
        int runs = 0;
        double start = now_seconds(), elapsed;
        do {
            nn_forward(&net, in, H, W, out, scratch, kernels[kk]);
            runs++;
            elapsed = now_seconds() - start;
        } while (elapsed < 0.25);
        printf("nn: 3x3 conv %d->%d on %dx%d, %s: %.2f GMAC/s (%d runs, %.2f ms each)\n", C, C,
               H, W, nn_kernel_name(kernels[kk]), macs * runs / elapsed * 1e-9, runs,
               elapsed / runs * 1e3);
    }
    free(scratch);
}

int main(void)
{
    test_floor_shift();
    test_trunc_div();
    test_ar_shape_nets();
    test_hand_conv1x1();
    test_hand_conv3x3();
    test_hand_leaky();
    test_hand_relu_add();
    test_macs();
    test_random_nets();
    test_position_nets();
    print_conv_speed();
    return test_report("nn");
}
