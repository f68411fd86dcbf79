#!/usr/bin/env bash
# Compatibility check: does TensorFlow Datasets itself load armgym's RLDS exports?
#
# Builds (once, cached) a separate venv with tensorflow-cpu 2.21 + tensorflow-datasets
# 4.9.10 (~3 min), records a small dataset with armgym (project venv: both cameras,
# ee_delta), exports it as `rlds` and `rlds-openvla`, and loads both with
# tfds.builder_from_directory, checking features, shapes, actions and instructions.
#
# usage: compat/tfds/run.sh            (ARMGYM_CACHE overrides ~/.cache/armgym)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${ARMGYM_CACHE:-$HOME/.cache/armgym}"
VENV="$CACHE/tfds-venv"
PY_ARMGYM="${ARMGYM_PYTHON:-$REPO/.venv/bin/python}"
BASE_PY="${TFDS_BASE_PYTHON:-python3}"
t0=$(date +%s)

if [ ! -f "$VENV/.complete" ]; then
  echo "[compat-tfds] building $VENV (one time; ~3 min)"
  mkdir -p "$CACHE"
  "$BASE_PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q tensorflow-cpu==2.21.0 tensorflow-datasets==4.9.10
  touch "$VENV/.complete"
fi
echo "[compat-tfds] venv ready in $(( $(date +%s) - t0 )) s"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY_ARMGYM" -m armgym.cli collect --out "$WORK/ds" --episodes 2 --obs both --image-size 64 --no-progress
"$PY_ARMGYM" -m armgym.cli export "$WORK/ds" --format rlds --out "$WORK/rlds" --name armgym_native
"$PY_ARMGYM" -m armgym.cli export "$WORK/ds" --format rlds-openvla --out "$WORK/rlds" --name armgym_openvla
TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/python" "$HERE/check_tfds.py" "$WORK/ds" \
  "$WORK/rlds/armgym_native/1.0.0" "$WORK/rlds/armgym_openvla/1.0.0"
echo "[compat-tfds] total $(( $(date +%s) - t0 )) s"
