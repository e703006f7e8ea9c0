//! `pix2pixhd bench --editor`: how long the editor's user waits. Edit → preview and edit → full render through the
//! real render worker, and the UI thread's frame time (egui layout + tessellation) while the worker renders.

use super::worker::{Event, Job, Stage, Worker};
use super::{Action, EditorApp, EditorOptions};
use crate::bench::Stats;
use crate::fs::sample_scenes;
use crate::render::PrecisionChoice;
use crate::scene::Scene;
use anyhow::{Result, bail};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wait_for(w: &Worker, what: &str, mut done: impl FnMut(&Event) -> bool) -> Result<Event> {
    let t = Instant::now();
    loop {
        let left = Duration::from_secs(600).saturating_sub(t.elapsed());
        match w.wait(left) {
            Some(Event::LoadFailed(m)) => bail!("the model did not load: {m}"),
            Some(Event::Failed { message, .. }) => bail!("a render failed: {message}"),
            Some(e) if done(&e) => return Ok(e),
            Some(_) => {}
            None => bail!("no {what} within 10 minutes"),
        }
    }
}

pub fn run(
    model: &Path,
    scene: Option<&Path>,
    device: &str,
    precision: PrecisionChoice,
    edits: usize,
    frames: usize,
) -> Result<()> {
    let path = scene.map(Path::to_path_buf).or_else(|| sample_scenes().into_iter().next());
    let mut scene = match &path {
        Some(p) => Scene::open(p)?,
        None => Scene::blank(2048, 1024, 7)?,
    };
    println!(
        "editor latency: model {}, scene {} ({}x{})",
        model.display(),
        path.as_ref().map_or("blank".into(), |p| p.display().to_string()),
        scene.width(),
        scene.height()
    );
    let w = Worker::start(model, device, precision, Arc::new(|| {}));
    let Event::Ready(info) = wait_for(&w, "model load", |e| matches!(e, Event::Ready(_)))? else { unreachable!() };
    println!("device {}, {} generator parameters, preview: {}", info.device, info.params, info.preview);
    println!("inference: {}", info.inference);
    let preview = !info.cuda;
    let submit = |g: u64, s: &Scene| w.submit(Job { generation: g, scene: Arc::new(s.clone()), seed: 0, preview });
    // Warm-up render (allocator, kernels).
    submit(0, &scene);
    wait_for(&w, "warm-up render", |e| matches!(e, Event::Rendered { stage: Stage::Full, .. }))?;

    let (mut to_preview, mut to_full) = (Vec::new(), Vec::new());
    let ink = scene.ink(8, Default::default())?;
    for i in 1..=edits as u64 {
        let x = (i as i64 * 97) % scene.width() as i64;
        let _ = scene.paint_disc((x, scene.height() as i64 * 3 / 4), 20, ink);
        let t = Instant::now();
        submit(i, &scene);
        loop {
            let e = wait_for(&w, "render", |e| matches!(e, Event::Rendered { generation, .. } if *generation == i))?;
            if let Event::Rendered { stage, .. } = e {
                let s = t.elapsed().as_secs_f64();
                if stage == Stage::Preview {
                    to_preview.push(s);
                } else {
                    to_full.push(s);
                    break;
                }
            }
        }
    }
    if !to_preview.is_empty() {
        let s = Stats::of(&to_preview);
        println!("edit -> preview:     median {:.3} s  (min {:.3}, {} edits)", s.median, s.min, to_preview.len());
    }
    let s = Stats::of(&to_full);
    println!("edit -> full render: median {:.3} s  (min {:.3}, {} edits)", s.median, s.min, to_full.len());
    drop(w);

    // The UI thread while the worker renders: the editor's own frame code on a headless egui context.
    let opts = EditorOptions {
        scene: path.clone(),
        model: model.to_path_buf(),
        device: device.to_string(),
        autosave_secs: 0,
        state_dir: std::env::temp_dir().join(format!("pix2pixhd-bench-{}", std::process::id())),
        ..Default::default()
    };
    let mut app = EditorApp::with_options(opts, Arc::new(|| {}));
    let ctx = egui::Context::default();
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 950.0))),
        ..Default::default()
    };
    let t = Instant::now();
    while !app.render_is_current() && t.elapsed() < Duration::from_secs(600) {
        let mut out = ctx.run_ui(input(), |ui| {
            app.tick(Some(ui.ctx()), None);
            app.frame(ui, false);
        });
        // No GPU here to take the texture uploads: they are dropped on purpose.
        out.textures_delta.clear();
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut times = Vec::new();
    let mut busy = 0usize;
    for f in 0..frames {
        if f % 20 == 0 {
            // An edit every 20 frames keeps the worker rendering all along.
            let (w, h) = (app.scene().width() as i64, app.scene().height() as i64);
            app.act(Action::StrokeBegin { at: ((f as i64 * 31) % w, h / 2), line: false });
            app.act(Action::StrokeEnd);
        }
        let t = Instant::now();
        let mut out = ctx.run_ui(input(), |ui| {
            app.tick(Some(ui.ctx()), None);
            app.frame(ui, false);
        });
        out.textures_delta.clear();
        let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
        times.push(t.elapsed().as_secs_f64());
        if !app.render_is_current() {
            busy += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let state_dir = app.options().state_dir.clone();
    // The editor goes first (its worker stopped and joined, its textures freed), then one frame takes the frees.
    drop(app);
    ctx.run_ui(input(), |_| {}).textures_delta.clear();
    let _ = std::fs::remove_dir_all(&state_dir);
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
    let s = Stats::of(&times);
    println!(
        "UI frame while rendering: median {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} frames, worker busy in {busy})",
        s.median * 1e3,
        p95 * 1e3,
        sorted[sorted.len() - 1] * 1e3,
        times.len()
    );
    Ok(())
}
