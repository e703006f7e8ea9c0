//! The editor's panels: menus, tool bar, class palette, object and style panel, status bar, and the keyboard
//! shortcuts. They read the app and emit [`Action`]s; only the text fields' contents are theirs to change.

use super::canvas::Canvas;
use super::session::model_name;
use super::{Action, Display, EditorApp, Tool, WorkerState, class_name};
use crate::labels::{self, LABELS};
use crate::scene::StyleChoice;
use egui::{Color32, Key, KeyboardShortcut, Modifiers, Sense, Vec2};
use std::path::PathBuf;

pub const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
pub const REDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
pub const REDO_Y: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
pub const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
pub const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
pub const EXPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::E);
pub const DUPLICATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::D);

/// What the panels' own widgets hold between frames.
#[derive(Debug)]
pub struct PanelState {
    /// The Path field (file paths without a dialog).
    path_field: String,
    /// The class palette's search.
    class_filter: String,
    replace_from: u8,
    replace_to: u8,
}

impl Default for PanelState {
    fn default() -> Self {
        PanelState { path_field: String::new(), class_filter: String::new(), replace_from: 21, replace_to: 11 }
    }
}

type Out = Vec<Action>;

/// A button of the Path field: its text, its tooltip, and the action it makes of the path.
type PathButton = (&'static str, &'static str, fn(PathBuf) -> Action);

fn color(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// Draws every panel and the canvas.
pub fn draw(app: &EditorApp, st: &mut PanelState, canvas: &mut Canvas, ui: &mut egui::Ui, gpu: bool, out: &mut Out) {
    shortcuts(app, canvas, ui, out);
    egui::Panel::top("menu").show(ui, |ui| menu_bar(app, st, ui, out));
    egui::Panel::top("tools").show(ui, |ui| tool_bar(app, ui, out));
    egui::Panel::bottom("status").show(ui, |ui| status_bar(app, canvas, ui, out));
    egui::Panel::left("palette").resizable(true).default_size(190.0).show(ui, |ui| palette(app, st, ui, out));
    egui::Panel::right("object")
        .resizable(true)
        .default_size(260.0)
        .show(ui, |ui| egui::ScrollArea::vertical().show(ui, |ui| object_panel(app, st, ui, out)));
    egui::CentralPanel::default().show(ui, |ui| canvas.ui(ui, app, gpu, out));
    recovery_dialog(app, ui.ctx(), out);
}

fn shortcuts(app: &EditorApp, canvas: &mut Canvas, ui: &mut egui::Ui, out: &mut Out) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    ui.input_mut(|i| {
        if i.consume_shortcut(&REDO) || i.consume_shortcut(&REDO_Y) {
            out.push(Action::Redo);
        }
        if i.consume_shortcut(&UNDO) {
            out.push(Action::Undo);
        }
        if i.consume_shortcut(&SAVE) {
            save(app, out);
        }
        if i.consume_shortcut(&OPEN) {
            open_dialog(out);
        }
        if i.consume_shortcut(&EXPORT) {
            export_dialog(out);
        }
        if i.consume_shortcut(&DUPLICATE) {
            out.push(Action::DuplicateSelected);
        }
        if !i.modifiers.is_none() {
            return;
        }
        for t in Tool::ALL {
            if i.key_pressed(t.key()) {
                out.push(Action::SetTool(t));
            }
        }
        let r = app.tools().brush_radius;
        if i.key_pressed(Key::OpenBracket) {
            out.push(Action::SetBrushRadius(r.saturating_sub(1 + r / 5).max(1)));
        }
        if i.key_pressed(Key::CloseBracket) {
            out.push(Action::SetBrushRadius(r + 1 + r / 5));
        }
        if i.key_pressed(Key::Delete) || i.key_pressed(Key::Backspace) {
            out.push(Action::DeleteSelected);
        }
        if i.key_pressed(Key::Tab) {
            let d = if app.display() == Display::Label { Display::Photo } else { Display::Label };
            out.push(Action::SetDisplay(d));
        }
        if i.key_pressed(Key::Num0) || i.key_pressed(Key::Home) {
            out.push(Action::FitView);
        }
        if i.key_pressed(Key::Enter) && app.tools().tool == Tool::Polygon {
            out.push(Action::FillPolygon(canvas.take_polygon()));
        }
        if i.key_pressed(Key::Escape) {
            canvas.cancel_polygon();
            out.push(Action::ClearSelection);
        }
    });
}

