//! The reference's training transforms (`data/base_dataset.py`: `get_params`, `get_transform`), applied to a
//! label map, its instance map and its photo with one shared crop position and one shared flip.
//!
//! Labels and instances are resampled NEAREST so that every output value is a value of the input (a blend of two
//! class ids is a third, wrong class); photos are resampled bicubic. The steps run in the reference's order:
//! resize (`resize_and_crop`: loadSize×loadSize; `scale_width*`: width loadSize), crop (the `*crop` modes),
//! rounding to the network's size base (`none` only), then the horizontal flip.

use super::rng::SplitMix64;
use super::sample::Sample;
use crate::model::ModelConfig;
use image::RgbImage;
use image::imageops::{self, FilterType};
use serde::{Deserialize, Serialize};

/// `--resize_or_crop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Width becomes `load_size`, height keeps the aspect ratio (truncated). The reference default.
    ScaleWidth,
    /// `scale_width`, then a random `fine_size`×`fine_size` crop.
    ScaleWidthAndCrop,
    /// Resize to `load_size`×`load_size`, then a random `fine_size`×`fine_size` crop.
    ResizeAndCrop,
    /// A random `fine_size`×`fine_size` crop of the map as it is.
    Crop,
    /// Keep the size, rounded to a multiple of the network's size base (the 1024p training scripts use this).
    None,
}

