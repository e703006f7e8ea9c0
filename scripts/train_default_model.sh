#!/usr/bin/env bash
# Trains the bundled default model end to end, the coarse-to-fine recipe of models/README.md in one command:
# synthetic data at half and full size, stage 1 (global generator G1 + encoder E on full half-size frames), stage 2
# (G1 + local enhancer G2 on the full-size scenes, G1 fixed for the first epochs), style clusters, packing (float16,
# with G1 as the preview generator), then the model card's figures (eval-model, eval-styles, bench).
#
#   scripts/train_default_model.sh                   # GPU defaults: 2048x1024, --device cuda
#   DEVICE=cpu W=512 H=256 E1=2 D1=1 E2=1 D2=1 TRAIN=20 TEST=5 scripts/train_default_model.sh   # a quick check
#
# Every stage leaves its result in $WORK and is skipped when run again (training resumes with --continue-train),
# so an interrupted run goes on where it stopped. Timings go to $WORK/timings.txt, each stage's log to $WORK/logs/.
# The packed model lands in $WORK/model (copy it to models/default after looking at the figures).
#
# Settings (environment variables, defaults in brackets):
#   BIN [./target/release/pix2pixhd]  WORK [runs/default]  DEVICE [cuda]  AMP [none; fp16|bf16 on CUDA]
#   W, H [2048, 1024]: full size (stage 2); stage 1 trains at W/2 x H/2
#   TRAIN, TEST [500, 50]: scenes made by `synth`
#   E1, D1 [20, 20]: stage-1 epochs at the full and the decaying learning rate; E2, D2 [10, 10] for stage 2
#   FIX [2]: stage-2 epochs with G1 fixed   NDOWN [3]: downsamplings in G1 (2 kept small cars' colours better in
#   the README's style runs)   L1 [20]: --lambda-l1 in both stages   CROP2 [none]: `crop` trains stage 2
#   on FINE2 [512] square crops instead of full frames   ENCODE_SCENES [200]: training scenes the clusters come from
#   PYTHON [.venv/bin/python, else python3]: runs scripts/pack_model.py (needs the safetensors package)
#   EVAL [1]: 0 skips the figures   FLOOR [5]: re-drawings per test scene for eval-model's texture floor
#   (what a perfect generator would score), 0 skips it
set -euo pipefail
BIN=${BIN:-./target/release/pix2pixhd}
WORK=${WORK:-runs/default}
DEVICE=${DEVICE:-cuda}
AMP=${AMP:-none}
W=${W:-2048} H=${H:-1024}
TRAIN=${TRAIN:-500} TEST=${TEST:-50}
E1=${E1:-20} D1=${D1:-20} E2=${E2:-10} D2=${D2:-10} FIX=${FIX:-2}
NDOWN=${NDOWN:-3} L1=${L1:-20} CROP2=${CROP2:-none} FINE2=${FINE2:-512}
ENCODE_SCENES=${ENCODE_SCENES:-200}
EVAL=${EVAL:-1}
FLOOR=${FLOOR:-5}
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

[ -x "$BIN" ] || { echo "error: $BIN not found or not executable (cargo build --release, or set BIN)"; exit 1; }
[ -f scripts/pack_model.py ] || { echo "error: run this from the repository root (scripts/pack_model.py not found)"; exit 1; }
"$PYTHON" -c 'import safetensors' 2>/dev/null || {
  echo "error: $PYTHON cannot import safetensors, which scripts/pack_model.py needs (.venv/bin/pip install safetensors)"
  exit 1
}
HALF_W=$((W / 2)) HALF_H=$((H / 2))
mkdir -p "$WORK/logs"
TIMES="$WORK/timings.txt"
echo "# $(date -u +%FT%TZ) W=$W H=$H TRAIN=$TRAIN TEST=$TEST E1=$E1 D1=$D1 E2=$E2 D2=$D2 FIX=$FIX NDOWN=$NDOWN L1=$L1 CROP2=$CROP2 DEVICE=$DEVICE AMP=$AMP" >>"$TIMES"