fn tip(name: &str, key: &str, help: &str) -> String {
    if key.is_empty() { format!("{name}\n{help}") } else { format!("{name} ({key})\n{help}") }
}

/// A checkbox bound to a value of the app: emits `make(new value)` when clicked.
fn toggle(ui: &mut egui::Ui, on: bool, text: &str, make: impl FnOnce(bool) -> Action, out: &mut Out) -> egui::Response {
    let mut v = on;
    let r = ui.checkbox(&mut v, text);
    if r.changed() {
        out.push(make(v));
    }
    r
}

fn menu_bar(app: &EditorApp, st: &mut PanelState, ui: &mut egui::Ui, out: &mut Out) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(app, ui, out));
        ui.menu_button("Edit", |ui| {
            let undo = egui::Button::new("Undo").shortcut_text("Ctrl+Z");
            if ui.add_enabled(app.history().can_undo(), undo).clicked() {
                out.push(Action::Undo);
            }
            let redo = egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z");
            if ui.add_enabled(app.history().can_redo(), redo).clicked() {
                out.push(Action::Redo);
            }
        });
        ui.menu_button("View", |ui| {
            if ui.button("Fit to window").on_hover_text("0 or Home").clicked() {
                out.push(Action::FitView);
            }
            toggle(ui, app.outlines(), "Instance outlines", Action::SetOutlines, out);
            let previews = app.session().previews;
            toggle(ui, previews, "Quick preview before the full render", Action::SetPreviews, out);
            toggle(ui, app.show_timings(), "Render and frame times in the status bar", Action::SetShowTimings, out);
        });
        ui.separator();
        // File paths without a dialog (no portal on a bare X server or over ssh): type a path and press a button.
        ui.label("Path:");
        ui.add(egui::TextEdit::singleline(&mut st.path_field).desired_width(260.0).hint_text("file or folder"));
        let path = PathBuf::from(st.path_field.trim());
        let has = !st.path_field.trim().is_empty();
        let buttons: [PathButton; 4] = [
            ("Open", "Open this scene or label PNG", Action::Open),
            ("Save as", "Save the scene to this .json", Action::SaveAs),
            ("Export", "Write the render + maps here", Action::Export),
            ("Load model", "Use the model in this folder", Action::OpenModel),
        ];
        for (name, help, make) in buttons {
            if ui.add_enabled(has, egui::Button::new(name)).on_hover_text(help).clicked() {
                out.push(make(path.clone()));
            }
        }
    });
}

fn file_menu(app: &EditorApp, ui: &mut egui::Ui, out: &mut Out) {
    if ui.button("New blank scene").clicked() {
        out.push(Action::NewBlank);
    }
    ui.menu_button("New from sample", |ui| {
        for p in crate::fs::sample_scenes() {
            let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            if ui.button(name).clicked() {
                out.push(Action::NewFromSample(p));
            }
        }
    });
    if ui.button("Open...").on_hover_text("Ctrl+O: a scene .json or a label .png").clicked() {
        open_dialog(out);
    }
    ui.menu_button("Open recent", |ui| {
        for p in app.recent_files() {
            if ui.button(p.display().to_string()).clicked() {
                out.push(Action::Open(p.clone()));
            }
        }
    });
    if ui.button("Save").on_hover_text("Ctrl+S").clicked() {
        save(app, out);
    }
    if ui.button("Save as...").clicked() {
        save_as_dialog(out);
    }
    if ui.button("Export render...").on_hover_text("Ctrl+E: the picture plus its label and instance maps").clicked() {
        export_dialog(out);
    }
    ui.separator();
    if ui.button("Open model folder...").clicked()
        && let Some(d) = rfd::FileDialog::new().pick_folder()
    {
        out.push(Action::OpenModel(d));
    }
}

