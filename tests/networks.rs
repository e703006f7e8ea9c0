//! The networks' parameter names, shapes and counts equal the reference's, and weight files load, save and fail
//! the way a user needs.

mod common;

use pix2pixhd::model::checkpoint::{CheckpointError, load_var_store};
use pix2pixhd::model::encoder::Encoder;
use pix2pixhd::model::runtime::{GeneratorModel, ModelError};
use pix2pixhd::model::{ModelConfig, Preset, param_count};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor, nn};

fn shapes(vs: &nn::VarStore) -> HashMap<String, Vec<i64>> {
    vs.variables().into_iter().map(|(k, v)| (k, v.size())).collect()
}

#[test]
fn label2city_1024p_has_the_reference_keys_shapes_and_count() {
    let g = GeneratorModel::random(&ModelConfig::preset(Preset::Label2City1024p), Device::Cpu, 0).unwrap();
    assert_eq!(g.param_count(), 182_857_059);
    let s = shapes(&g.vs);
    let table: &[(&str, &[i64])] = &[
        ("model.1.weight", &[64, 36, 7, 7]),
        ("model.4.weight", &[128, 64, 3, 3]),
        ("model.7.weight", &[256, 128, 3, 3]),
        ("model.10.weight", &[512, 256, 3, 3]),
        ("model.13.weight", &[1024, 512, 3, 3]),
        ("model.16.conv_block.1.weight", &[1024, 1024, 3, 3]),
        ("model.16.conv_block.5.bias", &[1024]),
        ("model.24.conv_block.5.weight", &[1024, 1024, 3, 3]),
        ("model.25.weight", &[1024, 512, 3, 3]),
        ("model.28.weight", &[512, 256, 3, 3]),
        ("model.31.weight", &[256, 128, 3, 3]),
        ("model.34.weight", &[128, 64, 3, 3]),
        ("model1_1.1.weight", &[32, 36, 7, 7]),
        ("model1_1.4.weight", &[64, 32, 3, 3]),
        ("model1_2.0.conv_block.1.weight", &[64, 64, 3, 3]),
        ("model1_2.2.conv_block.5.weight", &[64, 64, 3, 3]),
        ("model1_2.3.weight", &[64, 32, 3, 3]),
        ("model1_2.7.weight", &[3, 32, 7, 7]),
        ("model1_2.7.bias", &[3]),
    ];
    for (k, shape) in table {
        assert_eq!(s.get(*k).map(Vec::as_slice), Some(*shape), "{k}");
    }
    // Every conv has a bias; nothing outside the reference layout exists.
    for k in s.keys() {
        if let Some(stem) = k.strip_suffix(".weight") {
            assert!(s.contains_key(&format!("{stem}.bias")), "{k} has no bias");
        }
        assert!(k.starts_with("model.") || k.starts_with("model1_1.") || k.starts_with("model1_2."), "{k}");
    }
    assert!(!s.contains_key("model.38.weight"), "the local G's global part has no head");
    // 9 res-blocks + 3 local blocks, each with 2 convs; 1 + 4 + 4 global convs; 2 + 1 + 1 local convs.
    assert_eq!(s.len(), 2 * (2 * 12 + 9 + 4));
}

#[test]
fn label2city_512p_global_has_the_reference_count_and_head() {
    let g = GeneratorModel::random(&ModelConfig::preset(Preset::Label2City512p), Device::Cpu, 0).unwrap();
    assert_eq!(g.param_count(), 182_546_755);
    let s = shapes(&g.vs);
    assert_eq!(s["model.1.weight"], [64, 36, 7, 7]);
    assert_eq!(s["model.13.weight"], [1024, 512, 3, 3]);
    assert_eq!(s["model.38.weight"], [3, 64, 7, 7]);
}

