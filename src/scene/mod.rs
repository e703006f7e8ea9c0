//! The editor's document: a label map, an instance map and the per-object style choices, the edits a user makes to
//! them (`edit`), their undo history (`history`) and their files (`io`).
//!
//! Plain Rust on purpose: no tch and no egui, so that every edit can be unit-tested, and so that the render worker
//! can be handed a cheap snapshot (`Scene` is `Clone`).
//!
//! Invariants, checked by [`Scene::validate`] and kept by every edit:
//! - every label id is in the label table (`0..=33`);
//! - for every pixel `labels::class_of_instance(inst) == label`;
//! - pixels of classes without instances ("stuff") store `inst == label`. Pixels of instance classes store either
//!   `class * 1000 + k` (one object; `k` counts from 0) or the plain class id (a group of objects without an
//!   instance of its own, which is how Cityscapes marks crowds).
//!
//! Style keys are instance ids (`>= 1000`, one object) or class ids (`< 1000`, every stuff region of that class).

mod edit;
mod history;
mod io;
mod raster;

pub use edit::Change;
pub use history::History;
pub use io::{MapStorage, SceneError, find_instance_png};

use crate::labels::{self, LABELS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// How many class ids the label table holds; label ids must be below this.
pub const NUM_CLASSES: usize = LABELS.len();

/// Instance ids are `class * 1000 + k`, so a class has room for this many objects.
pub const MAX_INSTANCES_PER_CLASS: u32 = labels::INSTANCE_BASE;

/// The style an object (or a stuff class) is rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StyleChoice {
    /// The renderer picks a cluster (from its own seed, so a render stays reproducible).
    #[default]
    Random,
    /// The index of a K-means style cluster of the object's class.
    Cluster(usize),
}

/// An axis-aligned pixel rectangle; `x + width` and `y + height` are exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn area(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn right(&self) -> u32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.height
    }

    pub fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x as i64 && y >= self.y as i64 && x < self.right() as i64 && y < self.bottom() as i64
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        Rect { x, y, width: self.right().max(other.right()) - x, height: self.bottom().max(other.bottom()) - y }
    }

    /// Whether `other` lies entirely inside `self`.
    pub fn encloses(&self, other: &Rect) -> bool {
        other.x >= self.x && other.y >= self.y && other.right() <= self.right() && other.bottom() <= self.bottom()
    }
}

/// Whether painting an instance class starts a new object or grows an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceMode {
    /// Every stroke starts a new object with the smallest free instance id.
    #[default]
    New,
    /// The editor's "extend selected instance": paint into this instance id. Used only when the id is an instance of
    /// the painted class; otherwise painting starts a new object, as with [`InstanceMode::New`], so that leaving the
    /// option on while switching classes cannot produce a mismatched instance.
    Extend(u32),
}

/// What a paint tool writes: a class and the instance-map value that goes with it. Made by [`Scene::ink`], so it
/// always satisfies the scene's invariants; the editor makes one when a stroke starts and keeps it for every dab
/// of that stroke, so the whole stroke is one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ink {
    class: u8,
    inst: u32,
}

impl Ink {
    pub fn class(&self) -> u8 {
        self.class
    }

    /// The instance-map value painted: `class * 1000 + k` for an object, the class id for stuff.
    pub fn inst(&self) -> u32 {
        self.inst
    }
}

/// An object the object tools act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectRef {
    /// Every pixel with this instance id (`>= 1000`), connected or not: an occluded car split in two is one object.
    Instance(u32),
    /// The 4-connected region of equal instance-map values containing this pixel: a stuff region, or a group of an
    /// instance class without its own instance id.
    Region { x: u32, y: u32 },
}

/// The pixels of one object, as a mask over its bounding box; what the editor outlines when an object is selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    bbox: Rect,
    bits: Vec<bool>,
    value: u32,
    count: usize,
}

impl Selection {
    pub fn bbox(&self) -> Rect {
        self.bbox
    }

    /// The instance-map value every selected pixel holds.
    pub fn value(&self) -> u32 {
        self.value
    }

    pub fn class(&self) -> u8 {
        labels::class_of_instance(self.value) as u8
    }

