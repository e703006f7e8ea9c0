//! The edits a user makes to a scene. Each returns a [`Change`]: the rectangle of pixels it changed with their
//! values before and after, and the style entries it changed, so that [`super::History`] can undo and redo it
//! without keeping whole maps. Every edit writes instance-map values only through `Scene::rewrite`, which derives
//! the label from them, so an edit cannot leave the two maps disagreeing.

use super::raster;
use super::{EditError, Ink, NUM_CLASSES, ObjectRef, Rect, Scene, Selection, StyleChoice, is_map_value, is_style_key};
use crate::labels;
use std::collections::{BTreeMap, BTreeSet};

/// What one edit (or one merged stroke) changed; apply it backwards with [`super::History::undo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "record the change in the History, or the edit cannot be undone"]
pub struct Change {
    pub(super) patches: Vec<Patch>,
    pub(super) styles: Vec<StyleDelta>,
}

/// Instance values of one rectangle before and after (labels follow from them, so they are not stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Patch {
    pub(super) rect: Rect,
    pub(super) before: Vec<u32>,
    pub(super) after: Vec<u32>,
}

/// One style-table entry before and after; `None` is "no entry".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StyleDelta {
    key: u32,
    before: Option<StyleChoice>,
    after: Option<StyleChoice>,
}

impl Change {
    /// Whether the edit changed nothing (painting a class onto itself, say).
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.styles.is_empty()
    }

    /// The rectangle holding every changed pixel, for redrawing; `None` when only styles changed.
    pub fn bounds(&self) -> Option<Rect> {
        self.patches.iter().map(|p| p.rect).reduce(|a, b| a.union(&b))
    }

    /// The style keys whose entry changed, so the editor can refresh its style panel.
    pub fn style_keys(&self) -> impl Iterator<Item = u32> + '_ {
        self.styles.iter().map(|d| d.key)
    }

    /// Memory held, for the history's budget.
    pub fn bytes(&self) -> usize {
        let pixels: usize = self.patches.iter().map(|p| p.before.len() + p.after.len()).sum();
        pixels * size_of::<u32>()
            + self.patches.len() * size_of::<Patch>()
            + self.styles.len() * size_of::<StyleDelta>()
    }

    pub(super) fn undo(&self, scene: &mut Scene) {
        for p in self.patches.iter().rev() {
            scene.write_rect(p.rect, &p.before);
        }
        for d in self.styles.iter().rev() {
            scene.set_style_entry(d.key, d.before);
        }
    }

    pub(super) fn redo(&self, scene: &mut Scene) {
        for p in &self.patches {
            scene.write_rect(p.rect, &p.after);
        }
        for d in &self.styles {
            scene.set_style_entry(d.key, d.after);
        }
    }

    /// Appends a later change, as one undo step. `scene` must be in the state right after `later`. Consecutive
    /// patches are merged into one rectangle when that costs no more memory than keeping both, which holds for the
    /// overlapping dabs of a brush stroke; a long thin diagonal stroke keeps several rectangles instead of one huge.
    pub(super) fn absorb(&mut self, later: Change, scene: &Scene) {
        for q in later.patches {
            let Some(p) = self.patches.last_mut() else {
                self.patches.push(q);
                continue;
            };
            let union = p.rect.union(&q.rect);
            if p.rect.encloses(&q.rect) {
                overlay(&mut p.after, p.rect, &q.after, q.rect);
            } else if q.rect.encloses(&p.rect) {
                let mut before = q.before;
                overlay(&mut before, q.rect, &p.before, p.rect);
                *p = Patch { rect: q.rect, before, after: q.after };
            } else if union.area() <= p.rect.area() + q.rect.area() {
                // Pixels of the union outside both patches were not touched by either: their current value is
                // their value before and after. The earlier patch's `before` wins where both overlap.
                let after = scene.read_rect(union);
                let mut before = after.clone();
                overlay(&mut before, union, &q.before, q.rect);
                overlay(&mut before, union, &p.before, p.rect);
                *p = Patch { rect: union, before, after };
            } else {
                self.patches.push(q);
            }
        }
        self.styles.extend(later.styles);
    }
}

