//! `pix2pixhd encode`: runs a trained encoder E over a data set and writes `clusters.json` (K-means per class of
//! every large region's pooled feature) into the model's run folder.

use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::data::loader::Loader;
use crate::data::transform::{Mode, TransformOpts};
use crate::features::encode::{encode_regions, open_encoder};
use crate::features::{CLUSTERS_FILE, cluster_regions};
use crate::labels;
use crate::model::runtime::{ResolvedModel, pick_device};
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// The run folder of a model trained with --instance-feat (or --label-feat): config.json, latest_net_E.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The data set to encode (usually the training set).
    #[arg(long, value_name = "DIR")]
    pub dataroot: PathBuf,
    #[arg(long, value_enum, default_value_t = Layout::Auto)]
    pub layout: Layout,
    #[arg(long, default_value = "train")]
    pub phase: String,
    /// Clusters per class (fewer when a class has fewer regions).
    #[arg(long, default_value_t = 10)]
    pub n_clusters: usize,
    /// How photos are resized before encoding (default: as they are, rounded to the encoder's size base).
    #[arg(long, value_enum, default_value_t = Mode::None)]
    pub resize_or_crop: Mode,
    #[arg(long, default_value_t = 1024)]
    pub load_size: usize,
    #[arg(long)]
    pub max_dataset_size: Option<usize>,
    /// Seed of the k-means++ initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Write the clusters here instead of <model>/clusters.json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &EncodeArgs) -> Result<()> {
    let cfg = ResolvedModel::open(&args.model)?.cfg;
    if !cfg.use_features() {
        bail!("model {} was not trained with --instance-feat or --label-feat: it has no styles", args.model.display());
    }
    let dir = &args.model;
    let device = pick_device(&args.device)?;
    let (_vs, enc) = open_encoder(dir, &cfg, device)?;

    let dataset = Dataset::open(
        &args.dataroot,
        &args.phase,
        args.layout,
        DatasetOpts { max_dataset_size: args.max_dataset_size, ..DatasetOpts::for_model(&cfg) },
    )?;
    let topts = TransformOpts {
        resize_or_crop: args.resize_or_crop,
        load_size: args.load_size,
        size_base: 1 << cfg.n_downsample_e,
        is_train: false,
        ..TransformOpts::default()
    };
    let loader = Loader::new(Arc::new(dataset), topts, 1, false, 0, 2, 4)?;
    let bar = ProgressBar::new(loader.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("encoding {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}]")
            .expect("valid template"),
    );
    let regions = encode_regions(&enc, &cfg, &loader, device, || bar.inc(1))?;
    bar.finish();
    if regions.is_empty() {
        bail!("no region of {} is larger than 1/64 of its image: nothing to cluster", args.dataroot.display());
    }
    let clusters = cluster_regions(&regions, cfg.feat_num as usize, args.n_clusters, args.seed);
    let out = args.out.clone().unwrap_or_else(|| dir.join(CLUSTERS_FILE));
    clusters.save(&out)?;
    println!(
        "{} regions, {} classes with clusters, written to {}",
        regions.len(),
        clusters.classes.len(),
        out.display()
    );
    for (class, c) in &clusters.classes {
        let name = labels::label((*class).min(255) as u8).map_or("?", |l| l.name);
        println!("  {class:>3} {name:<14} {} clusters, regions per cluster {:?}", c.centers.len(), c.counts);
    }
    Ok(())
}
