//! What each tool makes of the pointer on the canvas: a small state machine per tool that draws its feedback
//! (brush outline, rectangle, polygon, moved box) and emits actions when a gesture completes.

use super::View;
use crate::app::EditorApp;
use crate::app::action::{Action, Pixel};
use crate::scene::ObjectRef;
use egui::{Color32, Pos2, Stroke, Vec2};

/// The pointer this frame.
pub(super) struct Pointer {
    /// On screen.
    pub pos: Pos2,
    /// In image coordinates, and the pixel it falls in.
    pub img: Pos2,
    pub px: Pixel,
    /// The canvas half the pointer is over (the whole canvas unless side by side), and the left one.
    pub base: egui::Rect,
    pub left: egui::Rect,
    /// The primary button went down over the canvas.
    pub pressed: bool,
    pub down: bool,
    pub released: bool,
    pub shift: bool,
    pub double: bool,
    pub hovered: bool,
}

/// A gesture in progress.
#[derive(Debug, Default)]
pub(super) struct Gesture {
    /// Where a rectangle drag started (image coordinates).
    drag_start: Option<Pos2>,
    /// The polygon's corners so far.
    pub polygon: Vec<(f32, f32)>,
    /// An object being dragged: it, where the drag started and where it is now (image coordinates).
    move_drag: Option<(ObjectRef, Pos2, Pos2)>,
}

pub(super) fn brush(p: &Pointer, app: &EditorApp, view: &View, painter: &egui::Painter, out: &mut Vec<Action>) {
    if p.pressed {
        out.push(Action::StrokeBegin { at: p.px, line: p.shift });
    } else if p.down && app.document().in_stroke() {
        out.push(Action::StrokeTo(p.px));
    }
    if p.released {
        out.push(Action::StrokeEnd);
    }
    if p.hovered {
        let c = view.to_screen(p.base, Pos2::new(p.px.0 as f32 + 0.5, p.px.1 as f32 + 0.5));
        let radius = app.tools().brush_radius as f32 * view.zoom;
        painter.circle_stroke(c, radius, Stroke::new(1.0, Color32::WHITE));
    }
}

pub(super) fn rect(g: &mut Gesture, p: &Pointer, view: &View, painter: &egui::Painter, out: &mut Vec<Action>) {
    if p.pressed {
        g.drag_start = Some(p.img);
    }
    let Some(a) = g.drag_start else { return };
    let r = egui::Rect::from_two_pos(view.to_screen(p.base, a), view.to_screen(p.base, p.img));
    painter.rect_stroke(r, 0.0, Stroke::new(1.0, Color32::WHITE), egui::StrokeKind::Middle);
    if p.released {
        g.drag_start = None;
        out.push(Action::FillRect((a.x.floor() as i64, a.y.floor() as i64), p.px));
    }
}

pub(super) fn polygon(g: &mut Gesture, p: &Pointer, view: &View, painter: &egui::Painter, out: &mut Vec<Action>) {
    if p.double && g.polygon.len() >= 3 {
        out.push(Action::FillPolygon(std::mem::take(&mut g.polygon)));
    } else if p.pressed {
        g.polygon.push((p.img.x, p.img.y));
    }
    let pts: Vec<Pos2> =
        g.polygon.iter().map(|&(x, y)| view.to_screen(p.left, Pos2::new(x, y))).chain(std::iter::once(p.pos)).collect();
    if pts.len() > 1 {
        painter.add(egui::Shape::line(pts, Stroke::new(1.5, Color32::WHITE)));
    }
}

/// Click to select; drag the selection to move it (one move, with the whole offset, when the button goes up).
pub(super) fn select(
    g: &mut Gesture,
    p: &Pointer,
    app: &EditorApp,
    view: &View,
    painter: &egui::Painter,
    out: &mut Vec<Action>,
) {
    if p.pressed {
        let hit = app.selected().is_some_and(|s| s.contains(p.px.0, p.px.1));
        let object = if hit {
            app.selection()
        } else {
            out.push(Action::SelectAt(p.px));
            app.scene().select(p.px.0, p.px.1)
        };
        g.move_drag = object.map(|o| (o, p.img, p.img));
    }
    let Some((object, a, _)) = g.move_drag else { return };
    g.move_drag = Some((object, a, p.img));
    let d = p.img - a;
    let bbox = match app.selected() {
        Some(s) if app.selection() == Some(object) => Some(s.bbox()),
        _ => app.scene().selection(object).map(|s| s.bbox()),
    };
    if let Some(b) = bbox.filter(|_| d.length() >= 1.0) {
        let r = egui::Rect::from_min_size(
            view.to_screen(p.base, Pos2::new(b.x as f32 + d.x.round(), b.y as f32 + d.y.round())),
            Vec2::new(b.width as f32, b.height as f32) * view.zoom,
        );
        painter.rect_stroke(r, 0.0, Stroke::new(1.5, Color32::YELLOW), egui::StrokeKind::Middle);
    }
    if p.released {
        g.move_drag = None;
        out.push(Action::MoveSelected { dx: d.x.round() as i64, dy: d.y.round() as i64 });
    }
}
