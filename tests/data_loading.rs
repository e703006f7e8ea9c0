//! The data sets and the background loader on small synthetic sets written as PNGs: both layouts pair their files,
//! every kind of bad input is refused with the file named, and batches are complete, ordered and reproducible.

use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use pix2pixhd::data::encode::{Maps, encode_input};
use pix2pixhd::data::{DataError, Dataset, DatasetOpts, Layout, Loader, Mode, TransformOpts};
use pix2pixhd::model::ModelConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

const W: u32 = 24;
const H: u32 = 12;

/// Sample `k`'s maps say which sample they belong to and where each pixel came from, so that a wrong pairing or a
/// crop not shared by the three maps shows up: label = (k + x) % 34, instance = 1000·(k + 1) + x (objects of
/// class 1..), photo = (20·k, 8·x, 8·y).
fn label_px(k: u32, x: u32, _y: u32) -> u8 {
    ((k + x) % 34) as u8
}

fn inst_px(k: u32, x: u32, _y: u32) -> u16 {
    (1000 * (k + 1) + x) as u16
}

fn photo_px(k: u32, x: u32, y: u32) -> [u8; 3] {
    [(20 * k) as u8, (8 * x) as u8, (8 * y) as u8]
}

fn mkdirs(p: &Path) -> &Path {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

fn write_label(p: &Path, k: u32) {
    GrayImage::from_fn(W, H, |x, y| Luma([label_px(k, x, y)])).save(mkdirs(p)).unwrap();
}

fn write_inst(p: &Path, k: u32) {
    ImageBuffer::<Luma<u16>, Vec<u16>>::from_fn(W, H, |x, y| Luma([inst_px(k, x, y)])).save(mkdirs(p)).unwrap();
}

fn write_photo(p: &Path, k: u32) {
    RgbImage::from_fn(W, H, |x, y| Rgb(photo_px(k, x, y))).save(mkdirs(p)).unwrap();
}

/// A pix2pixHD-layout set under `root` with `names`, named as pix2pixHD's bundled Cityscapes folders name them.
fn folders_set(root: &Path, names: &[&str]) {
    for (k, n) in names.iter().enumerate() {
        let k = k as u32;
        write_label(&root.join(format!("train_label/{n}_gtFine_labelIds.png")), k);
        write_inst(&root.join(format!("train_inst/{n}_gtFine_instanceIds.png")), k);
        write_photo(&root.join(format!("train_img/{n}_leftImg8bit.png")), k);
    }
}

/// A set in Cityscapes' own layout: `(city, stem)` pairs.
fn cityscapes_set(root: &Path, split: &str, items: &[(&str, &str)]) {
    for (k, (city, stem)) in items.iter().enumerate() {
        let k = k as u32;
        let gt = root.join(format!("gtFine/{split}/{city}"));
        write_label(&gt.join(format!("{stem}_gtFine_labelIds.png")), k);
        write_inst(&gt.join(format!("{stem}_gtFine_instanceIds.png")), k);
        // The real gtFine folders also hold colour maps and polygons; they must not count as samples.
        RgbImage::new(W, H).save(gt.join(format!("{stem}_gtFine_color.png"))).unwrap();
        std::fs::write(gt.join(format!("{stem}_gtFine_polygons.json")), "{}").unwrap();
        write_photo(&root.join(format!("leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png")), k);
    }
}

fn open(root: &Path) -> Result<Dataset, DataError> {
    Dataset::open(root, "train", Layout::Auto, DatasetOpts::default())
}

/// Asserts that sample `i` holds sample `k`'s three maps.
fn assert_sample_is(ds: &Dataset, i: usize, k: u32) {
    let s = ds.load(i).unwrap();
    assert_eq!((s.width, s.height), (W as usize, H as usize));
    let (x, y) = (5u32, 7u32);
    let p = (y * W + x) as usize;
    assert_eq!(s.label[p], label_px(k, x, y), "label of {}", s.name);
    assert_eq!(s.inst.as_ref().unwrap()[p], u32::from(inst_px(k, x, y)), "instance map of {}", s.name);
    assert_eq!(&s.image.as_ref().unwrap()[3 * p..3 * p + 3], &photo_px(k, x, y), "photo of {}", s.name);
}

fn err_text(r: Result<impl std::fmt::Debug, DataError>) -> String {
    r.expect_err("bad input must be refused").to_string()
}

fn p(path: PathBuf) -> String {
    path.display().to_string()
}

#[test]
fn folders_layout_pairs_label_instances_and_photo_by_name() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["ulm_000001", "bonn_000002", "aachen_000003"]);
    let ds = open(dir.path()).unwrap();
    assert_eq!(ds.layout(), Layout::Folders);
    let names: Vec<&str> = ds.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["aachen_000003", "bonn_000002", "ulm_000001"]);
    // Sorted by name; the sample written third (k = 2) comes first.
    assert_sample_is(&ds, 0, 2);
    assert_sample_is(&ds, 1, 1);
    assert_sample_is(&ds, 2, 0);

    let first_two = DatasetOpts { max_dataset_size: Some(2), ..Default::default() };
    assert_eq!(Dataset::open(dir.path(), "train", Layout::Folders, first_two).unwrap().len(), 2);
}

