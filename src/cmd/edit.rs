//! `pix2pixhd edit` (and `pix2pixhd` alone): the editor window.

use crate::app::EditorOptions;
use crate::render::PrecisionChoice;
use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct EditArgs {
    /// A scene .json, or a label map .png (8-bit class ids or Cityscapes colours); default: the first sample
    /// scene in assets/.
    pub scene: Option<PathBuf>,
    /// The instance map (16-bit PNG) for a label PNG; found by name when not given (Cityscapes' _instanceIds.png).
    #[arg(long, value_name = "PNG")]
    pub inst: Option<PathBuf>,
    /// The model folder the renderer loads (a run folder with config.json, weights and clusters.json);
    /// default: the bundled model in models/default.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// auto (the default) picks the fastest path whose output stays within 40 dB of fp32 on this machine and
    /// says which; fp32 is exactly the reference computation.
    #[arg(long, value_enum, default_value_t = PrecisionChoice::Auto)]
    pub precision: PrecisionChoice,
    /// Seconds between autosaves of a changed scene to the recovery file (0: off).
    #[arg(long, default_value_t = 60)]
    pub autosave_secs: u64,
}

impl Default for EditArgs {
    /// What `pix2pixhd` with no subcommand opens: the flags' defaults.
    fn default() -> Self {
        let d = EditorOptions::default();
        EditArgs {
            scene: None,
            inst: None,
            model: None,
            device: d.device,
            precision: d.precision,
            autosave_secs: d.autosave_secs,
        }
    }
}

pub fn run(a: EditArgs) -> Result<()> {
    let mut o = EditorOptions {
        scene: a.scene,
        inst: a.inst,
        device: a.device,
        precision: a.precision,
        autosave_secs: a.autosave_secs,
        ..Default::default()
    };
    if let Some(m) = a.model {
        o.model = m;
    }
    crate::app::run(o)
}
