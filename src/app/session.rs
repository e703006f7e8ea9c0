//! The editor's side of rendering: the worker it talks to, what it has sent, and the pictures that came back (the
//! render on screen, the style thumbnails). The worker owns the model; the session never waits for it.

use super::document::Document;
use super::worker::{self, Event, Job, ModelInfo, Stage, ThumbJob, Worker};
use crate::features::ClassClusters;
use crate::labels;
use crate::render::PrecisionChoice;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The style thumbnails of one object: (cluster, texture) pairs.
struct ThumbSet {
    id: u32,
    textures: Vec<(usize, egui::TextureHandle)>,
}

/// A line for the status bar: the text, and whether it is an error.
pub type Notice = (String, bool);

pub struct RenderSession {
    worker: Option<Worker>,
    /// Threads stopping replaced workers; joined before the session goes, so that no thread is inside LibTorch
    /// when the process exits.
    retired: Vec<std::thread::JoinHandle<()>>,
    state: WorkerState,
    model_info: Option<ModelInfo>,
    wake: worker::Wake,
    sent_generation: Option<u64>,
    last_send: Instant,
    jobs_sent: u64,
    photo: Option<Photo>,
    /// Seconds the last preview and full render took.
    last_render: BTreeMap<&'static str, f64>,
    /// The seed of every style left to chance.
    pub seed: u64,
    /// Render a quick preview before the full picture (on the CPU).
    pub previews: bool,
    /// How many times a style was drawn at random, so that each draw differs.
    rolls: u64,
    thumbs: Option<ThumbSet>,
    thumbs_asked: Option<(u32, u64)>,
}

impl RenderSession {
    /// A session with no worker yet.
    pub fn new(wake: worker::Wake) -> RenderSession {
        RenderSession {
            worker: None,
            retired: Vec::new(),
            state: WorkerState::Off,
            model_info: None,
            wake,
            sent_generation: None,
            last_send: Instant::now(),
            jobs_sent: 0,
            photo: None,
            last_render: BTreeMap::new(),
            seed: 0,
            previews: true,
            rolls: 0,
            thumbs: None,
            thumbs_asked: None,
        }
    }

    /// Starts (or restarts) the worker on the model folder `model`.
    pub fn start(&mut self, model: &Path, device: &str, precision: PrecisionChoice) {
        // The old worker may be inside a render: let it finish on a thread of its own, so the UI does not wait.
        self.retired.retain(|t| !t.is_finished());
        if let Some(old) = self.worker.take() {
            // Without a thread to spare, the old worker is dropped (and waited for) here, with the closure.
            if let Ok(t) = std::thread::Builder::new().name("render-worker-stop".into()).spawn(move || drop(old)) {
                self.retired.push(t);
            }
        }
        self.model_info = None;
        self.worker = Some(Worker::start(model, device, precision, self.wake.clone()));
        self.state = WorkerState::Loading;
        self.sent_generation = None;
        self.thumbs_asked = None;
    }

    pub fn state(&self) -> &WorkerState {
        &self.state
    }

    pub fn model_info(&self) -> Option<&ModelInfo> {
        self.model_info.as_ref()
    }

    pub fn photo(&self) -> Option<&Photo> {
        self.photo.as_ref()
    }

