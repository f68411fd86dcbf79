"""Human in the loop for SAC: the scripted human's rule, the buffers intervened steps land
in, a keyboard driven by a scripted key stream, and ``armgym train sac --intervene``."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from armgym.cli import main as armgym
from armgym.errors import ConfigError, UnknownNameError
from armgym.policies.sac import SACConfig
from armgym.policies.scripted import ScriptedPolicy
from armgym.rl import ReplayBuffer
from armgym.teleop import InterventionWrapper, ScriptedEvents
from armgym.teleop.keyboard import KeyboardTeleop
from armgym.teleop.scripted_human import ScriptedHumanConfig, ScriptedInterventionWrapper
from armgym.train.intervention import (
    EXTRAS,
    EpisodeInterventions,
    add_transition,
    restore_interventions,
)
from armgym.train.sac import SACTrainConfig, train


def _env(robot: str = "panda", task: str = "PickCube") -> gym.Env:
    import armgym  # noqa: F401  (registers armgym/*)

    return gym.make(f"armgym/{task}-v0", robot=robot, obs="state", control="ee_pos")


def _episode(env: gym.Env, act, seed: int) -> list[dict]:
    """Run one episode with ``act(obs) -> action``; return every step's info."""
    obs, _ = env.reset(seed=seed)
    infos, done = [], False
    while not done:
        obs, _, term, trunc, info = env.step(act(obs))
        infos.append(info)
        done = term or trunc
    return infos


@pytest.mark.parametrize("robot", ["panda", "so101"])
def test_the_expert_as_policy_is_never_taken_over(robot: str) -> None:
    env = ScriptedInterventionWrapper(_env(robot), seed=0)
    expert = ScriptedPolicy.for_env(env)
    for seed in range(3):
        expert.reset()
        infos = _episode(env, expert, seed)
        assert infos[-1]["is_success"]
        assert not any(i["intervention"] for i in infos)
        # no takeover: what the policy proposed was executed
        assert all(np.array_equal(i["executed_action"], i["policy_action"]) for i in infos)
    assert env.human.takeover_prob == 0.0  # 3 unassisted successes in a row
    env.close()


def test_a_policy_that_stands_still_stalls_and_is_taken_over() -> None:
    cfg = ScriptedHumanConfig(stall_steps=15, min_hold=45)  # drives to the end of the task
    env = ScriptedInterventionWrapper(_env(), cfg, seed=0)
    infos = _episode(env, lambda obs: np.zeros(4, np.float32), seed=0)
    who = [i["intervention"] for i in infos]
    first = who.index(True)
    assert cfg.stall_steps <= first <= cfg.stall_steps + 1  # the stall rule, not earlier
    assert all(who[first : first + cfg.min_hold])  # holds control for at least min_hold
    assert infos[-1]["is_success"]  # the expert finishes the task from where it took over
    for i in infos[first : first + cfg.min_hold]:  # the human's ee_pos action was executed
        assert i["executed_action"].shape == (4,) and not np.array_equal(
            i["executed_action"], i["policy_action"]
        )
    env.close()


def test_the_human_hands_back_at_a_phase_change_after_min_hold() -> None:
    cfg = ScriptedHumanConfig(min_hold=10, max_hold=60)
    env = ScriptedInterventionWrapper(_env(), cfg, seed=0)
    who = [i["intervention"] for i in _episode(env, lambda obs: np.zeros(4), seed=0)]
    first = who.index(True)
    held = who[first:].index(False)  # steps the human drove before handing back
    # hover done (the expert's first phase, ~20 steps from home): handed back mid-task
    assert cfg.min_hold <= held < cfg.max_hold
    assert sum(who) < len(who) and env.human.takeovers <= cfg.max_takeovers
    env.close()


def test_a_policy_that_strays_is_taken_over_before_any_stall() -> None:
    env = ScriptedInterventionWrapper(_env(), seed=0)
    expert = ScriptedPolicy.for_env(env)  # a separate expert: drive the opposite way
    expert.reset()
    infos = _episode(env, lambda obs: -expert(obs), seed=1)
    first = [i["intervention"] for i in infos].index(True)
    assert first < env.human.cfg.stall_steps // 2  # 4 cm stray at 2 cm/step: ~3 steps
    takeovers = EpisodeInterventions()
    for i in infos:
        takeovers.add(i)
    row = takeovers.pop()
    assert 1 <= row["takeovers"] <= env.human.cfg.max_takeovers
    assert row["interventions"] == sum(i["intervention"] for i in infos)
    env.close()


