//! `pix2pixhd train` end to end on a tiny data set: the run folder's contents, exact resume, and clear refusals.

mod common;

use clap::Parser;
use common::write_dataset;
use pix2pixhd::cmd::train::{TrainArgs, run};
use pix2pixhd::train::run::{STATE_FILE, TrainState};
use std::path::{Path, PathBuf};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TrainArgs,
}

fn args(data: &Path, ckpt: &Path, name: &str, extra: &[&str]) -> TrainArgs {
    let mut v: Vec<String> = [
        "train",
        "--dataroot",
        data.to_str().unwrap(),
        "--checkpoints-dir",
        ckpt.to_str().unwrap(),
        "--name",
        name,
        "--niter",
        "2",
        "--niter-decay",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--display-freq",
        "3",
        "--print-freq",
        "1",
        "--save-latest-freq",
        "100",
        "--n-threads",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(common::TINY_MODEL_FLAGS.iter().chain(extra).map(|s| s.to_string()));
    Cli::parse_from(v).args
}

/// A temporary folder holding the tiny data set in `data/`, and the path `ckpt/` beside it for run folders.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
    let ckpt = tmp.path().join("ckpt");
    (tmp, data, ckpt)
}

/// The error of a run that must be refused.
fn refused(data: &Path, ckpt: &Path, name: &str, extra: &[&str]) -> String {
    run(&args(data, ckpt, name, extra)).unwrap_err().to_string()
}

/// The tensors of network `net` (G, D, E) in a run folder's latest checkpoint, by name.
fn read(dir: &Path, net: &str) -> std::collections::HashMap<String, tch::Tensor> {
    pix2pixhd::model::checkpoint::read_tensors(&dir.join(format!("latest_net_{net}.safetensors")))
        .unwrap()
        .into_iter()
        .collect()
}

fn state(dir: &Path) -> TrainState {
    serde_json::from_str(&std::fs::read_to_string(dir.join(STATE_FILE)).unwrap()).unwrap()
}