#[test]
fn cityscapes_layout_pairs_files_across_cities() {
    let dir = tempfile::tempdir().unwrap();
    let items =
        [("aachen", "aachen_000000_000019"), ("bremen", "bremen_000001_000019"), ("aachen", "aachen_000001_000019")];
    cityscapes_set(dir.path(), "train", &items);
    cityscapes_set(dir.path(), "val", &[("lindau", "lindau_000000_000019")]);
    let ds = open(dir.path()).unwrap();
    assert_eq!(ds.layout(), Layout::Cityscapes);
    let names: Vec<&str> = ds.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["aachen/aachen_000000_000019", "aachen/aachen_000001_000019", "bremen/bremen_000001_000019"]);
    assert_sample_is(&ds, 0, 0);
    assert_sample_is(&ds, 1, 2);
    assert_sample_is(&ds, 2, 1);
    let val = Dataset::open(dir.path(), "val", Layout::Cityscapes, DatasetOpts::default()).unwrap();
    assert_eq!(val.len(), 1);
}

#[test]
fn no_instance_sets_need_no_instance_folder() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b"]);
    std::fs::remove_dir_all(dir.path().join("train_inst")).unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.contains(&p(dir.path().join("train_inst"))) && msg.contains("--no-instance"), "{msg}");

    let opts = DatasetOpts { no_instance: true, ..Default::default() };
    let ds = Dataset::open(dir.path(), "train", Layout::Auto, opts).unwrap();
    let s = ds.load(1).unwrap();
    assert_eq!(s.inst, None);
    assert_eq!(s.label[3], label_px(1, 3, 0));
}

#[test]
fn photos_are_optional_only_for_inference_sets() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a"]);
    std::fs::remove_dir_all(dir.path().join("train_img")).unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.contains(&p(dir.path().join("train_img"))), "{msg}");
    let opts = DatasetOpts { need_images: false, ..Default::default() };
    let ds = Dataset::open(dir.path(), "train", Layout::Auto, opts).unwrap();
    assert!(!ds.has_images());
    assert_eq!(ds.load(0).unwrap().image, None);
}

#[test]
fn a_file_without_its_partner_is_named() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c"]);
    std::fs::remove_file(dir.path().join("train_inst/b_gtFine_instanceIds.png")).unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.contains(&p(dir.path().join("train_label/b_gtFine_labelIds.png"))), "{msg}");
    assert!(msg.contains("instance map") && msg.contains(&p(dir.path().join("train_inst"))), "{msg}");

    // A photo with no label map: the reference would shift every later pair by one.
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "c"]);
    write_photo(&dir.path().join("train_img/b_leftImg8bit.png"), 0);
    let msg = err_text(open(dir.path()));
    assert!(msg.contains(&p(dir.path().join("train_img/b_leftImg8bit.png"))) && msg.contains("no label map"), "{msg}");

    let dir = tempfile::tempdir().unwrap();
    cityscapes_set(dir.path(), "train", &[("ulm", "ulm_000000_000019"), ("ulm", "ulm_000001_000019")]);
    let photo = dir.path().join("leftImg8bit/train/ulm/ulm_000001_000019_leftImg8bit.png");
    std::fs::remove_file(&photo).unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.contains(&p(dir.path().join("gtFine/train/ulm/ulm_000001_000019_gtFine_labelIds.png"))), "{msg}");
    assert!(msg.contains(&p(photo)), "{msg}");
}

