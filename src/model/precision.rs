//! Numeric precision: the one [`Precision`] every command and the editor use (inference in float32, float16 or
//! bfloat16; training under autocast in float16 or bfloat16), and LibTorch's autocast on any device type.
//!
//! tch 0.24's `tch::autocast` only switches the CUDA autocast on and off at LibTorch's default dtype (float16).
//! Training in bf16 needs the autocast dtype too, so a small C++ shim (`csrc/autocast_shim.cpp`, built by build.rs)
//! exposes `at::autocast::{is,set}_autocast_enabled` and `{get,set}_autocast_dtype` per device type.
//! [`Autocast`] is a scope guard: it saves the device's previous state, and restores it (and clears the autocast
//! cast cache, as LibTorch's own guard does) when dropped.

use serde::{Deserialize, Serialize};
use std::os::raw::c_int;
use tch::Kind;

/// Numeric precision of a network's weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// float32; for training, no autocast (older `train_options.json` files say `none`).
    #[default]
    #[serde(alias = "none")]
    Fp32,
    Fp16,
    Bf16,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::Fp32, Precision::Fp16, Precision::Bf16];

    /// The name on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Precision::Fp32 => Kind::Float,
            Precision::Fp16 => Kind::Half,
            Precision::Bf16 => Kind::BFloat16,
        }
    }

    /// c10::ScalarType values.
    fn scalar_type(self) -> i8 {
        match self {
            Precision::Fp32 => FLOAT,
            Precision::Fp16 => 5,
            Precision::Bf16 => 15,
        }
    }
}

unsafe extern "C" {
    fn p2p_autocast_is_enabled(device_type: i8) -> c_int;
    fn p2p_autocast_set_enabled(device_type: i8, enabled: c_int);
    fn p2p_autocast_get_dtype(device_type: i8) -> i8;
    fn p2p_autocast_set_dtype(device_type: i8, dtype: i8);
}

/// The device types autocast knows (c10::DeviceType values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    Cpu = 0,
    Cuda = 1,
}

impl DeviceType {
    pub fn of(device: tch::Device) -> Self {
        match device {
            tch::Device::Cuda(_) => DeviceType::Cuda,
            _ => DeviceType::Cpu,
        }
    }
}

/// c10::ScalarType::Float.
const FLOAT: i8 = 6;

/// Whether autocast is on for a device type.
pub fn is_enabled(device: DeviceType) -> bool {
    unsafe { p2p_autocast_is_enabled(device as i8) != 0 }
}

/// The dtype autocast casts to on a device type, as a tch kind (None for one this module does not name).
pub fn dtype(device: DeviceType) -> Option<Kind> {
    let st = unsafe { p2p_autocast_get_dtype(device as i8) };
    Precision::ALL.into_iter().find(|p| p.scalar_type() == st).map(Precision::kind)
}

/// Autocast on one device type at one dtype while it lives.
#[must_use = "autocast is on only while the guard lives"]
pub struct Autocast {
    device: DeviceType,
    prev_enabled: bool,
    prev_dtype: i8,
}

impl Autocast {
    pub fn new(device: DeviceType, dtype: Precision) -> Self {
        let d = device as i8;
        // SAFETY: plain calls into LibTorch's autocast state (thread-local flags), no pointers involved.
        unsafe {
            let guard = Autocast {
                device,
                prev_enabled: p2p_autocast_is_enabled(d) != 0,
                prev_dtype: p2p_autocast_get_dtype(d),
            };
            p2p_autocast_set_dtype(d, dtype.scalar_type());
            p2p_autocast_set_enabled(d, 1);
            torch_sys::at_autocast_increment_nesting();
            guard
        }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        let d = self.device as i8;
        unsafe {
            if torch_sys::at_autocast_decrement_nesting() == 0 {
                torch_sys::at_autocast_clear_cache();
            }
            p2p_autocast_set_enabled(d, c_int::from(self.prev_enabled));
            p2p_autocast_set_dtype(d, self.prev_dtype);
        }
    }
}

/// Runs `f` under autocast at `precision` on `device`'s type, or plainly for float32.
pub fn autocast<T>(device: tch::Device, precision: Precision, f: impl FnOnce() -> T) -> T {
    let _guard = (precision != Precision::Fp32).then(|| Autocast::new(DeviceType::of(device), precision));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Tensor};

    /// On the CPU the same mechanism is observable: a convolution under autocast comes out in the reduced dtype,
    /// and everything is as before once the guard is gone.
    #[test]
    fn old_option_files_that_say_none_read_as_fp32() {
        assert_eq!(serde_json::from_str::<Precision>("\"none\"").unwrap(), Precision::Fp32);
        assert_eq!(serde_json::to_string(&Precision::Bf16).unwrap(), "\"bf16\"");
    }

    #[test]
    fn autocast_casts_a_convolution_to_the_chosen_dtype_and_restores_the_state() {
        let (x, w) = crate::model::with_seed(0, || {
            (
                Tensor::randn([1, 3, 8, 8], (Kind::Float, Device::Cpu)),
                Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu)),
            )
        });
        let conv = || x.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        let before_dtype = dtype(DeviceType::Cpu);
        assert!(!is_enabled(DeviceType::Cpu));
        assert_eq!(conv().kind(), Kind::Float);
        for d in [Precision::Bf16, Precision::Fp16] {
            let y = autocast(Device::Cpu, d, || {
                assert!(is_enabled(DeviceType::Cpu));
                assert_eq!(dtype(DeviceType::Cpu), Some(d.kind()));
                conv()
            });
            assert_eq!(y.kind(), d.kind(), "{d:?}");
            assert!(!is_enabled(DeviceType::Cpu));
            assert_eq!(dtype(DeviceType::Cpu), before_dtype);
            assert_eq!(conv().kind(), Kind::Float);
        }
        // The CUDA setting is separate and can be set without a GPU.
        let cuda_before = dtype(DeviceType::Cuda);
        {
            let _g = Autocast::new(DeviceType::Cuda, Precision::Bf16);
            assert_eq!(dtype(DeviceType::Cuda), Some(Kind::BFloat16));
            assert!(!is_enabled(DeviceType::Cpu), "only the CUDA autocast is on");
        }
        assert_eq!(dtype(DeviceType::Cuda), cuda_before);
        assert!(!is_enabled(DeviceType::Cuda));
    }
}
