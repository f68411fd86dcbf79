"""Load armgym's RLDS exports with TensorFlow Datasets itself (run in the tfds venv).

usage: check_tfds.py SOURCE_DATASET NATIVE_EXPORT OPENVLA_EXPORT

Checks, with ``tfds.builder_from_directory``: the episode count of the source dataset
(``meta/info.json``), every step's features and shapes, that ``is_first`` / ``is_last``
frame each episode, that every step has a non-empty ``language_instruction``, and for the
OpenVLA layout a 224x224 ``image`` and a 7-d action whose gripper is in [0, 1].
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds


def load(path: str) -> tuple[list[list[dict]], tfds.core.DatasetBuilder]:
    builder = tfds.builder_from_directory(path)
    episodes = []
    for ep in tfds.as_numpy(builder.as_dataset(split="train")):
        episodes.append(list(ep["steps"]))  # nested steps come as numpy already
    return episodes, builder


def check_common(episodes: list[list[dict]], n_expected: int, name: str) -> None:
    assert len(episodes) == n_expected, f"{name}: {len(episodes)} episodes, expected {n_expected}"
    for steps in episodes:
        assert steps, f"{name}: empty episode"
        assert steps[0]["is_first"] and steps[-1]["is_last"], f"{name}: episode not framed"
        assert not any(s["is_first"] for s in steps[1:]), f"{name}: is_first inside an episode"
        for s in steps:
            text = s["language_instruction"].decode()
            assert text.strip(), f"{name}: empty language_instruction"


def main() -> None:
    source, native, openvla = sys.argv[1:4]
    n = int(json.loads((Path(source) / "meta/info.json").read_text())["total_episodes"])
    eps, builder = load(native)
    check_common(eps, n, "rlds")
    step = eps[0][0]
    assert set(step["observation"]) >= {"state", "front", "wrist"}, step["observation"].keys()
    assert step["observation"]["front"].shape == (64, 64, 3)
    assert step["action"].shape == (7,) and np.abs(step["action"]).max() <= 1.0 + 1e-6
    print(f"[compat-tfds] rlds: {len(eps)} episodes, {sum(map(len, eps))} steps, "
          f"features {sorted(builder.info.features['steps'].feature.keys())}")  # fmt: skip

    eps, builder = load(openvla)
    check_common(eps, n, "rlds-openvla")
    step = eps[0][0]
    assert set(step["observation"]) == {"image", "wrist_image", "state"}, step["observation"]
    assert step["observation"]["image"].shape == (224, 224, 3)
    assert step["observation"]["image"].dtype == np.uint8
    actions = np.concatenate([[s["action"] for s in ep] for ep in eps])
    assert actions.shape[1] == 7 and actions.dtype == np.float32
    assert np.all((actions[:, 6] >= 0) & (actions[:, 6] <= 1)), "gripper outside [0, 1]"
    assert np.abs(actions[:, :3]).max() < 0.05, "position deltas are not in metres"
    print(f"[compat-tfds] rlds-openvla: {len(eps)} episodes, action range "
          f"{actions.min(0).round(3).tolist()} .. {actions.max(0).round(3).tolist()}, "
          f"instruction {eps[0][0]['language_instruction'].decode()!r}")  # fmt: skip
    print("[compat-tfds] OK: TensorFlow Datasets loads both exports")


if __name__ == "__main__":
    main()
