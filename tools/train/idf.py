"""idf.py -- the integer discrete flow of idfzip in PyTorch: training model,
exact emulation of the C integer arithmetic, and .idfw export.

The architecture comes from a config dict (JSON in tools/train/configs/),
the same description the C side reads from the .idfw file:

    {"name": "rgb-s", "channels": 3, "bit_depth": 8, "maxval": 255,
     "tile": [64, 64], "initial_squeezes": 0,
     "levels": [{"squeeze": 1, "factor_out": 1, "couplings": 4, "kind": 4}, ...],
     "width": 64, "hidden": 2, "kernel": 3, "act": "relu" or "leaky3",
     "perm": "flip" or "shuffle",
     "prior_width": 96, "prior_hidden": 2,   # optional, default width/hidden
     "top_components": 3,                    # optional, default 1
     "top_init_span": 8.0}                   # optional, see Flow.__init__

Two forward modes share the weights:
  * float (training): float convs, straight-through rounding of each
    translation, a continuous DL likelihood;
  * exact (quantisation-aware phase, export check): every net runs in the
    integers the C code computes (model/nn.h), through float64 convolutions
    (exact below 2^53) and int64 requantisation, with straight-through
    gradients from the float path.

Semantics mirrored from model/nn.h and model/flow.h:
  conv:   acc = bias + sum w*a (int8 w), out = clamp(floor((acc*mult +
          2^(shift-1)) / 2^shift), +-clamp)
  hidden activations are in 1/256 (clamp 4095), net inputs are the raw
  latent integers (clamp 4095), net outputs in 1/16 (clamp 2^20);
  translation t = floor((out + 8) / 16); prior means in 1/16, scale index
  = clamp(floor((out + 8) / 16), 0, 95) with s_i = 0.1 * 5120^(i/63).
"""
import math
import struct
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

HIDDEN_FRAC = 8            # hidden activations in 1/256
HIDDEN_CLAMP = 4095
IN_CLAMP = 4095
OUT_FRAC = 4               # net outputs in 1/16
OUT_CLAMP = 1 << 20
MAX_MULT = 1 << 24
MAX_SHIFT = 40
NUM_SCALES = 96
LOG_S0 = math.log(0.1)
LOG_STEP = math.log(5120.0) / 63.0
def input_scale(cfg):
    """Float view of a raw latent integer: x * 2^-round(log2(maxval / 4)),
    so net inputs span about 0..4 whatever the sample range (1/64 for 8-bit
    images, 1/4 for the 0..16 digits).  Folded into the first layer's
    integer weights at export."""
    return 2.0 ** -round(math.log2(max(1.0, cfg["maxval"] / 4.0)))

OP_CONV, OP_RELU, OP_LEAKY, OP_ADD = 1, 2, 3, 4
WEIGHT_ONE = 1 << 15       # mixture weights are integers summing to 2^15


def quantise_weights(w):
    """Mixture weights (rows summing to 1) -> int64 rows summing to 2^15,
    each >= 1: q_k = floor(W_k * (2^15 - K)) + 1, the remainder to the
    largest weight (first on ties).  Deterministic; the .idfw stores q."""
    k = w.shape[-1]
    q = torch.floor(w.double() * (WEIGHT_ONE - k)).to(torch.int64) + 1
    rest = WEIGHT_ONE - q.sum(dim=-1)
    top = torch.argmax(w, dim=-1)
    q[torch.arange(q.shape[0], device=q.device), top] += rest
    return q


