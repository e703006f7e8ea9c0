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

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageBuffer, Luma, RgbImage};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::labels::{self, id};

// ---------------------------------------------------------------------------------------------------------------------
// Appearance modes
// ---------------------------------------------------------------------------------------------------------------------

/// One appearance mode: a name for the sidecar and its nominal colour.
///
/// For cars the nominal colour is the paint: shading on the body is symmetric around it, so the mean colour of a car
/// instance lands nearest its own mode (windows are tinted towards the paint for the same reason). For stuff classes it
/// is the base colour that the texture varies around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub name: &'static str,
    pub rgb: [u8; 3],
}

const fn m(name: &'static str, rgb: [u8; 3]) -> Mode {
    Mode { name, rgb }
}

/// Car paint. Kept far apart in RGB (the closest pair, green and black, is ~90 apart) so "nearest mode by mean colour"
/// is a reliable measure of style control.
pub const CAR_MODES: [Mode; 7] = [
    m("red", [185, 30, 35]),
    m("blue", [30, 65, 165]),
    m("white", [232, 232, 228]),
    m("black", [28, 28, 32]),
    m("silver", [118, 121, 128]),
    m("yellow", [225, 185, 35]),
    m("green", [35, 115, 60]),
];
/// A person's upper clothing (the sidecar names a person by it).
pub const PERSON_MODES: [Mode; 6] = [
    m("red", [170, 35, 40]),
    m("blue", [40, 60, 130]),
    m("white", [220, 220, 215]),
    m("dark", [40, 40, 45]),
    m("green", [50, 110, 60]),
    m("yellow", [210, 170, 40]),
];
pub const ROAD_MODES: [Mode; 2] = [m("asphalt", [82, 82, 86]), m("cobblestone", [118, 106, 94])];
pub const SIDEWALK_MODES: [Mode; 2] = [m("concrete", [172, 170, 163]), m("brick_paver", [168, 98, 82])];
/// Facade families.
pub const BUILDING_MODES: [Mode; 4] = [
    m("brick", [150, 78, 60]),
    m("plaster", [214, 200, 172]),
    m("concrete", [128, 128, 126]),
    m("sandstone", [190, 150, 98]),
];
pub const SKY_MODES: [Mode; 2] = [m("clear", [120, 170, 225]), m("overcast", [196, 200, 206])];
pub const VEGETATION_MODES: [Mode; 2] = [m("summer", [68, 108, 42]), m("autumn", [170, 112, 40])];
pub const TERRAIN_MODES: [Mode; 2] = [m("grass", [118, 150, 70]), m("dry", [170, 150, 100])];
pub const POLE_MODES: [Mode; 2] = [m("grey", [135, 137, 140]), m("dark_green", [45, 70, 55])];
/// Sign plates; the shape goes with the colour (blue square, red disc, yellow diamond), as on real streets.
pub const SIGN_MODES: [Mode; 3] = [m("blue", [35, 80, 175]), m("red", [200, 35, 40]), m("yellow", [235, 195, 40])];

/// The mode table the generator draws `class` from; empty for classes it never draws.
pub fn modes(class: u8) -> &'static [Mode] {
    match class {
        id::CAR => &CAR_MODES,
        id::PERSON => &PERSON_MODES,
        id::ROAD => &ROAD_MODES,
        id::SIDEWALK => &SIDEWALK_MODES,
        id::BUILDING => &BUILDING_MODES,
        id::SKY => &SKY_MODES,
        id::VEGETATION => &VEGETATION_MODES,
        id::TERRAIN => &TERRAIN_MODES,
        id::POLE => &POLE_MODES,
        id::TRAFFIC_SIGN => &SIGN_MODES,
        _ => &[],
    }
}

/// Index of the mode whose nominal colour is nearest (Euclidean RGB) to `rgb`; `None` for an empty table.
pub fn nearest_mode(table: &[Mode], rgb: [f32; 3]) -> Option<usize> {
    let d2 = |mo: &Mode| (0..3).map(|c| (mo.rgb[c] as f32 - rgb[c]).powi(2)).sum::<f32>();
    (0..table.len()).min_by(|&a, &b| d2(&table[a]).total_cmp(&d2(&table[b])))
}

// ---------------------------------------------------------------------------------------------------------------------
// Public data types
// ---------------------------------------------------------------------------------------------------------------------

