//! A small seeded random number generator for the data pipeline (crop positions, flips, epoch order).
//!
//! SplitMix64 rather than a `rand` generator: its output is fixed by its definition, so a seed written into a run's
//! config draws the same crops and the same order in every future build, and a stream can be derived from a tuple
//! (seed, epoch, sample) so that worker threads never share one generator and thread timing cannot change a draw.

/// SplitMix64 (Steele, Lea and Flood, 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one element of a tuple of keys, e.g. `[seed, epoch, index]`; different tuples give unrelated
    /// streams, including tuples that differ only in the order of their keys.
    pub fn derive(keys: &[u64]) -> Self {
        let state = keys.iter().fold(GOLDEN, |s, &k| mix(s.wrapping_add(GOLDEN) ^ k));
        Self { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `0..=hi` (like Python's `random.randint(0, hi)`).
    pub fn up_to(&mut self, hi: usize) -> usize {
        // Multiply-shift instead of `%`: no bias worth speaking of for the small ranges used here, and no division.
        ((u128::from(self.next_u64()) * (hi as u128 + 1)) >> 64) as usize
    }

    /// Uniform in [0, 1) with 53 random bits (like Python's `random.random()`).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.up_to(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_keys_same_stream_and_key_order_matters() {
        let a: Vec<u64> = (0..4).map(|_| SplitMix64::derive(&[1, 2, 3]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(SplitMix64::derive(&[1, 2, 3]).next_u64(), SplitMix64::derive(&[1, 3, 2]).next_u64());
        assert_ne!(SplitMix64::derive(&[0, 1]).next_u64(), SplitMix64::derive(&[1, 0]).next_u64());
    }

    #[test]
    fn up_to_covers_its_range_inclusively() {
        let mut r = SplitMix64::new(7);
        let mut seen = [0usize; 4];
        for _ in 0..4000 {
            seen[r.up_to(3)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert_eq!(r.up_to(0), 0);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..50).collect();
        SplitMix64::new(3).shuffle(&mut v);
        assert_ne!(v, (0..50).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
    }
}
