//! The networks of a training run (G, D, and E when features are on) and one optimisation step of pix2pixHD.
//!
//! The step follows the reference's `Pix2PixHDModel.forward` and `train.py`: G's input is the encoded label
//! (+ E's instance-pooled features of the real photo), D sees `[label | image]`; D's fake loss uses the detached
//! (optionally pooled) fake; G's loss is GAN + feature matching + λ·VGG (+ the project's optional λ_L1·L1 to the
//! photo, off by default); G (and E) step first, then D.

use super::adam::Adam;
use super::pool::ImagePool;
use crate::model::checkpoint::{self, CheckpointError};
use crate::model::discriminator::MultiscaleDiscriminator;
use crate::model::encoder::Encoder;
use crate::model::generator::Generator;
use crate::model::loss::{GanMode, feature_matching, gan_loss, vgg_loss};
use crate::model::vgg::Vgg19;
use crate::model::{ModelConfig, NetG};
use std::path::Path;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

/// One batch as the trainer needs it, all on the training device.
#[derive(Debug)]
pub struct StepInput {
    /// One-hot labels + boundary map: [B, semantic_nc (+1), H, W].
    pub input: Tensor,
    /// The ids E pools over: the instance map (`instance_feat`) or the label map (`label_feat`), [B, 1, H, W].
    pub pool_ids: Tensor,
    /// The real photo in [-1, 1], [B, 3, H, W].
    pub image: Tensor,
    /// `--encoder-whole-frame`: E runs on these whole frames instead of on `image`, and G gets the crop's part of
    /// the pooled features (objects cut by the crop keep the features of the whole object).
    pub whole: Option<WholeInput>,
}

/// The whole frames the crops of a `StepInput` were cut from.
#[derive(Debug)]
pub struct WholeInput {
    /// [B, 3, H', W'] in [-1, 1].
    pub image: Tensor,
    /// The ids E pools over, [B, 1, H', W'].
    pub pool_ids: Tensor,
    /// (x, y) of each item's crop in its frame.
    pub corners: Vec<(i64, i64)>,
    /// `--global-whole-frame`: G's input for the whole frames (one-hot labels + boundary map, no features),
    /// [B, C, H', W']: a local G's G1 runs on these and its enhancers on the crops.
    pub input: Option<Tensor>,
}

/// The loss values of one step, as the reference logs them.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Losses {
    #[serde(rename = "G_GAN")]
    pub g_gan: f64,
    #[serde(rename = "G_GAN_Feat")]
    pub g_gan_feat: f64,
    #[serde(rename = "G_VGG")]
    pub g_vgg: f64,
    /// The project's optional L1 term (`--lambda-l1`), weighted; 0 when off.
    #[serde(rename = "G_L1")]
    pub g_l1: f64,
    /// Spread of E's pooled features in this batch (standard deviation over pixels, mean over channels); 0 without
    /// E. Near 0 means E has collapsed (saturated tanh: every region gets the same features, styles do nothing).
    #[serde(rename = "E_std")]
    pub e_std: f64,
    #[serde(rename = "D_real")]
    pub d_real: f64,
    #[serde(rename = "D_fake")]
    pub d_fake: f64,
}

impl Losses {
    /// The first loss that is NaN or infinite, by its logged name.
    pub fn non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("G_GAN", self.g_gan),
            ("G_GAN_Feat", self.g_gan_feat),
            ("G_VGG", self.g_vgg),
            ("G_L1", self.g_l1),
            ("D_real", self.d_real),
            ("D_fake", self.d_fake),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }
}

/// Loss switches and weights of a run.
#[derive(Debug, Clone, Copy)]
pub struct LossOptions {
    pub lambda_feat: f64,
    pub gan_feat: bool,
    pub mode: GanMode,
    /// Weight of an L1 term between G's output and the real photo (0 = the reference's objective).
    pub lambda_l1: f64,
}

