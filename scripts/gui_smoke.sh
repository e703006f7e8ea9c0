#!/usr/bin/env bash
# Real-window smoke test: start the editor under Xvfb with the bundled model and a sample scene, wait for the first
# full render, take a screenshot and check it is not blank. Needs Xvfb and ImageMagick (`make test-gui` installs
# them on Debian/Ubuntu when it may). Usage: scripts/gui_smoke.sh [BINARY] [SCREENSHOT]
set -euo pipefail
BIN=${1:-./target/release/pix2pixhd}
SHOT=${2:-target/gui-smoke.png}
DISPLAY_NUM=${DISPLAY_NUM:-:97}
TIMEOUT=${GUI_SMOKE_TIMEOUT:-240}
for tool in Xvfb import identify; do
  command -v "$tool" >/dev/null || { echo "gui smoke test: $tool not found (apt-get install xvfb imagemagick)"; exit 2; }
done
[ -x "$BIN" ] || { echo "gui smoke test: $BIN not built"; exit 2; }
MODEL_DIR=${GUI_SMOKE_MODEL:-models/default}
[ -f "$MODEL_DIR/config.json" ] || { echo "gui smoke test: no model in $MODEL_DIR (config.json missing)"; exit 1; }
LOG=$(mktemp)
STATE=$(mktemp -d)
Xvfb "$DISPLAY_NUM" -screen 0 1600x1000x24 >/dev/null 2>&1 &
XVFB=$!
cleanup() { kill "${APP:-}" 2>/dev/null || true; kill "$XVFB" 2>/dev/null || true; rm -rf "$LOG" "$STATE"; }
trap cleanup EXIT
sleep 1
DISPLAY=$DISPLAY_NUM PIX2PIXHD_STATE_DIR=$STATE "$BIN" edit --autosave-secs 0 ${GUI_SMOKE_MODEL:+--model "$GUI_SMOKE_MODEL"} >"$LOG" 2>&1 &
APP=$!
start=$(date +%s)
until grep -q 'rendered full' "$LOG"; do
  if ! kill -0 "$APP" 2>/dev/null; then echo "gui smoke test: the editor exited:"; cat "$LOG"; exit 1; fi
  if [ $(( $(date +%s) - start )) -gt "$TIMEOUT" ]; then echo "gui smoke test: no full render in ${TIMEOUT}s:"; cat "$LOG"; exit 1; fi
  sleep 1
done
sleep 2  # let the frame with the render reach the screen
mkdir -p "$(dirname "$SHOT")"
DISPLAY=$DISPLAY_NUM import -window root "$SHOT"
grep 'rendered' "$LOG" | head -5
# Not blank: the screenshot's pixel values must vary (a blank or single-colour window has ~0 deviation).
SD=$(identify -format '%[fx:standard_deviation]' "$SHOT")
COLORS=$(identify -format '%k' "$SHOT")
echo "screenshot $SHOT: standard deviation $SD, $COLORS colours"
awk -v sd="$SD" -v c="$COLORS" 'BEGIN { exit !(sd > 0.05 && c > 1000) }' || { echo "gui smoke test: the screenshot looks blank"; exit 1; }
echo "gui smoke test passed"
