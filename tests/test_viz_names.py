"""Names for every feature dimension: env -> info.json -> reader -> plot groups."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import armgym  # noqa: F401
from armgym.contracts.names import action_names, feature_groups, state_names
from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import EpisodeRecorder, env_features
from armgym.data.writer import LeRobotWriter
from armgym.errors import DatasetError
from armgym.tasks import TASKS


@pytest.mark.parametrize("control", ["ee_delta", "joint_pos", "joint_delta"])
def test_env_names_every_dimension(control: str) -> None:
    env = gym.make("armgym/PickCube-v0", robot="so101", control=control, obs="state")
    names = env.unwrapped.feature_names()
    env.close()
    state, action = names["observation.state"], names["action"]
    assert len(state) == env.observation_space["observation.state"].shape[0]
    assert len(action) == env.action_space.shape[0]
    assert state[0] == "joint_pos.shoulder_pan" and state[-1] == "gripper"
    assert state[-8:-5] == ["ee_pos.x", "ee_pos.y", "ee_pos.z"]
    assert action[-1] == "gripper"
    if control == "ee_delta":
        assert action[:3] == ["dx", "dy", "dz"]
    else:
        assert "shoulder_pan" in action[0]
    assert names["observation.environment_state"][:3] == ["cube.pos.x", "cube.pos.y", "cube.pos.z"]


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_names_its_object_state(name: str) -> None:
    task = TASKS.get(name)
    assert len(task.object_state_names) == task.object_state_size
    assert len(set(task.object_state_names)) == task.object_state_size


def test_names_in_info_json_and_read_back(tmp_path: Path) -> None:
    env = gym.make("armgym/Reach-v0", robot="panda", obs="state", max_episode_steps=3)
    feats = env_features(env)
    with LeRobotWriter(tmp_path / "ds", feats, fps=10, robot_type="panda") as w:
        EpisodeRecorder(env, w).record(lambda obs: np.zeros(7, np.float32), seed=0, max_steps=3)
    env.close()
    info = json.loads((tmp_path / "ds/meta/info.json").read_text())
    assert info["features"]["observation.state"]["names"][:2] == [
        "joint_pos.joint1",
        "joint_pos.joint2",
    ]
    assert info["features"]["action"]["names"] == [
        "dx",
        "dy",
        "dz",
        "droll",
        "dpitch",
        "dyaw",
        "gripper",
    ]
    r = LeRobotReader(tmp_path / "ds")
    assert r.names("observation.environment_state") == [
        "target.pos.x",
        "target.pos.y",
        "target.pos.z",
    ]
    assert r.names("observation.state")[-1] == "gripper"
    with pytest.raises(DatasetError, match="no feature"):
        r.names("observation.nope")


def test_lerobot_dict_names_and_placeholders() -> None:
    assert fmt.feature_names({"shape": [2], "names": {"motors": ["a", "b"]}}) == ["a", "b"]
    assert fmt.feature_names({"shape": [3], "names": ["a", "b"]}) is None
    with pytest.raises(DatasetError, match="one name per dimension"):
        fmt.vector_feature(3, ["a"])


def test_groups_by_meaning_with_units() -> None:
    names = state_names(["a", "b"])
    groups = {g.title: g for g in feature_groups("observation.state", names, len(names))}
    assert groups["joint positions"].unit == "rad"
    assert groups["joint positions"].labels == ("a", "b")
    assert groups["joint velocities"].unit == "rad/s"
    assert groups["end-effector position"].indices == (4, 5, 6)
    assert groups["gripper opening"].indices == (11,)
    acts = feature_groups("action", action_names("ee_delta", []), 7)
    assert [len(g.indices) for g in acts] == [3, 3, 1]
    obj = feature_groups("observation.environment_state", ["peg.pos.x", "hole.yaw"], 2)
    assert [(g.title, g.unit) for g in obj] == [("peg position", "m"), ("hole yaw", "rad")]
    # unnamed -> one group of placeholders
    (g,) = feature_groups("x", None, 3)
    assert g.labels == ("s0", "s1", "s2")
    assert np.array_equal(g.indices, (0, 1, 2))
