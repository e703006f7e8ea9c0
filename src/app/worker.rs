//! The render worker: a named background thread that owns the model and turns scene snapshots into pictures.
//!
//! The editor never waits on it. It puts the newest snapshot into a one-element slot (a newer snapshot replaces an
//! older one that was not started yet: latest wins, so a fast brush never queues up work) and drains the worker's
//! events once per frame. On the CPU a quick preview (the model's preview generator, or the same generator at half
//! size) comes first and the full-size render after, unless a newer snapshot arrived in between. A failure — a model
//! that does not load, an error or a panic inside a render — becomes an event; the editor shows it and keeps working,
//! and can start a new worker.

use crate::cli::{ModelArgs, ResolvedModel};
use crate::features::{Clusters, StyleSpec};
use crate::model::runtime::{Precision, pick_device};
use crate::model::{ModelConfig, NetG};
use crate::render::Renderer;
use crate::scene::{Rect, Scene};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The folder inside a model folder that holds its preview generator (the global generator alone, run at half the
/// size): optional; without it the preview runs the main generator at half size.
pub const PREVIEW_DIR: &str = "preview";

/// The preview is rendered at most this wide (the full render follows at the scene's own size). A preview
/// generator (the full model's G1 with its own output layer) runs at the scale G1 has inside the full model when that
/// is smaller: a quarter for the bundled model's two enhancers, 512×256 for a 2048×1024 scene.
pub const PREVIEW_MAX_WIDTH: u32 = 768;

/// By how much the preview shrinks a scene `width` pixels wide: to at most [`PREVIEW_MAX_WIDTH`], and with a preview
/// generator at least to the scale its G1 sees inside the full local generator (2 per enhancer); without one, the
/// full model at half size or less.
pub fn preview_factor(width: u32, full: &ModelConfig, has_preview: bool) -> u32 {
    let g1 = if full.net_g == NetG::Local { 1u32 << full.n_local_enhancers.clamp(0, 8) } else { 1 };
    width.div_ceil(PREVIEW_MAX_WIDTH).max(if has_preview { g1 } else { 2 })
}

/// One picture for the editor to show.
#[derive(Debug, Clone, PartialEq, Eq, Copy)]
pub enum Stage {
    Preview,
    Full,
}

/// What the editor asks for: render this snapshot.
#[derive(Debug, Clone)]
pub struct Job {
    pub generation: u64,
    pub scene: Arc<Scene>,
    pub seed: u64,
    /// Skip the preview (CUDA is fast enough for the full render at once, and the user may not want previews).
    pub preview: bool,
}

/// Thumbnails of one object in each of its style clusters, cropped around it.
#[derive(Debug, Clone)]
pub struct ThumbJob {
    pub generation: u64,
    pub scene: Arc<Scene>,
    pub seed: u64,
    pub id: u32,
    pub bbox: Rect,
}

/// What the worker reports.
#[derive(Debug)]
pub enum Event {
    /// The model is loaded.
    Ready(ModelInfo),
    /// The model could not be loaded; the worker has stopped.
    LoadFailed(String),
    Rendered {
        generation: u64,
        stage: Stage,
        width: u32,
        height: u32,
        rgb: Vec<u8>,
        seconds: f64,
    },
    /// A render failed (the worker keeps running and takes the next job).
    Failed {
        generation: u64,
        message: String,
    },
    Thumbnails {
        generation: u64,
        id: u32,
        images: Vec<Thumb>,
    },
}

/// One object rendered in one style cluster, cropped around it.
#[derive(Debug)]
pub struct Thumb {
    pub cluster: usize,
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// What the editor shows about the model once it is loaded.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub device: String,
    pub cuda: bool,
    pub preview: &'static str,
    pub clusters: Option<Clusters>,
    pub params: i64,
}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    thumbs: Option<ThumbJob>,
    quit: bool,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

/// The editor's handle on a worker. Dropping it stops the worker after its current render.
pub struct Worker {
    shared: Shared,
    events: Receiver<Event>,
    model: PathBuf,
}

/// How the worker tells the UI that something arrived (egui's `request_repaint`, or nothing in tests).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

impl Worker {
    /// Starts a worker thread that loads the model in `model` (a run folder) on `device` ("auto", "cpu", "cuda").
    pub fn start(model: &Path, device: &str, precision: Precision, wake: Wake) -> Worker {
        let shared: Shared = Arc::default();
        let (tx, events) = channel();
        let (s2, path, dev) = (shared.clone(), model.to_path_buf(), device.to_string());
        let spawned = std::thread::Builder::new().name("render-worker".into()).spawn(move || {
            run(&s2, &path, &dev, precision, &tx, &wake);
        });
        if let Err(e) = spawned {
            let (tx, rx) = channel();
            let _ = tx.send(Event::LoadFailed(format!("could not start the render thread: {e}")));
            return Worker { shared, events: rx, model: model.to_path_buf() };
        }
        Worker { shared, events, model: model.to_path_buf() }
    }

    pub fn model(&self) -> &Path {
        &self.model
    }

    /// Replaces any job not yet started with this one.
    pub fn submit(&self, job: Job) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).job = Some(job);
        cv.notify_one();
    }

    /// Asks for thumbnails (done when no render is waiting); replaces an earlier thumbnail request.
    pub fn submit_thumbnails(&self, job: ThumbJob) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).thumbs = Some(job);
        cv.notify_one();
    }

    /// Events that arrived since the last call; `None` when the thread has gone (it panicked outside a render).
    pub fn poll(&self) -> Option<Vec<Event>> {
        let mut out = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(e) => out.push(e),
                Err(std::sync::mpsc::TryRecvError::Empty) => return Some(out),
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return if out.is_empty() { None } else { Some(out) };
                }
            }
        }
    }

    /// Waits up to `timeout` for the next event (for tests and benchmarks).
    pub fn wait(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).quit = true;
        cv.notify_all();
    }
}

