//! Adam, as PyTorch computes it (betas, eps 1e-8, no weight decay), with state that can be saved and restored.
//!
//! LibTorch's C++ optimizer behind `tch::COptimizer` cannot hand out its moment estimates, so a resumed run
//! would restart Adam from zero and drift from an uninterrupted one. Keeping m, v and the step count here makes
//! `--continue-train` exact. The update itself is LibTorch's fused Adam kernel (`torch.optim.Adam(fused=True)`),
//! reached through `csrc/fused_adam.cpp`: one pass over each parameter and its moments.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use tch::{Kind, Tensor};
use torch_sys::C_tensor;

unsafe extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn p2p_fused_adam(
        params: *const *mut C_tensor,
        grads: *const *mut C_tensor,
        exp_avgs: *const *mut C_tensor,
        exp_avg_sqs: *const *mut C_tensor,
        steps: *const *mut C_tensor,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
    ) -> *mut c_char;
    fn free(p: *mut c_void);
}

pub struct Adam {
    pub lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    step: i64,
    /// (name, parameter, first moment, second moment)
    params: Vec<(String, Tensor, Tensor, Tensor)>,
}

impl Adam {
    /// Adam over the named parameters, all in one group at `lr`.
    pub fn new(params: Vec<(String, Tensor)>, lr: f64, beta1: f64) -> Self {
        let params = params
            .into_iter()
            .map(|(n, p)| {
                let m = p.zeros_like().to_kind(Kind::Float);
                let v = p.zeros_like().to_kind(Kind::Float);
                (n, p, m, v)
            })
            .collect();
        Self { lr, beta1, beta2: 0.999, eps: 1e-8, step: 0, params }
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    pub fn zero_grad(&mut self) {
        for (_, p, _, _) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Multiplies every gradient by `factor` (undoing a loss scale) and says whether all of them are finite.
    pub fn unscale_grads(&mut self, factor: f64) -> bool {
        tch::no_grad(|| {
            let mut finite = true;
            for (_, p, _, _) in &mut self.params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.g_mul_scalar_(factor);
                    finite &= g.isfinite().all().int64_value(&[]) == 1;
                }
            }
            finite
        })
    }

    /// One update of every parameter that received a gradient: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
    /// p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps), as PyTorch computes it.
    pub fn step(&mut self) {
        self.step += 1;
        let grads: Vec<Tensor> = self.params.iter().map(|(_, p, _, _)| p.grad()).collect();
        let live: Vec<usize> = (0..grads.len()).filter(|&i| grads[i].defined()).collect();
        if live.is_empty() {
            return;
        }
        // The kernel works per device (in practice there is one); the step count is a float tensor there, read only.
        let mut by_device: Vec<(tch::Device, Vec<usize>)> = Vec::new();
        for &i in &live {
            let d = self.params[i].1.device();
            match by_device.iter_mut().find(|(dev, _)| *dev == d) {
                Some((_, idx)) => idx.push(i),
                None => by_device.push((d, vec![i])),
            }
        }
        tch::no_grad(|| {
            for (device, idx) in &by_device {
                let step = Tensor::from(self.step as f32).to_device(*device);
                let grads: Vec<Tensor> = idx.iter().map(|&i| grads[i].to_kind(self.params[i].2.kind())).collect();
                let raw = |t: &Tensor| t.as_ptr() as *mut C_tensor;
                let (mut p, mut m, mut v) = (Vec::new(), Vec::new(), Vec::new());
                for &i in idx {
                    p.push(raw(&self.params[i].1));
                    m.push(raw(&self.params[i].2));
                    v.push(raw(&self.params[i].3));
                }
                let g: Vec<*mut C_tensor> = grads.iter().map(raw).collect();
                let s: Vec<*mut C_tensor> = vec![raw(&step); idx.len()];
                // SAFETY: every pointer is a live tch tensor (borrowed from self.params, grads and step, which
                // outlive the call); the kernel updates their data in place and keeps no reference.
                let err = unsafe {
                    p2p_fused_adam(
                        p.as_ptr(),
                        g.as_ptr(),
                        m.as_ptr(),
                        v.as_ptr(),
                        s.as_ptr(),
                        idx.len(),
                        self.lr,
                        self.beta1,
                        self.beta2,
                        self.eps,
                    )
                };
                if !err.is_null() {
                    // SAFETY: a NUL-terminated string from strdup, freed once here.
                    let msg = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
                    unsafe { free(err as *mut c_void) };
                    panic!("fused Adam step failed: {msg}");
                }
            }
        });
    }

    /// The optimiser's state as named tensors (`<prefix>m.<param>`, `<prefix>v.<param>`, `<prefix>step`).
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = vec![(format!("{prefix}step"), Tensor::from(self.step))];
        for (n, _, m, v) in &self.params {
            out.push((format!("{prefix}m.{n}"), m.shallow_clone()));
            out.push((format!("{prefix}v.{n}"), v.shallow_clone()));
        }
        out
    }

    /// Restores what `state` saved; every parameter must be present with its shape.
    pub fn load_state(&mut self, prefix: &str, tensors: &HashMap<String, Tensor>) -> Result<(), String> {
        let get = |k: String| tensors.get(&k).ok_or_else(|| format!("optimizer state has no {k}"));
        self.step = get(format!("{prefix}step"))?.int64_value(&[]);
        tch::no_grad(|| -> Result<(), String> {
            for (n, _, m, v) in &mut self.params {
                for (dst, key) in [(m, format!("{prefix}m.{n}")), (v, format!("{prefix}v.{n}"))] {
                    let src = get(key.clone())?;
                    if src.size() != dst.size() {
                        return Err(format!("{key} has shape {:?}, expected {:?}", src.size(), dst.size()));
                    }
                    dst.copy_(&src.to_device(dst.device()));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn matches_pytorch_adam() {
        // Values from torch.optim.Adam([p], lr=0.01, betas=(0.5, 0.999)) minimising sum(p³) for 5 steps (PyTorch
        // 2.11, float32), a case where m/√v is far from ±1 so that every term of the update matters.
        let p = Tensor::from_slice(&[0.3f32, -0.7, 2.0]).set_requires_grad(true);
        let mut opt = Adam::new(vec![("p".into(), p.shallow_clone())], 0.01, 0.5);
        for _ in 0..5 {
            opt.zero_grad();
            (&p * &p * &p).sum(Kind::Float).backward();
            opt.step();
        }
        let got: Vec<f32> = Vec::try_from(&p.detach()).unwrap();
        let want = [0.251_819_9_f32, -0.750_693_3, 1.950_255_2];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn state_round_trip_continues_identically() {
        let run = |split: bool| {
            let p = Tensor::from_slice(&[0.5f32, 1.5, -1.0]).set_requires_grad(true);
            let mut opt = Adam::new(vec![("w".into(), p.shallow_clone())], 0.05, 0.5);
            for i in 0..6 {
                if split && i == 3 {
                    let state: HashMap<String, Tensor> =
                        opt.state("G.").into_iter().map(|(k, t)| (k, t.copy())).collect();
                    opt = Adam::new(vec![("w".into(), p.shallow_clone())], 0.05, 0.5);
                    opt.load_state("G.", &state).unwrap();
                }
                opt.zero_grad();
                (&p * &p * &p).sum(Kind::Float).backward();
                opt.step();
            }
            p.detach().to_device(Device::Cpu)
        };
        assert_eq!(run(false), run(true));
    }
}
