//! The editor (egui/eframe on wgpu): paint label maps, edit objects, pick styles, and watch the render follow.
//!
//! `EditorApp` holds the document (a [`Scene`] with its [`History`]), the tool state and the view; `ui.rs` draws it
//! and turns input into the actions below; `canvas.rs` shows the label map through a WGSL shader; `worker.rs`
//! owns the model on its own thread. Every edit goes through [`EditorApp::apply`], which records the undo step,
//! uploads the changed rectangle to the GPU and marks the scene for the next render.

pub mod canvas;
pub mod files;
pub mod latency;
mod ui;
pub mod worker;

use crate::labels;
use crate::model::runtime::Precision;
use crate::scene::{Change, History, InstanceMode, MapStorage, ObjectRef, Rect, Scene, Selection, StyleChoice};
use canvas::View;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{Event, Job, ModelInfo, Stage, ThumbJob, Worker};

/// How the editor starts.
#[derive(Debug, Clone)]
pub struct EditorOptions {
    /// A scene `.json` or label `.png` to open; `None` opens the first sample scene (or a blank one).
    pub scene: Option<PathBuf>,
    /// The instance map for a label PNG (found by name when not given).
    pub inst: Option<PathBuf>,
    /// The model folder (the bundled one by default).
    pub model: PathBuf,
    pub device: String,
    pub precision: Precision,
    /// Where the recent-files list and the recovery file live.
    pub state_dir: PathBuf,
    /// Seconds between autosaves of a changed scene to the recovery file (0: never).
    pub autosave_secs: u64,
    /// Do not start the render worker (tests of the document alone).
    pub no_worker: bool,
}

impl Default for EditorOptions {
    fn default() -> Self {
        EditorOptions {
            scene: None,
            inst: None,
            model: crate::render::bundled_model_dir(),
            device: "auto".into(),
            precision: Precision::Fp32,
            state_dir: files::default_state_dir(),
            autosave_secs: 60,
            no_worker: false,
        }
    }
}

pub use crate::fs::sample_scenes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Brush,
    Rect,
    Polygon,
    Fill,
    Eyedropper,
    Select,
}

impl Tool {
    pub const ALL: [Tool; 6] = [Tool::Brush, Tool::Rect, Tool::Polygon, Tool::Fill, Tool::Eyedropper, Tool::Select];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Brush => "Brush",
            Tool::Rect => "Rectangle",
            Tool::Polygon => "Polygon",
            Tool::Fill => "Fill",
            Tool::Eyedropper => "Eyedropper",
            Tool::Select => "Select",
        }
    }

    pub fn key(self) -> egui::Key {
        match self {
            Tool::Brush => egui::Key::B,
            Tool::Rect => egui::Key::R,
            Tool::Polygon => egui::Key::P,
            Tool::Fill => egui::Key::F,
            Tool::Eyedropper => egui::Key::I,
            Tool::Select => egui::Key::V,
        }
    }

    pub fn help(self) -> &'static str {
        match self {
            Tool::Brush => {
                "Paint with a round, hard-edged brush; shift-click draws a straight line from the last point"
            }
            Tool::Rect => "Drag to fill a rectangle",
            Tool::Polygon => "Click the corners; double-click or Enter fills, Esc cancels",
            Tool::Fill => "Fill the connected region under the cursor",
            Tool::Eyedropper => "Pick the class under the cursor",
            Tool::Select => "Click an object to select it; drag it to move it",
        }
    }
}

/// What the canvas shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Label,
    Photo,
    /// The photo with the label colours over it at `EditorApp::opacity`.
    Blend,
    SideBySide,
}

/// The picture on screen and the scene generation it shows.
pub struct Photo {
    pub texture: egui::TextureHandle,
    pub generation: u64,
    pub stage: Stage,
    pub width: u32,
    pub height: u32,
    /// Kept for export (full renders only).
    pub rgb: Option<Vec<u8>>,
}

/// The render worker's state as the UI sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerState {
    Off,
    Loading,
    Ready,
    Failed(String),
}