enum Task {
    Render(Job),
    Thumbs(ThumbJob),
}

fn next_task(shared: &Shared) -> Option<Task> {
    let (lock, cv) = &**shared;
    let mut slot = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if slot.quit {
            return None;
        }
        if let Some(job) = slot.job.take() {
            return Some(Task::Render(job));
        }
        if let Some(job) = slot.thumbs.take() {
            return Some(Task::Thumbs(job));
        }
        slot = cv.wait(slot).unwrap_or_else(|e| e.into_inner());
    }
}

fn newer_job_waiting(shared: &Shared) -> bool {
    let slot = shared.0.lock().unwrap_or_else(|e| e.into_inner());
    slot.job.is_some() || slot.quit
}

/// The models a worker holds.
struct Models {
    full: Renderer,
    /// The preview generator; `None` means "the full one at a smaller size".
    preview: Option<Renderer>,
}

fn resolve(dir: &Path) -> Result<ResolvedModel, String> {
    ModelArgs { model: Some(dir.to_path_buf()), ..Default::default() }.resolve().map_err(|e| e.to_string())
}

fn load(dir: &Path, device: &str, precision: Precision) -> Result<(Models, ModelInfo), String> {
    let device = pick_device(device).map_err(|e| e.to_string())?;
    let full = Renderer::open(&resolve(dir)?, device, precision).map_err(|e| e.to_string())?;
    let preview = open_preview(&full, dir, device, precision)?;
    let info = ModelInfo {
        path: dir.to_path_buf(),
        device: format!("{device:?}").to_lowercase(),
        cuda: device.is_cuda(),
        preview: if preview.is_some() { "global generator" } else { "same model at half size" },
        clusters: full.clusters.clone(),
        params: full.g.param_count(),
    };
    Ok((Models { full, preview }, info))
}

/// The preview generator of the model in `dir` (its `preview/` folder), if it has one. It takes the same style
/// features as the full model `full` and gets its clusters, so that a cluster index means the same in both.
pub fn open_preview(
    full: &Renderer,
    dir: &Path,
    device: tch::Device,
    precision: Precision,
) -> Result<Option<Renderer>, String> {
    let pdir = dir.join(PREVIEW_DIR);
    if !pdir.is_dir() {
        return Ok(None);
    }
    let mut p = Renderer::open(&resolve(&pdir)?, device, precision)
        .map_err(|e| format!("preview model {}: {e}", pdir.display()))?;
    if full.clusters.is_some() {
        p.clusters = full.clusters.clone();
    }
    Ok(Some(p))
}

