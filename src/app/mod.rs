//! The editor (egui/eframe on wgpu): paint label maps, edit objects, pick styles, and watch the render follow.
//!
//! [`EditorApp`] owns four parts, each with its own file: the [`Document`] (scene, undo history, file, selection),
//! the [`Tools`], the view settings and [`Canvas`], and the [`RenderSession`] (the background worker that owns the
//! model, and the pictures it sends back). The panels (`panels.rs`), the canvas and the shortcuts only read the app
//! and emit [`Action`]s; [`EditorApp::act`] applies them, in one place.

pub mod action;
pub mod canvas;
pub mod document;
pub mod files;
pub mod latency;
pub mod panels;
pub mod session;
pub mod tools;
pub mod worker;

pub use action::Action;
pub use canvas::Canvas;
pub use document::Document;
pub use session::{Photo, RenderSession, WorkerState};
pub use tools::{Tool, Tools};

use crate::features::{ClassClusters, Clusters};
use crate::labels;
use crate::render::PrecisionChoice;
use crate::render::scene_styles;
use crate::scene::{History, Ink, InstanceMode, ObjectRef, Rect, Scene, Selection, StyleChoice};
use panels::PanelState;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub precision: PrecisionChoice,
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
            precision: PrecisionChoice::Auto,
            state_dir: files::default_state_dir(),
            autosave_secs: 60,
            no_worker: false,
        }
    }
}

/// What the canvas shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Label,
    Photo,
    /// The photo with the label colours over it at the view's opacity.
    Blend,
    SideBySide,
}

/// How the canvas shows the document.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ViewSettings {
    display: Display,
    /// Of the label colours over the photo, in the blend.
    opacity: f32,
    /// Outline every object.
    outlines: bool,
    /// Render and frame times in the status bar.
    show_timings: bool,
}

/// The status bar's message: the text, whether it is an error, and when it came.
type Message = (String, bool, Instant);

pub struct EditorApp {
    doc: Document,
    tools: Tools,
    view: ViewSettings,
    canvas: Canvas,
    session: RenderSession,
    panels: PanelState,
    options: EditorOptions,
    message: Option<Message>,
    log: Vec<(String, bool)>,
    recent_files: Vec<PathBuf>,
    last_autosave: Instant,
    recovery_offer: Option<PathBuf>,
    pending_export: Option<PathBuf>,
    frame_ms: f32,
}

fn blank_scene() -> Scene {
    Scene::blank(2048, 1024, labels::id::ROAD).expect("a blank road scene is valid")
}

