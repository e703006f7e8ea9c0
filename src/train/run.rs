//! The whole pix2pixHD training procedure (`pix2pixhd train`), with the reference's options and schedule.
//!
//! A run folder (`<checkpoints-dir>/<name>`) gets, before the first step, `config.json` (the model) and
//! `train_options.json` (everything else). Checkpoints — G, D, E, the optimisers' state, the image pool and the
//! position (epoch, iteration) — are written atomically every `--save-latest-freq` iterations, at each epoch's end
//! and on Ctrl-C; `--continue-train` resumes from them exactly. `loss_log.jsonl` and `web/index.html` show progress.
//! The folder is a model folder too: `render` and the editor read its `config.json` and `latest_net_G.safetensors`.
//!
//! Schedule (Wang et al. 2018 §3.2, the reference's train.py): `niter` epochs at `lr`, then `niter_decay` epochs
//! decaying linearly to 0. Coarse to fine: train `--net-g global` at the lower resolution, then `--net-g local
//! --load-pretrain <global run>`; with `--niter-fix-global N` only the finest enhancer trains for N epochs, then
//! everything does, with a fresh Adam.

use super::adam::Adam;
use super::nets::{Freeze, LossOptions, LossScaler, Losses, Nets, StepInput, WholeInput, train_step};
use super::pool::ImagePool;
use super::report::{self, LogLine};
use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::data::loader::Loader;
use crate::data::transform::TransformOpts;
use crate::model::checkpoint;
use crate::model::loss::GanMode;
use crate::model::precision::{Precision, autocast};
use crate::model::runtime::CONFIG_FILE;
use crate::model::vgg::Vgg19;
use crate::model::{ModelConfig, NetG};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::{Device, Tensor};

pub const OPTIONS_FILE: &str = "train_options.json";
pub const STATE_FILE: &str = "latest_state.json";
pub const OPTIM_FILE: &str = "latest_optim.safetensors";
/// Below this spread of E's pooled features (`E_std`) the trainer warns that E may have collapsed.
pub const E_COLLAPSED: f64 = 0.01;

/// The options of a run that are not the model's, as `train_options.json` records them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    pub dataroot: PathBuf,
    pub layout: Layout,
    pub phase: String,
    pub transform: TransformOpts,
    pub serial_batches: bool,
    pub batch_size: usize,
    pub max_dataset_size: Option<usize>,
    pub niter: usize,
    pub niter_decay: usize,
    pub lr: f64,
    pub beta1: f64,
    pub lambda_feat: f64,
    #[serde(default)]
    pub lambda_l1: f64,
    pub no_vgg_loss: bool,
    pub vgg_weights: Option<PathBuf>,
    pub pool_size: usize,
    pub niter_fix_global: usize,
    /// Older runs wrote one folder or null here.
    #[serde(deserialize_with = "one_or_many")]
    pub load_pretrain: Vec<PathBuf>,
    #[serde(default)]
    pub fresh_encoder: bool,
    #[serde(default)]
    pub freeze_global: bool,
    #[serde(default)]
    pub freeze_encoder: bool,
    #[serde(default)]
    pub encoder_whole_frame: bool,
    #[serde(default)]
    pub global_whole_frame: bool,
    pub display_freq: u64,
    pub print_freq: u64,
    pub save_latest_freq: u64,
    pub save_epoch_freq: usize,
    pub seed: u64,
    /// Mixed precision: fp32 (none), or autocast in fp16 (with dynamic loss scaling) or bf16, on CUDA.
    pub amp: Precision,
}