/// Copies `src` (covering `src_rect`) into `dst` (covering `dst_rect`, which encloses `src_rect`).
fn overlay(dst: &mut [u32], dst_rect: Rect, src: &[u32], src_rect: Rect) {
    let (dw, sw) = (dst_rect.width as usize, src_rect.width as usize);
    let (ox, oy) = ((src_rect.x - dst_rect.x) as usize, (src_rect.y - dst_rect.y) as usize);
    for row in 0..src_rect.height as usize {
        let d = (oy + row) * dw + ox;
        dst[d..d + sw].copy_from_slice(&src[row * sw..(row + 1) * sw]);
    }
}

/// Brush and line coordinates beyond this are clamped: far off any map, and it keeps the exact geometry in range.
const COORD_LIMIT: i64 = 1 << 24;

fn clamp_point(p: (i64, i64)) -> (i64, i64) {
    (p.0.clamp(-COORD_LIMIT, COORD_LIMIT), p.1.clamp(-COORD_LIMIT, COORD_LIMIT))
}

impl Scene {
    /// The part of the inclusive pixel box `(x0, y0)..=(x1, y1)` inside the map.
    fn clip(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> Option<Rect> {
        let (x0, y0) = (x0.max(0), y0.max(0));
        let (x1, y1) = (x1.min(self.width as i64 - 1), y1.min(self.height as i64 - 1));
        (x0 <= x1 && y0 <= y1).then(|| Rect {
            x: x0 as u32,
            y: y0 as u32,
            width: (x1 - x0 + 1) as u32,
            height: (y1 - y0 + 1) as u32,
        })
    }

    /// The one place pixels change: `f(x, y, old)` gives the new instance value of each pixel of `area` (or `None`
    /// to leave it); labels follow. The change is cropped to the pixels that really changed.
    fn rewrite(&mut self, area: Option<Rect>, mut f: impl FnMut(i64, i64, u32) -> Option<u32>) -> Change {
        let Some(r) = area else { return Change::default() };
        let before = self.read_rect(r);
        let mut after = before.clone();
        let (mut c0, mut r0, mut c1, mut r1) = (u32::MAX, u32::MAX, 0, 0);
        for row in 0..r.height {
            for col in 0..r.width {
                let i = (row * r.width + col) as usize;
                let Some(v) = f((r.x + col) as i64, (r.y + row) as i64, before[i]) else { continue };
                if v != before[i] {
                    debug_assert!(is_map_value(v), "edit wrote invalid instance value {v}");
                    after[i] = v;
                    (c0, r0, c1, r1) = (c0.min(col), r0.min(row), c1.max(col), r1.max(row));
                }
            }
        }
        if c0 == u32::MAX {
            return Change::default();
        }
        let changed = Rect { x: r.x + c0, y: r.y + r0, width: c1 - c0 + 1, height: r1 - r0 + 1 };
        let crop = |buf: &[u32]| {
            let mut out = Vec::with_capacity(changed.area());
            for row in r0..=r1 {
                let start = (row * r.width + c0) as usize;
                out.extend_from_slice(&buf[start..start + changed.width as usize]);
            }
            out
        };
        let patch = Patch { rect: changed, before: crop(&before), after: crop(&after) };
        self.write_rect(changed, &patch.after);
        Change { patches: vec![patch], styles: Vec::new() }
    }

    pub(super) fn set_style_entry(&mut self, key: u32, value: Option<StyleChoice>) {
        match value {
            Some(v) => self.styles.insert(key, v),
            None => self.styles.remove(&key),
        };
    }

    /// Sets a style entry and records it in `change`.
    fn put_style(&mut self, key: u32, value: Option<StyleChoice>, change: &mut Change) {
        let before = self.styles.get(&key).copied();
        if before != value {
            self.set_style_entry(key, value);
            change.styles.push(StyleDelta { key, before, after: value });
        }
    }

    /// The bounding box of `sel` shifted by (dx, dy), clipped to the map (None when it falls off entirely).
    fn shifted_bbox(&self, sel: &Selection, dx: i64, dy: i64) -> Option<Rect> {
        let b = sel.bbox();
        self.clip(
            (b.x as i64).saturating_add(dx),
            (b.y as i64).saturating_add(dy),
            (b.right() as i64 - 1).saturating_add(dx),
            (b.bottom() as i64 - 1).saturating_add(dy),
        )
    }

    /// Writes `value` over the pixels of `sel` shifted by (dx, dy), clipped at the borders.
    fn paint_selection(&mut self, sel: &Selection, dx: i64, dy: i64, value: u32) -> Change {
        let area = self.shifted_bbox(sel, dx, dy);
        self.rewrite(area, |x, y, _| sel.contains(x.saturating_sub(dx), y.saturating_sub(dy)).then_some(value))
    }

    /// The first pixel of `sel` shifted by (dx, dy) that lands inside the map.
    fn first_landed(&self, sel: &Selection, dx: i64, dy: i64) -> Option<(u32, u32)> {
        sel.pixels()
            .map(|(x, y)| ((x as i64).saturating_add(dx), (y as i64).saturating_add(dy)))
            .find(|&(x, y)| self.index(x, y).is_some())
            .map(|(x, y)| (x as u32, y as u32))
    }

    /// What fills the hole an object leaves: the class most common among the pixels bordering it (4-neighbours;
    /// ties go to the lower class id), with, for an instance class, the instance most common among those bordering
    /// pixels, so that deleting a person in front of a car extends that car. With nothing around (the object fills
    /// the map) the hole becomes "unlabeled".
    fn surrounding_fill(&self, sel: &Selection) -> u32 {
        let b = sel.bbox();
        let mut classes = [0usize; NUM_CLASSES];
        let mut values: BTreeMap<u32, usize> = BTreeMap::new();
        for y in b.y as i64 - 1..=b.bottom() as i64 {
            for x in b.x as i64 - 1..=b.right() as i64 {
                let Some(i) = self.index(x, y) else { continue };
                if sel.contains(x, y) {
                    continue;
                }
                if [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)].iter().any(|&(nx, ny)| sel.contains(nx, ny)) {
                    classes[self.label[i] as usize] += 1;
                    *values.entry(self.inst[i]).or_default() += 1;
                }
            }
        }
        let mut best = 0;
        for (class, &n) in classes.iter().enumerate() {
            if n > classes[best] {
                best = class;
            }
        }
        if classes[best] == 0 || !labels::has_instances(best as u8) {
            return best as u32;
        }
        let mut value = (best as u32, 0);
        for (&v, &n) in values.iter().filter(|(v, _)| labels::class_of_instance(**v) == best as u32) {
            if n > value.1 {
                value = (v, n);
            }
        }
        value.0
    }