/// Which parts of G and E stay as they are during training (`Nets::g_params`); the default trains everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Freeze {
    /// The reference's `niter_fix_global` epochs: a local generator trains only its finest enhancer (and E).
    pub fix_global: bool,
    /// `--freeze-global`: a local generator trains all its enhancers but not G1 (the `model.` names).
    pub global: bool,
    /// `--freeze-encoder`: E does not train.
    pub encoder: bool,
}

/// The variables of `vs` that `train` accepts, by name and sorted, as `<net>.<name>`; every variable is marked as
/// needing a gradient or not accordingly.
fn trainable(vs: &nn::VarStore, net: &str, train: impl Fn(&str) -> bool) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, mut t) in vars {
        let on = train(&name);
        let _ = t.requires_grad_(on);
        if on {
            out.push((format!("{net}.{name}"), t));
        }
    }
    out
}

/// The windows of `frames` [B, C, H', W'] that the crops of `x` are, at `corners`.
fn crops_of(frames: &Tensor, x: &StepInput, corners: &[(i64, i64)]) -> Tensor {
    let (_, _, h, w) = x.image.size4().expect("images must be [B, C, H, W]");
    let crops: Vec<Tensor> = corners
        .iter()
        .enumerate()
        .map(|(i, &(x0, y0))| frames.get(i as i64).narrow(1, y0, h).narrow(2, x0, w))
        .collect();
    Tensor::stack(&crops, 0)
}

pub struct Nets {
    pub cfg: ModelConfig,
    pub vs_g: nn::VarStore,
    pub g: Generator,
    pub vs_d: nn::VarStore,
    pub d: MultiscaleDiscriminator,
    pub vs_e: Option<nn::VarStore>,
    pub e: Option<Encoder>,
}

impl Nets {
    /// Fresh networks with the reference initialisation, seeded.
    pub fn new(cfg: &ModelConfig, device: Device, seed: i64) -> Self {
        crate::model::with_seed(seed, || {
            let vs_g = nn::VarStore::new(device);
            let g = Generator::new(&vs_g.root(), cfg);
            let vs_d = nn::VarStore::new(device);
            let d = MultiscaleDiscriminator::from_config(&vs_d.root(), cfg);
            let (vs_e, e) = if cfg.use_features() {
                let vs = nn::VarStore::new(device);
                let e = Encoder::new(&vs.root(), cfg);
                (Some(vs), Some(e))
            } else {
                (None, None)
            };
            Self { cfg: cfg.clone(), vs_g, g, vs_d, d, vs_e, e }
        })
    }

    /// The features G gets for this batch: E's instance-pooled output on the real photo, or the crop's part of
    /// it on the whole frame (`StepInput::whole`).
    pub fn features(&self, x: &StepInput) -> Option<Tensor> {
        let e = self.e.as_ref()?;
        let Some(whole) = &x.whole else {
            return Some(e.forward(&x.image, &x.pool_ids));
        };
        Some(crops_of(&e.forward(&whole.image, &whole.pool_ids), x, &whole.corners))
    }

    /// G's output for this batch.
    pub fn generate(&self, x: &StepInput) -> Tensor {
        self.forward_g(x).0
    }

    /// G's output for this batch and the features it got (the crop's part, see `features`). With whole frames
    /// that carry G's input (`WholeInput::input`), a local G runs G1 on the whole frames and its enhancers on the
    /// crops (`LocalEnhancer::forward_crops`).
    pub fn forward_g(&self, x: &StepInput) -> (Tensor, Option<Tensor>) {
        if let (Some(whole), Generator::Local(g)) = (&x.whole, &self.g)
            && let Some(whole_input) = &whole.input
        {
            let whole_features = self.e.as_ref().map(|e| e.forward(&whole.image, &whole.pool_ids));
            let features = whole_features.as_ref().map(|f| crops_of(f, x, &whole.corners));
            let (frames, crops) = match (&whole_features, &features) {
                (Some(wf), Some(f)) => (Tensor::cat(&[whole_input, wf], 1), Tensor::cat(&[&x.input, f], 1)),
                _ => (whole_input.shallow_clone(), x.input.shallow_clone()),
            };
            return (g.forward_crops(&crops, &frames, &whole.corners), features);
        }
        let features = self.features(x);
        (self.generate_with(x, features.as_ref()), features)
    }