impl TrainOptions {
    /// Refuses values no run can use, naming the option: a learning rate that is negative or not a number (NaN
    /// trains to NaN weights), betas outside [0, 1), negative or non-finite loss weights, empty batches or sizes.
    pub fn validate(&self) -> Result<()> {
        // 0 is allowed: nothing trains, which checks a set-up (or freezes a run) without changing it.
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            bail!("--lr {}: expected a number of 0 or more", self.lr);
        }
        if !(self.beta1.is_finite() && (0.0..1.0).contains(&self.beta1)) {
            bail!("--beta1 {}: expected a number from 0 up to (not including) 1", self.beta1);
        }
        for (name, v) in [("--lambda-feat", self.lambda_feat), ("--lambda-l1", self.lambda_l1)] {
            if !(v.is_finite() && v >= 0.0) {
                bail!("{name} {v}: expected a number of 0 or more");
            }
        }
        let t = &self.transform;
        for (name, v) in [("--batch-size", self.batch_size), ("--load-size", t.load_size), ("--fine-size", t.fine_size)]
        {
            if v == 0 {
                bail!("{name} 0: expected at least 1");
            }
        }
        if self.niter + self.niter_decay == 0 {
            bail!("--niter 0 and --niter-decay 0: the run would train no epoch");
        }
        if self.max_dataset_size == Some(0) {
            bail!("--max-dataset-size 0: the run would see no scene");
        }
        Ok(())
    }
}

/// Where a run stands; `latest_state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// The epoch in progress (1-based).
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub epoch_iter: usize,
    /// Iterations done in the whole run.
    pub total_steps: u64,
    pub lr: f64,
    /// Whether the global generator is still fixed (`niter_fix_global`).
    pub fix_global: bool,
}

/// `load_pretrain` as older `train_options.json` files have it (null or one path) or as a list.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(p)) => vec![p],
        Some(OneOrMany::Many(v)) => v,
    })
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v)? + "\n";
    crate::fs::write_bytes(path, text.as_bytes())?;
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = crate::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The learning rate of `epoch` (1-based) under the reference's linear decay, which subtracts lr0/niter_decay at
/// the end of every epoch after `niter`.
pub fn lr_for_epoch(o: &TrainOptions, epoch: usize) -> f64 {
    if o.niter_decay == 0 || epoch <= o.niter + 1 {
        return o.lr;
    }
    (o.lr * (1.0 - (epoch - o.niter - 1) as f64 / o.niter_decay as f64)).max(0.0)
}

/// Copies into `vs` every tensor of `file` whose name and shape match; the rest stays as initialised.
fn load_pretrained(vs: &tch::nn::VarStore, file: &Path) -> Result<(usize, usize)> {
    let tensors: HashMap<String, Tensor> = checkpoint::read_tensors(file)?.into_iter().collect();
    let mut vars = vs.variables();
    let total = vars.len();
    let mut copied = 0;
    tch::no_grad(|| {
        for (k, v) in vars.iter_mut() {
            if let Some(t) = tensors.get(k)
                && t.size() == v.size()
            {
                v.copy_(&t.to_device(v.device()).to_kind(v.kind()));
                copied += 1;
            }
        }
    });
    Ok((copied, total))
}

struct Run {
    dir: PathBuf,
    cfg: ModelConfig,
    opts: TrainOptions,
    state: TrainState,
    nets: Nets,
    vgg: Option<Vgg19>,
    opt_g: Adam,
    opt_d: Adam,
    pool: ImagePool,
    device: Device,
}

impl Run {
    /// Refuses to save weights that are no longer numbers: the last good checkpoint stays as it was.
    fn check_weights(&self) -> Result<()> {
        if let Some(key) = self.nets.non_finite_weight() {
            bail!(
                "step {}: weight {key} is no longer a finite number (the learning rate may be too high); stopped \
                 without saving, so the last checkpoint in {} is kept",
                self.state.total_steps,
                self.dir.display()
            );
        }
        Ok(())
    }

    fn save_latest(&self) -> Result<()> {
        self.check_weights()?;
        self.nets.save(&self.dir, "latest")?;
        let mut tensors = self.opt_g.state("optG.");
        tensors.extend(self.opt_d.state("optD."));
        tensors.extend(self.pool.state());
        let tensors: Vec<(String, Tensor)> =
            tensors.into_iter().map(|(k, t)| (k, t.detach().to_device(Device::Cpu).contiguous())).collect();
        let path = self.dir.join(OPTIM_FILE);
        checkpoint::write_tensors(&path, &tensors)?;
        // Written last: it names the position the files above belong to.
        write_json(&self.dir.join(STATE_FILE), &self.state)
    }