pub struct EditorApp {
    pub scene: Scene,
    pub history: History,
    /// Where Save writes (None: ask).
    pub scene_path: Option<PathBuf>,
    /// Bumped by every change of the scene; renders carry the generation they show.
    pub generation: u64,
    upload: Upload,

    pub tool: Tool,
    pub class: u8,
    pub recent_classes: Vec<u8>,
    pub class_filter: String,
    pub brush_radius: u32,
    pub extend_instance: bool,
    /// Set through [`EditorApp::select_at`] and [`EditorApp::clear_selection`], which keep its outline in step.
    pub selection: Option<ObjectRef>,
    selection_cache: Option<Selection>,
    stroke: Option<Stroke>,
    pub polygon: Vec<(f32, f32)>,
    drag_start: Option<egui::Pos2>,
    move_drag: Option<(ObjectRef, egui::Pos2, egui::Pos2)>,
    last_point: Option<(i64, i64)>,

    pub view: View,
    fit_pending: bool,
    pub display: Display,
    pub opacity: f32,
    pub outlines: bool,
    pub hover: Option<(u32, u32)>,
    /// Where the image was drawn last frame (the left half in side-by-side): tests turn image pixels into clicks.
    pub canvas_rect: egui::Rect,
    was_split: bool,

    pub options: EditorOptions,
    worker: Option<Worker>,
    pub worker_state: WorkerState,
    pub model_info: Option<ModelInfo>,
    wake: worker::Wake,
    sent_generation: Option<u64>,
    last_send: Instant,
    /// How many render jobs the editor has sent (tests check that an edit triggers one).
    pub jobs_sent: u64,
    pub photo: Option<Photo>,
    pub last_render: BTreeMap<&'static str, f64>,
    pub seed: u64,
    pub previews: bool,
    thumbs: Option<ThumbSet>,
    thumbs_asked: Option<(u32, u64)>,
    pending_export: Option<PathBuf>,

    pub message: Option<(String, bool, Instant)>,
    pub recent_files: Vec<PathBuf>,
    last_autosave: Instant,
    pub recovery_offer: Option<PathBuf>,
    pub path_field: String,
    pub replace_from: u8,
    pub replace_to: u8,
    pub frame_ms: f32,
    /// Show render and frame times in the status bar.
    pub show_timings: bool,
    ctx: Option<egui::Context>,
}

/// The style thumbnails of one object: (cluster, texture) pairs.
struct ThumbSet {
    id: u32,
    textures: Vec<(usize, egui::TextureHandle)>,
}

/// An open brush stroke: the ink chosen when it started (so the whole stroke is one object) and the last dab.
#[derive(Debug, Clone, Copy)]
struct Stroke {
    ink: crate::scene::Ink,
    last: (i64, i64),
}

/// What must go to the GPU before the next frame.
#[derive(Debug, Default)]
struct Upload {
    all: bool,
    rect: Option<Rect>,
}

impl Upload {
    fn add(&mut self, r: Option<Rect>) {
        if let Some(r) = r {
            self.rect = Some(self.rect.map_or(r, |a| a.union(&r)));
        }
    }
}

fn blank_scene() -> Scene {
    Scene::blank(2048, 1024, 7).expect("a blank road scene is valid")
}

