"""Convert a PyTorch checkpoint of any age into a file pix2pixhd loads directly.

pix2pixhd reads zip-format `torch.save` files (PyTorch >= 1.6) and .safetensors itself. Checkpoints from older
PyTorch (the legacy, non-zip serialisation, as the 2017/2018 pix2pixHD releases may be) need this one-off
conversion with the project's .venv torch:

    .venv/bin/python scripts/convert_legacy_pth.py latest_net_G.pth latest_net_G.pt

The output is a plain state dict (name -> tensor) in the zip format. InstanceNorm running statistics that
PyTorch < 0.4 stored are dropped, as is a `module.` prefix left by DataParallel. Nothing else is changed.
"""
import collections
import sys

import torch


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    src, dst = argv[1], argv[2]
    # Legacy files hold only tensors and containers; weights_only refuses anything executable.
    obj = torch.load(src, map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        sys.exit(f"{src}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    out = collections.OrderedDict()
    dropped = 0
    for k, v in obj.items():
        if not torch.is_tensor(v):
            continue
        if k.endswith((".running_mean", ".running_var", ".num_batches_tracked")):
            dropped += 1
            continue
        out[k[len("module."):] if k.startswith("module.") else k] = v.contiguous()
    torch.save(out, dst)
    print(f"wrote {len(out)} tensors to {dst} (dropped {dropped} running-statistics entries)")


if __name__ == "__main__":
    main(sys.argv)
