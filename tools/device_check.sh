#!/usr/bin/env bash
# The GPU checks in one call (for a session with the device tool): fp16 training smoke test of a
# demo experiment and GPU evaluation, an fp16 stop-and-resume (and, with two GPUs, two nccl
# processes skipping a NaN step together), then the real-size benchmarks (YOLOX-m student / YOLOX-l
# teacher, 640x640, batch 8 and 32, fp16). Prints short tables; logs land in $OUT (or ./device_out).
#
# Prepare here (this machine), once:
#   echo /.whl/ >> .git/info/exclude; echo /device_pkgs/ >> .git/info/exclude
#   mkdir -p device_pkgs && cp -r .venv/lib/python3.11/site-packages/yolox device_pkgs/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl loguru thop tabulate pycocotools
# and run there with carry [".whl", "device_pkgs"]:
#   bash tools/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device_out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD/device_pkgs:$PWD
fi
export PYTHONUNBUFFERED=1 YOLOX_FGD_DATADIR=/tmp/datasets
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"

echo "== fp16 training smoke test (demo FGD experiment, teacher from the repository) and GPU eval"
$PY tools/train.py -f exps/demo/fgd_demo_nano.py -b 32 --fp16 --device cuda -expn gpu_smoke \
  output_dir /tmp/runs max_epoch 1 data_num_workers 8 2>&1 | grep -E "epoch: 1/1, iter|Average Precision|error" | tee "$OUT/smoke.txt"
$PY tools/eval.py -f exps/demo/demo_yolox_nano.py -c /tmp/runs/gpu_smoke/latest_ckpt.pth --device cuda -b 64 2>&1 \
  | grep -E "^\|" | tee -a "$OUT/smoke.txt"

echo "== fp16 resume on CUDA: 2 epochs straight vs 1 + --resume (the same weights, EMA and loss scale)"
FP16=(-f exps/demo/fgd_demo_nano_tuned_kd.py -b 32 --fp16 --device cuda output_dir /tmp/runs max_epoch 2
      no_aug_epochs 1 data_num_workers 8 seed 0)
$PY tools/train.py "${FP16[@]}" -expn fp16_full > "$OUT/fp16_full.log" 2>&1
$PY tools/train.py "${FP16[@]}" -expn fp16_part train_until_epoch 1 > "$OUT/fp16_part.log" 2>&1
$PY tools/train.py "${FP16[@]}" -expn fp16_part --resume >> "$OUT/fp16_part.log" 2>&1
$PY - <<'PY' | tee "$OUT/fp16_resume.txt"
import torch
a, b = (torch.load(f"/tmp/runs/{n}/latest_ckpt.pth", map_location="cpu", weights_only=True) for n in ("fp16_full", "fp16_part"))
same = all(torch.equal(a[k][n], b[k][n]) for k in ("train_model", "model") for n in a[k])
print(f"fp16 resume on CUDA: weights and EMA {'identical' if same else 'DIFFERENT'}; scaler {a['scaler']} vs {b['scaler']}")
PY
if [ "$(nvidia-smi -L | wc -l)" -ge 2 ]; then
  echo "== two processes (nccl), fp16, a NaN on rank 1 at iteration 3: both skip it"
  YOLOX_FGD_NAN_AT=3@1 $PY tools/train.py "${FP16[@]}" -d 2 -expn fp16_ddp max_epoch 1 2>&1 \
    | grep -E "skipping the step|replicas in sync|error" | tee "$OUT/fp16_ddp.txt"
fi

echo "== FGD loss, 3 levels, YOLOX-m -> YOLOX-l channels, 640, 30 boxes"
$PY tools/bench_fgd.py --device cuda --fp16 --batch 8 32 --size 640 --reps 20 \
  --student-channels 192 384 768 --teacher-channels 256 512 1024 | tee "$OUT/bench_fgd.md"

echo "== one training step: plain vs FGD, YOLOX's vs batched assignment"
$PY tools/bench_distill.py --device cuda --fp16 --batch 8 32 --size 640 --reps 10 --warmup 3 \
  --student exps/yolox_m.py --teacher yolox-l | tee "$OUT/bench_distill.md"
