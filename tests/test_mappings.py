"""Mappings: presets load, bad files and mismatching envs fail before a step, and every
action convention moves the tool in the env the way the policy meant it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import armgym  # noqa: F401  (registers the envs)
from armgym.contracts.observation import STATE_KEY, split_state
from armgym.errors import ConfigError, ProtocolError, UnknownNameError
from armgym.mappings import (
    PRESETS,
    ActionConverter,
    EnvFacts,
    MappedPolicy,
    check_mapping,
    load_mapping,
)
from armgym.mappings.spec import ImageSpec, Mapping
from armgym.mappings.transforms import (
    euler_xyz_to_mat,
    mat_to_euler_xyz,
    mat_to_rotvec,
    prepare_image,
    quat_wxyz_to_mat,
    rotvec_to_mat,
)
from armgym.tasks.base import tool_yaw


class Constant:
    """Stand-in inner policy: answers ``actions`` = the given rows, records what it got."""

    def __init__(self, actions: np.ndarray):
        self.actions, self.seen = np.asarray(actions, np.float32), []

    def infer(self, obs):
        self.seen.append(obs)
        return {"actions": self.actions}


def make(robot: str = "panda", control: str = "ee_delta", obs: str = "both") -> gym.Env:
    return gym.make("armgym/Reach-v0", robot=robot, control=control, obs=obs,
                    image_size=(96, 128), terminate_on_success=False)  # fmt: skip


def robot_obs(env: gym.Env, obs) -> dict[str, np.ndarray]:
    return split_state(np.asarray(obs[STATE_KEY]), env.unwrapped.n_arm)


def drive(env: gym.Env, policy: MappedPolicy, obs, steps: int):
    for _ in range(steps):
        for action in policy.infer(obs)["actions"]:
            obs, *_ = env.step(action)
    return obs


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load(name: str) -> None:
    m = load_mapping(name)
    assert m.name == name and m.action.parts


def test_user_file_and_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "mine.json"
    good.write_text('{"name": "mine", "control": "ee_delta", "action": {"parts": '
                    '[{"kind": "position_delta"}, {"kind": "rotation_delta"}, {"kind": "gripper"}]}}')  # fmt: skip
    assert load_mapping(good).action.dim == 7
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[images]]\nkey = "image"\ncamerra = "front"\n')
    with pytest.raises(UnknownNameError, match=r"'camerra'.*Did you mean 'camera'"):
        load_mapping(bad)
    with pytest.raises(UnknownNameError, match="Did you mean 'libero'"):
        load_mapping("lbero")
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_mapping(broken)


def test_mismatches_are_named_before_the_first_step() -> None:
    with make(obs="state") as env:
        facts = EnvFacts.of(env)
        with pytest.raises(ConfigError, match=r"reads camera 'front'.*no images"):
            check_mapping(load_mapping("cogact"), facts)
        with pytest.raises(ConfigError, match=r"control mode 'joint_delta'.*runs 'ee_delta'"):
            check_mapping(load_mapping("droid"), facts)
        with pytest.raises(ConfigError, match=r"6-joint arm.*has 7"):
            check_mapping(load_mapping("aloha"), facts)
        wrong = Mapping.from_dict(
            {"name": "w", "action": {"parts": [{"kind": "native", "size": 6}]}}
        )
        with pytest.raises(ConfigError, match=r"fill 6 env action entries.*takes 7"):
            check_mapping(wrong, facts)
        with pytest.raises(ConfigError, match="sends key 'observation/state'"):
            check_mapping(load_mapping("libero"), EnvFacts.of(make()), ("observation.state",))


def test_wrong_answer_shape_is_a_protocol_error() -> None:
    with make() as env:
        obs, _ = env.reset(seed=0)
        policy = MappedPolicy(load_mapping("cogact"), EnvFacts.of(env), Constant(np.zeros((2, 6))))
        with pytest.raises(ProtocolError, match=r"shape \[H, 7\].*sent \[2, 6\]"):
            policy.infer(obs)


def test_rotation_conversions_round_trip() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = rng.uniform(-1.0, 1.0, 3)
        r = rotvec_to_mat(v)
        assert np.allclose(mat_to_rotvec(r), v, atol=1e-9)
        e = mat_to_euler_xyz(r)
        assert np.allclose(euler_xyz_to_mat(e), r, atol=1e-9)
    yaw = euler_xyz_to_mat([0.0, 0.0, 0.3])
    assert np.allclose(mat_to_rotvec(yaw), [0.0, 0.0, 0.3])
    assert np.allclose(quat_wxyz_to_mat([np.cos(0.15), 0, 0, np.sin(0.15)]), yaw)


def test_image_preparation_pad_crop_chw_rotate() -> None:
    img = np.zeros((96, 128, 3), np.uint8)
    img[:, :64] = 255  # left half white
    padded = prepare_image(img, ImageSpec(("i",), "front", (224, 224), "pad"))
    assert padded.shape == (224, 224, 3) and padded.dtype == np.uint8
    assert padded[:20].max() == 0 and padded[112, 10, 0] == 255  # bars top/bottom, content centred
    cropped = prepare_image(img, ImageSpec(("i",), "front", (64, 64), "crop"))
    assert cropped.shape == (64, 64, 3) and cropped[:, 0].min() == 255 and cropped[:, -1].max() == 0
    chw = prepare_image(img, ImageSpec(("i",), "front", (96, 128), layout="chw", rotate=180))
    assert chw.shape == (3, 96, 128) and chw[0, 0, -1] == 255 and chw[0, 0, 0] == 0


# -------------------------------------------------------------- action conventions, in the env
def test_libero_delta_moves_tool_and_gripper_sign() -> None:
    """LIBERO +0.2 in x (x 0.05 m) = +1 cm per step; +1 gripper = close."""
    with make() as env:
        obs, _ = env.reset(seed=0)
        facts = EnvFacts.of(env)
        start = robot_obs(env, obs)
        policy = MappedPolicy(
            load_mapping("libero"), facts, Constant(np.tile([0.2, 0, 0, 0, 0, 0, 1.0], (5, 1)))
        )
        assert policy.infer(obs)["actions"].shape == (5, 7)
        obs = drive(env, policy, obs, 1)  # 5 steps
        end = robot_obs(env, obs)
        moved = end["ee_pos"] - start["ee_pos"]
        assert moved[0] == pytest.approx(0.05, abs=0.012) and abs(moved[1]) < 0.01
        assert end["gripper"][0] < start["gripper"][0] - 0.2  # closing


def test_cogact_euler_yaw_turns_the_tool_and_gripper_opens() -> None:
    """CogACT: 0.05 rad Euler yaw per step turns the tool +0.05 rad about world z."""
    with make() as env:
        obs, _ = env.reset(seed=0)
        yaw0 = tool_yaw(robot_obs(env, obs)["ee_quat"])
        policy = MappedPolicy(
            load_mapping("cogact"), EnvFacts.of(env), Constant([[0, 0, 0.0, 0, 0, 0.05, 1.0]])
        )
        obs = drive(env, policy, obs, 6)
        turned = tool_yaw(robot_obs(env, obs)["ee_quat"]) - yaw0
        assert turned == pytest.approx(0.3, abs=0.06)
        assert robot_obs(env, obs)["gripper"][0] > 0.9  # 1 = open in OpenVLA's convention


def test_droid_joint_velocity_moves_joint() -> None:
    """DROID: 0.5 rad/s on joint 0 for 1 s (10 steps at 10 Hz) = +0.5 rad."""
    with make(control="joint_delta") as env:
        obs, _ = env.reset(seed=0)
        q0 = robot_obs(env, obs)["joint_pos"].copy()
        row = np.zeros(8)
        row[0] = 0.5
        policy = MappedPolicy(
            load_mapping("droid"), EnvFacts.of(env), Constant(np.tile(row, (8, 1)))
        )
        obs = drive(env, policy, obs, 1)  # 8 steps
        obs = drive(env, policy, obs, 1)
        dq = robot_obs(env, obs)["joint_pos"] - q0
        assert dq[0] == pytest.approx(0.8, abs=0.1) and np.abs(dq[1:]).max() < 0.05


def test_aloha_absolute_joints_reach_target_and_state_layout() -> None:
    with make(robot="vx300", control="joint_pos") as env:
        obs, _ = env.reset(seed=0)
        facts = EnvFacts.of(env)
        target = (facts.joint_low + facts.joint_high) / 2 + 0.2
        row = np.concatenate([target, [1.0], np.full(7, 9.0)])  # right arm ignored
        inner = Constant(np.tile(row, (10, 1)))
        policy = MappedPolicy(load_mapping("aloha"), facts, inner)
        obs = drive(env, policy, obs, 2)
        assert np.abs(robot_obs(env, obs)["joint_pos"] - target).max() < 0.05
        sent = inner.seen[0]
        assert sent["state"].shape == (14,) and sent["state"].dtype == np.float32
        assert not sent["state"][7:].any()
        assert sent["images"]["cam_high"].shape == (3, 224, 224)
        assert sent["prompt"] == env.unwrapped.task.instruction


@pytest.mark.parametrize(("name", "robot", "control"), [("libero", "panda", "ee_delta"),
    ("cogact", "panda", "ee_delta"), ("droid", "panda", "joint_delta"), ("aloha", "vx300", "joint_pos")])  # fmt: skip
def test_inverse_is_the_policy_convention(name: str, robot: str, control: str) -> None:
    """env action -> policy row -> env action is the identity (exports for fine-tuning)."""
    with make(robot=robot, control=control, obs="state") as env:
        conv = ActionConverter(load_mapping(name), EnvFacts.of(env))
        rng = np.random.default_rng(1)
        acts = rng.uniform(-0.9, 0.9, (20, env.action_space.shape[0])).astype(np.float32)
        if name == "droid":  # its gripper is binarised on the way in
            acts[:, -1] = np.sign(acts[:, -1])
        rows = conv.inverse(acts)
        assert rows.shape == (20, conv.dim)
        assert np.allclose(conv(rows), acts, atol=1e-5)
