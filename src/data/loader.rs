//! Batches for training, built on background threads so that a GPU step never waits on PNG decoding.
//!
//! Each epoch starts `n_workers` threads. Worker `w` builds batches `w, w + n, w + 2n, ...` (decode, transform,
//! encode, CPU tensors) and sends them into its own bounded channel; the consumer reads the channels round-robin.
//! So batches come out in order whatever the thread timing, at most about `prefetch` finished batches wait in
//! memory, and a slow batch never lets the others pile up without bound.
//!
//! Determinism: the epoch's order is a permutation drawn from (seed, epoch), and each sample's crop and flip from
//! (seed, epoch, sample index). Neither depends on which thread did the work.

use super::dataset::{DataError, Dataset, Sample};
use super::encode::{Maps, encode_labels};
use super::rng::SplitMix64;
use super::transform::{
    Params, TransformError, TransformOpts, WholeSample, get_params, transform_sample, transform_sample_and_whole,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use tch::{Device, Kind, Tensor};

/// One batch on the CPU; the trainer moves it to its device.
#[derive(Debug)]
pub struct Batch {
    /// G's input without features: [B, label_nc (+1 boundary map), H, W] float32.
    pub input: Tensor,
    /// Class ids [B, 1, H, W] int64.
    pub label: Tensor,
    /// Raw instance ids [B, 1, H, W] int64 (for the encoder's instance pooling); `None` with no_instance.
    pub inst: Option<Tensor>,
    /// Photos [B, 3, H, W] float32 in [-1, 1]; `None` when the set has none.
    pub image: Option<Tensor>,
    /// The samples' names (`Entry::name`), in batch order.
    pub names: Vec<String>,
    /// With `Loader::with_whole_frames`: the whole frames the crops were cut from; `None` when the transform does
    /// not crop or a crop reaches past its map's border.
    pub whole: Option<WholeFrames>,
}

/// The whole frames of a batch of crops (resized and flipped as the crops were, not cropped), for an encoder that
/// must see whole frames.
#[derive(Debug)]
pub struct WholeFrames {
    /// Class ids [B, 1, H, W] int64.
    pub label: Tensor,
    /// Raw instance ids [B, 1, H, W] int64; `None` with no_instance.
    pub inst: Option<Tensor>,
    /// Photos [B, 3, H, W] float32 in [-1, 1].
    pub image: Option<Tensor>,
    /// Where each item's crop lies in its frame: (x, y) of the top-left corner.
    pub corners: Vec<(usize, usize)>,
    /// With `Loader::with_whole_inputs`: G's input for the whole frames, encoded as `Batch::input` is.
    pub input: Option<Tensor>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Shared {
    dataset: Arc<Dataset>,
    opts: TransformOpts,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    n_workers: usize,
    prefetch: usize,
    whole_frames: bool,
    /// `with_whole_inputs`: encode the whole frames too, and round crop corners down to multiples of this.
    whole_inputs: Option<usize>,
}

/// Splits a dataset into batches, one epoch at a time.
#[derive(Debug, Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

impl Loader {
    /// `shuffle`: a new order each epoch (the reference's default; off = its `--serial_batches`). `n_workers`:
    /// loading threads (0 counts as 1). `prefetch`: finished batches that may wait, in total (at least one per
    /// worker).
    pub fn new(
        dataset: Arc<Dataset>,
        opts: TransformOpts,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        n_workers: usize,
        prefetch: usize,
    ) -> Result<Self, DataError> {
        if batch_size == 0 {
            return Err(DataError::InvalidOption("batch size must be at least 1, got 0".into()));
        }
        opts.validate().map_err(|e| DataError::InvalidOption(e.to_string()))?;
        let n_workers = n_workers.max(1);
        let (whole_frames, whole_inputs) = (false, None);
        let shared =
            Shared { dataset, opts, batch_size, shuffle, seed, n_workers, prefetch, whole_frames, whole_inputs };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// Batches also carry the whole frames their crops were cut from (`Batch::whole`).
    #[must_use]
    pub fn with_whole_frames(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.shared).whole_frames = on;
        self
    }

    /// With `Some(align)`: batches carry the whole frames (as `with_whole_frames(true)`) and G's input for them
    /// (`WholeFrames::input`), and every crop's corner is rounded down to a multiple of `align` (0 counts as 1),
    /// so that a crop lines up with the frame's coarser levels (`LocalEnhancer::forward_crops`). `None`: no whole
    /// inputs and corners as drawn (whole frames stay on if they were on).
    #[must_use]
    pub fn with_whole_inputs(mut self, align: Option<usize>) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        shared.whole_inputs = align.map(|a| a.max(1));
        shared.whole_frames |= align.is_some();
        self
    }

    pub fn dataset(&self) -> &Dataset {
        &self.shared.dataset
    }

    /// Batches per epoch. The last one is smaller when the batch size does not divide the set.
    pub fn len(&self) -> usize {
        self.shared.dataset.len().div_ceil(self.shared.batch_size)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dataset indices of `epoch` in the order they are served.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        self.shared.order(epoch)
    }

    /// Sample `index` of the dataset as `epoch` serves it: decoded, checked and transformed.
    pub fn sample(&self, epoch: u64, index: usize) -> Result<Sample, DataError> {
        self.shared.sample(epoch, index)
    }

    /// Batch `b` of `epoch`, built on the calling thread. Panics if `b >= len()`.
    pub fn batch(&self, epoch: u64, b: usize) -> Result<Batch, DataError> {
        self.shared.batch(epoch, &self.order(epoch), b)
    }

    /// The batches of `epoch`, loaded in the background. Dropping the iterator early stops the threads.
    pub fn epoch(&self, epoch: u64) -> Result<Epoch, DataError> {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` from batch `start` on (a resumed run skips what it already did, without decoding it).
    pub fn epoch_from(&self, epoch: u64, start: usize) -> Result<Epoch, DataError> {
        let n_batches = self.len();
        let start = start.min(n_batches);
        let order = Arc::new(self.order(epoch));
        let n_workers = self.shared.n_workers.min(n_batches - start).max(1);
        let capacity = self.shared.prefetch.div_ceil(n_workers).max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let mut receivers = Vec::with_capacity(n_workers);
        let mut handles = Vec::with_capacity(n_workers);
        for w in 0..n_workers {
            let (tx, rx) = sync_channel(capacity);
            let (shared, order, stop) = (self.shared.clone(), order.clone(), stop.clone());
            let handle = std::thread::Builder::new()
                .name(format!("data-loader-{w}"))
                .spawn(move || worker(&shared, epoch, &order, start + w, n_workers, &stop, tx))
                .map_err(|source| DataError::Thread { source })?;
            receivers.push(rx);
            handles.push(handle);
        }
        Ok(Epoch { receivers, handles, stop, next: start, n_batches, start })
    }
}

fn worker(
    shared: &Shared,
    epoch: u64,
    order: &[usize],
    first: usize,
    n_workers: usize,
    stop: &AtomicBool,
    tx: SyncSender<Result<Batch, DataError>>,
) {
    let n_batches = order.len().div_ceil(shared.batch_size);
    for b in (first..n_batches).step_by(n_workers) {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        // A send fails only when the consumer is gone: then there is nobody to build batches for.
        if tx.send(shared.batch(epoch, order, b)).is_err() {
            return;
        }
    }
}

/// Class ids, instance ids (when every sample has them) and photos (likewise) of same-size samples as tensors.
fn map_tensors(samples: &[&Sample], w: usize, h: usize) -> (Tensor, Option<Tensor>, Option<Tensor>) {
    let (bn, wi, hi) = (samples.len() as i64, w as i64, h as i64);
    let labels: Vec<u8> = samples.iter().flat_map(|s| s.label.iter().copied()).collect();
    let label = Tensor::from_slice(&labels).to_kind(Kind::Int64).reshape([bn, 1, hi, wi]);
    let inst = if samples.iter().all(|s| s.inst.is_some()) {
        let ids: Vec<i64> = samples.iter().flat_map(|s| s.inst.iter().flatten().map(|&v| i64::from(v))).collect();
        Some(Tensor::from_slice(&ids).reshape([bn, 1, hi, wi]))
    } else {
        None
    };
    let image = if samples.iter().all(|s| s.image.is_some()) {
        let rgb: Vec<u8> = samples.iter().flat_map(|s| s.image.iter().flatten().copied()).collect();
        // torchvision's ToTensor then Normalize(0.5, 0.5), in its order of operations.
        let t = Tensor::from_slice(&rgb).reshape([bn, hi, wi, 3]).permute([0, 3, 1, 2]).to_kind(Kind::Float);
        Some(((t / 255.0 - 0.5) / 0.5).contiguous())
    } else {
        None
    };
    (label, inst, image)
}

/// The whole frames of a batch, when every item has one and they all have one size.
fn whole_frames(wholes: &[Option<WholeSample>]) -> Option<WholeFrames> {
    let wholes: Vec<&WholeSample> = wholes.iter().map(Option::as_ref).collect::<Option<_>>()?;
    let (w, h) = (wholes.first()?.0.width, wholes.first()?.0.height);
    if wholes.iter().any(|(s, _)| (s.width, s.height) != (w, h)) {
        return None;
    }
    let samples: Vec<&Sample> = wholes.iter().map(|(s, _)| s).collect();
    let (label, inst, image) = map_tensors(&samples, w, h);
    Some(WholeFrames { label, inst, image, corners: wholes.iter().map(|(_, c)| *c).collect(), input: None })
}

impl Shared {
    fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.shuffle {
            SplitMix64::derive(&[self.seed, epoch]).shuffle(&mut order);
        }
        order
    }

    fn sample(&self, epoch: u64, index: usize) -> Result<Sample, DataError> {
        let (raw, params) = self.raw(epoch, index)?;
        transform_sample(&raw, &self.opts, &params).map_err(|source| self.transform_error(index, source))
    }

    fn raw(&self, epoch: u64, index: usize) -> Result<(Sample, Params), DataError> {
        let raw = self.dataset.load(index)?;
        let mut rng = SplitMix64::derive(&[self.seed, epoch, index as u64]);
        let mut params = get_params(&self.opts, raw.width, raw.height, &mut rng);
        if let Some(a) = self.whole_inputs {
            params.crop_x -= params.crop_x % a;
            params.crop_y -= params.crop_y % a;
        }
        Ok((raw, params))
    }

    fn transform_error(&self, index: usize, source: TransformError) -> DataError {
        DataError::Transform { file: self.dataset.entries()[index].label.clone(), source }
    }

    /// The sample, and with `whole_frames` the whole frame its crop was cut from.
    fn sample_and_whole(&self, epoch: u64, index: usize) -> Result<(Sample, Option<WholeSample>), DataError> {
        if !self.whole_frames {
            return Ok((self.sample(epoch, index)?, None));
        }
        let (raw, params) = self.raw(epoch, index)?;
        transform_sample_and_whole(&raw, &self.opts, &params).map_err(|source| self.transform_error(index, source))
    }

    fn batch(&self, epoch: u64, order: &[usize], b: usize) -> Result<Batch, DataError> {
        let indices = &order[b * self.batch_size..((b + 1) * self.batch_size).min(order.len())];
        let (samples, wholes): (Vec<Sample>, Vec<Option<WholeSample>>) = indices
            .iter()
            .map(|&i| self.sample_and_whole(epoch, i))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let entries = self.dataset.entries();
        let first = &samples[0];
        let (w, h) = (first.width, first.height);
        for (s, &i) in samples.iter().zip(indices).skip(1) {
            if (s.width, s.height) != (w, h) {
                return Err(DataError::BatchSizes {
                    first: entries[indices[0]].label.clone(),
                    first_size: (w, h),
                    other: entries[i].label.clone(),
                    other_size: (s.width, s.height),
                });
            }
        }
        let opts = self.dataset.opts();
        let maps: Vec<Maps<'_>> =
            samples.iter().map(|s| Maps { width: w, height: h, label: &s.label, inst: s.inst.as_deref() }).collect();
        let input = encode_labels(&maps, opts.label_nc, opts.no_instance, Device::Cpu)
            .map_err(|source| DataError::Encode { file: entries[indices[0]].label.clone(), source })?;
        let (label, inst, image) = map_tensors(&samples.iter().collect::<Vec<_>>(), w, h);
        let mut whole = whole_frames(&wholes);
        if let (Some(wf), Some(_)) = (whole.as_mut(), self.whole_inputs) {
            let maps: Vec<Maps<'_>> = wholes
                .iter()
                .flatten()
                .map(|(s, _)| Maps { width: s.width, height: s.height, label: &s.label, inst: s.inst.as_deref() })
                .collect();
            let input = encode_labels(&maps, opts.label_nc, opts.no_instance, Device::Cpu)
                .map_err(|source| DataError::Encode { file: entries[indices[0]].label.clone(), source })?;
            wf.input = Some(input);
        }
        let names = samples.into_iter().map(|s| s.name).collect();
        Ok(Batch { input, label, inst, image, names, whole })
    }
}

/// One epoch's batches, in order. Each item is one batch or the error that stopped it; later batches still come.
pub struct Epoch {
    receivers: Vec<Receiver<Result<Batch, DataError>>>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next: usize,
    n_batches: usize,
    /// The first batch served; worker `w` builds batches `start + w`, `start + w + n`, ...
    start: usize,
}

impl Iterator for Epoch {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.n_batches {
            return None;
        }
        let b = self.next;
        self.next += 1;
        match self.receivers[(b - self.start) % self.receivers.len()].recv() {
            Ok(r) => Some(r),
            Err(_) => {
                // The worker hung up without sending this batch: it panicked. Its later batches will not come.
                self.next = self.n_batches;
                Some(Err(DataError::WorkerStopped { batch: b }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.n_batches - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Epoch {}

impl Drop for Epoch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers wakes workers blocked on a full channel; their send fails and they return.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
