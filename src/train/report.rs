//! What a training run leaves for people to look at: the JSONL loss log, sample images
//! (label colours | generated | real) and an HTML page listing them, newest first.

use crate::labels;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

/// One line of `loss_log.jsonl`.
#[derive(Debug, serde::Serialize)]
pub struct LogLine {
    pub epoch: usize,
    pub epoch_iter: usize,
    pub step: u64,
    #[serde(flatten)]
    pub losses: super::nets::Losses,
    pub lr: f64,
    pub sec_per_iter: f64,
}

pub fn append_log(run_dir: &Path, line: &LogLine) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(run_dir.join("loss_log.jsonl"))?;
    writeln!(f, "{}", serde_json::to_string(line).expect("log lines serialise"))
}

/// An image in [-1, 1], [3, H, W], as RGB bytes the way the reference's `tensor2im` makes them
/// (((x + 1) / 2) · 255, clipped, truncated).
pub fn tensor_to_rgb(t: &Tensor) -> (Vec<u8>, usize, usize) {
    let t = t.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float);
    let (_, h, w) = t.size3().expect("an image is [3, H, W]");
    let bytes = ((t + 1.0) / 2.0 * 255.0).clamp(0.0, 255.0).to_kind(Kind::Uint8).permute([1, 2, 0]).contiguous();
    (Vec::<u8>::try_from(bytes.flatten(0, -1)).expect("u8 tensor"), w as usize, h as usize)
}

/// A label map [H, W] (class ids) in the Cityscapes display colours.
pub fn label_to_rgb(label: &Tensor) -> Vec<u8> {
    let ids: Vec<i64> =
        Vec::try_from(label.to_device(tch::Device::Cpu).to_kind(Kind::Int64).flatten(0, -1)).expect("int tensor");
    ids.iter().flat_map(|&c| labels::color(c.clamp(0, 255) as u8)).collect()
}

/// Writes `label | generated | real` side by side for the first item of a batch, and refreshes the index page.
pub fn write_sample(
    run_dir: &Path,
    epoch: usize,
    step: u64,
    label: &Tensor,
    fake: &Tensor,
    real: &Tensor,
) -> Result<PathBuf, String> {
    let dir = run_dir.join("web").join("images");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (fake_rgb, w, h) = tensor_to_rgb(&fake.get(0));
    let (real_rgb, _, _) = tensor_to_rgb(&real.get(0));
    let label_rgb = label_to_rgb(&label.get(0).squeeze_dim(0));
    let mut page = image::RgbImage::new(3 * w as u32, h as u32);
    for (panel, src) in [&label_rgb, &fake_rgb, &real_rgb].into_iter().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let i = 3 * (y * w + x);
                page.put_pixel((panel * w + x) as u32, y as u32, image::Rgb([src[i], src[i + 1], src[i + 2]]));
            }
        }
    }
    let name = format!("epoch{epoch:03}_step{step:08}.png");
    let path = dir.join(&name);
    crate::fs::write_atomically(&path, |tmp| {
        page.save_with_format(tmp, image::ImageFormat::Png).map_err(std::io::Error::other)
    })
    .map_err(|e| e.to_string())?;
    write_index(run_dir).map_err(|e| format!("{}: {e}", run_dir.join("web/index.html").display()))?;
    Ok(path)
}

fn write_index(run_dir: &Path) -> std::io::Result<()> {
    let dir = run_dir.join("web").join("images");
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png") && !n.starts_with('.'))
        .collect();
    names.sort();
    names.reverse();
    let mut html = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>pix2pixhd training samples</title>\
         <meta http-equiv=\"refresh\" content=\"60\"></head><body>\
         <h1>Training samples</h1><p>label | generated | real, newest first</p>\n",
    );
    for n in names {
        html.push_str(&format!("<h3>{n}</h3><img src=\"images/{n}\" style=\"max-width:100%\">\n"));
    }
    html.push_str("</body></html>\n");
    let path = run_dir.join("web").join("index.html");
    crate::fs::write_bytes(&path, html.as_bytes()).map_err(std::io::Error::other)
}
