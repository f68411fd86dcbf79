"""HorizonDataset: observation/action horizons with padding masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.data.testing import synthetic_episode, synthetic_features
from armgym.data.torch_dataset import HorizonDataset, horizon_indices
from armgym.data.writer import LeRobotWriter
from armgym.errors import ConfigError


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hz") / "ds"
    with LeRobotWriter(root, synthetic_features(), fps=10) as w:
        for e, n in enumerate((5, 9)):
            for f in synthetic_episode(e, n):
                w.add_frame(f, task="t")
            w.save_episode()
    return root


def test_horizon_indices() -> None:
    idx, pad = horizon_indices(3, 5, 0, 4)
    assert idx.tolist() == [3, 4, 4, 4] and pad.tolist() == [False, False, True, True]
    idx, pad = horizon_indices(0, 5, -2, 3)
    assert idx.tolist() == [0, 0, 0] and pad.tolist() == [True, True, False]


def test_items(root: Path) -> None:
    ds = HorizonDataset(root, obs_horizon=2, action_horizon=4)
    assert len(ds) == 14
    actions = np.stack([f["action"] for f in synthetic_episode(0, 5)])
    item = ds[3]  # episode 0, frame 3 of 5
    assert item["action"].shape == (4, 7) and item["action"].dtype == torch.float32
    assert item["action_is_pad"].tolist() == [False, False, True, True]
    np.testing.assert_array_equal(item["action"][:2].numpy(), actions[3:5])
    np.testing.assert_array_equal(item["action"][2].numpy(), actions[4])  # repeated last
    assert item["observation.state"].shape == (2, 8)
    assert item["observation.images.front"].shape == (2, 3, 64, 64)
    assert 0.0 <= float(item["observation.images.front"].min()) <= 1.0
    first = ds[5]  # episode 1, frame 0: observation history padded
    assert first["observation_is_pad"].tolist() == [True, False]
    assert int(first["episode_index"]) == 1 and int(first["index"]) == 5
    np.testing.assert_array_equal(first["observation.state"][0], first["observation.state"][1])


def test_dataloader_batches(root: Path) -> None:
    ds = HorizonDataset(root, obs_horizon=1, action_horizon=8, image_keys=())
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=6, shuffle=False)))
    assert batch["action"].shape == (6, 8, 7)
    assert batch["observation.state"].shape == (6, 8)
    assert batch["action_is_pad"].shape == (6, 8) and bool(batch["action_is_pad"][4, 1])


def test_bad_horizon(root: Path) -> None:
    with pytest.raises(ConfigError):
        HorizonDataset(root, action_horizon=0)
