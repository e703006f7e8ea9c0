//! Numerical parity with the independent PyTorch reference (tests/reference/reference.py): the same weights,
//! loaded from PyTorch `.pth` state dicts, must give the same outputs within 1e-4.

mod common;

use common::{assert_close, fixtures, load_io};
use pix2pixhd::data::encode::{Maps, encode_input};
use pix2pixhd::model::checkpoint::load_var_store;
use pix2pixhd::model::discriminator::MultiscaleDiscriminator;
use pix2pixhd::model::encoder::Encoder;
use pix2pixhd::model::loss::{GanMode, feature_matching, gan_loss, vgg_loss};
use pix2pixhd::model::runtime::GeneratorModel;
use pix2pixhd::model::vgg::Vgg19;
use pix2pixhd::model::{ModelConfig, NetG};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor, nn};

/// The fixtures' generators take 6 input channels: 5 one-hot classes + the boundary map.
fn small_g(net_g: NetG, ngf: i64, n_down: i64, n_blocks: i64, k: i64, n_blocks_local: i64) -> ModelConfig {
    ModelConfig {
        label_nc: 5,
        net_g,
        ngf,
        n_downsample_global: n_down,
        n_blocks_global: n_blocks,
        n_local_enhancers: k,
        n_blocks_local,
        ..Default::default()
    }
}

fn check_generator(name: &str, cfg: ModelConfig) {
    let (g, report) = GeneratorModel::load(&cfg, &fixtures().join(format!("{name}.pth")), Device::Cpu).unwrap();
    assert!(report.loaded > 0);
    let io = load_io(&format!("{name}.io.pt"));
    assert_close(name, &g.infer(&io["input"]), &io["output"]);
}

#[test]
fn global_generator_matches_pytorch() {
    check_generator("g_global", small_g(NetG::Global, 8, 3, 2, 1, 3));
}

#[test]
fn local_enhancer_with_one_enhancer_matches_pytorch() {
    check_generator("g_local1", small_g(NetG::Local, 4, 2, 2, 1, 2));
}

#[test]
fn local_enhancer_with_two_enhancers_matches_pytorch() {
    check_generator("g_local2", small_g(NetG::Local, 4, 2, 2, 2, 2));
}

#[test]
fn encoder_and_instance_pooling_match_pytorch() {
    let cfg = ModelConfig { feat_num: 3, nef: 4, n_downsample_e: 3, ..Default::default() };
    let vs = nn::VarStore::new(Device::Cpu);
    let e = Encoder::new(&vs.root(), &cfg);
    load_var_store(&vs, &fixtures().join("encoder.pth"), |_| false).unwrap();
    let io = load_io("encoder.io.pt");
    tch::no_grad(|| {
        assert_close("encoder raw", &e.raw(&io["input"]), &io["raw"]);
        let pooled = e.forward(&io["input"], &io["inst"]);
        assert_close("encoder pooled", &pooled, &io["output"]);
        // Pooling must have made each (item, id) region constant, and not merged items.
        assert!(pooled.ne_tensor(&io["raw"]).any().int64_value(&[]) == 1);
    });
}

fn check_discriminator(name: &str, d: &MultiscaleDiscriminator, vs: &nn::VarStore, blocks: usize) {
    load_var_store(vs, &fixtures().join(format!("{name}.pth")), |_| false).unwrap();
    let io = load_io(&format!("{name}.io.pt"));
    let out = tch::no_grad(|| d.forward(&io["input"]));
    let mut compared = 0;
    for (i, scale) in out.iter().enumerate() {
        assert_eq!(scale.len(), blocks, "{name}: scale {i} returned {} outputs", scale.len());
        for (j, t) in scale.iter().enumerate() {
            assert_close(&format!("{name} out.{i}.{j}"), t, &io[&format!("out.{i}.{j}")]);
            compared += 1;
        }
    }
    let expected = io.keys().filter(|k| k.starts_with("out.")).count();
    assert_eq!(compared, expected, "{name}: every reference output compared");
}

