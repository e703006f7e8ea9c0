"""PyTorch side of `pix2pixhd bench`: times the reference generator's forward pass (no autograd).

Usage: bench.py CONFIG_JSON WIDTH HEIGHT DEVICE PRECISION LAYOUT WARMUP ITERS
PRECISION is fp32, fp16 or bf16 (weights and input in that dtype); LAYOUT is nchw (what the official test.py runs)
or channels_last (model and input converted with memory_format=torch.channels_last).
Prints one JSON line: {"times": [seconds per forward, ...], "threads": N, "torch": version}.
The generator comes from reference.py (the independent reference used by the parity tests), with its ReLUs made
in-place as in the pix2pixHD release, so that both sides run the same work.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402


def make_generator(cfg, with_features=True):
    """The reference generator a ModelConfig (as JSON) describes, with in-place ReLUs, and its input channels."""
    label_nc = cfg["label_nc"] if cfg["label_nc"] > 0 else cfg["input_nc"]
    feat = cfg["feat_num"] if with_features and (cfg["instance_feat"] or cfg["label_feat"]) else 0
    input_nc = label_nc + (0 if cfg["no_instance"] else 1) + feat
    torch.manual_seed(0)
    if cfg["net_g"] == "global":
        g = reference.GlobalGenerator(input_nc, cfg["output_nc"], cfg["ngf"], cfg["n_downsample_global"],
                                      cfg["n_blocks_global"])
    else:
        g = reference.LocalEnhancer(input_nc, cfg["output_nc"], cfg["ngf"], cfg["n_downsample_global"],
                                    cfg["n_blocks_global"], cfg["n_local_enhancers"], cfg["n_blocks_local"])
    for m in g.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = True
    return g, input_nc


def time_calls(step, device, warmup, iters):
    """Seconds per call of `step()` for `iters` calls after `warmup` untimed ones (synchronising CUDA)."""
    times = []
    for i in range(warmup + iters):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def report(times):
    print(json.dumps({"times": times, "threads": torch.get_num_threads(), "torch": torch.__version__}))


def main(argv):
    cfg = json.loads(argv[1])
    width, height = int(argv[2]), int(argv[3])
    device = torch.device(argv[4])
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[argv[5]]
    layout = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}[argv[6]]
    warmup, iters = int(argv[7]), int(argv[8])
    g, input_nc = make_generator(cfg)
    g = g.to(device=device, dtype=dtype, memory_format=layout).eval()
    x = torch.randn(1, input_nc, height, width, device=device, dtype=dtype).to(memory_format=layout)
    with torch.no_grad():
        report(time_calls(lambda: g(x), device, warmup, iters))

if __name__ == "__main__":
    main(sys.argv)
