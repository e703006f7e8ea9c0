//! Drawing the editor and turning input into [`EditorApp`] actions: menus, tool bar, class palette, object and
//! style panel, status bar, and the canvas.

use super::canvas::{self, FLAG_ALL_OUTLINES, FLAG_SELECTION, LabelDraw, NO_SELECTION, Params, View};
use super::{Display, EditorApp, Tool, WorkerState, class_name, sample_scenes};
use crate::labels::{self, LABELS};
use crate::scene::{ObjectRef, Scene, StyleChoice};
use egui::{Color32, Key, KeyboardShortcut, Modifiers, Pos2, Sense, Stroke, Vec2};
use std::path::PathBuf;
use std::time::Duration;

pub const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
pub const REDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
pub const REDO_Y: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
pub const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
pub const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub const EXPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::E);
pub const DUPLICATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::D);

fn color(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

pub fn draw(app: &mut EditorApp, ui: &mut egui::Ui, gpu: bool) {
    shortcuts(app, ui);
    egui::Panel::top("menu").show(ui, |ui| menu_bar(app, ui));
    egui::Panel::top("tools").show(ui, |ui| tool_bar(app, ui));
    egui::Panel::bottom("status").show(ui, |ui| status_bar(app, ui));
    egui::Panel::left("palette").resizable(true).default_size(190.0).show(ui, |ui| palette(app, ui));
    egui::Panel::right("object")
        .resizable(true)
        .default_size(260.0)
        .show(ui, |ui| egui::ScrollArea::vertical().show(ui, |ui| object_panel(app, ui)));
    egui::CentralPanel::default().show(ui, |ui| canvas_ui(app, ui, gpu));
    recovery_dialog(app, ui.ctx());
}

fn shortcuts(app: &mut EditorApp, ui: &mut egui::Ui) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    ui.input_mut(|i| {
        if i.consume_shortcut(&REDO) || i.consume_shortcut(&REDO_Y) {
            app.redo();
        }
        if i.consume_shortcut(&UNDO) {
            app.undo();
        }
        if i.consume_shortcut(&SAVE) {
            save(app);
        }
        if i.consume_shortcut(&OPEN) {
            open_dialog(app);
        }
        if i.consume_shortcut(&EXPORT) {
            export_dialog(app);
        }
        if i.consume_shortcut(&DUPLICATE) {
            app.duplicate_selected(24, 0);
        }
        if i.modifiers.is_none() {
            for t in Tool::ALL {
                if i.key_pressed(t.key()) {
                    app.tool = t;
                }
            }
            if i.key_pressed(Key::OpenBracket) {
                app.brush_radius = (app.brush_radius.saturating_sub(1 + app.brush_radius / 5)).max(1);
            }
            if i.key_pressed(Key::CloseBracket) {
                app.brush_radius = (app.brush_radius + 1 + app.brush_radius / 5).min(400);
            }
            if i.key_pressed(Key::Delete) || i.key_pressed(Key::Backspace) {
                app.delete_selected();
            }
            if i.key_pressed(Key::Tab) {
                app.display = if app.display == Display::Label { Display::Photo } else { Display::Label };
            }
            if i.key_pressed(Key::Num0) || i.key_pressed(Key::Home) {
                app.fit_pending = true;
            }
            if i.key_pressed(Key::Enter) && app.tool == Tool::Polygon {
                app.fill_polygon();
            }
            if i.key_pressed(Key::Escape) {
                app.polygon.clear();
                app.clear_selection();
            }
        }
    });
}

fn tip(name: &str, key: &str, help: &str) -> String {
    if key.is_empty() { format!("{name}\n{help}") } else { format!("{name} ({key})\n{help}") }
}

