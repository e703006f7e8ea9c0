//! pix2pixHD's training losses: the GAN loss (least squares or BCE) over all D scales, discriminator feature
//! matching, and the VGG perceptual loss, with the reference weightings (Wang et al. 2018, §3.2, Eq. 4).

use super::vgg::Vgg19;
use tch::{Reduction, Tensor};

/// Which adversarial objective (`--no_lsgan` picks BCE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GanMode {
    Lsgan,
    Bce,
}

/// GAN loss of a multiscale D result: the last output of each scale against an all-1 (real) or all-0 target,
/// mean-reduced per scale and summed over scales. BCE works on the raw scores (see `discriminator`).
pub fn gan_loss(preds: &[Vec<Tensor>], target_is_real: bool, mode: GanMode) -> Tensor {
    let target_value = if target_is_real { 1.0 } else { 0.0 };
    let mut total: Option<Tensor> = None;
    for scale in preds {
        let pred = scale.last().expect("every D scale returns at least its score");
        let target = pred.full_like(target_value);
        let l = match mode {
            GanMode::Lsgan => pred.mse_loss(&target, Reduction::Mean),
            GanMode::Bce => {
                pred.binary_cross_entropy_with_logits(&target, None::<Tensor>, None::<Tensor>, Reduction::Mean)
            }
        };
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
    }
    total.expect("a multiscale D has at least one scale")
}

/// Feature matching: the L1 distance between D's intermediate features on the fake and (detached) real inputs,
/// every block but the score, weighted 1/num_D · 4/(n_layers_D + 1) · lambda_feat.
pub fn feature_matching(fake: &[Vec<Tensor>], real: &[Vec<Tensor>], lambda_feat: f64) -> Tensor {
    let num_d = fake.len() as f64;
    let mut total: Option<Tensor> = None;
    for (f, r) in fake.iter().zip(real) {
        // Each scale returns n_layers_D + 2 outputs.
        let feat_w = 4.0 / (f.len() as f64 - 1.0);
        for (ff, rr) in f.iter().zip(r).take(f.len() - 1) {
            let l = ff.l1_loss(&rr.detach(), Reduction::Mean) * (feat_w / num_d * lambda_feat);
            total = Some(match total {
                Some(t) => t + l,
                None => l,
            });
        }
    }
    total.expect("feature matching needs intermediate D features")
}

/// The reference layer weights of the VGG loss, relu1_1 .. relu5_1.
pub const VGG_WEIGHTS: [f64; 5] = [1.0 / 32.0, 1.0 / 16.0, 1.0 / 8.0, 1.0 / 4.0, 1.0];

/// Σ_k w_k · L1(vgg_k(x), vgg_k(y).detach()). The trainer multiplies it by lambda_feat, as the reference does.
pub fn vgg_loss(vgg: &Vgg19, x: &Tensor, y: &Tensor) -> Tensor {
    let fx = vgg.slices(x);
    let fy = vgg.slices(y);
    let mut total: Option<Tensor> = None;
    for ((a, b), w) in fx.iter().zip(&fy).zip(VGG_WEIGHTS) {
        let l = a.l1_loss(&b.detach(), Reduction::Mean) * w;
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
    }
    total.expect("VGG19 has five taps")
}
