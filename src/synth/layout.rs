//! The street in metres, sampled from the scene's RNG only: camera, street, facades, trees, hedges, cars, persons,
//! poles, and the per-scene look (modes, light, haze).

use super::raster::*;
use super::*;
use crate::labels::{self, id};
use rand::Rng;
use rand_pcg::Pcg64;
use std::collections::BTreeMap;

impl Cam {
    pub(super) fn x_of(&self, x: f32, z: f32) -> f32 {
        self.vx + self.f * x / z
    }
    pub(super) fn y_of(&self, yw: f32, z: f32) -> f32 {
        self.hor + self.f * (self.h_cam - yw) / z
    }
    /// World X on the plane at depth `z` seen through column `xc`.
    pub(super) fn wx(&self, xc: f32, z: f32) -> f32 {
        (xc - self.vx) * z / self.f
    }
    /// World height on the plane at depth `z` seen through row `yc`.
    pub(super) fn wy(&self, yc: f32, z: f32) -> f32 {
        self.h_cam - (yc - self.hor) * z / self.f
    }
    /// Metres one pixel spans at depth `z`: the scale below which texture detail must fade out instead of aliasing.
    pub(super) fn footprint(&self, z: f32) -> f32 {
        z / self.f
    }
}

impl Look {
    pub(super) fn stuff_mode(&self, class: u8) -> usize {
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
    pub(super) fn clear(&self) -> bool {
        self.sky == 0
    }
}

impl Street {
    /// Distance of the building line from the camera axis on side `s` (0 left, 1 right).
    pub(super) fn building_line(&self, s: usize) -> f32 {
        self.road[s].abs() + self.walk[s] + self.strip[s]
    }
}

// Ranges of the details no label map shows, drawn once by `sample_layout` and again by `redraw_unseen_details`.
/// Facades: floor height and bay width (metres), window height and width as shares of a floor and a bay, the sill
/// as a share of the wall under and over a window, the ground floor's height, the odds of a shop front.
pub(super) const FLOOR_H: (f32, f32) = (3.0, 3.6);
pub(super) const BAY: (f32, f32) = (2.4, 3.6);
pub(super) const WIN_H: (f32, f32) = (0.42, 0.58);
pub(super) const WIN_W: (f32, f32) = (0.38, 0.58);
pub(super) const SILL: (f32, f32) = (0.4, 0.6);
pub(super) const GROUND_H: (f32, f32) = (3.6, 4.6);
pub(super) const SHOP_ODDS: f64 = 0.5;
/// Road paint: dash length and gap (metres), the odds of a zebra crossing and its distance.
pub(super) const DASH_LEN: (f32, f32) = (2.5, 4.0);
pub(super) const DASH_GAP: (f32, f32) = (5.0, 9.0);
pub(super) const CROSSWALK_ODDS: f64 = 0.25;
pub(super) const CROSSWALK_Z: (f32, f32) = (12.0, 30.0);

impl Obj {
    pub(super) fn near_z(&self) -> f32 {
        match self {
            Obj::Car(c) => c.z,
            Obj::Person(p) => p.z,
            Obj::Pole(p) => p.z,
            Obj::Tree(t) => t.z,
        }
    }
}

pub(super) fn uni(rng: &mut Pcg64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

pub(super) fn jitter(rng: &mut Pcg64, c: [u8; 3], bright: f32, chan: f32) -> Rgb {
    let b = uni(rng, -bright, bright);
    let mut out = rgb(c);
    for v in &mut out {
        *v = (*v + b + uni(rng, -chan, chan)).clamp(0.0, 255.0);
    }
    out
}

/// Samples the whole street. Only the camera's pixel scale depends on `w` and `h`; every random draw is independent of
/// them, so a seed shows the same street at every resolution.
pub(super) fn sample_layout(rng: &mut Pcg64, w: usize, h: usize) -> Layout {
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
        let v = labels::object_id(class, next_k[slot]);
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

pub(super) fn tree(rng: &mut Pcg64, x: f32, z: f32) -> Tree {
    let crown_r = uni(rng, 1.4, 3.0);
    Tree { x, z, trunk_h: uni(rng, 1.8, 3.5), trunk_r: uni(rng, 0.1, 0.2), crown_r, salt: rng.random() }
}