#[test]
fn default_encoder_layout() {
    let vs = nn::VarStore::new(Device::Cpu);
    let _e = Encoder::new(&vs.root(), &ModelConfig::default());
    assert_eq!(param_count(&vs), 788_803);
    let s = shapes(&vs);
    assert_eq!(s["model.1.weight"], [16, 3, 7, 7]);
    assert_eq!(s["model.25.weight"], [32, 16, 3, 3]);
    assert_eq!(s["model.29.weight"], [3, 16, 7, 7]);
}

fn tiny() -> ModelConfig {
    ModelConfig { label_nc: 4, ngf: 4, n_downsample_global: 2, n_blocks_global: 1, ..Default::default() }
}

#[test]
fn safetensors_round_trip_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    let g = GeneratorModel::random(&tiny(), Device::Cpu, 1).unwrap();
    g.save(&path).unwrap();
    let (back, _) = GeneratorModel::load(&tiny(), &path, Device::Cpu).unwrap();
    let x = pix2pixhd::model::with_seed(0, || Tensor::randn([1, 5, 16, 16], (Kind::Float, Device::Cpu)));
    assert_eq!(g.infer(&x), back.infer(&x));
    let other = GeneratorModel::random(&tiny(), Device::Cpu, 2).unwrap();
    assert_ne!(g.infer(&x), other.infer(&x), "different seeds must give different weights");
    // Saving is deterministic, and leaves no temporary file behind.
    let again = dir.path().join("g2.safetensors");
    back.save(&again).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn instance_norm_running_stats_are_ignored_and_other_extras_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let g = GeneratorModel::random(&tiny(), Device::Cpu, 1).unwrap();
    let mut tensors: Vec<(String, Tensor)> = g.vs.variables().into_iter().collect();
    tensors.push(("model.2.running_mean".into(), Tensor::zeros([4], (Kind::Float, Device::Cpu))));
    tensors.push(("model.2.running_var".into(), Tensor::ones([4], (Kind::Float, Device::Cpu))));
    let with_stats = dir.path().join("old.safetensors");
    Tensor::write_safetensors(&tensors, &with_stats).unwrap();
    let (_, report) = GeneratorModel::load(&tiny(), &with_stats, Device::Cpu).unwrap();
    assert_eq!(report.ignored_running_stats.len(), 2);

    tensors.push(("model.99.weight".into(), Tensor::zeros([1], (Kind::Float, Device::Cpu))));
    let extra = dir.path().join("extra.safetensors");
    Tensor::write_safetensors(&tensors, &extra).unwrap();
    let err = GeneratorModel::load(&tiny(), &extra, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("unexpected") && err.contains("model.99.weight"), "{err}");
}

#[test]
fn a_wrong_configuration_lists_the_offending_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    GeneratorModel::random(&tiny(), Device::Cpu, 1).unwrap().save(&path).unwrap();
    let wider = ModelConfig { ngf: 8, ..tiny() };
    let err = GeneratorModel::load(&wider, &path, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("wrong shape") && err.contains("model.1.weight"), "{err}");
    assert!(err.contains(&path.display().to_string()), "the error names the file: {err}");
    let deeper = ModelConfig { n_blocks_global: 2, ..tiny() };
    let err = GeneratorModel::load(&deeper, &path, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("missing") && err.contains("conv_block"), "{err}");
}

fn load_err(path: &std::path::Path) -> CheckpointError {
    let vs = nn::VarStore::new(Device::Cpu);
    let _g = pix2pixhd::model::generator::Generator::new(&vs.root(), &tiny());
    load_var_store(&vs, path, |_| false).unwrap_err()
}