    pub fn pixel_count(&self) -> usize {
        self.count
    }

    /// Whether pixel (x, y) is selected; coordinates outside the map are simply not selected.
    pub fn contains(&self, x: i64, y: i64) -> bool {
        self.bbox.contains(x, y)
            && self.bits
                [(y - self.bbox.y as i64) as usize * self.bbox.width as usize + (x - self.bbox.x as i64) as usize]
    }

    /// The selected pixels in row-major order.
    pub fn pixels(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let b = self.bbox;
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(move |(i, _)| (b.x + (i % b.width as usize) as u32, b.y + (i / b.width as usize) as u32))
    }
}

/// One object of the scene, for the editor's object list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub id: u32,
    pub class: u8,
    pub pixels: usize,
    pub bbox: Rect,
}

/// What is wrong with a pair of maps (without a file: [`SceneError`] adds the file).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MapError {
    #[error("a scene must be at least 1×1 pixels, got {width}×{height}")]
    Empty { width: u32, height: u32 },
    #[error("the {which} map holds {found} pixels but a {width}×{height} scene needs {expected}")]
    WrongLength { which: &'static str, found: usize, width: u32, height: u32, expected: usize },
    #[error("class id {id} at pixel ({x}, {y}) is not in the label table (expected 0..={max})", max = NUM_CLASSES - 1)]
    UnknownClass { id: u32, x: u32, y: u32 },
    #[error("instance value {inst} at pixel ({x}, {y}) belongs to class {inst_class}, but the label map says {label}")]
    InstanceMismatch { inst: u32, inst_class: u32, label: u8, x: u32, y: u32 },
    #[error(
        "instance value {inst} at pixel ({x}, {y}) is an object id, but class {label} ({name}) has no instances; \
         expected the plain class id {label}",
        name = labels::LABELS[*label as usize].name
    )]
    StuffWithInstance { inst: u32, label: u8, x: u32, y: u32 },
    #[error(
        "class {class} ({name}) has more than {MAX_INSTANCES_PER_CLASS} separate regions; instance ids \
         class*1000+k have room for k < {MAX_INSTANCES_PER_CLASS} only",
        name = labels::LABELS[*class as usize].name
    )]
    TooManyInstances { class: u8 },
}

/// Why an edit could not be made; nothing was changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EditError {
    #[error("class id {class} is not in the label table (expected 0..={max})", max = NUM_CLASSES - 1)]
    UnknownClass { class: u32 },
    #[error("class {class} ({name}) has no object instances (expected one of 24..=33)", name = class_name(*class))]
    NotAnInstanceClass { class: u8 },
    #[error("all {MAX_INSTANCES_PER_CLASS} instance ids of class {class} ({name}) are in use", name = class_name(*class))]
    NoFreeInstanceId { class: u8 },
    #[error("instance {id} is not in the scene")]
    NoSuchInstance { id: u32 },
    #[error("pixel ({x}, {y}) is outside the {width}×{height} scene")]
    OutOfBounds { x: i64, y: i64, width: u32, height: u32 },
    #[error(
        "style key {key} is neither a class id (0..={max}) nor an instance id of an instance class \
         (24000..=33999)",
        max = NUM_CLASSES - 1
    )]
    BadStyleKey { key: u32 },
}

fn class_name(class: u8) -> &'static str {
    labels::label(class).map_or("not in the label table", |l| l.name)
}

/// Whether `key` may carry a style: a class id, or an instance id of an instance class.
pub fn is_style_key(key: u32) -> bool {
    is_map_value(key)
}

/// Whether a pixel may hold this instance-map value: a class id, or `class * 1000 + k` of an instance class.
fn is_map_value(v: u32) -> bool {
    let class = labels::class_of_instance(v);
    class < NUM_CLASSES as u32 && (!labels::is_object(v) || labels::has_instances(class as u8))
}

/// The document the editor edits. Fields are private so that only edits that keep the invariants can change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scene {
    width: u32,
    height: u32,
    label: Vec<u8>,
    inst: Vec<u32>,
    styles: BTreeMap<u32, StyleChoice>,
}

