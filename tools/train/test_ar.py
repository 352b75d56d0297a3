#!/usr/bin/env python3
"""test_ar.py BUILDDIR -- the AR prior's trainer (tools/train/ar.py) and the
C codec agree bit for bit.

Writes two small smooth RGB images as PNG (80x96, one tile, and 200x300,
two tiles of 256 columns), dumps their features with tools/ar_features -a,
trains a tiny net on the larger one (300 float steps, 20 quantisation-aware
exact steps; the smaller one is held out), exports it with ar.export_ar, then checks:
  * tests/support/flow_dump (the C encoder) on the one-tile image logs the same
    values, means (1/16) and scale indices for every latent as the Python
    emulation: ar_features' records of that image through the exact integer
    net (net.exact), mean16 = clamp(baseline mean16 + out[0], 0, 16*255),
    scale = clamp(floor((out[1] + 8) / 16), 0, 95), as sample_params() in
    model/predictor.c and model/ar_prior.c; the net is not trivial (it moves some means, and the
    scales vary);
  * the rANS bytes flow_dump reports are within 1% (+16 bytes of coder
    state) of the emulated NLL: the sum of ar.bits(..., exact=True) over the
    latents plus baseline-v3's per-tile side info, which the encoder writes
    as raw bits (rans_encoder_put_bits, exactly 1 bit each): per channel 4
    predictor bits, 3 weight bits for red and blue, and for each of the 72
    contexts a used bit, plus 7 scale and 9 bias bits for each used one.
    The used contexts are those that occur in the tile (ar_features logs
    each sample's; each must have one scale and bias in the features).  So
    the check is: coded bits minus these exact side bits within 1% (+16
    bytes) of the latents' exact NLL;
  * idfzip compress --model / decompress --model round-trips both images to
    identical pixels, and the one-tile image's .idf (version 2, whose side
    information is in adaptive codes and may zero a bias) is no larger than
    flow_dump's rANS stream (version 1's raw side bits) plus 64 bytes of
    header, and no smaller than that stream's latents alone less 3%.
Prints "ar: N passed, N failed".
"""
import contextlib
import copy
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ar  # noqa: E402
import ar_sweep  # noqa: E402
import test_export  # noqa: E402  (its check() counts)
from test_export import check, png_bytes, smooth_images  # noqa: E402

MAXVAL = ar.MAXVAL
CONTEXTS = 72
GRN = 1                      # the reference channel
ORDER = (1, 0, 2)            # coding order G, R, B: record k of a pixel is channel ORDER[k]


def rgb_image(h, w, seed):
    """Smooth RGB with correlated channels (a shared luma plus chroma), so
    the cross-channel features carry something to learn."""
    luma = smooth_images(1, h, w, 1, MAXVAL, seed)[0].astype(np.float64)
    chroma = smooth_images(1, h, w, 3, MAXVAL, seed + 1)[0].astype(np.float64)
    img = 0.75 * luma + 0.25 * chroma
    return np.clip(np.round(img), 0, MAXVAL).astype(np.uint8)


def run(cmd, label):
    res = subprocess.run(cmd, capture_output=True, text=True)
    check(res.returncode == 0, "%s: %s failed: %s" % (label, os.path.basename(cmd[0]), res.stderr.strip()))
    return res if res.returncode == 0 else None


def features(build, png, out, label):
    """ar_features -a records of one image: (feats, baseline mean16, value)."""
    if run([os.path.join(build, "tools", "ar_features"), "-a", out, png], label) is None:
        return None
    return ar.load_records(out)


# ---- the expected integers ----------------------------------------------


def expected_params(net, data):
    """mean16 and scale index of each record (of a mixture: of its first
    component, what the C log records), as sample_params() computes."""
    feats, base16, _ = data
    cout = net.layers[-1].conv.out_channels
    with torch.no_grad():
        out = net.exact(feats.view(-1, ar.FEATURES, 1, 1)).view(-1, cout)
    mean16 = torch.clamp(base16 + out[:, 0], 0, 16 * MAXVAL)
    scale = torch.clamp(torch.div(out[:, 1 if cout == 2 else 2] + 8, 16, rounding_mode="floor"), 0, 95)
    mix = torch.zeros(len(out), 3, dtype=torch.int64)  # flow_dump's triples: 0 for one DL
    if cout == 6:
        mix[:, 0] = torch.clamp(base16 + out[:, 1], 0, 16 * MAXVAL)
        mix[:, 1] = torch.clamp(torch.div(out[:, 3] + 8, 16, rounding_mode="floor"), 0, 95)
        mix[:, 2] = ar.mixture_weight_q15(out[:, 4] - out[:, 5])
    return mean16.numpy(), scale.numpy(), out.numpy(), mix.numpy()


