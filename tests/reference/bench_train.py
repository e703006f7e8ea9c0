"""PyTorch side of `pix2pixhd bench --train`: times one full pix2pixHD training iteration.

Usage: bench_train.py CONFIG_JSON WIDTH HEIGHT DEVICE BATCH VGG(0|1) WARMUP ITERS
The iteration is the reference's: G forward; D on the detached fake, on the real image and on the fake; LSGAN +
feature matching (+ lambda * VGG) for G; Adam step of G; D's grads cleared; D's backward and Adam step (fused Adam, as
the Rust side). Networks come from reference.py (ReLUs made in-place as in the release).
Prints one JSON line with the per-iteration times.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
from bench import make_generator, report, time_calls  # noqa: E402


def main(argv):
    cfg = json.loads(argv[1])
    width, height = int(argv[2]), int(argv[3])
    device = torch.device(argv[4])
    batch, use_vgg = int(argv[5]), argv[6] == "1"
    warmup, iters = int(argv[7]), int(argv[8])
    g, input_nc = make_generator(cfg, with_features=False)
    d = reference.MultiscaleDiscriminator(input_nc + cfg["output_nc"], cfg["ndf"], cfg["n_layers_d"],
                                          num_D=cfg["num_d"], getIntermFeat=True)
    for m in d.modules():
        if isinstance(m, torch.nn.LeakyReLU):
            m.inplace = True
    g, d = g.to(device).train(), d.to(device).train()
    vgg = None
    if use_vgg:
        vgg = reference.Vgg19(with_dummy_classifier=False).to(device).eval()
        for p in vgg.parameters():
            p.requires_grad_(False)
    # fused=True: one kernel per parameter, as the Rust side (LibTorch's _fused_adam_ through csrc/fused_adam.cpp).
    opt_g = torch.optim.Adam(g.parameters(), lr=0.0002, betas=(0.5, 0.999), fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=0.0002, betas=(0.5, 0.999), fused=True)
    gan = reference.GANLoss(True)
    x = torch.zeros(batch, input_nc, height, width, device=device)
    x[:, 0] = 1.0
    real = torch.rand(batch, 3, height, width, device=device) * 2 - 1

    def step():
        fake = g(x)
        pred_fake_pool = d(torch.cat((x, fake.detach()), 1))
        loss_d_fake = gan(pred_fake_pool, False)
        pred_real = d(torch.cat((x, real), 1))
        loss_d_real = gan(pred_real, True)
        pred_fake = d(torch.cat((x, fake), 1))
        loss_g = gan(pred_fake, True) + reference.feature_matching_loss(
            pred_fake, pred_real, cfg["num_d"], cfg["n_layers_d"], 10.0)
        if vgg is not None:
            loss_g = loss_g + reference.vgg_loss(vgg, fake, real) * 10.0
        loss_d = (loss_d_fake + loss_d_real) * 0.5
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

    report(time_calls(step, device, warmup, iters))


if __name__ == "__main__":
    main(sys.argv)
