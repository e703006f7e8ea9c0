//! Where the image sits on screen: zoom and pan, and the mapping between screen points and image pixels.

use egui::{Pos2, Vec2};

/// Where the image is on screen: `zoom` screen points per image pixel, `center` the image point shown at the
/// centre of the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub zoom: f32,
    pub center: Pos2,
}

impl Default for View {
    fn default() -> Self {
        View { zoom: 0.5, center: Pos2::new(1024.0, 512.0) }
    }
}

impl View {
    /// The view that shows the whole image in `canvas`.
    pub fn fit(canvas: egui::Rect, w: u32, h: u32) -> View {
        let zoom = (canvas.width() / w as f32).min(canvas.height() / h as f32).max(1e-3);
        View { zoom, center: Pos2::new(w as f32 / 2.0, h as f32 / 2.0) }
    }

    pub fn to_screen(&self, canvas: egui::Rect, p: Pos2) -> Pos2 {
        canvas.center() + (p - self.center) * self.zoom
    }

    pub fn to_image(&self, canvas: egui::Rect, p: Pos2) -> Pos2 {
        self.center + (p - canvas.center()) / self.zoom
    }

    /// The image's rectangle on screen.
    pub fn image_rect(&self, canvas: egui::Rect, w: u32, h: u32) -> egui::Rect {
        egui::Rect::from_min_max(
            self.to_screen(canvas, Pos2::ZERO),
            self.to_screen(canvas, Pos2::new(w as f32, h as f32)),
        )
    }

    /// Zooms by `factor` keeping the image point under `anchor` (a screen position) where it is.
    pub fn zoom_at(&mut self, canvas: egui::Rect, anchor: Pos2, factor: f32) {
        let before = self.to_image(canvas, anchor);
        self.zoom = (self.zoom * factor).clamp(0.02, 64.0);
        let after = self.to_image(canvas, anchor);
        self.center += before - after;
    }

    pub fn pan(&mut self, screen_delta: Vec2) {
        self.center -= screen_delta / self.zoom;
    }
}

/// The part of the image visible in `clip`, on screen and as image UVs (0..1).
pub fn visible(image: egui::Rect, clip: egui::Rect) -> Option<(egui::Rect, egui::Rect)> {
    let vis = image.intersect(clip);
    if vis.width() <= 0.0 || vis.height() <= 0.0 {
        return None;
    }
    let uv = egui::Rect::from_min_max(
        Pos2::new((vis.min.x - image.min.x) / image.width(), (vis.min.y - image.min.y) / image.height()),
        Pos2::new((vis.max.x - image.min.x) / image.width(), (vis.max.y - image.min.y) / image.height()),
    );
    Some((vis, uv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let canvas = egui::Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(800.0, 400.0));
        let mut v = View::fit(canvas, 2048, 1024);
        let anchor = Pos2::new(300.0, 100.0);
        let before = v.to_image(canvas, anchor);
        v.zoom_at(canvas, anchor, 2.5);
        let after = v.to_image(canvas, anchor);
        assert!((before - after).length() < 1e-3, "{before:?} vs {after:?}");
    }

    #[test]
    fn fit_shows_the_whole_image() {
        let canvas = egui::Rect::from_min_size(Pos2::ZERO, Vec2::new(1000.0, 800.0));
        let v = View::fit(canvas, 2048, 1024);
        let r = v.image_rect(canvas, 2048, 1024);
        assert!(canvas.expand(0.01).contains_rect(r));
        assert!((r.width() - 1000.0).abs() < 0.01);
    }
}