# stage NAME COMMAND...: runs COMMAND unless an earlier run finished it ($WORK/logs/NAME.done), logs it and records
# how long it took.
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

# train_to_end RUN_DIR TRAIN_COMMAND...: `train` also exits 0 when stopped early (Ctrl-C, --max-steps) with its
# checkpoint saved; the stage counts as done only when the run's state says every epoch ran.
train_to_end() {
  local dir=$1
  shift
  "$@"
  "$PYTHON" - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
state = json.load(open(os.path.join(d, "latest_state.json")))
opts = json.load(open(os.path.join(d, "train_options.json")))
if state["epoch"] <= opts["niter"] + opts["niter_decay"]:
    sys.exit(f"{d}: stopped at epoch {state['epoch']} step {state['total_steps']}; run this script again to resume")
PY
}

AMP_FLAG=()
[ "$AMP" = none ] || AMP_FLAG=(--amp "$AMP")
COMMON=(--instance-feat --no-vgg-loss --ndf 32 --lambda-l1 "$L1" --device "$DEVICE" "${AMP_FLAG[@]}")

stage synth_half \
  "$BIN" synth --out "$WORK/data_half" --train "$TRAIN" --test "$TEST" --width "$HALF_W" --height "$HALF_H" --quiet --force
stage synth_full \
  "$BIN" synth --out "$WORK/data_full" --train "$TRAIN" --test "$TEST" --width "$W" --height "$H" --quiet --force

stage train_global train_to_end "$WORK/ckpt/global" \
  "$BIN" train --dataroot "$WORK/data_half" --checkpoints-dir "$WORK/ckpt" --name global --continue-train \
  --net-g global --ngf 32 --n-downsample-global "$NDOWN" --n-blocks-global 6 --resize-or-crop none \
  --niter "$E1" --niter-decay "$D1" "${COMMON[@]}"

CROP_FLAGS=(--resize-or-crop none)
[ "$CROP2" = crop ] && CROP_FLAGS=(--resize-or-crop crop --fine-size "$FINE2")
stage train_local train_to_end "$WORK/ckpt/local" \
  "$BIN" train --dataroot "$WORK/data_full" --checkpoints-dir "$WORK/ckpt" --name local --continue-train \
  --net-g local --ngf 16 --n-downsample-global "$NDOWN" --n-blocks-global 6 --n-local-enhancers 1 --n-blocks-local 3 \
  "${CROP_FLAGS[@]}" --load-pretrain "$WORK/ckpt/global" --niter-fix-global "$FIX" \
  --niter "$E2" --niter-decay "$D2" "${COMMON[@]}"

stage encode \
  "$BIN" encode --model "$WORK/ckpt/local" --dataroot "$WORK/data_full" --max-dataset-size "$ENCODE_SCENES" \
  --resize-or-crop none --device "$DEVICE"
stage pack \
  "$PYTHON" scripts/pack_model.py "$WORK/ckpt/local" "$WORK/model" --preview "$WORK/ckpt/global"

if [ "$EVAL" = 1 ]; then
  stage eval_model \
    "$BIN" eval-model --model "$WORK/model" --dataroot "$WORK/data_full" --scenes "$TEST" --train-scenes "$ENCODE_SCENES" \
    --texture-floor "$FLOOR" --sheet "$WORK/model/contact_sheet.png" --json "$WORK/model/eval.json" --device "$DEVICE"
  stage eval_styles \
    "$BIN" eval-styles --model "$WORK/model" --dataroot "$WORK/data_full" --max-scenes 20 --device "$DEVICE"
  stage bench \
    "$BIN" bench --model "$WORK/model" --width "$W" --height "$H" --device "$DEVICE" --iters 3 --no-pytorch
fi
echo "model: $WORK/model   timings: $TIMES   logs: $WORK/logs/"