def side_info_bits(records, h, w):
    """Baseline-v3's raw side bits of one tile (written with
    rans_encoder_put_bits, one bit each): per channel 4 predictor bits, 3
    weight bits for red and blue, a used bit for each of the 72 contexts and
    16 bits (scale, bias) for each used one.  The contexts come from the
    records (ar_features logs each sample's)."""
    a = np.fromfile(records, dtype="<i4").reshape(h * w, 3, ar.RECORD)
    ctx, scale, bias = a[..., ar.FEATURES + 1], a[..., 27], a[..., 28]
    bits, used_all = 0, []
    for k, c in enumerate(ORDER):
        used = np.unique(ctx[:, k])
        # Each context has one fitted scale and bias (features 27 and 28).
        pairs = set(zip(ctx[:, k].tolist(), scale[:, k].tolist(), bias[:, k].tolist()))
        check(len(pairs) == len(used), "side info: channel %d: a context with two fits" % c)
        used_all.append(len(used))
        bits += 4 + (3 if c != GRN else 0) + CONTEXTS + 16 * len(used)
    return bits, used_all


# ---- the checks -----------------------------------------------------------


def compare_tile(build, net, model, image, data, records, tmp, label):
    h, w, _ = image.shape
    planes = os.path.join(tmp, label + ".planes")
    dump = os.path.join(tmp, label + ".dump")
    image.transpose(2, 0, 1).astype("<i4").tofile(planes)
    res = run([os.path.join(build, "tests", "support", "flow_dump"), model, planes, str(w), str(h), dump], label)
    if res is None:
        return None
    raw = np.fromfile(dump, dtype="<i4")
    n = int(raw[0])
    c_val, c_mean, c_scale = raw[1:1 + n], raw[1 + n:1 + 2 * n], raw[1 + 2 * n:1 + 3 * n]
    c_mix = raw[1 + 3 * n:1 + 6 * n].reshape(-1, 3)
    p_mean, p_scale, out, p_mix = expected_params(net, data)
    p_val = data[2].numpy()
    check(n == len(p_val) == 3 * w * h, "%s: %d latents in C, %d records" % (label, n, len(p_val)))
    if n != len(p_val):
        return None
    check(np.array_equal(c_val, p_val), "%s: values differ" % label)
    check(np.array_equal(c_mean, p_mean), "%s: means differ at %d latents (first %s)" % (
        label, int((c_mean != p_mean).sum()), np.flatnonzero(c_mean != p_mean)[:5].tolist()))
    check(np.array_equal(c_scale, p_scale), "%s: scale indices differ at %d latents (first %s)" % (
        label, int((c_scale != p_scale).sum()), np.flatnonzero(c_scale != p_scale)[:5].tolist()))
    check(np.array_equal(c_mix, p_mix), "%s: a mixture's second component or weight differs at %d latents" % (
        label, int((c_mix != p_mix).any(axis=1).sum())))
    if out.shape[1] == 6:
        check(len(np.unique(p_mix[:, 2])) > 10, "%s: the mixture weights hardly vary (%d values)" % (
            label, len(np.unique(p_mix[:, 2]))))
    moved = int((out[:, 0] != 0).sum())
    check(moved > n // 20 and len(np.unique(p_scale)) > 3,
          "%s: the net is trivial (%d means moved, %d scales)" % (label, moved, len(np.unique(p_scale))))
    with torch.no_grad():
        nll = float(ar.bits(net, *data, exact=True).double().sum())
    side, used = side_info_bits(records, h, w)
    coded = int(res.stdout.strip()) * 8
    body = coded - side
    check(0.99 * nll <= body <= 1.01 * nll + 16 * 8,
          "%s: rANS %d bits - side info %d bits = %d vs emulated NLL %.0f bits" % (label, coded, side, body, nll))
    print("ar: %s: %d latents identical (%d means moved by the net, %d scale indices); coded %d bytes = "
          "side info %d bits (%s contexts used) + %d bits vs emulated NLL %.0f bits (%+.2f%%), %.4f bpsp"
          % (label, n, moved, len(np.unique(p_scale)), coded // 8, side, "/".join(map(str, used)), body, nll,
             100 * (body - nll) / max(nll, 1), nll / n), flush=True)
    return coded // 8, body // 8


def round_trip(build, model, png, image, tmp, label, tile_bytes=None):
    from PIL import Image
    idf_path = os.path.join(tmp, label + ".idf")
    back = os.path.join(tmp, label + ".back.png")
    cli = os.path.join(build, "idfzip")
    ok = run([cli, "compress", "-f", "--no-store", "--model", model, png, "-o", idf_path], label) is not None
    ok = ok and run([cli, "decompress", "-f", "--model", model, idf_path, "-o", back], label) is not None
    if not ok:
        return
    got = np.asarray(Image.open(back).convert("RGB"))
    check(got.shape == image.shape and np.array_equal(got, image), "%s: pixels differ after the round trip" % label)
    size = os.path.getsize(idf_path)
    if tile_bytes is not None:
        stream, latents = tile_bytes
        check(0.97 * latents <= size <= stream + 64,
              "%s: .idf %d bytes, the tile's rANS stream %d (latents %d)" % (label, size, stream, latents))
    print("ar: %s: idfzip round trip identical, .idf %d bytes (%.4f bpsp)" % (
        label, size, 8.0 * size / image.size), flush=True)


