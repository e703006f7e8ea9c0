//! Flags several commands share: how a model is named and configured, and the command-line names of the
//! library's option enums (the library itself never sees clap).

use crate::data::{Layout, Mode};
use crate::model::runtime::{ModelFiles, Precision, ResolvedModel};
use crate::model::{ModelConfig, NetG, Preset};
use crate::render::PrecisionChoice;
use anyhow::{Context, Result};
use clap::ValueEnum;
use clap::builder::PossibleValue;
use std::path::{Path, PathBuf};

/// `impl ValueEnum` for a library enum: each variant with its command-line name and help.
macro_rules! value_enum {
    ($ty:ty { $($variant:ident => $name:literal $(alias $alias:literal)? : $help:literal),+ $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$ty>::$variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $(<$ty>::$variant => PossibleValue::new($name)$(.alias($alias))?.help($help)),+
                })
            }
        }
    };
}

value_enum!(NetG {
    Global => "global": "GlobalGenerator (G1) alone",
    Local => "local": "LocalEnhancer: G1 plus --n-local-enhancers enhancers (G2, G3, ...)",
});
value_enum!(Preset {
    Label2City1024p => "label2city_1024p": "the published 2048×1024 G: LocalEnhancer, ngf 32, 36 input channels",
    Label2City512p => "label2city_512p": "the published 1024×512 G: GlobalGenerator, ngf 64, 36 input channels",
});
value_enum!(Precision {
    Fp32 => "fp32" alias "none": "float32 (for training: no autocast)",
    Fp16 => "fp16": "float16",
    Bf16 => "bf16": "bfloat16",
});
impl ValueEnum for PrecisionChoice {
    fn value_variants<'a>() -> &'a [Self] {
        use PrecisionChoice::{Auto, Fixed};
        &[Auto, Fixed(Precision::Fp32), Fixed(Precision::Fp16), Fixed(Precision::Bf16)]
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            PrecisionChoice::Auto => PossibleValue::new("auto").help(
                "the fastest path whose output stays within 40 dB PSNR of fp32 here (bf16 channels-last on a CPU \
                 with native bf16, fp16 on CUDA, else fp32 channels-last); says which it picked",
            ),
            PrecisionChoice::Fixed(Precision::Fp32) => {
                PossibleValue::new("fp32").help("float32 NCHW, exactly the reference computation")
            }
            PrecisionChoice::Fixed(Precision::Fp16) => PossibleValue::new("fp16").help("float16, channels-last"),
            PrecisionChoice::Fixed(Precision::Bf16) => PossibleValue::new("bf16").help("bfloat16, channels-last"),
        })
    }
}
value_enum!(Layout {
    Auto => "auto": "folders if <root>/<phase>_label exists, else Cityscapes if <root>/gtFine does",
    Folders => "folders": "pix2pixHD's <phase>_label, <phase>_inst, <phase>_img",
    Cityscapes => "cityscapes": "Cityscapes' gtFine/ and leftImg8bit/",
});
value_enum!(Mode {
    ScaleWidth => "scale_width": "width becomes --load-size, height keeps the aspect ratio",
    ScaleWidthAndCrop => "scale_width_and_crop": "scale_width, then a random --fine-size square crop",
    ResizeAndCrop => "resize_and_crop": "resize to --load-size square, then a random --fine-size square crop",
    Crop => "crop": "a random --fine-size square crop of the map as it is",
    None => "none": "keep the size, rounded to a multiple of the network's size base",
});

/// Declares a group of model flags, one per `ModelConfig` field it names (a number or a choice to replace, a
/// switch to turn on), and `apply_to`, which writes the flags that were given into a configuration.
macro_rules! model_flags {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        #[derive(clap::Args, Debug, Clone, Default)]
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            fn apply_to(&self, cfg: &mut ModelConfig) {
                $(Flag::apply(&self.$field, &mut cfg.$field);)*
            }
        }
    };
}

/// How a flag that was given changes a configuration field.
trait Flag<T> {
    fn apply(&self, field: &mut T);
}

impl<T: Copy> Flag<T> for Option<T> {
    fn apply(&self, field: &mut T) {
        if let Some(v) = self {
            *field = *v;
        }
    }
}

impl Flag<bool> for bool {
    fn apply(&self, field: &mut bool) {
        *field |= *self;
    }
}

model_flags!(
    #[command(next_help_heading = "Generator options")]
    GeneratorFlags {
        /// Generator architecture.
        #[arg(long, value_enum)]
        net_g: Option<NetG>,
        /// Filters of the first generator layer (of the last enhancer for local; 32 for label2city_1024p).
        #[arg(long)]
        ngf: Option<i64>,
        /// Number of label classes one-hot encoded (35 for Cityscapes).
        #[arg(long)]
        label_nc: Option<i64>,
        /// The model takes no instance boundary channel.
        #[arg(long)]
        no_instance: bool,
        /// Halvings of the input in G1 before its residual blocks.
        #[arg(long)]
        n_downsample_global: Option<i64>,
        /// Residual blocks of G1.
        #[arg(long)]
        n_blocks_global: Option<i64>,
        /// Local enhancers around G1 with --net-g local, each doubling the resolution.
        #[arg(long)]
        n_local_enhancers: Option<i64>,
        /// Residual blocks of each enhancer.
        #[arg(long)]
        n_blocks_local: Option<i64>,
    }
);