impl EditorApp {
    /// The editor as eframe creates it (installs the label shader when running on wgpu).
    pub fn new(cc: &eframe::CreationContext<'_>, options: EditorOptions) -> EditorApp {
        if let Some(rs) = cc.wgpu_render_state.as_ref() {
            canvas::LabelGpu::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        EditorApp::with_options(options, Arc::new(move || ctx.request_repaint()))
    }

    /// The editor without a window (the document, tools and worker; used by `new`, by tests and benchmarks).
    pub fn with_options(options: EditorOptions, wake: worker::Wake) -> EditorApp {
        let recovery = files::recovery_path(&options.state_dir);
        let mut app = EditorApp {
            doc: Document::new(blank_scene(), None),
            tools: Tools::default(),
            view: ViewSettings { display: Display::Blend, opacity: 0.0, outlines: false, show_timings: true },
            canvas: Canvas::default(),
            session: RenderSession::new(wake),
            panels: PanelState::default(),
            recent_files: files::load_recent(&options.state_dir),
            message: None,
            log: Vec::new(),
            last_autosave: Instant::now(),
            recovery_offer: recovery.is_file().then_some(recovery),
            pending_export: None,
            frame_ms: 0.0,
            options,
        };
        let start = app.options.scene.clone().or_else(|| crate::fs::sample_scenes().into_iter().next());
        if let Some(p) = start {
            let inst = app.options.inst.clone();
            if let Err(e) = app.open(&p, inst.as_deref()) {
                app.error(e);
            }
        }
        if !app.options.no_worker {
            app.restart_worker();
        }
        app
    }

    // ---- what the panels, the canvas and tests read --------------------------------------------------------------

    pub fn document(&self) -> &Document {
        &self.doc
    }

    pub fn scene(&self) -> &Scene {
        self.doc.scene()
    }

    pub fn history(&self) -> &History {
        self.doc.history()
    }

    pub fn generation(&self) -> u64 {
        self.doc.generation()
    }

    pub fn selection(&self) -> Option<ObjectRef> {
        self.doc.selection()
    }

    pub fn selected(&self) -> Option<&Selection> {
        self.doc.selected()
    }

    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    pub fn display(&self) -> Display {
        self.view.display
    }

    pub fn opacity(&self) -> f32 {
        self.view.opacity
    }

    pub fn outlines(&self) -> bool {
        self.view.outlines
    }

    pub fn show_timings(&self) -> bool {
        self.view.show_timings
    }

    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    pub fn session(&self) -> &RenderSession {
        &self.session
    }

    pub fn worker_state(&self) -> &WorkerState {
        self.session.state()
    }

    pub fn photo(&self) -> Option<&Photo> {
        self.session.photo()
    }

    pub fn options(&self) -> &EditorOptions {
        &self.options
    }

    /// The status bar's message and whether it is an error. A notice shows for 12 seconds; an error stays until it
    /// is dismissed.
    pub fn message(&self) -> Option<(&str, bool)> {
        self.message.as_ref().filter(|m| m.1 || m.2.elapsed() < Duration::from_secs(12)).map(|m| (m.0.as_str(), m.1))
    }

    /// Every message of this editor session, oldest first, with whether it was an error.
    pub fn log(&self) -> &[(String, bool)] {
        &self.log
    }

    pub fn recent_files(&self) -> &[PathBuf] {
        &self.recent_files
    }

    pub fn recovery_offer(&self) -> Option<&Path> {
        self.recovery_offer.as_deref()
    }

    pub fn frame_ms(&self) -> f32 {
        self.frame_ms
    }

    /// The clusters of the selection's class, from the loaded model.
    pub fn selection_clusters(&self) -> Option<&ClassClusters> {
        self.session.clusters_of(self.selected()?.class())
    }

    /// The thumbnails for the selected object, when the worker has made them.
    pub fn thumbnails(&self) -> Option<&[(usize, egui::TextureHandle)]> {
        self.session.thumbnails(self.selected()?.value())
    }

    /// Whether the picture on screen is the full render of the scene as it is now.
    pub fn render_is_current(&self) -> bool {
        self.session.is_current(self.doc.generation())
    }

    pub fn export_pending(&self) -> bool {
        self.pending_export.is_some()
    }

    // ---- the one place actions are applied --------------------------------------------------------------------

    /// Applies what the user asked for.
    pub fn act(&mut self, action: Action) {
        match action {
            Action::NewBlank => self.set_scene(blank_scene(), None),
            Action::NewFromSample(p) => match Scene::open(&p) {
                Ok(s) => self.set_scene(s, None),
                Err(e) => self.error(e.to_string()),
            },
            Action::Open(p) => {
                if let Err(e) = self.open(&p, None) {
                    self.error(e);
                }
            }
            Action::SaveAs(p) => match self.doc.save(&p) {
                Ok(path) => {
                    files::push_recent(&self.options.state_dir, &mut self.recent_files, &path);
                    self.info(format!("saved {}", path.display()));
                }
                Err(e) => self.error(e),
            },
            Action::Export(p) => {
                self.pending_export = Some(p);
                if !self.render_is_current() {
                    self.info("export waits for the full render");
                }
                self.try_export();
            }
            Action::Undo => {
                if !self.doc.undo() {
                    self.info("nothing to undo");
                }
            }
            Action::Redo => {
                if !self.doc.redo() {
                    self.info("nothing to redo");
                }
            }
            Action::StrokeBegin { at, line } => {
                let radius = self.tools.brush_radius;
                self.with_ink(|doc, ink| doc.stroke_begin(ink, at, radius, line));
            }
            Action::StrokeTo(at) => self.doc.stroke_to(at, self.tools.brush_radius),
            Action::StrokeEnd => self.doc.stroke_end(),
            Action::FillRect(a, b) => self.with_ink(|doc, ink| doc.edit(|s| s.fill_rect(a, b, ink))),
            Action::FillPolygon(pts) if pts.len() < 3 => self.info("a polygon needs at least 3 corners"),
            Action::FillPolygon(pts) => self.with_ink(|doc, ink| doc.edit(|s| s.fill_polygon(&pts, ink))),
            Action::FloodFill(at) => self.with_ink(|doc, ink| doc.edit(|s| s.flood_fill(at, ink))),
            Action::PickClass((x, y)) => {
                if let Some((class, _)) = self.doc.scene().pick(x, y) {
                    self.tools.choose_class(class);
                }
            }
            Action::SelectAt((x, y)) => {
                let hit = self.doc.scene().select(x, y);
                self.doc.set_selection(hit);
            }
            Action::ClearSelection => self.doc.set_selection(None),
            Action::ChangeCategory(class) => {
                self.edit_selection(|s, obj| s.change_category(obj, class).map(|(c, now)| (c, Some(now))))
            }
            Action::DeleteSelected => self.edit_selection(|s, obj| s.delete_object(obj).map(|c| (c, None))),
            Action::DuplicateSelected => self.edit_selection(|s, obj| s.duplicate_object(obj, 24, 0)),
            Action::MoveSelected { dx: 0, dy: 0 } => {}
            Action::MoveSelected { dx, dy } => self.edit_selection(|s, obj| s.move_object(obj, dx, dy)),
            Action::ReplaceClass { from, to } => self.replace_class(from, to),
            Action::SetStyle(style) => self.set_style(style),
            Action::RerollStyle => self.reroll_style(),
            Action::SetTool(t) => self.tools.tool = t,
            Action::ChooseClass(c) => self.tools.choose_class(c),
            Action::SetBrushRadius(r) => self.tools.brush_radius = r.clamp(1, 400),
            Action::SetExtendInstance(on) => self.tools.extend_instance = on,
            Action::SetDisplay(d) => self.view.display = d,
            Action::SetOpacity(o) => self.view.opacity = o.clamp(0.0, 1.0),
            Action::SetOutlines(on) => self.view.outlines = on,
            Action::FitView => self.canvas.fit(),
            Action::SetPreviews(on) => self.session.previews = on,
            Action::SetShowTimings(on) => self.view.show_timings = on,
            Action::Notice(text) => self.info(text),
            Action::DismissMessage => self.message = None,
            Action::OpenModel(dir) => {
                self.options.model = dir;
                self.restart_worker();
                self.info(format!("loading model {}", self.options.model.display()));
            }
            Action::RestartRenderer => self.restart_worker(),
            Action::SetSeed(seed) => {
                if seed != self.session.seed {
                    self.session.seed = seed;
                    self.doc.bump();
                }
            }
            Action::Recover => self.recover(),
            Action::DiscardRecovery => {
                if let Some(p) = self.recovery_offer.take() {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }

    fn info(&mut self, msg: impl Into<String>) {
        self.say(msg.into(), false);
    }

    fn error(&mut self, msg: impl Into<String>) {
        self.say(msg.into(), true);
    }

    /// Shows a message in the status bar and keeps it in the log (errors also go to the terminal). A notice does not
    /// cover an error that has not been dismissed.
    fn say(&mut self, text: String, is_error: bool) {
        if is_error {
            eprintln!("error: {text}");
        }
        self.log.push((text.clone(), is_error));
        if is_error || !self.message.as_ref().is_some_and(|m| m.1) {
            self.message = Some((text, is_error, Instant::now()));
        }
    }

    // ---- the document ----------------------------------------------------------------------------------------

    fn set_scene(&mut self, scene: Scene, path: Option<PathBuf>) {
        self.doc.replace(scene, path);
        self.canvas.reset();
        self.session.clear_thumbnails();
    }

    /// Opens a scene `.json` or a label `.png` (with `inst`, or its instance map found by name).
    fn open(&mut self, path: &Path, inst: Option<&Path>) -> Result<(), String> {
        let is_png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        let scene = if is_png { Scene::open_label_png(path, inst) } else { Scene::open(path) };
        let scene = scene.map_err(|e| e.to_string())?;
        self.set_scene(scene, (!is_png).then(|| path.to_path_buf()));
        files::push_recent(&self.options.state_dir, &mut self.recent_files, path);
        self.info(format!("opened {}", path.display()));
        Ok(())
    }

    /// Runs a paint edit with the ink a new stroke of the current class writes.
    fn with_ink(&mut self, f: impl FnOnce(&mut Document, Ink)) {
        let mode = match (self.tools.extend_instance, self.doc.selection()) {
            (true, Some(ObjectRef::Instance(id))) => InstanceMode::Extend(id),
            _ => InstanceMode::New,
        };
        match self.doc.scene().ink(self.tools.class, mode) {
            Ok(ink) => f(&mut self.doc, ink),
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Runs an object edit on the selection (nothing without one) and selects what it returns.
    fn edit_selection(
        &mut self,
        f: impl FnOnce(&mut Scene, ObjectRef) -> Result<(crate::scene::Change, Option<ObjectRef>), crate::scene::EditError>,
    ) {
        let Some(obj) = self.doc.selection() else { return };
        if let Err(e) = self.doc.edit_object(|s| f(s, obj)) {
            self.error(e);
        }
    }

    fn replace_class(&mut self, from: u8, to: u8) {
        match self.doc.try_edit(|s| s.replace_class(from, to)) {
            Ok(false) => self.info(format!("no pixel of {} to replace", class_name(from))),
            Ok(true) => self.info(format!("{} became {}", class_name(from), class_name(to))),
            Err(e) => self.error(e),
        }
    }

    /// Gives the selected object (or region) a style. The style key is the selection's instance-map value: its id,
    /// or the class id a stuff region (or a group of objects) holds.
    fn set_style(&mut self, style: StyleChoice) {
        let Some(key) = self.selected().map(Selection::value) else { return };
        match self.doc.try_edit(|s| s.set_style(key, style)) {
            Err(e) => self.error(e),
            // The same choice again: render anyway.
            Ok(false) => self.doc.bump(),
            Ok(true) => {}
        }
    }

    /// Gives the selection another of its class's clusters, drawn at random: from the seed, the object and how many
    /// draws came before, and never the cluster it renders with now.
    fn reroll_style(&mut self) {
        let Some(sel) = self.selected() else { return };
        let (key, class) = (sel.value(), sel.class());
        let Some(clusters) = self.session.model_info().and_then(|m| m.clusters.as_ref()) else { return };
        let n = clusters.count(u32::from(class));
        if n < 2 {
            return self.info(format!("{} has {n} style cluster(s): nothing else to draw", class_name(class)));
        }
        let now = current_cluster(clusters, self.doc.scene(), self.session.seed, key);
        let roll = self.session.next_roll();
        let draw = crate::data::rng::SplitMix64::derive(&[self.session.seed, u64::from(key), roll]).up_to(n - 2);
        let k = now.map_or(draw, |c| (c + 1 + draw) % n);
        self.set_style(StyleChoice::Cluster(k));
    }

    // ---- rendering ------------------------------------------------------------------------------------------------

    fn restart_worker(&mut self) {
        self.session.start(&self.options.model, &self.options.device, self.options.precision);
    }

    fn try_export(&mut self) {
        if !self.render_is_current() {
            return;
        }
        let Some(path) = self.pending_export.take() else { return };
        let rgb = self.photo().and_then(|p| p.rgb.clone()).unwrap_or_default();
        match files::export(&path, self.doc.scene(), &rgb) {
            Ok([a, _, _]) => self.info(format!("exported {} with its label and instance maps", a.display())),
            Err(e) => self.error(format!("export failed: {e}")),
        }
    }

    // ---- housekeeping -----------------------------------------------------------------------------------------------

    /// Autosaves a changed scene to the recovery file when the interval has passed.
    fn maybe_autosave(&mut self) {
        let secs = self.options.autosave_secs;
        if secs == 0 || self.last_autosave.elapsed() < Duration::from_secs(secs) || self.recovery_offer.is_some() {
            return;
        }
        self.last_autosave = Instant::now();
        if self.doc.history().is_dirty()
            && let Err(e) = files::autosave(&self.options.state_dir, self.doc.scene())
        {
            self.error(format!("autosave failed: {e}"));
        }
    }

    fn recover(&mut self) {
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

    /// Work done every frame whatever is on screen: the worker's news, what to send it, autosave, GPU uploads.
    pub fn tick(&mut self, ctx: Option<&egui::Context>, rs: Option<&eframe::egui_wgpu::RenderState>) {
        for (text, is_error) in self.session.poll(ctx) {
            self.say(text, is_error);
        }
        self.try_export();
        self.session.maybe_send(&self.doc);
        self.session.maybe_ask_thumbnails(&self.doc);
        self.maybe_autosave();
        if let Some(rs) = rs {
            let up = self.doc.take_upload();
            let scene = self.doc.scene();
            // A new scene goes up whole even when its size equals the old one's.
            let whole = Rect { x: 0, y: 0, width: scene.width(), height: scene.height() };
            canvas::LabelGpu::upload(rs, scene, if up.all { Some(whole) } else { up.rect });
        }
    }

    /// One frame of the editor's UI: the panels and the canvas, then the actions they emitted.
    pub fn frame(&mut self, ui: &mut egui::Ui, gpu: bool) {
        let mut actions = Vec::new();
        let (mut canvas, mut panels) = (std::mem::take(&mut self.canvas), std::mem::take(&mut self.panels));
        panels::draw(self, &mut panels, &mut canvas, ui, gpu, &mut actions);
        (self.canvas, self.panels) = (canvas, panels);
        if !actions.is_empty() {
            ui.ctx().request_repaint();
        }
        for a in actions {
            self.act(a);
        }
    }
}

/// The cluster object (or region value) `key` renders with now, if its class has clusters.
fn current_cluster(clusters: &Clusters, scene: &Scene, seed: u64, key: u32) -> Option<usize> {
    scene_styles(scene, seed).cluster_for(key, clusters).ok().flatten()
}

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t = Instant::now();
        let ctx = ui.ctx().clone();
        self.tick(Some(&ctx), frame.wgpu_render_state());
        self.frame(ui, frame.wgpu_render_state().is_some());
        // Keep polling while the worker has work out, and animate the selection outline.
        if self.session.busy() || self.doc.selection().is_some() {
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
