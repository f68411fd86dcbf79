#!/usr/bin/env bash
# Compatibility check: does the real lerobot 0.4.4 (format v3.0) open what armgym writes?
#
# Builds (once, cached) a separate venv with lerobot 0.4.4, following
# shared/MACHINE-NOTES.md, writes a small dataset with armgym (project venv), then
# opens it with lerobot's LeRobotDataset offline and compares frames.
#
# usage: compat/lerobot/run.sh            (ARMGYM_CACHE overrides ~/.cache/armgym)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${ARMGYM_CACHE:-$HOME/.cache/armgym}"
VENV="$CACHE/lerobot-venv"
PY_ARMGYM="${ARMGYM_PYTHON:-$REPO/.venv/bin/python}"
BASE_PY="${LEROBOT_BASE_PYTHON:-python3}"
t0=$(date +%s)

if [ ! -f "$VENV/.complete" ]; then
  echo "[compat] building $VENV (one time; ~6 GB)"
  mkdir -p "$CACHE"
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    # torchcodec 0.14 links against FFmpeg 5.1 (Debian 12) shared libraries.
    apt-get install -y --no-install-recommends libavcodec59 libavformat59 libavutil57 \
      libavdevice59 libavfilter8 libswscale6 libswresample4 >/dev/null \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends \
        libavcodec59 libavformat59 libavutil57 libavdevice59 libavfilter8 libswscale6 \
        libswresample4 >/dev/null; }
  fi
  "$BASE_PY" -m venv "$VENV"
  PIP="$VENV/bin/pip"
  "$PIP" install -q --upgrade pip
  "$PIP" install -q torch==2.14.1 torchvision==0.29.1
  "$PIP" install -q --no-deps lerobot==0.4.4
  "$PIP" install -q "datasets<5" "diffusers<0.36" "huggingface-hub<0.36" accelerate einops \
    "av<16" jsonlines draccus==0.10.0 gymnasium "rerun-sdk<0.27" deepdiff "imageio[ffmpeg]" \
    termcolor "opencv-python-headless<4.13" pynput pyserial "wandb<0.25" "packaging<26" \
    "setuptools<81" "cmake<4.2" torchcodec==0.14.0 pyarrow
  touch "$VENV/.complete"
fi
t1=$(date +%s)
echo "[compat] venv ready in $((t1 - t0)) s"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DS="$WORK/armgym_ds"
"$PY_ARMGYM" "$HERE/write_sample.py" "$DS"
export HF_HUB_OFFLINE=1 HF_HOME="$WORK/hf" HF_DATASETS_OFFLINE=1
"$VENV/bin/python" "$HERE/check_lerobot.py" "$DS"
# a real recording: both cameras, sim_state (float64), bool outcomes, an appended run
COL="$WORK/collected"
"$REPO/.venv/bin/armgym" collect --out "$COL" --episodes 2 --obs both --image-size 64 --no-progress
"$REPO/.venv/bin/armgym" collect --out "$COL" --episodes 1 --obs both --image-size 64 --no-progress
"$PY_ARMGYM" "$HERE/write_sample.py" --existing "$COL"
"$VENV/bin/python" "$HERE/check_lerobot.py" "$COL"
# the same episodes packed into one data file and one mp4 per camera (armgym consolidate)
PACKED="$WORK/packed"
"$REPO/.venv/bin/armgym" consolidate "$COL" --out "$PACKED" --no-progress
"$PY_ARMGYM" "$HERE/write_sample.py" --existing "$PACKED"
"$VENV/bin/python" "$HERE/check_lerobot.py" "$PACKED"
# the same episodes in LeRobot's v2.1 layout, converted back to v3.0 by armgym consolidate
V21="$WORK/v21"
"$PY_ARMGYM" -c 'import sys; from pathlib import Path; from armgym.data.testing import write_v21_copy; write_v21_copy(Path(sys.argv[1]), Path(sys.argv[2]))' "$COL" "$V21"
"$REPO/.venv/bin/armgym" consolidate "$V21" --out "$WORK/converted" --no-progress
"$PY_ARMGYM" "$HERE/write_sample.py" --existing "$WORK/converted"
"$VENV/bin/python" "$HERE/check_lerobot.py" "$WORK/converted"
# a mapped run of a served generalist policy (LIBERO schema), recorded with --record
MAPPED="$WORK/mapped"
"$PY_ARMGYM" "$HERE/record_mapped.py" "$MAPPED"
"$PY_ARMGYM" "$HERE/write_sample.py" --existing "$MAPPED"
"$VENV/bin/python" "$HERE/check_lerobot.py" "$MAPPED"
echo "[compat] total $(( $(date +%s) - t0 )) s"
