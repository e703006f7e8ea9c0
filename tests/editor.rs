//! The editor driven headless through egui_kittest (rendered by wgpu's software adapter): input events on the
//! canvas and clicks on widgets, checked against the scene they must change.

use egui::{Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pix2pixhd::app::worker::Stage;
use pix2pixhd::app::{Action, Display, EditorApp, EditorOptions, Tool, WorkerState};
use pix2pixhd::model::runtime::Precision;
use pix2pixhd::render::PrecisionChoice;
use pix2pixhd::scene::{MapStorage, ObjectRef, Scene, StyleChoice};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::tiny_model;

const W: u32 = 256;
const H: u32 = 128;
const CAR: u32 = 26000;

/// Sky above, building in the middle band, road below; a car (26000) on the road and a person (24000).
fn test_scene() -> Scene {
    let (w, h) = (W as usize, H as usize);
    let mut label = vec![0u8; w * h];
    let mut inst = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (c, i) = if y < 30 {
                (23, 23)
            } else if y < 70 {
                (11, 11)
            } else if (100..160).contains(&x) && (80..110).contains(&y) {
                (26, CAR)
            } else if (30..40).contains(&x) && (60..100).contains(&y) {
                (24, 24000)
            } else {
                (7, 7)
            };
            label[y * w + x] = c;
            inst[y * w + x] = i;
        }
    }
    Scene::from_maps(W, H, label, Some(inst)).unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    scene: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.json");
    test_scene().save_json(&scene, MapStorage::Embedded).unwrap();
    Setup { dir, scene }
}

fn options(s: &Setup, model: Option<PathBuf>) -> EditorOptions {
    EditorOptions {
        scene: Some(s.scene.clone()),
        inst: None,
        no_worker: model.is_none(),
        model: model.unwrap_or_else(|| s.dir.path().join("no-model")),
        device: "cpu".into(),
        precision: PrecisionChoice::Fixed(Precision::Fp32),
        state_dir: s.dir.path().join("state"),
        autosave_secs: 0,
    }
}

fn harness(o: EditorOptions) -> Harness<'static, EditorApp> {
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1280.0, 720.0))
        .wgpu()
        .build_eframe(move |cc| EditorApp::new(cc, o));
    h.run_steps(3);
    h
}

/// The screen position of the centre of image pixel (x, y).
fn at(h: &Harness<'_, EditorApp>, x: u32, y: u32) -> Pos2 {
    let app = h.state();
    app.canvas().to_screen(Pos2::new(x as f32 + 0.5, y as f32 + 0.5))
}

fn press(h: &mut Harness<'_, EditorApp>, p: Pos2, pressed: bool) {
    h.event(Event::PointerMoved(p));
    h.event(Event::PointerButton { pos: p, button: PointerButton::Primary, pressed, modifiers: Modifiers::NONE });
    h.step();
}

fn click(h: &mut Harness<'_, EditorApp>, x: u32, y: u32) {
    let p = at(h, x, y);
    h.event(Event::PointerMoved(p));
    h.step();
    press(h, p, true);
    press(h, p, false);
}

fn drag(h: &mut Harness<'_, EditorApp>, from: (u32, u32), to: (u32, u32)) {
    let (a, b) = (at(h, from.0, from.1), at(h, to.0, to.1));
    h.event(Event::PointerMoved(a));
    h.step();
    press(h, a, true);
    for i in 1..=6 {
        h.event(Event::PointerMoved(a + (b - a) * (i as f32 / 6.0)));
        h.step();
    }
    press(h, b, false);
}

/// Steps the UI (in real time) until `done` holds, or fails after `secs`.
fn wait_until(h: &mut Harness<'_, EditorApp>, secs: u64, what: &str, done: impl Fn(&EditorApp) -> bool) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}: {:?}", h.state().message());
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
}

