"""What packing a recorded dataset (``armgym consolidate``) costs and buys.

    python benchmarks/dataset_consolidate.py [--episodes 500] [--length 50] [--size 64]

Records ``--episodes`` synthetic episodes (state float32[8], action float32[7], one
``--size``² AV1 camera) with ``LeRobotWriter`` (one set of files per episode, as
``armgym collect`` does), packs them with ``consolidate``, and times on both layouts:
opening the dataset (``LeRobotReader``: lists and reads ``meta/episodes``), reading every
vector column (``columns()``), and decoding the camera of 50 random episodes. Writes
``results/dataset_consolidate.json``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import machine_info, write_json

from armgym.data.consolidate import ConsolidateConfig, consolidate
from armgym.data.reader import LeRobotReader
from armgym.data.testing import write_synthetic

PACKAGES = ("armgym", "numpy", "pyarrow", "av")


def files_in(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def best_of(fn: Any, repeat: int = 3) -> float:
    """Fastest of ``repeat`` timed calls [s] (file cache warm after the first)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(root: Path, picks: list[int]) -> dict[str, float]:
    reader = LeRobotReader(root)
    return {
        "files": files_in(root),
        "open_s": best_of(lambda: LeRobotReader(root)),
        "columns_s": best_of(reader.columns),
        "decode_50_episodes_s": best_of(
            lambda: [reader.video("observation.images.front", k) for k in picks], repeat=1
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=500)
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="armgym-consolidate-"))
    try:
        src, packed = tmp / "src", tmp / "packed"
        t0 = time.perf_counter()
        write_synthetic(
            src, [args.length] * args.episodes, ["task"] * args.episodes, image_size=args.size
        )
        write_s = time.perf_counter() - t0
        summary = consolidate(ConsolidateConfig(src=src, out=packed, progress=False))
        picks = sorted(
            np.random.default_rng(0)
            .choice(args.episodes, min(50, args.episodes), replace=False)
            .tolist()
        )
        result = {
            "machine": machine_info(PACKAGES),
            "config": vars(args),
            "record_s": round(write_s, 2),
            "consolidate": summary,
            "per_episode_files": measure(src, picks),
            "packed": measure(packed, picks),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = write_json("dataset_consolidate.json", result)
    a, b = result["per_episode_files"], result["packed"]
    print(f"recorded {args.episodes} episodes in {write_s:.1f} s; packed in {summary['wall_s']} s")
    for key in a:
        print(f"  {key:22s} per-episode files {a[key]:>10.3f}   packed {b[key]:>10.3f}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
