//! Style thumbnails: one object in each of its class's style clusters, for the editor's style panel and
//! `render --all-styles`. Each is the crop around the object rendered on its own, which costs a fraction of a full
//! render per cluster, so the editor can offer them a moment after a click.

use super::{RenderError, Renderer};
use crate::features::{StyleChoice, StyleSpec};
use crate::labels;
use crate::scene::{ObjectRef, Rect, Scene};

/// One object rendered in one style cluster, cropped around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub cluster: usize,
    /// Where the crop is in the scene.
    pub crop: Rect,
    pub rgb: Vec<u8>,
}

/// The crop around an object a thumbnail shows: its box grown by half its size on each side, and by at least 16
/// pixels, so that even a small object is seen with its surroundings; clipped to the `w`×`h` map.
pub fn thumb_crop(bbox: Rect, w: u32, h: u32) -> Rect {
    let grow = |lo: u32, len: u32, max: u32| {
        let pad = (len / 2).max(16);
        let a = lo.saturating_sub(pad);
        let b = (lo + len + pad).min(max);
        (a, b - a)
    };
    let (x, width) = grow(bbox.x, bbox.width, w);
    let (y, height) = grow(bbox.y, bbox.height, h);
    Rect { x, y, width, height }
}

/// The part `r` of a row-major map `width` pixels wide.
fn crop_map<T: Copy>(map: &[T], width: u32, r: Rect) -> Vec<T> {
    let w = width as usize;
    let mut out = Vec::with_capacity(r.area());
    for y in r.y as usize..r.bottom() as usize {
        out.extend_from_slice(&map[y * w + r.x as usize..y * w + r.right() as usize]);
    }
    out
}

impl Renderer {
    /// Object `id` of `scene` in each style cluster of its class, with `styles` for everything else.
    pub fn thumbnails(&self, scene: &Scene, styles: &StyleSpec, id: u32) -> Result<Vec<Thumb>, RenderError> {
        let clusters = self.clusters.as_ref().ok_or(RenderError::NoClusters)?;
        let sel = scene.selection(ObjectRef::Instance(id)).ok_or(RenderError::NoSuchObject { id })?;
        let class = labels::class_of_instance(id);
        let n = clusters.count(class);
        if n == 0 {
            return Err(RenderError::NoClustersForClass { id, class });
        }
        let crop = thumb_crop(sel.bbox(), scene.width(), scene.height());
        let label = crop_map(scene.label(), scene.width(), crop);
        let inst = crop_map(scene.inst(), scene.width(), crop);
        let size = (crop.width as usize, crop.height as usize);
        (0..n)
            .map(|k| {
                let mut s = styles.clone();
                s.by_id.insert(id, StyleChoice::Cluster(k));
                Ok(Thumb { cluster: k, crop, rgb: self.render(&label, &inst, size, &s, None)? })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_crop_stays_inside_the_map() {
        let c = thumb_crop(Rect { x: 2, y: 3, width: 10, height: 4 }, 100, 50);
        assert_eq!((c.x, c.y), (0, 0));
        assert!(c.right() <= 100 && c.bottom() <= 50);
        assert!(c.width >= 12 && c.height >= 7);
    }

    #[test]
    fn a_crop_is_the_box_grown_by_half_and_at_least_16_pixels() {
        let c = thumb_crop(Rect { x: 100, y: 40, width: 60, height: 20 }, 400, 200);
        assert_eq!(c, Rect { x: 70, y: 24, width: 120, height: 52 });
        let crop = crop_map(&(0..12).collect::<Vec<u32>>(), 4, Rect { x: 1, y: 1, width: 2, height: 2 });
        assert_eq!(crop, vec![5, 6, 9, 10]);
    }
}
