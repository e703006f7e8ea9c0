//! The training step learns: on two tiny scenes, a few hundred steps of the full pix2pixHD objective must bring
//! the generator's L1 distance to the real photos down to at most half of where it started.

use pix2pixhd::data::encode::{Maps, encode_input};
use pix2pixhd::model::ModelConfig;
use pix2pixhd::model::loss::GanMode;
use pix2pixhd::train::adam::Adam;
use pix2pixhd::train::nets::{Freeze, LossOptions, Nets, StepInput, train_step};
use pix2pixhd::train::pool::ImagePool;
use tch::{Device, Kind, Reduction, Tensor};

const W: usize = 64;
const H: usize = 32;

/// A scene: sky over buildings over road, with one "car" box; the photo colours each class, with a gradient.
fn scene(variant: usize) -> (Vec<u8>, Vec<u32>, Tensor) {
    let mut label = vec![0u8; W * H];
    for y in 0..H {
        for x in 0..W {
            label[y * W + x] = if y < 8 + variant * 2 {
                3 // sky
            } else if y < 20 {
                1 // building
            } else {
                2 // road
            };
            let (cx, cy) = (10 + variant * 30, 18);
            if x >= cx && x < cx + 16 && y >= cy && y < cy + 8 {
                label[y * W + x] = 4; // car
            }
        }
    }
    let colours: [[f32; 3]; 5] =
        [[0.0, 0.0, 0.0], [0.6, 0.3, 0.2], [-0.5, -0.5, -0.4], [0.2, 0.5, 0.9], [0.9, -0.8, -0.8]];
    let mut img = vec![0f32; 3 * W * H];
    for y in 0..H {
        for x in 0..W {
            let c = colours[label[y * W + x] as usize];
            for ch in 0..3 {
                img[ch * W * H + y * W + x] = (c[ch] + 0.2 * (x as f32 / W as f32 - 0.5)).clamp(-1.0, 1.0);
            }
        }
    }
    let inst = label.iter().map(|&c| c as u32).collect();
    (label, inst, Tensor::from_slice(&img).reshape([1, 3, H as i64, W as i64]))
}

#[test]
fn two_scene_overfit_halves_the_l1_error() {
    tch::set_num_threads(2);
    let cfg = ModelConfig {
        label_nc: 5,
        ngf: 16,
        n_downsample_global: 2,
        n_blocks_global: 2,
        ndf: 16,
        n_layers_d: 2,
        num_d: 2,
        ..Default::default()
    };
    let nets = Nets::new(&cfg, Device::Cpu, 1);
    let batches: Vec<StepInput> = (0..2)
        .map(|v| {
            let (label, inst, image) = scene(v);
            let maps = Maps { width: W, height: H, label: &label, inst: Some(&inst) };
            let input = encode_input(maps, &cfg, None, Device::Cpu).unwrap();
            let pool_ids = Tensor::from_slice(&inst.iter().map(|&i| i as i64).collect::<Vec<_>>())
                .reshape([1, 1, H as i64, W as i64]);
            StepInput { input, pool_ids, image, whole: None }
        })
        .collect();
    let l1 = || -> f64 {
        tch::no_grad(|| {
            batches.iter().map(|b| nets.generate(b).l1_loss(&b.image, Reduction::Mean).double_value(&[])).sum::<f64>()
                / 2.0
        })
    };
    let before = l1();
    let mut opt_g = Adam::new(nets.g_params(Freeze::default()), 2e-4, 0.5);
    let mut opt_d = Adam::new(nets.d_params(), 2e-4, 0.5);
    let mut pool = ImagePool::new(0, 0);
    let lo = LossOptions { lambda_feat: 10.0, gan_feat: true, mode: GanMode::Lsgan, lambda_l1: 0.0 };
    let mut last = Default::default();
    for step in 0..300u64 {
        last =
            train_step(&nets, None, (&mut opt_g, &mut opt_d), &mut pool, &batches[(step % 2) as usize], step, lo, None);
    }
    let after = l1();
    eprintln!("L1 before {before:.4}, after {after:.4}; last losses {last:?}");
    assert!(after <= before / 2.0, "L1 went from {before:.4} to {after:.4}");
    assert!(last.g_gan_feat > 0.0 && last.d_real > 0.0);
    let _ = Kind::Float;
}

#[test]
fn the_optional_l1_term_is_lambda_times_the_mean_absolute_error_and_off_by_default() {
    tch::set_num_threads(2);
    let cfg =
        ModelConfig { label_nc: 5, ngf: 8, n_downsample_global: 1, n_blocks_global: 1, ndf: 8, ..Default::default() };
    let nets = Nets::new(&cfg, Device::Cpu, 3);
    let (label, inst, image) = scene(0);
    let maps = Maps { width: W, height: H, label: &label, inst: Some(&inst) };
    let input = encode_input(maps, &cfg, None, Device::Cpu).unwrap();
    let pool_ids =
        Tensor::from_slice(&inst.iter().map(|&i| i as i64).collect::<Vec<_>>()).reshape([1, 1, H as i64, W as i64]);
    let b = StepInput { input, pool_ids, image, whole: None };
    let mut opt_g = Adam::new(nets.g_params(Freeze::default()), 2e-4, 0.5);
    let mut opt_d = Adam::new(nets.d_params(), 2e-4, 0.5);
    let mut pool = ImagePool::new(0, 0);
    let mut lo = LossOptions { lambda_feat: 10.0, gan_feat: true, mode: GanMode::Lsgan, lambda_l1: 0.0 };
    let off = train_step(&nets, None, (&mut opt_g, &mut opt_d), &mut pool, &b, 0, lo, None);
    assert_eq!(off.g_l1, 0.0);
    let expected = 5.0 * tch::no_grad(|| nets.generate(&b).l1_loss(&b.image, Reduction::Mean).double_value(&[]));
    lo.lambda_l1 = 5.0;
    let on = train_step(&nets, None, (&mut opt_g, &mut opt_d), &mut pool, &b, 1, lo, None);
    assert!(expected > 0.1, "{expected}");
    assert!((on.g_l1 - expected).abs() < 1e-5 * expected.max(1.0), "G_L1 {} vs 5·L1 {expected}", on.g_l1);
}