/// What every scene of a data set shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Reads the sidecar `<root>/<phase>_meta/<name>.json` of a data set written by `pix2pixhd synth`.
pub fn read_sidecar(root: &Path, phase: &str, name: &str) -> anyhow::Result<SceneMeta> {
    use anyhow::Context;
    let p = root.join(format!("{phase}_meta")).join(format!("{name}.json"));
    let text = fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a synth sidecar", p.display()))
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
    #[error("{} already holds files; refusing to mix data sets (pass --force to replace its scenes)", dir.display())]
    NotEmpty { dir: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
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
            if v >= 1000 {
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
        let class = v / 1000;
        let k = next_k.entry(class).or_insert(0);
        remap.insert(v, class * 1000 + *k);
        *k += 1;
    }
    let inst: Vec<u32> = cv.inst.iter().map(|&v| if v >= 1000 { remap[&v] } else { v }).collect();

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

// ---------------------------------------------------------------------------------------------------------------------
// Layout: the street in metres, sampled from the scene's RNG only
// ---------------------------------------------------------------------------------------------------------------------

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

impl Cam {
    fn x_of(&self, x: f32, z: f32) -> f32 {
        self.vx + self.f * x / z
    }
    fn y_of(&self, yw: f32, z: f32) -> f32 {
        self.hor + self.f * (self.h_cam - yw) / z
    }
    /// World X on the plane at depth `z` seen through column `xc`.
    fn wx(&self, xc: f32, z: f32) -> f32 {
        (xc - self.vx) * z / self.f
    }
    /// World height on the plane at depth `z` seen through row `yc`.
    fn wy(&self, yc: f32, z: f32) -> f32 {
        self.h_cam - (yc - self.hor) * z / self.f
    }
    /// Metres one pixel spans at depth `z`: the scale below which texture detail must fade out instead of aliasing.
    fn footprint(&self, z: f32) -> f32 {
        z / self.f
    }
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

impl Look {
    fn stuff_mode(&self, class: u8) -> usize {
        match class {
            id::SKY => self.sky,
            id::ROAD => self.road,
            id::SIDEWALK => self.sidewalk,
            id::BUILDING => self.building,
            id::VEGETATION => self.veg,
            id::TERRAIN => self.terrain,
            id::POLE => self.pole,
            id::TRAFFIC_SIGN => self.sign,
            _ => 0,
        }
    }
    fn clear(&self) -> bool {
        self.sky == 0
    }
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

impl Street {
    /// Distance of the building line from the camera axis on side `s` (0 left, 1 right).
    fn building_line(&self, s: usize) -> f32 {
        self.road[s].abs() + self.walk[s] + self.strip[s]
    }
}

// Ranges of the details no label map shows, drawn once by `sample_layout` and again by `redraw_unseen_details`.
/// Facades: floor height and bay width (metres), window height and width as shares of a floor and a bay, the sill
/// as a share of the wall under and over a window, the ground floor's height, the odds of a shop front.
const FLOOR_H: (f32, f32) = (3.0, 3.6);
const BAY: (f32, f32) = (2.4, 3.6);
const WIN_H: (f32, f32) = (0.42, 0.58);
const WIN_W: (f32, f32) = (0.38, 0.58);
const SILL: (f32, f32) = (0.4, 0.6);
const GROUND_H: (f32, f32) = (3.6, 4.6);
const SHOP_ODDS: f64 = 0.5;
/// Road paint: dash length and gap (metres), the odds of a zebra crossing and its distance.
const DASH_LEN: (f32, f32) = (2.5, 4.0);
const DASH_GAP: (f32, f32) = (5.0, 9.0);
const CROSSWALK_ODDS: f64 = 0.25;
const CROSSWALK_Z: (f32, f32) = (12.0, 30.0);

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

impl Obj {
    fn near_z(&self) -> f32 {
        match self {
            Obj::Car(c) => c.z,
            Obj::Person(p) => p.z,
            Obj::Pole(p) => p.z,
            Obj::Tree(t) => t.z,
        }
    }
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

fn uni(rng: &mut Pcg64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

fn jitter(rng: &mut Pcg64, c: [u8; 3], bright: f32, chan: f32) -> Rgb {
    let b = uni(rng, -bright, bright);
    let mut out = rgb(c);
    for v in &mut out {
        *v = (*v + b + uni(rng, -chan, chan)).clamp(0.0, 255.0);
    }
    out
}

/// Samples the whole street. Only the camera's pixel scale depends on `w` and `h`; every random draw is independent of
/// them, so a seed shows the same street at every resolution.
fn sample_layout(rng: &mut Pcg64, w: usize, h: usize) -> Layout {
    let hf = h as f32;
    let cam = Cam {
        f: uni(rng, 1.05, 1.35) * hf,
        h_cam: uni(rng, 1.3, 1.7),
        hor: uni(rng, 0.40, 0.47) * hf,
        vx: w as f32 / 2.0 + uni(rng, -0.06, 0.06) * hf,
    };

    let sky = rng.random_range(0..SKY_MODES.len());
    let sunny = sky == 0;
    let sun_right = rng.random_bool(0.5);
    let (lit, shade) = if sunny { (1.12, 0.78) } else { (0.98, 0.94) };
    let look = Look {
        sky,
        road: rng.random_range(0..ROAD_MODES.len()),
        sidewalk: rng.random_range(0..SIDEWALK_MODES.len()),
        building: rng.random_range(0..BUILDING_MODES.len()),
        veg: rng.random_range(0..VEGETATION_MODES.len()),
        terrain: rng.random_range(0..TERRAIN_MODES.len()),
        pole: rng.random_range(0..POLE_MODES.len()),
        sign: rng.random_range(0..SIGN_MODES.len()),
        light_side: if sun_right { [shade, lit] } else { [lit, shade] },
        light_front: if sunny { 0.95 } else { 0.92 },
        haze: if sunny { [178.0, 204.0, 230.0] } else { [206.0, 208.0, 212.0] },
        haze_dist: if sunny { 420.0 } else { 240.0 },
        salt: rng.random(),
        tex: 0,
    };
    let sign_shape = [SignShape::Square, SignShape::Disc, SignShape::Diamond][look.sign];

    // Road: driving lanes, the camera in one of the right-hand ones, optional parking strips on either side.
    let lw = uni(rng, 3.0, 3.5);
    let n_lanes = [2usize, 2, 3, 3, 4][rng.random_range(0..5)];
    let cam_lane = rng.random_range(n_lanes / 2..n_lanes);
    let park = [rng.random_bool(0.35), rng.random_bool(0.55)];
    let pw = 2.2;
    let lanes_l = -(cam_lane as f32 + 0.5) * lw;
    let lanes_r = (n_lanes as f32 - cam_lane as f32 - 0.5) * lw;
    let road = [lanes_l - if park[0] { pw } else { 0.0 }, lanes_r + if park[1] { pw } else { 0.0 }];
    let lane_lines = (1..n_lanes).map(|k| lanes_l + k as f32 * lw).collect();
    let lane_centres = (0..n_lanes).map(|k| lanes_l + (k as f32 + 0.5) * lw).collect();
    let solid_lines =
        vec![if park[0] { lanes_l } else { road[0] + 0.3 }, if park[1] { lanes_r } else { road[1] - 0.3 }];
    let dash_len = uni(rng, DASH_LEN.0, DASH_LEN.1);
    let dash_period = dash_len + uni(rng, DASH_GAP.0, DASH_GAP.1);
    let street = Street {
        road,
        walk: [uni(rng, 1.8, 4.5), uni(rng, 1.8, 4.5)],
        strip: [0, 1].map(|_| if rng.random_bool(0.4) { uni(rng, 1.0, 4.0) } else { 0.0 }),
        lane_lines,
        solid_lines,
        lane_centres,
        dash_len,
        dash_period,
        dash_phase: uni(rng, 0.0, dash_period),
        crosswalk: rng.random_bool(CROSSWALK_ODDS).then(|| uni(rng, CROSSWALK_Z.0, CROSSWALK_Z.1)),
    };

    let family = BUILDING_MODES[look.building].rgb;
    let facade = |rng: &mut Pcg64| {
        let floor_h = uni(rng, FLOOR_H.0, FLOOR_H.1);
        let bay = uni(rng, BAY.0, BAY.1);
        let win_h = floor_h * uni(rng, WIN_H.0, WIN_H.1);
        let base = rgb(family);
        let k = uni(rng, 0.86, 1.14);
        Facade {
            tint: [0, 1, 2].map(|c| (base[c] * k + uni(rng, -7.0, 7.0)).clamp(0.0, 255.0)),
            floor_h,
            ground_h: uni(rng, GROUND_H.0, GROUND_H.1),
            bay,
            win_w: bay * uni(rng, WIN_W.0, WIN_W.1),
            win_h,
            sill: (floor_h - win_h) * uni(rng, SILL.0, SILL.1),
            shop: rng.random_bool(SHOP_ODDS),
            salt: rng.random(),
        }
    };

    // The street may be closed at its far end by a row of buildings facing the camera.
    let mut closure = Vec::new();
    let z_end = if rng.random_bool(0.55) {
        let z = uni(rng, 90.0, 220.0);
        let mut x = -260.0;
        while x < 260.0 {
            let wd = uni(rng, 15.0, 40.0);
            let style = facade(rng);
            closure.push((Face { z, x0: x, x1: x + wd, height: uni(rng, 8.0, 30.0) }, style));
            x += wd;
        }
        z
    } else {
        320.0
    };

    let mut trees_bg = Vec::new();
    let mut blocks = Vec::new();
    let mut setbacks = Vec::new();
    let mut hedges = Vec::new();
    for s in 0..2 {
        let side = if s == 0 { -1.0 } else { 1.0 };
        let line = street.building_line(s);
        let mut z = uni(rng, 0.5, 4.0);
        while z < z_end {
            if z > 10.0 && rng.random_bool(0.18) {
                // A gap: trees and perhaps a lower building further back.
                let len = uni(rng, 6.0, 18.0);
                for _ in 0..rng.random_range(1..=2) {
                    let tx = side * (line + uni(rng, 1.5, 6.0));
                    let tz = z + uni(rng, 0.2, 0.8) * len;
                    trees_bg.push(tree(rng, tx, tz));
                }
                if rng.random_bool(0.6) {
                    setbacks.push(Block {
                        side,
                        x: line + uni(rng, 7.0, 15.0),
                        z0: z - uni(rng, 0.0, 5.0),
                        z1: z + len + uni(rng, 5.0, 20.0),
                        depth: uni(rng, 8.0, 20.0),
                        height: uni(rng, 6.0, 18.0),
                        style: facade(rng),
                    });
                }
                z += len;
                continue;
            }
            let len = uni(rng, 10.0, 35.0);
            let height = if rng.random_bool(0.15) { uni(rng, 28.0, 45.0) } else { uni(rng, 8.0, 28.0) };
            let setback = if rng.random_bool(0.3) { uni(rng, 0.3, 1.5) } else { 0.0 };
            blocks.push(Block {
                side,
                x: line + setback,
                z0: z,
                z1: (z + len).min(z_end),
                depth: uni(rng, 8.0, 20.0),
                height,
                style: facade(rng),
            });
            z += len;
        }
        if street.strip[s] > 0.8 && rng.random_bool(0.4) {
            let z0 = uni(rng, 2.0, 10.0);
            hedges.push(Hedge {
                side,
                x: line - street.strip[s] * 0.35,
                z0,
                z1: z0 + uni(rng, 15.0, 80.0),
                height: uni(rng, 0.8, 1.4),
                salt: rng.random(),
            });
        }
    }
    // Far to near; set-back buildings sit behind the front row, so they go first.
    let mut background: Vec<Bg> = setbacks.into_iter().map(Bg::Block).collect();
    let mut front: Vec<Bg> = blocks.into_iter().map(Bg::Block).chain(trees_bg.into_iter().map(Bg::Tree)).collect();
    let near = |b: &Bg| match b {
        Bg::Block(b) => b.z0,
        Bg::Tree(t) => t.z,
    };
    background.sort_by(|a, b| near(b).total_cmp(&near(a)));
    front.sort_by(|a, b| near(b).total_cmp(&near(a)));
    background.extend(front);

    // Objects between the building lines.
    let mut objects = Vec::new();
    let mut instances = BTreeMap::new();
    let mut next_k = [0u32; 2];
    let mut new_id = |class: u8, mode: usize, color: Rgb, depth: f32, instances: &mut BTreeMap<u32, InstInfo>| {
        let slot = usize::from(class == id::PERSON);
        let v = class as u32 * 1000 + next_k[slot];
        next_k[slot] += 1;
        instances.insert(v, InstInfo { class, mode, color, depth });
        v
    };
    let mut car = |rng: &mut Pcg64, x: f32, z: f32, toward: bool, instances: &mut BTreeMap<u32, InstInfo>| {
        let mode = rng.random_range(0..CAR_MODES.len());
        let paint = jitter(rng, CAR_MODES[mode].rgb, 6.0, 4.0);
        let c = Car {
            id: 0,
            x,
            z,
            w: uni(rng, 1.7, 1.95),
            hgt: uni(rng, 1.38, 1.6),
            len: uni(rng, 4.0, 4.8),
            toward,
            paint,
        };
        Car { id: new_id(id::CAR, mode, paint, z, instances), ..c }
    };
    // Moving traffic: oncoming in the left half of the lanes (right-hand traffic).
    let n_lanes = street.lane_centres.len();
    for (k, &xc) in street.lane_centres.iter().enumerate() {
        let n = [0, 1, 1, 2, 2, 3][rng.random_range(0..6)];
        let zmin = if k == cam_lane { 9.0 } else { 5.0 };
        let mut zs: Vec<f32> = (0..n).map(|_| uni(rng, zmin, 80.0)).collect();
        zs.sort_by(f32::total_cmp);
        let mut last = f32::NEG_INFINITY;
        for z in zs {
            if z - last < 8.0 {
                continue;
            }
            last = z;
            let toward = k < n_lanes / 2;
            let x = xc + uni(rng, -0.3, 0.3);
            objects.push(Obj::Car(car(rng, x, z, toward, &mut instances)));
        }
    }
    // Parked rows: in perspective, consecutive cars overlap or touch.
    for s in 0..2 {
        if !park[s] {
            continue;
        }
        let sgn = if s == 0 { -1.0 } else { 1.0 };
        let mut z = uni(rng, 2.0, 8.0);
        while z < 70.0 {
            let len_guess = 4.5;
            if rng.random_bool(0.8) {
                let x = road[s] - sgn * uni(rng, 1.05, 1.25);
                let toward = rng.random_bool(0.5);
                objects.push(Obj::Car(car(rng, x, z, toward, &mut instances)));
            }
            z += len_guess + uni(rng, 0.2, 2.5);
        }
    }
    // "Several cars per scene": top up the lanes next to the camera when traffic came out thin.
    let n_cars = objects.len();
    for k in n_cars..3 {
        let lane = (cam_lane + k) % n_lanes;
        let z = uni(rng, 12.0, 40.0) + k as f32 * 9.0;
        let toward = lane < n_lanes / 2;
        objects.push(Obj::Car(car(rng, street.lane_centres[lane], z, toward, &mut instances)));
    }

    // Persons on the sidewalks, sometimes in pairs that touch.
    let n_persons = [0, 1, 2, 2, 3, 4, 5, 6][rng.random_range(0..8)];
    for _ in 0..n_persons {
        let s = rng.random_range(0..2);
        let sgn = if s == 0 { -1.0 } else { 1.0 };
        let x = sgn * (street.road[s].abs() + uni(rng, 0.5, (street.walk[s] - 0.4).max(0.6)));
        let z = uni(rng, 4.0, 45.0);
        let pair = rng.random_bool(0.3);
        for p in 0..(1 + usize::from(pair)) {
            let dx = if p == 0 { 0.0 } else { uni(rng, 0.42, 0.55) * if rng.random_bool(0.5) { 1.0 } else { -1.0 } };
            let mode = rng.random_range(0..PERSON_MODES.len());
            let shirt = jitter(rng, PERSON_MODES[mode].rgb, 8.0, 5.0);
            let zz = z + uni(rng, -0.3, 0.3);
            let trousers = [[40.0, 50.0, 85.0], [30.0, 30.0, 33.0], [95.0, 95.0, 98.0], [160.0, 140.0, 105.0]]
                [rng.random_range(0..4)];
            let skin = [[225.0, 185.0, 160.0], [190.0, 140.0, 105.0], [120.0, 85.0, 60.0]][rng.random_range(0..3)];
            let hair = [[30.0, 25.0, 20.0], [90.0, 60.0, 35.0], [200.0, 170.0, 110.0]][rng.random_range(0..3)];
            let person = Person {
                id: new_id(id::PERSON, mode, shirt, zz, &mut instances),
                x: x + dx,
                z: zz,
                height: uni(rng, 1.55, 1.92),
                stride: uni(rng, 0.0, 0.25),
                shirt,
                trousers,
                skin,
                hair,
            };
            objects.push(Obj::Person(person));
        }
    }

    // Poles along the curbs: street lamps with an arm over the road, sign posts, plain poles.
    for s in 0..2 {
        if !rng.random_bool(0.8) {
            continue;
        }
        let sgn = if s == 0 { -1.0 } else { 1.0 };
        let x = sgn * (street.road[s].abs() + 0.35);
        let mut z = uni(rng, 3.0, 12.0);
        while z < 90.0 {
            let kind = rng.random_range(0..5);
            let pole = match kind {
                0 | 1 => Pole { x, z, height: uni(rng, 6.0, 8.5), r: 0.09, arm: -sgn * uni(rng, 1.2, 2.5), sign: None },
                2 | 3 => {
                    let size = uni(rng, 0.6, 0.8);
                    let h = uni(rng, 2.8, 3.4);
                    Pole { x, z, height: h, r: 0.045, arm: 0.0, sign: Some((0.0, h - size * 0.6, size)) }
                }
                _ => Pole { x, z, height: uni(rng, 3.0, 5.0), r: 0.07, arm: 0.0, sign: None },
            };
            objects.push(Obj::Pole(pole));
            z += uni(rng, 12.0, 30.0);
        }
    }

    // Street trees: in the terrain strip where there is one, else in pits at the sidewalk's outer edge.
    for s in 0..2 {
        if !rng.random_bool(0.55) {
            continue;
        }
        let sgn = if s == 0 { -1.0 } else { 1.0 };
        let x = if street.strip[s] > 1.5 {
            sgn * (street.road[s].abs() + street.walk[s] + street.strip[s] * 0.5)
        } else {
            sgn * (street.road[s].abs() + street.walk[s] - 0.8)
        };
        let mut z = uni(rng, 2.0, 9.0);
        let spacing = uni(rng, 7.0, 13.0);
        while z < 90.0 {
            objects.push(Obj::Tree(tree(rng, x, z)));
            z += spacing * uni(rng, 0.85, 1.15);
        }
    }
    objects.sort_by(|a, b| b.near_z().total_cmp(&a.near_z()));

    Layout { cam, look, street, closure, background, hedges, objects, instances, sign_shape }
}

fn tree(rng: &mut Pcg64, x: f32, z: f32) -> Tree {
    let crown_r = uni(rng, 1.4, 3.0);
    Tree { x, z, trunk_h: uni(rng, 1.8, 3.5), trunk_r: uni(rng, 0.1, 0.2), crown_r, salt: rng.random() }
}

// ---------------------------------------------------------------------------------------------------------------------
// Rasterising
// ---------------------------------------------------------------------------------------------------------------------

type Rgb = [f32; 3];

fn rgb(c: [u8; 3]) -> Rgb {
    c.map(f32::from)
}
fn scale(c: Rgb, k: f32) -> Rgb {
    c.map(|v| v * k)
}
fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}
fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}
/// How much of a texture detail of `size` metres to show where a pixel spans `fp` metres: full from 3 pixels up,
/// none below 1, so distant patterns fade to their mean instead of aliasing.
fn detail(fp: f32, size: f32) -> f32 {
    smoothstep(1.0, 3.0, size / fp)
}
/// Fraction of a pixel (`fp` wide) covered by a band of half-width `hw` at distance `d` from the pixel centre.
/// Used for paint lines so that they thin out smoothly; labels stay crisp because paint only changes colour.
fn coverage(d: f32, hw: f32, fp: f32) -> f32 {
    let overlap = (d + 0.5 * fp).min(hw) - (d - 0.5 * fp).max(-hw);
    (overlap / fp).clamp(0.0, 1.0)
}

/// Pixel indices whose centres lie in `[a, b)`, clamped to `0..n`. Sampling at centres keeps label edges crisp.
fn span(a: f32, b: f32, n: usize) -> Range<usize> {
    let nf = n as f32;
    let lo = (a - 0.5).ceil().clamp(0.0, nf);
    let hi = (b - 0.5).ceil().clamp(0.0, nf);
    let (lo, hi) = (lo as usize, hi as usize);
    lo..hi.max(lo)
}

struct Canvas {
    w: usize,
    h: usize,
    label: Vec<u8>,
    inst: Vec<u32>,
    rgb: Vec<Rgb>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, label: vec![0; w * h], inst: vec![0; w * h], rgb: vec![[0.0; 3]; w * h] }
    }
    #[inline]
    fn put(&mut self, i: usize, j: usize, class: u8, inst: u32, c: Rgb) {
        let k = j * self.w + i;
        self.label[k] = class;
        self.inst[k] = inst;
        self.rgb[k] = c;
    }
}

fn haze(look: &Look, c: Rgb, z: f32) -> Rgb {
    mix(c, look.haze, 1.0 - (-z / look.haze_dist).exp())
}

fn draw_sky(cv: &mut Canvas, lay: &Layout) {
    let look = &lay.look;
    let hf = cv.h as f32;
    let hor = lay.cam.hor.max(1.0);
    let salt = look.salt ^ 0x51 ^ look.tex;
    let (top, low) = if look.clear() {
        ([55.0, 110.0, 198.0], [172.0, 202.0, 232.0])
    } else {
        ([160.0, 164.0, 172.0], [212.0, 214.0, 218.0])
    };
    for j in span(0.0, lay.cam.hor, cv.h) {
        let yc = j as f32 + 0.5;
        let t = (yc / hor).clamp(0.0, 1.0).powf(0.8);
        let base = mix(top, low, t);
        for i in 0..cv.w {
            let (u, v) = ((i as f32 + 0.5) / hf, yc / hf);
            let c = if look.clear() {
                // Thin fair-weather clouds.
                let n = fbm(u * 3.0, v * 9.0, salt);
                mix(base, [240.0, 242.0, 245.0], smoothstep(0.58, 0.8, n) * 0.7)
            } else {
                let n = fbm(u * 2.5, v * 5.0, salt);
                scale(base, 0.88 + 0.24 * n)
            };
            cv.put(i, j, id::SKY, id::SKY as u32, c);
        }
    }
}

fn draw_ground(cv: &mut Canvas, lay: &Layout) {
    let cam = &lay.cam;
    for j in span(cam.hor, f32::INFINITY, cv.h) {
        let yc = j as f32 + 0.5;
        let z = cam.f * cam.h_cam / (yc - cam.hor);
        let fp = cam.footprint(z);
        for i in 0..cv.w {
            let x = cam.wx(i as f32 + 0.5, z);
            let (class, c) = ground_at(lay, x, z, fp);
            cv.put(i, j, class, class as u32, haze(&lay.look, c, z));
        }
    }
}

/// A grid of tiles in (u, v) metres: the tile's random value in 0..1, how much of the pixel is joint, and the distance
/// in metres from the pixel to the nearest joint (for rounded stones).
fn tiles(u: f32, v: f32, (su, sv): (f32, f32), joint: f32, stagger: bool, salt: u32, fp: f32) -> (f32, f32, f32) {
    let row = (v / sv).floor();
    let off = if stagger && (row as i64).rem_euclid(2) == 1 { 0.5 } else { 0.0 };
    let cu = u / su + off;
    let col = cu.floor();
    let (fu, fv) = (cu - col, v / sv - row);
    let du = fu.min(1.0 - fu) * su;
    let dv = fv.min(1.0 - fv) * sv;
    let jcov = coverage(du, joint, fp).max(coverage(dv, joint, fp));
    (h01(col as i32 as u32, row as i32 as u32, salt), jcov, du.min(dv))
}

fn ground_at(lay: &Layout, x: f32, z: f32, fp: f32) -> (u8, Rgb) {
    let st = &lay.street;
    let look = &lay.look;
    let salt = look.salt ^ look.tex;
    if x >= st.road[0] && x <= st.road[1] {
        let base = rgb(ROAD_MODES[look.road].rgb);
        let mut c = if look.road == 0 {
            let blot = 0.9 + 0.2 * vnoise(x * 0.35, z * 0.12, salt ^ 0x11);
            let grain = (vnoise(x * 14.0, z * 14.0, salt ^ 0x12) - 0.5) * detail(fp, 0.07);
            let mut c = scale(base, blot + 0.16 * grain);
            // Darker tyre tracks in each lane.
            for &lc in &st.lane_centres {
                let d = ((x - lc).abs() - 0.8).abs();
                c = scale(c, 1.0 - 0.07 * coverage(d, 0.3, fp));
            }
            c
        } else {
            // Setts about 10 cm square in staggered rows; the joints wander a little so rows do not look ruled.
            let wob = 0.025 * (vnoise(x * 9.0, z * 9.0, salt ^ 0x14) - 0.5);
            let (r, jc, e) = tiles(x + wob, z - wob, (0.1, 0.095), 0.01, true, salt ^ 0x13, fp);
            // Faded out earlier than other textures: a grid of 3-pixel stones still beats into moire.
            let d = smoothstep(2.0, 5.0, 0.1 / fp);
            let dome = 0.86 + 0.2 * smoothstep(0.0, 0.035, e);
            let k = 1.0 + (0.34 * (r - 0.5) + 0.1 * (vnoise(x * 0.5, z * 0.5, salt) - 0.5) + dome - 1.0) * d;
            mix(scale(base, k), scale(base, 0.5), jc * 0.9 * d.max(0.35))
        };
        // Paint: dashed lane lines, solid edge lines, zebra crossing.
        let paint = [214.0, 214.0, 208.0];
        let mut a: f32 = 0.0;
        let dash_on = ((z + st.dash_phase) / st.dash_period).fract() * st.dash_period < st.dash_len;
        if dash_on {
            for &lx in &st.lane_lines {
                a = a.max(coverage((x - lx).abs(), 0.075, fp));
            }
        }
        for &lx in &st.solid_lines {
            a = a.max(coverage((x - lx).abs(), 0.06, fp));
        }
        if let Some(zc) = st.crosswalk
            && z >= zc
            && z <= zc + 4.0
            && x > st.road[0] + 0.4
            && x < st.road[1] - 0.4
        {
            let f = ((x - st.road[0]) / 1.0).fract();
            a = a.max(coverage((f - 0.25).abs(), 0.25, fp));
        }
        c = mix(c, paint, a * 0.9);
        return (id::ROAD, c);
    }
    let (s, d) = if x > st.road[1] { (1, x - st.road[1]) } else { (0, st.road[0] - x) };
    if d <= st.walk[s] {
        let base = rgb(SIDEWALK_MODES[look.sidewalk].rgb);
        let c = if d < 0.2 {
            // Curb stone, a little lighter, with a shadowed joint on the road side.
            mix(scale(base, 1.1), scale(base, 0.6), coverage(d, 0.02, fp))
        } else if look.sidewalk == 0 {
            let (r, jc, _) = tiles(d, z, (1.2, 1.2), 0.012, false, salt ^ 0x21, fp);
            let slab = scale(base, 1.0 + 0.08 * (r - 0.5) * detail(fp, 1.2));
            let stain = 0.94 + 0.12 * vnoise(d * 0.8, z * 0.8, salt ^ 0x22);
            mix(scale(slab, stain), scale(base, 0.7), jc * 0.8)
        } else {
            let (r, jc, _) = tiles(z, d, (0.2, 0.1), 0.006, true, salt ^ 0x23, fp);
            let brick = scale(base, 1.0 + 0.25 * (r - 0.5) * detail(fp, 0.1));
            mix(brick, scale(base, 0.75), jc * 0.8)
        };
        return (id::SIDEWALK, c);
    }
    let base = rgb(TERRAIN_MODES[look.terrain].rgb);
    let n = fbm(x * 0.5, z * 0.5, salt ^ 0x31);
    let fine = (vnoise(x * 18.0, z * 18.0, salt ^ 0x32) - 0.5) * detail(fp, 0.06);
    (id::TERRAIN, scale(base, 0.8 + 0.4 * n + 0.25 * fine))
}

/// Facade colour at `(u, len)`: `u` metres along a face `len` long; `(yw, top)`: height `yw` on a block `top` high;
/// seen at depth `z` where a pixel spans `fp` metres.
fn facade_color(
    look: &Look,
    st: &Facade,
    (u, len): (f32, f32),
    (yw, top): (f32, f32),
    z: f32,
    fp: f32,
    light: f32,
) -> Rgb {
    let salt = st.salt ^ look.tex;
    let n = vnoise(u * 0.45, yw * 0.45, salt);
    let streak = vnoise(u * 1.7, yw * 0.15, salt ^ 3);
    let mut wall = scale(st.tint, 0.9 + 0.14 * n + 0.06 * (streak - 0.5) * detail(fp, 0.4));
    // Darker at street level (grime, shadow), a cornice band at the top.
    wall = scale(wall, 0.84 + 0.16 * smoothstep(0.0, 3.0, yw));
    if yw > top - 0.6 {
        wall = scale(wall, 0.82);
    }
    let glass_base: Rgb = if look.clear() { [62.0, 82.0, 112.0] } else { [96.0, 101.0, 110.0] };
    let frame = mix(wall, [225.0, 222.0, 215.0], 0.55);

    // Window grid: whole bays centred on the face so windows never get cut at the block's ends.
    let (bay_w, win_w, win_h, cell_h, v0, v);
    if yw < st.ground_h {
        bay_w = st.bay * 2.0;
        win_w = if st.shop { bay_w * 0.8 } else { st.win_w };
        win_h = if st.shop { st.ground_h - 1.3 } else { st.win_h };
        cell_h = st.ground_h;
        v0 = if st.shop { 0.5 } else { st.sill + 0.3 };
        v = yw;
    } else {
        bay_w = st.bay;
        win_w = st.win_w;
        win_h = st.win_h;
        cell_h = st.floor_h;
        v0 = st.sill;
        v = (yw - st.ground_h).rem_euclid(st.floor_h);
    }
    let floor = ((yw - st.ground_h) / st.floor_h).floor();
    let n_bays = (len / bay_w).floor().max(1.0);
    let margin = (len - n_bays * bay_w) / 2.0;
    let cu = (u - margin) / bay_w;
    let col = cu.floor();
    let fu = (cu - col) * bay_w;
    let under_roof = yw < top - 1.0;
    let in_grid = col >= 0.0 && col < n_bays && under_roof;
    let du = (fu - bay_w / 2.0).abs() - win_w / 2.0;
    let dv = (v - (v0 + win_h / 2.0)).abs() - win_h / 2.0;
    let r = h01(col as i32 as u32, floor as i32 as u32, salt ^ 7);
    let lit = !look.clear() && r > 0.93;
    let glass = if lit { [210.0, 185.0, 125.0] } else { mix(glass_base, [30.0, 32.0, 38.0], 0.55 * r) };
    let pattern = if in_grid && du < 0.0 && dv < 0.0 {
        // Glass, with a frame where the pixel is close to the window's edge.
        let edge = (-du).min(-dv);
        if edge < 0.07 { frame } else { mix(glass, scale(glass, 1.25), smoothstep(0.0, win_h, v - v0) * 0.4) }
    } else {
        wall
    };
    let cover = (win_w / bay_w) * (win_h / cell_h);
    let avg_glass = mix(glass_base, [30.0, 32.0, 38.0], 0.27);
    let avg = if under_roof { mix(wall, avg_glass, cover) } else { wall };
    let t = detail(fp, win_w.min(win_h) * 0.8);
    haze(look, scale(mix(avg, pattern, t), light), z)
}

fn draw_face(cv: &mut Canvas, lay: &Layout, face: &Face, st: &Facade, light: f32) {
    let cam = &lay.cam;
    let z = face.z;
    if z <= 0.05 {
        return;
    }
    let fp = cam.footprint(z);
    let (a, b) = (cam.x_of(face.x0, z), cam.x_of(face.x1, z));
    for j in span(cam.y_of(face.height, z), cam.y_of(0.0, z), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z);
        for i in span(a.min(b), a.max(b), cv.w) {
            let x = cam.wx(i as f32 + 0.5, z);
            let u = (x - face.x0).abs();
            let c = facade_color(&lay.look, st, (u, (face.x1 - face.x0).abs()), (yw, face.height), z, fp, light);
            cv.put(i, j, id::BUILDING, id::BUILDING as u32, c);
        }
    }
}

fn draw_block(cv: &mut Canvas, lay: &Layout, b: &Block) {
    let cam = &lay.cam;
    let light = lay.look.light_side[usize::from(b.side > 0.0)];
    // Street-facing facade on the plane X = side * x, between z0 and z1.
    let xp = b.side * b.x;
    let (a, c) = (cam.x_of(xp, b.z1), cam.x_of(xp, b.z0.max(0.05)));
    for i in span(a.min(c), a.max(c), cv.w) {
        let d = i as f32 + 0.5 - cam.vx;
        if d * b.side <= 0.0 {
            continue;
        }
        let z = cam.f * xp / d;
        if z < b.z0 || z > b.z1 {
            continue;
        }
        let fp = cam.footprint(z);
        for j in span(cam.y_of(b.height, z), cam.y_of(0.0, z), cv.h) {
            let yw = cam.wy(j as f32 + 0.5, z);
            let col = facade_color(&lay.look, &b.style, (z - b.z0, b.z1 - b.z0), (yw, b.height), z, fp, light);
            cv.put(i, j, id::BUILDING, id::BUILDING as u32, col);
        }
    }
    // The block's front end, facing the camera; visible where nothing nearer stands in front of it.
    let face = Face { z: b.z0, x0: xp, x1: b.side * (b.x + b.depth), height: b.height };
    draw_face(cv, lay, &face, &b.style, lay.look.light_front);
}

fn draw_tree(cv: &mut Canvas, lay: &Layout, t: &Tree) {
    let cam = &lay.cam;
    let look = &lay.look;
    let z = t.z;
    if z < 0.5 {
        return;
    }
    let fp = cam.footprint(z);
    let base = rgb(VEGETATION_MODES[look.veg].rgb);
    let bark = [88.0, 70.0, 54.0];
    let cy = t.trunk_h + t.crown_r * 0.9;
    let (rx, ry) = (t.crown_r, t.crown_r * 1.1);
    let top = cy + ry * 1.2;
    let xs = span(cam.x_of(t.x - rx * 1.2, z), cam.x_of(t.x + rx * 1.2, z), cv.w);
    for j in span(cam.y_of(top, z), cam.y_of(0.0, z), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z);
        for i in xs.clone() {
            let dx = cam.wx(i as f32 + 0.5, z) - t.x;
            let d = ((dx / rx).powi(2) + ((yw - cy) / ry).powi(2)).sqrt();
            let edge = 0.78 + 0.42 * fbm(dx * 1.3, yw * 1.3, t.salt);
            let c = if d < edge {
                let leaf = fbm(dx * 4.0, yw * 4.0, t.salt ^ 9 ^ look.tex) - 0.5;
                let k = 0.72 + 0.5 * leaf * detail(fp, 0.25) + 0.22 * ((yw - cy) / ry).clamp(-1.0, 1.0) - 0.12 * d;
                scale(base, k)
            } else if dx.abs() < t.trunk_r * (1.0 + 0.4 * (1.0 - yw / cy).max(0.0)) && yw < cy {
                scale(bark, 0.8 + 0.3 * (1.0 - (dx / t.trunk_r).abs().min(1.0)))
            } else {
                continue;
            };
            cv.put(i, j, id::VEGETATION, id::VEGETATION as u32, haze(look, c, z));
        }
    }
}

