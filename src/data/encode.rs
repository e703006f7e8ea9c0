//! G's input encoding, as the reference builds it: `[one-hot(label) : label_nc | boundary map : 1 | features]`.
//!
//! The boundary ("edge") map marks a pixel 1 when any of its 4-neighbours has a different instance id; both pixels
//! of every differing horizontal or vertical pair are marked. It is computed on the raw ids, so two touching cars
//! of one class are still separated, which is the whole point of the instance map.

use crate::model::ModelConfig;
use crate::model::fast::{GenInput, OneHot};
use tch::{Device, Kind, Tensor};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("class id {id} at pixel (x {x}, y {y}) is not below label_nc {label_nc} of the model")]
    ClassOutOfRange { id: u8, x: usize, y: usize, label_nc: i64 },
    #[error("{what} has {got} values, expected {width}×{height} = {}", width * height)]
    SizeMismatch { what: &'static str, got: usize, width: usize, height: usize },
    #[error("the model uses instance boundaries but no instance map was given")]
    MissingInstanceMap,
    #[error("the model takes {feat_num} feature channels but no feature map was given")]
    MissingFeatures { feat_num: i64 },
    #[error("feature map has shape {got:?}, expected [1, {feat_num}, {height}, {width}]")]
    FeatureShape { got: Vec<i64>, feat_num: i64, width: usize, height: usize },
    #[error("the model takes an RGB image as input (label_nc 0), not a label map")]
    NotALabelModel,
}

/// The 4-neighbour instance boundary map of a row-major `w`×`h` id map, 1 on boundaries and 0 elsewhere.
pub fn edge_map(inst: &[u32], w: usize, h: usize) -> Vec<u8> {
    assert_eq!(inst.len(), w * h, "edge_map: map has {} values, expected {w}×{h}", inst.len());
    let mut e = vec![0u8; w * h];
    for y in 0..h {
        let row = y * w;
        for x in 1..w {
            if inst[row + x] != inst[row + x - 1] {
                e[row + x] = 1;
                e[row + x - 1] = 1;
            }
        }
        if y > 0 {
            let up = row - w;
            for x in 0..w {
                if inst[row + x] != inst[up + x] {
                    e[row + x] = 1;
                    e[up + x] = 1;
                }
            }
        }
    }
    e
}

/// A label map with its optional instance map, row-major, as the Scene and the data loaders hold them.
#[derive(Debug, Clone, Copy)]
pub struct Maps<'a> {
    pub width: usize,
    pub height: usize,
    pub label: &'a [u8],
    pub inst: Option<&'a [u32]>,
}

impl Maps<'_> {
    fn check(&self) -> Result<(), EncodeError> {
        let (width, height) = (self.width, self.height);
        if self.label.len() != width * height {
            return Err(EncodeError::SizeMismatch { what: "label map", got: self.label.len(), width, height });
        }
        if let Some(inst) = self.inst
            && inst.len() != width * height
        {
            return Err(EncodeError::SizeMismatch { what: "instance map", got: inst.len(), width, height });
        }
        Ok(())
    }
}

/// The first pixel whose class is not below `label_nc`, as an error naming the id and where it is.
pub fn check_classes(label: &[u8], width: usize, label_nc: i64) -> Result<(), EncodeError> {
    match label.iter().position(|&c| i64::from(c) >= label_nc) {
        Some(i) => Err(EncodeError::ClassOutOfRange { id: label[i], x: i % width, y: i / width, label_nc }),
        None => Ok(()),
    }
}

/// The feature-free part of G's input for a batch of equally sized maps: [B, label_nc (+1 boundary map unless
/// `no_instance`), H, W] float32 on `device`. The data loader builds its batches with this and `encode_input` its
/// single maps, so training and inference see the same encoding.
pub fn encode_labels(
    maps: &[Maps<'_>],
    label_nc: i64,
    no_instance: bool,
    device: Device,
) -> Result<Tensor, EncodeError> {
    if label_nc == 0 {
        return Err(EncodeError::NotALabelModel);
    }
    let Some(first) = maps.first() else {
        return Ok(Tensor::zeros([0, label_nc + i64::from(!no_instance), 0, 0], (Kind::Float, device)));
    };
    let (width, height) = (first.width, first.height);
    let mut labels = Vec::with_capacity(maps.len() * width * height);
    let mut edges = Vec::with_capacity(if no_instance { 0 } else { labels.capacity() });
    for m in maps {
        if (m.width, m.height) != (width, height) {
            return Err(EncodeError::SizeMismatch {
                what: "a map of the batch",
                got: m.width * m.height,
                width,
                height,
            });
        }
        m.check()?;
        check_classes(m.label, width, label_nc)?;
        labels.extend_from_slice(m.label);
        if !no_instance {
            edges.extend(edge_map(m.inst.ok_or(EncodeError::MissingInstanceMap)?, width, height));
        }
    }
    let (b, w, h) = (maps.len() as i64, width as i64, height as i64);
    let idx = Tensor::from_slice(&labels).to_device(device).to_kind(Kind::Int64).reshape([b, 1, h, w]);
    let one_hot = Tensor::zeros([b, label_nc, h, w], (Kind::Float, device)).scatter_value(1, &idx, 1.0);
    if no_instance {
        return Ok(one_hot);
    }
    let edges = Tensor::from_slice(&edges).to_device(device).to_kind(Kind::Float).reshape([b, 1, h, w]);
    Ok(Tensor::cat(&[one_hot, edges], 1))
}

/// Builds G's input [1, g_input_nc, H, W] (float32) on `device`. `feat` ([1, feat_num, H, W]) is required exactly
/// when the model uses features.
pub fn encode_input(
    maps: Maps<'_>,
    cfg: &ModelConfig,
    feat: Option<&Tensor>,
    device: Device,
) -> Result<Tensor, EncodeError> {
    let mut parts = vec![encode_labels(&[maps], cfg.label_nc, cfg.no_instance, device)?];
    if let Some(f) = features(maps, cfg, feat)? {
        parts.push(f.to_device(device).to_kind(Kind::Float));
    }
    Ok(Tensor::cat(&parts, 1))
}

/// The feature map G takes, checked: `None` for a model without features, else `feat`, which must be
/// [1, feat_num, H, W].
fn features<'t>(
    maps: Maps<'_>,
    cfg: &ModelConfig,
    feat: Option<&'t Tensor>,
) -> Result<Option<&'t Tensor>, EncodeError> {
    if !cfg.use_features() {
        return Ok(None);
    }
    let f = feat.ok_or(EncodeError::MissingFeatures { feat_num: cfg.feat_num })?;
    if f.size() != [1, cfg.feat_num, maps.height as i64, maps.width as i64] {
        return Err(EncodeError::FeatureShape {
            got: f.size(),
            feat_num: cfg.feat_num,
            width: maps.width,
            height: maps.height,
        });
    }
    Ok(Some(f))
}

