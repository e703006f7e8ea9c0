//! The fast inference path's pieces: channels-last memory format, the CPU's bfloat16 support, and the kernels of
//! `csrc/fast_infer.cpp` (instance norm + ReLU + residual written straight into the next layer's reflection
//! padding; the input convolutions of one-hot labels and of their pooled pyramid levels as lookups). [`InferPath`]
//! says how G runs.
//!
//! The kernels run on CPU tensors in float32 or bfloat16; elsewhere `norm_act` takes the same maths in ATen ops and
//! the one-hot shortcuts are not used (the caller encodes the labels densely). Errors of LibTorch panic, as tch's
//! own calls do; rendering runs under `memory::guard`, which turns them into errors.

use super::precision::Precision;
use std::ffi::{CStr, c_char, c_void};
use tch::{Device, Kind, Tensor};
use torch_sys::C_tensor;

unsafe extern "C" {
    fn p2p_to_channels_last(x: *mut C_tensor, out: *mut *mut C_tensor) -> *mut c_char;
    fn p2p_is_channels_last(x: *mut C_tensor) -> i32;
    fn p2p_cpu_native_bf16() -> i32;
    fn p2p_norm_act(
        x: *mut C_tensor,
        residual: *mut C_tensor,
        res_pad: i64,
        relu: i32,
        pad: i64,
        force_aten: i32,
        out: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn p2p_label_levels(labels: *mut C_tensor, label_nc: i64, k: i64, out: *mut *mut c_void) -> *mut c_char;
    fn p2p_label_levels_free(levels: *mut c_void);
    fn p2p_label_level_size(levels: *mut c_void, level: i64, size: *mut i64);
    fn p2p_label_conv_add(
        acc: *mut C_tensor,
        levels: *mut c_void,
        level: i64,
        weight: *mut C_tensor,
        pad: i64,
    ) -> *mut c_char;
    fn p2p_norm_act_fallbacks() -> i64;
    fn free(p: *mut c_void);
}

fn raw(t: &Tensor) -> *mut C_tensor {
    t.as_ptr() as *mut C_tensor
}

/// Panics with the kernel's message when `err` is one (freeing it).
fn check(what: &str, err: *mut c_char) {
    if !err.is_null() {
        // SAFETY: a NUL-terminated string from strdup, freed once here.
        let msg = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
        unsafe { free(err as *mut c_void) };
        panic!("{what}: {msg}");
    }
}

/// Takes ownership of a tensor the C side allocated.
fn owned(what: &str, err: *mut c_char, out: *mut C_tensor) -> Tensor {
    check(what, err);
    // SAFETY: on success the shim stored a `new at::Tensor`, which tch's Tensor owns and deletes from here on.
    unsafe { Tensor::from_ptr(out) }
}

/// `x` in channels-last memory format ([N, C, H, W] stored as [N][H][W][C]); `x` itself when it already is.
pub fn to_channels_last(x: &Tensor) -> Tensor {
    let mut out = std::ptr::null_mut();
    let err = unsafe { p2p_to_channels_last(raw(x), &mut out) };
    owned("channels-last", err, out)
}

/// Whether `x` is a 4-D tensor laid out channels-last.
pub fn is_channels_last(x: &Tensor) -> bool {
    unsafe { p2p_is_channels_last(raw(x)) != 0 }
}

/// Whether this CPU has the native bfloat16 arithmetic LibTorch's kernels use (AVX-512 BF16 or AMX BF16).
pub fn cpu_native_bf16() -> bool {
    unsafe { p2p_cpu_native_bf16() != 0 }
}

/// How many `norm_act` calls in this process could not use the kernel (their input was not channels-last, or of
/// a device or type it does not take) and ran ATen's ops instead. On the CPU the fast path makes none.
pub fn norm_act_fallbacks() -> i64 {
    unsafe { p2p_norm_act_fallbacks() }
}

/// A residual added after the norm: a tensor and the reflection padding around the part that is added.
pub type Residual<'a> = Option<(&'a Tensor, i64)>;

/// `reflection_pad(pad)(relu?(instance_norm(x)) + residual)`, channels-last, with the norm's statistics in float32
/// (eps 1e-5, biased variance, as InstanceNorm2d). One pass for the statistics and one for the output on the CPU.
pub fn norm_act(x: &Tensor, residual: Residual, relu: bool, pad: i64) -> Tensor {
    norm_act_impl(x, residual, relu, pad, false)
}

fn norm_act_impl(x: &Tensor, residual: Residual, relu: bool, pad: i64, force_aten: bool) -> Tensor {
    let (r, rp) = residual.map_or((std::ptr::null_mut(), 0), |(t, p)| (raw(t), p));
    let mut out = std::ptr::null_mut();
    let err = unsafe { p2p_norm_act(raw(x), r, rp, i32::from(relu), pad, i32::from(force_aten), &mut out) };
    owned("instance norm", err, out)
}

