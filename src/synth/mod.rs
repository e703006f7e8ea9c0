//! `pix2pixhd synth`: procedural street scenes with known ground truth.
//!
//! Real Cityscapes cannot be shipped or downloaded here, so the project draws its own labelled street scenes: to train
//! the bundled model, to test the pipeline end to end, and to measure style control against a known truth. A scene is
//! a pinhole view down a street (sky, buildings with window grids, road with markings, sidewalks, vegetation, terrain,
//! poles, traffic signs, cars, persons) with Cityscapes label ids, an instance map (`class * 1000 + k`), an RGB
//! "photo", and a JSON sidecar that names the appearance mode every instance and every stuff class was drawn with.
//!
//! Appearance is multi-modal on purpose (car paint from [`CAR_MODES`], asphalt or cobblestone, facade families, clear
//! or overcast sky), so one label map has several right answers and the feature encoder has something to learn.
//! Stuff classes get one mode per scene: pix2pixHD pools features over a whole stuff class (its instance map holds
//! the plain class id there), so two facade families in one scene would blur into one feature.
//!
//! Geometry is sampled in metres and projected through a camera whose focal length scales with the image height, so a
//! seed gives the same street at any resolution. A scene's random choices come only from (seed, scene index), which
//! keeps output identical whatever the number of threads.

mod layout;
mod modes;
mod objects;
mod raster;
mod write;

pub use modes::{
    BUILDING_MODES, CAR_MODES, Mode, PERSON_MODES, POLE_MODES, ROAD_MODES, SIDEWALK_MODES, SIGN_MODES, SKY_MODES,
    TERRAIN_MODES, VEGETATION_MODES, modes, nearest_mode,
};
pub use write::{DatasetSummary, WriteOptions, read_sidecar, write_dataset};

use crate::labels;
use image::{GrayImage, ImageBuffer, Luma, RgbImage};
use layout::*;
use objects::*;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use raster::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------------------------------
// Public data types
// ---------------------------------------------------------------------------------------------------------------------

/// What every scene of a data set shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthConfig {
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    /// 0: the data set's own textures. Any other value re-draws, from another stream, what no label map shows: the
    /// fine texture of every scene (sensor noise, clouds, asphalt grain, setts, slabs, bricks, grass, wall stains,
    /// which windows are dark or lit, leaves) and the details drawn inside a region (window grids and shop fronts,
    /// lane dashes, zebra crossings). It keeps everything else: layout, label and instance maps, every region's mode
    /// and colour, the lighting. The same streets drawn again: what no label map can predict.
    pub texture_seed: u64,
}

impl Default for SynthConfig {
    /// Cityscapes' own resolution.
    fn default() -> Self {
        SynthConfig { width: 2048, height: 1024, seed: 0, texture_seed: 0 }
    }
}

/// Sizes outside this range are refused: below it nothing recognisable fits, above it 16-bit PNG sizes and memory
/// (about 20 bytes a pixel while drawing) become a problem.
pub const MIN_SIDE: u32 = 16;
pub const MAX_SIDE: u32 = 16384;

/// Scene indices of the test split start here, so test scenes never repeat a training scene and do not change when
/// `--train` does.
pub const TEST_INDEX_BASE: u64 = 1 << 32;

/// The sidecar entry of one stuff class present in the scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StuffMeta {
    pub class: u8,
    pub name: String,
    /// Mode name from the class's table (see [`modes`]).
    pub mode: String,
    pub mode_index: usize,
    pub pixels: u64,
}

/// The sidecar entry of one visible object instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceMeta {
    /// The value in the instance map: `class * 1000 + k`.
    pub id: u32,
    pub class: u8,
    pub name: String,
    pub mode: String,
    pub mode_index: usize,
    /// The colour actually drawn for this instance (car paint, shirt): the mode's colour with a small jitter.
    pub color: [u8; 3],
    /// Pixel bounding box of the visible part, `[x0, y0, x1, y1]`, end-exclusive.
    pub bbox: [u32; 4],
    pub pixels: u64,
    /// Distance from the camera in metres (the nearest face), for ordering and size checks.
    pub depth_m: f32,
}

