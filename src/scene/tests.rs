//! Tests of the scene as a user meets it: what an edit paints, what undo gives back, what a file turns into.

use super::*;
use crate::labels::id::{BUILDING, BUS, CAR, PERSON, ROAD, SIDEWALK, SKY, VEGETATION};

const W: u32 = 32;
const H: u32 = 24;

/// A scene from a function giving each pixel's instance-map value.
fn scene_of(f: impl Fn(u32, u32) -> u32) -> Scene {
    let inst: Vec<u32> = (0..W * H).map(|i| f(i % W, i / W)).collect();
    let label = inst.iter().map(|&v| labels::class_of_instance(v) as u8).collect();
    Scene::from_maps(W, H, label, Some(inst)).expect("test scene is valid")
}

/// Sky above, buildings, road below; car 26000 on the road, a person 24000 standing in front of it, a second car
/// 26001 further right, and styles on both cars and on the road.
fn street() -> Scene {
    let mut s = scene_of(|x, y| match (x, y) {
        (13..=14, 13..=17) => 24000,
        (4..=15, 14..=18) => 26000,
        (22..=27, 15..=18) => 26001,
        (_, 0..=7) => SKY as u32,
        (_, 8..=12) => BUILDING as u32,
        _ => ROAD as u32,
    });
    for (key, style) in [(26000, StyleChoice::Cluster(3)), (26001, StyleChoice::Random), (7, StyleChoice::Cluster(1))] {
        let _ = s.set_style(key, style).unwrap();
    }
    s
}

fn ink(s: &Scene, class: u8) -> Ink {
    s.ink(class, InstanceMode::New).unwrap()
}

fn count(s: &Scene, value: u32) -> usize {
    s.inst().iter().filter(|&&v| v == value).count()
}

fn at(s: &Scene, x: u32, y: u32) -> u32 {
    s.inst()[(y * W + x) as usize]
}

#[test]
fn brush_dab_changes_exactly_the_disc_and_stays_crisp() {
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let sky = ink(&s, SKY);
    let change = s.paint_disc((10, 12), 3, sky);
    // Radius 3 covers the 37 pixels with dx² + dy² ≤ 12: a 7-pixel-wide round dab without tips.
    assert_eq!(count(&s, SKY as u32), 37);
    for (x, y, inside) in [(13, 12, true), (14, 12, false), (12, 14, true), (13, 14, false), (10, 15, true)] {
        assert_eq!(at(&s, x, y) == SKY as u32, inside, "pixel ({x}, {y})");
    }
    // Only the two classes exist afterwards, in both maps: no blended or stray values at the edge.
    assert!(s.label().iter().all(|&c| c == ROAD || c == SKY));
    assert!(s.inst().iter().all(|&v| v == ROAD as u32 || v == SKY as u32));
    assert_eq!(change.bounds(), Some(Rect { x: 7, y: 9, width: 7, height: 7 }));
    s.validate().unwrap();
}

#[test]
fn dab_at_the_border_is_clipped_and_one_off_the_map_changes_nothing() {
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let sky = ink(&s, SKY);
    let _ = s.paint_disc((0, 0), 2, sky);
    // The quarter of the radius-2 dab that lies in the map: columns of 3, 3 and 2 pixels.
    assert_eq!(count(&s, SKY as u32), 8);
    assert!(s.paint_disc((-10, 5), 3, sky).is_empty());
    let road = ink(&s, ROAD);
    assert!(s.paint_disc((20, 20), 3, road).is_empty(), "road onto road changes nothing");
}

#[test]
fn painting_an_instance_class_starts_a_new_object_unless_extending() {
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let first = ink(&s, CAR);
    let _ = s.paint_disc((5, 5), 2, first);
    assert_eq!(first.inst(), 26000);
    let second = ink(&s, CAR);
    assert_eq!(second.inst(), 26001, "a second stroke is a second car");
    assert_eq!(s.ink(CAR, InstanceMode::Extend(26000)).unwrap().inst(), 26000);
    // Extending a person while painting cars would break the class/instance match, so it starts a car.
    assert_eq!(s.ink(CAR, InstanceMode::Extend(24000)).unwrap().inst(), 26001);
    assert_eq!(s.ink(ROAD, InstanceMode::Extend(26000)).unwrap().inst(), ROAD as u32);
    assert_eq!(s.ink(40, InstanceMode::New), Err(EditError::UnknownClass { class: 40 }));
}

