/* nn.c — integer neural-network inference; nn.h defines the semantics.
 *
 * Every tensor but the last lives in scratch, one after another, so an
 * NN_ADD can reach any earlier tensor; the last one is written straight to
 * `out`.  A layer never writes the tensor it reads, so no layer works in
 * place.  All arithmetic is exact integer arithmetic whose result does not
 * depend on evaluation order, which is what lets the conv loops below be
 * ordered for speed.
 */
#include "nn.h"

#include <stddef.h>
#include <stdint.h>

static int32_t clamp_i64(int64_t v, int32_t bound)
{
    if (v > bound)
        return bound;
    if (v < -(int64_t)bound)
        return -bound;
    return (int32_t)v;
}

/* Channels of tensor t (0 = the net input, t = i + 1 the output of layer i). */
static uint32_t tensor_channels(const nn_net *net, uint32_t t)
{
    return t == 0 ? net->cin : net->layer[t - 1].cout;
}

/* Elements of scratch the tensors take; a kernel's own scratch follows. */
static size_t tensors_size(const nn_net *net, uint32_t h, uint32_t w)
{
    const size_t plane = (size_t)h * w;
    size_t total = 0;
    /* Tensors 0 .. nlayers-1; tensor nlayers goes to `out`. */
    for (uint32_t t = 0; t < net->nlayers; t++)
        total += (size_t)tensor_channels(net, t) * plane;
    return total;
}

size_t nn_scratch_size(const nn_net *net, uint32_t h, uint32_t w)
{
    size_t kernel = 0;
    for (uint32_t i = 0; i < net->nlayers; i++)
        if (net->layer[i].op == NN_CONV) {
            size_t s = conv_avx2_scratch(&net->layer[i], h, w);
            kernel = s > kernel ? s : kernel;
        }
    return tensors_size(net, h, w) + kernel;
}

uint64_t nn_macs_per_position(const nn_net *net)
{
    uint64_t macs = 0;
    for (uint32_t i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layer[i];
        if (l->op == NN_CONV)
            macs += (uint64_t)l->cin * l->cout * l->kernel * l->kernel;
    }
    return macs;
}

/* ---- convolution ------------------------------------------------------ */

/* The half-open range of output coordinates o in [0, n) whose input
 * coordinate o + d also lies in [0, n): the zero padding contributes
 * nothing, so taps simply skip the border instead of testing each pixel. */
static void valid_range(uint32_t n, int d, uint32_t *lo, uint32_t *hi)
{
    *lo = d < 0 ? (uint32_t)-d : 0;
    *hi = d > 0 ? (n > (uint32_t)d ? n - (uint32_t)d : 0) : n;
    if (*lo > *hi)
        *lo = *hi;
}

/* acc[k] += wt * src[k] for k < n: the hot loop.  No overflow: the loader
 * bounds every partial sum of the accumulator below 2^31.
 * restrict rules out aliasing, and the main loop runs a multiple of 8
 * times because GCC's -O2 cost model only vectorises loops it can replace
 * entirely; the scalar loop finishes the last n % 8. */
static void axpy_i32(int32_t *restrict acc, const int32_t *restrict src,
                     int32_t wt, size_t n)
{
    const size_t n8 = n & ~(size_t)7;
    size_t k;
    for (k = 0; k < n8; k++)
        acc[k] += wt * src[k];
    for (; k < n; k++)
        acc[k] += wt * src[k];
}

/* acc[y][x] += wt * in[y + dy][x + dx] wherever the input pixel exists. */
static void accumulate_tap(int32_t *acc, const int32_t *in, uint32_t h,
                           uint32_t w, int dy, int dx, int32_t wt)
{
    uint32_t y0, y1, x0, x1;
    valid_range(h, dy, &y0, &y1);
    valid_range(w, dx, &x0, &x1);
    if (y0 == y1 || x0 == x1)
        return;
    if (dx == 0) {
        /* Full rows: the rows y0 .. y1-1 form one contiguous run. */
        const size_t in_y0 = (size_t)((int64_t)y0 + dy);
        axpy_i32(acc + (size_t)y0 * w, in + in_y0 * w, wt,
                 (size_t)(y1 - y0) * w);
        return;
    }
    const size_t in_x0 = (size_t)((int64_t)x0 + dx);
    for (uint32_t y = y0; y < y1; y++) {
        const size_t in_y = (size_t)((int64_t)y + dy);
        axpy_i32(acc + (size_t)y * w + x0, in + in_y * w + in_x0, wt, x1 - x0);
    }
}

