//! Undo and redo for a scene. Each step is a [`Change`] (changed rectangles and style entries, never whole maps).
//! The stack is bounded by a number of steps and a byte budget; the oldest steps go first. A brush drag is many
//! edits but one step: the editor brackets it with [`History::begin_stroke`] and [`History::end_stroke`].
//!
//! A history belongs to one scene: the editor starts a new one (or calls [`History::clear`]) when it opens another.

use super::{Change, Scene};
use std::collections::VecDeque;

#[derive(Debug)]
struct Entry {
    change: Change,
    /// Identifies the scene state right after this step, for [`History::is_dirty`].
    state: u64,
}

#[derive(Debug)]
pub struct History {
    undo: VecDeque<Entry>,
    redo: Vec<Entry>,
    /// The step being gathered while a stroke is open.
    stroke: Option<Change>,
    max_levels: usize,
    max_bytes: usize,
    bytes: usize,
    last_state: u64,
    /// The state before the oldest step still held (steps evicted from the bottom move it up).
    base_state: u64,
    saved_state: Option<u64>,
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

impl History {
    pub const DEFAULT_LEVELS: usize = 200;
    /// 512 MiB: about 60 full-map changes of a 2048×1024 scene, far more of brush strokes.
    pub const DEFAULT_BYTES: usize = 512 << 20;

    pub fn new() -> History {
        History::with_limits(Self::DEFAULT_LEVELS, Self::DEFAULT_BYTES)
    }

    /// A history keeping at most `max_levels` steps (at least 1) and, beyond the newest step, at most `max_bytes`.
    pub fn with_limits(max_levels: usize, max_bytes: usize) -> History {
        History {
            undo: VecDeque::new(),
            redo: Vec::new(),
            stroke: None,
            max_levels: max_levels.max(1),
            max_bytes,
            bytes: 0,
            last_state: 0,
            base_state: 0,
            saved_state: Some(0),
        }
    }

    /// Records an edit just made to `scene` (which must not have changed since). Empty changes are ignored, so the
    /// editor can record every edit's result without checking. Inside a stroke it joins the stroke's step.
    pub fn record(&mut self, scene: &Scene, change: Change) {
        if change.is_empty() {
            return;
        }
        match &mut self.stroke {
            Some(stroke) => stroke.absorb(change, scene),
            None => self.push(change),
        }
    }

    /// Starts gathering edits into one step (mouse down). Opening a stroke that is already open changes nothing.
    pub fn begin_stroke(&mut self) {
        if self.stroke.is_none() {
            self.stroke = Some(Change::default());
        }
    }

    /// Closes the open stroke (mouse up); a stroke that changed nothing leaves no step.
    pub fn end_stroke(&mut self) {
        if let Some(change) = self.stroke.take()
            && !change.is_empty()
        {
            self.push(change);
        }
    }

    pub fn in_stroke(&self) -> bool {
        self.stroke.is_some()
    }

    fn push(&mut self, change: Change) {
        self.bytes -= self.redo.drain(..).map(|e| e.change.bytes()).sum::<usize>();
        self.last_state += 1;
        self.bytes += change.bytes();
        self.undo.push_back(Entry { change, state: self.last_state });
        while self.undo.len() > self.max_levels || (self.bytes > self.max_bytes && self.undo.len() > 1) {
            if let Some(old) = self.undo.pop_front() {
                self.bytes -= old.change.bytes();
                self.base_state = old.state;
            }
        }
    }

    /// Undoes the newest step (closing an open stroke first). Returns what was undone, so the editor can redraw
    /// [`Change::bounds`]; `None` when there is nothing to undo.
    pub fn undo(&mut self, scene: &mut Scene) -> Option<&Change> {
        self.end_stroke();
        let entry = self.undo.pop_back()?;
        entry.change.undo(scene);
        self.redo.push(entry);
        self.redo.last().map(|e| &e.change)
    }

    /// Redoes the newest undone step. A new edit since the undo clears the redo steps.
    pub fn redo(&mut self, scene: &mut Scene) -> Option<&Change> {
        self.end_stroke();
        let entry = self.redo.pop()?;
        entry.change.redo(scene);
        self.undo.push_back(entry);
        self.undo.back().map(|e| &e.change)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty() || self.stroke.as_ref().is_some_and(|s| !s.is_empty())
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// How many steps can be undone (an open stroke not counted).
    pub fn undo_levels(&self) -> usize {
        self.undo.len()
    }

    pub fn redo_levels(&self) -> usize {
        self.redo.len()
    }

    /// Memory held by the undo and redo steps.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every step (after opening another scene).
    pub fn clear(&mut self) {
        *self = History::with_limits(self.max_levels, self.max_bytes);
    }

    fn state(&self) -> u64 {
        self.undo.back().map_or(self.base_state, |e| e.state)
    }

    /// Notes that the scene as it is now was saved.
    pub fn mark_saved(&mut self) {
        self.end_stroke();
        self.saved_state = Some(self.state());
    }

    /// Whether the scene differs from what was last saved (or opened): for the title bar's "*" and the "save
    /// changes?" prompt. Undoing back to the saved state makes it clean again.
    pub fn is_dirty(&self) -> bool {
        self.stroke.as_ref().is_some_and(|s| !s.is_empty()) || self.saved_state != Some(self.state())
    }
}
