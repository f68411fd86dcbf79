"""``collect`` / ``eval`` / ``run`` with ``--real``: envs on an SO-101 over a fake Feetech bus.

The commands drive a :class:`RealRobot` directly (no robot-server hop) through the real
pyserial driver; the bus is a pseudo-terminal answered by ``FakeFeetechBus``.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from armgym.apps.collect import CollectConfig, collect
from armgym.cli import main as armgym_main
from armgym.data.reader import LeRobotReader
from armgym.envs import EnvConfig, make_env
from armgym.envs.batched import BatchedEnv
from armgym.envs.real import RealArgs
from armgym.errors import ConfigError, HardwareError
from armgym.robots.real.config import RealRobotConfig
from armgym.robots.real.robot import RealRobot
from armgym.robots.specs import ROBOTS
from tests._real import so101_setup, wait_for

pytest.importorskip("serial")

SPEC = ROBOTS.get("so101")


@pytest.fixture
def arm(tmp_path):
    """(fake bus at the home pose, JSON real config at 25 Hz, the config)."""
    bus, cfg = so101_setup(tmp_path, np.asarray(SPEC.home_qpos))
    real = RealRobotConfig(robot="so101", port=cfg.port, calibration=cfg.calibration)
    path = tmp_path / "arm.json"
    path.write_text(json.dumps({"robot": "so101", "port": cfg.port,
                                "calibration": str(cfg.calibration), "control_hz": 25.0,
                                "safety": {"max_joint_vel": 3.0}}))  # fmt: skip
    yield bus, path, real
    bus.close()


def _flags(real: RealRobotConfig) -> list[str]:
    return ["--robot", "so101", "--real", "--port", real.port, "--calibration",
            str(real.calibration), "--max-joint-vel", "3"]  # fmt: skip


def _checkpoint(path):
    """An untrained tiny MLP for state observations of Reach on the so101, saved."""
    import torch

    from armgym.contracts.policy import FeatureSpec
    from armgym.policies.learned import build_policy, save_checkpoint
    from armgym.policies.mlp import MLPConfig
    from armgym.policies.normalize import Normalizer

    torch.manual_seed(0)
    schema = {"observation.state": FeatureSpec("float32", (18,)),
              "observation.environment_state": FeatureSpec("float32", (3,))}  # fmt: skip
    stats: dict = {k: {"mode": "mean_std", "mean": [0.0] * s.shape[0], "std": [1.0] * s.shape[0]}
                   for k, s in schema.items()}  # fmt: skip
    stats["action"] = {"mode": "min_max", "min": [-1.0] * 7, "max": [1.0] * 7}
    cfg = MLPConfig(obs_horizon=1, horizon=2, n_action_steps=2, hidden_dims=(16,))
    env = {"task": "Reach", "robot": "so101", "obs": "state", "control_hz": 50.0}
    policy = build_policy("mlp", cfg, schema, 7, Normalizer(stats), 10.0, env)
    save_checkpoint(path, policy)
    return path


def _held(bus) -> None:
    """Every servo's goal is its present position (the arm holds where it is)."""
    for i in range(1, 7):
        s = bus.servo(i)
        wait_for(lambda s=s: abs(int.from_bytes(s.read(56, 2), "little")
                                 - s.get("Goal_Position")) <= 2,
                 what=f"servo {i} to hold")  # fmt: skip
        assert s.get("Torque_Enable") == 1