fn menu_bar(app: &mut EditorApp, ui: &mut egui::Ui) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("New blank scene").clicked() {
                app.set_scene(Scene::blank(2048, 1024, 7).expect("valid"), None);
            }
            ui.menu_button("New from sample", |ui| {
                for p in sample_scenes() {
                    let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
                    if ui.button(name).clicked() {
                        match crate::scene::Scene::open(&p) {
                            Ok(s) => app.set_scene(s, None),
                            Err(e) => app.error(e.to_string()),
                        }
                    }
                }
            });
            if ui.button("Open...").on_hover_text("Ctrl+O: a scene .json or a label .png").clicked() {
                open_dialog(app);
            }
            ui.menu_button("Open recent", |ui| {
                for p in app.recent_files.clone() {
                    if ui.button(p.display().to_string()).clicked()
                        && let Err(e) = app.open_scene(&p, None)
                    {
                        app.error(e);
                    }
                }
            });
            if ui.button("Save").on_hover_text("Ctrl+S").clicked() {
                save(app);
            }
            if ui.button("Save as...").clicked() {
                save_as_dialog(app);
            }
            if ui
                .button("Export render...")
                .on_hover_text("Ctrl+E: the picture plus its label and instance maps")
                .clicked()
            {
                export_dialog(app);
            }
            ui.separator();
            if ui.button("Open model folder...").clicked()
                && let Some(d) = rfd::FileDialog::new().pick_folder()
            {
                app.open_model(&d);
            }
        });
        ui.menu_button("Edit", |ui| {
            if ui.add_enabled(app.history.can_undo(), egui::Button::new("Undo").shortcut_text("Ctrl+Z")).clicked() {
                app.undo();
            }
            if ui.add_enabled(app.history.can_redo(), egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z")).clicked()
            {
                app.redo();
            }
        });
        ui.menu_button("View", |ui| {
            if ui.button("Fit to window").on_hover_text("0 or Home").clicked() {
                app.fit_pending = true;
            }
            ui.checkbox(&mut app.outlines, "Instance outlines");
            ui.checkbox(&mut app.previews, "Quick preview before the full render");
            ui.checkbox(&mut app.show_timings, "Render and frame times in the status bar");
        });
        ui.separator();
        // File paths without a dialog (no portal on a bare X server or over ssh): type a path and press a button.
        ui.label("Path:");
        ui.add(egui::TextEdit::singleline(&mut app.path_field).desired_width(260.0).hint_text("file or folder"));
        let path = PathBuf::from(app.path_field.trim());
        let has = !app.path_field.trim().is_empty();
        if ui.add_enabled(has, egui::Button::new("Open")).on_hover_text("Open this scene or label PNG").clicked()
            && let Err(e) = app.open_scene(&path, None)
        {
            app.error(e);
        }
        if ui.add_enabled(has, egui::Button::new("Save as")).on_hover_text("Save the scene to this .json").clicked()
            && let Err(e) = app.save_scene(&path)
        {
            app.error(e);
        }
        if ui.add_enabled(has, egui::Button::new("Export")).on_hover_text("Write the render + maps here").clicked() {
            app.export(&path);
        }
        if ui.add_enabled(has, egui::Button::new("Load model")).on_hover_text("Use the model in this folder").clicked()
        {
            app.open_model(&path);
        }
    });
}

fn save(app: &mut EditorApp) {
    match app.scene_path.clone() {
        Some(p) => {
            if let Err(e) = app.save_scene(&p) {
                app.error(e);
            }
        }
        None => save_as_dialog(app),
    }
}

fn open_dialog(app: &mut EditorApp) {
    if let Some(p) = rfd::FileDialog::new().add_filter("scene or label map", &["json", "png"]).pick_file()
        && let Err(e) = app.open_scene(&p, None)
    {
        app.error(e);
    }
}

fn save_as_dialog(app: &mut EditorApp) {
    match rfd::FileDialog::new().add_filter("scene", &["json"]).set_file_name("scene.json").save_file() {
        Some(p) => {
            if let Err(e) = app.save_scene(&p) {
                app.error(e);
            }
        }
        None => app.info("no file chosen (type a path in the Path field if no dialog opens)"),
    }
}

