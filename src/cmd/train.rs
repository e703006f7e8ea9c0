//! `pix2pixhd train`: every option of the reference's train.py in kebab-case, plus the project's own, turned into
//! a model configuration and the run's `TrainOptions`.

use super::args::ConfigArgs;
use crate::data::dataset::Layout;
use crate::data::transform::{Mode, TransformOpts};
use crate::model::ModelConfig;
use crate::model::runtime::{Precision, pick_device};
use crate::train::run::{RunSpec, STATE_FILE, Start, TrainOptions, has_checkpoint, train};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Every option of the reference's training (kebab-case), plus the project's own (`--seed`, `--device`, ...).
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    // --- data ---
    /// The data set: pix2pixHD folders (<phase>_label, _inst, _img) or Cityscapes' own layout (gtFine, leftImg8bit).
    /// Not needed with --continue-train: a resumed run reads the data set it was started on.
    #[arg(long, value_name = "DIR", required_unless_present = "continue_train")]
    pub dataroot: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Layout::Auto)]
    pub layout: Layout,
    /// Which split to train on (train_* folders, or Cityscapes' train split).
    #[arg(long, default_value = "train")]
    pub phase: String,
    /// How maps and photos are resized and cropped: scale_width, scale_width_and_crop, resize_and_crop, crop, none.
    #[arg(long, value_enum, default_value_t = Mode::ScaleWidth)]
    pub resize_or_crop: Mode,
    /// Width (or side) maps are scaled to.
    #[arg(long, default_value_t = 1024)]
    pub load_size: usize,
    /// Side of the random square crop.
    #[arg(long, default_value_t = 512)]
    pub fine_size: usize,
    #[arg(long)]
    pub no_flip: bool,
    /// Take batches in name order instead of a new random order each epoch.
    #[arg(long)]
    pub serial_batches: bool,
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Use at most this many samples.
    #[arg(long)]
    pub max_dataset_size: Option<usize>,
    /// Data-loading threads.
    #[arg(long, default_value_t = 2)]
    pub n_threads: usize,

    // --- model ---
    #[command(flatten)]
    pub model: ConfigArgs,

    // --- objective and schedule ---
    /// Epochs at the initial learning rate.
    #[arg(long, default_value_t = 100)]
    pub niter: usize,
    /// Epochs of linear decay to zero after that.
    #[arg(long, default_value_t = 100)]
    pub niter_decay: usize,
    #[arg(long, default_value_t = 0.0002)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.5)]
    pub beta1: f64,
    /// Weight of the feature-matching and VGG losses.
    #[arg(long, default_value_t = 10.0)]
    pub lambda_feat: f64,
    /// Not in the reference: weight of an extra L1 loss between G's output and the real photo (0 = off). A paired
    /// reconstruction term that takes the VGG loss's role where no VGG19 weights are at hand; it makes G follow E's
    /// features (the styles) much sooner. The bundled model was trained with 50.
    #[arg(long, default_value_t = 0.0)]
    pub lambda_l1: f64,
    /// Train without the VGG perceptual loss (otherwise it needs --vgg-weights).
    #[arg(long)]
    pub no_vgg_loss: bool,
    /// torchvision's VGG19 weights (a state dict, zip-format .pth or .safetensors) for the VGG loss.
    #[arg(long, value_name = "FILE")]
    pub vgg_weights: Option<PathBuf>,
    /// Size of the history of generated images D sees (0 = none).
    #[arg(long, default_value_t = 0)]
    pub pool_size: usize,
    /// Epochs during which a local generator trains only its finest enhancer (the global part stays fixed).
    #[arg(long, default_value_t = 0)]
    pub niter_fix_global: usize,
    /// A run folder whose weights (G, D, E) fill this model where names and shapes match (a global run for a local
    /// model). Repeatable: later folders overwrite what earlier ones filled.
    #[arg(long, value_name = "DIR")]
    pub load_pretrain: Vec<PathBuf>,
    /// Take G and D from the --load-pretrain folders but start the encoder E from its initialisation (for an E
    /// whose features have collapsed: `E_std` near 0 in the loss log).
    #[arg(long)]
    pub fresh_encoder: bool,
    /// Not in the reference: for the whole run, a local generator trains its enhancers and the encoder E, while G1
    /// stays as --load-pretrain gave it. For putting enhancers on top of a global generator that was trained well at
    /// a lower resolution (with 2 enhancers, G1 runs at a quarter of the output size); E keeps training so that its
    /// features, now computed on the full-size photo, keep meaning what G1 learnt.
    #[arg(long)]
    pub freeze_global: bool,
    /// Not in the reference: the encoder E stays as --load-pretrain gave it for the whole run (G still gets its
    /// features). With --freeze-global and --encoder-downsample, enhancers learn on top of a G1 and an E that keep
    /// exactly what they learnt at a lower resolution, so the styles (clusters of E's features) keep their colours.
    #[arg(long)]
    pub freeze_encoder: bool,
    /// Not in the reference: with a cropping --resize-or-crop, E sees the whole frame each crop was cut from
    /// (resized and flipped like the crop), and G gets the crop's part of its per-instance features: objects cut by
    /// the crop keep the features of the whole object, and E's instance norm sees a whole frame, as at render time
    /// (E, clusters and the editor always look at whole frames). For enhancers trained on crops over an E that
    /// learnt on whole frames (--freeze-encoder). Crops reaching past a map's border fall back to E on the crop.
    #[arg(long)]
    pub encoder_whole_frame: bool,
    /// Not in the reference: with --net-g local and a cropping --resize-or-crop, G computes each crop as it does
    /// the whole frame the crop was cut from, at render time: G1 runs on the whole frame and the enhancers on the
    /// crop, taking the crop's part of G1's output, with their instance norms' statistics taken from a pass over the
    /// whole frame without gradients; E sees the whole frame too (as with --encoder-whole-frame). Crop corners are
    /// rounded down to multiples of 2^n_local_enhancers so that they line up with G1's pixels. For training a whole
    /// local generator on crops at a fraction of a whole frame's cost (on plain crops the instance norms see only
    /// the crop, and G learns a picture other than the one it renders). Crops reaching past a map's border fall
    /// back to G on the crop.
    #[arg(long)]
    pub global_whole_frame: bool,
    /// Resume the run in --checkpoints-dir/--name from its latest checkpoint, with its saved options.
    #[arg(long)]
    pub continue_train: bool,

    // --- run folder, logging, saving ---
    #[arg(long, default_value = "label2city")]
    pub name: String,
    #[arg(long, default_value = "./checkpoints")]
    pub checkpoints_dir: PathBuf,
    /// Iterations between sample images.
    #[arg(long, default_value_t = 100)]
    pub display_freq: u64,
    /// Iterations between loss log lines.
    #[arg(long, default_value_t = 100)]
    pub print_freq: u64,
    /// Iterations between checkpoints of the latest state.
    #[arg(long, default_value_t = 1000)]
    pub save_latest_freq: u64,
    /// Epochs between numbered copies of the weights.
    #[arg(long, default_value_t = 10)]
    pub save_epoch_freq: usize,
    /// Seed of the weights' initialisation, the data order, crops, flips and the image pool.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Mixed precision on CUDA: fp16 (autocast with dynamic loss scaling) or bf16 (autocast, no scaling needed);
    /// fp32 (or none) trains in float32.
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub amp: Precision,
    /// Stop after this many iterations in total (for tests and quick looks; the schedule is unchanged).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// No progress bar (logs still go to the run folder).
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    fn train_options(&self, cfg: &ModelConfig, dataroot: PathBuf) -> TrainOptions {
        TrainOptions {
            dataroot,
            layout: self.layout,
            phase: self.phase.clone(),
            transform: TransformOpts {
                resize_or_crop: self.resize_or_crop,
                load_size: self.load_size,
                fine_size: self.fine_size,
                size_base: cfg.size_base() as usize,
                no_flip: self.no_flip,
                is_train: true,
            },
            serial_batches: self.serial_batches,
            batch_size: self.batch_size,
            max_dataset_size: self.max_dataset_size,
            niter: self.niter,
            niter_decay: self.niter_decay,
            lr: self.lr,
            beta1: self.beta1,
            lambda_feat: self.lambda_feat,
            lambda_l1: self.lambda_l1,
            no_vgg_loss: self.no_vgg_loss,
            vgg_weights: self.vgg_weights.clone(),
            pool_size: self.pool_size,
            niter_fix_global: self.niter_fix_global,
            load_pretrain: self.load_pretrain.clone(),
            fresh_encoder: self.fresh_encoder,
            freeze_global: self.freeze_global,
            freeze_encoder: self.freeze_encoder,
            encoder_whole_frame: self.encoder_whole_frame,
            global_whole_frame: self.global_whole_frame,
            display_freq: self.display_freq.max(1),
            print_freq: self.print_freq.max(1),
            save_latest_freq: self.save_latest_freq.max(1),
            save_epoch_freq: self.save_epoch_freq.max(1),
            seed: self.seed,
            amp: self.amp,
        }
    }
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let dir = args.checkpoints_dir.join(&args.name);
    let start = if args.continue_train {
        if !has_checkpoint(&dir) {
            bail!(
                "--continue-train: {} holds no checkpoint ({STATE_FILE}) to resume (check --name and \
                 --checkpoints-dir); to start a new run there, leave out --continue-train and give --dataroot",
                dir.display()
            );
        }
        Start::Resume { dataroot: args.dataroot.clone() }
    } else {
        let Some(dataroot) = args.dataroot.clone() else {
            bail!("--dataroot is needed to start a new run in {}", dir.display());
        };
        let cfg = args.model.build(None)?;
        let opts = args.train_options(&cfg, dataroot);
        Start::New { cfg, opts: Box::new(opts) }
    };
    let spec = RunSpec {
        dir,
        start,
        device: pick_device(&args.device)?,
        n_threads: args.n_threads,
        max_steps: args.max_steps,
        quiet: args.quiet,
    };
    train(&spec)
}