static void requantise_plane(int32_t *plane, size_t n, int32_t mult,
                             unsigned shift, int32_t clamp)
{
    for (size_t k = 0; k < n; k++)
        plane[k] = nn_requantise(plane[k], mult, shift, clamp);
}

static void conv_forward(const nn_layer *l, const int32_t *in, uint32_t h,
                         uint32_t w, int32_t *out)
{
    const size_t plane = (size_t)h * w;
    const int k = l->kernel, r = k / 2;
    for (uint32_t o = 0; o < l->cout; o++) {
        int32_t *acc = out + o * plane;
        for (size_t p = 0; p < plane; p++)
            acc[p] = l->bias[o];
        const int8_t *wo = l->weight + (size_t)o * l->cin * k * k;
        for (uint32_t i = 0; i < l->cin; i++) {
            const int32_t *src = in + i * plane;
            const int8_t *wi = wo + (size_t)i * k * k;
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    const int32_t wt = wi[ky * k + kx];
                    if (wt != 0)
                        accumulate_tap(acc, src, h, w, ky - r, kx - r, wt);
                }
        }
        requantise_plane(acc, plane, l->mult[o], l->shift[o], l->clamp);
    }
}

/* ---- elementwise layers ----------------------------------------------- */

/* The elementwise loops below run a multiple of 8 times and then finish
 * the rest, so GCC's -O2 cost model vectorises them (see axpy_i32). */
static void relu_forward(const int32_t *restrict in, size_t n, int32_t *restrict out)
{
    const size_t n8 = n & ~(size_t)7;
    size_t k;
    for (k = 0; k < n8; k++)
        out[k] = in[k] > 0 ? in[k] : 0;
    for (; k < n; k++)
        out[k] = in[k] > 0 ? in[k] : 0;
}

static void leaky_forward(const int32_t *in, size_t n, unsigned shift,
                          int32_t *out)
{
    /* floor_shift takes shifts up to 62.  For an int32 input any shift
     * >= 31 already gives floor(in / 2^shift) = -1 for every negative in,
     * so capping at 62 changes no result and keeps odd weights files safe. */
    if (shift > 62)
        shift = 62;
    for (size_t k = 0; k < n; k++)
        out[k] = in[k] >= 0 ? in[k] : (int32_t)floor_shift(in[k], shift);
}

static void add_forward(const int32_t *a, const int32_t *b, size_t n,
                        int32_t clamp, int32_t *out)
{
    for (size_t k = 0; k < n; k++)
        out[k] = clamp_i64((int64_t)a[k] + b[k], clamp);
}

static int32_t clamp_i32(int32_t v, int32_t bound)
{
    return v > bound ? bound : (v < -bound ? -bound : v);
}

static void clamp_input(const int32_t *restrict in, size_t n, int32_t bound,
                        int32_t *restrict out)
{
    const size_t n8 = n & ~(size_t)7;
    size_t k;
    for (k = 0; k < n8; k++)
        out[k] = clamp_i32(in[k], bound);
    for (; k < n; k++)
        out[k] = clamp_i32(in[k], bound);
}

/* ---- the net ---------------------------------------------------------- */

/* Largest magnitude tensor t can hold, from the layers' clamps. */
static int32_t next_bound(const nn_layer *l, int32_t bound)
{
    return (l->op == NN_CONV || l->op == NN_ADD) ? l->clamp : bound;
}

/* A conv at a 1x1 map: only the centre tap meets the input. */
static void dense_forward(const nn_layer *l, const int32_t *restrict in, int32_t *restrict out)
{
    const uint32_t taps = (uint32_t)l->kernel * l->kernel;
    for (uint32_t o = 0; o < l->cout; o++) {
        const int8_t *wo = l->weight + (size_t)o * l->cin * taps;
        int32_t acc = 0;
        for (uint32_t i = 0; i < l->cin; i++)
            acc += wo[(size_t)i * taps + taps / 2] * in[i];
        out[o] = nn_requantise(acc + l->bias[o], l->mult[o], l->shift[o], l->clamp);
    }
}