model_flags!(
    #[command(next_help_heading = "Style encoder options")]
    EncoderFlags {
        /// The model takes instance-wise features from the encoder E (needed for style picking).
        #[arg(long)]
        instance_feat: bool,
        /// The model takes label-wise (per class) features from E.
        #[arg(long)]
        label_feat: bool,
        /// Feature channels with --instance-feat or --label-feat.
        #[arg(long)]
        feat_num: Option<i64>,
        /// Filters of the encoder E's first layer.
        #[arg(long)]
        nef: Option<i64>,
        /// Halvings of the photo in E.
        #[arg(long)]
        n_downsample_e: Option<i64>,
        /// Not in the reference: E sees the photo shrunk this many times (features brought back to full size
        /// before the per-instance means). For an E taken from a run at a lower resolution: 2048×1024 photos with
        /// 8 look to E like the 256×128 ones it was trained on. Saved in the model's config.json.
        #[arg(long)]
        encoder_downsample: Option<i64>,
    }
);

model_flags!(
    #[command(next_help_heading = "Discriminator options (training)")]
    DiscriminatorFlags {
        /// Number of discriminators, each at half the resolution of the one before.
        #[arg(long)]
        num_d: Option<i64>,
        /// Strided layers of each discriminator.
        #[arg(long)]
        n_layers_d: Option<i64>,
        /// Filters of each discriminator's first layer.
        #[arg(long)]
        ndf: Option<i64>,
        /// No discriminator feature-matching loss.
        #[arg(long)]
        no_gan_feat_loss: bool,
        /// The BCE GAN loss instead of least squares.
        #[arg(long)]
        no_lsgan: bool,
    }
);

/// The model's options, one flag per field of the model's `config.json`. A flag left out keeps the value of the
/// configuration it applies to: `--config` or the model folder's `config.json`, else `--preset`, else the
/// reference release's defaults (`pix2pixhd info --preset label2city_512p` prints them).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelFlags {
    #[command(flatten)]
    pub g: GeneratorFlags,
    #[command(flatten)]
    pub e: EncoderFlags,
    #[command(flatten)]
    pub d: DiscriminatorFlags,
}

impl ModelFlags {
    /// `cfg` with every flag that was given.
    pub fn apply(&self, mut cfg: ModelConfig) -> ModelConfig {
        self.g.apply_to(&mut cfg);
        self.e.apply_to(&mut cfg);
        self.d.apply_to(&mut cfg);
        cfg
    }
}

/// A model configuration from a preset, a file and flags. Precedence: reference defaults < `--preset` < config
/// file < single flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// A model configuration JSON (the run folder's config.json format).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start from a published configuration.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    #[command(flatten)]
    pub flags: ModelFlags,
}

impl ConfigArgs {
    /// The configuration, with `found` (a model folder's own config.json) in place of the defaults when
    /// `--config` is not given.
    pub fn build(&self, found: Option<&Path>) -> Result<ModelConfig> {
        let mut cfg = self.preset.map(ModelConfig::preset).unwrap_or_default();
        if let Some(path) = self.config.as_deref().or(found) {
            cfg = ModelConfig::load(path)?;
        }
        let cfg = self.flags.apply(cfg);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Whether any of these flags names a configuration.
    pub fn is_given(&self) -> bool {
        self.config.is_some() || self.preset.is_some()
    }
}

/// Which model to use: a run folder or a weight file, configured as [`ConfigArgs`] says.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// A run folder (config.json + latest_net_G.safetensors/.pth) or a generator weight file (.safetensors, or a
    /// PyTorch .pth/.pt state dict such as the published label2city_1024p/latest_net_G.pth).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl ModelArgs {
    /// The model named, with its weight files; with no `--model`, the configuration alone.
    pub fn resolve(&self) -> Result<ResolvedModel> {
        let files = match &self.model {
            Some(p) => ModelFiles::locate(p)?,
            None => ModelFiles::default(),
        };
        let cfg = self.config.build(files.config.as_deref())?;
        Ok(ResolvedModel { cfg, files })
    }

    /// Like [`ModelArgs::resolve`], with the bundled model when no `--model` is given.
    pub fn resolve_or_bundled(&self) -> Result<ResolvedModel> {
        if self.model.is_some() {
            return self.resolve();
        }
        let dir = crate::render::bundled_model_dir();
        let a = ModelArgs { model: Some(dir.clone()), ..self.clone() };
        a.resolve().with_context(|| format!("no --model given, and the bundled model {} cannot be used", dir.display()))
    }
}