#[test]
fn new_instance_id_is_the_smallest_free_one_and_skips_styled_ids() {
    let mut s = street();
    assert_eq!(s.new_instance_id(CAR).unwrap(), 26002);
    assert_eq!(s.new_instance_id(BUS).unwrap(), 28000);
    // Car 26000 painted over entirely: its style stays for an undo, so a new car must not take its id and style.
    let road = ink(&s, ROAD);
    let _ = s.fill_rect((4, 14), (15, 18), road);
    assert_eq!(count(&s, 26000), 0);
    assert_eq!(s.new_instance_id(CAR).unwrap(), 26002);
    let _ = s.clear_style(26000);
    assert_eq!(s.new_instance_id(CAR).unwrap(), 26000);
    assert_eq!(s.new_instance_id(ROAD), Err(EditError::NotAnInstanceClass { class: ROAD }));
}

#[test]
fn a_stroke_of_many_dabs_is_one_undo_step() {
    let mut s = street();
    let original = s.clone();
    let mut h = History::new();
    let car = ink(&s, CAR);
    h.begin_stroke();
    let mut prev = (2, 2);
    for i in 0..30 {
        let next = (2 + i, 2 + (i * 2) % 20);
        let change = s.paint_line(prev, next, 2, car);
        h.record(&s, change);
        prev = next;
    }
    h.end_stroke();
    let painted = s.clone();
    assert_eq!(h.undo_levels(), 1);
    assert!(count(&painted, car.inst()) > 100, "the stroke painted one car");
    h.undo(&mut s).unwrap();
    assert_eq!(s, original);
    assert!(h.undo(&mut s).is_none(), "nothing before the stroke");
    h.redo(&mut s).unwrap();
    assert_eq!(s, painted);
}

#[test]
fn a_long_thin_stroke_does_not_store_its_whole_bounding_box() {
    // A diagonal across a big map: merging every dab into one rectangle would hold the whole map.
    let mut s = Scene::blank(512, 512, ROAD).unwrap();
    let mut h = History::new();
    let sky = ink(&s, SKY);
    h.begin_stroke();
    for i in 0..511 {
        let change = s.paint_line((i, i), (i + 1, i + 1), 3, sky);
        h.record(&s, change);
    }
    h.end_stroke();
    assert!(h.bytes() < 512 * 512 * 8 / 4, "held {} bytes", h.bytes());
    h.undo(&mut s);
    assert_eq!(s, Scene::blank(512, 512, ROAD).unwrap());
}

