#!/usr/bin/env bash
# Trains the bundled default model (models/default) on one GPU: the recipe of models/README.md ("Recipe"), about
# 21 minutes on an H100, sized so that the result still renders 2048x1024 in about 3 s on a 2-core CPU.
#
#   scripts/train_default_model.sh                 # on a CUDA machine, from the repository root
#   DEVICE=cpu W=256 H=128 TRAIN=6 TEST=2 ENCODE_SCENES=4 FLOOR=1 scripts/train_default_model.sh   # a quick check
#
#   START_FROM=models/default scripts/train_default_model.sh   # train on from a packed model (below)
#
# Stages (each leaves a marker in $WORK/logs/NAME.done and is skipped when run again; a training stage that was
# stopped, with Ctrl-C say, resumes from its checkpoint when the script is run again, so an interrupted run goes on
# where it stopped):
#   synth     the synthetic data twice: at a quarter of the output size (G1's scale) and at full size
#   global    G1 (a global generator, NGF*4 filters, 2 downsamplings, BLOCKS residual blocks) and the encoder E on
#             whole quarter-size frames, E looking at the photo as it is
#   local     G1 + two local enhancers on whole full-size frames, G1 and E from `global`, everything training jointly;
#             E looks at the photo shrunk 4 times, the size it learnt at in `global`; three discriminators
#   finetune  `local` trained on at half the learning rate, with G and E from `local` but a new discriminator and
#             Adam (the shipped model was made in two machine sessions and only G and E went from one to the next)
#   preview   the preview generator: `finetune`'s G1 with `global`'s output layer, trained on whole quarter-size
#             frames with `finetune`'s E fixed, so that the preview and the full model read the same styles
#             (the shipped preview then got 2,000 more iterations on a CPU: models/README.md, "Recipe")
#   encode    the style clusters (`finetune`'s E over ENCODE_SCENES training scenes at full size: all of them by
#             default, as the reference encodes its whole training set)
#   pack      float16 weights, clusters and the preview into $WORK/model (needs $PYTHON with safetensors and torch)
#             (PACK=0 skips it, for a machine with no such python: the figures are then measured on
#             $WORK/ckpt/finetune, float32, which holds the clusters too; pack it where safetensors is)
#   eval      the model card's figures on $DEVICE (EVAL=0 skips them)
#   With START_FROM=DIR, training goes on from a packed model instead (DIR as models/default is: config.json, G and E,
#   a preview/ folder with its own config and G): no `global` or `local`; `finetune` starts from DIR's G and E, with
#   DIR's discriminator where DIR has one (a latest_net_D.safetensors put there from an earlier run's checkpoint
#   folder), and `preview` from DIR's preview with `finetune`'s G1 and E. The network sizes are DIR's. With the
#   default epochs its data and training take about 8 minutes on an H100 (the recipe's rows), the figures a few more.
#
# Settings (environment variables, defaults in brackets):
#   BIN [./target/release/pix2pixhd]  WORK [runs/gpu]  DEVICE [cuda]  W, H [2048, 1024]  TRAIN, TEST [500, 50]
#   NGF [8] (the finest enhancer's filters; G1 gets NGF*4)  BLOCKS [6] (both read from START_FROM's config when set)
#   L1 [50] (--lambda-l1)  THREADS [12] (loaders)
#   epochs at the full and at the decaying learning rate: global G_N, G_D [3, 3], local L_N, L_D [3, 2],
#   finetune F_N, F_D [1, 2], preview P_N, P_D [1, 1]
#   ENCODE_SCENES [TRAIN]  BASELINE_SCENES [200, at most TRAIN] (eval-model's class-colour baseline)
#   START_FROM [unset: the whole recipe]  PACK [1]  EVAL [1]  FLOOR [5] (eval-model's texture-floor re-drawings)
#   PYTHON [python3 if it has safetensors and torch or PACK=0, else .venv/bin/python]: runs scripts/pack_model.py
set -euo pipefail
BIN=${BIN:-./target/release/pix2pixhd}
WORK=${WORK:-runs/gpu}
DEVICE=${DEVICE:-cuda}
W=${W:-2048} H=${H:-1024}
TRAIN=${TRAIN:-500} TEST=${TEST:-50}
NGF=${NGF:-8} BLOCKS=${BLOCKS:-6} L1=${L1:-50} THREADS=${THREADS:-12}
G_N=${G_N:-3} G_D=${G_D:-3} L_N=${L_N:-3} L_D=${L_D:-2} F_N=${F_N:-1} F_D=${F_D:-2} P_N=${P_N:-1} P_D=${P_D:-1}
ENCODE_SCENES=${ENCODE_SCENES:-$TRAIN}
BASELINE_SCENES=${BASELINE_SCENES:-$((TRAIN < 200 ? TRAIN : 200))}
EVAL=${EVAL:-1} FLOOR=${FLOOR:-5}
START_FROM=${START_FROM:-}
PACK=${PACK:-1}
if [ -z "${PYTHON:-}" ]; then
  PYTHON=.venv/bin/python
  if [ "$PACK" != 1 ] || python3 -c 'import safetensors.torch' 2>/dev/null; then PYTHON=python3; fi