def test_takeovers_become_rarer_as_the_policy_succeeds() -> None:
    env = ScriptedInterventionWrapper(_env(), ScriptedHumanConfig(window=4), seed=0)
    human = env.human
    assert human.takeover_prob == 1.0  # before any episode: always
    human.start_episode()
    human.end_episode(True)
    human.end_episode(False)
    assert human.takeover_prob == pytest.approx(0.5)
    human.takeovers = 1  # a success the human helped with does not count
    human.end_episode(True)
    assert human.takeover_prob == pytest.approx(2 / 3)
    for _ in range(4):
        human.start_episode()
        human.end_episode(True)
    assert human.takeover_prob == 0.0
    rate = np.mean([i["intervention"] for i in _episode(env, lambda o: np.zeros(4), seed=2)])
    assert rate == 0.0  # it stalls, but the human no longer steps in
    floor = ScriptedInterventionWrapper(_env(), ScriptedHumanConfig(min_prob=0.2), seed=0).human
    floor.end_episode(True)
    assert floor.takeover_prob == pytest.approx(0.2)
    env.close()


def test_the_human_steps_in_less_once_the_policy_evaluates_well() -> None:
    """Every episode helped (no unassisted success) keeps p at 1 unless the human also
    watches the policy's evaluations; the trainer reports them through the env."""
    from armgym.train.intervention import report_evaluation

    for watch, expected in ((True, 0.2), (False, 1.0)):
        env = ScriptedInterventionWrapper(
            _env(), ScriptedHumanConfig(window=4, watch_evaluations=watch), seed=0
        )
        for _ in range(4):
            env.human.start_episode()
            env.human.takeovers = 1
            env.human.end_episode(True)  # helped successes only
        assert env.human.takeover_prob == 1.0
        report_evaluation(env, 0.8)
        assert env.human.takeover_prob == pytest.approx(expected)
        with pytest.raises(ConfigError, match=r"\[0, 1\]"):
            env.observe_evaluation(1.5)
        env.close()
    report_evaluation(_env(), 0.5)  # no human: nothing to tell, no error


def test_bad_human_config_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="max-hold"):
        ScriptedHumanConfig(min_hold=10, max_hold=5)
    with pytest.raises(ConfigError, match="min-prob"):
        ScriptedHumanConfig(min_prob=1.5)


# polls 0-1 policy; 2 "t" takes over; 3-4 "w" (+x); 5 "space" closes; 6 "t" hands back
KEYS = [[], [], ["t"], ["w"], ["w"], ["space"], ["t"]]


def test_keyboard_steps_land_in_both_buffers_with_the_executed_action(tmp_path: Path) -> None:
    """A real KeyboardTeleop fed a scripted key stream takes over an ee_pos env."""
    env = InterventionWrapper(_env(), KeyboardTeleop(ScriptedEvents(KEYS, []), hold_s=0.0))
    online = ReplayBuffer.for_env(env, 100, EXTRAS)
    offline = ReplayBuffer.for_env(env, 100, seed=1)
    policy_action = np.array([0.0, 0.0, -0.5, 1.0], np.float32)
    obs, _ = env.reset(seed=0)
    who = []
    for _ in range(9):
        nxt, r, term, trunc, info = env.step(policy_action)
        who.append(add_transition(online, offline, obs, policy_action, r, term, trunc, nxt, info))
        obs = nxt
    env.close()
    assert who == [False, False, True, True, True, True, False, False, False]
    assert len(online) == 9 and len(offline) == 4
    # the keyboard's ee_delta (+x, gripper open / closed) executed as ee_pos (dx, dy, dz, g)
    np.testing.assert_array_equal(online.action[3], [1, 0, 0, 1])
    np.testing.assert_array_equal(online.action[5], [0, 0, 0, -1])
    np.testing.assert_array_equal(online.action[0], policy_action)
    offline_actions = offline.action[offline.valid[: len(offline.action)]]
    np.testing.assert_array_equal(offline_actions, online.action[2:6])
    np.testing.assert_array_equal(
        offline.obs["observation.state"][0], online.obs["observation.state"][2]
    )
    # --resume: the saved online buffer gives the offline buffer the same transitions back
    restored = ReplayBuffer.for_env(env, 100, seed=1)
    assert restore_interventions(ReplayBuffer.load(online.save(tmp_path / "buf")), restored) == 4
    n = offline.filled
    assert len(restored) == 4 and restored.filled == n
    np.testing.assert_array_equal(restored.valid[:n], offline.valid[:n])
    np.testing.assert_array_equal(restored.action[:n], offline.action[:n])
    for k, v in offline.obs.items():
        np.testing.assert_array_equal(restored.obs[k][:n], v[:n])