def test_env_config_on_a_real_arm_round_trips_and_checks(arm, tmp_path):
    _bus, _path, real = arm
    cfg = EnvConfig(task="Reach", robot="so101", control_hz=20.0, real=real)
    assert cfg.real is not None and cfg.real.control_hz == 20.0  # the env's rate wins
    assert EnvConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="drives a 'so101' but the env asks for robot 'panda'"):
        EnvConfig(task="Reach", robot="panda", real=real)
    with pytest.raises(ConfigError, match="either robot_server or real"):
        EnvConfig(task="Reach", robot="so101", real=real, robot_server="ws://127.0.0.1:1")
    with pytest.raises(ConfigError, match="give its cameras as NAME=SOURCE"):
        EnvConfig(task="Reach", robot="so101", obs="pixels", real=real)
    # a task with physical objects is refused before the port is even opened
    nowhere = dataclasses.replace(real, port=str(tmp_path / "no-such-tty"))
    with pytest.raises(ConfigError, match=r"e\.g\. Reach"):
        make_env(EnvConfig(task="PickCube", robot="so101", real=nowhere))
    with pytest.raises(ConfigError, match="num_envs 1"):
        BatchedEnv.from_config(EnvConfig(task="Reach", robot="so101", real=nowhere), 1)


def test_reach_on_the_real_arm_scores_a_seeded_virtual_target(arm):
    bus, _path, real = arm
    env = make_env(EnvConfig(task="Reach", robot="so101", control_hz=25.0,
                             real=dataclasses.replace(real, safety=real.safety)))  # fmt: skip
    try:
        robot = env.unwrapped.robot
        assert isinstance(robot, RealRobot) and robot.task_name == "Reach"
        obs, _ = env.reset(seed=3)
        target = obs["observation.environment_state"].copy()
        assert np.linalg.norm(target) > 0  # placed by the task, not left at zero
        env.reset(seed=4)
        other = env.unwrapped.robot_obs["object_state"].copy()
        obs, _ = env.reset(seed=3)
        np.testing.assert_array_equal(obs["observation.environment_state"], target)
        assert not np.array_equal(other, target)
        before = bus.servo(2).get("Goal_Position")
        _obs, reward, *_ = env.step(np.array([0, 0, 1, 0, 0, 0, 1], np.float32))
        assert -1.0 <= reward <= 0.0
        wait_for(lambda: bus.servo(2).get("Goal_Position") != before, what="a command")
    finally:
        env.close()


def test_collect_real_records_the_arm_from_the_scripted_expert(arm, tmp_path):
    bus, _path, real = arm
    out = tmp_path / "ds"
    rc = armgym_main(["collect", "--out", str(out), "--task", "Reach", *_flags(real),
                      "--obs", "state", "--episodes", "2", "--max-steps", "4",
                      "--no-terminate-on-success", "--no-progress"])  # fmt: skip
    assert rc == 0
    reader = LeRobotReader(out)
    assert reader.num_episodes == 2 and reader.num_frames == 8
    assert "complementary_info.sim_state" not in reader.features  # a real arm has none
    env = reader.env_config()
    assert env is not None and env["robot"] == "so101" and env["real"] is None  # the sim twin
    assert reader.info["robot_type"] == "so101"
    states = reader.episode(0, ["observation.state"])["observation.state"]
    assert states.shape == (4, 18) and np.ptp(states[:, 10:13], axis=0).max() > 1e-3  # it moved
    assert any(p.code == 0x83 for p in bus.requests)  # goals went over the bus


def test_collect_real_from_a_policy_checkpoint(arm, tmp_path):
    _bus, path, _real = arm
    ck = _checkpoint(tmp_path / "ck")
    out = tmp_path / "ds"
    rc = armgym_main(["collect", "--out", str(out), "--task", "Reach", "--robot", "so101",
                      "--real-config", str(path), "--source", f"policy:{ck}", "--obs", "state",
                      "--episodes", "1", "--max-steps", "3", "--no-terminate-on-success",
                      "--no-progress"])  # fmt: skip
    assert rc == 0
    reader = LeRobotReader(out)
    assert reader.num_episodes == 1 and reader.num_frames == 3
    assert reader.fps == 25.0  # the arm's control rate, from the config file