#[test]
fn corrupt_truncated_and_legacy_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good_st = dir.path().join("g.safetensors");
    let g = GeneratorModel::random(&tiny(), Device::Cpu, 1).unwrap();
    g.save(&good_st).unwrap();
    let bytes = std::fs::read(&good_st).unwrap();

    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(load_err(&cut), CheckpointError::Corrupt { .. }));

    // A zip-format PyTorch file cut short, and one with garbage in the middle.
    let pth = common::fixtures().join("g_global.pth");
    let pbytes = std::fs::read(&pth).unwrap();
    let cut_pth = dir.path().join("cut.pth");
    std::fs::write(&cut_pth, &pbytes[..pbytes.len() * 2 / 3]).unwrap();
    let e = load_err(&cut_pth);
    assert!(matches!(e, CheckpointError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("cut.pth"), "{e}");

    let legacy = dir.path().join("old.pth");
    std::fs::write(&legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]).unwrap();
    let e = load_err(&legacy);
    assert!(matches!(e, CheckpointError::Legacy { .. }), "{e}");
    assert!(e.to_string().contains("convert_legacy_pth.py"), "{e}");

    let empty = dir.path().join("empty.pth");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(load_err(&empty), CheckpointError::Empty { .. }));
    assert!(matches!(load_err(&dir.path().join("nope.pth")), CheckpointError::NotFound { .. }));
    let txt = dir.path().join("weights.txt");
    std::fs::write(&txt, b"hello").unwrap();
    assert!(matches!(load_err(&txt), CheckpointError::UnknownFormat { .. }));
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"PK\x03\x04 not really a zip").unwrap();
    assert!(matches!(load_err(&junk), CheckpointError::Corrupt { .. }));
}

#[test]
fn a_pytorch_state_dict_loads_into_a_run_folder_model() {
    // The PyTorch reference's g_global.pth is an OrderedDict state dict, as torch.save(net.state_dict()) writes.
    let cfg = ModelConfig { label_nc: 5, ngf: 8, n_downsample_global: 3, n_blocks_global: 2, ..Default::default() };
    let (g, report) = GeneratorModel::load(&cfg, &common::fixtures().join("g_global.pth"), Device::Cpu).unwrap();
    assert_eq!(report.loaded, 24);
    assert!(matches!(
        GeneratorModel::load(&cfg, &common::fixtures().join("g_local1.pth"), Device::Cpu),
        Err(ModelError::Checkpoint(CheckpointError::Mismatch { .. }))
    ));
    drop(g);
}

#[test]
fn a_legacy_pth_is_named_as_such_and_the_conversion_script_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (legacy, modern, converted) =
        (dir.path().join("legacy.pth"), dir.path().join("modern.pth"), dir.path().join("converted.pt"));
    // Python makes a random state dict with the tiny G's names and shapes, saved both as PyTorch < 1.6 wrote it
    // (with old InstanceNorm running statistics) and in today's zip format.
    let g = GeneratorModel::random(&tiny(), Device::Cpu, 3).unwrap();
    let spec: HashMap<String, Vec<i64>> = shapes(&g.vs);
    let make = "import sys, collections, torch, json\n\
                torch.manual_seed(0)\n\
                spec = json.loads(sys.argv[1])\n\
                sd = collections.OrderedDict((k, torch.randn(spec[k])) for k in sorted(spec))\n\
                torch.save(sd, sys.argv[3])\n\
                sd['model.2.running_mean'] = torch.zeros(4)\n\
                torch.save(sd, sys.argv[2], _use_new_zipfile_serialization=False)\n";
    let ok = std::process::Command::new(common::python())
        .args(["-c", make])
        .arg(serde_json::to_string(&spec).unwrap())
        .arg(&legacy)
        .arg(&modern)
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(matches!(load_err(&legacy), CheckpointError::Legacy { .. }));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/convert_legacy_pth.py");
    let ok = std::process::Command::new(common::python()).arg(script).arg(&legacy).arg(&converted).status().unwrap();
    assert!(ok.success());
    let (from_legacy, report) = GeneratorModel::load(&tiny(), &converted, Device::Cpu).unwrap();
    assert!(report.ignored_running_stats.is_empty(), "the script drops them");
    let (from_modern, _) = GeneratorModel::load(&tiny(), &modern, Device::Cpu).unwrap();
    let x = pix2pixhd::model::with_seed(0, || Tensor::randn([1, 5, 16, 16], (Kind::Float, Device::Cpu)));
    assert_eq!(from_legacy.infer(&x), from_modern.infer(&x));
    assert_ne!(from_legacy.infer(&x), g.infer(&x), "the weights came from the file");
}