fn export_dialog(app: &mut EditorApp) {
    match rfd::FileDialog::new().add_filter("PNG", &["png"]).set_file_name("render.png").save_file() {
        Some(p) => app.export(&p),
        None => app.info("no file chosen (type a path in the Path field if no dialog opens)"),
    }
}

fn tool_bar(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        for t in Tool::ALL {
            let key = format!("{:?}", t.key());
            if ui.selectable_label(app.tool == t, t.name()).on_hover_text(tip(t.name(), &key, t.help())).clicked() {
                app.tool = t;
            }
        }
        ui.separator();
        ui.add(egui::Slider::new(&mut app.brush_radius, 1..=200).logarithmic(true).text("brush"))
            .on_hover_text("Brush radius in pixels ([ and ])");
        ui.checkbox(&mut app.extend_instance, "extend selected instance")
            .on_hover_text("Paint into the selected object instead of starting a new one (same class only)");
        ui.separator();
        for (d, name, key) in [
            (Display::Label, "Labels", "Tab"),
            (Display::Photo, "Photo", "Tab"),
            (Display::Blend, "Blend", ""),
            (Display::SideBySide, "Side by side", ""),
        ] {
            if ui
                .selectable_label(app.display == d, name)
                .on_hover_text(tip(name, key, "What the canvas shows"))
                .clicked()
            {
                app.display = d;
            }
        }
        if app.display == Display::Blend {
            ui.add(egui::Slider::new(&mut app.opacity, 0.0..=1.0).text("labels"))
                .on_hover_text("Opacity of the label colours over the photo");
        }
        ui.checkbox(&mut app.outlines, "outlines").on_hover_text("Outline every object instance");
        if ui.button("Fit").on_hover_text("Fit to window (0)").clicked() {
            app.fit_pending = true;
        }
    });
}

fn palette(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.heading("Classes");
    ui.add(egui::TextEdit::singleline(&mut app.class_filter).hint_text("search"));
    let swatch = |ui: &mut egui::Ui, app: &mut EditorApp, c: u8| {
        let l = &LABELS[c as usize];
        ui.horizontal(|ui| {
            let (r, _) = ui.allocate_exact_size(Vec2::splat(14.0), Sense::hover());
            ui.painter().rect_filled(r, 2.0, color(l.color));
            let text = if l.has_instances { format!("{} (objects)", l.name) } else { l.name.to_string() };
            if ui
                .selectable_label(app.class == c, text)
                .on_hover_text(format!("id {}{}", l.id, if l.has_instances { ", objects" } else { "" }))
                .clicked()
            {
                app.choose_class(c);
            }
        });
    };
    ui.label("Recent");
    for c in app.recent_classes.clone() {
        swatch(ui, app, c);
    }
    ui.separator();
    let filter = app.class_filter.to_lowercase();
    egui::ScrollArea::vertical().id_salt("all classes").show(ui, |ui| {
        for l in LABELS.iter().filter(|l| l.id >= 4 || l.id == 0) {
            if filter.is_empty() || l.name.contains(&filter) {
                swatch(ui, app, l.id);
            }
        }
    });
}

fn class_combo(ui: &mut egui::Ui, label: &str, value: &mut u8) -> bool {
    let before = *value;
    egui::ComboBox::from_label(label).selected_text(class_name(*value)).show_ui(ui, |ui| {
        for l in LABELS.iter() {
            ui.selectable_value(value, l.id, l.name);
        }
    });
    before != *value
}