    pub fn last_render(&self) -> &BTreeMap<&'static str, f64> {
        &self.last_render
    }

    pub fn jobs_sent(&self) -> u64 {
        self.jobs_sent
    }

    /// A number for the next random style draw (a new one each call).
    pub fn next_roll(&mut self) -> u64 {
        self.rolls += 1;
        self.rolls
    }

    /// Forgets the pictures of the previous document.
    pub fn clear_thumbnails(&mut self) {
        self.thumbs = None;
    }

    /// Whether the picture on screen is the full render of generation `generation`.
    pub fn is_current(&self, generation: u64) -> bool {
        self.photo.as_ref().is_some_and(|p| p.generation == generation && p.stage == Stage::Full)
    }

    /// Whether the worker has work out that the screen does not show yet.
    pub fn busy(&self) -> bool {
        self.sent_generation.is_some_and(|g| self.photo.as_ref().is_none_or(|p| p.generation < g))
            || self.state == WorkerState::Loading
    }

    /// The style clusters of `class` in the loaded model.
    pub fn clusters_of(&self, class: u8) -> Option<&ClassClusters> {
        self.model_info.as_ref()?.clusters.as_ref()?.classes.get(&u32::from(class))
    }

    /// The thumbnails of object `id`, when the worker has made them.
    pub fn thumbnails(&self, id: u32) -> Option<&[(usize, egui::TextureHandle)]> {
        self.thumbs.as_ref().filter(|t| t.id == id).map(|t| t.textures.as_slice())
    }

    /// Sends the document to the worker when it changed: at once when no stroke is open, else at most every 100 ms.
    pub fn maybe_send(&mut self, doc: &Document) {
        if self.state != WorkerState::Ready || self.sent_generation == Some(doc.generation()) {
            return;
        }
        let Some(w) = &self.worker else { return };
        if doc.in_stroke() && self.last_send.elapsed() < Duration::from_millis(100) {
            return;
        }
        let cuda = self.model_info.as_ref().is_some_and(|m| m.cuda);
        w.submit(Job {
            generation: doc.generation(),
            scene: Arc::new(doc.scene().clone()),
            seed: self.seed,
            preview: self.previews && !cuda,
        });
        self.sent_generation = Some(doc.generation());
        self.last_send = Instant::now();
        self.jobs_sent += 1;
    }

    /// Asks for the selected object's style thumbnails when the model has clusters for its class.
    pub fn maybe_ask_thumbnails(&mut self, doc: &Document) {
        let (Some(w), Some(sel)) = (&self.worker, doc.selected()) else { return };
        if self.state != WorkerState::Ready || !labels::is_object(sel.value()) || doc.in_stroke() {
            return;
        }
        let key = (sel.value(), doc.generation());
        if self.clusters_of(sel.class()).is_none_or(|c| c.centers.is_empty()) || self.thumbs_asked == Some(key) {
            return;
        }
        w.submit_thumbnails(ThumbJob {
            generation: doc.generation(),
            scene: Arc::new(doc.scene().clone()),
            seed: self.seed,
            id: sel.value(),
        });
        self.thumbs_asked = Some(key);
    }

    /// Takes in what the worker sent. `ctx` makes textures; without it (tests of the document) pictures are
    /// dropped. Returns what the status bar should say.
    pub fn poll(&mut self, ctx: Option<&egui::Context>) -> Vec<Notice> {
        let mut notices = Vec::new();
        let Some(w) = &self.worker else { return notices };
        let Some(events) = w.poll() else {
            self.worker = None;
            self.state = WorkerState::Failed("the render worker stopped".into());
            return notices;
        };
        for e in events {
            match e {
                Event::Ready(info) => {
                    notices.push((format!("model loaded from {} on {}", info.path.display(), info.device), false));
                    self.model_info = Some(info);
                    self.state = WorkerState::Ready;
                }
                Event::LoadFailed(msg) => {
                    self.worker = None;
                    self.state = WorkerState::Failed(msg.clone());
                    notices.push((format!("the model did not load: {msg}"), true));
                    return notices;
                }
                Event::Failed { message, .. } => notices.push((format!("render failed: {message}"), true)),
                Event::Rendered { generation, stage, width, height, rgb, seconds } => {
                    self.show(ctx, generation, stage, (width, height), rgb, seconds);
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
        notices
    }

    /// Puts a render on screen unless a newer one is there.
    fn show(
        &mut self,
        ctx: Option<&egui::Context>,
        generation: u64,
        stage: Stage,
        (width, height): (u32, u32),
        rgb: Vec<u8>,
        seconds: f64,
    ) {
        let what = if stage == Stage::Full { "full" } else { "preview" };
        eprintln!("rendered {what} {width}x{height} in {seconds:.3} s (scene generation {generation})");
        self.last_render.insert(what, seconds);
        let newer = match &self.photo {
            None => true,
            Some(p) => generation > p.generation || (generation == p.generation && stage == Stage::Full),
        };
        let (true, Some(ctx)) = (newer, ctx) else { return };
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

/// A model folder's name for the UI.
pub fn model_name(path: &Path) -> String {
    path.file_name().map_or(path.display().to_string(), |n| n.to_string_lossy().into())
}

impl Drop for RenderSession {
    /// Stops the worker (after the render in progress) and waits for the replaced ones.
    fn drop(&mut self) {
        self.worker = None;
        for t in self.retired.drain(..) {
            let _ = t.join();
        }
    }
}