fn run(shared: &Shared, dir: &Path, device: &str, precision: Precision, tx: &Sender<Event>, wake: &Wake) {
    let send = |e: Event| {
        let _ = tx.send(e);
        wake();
    };
    let models = match std::panic::catch_unwind(AssertUnwindSafe(|| load(dir, device, precision))) {
        Ok(Ok((m, info))) => {
            send(Event::Ready(info));
            m
        }
        Ok(Err(e)) => return send(Event::LoadFailed(e)),
        Err(p) => return send(Event::LoadFailed(panic_message(&p))),
    };
    while let Some(task) = next_task(shared) {
        match task {
            Task::Render(job) => {
                if job.preview {
                    let t = Instant::now();
                    match guarded(|| render_preview(&models, &job)) {
                        Ok((w, h, rgb)) => send(Event::Rendered {
                            generation: job.generation,
                            stage: Stage::Preview,
                            width: w,
                            height: h,
                            rgb,
                            seconds: t.elapsed().as_secs_f64(),
                        }),
                        Err(message) => {
                            send(Event::Failed { generation: job.generation, message });
                            continue;
                        }
                    }
                    if newer_job_waiting(shared) {
                        continue;
                    }
                }
                let t = Instant::now();
                let s = &job.scene;
                match guarded(|| render_scene(&models.full, s, job.seed)) {
                    Ok(rgb) => send(Event::Rendered {
                        generation: job.generation,
                        stage: Stage::Full,
                        width: s.width(),
                        height: s.height(),
                        rgb,
                        seconds: t.elapsed().as_secs_f64(),
                    }),
                    Err(message) => send(Event::Failed { generation: job.generation, message }),
                }
            }
            Task::Thumbs(job) => match guarded(|| thumbnails(&models.full, &job)) {
                Ok(images) => send(Event::Thumbnails { generation: job.generation, id: job.id, images }),
                Err(message) => send(Event::Failed { generation: job.generation, message }),
            },
        }
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(panic_message(&p)),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
    format!("the renderer crashed: {}", msg.unwrap_or_else(|| "unknown panic".into()))
}

/// The style table a render uses: the scene's choices (instance ids and stuff classes) with the editor's seed.
pub fn style_spec(scene: &Scene, seed: u64) -> StyleSpec {
    let mut spec = StyleSpec { seed, ..Default::default() };
    for (&k, &v) in scene.styles() {
        if crate::labels::is_object(k) {
            spec.by_id.insert(k, v);
        } else {
            spec.by_class.insert(k, v);
        }
    }
    spec
}

fn render_scene(r: &Renderer, s: &Scene, seed: u64) -> Result<Vec<u8>, String> {
    let spec = style_spec(s, seed);
    r.render(s.label(), s.inst(), (s.width() as usize, s.height() as usize), &spec, None).map_err(|e| e.to_string())
}

/// Nearest-neighbour shrink of both maps by an integer factor (label maps must stay crisp).
pub fn shrink(s: &Scene, factor: u32) -> (u32, u32, Vec<u8>, Vec<u32>) {
    shrink_maps(s.label(), s.inst(), (s.width(), s.height()), factor)
}

/// `shrink` for a label map and an instance map of `width`×`height` pixels.
pub fn shrink_maps(
    label: &[u8],
    inst: &[u32],
    (width, height): (u32, u32),
    factor: u32,
) -> (u32, u32, Vec<u8>, Vec<u32>) {
    let (w, h) = ((width / factor).max(1), (height / factor).max(1));
    let (mut small_label, mut small_inst) =
        (Vec::with_capacity((w * h) as usize), Vec::with_capacity((w * h) as usize));
    let sw = width as usize;
    for y in 0..h as usize {
        let row = (y * factor as usize + factor as usize / 2).min(height as usize - 1) * sw;
        for x in 0..w as usize {
            let i = row + (x * factor as usize + factor as usize / 2).min(sw - 1);
            small_label.push(label[i]);
            small_inst.push(inst[i]);
        }
    }
    (w, h, small_label, small_inst)
}

fn render_preview(m: &Models, job: &Job) -> Result<(u32, u32, Vec<u8>), String> {
    let s = &job.scene;
    let factor = preview_factor(s.width(), &m.full.g.cfg, m.preview.is_some());
    let (w, h, label, inst) = shrink(s, factor);
    let r = m.preview.as_ref().unwrap_or(&m.full);
    let spec = style_spec(s, job.seed);
    let rgb = r.render(&label, &inst, (w as usize, h as usize), &spec, None).map_err(|e| e.to_string())?;
    Ok((w, h, rgb))
}

/// The crop around an object a thumbnail shows: its box grown by half on each side, at least 64 pixels.
pub fn thumb_crop(bbox: Rect, w: u32, h: u32) -> Rect {
    let grow = |lo: u32, len: u32, max: u32| {
        let pad = (len / 2).max(32u32.saturating_sub(len / 2));
        let a = lo.saturating_sub(pad);
        let b = (lo + len + pad).min(max);
        (a, b - a)
    };
    let (x, width) = grow(bbox.x, bbox.width, w);
    let (y, height) = grow(bbox.y, bbox.height, h);
    Rect { x, y, width, height }
}

fn thumbnails(r: &Renderer, job: &ThumbJob) -> Result<Vec<Thumb>, String> {
    let Some(clusters) = &r.clusters else { return Ok(Vec::new()) };
    let class = crate::labels::class_of_instance(job.id);
    let n = clusters.count(class);
    let s = &job.scene;
    let c = thumb_crop(job.bbox, s.width(), s.height());
    let sw = s.width() as usize;
    let (mut label, mut inst) = (Vec::with_capacity(c.area()), Vec::with_capacity(c.area()));
    for y in c.y as usize..c.bottom() as usize {
        label.extend_from_slice(&s.label()[y * sw + c.x as usize..y * sw + c.right() as usize]);
        inst.extend_from_slice(&s.inst()[y * sw + c.x as usize..y * sw + c.right() as usize]);
    }
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let mut spec = style_spec(s, job.seed);
        spec.by_id.insert(job.id, crate::scene::StyleChoice::Cluster(k));
        let rgb =
            r.render(&label, &inst, (c.width as usize, c.height as usize), &spec, None).map_err(|e| e.to_string())?;
        out.push(Thumb { cluster: k, width: c.width, height: c.height, rgb });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_runs_g1_at_its_own_scale_and_never_wider_than_the_cap() {
        let local = |n| ModelConfig { net_g: NetG::Local, n_local_enhancers: n, ..Default::default() };
        // Two enhancers: G1 sees a quarter of the scene inside the full model; the preview runs it there.
        assert_eq!(preview_factor(2048, &local(2), true), 4);
        // One enhancer: half would be 1024 wide, over the cap: a third.
        assert_eq!(preview_factor(2048, &local(1), true), 3);
        assert_eq!(preview_factor(512, &local(1), true), 2);
        // A global model with a preview generator: only the cap.
        let global = ModelConfig { net_g: NetG::Global, ..Default::default() };
        assert_eq!(preview_factor(512, &global, true), 1);
        // No preview generator: the full model at half size or less.
        assert_eq!(preview_factor(512, &global, false), 2);
        assert_eq!(preview_factor(4096, &local(2), false), 6);
    }

    #[test]
    fn shrink_keeps_classes_crisp() {
        let mut label = vec![7u8; 8 * 4];
        for y in 0..4 {
            for x in 4..8 {
                label[y * 8 + x] = 11;
            }
        }
        let s = Scene::from_maps(8, 4, label, None).unwrap();
        let (w, h, l, i) = shrink(&s, 2);
        assert_eq!((w, h), (4, 2));
        assert_eq!(l, vec![7, 7, 11, 11, 7, 7, 11, 11]);
        assert_eq!(i, vec![7, 7, 11, 11, 7, 7, 11, 11]);
    }

    #[test]
    fn thumb_crop_stays_inside_the_map() {
        let c = thumb_crop(Rect { x: 2, y: 3, width: 10, height: 4 }, 100, 50);
        assert_eq!((c.x, c.y), (0, 0));
        assert!(c.right() <= 100 && c.bottom() <= 50);
        assert!(c.width >= 12 && c.height >= 7);
    }

    #[test]
    fn a_missing_model_is_reported_not_fatal() {
        let w = Worker::start(Path::new("/nonexistent/model"), "cpu", Precision::Fp32, Arc::new(|| {}));
        match w.wait(Duration::from_secs(30)) {
            Some(Event::LoadFailed(msg)) => assert!(msg.contains("/nonexistent/model"), "{msg}"),
            other => panic!("expected LoadFailed, got {other:?}"),
        }
    }
}