fi
[ -x "$BIN" ] || { echo "error: $BIN not found or not executable (cargo build --release, or set BIN)"; exit 1; }
[ -f scripts/pack_model.py ] || { echo "error: run this from the repository root (scripts/pack_model.py not found)"; exit 1; }
[ "$PACK" != 1 ] || "$PYTHON" -c 'import safetensors.torch' 2>/dev/null || {
  echo "error: $PYTHON cannot import safetensors.torch (safetensors and torch), which scripts/pack_model.py needs" \
    "(.venv, which has torch: .venv/bin/pip install safetensors; or set PYTHON; or PACK=0)"
  exit 1
}
if [ -n "$START_FROM" ]; then
  # The folder must hold a whole model; the networks' sizes come from it, and anything the recipe fixes must match
  # it, or --load-pretrain would take only the tensors whose shapes match and train the rest from scratch.
  read -r NGF BLOCKS < <("$PYTHON" - "$START_FROM" <<'PY'
import json, os, sys
d = sys.argv[1]
for f in ["config.json", "latest_net_G.safetensors", "latest_net_E.safetensors", "preview/config.json",
          "preview/latest_net_G.safetensors"]:
    if not os.path.isfile(os.path.join(d, f)):
        sys.exit(f"error: START_FROM={d} has no {f} (a model folder such as models/default)")
cfg = json.load(open(os.path.join(d, "config.json")))
pv = json.load(open(os.path.join(d, "preview", "config.json")))
want = {"net_g": "local", "n_downsample_global": 2, "n_local_enhancers": 2, "n_blocks_local": 3,
        "encoder_downsample": 4, "instance_feat": True, "num_d": 3, "ndf": 32, "n_layers_d": 3}
bad = [f"{k} is {cfg.get(k)!r}, the recipe's is {v!r}" for k, v in want.items() if cfg.get(k) != v]
g1 = {"net_g": "global", "ngf": 4 * cfg["ngf"], "n_blocks_global": cfg["n_blocks_global"]}
if any(pv.get(k) != v for k, v in g1.items()):
    bad.append(f"preview/config.json is not a global generator with ngf {4 * cfg['ngf']} and "
               f"{cfg['n_blocks_global']} blocks (its G1)")
if bad:
    sys.exit(f"error: START_FROM={d} was not made by this recipe: " + "; ".join(bad))
print(cfg["ngf"], cfg["n_blocks_global"])
PY
  ) || exit 1
  echo "training on from $START_FROM: NGF=$NGF BLOCKS=$BLOCKS (its config.json)"
fi
QW=$((W / 4)) QH=$((H / 4))
G1NGF=$((NGF * 4))
CK="$WORK/ckpt"
mkdir -p "$WORK/logs" "$CK"
TIMES="$WORK/timings.txt"
echo "# $(date -u +%FT%TZ) W=$W H=$H TRAIN=$TRAIN NGF=$NGF BLOCKS=$BLOCKS L1=$L1 DEVICE=$DEVICE" >>"$TIMES"

# stage NAME COMMAND...: runs COMMAND unless an earlier run finished it, logs it and records how long it took.
stage() {
  local name=$1
  shift
  local marker="$WORK/logs/$name.done"
  if [ -e "$marker" ]; then
    echo "== $name: done already ($marker)"
    return
  fi
  echo "== $name: $*"
  local t0=$SECONDS
  "$@" 2>&1 | tee "$WORK/logs/$name.log"
  echo "$name $((SECONDS - t0)) s" | tee -a "$TIMES"
  touch "$marker"
}

COMMON=(--instance-feat --no-vgg-loss --ndf 32 --lambda-l1 "$L1" --resize-or-crop none --n-threads "$THREADS"
  --device "$DEVICE" --checkpoints-dir "$CK" --print-freq 100 --save-latest-freq 500 --quiet)