impl Scene {
    /// A scene filled with one class; an instance class fills it with a single object.
    pub fn blank(width: u32, height: u32, class: u8) -> Result<Scene, MapError> {
        let n = width as usize * height as usize;
        let inst = if labels::has_instances(class) { labels::object_id(class, 0) } else { class as u32 };
        Scene::from_maps(width, height, vec![class; n], Some(vec![inst; n]))
    }

    /// A scene from raw maps (row-major, `width * height` long). Without an instance map, one is derived as
    /// [`Scene::derive_instances`] does.
    pub fn from_maps(width: u32, height: u32, label: Vec<u8>, inst: Option<Vec<u32>>) -> Result<Scene, MapError> {
        if width == 0 || height == 0 {
            return Err(MapError::Empty { width, height });
        }
        let expected = width as usize * height as usize;
        if label.len() != expected {
            return Err(MapError::WrongLength { which: "label", found: label.len(), width, height, expected });
        }
        check_label_ids(width, &label)?;
        let inst = match inst {
            Some(inst) => inst,
            None => Scene::derive_instances(width, height, &label)?,
        };
        let scene = Scene { width, height, label, inst, styles: BTreeMap::new() };
        scene.validate()?;
        Ok(scene)
    }

    /// An instance map for a label map that came without one: every 4-connected region of an instance class becomes
    /// one object, numbered from 0 per class in reading order; stuff pixels get their class id.
    pub fn derive_instances(width: u32, height: u32, label: &[u8]) -> Result<Vec<u32>, MapError> {
        let expected = width as usize * height as usize;
        if label.len() != expected {
            return Err(MapError::WrongLength { which: "label", found: label.len(), width, height, expected });
        }
        check_label_ids(width, label)?;
        let mut inst: Vec<u32> = label.iter().map(|&c| c as u32).collect();
        let mut done = vec![false; label.len()];
        let mut next_k = [0u32; NUM_CLASSES];
        let mut stack = Vec::new();
        for start in 0..label.len() {
            let class = label[start];
            if done[start] || !labels::has_instances(class) {
                continue;
            }
            let k = next_k[class as usize];
            if k >= MAX_INSTANCES_PER_CLASS {
                return Err(MapError::TooManyInstances { class });
            }
            next_k[class as usize] += 1;
            let id = labels::object_id(class, k);
            done[start] = true;
            stack.push(start);
            while let Some(i) = stack.pop() {
                inst[i] = id;
                for j in neighbours4(i, width, height) {
                    if !done[j] && label[j] == class {
                        done[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        Ok(inst)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Class ids, row-major.
    pub fn label(&self) -> &[u8] {
        &self.label
    }

    /// Instance-map values, row-major.
    pub fn inst(&self) -> &[u32] {
        &self.inst
    }

    /// Every style that was chosen; keys without an entry render as [`StyleChoice::Random`].
    pub fn styles(&self) -> &BTreeMap<u32, StyleChoice> {
        &self.styles
    }

    /// The style of an object (instance id) or of a stuff class (class id).
    pub fn style(&self, key: u32) -> StyleChoice {
        self.styles.get(&key).copied().unwrap_or_default()
    }

    /// Checks the invariants listed in the module docs; names the first offending pixel.
    pub fn validate(&self) -> Result<(), MapError> {
        let expected = self.width as usize * self.height as usize;
        for (which, found) in [("label", self.label.len()), ("instance", self.inst.len())] {
            if found != expected {
                let (width, height) = (self.width, self.height);
                return Err(MapError::WrongLength { which, found, width, height, expected });
            }
        }
        check_label_ids(self.width, &self.label)?;
        for (i, (&label, &inst)) in self.label.iter().zip(&self.inst).enumerate() {
            let (x, y) = (i as u32 % self.width, i as u32 / self.width);
            let inst_class = labels::class_of_instance(inst);
            if inst_class != label as u32 {
                return Err(MapError::InstanceMismatch { inst, inst_class, label, x, y });
            }
            if inst != label as u32 && !labels::has_instances(label) {
                return Err(MapError::StuffWithInstance { inst, label, x, y });
            }
        }
        Ok(())
    }

    fn index(&self, x: i64, y: i64) -> Option<usize> {
        (x >= 0 && y >= 0 && x < self.width as i64 && y < self.height as i64)
            .then(|| y as usize * self.width as usize + x as usize)
    }

    /// The eyedropper: the class and instance-map value at a pixel, or `None` outside the map.
    pub fn pick(&self, x: i64, y: i64) -> Option<(u8, u32)> {
        self.index(x, y).map(|i| (self.label[i], self.inst[i]))
    }

    /// What a click selects: the object under the pixel if it has an instance id, else the region around it.
    pub fn select(&self, x: i64, y: i64) -> Option<ObjectRef> {
        let i = self.index(x, y)?;
        Some(if labels::is_object(self.inst[i]) {
            ObjectRef::Instance(self.inst[i])
        } else {
            ObjectRef::Region { x: x as u32, y: y as u32 }
        })
    }

    /// The pixels of an object; `None` when the instance is not in the scene or the region's pixel is outside.
    pub fn selection(&self, object: ObjectRef) -> Option<Selection> {
        match object {
            ObjectRef::Instance(id) => self.instance_selection(id),
            ObjectRef::Region { x, y } => self.region_selection(x as i64, y as i64),
        }
    }

    /// Like [`Scene::selection`], with the reason when there is nothing to select.
    fn resolve(&self, object: ObjectRef) -> Result<Selection, EditError> {
        self.selection(object).ok_or(match object {
            ObjectRef::Instance(id) => EditError::NoSuchInstance { id },
            ObjectRef::Region { x, y } => {
                EditError::OutOfBounds { x: x as i64, y: y as i64, width: self.width, height: self.height }
            }
        })
    }

    fn instance_selection(&self, id: u32) -> Option<Selection> {
        // Values below 1000 are classes, not objects: "instance 7" would otherwise select every road pixel.
        if !labels::is_object(id) {
            return None;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        let mut count = 0;
        for (i, _) in self.inst.iter().enumerate().filter(|(_, v)| **v == id) {
            let (x, y) = (i as u32 % self.width, i as u32 / self.width);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            count += 1;
        }
        if count == 0 {
            return None;
        }
        let bbox = Rect { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
        let bits = self.read_rect(bbox).iter().map(|v| *v == id).collect();
        Some(Selection { bbox, bits, value: id, count })
    }

    fn region_selection(&self, x: i64, y: i64) -> Option<Selection> {
        let start = self.index(x, y)?;
        let value = self.inst[start];
        let mut seen = vec![false; self.inst.len()];
        let mut pixels = vec![start];
        seen[start] = true;
        let mut next = 0;
        while next < pixels.len() {
            let i = pixels[next];
            next += 1;
            for j in neighbours4(i, self.width, self.height) {
                if !seen[j] && self.inst[j] == value {
                    seen[j] = true;
                    pixels.push(j);
                }
            }
        }
        Some(self.selection_of(&pixels, value))
    }

    /// A selection from a list of pixel indexes that all hold `value`.
    fn selection_of(&self, pixels: &[usize], value: u32) -> Selection {
        let w = self.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for &i in pixels {
            (x0, y0, x1, y1) = (x0.min(i % w), y0.min(i / w), x1.max(i % w), y1.max(i / w));
        }
        let bbox = Rect { x: x0 as u32, y: y0 as u32, width: (x1 - x0 + 1) as u32, height: (y1 - y0 + 1) as u32 };
        let mut bits = vec![false; bbox.area()];
        for &i in pixels {
            bits[(i / w - y0) * bbox.width as usize + (i % w - x0)] = true;
        }
        Selection { bbox, bits, value, count: pixels.len() }
    }

    /// Every object with an instance id, by id.
    pub fn objects(&self) -> Vec<ObjectInfo> {
        let mut found: BTreeMap<u32, (usize, u32, u32, u32, u32)> = BTreeMap::new();
        for (i, &v) in self.inst.iter().enumerate().filter(|(_, v)| labels::is_object(**v)) {
            let (x, y) = (i as u32 % self.width, i as u32 / self.width);
            let e = found.entry(v).or_insert((0, x, y, x, y));
            *e = (e.0 + 1, e.1.min(x), e.2.min(y), e.3.max(x), e.4.max(y));
        }
        found
            .into_iter()
            .map(|(id, (pixels, x0, y0, x1, y1))| ObjectInfo {
                id,
                class: labels::class_of_instance(id) as u8,
                pixels,
                bbox: Rect { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 },
            })
            .collect()
    }

    /// The smallest free instance id of a class: `class * 1000 + k` with the smallest `k` that no pixel uses and
    /// no style entry names (an object painted over and gone may come back with undo, its style with it; a new
    /// object must not inherit that style).
    pub fn new_instance_id(&self, class: u8) -> Result<u32, EditError> {
        Ok(self.free_instance_ids(class, 1)?[0])
    }

    /// The `n` smallest free instance ids of a class (see [`Scene::new_instance_id`]).
    fn free_instance_ids(&self, class: u8, n: usize) -> Result<Vec<u32>, EditError> {
        if class as usize >= NUM_CLASSES {
            return Err(EditError::UnknownClass { class: class as u32 });
        }
        if !labels::has_instances(class) {
            return Err(EditError::NotAnInstanceClass { class });
        }
        let base = labels::object_id(class, 0);
        let mut used = vec![false; MAX_INSTANCES_PER_CLASS as usize];
        let ours = base..base + MAX_INSTANCES_PER_CLASS;
        for &v in self.inst.iter().chain(self.styles.keys()) {
            if ours.contains(&v) {
                used[(v - base) as usize] = true;
            }
        }
        let free: Vec<u32> =
            (0..MAX_INSTANCES_PER_CLASS).filter(|k| !used[*k as usize]).take(n).map(|k| base + k).collect();
        if free.len() < n {
            return Err(EditError::NoFreeInstanceId { class });
        }
        Ok(free)
    }

    /// The ink a paint stroke of `class` writes: the class id for stuff; for an instance class the instance that
    /// `mode` names, or a new one.
    pub fn ink(&self, class: u8, mode: InstanceMode) -> Result<Ink, EditError> {
        if class as usize >= NUM_CLASSES {
            return Err(EditError::UnknownClass { class: class as u32 });
        }
        if !labels::has_instances(class) {
            return Ok(Ink { class, inst: class as u32 });
        }
        let inst = match mode {
            InstanceMode::Extend(id) if labels::is_object(id) && labels::class_of_instance(id) == class as u32 => id,
            _ => self.new_instance_id(class)?,
        };
        Ok(Ink { class, inst })
    }

    /// A copy of the instance values inside `r`, row-major.
    fn read_rect(&self, r: Rect) -> Vec<u32> {
        let w = self.width as usize;
        let mut out = Vec::with_capacity(r.area());
        for y in r.y as usize..r.bottom() as usize {
            out.extend_from_slice(&self.inst[y * w + r.x as usize..y * w + r.right() as usize]);
        }
        out
    }

    /// Writes instance values into `r` and the labels that follow from them.
    fn write_rect(&mut self, r: Rect, values: &[u32]) {
        let w = self.width as usize;
        for (row, y) in (r.y as usize..r.bottom() as usize).enumerate() {
            let src = &values[row * r.width as usize..(row + 1) * r.width as usize];
            let start = y * w + r.x as usize;
            self.inst[start..start + r.width as usize].copy_from_slice(src);
            for (l, &v) in self.label[start..start + r.width as usize].iter_mut().zip(src) {
                *l = labels::class_of_instance(v) as u8;
            }
        }
    }
}

fn check_label_ids(width: u32, label: &[u8]) -> Result<(), MapError> {
    match label.iter().position(|&c| c as usize >= NUM_CLASSES) {
        Some(i) => Err(MapError::UnknownClass { id: label[i] as u32, x: i as u32 % width, y: i as u32 / width }),
        None => Ok(()),
    }
}

/// The in-map 4-neighbours of pixel index `i`.
fn neighbours4(i: usize, width: u32, height: u32) -> impl Iterator<Item = usize> {
    let (w, h) = (width as usize, height as usize);
    let (x, y) = (i % w, i / w);
    [(x > 0).then(|| i - 1), (x + 1 < w).then(|| i + 1), (y > 0).then(|| i - w), (y + 1 < h).then(|| i + w)]
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests;