const NO_DIALOG: &str = "no file chosen (type a path in the Path field if no dialog opens)";

fn save(app: &EditorApp, out: &mut Out) {
    match app.document().path() {
        Some(p) => out.push(Action::SaveAs(p.to_path_buf())),
        None => save_as_dialog(out),
    }
}

fn open_dialog(out: &mut Out) {
    if let Some(p) = rfd::FileDialog::new().add_filter("scene or label map", &["json", "png"]).pick_file() {
        out.push(Action::Open(p));
    }
}

fn save_as_dialog(out: &mut Out) {
    out.push(match rfd::FileDialog::new().add_filter("scene", &["json"]).set_file_name("scene.json").save_file() {
        Some(p) => Action::SaveAs(p),
        None => Action::Notice(NO_DIALOG.into()),
    });
}

fn export_dialog(out: &mut Out) {
    out.push(match rfd::FileDialog::new().add_filter("PNG", &["png"]).set_file_name("render.png").save_file() {
        Some(p) => Action::Export(p),
        None => Action::Notice(NO_DIALOG.into()),
    });
}

fn tool_bar(app: &EditorApp, ui: &mut egui::Ui, out: &mut Out) {
    ui.horizontal_wrapped(|ui| {
        let tools = app.tools();
        for t in Tool::ALL {
            let key = format!("{:?}", t.key());
            if ui.selectable_label(tools.tool == t, t.name()).on_hover_text(tip(t.name(), &key, t.help())).clicked() {
                out.push(Action::SetTool(t));
            }
        }
        ui.separator();
        let mut r = tools.brush_radius;
        if ui
            .add(egui::Slider::new(&mut r, 1..=200).logarithmic(true).text("brush"))
            .on_hover_text("Brush radius in pixels ([ and ])")
            .changed()
        {
            out.push(Action::SetBrushRadius(r));
        }
        toggle(ui, tools.extend_instance, "extend selected instance", Action::SetExtendInstance, out)
            .on_hover_text("Paint into the selected object instead of starting a new one (same class only)");
        ui.separator();
        for (d, name, key) in [
            (Display::Label, "Labels", "Tab"),
            (Display::Photo, "Photo", "Tab"),
            (Display::Blend, "Blend", ""),
            (Display::SideBySide, "Side by side", ""),
        ] {
            let tip = tip(name, key, "What the canvas shows");
            if ui.selectable_label(app.display() == d, name).on_hover_text(tip).clicked() {
                out.push(Action::SetDisplay(d));
            }
        }
        if app.display() == Display::Blend {
            let mut o = app.opacity();
            if ui
                .add(egui::Slider::new(&mut o, 0.0..=1.0).text("labels"))
                .on_hover_text("Opacity of the label colours over the photo")
                .changed()
            {
                out.push(Action::SetOpacity(o));
            }
        }
        toggle(ui, app.outlines(), "outlines", Action::SetOutlines, out).on_hover_text("Outline every object instance");
        if ui.button("Fit").on_hover_text("Fit to window (0)").clicked() {
            out.push(Action::FitView);
        }
    });
}

