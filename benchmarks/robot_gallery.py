"""Render every registered robot model's front camera (PickCube scene, seed 0) for docs/robots.md.

Models whose packages are not installed are listed as skipped. Mesh variants are placed
next to their primitive arm (``panda`` | ``panda-menagerie``).

    ARMGYM_MODEL_PATHS=<site-packages> MUJOCO_GL=egl python benchmarks/robot_gallery.py

Writes docs/images/robots/<name>.png (256 x 256) and prints the markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
from PIL import Image

import armgym
from armgym.robots.mesh_models import VARIANTS

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "robots"


def render(name: str, size: int) -> Path:
    """Front camera of ``name`` in the PickCube scene after reset(seed=0) -> the PNG's path."""
    env = gym.make("armgym/PickCube-v0", robot=name)
    try:
        env.reset(seed=0)
        image = env.unwrapped.robot.render("front", (size, size))
    finally:
        env.close()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    Image.fromarray(image).save(path, optimize=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=256, help="image height = width [px]")
    args = ap.parse_args()
    names = armgym.ROBOTS.names()
    primitives = [n for n in names if n not in VARIANTS]
    print("| primitive | mesh variant |\n| --- | --- |")
    for prim in primitives:
        cells = [f"![{prim}](images/robots/{render(prim, args.size).name}) `{prim}`"]
        for variant in (v for v in VARIANTS if v.startswith(prim + "-")):
            if variant in names:
                cells.append(
                    f"![{variant}](images/robots/{render(variant, args.size).name}) `{variant}`"
                )
            else:
                cells.append(f"`{variant}`: not installed here")
        if len(cells) == 1:
            cells.append("—")
        print(f"| {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