#[test]
fn a_photo_of_another_size_names_both_files_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b"]);
    let photo = dir.path().join("train_img/b_leftImg8bit.png");
    RgbImage::new(W, H + 1).save(&photo).unwrap();
    let ds = open(dir.path()).unwrap();
    ds.load(0).unwrap();
    let msg = err_text(ds.load(1));
    assert!(msg.contains(&p(photo)) && msg.contains(&p(dir.path().join("train_label/b_gtFine_labelIds.png"))), "{msg}");
    assert!(msg.contains("24×13") && msg.contains("24×12"), "{msg}");
}

#[test]
fn a_class_id_not_below_label_nc_is_named_with_file_and_pixel() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a"]);
    let label = dir.path().join("train_label/a_gtFine_labelIds.png");
    let mut img = GrayImage::from_pixel(W, H, Luma([7]));
    img.put_pixel(3, 1, Luma([40]));
    img.save(&label).unwrap();
    let msg = err_text(open(dir.path()).unwrap().load(0));
    assert!(msg.contains(&p(label)), "{msg}");
    assert!(msg.contains("class id 40") && msg.contains("x 3, y 1") && msg.contains("label_nc 35"), "{msg}");
    // With more classes the same file is fine.
    let opts = DatasetOpts { label_nc: 41, ..Default::default() };
    Dataset::open(dir.path(), "train", Layout::Auto, opts).unwrap().load(0).unwrap();
}

#[test]
fn wrong_bit_depths_and_colour_types_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c"]);
    // A 16-bit label map (e.g. an instance map put in the label folder).
    let label = dir.path().join("train_label/a_gtFine_labelIds.png");
    ImageBuffer::<Luma<u16>, Vec<u16>>::from_pixel(W, H, Luma([7])).save(&label).unwrap();
    // A colour label map.
    let colour = dir.path().join("train_label/b_gtFine_labelIds.png");
    RgbImage::new(W, H).save(&colour).unwrap();
    // An RGB instance map.
    let inst = dir.path().join("train_inst/c_gtFine_instanceIds.png");
    RgbImage::new(W, H).save(&inst).unwrap();
    let ds = open(dir.path()).unwrap();
    let msg = err_text(ds.load(0));
    assert!(msg.contains(&p(label)) && msg.contains("16-bit") && msg.contains("8-bit grayscale label map"), "{msg}");
    let msg = err_text(ds.load(1));
    assert!(msg.contains(&p(colour)) && msg.contains("8-bit RGB"), "{msg}");
    let msg = err_text(ds.load(2));
    assert!(msg.contains(&p(inst)) && msg.contains("instance map"), "{msg}");
}

#[test]
fn eight_bit_instance_maps_and_rgba_photos_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a"]);
    GrayImage::from_fn(W, H, |x, _| Luma([x as u8 + 100]))
        .save(dir.path().join("train_inst/a_gtFine_instanceIds.png"))
        .unwrap();
    RgbaImage::from_fn(W, H, |x, y| Rgba([1, x as u8, y as u8, 9]))
        .save(dir.path().join("train_img/a_leftImg8bit.png"))
        .unwrap();
    let s = open(dir.path()).unwrap().load(0).unwrap();
    assert_eq!(s.inst.unwrap()[5], 105);
    let img = s.image.unwrap();
    assert_eq!(img.len(), (W * H * 3) as usize);
    assert_eq!(&img[3 * (2 * W as usize + 5)..][..3], &[1, 5, 2]);
}

#[test]
fn an_unreadable_png_is_named() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b"]);
    let photo = dir.path().join("train_img/b_leftImg8bit.png");
    let bytes = std::fs::read(&photo).unwrap();
    // A truncated download: the header is fine, the data stops.
    std::fs::write(&photo, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = dir.path().join("train_inst/a_gtFine_instanceIds.png");
    std::fs::write(&garbage, b"not a png at all").unwrap();
    let ds = open(dir.path()).unwrap();
    let msg = err_text(ds.load(0));
    assert!(msg.starts_with(&format!("cannot read {}", p(garbage))), "{msg}");
    let msg = err_text(ds.load(1));
    assert!(msg.starts_with(&format!("cannot read {}", p(photo))), "{msg}");
}

#[test]
fn empty_or_missing_folders_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.contains("no data set in") && msg.contains("train_label") && msg.contains("gtFine"), "{msg}");

    std::fs::create_dir_all(dir.path().join("train_label")).unwrap();
    std::fs::write(dir.path().join("train_label/readme.txt"), "labels go here").unwrap();
    let msg = err_text(open(dir.path()));
    assert_eq!(msg, format!("no label maps in {}", p(dir.path().join("train_label"))));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("gtFine/train/aachen")).unwrap();
    let msg = err_text(open(dir.path()));
    assert!(msg.starts_with("no label maps") && msg.contains(&p(dir.path().join("gtFine/train"))), "{msg}");
    let msg = err_text(Dataset::open(dir.path(), "val", Layout::Cityscapes, DatasetOpts::default()));
    assert!(msg.contains(&p(dir.path().join("gtFine/val"))), "{msg}");
}