fn draw_hedge(cv: &mut Canvas, lay: &Layout, hd: &Hedge) {
    let cam = &lay.cam;
    let look = &lay.look;
    let base = rgb(VEGETATION_MODES[look.veg].rgb);
    let xp = hd.side * hd.x;
    let (a, c) = (cam.x_of(xp, hd.z1), cam.x_of(xp, hd.z0));
    for i in span(a.min(c), a.max(c), cv.w) {
        let d = i as f32 + 0.5 - cam.vx;
        if d * hd.side <= 0.0 {
            continue;
        }
        let z = cam.f * xp / d;
        if z < hd.z0 || z > hd.z1 {
            continue;
        }
        let fp = cam.footprint(z);
        let top = hd.height + 0.25 * (vnoise(z * 1.5, 0.0, hd.salt) - 0.5);
        for j in span(cam.y_of(top, z), cam.y_of(0.0, z), cv.h) {
            let yw = cam.wy(j as f32 + 0.5, z);
            let leaf = fbm(z * 3.0, yw * 3.0, hd.salt ^ 5 ^ look.tex) - 0.5;
            let k = 0.75 + 0.5 * leaf * detail(fp, 0.3) + 0.15 * (yw / top);
            cv.put(i, j, id::VEGETATION, id::VEGETATION as u32, haze(look, scale(base, k), z));
        }
    }
}