#[test]
fn a_brush_stroke_paints_the_pixels_under_it() {
    let s = setup();
    let mut h = harness(options(&s, None));
    h.state_mut().act(Action::SetTool(Tool::Brush));
    h.state_mut().act(Action::ChooseClass(8)); // sidewalk
    h.state_mut().act(Action::SetBrushRadius(3));
    assert_eq!(h.state().scene().pick(40, 120), Some((7, 7)));
    drag(&mut h, (40, 120), (90, 120));
    let app = h.state();
    for x in (40..=90).step_by(5) {
        assert_eq!(app.scene().pick(x, 120), Some((8, 8)), "pixel ({x}, 120) after the stroke");
    }
    assert_eq!(app.scene().pick(60, 112), Some((7, 7)), "5 px away from a radius-3 stroke stays road");
    assert_eq!(app.history().undo_levels(), 1, "one drag is one undo step");
}

#[test]
fn clicking_selects_an_instance_and_undo_restores_a_category_change_byte_for_byte() {
    let s = setup();
    let mut h = harness(options(&s, None));
    let before = h.state().scene().clone();
    h.state_mut().act(Action::SetTool(Tool::Select));
    click(&mut h, 130, 95);
    assert_eq!(h.state().selection(), Some(ObjectRef::Instance(CAR)));
    h.state_mut().act(Action::ChangeCategory(28)); // bus
    h.step();
    let now = h.state().scene().pick(130, 95).unwrap();
    assert_eq!(now.0, 28, "the car became a bus");
    assert_eq!(now.1 / 1000, 28, "with a bus instance id");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.step();
    assert!(*h.state().scene() == before, "Ctrl+Z restores the scene exactly");
    h.key_press_modifiers(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
    h.step();
    assert_eq!(h.state().scene().pick(130, 95).unwrap().0, 28, "Ctrl+Shift+Z redoes");
}

#[test]
fn the_delete_button_removes_the_selected_instance() {
    let s = setup();
    let mut h = harness(options(&s, None));
    h.state_mut().act(Action::SetTool(Tool::Select));
    click(&mut h, 35, 80);
    assert_eq!(h.state().selection(), Some(ObjectRef::Instance(24000)));
    h.run_steps(2);
    h.get_by_label("Delete").click();
    h.run_steps(2);
    let app = h.state();
    assert!(app.scene().inst().iter().all(|&v| v != 24000), "no pixel of the person is left");
    assert_eq!(app.selection(), None);
}

#[test]
fn flood_fill_fills_the_connected_region() {
    let s = setup();
    let mut h = harness(options(&s, None));
    h.state_mut().act(Action::SetTool(Tool::Fill));
    h.state_mut().act(Action::ChooseClass(21)); // vegetation
    click(&mut h, 10, 10);
    let app = h.state();
    assert!((0..30).all(|y| (0..W as i64).all(|x| app.scene().pick(x, y).unwrap().0 == 21)), "the whole sky");
    assert_eq!(app.scene().pick(10, 40).unwrap().0, 11, "the building below stays");
}

#[test]
fn a_saved_scene_loads_back_with_the_same_maps_and_styles() {
    let s = setup();
    let mut h = harness(options(&s, None));
    h.state_mut().act(Action::SetTool(Tool::Select));
    click(&mut h, 130, 95);
    h.state_mut().act(Action::SetStyle(StyleChoice::Cluster(2)));
    h.state_mut().act(Action::SetTool(Tool::Brush));
    drag(&mut h, (10, 10), (60, 20));
    let out = s.dir.path().join("saved.json");
    h.state_mut().act(Action::SaveAs(out.clone()));
    h.run_steps(2);
    assert!(out.is_file(), "{:?}", h.state().message());
    let saved = h.state().scene().clone();
    assert_eq!(saved.style(CAR), StyleChoice::Cluster(2));
    let mut o = options(&s, None);
    o.scene = Some(out);
    let h2 = harness(o);
    assert!(*h2.state().scene() == saved, "label map, instance map and styles all come back");
}

#[test]
fn a_worker_that_fails_does_not_stop_the_editor() {
    let s = setup();
    // A model folder whose config is right but whose weight file is damaged.
    let bad = tiny_model(s.dir.path());
    std::fs::write(bad.join("latest_net_G.safetensors"), b"not a safetensors file").unwrap();
    let mut o = options(&s, Some(bad.clone()));
    o.no_worker = false;
    let mut h = harness(o);
    wait_until(&mut h, 30, "the load failure", |a| matches!(a.worker_state(), WorkerState::Failed(_)));
    let WorkerState::Failed(msg) = h.state().worker_state() else { unreachable!() };
    assert!(msg.contains("latest_net_G.safetensors"), "the message names the file: {msg}");
    // Editing goes on.
    h.state_mut().act(Action::SetTool(Tool::Fill));
    h.state_mut().act(Action::ChooseClass(21));
    click(&mut h, 10, 10);
    assert_eq!(h.state().scene().pick(10, 10).unwrap().0, 21);
    // And the renderer can be restarted from the panel (it fails again, the same way, without a crash).
    h.run_steps(2);
    h.get_by_label("Restart renderer").click();
    h.run_steps(2);
    wait_until(&mut h, 30, "the second failure", |a| matches!(a.worker_state(), WorkerState::Failed(_)));
}

#[test]
fn a_scene_that_cannot_be_opened_at_start_stays_on_screen_until_dismissed() {
    let s = setup();
    let model = tiny_model(s.dir.path());
    for bad in [s.dir.path().join("missing.json"), s.dir.path().join("broken.json")] {
        std::fs::write(s.dir.path().join("broken.json"), b"{ not json").unwrap();
        let mut o = options(&s, Some(model.clone()));
        o.scene = Some(bad.clone());
        o.no_worker = false;
        let mut h = harness(o);
        // The model loads and reports itself meanwhile; the error is still what the status bar shows.
        wait_until(&mut h, 60, "the model to load", |a| *a.worker_state() == WorkerState::Ready);
        h.run_steps(3);
        let (msg, is_error) = h.state().message().expect("a message");
        assert!(is_error && msg.contains(&bad.display().to_string()), "{msg}");
        assert!(h.state().log().iter().any(|(m, e)| *e && m.contains(&bad.display().to_string())));
        assert!(h.state().log().len() >= 2, "the model's notice is in the log too: {:?}", h.state().log());
        h.state_mut().act(Action::DismissMessage);
        assert!(h.state().message().is_none_or(|(_, e)| !e));
    }
}

/// The editor with the tiny model, after its first full render, with the car selected.
fn rendered_with_car_selected(s: &Setup) -> Harness<'static, EditorApp> {
    let model = tiny_model(s.dir.path());
    let mut h = harness(options(s, Some(model)));
    wait_until(&mut h, 60, "the first full render", |a| a.render_is_current());
    h.state_mut().act(Action::SetTool(Tool::Select));
    click(&mut h, 130, 95);
    h
}

