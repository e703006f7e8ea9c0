//! The render worker: a named background thread that owns the model and turns scene snapshots into pictures.
//!
//! The editor never waits on it. It puts the newest snapshot into a one-element slot (a newer snapshot replaces an
//! older one that was not started yet: latest wins, so a fast brush never queues up work) and drains the worker's
//! events once per frame. On the CPU a quick preview (the model's preview generator, or the same generator at half
//! size) comes first and the full-size render after, unless a newer snapshot arrived in between. A failure — a model
//! that does not load, an error or a panic inside a render — becomes an event; the editor shows it and keeps working,
//! and can start a new worker.

use crate::features::Clusters;
use crate::model::runtime::{ResolvedModel, pick_device};
use crate::render::PrecisionChoice;
use crate::render::{Models, Picture, Thumb, scene_styles};
use crate::scene::Scene;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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

/// What the editor shows about the model once it is loaded.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub device: String,
    pub cuda: bool,
    pub preview: &'static str,
    pub clusters: Option<Clusters>,
    pub params: i64,
    /// The inference path G runs on, and why (e.g. "bf16, channels-last (auto: ...)").
    pub inference: String,
}

#[derive(Default)]
struct Slot {
    job: Option<Job>,
    thumbs: Option<ThumbJob>,
    quit: bool,
}

type Shared = Arc<(Mutex<Slot>, Condvar)>;

/// The editor's handle on a worker. Dropping it stops the worker after its current render and waits for that: a
/// process must not exit while a thread is inside LibTorch (its teardown then crashes the process).
pub struct Worker {
    shared: Shared,
    events: Receiver<Event>,
    model: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the worker tells the UI that something arrived (egui's `request_repaint`, or nothing in tests).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

impl Worker {
    /// Starts a worker thread that loads the model in `model` (a run folder) on `device` ("auto", "cpu", "cuda").
    pub fn start(model: &Path, device: &str, precision: PrecisionChoice, wake: Wake) -> Worker {
        let shared: Shared = Arc::default();
        let (tx, events) = channel();
        let (s2, path, dev) = (shared.clone(), model.to_path_buf(), device.to_string());
        let spawned = std::thread::Builder::new().name("render-worker".into()).spawn(move || {
            run(&s2, &path, &dev, precision, &tx, &wake);
        });
        match spawned {
            Ok(thread) => Worker { shared, events, model: model.to_path_buf(), thread: Some(thread) },
            Err(e) => {
                let (tx, rx) = channel();
                let _ = tx.send(Event::LoadFailed(format!("could not start the render thread: {e}")));
                Worker { shared, events: rx, model: model.to_path_buf(), thread: None }
            }
        }
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
        if let Some(t) = self.thread.take() {
            // A panic outside a render already became an event (or a closed channel); nothing more to report.
            let _ = t.join();
        }
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

fn load(dir: &Path, device: &str, precision: PrecisionChoice) -> Result<(Models, ModelInfo), String> {
    let device = pick_device(device).map_err(|e| e.to_string())?;
    let model = ResolvedModel::open(dir).map_err(|e| e.to_string())?;
    let models = Models::open(&model, device, precision).map_err(|e| e.to_string())?;
    let info = ModelInfo {
        path: dir.to_path_buf(),
        device: format!("{device:?}").to_lowercase(),
        cuda: device.is_cuda(),
        preview: if models.preview.is_some() { "global generator" } else { "same model at half size" },
        clusters: models.full.clusters.clone(),
        params: models.full.g.param_count(),
        inference: models.full.chosen.note.clone(),
    };
    Ok((models, info))
}

fn run(shared: &Shared, dir: &Path, device: &str, precision: PrecisionChoice, tx: &Sender<Event>, wake: &Wake) {
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
                let styles = scene_styles(&job.scene, job.seed);
                if job.preview {
                    let t = Instant::now();
                    match guarded(|| models.render_preview(&job.scene, &styles)) {
                        Ok(Picture { width, height, rgb }) => send(Event::Rendered {
                            generation: job.generation,
                            stage: Stage::Preview,
                            width,
                            height,
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
                match guarded(|| models.full.render_scene(s, &styles)) {
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
            Task::Thumbs(job) => {
                match guarded(|| models.full.thumbnails(&job.scene, &scene_styles(&job.scene, job.seed), job.id)) {
                    Ok(images) => send(Event::Thumbnails { generation: job.generation, id: job.id, images }),
                    Err(message) => send(Event::Failed { generation: job.generation, message }),
                }
            }
        }
    }
}

/// Runs `f`, turning its error or a panic inside it into a message.
fn guarded<T, E: std::fmt::Display>(f: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(p) => Err(panic_message(&p)),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
    format!("the renderer crashed: {}", msg.unwrap_or_else(|| "unknown panic".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_is_reported_not_fatal() {
        let w = Worker::start(Path::new("/nonexistent/model"), "cpu", PrecisionChoice::Auto, Arc::new(|| {}));
        match w.wait(Duration::from_secs(30)) {
            Some(Event::LoadFailed(msg)) => assert!(msg.contains("/nonexistent/model"), "{msg}"),
            other => panic!("expected LoadFailed, got {other:?}"),
        }
    }
}
