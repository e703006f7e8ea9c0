//! `pix2pixhd encode`: runs a trained encoder E over a data set, collects every large region's pooled feature
//! (instances and stuff alike, as the reference's encode_features does), and writes `clusters.json` (K-means per
//! class) into the model's run folder.

use crate::cli::ModelArgs;
use crate::data::dataset::{Dataset, DatasetOpts, Layout};
use crate::data::loader::Loader;
use crate::data::transform::{Mode, TransformOpts};
use crate::features::{CLUSTERS_FILE, MIN_REGION_FRACTION, RegionFeature, cluster_regions};
use crate::labels;
use crate::model::checkpoint;
use crate::model::encoder::Encoder;
use crate::model::runtime::pick_device;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;
use tch::{Kind, Tensor, nn};

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

/// Per region of one image: (id, pixel count, pooled feature, mean RGB 0..255), all ids at once on the device.
fn regions_of(feat: &Tensor, ids: &Tensor, image: &Tensor) -> Vec<(i64, i64, Vec<f32>, [f32; 3])> {
    let (_, c, h, w) = feat.size4().expect("[1, C, H, W]");
    let ids = ids.reshape([h * w]).to_kind(Kind::Int64);
    let (uniq, inverse, counts) = ids.internal_unique2(true, true, true);
    let n = uniq.size()[0];
    let f = feat.reshape([c, h * w]).transpose(0, 1);
    let rgb = ((image.reshape([3, h * w]).transpose(0, 1) + 1.0) * 127.5).to_kind(Kind::Float);
    let sums = Tensor::zeros([n, c], (Kind::Float, feat.device())).index_add(0, &inverse, &f);
    let rgb_sums = Tensor::zeros([n, 3], (Kind::Float, feat.device())).index_add(0, &inverse, &rgb);
    let cnt = counts.to_kind(Kind::Float).unsqueeze(1);
    let means: Vec<f32> = Vec::try_from((sums / &cnt).flatten(0, -1).to_device(tch::Device::Cpu)).expect("f32");
    let rgbs: Vec<f32> = Vec::try_from((rgb_sums / &cnt).flatten(0, -1).to_device(tch::Device::Cpu)).expect("f32");
    let uniq: Vec<i64> = Vec::try_from(uniq.to_device(tch::Device::Cpu)).expect("i64");
    let counts: Vec<i64> = Vec::try_from(counts.to_device(tch::Device::Cpu)).expect("i64");
    (0..n as usize)
        .map(|i| {
            let fe = means[i * c as usize..(i + 1) * c as usize].to_vec();
            (uniq[i], counts[i], fe, [rgbs[3 * i], rgbs[3 * i + 1], rgbs[3 * i + 2]])
        })
        .collect()
}

pub fn run(args: &EncodeArgs) -> Result<()> {
    let resolved = ModelArgs { model: Some(args.model.clone()), ..Default::default() }.resolve()?;
    let cfg = resolved.cfg;
    if !cfg.use_features() {
        bail!("model {} was not trained with --instance-feat or --label-feat: it has no styles", args.model.display());
    }
    let dir = &args.model;
    let e_file = ["safetensors", "pth", "pt"]
        .iter()
        .map(|x| dir.join(format!("latest_net_E.{x}")))
        .find(|p| p.is_file())
        .with_context(|| format!("model folder {} has no encoder weights (latest_net_E.*)", dir.display()))?;
    let device = pick_device(&args.device)?;
    let (vs, enc) = crate::model::with_seed(0, || {
        let vs = nn::VarStore::new(device);
        let enc = Encoder::new(&vs.root(), &cfg);
        (vs, enc)
    });
    checkpoint::load_var_store(&vs, &e_file, |_| false)?;

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
    let mut regions = Vec::new();
    for batch in loader.epoch(0)? {
        let batch = batch?;
        let image = batch.image.as_ref().context("encoding needs the photos of the data set")?.to_device(device);
        let ids = if cfg.label_feat { &batch.label } else { batch.inst.as_ref().unwrap_or(&batch.label) };
        let ids = ids.to_device(device);
        let (_, _, h, w) = image.size4()?;
        let feat = tch::no_grad(|| enc.forward(&image, &ids));
        for (id, count, feature, mean_rgb) in regions_of(&feat, &ids, &image) {
            // The reference keeps regions covering more than 1/64 of the image.
            if (count as f64) / ((h * w) as f64) <= MIN_REGION_FRACTION {
                continue;
            }
            let class = if cfg.label_feat { id as u32 } else { labels::class_of_instance(id as u32) };
            regions.push(RegionFeature { class, feature, mean_rgb });
        }
        bar.inc(1);
    }
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
