//! `pix2pixhd render`: label map (+ instance map, + style choices) → photo PNG, one file or a whole folder.

use super::args::ModelArgs;
use crate::features::{StyleChoice, StyleSpec};
use crate::labels;
use crate::model::runtime::pick_device;
use crate::render::{Models, PrecisionChoice, Renderer, preview_model_warning, scene_styles};
use crate::scene::Scene;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::Cell;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// A label map (8-bit PNG of class ids, or a Cityscapes-colour PNG), a scene .json, or a folder of label maps.
    pub input: PathBuf,
    /// The instance map (16-bit PNG of class*1000+k ids); for a folder input, a folder of them with the same names.
    /// Without it, Cityscapes names are recognised (_gtFine_labelIds → _gtFine_instanceIds), else each connected
    /// region of an object class becomes one object.
    #[arg(long, value_name = "PATH")]
    pub inst: Option<PathBuf>,
    /// Output image, .png or .jpg (or a folder, for a folder input). Default: <input stem>_render.png beside the
    /// input.
    #[arg(long, short, value_name = "PATH")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Seed of the style drawn for each object without a chosen style (per object id: same seed, same picture).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fix a style: ID=K sets the pixels whose instance value is ID (an object such as 26001, or a stuff class's
    /// region such as 7) to cluster K; class:C=K sets every object of class C that has no choice of its own.
    /// Repeatable; on top of the styles a scene .json holds. For a single scene, an id or class the scene does not
    /// have is an error that lists what it has; over a folder, each scene uses the choices that apply to it.
    #[arg(long = "style", value_name = "ID=K")]
    pub styles: Vec<String>,
    /// Take the styles from this photo through the model's encoder instead of the clusters.
    #[arg(long, value_name = "PHOTO")]
    pub encode_from: Option<PathBuf>,
    /// Write one image per style cluster of object ID: the crop around it (its box grown by half, at least 16
    /// pixels, on each side) rendered in that style, as the editor's style thumbnails show it;
    /// <out stem>_styleNN.png.
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
    /// auto (the default) picks the fastest path whose output stays within 40 dB of fp32 on this machine and
    /// says which; fp32 is exactly the reference computation.
    #[arg(long, value_enum, default_value_t = PrecisionChoice::Auto)]
    pub precision: PrecisionChoice,
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

/// Refuses `--style` choices the scene cannot use: a key that no pixel may hold (`99999`), and, with `scene`, an
/// object or region the scene does not have, or a class with no objects in it. The error lists what the scene has.
fn check_styles(values: &[String], scene: Option<&Scene>) -> Result<()> {
    let spec = parse_styles(values, StyleSpec::default())?;
    for &id in spec.by_id.keys() {
        if !crate::scene::is_style_key(id) {
            bail!(
                "--style {id}=...: {id} is neither a class id (0..=33) nor an object id (class×1000 + k of a class \
                 with instances, such as 26001)"
            );
        }
    }
    for &class in spec.by_class.keys() {
        if !u8::try_from(class).is_ok_and(labels::has_instances) {
            bail!("--style class:{class}=...: class {class} is not a class with objects (24..=33, e.g. class:car)");
        }
    }
    let Some(scene) = scene else { return Ok(()) };
    let present: std::collections::BTreeSet<u32> = scene.inst().iter().copied().collect();
    let list = |v: Vec<u32>| {
        let shown: Vec<String> = v.iter().take(40).map(u32::to_string).collect();
        let more = if v.len() > 40 { format!(" and {} more", v.len() - 40) } else { String::new() };
        if v.is_empty() { "none".to_string() } else { shown.join(", ") + &more }
    };
    for &id in spec.by_id.keys() {
        if !present.contains(&id) {
            let objects = present.iter().copied().filter(|&v| labels::is_object(v)).collect();
            let regions = present.iter().copied().filter(|&v| !labels::is_object(v)).collect();
            bail!(
                "--style {id}=...: the scene has no pixel with instance value {id}; its objects are {}; its class \
                 regions {}",
                list(objects),
                list(regions)
            );
        }
    }
    for &class in spec.by_class.keys() {
        if !present.iter().any(|&v| labels::is_object(v) && labels::class_of_instance(v) == class) {
            let mut classes: Vec<u32> =
                present.iter().copied().filter(|&v| labels::is_object(v)).map(labels::class_of_instance).collect();
            classes.dedup();
            bail!(
                "--style class:{class}=...: the scene has no object of class {class}; its object classes are {}",
                list(classes)
            );
        }
    }
    Ok(())
}