fn palette(app: &EditorApp, st: &mut PanelState, ui: &mut egui::Ui, out: &mut Out) {
    ui.heading("Classes");
    ui.add(egui::TextEdit::singleline(&mut st.class_filter).hint_text("search"));
    let swatch = |ui: &mut egui::Ui, out: &mut Out, c: u8| {
        let l = &LABELS[c as usize];
        ui.horizontal(|ui| {
            let (r, _) = ui.allocate_exact_size(Vec2::splat(14.0), Sense::hover());
            ui.painter().rect_filled(r, 2.0, color(l.color));
            let text = if l.has_instances { format!("{} (objects)", l.name) } else { l.name.to_string() };
            let hover = format!("id {}{}", l.id, if l.has_instances { ", objects" } else { "" });
            if ui.selectable_label(app.tools().class == c, text).on_hover_text(hover).clicked() {
                out.push(Action::ChooseClass(c));
            }
        });
    };
    ui.label("Recent");
    for &c in &app.tools().recent_classes {
        swatch(ui, out, c);
    }
    ui.separator();
    let filter = st.class_filter.to_lowercase();
    egui::ScrollArea::vertical().id_salt("all classes").show(ui, |ui| {
        for l in LABELS.iter().filter(|l| l.id >= 4 || l.id == 0) {
            if filter.is_empty() || l.name.contains(&filter) {
                swatch(ui, out, l.id);
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

fn object_panel(app: &EditorApp, st: &mut PanelState, ui: &mut egui::Ui, out: &mut Out) {
    ui.heading("Selection");
    match app.selected() {
        None => {
            ui.label("Nothing selected. Use Select (V) and click an object.");
        }
        Some(sel) => {
            let id = sel.value();
            ui.label(if labels::is_object(id) {
                format!("{} #{} (instance {id})", class_name(sel.class()), labels::object_index(id))
            } else {
                format!("{} region", class_name(sel.class()))
            });
            let b = sel.bbox();
            ui.label(format!("{} pixels, box {}x{} at ({}, {})", sel.pixel_count(), b.width, b.height, b.x, b.y));
            let mut c = sel.class();
            if class_combo(ui, "category", &mut c) {
                out.push(Action::ChangeCategory(c));
            }
            ui.horizontal(|ui| {
                if ui.button("Delete").on_hover_text("Delete (Del): its pixels take the class around it").clicked() {
                    out.push(Action::DeleteSelected);
                }
                if ui.button("Duplicate").on_hover_text("Duplicate (Ctrl+D), then drag the copy with Select").clicked()
                {
                    out.push(Action::DuplicateSelected);
                }
            });
            ui.separator();
            style_section(app, id, sel.class(), ui, out);
        }
    }
    replace_section(st, ui, out);
    worker_section(app, ui, out);
}

/// The style of the selection (instance-map value `key`, of `class`): its clusters as swatches, then thumbnails.
fn style_section(app: &EditorApp, key: u32, class: u8, ui: &mut egui::Ui, out: &mut Out) {
    ui.heading("Style");
    let current = app.scene().style(key);
    ui.label(match current {
        StyleChoice::Random => "random (from the seed)".to_string(),
        StyleChoice::Cluster(k) => format!("cluster {k}"),
    });
    if !labels::is_object(key) {
        ui.small(format!("applies to every {} region", class_name(class)));
    }
    let Some(cc) = app.selection_clusters() else {
        ui.label("The model has no style clusters for this class.");
        return;
    };
    let thumbs = app.thumbnails().unwrap_or_default();
    ui.horizontal_wrapped(|ui| {
        for k in 0..cc.centers.len() {
            let rgb = cc.mean_rgb.get(k).copied().unwrap_or([128, 128, 128]);
            let chosen = current == StyleChoice::Cluster(k);
            let hover =
                format!("cluster {k}: {} training regions, mean colour {rgb:?}", cc.counts.get(k).unwrap_or(&0));
            let resp = match thumbs.iter().find(|(i, _)| *i == k) {
                Some((_, t)) => ui.add(
                    egui::Button::image_and_text(
                        egui::Image::new(t).fit_to_exact_size(Vec2::new(56.0, 42.0)),
                        egui::RichText::new(format!("#{k}")).small(),
                    )
                    .selected(chosen),
                ),
                None => {
                    let light = u32::from(rgb[0]) + u32::from(rgb[1]) + u32::from(rgb[2]) > 380;
                    let ink = if light { Color32::BLACK } else { Color32::WHITE };
                    ui.add(
                        egui::Button::new(egui::RichText::new(format!("#{k}")).color(ink).small())
                            .fill(color(rgb))
                            .min_size(Vec2::new(30.0, 28.0))
                            .selected(chosen),
                    )
                }
            };
            if resp.on_hover_text(hover).clicked() {
                out.push(Action::SetStyle(StyleChoice::Cluster(k)));
            }
        }
    });
    if ui.button("Random").on_hover_text("Another of these styles, drawn at random").clicked() {
        out.push(Action::RerollStyle);
    }
}

fn replace_section(st: &mut PanelState, ui: &mut egui::Ui, out: &mut Out) {
    ui.separator();
    ui.heading("Replace class");
    class_combo(ui, "replace", &mut st.replace_from);
    class_combo(ui, "with", &mut st.replace_to);
    if ui.button("Replace everywhere").clicked() {
        out.push(Action::ReplaceClass { from: st.replace_from, to: st.replace_to });
    }
}

fn worker_section(app: &EditorApp, ui: &mut egui::Ui, out: &mut Out) {
    ui.separator();
    ui.heading("Renderer");
    let model = &app.options().model;
    ui.label(format!("model: {}", model_name(model))).on_hover_text(model.display().to_string());
    match app.worker_state() {
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
            if let Some(m) = app.session().model_info() {
                ui.label(format!("{} parameters on {}; preview: {}", m.params, m.device, m.preview));
                ui.label(format!("inference: {}", m.inference));
            }
        }
        WorkerState::Failed(msg) => {
            ui.colored_label(Color32::LIGHT_RED, format!("failed: {msg}"));
        }
    }
    ui.horizontal(|ui| {
        ui.label("seed");
        let mut seed = app.session().seed;
        if ui.add(egui::DragValue::new(&mut seed)).on_hover_text("Seed of the random styles").changed() {
            out.push(Action::SetSeed(seed));
        }
    });
    if ui.button("Restart renderer").clicked() {
        out.push(Action::RestartRenderer);
    }
}

fn status_bar(app: &EditorApp, canvas: &Canvas, ui: &mut egui::Ui, out: &mut Out) {
    ui.horizontal(|ui| {
        match canvas.hover() {
            Some((x, y)) => {
                let (class, inst) = app.scene().pick(x as i64, y as i64).unwrap_or((0, 0));
                ui.label(format!("({x}, {y}) {} · instance {inst}", class_name(class)));
            }
            None => {
                ui.label(format!("{}x{}", app.scene().width(), app.scene().height()));
            }
        }
        ui.separator();
        match app.session().model_info() {
            Some(m) => {
                let short = m.inference.split(" (").next().unwrap_or(&m.inference);
                ui.label(format!("model {} on {}, {short}", model_name(&m.path), m.device)).on_hover_text(&m.inference)
            }
            None => ui.label("no model"),
        };
        ui.separator();
        if app.show_timings() {
            for (k, v) in app.session().last_render() {
                ui.label(format!("{k} {:.0} ms", v * 1000.0));
            }
        }
        let state = if app.render_is_current() {
            "up to date"
        } else if *app.worker_state() == WorkerState::Ready {
            "rendering..."
        } else {
            ""
        };
        ui.label(state);
        ui.separator();
        if app.show_timings() {
            ui.label(format!("frame {:.1} ms", app.frame_ms()));
        }
        if app.history().is_dirty() {
            ui.label("· unsaved");
        }
        if let Some((msg, err)) = app.message() {
            ui.separator();
            let text = if err { egui::RichText::new(msg).color(Color32::LIGHT_RED) } else { egui::RichText::new(msg) };
            let recent: Vec<&str> = app.log().iter().rev().take(8).map(|(m, _)| m.as_str()).collect();
            let hover = format!("click to dismiss\n\nrecent messages, newest first:\n{}", recent.join("\n"));
            if ui.add(egui::Label::new(text).sense(Sense::click())).on_hover_text(hover).clicked() {
                out.push(Action::DismissMessage);
            }
            if err && ui.small_button("dismiss").clicked() {
                out.push(Action::DismissMessage);
            }
        }
    });
}

fn recovery_dialog(app: &EditorApp, ctx: &egui::Context, out: &mut Out) {
    let Some(p) = app.recovery_offer() else { return };
    egui::Window::new("Recover unsaved work?").collapsible(false).resizable(false).show(ctx, |ui| {
        ui.label(format!("The editor did not close normally last time. An autosaved scene is in {}.", p.display()));
        ui.horizontal(|ui| {
            if ui.button("Recover").clicked() {
                out.push(Action::Recover);
            }
            if ui.button("Discard").clicked() {
                out.push(Action::DiscardRecovery);
            }
        });
    });
}
