#!/usr/bin/env python3
"""Independent PyTorch reference for pix2pixHD networks, losses and input encoding.

Written from /work/shared/reference/pix2pixhd-architecture.md (section numbers below refer to it), not
from NVIDIA's code. Every module is a plain torch.nn module whose state_dict keys equal the keys of the
published release, so the fixtures written here can be loaded by the Rust port by name.

Usage:
    .venv/bin/python tests/reference/reference.py OUTDIR            # write all fixtures into OUTDIR
    .venv/bin/python tests/reference/reference.py --compare A B     # check two fixture dirs hold equal tensors

CPU only, float32, deterministic (each fixture reseeds the RNG with its own fixed seed, so changing one
fixture never shifts the random numbers of another).
"""

import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------
# §0 building blocks
# --------------------------------------------------------------------------------------------------


def norm(c):
    # §0: InstanceNorm2d(affine=False); track_running_stats False -> no params, no buffers, and input
    # statistics are used in train and eval alike.
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


def relu():
    # The release uses ReLU(inplace=True). Out-of-place is numerically identical and avoids any
    # aliasing surprises when we keep intermediate tensors for fixtures.
    return nn.ReLU(inplace=False)


def weights_init(m):
    # §0 weights_init: every class whose name contains "Conv" (Conv2d and ConvTranspose2d) gets
    # weight ~ N(0, 0.02); the bias keeps PyTorch's default uniform init (non-trivial on purpose).
    if "Conv" in type(m).__name__:
        m.weight.data.normal_(0.0, 0.02)


# --------------------------------------------------------------------------------------------------
# §2 ResnetBlock, §1 GlobalGenerator, §3 LocalEnhancer, §4 Encoder
# --------------------------------------------------------------------------------------------------


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        # Reflect padding variant: pad layers consume indices 0 and 4, so the convs are at 1 and 5.
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0), norm(dim), relu(),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0), norm(dim),
        )

    def forward(self, x):
        return x + self.conv_block(x)  # no activation after the sum (§2)