/// Each edit the editor offers, as (name, edit) on the street scene.
type Op = (&'static str, fn(&mut Scene) -> Change);

fn every_op() -> Vec<Op> {
    vec![
        ("paint_disc", |s| {
            let k = ink(s, PERSON);
            s.paint_disc((14, 16), 4, k)
        }),
        ("paint_line", |s| {
            let k = ink(s, SIDEWALK);
            s.paint_line((0, 20), (31, 10), 1, k)
        }),
        ("fill_rect", |s| {
            let k = ink(s, VEGETATION);
            s.fill_rect((20, 3), (2, 9), k)
        }),
        ("fill_polygon", |s| {
            let k = ink(s, CAR);
            s.fill_polygon(&[(1.0, 1.0), (30.0, 4.0), (12.0, 22.0)], k)
        }),
        ("flood_fill", |s| {
            let k = ink(s, SIDEWALK);
            s.flood_fill((0, 23), k)
        }),
        ("change_category", |s| s.change_category(ObjectRef::Instance(26000), BUS).unwrap().0),
        ("delete_object", |s| s.delete_object(ObjectRef::Instance(26000)).unwrap()),
        ("duplicate_object", |s| s.duplicate_object(ObjectRef::Instance(26000), 9, -3).unwrap().0),
        ("move_object", |s| s.move_object(ObjectRef::Instance(26000), 5, 2).unwrap().0),
        ("move_region", |s| s.move_object(ObjectRef::Region { x: 0, y: 0 }, 0, 3).unwrap().0),
        ("replace_class", |s| s.replace_class(CAR, BUS).unwrap()),
        ("set_style", |s| s.set_style(26001, StyleChoice::Cluster(7)).unwrap()),
    ]
}

#[test]
fn undo_restores_byte_for_byte_and_redo_reapplies_after_every_kind_of_edit() {
    for (name, op) in every_op() {
        let mut s = street();
        let original = s.clone();
        let mut h = History::new();
        let change = op(&mut s);
        assert!(!change.is_empty(), "{name} changed nothing");
        s.validate().unwrap_or_else(|e| panic!("{name} broke the scene: {e}"));
        h.record(&s, change);
        let edited = s.clone();
        assert_ne!(edited, original, "{name}");
        h.undo(&mut s).unwrap();
        assert_eq!(s, original, "undo of {name}");
        h.redo(&mut s).unwrap();
        assert_eq!(s, edited, "redo of {name}");
    }
}

#[test]
fn flood_fill_stops_at_region_borders_and_does_not_leak_diagonally() {
    // Road split by a sidewalk column at x = 10, and a diagonal sidewalk line the road touches only by corners.
    let mut s = scene_of(|x, y| if x == 10 || (x >= 20 && x - 20 == y) { SIDEWALK as u32 } else { ROAD as u32 });
    let grass = ink(&s, VEGETATION);
    let _ = s.flood_fill((0, 0), grass);
    assert_eq!(count(&s, VEGETATION as u32), 10 * H as usize, "exactly the part left of the sidewalk");
    assert!((11..W).all(|x| at(&s, x, 5) != VEGETATION as u32));
    // The diagonal from (20, 0) to the right edge splits the right part in two regions that touch only at
    // corners.
    let _ = s.flood_fill((31, 0), grass);
    assert_eq!(at(&s, 31, 0), VEGETATION as u32);
    assert_eq!(at(&s, 22, 5), ROAD as u32, "below the diagonal stays road");
}

#[test]
fn change_category_car_to_bus_gives_a_fresh_bus_id_and_undo_restores_it() {
    let mut s = street();
    // A bus already exists, so the car must become 28001, not 28000 and not 26000 relabelled.
    let bus = ink(&s, BUS);
    let _ = s.fill_rect((0, 20), (2, 22), bus);
    let before = s.clone();
    let car_pixels = count(&s, 26000);
    let mut h = History::new();
    let (change, now) = s.change_category(ObjectRef::Instance(26000), BUS).unwrap();
    h.record(&s, change);
    assert_eq!(now, ObjectRef::Instance(28001));
    assert_eq!(count(&s, 28001), car_pixels);
    assert_eq!(count(&s, 26000), 0);
    assert_eq!(s.label()[(16 * W + 5) as usize], BUS);
    assert_eq!(s.styles().get(&26000), None, "a car cluster means nothing for a bus");
    h.undo(&mut s);
    assert_eq!(s, before);
    assert_eq!(s.style(26000), StyleChoice::Cluster(3));
}

#[test]
fn change_category_takes_the_style_the_scene_gives_the_new_class() {
    let mut s = street();
    // The scene styles bus regions with cluster 1 and roads with cluster 4.
    let _ = s.set_style(BUS as u32, StyleChoice::Cluster(1)).unwrap();
    let _ = s.set_style(ROAD as u32, StyleChoice::Cluster(4)).unwrap();
    let mut h = History::new();
    let before = s.clone();
    let (change, now) = s.change_category(ObjectRef::Instance(26000), BUS).unwrap();
    h.record(&s, change);
    let ObjectRef::Instance(bus) = now else { panic!("a bus is an object: {now:?}") };
    assert_eq!(s.style(bus), StyleChoice::Cluster(1), "the new bus has the bus class's style");
    assert_eq!(s.styles().get(&26000), None);
    h.undo(&mut s);
    assert_eq!(s, before, "undo takes the copied style back too");
    // Into stuff, the object joins the road and renders with the road's style.
    let (_, now) = s.change_category(ObjectRef::Instance(26001), ROAD).unwrap();
    let ObjectRef::Region { x, y } = now else { panic!("{now:?}") };
    assert_eq!(s.style(at(&s, x, y)), StyleChoice::Cluster(4));
    // A class without a style of its own gives none: the seed chooses.
    let mut t = street();
    let (_, now) = t.change_category(ObjectRef::Instance(26000), BUS).unwrap();
    let ObjectRef::Instance(bus) = now else { panic!("{now:?}") };
    assert_eq!(t.styles().get(&bus), None);
}

#[test]
fn change_category_between_stuff_and_things() {
    let mut s = street();
    // The building band becomes one car; a car becomes plain road.
    let (_, now) = s.change_category(ObjectRef::Region { x: 0, y: 9 }, CAR).unwrap();
    assert_eq!(now, ObjectRef::Instance(26002));
    assert_eq!(count(&s, 26002), (W * 5) as usize);
    let (_, now) = s.change_category(ObjectRef::Instance(26001), ROAD).unwrap();
    assert!(matches!(now, ObjectRef::Region { .. }));
    assert_eq!(count(&s, 26001), 0);
    assert_eq!(at(&s, 24, 16), ROAD as u32);
    s.validate().unwrap();
    assert_eq!(s.change_category(ObjectRef::Instance(26009), BUS), Err(EditError::NoSuchInstance { id: 26009 }));
    // A class id is not an object: deleting "instance 7" must not delete every road pixel.
    assert_eq!(s.delete_object(ObjectRef::Instance(ROAD as u32)), Err(EditError::NoSuchInstance { id: 7 }));
}

#[test]
fn delete_fills_with_the_class_that_surrounds_the_object_most() {
    // A sidewalk patch bordered by road on three sides and building on one (shorter) side becomes road.
    let mut s = scene_of(|x, y| match (x, y) {
        (10..=19, 5..=7) => SIDEWALK as u32,
        (_, 0..=4) => BUILDING as u32,
        _ => ROAD as u32,
    });
    let _ = s.delete_object(ObjectRef::Region { x: 12, y: 6 }).unwrap();
    assert_eq!(count(&s, SIDEWALK as u32), 0);
    assert_eq!(count(&s, BUILDING as u32), (W * 5) as usize, "the building did not grow");
    // The person in front of car 26000 is surrounded mostly by that car: the car shows through.
    let mut s = street();
    let car = count(&s, 26000);
    let person = count(&s, 24000);
    let _ = s.delete_object(ObjectRef::Instance(24000)).unwrap();
    assert_eq!(count(&s, 24000), 0);
    assert_eq!(count(&s, 26000), car + person);
    s.validate().unwrap();
}

#[test]
fn duplicate_pastes_a_new_object_with_the_same_style_and_move_fills_what_it_leaves() {
    let mut s = street();
    // The car has holes where the person stands in front of it; a copy has the same holes.
    let car = count(&s, 26000);
    assert_eq!(car, 12 * 5 - 2 * 4);
    let (_, copy) = s.duplicate_object(ObjectRef::Instance(26000), 0, -10).unwrap();
    assert_eq!(copy, Some(ObjectRef::Instance(26002)));
    assert_eq!(count(&s, 26002), car, "the copy landed whole");
    assert_eq!(count(&s, 26000), car, "the original is untouched");
    assert_eq!(at(&s, 13, 5), SKY as u32, "the person's hole is not pasted");
    assert_eq!(s.style(26002), StyleChoice::Cluster(3));

    // Move the copy 2 down: it keeps its id; the rows it leaves take what surrounds it most (sky).
    let (_, moved) = s.move_object(ObjectRef::Instance(26002), 0, 2).unwrap();
    assert_eq!(moved, Some(ObjectRef::Instance(26002)));
    assert_eq!(count(&s, 26002), car);
    assert_eq!(at(&s, 4, 4), SKY as u32, "vacated top row, inside the sky");
    assert_eq!(at(&s, 4, 6), 26002);
    s.validate().unwrap();

    // A copy partly off the right edge is clipped, not wrapped.
    let (_, clipped) = s.duplicate_object(ObjectRef::Instance(26001), 8, 0).unwrap();
    let Some(ObjectRef::Instance(id)) = clipped else { panic!("a car copy is an instance") };
    assert_eq!(count(&s, id), 2 * 4, "only the two columns that land on the map");
    assert_eq!(count(&s, 26001), 6 * 4);
}

#[test]
fn moving_an_object_off_the_map_removes_it_and_undo_brings_it_back() {
    let mut s = street();
    let before = s.clone();
    let mut h = History::new();
    let (change, now) = s.move_object(ObjectRef::Instance(26001), 100, 0).unwrap();
    h.record(&s, change);
    assert_eq!(now, None);
    assert_eq!(count(&s, 26001), 0);
    assert_eq!(s.styles().get(&26001), None);
    assert_eq!(at(&s, 24, 16), ROAD as u32);
    let (change, copy) = s.duplicate_object(ObjectRef::Instance(26000), 0, 100).unwrap();
    assert!(change.is_empty() && copy.is_none(), "a copy with no pixel on the map is not made");
    h.undo(&mut s);
    assert_eq!(s, before);
}

#[test]
fn replace_class_turns_every_pixel_and_keeps_objects_apart() {
    let mut s = street();
    let _ = s.replace_class(SKY, VEGETATION).unwrap();
    assert_eq!(count(&s, SKY as u32), 0);
    assert_eq!(count(&s, VEGETATION as u32), (W * 8) as usize);
    // Two cars become two buses, each its own object; their car styles go.
    let cars = (count(&s, 26000), count(&s, 26001));
    let _ = s.replace_class(CAR, BUS).unwrap();
    assert_eq!((count(&s, 28000), count(&s, 28001)), cars);
    assert!(!s.styles().contains_key(&26000) && !s.styles().contains_key(&26001));
    // Road to cars: the road is split by the objects into connected regions, one car each.
    let mut s = scene_of(|x, _| if x == 16 { SIDEWALK as u32 } else { ROAD as u32 });
    let _ = s.replace_class(ROAD, CAR).unwrap();
    assert_eq!(s.objects().len(), 2);
    assert_eq!(s.objects().iter().map(|o| o.pixels).sum::<usize>(), ((W - 1) * H) as usize);
    s.validate().unwrap();
    assert_eq!(s.replace_class(ROAD, 99), Err(EditError::UnknownClass { class: 99 }));
}

#[test]
fn polygon_and_rectangle_fill_are_crisp_and_clipped() {
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let sky = ink(&s, SKY);
    // A right triangle along pixel corners: row y holds the pixels whose centre lies left of the hypotenuse.
    // Pixels on the hypotenuse (centre exactly on it) are out, so rows hold 7, 6, ..., 1 pixels.
    let _ = s.fill_polygon(&[(0.0, 0.0), (8.0, 0.0), (0.0, 8.0)], sky);
    assert_eq!(count(&s, SKY as u32), 7 + 6 + 5 + 4 + 3 + 2 + 1);
    assert_eq!((at(&s, 6, 0), at(&s, 7, 0)), (SKY as u32, ROAD as u32));
    assert!(s.inst().iter().all(|&v| v == ROAD as u32 || v == SKY as u32));
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let _ = s.fill_rect((40, 30), (28, 20), sky);
    assert_eq!(count(&s, SKY as u32), 4 * 4, "corners in any order, clipped to the map");
    assert!(s.fill_polygon(&[(0.0, 0.0), (5.0, 5.0)], sky).is_empty());
}

#[test]
fn styles_are_undoable_and_checked() {
    let mut s = street();
    let mut h = History::new();
    let change = s.set_style(ROAD as u32, StyleChoice::Cluster(4)).unwrap();
    assert_eq!(change.style_keys().collect::<Vec<_>>(), vec![ROAD as u32]);
    h.record(&s, change);
    h.undo(&mut s);
    assert_eq!(s.style(ROAD as u32), StyleChoice::Cluster(1));
    assert_eq!(s.style(SKY as u32), StyleChoice::Random);
    assert_eq!(s.set_style(7001, StyleChoice::Random), Err(EditError::BadStyleKey { key: 7001 }));
    assert_eq!(s.set_style(34, StyleChoice::Random), Err(EditError::BadStyleKey { key: 34 }));
}

#[test]
fn history_is_bounded_clears_redo_on_new_edits_and_tracks_saved_state() {
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let mut h = History::with_limits(3, usize::MAX);
    assert!(!h.is_dirty());
    let sky = ink(&s, SKY);
    for i in 0..5 {
        let change = s.paint_disc((i * 5, 5), 1, sky);
        h.record(&s, change);
    }
    assert_eq!(h.undo_levels(), 3);
    assert!(h.is_dirty());
    h.mark_saved();
    assert!(!h.is_dirty());
    h.undo(&mut s);
    assert!(h.is_dirty());
    h.redo(&mut s);
    assert!(!h.is_dirty(), "back at the saved state");
    h.undo(&mut s);
    let change = s.paint_disc((20, 20), 1, sky);
    h.record(&s, change);
    assert!(!h.can_redo(), "a new edit clears redo");
    assert!(h.is_dirty());
    while h.undo(&mut s).is_some() {}
    // The two oldest dabs (3×3, one clipped to 2×3 at the border) are beyond the 3 kept levels.
    assert_eq!(count(&s, SKY as u32), 9 + 6);

    // A byte budget smaller than two steps keeps only the newest.
    let mut s = Scene::blank(W, H, ROAD).unwrap();
    let mut h = History::with_limits(100, 10);
    for i in 0..4 {
        let change = s.paint_disc((i * 6, 5), 2, sky);
        h.record(&s, change);
    }
    assert_eq!(h.undo_levels(), 1);
}

#[test]
fn objects_and_selection_describe_what_a_click_picks() {
    let s = street();
    assert_eq!(s.pick(14, 15), Some((PERSON, 24000)));
    assert_eq!(s.pick(-1, 0), None);
    assert_eq!(s.select(5, 15), Some(ObjectRef::Instance(26000)));
    assert_eq!(s.select(0, 0), Some(ObjectRef::Region { x: 0, y: 0 }));
    let sky = s.selection(ObjectRef::Region { x: 3, y: 3 }).unwrap();
    assert_eq!(
        (sky.pixel_count(), sky.class(), sky.bbox()),
        ((W * 8) as usize, SKY, Rect { x: 0, y: 0, width: W, height: 8 })
    );
    let ids: Vec<u32> = s.objects().iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![24000, 26000, 26001]);
}