/// Which part of a car a pixel shows; body and glass carry a 0..1 height within their part for shading.
enum Part {
    Body(f32),
    Glass(f32),
    Tyre,
    Rim,
    Light,
    Plate,
}

fn car_color(c: &Car, part: Part, face: f32) -> Rgb {
    match part {
        // Symmetric gradient (x0.92 at the bottom, x1.08 at the top) so the body's mean stays at the paint colour.
        Part::Body(t) => scale(c.paint, face * (0.92 + 0.16 * t)),
        // Tinted glass, partly the paint colour, so a car's mean colour stays nearest its own mode.
        Part::Glass(t) => scale(mix(c.paint, [70.0, 80.0, 95.0], 0.4), 0.85 + 0.3 * t),
        Part::Tyre => [28.0, 28.0, 30.0],
        Part::Rim => [150.0, 150.0, 155.0],
        Part::Light => {
            if c.toward {
                [235.0, 232.0, 215.0]
            } else {
                [195.0, 28.0, 28.0]
            }
        }
        Part::Plate => [225.0, 225.0, 218.0],
    }
}

/// Calls `put(i, j)` for the pixels of the horizontal rectangle `xs` x `zs` at height `yw` (a bonnet, a roof), which
/// the camera sees only from above.
fn hplane(
    cam: &Cam,
    (w, h): (usize, usize),
    yw: f32,
    xs: Range<f32>,
    zs: Range<f32>,
    mut put: impl FnMut(usize, usize),
) {
    let drop = cam.h_cam - yw;
    if drop <= 1e-3 || zs.start <= 0.05 {
        return;
    }
    for j in span(cam.y_of(yw, zs.end), cam.y_of(yw, zs.start), h) {
        let z = cam.f * drop / (j as f32 + 0.5 - cam.hor);
        if !zs.contains(&z) {
            continue;
        }
        for i in span(cam.x_of(xs.start, z), cam.x_of(xs.end, z), w) {
            put(i, j);
        }
    }
}

