//! `pix2pixhd info`: what LibTorch this binary runs on, and with a model, its configuration and size.

use super::args::ModelArgs;
use crate::model::discriminator::MultiscaleDiscriminator;
use crate::model::encoder::Encoder;
use crate::model::param_count;
use crate::model::runtime::GeneratorModel;
use anyhow::Result;

#[derive(clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The device whose inference path is reported (`render --precision auto` picks it there): cpu, cuda, cuda:N
    /// or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run(args: &InfoArgs) -> Result<()> {
    println!("pix2pixhd {}", env!("CARGO_PKG_VERSION"));
    println!("{}", crate::model::torch_info::report());
    let m = &args.model;
    if m.model.is_none() && !m.config.is_given() {
        return Ok(());
    }
    let resolved = m.resolve()?;
    let cfg = &resolved.cfg;
    println!("\nmodel configuration:\n{}", cfg.to_json());
    let device = crate::model::runtime::pick_device(&args.device)?;
    let mut g = match &resolved.files.g_weights {
        Some(w) => {
            let (g, report) = GeneratorModel::load(cfg, w, device)?;
            println!("generator weights: {} ({} tensors loaded)", w.display(), report.loaded);
            if !report.ignored_running_stats.is_empty() {
                println!("  ignored {} InstanceNorm running-statistics keys", report.ignored_running_stats.len());
            }
            g
        }
        None => GeneratorModel::random(cfg, device, 0)?,
    };
    println!("G input channels: {}, size base: {}", cfg.g_input_nc(), cfg.size_base());
    println!("G parameters: {}", g.param_count());
    let auto = crate::model::memory::guard(|| crate::render::choose(&mut g, crate::render::PrecisionChoice::Auto))
        .map_err(anyhow::Error::msg)?;
    println!("inference on {}: {}", format!("{device:?}").to_lowercase(), auto.note);
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _d = MultiscaleDiscriminator::from_config(&vs.root(), cfg);
    println!("D parameters (for training): {}", param_count(&vs));
    if cfg.use_features() {
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let _e = Encoder::new(&vs.root(), cfg);
        println!("E parameters: {}", param_count(&vs));
    }
    Ok(())
}