/// The JSON sidecar of a scene: which appearance mode each region was drawn with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneMeta {
    pub index: u64,
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// One entry per stuff class present, in class order.
    pub stuff: Vec<StuffMeta>,
    /// One entry per instance present, in id order.
    pub instances: Vec<InstanceMeta>,
    /// [`SynthConfig::texture_seed`]; absent (0) in data sets drawn with their own textures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub texture_seed: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One generated scene; all maps are row-major, `width * height` pixels.
#[derive(Debug, Clone)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    /// Cityscapes label ids.
    pub label: Vec<u8>,
    /// `class * 1000 + k` on instance classes, the plain class id elsewhere.
    pub inst: Vec<u32>,
    /// RGB, 3 bytes a pixel.
    pub rgb: Vec<u8>,
    pub meta: SceneMeta,
}

impl Scene {
    pub fn label_image(&self) -> GrayImage {
        GrayImage::from_raw(self.width, self.height, self.label.clone()).expect("label has width*height pixels")
    }

    /// The instance map as Cityscapes stores it (16-bit; ids stay below 34 000).
    pub fn inst_image(&self) -> ImageBuffer<Luma<u16>, Vec<u16>> {
        let data = self.inst.iter().map(|&v| v as u16).collect();
        ImageBuffer::from_raw(self.width, self.height, data).expect("inst has width*height pixels")
    }

    pub fn rgb_image(&self) -> RgbImage {
        RgbImage::from_raw(self.width, self.height, self.rgb.clone()).expect("rgb has width*height*3 bytes")
    }

    /// The label map in the Cityscapes display colours, for looking at.
    pub fn label_color_image(&self) -> RgbImage {
        let data = self.label.iter().flat_map(|&c| labels::color(c)).collect();
        RgbImage::from_raw(self.width, self.height, data).expect("label has width*height pixels")
    }
}

/// Errors from generating or writing a data set.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("image size {width}x{height} is not supported: each side must be {MIN_SIDE}..={MAX_SIDE} pixels")]
    BadSize { width: u32, height: u32 },
    #[error(
        "{} already holds files of another data set (or of a run whose arguments were not recorded); refusing to \
         mix data sets (pass --force to replace its scenes; a run stopped part-way goes on when run again with the \
         same arguments)", dir.display()
    )]
    NotEmpty { dir: PathBuf },
    #[error("{train} + {test} scenes is more than this program can count")]
    TooMany { train: usize, test: usize },
    #[error(
        "{n} scenes of {width}×{height} need about {} on disk (about {} each); {} has {} free",
        crate::fs::gb(*need), crate::fs::gb(*each), dir.display(), crate::fs::gb(*free)
    )]
    NoSpace { n: u128, width: u32, height: u32, need: u64, each: u64, dir: PathBuf, free: u64 },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error("cannot encode {}: {source}", path.display())]
    Encode { path: PathBuf, source: image::ImageError },
    #[error("cannot serialise the sidecar {}: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
}

