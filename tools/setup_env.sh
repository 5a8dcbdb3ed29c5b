#!/usr/bin/env bash
# Create .venv in the repository and install everything yolox-fgd needs. Idempotent: a second
# run with unchanged requirements returns at once.
#   torch==2.14.1 torchvision==0.29.1 (override: TORCH_SPEC="torch==X torchvision==Y")
#   yolox==0.3.0 with --no-build-isolation --no-deps (its setup.py imports torch; its pinned
#   onnx/onnxruntime versions no longer exist), then yolox's real runtime needs and current
#   onnx/onnxsim/onnxruntime for its export tools (requirements.txt), then this package in
#   editable mode.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
VENV=.venv
STAMP=$VENV/.yolox_fgd_setup
want=$( (echo "$TORCH_SPEC"; cat requirements.txt setup.py) | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  echo "setup_env: $VENV is up to date"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
echo "setup_env: installing torch ($TORCH_SPEC) ..."
$PIP install -q --disable-pip-version-check setuptools wheel
# shellcheck disable=SC2086
$PIP install -q --disable-pip-version-check $TORCH_SPEC
echo "setup_env: installing yolox runtime requirements ..."
$PIP install -q --disable-pip-version-check -r requirements.txt
echo "setup_env: installing yolox==0.3.0 (no build isolation, no deps) ..."
$PIP install -q --disable-pip-version-check --no-build-isolation --no-deps yolox==0.3.0
$PIP install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
"$VENV/bin/python" -c "import torch, torchvision, yolox, cv2, pycocotools, onnx, onnxruntime, yolox_fgd; print('setup_env: ok, torch', torch.__version__, 'yolox', yolox.__version__)"
echo "$want" > "$STAMP"