/// A car as a box with a narrower cabin: the side turned to the camera, the roof and bonnet when seen from above,
/// the cabin's end and the body's end facing the camera, drawn far to near.
fn draw_car(cv: &mut Canvas, lay: &Layout, c: &Car) {
    let cam = &lay.cam;
    if c.z < 0.5 {
        return;
    }
    let clearance = 0.26;
    let body_top = 0.6 * c.hgt;
    let hw = c.w / 2.0;
    // Where the cabin starts and ends along the car, as fractions of its length from the end we see. An oncoming
    // car shows its bonnet, which is longer than a boot.
    let (near_cab, far_cab) = if c.toward { (0.3, 0.8) } else { (0.17, 0.7) };
    // The roof ends where the side's roof line starts to fall, so seen from above it never overhangs the side.
    let (z_cab, z_roof_end) = (c.z + near_cab * c.len, c.z + (far_cab - 0.08) * c.len);
    // The cabin's width at height t (0 at its foot, 1 at the roof): nearly the body's, so that the roof seen from above
    // meets the side face, with rounded top corners.
    let cabin_half = |t: f32| {
        let mut half = hw - 0.04 - 0.08 * t;
        if t > 0.8 {
            half -= 0.22 * ((t - 0.8) / 0.2).powi(2);
        }
        half
    };

    // Soft shadow on the road under and around the car.
    {
        let (za, zb) = (c.z - 0.3, c.z + c.len + 0.3);
        let (xa, xb) = (c.x - hw - 0.2, c.x + hw + 0.2);
        let ys = span(cam.y_of(0.0, zb).max(cam.hor + 0.5), cam.y_of(0.0, za.max(0.3)), cv.h);
        let xs = [cam.x_of(xa, za.max(0.3)), cam.x_of(xb, za.max(0.3)), cam.x_of(xa, zb), cam.x_of(xb, zb)];
        let lo = xs.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for j in ys {
            let z = cam.f * cam.h_cam / (j as f32 + 0.5 - cam.hor);
            for i in span(lo, hi, cv.w) {
                let k = j * cv.w + i;
                if cv.label[k] != id::ROAD {
                    continue;
                }
                let x = cam.wx(i as f32 + 0.5, z);
                let ex = ((x - c.x).abs() - hw).max(0.0) / 0.2;
                let ez = ((z - (c.z + c.len / 2.0)).abs() - c.len / 2.0).max(0.0) / 0.3;
                let e = ex.max(ez);
                if e < 1.0 {
                    cv.rgb[k] = scale(cv.rgb[k], 0.5 + 0.5 * e * e);
                }
            }
        }
    }

    // The side turned to the camera, on the plane X = xs, from the near end (s = 0) to the far end (s = 1).
    if c.x.abs() > hw {
        let xs = c.x - c.x.signum() * hw;
        let (a, b) = (cam.x_of(xs, c.z + c.len), cam.x_of(xs, c.z));
        for i in span(a.min(b), a.max(b), cv.w) {
            let d = i as f32 + 0.5 - cam.vx;
            if d * xs <= 0.0 {
                continue;
            }
            let z = cam.f * xs / d;
            let s = (z - c.z) / c.len;
            if !(0.0..=1.0).contains(&s) {
                continue;
            }
            // Roof line with sloped windows at both ends of the cabin.
            let ramp = ((s - near_cab + 0.07) / 0.14).min((far_cab + 0.08 - s) / 0.16).clamp(0.0, 1.0);
            let cabin_top = body_top + (c.hgt - body_top) * ramp;
            let pillar = ((s - (near_cab + far_cab) / 2.0).abs()) < 0.015;
            for j in span(cam.y_of(c.hgt, z), cam.y_of(0.0, z), cv.h) {
                let yw = cam.wy(j as f32 + 0.5, z);
                let r = 0.31;
                let wheel = [0.17, 0.83].iter().find_map(|&ws| {
                    let dd = ((z - (c.z + ws * c.len)).powi(2) + (yw - r).powi(2)).sqrt();
                    (dd < r).then_some(dd)
                });
                let part = if let Some(dd) = wheel {
                    if dd < 0.55 * r { Part::Rim } else { Part::Tyre }
                } else if yw < clearance {
                    continue;
                } else if yw <= body_top {
                    Part::Body((yw - clearance) / (body_top - clearance))
                } else if yw <= cabin_top {
                    if yw > body_top + 0.05 && yw < cabin_top - 0.06 && !pillar {
                        Part::Glass((yw - body_top) / (c.hgt - body_top))
                    } else {
                        Part::Body(1.0)
                    }
                } else {
                    continue;
                };
                cv.put(i, j, id::CAR, c.id, car_color(c, part, 0.97));
            }
        }
    }

    // Roof, when the camera is higher than the car.
    let roof_half = hw - 0.04;
    hplane(cam, (cv.w, cv.h), c.hgt, c.x - roof_half..c.x + roof_half, z_cab..z_roof_end, |i, j| {
        cv.put(i, j, id::CAR, c.id, car_color(c, Part::Body(0.6), 1.0));
    });

    // The cabin's end facing the camera: the rear window (or windscreen).
    for j in span(cam.y_of(c.hgt, z_cab), cam.y_of(body_top, z_cab), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z_cab);
        let t = ((yw - body_top) / (c.hgt - body_top)).clamp(0.0, 1.0);
        let half = cabin_half(t);
        for i in span(cam.x_of(c.x - half, z_cab), cam.x_of(c.x + half, z_cab), cv.w) {
            let dx = (cam.wx(i as f32 + 0.5, z_cab) - c.x).abs();
            let part = if dx < half - 0.12 && (0.1..0.86).contains(&t) { Part::Glass(t) } else { Part::Body(1.0) };
            cv.put(i, j, id::CAR, c.id, car_color(c, part, 1.0));
        }
    }

    // Boot or bonnet, seen from above.
    hplane(cam, (cv.w, cv.h), body_top, c.x - hw..c.x + hw, c.z..z_cab, |i, j| {
        cv.put(i, j, id::CAR, c.id, car_color(c, Part::Body(0.6), 1.02));
    });

    // The body's end facing the camera: lights, number plate, tyres below.
    let z = c.z;
    for j in span(cam.y_of(body_top, z), cam.y_of(0.0, z), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z);
        for i in span(cam.x_of(c.x - hw, z), cam.x_of(c.x + hw, z), cv.w) {
            let dx = (cam.wx(i as f32 + 0.5, z) - c.x).abs();
            let part = if yw < clearance {
                if dx > hw - 0.32 && dx < hw - 0.05 {
                    Part::Tyre
                } else {
                    continue;
                }
            } else {
                let t = (yw - clearance) / (body_top - clearance);
                // Rounded lower corners.
                if dx > hw - 0.08 * (1.0 - (t / 0.3).min(1.0)) {
                    continue;
                }
                if t > 0.55 && t < 0.82 && dx > hw - 0.3 && dx < hw - 0.04 {
                    Part::Light
                } else if dx < 0.26 && (0.12..0.42).contains(&t) {
                    Part::Plate
                } else {
                    Part::Body(t)
                }
            };
            cv.put(i, j, id::CAR, c.id, car_color(c, part, 1.02));
        }
    }
}

