"""Exports in a policy's own convention: a mapped run recorded with --record, exported back
to LIBERO's (openpi LeRobot keys) and OpenVLA's (RLDS) conventions, gives back what the
policy sent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _openpi_standins import standin_server
from tfrecord.reader import tfrecord_loader

from armgym.apps import run
from armgym.apps.export import ExportConfig, export
from armgym.data.reader import LeRobotReader
from armgym.data.testing import synthetic_episode, synthetic_features
from armgym.data.writer import LeRobotWriter
from armgym.errors import DatasetError

LIBERO_ROW = [0.2, -0.1, 0.0, 0.0, 0.0, 0.1, -1.0]  # x 0.05 m, x 0.5 rad; -1 = open


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "ds"
    with standin_server("libero", np.array(LIBERO_ROW)) as (_, port):
        run.main(["--policy", f"ws://127.0.0.1:{port}", "--mapping", "libero", "--task", "Reach",
                  "--episodes", "2", "--max-steps", "5", "--record", str(out)])  # fmt: skip
    return out


def test_lerobot_libero_export_has_openpi_keys_and_gives_back_the_actions(
    recorded: Path, tmp_path: Path
) -> None:
    out = export(ExportConfig(recorded, format="lerobot-libero", out=tmp_path / "libero"))
    reader = LeRobotReader(out)
    assert set(reader.features) >= {"image", "wrist_image", "state", "actions"}
    assert reader.features["image"]["shape"] == [224, 224, 3]
    ep = reader.episode(0)
    assert np.allclose(ep["actions"], LIBERO_ROW, atol=1e-5)
    assert ep["state"].shape == (5, 8)
    source = LeRobotReader(recorded).episode(0)
    assert ep["task"] == source["task"] and ep["task"][0]
    assert np.allclose(ep["state"][:, :3], source["observation.state"][:, 14:17], atol=1e-6)


def test_rlds_openvla_layout(recorded: Path, tmp_path: Path) -> None:
    out = export(ExportConfig(recorded, format="rlds-openvla", out=tmp_path, name="armgym_vla"))
    feats = json.loads((out / "features.json").read_text())
    steps = feats["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]
    obs = steps["features"]["observation"]["featuresDict"]["features"]
    assert set(obs) == {"image", "wrist_image", "state"}
    assert obs["image"]["image"]["shape"]["dimensions"] == ["224", "224", "3"]
    assert steps["features"]["action"]["tensor"]["shape"]["dimensions"] == ["7"]
    shard = next(out.glob("*.tfrecord-*"))
    ex = next(iter(tfrecord_loader(str(shard), None)))
    act = np.asarray(ex["steps/action"]).reshape(-1, 7)
    # LIBERO row in OpenVLA units: metres, Euler radians, gripper 1 = open
    assert np.allclose(act[:, :3], [0.01, -0.005, 0.0], atol=1e-6)
    assert np.allclose(act[:, 3:6], [0.0, 0.0, 0.05], atol=1e-5)
    assert np.allclose(act[:, 6], 1.0)
    assert bytes(ex["steps/language_instruction"][:4]) != b""


def _synthetic(root: Path, image_size: int | None) -> Path:
    w = LeRobotWriter(root, synthetic_features(image_size=image_size), 10)
    for frame in synthetic_episode(0, 4, image_size=image_size):
        w.add_frame(frame, task="t")
    w.save_episode()
    w.close()
    return root


def test_policy_exports_refuse_datasets_without_cameras_or_env(tmp_path: Path) -> None:
    no_cams = _synthetic(tmp_path / "state_only", None)
    with pytest.raises(DatasetError, match=r"has cameras none.*record with --obs pixels"):
        export(ExportConfig(no_cams, format="lerobot-libero", out=tmp_path / "o"))
    no_env = _synthetic(tmp_path / "no_env", 64)
    with pytest.raises(DatasetError, match=r"no meta/armgym\.json"):
        export(ExportConfig(no_env, format="rlds-openvla", out=tmp_path / "o"))