fn read_rgb(path: &Path) -> Result<(Vec<u8>, usize, usize)> {
    crate::fs::check_regular(path).with_context(|| format!("cannot read photo {}", path.display()))?;
    let img = image::open(path).with_context(|| format!("cannot read photo {}", path.display()))?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    Ok((img.into_raw(), w, h))
}

/// Renders one scene to `out` (with `--all-styles`, one cropped image per cluster of that object instead; with
/// `--preview`, the scene shrunk to the preview's scale); returns the files written.
fn render_one(models: &Models, scene: &Scene, args: &RenderArgs, out: &Path) -> Result<Vec<PathBuf>> {
    let r: &Renderer = &models.full;
    let spec = parse_styles(&args.styles, scene_styles(scene, args.seed))?;
    let write = |path: &Path, rgb: &[u8], size| crate::fs::write_rgb_image(path, rgb, size);
    if args.preview {
        let p = models.render_preview(scene, &spec)?;
        write(out, &p.rgb, (p.width, p.height))?;
        return Ok(vec![out.to_path_buf()]);
    }
    if let Some(id) = args.all_styles {
        let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("render");
        let mut written = Vec::new();
        for t in r.thumbnails(scene, &spec, id)? {
            let path = out.with_file_name(format!("{stem}_style{:02}.png", t.cluster));
            write(&path, &t.rgb, (t.crop.width, t.crop.height))?;
            written.push(path);
        }
        return Ok(written);
    }
    let (w, h) = (scene.width() as usize, scene.height() as usize);
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
    let rgb = r.render(scene.label(), scene.inst(), (w, h), &spec, photo.as_deref())?;
    write(out, &rgb, (scene.width(), scene.height()))?;
    Ok(vec![out.to_path_buf()])
}

pub fn run(args: &RenderArgs) -> Result<()> {
    let model = args.model.resolve_or_bundled()?;
    let device = pick_device(&args.device)?;
    let models = if args.preview {
        Models::open(&model, device, args.precision)?
    } else {
        Renderer::open(&model, device, args.precision)?.into()
    };
    eprintln!("inference: {}", models.full.chosen.note);
    // Once: a warning if the model named is a preview generator run at a scale it never saw.
    let warned = Cell::new(args.preview);
    let warn = |scene: &Scene| {
        if !warned.replace(true)
            && let Some(w) = preview_model_warning(&models.full.source, (scene.width(), scene.height()))
        {
            eprintln!("{w}");
        }
    };
    // Style keys no pixel may hold are wrong for any scene; for a single scene, so are ids it does not have.
    check_styles(&args.styles, None)?;
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
            render_one(&models, &scene, args, &out_dir.join(format!("{name}.png")))
                .with_context(|| format!("cannot render {}", input.display()))?;
            bar.inc(1);
        }
        bar.finish();
        println!("{} renders written to {}", inputs.len(), out_dir.display());
        return Ok(());
    }
    let scene = open_scene(&args.input, args.inst.as_deref())?;
    check_styles(&args.styles, Some(&scene))?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args.input.file_stem().and_then(|s| s.to_str()).unwrap_or("scene");
        args.input.with_file_name(format!("{stem}_render.png"))
    });
    warn(&scene);
    for p in
        render_one(&models, &scene, args, &out).with_context(|| format!("cannot render {}", args.input.display()))?
    {
        println!("wrote {}", p.display());
    }
    Ok(())
}

fn open_scene(input: &Path, inst: Option<&Path>) -> Result<Scene> {
    let is_json = input.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    Ok(if is_json { Scene::load_json(input)? } else { Scene::open_label_png(input, inst)? })
}