fn draw_person(cv: &mut Canvas, lay: &Layout, p: &Person) {
    let cam = &lay.cam;
    let z = p.z;
    if z < 0.5 {
        return;
    }
    let s = p.height / 1.75;
    let hh = p.height;
    for j in span(cam.y_of(hh, z), cam.y_of(0.0, z), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z);
        for i in span(cam.x_of(p.x - 0.3 * s, z), cam.x_of(p.x + 0.3 * s, z), cv.w) {
            let dx = cam.wx(i as f32 + 0.5, z) - p.x;
            let ax = dx.abs();
            let head_c = hh - 0.115 * s;
            let hip = 0.88 * s;
            let shoulder = hh - 0.25 * s;
            let c = if (dx * dx + (yw - head_c).powi(2)).sqrt() < 0.105 * s {
                if yw > head_c + 0.03 * s { p.hair } else { p.skin }
            } else if ax < 0.045 * s && yw >= shoulder && yw < head_c {
                p.skin
            } else if yw >= hip - 0.04 * s && yw < shoulder + 0.02 * s && ax < 0.19 * s {
                scale(p.shirt, 0.9 + 0.2 * (yw - hip) / (shoulder - hip))
            } else if ax >= 0.19 * s && ax < 0.265 * s && yw >= 0.8 * s && yw < shoulder - 0.01 * s {
                if yw < 0.88 * s { p.skin } else { scale(p.shirt, 0.85) }
            } else if yw < hip {
                // Legs apart by the stride, meeting at the hip.
                let spread = 0.09 * s + p.stride * (hip - yw) / hip * 0.5 * s;
                if (ax - spread).abs() < 0.07 * s {
                    if yw < 0.06 * s { [30.0, 28.0, 28.0] } else { scale(p.trousers, 0.9 + 0.15 * yw / hip) }
                } else {
                    continue;
                }
            } else {
                continue;
            };
            cv.put(i, j, id::PERSON, p.id, c);
        }
    }
}

fn draw_pole(cv: &mut Canvas, lay: &Layout, p: &Pole) {
    let cam = &lay.cam;
    let look = &lay.look;
    let z = p.z;
    if z < 0.5 {
        return;
    }
    let metal = rgb(POLE_MODES[look.pole].rgb);
    let (ax0, ax1) = (p.x.min(p.x + p.arm), p.x.max(p.x + p.arm));
    let lamp_x = p.x + p.arm;
    let plate = rgb(SIGN_MODES[look.sign].rgb);
    let (sx, sy, size) = p.sign.unwrap_or((0.0, -10.0, 0.0));
    let x_lo = ax0.min(p.x - p.r).min(p.x + sx - size) - 0.35;
    let x_hi = ax1.max(p.x + p.r).max(p.x + sx + size) + 0.35;
    for j in span(cam.y_of(p.height + 0.05, z), cam.y_of(0.0, z), cv.h) {
        let yw = cam.wy(j as f32 + 0.5, z);
        for i in span(cam.x_of(x_lo, z), cam.x_of(x_hi, z), cv.w) {
            let x = cam.wx(i as f32 + 0.5, z);
            // Sign plate first: it hangs in front of the pole.
            let (u, v) = (x - (p.x + sx), yw - sy);
            let half = size / 2.0;
            let sign = size > 0.0
                && match lay.sign_shape {
                    SignShape::Square => u.abs() < half && v.abs() < half,
                    SignShape::Disc => u * u + v * v < half * half,
                    SignShape::Diamond => u.abs() + v.abs() < half * 1.15,
                };
            if sign {
                let r = (u * u + v * v).sqrt() / half;
                let c = match lay.sign_shape {
                    SignShape::Square if u.abs() < half * 0.35 && v.abs() < half * 0.55 => [235.0, 235.0, 235.0],
                    SignShape::Disc if r < 0.45 => [238.0, 238.0, 238.0],
                    SignShape::Diamond if u.abs() + v.abs() > half * 1.0 => [25.0, 25.0, 25.0],
                    _ => plate,
                };
                cv.put(i, j, id::TRAFFIC_SIGN, id::TRAFFIC_SIGN as u32, haze(look, c, z));
                continue;
            }
            let d = (x - p.x).abs() / p.r;
            let on_arm = p.arm != 0.0 && x >= ax0 && x <= ax1 && yw > p.height - 0.12 && yw <= p.height;
            let on_lamp = p.arm != 0.0 && (x - lamp_x).abs() < 0.3 && yw > p.height - 0.22 && yw <= p.height;
            let c = if d < 1.0 && yw <= p.height {
                scale(metal, 1.08 - 0.45 * d * d)
            } else if on_lamp {
                scale(metal, if yw < p.height - 0.16 { 1.5 } else { 0.8 })
            } else if on_arm {
                scale(metal, 0.95)
            } else {
                continue;
            };
            cv.put(i, j, id::POLE, id::POLE as u32, haze(look, c, z));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Noise: hashed so that any pixel's texture is a pure function of its coordinates (no sequential state)
// ---------------------------------------------------------------------------------------------------------------------

#[inline]
fn hash3(a: u32, b: u32, c: u32) -> u32 {
    let mut h = a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 16;
    h = h.wrapping_mul(0x7FEB_352D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846C_A68B);
    h ^ (h >> 16)
}

/// Uniform in [0, 1).
#[inline]
fn h01(a: u32, b: u32, c: u32) -> f32 {
    (hash3(a, b, c) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [0, 1] with unit lattice spacing.
fn vnoise(x: f32, y: f32, salt: u32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (xi, yi) = (xf as i32 as u32, yf as i32 as u32);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = h01(xi, yi, salt);
    let b = h01(xi.wrapping_add(1), yi, salt);
    let c = h01(xi, yi.wrapping_add(1), salt);
    let d = h01(xi.wrapping_add(1), yi.wrapping_add(1), salt);
    let top = a + (b - a) * sx;
    let bot = c + (d - c) * sx;
    top + (bot - top) * sy
}

/// Three octaves of value noise, in [0, 1].
fn fbm(x: f32, y: f32, salt: u32) -> f32 {
    0.5 * vnoise(x, y, salt)
        + 0.3 * vnoise(x * 2.03 + 17.1, y * 2.03 + 3.7, salt ^ 0xA5)
        + 0.2 * vnoise(x * 4.11 + 5.3, y * 4.11 + 11.9, salt ^ 0x5A)
}

// ---------------------------------------------------------------------------------------------------------------------
// Writing a data set
// ---------------------------------------------------------------------------------------------------------------------

/// How [`write_dataset`] treats existing output and the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Replace the scenes in split folders that already hold files (their `NNNNN.png` / `NNNNN.json` files are
    /// removed first, so a smaller data set never inherits stale scenes from a larger one).
    pub force: bool,
    pub show_progress: bool,
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub train: usize,
    pub test: usize,
    pub folders: Vec<PathBuf>,
}

const KINDS: [&str; 4] = ["label", "inst", "img", "meta"];

/// Writes `n_train` + `n_test` scenes under `out` in the pix2pixHD layout: `{train,test}_label/NNNNN.png` (8-bit ids),
/// `_inst/` (16-bit ids), `_img/` (RGB) and `_meta/NNNNN.json` (sidecars). Training scene `i` is scene index `i`, test
/// scene `i` is index [`TEST_INDEX_BASE`]` + i`. Scenes are generated in parallel on the current rayon pool; each
/// file is written atomically (temporary file, then rename).
pub fn write_dataset(
    out: &Path,
    n_train: usize,
    n_test: usize,
    cfg: &SynthConfig,
    opts: &WriteOptions,
) -> Result<DatasetSummary, SynthError> {
    cfg.validate()?;
    let splits = [("train", n_train, 0u64), ("test", n_test, TEST_INDEX_BASE)];
    let mut folders = Vec::new();
    for &(phase, n, _) in &splits {
        if n == 0 {
            continue;
        }
        for kind in KINDS {
            let dir = out.join(format!("{phase}_{kind}"));
            prepare_dir(&dir, opts.force)?;
            folders.push(dir);
        }
    }

    let mut jobs = Vec::new();
    for &(phase, n, base) in &splits {
        let digits = n.saturating_sub(1).to_string().len().max(5);
        jobs.extend((0..n).map(|i| (phase, format!("{i:0digits$}"), base + i as u64)));
    }
    let pb = if opts.show_progress { ProgressBar::new(jobs.len() as u64) } else { ProgressBar::hidden() };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} synth [{elapsed_precise}] [{bar:36}] {pos}/{len} scenes  {rate}  ETA {eta}",
        )
        .expect("static template is valid")
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", s.per_sec());
        })
        .progress_chars("=> "),
    );
    jobs.par_iter().try_for_each(|(phase, stem, index)| {
        let scene = generate_scene(cfg, *index);
        write_scene(out, phase, stem, &scene)?;
        pb.inc(1);
        Ok::<(), SynthError>(())
    })?;
    pb.finish_and_clear();
    Ok(DatasetSummary { train: n_train, test: n_test, folders })
}

