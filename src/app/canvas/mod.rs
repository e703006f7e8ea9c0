//! The canvas: the label map (coloured on the GPU), the render, a blend of both or both side by side, with zoom
//! and pan. Pointer input goes to the tool in hand (`tools.rs`), which turns it into actions; the canvas keeps only
//! its own state (where the image is, the gesture in progress).

mod gpu;
mod tools;
mod view;

pub use gpu::{FLAG_ALL_OUTLINES, FLAG_SELECTION, LabelDraw, LabelGpu, NO_SELECTION, Params};
pub use view::{View, visible};

use super::action::Action;
use super::{Display, EditorApp, Tool, WorkerState};
use egui::{Color32, Key, Pos2, Sense, Stroke, Vec2};
use tools::{Gesture, Pointer};

/// What the canvas remembers between frames.
pub struct Canvas {
    view: View,
    fit_pending: bool,
    /// Where the image was drawn last frame (the left half in side by side).
    rect: egui::Rect,
    was_split: bool,
    /// The image pixel under the pointer.
    hover: Option<(u32, u32)>,
    gesture: Gesture,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            view: View::default(),
            fit_pending: true,
            rect: egui::Rect::NOTHING,
            was_split: false,
            hover: None,
            gesture: Gesture::default(),
        }
    }
}

impl Canvas {
    /// Shows the whole image at the next frame.
    pub fn fit(&mut self) {
        self.fit_pending = true;
    }

    /// For a new document: fit it, and forget any gesture on the old one.
    pub fn reset(&mut self) {
        self.fit_pending = true;
        self.gesture = Gesture::default();
    }

    pub fn hover(&self) -> Option<(u32, u32)> {
        self.hover
    }

    /// Where image point `p` (in pixels) was on screen in the last frame.
    pub fn to_screen(&self, p: Pos2) -> Pos2 {
        self.view.to_screen(self.rect, p)
    }

    /// Ends the polygon being drawn, returning its corners.
    pub fn take_polygon(&mut self) -> Vec<(f32, f32)> {
        std::mem::take(&mut self.gesture.polygon)
    }

    /// Drops the polygon being drawn.
    pub fn cancel_polygon(&mut self) {
        self.gesture.polygon.clear();
    }

