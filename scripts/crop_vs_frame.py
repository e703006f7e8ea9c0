#!/usr/bin/env python3
"""How differently a local generator draws a crop than the same part of its whole-frame render.

Loads a model folder (config.json, latest_net_G, latest_net_E) into the PyTorch reference networks of
tests/reference/reference.py, renders test scenes of a `pix2pixhd synth` data set at their full size (E on the real
photo), and for random crops (corners on G1's grid) prints the mean absolute difference (0..1) between the crop's
part of the whole-frame render and G run on the crop three ways:
  plain      G on the crop alone (what training on crops computes; every instance norm sees only the crop)
  g1_whole   G1 on the whole frame, the enhancers on the crop with their own instance norms
  replayed   as g1_whole, the enhancers' instance norms with the whole frame's statistics (`train
             --global-whole-frame`)
and each one's L1 to the photo. "inner" leaves out a 64-pixel border, where padding sees the crop's edge.

    .venv/bin/pip install safetensors pillow
    .venv/bin/python scripts/crop_vs_frame.py --model models/default --dataroot DATA [--scenes 3] [--crops 4]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "reference"))
import reference as R  # noqa: E402


class ReplayNorm(torch.nn.Module):
    """An InstanceNorm2d that records its statistics (mode "record") or uses recorded ones (mode "replay")."""

    state = {"mode": None, "stats": {}}

    def __init__(self, key):
        super().__init__()
        self.key = key

    def forward(self, x):
        s = ReplayNorm.state
        if s["mode"] == "replay":
            mean, var = s["stats"][self.key]
        else:
            mean, var = x.mean((2, 3), keepdim=True), x.var((2, 3), keepdim=True, unbiased=False)
            if s["mode"] == "record":
                s["stats"][self.key] = (mean, var)
        return (x - mean) / torch.sqrt(var + 1e-5)


def swap_norms(module, prefix):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.InstanceNorm2d):
            setattr(module, name, ReplayNorm(prefix + name))
        else:
            swap_norms(child, prefix + name + ".")


def instance_pool(raw, inst):
    _, c, h, w = raw.shape
    _, inverse = torch.unique(inst.reshape(-1), return_inverse=True)
    n = int(inverse.max()) + 1
    sums = torch.zeros(n, c).index_add_(0, inverse, raw.reshape(c, -1).T)
    counts = torch.zeros(n).index_add_(0, inverse, torch.ones(len(inverse)))
    return (sums / counts[:, None])[inverse].T.reshape(1, c, h, w)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataroot", required=True)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--crops", type=int, default=4, help="crops per scene")
    ap.add_argument("--size", type=int, default=512, help="crop side")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    if cfg["net_g"] != "local" or not cfg["instance_feat"]:
        sys.exit(f"{a.model}: needs a local generator with instance features")
    k = cfg["n_local_enhancers"]
    label_nc, feat = cfg["label_nc"], cfg["feat_num"]
    g = R.LocalEnhancer(label_nc + 1 + feat, cfg["output_nc"], cfg["ngf"], cfg["n_downsample_global"],
                        cfg["n_blocks_global"], k, cfg["n_blocks_local"])
    g.load_state_dict({n: t.float() for n, t in load_file(os.path.join(a.model, "latest_net_G.safetensors")).items()})
    e = R.Encoder(cfg["output_nc"], feat, cfg["nef"], cfg["n_downsample_e"])
    e.load_state_dict({n: t.float() for n, t in load_file(os.path.join(a.model, "latest_net_E.safetensors")).items()})
    for n in range(1, k + 1):
        swap_norms(getattr(g, f"model{n}_1"), f"{n}_1.")
        swap_norms(getattr(g, f"model{n}_2"), f"{n}_2.")

    def enhance(pyramid, out):
        for n in range(1, k + 1):
            out = getattr(g, f"model{n}_2")(getattr(g, f"model{n}_1")(pyramid[k - n]) + out)
        return out

    def g1(x):
        for _ in range(k):
            x = g.downsample(x)
        return g.model(x)

    def pyramid(x):
        p = [x]
        for _ in range(k - 1):
            p.append(g.downsample(p[-1]))
        return p

    names = sorted(f[:-4] for f in os.listdir(os.path.join(a.dataroot, "test_label")))[: a.scenes]
    rng = np.random.default_rng(a.seed)
    sums = {}
    scale = 2 ** k
    for name in names:
        def read(folder):
            return np.array(Image.open(os.path.join(a.dataroot, folder, name + ".png")))
        label = torch.from_numpy(read("test_label")).long()[None, None]
        inst = torch.from_numpy(read("test_inst").astype(np.int64))[None, None]
        photo = torch.from_numpy(read("test_img")[..., :3]).permute(2, 0, 1)[None].float() / 127.5 - 1
        h, w = label.shape[2:]
        s = max(cfg.get("encoder_downsample", 1), 1)
        base = 2 ** cfg["n_downsample_e"]
        side = [max(round(v / (s * base)), 1) * base for v in (h, w)]
        raw = e.model(F.adaptive_avg_pool2d(photo, side)) if s > 1 else e.model(photo)
        features = instance_pool(F.interpolate(raw, size=(h, w), mode="nearest"), inst)
        x = torch.cat([R.encode_input(label, inst, label_nc), features], 1)
        ReplayNorm.state.update(mode="record", stats={})
        full = g(x)
        ReplayNorm.state["mode"] = None
        coarse = g1(x)
        for _ in range(a.crops):
            cx = int(rng.integers(0, w - a.size + 1)) // scale * scale
            cy = int(rng.integers(0, h - a.size + 1)) // scale * scale
            def cut(t, m=0):
                return t[..., cy + m:cy + a.size - m, cx + m:cx + a.size - m]
            part = coarse[..., cy // scale:(cy + a.size) // scale, cx // scale:(cx + a.size) // scale]
            outs = {"plain": g(cut(x)), "g1_whole": enhance(pyramid(cut(x)), part)}
            ReplayNorm.state["mode"] = "replay"
            outs["replayed"] = enhance(pyramid(cut(x)), part)
            ReplayNorm.state["mode"] = None
            outs["whole-frame render"] = cut(full)
            for key, out in outs.items():
                for fig, v in [("vs render", (out - cut(full)).abs().mean()),
                               ("vs render, inner", (out[..., 64:-64, 64:-64] - cut(full, 64)).abs().mean()),
                               ("L1 to photo", (out - cut(photo)).abs().mean())]:
                    sums.setdefault((key, fig), []).append(float(v) / 2)
    print(f"{len(names)} scenes x {a.crops} crops of {a.size}x{a.size}; mean absolute difference, 0..1")
    for key in ["plain", "g1_whole", "replayed", "whole-frame render"]:
        row = ", ".join(f"{fig} {np.mean(sums[(key, fig)]):.4f}"
                        for fig in ["vs render", "vs render, inner", "L1 to photo"])
        print(f"  {key:<19} {row}")


if __name__ == "__main__":
    main()
