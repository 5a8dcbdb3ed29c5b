#!/usr/bin/env bash
# The stem demonstration on the embedded dataset: focus / conv6 / conv3, three seeds each, then
# tools/compare_runs.py (table, AP plot, seed groups). Sized for a 2-core CPU (about 20 minutes);
# set EPOCHS, DEVICE, BATCH for bigger runs (e.g. DEVICE=cuda EPOCHS=60 BATCH=64 on a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/stem_study}
EPOCHS=${EPOCHS:-6}
DEVICE=${DEVICE:-cpu}
BATCH=${BATCH:-16}
DATA=${DATA:-"{}"}
mkdir -p "$OUT"
runs=()
for stem in focus conv6 conv3; do
  for seed in 0 1 2; do
    name="${stem}_seed${seed}"
    if [ ! -f "$OUT/$name/metrics.jsonl" ] || [ "${FRESH:-0}" = 1 ]; then
      echo "[stem-study] training $name ($EPOCHS epochs on $DEVICE)"
      rm -rf "${OUT:?}/$name"
      "$PY" tools/train.py -f exps/demo/demo_yolox_nano.py -b "$BATCH" --device "$DEVICE" -expn "$name" \
        output_dir "$OUT" stem "$stem" seed "$seed" max_epoch "$EPOCHS" eval_interval 3 no_aug_epochs 1 \
        synthetic_dataset "$DATA" > "$OUT.$name.log" 2>&1 \
        || { tail -20 "$OUT.$name.log"; exit 1; }
    fi
    runs+=("$OUT/$name")
  done
done
"$PY" tools/compare_runs.py "${runs[@]}" --plot "$OUT/stems_ap.png" --diff
