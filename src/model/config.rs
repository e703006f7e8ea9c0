//! `ModelConfig`: every network option of pix2pixHD, with the reference release's defaults.
//!
//! Field names follow the reference options in snake case (`num_D` becomes `num_d`). A run folder stores this as
//! `config.json`; unknown keys are rejected so that a typo does not silently fall back to a default.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which generator architecture to build (`--netG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetG {
    /// GlobalGenerator (G1) alone.
    Global,
    /// LocalEnhancer: G1 plus `n_local_enhancers` enhancers (G2, G3, ...).
    Local,
}

/// Normalisation layer (`--norm`). Only instance norm is implemented: it is what every published model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    Instance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Number of semantic classes one-hot encoded into G (35 for Cityscapes labelIds). 0 means an RGB input.
    pub label_nc: i64,
    /// Channels of the input image when `label_nc == 0`.
    pub input_nc: i64,
    /// Channels of the generated image.
    pub output_nc: i64,
    pub net_g: NetG,
    /// Filters of the first generator layer (of the last enhancer for `local`).
    pub ngf: i64,
    pub n_downsample_global: i64,
    pub n_blocks_global: i64,
    pub n_local_enhancers: i64,
    pub n_blocks_local: i64,
    pub norm: Norm,
    /// When false, the instance boundary map is the extra input channel after the one-hot labels.
    pub no_instance: bool,
    /// Instance-wise features from the encoder E feed G (`--instance_feat`).
    pub instance_feat: bool,
    /// Label-wise features feed G (`--label_feat`).
    pub label_feat: bool,
    pub feat_num: i64,
    pub nef: i64,
    pub n_downsample_e: i64,
    /// Not in the reference: E sees the photo shrunk by this factor (area average), and its features are brought
    /// back to full size before the per-instance means. 1 = E at full size, as in the reference. For an E (and a
    /// G1) trained at a lower resolution than the full model: the bundled model uses 8, so that E sees its 2048×1024
    /// photos at the 256×128 its global generator and E were trained at, and its features keep their meaning.
    pub encoder_downsample: i64,
    pub num_d: i64,
    pub n_layers_d: i64,
    pub ndf: i64,
    /// No discriminator feature-matching loss; this also makes D return only its final prediction.
    pub no_gan_feat_loss: bool,
    /// Use the BCE GAN loss instead of least squares.
    pub no_lsgan: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            label_nc: 35,
            input_nc: 3,
            output_nc: 3,
            net_g: NetG::Global,
            ngf: 64,
            n_downsample_global: 4,
            n_blocks_global: 9,
            n_local_enhancers: 1,
            n_blocks_local: 3,
            norm: Norm::Instance,
            no_instance: false,
            instance_feat: false,
            label_feat: false,
            feat_num: 3,
            nef: 16,
            n_downsample_e: 4,
            encoder_downsample: 1,
            num_d: 2,
            n_layers_d: 3,
            ndf: 64,
            no_gan_feat_loss: false,
            no_lsgan: false,
        }
    }
}

/// Named configurations of the published models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The published `label2city_1024p` G: LocalEnhancer, ngf 32, 36 input channels, 2048×1024.
    Label2City1024p,
    /// `label2city_512p`: GlobalGenerator, ngf 64, 36 input channels, 1024×512.
    Label2City512p,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read model config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("model config {path} is not valid: {source}")]
    Parse { path: String, source: serde_json::Error },
    #[error("invalid model config: {0}")]
    Invalid(String),
    #[error("model config {path}: {msg}")]
    InvalidIn { path: String, msg: String },
    #[error("model config {path}: {key:?}: {msg}")]
    BadField { path: String, key: String, msg: String },
    #[error(
        "model config {path} is not a JSON object of model options (found {found}); \
         `pix2pixhd info --preset label2city_512p` prints one"
    )]
    NotAnObject { path: String, found: &'static str },
    #[error(
        "model config {path} lacks {fields}: each option that shapes a network must be given, since a default would \
         silently build another network than the weights were trained with (`pix2pixhd info --model DIR` prints a \
         run's full configuration, `pix2pixhd info --preset label2city_512p` a preset's)"
    )]
    Missing { path: String, fields: String },
}

/// Options a config file may leave out: they came after the first files were written, and their default is what
/// those files meant.
const OPTIONAL_KEYS: [&str; 2] = ["encoder_downsample", "norm"];