fn object_panel(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.heading("Selection");
    let Some(sel) = app.selected().cloned() else {
        ui.label("Nothing selected. Use Select (V) and click an object.");
        replace_section(app, ui);
        return worker_section(app, ui);
    };
    let id = sel.value();
    ui.label(if labels::is_object(id) {
        format!("{} #{} (instance {id})", class_name(sel.class()), labels::object_index(id))
    } else {
        format!("{} region", class_name(sel.class()))
    });
    ui.label(format!(
        "{} pixels, box {}x{} at ({}, {})",
        sel.pixel_count(),
        sel.bbox().width,
        sel.bbox().height,
        sel.bbox().x,
        sel.bbox().y
    ));
    let mut c = sel.class();
    if class_combo(ui, "category", &mut c) {
        app.change_category(c);
    }
    ui.horizontal(|ui| {
        if ui.button("Delete").on_hover_text("Delete (Del): its pixels take the class around it").clicked() {
            app.delete_selected();
        }
        if ui.button("Duplicate").on_hover_text("Duplicate (Ctrl+D), then drag the copy with Select").clicked() {
            app.duplicate_selected(24, 0);
        }
    });
    ui.separator();
    ui.heading("Style");
    let key = app.selection_style_key().unwrap_or(id);
    let current = app.scene.style(key);
    ui.label(match current {
        StyleChoice::Random => "random (from the seed)".to_string(),
        StyleChoice::Cluster(k) => format!("cluster {k}"),
    });
    if !labels::is_object(id) {
        ui.small(format!("applies to every {} region", class_name(sel.class())));
    }
    match app.selection_clusters().cloned() {
        None => {
            ui.label("The model has no style clusters for this class.");
        }
        Some(cc) => {
            let thumbs: Vec<(usize, egui::TextureHandle)> = app.thumbnails().map(<[_]>::to_vec).unwrap_or_default();
            ui.horizontal_wrapped(|ui| {
                for k in 0..cc.centers.len() {
                    let rgb = cc.mean_rgb.get(k).copied().unwrap_or([128, 128, 128]);
                    let chosen = current == StyleChoice::Cluster(k);
                    let hover = format!(
                        "cluster {k}: {} training regions, mean colour {rgb:?}",
                        cc.counts.get(k).unwrap_or(&0)
                    );
                    let resp = match thumbs.iter().find(|(i, _)| *i == k) {
                        Some((_, t)) => ui.add(
                            egui::Button::image_and_text(
                                egui::Image::new(t).fit_to_exact_size(Vec2::new(56.0, 42.0)),
                                egui::RichText::new(format!("#{k}")).small(),
                            )
                            .selected(chosen),
                        ),
                        None => {
                            let ink = if u32::from(rgb[0]) + u32::from(rgb[1]) + u32::from(rgb[2]) > 380 {
                                Color32::BLACK
                            } else {
                                Color32::WHITE
                            };
                            ui.add(
                                egui::Button::new(egui::RichText::new(format!("#{k}")).color(ink).small())
                                    .fill(color(rgb))
                                    .min_size(Vec2::new(30.0, 28.0))
                                    .selected(chosen),
                            )
                        }
                    };
                    if resp.on_hover_text(hover).clicked() {
                        app.set_style(StyleChoice::Cluster(k));
                    }
                }
            });
            if ui.button("Random").on_hover_text("Let the seed choose this object's style").clicked() {
                app.set_style(StyleChoice::Random);
            }
        }
    }
    replace_section(app, ui);
    worker_section(app, ui);
}

fn replace_section(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.separator();
    ui.heading("Replace class");
    class_combo(ui, "replace", &mut app.replace_from);
    class_combo(ui, "with", &mut app.replace_to);
    if ui.button("Replace everywhere").clicked() {
        let (a, b) = (app.replace_from, app.replace_to);
        app.replace_class(a, b);
    }
}