impl EditorApp {
    /// The editor as eframe creates it (installs the label shader when running on wgpu).
    pub fn new(cc: &eframe::CreationContext<'_>, options: EditorOptions) -> EditorApp {
        if let Some(rs) = cc.wgpu_render_state.as_ref() {
            canvas::LabelGpu::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        let wake: worker::Wake = Arc::new(move || ctx.request_repaint());
        let mut app = EditorApp::with_options(options, wake);
        app.ctx = Some(cc.egui_ctx.clone());
        app
    }

    /// The editor without a window (the document, tools and worker; used by `new` and by tests).
    pub fn with_options(options: EditorOptions, wake: worker::Wake) -> EditorApp {
        let recent_files = files::load_recent(&options.state_dir);
        let recovery = files::recovery_path(&options.state_dir);
        let mut app = EditorApp {
            scene: blank_scene(),
            history: History::new(),
            scene_path: None,
            generation: 0,
            upload: Upload { all: true, rect: None },
            tool: Tool::Brush,
            class: 26,
            recent_classes: vec![26, 7, 8, 11, 21, 24],
            class_filter: String::new(),
            brush_radius: 12,
            extend_instance: false,
            selection: None,
            selection_cache: None,
            stroke: None,
            polygon: Vec::new(),
            drag_start: None,
            move_drag: None,
            last_point: None,
            view: View::default(),
            fit_pending: true,
            display: Display::Blend,
            opacity: 0.0,
            outlines: false,
            hover: None,
            canvas_rect: egui::Rect::NOTHING,
            was_split: false,
            worker: None,
            worker_state: WorkerState::Off,
            model_info: None,
            wake,
            sent_generation: None,
            last_send: Instant::now(),
            jobs_sent: 0,
            photo: None,
            last_render: BTreeMap::new(),
            seed: 0,
            previews: true,
            thumbs: None,
            thumbs_asked: None,
            pending_export: None,
            message: None,
            recent_files,
            last_autosave: Instant::now(),
            recovery_offer: recovery.is_file().then_some(recovery),
            path_field: String::new(),
            replace_from: 21,
            replace_to: 11,
            frame_ms: 0.0,
            show_timings: true,
            ctx: None,
            options,
        };
        let start = app.options.scene.clone().or_else(|| sample_scenes().into_iter().next());
        if let Some(p) = start {
            let inst = app.options.inst.clone();
            if let Err(e) = app.open_scene(&p, inst.as_deref()) {
                app.error(e);
            }
        }
        if !app.options.no_worker {
            app.restart_worker();
        }
        app
    }

    pub fn info(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), false, Instant::now()));
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), true, Instant::now()));
    }

    // ---- the document ----------------------------------------------------------------------------------------

    /// Makes `scene` the open document (a fresh history; the view fits it).
    pub fn set_scene(&mut self, scene: Scene, path: Option<PathBuf>) {
        self.scene = scene;
        self.history = History::new();
        self.scene_path = path;
        self.selection = None;
        self.selection_cache = None;
        self.polygon.clear();
        self.stroke = None;
        self.upload = Upload { all: true, rect: None };
        self.fit_pending = true;
        self.generation += 1;
        self.thumbs = None;
    }

    /// Opens a scene `.json` or a label `.png` (with `inst`, or its instance map found by name).
    pub fn open_scene(&mut self, path: &Path, inst: Option<&Path>) -> Result<(), String> {
        let is_png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        let scene = if is_png { Scene::open_label_png(path, inst) } else { Scene::open(path) };
        let scene = scene.map_err(|e| e.to_string())?;
        let save_to = (!is_png).then(|| path.to_path_buf());
        self.set_scene(scene, save_to);
        files::push_recent(&self.options.state_dir, &mut self.recent_files, path);
        self.info(format!("opened {}", path.display()));
        Ok(())
    }

    /// Saves the scene as one self-contained JSON file.
    pub fn save_scene(&mut self, path: &Path) -> Result<(), String> {
        let path = if path.extension().is_some() { path.to_path_buf() } else { path.with_extension("json") };
        self.scene.save_json(&path, MapStorage::Embedded).map_err(|e| e.to_string())?;
        self.history.mark_saved();
        self.scene_path = Some(path.clone());
        files::push_recent(&self.options.state_dir, &mut self.recent_files, &path);
        self.info(format!("saved {}", path.display()));
        Ok(())
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
            self.selection_cache = self.scene.selection(obj);
            if self.selection_cache.is_none() {
                self.selection = None;
            }
        }
    }

    pub fn undo(&mut self) {
        self.stroke = None;
        match self.history.undo(&mut self.scene).map(Change::bounds) {
            Some(b) => {
                self.upload.add(b);
                self.touched();
            }
            None => self.info("nothing to undo"),
        }
    }

    pub fn redo(&mut self) {
        match self.history.redo(&mut self.scene).map(Change::bounds) {
            Some(b) => {
                self.upload.add(b);
                self.touched();
            }
            None => self.info("nothing to redo"),
        }
    }

    /// The ink a new stroke of the current class writes.
    fn ink(&self) -> Result<crate::scene::Ink, String> {
        let mode = match (self.extend_instance, self.selection) {
            (true, Some(ObjectRef::Instance(id))) => InstanceMode::Extend(id),
            _ => InstanceMode::New,
        };
        self.scene.ink(self.class, mode).map_err(|e| e.to_string())
    }

    /// Chooses the paint class and moves it to the front of the recent classes.
    pub fn choose_class(&mut self, class: u8) {
        self.class = class;
        self.recent_classes.retain(|&c| c != class);
        self.recent_classes.insert(0, class);
        self.recent_classes.truncate(8);
    }

    /// Mouse down with the brush at image pixel `p` (`shift`: a straight line from the previous stroke's end).
    pub fn stroke_begin(&mut self, p: (i64, i64), shift: bool) {
        let ink = match self.ink() {
            Ok(i) => i,
            Err(e) => return self.error(e),
        };
        self.history.begin_stroke();
        let change = match (shift, self.last_point) {
            (true, Some(a)) => self.scene.paint_line(a, p, self.brush_radius, ink),
            _ => self.scene.paint_disc(p, self.brush_radius, ink),
        };
        self.apply(change);
        self.stroke = Some(Stroke { ink, last: p });
    }

    pub fn stroke_to(&mut self, p: (i64, i64)) {
        let Some(s) = self.stroke else { return };
        if s.last == p {
            return;
        }
        let change = self.scene.paint_line(s.last, p, self.brush_radius, s.ink);
        self.apply(change);
        self.stroke = Some(Stroke { last: p, ..s });
    }

    pub fn stroke_end(&mut self) {
        if let Some(s) = self.stroke.take() {
            self.last_point = Some(s.last);
            self.history.end_stroke();
        }
    }

    pub fn fill_rect(&mut self, a: (i64, i64), b: (i64, i64)) {
        match self.ink() {
            Ok(ink) => {
                let c = self.scene.fill_rect(a, b, ink);
                self.apply(c);
            }
            Err(e) => self.error(e),
        }
    }

    pub fn fill_polygon(&mut self) {
        let pts = std::mem::take(&mut self.polygon);
        if pts.len() < 3 {
            return self.info("a polygon needs at least 3 corners");
        }
        match self.ink() {
            Ok(ink) => {
                let c = self.scene.fill_polygon(&pts, ink);
                self.apply(c);
            }
            Err(e) => self.error(e),
        }
    }

    pub fn flood_fill(&mut self, p: (i64, i64)) {
        match self.ink() {
            Ok(ink) => {
                let c = self.scene.flood_fill(p, ink);
                self.apply(c);
            }
            Err(e) => self.error(e),
        }
    }

    pub fn eyedrop(&mut self, p: (i64, i64)) {
        if let Some((class, _)) = self.scene.pick(p.0, p.1) {
            self.choose_class(class);
        }
    }

    /// Selects the object under image pixel `p` (or clears the selection).
    pub fn select_at(&mut self, p: (i64, i64)) {
        self.selection = self.scene.select(p.0, p.1);
        self.selection_cache = self.selection.and_then(|o| self.scene.selection(o));
    }

    pub fn clear_selection(&mut self) {
        self.selection = None;
        self.selection_cache = None;
        self.move_drag = None;
    }

    pub fn selected(&self) -> Option<&Selection> {
        self.selection_cache.as_ref()
    }

    /// The style key of the selection: its instance id, or the class of a stuff region.
    pub fn selection_style_key(&self) -> Option<u32> {
        let s = self.selection_cache.as_ref()?;
        Some(if labels::is_object(s.value()) { s.value() } else { u32::from(s.class()) })
    }

    pub fn change_category(&mut self, class: u8) {
        let Some(obj) = self.selection else { return };
        match self.scene.change_category(obj, class) {
            Ok((change, now)) => {
                self.apply(change);
                self.selection = Some(now);
                self.selection_cache = self.scene.selection(now);
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    pub fn delete_selected(&mut self) {
        let Some(obj) = self.selection.take() else { return };
        self.selection_cache = None;
        match self.scene.delete_object(obj) {
            Ok(c) => self.apply(c),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Pastes a copy of the selection shifted by (dx, dy) and selects the copy.
    pub fn duplicate_selected(&mut self, dx: i64, dy: i64) {
        let Some(obj) = self.selection else { return };
        let r = self.scene.duplicate_object(obj, dx, dy);
        self.apply_and_select(r);
    }

    /// Applies an object edit's change and selects the object it returns (nothing when it is gone).
    fn apply_and_select(&mut self, r: Result<(Change, Option<ObjectRef>), crate::scene::EditError>) {
        match r {
            Ok((c, now)) => {
                self.apply(c);
                self.selection = now;
                self.selection_cache = now.and_then(|o| self.scene.selection(o));
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    pub fn move_selected(&mut self, dx: i64, dy: i64) {
        let Some(obj) = self.selection else { return };
        if dx == 0 && dy == 0 {
            return;
        }
        let r = self.scene.move_object(obj, dx, dy);
        self.apply_and_select(r);
    }

    pub fn replace_class(&mut self, from: u8, to: u8) {
        match self.scene.replace_class(from, to) {
            Ok(c) if c.is_empty() => self.info(format!("no pixel of {} to replace", class_name(from))),
            Ok(c) => {
                self.apply(c);
                self.info(format!("{} became {}", class_name(from), class_name(to)));
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Gives the selected object (or stuff class) a style.
    pub fn set_style(&mut self, style: StyleChoice) {
        let Some(key) = self.selection_style_key() else { return };
        match self.scene.set_style(key, style) {
            Ok(c) => {
                let before = self.generation;
                self.apply(c);
                if self.generation == before {
                    // The same choice again: render anyway, so "random" with a new seed shows.
                    self.generation += 1;
                }
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    /// The clusters of the selection's class, from the loaded model.
    pub fn selection_clusters(&self) -> Option<&crate::features::ClassClusters> {
        let s = self.selection_cache.as_ref()?;
        self.model_info.as_ref()?.clusters.as_ref()?.classes.get(&u32::from(s.class()))
    }

    // ---- rendering ------------------------------------------------------------------------------------------------

    /// Starts (or restarts) the render worker on the model in the options.
    pub fn restart_worker(&mut self) {
        self.worker = None;
        self.model_info = None;
        self.worker =
            Some(Worker::start(&self.options.model, &self.options.device, self.options.precision, self.wake.clone()));
        self.worker_state = WorkerState::Loading;
        self.sent_generation = None;
        self.thumbs_asked = None;
    }

    pub fn open_model(&mut self, dir: &Path) {
        self.options.model = dir.to_path_buf();
        self.restart_worker();
        self.info(format!("loading model {}", dir.display()));
    }

    /// Sends the scene to the worker when it changed: at once when no stroke is open, else at most every 100 ms.
    fn maybe_send(&mut self) {
        if self.worker_state != WorkerState::Ready {
            return;
        }
        let Some(w) = &self.worker else { return };
        if self.sent_generation == Some(self.generation) {
            return;
        }
        if self.stroke.is_some() && self.last_send.elapsed() < Duration::from_millis(100) {
            return;
        }
        let cuda = self.model_info.as_ref().is_some_and(|m| m.cuda);
        w.submit(Job {
            generation: self.generation,
            scene: Arc::new(self.scene.clone()),
            seed: self.seed,
            preview: self.previews && !cuda,
        });
        self.sent_generation = Some(self.generation);
        self.last_send = Instant::now();
        self.jobs_sent += 1;
    }

    fn maybe_ask_thumbnails(&mut self) {
        let (Some(w), Some(sel)) = (&self.worker, &self.selection_cache) else { return };
        if self.worker_state != WorkerState::Ready || !labels::is_object(sel.value()) || self.stroke.is_some() {
            return;
        }
        let has = self
            .model_info
            .as_ref()
            .and_then(|m| m.clusters.as_ref())
            .is_some_and(|c| c.count(u32::from(sel.class())) > 0);
        let key = (sel.value(), self.generation);
        if !has || self.thumbs_asked == Some(key) {
            return;
        }
        w.submit_thumbnails(ThumbJob {
            generation: self.generation,
            scene: Arc::new(self.scene.clone()),
            seed: self.seed,
            id: sel.value(),
        });
        self.thumbs_asked = Some(key);
    }

    /// The thumbnails for the selected object, when the worker has made them.
    pub fn thumbnails(&self) -> Option<&[(usize, egui::TextureHandle)]> {
        let t = self.thumbs.as_ref()?;
        (Some(t.id) == self.selection_cache.as_ref().map(Selection::value)).then_some(t.textures.as_slice())
    }

    /// Handles what the worker sent. `ctx` makes textures; without it (tests of the document) pictures are dropped.
    pub fn poll_worker(&mut self, ctx: Option<&egui::Context>) {
        let Some(w) = &self.worker else { return };
        let events = match w.poll() {
            Some(e) => e,
            None => {
                self.worker = None;
                self.worker_state = WorkerState::Failed("the render worker stopped".into());
                return;
            }
        };
        for e in events {
            match e {
                Event::Ready(info) => {
                    self.info(format!("model loaded from {} on {}", info.path.display(), info.device));
                    self.model_info = Some(info);
                    self.worker_state = WorkerState::Ready;
                }
                Event::LoadFailed(msg) => {
                    self.worker = None;
                    self.worker_state = WorkerState::Failed(msg.clone());
                    self.error(format!("the model did not load: {msg}"));
                    return;
                }
                Event::Failed { message, .. } => self.error(format!("render failed: {message}")),
                Event::Rendered { generation, stage, width, height, rgb, seconds } => {
                    let what = if stage == Stage::Full { "full" } else { "preview" };
                    eprintln!("rendered {what} {width}x{height} in {seconds:.3} s (scene generation {generation})");
                    self.last_render.insert(if stage == Stage::Full { "full" } else { "preview" }, seconds);
                    let newer = match &self.photo {
                        None => true,
                        Some(p) => generation > p.generation || (generation == p.generation && stage == Stage::Full),
                    };
                    if let (true, Some(ctx)) = (newer, ctx) {
                        let img = egui::ColorImage::from_rgb([width as usize, height as usize], &rgb);
                        let texture = match self.photo.take() {
                            Some(mut p) => {
                                p.texture.set(img, egui::TextureOptions::LINEAR);
                                p.texture
                            }
                            None => ctx.load_texture("render", img, egui::TextureOptions::LINEAR),
                        };
                        let keep = (stage == Stage::Full).then_some(rgb);
                        self.photo = Some(Photo { texture, generation, stage, width, height, rgb: keep });
                    }
                }
                Event::Thumbnails { id, images, .. } => {
                    if let Some(ctx) = ctx {
                        let textures = images
                            .into_iter()
                            .map(|t| {
                                let size = [t.crop.width as usize, t.crop.height as usize];
                                let img = egui::ColorImage::from_rgb(size, &t.rgb);
                                let name = format!("thumb {id} {}", t.cluster);
                                (t.cluster, ctx.load_texture(name, img, egui::TextureOptions::LINEAR))
                            })
                            .collect();
                        self.thumbs = Some(ThumbSet { id, textures });
                    }
                }
            }
        }
        self.try_export();
    }

    /// Whether the picture on screen is the full render of the scene as it is now.
    pub fn render_is_current(&self) -> bool {
        self.photo.as_ref().is_some_and(|p| p.generation == self.generation && p.stage == Stage::Full)
    }

    /// Exports the render and its maps to `path` as soon as the full render of the current scene is there.
    pub fn export(&mut self, path: &Path) {
        self.pending_export = Some(path.to_path_buf());
        if !self.render_is_current() {
            self.info("export waits for the full render");
        }
        self.try_export();
    }

    fn try_export(&mut self) {
        if !self.render_is_current() {
            return;
        }
        let Some(path) = self.pending_export.take() else { return };
        let rgb = self.photo.as_ref().and_then(|p| p.rgb.clone()).unwrap_or_default();
        match files::export(&path, &self.scene, &rgb) {
            Ok([a, _, _]) => self.info(format!("exported {} with its label and instance maps", a.display())),
            Err(e) => self.error(format!("export failed: {e}")),
        }
    }

    pub fn export_pending(&self) -> bool {
        self.pending_export.is_some()
    }

    // ---- housekeeping -----------------------------------------------------------------------------------------------

    /// Autosaves a changed scene to the recovery file when the interval has passed.
    fn maybe_autosave(&mut self) {
        let secs = self.options.autosave_secs;
        if secs == 0 || self.last_autosave.elapsed() < Duration::from_secs(secs) || self.recovery_offer.is_some() {
            return;
        }
        self.last_autosave = Instant::now();
        if self.history.is_dirty()
            && let Err(e) = files::autosave(&self.options.state_dir, &self.scene)
        {
            self.error(format!("autosave failed: {e}"));
        }
    }

    pub fn recover(&mut self) {
        if let Some(p) = self.recovery_offer.take() {
            match Scene::load_json(&p) {
                Ok(s) => {
                    self.set_scene(s, None);
                    self.info("recovered the unsaved scene; save it to keep it");
                }
                Err(e) => self.error(format!("could not recover: {e}")),
            }
            let _ = std::fs::remove_file(&p);
        }
    }

    pub fn discard_recovery(&mut self) {
        if let Some(p) = self.recovery_offer.take() {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Work done every frame whatever is on screen.
    pub fn tick(&mut self, ctx: Option<&egui::Context>, rs: Option<&eframe::egui_wgpu::RenderState>) {
        self.poll_worker(ctx);
        self.maybe_send();
        self.maybe_ask_thumbnails();
        self.maybe_autosave();
        if let Some(rs) = rs {
            let up = std::mem::take(&mut self.upload);
            // A new scene goes up whole even when its size equals the old one's.
            let whole = Rect { x: 0, y: 0, width: self.scene.width(), height: self.scene.height() };
            canvas::LabelGpu::upload(rs, &self.scene, if up.all { Some(whole) } else { up.rect });
        }
    }
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t = Instant::now();
        let ctx = ui.ctx().clone();
        self.tick(Some(&ctx), frame.wgpu_render_state());
        ui::draw(self, ui, frame.wgpu_render_state().is_some());
        // Keep polling while the worker has work out, and animate the selection outline.
        if self.sent_generation.is_some_and(|g| self.photo.as_ref().is_none_or(|p| p.generation < g))
            || self.selection.is_some()
            || self.worker_state == WorkerState::Loading
        {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
        self.frame_ms = t.elapsed().as_secs_f32() * 1000.0;
    }

    fn on_exit(&mut self) {
        // A normal exit: the recovery copy is no longer needed (unsaved changes were the user's choice).
        let _ = std::fs::remove_file(files::recovery_path(&self.options.state_dir));
    }
}

pub fn class_name(c: u8) -> &'static str {
    labels::label(c).map_or("?", |l| l.name)
}

/// Opens the editor window.
pub fn run(options: EditorOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1600.0, 950.0]).with_title("pix2pixHD editor"),
        ..Default::default()
    };
    eframe::run_native("pix2pixhd", native, Box::new(move |cc| Ok(Box::new(EditorApp::new(cc, options)))))
        .map_err(|e| anyhow::anyhow!("could not open the editor window: {e}"))
}