fn loader(root: &Path, batch: usize, seed: u64, workers: usize) -> Loader {
    let ds = Arc::new(open(root).unwrap());
    // A random 16×8 crop of the 24×12 maps, flipped half the time: every random choice is in play.
    let opts = TransformOpts { resize_or_crop: Mode::Crop, load_size: 24, fine_size: 16, ..Default::default() };
    Loader::new(ds, opts, batch, true, seed, workers, 2).unwrap()
}

fn values<T: tch::kind::Element + Copy>(t: &Tensor) -> Vec<T> {
    Vec::<T>::try_from(&t.flatten(0, -1)).unwrap()
}

#[test]
fn an_epoch_serves_every_sample_once_with_a_smaller_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c"]);
    let l = loader(dir.path(), 2, 1, 2);
    assert_eq!(l.len(), 2);
    let batches: Vec<_> = l.epoch(0).unwrap().map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [2, 1]);
    let mut names: Vec<String> = batches.iter().flat_map(|b| b.names.clone()).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    let b = &batches[0];
    // The crop is 16 wide but the maps only 12 high: the reference crops when either side is larger.
    assert_eq!(b.input.size(), [2, 36, 16, 16]);
    assert_eq!(b.input.kind(), Kind::Float);
    assert_eq!((b.label.size(), b.label.kind()), (vec![2, 1, 16, 16], Kind::Int64));
    assert_eq!((b.inst.as_ref().unwrap().size(), b.inst.as_ref().unwrap().kind()), (vec![2, 1, 16, 16], Kind::Int64));
    let img = b.image.as_ref().unwrap();
    assert_eq!((img.size(), img.kind()), (vec![2, 3, 16, 16], Kind::Float));
    let v: Vec<f32> = values(img);
    assert!(v.iter().all(|x| (-1.0..=1.0).contains(x)));
    assert!(v.contains(&-1.0) && v.iter().any(|&x| x > 0.0));
}

#[test]
fn the_same_seed_gives_the_same_batches_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c", "d", "e"]);
    let summary = |l: &Loader, epoch| -> Vec<(Vec<String>, Vec<i64>, Vec<f32>)> {
        l.epoch(epoch)
            .unwrap()
            .map(|b| {
                let b = b.unwrap();
                (b.names, values(b.inst.as_ref().unwrap()), values(b.image.as_ref().unwrap()))
            })
            .collect()
    };
    let one_thread = summary(&loader(dir.path(), 2, 9, 1), 0);
    assert_eq!(summary(&loader(dir.path(), 2, 9, 4), 0), one_thread);
    assert_eq!(summary(&loader(dir.path(), 2, 9, 4), 0), one_thread);
    // Another seed or another epoch draws other crops, flips and orders.
    assert_ne!(summary(&loader(dir.path(), 2, 10, 1), 0), one_thread);
    let l = loader(dir.path(), 2, 9, 1);
    assert_ne!(summary(&l, 1), one_thread);
    let orders: Vec<Vec<usize>> = (0..4).map(|e| l.order(e)).collect();
    assert!(orders.iter().any(|o| *o != orders[0]), "{orders:?}");
}