impl SynthConfig {
    pub fn validate(&self) -> Result<(), SynthError> {
        let ok = |s: u32| (MIN_SIDE..=MAX_SIDE).contains(&s);
        if ok(self.width) && ok(self.height) {
            Ok(())
        } else {
            Err(SynthError::BadSize { width: self.width, height: self.height })
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Scene generation
// ---------------------------------------------------------------------------------------------------------------------

/// Draws scene `index` of the data set `cfg` describes. Pure: the same (cfg, index) always gives the same scene.
///
/// Panics if the size is outside [`MIN_SIDE`]..=[`MAX_SIDE`] (check with [`SynthConfig::validate`]).
pub fn generate_scene(cfg: &SynthConfig, index: u64) -> Scene {
    assert!(cfg.validate().is_ok(), "scene size {}x{} out of range", cfg.width, cfg.height);
    let (w, h) = (cfg.width as usize, cfg.height as usize);
    let mut rng = Pcg64::seed_from_u64(scene_seed(cfg.seed, index));
    let mut lay = sample_layout(&mut rng, w, h);
    // Drawn after the layout, from its own stream, so that it changes no other random draw.
    lay.look.tex = if cfg.texture_seed == 0 { 0 } else { (scene_seed(cfg.texture_seed, index) >> 32) as u32 | 1 };
    if lay.look.tex != 0 {
        redraw_unseen_details(&mut lay);
    }

    let mut cv = Canvas::new(w, h);
    draw_sky(&mut cv, &lay);
    draw_ground(&mut cv, &lay);
    for (face, style) in &lay.closure {
        draw_face(&mut cv, &lay, face, style, lay.look.light_front);
    }
    for item in &lay.background {
        match item {
            Bg::Block(b) => draw_block(&mut cv, &lay, b),
            Bg::Tree(t) => draw_tree(&mut cv, &lay, t),
        }
    }
    for hedge in &lay.hedges {
        draw_hedge(&mut cv, &lay, hedge);
    }
    for obj in &lay.objects {
        match obj {
            Obj::Car(c) => draw_car(&mut cv, &lay, c),
            Obj::Person(p) => draw_person(&mut cv, &lay, p),
            Obj::Pole(p) => draw_pole(&mut cv, &lay, p),
            Obj::Tree(t) => draw_tree(&mut cv, &lay, t),
        }
    }
    finish(cv, &lay, cfg, index)
}

/// Re-draws, from the texture stream, the details that no label map shows: every facade's window grid (floor height,
/// bay width, window size, sill, shop front) and the lane dashes and zebra crossing painted on the road. Same ranges
/// as [`sample_layout`]; nothing here moves a region's outline.
fn redraw_unseen_details(lay: &mut Layout) {
    let tex = lay.look.tex;
    let r = |salt: u32, k: u32, (lo, hi): (f32, f32)| lo + (hi - lo) * h01(salt, k, tex);
    let odds = |salt: u32, k: u32, p: f64| f64::from(h01(salt, k, tex)) < p;
    let grid = |st: &mut Facade| {
        let s = st.salt;
        st.floor_h = r(s, 1, FLOOR_H);
        st.bay = r(s, 2, BAY);
        st.win_h = st.floor_h * r(s, 3, WIN_H);
        st.ground_h = r(s, 4, GROUND_H);
        st.win_w = st.bay * r(s, 5, WIN_W);
        st.sill = (st.floor_h - st.win_h) * r(s, 6, SILL);
        st.shop = odds(s, 7, SHOP_ODDS);
    };
    for (_, st) in &mut lay.closure {
        grid(st);
    }
    for item in &mut lay.background {
        if let Bg::Block(b) = item {
            grid(&mut b.style);
        }
    }
    let (s, st) = (lay.look.salt, &mut lay.street);
    st.dash_len = r(s, 11, DASH_LEN);
    st.dash_period = st.dash_len + r(s, 12, DASH_GAP);
    st.dash_phase = r(s, 13, (0.0, st.dash_period));
    st.crosswalk = odds(s, 14, CROSSWALK_ODDS).then(|| r(s, 15, CROSSWALK_Z));
}

/// Mixes (seed, index) into one RNG seed; SplitMix64 so that neighbouring indices give unrelated streams.
fn scene_seed(seed: u64, index: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    splitmix(splitmix(seed) ^ index)
}

/// Renumbers visible instances to `class * 1000 + 0, 1, ...`, counts regions, adds per-pixel sensor noise and builds
/// the sidecar. Objects hidden behind nearer ones or outside the frame get no id and no sidecar entry.
fn finish(cv: Canvas, lay: &Layout, cfg: &SynthConfig, index: u64) -> Scene {
    let (w, h) = (cv.w, cv.h);
    let mut stuff_px = [0u64; 256];
    // Temporary id -> (pixels, bbox).
    let mut seen: BTreeMap<u32, (u64, [u32; 4])> = BTreeMap::new();
    for j in 0..h {
        for i in 0..w {
            let k = j * w + i;
            let v = cv.inst[k];
            if labels::is_object(v) {
                let e = seen.entry(v).or_insert((0, [u32::MAX, u32::MAX, 0, 0]));
                e.0 += 1;
                let b = &mut e.1;
                b[0] = b[0].min(i as u32);
                b[1] = b[1].min(j as u32);
                b[2] = b[2].max(i as u32 + 1);
                b[3] = b[3].max(j as u32 + 1);
            } else {
                stuff_px[cv.label[k] as usize] += 1;
            }
        }
    }
    let mut remap: BTreeMap<u32, u32> = BTreeMap::new();
    let mut next_k: BTreeMap<u32, u32> = BTreeMap::new();
    for &v in seen.keys() {
        let class = labels::class_of_instance(v);
        let k = next_k.entry(class).or_insert(0);
        remap.insert(v, labels::object_id(class as u8, *k));
        *k += 1;
    }
    let inst: Vec<u32> = cv.inst.iter().map(|&v| if labels::is_object(v) { remap[&v] } else { v }).collect();

    let mut instances = Vec::new();
    for (&tmp, &(pixels, bbox)) in &seen {
        let o = &lay.instances[&tmp];
        let table = modes(o.class);
        instances.push(InstanceMeta {
            id: remap[&tmp],
            class: o.class,
            name: labels::label(o.class).map_or("?", |l| l.name).to_string(),
            mode: table[o.mode].name.to_string(),
            mode_index: o.mode,
            color: o.color.map(|c| c.round().clamp(0.0, 255.0) as u8),
            bbox,
            pixels,
            depth_m: o.depth,
        });
    }
    let mut stuff = Vec::new();
    for (class, &pixels) in stuff_px.iter().enumerate() {
        if pixels == 0 {
            continue;
        }
        let class = class as u8;
        let mode = lay.look.stuff_mode(class);
        stuff.push(StuffMeta {
            class,
            name: labels::label(class).map_or("?", |l| l.name).to_string(),
            mode: modes(class).get(mode).map_or("none", |mo| mo.name).to_string(),
            mode_index: mode,
            pixels,
        });
    }

    // Sensor noise: a shared luminance part and a smaller per-channel part, zero-mean so region means keep their
    // nominal colours.
    let salt = lay.look.salt ^ 0x5EED ^ lay.look.tex;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for j in 0..h {
        for i in 0..w {
            let c = cv.rgb[j * w + i];
            let (iu, ju) = (i as u32, j as u32);
            let lum = (h01(iu, ju, salt) + h01(iu, ju, salt ^ 1) - 1.0) * 7.0;
            for (ch, v) in c.iter().enumerate() {
                let n = (h01(iu, ju, salt.wrapping_add(2 + ch as u32)) - 0.5) * 4.0;
                rgb.push((v + lum + n).round().clamp(0.0, 255.0) as u8);
            }
        }
    }

    Scene {
        width: cfg.width,
        height: cfg.height,
        label: cv.label,
        inst,
        rgb,
        meta: SceneMeta {
            index,
            seed: cfg.seed,
            width: cfg.width,
            height: cfg.height,
            stuff,
            instances,
            texture_seed: cfg.texture_seed,
        },
    }
}

// The street as `layout` samples it (in metres) and `objects` and `raster` draw it. Defined here so that the
// three files share the fields, which stay private to this module.

/// Pinhole camera looking down the street with a level optical axis; image units are pixels.
struct Cam {
    /// Focal length in pixels.
    f: f32,
    /// Camera height above the ground in metres.
    h_cam: f32,
    /// Row of the horizon (pixels from the top).
    hor: f32,
    /// Column of the vanishing point.
    vx: f32,
}

/// Per-scene appearance: the one mode of every stuff class and the lighting.
struct Look {
    sky: usize,
    road: usize,
    sidewalk: usize,
    building: usize,
    veg: usize,
    terrain: usize,
    pole: usize,
    sign: usize,
    /// Brightness of street-facing facades on the left and right side; unequal in sunshine.
    light_side: [f32; 2],
    /// Brightness of faces turned towards the camera.
    light_front: f32,
    haze: Rgb,
    haze_dist: f32,
    salt: u32,
    /// XOR-ed into the salt of every texture (never into one that shapes a region): 0 for the data set's own
    /// textures, see [`SynthConfig::texture_seed`].
    tex: u32,
}

struct Street {
    /// X of the road's left and right edge (the camera is at X = 0).
    road: [f32; 2],
    walk: [f32; 2],
    /// Terrain strip between sidewalk and building line, per side.
    strip: [f32; 2],
    lane_lines: Vec<f32>,
    solid_lines: Vec<f32>,
    lane_centres: Vec<f32>,
    dash_len: f32,
    dash_period: f32,
    dash_phase: f32,
    crosswalk: Option<f32>,
}

#[derive(Clone, Copy)]
struct Facade {
    tint: Rgb,
    floor_h: f32,
    ground_h: f32,
    bay: f32,
    win_w: f32,
    win_h: f32,
    sill: f32,
    shop: bool,
    salt: u32,
}

/// A block along the street: its facade faces the street, its front end faces the camera.
struct Block {
    /// -1 left, +1 right.
    side: f32,
    x: f32,
    z0: f32,
    z1: f32,
    depth: f32,
    height: f32,
    style: Facade,
}

/// A wall facing the camera (a block's front end, or the buildings closing the street).
struct Face {
    z: f32,
    x0: f32,
    x1: f32,
    height: f32,
}

struct Tree {
    x: f32,
    z: f32,
    trunk_h: f32,
    trunk_r: f32,
    crown_r: f32,
    salt: u32,
}

struct Hedge {
    side: f32,
    x: f32,
    z0: f32,
    z1: f32,
    height: f32,
    salt: u32,
}

enum Bg {
    Block(Block),
    Tree(Tree),
}

struct Car {
    id: u32,
    x: f32,
    z: f32,
    w: f32,
    hgt: f32,
    len: f32,
    toward: bool,
    paint: Rgb,
}

struct Person {
    id: u32,
    x: f32,
    z: f32,
    height: f32,
    stride: f32,
    shirt: Rgb,
    trousers: Rgb,
    skin: Rgb,
    hair: Rgb,
}

#[derive(Clone, Copy, PartialEq)]
enum SignShape {
    Square,
    Disc,
    Diamond,
}

struct Pole {
    x: f32,
    z: f32,
    height: f32,
    r: f32,
    /// Signed length of a lamp arm reaching over the road (0: none).
    arm: f32,
    /// Sign plate: centre offset in X, centre height, size.
    sign: Option<(f32, f32, f32)>,
}

enum Obj {
    Car(Car),
    Person(Person),
    Pole(Pole),
    Tree(Tree),
}

/// What the sidecar needs to know about an instance drawn with a temporary id.
struct InstInfo {
    class: u8,
    mode: usize,
    color: Rgb,
    depth: f32,
}

struct Layout {
    cam: Cam,
    look: Look,
    street: Street,
    /// Buildings closing the far end of the street, if any.
    closure: Vec<(Face, Facade)>,
    /// Everything beyond the building lines, drawn far to near.
    background: Vec<Bg>,
    hedges: Vec<Hedge>,
    /// Everything between the building lines, drawn far to near.
    objects: Vec<Obj>,
    instances: BTreeMap<u32, InstInfo>,
    sign_shape: SignShape,
}

#[cfg(test)]
mod tests;