#[test]
fn multiscale_discriminator_with_features_matches_pytorch() {
    let vs = nn::VarStore::new(Device::Cpu);
    let d = MultiscaleDiscriminator::new(&vs.root(), 7, 8, 3, 3, true);
    check_discriminator("d_multi", &d, &vs, 5);
}

#[test]
fn flat_multiscale_discriminator_matches_pytorch() {
    let vs = nn::VarStore::new(Device::Cpu);
    let d = MultiscaleDiscriminator::new(&vs.root(), 7, 8, 2, 2, false);
    check_discriminator("d_flat", &d, &vs, 1);
}

fn nested(io: &HashMap<String, Tensor>, prefix: &str) -> Vec<Vec<Tensor>> {
    (0..)
        .map_while(|i| {
            let scale: Vec<Tensor> =
                (0..).map_while(|j| io.get(&format!("{prefix}.{i}.{j}")).map(|t| t.shallow_clone())).collect();
            (!scale.is_empty()).then_some(scale)
        })
        .collect()
}

#[test]
fn losses_match_pytorch() {
    let io = load_io("losses.io.pt");
    let (fake, real) = (nested(&io, "fake"), nested(&io, "real"));
    assert_eq!(fake.len(), 2);
    let scalar = |t: &Tensor| t.reshape([1]);
    let cases = [
        ("lsgan real", gan_loss(&fake, true, GanMode::Lsgan), "loss.gan_lsgan_true"),
        ("lsgan fake", gan_loss(&fake, false, GanMode::Lsgan), "loss.gan_lsgan_false"),
        // The reference's BCE works on sigmoid outputs (sfake = sigmoid(fake)); ours takes the logits.
        ("bce real", gan_loss(&fake, true, GanMode::Bce), "loss.gan_bce_true"),
        ("bce fake", gan_loss(&fake, false, GanMode::Bce), "loss.gan_bce_false"),
        ("feature matching", feature_matching(&fake, &real, 10.0), "loss.feat"),
    ];
    for (what, got, key) in cases {
        assert_close(what, &scalar(&got), &scalar(&io[key]));
    }

    let vgg = Vgg19::load(&fixtures().join("vgg19.pth"), Device::Cpu).unwrap();
    tch::no_grad(|| {
        let feats = vgg.slices(&io["vgg.x"]);
        assert_eq!(feats.len(), 5);
        for (k, f) in feats.iter().enumerate() {
            assert_close(&format!("vgg slice {k}"), f, &io[&format!("vgg.feat.{k}")]);
        }
        let l = vgg_loss(&vgg, &io["vgg.x"], &io["vgg.y"]);
        assert_close("vgg loss", &scalar(&l), &scalar(&io["loss.vgg"]));
    });
}

#[test]
fn input_encoding_matches_pytorch() {
    let io = load_io("encode.io.pt");
    let (h, w) = (io["label"].size()[2] as usize, io["label"].size()[3] as usize);
    let label: Vec<u8> = Vec::try_from(io["label"].flatten(0, -1)).unwrap();
    let inst: Vec<u32> =
        Vec::<i64>::try_from(io["inst"].flatten(0, -1)).unwrap().into_iter().map(|v| v as u32).collect();
    let maps = Maps { width: w, height: h, label: &label, inst: Some(&inst) };
    let cfg = ModelConfig { label_nc: 10, ..Default::default() };
    let x = encode_input(maps, &cfg, None, Device::Cpu).unwrap();
    assert_eq!(x.kind(), Kind::Float);
    assert_eq!(x, io["encoded"]);
    let cfg_feat = ModelConfig { instance_feat: true, ..cfg };
    let xf = encode_input(maps, &cfg_feat, Some(&io["feat"]), Device::Cpu).unwrap();
    assert_eq!(xf, io["encoded_with_feat"]);
}
