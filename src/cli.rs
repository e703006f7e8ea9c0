//! Command-line pieces shared by several subcommands: how a model is named and configured.

use crate::model::runtime::{ModelError, ModelFiles};
use crate::model::{ModelConfig, NetG, Preset};
use std::path::PathBuf;

/// Which model to use. Precedence: reference defaults < `--preset` < config file (`--config`, or the
/// `config.json` of the run folder / beside the weight file) < individual flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelArgs {
    /// A run folder (config.json + latest_net_G.safetensors/.pth) or a generator weight file (.safetensors, or a
    /// PyTorch .pth/.pt state dict such as the published label2city_1024p/latest_net_G.pth).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// A model configuration JSON (the run folder's config.json format).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start from a published configuration.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Generator architecture: global (G1) or local (G1 + enhancers).
    #[arg(long, value_enum)]
    pub net_g: Option<NetG>,
    /// Filters in the first generator layer (32 for label2city_1024p).
    #[arg(long)]
    pub ngf: Option<i64>,
    /// Number of label classes one-hot encoded (35 for Cityscapes).
    #[arg(long)]
    pub label_nc: Option<i64>,
    #[arg(long)]
    pub n_downsample_global: Option<i64>,
    #[arg(long)]
    pub n_blocks_global: Option<i64>,
    #[arg(long)]
    pub n_local_enhancers: Option<i64>,
    #[arg(long)]
    pub n_blocks_local: Option<i64>,
    /// The model takes no instance boundary channel.
    #[arg(long)]
    pub no_instance: bool,
    /// The model takes instance-wise encoder features (feat_num extra input channels).
    #[arg(long)]
    pub instance_feat: bool,
    /// Feature channels with --instance-feat.
    #[arg(long)]
    pub feat_num: Option<i64>,
}

/// A model configuration with the file its weights come from, if any.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub cfg: ModelConfig,
    pub files: ModelFiles,
}

impl ModelArgs {
    pub fn resolve(&self) -> Result<ResolvedModel, ModelError> {
        let files = match &self.model {
            Some(p) => ModelFiles::locate(p)?,
            None => ModelFiles::default(),
        };
        let mut cfg = self.preset.map(ModelConfig::preset).unwrap_or_default();
        if let Some(path) = self.config.as_ref().or(files.config.as_ref()) {
            cfg = ModelConfig::load(path)?;
        }
        let set = |dst: &mut i64, v: Option<i64>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        if let Some(n) = self.net_g {
            cfg.net_g = n;
        }
        set(&mut cfg.ngf, self.ngf);
        set(&mut cfg.label_nc, self.label_nc);
        set(&mut cfg.n_downsample_global, self.n_downsample_global);
        set(&mut cfg.n_blocks_global, self.n_blocks_global);
        set(&mut cfg.n_local_enhancers, self.n_local_enhancers);
        set(&mut cfg.n_blocks_local, self.n_blocks_local);
        set(&mut cfg.feat_num, self.feat_num);
        cfg.no_instance |= self.no_instance;
        cfg.instance_feat |= self.instance_feat;
        cfg.validate()?;
        Ok(ResolvedModel { cfg, files })
    }
}