impl ModelConfig {
    pub fn preset(p: Preset) -> Self {
        match p {
            Preset::Label2City1024p => Self { net_g: NetG::Local, ngf: 32, num_d: 3, ..Self::default() },
            Preset::Label2City512p => Self::default(),
        }
    }

    /// Whether G takes encoder features as extra input channels.
    pub fn use_features(&self) -> bool {
        self.instance_feat || self.label_feat
    }

    /// Channels of the semantic part of the input: the one-hot labels, or the RGB image when `label_nc == 0`.
    pub fn semantic_nc(&self) -> i64 {
        if self.label_nc == 0 { self.input_nc } else { self.label_nc }
    }

    /// G's input channels: semantic + boundary map + features.
    pub fn g_input_nc(&self) -> i64 {
        self.semantic_nc() + i64::from(!self.no_instance) + if self.use_features() { self.feat_num } else { 0 }
    }

    /// D's input channels: semantic + boundary map + image. Features are not shown to D.
    pub fn d_input_nc(&self) -> i64 {
        self.semantic_nc() + i64::from(!self.no_instance) + self.output_nc
    }

    /// Height and width must be multiples of this for G's downsampling and upsampling to line up.
    pub fn size_base(&self) -> i64 {
        let local = match self.net_g {
            NetG::Global => 0,
            NetG::Local => self.n_local_enhancers,
        };
        1 << (self.n_downsample_global + local)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("output_nc", self.output_nc),
            ("ngf", self.ngf),
            ("feat_num", self.feat_num),
            ("nef", self.nef),
            ("num_d", self.num_d),
            ("n_layers_d", self.n_layers_d),
            ("ndf", self.ndf),
            ("n_downsample_global", self.n_downsample_global),
            ("encoder_downsample", self.encoder_downsample),
        ];
        for (name, v) in positive {
            if v <= 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive, got {v}")));
            }
        }
        let non_negative = [
            ("label_nc", self.label_nc),
            ("n_blocks_global", self.n_blocks_global),
            ("n_blocks_local", self.n_blocks_local),
            ("n_downsample_e", self.n_downsample_e),
        ];
        for (name, v) in non_negative {
            if v < 0 {
                return Err(ConfigError::Invalid(format!("{name} must be 0 or more, got {v}")));
            }
        }
        if self.label_nc == 0 && self.input_nc <= 0 {
            return Err(ConfigError::Invalid("label_nc 0 needs input_nc > 0".into()));
        }
        if self.label_nc > 256 {
            return Err(ConfigError::Invalid(format!(
                "label_nc {} is more than an 8-bit label map can hold (256)",
                self.label_nc
            )));
        }
        if self.net_g == NetG::Local && self.n_local_enhancers < 1 {
            return Err(ConfigError::Invalid(format!(
                "net_g local needs n_local_enhancers >= 1, got {}",
                self.n_local_enhancers
            )));
        }
        if self.n_downsample_global.saturating_add(self.n_local_enhancers.max(0)) > 12 {
            return Err(ConfigError::Invalid("more than 12 halvings of the input".into()));
        }
        // Far beyond any published network; past these a build would take hours or a value would overflow.
        let at_most = [
            ("n_blocks_global", self.n_blocks_global, 1000),
            ("n_blocks_local", self.n_blocks_local, 1000),
            ("n_downsample_e", self.n_downsample_e, 12),
            ("encoder_downsample", self.encoder_downsample, 1 << 12),
            ("feat_num", self.feat_num, 4096),
            ("num_d", self.num_d, 16),
            ("n_layers_d", self.n_layers_d, 16),
            ("input_nc", self.input_nc, 4096),
            ("output_nc", self.output_nc, 4096),
        ];
        for (name, v, max) in at_most {
            if v > max {
                return Err(ConfigError::Invalid(format!("{name} must be at most {max}, got {v}")));
            }
        }
        if self.instance_feat && self.label_feat {
            return Err(ConfigError::Invalid("choose one of instance_feat and label_feat".into()));
        }
        Ok(())
    }

    /// Reads a `config.json`: a JSON object holding every option (but those in [`OPTIONAL_KEYS`]), each valid.
    /// Every error names the file and the field.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let p = || path.display().to_string();
        let text = crate::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: p(), source })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ConfigError::Parse { path: p(), source })?;
        let Some(object) = value.as_object() else {
            let found = match value {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::Bool(_) => "a boolean",
                _ => "null",
            };
            return Err(ConfigError::NotAnObject { path: p(), found });
        };
        let cfg: Self = serde_json::from_value(value.clone()).map_err(|source| {
            // Name the field: the first one that does not read on its own.
            let bad = object.iter().find_map(|(k, v)| {
                let one = serde_json::Value::Object([(k.clone(), v.clone())].into_iter().collect());
                serde_json::from_value::<Self>(one).err().map(|e| (k.clone(), e.to_string()))
            });
            match bad {
                Some((key, msg)) => ConfigError::BadField { path: p(), key, msg },
                None => ConfigError::Parse { path: p(), source },
            }
        })?;
        let all = serde_json::to_value(Self::default()).expect("ModelConfig always serialises");
        let missing: Vec<&str> = all
            .as_object()
            .expect("a struct serialises to an object")
            .keys()
            .map(String::as_str)
            .filter(|k| !object.contains_key(*k) && !OPTIONAL_KEYS.contains(k))
            .collect();
        if !missing.is_empty() {
            return Err(ConfigError::Missing { path: p(), fields: missing.join(", ") });
        }
        cfg.validate().map_err(|e| match e {
            ConfigError::Invalid(msg) => ConfigError::InvalidIn { path: p(), msg },
            other => other,
        })?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("ModelConfig always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_options() {
        let c = ModelConfig::default();
        assert_eq!((c.label_nc, c.ngf, c.n_downsample_global, c.n_blocks_global), (35, 64, 4, 9));
        assert_eq!((c.n_local_enhancers, c.n_blocks_local, c.feat_num, c.nef), (1, 3, 3, 16));
        assert_eq!((c.num_d, c.n_layers_d, c.ndf), (2, 3, 64));
        assert!(!c.no_instance && !c.instance_feat && !c.label_feat);
        assert_eq!(c.g_input_nc(), 36);
        assert_eq!(c.d_input_nc(), 39);
    }

    #[test]
    fn the_1024p_preset_wants_multiples_of_32() {
        let c = ModelConfig::preset(Preset::Label2City1024p);
        assert_eq!(c.size_base(), 32);
        assert_eq!(ModelConfig::preset(Preset::Label2City512p).size_base(), 16);
        let f = ModelConfig { instance_feat: true, ..c };
        assert_eq!(f.g_input_nc(), 39);
    }

    #[test]
    fn json_round_trip_and_unknown_keys_rejected() {
        let c = ModelConfig::preset(Preset::Label2City1024p);
        let back: ModelConfig = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back, c);
        let partial: ModelConfig = serde_json::from_str(r#"{"ngf": 32, "net_g": "local"}"#).unwrap();
        assert_eq!(partial.label_nc, 35);
        // Config files written before encoder_downsample existed keep E at full size.
        assert_eq!(partial.encoder_downsample, 1);
        assert!(serde_json::from_str::<ModelConfig>(r#"{"ngff": 32}"#).is_err());
    }

    #[test]
    fn a_config_file_names_itself_and_its_bad_or_missing_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            ModelConfig::load(&path).map_err(|e| e.to_string())
        };
        let full: serde_json::Value = serde_json::from_str(&ModelConfig::default().to_json()).unwrap();
        let with = |key: &str, v: serde_json::Value| {
            let mut o = full.clone();
            match v {
                serde_json::Value::Null => o.as_object_mut().unwrap().remove(key),
                v => o.as_object_mut().unwrap().insert(key.into(), v),
            };
            o.to_string()
        };
        assert_eq!(load(&full.to_string()).unwrap(), ModelConfig::default());
        let old = with("encoder_downsample", serde_json::Value::Null);
        assert_eq!(load(&old).unwrap().encoder_downsample, 1, "files from before encoder_downsample still read");
        for (text, want) in [
            ("[]".to_string(), "not a JSON object"),
            ("{}".to_string(), "lacks"),
            (with("ngf", serde_json::Value::Null), "lacks ngf"),
            (with("net_g", serde_json::Value::Null), "lacks net_g"),
            (with("ngf", 0.into()), "ngf must be positive"),
            (with("ngf", "x".into()), "\"ngf\": invalid type"),
            (with("ngff", 3.into()), "unknown field `ngff`"),
        ] {
            let err = load(&text).unwrap_err();
            assert!(err.contains(&path.display().to_string()) && err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn invalid_values_are_named() {
        let c = ModelConfig { ngf: 0, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("ngf"));
        let c = ModelConfig { encoder_downsample: 0, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("encoder_downsample"));
    }
}
