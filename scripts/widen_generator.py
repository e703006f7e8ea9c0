#!/usr/bin/env python3
"""Widens a trained generator (every layer's filters times --factor, config `ngf` times --factor) so that it computes
exactly the same picture as before, to go on training it with more capacity instead of starting again.

Each layer keeps its old filters; the new ones are added as follows (instance norm without affine parameters, as in
pix2pixHD, makes this exact):
- in the global generator G1 (the `model.*` tensors of a local generator) the new filters are zero, so G1's new
  channels are zero all the way through: G1 stays the function it was, ready to be kept fixed (--freeze-global);
- in the local enhancers (`model1_*`, `model2_*`, ...) and in a global generator widened on its own, the new filters
  are drawn like pix2pixHD's initialisation (normal, std 0.02, bias 0) and every weight that carries a new channel
  into an old one is zero: the old channels, and so the picture, are unchanged, and training starts using the new
  channels from the first step (their outgoing weights get gradients at once).
The encoder E and the discriminators D are copied as they are, so the output folder can be given to
`pix2pixhd train --load-pretrain` with the new `--ngf`.

    .venv/bin/python scripts/widen_generator.py RUN_DIR OUT_DIR [--factor 2] [--seed 0]
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import load_file, save_file


def input_channels(cfg):
    n = cfg["label_nc"] if cfg["label_nc"] > 0 else cfg["input_nc"]
    if not cfg.get("no_instance", False):
        n += 1
    if cfg.get("instance_feat", False) or cfg.get("label_feat", False):
        n += cfg["feat_num"]
    return n


def widen(tensors, cfg, factor, gen):
    n_in, n_out = input_channels(cfg), cfg["output_nc"]
    local = cfg["net_g"] == "local"
    out = {}
    for key in sorted(k for k in tensors if k.endswith(".weight")):
        stem = key[: -len("weight")]
        w, b = tensors[key], tensors[stem + "bias"]
        # conv weights are (out, in, k, k), transposed-conv weights (in, out, k, k); the bias says which is which
        # (pix2pixHD's transposed convs halve the channels, so they are never square)
        o = 0 if w.shape[0] == b.shape[0] else 1
        i = 1 - o
        out_hidden, in_hidden = w.shape[o] != n_out, w.shape[i] != n_in
        for size, hidden in ((w.shape[o], out_hidden), (w.shape[i], in_hidden)):
            assert not hidden or size % cfg["ngf"] == 0, f"{key}: {size} channels is not a multiple of ngf"
        old_o, old_i = w.shape[o], w.shape[i]
        new_o = old_o * factor if out_hidden else old_o
        new_i = old_i * factor if in_hidden else old_i
        shape = list(w.shape)
        shape[o], shape[i] = new_o, new_i
        zero_new = local and key.startswith("model.")
        if zero_new:
            nw = torch.zeros(shape, dtype=w.dtype)
        else:
            nw = torch.randn(shape, generator=gen, dtype=torch.float32).mul_(0.02).to(w.dtype)
        nb = torch.zeros(new_o, dtype=b.dtype)
        # the old filters as they were
        idx = [slice(None)] * w.dim()
        idx[o], idx[i] = slice(0, old_o), slice(0, old_i)
        nw[tuple(idx)] = w
        nb[:old_o] = b
        # nothing flows from a new channel into an old one
        idx[o], idx[i] = slice(0, old_o), slice(old_i, new_i)
        nw[tuple(idx)] = 0
        out[key], out[stem + "bias"] = nw.contiguous(), nb
    missing = set(tensors) - set(out)
    assert not missing, f"tensors that are not conv weight/bias pairs: {sorted(missing)}"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="a run or model folder: config.json, latest_net_G (and E, D, clusters.json if there)")
    ap.add_argument("out", help="the folder to write (for train --load-pretrain)")
    ap.add_argument("--factor", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with open(os.path.join(a.run, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("norm", "instance") != "instance":
        raise SystemExit(f"{a.run}/config.json: norm {cfg['norm']!r}: only instance norm keeps the widening exact")
    g = load_file(os.path.join(a.run, "latest_net_G.safetensors"))
    wide = widen(g, cfg, a.factor, torch.Generator().manual_seed(a.seed))
    os.makedirs(a.out, exist_ok=True)
    save_file(wide, os.path.join(a.out, "latest_net_G.safetensors"))
    cfg["ngf"] *= a.factor
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    for name in ("latest_net_E.safetensors", "latest_net_D.safetensors", "clusters.json"):
        if os.path.exists(os.path.join(a.run, name)):
            shutil.copy(os.path.join(a.run, name), os.path.join(a.out, name))
    before = sum(t.numel() for t in g.values())
    after = sum(t.numel() for t in wide.values())
    print(f"{a.out}: ngf {cfg['ngf'] // a.factor} -> {cfg['ngf']}, G {before:,} -> {after:,} parameters")


if __name__ == "__main__":
    main()
