//! The reference ImagePool: a history of generated D inputs, so that D sometimes sees older fakes
//! (Shrivastava et al. 2017). With `pool_size` 0, the default, it passes images through.
//!
//! Its random choices are a pure function of (seed, step, image index), so a resumed run makes the same choices
//! as an uninterrupted one; the stored images are saved with the checkpoint.

use crate::data::rng::SplitMix64;
use tch::Tensor;

/// A uniform number in [0, 1) determined by the inputs alone.
pub fn unit(seed: u64, a: u64, b: u64) -> f64 {
    SplitMix64::derive(&[seed, a, b]).next_f64()
}

pub struct ImagePool {
    size: usize,
    seed: u64,
    images: Vec<Tensor>,
}

impl ImagePool {
    pub fn new(size: usize, seed: u64) -> Self {
        Self { size, seed, images: Vec::new() }
    }

    /// The batch D should see for step `step`: each image is stored while the pool fills; afterwards, with
    /// probability 0.5 it replaces a random stored image and the stored one is returned instead.
    pub fn query(&mut self, batch: &Tensor, step: u64) -> Tensor {
        if self.size == 0 {
            return batch.shallow_clone();
        }
        let n = batch.size()[0];
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let img = batch.get(i).detach().unsqueeze(0);
            if self.images.len() < self.size {
                self.images.push(img.copy());
                out.push(img);
            } else if unit(self.seed, step, 2 * i as u64) > 0.5 {
                let j = (unit(self.seed, step, 2 * i as u64 + 1) * self.size as f64) as usize % self.size;
                let old = std::mem::replace(&mut self.images[j], img.copy());
                out.push(old);
            } else {
                out.push(img);
            }
        }
        Tensor::cat(&out, 0)
    }

    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.images.iter().enumerate().map(|(i, t)| (format!("pool.{i}"), t.shallow_clone())).collect()
    }

    pub fn load_state(&mut self, tensors: &std::collections::HashMap<String, Tensor>) {
        self.images = (0..).map_while(|i| tensors.get(&format!("pool.{i}")).map(|t| t.copy())).collect();
        self.images.truncate(self.size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn zero_size_passes_through_and_full_pool_mixes() {
        let x = crate::model::with_seed(0, || Tensor::randn([2, 3, 4, 4], (Kind::Float, Device::Cpu)));
        assert_eq!(ImagePool::new(0, 1).query(&x, 0), x);
        let mut pool = ImagePool::new(2, 7);
        let first = pool.query(&x, 0);
        assert_eq!(first, x, "while filling, images pass through");
        let mut swapped = 0;
        for step in 1..50 {
            let y = Tensor::full([2, 3, 4, 4], step as f64, (Kind::Float, Device::Cpu));
            let out = pool.query(&y, step);
            swapped += (out != y) as i32;
        }
        assert!(swapped > 10 && swapped < 49, "about half the queries return old images ({swapped})");
    }

    #[test]
    fn choices_depend_only_on_seed_and_step() {
        assert_eq!(unit(3, 10, 1), unit(3, 10, 1));
        assert_ne!(unit(3, 10, 1), unit(3, 11, 1));
        let mean: f64 = (0..1000).map(|i| unit(5, i, 0)).sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05);
    }
}