/// G's label channels kept as labels: `labels` [N, H, W] uint8 on the CPU, each below `label_nc`; the one-hot
/// input they stand for is never made at full resolution.
#[derive(Debug)]
pub struct OneHot {
    pub labels: Tensor,
    pub label_nc: i64,
}

impl OneHot {
    /// The one-hot encoding [N, label_nc, H, W] as a dense channels-last tensor of `kind` on `device`.
    pub fn dense(&self, kind: Kind, device: Device) -> Tensor {
        let (n, h, w) = self.labels.size3().expect("labels are [N, H, W]");
        let idx = self.labels.to_device(device).to_kind(Kind::Int64).reshape([n, h, w, 1]);
        let hot = Tensor::zeros([n, h, w, self.label_nc], (kind, device)).scatter_value(3, &idx, 1.0);
        hot.permute([0, 3, 1, 2])
    }

    /// The one-hot map (level 0) and its `k` poolings by AvgPool2d(3, 2, 1, count_include_pad=False) (levels
    /// 1..=k, the LocalEnhancer's input pyramid), kept as labels (CPU only).
    pub fn levels(&self, k: usize) -> LabelLevels {
        let mut ptr = std::ptr::null_mut();
        let err = unsafe { p2p_label_levels(raw(&self.labels), self.label_nc, k as i64, &mut ptr) };
        check("label levels", err);
        LabelLevels { ptr }
    }
}

/// A one-hot label map and its poolings, held by the kernels (see [`OneHot::levels`]).
#[derive(Debug)]
pub struct LabelLevels {
    ptr: *mut c_void,
}

impl LabelLevels {
    /// [N, H, W] of level `level`.
    pub fn size(&self, level: usize) -> (i64, i64, i64) {
        let mut s = [0i64; 3];
        unsafe { p2p_label_level_size(self.ptr, level as i64, s.as_mut_ptr()) };
        assert!(s[0] >= 0, "no label level {level}");
        (s[0], s[1], s[2])
    }

    /// Adds to `acc` (channels-last, the convolution of the other input channels with its bias) the convolution
    /// of level `level`, reflection-padded by `pad`, with the first `label_nc` input channels of `weight`.
    pub fn conv_add(&self, level: usize, acc: &Tensor, weight: &Tensor, pad: i64) {
        let err = unsafe { p2p_label_conv_add(raw(acc), self.ptr, level as i64, raw(weight), pad) };
        check("one-hot convolution", err);
    }
}

impl Drop for LabelLevels {
    fn drop(&mut self) {
        // SAFETY: made by p2p_label_levels, freed once.
        unsafe { p2p_label_levels_free(self.ptr) }
    }
}

/// G's input for the fast path: the label channels (as labels where the kernels can use them) and the other
/// channels (boundary map, features) as a dense tensor, either of which may be absent.
#[derive(Debug)]
pub struct GenInput {
    pub onehot: Option<OneHot>,
    /// [N, R, H, W], any layout and kind (converted as needed).
    pub rest: Option<Tensor>,
}

impl GenInput {
    /// A dense input (a photo, or any encoded tensor) with no label shortcut.
    pub fn dense(x: Tensor) -> Self {
        Self { onehot: None, rest: Some(x) }
    }

    /// Whether the one-hot kernels apply: labels given and the network on the CPU.
    pub fn uses_kernels(&self, device: Device) -> bool {
        self.onehot.is_some() && device == Device::Cpu
    }

    /// The whole input as one dense channels-last tensor of `kind` on `device`.
    pub fn to_dense(&self, kind: Kind, device: Device) -> Tensor {
        let mut parts = Vec::new();
        if let Some(h) = &self.onehot {
            parts.push(h.dense(kind, device));
        }
        if let Some(r) = &self.rest {
            parts.push(to_channels_last(&r.to_device(device).to_kind(kind)));
        }
        to_channels_last(&Tensor::cat(&parts, 1))
    }

    /// The same input with the rest channels converted to `kind` and channels-last on `device` (the labels shared).
    pub fn prepared(&self, kind: Kind, device: Device) -> GenInput {
        let onehot = self.onehot.as_ref().map(|h| OneHot { labels: h.labels.shallow_clone(), label_nc: h.label_nc });
        GenInput { onehot, rest: self.rest_as(kind, device) }
    }

    /// The rest channels, channels-last, of `kind` on `device` (themselves when they already are).
    pub fn rest_as(&self, kind: Kind, device: Device) -> Option<Tensor> {
        self.rest.as_ref().map(|r| to_channels_last(&r.to_device(device).to_kind(kind)))
    }
}