/// A small deterministic generator, so the random test needs no extra crate and fails the same way every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

#[test]
fn invariants_hold_and_undo_redo_are_exact_after_random_edits() {
    const CLASSES: [u8; 8] = [ROAD, SIDEWALK, BUILDING, SKY, VEGETATION, PERSON, CAR, BUS];
    for seed in 1..=12u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut s = street();
        let mut h = History::with_limits(1000, usize::MAX);
        let mut states = vec![s.clone()];
        for step in 0..60 {
            let class = CLASSES[rng.below(CLASSES.len() as u64) as usize];
            let (x, y) = (rng.below(W as u64 + 8) - 4, rng.below(H as u64 + 8) - 4);
            let picked = s.select(x.clamp(0, W as i64 - 1), y.clamp(0, H as i64 - 1)).unwrap();
            let extend = InstanceMode::Extend(s.pick(x, y).map_or(0, |p| p.1));
            let k = s.ink(class, if rng.below(2) == 0 { InstanceMode::New } else { extend }).unwrap();
            let (dx, dy) = (rng.below(21) - 10, rng.below(21) - 10);
            let change = match rng.below(11) {
                0 => s.paint_disc((x, y), rng.below(5) as u32, k),
                1 => {
                    // A stroke of several segments, one step.
                    h.begin_stroke();
                    let mut p = (x, y);
                    for _ in 0..rng.below(6) {
                        let q = (p.0 + rng.below(9) - 4, p.1 + rng.below(9) - 4);
                        let c = s.paint_line(p, q, rng.below(3) as u32, k);
                        h.record(&s, c);
                        p = q;
                    }
                    let c = s.paint_line(p, (x, y), 1, k);
                    h.record(&s, c);
                    h.end_stroke();
                    Change::default()
                }
                2 => s.fill_rect((x, y), (x + dx, y + dy), k),
                3 => {
                    s.fill_polygon(&[(x as f32, y as f32), ((x + dx) as f32, y as f32), (x as f32, (y + dy) as f32)], k)
                }
                4 => s.flood_fill((x, y), k),
                5 => s.change_category(picked, class).unwrap().0,
                6 => s.delete_object(picked).unwrap(),
                7 => s.duplicate_object(picked, dx, dy).unwrap().0,
                8 => s.move_object(picked, dx, dy).unwrap().0,
                9 => s.replace_class(class, CLASSES[rng.below(CLASSES.len() as u64) as usize]).unwrap(),
                _ => s.set_style(k.inst(), StyleChoice::Cluster(rng.below(10) as usize)).unwrap(),
            };
            h.record(&s, change);
            s.validate().unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
            if h.undo_levels() == states.len() {
                states.push(s.clone());
            } else {
                assert_eq!(h.undo_levels(), states.len() - 1, "an empty edit left no step");
                *states.last_mut().unwrap() = s.clone();
            }
        }
        // Undo walks back through every recorded state exactly, redo forward again.
        for i in (0..states.len() - 1).rev() {
            h.undo(&mut s).unwrap();
            assert_eq!(s, states[i], "seed {seed}: undo to state {i}");
        }
        for (i, state) in states.iter().enumerate().skip(1) {
            h.redo(&mut s).unwrap();
            assert_eq!(&s, state, "seed {seed}: redo to state {i}");
        }
    }
}