    /// G(input [+ the given features]).
    pub fn generate_with(&self, x: &StepInput, features: Option<&Tensor>) -> Tensor {
        match features {
            Some(f) => self.g.forward(&Tensor::cat(&[&x.input, f], 1)),
            None => self.g.forward(&x.input),
        }
    }

    /// Saves G, D and E as `<stem>_net_{G,D,E}.safetensors` in `dir`, each atomically.
    /// The first weight of G, D or E that is NaN or infinite, by its key.
    pub fn non_finite_weight(&self) -> Option<String> {
        let stores = [("G", Some(&self.vs_g)), ("D", Some(&self.vs_d)), ("E", self.vs_e.as_ref())];
        for (net, vs) in stores {
            let Some(vs) = vs else { continue };
            let mut vars: Vec<_> = vs.variables().into_iter().collect();
            vars.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, t) in vars {
                if t.isfinite().all().int64_value(&[]) == 0 {
                    return Some(format!("{net} {k}"));
                }
            }
        }
        None
    }

    pub fn save(&self, dir: &Path, stem: &str) -> Result<(), CheckpointError> {
        checkpoint::save_var_store(&self.vs_g, &dir.join(format!("{stem}_net_G.safetensors")))?;
        checkpoint::save_var_store(&self.vs_d, &dir.join(format!("{stem}_net_D.safetensors")))?;
        if let Some(vs) = &self.vs_e {
            checkpoint::save_var_store(vs, &dir.join(format!("{stem}_net_E.safetensors")))?;
        }
        Ok(())
    }

    /// Loads all three from `dir` (strict: every key must fit).
    pub fn load(&self, dir: &Path, stem: &str) -> Result<(), CheckpointError> {
        checkpoint::load_var_store(&self.vs_g, &dir.join(format!("{stem}_net_G.safetensors")), |_| false)?;
        checkpoint::load_var_store(&self.vs_d, &dir.join(format!("{stem}_net_D.safetensors")), |_| false)?;
        if let Some(vs) = &self.vs_e {
            checkpoint::load_var_store(vs, &dir.join(format!("{stem}_net_E.safetensors")), |_| false)?;
        }
        Ok(())
    }

    /// The parameters G's optimiser trains: all of G and E unless `freeze` says otherwise. Frozen tensors are
    /// also marked as needing no gradient, so that no backward pass is spent on them.
    pub fn g_params(&self, freeze: Freeze) -> Vec<(String, Tensor)> {
        let prefix = format!("model{}", self.cfg.n_local_enhancers);
        let local = self.cfg.net_g == NetG::Local;
        let mut out = trainable(&self.vs_g, "G", |name| {
            if !local {
                true
            } else if freeze.fix_global {
                name.starts_with(&prefix)
            } else {
                !(freeze.global && name.starts_with("model."))
            }
        });
        if let Some(vs) = &self.vs_e {
            out.extend(trainable(vs, "E", |_| !freeze.encoder));
        }
        out
    }

    pub fn d_params(&self) -> Vec<(String, Tensor)> {
        let mut vars: Vec<(String, Tensor)> = self.vs_d.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }
}

/// Dynamic loss scaling for fp16 mixed precision (as torch.cuda.amp.GradScaler: start at 2^16, halve and skip the
/// step on inf/NaN gradients, double after 2000 clean steps).
#[derive(Debug, Clone)]
pub struct LossScaler {
    pub scale: f64,
    clean_steps: u32,
}