/// Nothing that changes from run to run (temporary paths, timings) in a snapshot.
fn steady_for_snapshot(h: &mut Harness<'_, EditorApp>) {
    h.state_mut().act(Action::DismissMessage);
    h.state_mut().act(Action::SetShowTimings(false));
    h.run_steps(3);
}

#[test]
fn choosing_a_style_updates_the_style_table_and_renders_it() {
    let s = setup();
    let mut h = rendered_with_car_selected(&s);
    h.run_steps(3);
    let (gen0, jobs0) = (h.state().generation(), h.state().session().jobs_sent());
    h.get_by_label("#1").click();
    h.run_steps(2);
    let app = h.state();
    assert_eq!(app.scene().styles().get(&CAR), Some(&StyleChoice::Cluster(1)));
    assert!(app.generation() > gen0 && app.session().jobs_sent() > jobs0, "the change was sent to the worker");
    let want = app.generation();
    wait_until(&mut h, 60, "the render of the new style", move |a| {
        a.photo().is_some_and(|p| p.generation >= want && p.stage == Stage::Full)
    });
    assert!(h.state().session().last_render().contains_key("preview"), "the CPU path shows a preview first");
}

#[test]
fn export_writes_the_render_and_both_maps() {
    let s = setup();
    let model = tiny_model(s.dir.path());
    let mut h = harness(options(&s, Some(model)));
    let out = s.dir.path().join("out/street.png");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    h.state_mut().act(Action::Export(out.clone()));
    wait_until(&mut h, 60, "the export", |a| !a.export_pending());
    for name in ["street.png", "street_labelIds.png", "street_instanceIds.png"] {
        let p = s.dir.path().join("out").join(name);
        let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((img.width(), img.height()), (W, H), "{name}");
    }
    let back = Scene::open_label_png(&s.dir.path().join("out/street_labelIds.png"), None).unwrap();
    assert!(back.label() == h.state().scene().label() && back.inst() == h.state().scene().inst());
}