#[test]
fn derived_instances_number_connected_regions_per_class() {
    let label: Vec<u8> = (0..W * H)
        .map(|i| match (i % W, i / W) {
            (2..=4, 2..=4) | (6..=8, 2..=4) => CAR,
            (5, 5) => CAR,
            (10..=12, 10..=12) => PERSON,
            _ => ROAD,
        })
        .collect();
    let s = Scene::from_maps(W, H, label, None).unwrap();
    // Three car regions (the single pixel at (5, 5) touches the first only by a corner), one person.
    assert_eq!(at(&s, 3, 3), 26000);
    assert_eq!(at(&s, 7, 3), 26001);
    assert_eq!(at(&s, 5, 5), 26002);
    assert_eq!(at(&s, 11, 11), 24000);
    assert_eq!(at(&s, 0, 0), ROAD as u32);
}

#[test]
fn invalid_maps_are_refused_with_the_pixel_and_value() {
    let mut label = vec![ROAD; (W * H) as usize];
    label[(2 * W + 3) as usize] = 40;
    let e = Scene::from_maps(W, H, label, None).unwrap_err();
    assert_eq!(e, MapError::UnknownClass { id: 40, x: 3, y: 2 });
    assert!(e.to_string().contains("40") && e.to_string().contains("(3, 2)"));
    let label = vec![ROAD; (W * H) as usize];
    let mut inst = vec![ROAD as u32; (W * H) as usize];
    inst[5] = 26000;
    let e = Scene::from_maps(W, H, label.clone(), Some(inst)).unwrap_err();
    assert_eq!(e, MapError::InstanceMismatch { inst: 26000, inst_class: 26, label: ROAD, x: 5, y: 0 });
    let mut inst = vec![ROAD as u32; (W * H) as usize];
    inst[5] = 7001;
    assert!(matches!(Scene::from_maps(W, H, label, Some(inst)), Err(MapError::StuffWithInstance { .. })));
    assert!(matches!(Scene::from_maps(W, H, vec![ROAD; 5], None), Err(MapError::WrongLength { .. })));
}