/// How G runs at inference: the precision of weights and activations and the memory layout.
/// `InferPath::EXACT` (float32, NCHW, ATen's ops) is the reference computation, bit for bit; every other path is
/// the fast one (channels-last, the fused kernels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferPath {
    pub precision: Precision,
    pub channels_last: bool,
}

impl InferPath {
    pub const EXACT: InferPath = InferPath { precision: Precision::Fp32, channels_last: false };

    pub fn fast(precision: Precision) -> Self {
        Self { precision, channels_last: true }
    }

    /// What `--precision P` asks for: fp32 is the exact path, fp16 and bf16 run channels-last.
    pub fn for_precision(precision: Precision) -> Self {
        match precision {
            Precision::Fp32 => Self::EXACT,
            p => Self::fast(p),
        }
    }

    /// E.g. "bf16, channels-last" or "fp32, NCHW (exact)".
    pub fn describe(self) -> String {
        if self == Self::EXACT {
            "fp32, NCHW (exact)".to_string()
        } else {
            format!("{}, {}", self.precision.name(), if self.channels_last { "channels-last" } else { "NCHW" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn randn(shape: &[i64], seed: i64) -> Tensor {
        crate::model::with_seed(seed, || Tensor::randn(shape, (Kind::Float, Device::Cpu)))
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a.to_kind(Kind::Float) - b.to_kind(Kind::Float)).abs().max().double_value(&[])
    }

    #[test]
    fn channels_last_is_a_layout_not_a_value_change() {
        let x = randn(&[2, 5, 7, 9], 0);
        let cl = to_channels_last(&x);
        assert!(is_channels_last(&cl) && !is_channels_last(&x));
        assert_eq!(cl.size(), x.size());
        assert_eq!(cl.stride(), [5 * 7 * 9, 1, 9 * 5, 5]);
        assert_eq!(max_diff(&cl, &x), 0.0);
    }

    /// The kernel against the reference ops (instance_norm, relu, add, reflection_pad2d) on NCHW data, in float32
    /// and bfloat16, with and without ReLU, residual and padding, for channel counts that do and do not divide the
    /// kernel's block.
    #[test]
    fn norm_act_matches_instance_norm_relu_residual_and_reflection_pad() {
        for (c, h, w) in [(8, 6, 10), (3, 5, 4), (67, 4, 9)] {
            let x = randn(&[2, c, h, w], 1) * 3.0 + 5.0;
            for rp in [0i64, 1] {
                let res = randn(&[2, c, h + 2 * rp, w + 2 * rp], 2);
                for (relu, with_res, pad) in [(true, false, 0), (false, true, 1), (true, true, 3), (false, false, 2)] {
                    let mut want = crate::model::layers::instance_norm(&x);
                    if relu {
                        want = want.relu();
                    }
                    if with_res {
                        want += res.narrow(2, rp, h).narrow(3, rp, w);
                    }
                    if pad > 0 {
                        want = want.reflection_pad2d([pad, pad, pad, pad]);
                    }
                    for kind in [Kind::Float, Kind::BFloat16] {
                        let xk = to_channels_last(&x.to_kind(kind));
                        let rk = to_channels_last(&res.to_kind(kind));
                        let r = with_res.then_some((&rk, rp));
                        let got = norm_act(&xk, r, relu, pad);
                        let aten = norm_act_impl(&xk, r, relu, pad, true);
                        assert!(is_channels_last(&got) && got.kind() == kind);
                        assert_eq!(got.size(), want.size());
                        let tol = if kind == Kind::Float { 2e-5 } else { 0.05 };
                        let case = format!("c {c} rp {rp} relu {relu} res {with_res} pad {pad} {kind:?}");
                        assert!(max_diff(&got, &want) < tol, "{case}: {}", max_diff(&got, &want));
                        assert!(max_diff(&aten, &want) < tol, "aten {case}: {}", max_diff(&aten, &want));
                    }
                }
            }
        }
    }

    fn labels(n: i64, h: i64, w: i64, nc: i64, seed: i64) -> OneHot {
        let l = crate::model::with_seed(seed, || Tensor::randint(nc, [n, h, w], (Kind::Int64, Device::Cpu)));
        OneHot { labels: l.to_kind(Kind::Uint8), label_nc: nc }
    }

    #[test]
    fn the_one_hot_convolution_matches_the_dense_convolution() {
        let hot = labels(2, 9, 12, 5, 3);
        let dense = hot.dense(Kind::Float, Device::Cpu);
        assert_eq!(dense.sum_dim_intlist([1i64].as_slice(), false, Kind::Float).min().double_value(&[]), 1.0);
        // A 7x7 convolution of [one-hot : 2 more channels], reflection-padded by 3.
        let rest = randn(&[2, 2, 9, 12], 4);
        let weight = randn(&[6, 7, 7, 7], 5);
        let bias = randn(&[6], 6);
        let full = Tensor::cat(&[dense.contiguous(), rest.shallow_clone()], 1).reflection_pad2d([3, 3, 3, 3]);
        let want = full.conv2d(&weight, Some(&bias), [1, 1], [0, 0], [1, 1], 1);
        for kind in [Kind::Float, Kind::BFloat16] {
            let wk = weight.to_kind(kind);
            let rest_p = to_channels_last(&rest.to_kind(kind).reflection_pad2d([3, 3, 3, 3]));
            let acc = rest_p.conv2d(&wk.narrow(1, 5, 2), Some(&bias.to_kind(kind)), [1, 1], [0, 0], [1, 1], 1);
            let acc = to_channels_last(&acc);
            hot.levels(0).conv_add(0, &acc, &wk, 3);
            // bf16 keeps 8 bits of mantissa: 1% of the largest output.
            let scale = want.abs().max().double_value(&[]);
            let tol = if kind == Kind::Float { 1e-4 } else { 0.01 * scale };
            assert!(max_diff(&acc, &want) < tol, "{kind:?}: {}", max_diff(&acc, &want));
        }
    }

    #[test]
    fn the_one_hot_convolution_matches_on_piecewise_constant_labels() {
        // Blocks of one label, as in a label map: windows wholly inside a block, across an edge, and at the borders.
        let (h, w, nc) = (23i64, 37i64, 5i64);
        let map: Vec<u8> = (0..h * w).map(|i| (((i % w) / 6 + (i / w) / 9 + (i % w) / 31) % nc) as u8).collect();
        let hot = OneHot { labels: Tensor::from_slice(&map).reshape([1, h, w]), label_nc: nc };
        let dense = hot.dense(Kind::Float, Device::Cpu).contiguous();
        for (co, k) in [(6i64, 7i64), (8, 7), (16, 3), (32, 7)] {
            let pad = k / 2;
            let weight = randn(&[co, nc, k, k], co);
            let want = dense.reflection_pad2d([pad; 4]).conv2d::<Tensor>(&weight, None, [1, 1], [0, 0], [1, 1], 1);
            let acc = to_channels_last(&Tensor::zeros_like(&want));
            hot.levels(0).conv_add(0, &acc, &weight, pad);
            assert!(max_diff(&acc, &want) < 1e-4, "{co} outputs, {k}x{k}: {}", max_diff(&acc, &want));
        }
    }

    /// Level l of the label levels is the one-hot map pooled l times by AvgPool2d(3, 2, 1) (the LocalEnhancer's
    /// downsampling); its convolution matches the dense one, on region-like labels (pure pixels and pooled
    /// boundaries) and on noise (every pooled pixel mixed).
    #[test]
    fn pooled_label_levels_convolve_as_the_pooled_one_hot_map() {
        let (h, w, nc) = (45i64, 70i64, 6i64);
        let blocks: Vec<u8> = (0..h * w).map(|i| (((i % w) / 11 + (i / w) / 8) % nc) as u8).collect();
        let blocky = OneHot { labels: Tensor::from_slice(&blocks).reshape([1, h, w]), label_nc: nc };
        for hot in [blocky, labels(2, h, w, nc, 8)] {
            let levels = hot.levels(3);
            let mut dense = hot.dense(Kind::Float, Device::Cpu).contiguous();
            for level in 0..=3usize {
                let (n, lh, lw) = levels.size(level);
                assert_eq!(dense.size(), [n, nc, lh, lw]);
                let weight = randn(&[16, nc, 7, 7], level as i64);
                let want = dense.reflection_pad2d([3; 4]).conv2d::<Tensor>(&weight, None, [1, 1], [0, 0], [1, 1], 1);
                for kind in [Kind::Float, Kind::BFloat16] {
                    let wk = weight.to_kind(kind);
                    let acc = to_channels_last(&Tensor::zeros_like(&want).to_kind(kind));
                    levels.conv_add(level, &acc, &wk, 3);
                    // bf16: the weights and the sum rounded to 8 bits of mantissa, 1% of the largest output.
                    let scale = want.abs().max().double_value(&[]);
                    let tol = if kind == Kind::Float { 1e-4 } else { 0.01 * scale };
                    assert!(max_diff(&acc, &want) < tol, "level {level} {kind:?}: {}", max_diff(&acc, &want));
                }
                dense = crate::model::layers::downsample(&dense);
            }
        }
    }

    #[test]
    #[should_panic(expected = "not below label_nc")]
    fn a_label_out_of_range_is_refused() {
        let mut hot = labels(1, 4, 4, 3, 0);
        hot.label_nc = 2;
        hot.labels = hot.labels.fill(2);
        let _ = hot.levels(1);
    }
}