def check_sweep_pieces(net, data):
    """ar_sweep.py's pieces: a mixture of two DLs with equal weights, one
    the net's and one with its mean a unit higher, costs -log2 of the mean
    of their probabilities; a time-budgeted run (ar.train with seconds)
    stops well before its step limit."""
    shifted = copy.deepcopy(net)
    mix = ar_sweep.make_mix_net(net.layers[0].conv.out_channels, len(net.layers) - 1, 2)
    last = net.layers[-1].conv
    with torch.no_grad():
        shifted.layers[-1].conv.bias[0] += 16.0 / 16 / shifted.layers[-1].gain  # +1 in pixel units
        for src, dst in zip(net.layers[:-1], mix.layers[:-1]):
            dst.conv.weight.copy_(src.conv.weight)
            dst.conv.bias.copy_(src.conv.bias)
        out = mix.layers[-1].conv  # rows: mean, mean, scale, scale, logit, logit
        out.weight.zero_()
        out.bias.zero_()
        out.weight[:4].copy_(last.weight[[0, 0, 1, 1]])
        out.bias[:4].copy_(last.bias[[0, 0, 1, 1]])
        out.bias[1] += 16.0 / 16 / mix.layers[-1].gain
        a = ar.bits(net, *data, exact=False).double()
        b = ar.bits(shifted, *data, exact=False).double()
        want = float((-torch.log2(0.5 * torch.exp2(-a) + 0.5 * torch.exp2(-b))).mean())
    got = ar.evaluate(mix, data, False, bits_fn=ar_sweep.mix_bits_fn(2))
    check(abs(got - want) < 1e-3 and abs(want - float(a.mean())) > 0.01,
          "mixture of two DLs: %.5f bpsp, want %.5f (one DL: %.5f)" % (got, want, float(a.mean())))
    with open(os.devnull, "w") as log, contextlib.redirect_stdout(log):
        seen = ar.train(ar.make_net(8, 1), data, 20000, 3e-3, 64, False, log, warmup=20, seconds=0.3)
    check(20 * 64 < seen < 20000 * 64, "a 0.3 s training budget: %d samples" % seen)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    torch.set_num_threads(1)  # a tiny net: one thread is as fast, and steadier on a busy machine
    torch.manual_seed(1)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        images = {"small": rgb_image(80, 96, 21), "large": rgb_image(200, 300, 23)}
        pngs, data = {}, {}
        for label, img in images.items():
            pngs[label] = os.path.join(tmp, label + ".png")
            with open(pngs[label], "wb") as f:
                f.write(png_bytes(img))
            data[label] = features(build, pngs[label], os.path.join(tmp, label + ".bin"), label)
        if any(d is None for d in data.values()):
            print("ar: %d passed, %d failed" % (test_export.passed, test_export.failed))
            return 1
        check(len(data["large"][2]) == images["large"].size, "ar_features -a: one record per sample")

        for mix in (False, True):
            kind = "mixture" if mix else "one DL"
            net = ar.make_net(12, 2, mix)
            # The untrained net's output layer has only biases (zero weights):
            # its exact integers must give what the float net does.
            before = ar.evaluate(net, data["small"], False)
            untrained = ar.evaluate(net, data["small"], True)
            check(abs(untrained - before) < 0.01,
                  "%s: untrained net: exact NLL %.4f against float %.4f" % (kind, untrained, before))
            with open(os.devnull, "w") as log, contextlib.redirect_stdout(log):  # quiet progress lines
                ar.train(net, data["large"], 300, 3e-3, 1024, False, log, warmup=50)
                ar.train(net, data["large"], 20, 3e-3 / 20, 1024, True, log, warmup=1)
            after = ar.evaluate(net, data["small"], True)
            check(after < before - 0.05, "%s: training: held-out NLL %.4f (float) -> %.4f bpsp (exact)" % (
                kind, before, after))
            print("ar: %s: trained in %.1f s: held-out NLL %.4f bpsp (untrained) -> %.4f bpsp (exact)" % (
                kind, time.time() - t0, before, after))
            if not mix:
                check_sweep_pieces(net, data["small"])
            model = os.path.join(tmp, "ar.idfw")
            with open(model, "wb") as f:
                f.write(ar.export_ar(net, "test-ar-mix" if mix else "test-ar"))
            tag = "mix-" if mix else ""
            tile_bytes = compare_tile(build, net, model, images["small"], data["small"],
                                      os.path.join(tmp, "small.bin"), tmp, tag + "small")
            for label in ("small", "large"):
                round_trip(build, model, pngs[label], images[label], tmp, tag + label + "-file",
                           tile_bytes if label == "small" else None)
    print("ar: %.1f s" % (time.time() - t0))
    print("ar: %d passed, %d failed" % (test_export.passed, test_export.failed))
    return 1 if test_export.failed else 0


if __name__ == "__main__":
    sys.exit(main())
