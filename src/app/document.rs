//! The open document: the scene, its undo history, the file it is saved to, and the selection. Every change goes
//! through [`Document::apply`], which records the undo step, marks the changed rectangle for the GPU and bumps the
//! generation that renders are matched against.

use crate::scene::{Change, EditError, History, Ink, MapStorage, ObjectRef, Rect, Scene, Selection};
use std::path::{Path, PathBuf};

/// What must go to the GPU before the next frame.
#[derive(Debug, Default)]
pub struct Upload {
    /// The whole map (a new scene, even one of the same size).
    pub all: bool,
    pub rect: Option<Rect>,
}

impl Upload {
    fn add(&mut self, r: Option<Rect>) {
        if let Some(r) = r {
            self.rect = Some(self.rect.map_or(r, |a| a.union(&r)));
        }
    }
}

/// An open brush stroke: the ink chosen when it started (so the whole stroke is one object) and the last dab.
#[derive(Debug, Clone, Copy)]
struct Stroke {
    ink: Ink,
    last: (i64, i64),
}

pub struct Document {
    scene: Scene,
    history: History,
    /// Where Save writes (None: ask).
    path: Option<PathBuf>,
    /// Bumped by every change of the scene; renders carry the generation they show.
    generation: u64,
    upload: Upload,
    selection: Option<ObjectRef>,
    /// The selection's pixels, kept in step with `selection`.
    selected: Option<Selection>,
    stroke: Option<Stroke>,
    /// Where the last stroke ended (shift-click draws a line from there).
    last_point: Option<(i64, i64)>,
}

impl Document {
    pub fn new(scene: Scene, path: Option<PathBuf>) -> Document {
        Document {
            scene,
            history: History::new(),
            path,
            generation: 0,
            upload: Upload { all: true, rect: None },
            selection: None,
            selected: None,
            stroke: None,
            last_point: None,
        }
    }

    /// Makes `scene` the document: a fresh history and no selection.
    pub fn replace(&mut self, scene: Scene, path: Option<PathBuf>) {
        let generation = self.generation + 1;
        *self = Document { generation, ..Document::new(scene, path) };
    }

    pub fn scene(&self) -> &Scene {
        &self.scene
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A new generation without an edit: the same scene renders again (a new seed).
    pub fn bump(&mut self) {
        self.generation += 1;
    }

    pub fn selection(&self) -> Option<ObjectRef> {
        self.selection
    }

    pub fn selected(&self) -> Option<&Selection> {
        self.selected.as_ref()
    }

    pub fn in_stroke(&self) -> bool {
        self.stroke.is_some()
    }

    /// What changed on the map since the last call.
    pub fn take_upload(&mut self) -> Upload {
        std::mem::take(&mut self.upload)
    }

    /// Saves the scene as one self-contained JSON file (`.json` added when the name has no extension); returns
    /// the path written.
    pub fn save(&mut self, path: &Path) -> Result<PathBuf, String> {
        let path = if path.extension().is_some() { path.to_path_buf() } else { path.with_extension("json") };
        self.scene.save_json(&path, MapStorage::Embedded).map_err(|e| e.to_string())?;
        self.history.mark_saved();
        self.path = Some(path.clone());
        Ok(path)
    }

    /// Records an edit's change: undo step, GPU upload, next render.
    pub fn apply(&mut self, change: Change) {
        if change.is_empty() {
            return;
        }
        self.upload.add(change.bounds());
        self.history.record(&self.scene, change);
        self.touched();
    }

    fn touched(&mut self) {
        self.generation += 1;
        // The selection's pixels may have changed: recompute its outline, or drop it if the object is gone.
        if let Some(obj) = self.selection {
            self.selected = self.scene.selection(obj);
            if self.selected.is_none() {
                self.selection = None;
            }
        }
    }

    /// Undoes the last step; false when there is none.
    pub fn undo(&mut self) -> bool {
        self.stroke = None;
        let bounds = self.history.undo(&mut self.scene).map(Change::bounds);
        self.stepped(bounds)
    }

    /// Redoes the last undone step; false when there is none.
    pub fn redo(&mut self) -> bool {
        let bounds = self.history.redo(&mut self.scene).map(Change::bounds);
        self.stepped(bounds)
    }

    /// After an undo or redo that changed `bounds` (None: there was no step to take).
    fn stepped(&mut self, bounds: Option<Option<Rect>>) -> bool {
        let Some(b) = bounds else { return false };
        self.upload.add(b);
        self.touched();
        true
    }

    /// Runs an edit of the scene and records its change.
    pub fn edit(&mut self, f: impl FnOnce(&mut Scene) -> Change) {
        let change = f(&mut self.scene);
        self.apply(change);
    }

    /// Runs an edit that can be refused, and records its change; returns it (empty when nothing changed).
    pub fn try_edit(&mut self, f: impl FnOnce(&mut Scene) -> Result<Change, EditError>) -> Result<bool, String> {
        let change = f(&mut self.scene).map_err(|e| e.to_string())?;
        let changed = !change.is_empty();
        self.apply(change);
        Ok(changed)
    }

    /// Runs an object edit and selects the object it returns (nothing when it is gone).
    pub fn edit_object(
        &mut self,
        f: impl FnOnce(&mut Scene) -> Result<(Change, Option<ObjectRef>), EditError>,
    ) -> Result<(), String> {
        let (change, now) = f(&mut self.scene).map_err(|e| e.to_string())?;
        self.apply(change);
        self.set_selection(now);
        Ok(())
    }

    /// Starts a brush stroke: one undo step and one object until [`Document::stroke_end`].
    pub fn stroke_begin(&mut self, ink: Ink, at: (i64, i64), radius: u32, line: bool) {
        self.history.begin_stroke();
        let change = match (line, self.last_point) {
            (true, Some(a)) => self.scene.paint_line(a, at, radius, ink),
            _ => self.scene.paint_disc(at, radius, ink),
        };
        self.apply(change);
        self.stroke = Some(Stroke { ink, last: at });
    }

    pub fn stroke_to(&mut self, at: (i64, i64), radius: u32) {
        let Some(s) = self.stroke else { return };
        if s.last == at {
            return;
        }
        let change = self.scene.paint_line(s.last, at, radius, s.ink);
        self.apply(change);
        self.stroke = Some(Stroke { last: at, ..s });
    }

    pub fn stroke_end(&mut self) {
        if let Some(s) = self.stroke.take() {
            self.last_point = Some(s.last);
            self.history.end_stroke();
        }
    }

    /// Selects `object` (or nothing), keeping its outline in step.
    pub fn set_selection(&mut self, object: Option<ObjectRef>) {
        self.selected = object.and_then(|o| self.scene.selection(o));
        self.selection = object.filter(|_| self.selected.is_some());
    }
}
