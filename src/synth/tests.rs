//! The generator as a data set's user meets it: repeatable files, texture seeds that change only texture, labels
//! and sidecars that agree.

use super::write::is_scene_file;
use super::*;
use crate::labels::{self, id};
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;

const TINY: SynthConfig = SynthConfig { width: 128, height: 64, seed: 7, texture_seed: 0 };

fn files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in fs::read_dir(dir).unwrap() {
        let sub = sub.unwrap().path();
        if !sub.is_dir() {
            continue;
        }
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
    for (id, (c0, px)) in m0.iter().filter(|(id, (_, px))| labels::is_object(**id) && *px >= 100) {
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
                assert!(
                    labels::is_object(v) && labels::class_of_instance(v) == l as u32,
                    "scene {index} pixel {k}: label {l}, inst {v}"
                );
            } else {
                assert_eq!(v, l as u32, "scene {index} pixel {k}: stuff pixel with instance value {v}");
            }
        }
        // Renumbered per class from 0 without holes.
        let ids: BTreeSet<u32> = s.inst.iter().copied().filter(|&v| labels::is_object(v)).collect();
        let mut per_class: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for v in ids {
            per_class.entry(labels::class_of_instance(v)).or_default().push(labels::object_index(v));
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
            if labels::is_object(v) {
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
            assert_eq!(e.class as u32, labels::class_of_instance(*v));
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
            if labels::class_of_instance(v) == id::CAR as u32 {
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
    let meta: SceneMeta = serde_json::from_slice(&fs::read(dir.path().join("train_meta/00000.json")).unwrap()).unwrap();
    assert_eq!(meta, scene.meta);
    // No temporary files left behind.
    for sub in fs::read_dir(dir.path()).unwrap() {
        let sub = sub.unwrap().path();
        if sub.is_file() {
            assert!(sub.ends_with(super::write::MANIFEST), "stray file {sub:?}");
            continue;
        }
        for f in fs::read_dir(sub).unwrap() {
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
fn a_run_stopped_part_way_goes_on_when_run_again_with_the_same_arguments() {
    let (whole, part) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let opts = WriteOptions::default();
    write_dataset(whole.path(), 3, 2, &TINY, &opts).unwrap();
    write_dataset(part.path(), 3, 2, &TINY, &opts).unwrap();
    // What a kill leaves: a scene whose photo and instance map were written but not its label map, one not
    // started, and a temporary file of the killed process.
    fs::remove_file(part.path().join("train_label/00001.png")).unwrap();
    for kind in ["label", "inst", "img", "meta"] {
        let ext = if kind == "meta" { "json" } else { "png" };
        fs::remove_file(part.path().join(format!("test_{kind}/00001.{ext}"))).unwrap();
    }
    fs::write(part.path().join("train_label/.00001.png.4194303-0.tmp"), b"half").unwrap();
    fs::write(part.path().join("train_img/00002.png"), b"garbage: the label map of 00002 is still there").unwrap();
    fs::remove_file(part.path().join("train_label/00002.png")).unwrap();
    write_dataset(part.path(), 3, 2, &TINY, &opts).unwrap();
    assert_eq!(files_under(part.path()), files_under(whole.path()), "the rerun completes the data set exactly");
    // Other arguments are another data set: refused, as before.
    let err = write_dataset(part.path(), 4, 2, &TINY, &opts).unwrap_err();
    assert!(matches!(err, SynthError::NotEmpty { .. }), "{err}");
}

#[test]
fn counts_that_cannot_be_counted_or_stored_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriteOptions::default();
    let err = write_dataset(dir.path(), usize::MAX, 1, &TINY, &opts).unwrap_err();
    assert!(matches!(err, SynthError::TooMany { .. }), "{err}");
    let err = write_dataset(dir.path(), 1 << 50, 0, &TINY, &opts).unwrap_err().to_string();
    assert!(err.contains("on disk") && err.contains("free") && err.contains("each"), "{err}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn rejects_unsupported_sizes() {
    let cfg = SynthConfig { width: 8, height: 64, seed: 0, texture_seed: 0 };
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(write_dataset(dir.path(), 1, 0, &cfg, &WriteOptions::default()), Err(SynthError::BadSize { .. })));
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