impl Mode {
    /// Whether the mode cuts a `fine_size` square out of the (resized) map.
    pub fn crops(self) -> bool {
        matches!(self, Mode::ScaleWidthAndCrop | Mode::ResizeAndCrop | Mode::Crop)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformOpts {
    pub resize_or_crop: Mode,
    /// `--loadSize`: the width (or side) maps are scaled to.
    pub load_size: usize,
    /// `--fineSize`: the side of the square crop.
    pub fine_size: usize,
    /// The multiple `none` rounds sizes to: `ModelConfig::size_base()`.
    pub size_base: usize,
    pub no_flip: bool,
    /// Flips only happen in training, as in the reference.
    pub is_train: bool,
}

impl Default for TransformOpts {
    fn default() -> Self {
        Self {
            resize_or_crop: Mode::ScaleWidth,
            load_size: 1024,
            fine_size: 512,
            size_base: 16,
            no_flip: false,
            is_train: true,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TransformError {
    #[error("{what} must be at least 1, got 0")]
    ZeroOption { what: &'static str },
    #[error("transform {mode:?} turns a {width}×{height} map into an empty {new_width}×{new_height} one")]
    Empty { mode: Mode, width: usize, height: usize, new_width: usize, new_height: usize },
}

impl TransformOpts {
    /// The reference defaults with the size base of `cfg`'s generator.
    pub fn for_model(cfg: &ModelConfig) -> Self {
        Self { size_base: cfg.size_base() as usize, ..Self::default() }
    }

    pub fn validate(&self) -> Result<(), TransformError> {
        for (what, v) in [("load_size", self.load_size), ("fine_size", self.fine_size), ("size_base", self.size_base)] {
            if v == 0 {
                return Err(TransformError::ZeroOption { what });
            }
        }
        Ok(())
    }

    /// Whether `params.flip` is used at all.
    pub fn flips(&self) -> bool {
        self.is_train && !self.no_flip
    }
}

/// The random choices for one sample, shared by its label, instance map and photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub crop_x: usize,
    pub crop_y: usize,
    pub flip: bool,
}

/// The reference's `get_params` for a `width`×`height` map: the crop corner is drawn within the size the map has
/// after the resize step (whether or not the mode crops), then a coin for the flip.
pub fn get_params(opts: &TransformOpts, width: usize, height: usize, rng: &mut SplitMix64) -> Params {
    let (new_w, new_h) = match opts.resize_or_crop {
        Mode::ResizeAndCrop => (opts.load_size, opts.load_size),
        Mode::ScaleWidthAndCrop if width > 0 => (opts.load_size, opts.load_size * height / width),
        _ => (width, height),
    };
    let crop_x = rng.up_to(new_w.saturating_sub(opts.fine_size));
    let crop_y = rng.up_to(new_h.saturating_sub(opts.fine_size));
    let flip = rng.next_f64() > 0.5;
    Params { crop_x, crop_y, flip }
}

/// The geometry one sample goes through, worked out once from its size and then applied to each of its maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Resize to (w, h) before cropping.
    pub resize: Option<(usize, usize)>,
    /// A `size`×`size` window at (x, y); parts outside the map read as 0, as PIL's `crop` does.
    pub crop: Option<(usize, usize, usize)>,
    /// Resize to (w, h) after cropping (`none`'s rounding to the size base).
    pub round: Option<(usize, usize)>,
    pub flip: bool,
    /// The final size.
    pub width: usize,
    pub height: usize,
}

/// Python 3 `round(n / d)` for positive integers: halves go to the even neighbour.
fn round_half_even(n: usize, d: usize) -> usize {
    let (q, r) = (n / d, n % d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q % 2),
    }
}

pub fn plan(opts: &TransformOpts, params: &Params, width: usize, height: usize) -> Result<Plan, TransformError> {
    opts.validate()?;
    let (mut w, mut h) = (width, height);
    let resize = match opts.resize_or_crop {
        Mode::ResizeAndCrop if (w, h) != (opts.load_size, opts.load_size) => Some((opts.load_size, opts.load_size)),
        // h = int(load·oh/ow): truncation; nothing happens when the width already is load_size.
        Mode::ScaleWidth | Mode::ScaleWidthAndCrop if w != opts.load_size && w > 0 => {
            Some((opts.load_size, opts.load_size * h / w))
        }
        _ => None,
    };
    if let Some(s) = resize {
        (w, h) = s;
    }
    let fine = opts.fine_size;
    // The reference crops when either side is larger, so a map larger in one side only gets zero-filled in the
    // other; kept as it is, since it is what models trained with it saw.
    let crop = (opts.resize_or_crop.crops() && (w > fine || h > fine)).then_some((params.crop_x, params.crop_y, fine));
    if crop.is_some() {
        (w, h) = (fine, fine);
    }
    let round = if opts.resize_or_crop == Mode::None {
        let base = opts.size_base;
        let r = (round_half_even(w, base) * base, round_half_even(h, base) * base);
        (r != (w, h)).then_some(r)
    } else {
        None
    };
    if let Some(s) = round {
        (w, h) = s;
    }
    if w == 0 || h == 0 {
        return Err(TransformError::Empty { mode: opts.resize_or_crop, width, height, new_width: w, new_height: h });
    }
    Ok(Plan { resize, crop, round, flip: opts.flips() && params.flip, width: w, height: h })
}

/// NEAREST as PIL does it: output pixel x reads input pixel floor((x + 0.5)·in/out).
fn resize_nearest<T: Copy>(src: &[T], w: usize, h: usize, nw: usize, nh: usize) -> Vec<T> {
    let pick = |o: usize, n_in: usize, n_out: usize| (((2 * o + 1) * n_in) / (2 * n_out)).min(n_in - 1);
    let xs: Vec<usize> = (0..nw).map(|x| pick(x, w, nw)).collect();
    let mut out = Vec::with_capacity(nw * nh);
    for y in 0..nh {
        let row = &src[pick(y, h, nh) * w..][..w];
        out.extend(xs.iter().map(|&x| row[x]));
    }
    out
}

/// A `size`×`size` window of a `w`×`h` map of `c` values per pixel, zero outside.
fn crop<T: Copy + Default>(src: &[T], w: usize, h: usize, c: usize, (x0, y0, size): (usize, usize, usize)) -> Vec<T> {
    let mut out = vec![T::default(); size * size * c];
    let cols = w.saturating_sub(x0).min(size);
    for y in 0..size.min(h.saturating_sub(y0)) {
        let from = ((y0 + y) * w + x0) * c;
        out[y * size * c..][..cols * c].copy_from_slice(&src[from..from + cols * c]);
    }
    out
}

fn flip<T: Copy>(v: &mut [T], w: usize, c: usize) {
    for row in v.chunks_exact_mut(w * c) {
        for x in 0..w / 2 {
            for k in 0..c {
                row.swap(x * c + k, (w - 1 - x) * c + k);
            }
        }
    }
}

impl Plan {
    /// Applies the plan to the label map, instance map and photo of a sample.
    pub fn apply(&self, sample: &Sample) -> Sample {
        let (w, h) = (sample.width, sample.height);
        Sample {
            name: sample.name.clone(),
            width: self.width,
            height: self.height,
            label: self.apply_nearest(&sample.label, w, h),
            inst: sample.inst.as_ref().map(|m| self.apply_nearest(m, w, h)),
            image: sample.image.as_ref().map(|m| self.apply_rgb(m, w, h)),
        }
    }

    /// Applies the plan to a one-value-per-pixel map (class or instance ids), NEAREST.
    pub fn apply_nearest<T: Copy + Default>(&self, src: &[T], w: usize, h: usize) -> Vec<T> {
        let (mut v, mut w, mut h) = (src.to_vec(), w, h);
        if let Some((nw, nh)) = self.resize {
            (v, w, h) = (resize_nearest(&v, w, h, nw, nh), nw, nh);
        }
        if let Some(c) = self.crop {
            (v, w, h) = (crop(&v, w, h, 1, c), c.2, c.2);
        }
        if let Some((nw, nh)) = self.round {
            (v, w) = (resize_nearest(&v, w, h, nw, nh), nw);
        }
        if self.flip {
            flip(&mut v, w, 1);
        }
        v
    }

    /// Applies the plan to an RGB photo (3 bytes per pixel), bicubic.
    pub fn apply_rgb(&self, src: &[u8], w: usize, h: usize) -> Vec<u8> {
        let bicubic = |v: Vec<u8>, w: usize, h: usize, nw: usize, nh: usize| {
            let img = RgbImage::from_raw(w as u32, h as u32, v).expect("RGB buffer holds w·h·3 bytes");
            imageops::resize(&img, nw as u32, nh as u32, FilterType::CatmullRom).into_raw()
        };
        let (mut v, mut w, mut h) = (src.to_vec(), w, h);
        if let Some((nw, nh)) = self.resize {
            (v, w, h) = (bicubic(v, w, h, nw, nh), nw, nh);
        }
        if let Some(c) = self.crop {
            (v, w, h) = (crop(&v, w, h, 3, c), c.2, c.2);
        }
        if let Some((nw, nh)) = self.round {
            (v, w) = (bicubic(v, w, h, nw, nh), nw);
        }
        if self.flip {
            flip(&mut v, w, 3);
        }
        v
    }

    /// The frame this plan's crop is cut from (resized and flipped like the crop, not cropped), and where the crop
    /// lies in it: `(x, y)` of its top-left corner. `None` when the plan does not crop, or when its window reaches
    /// past the map's border (that part of the crop is zero fill, which has no counterpart in the whole frame).
    /// `width`×`height` is the size of the map the plan was made for.
    pub fn whole_frame(&self, width: usize, height: usize) -> Option<(Plan, (usize, usize))> {
        let (x, y, size) = self.crop?;
        let (w, h) = self.resize.unwrap_or((width, height));
        if x + size > w || y + size > h {
            return None;
        }
        // The flip comes after the crop: the flipped crop is the window at the mirrored x of the flipped frame.
        let x = if self.flip { w - x - size } else { x };
        let whole = Plan { resize: self.resize, crop: None, round: None, flip: self.flip, width: w, height: h };
        Some((whole, (x, y)))
    }
}

/// The sample as the network sees it: the same plan applied to the label, instance map and photo.
pub fn transform_sample(sample: &Sample, opts: &TransformOpts, params: &Params) -> Result<Sample, TransformError> {
    let p = plan(opts, params, sample.width, sample.height)?;
    Ok(p.apply(sample))
}

/// A whole frame (`Plan::whole_frame`) and the corner (x, y) of its crop in it.
pub type WholeSample = (Sample, (usize, usize));

/// `transform_sample`, and with it the whole frame its crop was cut from and the crop's corner in that frame
/// (`Plan::whole_frame`); `None` for the second when there is no such frame.
pub fn transform_sample_and_whole(
    sample: &Sample,
    opts: &TransformOpts,
    params: &Params,
) -> Result<(Sample, Option<WholeSample>), TransformError> {
    let p = plan(opts, params, sample.width, sample.height)?;
    let Some((wp, (x, y))) = p.whole_frame(sample.width, sample.height) else {
        return Ok((p.apply(sample), None));
    };
    // The crop is the frame's window: cut it out instead of resizing the sample a second time.
    let whole = wp.apply(sample);
    let (w, h, size) = (whole.width, whole.height, p.width);
    let cut = Sample {
        name: whole.name.clone(),
        width: size,
        height: size,
        label: crop(&whole.label, w, h, 1, (x, y, size)),
        inst: whole.inst.as_ref().map(|m| crop(m, w, h, 1, (x, y, size))),
        image: whole.image.as_ref().map(|m| crop(m, w, h, 3, (x, y, size))),
    };
    Ok((cut, Some((whole, (x, y)))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample whose every map says where its pixel came from: label = x, instance = 1000·y + x, photo red = x,
    /// green = y. After any plan, the three must still agree pixel for pixel.
    fn coordinate_sample(w: usize, h: usize) -> Sample {
        let mut label = Vec::new();
        let mut inst = Vec::new();
        let mut image = Vec::new();
        for y in 0..h {
            for x in 0..w {
                label.push(x as u8);
                inst.push((1000 * y + x) as u32);
                image.extend([x as u8, y as u8, 200]);
            }
        }
        Sample { name: "grid".into(), width: w, height: h, label, inst: Some(inst), image: Some(image) }
    }

    fn opts(mode: Mode, load: usize, fine: usize) -> TransformOpts {
        TransformOpts { resize_or_crop: mode, load_size: load, fine_size: fine, ..Default::default() }
    }

    #[test]
    fn crop_and_flip_are_shared_by_label_instances_and_photo() {
        let s = coordinate_sample(20, 12);
        let o = opts(Mode::Crop, 64, 8);
        let params = Params { crop_x: 5, crop_y: 3, flip: true };
        let t = transform_sample(&s, &o, &params).unwrap();
        assert_eq!((t.width, t.height), (8, 8));
        let (inst, image) = (t.inst.unwrap(), t.image.unwrap());
        for y in 0..8 {
            for x in 0..8 {
                let i = y * 8 + x;
                // Flipped: output column x shows source column crop_x + 7 - x.
                let (sx, sy) = (5 + 7 - x, 3 + y);
                assert_eq!(t.label[i] as usize, sx, "label at ({x}, {y})");
                assert_eq!(inst[i] as usize, 1000 * sy + sx, "instance at ({x}, {y})");
                assert_eq!((image[3 * i] as usize, image[3 * i + 1] as usize), (sx, sy), "photo at ({x}, {y})");
            }
        }
    }

    #[test]
    fn the_whole_frame_holds_the_crop_at_its_corner_with_and_without_flip() {
        let s = coordinate_sample(20, 12);
        for (mode, load) in [(Mode::Crop, 64), (Mode::ScaleWidthAndCrop, 30)] {
            for flip in [false, true] {
                let params = Params { crop_x: 5, crop_y: 3, flip };
                let o = opts(mode, load, 8);
                let (cut, whole) = transform_sample_and_whole(&s, &o, &params).unwrap();
                let (whole, (x0, y0)) = whole.expect("a crop inside the map has a whole frame");
                // The crop as transform_sample makes it, without the whole frame: the two paths agree.
                let crop = transform_sample(&s, &o, &params).unwrap();
                assert_eq!((&cut.label, &cut.inst, &cut.image), (&crop.label, &crop.inst, &crop.image));
                assert_eq!((whole.width, whole.height), if load == 30 { (30, 18) } else { (20, 12) });
                let (wi, ci) = (whole.inst.unwrap(), crop.inst.unwrap());
                let (wim, cim) = (whole.image.unwrap(), crop.image.unwrap());
                for y in 0..8 {
                    for x in 0..8 {
                        let (c, w) = (y * 8 + x, (y0 + y) * whole.width + x0 + x);
                        assert_eq!(ci[c], wi[w], "{mode:?} flip {flip}: instance at ({x}, {y})");
                        assert_eq!(crop.label[c], whole.label[w], "{mode:?} flip {flip}: label at ({x}, {y})");
                        assert_eq!(cim[3 * c..3 * c + 3], wim[3 * w..3 * w + 3], "{mode:?} flip {flip}: photo");
                    }
                }
            }
        }
        // No crop, or a window past the border (zero fill): no whole frame.
        let p = Params { crop_x: 0, crop_y: 0, flip: false };
        assert!(transform_sample_and_whole(&s, &opts(Mode::None, 1, 1), &p).unwrap().1.is_none());
        let past = Params { crop_x: 2, crop_y: 0, flip: false };
        let wide = coordinate_sample(12, 4);
        assert!(transform_sample_and_whole(&wide, &opts(Mode::Crop, 1, 6), &past).unwrap().1.is_none());
    }

    #[test]
    fn no_flip_outside_training_or_with_no_flip() {
        let s = coordinate_sample(6, 4);
        let params = Params { crop_x: 0, crop_y: 0, flip: true };
        for o in [
            TransformOpts { is_train: false, ..opts(Mode::None, 6, 6) },
            TransformOpts { no_flip: true, ..opts(Mode::None, 6, 6) },
        ] {
            let o = TransformOpts { size_base: 2, ..o };
            assert_eq!(transform_sample(&s, &o, &params).unwrap().label, s.label);
        }
    }

    #[test]
    fn nearest_resizing_keeps_ids_exact() {
        // Two touching instances of one class at awkward ratios: no id may appear that was not in the input.
        let (w, h) = (7, 5);
        let inst: Vec<u32> = (0..w * h).map(|i| if i % w < 3 { 26000 } else { 26001 }).collect();
        let label: Vec<u8> = (0..w * h).map(|i| if i / w < 2 { 7 } else { 26 }).collect();
        let s = Sample { name: "ids".into(), width: w, height: h, label, inst: Some(inst), image: None };
        for (load, mode) in [(13, Mode::ScaleWidth), (3, Mode::ScaleWidth), (11, Mode::ResizeAndCrop)] {
            let t = transform_sample(&s, &opts(mode, load, 64), &Params { crop_x: 0, crop_y: 0, flip: false }).unwrap();
            assert!(t.label.iter().all(|&c| c == 7 || c == 26), "{mode:?} {load}: {:?}", t.label);
            let inst = t.inst.unwrap();
            assert!(inst.iter().all(|&i| i == 26000 || i == 26001), "{mode:?} {load}: {inst:?}");
            assert!(inst.contains(&26000) && inst.contains(&26001));
        }
    }

    #[test]
    fn nearest_picks_pixel_centres_like_pil() {
        // 4 → 2 reads source pixels 1 and 3 (floor((x + 0.5)·2)); 2 → 4 repeats each pixel twice.
        assert_eq!(resize_nearest(&[10, 11, 12, 13], 4, 1, 2, 1), vec![11, 13]);
        assert_eq!(resize_nearest(&[10, 11], 2, 1, 4, 1), vec![10, 10, 11, 11]);
    }

    #[test]
    fn sizes_per_mode() {
        let p = Params { crop_x: 0, crop_y: 0, flip: false };
        let size = |o: &TransformOpts, w, h| {
            let pl = plan(o, &p, w, h).unwrap();
            (pl.width, pl.height)
        };
        // scale_width: h = int(1024·1000/2000) = 512; 1024·333/1000 = 340.99 truncates to 340.
        assert_eq!(size(&opts(Mode::ScaleWidth, 1024, 512), 2000, 1000), (1024, 512));
        assert_eq!(size(&opts(Mode::ScaleWidth, 1024, 512), 1000, 333), (1024, 340));
        let same = plan(&opts(Mode::ScaleWidth, 1024, 512), &p, 1024, 77).unwrap();
        assert_eq!((same.resize, same.width, same.height), (None, 1024, 77));
        assert_eq!(size(&opts(Mode::ScaleWidthAndCrop, 1024, 512), 2048, 1024), (512, 512));
        assert_eq!(size(&opts(Mode::ResizeAndCrop, 286, 256), 500, 300), (256, 256));
        assert_eq!(size(&opts(Mode::Crop, 1, 512), 2048, 1024), (512, 512));
        // Not larger than the crop in either side: no crop.
        assert_eq!(size(&opts(Mode::Crop, 1, 512), 300, 200), (300, 200));
        // none: round(o/16)·16 with halves to even: 40/16 = 2.5 → 2 → 32, 56/16 = 3.5 → 4 → 64, 1000 → 992.
        let none = TransformOpts { size_base: 16, ..opts(Mode::None, 1, 1) };
        assert_eq!(size(&none, 40, 56), (32, 64));
        assert_eq!(size(&none, 2048, 1000), (2048, 992));
        assert_eq!(plan(&none, &p, 2048, 1024).unwrap().round, None);
        assert!(matches!(plan(&none, &p, 7, 64), Err(TransformError::Empty { new_width: 0, .. })));
    }

    #[test]
    fn crop_past_the_border_fills_zero_like_pil() {
        // 12×4 with a 6×6 crop at x 2: the map is wider than the crop, so the reference crops and pads below.
        let s = coordinate_sample(12, 4);
        let t = transform_sample(&s, &opts(Mode::Crop, 1, 6), &Params { crop_x: 2, crop_y: 0, flip: false }).unwrap();
        assert_eq!((t.width, t.height), (6, 6));
        assert_eq!(&t.label[..6], &[2, 3, 4, 5, 6, 7]);
        assert!(t.label[4 * 6..].iter().all(|&v| v == 0));
        assert!(t.image.unwrap()[3 * 4 * 6..].iter().all(|&v| v == 0));
    }

    #[test]
    fn params_stay_inside_the_resized_map() {
        let o = opts(Mode::ScaleWidthAndCrop, 64, 16);
        let mut rng = SplitMix64::new(1);
        let (mut max_x, mut max_y, mut flips) = (0, 0, 0);
        for _ in 0..500 {
            let p = get_params(&o, 200, 100, &mut rng);
            (max_x, max_y) = (max_x.max(p.crop_x), max_y.max(p.crop_y));
            flips += usize::from(p.flip);
        }
        // 200×100 scales to 64×32: x in 0..=48, y in 0..=16, and both ends are reached.
        assert_eq!((max_x, max_y), (48, 16));
        assert!((150..350).contains(&flips), "{flips} flips in 500");
    }
}