def test_eval_real_runs_seeded_episodes_one_at_a_time(arm, tmp_path, capsys):
    _bus, path, real = arm
    ck = _checkpoint(tmp_path / "ck")
    out = tmp_path / "eval"
    args = ["eval", "--checkpoint", str(ck), "--episodes", "2", "--real-config", str(path),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert armgym_main([*args, "--num-envs", "2"]) == 2
    assert "pass --num-envs 1" in capsys.readouterr().err
    assert armgym_main([*args, "--num-envs", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["episodes"] == 2 and [e["seed"] for e in report["per_episode"]] == [0, 1]
    assert report["env"]["real"]["port"] == real.port
    assert report["env"]["control_hz"] == 50.0  # the checkpoint's rate, not the file's 25 Hz
    assert all(e["length"] == 50 for e in report["per_episode"])  # Reach's limit, no success


def test_run_real_drives_the_arm_from_a_served_policy(arm, tmp_path):
    from armgym.apps.policy_specs import factory_for
    from armgym.serve.policy_server import PolicyServer

    _bus, _path, real = arm
    server = PolicyServer(factory=factory_for("scripted:Reach:so101"), port=0)
    out = tmp_path / "rollouts"
    with server.run_in_thread() as t:
        rc = armgym_main(["run", "--policy", t.url, "--task", "Reach", *_flags(real),
                          "--episodes", "2", "--record", str(out)])  # fmt: skip
    assert rc == 0
    reader = LeRobotReader(out)
    assert reader.num_episodes == 2
    for e in range(2):  # the served expert reaches the virtual target on the arm
        assert bool(reader.episode(e, ["next.success"])["next.success"][-1])


def test_real_flags_fail_with_clear_errors(arm, tmp_path, capsys):
    _bus, path, real = arm
    base = ["collect", "--out", str(tmp_path / "ds"), "--task", "Reach", "--obs", "state",
            "--episodes", "1", "--no-progress"]  # fmt: skip
    cal, nowhere = str(real.calibration), str(tmp_path / "ttyNONE")
    cases = [
        (["--robot", "so101", "--real", "--port", nowhere, "--calibration", cal], "serial port"),
        (["--robot", "so101", "--real", "--port", real.port], "needs --calibration"),
        (["--robot", "widowx250", "--real", "--driver", "feetech"], "drives ['so101']"),
        (["--robot", "panda", "--real-config", str(path)], "--robot so101"),
        (["--robot", "so101", "--real-config", str(path), "--viewer"], "drop it with --real"),
    ]
    for extra, message in cases:
        assert armgym_main([*base, *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert not (tmp_path / "ds" / "meta" / "info.json").exists()


def test_a_driver_error_mid_episode_holds_the_arm_and_keeps_saved_episodes(
    arm, tmp_path, monkeypatch
):
    bus, path, _real = arm
    act, calls = RealRobot.act, [0]

    def act_then_fail(self, action):
        calls[0] += 1
        if calls[0] == 7:  # step 3 of episode 2: every reply to 3 tries x 6 servos corrupt
            bus.corrupt_replies = 18
        return act(self, action)

    monkeypatch.setattr(RealRobot, "act", act_then_fail)
    cfg = CollectConfig(out=tmp_path / "ds", task="Reach", robot="so101", obs="state",
                        episodes=3, max_steps=4, terminate_on_success=False, progress=False,
                        arm=RealArgs(real_config=path))  # fmt: skip
    with pytest.raises(HardwareError, match=r"SYNC_READ .*keeps its 1 saved episodes"):
        collect(cfg)
    assert calls[0] == 7
    reader = LeRobotReader(cfg.out)
    assert reader.num_episodes == 1 and reader.num_frames == 4
    # after the failed read (its PINGs ask which servo is gone): goals = present (the robot's
    # error path, then close; one of the two may meet the last corrupted replies, so at
    # least one lands), and the servos hold there with torque on
    last_ping = max(i for i, p in enumerate(bus.requests) if p.code == 0x01)
    holds = [p for p in bus.requests[last_ping:] if p.code == 0x83 and p.params[0] == 42]
    assert len(holds) >= 1
    _held(bus)
