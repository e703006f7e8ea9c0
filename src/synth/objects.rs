//! Drawing the things of a street onto the canvas: facades and blocks, trees and hedges, cars, persons and poles.

use super::raster::*;
use super::*;
use crate::labels::id;
use std::ops::Range;

/// Facade colour at `(u, len)`: `u` metres along a face `len` long; `(yw, top)`: height `yw` on a block `top` high;
/// seen at depth `z` where a pixel spans `fp` metres.
pub(super) fn facade_color(
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

pub(super) fn draw_face(cv: &mut Canvas, lay: &Layout, face: &Face, st: &Facade, light: f32) {
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

pub(super) fn draw_block(cv: &mut Canvas, lay: &Layout, b: &Block) {
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

pub(super) fn draw_tree(cv: &mut Canvas, lay: &Layout, t: &Tree) {
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

pub(super) fn draw_hedge(cv: &mut Canvas, lay: &Layout, hd: &Hedge) {
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
pub(super) enum Part {
    Body(f32),
    Glass(f32),
    Tyre,
    Rim,
    Light,
    Plate,
}

pub(super) fn car_color(c: &Car, part: Part, face: f32) -> Rgb {
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
pub(super) fn hplane(
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
pub(super) fn draw_car(cv: &mut Canvas, lay: &Layout, c: &Car) {
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

pub(super) fn draw_person(cv: &mut Canvas, lay: &Layout, p: &Person) {
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

pub(super) fn draw_pole(cv: &mut Canvas, lay: &Layout, p: &Pole) {
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
