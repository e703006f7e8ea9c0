//! `pix2pixhd render`: label map (+ instance map, + style choices) → photo PNG, one file or a whole folder.

use crate::app::worker::{PREVIEW_DIR, PREVIEW_MAX_WIDTH, open_preview, preview_factor, shrink};
use crate::cli::{ModelArgs, ResolvedModel};
use crate::features::{StyleChoice, StyleSpec};
use crate::labels;
use crate::model::config::ModelConfig;
use crate::model::runtime::{ModelFiles, Precision, pick_device};
use crate::render::Renderer;
use crate::scene::Scene;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::path::{Path, PathBuf};

/// Where the bundled default model lives, relative to the project.
pub const BUNDLED_MODEL: &str = "models/default";

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// A label map (8-bit PNG of class ids, or a Cityscapes-colour PNG), a scene .json, or a folder of label maps.
    pub input: PathBuf,
    /// The instance map (16-bit PNG of class*1000+k ids); for a folder input, a folder of them with the same names.
    /// Without it, Cityscapes names are recognised (_gtFine_labelIds → _gtFine_instanceIds), else each connected
    /// region of an object class becomes one object.
    #[arg(long, value_name = "PATH")]
    pub inst: Option<PathBuf>,
    /// Output PNG (or folder, for a folder input). Default: <input stem>_render.png beside the input.
    #[arg(long, short, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seed of the style drawn for each object without a chosen style (per object id: same seed, same picture).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fix a style: ID=K sets object ID (e.g. 26001, or a stuff class id like 7) to cluster K; class:C=K sets every
    /// object of class C. Repeatable.
    #[arg(long = "style", value_name = "ID=K")]
    pub styles: Vec<String>,
    /// Take the styles from this photo through the model's encoder instead of the clusters.
    #[arg(long, value_name = "PHOTO")]
    pub encode_from: Option<PathBuf>,
    /// Write one image per style cluster of object ID, cropped around it: a contact sheet to choose from.
    #[arg(long, value_name = "ID")]
    pub all_styles: Option<u32>,
    /// Render what the editor's quick preview shows: the model folder's preview generator (its `preview/` folder;
    /// without one, the model itself) on the scene shrunk to the scale that generator learnt, at most 768 pixels
    /// wide: 512×256 for a 2048×1024 scene with the bundled model. The PNG has that smaller size.
    #[arg(long, conflicts_with_all = ["encode_from", "all_styles"])]
    pub preview: bool,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
}

/// Parses `--style` values into a spec on top of `base`.
pub fn parse_styles(values: &[String], base: StyleSpec) -> Result<StyleSpec> {
    let mut spec = base;
    for v in values {
        let (key, k) = v.split_once('=').with_context(|| format!("--style {v}: expected ID=K or class:C=K"))?;
        let k: usize = k.trim().parse().with_context(|| format!("--style {v}: cluster {k:?} is not a number"))?;
        if let Some(c) = key.strip_prefix("class:") {
            let class = match c.trim().parse::<u32>() {
                Ok(n) => n,
                Err(_) => {
                    labels::id_from_name(c).map(u32::from).with_context(|| format!("--style {v}: no class {c:?}"))?
                }
            };
            spec.by_class.insert(class, StyleChoice::Cluster(k));
        } else {
            let id: u32 =
                key.trim().parse().with_context(|| format!("--style {v}: object id {key:?} is not a number"))?;
            spec.by_id.insert(id, StyleChoice::Cluster(k));
        }
    }
    Ok(spec)
}

/// The bundled model's folder: `models/default` under the working directory, else in the source tree.
pub fn bundled_model_dir() -> PathBuf {
    let here = PathBuf::from(BUNDLED_MODEL);
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join(BUNDLED_MODEL) }
}