    fn new_opt_g(&self) -> Adam {
        let freeze = Freeze {
            fix_global: self.state.fix_global,
            global: self.opts.freeze_global,
            encoder: self.opts.freeze_encoder,
        };
        Adam::new(self.nets.g_params(freeze), self.state.lr, self.opts.beta1)
    }
}

/// The ids E pools over: the class map with label_feat, else the instance map (the class map without one).
fn pool_ids<'a>(label: &'a Tensor, inst: Option<&'a Tensor>, cfg: &ModelConfig) -> &'a Tensor {
    if cfg.label_feat { label } else { inst.unwrap_or(label) }
}

fn photos(image: Option<&Tensor>, device: Device) -> Result<Tensor> {
    Ok(image.context("training needs photos, and this batch has none")?.to_device(device))
}

fn to_step_input(b: &crate::data::loader::Batch, cfg: &ModelConfig, device: Device) -> Result<StepInput> {
    let whole = match &b.whole {
        Some(w) if cfg.use_features() || w.input.is_some() => Some(WholeInput {
            image: photos(w.image.as_ref(), device)?,
            pool_ids: pool_ids(&w.label, w.inst.as_ref(), cfg).to_device(device),
            corners: w.corners.iter().map(|&(x, y)| (x as i64, y as i64)).collect(),
            input: w.input.as_ref().map(|t| t.to_device(device)),
        }),
        _ => None,
    };
    Ok(StepInput {
        input: b.input.to_device(device),
        pool_ids: pool_ids(&b.label, b.inst.as_ref(), cfg).to_device(device),
        image: photos(b.image.as_ref(), device)?,
        whole,
    })
}

/// How a training run starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new run in an empty (or missing) folder, with this model and these options.
    New { cfg: ModelConfig, opts: Box<TrainOptions> },
    /// The run in the folder, from its latest checkpoint, with its saved configuration and options. A data set
    /// named here that is not the run's own is named as ignored.
    Resume { dataroot: Option<PathBuf> },
}

/// A training run to do: where, how it starts, and how it runs on this machine.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The run folder (`<checkpoints-dir>/<name>`).
    pub dir: PathBuf,
    pub start: Start,
    pub device: Device,
    /// Data-loading threads.
    pub n_threads: usize,
    /// Stop after this many iterations in total (the schedule is unchanged).
    pub max_steps: Option<u64>,
    /// No progress bar.
    pub quiet: bool,
}

/// Whether `dir` holds a training run that `--continue-train` can resume.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join(STATE_FILE).is_file()
}