/// G's input for the fast path (`model::fast`): the labels as labels (uint8 [1, H, W] on the CPU) and the boundary
/// map and features as a dense [1, R, H, W] float32 tensor on `device`. The same values `encode_input` makes.
pub fn encode_input_parts(
    maps: Maps<'_>,
    cfg: &ModelConfig,
    feat: Option<&Tensor>,
    device: Device,
) -> Result<GenInput, EncodeError> {
    if cfg.label_nc == 0 {
        return Err(EncodeError::NotALabelModel);
    }
    maps.check()?;
    check_classes(maps.label, maps.width, cfg.label_nc)?;
    let (w, h) = (maps.width as i64, maps.height as i64);
    let labels = Tensor::from_slice(maps.label).reshape([1, h, w]);
    let mut rest = Vec::new();
    if !cfg.no_instance {
        let e = edge_map(maps.inst.ok_or(EncodeError::MissingInstanceMap)?, maps.width, maps.height);
        rest.push(Tensor::from_slice(&e).to_device(device).to_kind(Kind::Float).reshape([1, 1, h, w]));
    }
    if let Some(f) = features(maps, cfg, feat)? {
        rest.push(f.to_device(device).to_kind(Kind::Float));
    }
    Ok(GenInput {
        onehot: Some(OneHot { labels, label_nc: cfg.label_nc }),
        rest: (!rest.is_empty()).then(|| Tensor::cat(&rest, 1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[u32]]) -> (Vec<u32>, usize, usize) {
        let w = rows[0].len();
        (rows.iter().flat_map(|r| r.iter().copied()).collect(), w, rows.len())
    }

    #[test]
    fn touching_instances_of_one_class_are_separated() {
        let (m, w, h) = grid(&[
            &[7, 7, 7, 7, 7, 7],
            &[7, 26000, 26000, 26001, 26001, 7],
            &[7, 26000, 26000, 26001, 26001, 7],
            &[7, 7, 7, 7, 7, 7],
        ]);
        #[rustfmt::skip]
        let expected = vec![
            0, 1, 1, 1, 1, 0,
            1, 1, 1, 1, 1, 1,
            1, 1, 1, 1, 1, 1,
            0, 1, 1, 1, 1, 0,
        ];
        assert_eq!(edge_map(&m, w, h), expected);
    }

    #[test]
    fn single_pixel_and_borders() {
        let (m, w, h) = grid(&[&[1, 1, 1, 1], &[1, 2, 1, 1], &[1, 1, 1, 3]]);
        #[rustfmt::skip]
        let expected = vec![
            0, 1, 0, 0,
            1, 1, 1, 1,
            0, 1, 1, 1,
        ];
        // The image border itself is never a boundary; only id changes are.
        assert_eq!(edge_map(&m, w, h), expected);
        assert_eq!(edge_map(&[5; 12], 4, 3), vec![0; 12]);
    }

    #[test]
    fn out_of_range_class_is_named_with_its_position() {
        let cfg = ModelConfig { label_nc: 10, ..Default::default() };
        let label = [1u8, 2, 3, 12, 0, 0];
        let inst = [1u32, 2, 3, 12, 0, 0];
        let maps = Maps { width: 3, height: 2, label: &label, inst: Some(&inst) };
        let err = encode_input(maps, &cfg, None, Device::Cpu).unwrap_err();
        assert_eq!(err, EncodeError::ClassOutOfRange { id: 12, x: 0, y: 1, label_nc: 10 });
        assert!(err.to_string().contains("class id 12"));
    }

    #[test]
    fn one_hot_then_edges() {
        let cfg = ModelConfig { label_nc: 4, ..Default::default() };
        let label = [0u8, 3, 3, 1];
        let inst = [0u32, 3, 3, 1];
        let maps = Maps { width: 2, height: 2, label: &label, inst: Some(&inst) };
        let x = encode_input(maps, &cfg, None, Device::Cpu).unwrap();
        assert_eq!(x.size(), [1, 5, 2, 2]);
        let v: Vec<f32> = Vec::try_from(x.flatten(0, -1)).unwrap();
        #[rustfmt::skip]
        let expected = [
            1., 0., 0., 0.,  // class 0
            0., 0., 0., 1.,  // class 1
            0., 0., 0., 0.,  // class 2
            0., 1., 1., 0.,  // class 3
            1., 1., 1., 1.,  // edges
        ];
        assert_eq!(v, expected);
        let missing = Maps { inst: None, ..maps };
        assert_eq!(encode_input(missing, &cfg, None, Device::Cpu).unwrap_err(), EncodeError::MissingInstanceMap);
    }
}