#[test]
fn a_run_folder_has_config_checkpoints_logs_and_samples() {
    let (_tmp, data, ckpt) = setup();
    run(&args(&data, &ckpt, "full", &[])).unwrap();
    let dir = ckpt.join("full");
    for f in [
        "config.json",
        "train_options.json",
        "latest_net_G.safetensors",
        "latest_net_D.safetensors",
        "latest_optim.safetensors",
        STATE_FILE,
        "loss_log.jsonl",
        "web/index.html",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let st = state(&dir);
    assert_eq!((st.epoch, st.epoch_iter, st.total_steps), (5, 0, 12), "4 epochs of 3 batches");
    let log = std::fs::read_to_string(dir.join("loss_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 12);
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    for k in ["G_GAN", "G_GAN_Feat", "G_VGG", "D_real", "D_fake", "lr", "sec_per_iter"] {
        assert!(first.get(k).is_some(), "log line lacks {k}: {first}");
    }
    // The lr decays linearly over the last two epochs: epoch 3 runs at lr0, epoch 4 at lr0/2.
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert!((last["lr"].as_f64().unwrap() - 0.0001).abs() < 1e-12, "{last}");
    let samples = std::fs::read_dir(dir.join("web/images")).unwrap().count();
    assert_eq!(samples, 4, "a sample every 3 iterations");
    // The folder is a model folder: the generator loads from it.
    let m = pix2pixhd::model::runtime::ResolvedModel::open(&dir).unwrap();
    pix2pixhd::model::runtime::GeneratorModel::load(&m.cfg, m.files.g_weights.as_ref().unwrap(), tch::Device::Cpu)
        .unwrap();
    // Starting again over a finished run is refused, naming the way to resume.
    let err = refused(&data, &ckpt, "full", &[]);
    assert!(err.contains("--continue-train"), "{err}");
}

#[test]
fn resuming_gives_the_same_weights_as_an_uninterrupted_run() {
    let (_tmp, data, ckpt) = setup();
    // 8 steps straight, versus 4 steps, stop, resume in the middle of epoch 2, 4 more. The pool and instance
    // features are on so that every piece of saved state matters.
    let extra = ["--pool-size", "2", "--instance-feat", "--nef", "4", "--n-downsample-e", "2"];
    let mut a = args(&data, &ckpt, "straight", &extra);
    a.max_steps = Some(8);
    run(&a).unwrap();
    let mut b = args(&data, &ckpt, "resumed", &extra);
    b.max_steps = Some(4);
    run(&b).unwrap();
    assert_eq!(state(&ckpt.join("resumed")).epoch_iter, 1);
    // Resuming needs only the run folder: the data set and the options are the run's own.
    let c = ckpt.to_str().unwrap();
    let resume =
        ["train", "--checkpoints-dir", c, "--name", "resumed", "--continue-train", "--quiet", "--n-threads", "2"];
    let mut b = Cli::try_parse_from(resume).unwrap().args;
    assert!(b.dataroot.is_none());
    b.max_steps = Some(8);
    run(&b).unwrap();
    assert_eq!(state(&ckpt.join("straight")), state(&ckpt.join("resumed")));
    for f in
        ["latest_net_G.safetensors", "latest_net_D.safetensors", "latest_net_E.safetensors", "latest_optim.safetensors"]
    {
        let x = std::fs::read(ckpt.join("straight").join(f)).unwrap();
        let y = std::fs::read(ckpt.join("resumed").join(f)).unwrap();
        assert!(x == y, "{f} differs after resuming");
    }
}

#[test]
fn a_new_run_needs_a_dataroot() {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().to_str().unwrap();
    let err = Cli::try_parse_from(["train", "--checkpoints-dir", c, "--name", "x"]).err().unwrap().to_string();
    assert!(err.contains("--dataroot"), "{err}");
    // --continue-train over a folder with nothing to resume is refused: it names the folder and how to start one.
    let a = Cli::try_parse_from(["train", "--checkpoints-dir", c, "--name", "x", "--continue-train"]).unwrap().args;
    let err = run(&a).unwrap_err().to_string();
    assert!(err.contains("--dataroot") && err.contains("no checkpoint") && err.contains(c), "{err}");
}

#[test]
fn continue_train_without_a_saved_run_is_refused_even_with_the_data() {
    let (_tmp, data, ckpt) = setup();
    let err = refused(&data, &ckpt, "none", &["--continue-train"]);
    assert!(err.contains("no checkpoint") && err.contains("none"), "{err}");
    assert!(!ckpt.join("none").exists(), "a refused run makes no folder");
}

#[test]
fn numeric_options_no_run_can_use_are_refused_by_name_before_a_folder_is_made() {
    let (_tmp, data, ckpt) = setup();
    for (flag, value, want) in [
        ("--lr", "NaN", "--lr NaN"),
        ("--lr", "-0.1", "--lr -0.1"),
        ("--lr", "inf", "--lr inf"),
        ("--beta1", "1", "--beta1 1"),
        ("--lambda-feat", "-1", "--lambda-feat -1"),
        ("--lambda-l1", "NaN", "--lambda-l1 NaN"),
        ("--batch-size", "0", "--batch-size 0"),
        ("--fine-size", "0", "--fine-size 0"),
    ] {
        let arg = format!("{flag}={value}");
        let err = refused(&data, &ckpt, "bad", &[&arg]);
        assert!(err.contains(want), "{flag} {value}: {err}");
        assert!(!ckpt.join("bad").exists(), "{flag} {value}: the refused run left a folder");
    }
}

#[test]
fn a_run_that_fails_before_its_first_checkpoint_leaves_no_folder() {
    let (_tmp, data, ckpt) = setup();
    let err = refused(&data, &ckpt, "pre", &["--load-pretrain", "/nonexistent/run"]);
    assert!(err.contains("/nonexistent/run"), "{err}");
    assert!(!ckpt.join("pre").exists());
    // A photo that cannot be decoded fails the first batch, after the folder was made: it is removed again.
    let photo = std::fs::read_dir(data.join("train_img")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(&photo, b"not a png").unwrap();
    let mut a = args(&data, &ckpt, "broken", &["--serial-batches"]);
    a.max_steps = Some(4);
    let err = format!("{:#}", run(&a).unwrap_err());
    assert!(err.contains(&photo.file_name().unwrap().to_string_lossy().to_string()), "{err}");
    assert!(!ckpt.join("broken").exists(), "the failed run left {:?}", std::fs::read_dir(ckpt.join("broken")).ok());
}

#[test]
fn missing_vgg_weights_and_bad_data_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_dataset(&data);
    let mut a = args(&data, tmp.path(), "vgg", &[]);
    a.no_vgg_loss = false;
    let err = run(&a).unwrap_err().to_string();
    assert!(err.contains("--vgg-weights"), "{err}");
    let err = run(&args(&tmp.path().join("nowhere"), tmp.path(), "x", &[])).unwrap_err();
    assert!(format!("{err:#}").contains("nowhere"), "{err:#}");
}

#[test]
fn a_local_run_starts_from_a_global_run_and_keeps_it_fixed_at_first() {
    let (_tmp, data, ckpt) = setup();
    // G1 alone with 16 filters, then G1 + G2 with ngf 8 (its global part has 8·2 = 16 filters: the same layers).
    let mut g = args(&data, &ckpt, "global", &[]);
    g.model.flags.g.ngf = Some(16);
    g.max_steps = Some(3);
    run(&g).unwrap();
    let pre = ckpt.join("global");
    let mut l = args(
        &data,
        &ckpt,
        "local",
        &["--net-g", "local", "--load-pretrain", pre.to_str().unwrap(), "--niter-fix-global", "1"],
    );
    l.max_steps = Some(2);
    run(&l).unwrap();
    let global = read(&pre, "G");
    let local = read(&ckpt.join("local"), "G");
    let shared: Vec<&String> = local.keys().filter(|k| k.starts_with("model.")).collect();
    assert!(shared.len() >= 10, "{shared:?}");
    for k in shared {
        assert_eq!(local[k], global[k], "{k}: taken from the global run and not trained while fixed");
    }
    assert!(local.keys().any(|k| k.starts_with("model1_")));
}

#[test]
fn freeze_global_trains_both_enhancers_and_the_encoder_but_never_g1() {
    let (_tmp, data, ckpt) = setup();
    // A global run with 16 filters, then two enhancers with ngf 4 on top (G1 has 4·2² = 16 filters).
    let mut g = args(&data, &ckpt, "global", &["--instance-feat"]);
    g.model.flags.g.ngf = Some(16);
    g.max_steps = Some(2);
    run(&g).unwrap();
    let pre = ckpt.join("global");
    let extra = ["--net-g", "local", "--n-local-enhancers", "2", "--instance-feat", "--load-pretrain"];
    let mut extra: Vec<&str> = extra.to_vec();
    extra.extend([pre.to_str().unwrap(), "--freeze-global"]);
    let mut l = args(&data, &ckpt, "enh", &extra);
    l.model.flags.g.ngf = Some(4);
    l.max_steps = Some(3);
    run(&l).unwrap();
    let (global, local) = (read(&pre, "G"), read(&ckpt.join("enh"), "G"));
    let g1: Vec<&String> = local.keys().filter(|k| k.starts_with("model.")).collect();
    assert!(g1.len() >= 10, "{g1:?}");
    for k in g1 {
        assert_eq!(local[k], global[k], "{k}: G1 stays as loaded for the whole run");
    }
    // The enhancers and E did train: a second run from the same start with lr 0 keeps the initial values.
    let mut still = args(&data, &ckpt, "still", &extra);
    still.model.flags.g.ngf = Some(4);
    still.max_steps = Some(3);
    still.lr = 0.0;
    run(&still).unwrap();
    let start = read(&ckpt.join("still"), "G");
    for prefix in ["model1_", "model2_"] {
        assert!(local.iter().any(|(k, t)| k.starts_with(prefix) && *t != start[k]), "{prefix}: the enhancer trains");
    }
    let (e_end, e_pre) = (read(&ckpt.join("enh"), "E"), read(&pre, "E"));
    assert!(e_end.iter().any(|(k, t)| *t != e_pre[k]), "E trains");
    // Without a run to take G1 from, or on a global generator, it is refused.
    let err = refused(&data, &ckpt, "bad", &["--net-g", "local", "--freeze-global"]);
    assert!(err.contains("--freeze-global"), "{err}");
    let err = refused(&data, &ckpt, "bad2", &["--load-pretrain", pre.to_str().unwrap(), "--freeze-global"]);
    assert!(err.contains("--net-g local"), "{err}");
}

#[test]
fn freeze_encoder_keeps_e_as_loaded_and_the_encoder_scale_is_saved_with_the_model() {
    // The frozen run trains on 32×32 crops of the 64×32 maps with E on the whole frames (--encoder-whole-frame).
    let (_tmp, data, ckpt) = setup();
    let mut g = args(&data, &ckpt, "global", &["--instance-feat", "--n-downsample-e", "2"]);
    g.max_steps = Some(2);
    run(&g).unwrap();
    let pre = ckpt.join("global");
    let extra = ["--instance-feat", "--n-downsample-e", "2", "--encoder-downsample", "2", "--freeze-encoder"];
    let mut extra: Vec<&str> = extra.to_vec();
    extra.push("--encoder-whole-frame");
    extra.extend(["--load-pretrain", pre.to_str().unwrap()]);
    let mut f = args(&data, &ckpt, "frozen", &extra);
    (f.resize_or_crop, f.fine_size) = (pix2pixhd::data::Mode::Crop, 32);
    f.max_steps = Some(3);
    run(&f).unwrap();
    let dir = ckpt.join("frozen");
    let (e_end, e_pre) = (read(&dir, "E"), read(&pre, "E"));
    assert_eq!(e_end.len(), e_pre.len());
    for (k, t) in &e_end {
        assert_eq!(*t, e_pre[k], "{k}: E stays as loaded");
    }
    let (g_end, g_pre) = (read(&dir, "G"), read(&pre, "G"));
    assert!(g_end.iter().any(|(k, t)| *t != g_pre[k]), "G trains");
    let cfg = pix2pixhd::model::ModelConfig::load(&dir.join("config.json")).unwrap();
    assert_eq!(cfg.encoder_downsample, 2);
    let opts = std::fs::read_to_string(dir.join("train_options.json")).unwrap();
    assert!(opts.contains("\"freeze_encoder\": true") && opts.contains("\"encoder_whole_frame\": true"), "{opts}");
    // Without a run to take E from, or without an encoder, it is refused.
    let err = refused(&data, &ckpt, "bad", &["--instance-feat", "--freeze-encoder"]);
    assert!(err.contains("--freeze-encoder"), "{err}");
    let err = refused(&data, &ckpt, "bad2", &["--load-pretrain", pre.to_str().unwrap(), "--freeze-encoder"]);
    assert!(err.contains("--instance-feat"), "{err}");
    // Whole frames for E need an encoder and crops.
    let err = refused(&data, &ckpt, "bad3", &["--instance-feat", "--encoder-whole-frame"]);
    assert!(err.contains("--encoder-whole-frame") && err.contains("None"), "{err}");
}

#[test]
fn global_whole_frame_trains_g1_and_the_enhancers_on_crops_of_whole_frames() {
    // 32×32 crops of the 64×32 maps: G1 (and E) see the whole frames, the two enhancers the crops.
    let (_tmp, data, ckpt) = setup();
    let extra = ["--net-g", "local", "--n-local-enhancers", "2", "--instance-feat", "--global-whole-frame"];
    let mut a = args(&data, &ckpt, "gwf", &extra);
    (a.model.flags.g.ngf, a.resize_or_crop, a.fine_size) = (Some(4), pix2pixhd::data::Mode::Crop, 32);
    a.max_steps = Some(3);
    run(&a).unwrap();
    let dir = ckpt.join("gwf");
    let mut still = args(&data, &ckpt, "still", &extra);
    (still.model.flags.g.ngf, still.resize_or_crop, still.fine_size, still.lr) =
        (Some(4), pix2pixhd::data::Mode::Crop, 32, 0.0);
    still.max_steps = Some(3);
    run(&still).unwrap();
    let (trained, start) = (read(&dir, "G"), read(&ckpt.join("still"), "G"));
    for prefix in ["model.", "model1_", "model2_"] {
        assert!(trained.iter().any(|(k, t)| k.starts_with(prefix) && *t != start[k]), "{prefix} trains");
    }
    let opts = std::fs::read_to_string(dir.join("train_options.json")).unwrap();
    assert!(opts.contains("\"global_whole_frame\": true"), "{opts}");
    let log = std::fs::read_to_string(dir.join("loss_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    assert!(!log.contains("NaN") && !log.contains("null"), "{log}");
    // A global generator has no enhancers to crop for, and whole frames need crops.
    let mut bad = args(&data, &ckpt, "bad", &["--global-whole-frame"]);
    (bad.resize_or_crop, bad.fine_size) = (pix2pixhd::data::Mode::Crop, 32);
    let err = run(&bad).unwrap_err().to_string();
    assert!(err.contains("--global-whole-frame") && err.contains("Global"), "{err}");
    let err = refused(&data, &ckpt, "bad2", &["--net-g", "local", "--global-whole-frame"]);
    assert!(err.contains("--global-whole-frame") && err.contains("None"), "{err}");
}

#[test]
fn several_pretrained_folders_fill_in_order_and_a_fresh_encoder_is_not_taken() {
    let (_tmp, data, ckpt) = setup();
    let feat = ["--instance-feat"];
    for (name, seed) in [("a", 1u64), ("b", 2)] {
        let mut a = args(&data, &ckpt, name, &feat);
        a.seed = seed;
        a.max_steps = Some(1);
        run(&a).unwrap();
    }
    let (pa, pb) = (ckpt.join("a"), ckpt.join("b"));
    // lr 0: the one step changes nothing, so the files show exactly what was loaded.
    let start = |name: &str, fresh: bool| {
        let mut extra = vec!["--load-pretrain", pa.to_str().unwrap(), "--load-pretrain", pb.to_str().unwrap()];
        extra.extend(feat);
        if fresh {
            extra.push("--fresh-encoder");
        }
        let mut a = args(&data, &ckpt, name, &extra);
        a.lr = 0.0;
        a.seed = 3;
        a.max_steps = Some(1);
        run(&a).unwrap();
    };
    start("kept", false);
    start("fresh", true);
    let same = |x: &std::collections::HashMap<String, tch::Tensor>,
                y: &std::collections::HashMap<String, tch::Tensor>| {
        x.len() == y.len() && x.iter().all(|(k, t)| y.get(k).is_some_and(|u| u == t))
    };
    for net in ["G", "D", "E"] {
        assert!(!same(&read(&pa, net), &read(&pb, net)), "{net}: the two runs differ");
        assert!(same(&read(&ckpt.join("kept"), net), &read(&pb, net)), "{net}: the later folder wins");
    }
    for net in ["G", "D"] {
        assert!(same(&read(&ckpt.join("fresh"), net), &read(&pb, net)), "{net}");
    }
    let fresh_e = read(&ckpt.join("fresh"), "E");
    assert!(!same(&fresh_e, &read(&pa, "E")) && !same(&fresh_e, &read(&pb, "E")), "E starts from its initialisation");
    let err = refused(&data, &ckpt, "bad", &["--load-pretrain", "/no/such/run"]);
    assert!(err.contains("/no/such/run"), "{err}");
}
