//! The Cityscapes label table: class ids, names, display colours, and which classes have object instances.
//!
//! Ids are the `labelIds` that pix2pixHD one-hot encodes (`label_nc = 35`; ids 0..=33 are used). Instance maps store
//! `class * 1000 + k` for instance classes and the plain class id elsewhere.

/// One row of the label table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub id: u8,
    pub name: &'static str,
    pub color: [u8; 3],
    pub has_instances: bool,
}

const fn l(id: u8, name: &'static str, color: [u8; 3], has_instances: bool) -> Label {
    Label { id, name, color, has_instances }
}

/// Every Cityscapes class, indexed by id.
pub const LABELS: [Label; 34] = [
    l(0, "unlabeled", [0, 0, 0], false),
    l(1, "ego vehicle", [0, 0, 0], false),
    l(2, "rectification border", [0, 0, 0], false),
    l(3, "out of roi", [0, 0, 0], false),
    l(4, "static", [0, 0, 0], false),
    l(5, "dynamic", [111, 74, 0], false),
    l(6, "ground", [81, 0, 81], false),
    l(7, "road", [128, 64, 128], false),
    l(8, "sidewalk", [244, 35, 232], false),
    l(9, "parking", [250, 170, 160], false),
    l(10, "rail track", [230, 150, 140], false),
    l(11, "building", [70, 70, 70], false),
    l(12, "wall", [102, 102, 156], false),
    l(13, "fence", [190, 153, 153], false),
    l(14, "guard rail", [180, 165, 180], false),
    l(15, "bridge", [150, 100, 100], false),
    l(16, "tunnel", [150, 120, 90], false),
    l(17, "pole", [153, 153, 153], false),
    l(18, "polegroup", [153, 153, 153], false),
    l(19, "traffic light", [250, 170, 30], false),
    l(20, "traffic sign", [220, 220, 0], false),
    l(21, "vegetation", [107, 142, 35], false),
    l(22, "terrain", [152, 251, 152], false),
    l(23, "sky", [70, 130, 180], false),
    l(24, "person", [220, 20, 60], true),
    l(25, "rider", [255, 0, 0], true),
    l(26, "car", [0, 0, 142], true),
    l(27, "truck", [0, 0, 70], true),
    l(28, "bus", [0, 60, 100], true),
    l(29, "caravan", [0, 0, 90], true),
    l(30, "trailer", [0, 0, 110], true),
    l(31, "train", [0, 80, 100], true),
    l(32, "motorcycle", [0, 0, 230], true),
    l(33, "bicycle", [119, 11, 32], true),
];

/// Named ids used across the project (synthetic scenes, tests, the editor's defaults).
pub mod id {
    pub const UNLABELED: u8 = 0;
    pub const GROUND: u8 = 6;
    pub const ROAD: u8 = 7;
    pub const SIDEWALK: u8 = 8;
    pub const BUILDING: u8 = 11;
    pub const FENCE: u8 = 13;
    pub const POLE: u8 = 17;
    pub const TRAFFIC_LIGHT: u8 = 19;
    pub const TRAFFIC_SIGN: u8 = 20;
    pub const VEGETATION: u8 = 21;
    pub const TERRAIN: u8 = 22;
    pub const SKY: u8 = 23;
    pub const PERSON: u8 = 24;
    pub const RIDER: u8 = 25;
    pub const CAR: u8 = 26;
    pub const TRUCK: u8 = 27;
    pub const BUS: u8 = 28;
    pub const BICYCLE: u8 = 33;
}

/// The row for a class id, if the id is in the table.
pub fn label(id: u8) -> Option<&'static Label> {
    LABELS.get(id as usize)
}

/// Whether objects of this class get their own instance ids (`class * 1000 + k`).
pub fn has_instances(id: u8) -> bool {
    label(id).is_some_and(|l| l.has_instances)
}

/// The display colour of a class; ids outside the table are shown magenta so they stand out.
pub fn color(id: u8) -> [u8; 3] {
    label(id).map_or([255, 0, 255], |l| l.color)
}

/// Instance-map values of objects are `class * INSTANCE_BASE + k` (object `k` of the class, from 0); a value below
/// it is a bare class id: a stuff region, or a group of objects without instances of their own.
pub const INSTANCE_BASE: u32 = 1000;

/// Whether an instance-map value names one object rather than a class's region.
pub fn is_object(v: u32) -> bool {
    v >= INSTANCE_BASE
}

/// The instance-map value of object `k` of `class`.
pub fn object_id(class: u8, k: u32) -> u32 {
    u32::from(class) * INSTANCE_BASE + k
}

/// Which object of its class an instance-map value is (`k`); 0 for a bare class id.
pub fn object_index(v: u32) -> u32 {
    if is_object(v) { v % INSTANCE_BASE } else { 0 }
}

/// The class of an instance-map value, as pix2pixHD and Cityscapes define it.
pub fn class_of_instance(v: u32) -> u32 {
    if is_object(v) { v / INSTANCE_BASE } else { v }
}

/// The class id whose display colour is `rgb`. Several classes share black (0..=4) and one grey (17, 18); the
/// lowest id wins, which is what Cityscapes' own colour-to-id conversion does.
pub fn id_from_color(rgb: [u8; 3]) -> Option<u8> {
    LABELS.iter().find(|l| l.color == rgb).map(|l| l.id)
}

/// Looks a class up by name, ignoring case ("Car", "traffic sign").
pub fn id_from_name(name: &str) -> Option<u8> {
    LABELS.iter().find(|l| l.name.eq_ignore_ascii_case(name.trim())).map(|l| l.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_id() {
        for (i, l) in LABELS.iter().enumerate() {
            assert_eq!(l.id as usize, i);
        }
    }

    #[test]
    fn instance_classes_are_24_to_33() {
        let with: Vec<u8> = LABELS.iter().filter(|l| l.has_instances).map(|l| l.id).collect();
        assert_eq!(with, (24..=33).collect::<Vec<u8>>());
    }

    #[test]
    fn instance_values_map_to_classes() {
        assert_eq!(class_of_instance(26001), 26);
        assert_eq!(class_of_instance(24000), 24);
        assert_eq!(class_of_instance(7), 7);
        assert_eq!(class_of_instance(999), 999);
        assert_eq!(object_id(id::CAR, 3), 26003);
        assert!(is_object(26003) && !is_object(26));
        assert_eq!((object_index(26003), object_index(26)), (3, 0));
    }

    #[test]
    fn colours_and_names_round_trip() {
        assert_eq!(id_from_color([0, 0, 142]), Some(id::CAR));
        assert_eq!(id_from_color([0, 0, 0]), Some(0));
        assert_eq!(id_from_color([1, 2, 3]), None);
        assert_eq!(id_from_name("Traffic Sign"), Some(id::TRAFFIC_SIGN));
        assert_eq!(color(200), [255, 0, 255]);
    }
}