def test_a_device_that_does_not_fit_the_control_mode_is_refused() -> None:
    import armgym  # noqa: F401

    env = InterventionWrapper(
        gym.make("armgym/Reach-v0", control="joint_pos"),
        KeyboardTeleop(ScriptedEvents([["t"]], []), hold_s=0.0),
    )
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="control='ee_pos'"):
        env.step(np.zeros(env.action_space.shape, np.float32))
    env.close()


TINY = dict(
    task="PickCube",
    demos="1",
    learning_starts=40,
    batch_size=16,
    eval_episodes=2,
    eval_num_envs=2,
    eval_every=0,
    checkpoint_every=1000,
    log_every=50,
    progress=False,
    final_clips=0,
    net=SACConfig(hidden_dims=(32, 32)),
)


def _episodes(out: Path) -> list[dict]:
    rows = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if ln]
    return [r["episode"] for r in rows if "episode" in r]


def test_train_with_a_keyboard_logs_its_interventions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [[]] * 10 + [["t"]] + [["r"]] * 5 + [["t"]]  # 6 steps by the person, then none
    opened: list[str] = []

    def device(name: str, viewer_keys=None) -> KeyboardTeleop:
        opened.append(name)
        return KeyboardTeleop(ScriptedEvents(keys, []), hold_s=0.0)

    monkeypatch.setattr("armgym.teleop.make_device", device)
    out = tmp_path / "kb"
    train(SACTrainConfig(out=out, steps=150, intervene="keyboard", **TINY))  # type: ignore[arg-type]
    assert opened == ["keyboard"]  # the training env only: evaluation opens no device
    eps = _episodes(out)
    assert eps[0]["interventions"] == 6 and eps[0]["takeovers"] == 1
    assert eps[0]["intervention_rate"] == pytest.approx(6 / eps[0]["length"])
    assert all(e["interventions"] == 0 for e in eps[1:])


def test_train_without_intervene_logs_no_intervention_keys(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    train(SACTrainConfig(out=out, steps=110, **TINY))  # type: ignore[arg-type]
    assert _episodes(out) and all("intervention_rate" not in e for e in _episodes(out))


def test_unknown_intervene_is_a_clear_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x"
    assert armgym(["train", "sac", "--out", str(out), "--intervene", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "--intervene" in err and "scripted" in err and "keyboard" in err
    with pytest.raises(UnknownNameError, match="'scripted'"):
        SACTrainConfig(out=out, intervene="scriptd")
    assert not out.exists()


def test_cli_scripted_run_logs_intervention_rates_and_plots_them(tmp_path: Path) -> None:
    out = tmp_path / "hil"
    args = ["train", "sac", "--out", str(out), "--intervene", "scripted", "--steps", "300"]
    args += ["--task", "PickCube", "--demos", "1", "--learning-starts", "50"]
    args += ["--batch-size", "16", "--eval-episodes", "2", "--eval-num-envs", "2"]
    args += ["--net.hidden-dims", "32", "32", "--no-progress", "--human.stall-steps", "10"]
    assert armgym(args) == 0
    eps = _episodes(out)
    assert len(eps) >= 3
    assert all(0.0 <= e["intervention_rate"] <= 1.0 for e in eps)
    assert any(e["takeovers"] >= 1 for e in eps)  # an untrained policy gets taken over
    import matplotlib.image

    png = matplotlib.image.imread(out / "curve.png")
    assert png.shape[1] == 1500  # three 5-inch panels at 100 dpi: success ×2 + interventions