mod files {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, RgbImage};
    use std::path::Path;

    fn write_gray8(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
        GrayImage::from_fn(w, h, |x, y| Luma([f(x, y)])).save(path).unwrap();
    }

    fn write_gray16(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u16) {
        ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(w, h, |x, y| Luma([f(x, y)])).save(path).unwrap();
    }

    fn street_inst(x: u32, y: u32) -> u16 {
        at(&street(), x, y) as u16
    }

    #[test]
    fn scene_json_round_trips_embedded_and_beside() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = street();
        let _ = s.set_style(SKY as u32, StyleChoice::Cluster(0)).unwrap();
        for (name, storage) in [("embedded.json", MapStorage::Embedded), ("beside.json", MapStorage::Beside)] {
            let path = dir.path().join(name);
            s.save_json(&path, storage).unwrap();
            let back = Scene::open(&path).unwrap();
            assert_eq!(back, s, "{name}");
        }
        // The beside maps are Cityscapes-style PNGs that open on their own and find each other by name.
        let label = dir.path().join("beside_labelIds.png");
        assert_eq!(find_instance_png(&label), Some(dir.path().join("beside_instanceIds.png")));
        let alone = Scene::open(&label).unwrap();
        assert_eq!((alone.label(), alone.inst()), (s.label(), s.inst()));
        let text = std::fs::read_to_string(dir.path().join("beside.json")).unwrap();
        assert!(text.contains("\"path\": \"beside_labelIds.png\""), "{text}");
        // Writes went through temporary files that are gone.
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn saving_leaves_out_styles_of_objects_no_longer_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = street();
        let road = ink(&s, ROAD);
        let _ = s.paint_disc((25, 16), 6, road);
        assert_eq!(count(&s, 26001), 0);
        let path = dir.path().join("s.json");
        s.save_json(&path, MapStorage::Embedded).unwrap();
        let back = Scene::open(&path).unwrap();
        assert_eq!(back.styles().get(&26001), None);
        assert_eq!(back.style(26000), StyleChoice::Cluster(3));
        assert_eq!(back.style(ROAD as u32), StyleChoice::Cluster(1));
    }

    #[test]
    fn exported_maps_are_8_bit_labels_and_16_bit_instances() {
        let dir = tempfile::tempdir().unwrap();
        let s = street();
        let (lp, ip) = (dir.path().join("l.png"), dir.path().join("i.png"));
        s.save_label_png(&lp).unwrap();
        s.save_instance_png(&ip).unwrap();
        let l = image::open(&lp).unwrap();
        let i = image::open(&ip).unwrap();
        assert_eq!(l.color(), image::ColorType::L8);
        assert_eq!(i.color(), image::ColorType::L16);
        assert_eq!(l.as_luma8().unwrap().get_pixel(5, 15)[0], CAR);
        assert_eq!(i.as_luma16().unwrap().get_pixel(5, 15)[0], 26000);
    }

    #[test]
    fn label_png_without_instances_derives_one_object_per_connected_region() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drawn.png");
        write_gray8(&path, W, H, |x, y| if (2..6).contains(&y) && !(5..=20).contains(&x) { CAR } else { ROAD });
        let s = Scene::open(&path).unwrap();
        assert_eq!(at(&s, 0, 3), 26000);
        assert_eq!(at(&s, 25, 3), 26001);
        assert_eq!(s.objects().len(), 2);
    }

    #[test]
    fn cityscapes_and_pix2pixhd_names_pair_label_and_instance_maps() {
        let dir = tempfile::tempdir().unwrap();
        let label = dir.path().join("aachen_000000_000019_gtFine_labelIds.png");
        write_gray8(&label, W, H, |x, y| street().label()[(y * W + x) as usize]);
        // The file's own ids (26007, not the 26000 that deriving would give) must be the ones used.
        let inst = dir.path().join("aachen_000000_000019_gtFine_instanceIds.png");
        write_gray16(&inst, W, H, |x, y| if street_inst(x, y) == 26000 { 26007 } else { street_inst(x, y) });
        let s = Scene::open(&label).unwrap();
        assert_eq!(at(&s, 5, 15), 26007);
        assert_eq!(find_instance_png(&dir.path().join("aachen_000000_000019_gtFine_color.png")), Some(inst));

        std::fs::create_dir_all(dir.path().join("test_label")).unwrap();
        std::fs::create_dir_all(dir.path().join("test_inst")).unwrap();
        let label = dir.path().join("test_label/0001.png");
        write_gray8(&label, W, H, |x, y| street().label()[(y * W + x) as usize]);
        write_gray16(&dir.path().join("test_inst/0001.png"), W, H, street_inst);
        assert_eq!(find_instance_png(&label), Some(dir.path().join("test_inst/0001.png")));
        assert_eq!(Scene::open(&label).unwrap().inst(), street().inst());
    }

    #[test]
    fn colour_label_maps_read_as_class_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_gtFine_color.png");
        RgbImage::from_fn(W, H, |x, _| image::Rgb(labels::color(if x < 10 { SKY } else { ROAD }))).save(&path).unwrap();
        let s = Scene::open(&path).unwrap();
        assert_eq!((s.label()[0], s.label()[20]), (SKY, ROAD));
        RgbImage::from_fn(W, H, |x, y| image::Rgb(if (x, y) == (4, 2) { [1, 2, 3] } else { [0, 0, 0] }))
            .save(&path)
            .unwrap();
        let e = Scene::open(&path).unwrap_err().to_string();
        assert!(e.contains("x_gtFine_color.png") && e.contains("(1, 2, 3)") && e.contains("(4, 2)"), "{e}");
    }

    /// The message of opening `path`, which must fail.
    fn open_error(path: &Path) -> String {
        Scene::open(path).expect_err("this input must be refused").to_string()
    }

    #[test]
    fn bad_inputs_are_refused_naming_the_file_the_value_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();

        let bad_id = d.join("bad_id.png");
        write_gray8(&bad_id, W, H, |x, y| if (x, y) == (3, 2) { 34 } else { ROAD });
        let e = open_error(&bad_id);
        assert!(
            e.contains("bad_id.png") && e.contains("class id 34") && e.contains("(3, 2)") && e.contains("0..=33"),
            "{e}"
        );

        let wide = d.join("wide.png");
        write_gray16(&wide, W, H, |_, _| 7);
        let e = open_error(&wide);
        assert!(e.contains("wide.png") && e.contains("16-bit grey") && e.contains("8-bit grey"), "{e}");

        let label = d.join("s_labelIds.png");
        write_gray8(&label, W, H, |_, _| ROAD);
        write_gray16(&d.join("s_instanceIds.png"), W + 1, H, |_, _| ROAD as u16);
        let e = open_error(&label);
        assert!(e.contains("s_labelIds.png") && e.contains("s_instanceIds.png"), "{e}");
        assert!(e.contains("32×24") && e.contains("33×24"), "{e}");

        write_gray16(&d.join("s_instanceIds.png"), W, H, |x, _| if x == 9 { 26000 } else { ROAD as u16 });
        let e = open_error(&label);
        assert!(e.contains("s_instanceIds.png") && e.contains("26000") && e.contains("(9, 0)"), "{e}");

        let e = open_error(&d.join("missing.png"));
        assert!(e.contains("missing.png"), "{e}");

        let not_png = d.join("text.png");
        std::fs::write(&not_png, "hello").unwrap();
        assert!(open_error(&not_png).contains("text.png"));

        let json = d.join("broken.json");
        std::fs::write(&json, "{ \"version\": 1, \"width\": 32, ").unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("line 1"), "{e}");

        std::fs::write(&json, r#"{"version": 1, "width": 32, "height": 24, "label": {"path": "gone.png"}}"#).unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("gone.png"), "{e}");

        std::fs::write(&json, r#"{"version": 3, "width": 32, "height": 24, "label": {"path": "x.png"}}"#).unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("version 3") && e.contains("newer"), "{e}");

        std::fs::write(&json, r#"{"version": 1, "width": 32, "height": 24, "label": {"png_base64": "!!"}}"#).unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("base64"), "{e}");

        std::fs::write(&json, r#"{"version": 1, "width": 30, "height": 24, "label": {"path": "s_labelIds.png"}}"#)
            .unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("32×24") && e.contains("30×24"), "{e}");

        std::fs::write(
            &json,
            r#"{"version": 1, "width": 32, "height": 24, "label": {"path": "s_labelIds.png"}, "styles": {"7001": "random"}}"#,
        )
        .unwrap();
        let e = open_error(&json);
        assert!(e.contains("broken.json") && e.contains("7001"), "{e}");

        let e = open_error(&d.join("notes.txt"));
        assert!(e.contains("notes.txt") && e.contains(".json"), "{e}");
    }

    #[test]
    fn a_failed_write_names_the_target_and_a_second_save_replaces_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no_such_folder").join("s.json");
        let e = street().save_json(&missing, MapStorage::Embedded).unwrap_err().to_string();
        assert!(e.contains("no_such_folder"), "{e}");
        let path = dir.path().join("s.json");
        street().save_json(&path, MapStorage::Embedded).unwrap();
        let blank = Scene::blank(W, H, ROAD).unwrap();
        blank.save_json(&path, MapStorage::Embedded).unwrap();
        assert_eq!(Scene::open(&path).unwrap(), blank, "the second save replaced the first");
    }
}