#[test]
fn main_window_snapshots() {
    let s = setup();
    let mut h = harness(options(&s, None));
    h.state_mut().act(Action::SetDisplay(Display::Label));
    h.state_mut().act(Action::SetTool(Tool::Select));
    click(&mut h, 130, 95);
    h.state_mut().act(Action::SetOutlines(true));
    steady_for_snapshot(&mut h);
    let opts = egui_kittest::SnapshotOptions::new().threshold(2.0).max_failed_pixels(800);
    h.snapshot_options("editor_labels_selected_car", &opts);
    h.state_mut().act(Action::SetDisplay(Display::SideBySide));
    h.state_mut().act(Action::ClearSelection);
    h.run_steps(3);
    h.snapshot_options("editor_side_by_side_no_model", &opts);
}

#[test]
fn style_panel_snapshot_with_thumbnails() {
    let s = setup();
    let mut h = rendered_with_car_selected(&s);
    wait_until(&mut h, 60, "the style thumbnails", |a| a.thumbnails().is_some_and(|t| t.len() == 3));
    h.state_mut().act(Action::SetDisplay(Display::SideBySide));
    steady_for_snapshot(&mut h);
    let opts = egui_kittest::SnapshotOptions::new().threshold(2.0).max_failed_pixels(800);
    h.snapshot_options("editor_style_thumbnails", &opts);
}

#[test]
fn an_autosaved_scene_is_offered_after_a_crash_and_recovers() {
    let s = setup();
    let mut o = options(&s, None);
    o.autosave_secs = 1;
    let mut app = EditorApp::with_options(o.clone(), std::sync::Arc::new(|| {}));
    assert!(app.recovery_offer().is_none());
    app.act(Action::ChooseClass(21));
    app.act(Action::FloodFill((10, 10)));
    std::thread::sleep(Duration::from_millis(1100));
    app.tick(None, None);
    let edited = app.scene().clone();
    // The process dies here: no on_exit, so the recovery file stays.
    drop(app);
    let mut next = EditorApp::with_options(o, std::sync::Arc::new(|| {}));
    assert!(next.recovery_offer().is_some(), "the next start offers the autosaved scene");
    next.act(Action::Recover);
    assert!(*next.scene() == edited, "the recovered scene is the edited one");
    assert!(
        next.recovery_offer().is_none() && !pix2pixhd::app::files::recovery_path(&s.dir.path().join("state")).exists()
    );
}

#[test]
fn the_random_style_button_draws_another_style_each_time() {
    let s = setup();
    let mut h = rendered_with_car_selected(&s);
    h.run_steps(2);
    let clusters = h.state().session().model_info().and_then(|m| m.clusters.clone()).expect("the model's clusters");
    // The cluster the car renders with: its own choice, or the seed's.
    let rendered = |app: &EditorApp| {
        pix2pixhd::render::scene_styles(app.scene(), app.session().seed).cluster_for(CAR, &clusters).unwrap()
    };
    for click in 0..4 {
        let before = rendered(h.state());
        h.get_by_label("Random").click();
        h.run_steps(2);
        let after = rendered(h.state());
        assert!(after.is_some() && after != before, "click {click}: Random left the car in cluster {before:?}");
    }
}