    /// One brush dab: every pixel (x, y) with `dx² + dy² ≤ r² + r` from `center` takes the ink, so radius 0 is one
    /// pixel and radius r spans `2r + 1` (what a cursor preview should outline). Hard-edged: no pixel gets anything
    /// but the ink's class.
    pub fn paint_disc(&mut self, center: (i64, i64), radius: u32, ink: Ink) -> Change {
        self.paint_line(center, center, radius, ink)
    }

    /// A thick straight line with round ends (shift-click, and the segment between two mouse positions of a drag,
    /// so fast drags leave no gaps).
    pub fn paint_line(&mut self, a: (i64, i64), b: (i64, i64), radius: u32, ink: Ink) -> Change {
        let (a, b) = (clamp_point(a), clamp_point(b));
        let r = radius as i64;
        let area = self.clip(a.0.min(b.0) - r, a.1.min(b.1) - r, a.0.max(b.0) + r, a.1.max(b.1) + r);
        self.rewrite(area, |x, y, _| raster::in_capsule((x, y), a, b, radius).then_some(ink.inst))
    }

    /// Fills the pixel box with corners `a` and `b` (both included, in any order).
    pub fn fill_rect(&mut self, a: (i64, i64), b: (i64, i64), ink: Ink) -> Change {
        let area = self.clip(a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1));
        self.rewrite(area, |_, _, _| Some(ink.inst))
    }

    /// Fills a polygon (even-odd rule) whose vertices are in continuous image coordinates, where pixel (x, y)
    /// covers `[x, x+1) × [y, y+1)`; a pixel is filled when its centre is inside. Fewer than 3 vertices fill nothing.
    pub fn fill_polygon(&mut self, points: &[(f32, f32)], ink: Ink) -> Change {
        let points: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x as f64, y as f64)).collect();
        let spans = raster::polygon_spans(&points, self.width, self.height);
        let w = self.width as usize;
        let pixels: Vec<usize> =
            spans.iter().flat_map(|&(y, x0, x1)| (x0..x1).map(move |x| y as usize * w + x as usize)).collect();
        if pixels.is_empty() {
            return Change::default();
        }
        let mask = self.selection_of(&pixels, ink.inst);
        self.paint_selection(&mask, 0, 0, ink.inst)
    }

    /// Fills the 4-connected region of equal instance values around `at` (nothing when `at` is off the map).
    pub fn flood_fill(&mut self, at: (i64, i64), ink: Ink) -> Change {
        match self.region_selection(at.0, at.1) {
            Some(region) => self.paint_selection(&region, 0, 0, ink.inst),
            None => Change::default(),
        }
    }

    /// Gives an object another class. An object becoming an instance class gets a fresh instance id of that class
    /// (a car becomes a new bus, not "bus 26003"); becoming stuff, it takes the plain class id. It takes the style
    /// of its new class as the scene has it, as the reference's editing back end copies the target's features:
    /// into stuff it joins the class's region and its style, and a new object gets the style stored under its
    /// class id (none: the seed's). The old object's own style is dropped, because a style cluster index means
    /// something only within its class. Returns the object as it is now, for the editor to keep it selected.
    pub fn change_category(&mut self, object: ObjectRef, class: u8) -> Result<(Change, ObjectRef), EditError> {
        if class as usize >= NUM_CLASSES {
            return Err(EditError::UnknownClass { class: class as u32 });
        }
        let sel = self.resolve(object)?;
        if sel.class() == class {
            return Ok((Change::default(), object));
        }
        let value = if labels::has_instances(class) { self.new_instance_id(class)? } else { class as u32 };
        let mut change = self.paint_selection(&sel, 0, 0, value);
        if labels::is_object(sel.value()) {
            self.put_style(sel.value(), None, &mut change);
        }
        if labels::is_object(value) {
            let class_style = self.styles.get(&u32::from(class)).copied();
            self.put_style(value, class_style, &mut change);
        }
        let now = if labels::is_object(value) {
            ObjectRef::Instance(value)
        } else {
            // A selection is never empty; (0, 0) only keeps this free of a panic path.
            let (x, y) = sel.pixels().next().unwrap_or((0, 0));
            ObjectRef::Region { x, y }
        };
        Ok((change, now))
    }

    /// Deletes an object: its pixels take the class that borders it most (ties: the lower class id;
    /// for an instance class, the bordering instance of that class seen most, so deleting a person in front of a car
    /// extends the car); its style goes.
    pub fn delete_object(&mut self, object: ObjectRef) -> Result<Change, EditError> {
        let sel = self.resolve(object)?;
        let fill = self.surrounding_fill(&sel);
        let mut change = self.paint_selection(&sel, 0, 0, fill);
        if labels::is_object(sel.value()) {
            self.put_style(sel.value(), None, &mut change);
        }
        Ok(change)
    }

    /// Pastes a copy of an object shifted by (dx, dy) on top of what is there, clipped at the borders. A copy of an
    /// instance is a new instance of the same class with the same style; a copy of a region keeps its value.
    /// Returns the copy, or `None` when no pixel of it lands on the map (then nothing changed). With (0, 0) the
    /// copy covers the original exactly, which then no longer exists: duplicate where the user drops the copy.
    pub fn duplicate_object(
        &mut self,
        object: ObjectRef,
        dx: i64,
        dy: i64,
    ) -> Result<(Change, Option<ObjectRef>), EditError> {
        let sel = self.resolve(object)?;
        let Some((x, y)) = self.first_landed(&sel, dx, dy) else { return Ok((Change::default(), None)) };
        if !labels::is_object(sel.value()) {
            return Ok((self.paint_selection(&sel, dx, dy, sel.value()), Some(ObjectRef::Region { x, y })));
        }
        let id = self.new_instance_id(sel.class())?;
        let mut change = self.paint_selection(&sel, dx, dy, id);
        if let Some(style) = self.styles.get(&sel.value()).copied() {
            self.put_style(id, Some(style), &mut change);
        }
        Ok((change, Some(ObjectRef::Instance(id))))
    }

    /// Moves an object by (dx, dy): it is pasted at the new place on top of what is there, and the pixels it leaves
    /// are filled as [`Scene::delete_object`] fills them. An instance keeps its id and style. Returns the object
    /// where it is now, or `None` when it was moved entirely off the map (then it is gone, like a delete).
    ///
    /// Call it once per drag, with the whole offset: each call fills the pixels the object leaves from its
    /// surroundings, so a drag made of many small moves would smear the object's surroundings along its path.
    pub fn move_object(
        &mut self,
        object: ObjectRef,
        dx: i64,
        dy: i64,
    ) -> Result<(Change, Option<ObjectRef>), EditError> {
        let sel = self.resolve(object)?;
        if (dx, dy) == (0, 0) {
            return Ok((Change::default(), Some(object)));
        }
        let fill = self.surrounding_fill(&sel);
        let b = sel.bbox();
        let shifted = self.shifted_bbox(&sel, dx, dy);
        let area = shifted.map_or(b, |s| s.union(&b));
        let value = sel.value();
        let mut change = self.rewrite(Some(area), |x, y, _| {
            if sel.contains(x.saturating_sub(dx), y.saturating_sub(dy)) {
                Some(value)
            } else {
                sel.contains(x, y).then_some(fill)
            }
        });
        let landed = self.first_landed(&sel, dx, dy);
        let now = match landed {
            None => {
                if labels::is_object(value) {
                    self.put_style(value, None, &mut change);
                }
                None
            }
            Some(_) if labels::is_object(value) => Some(ObjectRef::Instance(value)),
            Some((x, y)) => Some(ObjectRef::Region { x, y }),
        };
        Ok((change, now))
    }

    /// Every pixel of class `from` becomes class `to` ("trees become buildings"). Into an instance class, each
    /// object of `from` becomes its own new object of `to`, and each connected region of a stuff `from` becomes
    /// one; groups without an instance stay groups. Styles of the replaced objects are dropped (clusters are per
    /// class); a stuff class's own style entry stays, as the style it will have when painted again.
    pub fn replace_class(&mut self, from: u8, to: u8) -> Result<Change, EditError> {
        for class in [from, to] {
            if class as usize >= NUM_CLASSES {
                return Err(EditError::UnknownClass { class: class as u32 });
            }
        }
        let pixels: Vec<usize> = (0..self.label.len()).filter(|&i| self.label[i] == from).collect();
        if from == to || pixels.is_empty() {
            return Ok(Change::default());
        }
        // Old instance value -> new value, or, for stuff -> instance class, connected region -> new value.
        let mut by_value: BTreeMap<u32, u32> = BTreeMap::new();
        let mut region_of: Vec<u32> = Vec::new();
        let mut region_ids: Vec<u32> = Vec::new();
        if !labels::has_instances(to) {
            by_value.extend(pixels.iter().map(|&i| (self.inst[i], to as u32)));
        } else if labels::has_instances(from) {
            let olds: BTreeSet<u32> = pixels.iter().map(|&i| self.inst[i]).collect();
            let objects: Vec<u32> = olds.iter().copied().filter(|&v| labels::is_object(v)).collect();
            let fresh = self.free_instance_ids(to, objects.len())?;
            by_value.extend(objects.into_iter().zip(fresh));
            by_value.insert(from as u32, to as u32);
        } else {
            region_of = vec![u32::MAX; self.label.len()];
            let mut count = 0;
            let mut stack = Vec::new();
            for &start in &pixels {
                if region_of[start] != u32::MAX {
                    continue;
                }
                region_of[start] = count;
                stack.push(start);
                while let Some(i) = stack.pop() {
                    for j in super::neighbours4(i, self.width, self.height) {
                        if region_of[j] == u32::MAX && self.label[j] == from {
                            region_of[j] = count;
                            stack.push(j);
                        }
                    }
                }
                count += 1;
            }
            region_ids = self.free_instance_ids(to, count as usize)?;
        }
        let bbox = self.selection_of(&pixels, from as u32).bbox();
        let w = self.width as usize;
        let mut change = self.rewrite(Some(bbox), |x, y, old| {
            if labels::class_of_instance(old) != from as u32 {
                return None;
            }
            match by_value.get(&old) {
                Some(&new) => Some(new),
                None => Some(region_ids[region_of[y as usize * w + x as usize] as usize]),
            }
        });
        if labels::has_instances(from) {
            for old in by_value.keys().copied().filter(|&v| labels::is_object(v)) {
                self.put_style(old, None, &mut change);
            }
        }
        Ok(change)
    }

    /// Chooses the style of an object (instance id) or of a stuff class (class id).
    pub fn set_style(&mut self, key: u32, style: StyleChoice) -> Result<Change, EditError> {
        if !is_style_key(key) {
            return Err(EditError::BadStyleKey { key });
        }
        let mut change = Change::default();
        self.put_style(key, Some(style), &mut change);
        Ok(change)
    }

    /// Forgets a style choice; the key renders as [`StyleChoice::Random`] again.
    pub fn clear_style(&mut self, key: u32) -> Change {
        let mut change = Change::default();
        self.put_style(key, None, &mut change);
        change
    }
}
