#!/usr/bin/env bash
# Trains the bundled default model (models/default) on one GPU: the recipe of models/README.md ("Recipe"), about
# 21 minutes on an H100, sized so that the result still renders 2048x1024 in about 3 s on a 2-core CPU.
#
#   scripts/train_default_model.sh                 # on a CUDA machine, from the repository root
#   DEVICE=cpu W=256 H=128 TRAIN=6 TEST=2 ENCODE_SCENES=4 FLOOR=1 scripts/train_default_model.sh   # a quick check
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
#   pack      float16 weights, clusters and the preview into $WORK/model (needs $PYTHON with safetensors)
#   eval      the model card's figures on $DEVICE (EVAL=0 skips them)
#
# Settings (environment variables, defaults in brackets):
#   BIN [./target/release/pix2pixhd]  WORK [runs/gpu]  DEVICE [cuda]  W, H [2048, 1024]  TRAIN, TEST [500, 50]
#   NGF [8] (the finest enhancer's filters; G1 gets NGF*4)  BLOCKS [6]  L1 [50] (--lambda-l1)  THREADS [12] (loaders)
#   epochs at the full and at the decaying learning rate: global G_N, G_D [3, 3], local L_N, L_D [3, 2],
#   finetune F_N, F_D [1, 2], preview P_N, P_D [1, 1]
#   ENCODE_SCENES [TRAIN]  BASELINE_SCENES [200, at most TRAIN] (eval-model's class-colour baseline)
#   EVAL [1]  FLOOR [5] (eval-model's texture-floor re-drawings)
#   PYTHON [python3, else .venv/bin/python]: runs scripts/pack_model.py
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
if [ -z "${PYTHON:-}" ]; then
  if python3 -c 'import safetensors' 2>/dev/null; then PYTHON=python3; else PYTHON=.venv/bin/python; fi
fi
[ -x "$BIN" ] || { echo "error: $BIN not found or not executable (cargo build --release, or set BIN)"; exit 1; }
[ -f scripts/pack_model.py ] || { echo "error: run this from the repository root (scripts/pack_model.py not found)"; exit 1; }
"$PYTHON" -c 'import safetensors' 2>/dev/null || {
  echo "error: $PYTHON cannot import safetensors, which scripts/pack_model.py needs (.venv/bin/pip install safetensors)"
  exit 1
}
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
stage global train_to_end global --dataroot "$WORK/data_q" --name global --net-g global "${G1[@]}" \
  --niter "$G_N" --niter-decay "$G_D" "${COMMON[@]}"
stage local train_to_end local --dataroot "$WORK/data_full" --name local "${LOCAL[@]}" --load-pretrain "$CK/global" \
  --niter "$L_N" --niter-decay "$L_D" "${COMMON[@]}"
stage local_g_and_e g_and_e "$CK/local" "$CK/local_g_and_e"
stage finetune train_to_end finetune --dataroot "$WORK/data_full" --name finetune "${LOCAL[@]}" \
  --load-pretrain "$CK/local_g_and_e" --lr 0.0001 --niter "$F_N" --niter-decay "$F_D" "${COMMON[@]}"
stage preview train_to_end preview --dataroot "$WORK/data_q" --name preview --net-g global "${G1[@]}" \
  --load-pretrain "$CK/global" --load-pretrain "$CK/finetune" --freeze-encoder --lr 0.0001 \
  --niter "$P_N" --niter-decay "$P_D" "${COMMON[@]}"
stage encode "$BIN" encode --model "$CK/finetune" --dataroot "$WORK/data_full" --max-dataset-size "$ENCODE_SCENES" \
  --resize-or-crop none --device "$DEVICE"
stage pack "$PYTHON" scripts/pack_model.py "$CK/finetune" "$WORK/model" --preview "$CK/preview"

if [ "$EVAL" = 1 ]; then
  M="$WORK/model"
  stage eval_model "$BIN" eval-model --model "$M" --dataroot "$WORK/data_full" --scenes "$TEST" \
    --train-scenes "$BASELINE_SCENES" --texture-floor "$FLOOR" --sheet "$M/contact_sheet.png" --json "$M/eval.json" \
    --device "$DEVICE"
  stage eval_styles "$BIN" eval-styles --model "$M" --dataroot "$WORK/data_full" --max-scenes "$TEST" --device "$DEVICE"
  stage bench "$BIN" bench --model "$M" --width "$W" --height "$H" --device "$DEVICE" --iters 3 --no-pytorch
fi
echo "model: $WORK/model   timings: $TIMES   logs: $WORK/logs/"