    /// Draws the canvas into the rest of `ui` and turns pointer input into actions.
    pub fn ui(&mut self, ui: &mut egui::Ui, app: &EditorApp, gpu: bool, out: &mut Vec<Action>) {
        let full = ui.available_rect_before_wrap();
        let resp = ui.allocate_rect(full, Sense::click_and_drag());
        let scene = app.scene();
        let (w, h) = (scene.width(), scene.height());
        let split = app.display() == Display::SideBySide;
        // Side by side: two halves with the same view, the labels left and the photo right.
        let left =
            if split { egui::Rect::from_min_max(full.min, Pos2::new(full.center().x, full.max.y)) } else { full };
        let right = egui::Rect::from_min_max(Pos2::new(left.max.x, full.min.y), full.max);
        // The canvas changes size when side by side starts or ends: show the whole image again.
        if self.was_split != split {
            self.was_split = split;
            self.fit_pending = true;
        }
        if self.fit_pending {
            self.view = View::fit(left, w, h);
            self.fit_pending = false;
        }
        let painter = ui.painter_at(full);
        painter.rect_filled(full, 0.0, Color32::from_gray(30));
        let half_at = |p: Pos2| if split && p.x > left.max.x { right } else { left };

        // Zoom (wheel, to the cursor) and pan (middle or right drag, or space + drag).
        let hover_pos = resp.hover_pos();
        if let Some(pos) = hover_pos {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta.y, i.zoom_delta()));
            let factor = zoom * (scroll * 0.002).exp();
            if (factor - 1.0).abs() > 1e-4 {
                let local = if split && pos.x > left.max.x { pos - Vec2::new(left.width(), 0.0) } else { pos };
                self.view.zoom_at(left, local, factor);
            }
        }
        let space = ui.input(|i| i.key_down(Key::Space));
        if resp.dragged_by(egui::PointerButton::Middle)
            || resp.dragged_by(egui::PointerButton::Secondary)
            || (space && resp.dragged_by(egui::PointerButton::Primary))
        {
            self.view.pan(resp.drag_delta());
        }
        self.rect = left;
        let view = self.view;

        let draw_labels = |rect: egui::Rect, opacity: f32, slot: u32| {
            let Some((vis, uv)) = visible(view.image_rect(rect, w, h), rect) else { return };
            if !gpu {
                let font = egui::FontId::default();
                painter.text(vis.center(), egui::Align2::CENTER_CENTER, "label view needs wgpu", font, Color32::WHITE);
                return;
            }
            let params = Params {
                uv_min: [uv.min.x, uv.min.y],
                uv_max: [uv.max.x, uv.max.y],
                size: [w as f32, h as f32],
                texels_per_px: 1.0 / (view.zoom * ui.ctx().pixels_per_point()),
                opacity,
                selected: app.selected().map_or(NO_SELECTION, |s| s.value()),
                flags: (if app.outlines() { FLAG_ALL_OUTLINES } else { 0 })
                    | (if app.selection().is_some() { FLAG_SELECTION } else { 0 }),
                time: ui.input(|i| i.time) as f32,
                _pad: 0.0,
            };
            painter.add(LabelDraw::shape(vis, slot, params));
        };
        let draw_photo = |rect: egui::Rect| match app.photo() {
            Some(p) if (p.width, p.height) != (0, 0) => {
                if let Some((vis, uv)) = visible(view.image_rect(rect, w, h), rect) {
                    painter.image(p.texture.id(), vis, uv, Color32::WHITE);
                }
            }
            _ => {
                let msg = match app.worker_state() {
                    WorkerState::Failed(m) => format!("no render: {m}"),
                    WorkerState::Off => "no renderer".to_string(),
                    _ => "rendering...".to_string(),
                };
                let font = egui::FontId::proportional(16.0);
                painter.text(rect.center(), egui::Align2::CENTER_CENTER, msg, font, Color32::GRAY);
            }
        };
        match app.display() {
            Display::Label => draw_labels(left, 1.0, 0),
            Display::Photo => {
                draw_photo(left);
                if app.selection().is_some() || app.outlines() {
                    draw_labels(left, 0.0, 0);
                }
            }
            // Until the first render arrives, the blend shows the labels alone.
            Display::Blend if app.photo().is_none() => draw_labels(left, 1.0, 0),
            Display::Blend => {
                draw_photo(left);
                draw_labels(left, app.opacity(), 0);
            }
            Display::SideBySide => {
                draw_labels(left, 1.0, 0);
                draw_photo(right);
                painter.vline(left.max.x, full.y_range(), Stroke::new(1.0, Color32::BLACK));
            }
        }

        // Which image pixel the pointer is over (either half in side by side).
        let to_img = |p: Pos2| view.to_image(half_at(p), p);
        self.hover = hover_pos
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
        let Some(pos) = hover_pos.or(resp.interact_pointer_pos()) else {
            if released {
                out.push(Action::StrokeEnd);
            }
            return;
        };
        let img = to_img(pos);
        let p = Pointer {
            pos,
            img,
            px: (img.x.floor() as i64, img.y.floor() as i64),
            base: half_at(pos),
            left,
            pressed: pressed && resp.hovered(),
            down,
            released,
            shift,
            double,
            hovered: resp.hovered(),
        };
        let g = &mut self.gesture;
        match app.tools().tool {
            Tool::Brush => tools::brush(&p, app, &view, &painter, out),
            Tool::Rect => tools::rect(g, &p, &view, &painter, out),
            Tool::Polygon => tools::polygon(g, &p, &view, &painter, out),
            Tool::Fill if p.pressed => out.push(Action::FloodFill(p.px)),
            Tool::Eyedropper if p.pressed => out.push(Action::PickClass(p.px)),
            Tool::Fill | Tool::Eyedropper => {}
            Tool::Select => tools::select(g, &p, app, &view, &painter, out),
        }
    }
}