impl Default for LossScaler {
    fn default() -> Self {
        Self { scale: 65536.0, clean_steps: 0 }
    }
}

impl LossScaler {
    /// Backward of `loss · scale`, then unscaled gradients; steps the optimiser only when they are all finite.
    fn backward_and_step(&mut self, loss: &Tensor, opt: &mut Adam) -> bool {
        (loss * self.scale).backward();
        let finite = opt.unscale_grads(1.0 / self.scale);
        if finite {
            opt.step();
        }
        finite
    }

    fn update(&mut self, finite: bool) {
        if finite {
            self.clean_steps += 1;
            if self.clean_steps >= 2000 {
                self.scale *= 2.0;
                self.clean_steps = 0;
            }
        } else {
            self.scale /= 2.0;
            self.clean_steps = 0;
        }
    }
}

/// One training iteration: forward, G (+E) update, D update. Returns the loss values. With a `scaler` (fp16
/// autocast) the losses are scaled for the backward passes and steps with overflowing gradients are skipped.
#[allow(clippy::too_many_arguments)]
pub fn train_step(
    nets: &Nets,
    vgg: Option<&Vgg19>,
    (opt_g, opt_d): (&mut Adam, &mut Adam),
    pool: &mut ImagePool,
    x: &StepInput,
    step: u64,
    lo: LossOptions,
    scaler: Option<&mut LossScaler>,
) -> Losses {
    let (fake, features) = nets.forward_g(x);
    let e_std = features.as_ref().map_or(0.0, |f| {
        tch::no_grad(|| {
            f.detach().to_kind(Kind::Float).flatten(2, 3).std_dim(2, false, false).mean(Kind::Float).double_value(&[])
        })
    });

    // D on the detached fake (through the history pool) and on the real image.
    let fake_in = pool.query(&Tensor::cat(&[&x.input, &fake.detach()], 1), step);
    let pred_fake_pool = nets.d.forward(&fake_in);
    let loss_d_fake = gan_loss(&pred_fake_pool, false, lo.mode);
    let pred_real = nets.d.forward(&Tensor::cat(&[&x.input, &x.image], 1));
    let loss_d_real = gan_loss(&pred_real, true, lo.mode);

    // G: fool D, match D's features on the real image, and VGG features.
    let pred_fake = nets.d.forward(&Tensor::cat(&[&x.input, &fake], 1));
    let loss_g_gan = gan_loss(&pred_fake, true, lo.mode);
    let zero = || Tensor::zeros([], (Kind::Float, fake.device()));
    let loss_g_feat = if lo.gan_feat { feature_matching(&pred_fake, &pred_real, lo.lambda_feat) } else { zero() };
    let loss_g_vgg = match vgg {
        Some(v) => vgg_loss(v, &fake, &x.image) * lo.lambda_feat,
        None => zero(),
    };
    let loss_g_l1 =
        if lo.lambda_l1 > 0.0 { fake.l1_loss(&x.image, tch::Reduction::Mean) * lo.lambda_l1 } else { zero() };
    let loss_g = &loss_g_gan + &loss_g_feat + &loss_g_vgg + &loss_g_l1;
    let loss_d = (&loss_d_fake + &loss_d_real) * 0.5;

    // G's backward also reaches D's parameters; the reference clears them before D's own backward.
    match scaler {
        None => {
            opt_g.zero_grad();
            loss_g.backward();
            opt_g.step();
            opt_d.zero_grad();
            loss_d.backward();
            opt_d.step();
        }
        Some(s) => {
            opt_g.zero_grad();
            let ok_g = s.backward_and_step(&loss_g, opt_g);
            opt_d.zero_grad();
            let ok_d = s.backward_and_step(&loss_d, opt_d);
            s.update(ok_g && ok_d);
        }
    }

    Losses {
        g_gan: loss_g_gan.double_value(&[]),
        g_gan_feat: loss_g_feat.double_value(&[]),
        g_vgg: loss_g_vgg.double_value(&[]),
        g_l1: loss_g_l1.double_value(&[]),
        e_std,
        d_real: loss_d_real.double_value(&[]),
        d_fake: loss_d_fake.double_value(&[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weight_or_a_loss_that_is_not_a_number_is_found_by_name() {
        let nets = Nets::new(&crate::model::tiny_local_config(4), Device::Cpu, 0);
        assert_eq!(nets.non_finite_weight(), None);
        let mut d = nets.vs_d.variables();
        let (key, t) = d.iter_mut().next().unwrap();
        let key = key.clone();
        let _ = tch::no_grad(|| t.get(0).fill_(f64::NAN));
        assert_eq!(nets.non_finite_weight(), Some(format!("D {key}")));
        let l = Losses { g_gan: 1.0, d_fake: f64::INFINITY, ..Losses::default() };
        assert_eq!(l.non_finite().map(|(n, _)| n), Some("D_fake"));
        assert_eq!(Losses::default().non_finite(), None);
    }

    #[test]
    fn a_fixed_global_generator_trains_only_the_finest_enhancer_and_e() {
        let cfg = crate::model::tiny_local_config(4);
        let nets = Nets::new(&cfg, Device::Cpu, 0);
        let fixed = nets.g_params(Freeze { fix_global: true, ..Freeze::default() });
        assert!(fixed.iter().all(|(n, _)| n.starts_with("G.model2_") || n.starts_with("E.")), "{fixed:?}");
        assert!(fixed.iter().any(|(n, _)| n.starts_with("E.model.")));
        let frozen = &nets.vs_g.variables()["model.1.weight"];
        assert!(!frozen.requires_grad(), "the global part gets no gradients while fixed");
        let all = nets.g_params(Freeze::default());
        assert!(
            all.iter().any(|(n, _)| n == "G.model.1.weight") && all.iter().any(|(n, _)| n.starts_with("G.model1_"))
        );
        assert!(nets.vs_g.variables()["model.1.weight"].requires_grad());
        assert_eq!(all.len(), nets.vs_g.variables().len() + nets.vs_e.as_ref().unwrap().variables().len());

        // --freeze-global: both enhancers and E train, G1 does not.
        let frozen = nets.g_params(Freeze { global: true, ..Freeze::default() });
        assert!(
            frozen.iter().any(|(n, _)| n.starts_with("G.model1_"))
                && frozen.iter().any(|(n, _)| n.starts_with("G.model2_"))
        );
        assert!(frozen.iter().any(|(n, _)| n.starts_with("E.")));
        assert!(!frozen.iter().any(|(n, _)| n.starts_with("G.model.")), "{frozen:?}");
        assert!(!nets.vs_g.variables()["model.1.weight"].requires_grad());
        assert!(nets.vs_g.variables()["model1_1.1.weight"].requires_grad());

        // --freeze-global --freeze-encoder: only the enhancers train.
        let only = nets.g_params(Freeze { global: true, encoder: true, ..Freeze::default() });
        assert!(only.iter().all(|(n, _)| n.starts_with("G.model1_") || n.starts_with("G.model2_")), "{only:?}");
        let e_vars = nets.vs_e.as_ref().unwrap().variables();
        assert!(e_vars.values().all(|t| !t.requires_grad()), "a frozen E gets no gradients");
        let all = nets.g_params(Freeze::default());
        assert!(all.iter().any(|(n, _)| n.starts_with("E.")));
        assert!(nets.vs_e.as_ref().unwrap().variables().values().all(Tensor::requires_grad));
    }

    #[test]
    fn with_whole_frames_g_gets_the_crops_part_of_the_features_of_the_whole_frame() {
        let cfg =
            ModelConfig { label_nc: 4, ngf: 4, instance_feat: true, nef: 4, n_downsample_e: 2, ..Default::default() };
        let nets = Nets::new(&cfg, Device::Cpu, 0);
        let frames = crate::model::with_seed(1, || Tensor::rand([2, 3, 16, 24], (Kind::Float, Device::Cpu)) * 2 - 1);
        // Two instances split at x = 12; the 8×8 crops cut both.
        let ids =
            Tensor::arange(24, (Kind::Int64, Device::Cpu)).ge(12).to_kind(Kind::Int64).expand([2, 1, 16, 24], true);
        let corners = [(6i64, 4i64), (10, 8)];
        let cut = |t: &Tensor, i: usize| t.get(i as i64).narrow(1, corners[i].1, 8).narrow(2, corners[i].0, 8);
        let crops = |t: &Tensor| Tensor::stack(&[cut(t, 0), cut(t, 1)], 0);
        let x = StepInput {
            input: Tensor::zeros([2, 5, 8, 8], (Kind::Float, Device::Cpu)),
            pool_ids: crops(&ids),
            image: crops(&frames),
            whole: None,
        };
        let on_crops = nets.features(&x).unwrap();
        let whole = WholeInput {
            image: frames.shallow_clone(),
            pool_ids: ids.shallow_clone(),
            corners: corners.to_vec(),
            input: None,
        };
        let x = StepInput { whole: Some(whole), ..x };
        let got = nets.features(&x).unwrap();
        let expected = crops(&nets.e.as_ref().unwrap().forward(&frames, &ids));
        assert_eq!(got.size(), [2, 3, 8, 8]);
        assert!(got.allclose(&expected, 1e-6, 1e-6, false));
        assert!(!got.allclose(&on_crops, 1e-3, 1e-3, false), "E on the crops sees other pixels and other norms");
    }

    #[test]
    fn with_whole_inputs_a_local_g_runs_g1_on_the_frames_and_the_enhancers_on_the_crops() {
        let cfg = ModelConfig { no_instance: true, ..crate::model::tiny_local_config(2) };
        let nets = Nets::new(&cfg, Device::Cpu, 0);
        let (frames, labels) = crate::model::with_seed(1, || {
            let f = Tensor::rand([1, 3, 64, 128], (Kind::Float, Device::Cpu)) * 2 - 1;
            (f, Tensor::rand([1, 4, 64, 128], (Kind::Float, Device::Cpu)))
        });
        let ids =
            Tensor::arange(128, (Kind::Int64, Device::Cpu)).ge(60).to_kind(Kind::Int64).expand([1, 1, 64, 128], true);
        let (x0, y0) = (48i64, 16i64);
        let cut = |t: &Tensor| t.narrow(2, y0, 32).narrow(3, x0, 32);
        let whole = |input: Option<Tensor>| WholeInput {
            image: frames.shallow_clone(),
            pool_ids: ids.shallow_clone(),
            corners: vec![(x0, y0)],
            input,
        };
        let x = StepInput {
            input: cut(&labels),
            pool_ids: cut(&ids),
            image: cut(&frames),
            whole: Some(whole(Some(labels.shallow_clone()))),
        };
        let (fake, features) = nets.forward_g(&x);
        let f_whole = nets.e.as_ref().unwrap().forward(&frames, &ids);
        let Generator::Local(g) = &nets.g else { unreachable!() };
        let expected = g.forward_crops(
            &Tensor::cat(&[cut(&labels), cut(&f_whole)], 1),
            &Tensor::cat(&[&labels, &f_whole], 1),
            &[(x0, y0)],
        );
        assert!(fake.allclose(&expected, 1e-6, 1e-6, false));
        assert!(features.unwrap().allclose(&cut(&f_whole), 1e-6, 1e-6, false));
        // Without the frames' input (E on whole frames only), G runs on the crop alone: another picture.
        let crop_only = StepInput { whole: Some(whole(None)), ..x };
        assert!(!nets.forward_g(&crop_only).0.allclose(&fake, 1e-3, 1e-3, false));
    }
}