/// Trains as `spec` says, saving checkpoints as it goes; returns when the schedule or `max_steps` is done, or on
/// Ctrl-C (after saving).
pub fn train(spec: &RunSpec) -> Result<()> {
    let (dir, device) = (spec.dir.clone(), spec.device);
    let resuming = matches!(spec.start, Start::Resume { .. });
    let (cfg, opts) = match &spec.start {
        Start::Resume { dataroot } => {
            let cfg = ModelConfig::load(&dir.join(CONFIG_FILE))?;
            let opts: TrainOptions = read_json(&dir.join(OPTIONS_FILE))?;
            eprintln!("resuming {} with its saved configuration and options", dir.display());
            if let Some(d) = dataroot.as_ref().filter(|d| **d != opts.dataroot) {
                eprintln!(
                    "warning: --dataroot {} ignored: the run goes on with the data set it was started on, {}",
                    d.display(),
                    opts.dataroot.display()
                );
            }
            (cfg, opts)
        }
        Start::New { cfg, opts } => {
            if has_checkpoint(&dir) {
                bail!(
                    "run folder {} already holds a training run; pass --continue-train to resume it, or choose another \
                     --name",
                    dir.display()
                );
            }
            cfg.validate()?;
            opts.validate()?;
            for pre in &opts.load_pretrain {
                if !pre.is_dir() {
                    bail!("--load-pretrain {}: no such run folder", pre.display());
                }
            }
            (cfg.clone(), TrainOptions::clone(opts))
        }
    };
    if opts.freeze_global && (cfg.net_g != NetG::Local || opts.load_pretrain.is_empty()) {
        bail!("--freeze-global needs --net-g local and a --load-pretrain run to take G1 and E from");
    }
    if opts.freeze_encoder && (!cfg.use_features() || opts.load_pretrain.is_empty() || opts.fresh_encoder) {
        bail!("--freeze-encoder needs --instance-feat (or --label-feat) and a --load-pretrain run to take E from");
    }
    if opts.encoder_whole_frame && (!cfg.use_features() || !opts.transform.resize_or_crop.crops()) {
        bail!(
            "--encoder-whole-frame needs --instance-feat (or --label-feat) and a cropping --resize-or-crop (crop, \
             scale_width_and_crop or resize_and_crop); got {:?}",
            opts.transform.resize_or_crop
        );
    }
    if opts.global_whole_frame && (cfg.net_g != NetG::Local || !opts.transform.resize_or_crop.crops()) {
        bail!(
            "--global-whole-frame needs --net-g local and a cropping --resize-or-crop (crop, scale_width_and_crop or \
             resize_and_crop); got --net-g {:?} and {:?}",
            cfg.net_g,
            opts.transform.resize_or_crop
        );
    }
    if opts.amp != Precision::Fp32 && !matches!(device, Device::Cuda(_)) {
        bail!("--amp {} needs a CUDA device", opts.amp.name());
    }
    let vgg = if opts.no_vgg_loss {
        None
    } else {
        let Some(path) = &opts.vgg_weights else {
            bail!(
                "the VGG loss needs torchvision's VGG19 weights: pass --vgg-weights FILE (vgg19-dcbb9e9d.pth, \
                 converted with scripts/convert_legacy_pth.py if it is a legacy file), or --no-vgg-loss"
            );
        };
        Some(Vgg19::load(path, device)?)
    };

    let dataset = Dataset::open(
        &opts.dataroot,
        &opts.phase,
        opts.layout,
        DatasetOpts { max_dataset_size: opts.max_dataset_size, ..DatasetOpts::for_model(&cfg) },
    )?;
    let loader = Loader::new(
        Arc::new(dataset),
        opts.transform.clone(),
        opts.batch_size,
        !opts.serial_batches,
        opts.seed,
        spec.n_threads,
        4,
    )?
    .with_whole_frames(opts.encoder_whole_frame)
    .with_whole_inputs(opts.global_whole_frame.then_some(1 << cfg.n_local_enhancers));
    let batches = loader.len();

    let made_dir = !dir.exists();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create run folder {}", dir.display()))?;
    let result = start_and_train(dir.clone(), cfg, opts, vgg, &loader, batches, resuming, spec);
    // A new run that failed before its first checkpoint leaves nothing behind: the folder holds only what this run
    // wrote into it (its configuration, a log, samples), which is of no use without weights.
    if result.is_err() && made_dir && !has_checkpoint(&dir) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn start_and_train(
    dir: PathBuf,
    cfg: ModelConfig,
    opts: TrainOptions,
    vgg: Option<Vgg19>,
    loader: &Loader,
    batches: usize,
    resuming: bool,
    spec: &RunSpec,
) -> Result<()> {
    let device = spec.device;
    // G's weights, their gradients and Adam's two moments; D and E come on top, and LibTorch's own error says so.
    let g_bytes = 4.0 * crate::model::memory::generator_bytes(&cfg);
    crate::model::memory::check_fits(|| format!("training a generator with ngf {}", cfg.ngf), g_bytes, device)?;
    let nets = crate::model::memory::guard(|| Nets::new(&cfg, device, opts.seed as i64))
        .map_err(|e| anyhow::anyhow!("cannot build the networks: {e}"))?;
    let state = if resuming {
        read_json(&dir.join(STATE_FILE))?
    } else {
        TrainState { epoch: 1, epoch_iter: 0, total_steps: 0, lr: opts.lr, fix_global: opts.niter_fix_global > 0 }
    };
    let mut run = Run {
        opt_g: Adam::new(Vec::new(), 0.0, 0.5),
        opt_d: Adam::new(nets.d_params(), state.lr, opts.beta1),
        pool: ImagePool::new(opts.pool_size, opts.seed),
        dir,
        cfg,
        opts,
        state,
        nets,
        vgg,
        device,
    };
    if resuming {
        run.nets.load(&run.dir, "latest")?;
        run.opt_g = run.new_opt_g();
        let saved: HashMap<String, Tensor> = checkpoint::read_tensors(&run.dir.join(OPTIM_FILE))?.into_iter().collect();
        run.opt_g.load_state("optG.", &saved).map_err(anyhow::Error::msg)?;
        run.opt_d.load_state("optD.", &saved).map_err(anyhow::Error::msg)?;
        run.pool.load_state(&saved);
    } else {
        for pre in &run.opts.load_pretrain {
            let e = if run.opts.fresh_encoder { None } else { run.nets.vs_e.as_ref() };
            for (which, vs) in [("G", Some(&run.nets.vs_g)), ("D", Some(&run.nets.vs_d)), ("E", e)] {
                let (Some(vs), Some(file)) = (vs, checkpoint::find_weights(pre, which)) else { continue };
                let (copied, total) = load_pretrained(vs, &file)?;
                eprintln!("{which}: {copied} of {total} tensors taken from {}", file.display());
            }
        }
        run.opt_g = run.new_opt_g();
        write_json(&run.dir.join(CONFIG_FILE), &run.cfg)?;
        write_json(&run.dir.join(OPTIONS_FILE), &run.opts)?;
    }
    train_loop(&mut run, loader, batches, spec)
}

fn train_loop(run: &mut Run, loader: &Loader, batches: usize, spec: &RunSpec) -> Result<()> {
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        // A second handler cannot be installed in one process (tests run several trainings): ignore that error.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let o = run.opts.clone();
    let epochs = o.niter + o.niter_decay;
    let total = (epochs * batches) as u64;
    let bar = if spec.quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} it [{elapsed_precise}<{eta_precise}, {per_sec}] {msg}")
            .expect("valid template"),
    );
    bar.set_position(run.state.total_steps);
    let lo = LossOptions {
        lambda_feat: o.lambda_feat,
        gan_feat: !run.cfg.no_gan_feat_loss,
        mode: if run.cfg.no_lsgan { GanMode::Bce } else { GanMode::Lsgan },
        lambda_l1: o.lambda_l1,
    };
    // fp16 needs loss scaling (its range is small); bf16 has float32's range and needs none.
    let mut scaler = (o.amp == Precision::Fp16).then(LossScaler::default);
    let mut warned_collapse = false;
    let mut since_print = Instant::now();
    let mut steps_since_print = 0u64;
    while run.state.epoch <= epochs {
        let epoch = run.state.epoch;
        let iter = loader.epoch_from(epoch as u64, run.state.epoch_iter)?;
        for batch in iter {
            let batch = batch?;
            let x = to_step_input(&batch, &run.cfg, run.device)?;
            let step = run.state.total_steps;
            let scaler = scaler.as_mut();
            // A failure inside LibTorch (out of memory on the GPU) ends the run with its reason, saving nothing.
            let losses: Losses = crate::model::memory::guard(|| {
                autocast(run.device, o.amp, || {
                    train_step(
                        &run.nets,
                        run.vgg.as_ref(),
                        (&mut run.opt_g, &mut run.opt_d),
                        &mut run.pool,
                        &x,
                        step,
                        lo,
                        scaler,
                    )
                })
            })
            .map_err(|e| {
                bar.abandon();
                anyhow::anyhow!("step {}: {e}; the last checkpoint in {} is kept", step + 1, run.dir.display())
            })?;
            // fp16 steps may overflow on purpose (the loss scaler then skips them); the weights are checked at saves.
            if o.amp != Precision::Fp16
                && let Some((name, v)) = losses.non_finite()
            {
                bar.abandon();
                bail!(
                    "step {}: loss {name} is {v} (the learning rate may be too high, or the data holds bad values); \
                     stopped without saving, so the last checkpoint in {} is kept",
                    step + 1,
                    run.dir.display()
                );
            }
            run.state.total_steps += 1;
            run.state.epoch_iter += 1;
            steps_since_print += 1;
            bar.inc(1);
            bar.set_message(format!(
                "ep {epoch}/{epochs} G_GAN {:.3} Feat {:.3} VGG {:.3} L1 {:.3} D_real {:.3} D_fake {:.3} E_std {:.3}",
                losses.g_gan, losses.g_gan_feat, losses.g_vgg, losses.g_l1, losses.d_real, losses.d_fake, losses.e_std
            ));
            let s = run.state.total_steps;
            if s.is_multiple_of(o.print_freq) {
                let line = LogLine {
                    epoch,
                    epoch_iter: run.state.epoch_iter,
                    step: s,
                    losses,
                    lr: run.state.lr,
                    sec_per_iter: since_print.elapsed().as_secs_f64() / steps_since_print as f64,
                };
                report::append_log(&run.dir, &line)?;
                if run.nets.e.is_some() && losses.e_std < E_COLLAPSED && !warned_collapse {
                    warned_collapse = true;
                    bar.suspend(|| {
                        eprintln!(
                            "warning: step {s}: the encoder's features hardly vary (E_std {:.4}): E may have collapsed \
                             (saturated), and then styles do nothing. --lambda-l1 helps; a run started with \
                             --load-pretrain <this run> --fresh-encoder gets a new E",
                            losses.e_std
                        )
                    });
                }
                since_print = Instant::now();
                steps_since_print = 0;
            }
            if s.is_multiple_of(o.display_freq) {
                let fake = tch::no_grad(|| run.nets.generate(&x));
                report::write_sample(&run.dir, epoch, s, &batch.label, &fake, &x.image).map_err(anyhow::Error::msg)?;
            }
            let stop = interrupted.load(Ordering::SeqCst) || spec.max_steps.is_some_and(|m| s >= m);
            if s.is_multiple_of(o.save_latest_freq) || stop {
                run.save_latest()?;
            }
            if stop {
                bar.abandon();
                if interrupted.load(Ordering::SeqCst) {
                    eprintln!("interrupted: saved the latest checkpoint in {}", run.dir.display());
                }
                return Ok(());
            }
        }
        // End of epoch, in the reference's order: numbered copies, unfix the global G, decay the lr.
        if epoch.is_multiple_of(o.save_epoch_freq) {
            run.check_weights()?;
            run.nets.save(&run.dir, &epoch.to_string())?;
        }
        run.state.epoch += 1;
        run.state.epoch_iter = 0;
        if o.niter_fix_global != 0 && epoch == o.niter_fix_global && run.state.fix_global {
            // The reference starts a fresh Adam over all of G (+E) at the initial learning rate.
            run.state.fix_global = false;
            run.state.lr = o.lr;
            run.opt_g = run.new_opt_g();
        }
        if epoch > o.niter {
            run.state.lr = lr_for_epoch(&o, epoch + 1);
            run.opt_g.lr = run.state.lr;
            run.opt_d.lr = run.state.lr;
        }
        run.save_latest()?;
    }
    bar.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Opts {
        #[serde(deserialize_with = "one_or_many")]
        load_pretrain: Vec<PathBuf>,
    }

    #[test]
    fn load_pretrain_reads_the_older_single_form_and_the_list() {
        let read = |s: &str| serde_json::from_str::<Opts>(s).unwrap().load_pretrain;
        assert!(read(r#"{"load_pretrain": null}"#).is_empty());
        assert_eq!(read(r#"{"load_pretrain": "ckpt/global"}"#), vec![PathBuf::from("ckpt/global")]);
        assert_eq!(read(r#"{"load_pretrain": ["a", "b"]}"#), vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert!(serde_json::from_str::<Opts>(r#"{"load_pretrain": 3}"#).is_err());
    }
}
