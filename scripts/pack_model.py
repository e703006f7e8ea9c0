#!/usr/bin/env python3
"""Packs a trained run folder into a model folder to ship: config.json, the generator and encoder weights stored as
float16 safetensors (half the size; pix2pixhd loads them into float32), clusters.json, and optionally a preview
generator (a global-generator run) in <out>/preview/.

    .venv/bin/pip install safetensors
    .venv/bin/python scripts/pack_model.py RUN_DIR OUT_DIR [--preview GLOBAL_RUN_DIR]
"""
import argparse
import os
import shutil

from safetensors.torch import load_file, save_file


def half(src, dst):
    tensors = {k: v.half().contiguous() for k, v in load_file(src).items()}
    save_file(tensors, dst)
    return sum(t.numel() for t in tensors.values())


def pack(run, out, files):
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(run, "config.json"), os.path.join(out, "config.json"))
    for stem in files:
        src = os.path.join(run, stem + ".safetensors")
        if os.path.exists(src):
            n = half(src, os.path.join(out, stem + ".safetensors"))
            print(f"{out}/{stem}.safetensors: {n:,} parameters")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--preview", help="a global-generator run folder to ship as the preview generator")
    a = ap.parse_args()
    pack(a.run, a.out, ["latest_net_G", "latest_net_E"])
    clusters = os.path.join(a.run, "clusters.json")
    if os.path.exists(clusters):
        shutil.copy(clusters, os.path.join(a.out, "clusters.json"))
    else:
        print("note: no clusters.json in the run (run `pix2pixhd encode` first for style picking)")
    if a.preview:
        pack(a.preview, os.path.join(a.out, "preview"), ["latest_net_G"])
        # The preview generator takes the same style features; the editor uses the main clusters for it, and a
        # copy beside it lets it load on its own (render, bench) too.
        if os.path.exists(clusters):
            shutil.copy(clusters, os.path.join(a.out, "preview", "clusters.json"))


if __name__ == "__main__":
    main()
