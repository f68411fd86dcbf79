"""Human interventions: a policy acts, a person takes over and hands back; every frame
records who acted and what the policy proposed."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from armgym.apps.collect import ExpertActions
from armgym.cli import main as armgym
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import (
    IS_INTERVENTION,
    EpisodeRecorder,
    env_features,
    intervention_features,
)
from armgym.data.recorder import POLICY_ACTION_COLUMN as POLICY_ACTION
from armgym.data.writer import LeRobotWriter
from armgym.teleop import InterventionWrapper, ScriptedEvents
from armgym.teleop.keyboard import KeyboardTeleop

# polls 0-2 policy; 3 "t" hands control to the human; 4-5 "w" (+x); 6 "t" hands it back
KEYS = [[], [], [], ["t"], ["w"], ["w"], ["t"]]


def test_the_toggle_switches_who_acts() -> None:
    """Each step's info says who acted, what the policy proposed and what was executed."""
    import armgym  # noqa: F401

    policy_action = np.array([0, 0, -0.5, 0, 0, 0, 1], np.float32)
    device = KeyboardTeleop(ScriptedEvents(KEYS, []), hold_s=0.0)
    env = InterventionWrapper(gym.make("armgym/PickCube-v0", obs="state"), device)
    assert device.intervention is False  # the policy starts in control
    env.reset(seed=0)
    infos = [env.step(policy_action)[4] for _ in range(9)]
    env.close()
    who = [i["intervention"] for i in infos]
    assert who == [False, False, False, True, True, True, False, False, False]
    acts = np.stack([i["executed_action"] for i in infos])
    np.testing.assert_array_equal(acts[[0, 1, 2, 6, 7, 8]], np.tile(policy_action, (6, 1)))
    np.testing.assert_array_equal(acts[4], [1, 0, 0, 0, 0, 0, 1])  # the human's +x
    np.testing.assert_array_equal(acts[3], [0, 0, 0, 0, 0, 0, 1])  # took over, holds still
    assert all(np.array_equal(i["policy_action"], policy_action) for i in infos)
    assert all(i["policy_action"].dtype == np.float32 for i in infos)
    assert env.interventions == 3
    env.reset(seed=1)
    assert env.interventions == 0


def test_device_without_toggle_is_refused() -> None:
    class NoToggle:
        def poll(self): ...

        def close(self): ...

    with pytest.raises(TypeError, match="intervention toggle"):
        InterventionWrapper(gym.make("armgym/Reach-v0"), NoToggle())  # type: ignore[arg-type]


def test_recorded_interventions(tmp_path: Path) -> None:
    """The expert acts, a person takes over for three steps; the dataset says so."""
    import armgym  # noqa: F401

    base = gym.make("armgym/PickCube-v0", obs="state")
    env = InterventionWrapper(base, KeyboardTeleop(ScriptedEvents(KEYS, []), hold_s=0.0))
    feats = {**env_features(env, sim_state=False), **intervention_features(7)}
    writer = LeRobotWriter(tmp_path / "ds", feats, fps=10)
    expert = ExpertActions(env)
    expert.reset()
    res = EpisodeRecorder(env, writer, sim_state=False).record(expert, seed=0, max_steps=60)
    writer.close()
    env.close()
    assert res.saved and res.success  # the expert recovers after the hand-back
    assert res.interventions == 3
    reader = LeRobotReader(tmp_path / "ds")
    ep = reader.episode(0)
    flags = ep[IS_INTERVENTION].reshape(-1)  # shape-[1] features read back as [T]
    assert flags.dtype == np.float32 and flags[:8].tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
    human = flags == 1.0
    np.testing.assert_array_equal(ep["action"][~human], ep[POLICY_ACTION][~human])
    assert ep["action"][4, 0] == 1.0 and ep[POLICY_ACTION][4, 0] != 1.0
    assert reader.episode_info(0).extras["armgym/intervention_frames"] == 3
    assert set(reader.stats) >= {IS_INTERVENTION, POLICY_ACTION}


def test_intervene_argument_errors(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x")
    assert armgym(["collect", "--out", out, "--source", "keyboard", "--intervene", "gamepad"]) == 2
    assert "already a person" in capsys.readouterr().err
    assert armgym(["collect", "--out", out, "--intervene", "keybord"]) == 2
    assert "'keyboard'" in capsys.readouterr().err  # the closest valid name
    assert not Path(out).exists()  # nothing written
