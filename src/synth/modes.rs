//! The appearance modes scenes are drawn in (car paint, road surface, facade family, ...), which the sidecars name
//! and `eval-styles` scores against.

use crate::labels::id;

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
