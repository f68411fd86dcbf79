"""Write a small dataset with armgym (project venv) plus the frames armgym reads back.

usage: python write_sample.py OUT_DIR            -> OUT_DIR (dataset) + OUT_DIR.expected.npz
       python write_sample.py --existing DIR     -> DIR.expected.npz for a dataset on disk
"""

from __future__ import annotations

import sys

import numpy as np

from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import IS_INTERVENTION, intervention_features
from armgym.data.recorder import POLICY_ACTION_COLUMN as POLICY_ACTION
from armgym.data.writer import LeRobotWriter


def dump_expected(out: str) -> None:
    """What armgym reads from ``out``, for check_lerobot.py to compare against."""
    r = LeRobotReader(out)
    eps = [r.episode(k) for k in range(r.num_episodes)]
    keys = ["observation.state", "action", "timestamp", "episode_index", *r.video_keys]
    keys += [k for k in r.features if k.startswith("complementary_info.")]
    arrays = {k: np.concatenate([ep[k] for ep in eps]) for k in keys}
    np.savez(out + ".expected.npz", **arrays, task=np.array([t for ep in eps for t in ep["task"]]))
    print(f"[compat] armgym reads {r.num_episodes} episodes / {r.num_frames} frames in {out}")


def main(out: str) -> None:
    rng = np.random.default_rng(0)
    feats = {
        "observation.state": fmt.vector_feature(8),
        fmt.SIM_STATE_KEY: fmt.vector_feature(5, dtype="float64"),
        "observation.images.front": fmt.video_feature(64, 64, 10),
        "action": fmt.vector_feature(7, fmt.ACTION_NAMES),
        "next.reward": {"dtype": "float32", "shape": [1], "names": None},
        "next.done": {"dtype": "bool", "shape": [1], "names": None},
        **intervention_features(7),  # what `armgym collect --intervene` adds
    }
    tasks = ["pick up the cube", "push the cube", "pick up the cube"]
    with LeRobotWriter(out, feats, fps=10, robot_type="panda") as w:
        for e, task in enumerate(tasks):
            n = 12 + 3 * e
            for i in range(n):
                img = np.zeros((64, 64, 3), np.uint8)
                img[..., e] = 15 * i
                img[4 * i % 56 : 4 * i % 56 + 8, 10:30] = 255
                w.add_frame(
                    {
                        "observation.state": rng.standard_normal(8),
                        fmt.SIM_STATE_KEY: rng.standard_normal(5),
                        "observation.images.front": img,
                        "action": rng.uniform(-1, 1, 7),
                        "next.reward": np.float32(i == n - 1),
                        "next.done": np.bool_(i == n - 1),
                        IS_INTERVENTION: np.float32([3 <= i < 6]),
                        POLICY_ACTION: rng.uniform(-1, 1, 7),
                    },
                    task=task,
                )
            w.save_episode({"armgym/success": True})
    dump_expected(out)


if __name__ == "__main__":
    if sys.argv[1] == "--existing":
        dump_expected(sys.argv[2])
    else:
        main(sys.argv[1])