def round_ste(x):
    """Round with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def floor_div_pow2(v, s):
    """floor(v / 2^s) on int64 tensors (torch's >> is arithmetic)."""
    return v >> s if s > 0 else v


# --------------------------------------------------------------------------
# networks


class QConv(nn.Module):
    """A conv layer that can run in float or in the exact C integers."""

    def __init__(self, cin, cout, kernel, in_scale, out_scale, in_bound, clamp, zero=False, gain=1.0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.gain = gain  # output multiplier: lets outputs of large range learn fast
        self.in_scale, self.out_scale, self.clamp = in_scale, out_scale, clamp
        self.in_bound = in_bound  # largest |input integer|, for the overflow bound
        if zero:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        """Float path: x and the result are in real units."""
        out = self.conv(x)
        return out * self.gain if self.gain != 1.0 else out

    def quantised(self):
        """Integer weights, biases, multipliers and shifts (as in the .idfw)."""
        w = self.conv.weight.detach().double() * self.gain
        b = self.conv.bias.detach().double() * self.gain
        cout = w.shape[0]
        sw = w.abs().reshape(cout, -1).max(dim=1).values / 127.0
        # A row without weights (a zero-initialised last layer) still has its
        # bias: scale it so the bias is 2^24 accumulator units, not 2^31+.
        sw = torch.where(sw > 0, sw, (b.abs() / (self.in_scale * 2 ** 24)).clamp_min(1e-30))
        wq = torch.clamp(torch.round(w / sw.view(-1, 1, 1, 1)), -127, 127)
        ratio = sw * self.in_scale / self.out_scale       # acc -> output units
        bq = torch.round(b / (sw * self.in_scale))
        k = w.shape[2]
        bound = k * k * w.shape[1] * self.in_bound * 128
        bq = torch.clamp(bq, -(2 ** 31 - 1 - bound), 2 ** 31 - 1 - bound)
        mult, shift = [], []
        for r in ratio.tolist():
            s = MAX_SHIFT
            while s > 0 and r * 2 ** s >= MAX_MULT:
                s -= 1
            m = int(round(r * 2 ** s))
            mult.append(min(max(m, 0), MAX_MULT - 1))
            shift.append(s)
        return wq.to(torch.int64), bq.to(torch.int64), mult, shift

    def exact(self, a):
        """Integer path: a holds integers in input units; returns integers."""
        wq, bq, mult, shift = self.quantised()
        acc = F.conv2d(a.double(), wq.double(), None, padding=self.conv.padding)
        acc = acc.round().to(torch.int64) + bq.view(1, -1, 1, 1)
        m = torch.tensor(mult, dtype=torch.int64, device=acc.device).view(1, -1, 1, 1)
        s = torch.tensor(shift, dtype=torch.int64, device=acc.device).view(1, -1, 1, 1)
        r = torch.where(s > 0, 2 ** torch.clamp(s - 1, min=0), torch.zeros_like(s))
        out = torch.div(acc * m + r, 2 ** s, rounding_mode="floor")
        return torch.clamp(out, -self.clamp, self.clamp)


def activation(a, act, exact):
    if act == "relu":
        return torch.clamp(a, min=0) if exact else F.relu(a)
    shift = int(act[len("leaky"):])
    if exact:
        return torch.where(a >= 0, a, floor_div_pow2(a, shift))
    return F.leaky_relu(a, 1.0 / (1 << shift))


class Net(nn.Module):
    """conv-act, (hidden-1) x [conv-act], conv (zero-initialised)."""

    def __init__(self, cin, cout, width, hidden, kernel, act, gain=1.0, in_scale=1.0 / 64):
        super().__init__()
        self.act, self.in_scale = act, in_scale
        hs, os_ = 1.0 / (1 << HIDDEN_FRAC), 1.0 / (1 << OUT_FRAC)
        layers = [QConv(cin, width, kernel, in_scale, hs, IN_CLAMP, HIDDEN_CLAMP)]
        for _ in range(hidden - 1):
            layers.append(QConv(width, width, kernel, hs, hs, HIDDEN_CLAMP, HIDDEN_CLAMP))
        layers.append(QConv(width, cout, kernel, hs, os_, HIDDEN_CLAMP, OUT_CLAMP, zero=True, gain=gain))
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        """Float: x raw latents -> output in real units (pixels)."""
        a = torch.clamp(x, -IN_CLAMP, IN_CLAMP) * self.in_scale
        for i, layer in enumerate(self.layers):
            a = layer(a)
            if i + 1 < len(self.layers):
                a = torch.clamp(activation(a, self.act, False), -16.0, 16.0)
        return a

    def exact(self, x):
        """Integers in, integers (1/16 units) out: what the C code computes."""
        a = torch.clamp(x.to(torch.int64), -IN_CLAMP, IN_CLAMP)
        for i, layer in enumerate(self.layers):
            a = layer.exact(a)
            if i + 1 < len(self.layers):
                a = activation(a, self.act, True)
        return a

    def output16(self, x, exact):
        """Net output in 1/16 units with a straight-through gradient."""
        f = self.forward(x) * (1 << OUT_FRAC)
        if not exact:
            return torch.clamp(round_ste(f), -OUT_CLAMP, OUT_CLAMP)
        with torch.no_grad():
            e = self.exact(x).double()
        return f + (e.to(f.dtype) - f).detach()


def translation(out16):
    """t = floor((out + 8) / 16), straight-through."""
    t = torch.floor((out16 + 8) / 16)
    return out16 / 16 + (t - out16 / 16).detach()


# --------------------------------------------------------------------------
# the flow


class Coupling(nn.Module):
    def __init__(self, c, kind, cfg):
        super().__init__()
        self.kind, self.c = kind, c
        w, h, k, act = cfg["width"], cfg["hidden"], cfg["kernel"], cfg["act"]
        g, si = output_gain(cfg), input_scale(cfg)
        if kind == 2:
            self.nets = nn.ModuleList([Net(c // 2, c // 2, w, h, k, act, g, si)])
        else:
            self.nets = nn.ModuleList([Net(3 * c // 4, c // 4, w, h, k, act, g, si) for _ in range(4)])

    def forward(self, x, exact, sign=1):
        c = self.c
        if self.kind == 2:
            xa, xb = x[:, : c // 2], x[:, c // 2:]
            return torch.cat([xa, xb + sign * translation(self.nets[0].output16(xa, exact))], 1)
        parts = list(torch.split(x, c // 4, dim=1))
        order = range(4) if sign > 0 else range(3, -1, -1)
        for k in order:
            others = torch.cat([parts[j] for j in range(4) if j != k], 1)
            parts[k] = parts[k] + sign * translation(self.nets[k].output16(others, exact))
        return torch.cat(parts, 1)


def output_gain(cfg):
    """Net outputs span about the sample range: scale the last layer so its
    parameters move outputs by useful amounts per optimiser step."""
    return max(1.0, cfg["maxval"] / 32.0)


def make_perm(c, mode, seed):
    if mode == "flip":
        return list(range(c - 1, -1, -1))
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(c, generator=g).tolist()


class Prior(nn.Module):
    """Factor-out prior: h (C/2) -> means and scale indices of z (C/2)."""

    def __init__(self, c_half, cfg):
        super().__init__()
        g = output_gain(cfg)
        # Priors may be wider or deeper than the coupling nets: in the first
        # measurements most bits sat in the factored-out latents.
        width = cfg.get("prior_width", cfg["width"])
        hidden = cfg.get("prior_hidden", cfg["hidden"])
        self.c = c_half

        def prior_net(cin):
            net = Net(cin, 2 * c_half, width, hidden, cfg["kernel"], cfg["act"], g, input_scale(cfg))
            # Start from a broad DL at mid-range (the last layer's weights
            # are zero), so early training sees finite likelihoods.
            with torch.no_grad():
                net.layers[-1].conv.bias[:c_half] = cfg["maxval"] / 2.0 / g
                net.layers[-1].conv.bias[c_half:] = 40.0 / g
            return net

        self.net = prior_net(c_half)
        # Optional two-pass context (config "prior_checkerboard"; factor_out
        # 2 in the .idfw): the anchor half of the positions
        # ((y + x) even) is coded with net(h); the other half with net2(h,
        # anchors), which sees the decoded 4-neighbours of each position.
        self.checker = bool(cfg.get("prior_checkerboard", False))
        if self.checker:
            self.net2 = prior_net(2 * c_half)

    def params(self, h, exact):
        out = self.net.output16(h, exact)
        return out[:, : self.c], out[:, self.c:]

    def bits(self, z, h, exact):
        """-log2 P(z | h) elementwise, one or two passes."""
        mean16, scale16 = self.params(h, exact)
        if exact:
            mean16 = torch.clamp(mean16, -OUT_CLAMP, OUT_CLAMP)
        b = dl_bits(z, mean16, scale16, exact)
        if not self.checker:
            return b
        anchor = checkerboard_anchors(z).to(z.dtype)
        out = self.net2.output16(torch.cat([h, z * anchor], 1), exact)
        mean2, scale2 = out[:, : self.c], out[:, self.c:]
        if exact:
            mean2 = torch.clamp(mean2, -OUT_CLAMP, OUT_CLAMP)
        return b * anchor + dl_bits(z, mean2, scale2, exact) * (1 - anchor)


def checkerboard_anchors(z):
    """(1, 1, H, W) bool mask of the anchor positions of z, (y + x) even."""
    yy = torch.arange(z.shape[2], device=z.device).view(-1, 1)
    xx = torch.arange(z.shape[3], device=z.device).view(1, -1)
    return ((yy + xx) % 2 == 0).view(1, 1, z.shape[2], z.shape[3])


def dl_bits(z, mean16, scale16, exact):
    """-log2 P(z) under DL(mean16/16, s(scale16/16)), elementwise."""
    mu = mean16 / 16.0
    u = torch.clamp(scale16 / 16.0, 0, NUM_SCALES - 1)
    if exact:
        u = u + (torch.clamp(torch.floor((scale16 + 8) / 16), 0, NUM_SCALES - 1) - u).detach()
    inv_s = torch.exp(-(LOG_S0 + LOG_STEP * u))
    hi = (z + 0.5 - mu) * inv_s
    lo = (z - 0.5 - mu) * inv_s
    # log(sigmoid(hi) - sigmoid(lo)) computed stably
    p = torch.sigmoid(hi) - torch.sigmoid(lo)
    logp = torch.log(torch.clamp(p, min=1e-12))
    return -logp / math.log(2.0)


class Flow(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        c = cfg["channels"] << (2 * cfg["initial_squeezes"])
        self.levels = nn.ModuleList()
        self.perms, self.priors = [], nn.ModuleList()
        self.level_channels = []
        seed = 1
        for lv in cfg["levels"]:
            if lv["squeeze"]:
                c *= 4
            self.level_channels.append(c)
            couplings = nn.ModuleList([Coupling(c, lv["kind"], cfg) for _ in range(lv["couplings"])])
            self.levels.append(couplings)
            perms = []
            for _ in range(lv["couplings"]):
                perms.append(make_perm(c, cfg.get("perm", "flip"), seed))
                seed += 1
            self.perms.append(perms)
            self.priors.append(Prior(c // 2, cfg) if lv["factor_out"] else nn.Identity())
            if lv["factor_out"]:
                c //= 2
        self.top_channels = c
        # Top prior: per channel a mixture of K discretized logistics (K = 1:
        # a single DL).  Means (pixel units) and scale indices are affine in
        # their parameters, so an optimiser step moves them a useful amount.
        k = cfg.get("top_components", 1)
        maxval = cfg["maxval"]
        self.top_k = k
        # top_init_span (optional): half-width of the initial spread of the
        # component means, so a mixture can start covering the whole range.
        self.top_center = maxval / 2.0
        self.top_span = cfg.get("top_init_span", max(4.0, maxval / 4.0))
        self.top_scale0 = (math.log(maxval / 4.0) - LOG_S0) / LOG_STEP
        spread = torch.linspace(-1.0, 1.0, k) if k > 1 else torch.zeros(1)
        self._top_mean = nn.Parameter(spread.repeat(c, 1))
        self._top_scale = nn.Parameter(torch.zeros(c, k))
        self._top_logit = nn.Parameter(torch.zeros(c, k))

    @property
    def top_mean(self):
        return self.top_center + self.top_span * self._top_mean

    @property
    def top_scale(self):
        return self.top_scale0 + 16.0 * self._top_scale

    def top_weights(self, exact):
        w = torch.softmax(self._top_logit, dim=1)
        if not exact:
            return w
        return w + (quantise_weights(w.detach()).double() / WEIGHT_ONE - w).detach()

    def top_bits(self, x, exact):
        """-log2 P(top latents) summed per image."""
        if self.top_k == 1:
            mean16 = (self.top_mean[:, 0] * 16).view(1, -1, 1, 1).expand_as(x)
            scale16 = (self.top_scale[:, 0] * 16).view(1, -1, 1, 1).expand_as(x)
            if exact:
                mean16, scale16 = round_ste(mean16), round_ste(scale16)
            return dl_bits(x, mean16, scale16, exact).sum(dim=(1, 2, 3))
        mu, u = self.top_mean, torch.clamp(self.top_scale, 0, NUM_SCALES - 1)
        if exact:
            mu = round_ste(mu * 16) / 16
            u = round_ste(u)
        w = self.top_weights(exact)
        inv_s = torch.exp(-(LOG_S0 + LOG_STEP * u))
        xe = x.unsqueeze(-1)                                   # (B, C, H, W, 1)
        shape = (1, -1, 1, 1, self.top_k)
        hi = (xe + 0.5 - mu.view(shape)) * inv_s.view(shape)
        lo = (xe - 0.5 - mu.view(shape)) * inv_s.view(shape)
        p = ((torch.sigmoid(hi) - torch.sigmoid(lo)) * w.view(shape)).sum(-1)
        return (-torch.log2(torch.clamp(p, min=1e-12))).sum(dim=(1, 2, 3))

    def squeeze_initial(self, x):
        for _ in range(self.cfg["initial_squeezes"]):
            x = F.pixel_unshuffle(x, 2)
        return x

    def forward(self, x, exact=False):
        """x: (B, C, H, W) integer-valued floats -> bits per subpixel, and
        per-part bit totals (top, then each factor-out level)."""
        n_sub = x[0].numel()
        x = self.squeeze_initial(x)
        parts = []
        for lv, couplings, perms, prior in zip(self.cfg["levels"], self.levels, self.perms, self.priors):
            if lv["squeeze"]:
                x = F.pixel_unshuffle(x, 2)
            for coupling, perm in zip(couplings, perms):
                x = coupling(x, exact)
                x = x[:, perm]
            if lv["factor_out"]:
                c = x.shape[1]
                z, x = x[:, : c // 2], x[:, c // 2:]
                parts.append(prior.bits(z, x, exact).sum(dim=(1, 2, 3)))
        top = self.top_bits(x, exact)
        total = top + sum(parts) if parts else top
        return total / n_sub, [top / n_sub] + [p / n_sub for p in parts]


@torch.no_grad()
def warm_start(flow, state):
    """Copies every tensor of state (a Flow state_dict) whose name and shape
    match.  A checkerboard prior's second net missing from state starts as
    a copy of the first, reading h alone (the weights for the anchors'
    input are zero), so the model starts where the plain one left off.
    Returns the number of tensors set."""
    own = flow.state_dict()
    copied = 0
    for name, t in own.items():
        src = state.get(name)
        if src is None and ".net2." in name:
            src = state.get(name.replace(".net2.", ".net."))
            if src is not None and src.dim() == 4 and src.shape[1] * 2 == t.shape[1]:
                src = torch.cat([src, torch.zeros_like(src)], 1)
        if src is not None and src.shape == t.shape:
            t.copy_(src)
            copied += 1
    return copied


# --------------------------------------------------------------------------
# export to .idfw (FORMAT.md)

MAGIC = bytes([0x89, ord("I"), ord("D"), ord("W"), 0x0D, 0x0A, 0x1A, 0x0A])


def pack_net(net):
    out = [struct.pack("<HI", 2 * len(net.layers) - 1, IN_CLAMP)]
    for i, layer in enumerate(net.layers):
        wq, bq, mult, shift = layer.quantised()
        cout, cin, k, _ = wq.shape
        out.append(struct.pack("<BBHHi", OP_CONV, k, cin, cout, layer.clamp))
        out.append(struct.pack("<%db" % wq.numel(), *wq.flatten().tolist()))
        out.append(struct.pack("<%di" % cout, *bq.tolist()))
        out.append(struct.pack("<%di" % cout, *mult))
        out.append(struct.pack("<%dB" % cout, *shift))
        if i + 1 < len(net.layers):
            if net.act == "relu":
                out.append(struct.pack("<B", OP_RELU))
            else:
                out.append(struct.pack("<BB", OP_LEAKY, int(net.act[len("leaky"):])))
    return b"".join(out)


def export_idfw(flow):
    cfg = flow.cfg
    name = cfg["name"].encode("ascii")[:16].ljust(16, b"\0")
    out = [MAGIC, struct.pack("<H", 1), name,
           struct.pack("<BBIHHBB", cfg["channels"], cfg["bit_depth"], cfg["maxval"],
                       cfg["tile"][0], cfg["tile"][1], cfg["initial_squeezes"], len(cfg["levels"]))]
    for lv, couplings, perms, prior in zip(cfg["levels"], flow.levels, flow.perms, flow.priors):
        checker = lv["factor_out"] and prior.checker
        out.append(struct.pack("<BBH", lv["squeeze"], 2 if checker else lv["factor_out"], lv["couplings"]))
        for coupling, perm in zip(couplings, perms):
            out.append(struct.pack("<B", coupling.kind))
            out.append(struct.pack("<%dH" % len(perm), *perm))
            for net in coupling.nets:
                out.append(pack_net(net))
        if lv["factor_out"]:
            out.append(pack_net(prior.net))
        if checker:
            out.append(pack_net(prior.net2))
    means = torch.round(flow.top_mean.detach() * 16).to(torch.int64).flatten().tolist()
    scales = torch.clamp(torch.round(flow.top_scale.detach()), 0, NUM_SCALES - 1).to(torch.int64).flatten().tolist()
    weights = quantise_weights(torch.softmax(flow._top_logit.detach(), dim=1)).flatten().tolist()
    out.append(struct.pack("<B", flow.top_k))
    out.append(struct.pack("<%di" % len(means), *means))
    out.append(struct.pack("<%di" % len(scales), *scales))
    out.append(struct.pack("<%dH" % len(weights), *weights))
    body = b"".join(out)
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


# --------------------------------------------------------------------------
# exact emulation of the codec's latents and parameters (for the export test)


def emulate_factor_out(prior, z, h):
    """(z, mean16, scale index) of one factor-out as flat vectors in the
    codec's order: channel by channel in raster order, or for a
    checkerboard level the anchors ((y + x) even) of every channel first."""
    half = z.shape[1]

    def params(out):
        return (torch.clamp(out[:, :half], -OUT_CLAMP, OUT_CLAMP),
                torch.clamp(floor_div_pow2(out[:, half:] + 8, 4), 0, NUM_SCALES - 1))

    mean16, scale = params(prior.net.exact(h))
    if not prior.checker:
        return z.flatten(), mean16.flatten(), scale.flatten()
    anchor = checkerboard_anchors(z).expand(z.shape)
    mean2, scale2 = params(prior.net2.exact(torch.cat([h.to(torch.int64), z * anchor], 1)))
    pick = lambda a, m: a[m].flatten()      # boolean indexing: channel-major, raster order
    return (torch.cat([pick(z, anchor), pick(z, ~anchor)]),
            torch.cat([pick(mean16, anchor), pick(mean2, ~anchor)]),
            torch.cat([pick(scale, anchor), pick(scale2, ~anchor)]))


@torch.no_grad()
def emulate_coding(flow, x):
    """x: (1, C, H, W) integers -> (latents, mean16, scale index) as int64
    vectors in the codec's coding order (top, then factor-out levels from the
    last to the first; channel by channel, raster order)."""
    cfg = flow.cfg
    x = flow.squeeze_initial(x.double())
    saved = []
    for lv, couplings, perms, prior in zip(cfg["levels"], flow.levels, flow.perms, flow.priors):
        if lv["squeeze"]:
            x = F.pixel_unshuffle(x, 2)
        for coupling, perm in zip(couplings, perms):
            x = exact_coupling(coupling, x)
            x = x[:, perm]
        if lv["factor_out"]:
            c = x.shape[1]
            z, x = x[:, : c // 2], x[:, c // 2:]
            saved.append(emulate_factor_out(prior, z.to(torch.int64), x))
    if flow.top_k == 1:
        mean16 = torch.round(flow.top_mean[:, 0] * 16).to(torch.int64).view(1, -1, 1, 1).expand(x.shape)
        scale = torch.clamp(torch.round(flow.top_scale[:, 0]), 0, NUM_SCALES - 1).to(torch.int64)
        scale = scale.view(1, -1, 1, 1).expand(x.shape)
    else:  # mixture latents are logged by the C side as mean 0, scale -1
        mean16 = torch.zeros(x.shape, dtype=torch.int64)
        scale = torch.full(x.shape, -1, dtype=torch.int64)
    seq = [(x.to(torch.int64).flatten(), mean16.flatten(), scale.flatten())] + saved[::-1]
    cat = lambda i: torch.cat([s[i].flatten() for s in seq])
    return cat(0), cat(1), cat(2)


def exact_coupling(coupling, x):
    c = coupling.c
    x = x.to(torch.int64)
    if coupling.kind == 2:
        xa, xb = x[:, : c // 2], x[:, c // 2:]
        t = floor_div_pow2(coupling.nets[0].exact(xa) + 8, 4)
        return torch.cat([xa, xb + t], 1)
    parts = list(torch.split(x, c // 4, dim=1))
    for k in range(4):
        others = torch.cat([parts[j] for j in range(4) if j != k], 1)
        parts[k] = parts[k] + floor_div_pow2(coupling.nets[k].exact(others) + 8, 4)
    return torch.cat(parts, 1)


def exact_coupling_inverse(coupling, y):
    c = coupling.c
    y = y.to(torch.int64)
    if coupling.kind == 2:
        ya, yb = y[:, : c // 2], y[:, c // 2:]
        return torch.cat([ya, yb - floor_div_pow2(coupling.nets[0].exact(ya) + 8, 4)], 1)
    parts = list(torch.split(y, c // 4, dim=1))
    for k in range(3, -1, -1):
        others = torch.cat([parts[j] for j in range(4) if j != k], 1)
        parts[k] = parts[k] - floor_div_pow2(coupling.nets[k].exact(others) + 8, 4)
    return torch.cat(parts, 1)


def sample_dl(mean16, scale_index, generator):
    """Integer samples of DL(mean16 / 16, s_i)."""
    s = 0.1 * 5120.0 ** (scale_index.double() / 63.0)
    u = torch.rand(mean16.shape, generator=generator, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    return torch.round(mean16.double() / 16.0 + s * torch.log(u / (1 - u))).to(torch.int64)


@torch.no_grad()
def sample(flow, n, h, w, generator):
    """Samples from the model through the exact inverse: the codec's decoder
    run on latents drawn from the prior.  Returns (n, C, h, w) integers."""
    cfg = flow.cfg
    init = cfg["initial_squeezes"]
    c, hh, ww = cfg["channels"] << (2 * init), h >> init, w >> init
    dims = []
    for lv in cfg["levels"]:
        if lv["squeeze"]:
            c, hh, ww = 4 * c, hh // 2, ww // 2
        dims.append(c)
        if lv["factor_out"]:
            c //= 2
    shape = (n, c, hh, ww)
    w = quantise_weights(torch.softmax(flow._top_logit, dim=1)).double()
    comp = torch.multinomial(w, n * hh * ww, replacement=True, generator=generator)  # (c, n*h*w)
    comp = comp.view(c, n, hh, ww).permute(1, 0, 2, 3)
    means = torch.round(flow.top_mean * 16).to(torch.int64)
    scales = torch.clamp(torch.round(flow.top_scale), 0, NUM_SCALES - 1).to(torch.int64)
    ch = torch.arange(c).view(1, -1, 1, 1).expand(shape)
    x = sample_dl(means[ch, comp], scales[ch, comp], generator)
    for l in range(len(cfg["levels"]) - 1, -1, -1):
        lv, c = cfg["levels"][l], dims[l]
        if lv["factor_out"]:
            out = flow.priors[l].net.exact(x)
            z_scale = torch.clamp(floor_div_pow2(out[:, c // 2:] + 8, 4), 0, NUM_SCALES - 1)
            z = sample_dl(torch.clamp(out[:, : c // 2], -OUT_CLAMP, OUT_CLAMP), z_scale, generator)
            x = torch.cat([z, x], 1)
        for coupling, perm in zip(reversed(flow.levels[l]), reversed(flow.perms[l])):
            inverse = [0] * len(perm)
            for i, p in enumerate(perm):
                inverse[p] = i
            x = exact_coupling_inverse(coupling, x[:, inverse])
        if lv["squeeze"]:
            x = F.pixel_shuffle(x.double(), 2).to(torch.int64)
    for _ in range(init):
        x = F.pixel_shuffle(x.double(), 2).to(torch.int64)
    return x