/// Whether `name` is one of the files this generator writes (`00042.png`, `00042.json`).
fn is_scene_file(name: &str) -> bool {
    let stem = name.strip_suffix(".png").or_else(|| name.strip_suffix(".json"));
    stem.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

fn prepare_dir(dir: &Path, force: bool) -> Result<(), SynthError> {
    let io_err = |source| SynthError::Io { path: dir.to_path_buf(), source };
    if dir.is_dir() {
        let entries: Vec<_> = fs::read_dir(dir).map_err(io_err)?.collect::<Result<_, _>>().map_err(io_err)?;
        if !entries.is_empty() {
            if !force {
                return Err(SynthError::NotEmpty { dir: dir.to_path_buf() });
            }
            for e in entries {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if is_scene_file(&name) || (name.starts_with('.') && name.ends_with(".tmp")) {
                    let path = e.path();
                    fs::remove_file(&path).map_err(|source| SynthError::Io { path, source })?;
                }
            }
        }
    }
    fs::create_dir_all(dir).map_err(io_err)
}

fn write_scene(out: &Path, phase: &str, stem: &str, scene: &Scene) -> Result<(), SynthError> {
    let png = |kind: &str| out.join(format!("{phase}_{kind}")).join(format!("{stem}.png"));
    let (p_label, p_inst, p_img) = (png("label"), png("inst"), png("img"));
    let p_meta = out.join(format!("{phase}_meta")).join(format!("{stem}.json"));

    let encode = |path: &Path, f: &dyn Fn(PngEncoder<&mut Vec<u8>>) -> image::ImageResult<()>| {
        let mut buf = Vec::new();
        // Fast deflate: the data set is written once and read many times, but the time limit is on writing it.
        f(PngEncoder::new_with_quality(&mut buf, CompressionType::Fast, FilterType::Adaptive))
            .map_err(|source| SynthError::Encode { path: path.to_path_buf(), source })?;
        write_atomic(path, &buf)
    };
    encode(&p_label, &|e| scene.label_image().write_with_encoder(e))?;
    encode(&p_inst, &|e| scene.inst_image().write_with_encoder(e))?;
    encode(&p_img, &|e| scene.rgb_image().write_with_encoder(e))?;
    let json =
        serde_json::to_vec_pretty(&scene.meta).map_err(|source| SynthError::Json { path: p_meta.clone(), source })?;
    write_atomic(&p_meta, &json)
}

/// Writes through a temporary file in the same folder and renames it into place, so a crash or Ctrl-C never leaves a
/// half-written scene under its final name.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let res = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    res.map_err(|source| {
        let _ = fs::remove_file(&tmp);
        SynthError::Io { path: path.to_path_buf(), source }
    })
}

// ---------------------------------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------------------------------