fn worker_section(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.separator();
    ui.heading("Renderer");
    ui.label(format!("model: {}", app.options.model.display()));
    match &app.worker_state {
        WorkerState::Off => {
            ui.label("not running");
        }
        WorkerState::Loading => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("loading the model...");
            });
        }
        WorkerState::Ready => {
            if let Some(m) = &app.model_info {
                ui.label(format!("{} parameters on {}; preview: {}", m.params, m.device, m.preview));
            }
        }
        WorkerState::Failed(msg) => {
            ui.colored_label(Color32::LIGHT_RED, format!("failed: {msg}"));
        }
    }
    ui.horizontal(|ui| {
        ui.label("seed");
        if ui.add(egui::DragValue::new(&mut app.seed)).on_hover_text("Seed of the random styles").changed() {
            app.generation += 1;
        }
    });
    if ui.button("Restart renderer").clicked() {
        app.restart_worker();
    }
}

fn status_bar(app: &mut EditorApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        match app.hover {
            Some((x, y)) => {
                let (class, inst) = app.scene.pick(x as i64, y as i64).unwrap_or((0, 0));
                ui.label(format!("({x}, {y}) {} · instance {inst}", class_name(class)));
            }
            None => {
                ui.label(format!("{}x{}", app.scene.width(), app.scene.height()));
            }
        }
        ui.separator();
        match &app.model_info {
            Some(m) => {
                let name = m.path.file_name().map_or(m.path.display().to_string(), |n| n.to_string_lossy().into());
                ui.label(format!("model {name} on {}", m.device));
            }
            None => {
                ui.label("no model");
            }
        }
        ui.separator();
        if app.show_timings {
            for (k, v) in &app.last_render {
                ui.label(format!("{k} {:.0} ms", v * 1000.0));
            }
        }
        let state = if app.render_is_current() {
            "up to date"
        } else if app.worker_state == WorkerState::Ready {
            "rendering..."
        } else {
            ""
        };
        ui.label(state);
        ui.separator();
        if app.show_timings {
            ui.label(format!("frame {:.1} ms", app.frame_ms));
        }
        if app.history.is_dirty() {
            ui.label("· unsaved");
        }
        if let Some((msg, err, t)) = &app.message
            && t.elapsed() < Duration::from_secs(12)
        {
            ui.separator();
            if *err {
                ui.colored_label(Color32::LIGHT_RED, msg);
            } else {
                ui.label(msg);
            }
        }
    });
}

fn recovery_dialog(app: &mut EditorApp, ctx: &egui::Context) {
    let Some(p) = app.recovery_offer.clone() else { return };
    egui::Window::new("Recover unsaved work?").collapsible(false).resizable(false).show(ctx, |ui| {
        ui.label(format!("The editor did not close normally last time. An autosaved scene is in {}.", p.display()));
        ui.horizontal(|ui| {
            if ui.button("Recover").clicked() {
                app.recover();
            }
            if ui.button("Discard").clicked() {
                app.discard_recovery();
            }
        });
    });
}

fn to_pixel(p: Pos2) -> (i64, i64) {
    (p.x.floor() as i64, p.y.floor() as i64)
}