G1=(--ngf "$G1NGF" --n-downsample-global 2 --n-blocks-global "$BLOCKS")
LOCAL=(--net-g local --ngf "$NGF" --n-downsample-global 2 --n-blocks-global "$BLOCKS" --n-local-enhancers 2
  --n-blocks-local 3 --encoder-downsample 4 --num-d 3)

# G and E of a run, without its discriminator and optimiser (what the finetune stage starts from).
g_and_e() {
  mkdir -p "$2"
  cp "$1/config.json" "$1/latest_net_G.safetensors" "$1/latest_net_E.safetensors" "$2/"
}

# train_to_end RUN_NAME TRAIN_ARGS...: `train` (resuming RUN_NAME if it has a checkpoint) that counts as done only
# when the run's state says every epoch ran; `train` also exits 0 when stopped early with its checkpoint saved.
train_to_end() {
  local dir="$CK/$1"
  shift
  "$BIN" train --continue-train "$@"
  "$PYTHON" - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
state = json.load(open(os.path.join(d, "latest_state.json")))
opts = json.load(open(os.path.join(d, "train_options.json")))
if state["epoch"] <= opts["niter"] + opts["niter_decay"]:
    sys.exit(f"{d}: stopped at epoch {state['epoch']} step {state['total_steps']}; run this script again to resume")
PY
}

stage synth_quarter \
  "$BIN" synth --out "$WORK/data_q" --train "$TRAIN" --test "$TEST" --width "$QW" --height "$QH" --quiet --force
stage synth_full \
  "$BIN" synth --out "$WORK/data_full" --train "$TRAIN" --test "$TEST" --width "$W" --height "$H" --quiet --force
if [ -n "$START_FROM" ]; then
  # Train on from a packed model: its G and E (float16 on disk, loaded into float32) start `finetune`, its preview
  # starts `preview`; the other recipe stages are not run.
  FT_FROM=$START_FROM PV_FROM=$START_FROM/preview
else
  stage global train_to_end global --dataroot "$WORK/data_q" --name global --net-g global "${G1[@]}" \
    --niter "$G_N" --niter-decay "$G_D" "${COMMON[@]}"
  stage local train_to_end local --dataroot "$WORK/data_full" --name local "${LOCAL[@]}" \
    --load-pretrain "$CK/global" --niter "$L_N" --niter-decay "$L_D" "${COMMON[@]}"
  stage local_g_and_e g_and_e "$CK/local" "$CK/local_g_and_e"
  FT_FROM=$CK/local_g_and_e PV_FROM=$CK/global
fi
stage finetune train_to_end finetune --dataroot "$WORK/data_full" --name finetune "${LOCAL[@]}" \
  --load-pretrain "$FT_FROM" --lr 0.0001 --niter "$F_N" --niter-decay "$F_D" "${COMMON[@]}"
stage preview train_to_end preview --dataroot "$WORK/data_q" --name preview --net-g global "${G1[@]}" \
  --load-pretrain "$PV_FROM" --load-pretrain "$CK/finetune" --freeze-encoder --lr 0.0001 \
  --niter "$P_N" --niter-decay "$P_D" "${COMMON[@]}"
stage encode "$BIN" encode --model "$CK/finetune" --dataroot "$WORK/data_full" --max-dataset-size "$ENCODE_SCENES" \
  --resize-or-crop none --device "$DEVICE"
if [ "$PACK" = 1 ]; then
  stage pack "$PYTHON" scripts/pack_model.py "$CK/finetune" "$WORK/model" --preview "$CK/preview"
  M="$WORK/model"
else
  M="$CK/finetune"  # float32, with the clusters `encode` wrote; pack it elsewhere later
fi

if [ "$EVAL" = 1 ]; then
  stage eval_model "$BIN" eval-model --model "$M" --dataroot "$WORK/data_full" --scenes "$TEST" \
    --train-scenes "$BASELINE_SCENES" --texture-floor "$FLOOR" --sheet "$M/contact_sheet.png" --json "$M/eval.json" \
    --device "$DEVICE"
  stage eval_styles "$BIN" eval-styles --model "$M" --dataroot "$WORK/data_full" --max-scenes "$TEST" --device "$DEVICE"
  stage bench "$BIN" bench --model "$M" --width "$W" --height "$H" --device "$DEVICE" --iters 3 --no-pytorch
fi
echo "model: $M   timings: $TIMES   logs: $WORK/logs/"
