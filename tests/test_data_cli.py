"""End-to-end: armgym collect / replay / view / export on a real env, tiny budgets."""

from __future__ import annotations

import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from armgym.cli import main as armgym
from armgym.data.reader import LeRobotReader
from armgym.data.recorder import EpisodeRecorder, RateTimer, env_features
from armgym.data.writer import LeRobotWriter
from armgym.tasks.language import instruction_for, instructions
from armgym.teleop import ScriptedEvents, TeleopWrapper
from armgym.teleop.keyboard import KeyboardTeleop


def _env(obs: str = "state"):
    import armgym  # noqa: F401

    return gym.make(
        "armgym/PickCube-v0", robot="panda", control="ee_delta", obs=obs, randomization="low"
    )


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    _env().close()
    out = tmp_path_factory.mktemp("collect") / "ds"
    args = [
        "collect",
        "--out",
        str(out),
        "--episodes",
        "2",
        "--obs",
        "both",
        "--image-size",
        "64",
        "--no-progress",
        "--max-steps",
        "40",
    ]
    assert armgym(args) == 0
    assert armgym([*args[:4], "1", *args[5:], "--seed", "5"]) == 0  # appends
    return out


def test_collect(collected: Path, capsys) -> None:
    r = LeRobotReader(collected)
    # each episode's task is the paraphrase its seed picks (seeds 0, 1, then 5 + 2 appended)
    assert r.num_episodes == 3
    assert set(r.tasks) == {instruction_for("PickCube", seed) for seed in (0, 1, 7)}
    assert set(r.tasks) <= set(instructions("PickCube"))
    assert {"observation.images.front", "observation.images.wrist"} <= set(r.video_keys)
    ep = r.episode(0)
    assert ep["observation.images.front"].shape[1:] == (64, 64, 3)
    assert ep["complementary_info.sim_state"].dtype == np.float64
    assert not any(k.endswith("sim_state") for k in ep if k.startswith("observation."))
    assert ep["action"].shape[1] == 7 and np.abs(ep["action"]).max() <= 1.0
    assert bool(ep["next.done"][-1])
    extras = r.episode_info(0).extras
    assert extras["armgym/measured_fps"] > 0 and extras["armgym/late_frames"] == 0


def test_replay(collected: Path, capsys, tmp_path: Path) -> None:
    assert (
        armgym(["replay", str(collected), "--episode", "1", "--json-out", str(tmp_path / "r.json")])
        == 0
    )
    out = capsys.readouterr().out
    assert "exact replay" in out, out


def test_view(collected: Path) -> None:
    assert armgym(["view", str(collected), "--max-episodes", "1"]) == 0
    html = (collected / "report/index.html").read_text()
    assert html.count("<video") == 2 and "joint positions" in html and "nan" not in html


def test_export(collected: Path, tmp_path: Path) -> None:
    assert armgym(["export", str(collected), "--out", str(tmp_path)]) == 0
    assert list((tmp_path / "armgym_dataset/1.0.0").glob("*.tfrecord-00000-of-00001"))


def test_errors_are_reported(tmp_path: Path, capsys) -> None:
    assert armgym(["replay", str(tmp_path)]) == 2
    assert "meta/info.json: not found" in capsys.readouterr().err
    assert armgym(["collect", "--out", str(tmp_path / "x"), "--source", "joystick"]) == 2


def test_keyboard_teleop_recording(tmp_path: Path) -> None:
    """Real-time paced recording driven by a scripted keyboard; Enter ends the episode."""
    keys = ScriptedEvents([["w"], ["w", "space"], ["r"], ["enter"]], default=[])
    env = TeleopWrapper(_env(), KeyboardTeleop(keys, hold_s=0.0))
    writer = LeRobotWriter(tmp_path / "ds", env_features(env), fps=10)
    rec = EpisodeRecorder(env, writer, realtime=True)
    t0 = time.perf_counter()
    res = rec.record(lambda obs: np.zeros(7, np.float32), seed=0, max_steps=20)
    assert res.saved and res.length == 4 and res.success
    assert time.perf_counter() - t0 >= 0.3  # paced at 10 Hz
    ep = LeRobotReader(tmp_path / "ds").episode(0)
    assert ep["action"][:, 0].tolist() == [1, 1, 0, 0]
    assert ep["action"][:, 6].tolist() == [1, -1, -1, -1]  # open, then space closes
    assert 7 < res.timing["armgym/measured_fps"] < 12
    env.close()


def test_only_success_discards(tmp_path: Path) -> None:
    env = _env()
    writer = LeRobotWriter(tmp_path / "ds", env_features(env, sim_state=False), fps=10)
    res = EpisodeRecorder(env, writer).record(
        lambda obs: np.zeros(7, np.float32), seed=0, max_steps=3, only_success=True
    )
    assert not res.saved and writer.total_episodes == 0
    env.close()


def test_rate_timer_counts_late_and_dropped() -> None:
    timer = RateTimer(fps=50.0, realtime=True)
    timer.start()
    for delay in (0.0, 0.07, 0.0):  # one step takes 3.5 periods
        time.sleep(delay)
        timer.tick()
    s = timer.summary()
    assert s["armgym/late_frames"] >= 1 and s["armgym/dropped_frames"] >= 2
    assert s["armgym/max_period_s"] >= 0.07


@pytest.mark.parametrize("cmd", ["collect", "replay", "view", "export"])
def test_help(cmd: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        armgym([cmd, "--help"])
    assert exc.value.code == 0
    assert "--" in capsys.readouterr().out


def test_policy_source_executes_chunks(monkeypatch) -> None:
    from armgym.apps import collect

    class Chunky:
        calls = 0

        def reset(self) -> None:
            pass

        def infer(self, obs: dict) -> dict:
            Chunky.calls += 1
            return {"actions": np.arange(21, dtype=np.float32).reshape(3, 7) / 100}

    import armgym.apps.policy_specs as bp

    monkeypatch.setattr(bp, "load_checkpoint_policy", lambda path: Chunky())
    actor = collect.make_actions("policy:/some/ckpt", env=None)
    got = [actor({})[0] for _ in range(4)]
    assert got == pytest.approx([0.0, 0.07, 0.14, 0.0]) and Chunky.calls == 2


def test_keyboard_source_needs_a_terminal(tmp_path: Path, capsys, monkeypatch) -> None:
    _env().close()
    monkeypatch.setattr("sys.stdin", open(tmp_path / "in", "w+"))  # noqa: SIM115
    assert armgym(["collect", "--out", str(tmp_path / "k"), "--source", "keyboard"]) == 2
    assert "TTY" in capsys.readouterr().err