fn canvas_ui(app: &mut EditorApp, ui: &mut egui::Ui, gpu: bool) {
    let full = ui.available_rect_before_wrap();
    let resp = ui.allocate_rect(full, Sense::click_and_drag());
    let (w, h) = (app.scene.width(), app.scene.height());
    let split = app.display == Display::SideBySide;
    // Side by side: two halves with the same view, the labels left and the photo right.
    let canvas = if split { egui::Rect::from_min_max(full.min, Pos2::new(full.center().x, full.max.y)) } else { full };
    // The canvas changes size when side by side starts or ends: show the whole image again.
    if app.was_split != split {
        app.was_split = split;
        app.fit_pending = true;
    }
    if app.fit_pending {
        app.view = View::fit(canvas, w, h);
        app.fit_pending = false;
    }
    let painter = ui.painter_at(full);
    painter.rect_filled(full, 0.0, Color32::from_gray(30));

    // Zoom (wheel, to the cursor) and pan (middle or right drag, or space + drag).
    let hover_pos = resp.hover_pos();
    if let Some(pos) = hover_pos {
        let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
        let factor = zoom * (scroll * 0.002).exp();
        if (factor - 1.0).abs() > 1e-4 {
            let local = if split && pos.x > canvas.max.x { pos - Vec2::new(canvas.width(), 0.0) } else { pos };
            app.view.zoom_at(canvas, local, factor);
        }
    }
    let space = ui.input(|i| i.key_down(Key::Space));
    if resp.dragged_by(egui::PointerButton::Middle)
        || resp.dragged_by(egui::PointerButton::Secondary)
        || (space && resp.dragged_by(egui::PointerButton::Primary))
    {
        app.view.pan(resp.drag_delta());
    }

    let view = app.view;
    app.canvas_rect = canvas;
    let left = canvas;
    let right = egui::Rect::from_min_max(Pos2::new(canvas.max.x, full.min.y), full.max);
    let draw_labels = |rect: egui::Rect, opacity: f32, slot: u32, app: &EditorApp| {
        let image = view.image_rect(rect, w, h);
        if let Some((vis, uv)) = canvas::visible(image, rect) {
            if gpu {
                let params = Params {
                    uv_min: [uv.min.x, uv.min.y],
                    uv_max: [uv.max.x, uv.max.y],
                    size: [w as f32, h as f32],
                    texels_per_px: 1.0 / (view.zoom * ui.ctx().pixels_per_point()),
                    opacity,
                    selected: app.selected().map_or(NO_SELECTION, |s| s.value()),
                    flags: (if app.outlines { FLAG_ALL_OUTLINES } else { 0 })
                        | (if app.selection.is_some() { FLAG_SELECTION } else { 0 }),
                    time: ui.input(|i| i.time) as f32,
                    _pad: 0.0,
                };
                painter.add(LabelDraw::shape(vis, slot, params));
            } else {
                painter.text(
                    vis.center(),
                    egui::Align2::CENTER_CENTER,
                    "label view needs wgpu",
                    egui::FontId::default(),
                    Color32::WHITE,
                );
            }
        }
    };
    let draw_photo = |rect: egui::Rect, app: &EditorApp| {
        let image = view.image_rect(rect, w, h);
        match &app.photo {
            Some(p) if (p.width, p.height) != (0, 0) => {
                if let Some((vis, uv)) = canvas::visible(image, rect) {
                    painter.image(p.texture.id(), vis, uv, Color32::WHITE);
                }
            }
            _ => {
                let msg = match &app.worker_state {
                    WorkerState::Failed(m) => format!("no render: {m}"),
                    WorkerState::Off => "no renderer".to_string(),
                    _ => "rendering...".to_string(),
                };
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    msg,
                    egui::FontId::proportional(16.0),
                    Color32::GRAY,
                );
            }
        }
    };
    match app.display {
        Display::Label => draw_labels(left, 1.0, 0, app),
        Display::Photo => {
            draw_photo(left, app);
            if app.selection.is_some() || app.outlines {
                draw_labels(left, 0.0, 0, app);
            }
        }
        // Until the first render arrives, the blend shows the labels alone.
        Display::Blend if app.photo.is_none() => draw_labels(left, 1.0, 0, app),
        Display::Blend => {
            draw_photo(left, app);
            draw_labels(left, app.opacity, 0, app);
        }
        Display::SideBySide => {
            draw_labels(left, 1.0, 0, app);
            draw_photo(right, app);
            painter.vline(canvas.max.x, full.y_range(), Stroke::new(1.0, Color32::BLACK));
        }
    }

    // Which image pixel the pointer is over (either half in side-by-side).
    let pointer = hover_pos.or(resp.interact_pointer_pos());
    let to_img = |p: Pos2| {
        let base = if split && p.x > canvas.max.x { right } else { left };
        view.to_image(base, p)
    };
    app.hover = hover_pos
        .map(to_img)
        .filter(|p| p.x >= 0.0 && p.y >= 0.0 && p.x < w as f32 && p.y < h as f32)
        .map(|p| (p.x as u32, p.y as u32));
    if space {
        return;
    }
    let (pressed, down, released, shift, double) = ui.input(|i| {
        (
            i.pointer.primary_pressed(),
            i.pointer.primary_down(),
            i.pointer.primary_released(),
            i.modifiers.shift,
            i.pointer.button_double_clicked(egui::PointerButton::Primary),
        )
    });
    let Some(pos) = pointer else {
        if released {
            app.stroke_end();
        }
        return;
    };
    let img = to_img(pos);
    let px = to_pixel(img);
    match app.tool {
        Tool::Brush => {
            if pressed && resp.hovered() {
                app.stroke_begin(px, shift);
            } else if down && app.stroke.is_some() {
                app.stroke_to(px);
            }
            if released {
                app.stroke_end();
            }
            // The brush outline.
            if resp.hovered() {
                let base = if split && pos.x > canvas.max.x { right } else { left };
                let c = view.to_screen(base, Pos2::new(px.0 as f32 + 0.5, px.1 as f32 + 0.5));
                painter.circle_stroke(c, app.brush_radius as f32 * view.zoom, Stroke::new(1.0, Color32::WHITE));
            }
        }
        Tool::Rect => {
            if pressed && resp.hovered() {
                app.drag_start = Some(img);
            }
            if let Some(a) = app.drag_start {
                let base = if split && pos.x > canvas.max.x { right } else { left };
                let r = egui::Rect::from_two_pos(view.to_screen(base, a), view.to_screen(base, img));
                painter.rect_stroke(r, 0.0, Stroke::new(1.0, Color32::WHITE), egui::StrokeKind::Middle);
                if released {
                    app.drag_start = None;
                    app.fill_rect(to_pixel(a), px);
                }
            }
        }
        Tool::Polygon => {
            if double && app.polygon.len() >= 3 {
                app.fill_polygon();
            } else if pressed && resp.hovered() {
                app.polygon.push((img.x, img.y));
            }
            let pts: Vec<Pos2> = app
                .polygon
                .iter()
                .map(|&(x, y)| view.to_screen(left, Pos2::new(x, y)))
                .chain(std::iter::once(pos))
                .collect();
            if pts.len() > 1 {
                painter.add(egui::Shape::line(pts, Stroke::new(1.5, Color32::WHITE)));
            }
        }
        Tool::Fill => {
            if pressed && resp.hovered() {
                app.flood_fill(px);
            }
        }
        Tool::Eyedropper => {
            if pressed && resp.hovered() {
                app.eyedrop(px);
            }
        }
        Tool::Select => {
            if pressed && resp.hovered() {
                let hit = app.selected().is_some_and(|s| s.contains(px.0, px.1));
                if !hit {
                    app.select_at(px);
                }
                if let Some(obj) = app.selection {
                    app.move_drag = Some((obj, img, img));
                }
            }
            if let Some((obj, a, _)) = app.move_drag {
                app.move_drag = Some((obj, a, img));
                let d = img - a;
                if let Some(s) = app.selected() {
                    let b = s.bbox();
                    let base = if split && pos.x > canvas.max.x { right } else { left };
                    let r = egui::Rect::from_min_size(
                        view.to_screen(base, Pos2::new(b.x as f32 + d.x.round(), b.y as f32 + d.y.round())),
                        Vec2::new(b.width as f32, b.height as f32) * view.zoom,
                    );
                    if d.length() >= 1.0 {
                        painter.rect_stroke(r, 0.0, Stroke::new(1.5, Color32::YELLOW), egui::StrokeKind::Middle);
                    }
                }
                if released {
                    app.move_drag = None;
                    if matches!(obj, ObjectRef::Instance(_) | ObjectRef::Region { .. }) {
                        app.move_selected(d.x.round() as i64, d.y.round() as i64);
                    }
                }
            }
        }
    }
}
