//! Rasterising: colours, the canvas every pixel is written to with its class and instance, the sky and the ground,
//! and the hashed noise that makes any pixel's texture a pure function of its coordinates.

use super::*;
use crate::labels::id;
use std::ops::Range;

pub(super) type Rgb = [f32; 3];

pub(super) fn rgb(c: [u8; 3]) -> Rgb {
    c.map(f32::from)
}
pub(super) fn scale(c: Rgb, k: f32) -> Rgb {
    c.map(|v| v * k)
}
pub(super) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}
pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}
/// How much of a texture detail of `size` metres to show where a pixel spans `fp` metres: full from 3 pixels up,
/// none below 1, so distant patterns fade to their mean instead of aliasing.
pub(super) fn detail(fp: f32, size: f32) -> f32 {
    smoothstep(1.0, 3.0, size / fp)
}
/// Fraction of a pixel (`fp` wide) covered by a band of half-width `hw` at distance `d` from the pixel centre.
/// Used for paint lines so that they thin out smoothly; labels stay crisp because paint only changes colour.
pub(super) fn coverage(d: f32, hw: f32, fp: f32) -> f32 {
    let overlap = (d + 0.5 * fp).min(hw) - (d - 0.5 * fp).max(-hw);
    (overlap / fp).clamp(0.0, 1.0)
}

/// Pixel indices whose centres lie in `[a, b)`, clamped to `0..n`. Sampling at centres keeps label edges crisp.
pub(super) fn span(a: f32, b: f32, n: usize) -> Range<usize> {
    let nf = n as f32;
    let lo = (a - 0.5).ceil().clamp(0.0, nf);
    let hi = (b - 0.5).ceil().clamp(0.0, nf);
    let (lo, hi) = (lo as usize, hi as usize);
    lo..hi.max(lo)
}

pub(super) struct Canvas {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) label: Vec<u8>,
    pub(super) inst: Vec<u32>,
    pub(super) rgb: Vec<Rgb>,
}

impl Canvas {
    pub(super) fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, label: vec![0; w * h], inst: vec![0; w * h], rgb: vec![[0.0; 3]; w * h] }
    }
    #[inline]
    pub(super) fn put(&mut self, i: usize, j: usize, class: u8, inst: u32, c: Rgb) {
        let k = j * self.w + i;
        self.label[k] = class;
        self.inst[k] = inst;
        self.rgb[k] = c;
    }
}

pub(super) fn haze(look: &Look, c: Rgb, z: f32) -> Rgb {
    mix(c, look.haze, 1.0 - (-z / look.haze_dist).exp())
}

pub(super) fn draw_sky(cv: &mut Canvas, lay: &Layout) {
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

pub(super) fn draw_ground(cv: &mut Canvas, lay: &Layout) {
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
pub(super) fn tiles(
    u: f32,
    v: f32,
    (su, sv): (f32, f32),
    joint: f32,
    stagger: bool,
    salt: u32,
    fp: f32,
) -> (f32, f32, f32) {
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

pub(super) fn ground_at(lay: &Layout, x: f32, z: f32, fp: f32) -> (u8, Rgb) {
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

// ---------------------------------------------------------------------------------------------------------------------
// Noise: hashed so that any pixel's texture is a pure function of its coordinates (no sequential state)
// ---------------------------------------------------------------------------------------------------------------------

#[inline]
pub(super) fn hash3(a: u32, b: u32, c: u32) -> u32 {
    let mut h = a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 16;
    h = h.wrapping_mul(0x7FEB_352D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x846C_A68B);
    h ^ (h >> 16)
}

/// Uniform in [0, 1).
#[inline]
pub(super) fn h01(a: u32, b: u32, c: u32) -> f32 {
    (hash3(a, b, c) >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Smooth value noise in [0, 1] with unit lattice spacing.
pub(super) fn vnoise(x: f32, y: f32, salt: u32) -> f32 {
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
pub(super) fn fbm(x: f32, y: f32, salt: u32) -> f32 {
    0.5 * vnoise(x, y, salt)
        + 0.3 * vnoise(x * 2.03 + 17.1, y * 2.03 + 3.7, salt ^ 0xA5)
        + 0.2 * vnoise(x * 4.11 + 5.3, y * 4.11 + 11.9, salt ^ 0x5A)
}