/// `pix2pixhd synth`: write a synthetic street-scene data set.
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Data set folder; gets train_label/ (8-bit label ids), train_inst/ (16-bit instance ids), train_img/ (RGB),
    /// train_meta/ (JSON: the appearance mode of every object and stuff class), and the same for test_*.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of training scenes.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub train: usize,
    /// Number of test scenes (drawn from their own scene indices, so they never repeat a training scene).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub test: usize,
    /// Image width in pixels.
    #[arg(long, default_value_t = 2048)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = 1024)]
    pub height: u32,
    /// Seed; the same seed gives byte-identical files at any --jobs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Re-draw what the label map does not show from this seed: the fine texture (sensor noise, clouds, grain, setts,
    /// slabs, bricks, grass, stains, dark or lit windows, leaves) and the details inside regions (window grids, shop
    /// fronts, lane dashes, zebra crossings). Everything else stays as with 0, the data set's own: the same label and
    /// instance maps, modes, colours and lighting. `eval-model --texture-floor` uses it to measure how much of a
    /// photo no label map can predict; it also gives more photos of the same streets.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub texture_seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Replace the scenes in split folders that already hold files.
    #[arg(long)]
    pub force: bool,
    /// Do not show the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let cfg = SynthConfig { width: args.width, height: args.height, seed: args.seed, texture_seed: args.texture_seed };
    cfg.validate()?;
    if args.train + args.test == 0 {
        anyhow::bail!("nothing to do: --train and --test are both 0");
    }
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.jobs {
        anyhow::ensure!(n > 0, "--jobs must be at least 1 (got 0)");
        pool = pool.num_threads(n);
    }
    let pool = pool.build().context("cannot start the worker threads")?;
    let opts = WriteOptions { force: args.force, show_progress: !args.quiet };
    let t0 = Instant::now();
    let sum = pool.install(|| write_dataset(&args.out, args.train, args.test, &cfg, &opts))?;
    let secs = t0.elapsed().as_secs_f64();
    let n = sum.train + sum.test;
    eprintln!(
        "wrote {} train + {} test scenes ({}x{}, seed {}{}) to {} in {:.1} s ({:.1} scenes/s)",
        sum.train,
        sum.test,
        cfg.width,
        cfg.height,
        cfg.seed,
        if cfg.texture_seed == 0 { String::new() } else { format!(", texture seed {}", cfg.texture_seed) },
        args.out.display(),
        secs,
        n as f64 / secs.max(1e-9)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    const TINY: SynthConfig = SynthConfig { width: 128, height: 64, seed: 7, texture_seed: 0 };

    fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for sub in fs::read_dir(dir).unwrap() {
            let sub = sub.unwrap().path();
            for f in fs::read_dir(&sub).unwrap() {
                let f = f.unwrap().path();
                out.insert(f.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&f).unwrap());
            }
        }
        out
    }

    fn write_with_threads(dir: &Path, threads: usize, cfg: &SynthConfig) {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| write_dataset(dir, 3, 2, cfg, &WriteOptions::default())).unwrap();
    }

    #[test]
    fn same_seed_gives_byte_identical_files_at_any_thread_count() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_with_threads(a.path(), 1, &TINY);
        write_with_threads(b.path(), 2, &TINY);
        let (fa, fb) = (files_under(a.path()), files_under(b.path()));
        assert_eq!(fa.len(), 5 * 4, "3 train + 2 test scenes, 4 files each: {:?}", fa.keys());
        assert_eq!(fa, fb);
        assert!(fa.contains_key(Path::new("train_label/00002.png")));
        assert!(fa.contains_key(Path::new("test_meta/00001.json")));
    }

    #[test]
    fn a_texture_seed_changes_the_texture_and_nothing_else() {
        // 512x256: at 128x64 most textures are faded out as finer than a pixel.
        let cfg = SynthConfig { width: 512, height: 256, ..TINY };
        let own = generate_scene(&cfg, 3);
        let other = generate_scene(&SynthConfig { texture_seed: 1, ..cfg }, 3);
        let third = generate_scene(&SynthConfig { texture_seed: 2, ..cfg }, 3);
        assert_eq!(own.label, other.label);
        assert_eq!(own.inst, other.inst);
        assert_eq!((&own.meta.stuff, &own.meta.instances), (&other.meta.stuff, &other.meta.instances));
        assert_eq!((own.meta.texture_seed, other.meta.texture_seed), (0, 1));
        let differ = |a: &Scene, b: &Scene| a.rgb.iter().zip(&b.rgb).filter(|(x, y)| x != y).count();
        let n = own.rgb.len();
        assert!(differ(&own, &other) > n / 2, "{} of {n} values changed", differ(&own, &other));
        assert!(differ(&other, &third) > n / 2);
        // Objects (cars, people, ...) carry no texture but sensor noise, which is zero-mean: their mean colours, what
        // the encoder's style features describe, stay within a level or two. (Stuff regions may move more: clouds
        // drift, a different set of windows is lit.)
        let (m0, m1) = (region_mean_colours(&own.inst, &own.rgb), region_mean_colours(&other.inst, &other.rgb));
        let mut objects = 0;
        for (id, (c0, px)) in m0.iter().filter(|(id, (_, px))| **id >= 1000 && *px >= 100) {
            let c1 = m1[id].0;
            let d = (0..3).map(|k| (c0[k] - c1[k]).abs()).fold(0.0, f64::max);
            assert!(d < 2.5, "object {id} ({px} px): {c0:?} vs {c1:?}");
            objects += 1;
        }
        assert!(objects > 0, "scene 3 should show an object of 100 px or more");
        // And the sidecar says which texture seed drew it (and nothing when it is the data set's own).
        let json = serde_json::to_string(&own.meta).unwrap();
        assert!(!json.contains("texture_seed"), "{json}");
        assert!(serde_json::to_string(&other.meta).unwrap().contains("\"texture_seed\":1"));
        let back: SceneMeta = serde_json::from_str(&json).unwrap();
        assert_eq!(back, own.meta);
    }

    #[test]
    fn a_texture_seed_redraws_window_grids_and_lane_dashes_within_their_ranges() {
        let mut rng = Pcg64::seed_from_u64(scene_seed(0, 11));
        let own = sample_layout(&mut rng, 512, 256);
        let mut rng = Pcg64::seed_from_u64(scene_seed(0, 11));
        let mut lay = sample_layout(&mut rng, 512, 256);
        lay.look.tex = 12345;
        redraw_unseen_details(&mut lay);
        let facades = |l: &Layout| -> Vec<Facade> {
            let mut v: Vec<Facade> = l.closure.iter().map(|(_, st)| *st).collect();
            v.extend(l.background.iter().filter_map(|b| if let Bg::Block(b) = b { Some(b.style) } else { None }));
            v
        };
        let (a, b) = (facades(&own), facades(&lay));
        assert!(!a.is_empty() && a.len() == b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_ne!((x.floor_h, x.bay), (y.floor_h, y.bay));
            assert_eq!((x.tint, x.salt), (y.tint, y.salt), "colours are kept");
            assert!((3.0..=3.6).contains(&y.floor_h) && (2.4..=3.6).contains(&y.bay), "{}, {}", y.floor_h, y.bay);
            assert!(y.win_w < y.bay && y.win_h + y.sill < y.floor_h && (3.6..=4.6).contains(&y.ground_h));
        }
        let (s0, s1) = (&own.street, &lay.street);
        assert_ne!(s0.dash_phase, s1.dash_phase);
        assert!((2.5..=4.0).contains(&s1.dash_len) && s1.dash_phase <= s1.dash_period);
        assert_eq!((&s0.road, &s0.lane_lines), (&s1.road, &s1.lane_lines), "the road itself is kept");
    }

    /// Mean colour and pixel count of every instance-map region.
    fn region_mean_colours(inst: &[u32], rgb: &[u8]) -> BTreeMap<u32, ([f64; 3], usize)> {
        let mut sums: BTreeMap<u32, ([f64; 3], usize)> = BTreeMap::new();
        for (p, &id) in inst.iter().enumerate() {
            let e = sums.entry(id).or_default();
            for k in 0..3 {
                e.0[k] += f64::from(rgb[3 * p + k]);
            }
            e.1 += 1;
        }
        for e in sums.values_mut() {
            e.0 = e.0.map(|v| v / e.1 as f64);
        }
        sums
    }

    #[test]
    fn different_seeds_and_splits_give_different_scenes() {
        let a = generate_scene(&TINY, 0);
        let b = generate_scene(&SynthConfig { seed: 8, ..TINY }, 0);
        let c = generate_scene(&TINY, TEST_INDEX_BASE);
        let d = generate_scene(&TINY, 1);
        for other in [&b, &c, &d] {
            assert_ne!(a.rgb, other.rgb);
            assert_ne!(a.label, other.label);
        }
    }

    #[test]
    fn instance_ids_agree_with_labels() {
        for index in 0..24 {
            let s = generate_scene(&TINY, index);
            for (k, (&l, &v)) in s.label.iter().zip(&s.inst).enumerate() {
                if labels::has_instances(l) {
                    assert!(v >= 1000 && v / 1000 == l as u32, "scene {index} pixel {k}: label {l}, inst {v}");
                } else {
                    assert_eq!(v, l as u32, "scene {index} pixel {k}: stuff pixel with instance value {v}");
                }
            }
            // Renumbered per class from 0 without holes.
            let ids: BTreeSet<u32> = s.inst.iter().copied().filter(|&v| v >= 1000).collect();
            let mut per_class: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for v in ids {
                per_class.entry(v / 1000).or_default().push(v % 1000);
            }
            for ks in per_class.values() {
                assert_eq!(*ks, (0..ks.len() as u32).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn sidecar_names_every_region_with_a_mode() {
        for index in 0..24 {
            let s = generate_scene(&TINY, index);
            let mut stuff_px: BTreeMap<u8, u64> = BTreeMap::new();
            let mut inst_px: BTreeMap<u32, u64> = BTreeMap::new();
            for (&l, &v) in s.label.iter().zip(&s.inst) {
                if v >= 1000 {
                    *inst_px.entry(v).or_default() += 1;
                } else {
                    *stuff_px.entry(l).or_default() += 1;
                }
            }
            let stuff: BTreeMap<u8, &StuffMeta> = s.meta.stuff.iter().map(|e| (e.class, e)).collect();
            assert_eq!(stuff.keys().copied().collect::<Vec<_>>(), stuff_px.keys().copied().collect::<Vec<_>>());
            for (class, e) in &stuff {
                let table = modes(*class);
                assert!(!table.is_empty(), "scene {index}: no mode table for drawn class {class}");
                assert_eq!(table[e.mode_index].name, e.mode);
                assert_eq!(e.pixels, stuff_px[class]);
                assert_eq!(labels::label(*class).unwrap().name, e.name);
            }
            let inst: BTreeMap<u32, &InstanceMeta> = s.meta.instances.iter().map(|e| (e.id, e)).collect();
            assert_eq!(inst.keys().copied().collect::<Vec<_>>(), inst_px.keys().copied().collect::<Vec<_>>());
            for (v, e) in &inst {
                assert_eq!(e.class as u32, v / 1000);
                assert_eq!(modes(e.class)[e.mode_index].name, e.mode);
                assert_eq!(e.pixels, inst_px[v]);
            }
            let json = serde_json::to_string(&s.meta).unwrap();
            assert_eq!(serde_json::from_str::<SceneMeta>(&json).unwrap(), s.meta);
        }
    }

    #[test]
    fn scenes_have_several_cars_and_every_mode_gets_used() {
        assert!(CAR_MODES.len() >= 5 && BUILDING_MODES.len() >= 3);
        let mut used: HashMap<u8, BTreeSet<usize>> = HashMap::new();
        let mut cars = 0;
        let n = 60;
        for index in 0..n {
            let s = generate_scene(&TINY, index);
            cars += s.meta.instances.iter().filter(|e| e.class == id::CAR).count();
            for e in &s.meta.instances {
                used.entry(e.class).or_default().insert(e.mode_index);
            }
            for e in &s.meta.stuff {
                used.entry(e.class).or_default().insert(e.mode_index);
            }
        }
        assert!(cars >= 3 * n as usize, "only {cars} visible cars in {n} scenes");
        for class in [id::CAR, id::PERSON, id::ROAD, id::SIDEWALK, id::BUILDING, id::SKY, id::VEGETATION, id::TERRAIN] {
            let got = used.get(&class).map_or(0, BTreeSet::len);
            assert_eq!(got, modes(class).len(), "class {class}: only {got} of its modes were drawn");
        }
    }

    #[test]
    fn car_modes_are_well_separated() {
        for (i, a) in CAR_MODES.iter().enumerate() {
            for b in &CAR_MODES[i + 1..] {
                let d = (0..3).map(|c| (a.rgb[c] as f32 - b.rgb[c] as f32).powi(2)).sum::<f32>().sqrt();
                assert!(d > 80.0, "{} and {} are only {d:.0} apart", a.name, b.name);
            }
        }
        assert_eq!(nearest_mode(&CAR_MODES, [200.0, 40.0, 30.0]), Some(0));
        assert_eq!(nearest_mode(&[], [0.0; 3]), None);
    }

    #[test]
    fn car_mean_colour_is_nearest_its_mode() {
        // What style-control measurements rely on: the mean colour over a car's whole mask (body, glass, wheels)
        // identifies the mode it was drawn with.
        let cfg = SynthConfig { width: 256, height: 128, seed: 3, texture_seed: 0 };
        let mut checked = 0;
        for index in 0..40 {
            let s = generate_scene(&cfg, index);
            let mut sums: HashMap<u32, ([f64; 3], u64)> = HashMap::new();
            for (k, &v) in s.inst.iter().enumerate() {
                if v / 1000 == id::CAR as u32 {
                    let e = sums.entry(v).or_default();
                    for c in 0..3 {
                        e.0[c] += s.rgb[k * 3 + c] as f64;
                    }
                    e.1 += 1;
                }
            }
            for e in s.meta.instances.iter().filter(|e| e.class == id::CAR && e.pixels >= 60) {
                let (sum, n) = sums[&e.id];
                let mean = sum.map(|v| (v / n as f64) as f32);
                let got = nearest_mode(&CAR_MODES, mean).unwrap();
                assert_eq!(
                    CAR_MODES[got].name, e.mode,
                    "scene {index} car {} ({} px): mean {mean:?} is nearest {}",
                    e.id, e.pixels, CAR_MODES[got].name
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} cars checked");
    }

    #[test]
    fn pngs_read_back_with_cityscapes_bit_depths() {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), 1, 0, &TINY, &WriteOptions::default()).unwrap();
        let scene = generate_scene(&TINY, 0);
        let label = image::open(dir.path().join("train_label/00000.png")).unwrap();
        let inst = image::open(dir.path().join("train_inst/00000.png")).unwrap();
        let img = image::open(dir.path().join("train_img/00000.png")).unwrap();
        assert_eq!(label.color(), image::ColorType::L8);
        assert_eq!(inst.color(), image::ColorType::L16);
        assert_eq!(img.color(), image::ColorType::Rgb8);
        assert_eq!(label.into_luma8().into_raw(), scene.label);
        let inst: Vec<u32> = inst.into_luma16().into_raw().into_iter().map(u32::from).collect();
        assert_eq!(inst, scene.inst);
        assert!(inst.iter().any(|&v| v >= 26000), "expected cars in the instance map");
        assert_eq!(img.into_rgb8().into_raw(), scene.rgb);
        let meta: SceneMeta =
            serde_json::from_slice(&fs::read(dir.path().join("train_meta/00000.json")).unwrap()).unwrap();
        assert_eq!(meta, scene.meta);
        // No temporary files left behind.
        for sub in fs::read_dir(dir.path()).unwrap() {
            for f in fs::read_dir(sub.unwrap().path()).unwrap() {
                let name = f.unwrap().file_name();
                assert!(is_scene_file(&name.to_string_lossy()), "stray file {name:?}");
            }
        }
    }

    #[test]
    fn refuses_non_empty_split_folders_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WriteOptions::default();
        write_dataset(dir.path(), 3, 0, &TINY, &opts).unwrap();
        fs::write(dir.path().join("train_img/notes.txt"), "mine").unwrap();
        let err = write_dataset(dir.path(), 2, 0, &TINY, &opts).unwrap_err();
        assert!(matches!(&err, SynthError::NotEmpty { dir: d } if d.ends_with("train_label")), "{err}");
        assert!(err.to_string().contains("--force"));
        // A test split into an empty place is fine alongside an existing train split.
        write_dataset(dir.path(), 0, 1, &TINY, &opts).unwrap();
        let forced = WriteOptions { force: true, ..opts };
        write_dataset(dir.path(), 2, 0, &TINY, &forced).unwrap();
        assert!(!dir.path().join("train_img/00002.png").exists(), "stale scene from the larger run survived");
        assert!(dir.path().join("train_img/00001.png").exists());
        assert!(dir.path().join("train_img/notes.txt").exists(), "--force must only remove scene files");
    }

    #[test]
    fn rejects_unsupported_sizes() {
        let cfg = SynthConfig { width: 8, height: 64, seed: 0, texture_seed: 0 };
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_dataset(dir.path(), 1, 0, &cfg, &WriteOptions::default()),
            Err(SynthError::BadSize { .. })
        ));
    }

    #[test]
    fn a_seed_shows_the_same_street_at_any_resolution() {
        let small = generate_scene(&TINY, 5);
        let big = generate_scene(&SynthConfig { width: 512, height: 256, ..TINY }, 5);
        let modes_of = |s: &Scene| s.meta.stuff.iter().map(|e| (e.class, e.mode_index)).collect::<BTreeMap<_, _>>();
        let (a, b) = (modes_of(&small), modes_of(&big));
        for (class, mode) in &a {
            assert_eq!(b.get(class), Some(mode), "class {class}");
        }
        // Downsampling the big label map 4x lands on the small one almost everywhere (edges may differ).
        let same = (0..64 * 128)
            .filter(|&k| {
                let (i, j) = (k % 128, k / 128);
                small.label[k] == big.label[(j * 4 + 2) * 512 + i * 4 + 2]
            })
            .count();
        assert!(same as f32 > 0.9 * (64.0 * 128.0), "only {same} of {} pixels agree", 64 * 128);
    }
}