def global_generator_layers(input_nc, output_nc, ngf, n_downsampling, n_blocks):
    """The flat layer list of §1 (length 7 + 6N + B). With n_blocks=0 it is the §4 Encoder layout."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0), norm(ngf), relu()]
    for i in range(n_downsampling):
        mult = 2 ** i
        # Down-sampling convs use ordinary ZERO padding 1 (only the 7x7 and res-blocks reflect).
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                   norm(ngf * mult * 2), relu()]
    mult = 2 ** n_downsampling
    layers += [ResnetBlock(ngf * mult) for _ in range(n_blocks)]
    for i in range(n_downsampling):
        mult = 2 ** (n_downsampling - i)
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                      output_padding=1),
                   norm(ngf * mult // 2), relu()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
    assert len(layers) == 7 + 6 * n_downsampling + n_blocks
    return layers


class GlobalGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, n_downsampling=3, n_blocks=9):
        super().__init__()
        self.model = nn.Sequential(*global_generator_layers(input_nc, output_nc, ngf,
                                                            n_downsampling, n_blocks))

    def forward(self, x):
        return self.model(x)


def pyramid_downsample():
    # Shared by the LocalEnhancer input pyramid and the discriminator scales (§3, §5, §12.4).
    return nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)


class LocalEnhancer(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=32, n_downsample_global=3, n_blocks_global=9,
                 n_local_enhancers=1, n_blocks_local=3):
        super().__init__()
        K = n_local_enhancers
        self.n_local_enhancers = K
        # Global part: a GlobalGenerator at ngf * 2^K with its last 3 layers (pad, 7x7 conv, tanh)
        # dropped; re-wrapping the truncated list keeps the indices 0 .. 3+6N+B.
        ngf_global = ngf * 2 ** K
        glob = global_generator_layers(input_nc, output_nc, ngf_global, n_downsample_global,
                                       n_blocks_global)[:-3]
        self.model = nn.Sequential(*glob)
        for n in range(1, K + 1):
            ngf_n = ngf * 2 ** (K - n)
            front = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf_n, 7, padding=0), norm(ngf_n), relu(),
                     nn.Conv2d(ngf_n, ngf_n * 2, 3, stride=2, padding=1), norm(ngf_n * 2), relu()]
            back = [ResnetBlock(ngf_n * 2) for _ in range(n_blocks_local)]
            back += [nn.ConvTranspose2d(ngf_n * 2, ngf_n, 3, stride=2, padding=1, output_padding=1),
                     norm(ngf_n), relu()]
            if n == K:
                # Only the last (finest) enhancer carries the output head; ngf_K == ngf.
                back += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*front))
            setattr(self, f"model{n}_2", nn.Sequential(*back))
        self.downsample = pyramid_downsample()

    def forward(self, x):
        K = self.n_local_enhancers
        pyr = [x]
        for _ in range(K):
            pyr.append(self.downsample(pyr[-1]))
        out = self.model(pyr[K])  # coarsest input goes through the global part
        for n in range(1, K + 1):
            front = getattr(self, f"model{n}_1")
            back = getattr(self, f"model{n}_2")
            out = back(front(pyr[K - n]) + out)  # elementwise sum BEFORE the back end (§12.5)
        return out


def instance_average_pool(raw, inst):
    """§4 instance-wise average pooling.

    For every distinct id over the whole batch, and for each batch item that contains it, each channel
    is overwritten, on that item's pixels of that id, with the channel's mean over those pixels. Every id
    is pooled (0 and stuff ids included); the means are per item, never across items.
    """
    out = raw.clone()
    B, C = raw.shape[:2]
    for i in torch.unique(inst).tolist():
        for b in range(B):
            mask = inst[b, 0] == i  # [H, W]
            if not bool(mask.any()):
                continue  # id absent from this item: nothing to write
            for j in range(C):
                out[b, j][mask] = raw[b, j][mask].mean()
    return out


class Encoder(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=32, n_downsampling=4):
        super().__init__()
        # §4: the GlobalGenerator layout without res-blocks, ending in Tanh.
        self.model = nn.Sequential(*global_generator_layers(input_nc, output_nc, ngf, n_downsampling, 0))

    def forward(self, x, inst):
        return instance_average_pool(self.model(x), inst)


# --------------------------------------------------------------------------------------------------
# §5 discriminators
# --------------------------------------------------------------------------------------------------


def nlayer_blocks(input_nc, ndf, n_layers, use_sigmoid):
    """The sub-blocks of NLayerDiscriminator, as lists of modules (§5)."""
    kw, padw = 4, 2  # padw = ceil((4-1)/2) = 2
    lrelu = lambda: nn.LeakyReLU(0.2, inplace=False)  # noqa: E731
    blocks = [[nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), lrelu()]]  # no norm in block 0
    nf = ndf
    for _ in range(1, n_layers):
        nf_prev, nf = nf, min(nf * 2, 512)
        blocks.append([nn.Conv2d(nf_prev, nf, kw, stride=2, padding=padw), norm(nf), lrelu()])
    nf_prev, nf = nf, min(nf * 2, 512)
    blocks.append([nn.Conv2d(nf_prev, nf, kw, stride=1, padding=padw), norm(nf), lrelu()])
    blocks.append([nn.Conv2d(nf, 1, kw, stride=1, padding=padw)])
    if use_sigmoid:
        blocks.append([nn.Sigmoid()])
    return blocks


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, use_sigmoid=False, getIntermFeat=False):
        super().__init__()
        self.getIntermFeat = getIntermFeat
        blocks = nlayer_blocks(input_nc, ndf, n_layers, use_sigmoid)
        self.n_blocks = len(blocks)
        if getIntermFeat:
            for j, blk in enumerate(blocks):
                setattr(self, f"model{j}", nn.Sequential(*blk))  # conv always at index 0
        else:
            self.model = nn.Sequential(*[m for blk in blocks for m in blk])  # flat: convs at 0,2,5,8,...

    def forward(self, x):
        if self.getIntermFeat:
            res = []
            for j in range(self.n_blocks):
                x = getattr(self, f"model{j}")(x)
                res.append(x)
            return res
        return [self.model(x)]


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3, use_sigmoid=False, num_D=3, getIntermFeat=False):
        super().__init__()
        self.num_D, self.n_layers, self.getIntermFeat = num_D, n_layers, getIntermFeat
        for i in range(num_D):
            netD = NLayerDiscriminator(input_nc, ndf, n_layers, use_sigmoid, getIntermFeat)
            if getIntermFeat:
                # Only blocks 0..n_layers+1 are registered: a Sigmoid block (use_sigmoid) is dropped,
                # exactly as §5 describes.
                for j in range(n_layers + 2):
                    setattr(self, f"scale{i}_layer{j}", getattr(netD, f"model{j}"))
            else:
                setattr(self, f"layer{i}", netD.model)
        self.downsample = pyramid_downsample()

    def single_D_forward(self, scale, x):
        if self.getIntermFeat:
            res = []
            for j in range(self.n_layers + 2):
                x = getattr(self, f"scale{scale}_layer{j}")(x)
                res.append(x)
            return res
        return [getattr(self, f"layer{scale}")(x)]

    def forward(self, x):
        # Forward order: entry i uses scale num_D-1-i on the input downsampled i times, so the
        # result list goes full resolution first and the highest-numbered scale sees full res.
        result = []
        for i in range(self.num_D):
            result.append(self.single_D_forward(self.num_D - 1 - i, x))
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


# --------------------------------------------------------------------------------------------------
# §6 losses
# --------------------------------------------------------------------------------------------------


class GANLoss:
    """LSGAN (MSE) or vanilla (BCE on already-sigmoided predictions). Targets are 1.0 / 0.0 tensors of
    the prediction's shape; for a list of lists only the last element per scale is used and the
    per-scale mean losses are summed in list order."""

    def __init__(self, use_lsgan=True):
        self.loss = nn.MSELoss() if use_lsgan else nn.BCELoss()

    def __call__(self, pred, target_is_real):
        scales = pred if isinstance(pred[0], list) else [pred]
        total = 0
        for s in scales:
            p = s[-1]
            target = torch.full_like(p, 1.0 if target_is_real else 0.0)
            total = total + self.loss(p, target)
        return total


def feature_matching_loss(pred_fake, pred_real, num_D, n_layers, lambda_feat):
    # §6: sum over scales and every block output but the last, L1 against DETACHED real features.
    feat_weights = 4.0 / (n_layers + 1)
    D_weights = 1.0 / num_D
    total = 0
    for i in range(num_D):
        for j in range(len(pred_fake[i]) - 1):
            total = total + D_weights * feat_weights * \
                F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * lambda_feat
    return total


# torchvision vgg19 'features' configuration (cfg "E"): numbers are 3x3 conv widths, "M" a 2x2 max-pool.
VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512, "M"]
VGG_SLICES = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)]  # relu1_1 .. relu5_1
VGG_WEIGHTS = [1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0]


class Vgg19(nn.Module):
    """torchvision layout: features.{idx}, convs at 0,2,5,...,34, ReLU after each, pools at 4,9,18,27,36.
    A dummy `classifier` is attached only so the saved state_dict carries keys the Rust loader must skip."""

    def __init__(self, with_dummy_classifier=True):
        super().__init__()
        layers, c = [], 3
        for v in VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)
        assert [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)] == \
            [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
        assert [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)] == [4, 9, 18, 27, 36]
        if with_dummy_classifier:
            self.classifier = nn.Sequential(nn.Linear(4, 8))  # classifier.0.weight [8,4], .bias [8]

    def slices(self, x):
        outs = []
        for a, b in VGG_SLICES:
            x = self.features[a:b](x)
            outs.append(x)
        return outs


def vgg_loss(vgg, x, y):
    # §6: sum_k w_k * L1(vgg_k(x), vgg_k(y).detach()); images in [-1,1], NO ImageNet normalisation,
    # and NOT multiplied by lambda_feat here (the caller does that).
    fx, fy = vgg.slices(x), vgg.slices(y)
    total = 0
    for w, a, b in zip(VGG_WEIGHTS, fx, fy):
        total = total + w * F.l1_loss(a, b.detach())
    return total


# --------------------------------------------------------------------------------------------------
# §7 input encoding
# --------------------------------------------------------------------------------------------------


def get_edges(inst):
    """A pixel is 1 when any 4-neighbour has a different (raw, integer) instance id; both pixels of each
    differing horizontal and vertical pair are marked."""
    e = torch.zeros(inst.shape, dtype=torch.bool)
    dh = inst[..., :, 1:] != inst[..., :, :-1]
    e[..., :, 1:] |= dh
    e[..., :, :-1] |= dh
    dv = inst[..., 1:, :] != inst[..., :-1, :]
    e[..., 1:, :] |= dv
    e[..., :-1, :] |= dv
    return e.float()


def get_edges_naive(inst):
    # Deliberately different formulation (per-pixel neighbour loop) used only to cross-check get_edges.
    B, _, H, W = inst.shape
    e = torch.zeros(inst.shape)
    t = inst.tolist()
    for b in range(B):
        for y in range(H):
            for x in range(W):
                v = t[b][0][y][x]
                for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < H and 0 <= xx < W and t[b][0][yy][xx] != v:
                        e[b, 0, y, x] = 1.0
    return e


def encode_input(label, inst, label_nc, feat=None):
    """[one-hot(label): label_nc | edge(inst): 1 | feat: feat_num (optional)] as float32."""
    B, _, H, W = label.shape
    onehot = torch.zeros(B, label_nc, H, W).scatter_(1, label.long(), 1.0)
    parts = [onehot, get_edges(inst)]
    if feat is not None:
        parts.append(feat.float())
    return torch.cat(parts, dim=1)


# --------------------------------------------------------------------------------------------------
# fixture helpers
# --------------------------------------------------------------------------------------------------


def clean(t):
    # clone() so each saved tensor owns exactly its own storage (torch.save of a view would write the
    # whole base storage) and contiguous CPU layout, as the Rust side expects.
    return t.detach().to("cpu").clone().contiguous()


def shape_info(sd):
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in sd.items()}


def save_weights(model, path):
    sd = model.state_dict()  # an OrderedDict of name -> tensor, exactly what the release saves
    torch.save(sd, path)  # default zip format
    return shape_info(sd)


def save_io(io, path):
    io = {k: clean(v) for k, v in io.items()}
    torch.save(io, path)
    return shape_info(io)


def flatten_outputs(prefix, outs):
    return {f"{prefix}.{i}.{j}": t for i, scale in enumerate(outs) for j, t in enumerate(scale)}


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def seeded(seed):
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------


def fx_generators(out, manifest):
    # 1. GlobalGenerator
    seeded(1)
    opts = dict(input_nc=6, output_nc=3, ngf=8, n_downsampling=3, n_blocks=2)
    g = GlobalGenerator(**opts)
    g.apply(weights_init)
    g.eval()
    x = torch.randn(2, 6, 32, 48)
    with torch.no_grad():
        y = g(x)
    manifest["g_global"] = dict(
        cls="GlobalGenerator", options=opts, norm="instance", padding_type="reflect",
        weights_file="g_global.pth", weights=save_weights(g, f"{out}/g_global.pth"),
        io_file="g_global.io.pt", io=save_io({"input": x, "output": y}, f"{out}/g_global.io.pt"))

    # 2./3. LocalEnhancer with K=1 and K=2
    for name, seed, K, shape in (("g_local1", 2, 1, (1, 6, 64, 64)), ("g_local2", 3, 2, (1, 6, 64, 96))):
        seeded(seed)
        opts = dict(input_nc=6, output_nc=3, ngf=4, n_downsample_global=2, n_blocks_global=2,
                    n_local_enhancers=K, n_blocks_local=2)
        g = LocalEnhancer(**opts)
        g.apply(weights_init)
        g.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = g(x)
        manifest[name] = dict(
            cls="LocalEnhancer", options=opts, norm="instance", padding_type="reflect",
            weights_file=f"{name}.pth", weights=save_weights(g, f"{out}/{name}.pth"),
            io_file=f"{name}.io.pt", io=save_io({"input": x, "output": y}, f"{out}/{name}.io.pt"))


def make_encoder_inst():
    """Two items, ids 0, 7, 26000, 26001, 24000. 0/7/26000 occur in both items, 24000 only in item 0,
    26001 only in item 1. Rectangles, a disc-shaped blob and an L-shaped region."""
    H, W = 32, 48
    inst = torch.zeros(2, 1, H, W, dtype=torch.int64)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    # item 0: background 0, car rectangle 26000, stuff 7 along the bottom border, person blob 24000
    inst[0, 0, 4:14, 6:20] = 26000
    inst[0, 0, 24:, :] = 7
    inst[0, 0][((yy - 12) ** 2 + (xx - 34) ** 2) <= 36] = 24000
    # item 1: background 7, cars 26000 and 26001 touching, an L-shaped region of 0 touching the corner
    inst[1, 0] = 7
    inst[1, 0, 10:22, 5:17] = 26000
    inst[1, 0, 10:22, 17:30] = 26001
    inst[1, 0, 26:, 36:] = 0
    inst[1, 0, 20:, 44:] = 0
    return inst


def fx_encoder(out, manifest):
    seeded(4)
    opts = dict(input_nc=3, output_nc=3, ngf=4, n_downsampling=3)
    e = Encoder(**opts)
    e.apply(weights_init)
    e.eval()
    x = torch.randn(2, 3, 32, 48)
    inst = make_encoder_inst()
    present = [sorted(torch.unique(inst[b]).tolist()) for b in range(2)]
    assert present == [[0, 7, 24000, 26000], [0, 7, 26000, 26001]], present
    with torch.no_grad():
        raw = e.model(x)
        pooled = instance_average_pool(raw, inst)
    # Sanity: pooled output is constant per (item, id, channel) and equals the per-item mean of raw.
    for b in range(2):
        for i in present[b]:
            m = inst[b, 0] == i
            for j in range(3):
                v = pooled[b, j][m]
                assert torch.all(v == v[0]) and torch.allclose(v[0], raw[b, j][m].double().mean().float(), atol=1e-6)
    manifest["encoder"] = dict(
        cls="Encoder", options=opts, norm="instance", ids_per_item=present,
        weights_file="encoder.pth", weights=save_weights(e, f"{out}/encoder.pth"),
        io_file="encoder.io.pt",
        io=save_io({"input": x, "inst": inst, "raw": raw, "output": pooled}, f"{out}/encoder.io.pt"))


def fx_discriminators(out, manifest):
    seeded(5)
    opts = dict(input_nc=7, ndf=8, n_layers=3, num_D=3, use_sigmoid=False, getIntermFeat=True)
    d = MultiscaleDiscriminator(**opts)
    d.apply(weights_init)
    d.eval()
    x = torch.randn(1, 7, 64, 64)
    with torch.no_grad():
        outs = d(x)
    assert len(outs) == 3 and all(len(s) == 5 for s in outs)
    io = {"input": x, **flatten_outputs("out", outs)}
    manifest["d_multi"] = dict(
        cls="MultiscaleDiscriminator", options=opts, norm="instance",
        forward_order="out.{i} comes from scale{num_D-1-i} on the input downsampled i times",
        weights_file="d_multi.pth", weights=save_weights(d, f"{out}/d_multi.pth"),
        io_file="d_multi.io.pt", io=save_io(io, f"{out}/d_multi.io.pt"))

    seeded(6)
    opts = dict(input_nc=7, ndf=8, n_layers=2, num_D=2, use_sigmoid=False, getIntermFeat=False)
    d = MultiscaleDiscriminator(**opts)
    d.apply(weights_init)
    d.eval()
    # n_layers=2 -> flat convs at 0, 2, 5, 8 (the doc's 0,2,5,8,11 is the n_layers=3 case)
    assert sorted({k.split(".")[1] for k in d.state_dict()}, key=int) == ["0", "2", "5", "8"]
    x = torch.randn(2, 7, 40, 56)
    with torch.no_grad():
        outs = d(x)
    assert len(outs) == 2 and all(len(s) == 1 for s in outs)
    io = {"input": x, **flatten_outputs("out", outs)}
    manifest["d_flat"] = dict(
        cls="MultiscaleDiscriminator", options=opts, norm="instance",
        forward_order="out.{i} comes from layer{num_D-1-i} on the input downsampled i times",
        weights_file="d_flat.pth", weights=save_weights(d, f"{out}/d_flat.pth"),
        io_file="d_flat.io.pt", io=save_io(io, f"{out}/d_flat.io.pt"))


def vgg_init(m):
    # N(0, 0.02) would make relu5_1 features vanish after 16 convs, so use torchvision's own VGG init
    # for weights (kaiming normal, fan_out, relu), which keeps magnitudes O(1) through depth, while the
    # biases keep PyTorch's default uniform init so they are non-zero.
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def fx_losses(out, manifest):
    seeded(7)
    num_D, n_layers, lambda_feat = 2, 3, 10.0
    # Shapes of a real intermediate-feature D on a 64x64 input (weights irrelevant).
    d = MultiscaleDiscriminator(input_nc=3, ndf=8, n_layers=n_layers, num_D=num_D, getIntermFeat=True).eval()
    with torch.no_grad():
        shapes = [[t.shape for t in s] for s in d(torch.randn(1, 3, 64, 64))]
    fake = [[torch.randn(s) for s in sc] for sc in shapes]
    real = [[torch.randn(s) for s in sc] for sc in shapes]
    sfake = [[torch.sigmoid(t) for t in sc] for sc in fake]

    lsgan, bce = GANLoss(use_lsgan=True), GANLoss(use_lsgan=False)
    io = {**flatten_outputs("fake", fake), **flatten_outputs("real", real), **flatten_outputs("sfake", sfake)}
    io["loss.gan_lsgan_true"] = lsgan(fake, True)
    io["loss.gan_lsgan_false"] = lsgan(fake, False)
    io["loss.gan_bce_true"] = bce(sfake, True)
    io["loss.gan_bce_false"] = bce(sfake, False)
    io["loss.feat"] = feature_matching_loss(fake, real, num_D, n_layers, lambda_feat)

    seeded(8)
    vgg = Vgg19()
    vgg.apply(vgg_init)
    vgg.eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    y = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        feats = vgg.slices(x)
        lv = vgg_loss(vgg, x, y)
    for k, f in enumerate(feats):
        # Guard against the degenerate case the custom init is there to avoid.
        assert f.abs().mean() > 1e-3 and (f > 0).float().mean() > 0.05, (k, f.abs().mean())
    io.update({"vgg.x": x, "vgg.y": y})
    io.update({f"vgg.feat.{k}": f for k, f in enumerate(feats)})
    io["loss.vgg"] = lv
    io["loss.vgg_x_lambda"] = lv * lambda_feat
    for k in io:
        if k.startswith("loss."):
            assert io[k].dim() == 0 and io[k].dtype == torch.float32, k
    manifest["losses"] = dict(
        options=dict(num_D=num_D, n_layers=n_layers, lambda_feat=lambda_feat,
                     d_shapes_from=dict(cls="MultiscaleDiscriminator", input_nc=3, ndf=8, input=[1, 3, 64, 64],
                                        getIntermFeat=True),
                     gan_targets=dict(real=1.0, fake=0.0), gan_reduction="mean per scale, summed over scales",
                     feat_weights=4.0 / (n_layers + 1), D_weights=1.0 / num_D,
                     vgg_slices=VGG_SLICES, vgg_weights=VGG_WEIGHTS, vgg_imagenet_normalisation=False,
                     vgg_init="kaiming_normal fan_out relu weights, default uniform biases"),
        weights_file="vgg19.pth", weights=save_weights(vgg, f"{out}/vgg19.pth"),
        io_file="losses.io.pt", io=save_io(io, f"{out}/losses.io.pt"))


def make_encode_maps():
    H, W = 24, 32
    # label: ids 0..9 in vertical bands + a few patches, independent of inst (only one-hot uses it)
    label = torch.zeros(1, 1, H, W, dtype=torch.uint8)
    for c in range(10):
        label[0, 0, :, c * 3:(c + 1) * 3 + (2 if c == 9 else 0)] = c
    label[0, 0, 5:9, 4:20] = 3
    label[0, 0, 15, 15] = 8  # single pixel
    # inst: Cityscapes style ids (stuff < 1000, things class*1000 + k)
    inst = torch.full((1, 1, H, W), 7, dtype=torch.int64)   # road
    inst[0, 0, :6, :] = 11                                  # building along the top border
    inst[0, 0, 8:16, 4:12] = 26000                          # car 0 ...
    inst[0, 0, 8:16, 12:20] = 26001                         # ... touching car 1
    inst[0, 0, 16:, 26:] = 24000                            # person touching bottom/right border
    inst[0, 0, 0, 0] = 33000                                # single-pixel instance in the corner
    inst[0, 0, 20, 8] = 26002                               # single-pixel instance inside road
    inst[0, 0, 3, 31] = 0                                   # single pixel on the right border
    return label, inst


def fx_encode(out, manifest):
    seeded(9)
    label_nc = 10
    label, inst = make_encode_maps()
    assert sorted(torch.unique(label).tolist()) == list(range(10))
    enc = encode_input(label, inst, label_nc)
    assert torch.equal(enc[:, label_nc:], get_edges_naive(inst)), "edge map disagrees with naive check"
    assert torch.equal(enc[:, :label_nc].sum(1), torch.ones(1, 24, 32))
    feat = torch.rand(1, 3, 24, 32) * 2 - 1
    enc_feat = encode_input(label, inst, label_nc, feat)
    manifest["encode"] = dict(
        options=dict(label_nc=label_nc, no_instance=False, feat_num_for_encoded_with_feat=3),
        channels="[one-hot(label): label_nc | edge(inst): 1 | feat (encoded_with_feat only)]",
        io_file="encode.io.pt",
        io=save_io({"label": label, "inst": inst, "encoded": enc, "feat": feat,
                    "encoded_with_feat": enc_feat}, f"{out}/encode.io.pt"))


# --------------------------------------------------------------------------------------------------
# big-model parameter counts and §3 key/shape table
# --------------------------------------------------------------------------------------------------


def check_big_models(manifest):
    # Built on the meta device: shapes and counts only, no memory or init cost, no RNG consumption.
    with torch.device("meta"):
        g1024 = LocalEnhancer(36, 3, ngf=32, n_downsample_global=4, n_blocks_global=9,
                              n_local_enhancers=1, n_blocks_local=3)
        g512 = GlobalGenerator(36, 3, ngf=64, n_downsampling=4, n_blocks=9)
        e_def = Encoder(3, 3, ngf=16, n_downsampling=4)
        d_def2 = MultiscaleDiscriminator(39, 64, 3, num_D=2, getIntermFeat=True)
        d_def3 = MultiscaleDiscriminator(39, 64, 3, num_D=3, getIntermFeat=True)
    sd = {k: list(v.shape) for k, v in g1024.state_dict().items()}

    expected = {  # §3 table
        "model.1.weight": [64, 36, 7, 7],
        "model.4.weight": [128, 64, 3, 3], "model.7.weight": [256, 128, 3, 3],
        "model.10.weight": [512, 256, 3, 3], "model.13.weight": [1024, 512, 3, 3],
        "model.25.weight": [1024, 512, 3, 3], "model.28.weight": [512, 256, 3, 3],
        "model.31.weight": [256, 128, 3, 3], "model.34.weight": [128, 64, 3, 3],
        "model1_1.1.weight": [32, 36, 7, 7], "model1_1.4.weight": [64, 32, 3, 3],
        "model1_2.3.weight": [64, 32, 3, 3], "model1_2.7.weight": [3, 32, 7, 7],
    }
    for b in range(16, 25):
        for c in (1, 5):
            expected[f"model.{b}.conv_block.{c}.weight"] = [1024, 1024, 3, 3]
    for b in range(3):
        for c in (1, 5):
            expected[f"model1_2.{b}.conv_block.{c}.weight"] = [64, 64, 3, 3]
    # every entry also has a bias of length out (dim 1 for ConvTranspose, dim 0 otherwise)
    convT = {"model.25.weight", "model.28.weight", "model.31.weight", "model.34.weight", "model1_2.3.weight"}
    for k, s in list(expected.items()):
        expected[k.replace(".weight", ".bias")] = [s[1] if k in convT else s[0]]
    assert sd == expected, (set(sd) ^ set(expected), {k: (sd.get(k), v) for k, v in expected.items() if sd.get(k) != v})

    # §3: the global part equals the 512p GlobalGenerator's keys/shapes minus model.38.
    sd512 = {k: list(v.shape) for k, v in g512.state_dict().items()}
    glob = {k: v for k, v in sd.items() if k.startswith("model.")}
    assert glob == {k: v for k, v in sd512.items() if not k.startswith("model.38.")}
    assert sd512["model.38.weight"] == [3, 64, 7, 7]

    counts = {
        "label2city_1024p_LocalEnhancer(36,3,ngf32,N4,B9,K1,local3)": param_count(g1024),
        "label2city_512p_GlobalGenerator(36,3,ngf64,N4,B9)": param_count(g512),
        "default_Encoder(3,3,nef16,N4)": param_count(e_def),
        "default_MultiscaleD(39,ndf64,n3,num_D2,intermFeat)": param_count(d_def2),
        "1024p_MultiscaleD(39,ndf64,n3,num_D3,intermFeat)": param_count(d_def3),
    }
    manifest["param_counts"] = counts
    manifest["param_counts_doc_claims"] = {
        "label2city_1024p_LocalEnhancer(36,3,ngf32,N4,B9,K1,local3)": 182857059,
        "label2city_512p_GlobalGenerator(36,3,ngf64,N4,B9)": 182546755,
    }
    return counts


# --------------------------------------------------------------------------------------------------


def compare_dirs(a, b):
    """Tensor-level equality of two fixture dirs (zip files embed a per-save id, so bytes differ)."""
    names = sorted(os.listdir(a))
    assert names == sorted(os.listdir(b)), "file lists differ"
    ok = True
    for n in names:
        if n.endswith(".json"):
            same = open(os.path.join(a, n)).read() == open(os.path.join(b, n)).read()
        else:
            da, db = torch.load(os.path.join(a, n)), torch.load(os.path.join(b, n))
            same = list(da) == list(db) and all(
                da[k].dtype == db[k].dtype and torch.equal(da[k], db[k]) for k in da)
        print(f"{'same' if same else 'DIFFERENT'}  {n}")
        ok &= same
    return ok


def main(argv):
    if len(argv) == 4 and argv[1] == "--compare":
        sys.exit(0 if compare_dirs(argv[2], argv[3]) else 1)
    if len(argv) != 2:
        sys.exit(__doc__)
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    torch.set_grad_enabled(False)
    manifest = {"generator": "tests/reference/reference.py", "torch": torch.__version__.split("+")[0],
                "dtype": "float32", "device": "cpu"}
    fx_generators(out, manifest)
    fx_encoder(out, manifest)
    fx_discriminators(out, manifest)
    fx_losses(out, manifest)
    fx_encode(out, manifest)
    counts = check_big_models(manifest)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in counts.items():
        print(f"params {k}: {v:,}")
    print(f"wrote {len(os.listdir(out))} files to {out} in {time.time() - t0:.2f}s")


if __name__ == "__main__":
    main(sys.argv)