#[test]
fn crops_and_flips_keep_label_instances_and_photo_aligned() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c", "d"]);
    let l = loader(dir.path(), 4, 3, 2);
    let b = l.epoch(0).unwrap().next().unwrap().unwrap();
    let (label, inst, img): (Vec<i64>, Vec<i64>, Vec<f32>) =
        (values(&b.label), values(b.inst.as_ref().unwrap()), values(b.image.as_ref().unwrap()));
    let (w, h) = (16usize, 16usize);
    let mut flipped = 0;
    for (n, name) in b.names.iter().enumerate() {
        let k = ["a", "b", "c", "d"].iter().position(|x| x == name).unwrap() as i64;
        // Instance ids carry the source x; label and photo must agree with it at every real (not padded) pixel.
        let xs: Vec<i64> = (0..w).map(|x| inst[n * w * h + x] - 1000 * (k + 1)).collect();
        flipped += usize::from(xs[0] > xs[1]);
        for y in 0..H as usize {
            for x in 0..w {
                let i = n * w * h + y * w + x;
                let sx = inst[i] - 1000 * (k + 1);
                assert_eq!(sx, xs[x], "{name}: one crop and flip for all rows");
                assert_eq!(label[i], (k + sx) % 34, "{name} label at ({x}, {y})");
                let green = img[n * 3 * w * h + w * h + y * w + x];
                assert!((green - ((8 * sx) as f32 / 255.0 - 0.5) / 0.5).abs() < 1e-6, "{name} photo at ({x}, {y})");
            }
        }
        // Rows below the 12 real ones are the reference's zero padding.
        assert!((H as usize * w..w * h).all(|i| inst[n * w * h + i] == 0 && label[n * w * h + i] == 0));
    }
    // Seed 3 flips some of the four and not others, so both cases were checked above.
    assert!((1..4).contains(&flipped), "{flipped} of 4 flipped");
}

#[test]
fn whole_frames_hold_each_crop_at_its_corner() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c", "d"]);
    let ds = Arc::new(open(dir.path()).unwrap());
    let crop =
        |fine| TransformOpts { resize_or_crop: Mode::Crop, load_size: 24, fine_size: fine, ..Default::default() };
    let l = Loader::new(ds.clone(), crop(8), 4, true, 3, 2, 2).unwrap().with_whole_frames(true);
    let b = l.epoch(0).unwrap().next().unwrap().unwrap();
    let whole = b.whole.as_ref().expect("8×8 crops of 24×12 maps lie inside them");
    let (w, h, ww, wh) = (8usize, 8usize, W as usize, H as usize);
    assert_eq!(whole.image.as_ref().unwrap().size(), [4, 3, wh as i64, ww as i64]);
    let (label, inst, img): (Vec<i64>, Vec<i64>, Vec<f32>) =
        (values(&b.label), values(b.inst.as_ref().unwrap()), values(b.image.as_ref().unwrap()));
    let (wlabel, winst, wimg): (Vec<i64>, Vec<i64>, Vec<f32>) =
        (values(&whole.label), values(whole.inst.as_ref().unwrap()), values(whole.image.as_ref().unwrap()));
    let mut flipped = 0;
    for (n, &(x0, y0)) in whole.corners.iter().enumerate() {
        flipped += usize::from(winst[n * ww * wh] > winst[n * ww * wh + 1]);
        for y in 0..h {
            for x in 0..w {
                let (c, f) = (n * w * h + y * w + x, n * ww * wh + (y0 + y) * ww + x0 + x);
                assert_eq!((inst[c], label[c]), (winst[f], wlabel[f]), "item {n} at ({x}, {y})");
                for ch in 0..3 {
                    assert_eq!(img[(n * 3 + ch) * w * h + y * w + x], wimg[(n * 3 + ch) * ww * wh + f % (ww * wh)]);
                }
            }
        }
    }
    // Whole frames are flipped with their crops; seed 3 flips some items and not others.
    assert!((1..4).contains(&flipped), "{flipped} of 4 flipped");

    // Not asked for, or crops past the border (zero fill, no whole-frame counterpart): none.
    assert!(Loader::new(ds.clone(), crop(8), 4, true, 3, 2, 2).unwrap().batch(0, 0).unwrap().whole.is_none());
    assert!(loader(dir.path(), 4, 3, 2).with_whole_frames(true).batch(0, 0).unwrap().whole.is_none());
}