/// The model the user named, or the bundled one.
fn resolve_model(args: &ModelArgs) -> Result<ResolvedModel> {
    if args.model.is_some() {
        return Ok(args.resolve()?);
    }
    let dir = bundled_model_dir();
    if !dir.is_dir() {
        bail!("no --model given and the bundled model ({BUNDLED_MODEL}) is not there");
    }
    let mut a = args.clone();
    a.model = Some(dir);
    let _ = ModelFiles::locate(a.model.as_ref().expect("set above"))?;
    Ok(a.resolve()?)
}

fn read_rgb(path: &Path) -> Result<(Vec<u8>, usize, usize)> {
    let img = image::open(path).with_context(|| format!("cannot read photo {}", path.display()))?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok((img.into_raw(), w, h))
}

fn write_png(path: &Path, rgb: &[u8], w: usize, h: usize) -> Result<()> {
    Ok(crate::fs::write_rgb_png(path, rgb, (w as u32, h as u32))?)
}

/// With `--preview`: the full model's configuration (its enhancers set the scale the preview runs at) and whether the
/// renderer is a preview generator of its own (else the full model runs at a smaller size, as in the editor).
struct PreviewScale {
    full: ModelConfig,
    own: bool,
}

/// A warning for a preview generator named as the model (`--model models/default/preview`) on a scene wider than
/// any preview: it learnt scenes at the scale its G1 has inside the model folder around it, so at this size its
/// picture is off.
pub fn preview_model_warning(source: &Path, (width, height): (u32, u32)) -> Option<String> {
    if source.file_name()? != PREVIEW_DIR || width <= PREVIEW_MAX_WIDTH {
        return None;
    }
    let parent = source.parent().filter(|p| !p.as_os_str().is_empty())?;
    let cfg = ModelConfig::load(ModelFiles::locate(parent).ok()?.config.as_ref()?).ok()?;
    let f = preview_factor(width, &cfg, true);
    (f > 1).then(|| {
        format!(
            "warning: {} is the preview generator of the model in {p}: the editor runs it on this scene shrunk {f} \
             times ({}×{}), the scale it learnt, and at full size its picture will look wrong. \
             `pix2pixhd render --model {p} --preview` renders that.",
            source.display(),
            width / f,
            height / f,
            p = parent.display()
        )
    })
}

/// Renders one scene to `out`; with `all_styles`, one cropped image per cluster of that object instead; with
/// `preview`, the scene shrunk to the preview's scale.
fn render_one(
    r: &Renderer,
    scene: &Scene,
    args: &RenderArgs,
    out: &Path,
    preview: Option<&PreviewScale>,
) -> Result<Vec<PathBuf>> {
    let (w, h) = (scene.width() as usize, scene.height() as usize);
    let base = StyleSpec { seed: args.seed, by_id: scene.styles().clone(), ..Default::default() };
    let spec = parse_styles(&args.styles, base)?;
    let photo = match &args.encode_from {
        Some(p) => {
            let (rgb, pw, ph) = read_rgb(p)?;
            if (pw, ph) != (w, h) {
                bail!("photo {} is {pw}×{ph} but the label map is {w}×{h}", p.display());
            }
            Some(rgb)
        }
        None => None,
    };
    let Some(id) = args.all_styles else {
        let (rgb, w, h) = match preview {
            Some(p) => {
                let (pw, ph, label, inst) = shrink(scene, preview_factor(scene.width(), &p.full, p.own));
                let (pw, ph) = (pw as usize, ph as usize);
                (r.render(&label, &inst, (pw, ph), &spec, None)?, pw, ph)
            }
            None => (r.render(scene.label(), scene.inst(), (w, h), &spec, photo.as_deref())?, w, h),
        };
        write_png(out, &rgb, w, h)?;
        return Ok(vec![out.to_path_buf()]);
    };
    let clusters = r.clusters.as_ref().context("--all-styles needs a model with clusters.json")?;
    let class = labels::class_of_instance(id);
    let n = clusters.count(class);
    if n == 0 {
        bail!("object {id} is of class {class}, which has no style clusters in this model");
    }
    // The object's bounding box, grown by a quarter on each side.
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, &v) in scene.inst().iter().enumerate() {
        if v == id {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
        }
    }
    if x1 == 0 {
        bail!("there is no object {id} in the instance map");
    }
    let (mx, my) = ((x1 - x0) / 4 + 1, (y1 - y0) / 4 + 1);
    let (x0, y0, x1, y1) = (x0.saturating_sub(mx), y0.saturating_sub(my), (x1 + mx).min(w), (y1 + my).min(h));
    let mut written = Vec::new();
    for k in 0..n {
        let mut s = spec.clone();
        s.by_id.insert(id, StyleChoice::Cluster(k));
        let rgb = r.render(scene.label(), scene.inst(), (w, h), &s, None)?;
        let (cw, ch) = (x1 - x0, y1 - y0);
        let mut crop = Vec::with_capacity(cw * ch * 3);
        for y in y0..y1 {
            crop.extend_from_slice(&rgb[(y * w + x0) * 3..(y * w + x1) * 3]);
        }
        let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("render");
        let path = out.with_file_name(format!("{stem}_style{k:02}.png"));
        write_png(&path, &crop, cw, ch)?;
        written.push(path);
    }
    Ok(written)
}