/* A 1x1 map (a net run once per sample, the AR prior) takes the dense
 * kernel where its weights are packed for it, and dense_forward rather
 * than the plane loops where no SIMD kernel serves: the same integers. */
static void conv_dispatch(const nn_layer *l, const int32_t *in, int32_t in_bound, uint32_t h,
                          uint32_t w, int32_t *out, int32_t *kernel_scratch, nn_kernel kernel)
{
    const int simd = kernel != NN_KERNEL_PORTABLE && in_bound <= NN_KERNEL_INT16_BOUND;
    const int one = h == 1 && w == 1;
    if (simd && one && l->dense)
        dense_avx2(l, in, out);
    else if (simd)
        conv_avx2(l, in, h, w, out, kernel_scratch);
    else if (one)
        dense_forward(l, in, out);
    else
        conv_forward(l, in, h, w, out);
}

void nn_forward(const nn_net *net, const int32_t *in, uint32_t h, uint32_t w,
                int32_t *out, int32_t *scratch, nn_kernel kernel)
{
    if (h == 1 && w == 1 && kernel != NN_KERNEL_PORTABLE && net->dense_net) {
        dense_avx2_net(net->layer, net->nlayers, net->cin, net->in_clamp, net->dense_net, in, out);
        return;
    }
    int32_t *kernel_scratch = scratch + tensors_size(net, h, w);
    int32_t bound = net->in_clamp;
    const size_t plane = (size_t)h * w;
    int32_t *tensor[NN_MAX_LAYERS + 1];
    const uint32_t n = net->nlayers;

    /* Where each tensor lives: scratch in order, the last one in out. */
    int32_t *next = scratch;
    for (uint32_t t = 0; t < n; t++) {
        tensor[t] = next;
        next += (size_t)tensor_channels(net, t) * plane;
    }
    tensor[n] = out;

    clamp_input(in, (size_t)net->cin * plane, net->in_clamp, tensor[0]);
    for (uint32_t i = 0; i < n; i++) {
        const nn_layer *l = &net->layer[i];
        const int32_t *src = tensor[i];
        int32_t *dst = tensor[i + 1];
        const size_t count = (size_t)l->cout * plane;
        switch (l->op) {
        case NN_CONV:
            conv_dispatch(l, src, bound, h, w, dst, kernel_scratch, kernel);
            break;
        case NN_RELU:
            relu_forward(src, count, dst);
            break;
        case NN_LEAKY:
            leaky_forward(src, count, l->leaky_shift, dst);
            break;
        case NN_ADD:
            add_forward(src, tensor[l->src], count, l->clamp, dst);
            break;
        default:
            break; /* the loader rejects unknown ops */
        }
        bound = next_bound(l, bound);
    }
}

void nn_forward8(const nn_net *net, const int32_t *in, size_t stride, int32_t *out,
                 int32_t *scratch, nn_kernel kernel)
{
    if (kernel != NN_KERNEL_PORTABLE && net->dense_net == DENSE_NET_AR_SHAPE) {
        dense_avx2_net8(net->layer, net->cin, net->in_clamp, in, stride, out);
        return;
    }
    int32_t one[NN_MAX_CHANNELS];
    for (uint32_t s = 0; s < NN_BATCH; s++) {
        nn_forward(net, in + s * stride, 1, 1, one, scratch, kernel);
        for (uint32_t o = 0; o < net->cout; o++)
            out[o * NN_BATCH + s] = one[o];
    }
}

size_t nn_pack_net(nn_net *net, int dense, int32_t *dst)
{
    size_t total = 0;
    for (uint32_t i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layer[i];
        if (l->op != NN_CONV)
            continue;
        size_t n = dense ? dense_avx2_packed_size(l) : conv_avx2_packed_size(l);
        if (dst && dense)
            dense_avx2_pack(l, dst + total), l->dense = dst + total;
        else if (dst)
            conv_avx2_pack(l, dst + total), l->packed = dst + total;
        total += n;
    }
    if (dst && dense)
        net->dense_net = (uint8_t)dense_avx2_net_serves(net->layer, net->nlayers, net->cin,
                                                       net->in_clamp);
    return total;
}
