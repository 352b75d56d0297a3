#!/usr/bin/env python3
"""test_export.py BUILDDIR -- the trainer and the C codec agree bit for bit.

Trains three tiny models for a few steps (a convolutional RGB flow with
bipartite and quadripartite couplings, the same with checkerboard factor-out
priors, and an MLP digits-style flow with LeakyReLU), runs a few quantisation-aware steps through the exact
emulation, exports .idfw files, then checks:
  * tests/support/flow_dump (the C model) and idf.emulate_coding (Python) give the
    same latents, means and scale indices on sample tiles;
  * the rANS bytes the C coder writes for a tile are within 1% (+16 bytes
    of coder state) of the emulated NLL;
  * idfzip compress --model writes a file within 1% (+ its headers) of the
    emulated NLL, and decompresses it to the same pixels.
Prints "export: N passed, N failed".
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idf  # noqa: E402

RGB_CFG = {"name": "test-rgb", "channels": 3, "bit_depth": 8, "maxval": 255, "tile": [32, 32],
           "initial_squeezes": 0, "width": 12, "hidden": 2, "kernel": 3, "act": "relu", "perm": "flip",
           "levels": [{"squeeze": 1, "factor_out": 1, "couplings": 2, "kind": 2},
                      {"squeeze": 1, "factor_out": 0, "couplings": 1, "kind": 4}]}
# The same flow with checkerboard (two-pass) factor-out priors.
CHECKER_CFG = dict(RGB_CFG, name="test-checker", prior_checkerboard=True)
DIGITS_CFG = {"name": "test-digits", "channels": 1, "bit_depth": 8, "maxval": 16, "tile": [8, 8],
              "initial_squeezes": 3, "width": 32, "hidden": 2, "kernel": 1, "act": "leaky3",
              "perm": "shuffle", "top_components": 3,
              "levels": [{"squeeze": 0, "factor_out": 0, "couplings": 3, "kind": 4}]}

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, flush=True)


def png_bytes(a):
    """Minimal PNG writer for (H, W, C) uint8 arrays, C in {1, 3}."""
    h, w, c = a.shape
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if c == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def smooth_images(n, h, w, c, maxval, seed):
    """Smooth random images (sums of gradients and blobs) with a little noise."""
    g = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    out = np.zeros((n, h, w, c))
    for i in range(n):
        for ch in range(c):
            a, b, p = g.uniform(-2, 2, 3)
            out[i, :, :, ch] = 0.5 + 0.25 * np.sin(a * xs / w * 3 + p) * np.cos(b * ys / h * 3)
    out = out * maxval + g.normal(0, maxval / 64, out.shape)
    return np.clip(np.round(out), 0, maxval).astype(np.uint8)


def train_briefly(cfg, data, steps, qat_steps, perturb):
    torch.manual_seed(0)
    model = idf.Flow(cfg)
    opt = torch.optim.Adamax(model.parameters(), lr=3e-3)
    x_all = torch.from_numpy(data.transpose(0, 3, 1, 2).copy()).float()
    for step in range(steps + qat_steps):
        idx = torch.randint(0, x_all.shape[0], (8,))
        bpsp, _ = model(x_all[idx], exact=step >= steps)
        opt.zero_grad()
        bpsp.mean().backward()
        opt.step()
    # A few steps leave the zero-initialised output layers near zero; make
    # the translations clearly non-zero so the comparison exercises them.
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, idf.Net):
                w = m.layers[-1].conv.weight
                w.add_(torch.randn(w.shape, generator=g) * perturb / m.layers[-1].gain)
    return model


def emulated_bits(values, mean16, scale, model=None):
    if model is not None and model.top_k > 1:
        # Mixture latents (logged with scale -1): the model's exact NLL.
        mix = scale < 0
        x = values[mix].double().view(1, model.top_channels, -1, 1)
        top = float(model.top_bits(x, exact=True).sum())
        return top + emulated_bits(values[~mix], mean16[~mix], scale[~mix])
    s = 0.1 * 5120.0 ** (scale.double() / 63.0)
    mu = mean16.double() / 16.0
    v = values.double()
    p = torch.sigmoid((v + 0.5 - mu) / s) - torch.sigmoid((v - 0.5 - mu) / s)
    return float((-torch.log2(torch.clamp(p, min=1e-300))).sum())


def compare_tile(build, model, path, tile, tmp, label):
    """tile: (H, W, C) uint8."""
    h, w, c = tile.shape
    planes = os.path.join(tmp, label + ".planes")
    dump = os.path.join(tmp, label + ".dump")
    tile.transpose(2, 0, 1).astype("<i4").tofile(planes)
    res = subprocess.run([os.path.join(build, "tests", "support", "flow_dump"), path, planes, str(w), str(h), dump],
                         capture_output=True, text=True)
    check(res.returncode == 0, "%s: flow_dump failed: %s" % (label, res.stderr.strip()))
    if res.returncode != 0:
        return
    raw = np.fromfile(dump, dtype="<i4")
    n = int(raw[0])
    c_val, c_mean, c_scale = raw[1:1 + n], raw[1 + n:1 + 2 * n], raw[1 + 2 * n:1 + 3 * n]
    x = torch.from_numpy(tile.transpose(2, 0, 1).copy())[None].long()
    p_val, p_mean, p_scale = idf.emulate_coding(model, x)
    check(n == p_val.numel(), "%s: %d latents in C, %d in Python" % (label, n, p_val.numel()))
    if n != p_val.numel():
        return
    check(np.array_equal(c_val, p_val.numpy()), "%s: latents differ" % label)
    check(not np.array_equal(np.sort(c_val), np.sort(tile.flatten().astype(np.int32))),
          "%s: the flow only rearranged the pixels (nets are trivial)" % label)
    check(np.array_equal(c_mean, p_mean.numpy()), "%s: means differ" % label)
    check(np.array_equal(c_scale, p_scale.numpy()), "%s: scale indices differ" % label)
    bits = emulated_bits(p_val, p_mean, p_scale, model)
    coded = int(res.stdout.strip()) * 8
    check(coded <= 1.01 * bits + 16 * 8 and coded >= 0.99 * bits,
          "%s: rANS %d bits vs emulated NLL %.0f bits" % (label, coded, bits))
    print("export: %s: %d latents identical; coded %d bits, emulated NLL %.0f bits (%+.2f%%)"
          % (label, n, coded, bits, 100 * (coded - bits) / max(bits, 1)), flush=True)
    return bits


def compare_file(build, model, path, image, tmp, label):
    png = os.path.join(tmp, label + ".png")
    idf_path = os.path.join(tmp, label + ".idf")
    back = os.path.join(tmp, label + ".back.png")
    with open(png, "wb") as f:
        f.write(png_bytes(image))
    cli = os.path.join(build, "idfzip")
    ok = subprocess.run([cli, "compress", "-f", "--no-store", "--model", path, png, "-o", idf_path]).returncode == 0
    ok = ok and subprocess.run([cli, "decompress", "-f", "--model", path, idf_path, "-o", back]).returncode == 0
    check(ok, "%s: idfzip round trip failed" % label)
    if not ok:
        return
    same = subprocess.run([os.path.join(build, "tests", "pngcmp"), png, back]).returncode == 0
    check(same, "%s: pixels differ after idfzip round trip" % label)
    th, tw = model.cfg["tile"]
    bits = 0.0
    for y in range(0, image.shape[0], th):
        for x0 in range(0, image.shape[1], tw):
            t = image[y:y + th, x0:x0 + tw]
            x = torch.from_numpy(t.transpose(2, 0, 1).copy())[None].long()
            bits += emulated_bits(*idf.emulate_coding(model, x), model)
    size = os.path.getsize(idf_path)
    header = 64 + 8 * ((image.shape[0] + 31) // 32) * ((image.shape[1] + 31) // 32) + 16 * 4
    check(size * 8 <= 1.01 * bits + header * 8, "%s: .idf %d bytes vs NLL %.0f bytes" % (label, size, bits / 8))
    print("export: %s: .idf %d bytes, emulated NLL %.0f bytes" % (label, size, bits / 8), flush=True)


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        rgb_data = smooth_images(64, 32, 32, 3, 255, 1)
        for cfg, label in ((RGB_CFG, "rgb"), (CHECKER_CFG, "checker")):
            rgb = train_briefly(cfg, rgb_data, 40, 3, 0.3)
            rgb_path = os.path.join(tmp, label + ".idfw")
            with open(rgb_path, "wb") as f:
                f.write(idf.export_idfw(rgb))
            for k, tile in enumerate(smooth_images(2, 32, 32, 3, 255, 7)):
                compare_tile(build, rgb, rgb_path, tile, tmp, "%s-tile%d" % (label, k))
            compare_file(build, rgb, rgb_path, smooth_images(1, 64, 96, 3, 255, 9)[0], tmp, label + "-file")

        digits_data = smooth_images(256, 8, 8, 1, 16, 2)
        digits = train_briefly(DIGITS_CFG, digits_data, 60, 3, 0.5)
        digits_path = os.path.join(tmp, "digits.idfw")
        with open(digits_path, "wb") as f:
            f.write(idf.export_idfw(digits))
        for k, tile in enumerate(smooth_images(3, 8, 8, 1, 16, 11)):
            compare_tile(build, digits, digits_path, tile, tmp, "digits-tile%d" % k)
    print("export: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