pub fn run(args: &RenderArgs) -> Result<()> {
    let model = resolve_model(&args.model)?;
    let device = pick_device(&args.device)?;
    let mut renderer = Renderer::open(&model, device, args.precision)?;
    let preview = if args.preview {
        let full = renderer.g.cfg.clone();
        let own = match open_preview(&renderer, &renderer.source, device, args.precision).map_err(anyhow::Error::msg)? {
            Some(p) => {
                renderer = p;
                true
            }
            None => false,
        };
        Some(PreviewScale { full, own })
    } else {
        None
    };
    // Once: a warning if the model named is a preview generator run at a scale it never saw.
    let warned = Cell::new(args.preview);
    let warn = |scene: &Scene| {
        if !warned.replace(true)
            && let Some(w) = preview_model_warning(&renderer.source, (scene.width(), scene.height()))
        {
            eprintln!("{w}");
        }
    };
    if args.input.is_dir() {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&args.input)
            .with_context(|| format!("cannot list {}", args.input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("json")))
            .collect();
        inputs.sort();
        if inputs.is_empty() {
            bail!("no label maps (.png) or scenes (.json) in {}", args.input.display());
        }
        let out_dir = args.out.clone().unwrap_or_else(|| args.input.with_file_name("renders"));
        let bar = ProgressBar::new(inputs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("rendering {bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}, {per_sec}]")
                .expect("valid template"),
        );
        for input in &inputs {
            let inst = args.inst.as_ref().map(|d| d.join(input.file_name().expect("a file")));
            let scene = open_scene(input, inst.as_deref())?;
            warn(&scene);
            let name = input.file_stem().and_then(|s| s.to_str()).unwrap_or("scene");
            render_one(&renderer, &scene, args, &out_dir.join(format!("{name}.png")), preview.as_ref())?;
            bar.inc(1);
        }
        bar.finish();
        println!("{} renders written to {}", inputs.len(), out_dir.display());
        return Ok(());
    }
    let scene = open_scene(&args.input, args.inst.as_deref())?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args.input.file_stem().and_then(|s| s.to_str()).unwrap_or("scene");
        args.input.with_file_name(format!("{stem}_render.png"))
    });
    warn(&scene);
    for p in render_one(&renderer, &scene, args, &out, preview.as_ref())? {
        println!("wrote {}", p.display());
    }
    Ok(())
}

fn open_scene(input: &Path, inst: Option<&Path>) -> Result<Scene> {
    let is_json = input.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    Ok(if is_json { Scene::load_json(input)? } else { Scene::open_label_png(input, inst)? })
}