#[test]
fn whole_inputs_line_crops_up_with_the_frame_and_encode_it() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c", "d"]);
    let ds = Arc::new(open(dir.path()).unwrap());
    let opts = TransformOpts { resize_or_crop: Mode::Crop, load_size: 24, fine_size: 8, ..Default::default() };
    let plain = Loader::new(ds.clone(), opts.clone(), 4, true, 3, 2, 2).unwrap().with_whole_frames(true);
    let aligned = Loader::new(ds, opts, 4, true, 3, 2, 2).unwrap().with_whole_inputs(Some(4));
    let corners = |l: &Loader, e| l.batch(e, 0).unwrap().whole.unwrap().corners;
    let all_plain: Vec<(usize, usize)> = (0..4).flat_map(|e| corners(&plain, e)).collect();
    assert!(all_plain.iter().any(|&(x, y)| x % 4 != 0 || y % 4 != 0), "seed 3 draws corners off the grid");
    for e in 0..4 {
        let got = corners(&aligned, e);
        let plain_corners = corners(&plain, e);
        for (n, c) in got.iter().enumerate() {
            // The drawn corner x is rounded down; a flipped frame mirrors it (24 - x - 8), on the grid too.
            let (px, py) = plain_corners[n];
            let (unflipped, flipped) = ((px / 4 * 4, py / 4 * 4), (16 - (16 - px) / 4 * 4, py / 4 * 4));
            assert!(*c == unflipped || *c == flipped, "epoch {e} item {n}: {c:?} for {:?}", plain_corners[n]);
            assert!(c.0 % 4 == 0 && c.1 % 4 == 0, "{c:?}");
        }
    }

    // G's input for the whole frames: the class one-hot of the whole label map, and the crop's own input is its
    // window (the boundary map may differ on the crop's border, where the crop has no neighbours).
    let b = aligned.batch(1, 0).unwrap();
    let whole = b.whole.as_ref().unwrap();
    let input = whole.input.as_ref().expect("asked for");
    assert_eq!(input.size(), [4, 36, H as i64, W as i64]);
    assert!(input.narrow(1, 0, 35).argmax(1, true).equal(&whole.label));
    for (n, &(x0, y0)) in whole.corners.iter().enumerate() {
        let window = input.get(n as i64).narrow(0, 0, 35).narrow(1, y0 as i64, 8).narrow(2, x0 as i64, 8);
        assert!(window.equal(&b.input.get(n as i64).narrow(0, 0, 35)), "item {n}");
    }
    assert!(plain.batch(1, 0).unwrap().whole.unwrap().input.is_none());
}

#[test]
fn batch_input_equals_the_single_sample_encoding() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c"]);
    let l = loader(dir.path(), 3, 4, 2);
    let b = l.epoch(2).unwrap().next().unwrap().unwrap();
    let cfg = ModelConfig::default();
    for (n, &i) in l.order(2).iter().enumerate() {
        let s = l.sample(2, i).unwrap();
        assert_eq!(s.name, b.names[n]);
        let maps = Maps { width: s.width, height: s.height, label: &s.label, inst: s.inst.as_deref() };
        let single = encode_input(maps, &cfg, None, Device::Cpu).unwrap();
        assert!(b.input.get(n as i64).unsqueeze(0).equal(&single), "sample {n} ({})", s.name);
    }
}

#[test]
fn a_bad_file_fails_its_batch_only_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c"]);
    let bad = dir.path().join("train_inst/b_gtFine_instanceIds.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let ds = Arc::new(open(dir.path()).unwrap());
    let l = Loader::new(ds, TransformOpts::default(), 1, false, 0, 3, 1).unwrap();
    let results: Vec<_> = l.epoch(0).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    let msg = results[1].as_ref().unwrap_err().to_string();
    assert!(msg.contains(&p(bad)), "{msg}");
}

#[test]
fn dropping_an_epoch_early_stops_its_threads() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..16).map(|i| format!("s{i:02}")).collect();
    folders_set(dir.path(), &names.iter().map(String::as_str).collect::<Vec<_>>());
    let l = loader(dir.path(), 1, 0, 4);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..3 {
            let mut epoch = l.epoch(0).unwrap();
            let first = epoch.next().unwrap().unwrap();
            assert_eq!(first.len(), 1);
            // Workers are now blocked on full channels or mid-batch; dropping must wake and join them all.
            drop(epoch);
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(60)).expect("dropping an epoch mid-way hung or panicked");
}

#[test]
fn an_epoch_can_start_at_a_later_batch_for_resuming() {
    let dir = tempfile::tempdir().unwrap();
    folders_set(dir.path(), &["a", "b", "c", "d", "e"]);
    let l = loader(dir.path(), 1, 4, 2);
    let all: Vec<(Vec<String>, Vec<f32>)> =
        l.epoch(3).unwrap().map(|b| b.unwrap()).map(|b| (b.names, values(b.image.as_ref().unwrap()))).collect();
    let tail: Vec<(Vec<String>, Vec<f32>)> =
        l.epoch_from(3, 2).unwrap().map(|b| b.unwrap()).map(|b| (b.names, values(b.image.as_ref().unwrap()))).collect();
    assert_eq!(tail.len(), 3);
    assert_eq!(tail, all[2..].to_vec(), "the same batches, crops and flips as the full epoch's tail");
    assert_eq!(l.epoch_from(3, 5).unwrap().count(), 0);
}
