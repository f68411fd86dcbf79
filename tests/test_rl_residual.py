"""Residual RL over a frozen base: wrapper math, zero-init, checkpoints, served base, CLI."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.cli import main as armgym_main
from armgym.contracts.policy import FeatureSpec, PolicyMetadata
from armgym.envs import EnvConfig, make_env
from armgym.errors import CheckpointError, ConfigError
from armgym.eval.rollout import rollout
from armgym.policies import load_checkpoint
from armgym.policies.learned import LearnedPolicy, save_checkpoint
from armgym.policies.mlp import MLPConfig
from armgym.policies.residual import BASE_ACTION_KEY, ResidualWrapper, zero_init_mean
from armgym.policies.residual_policy import ResidualPolicy
from armgym.policies.sac import SACActor, SACConfig
from armgym.serve.policy_client import WebsocketPolicyClient
from armgym.train.residual import PPOSettings, ResidualTrainConfig, train
from tests._policies import ENV, STATE_SCHEMA, tiny_policy

SEEDS = [11, 12]


class CountingBase:
    """A plain Policy returning chunks [H, 7] whose rows are (call index + row) / 10."""

    def __init__(self, horizon: int = 3, value: float = 0.0):
        self.metadata = PolicyMetadata(dict(STATE_SCHEMA), 7, horizon, 10.0, "counting")
        self.calls, self.horizon, self.value = 0, horizon, value
        self.total = self.resets = 0  # over all episodes

    def reset(self) -> None:
        self.calls, self.resets = 0, self.resets + 1

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        assert obs["observation.state"].shape == (22,)
        rows = self.value + (self.calls + np.arange(self.horizon, dtype=np.float32)) / 10
        self.calls, self.total = self.calls + 1, self.total + 1
        return {"actions": np.repeat(rows[:, None], 7, 1).astype(np.float32)}


def _env():
    return make_env(EnvConfig.from_dict(ENV))


def _base_ckpt(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    cfg = MLPConfig(hidden_dims=(32,), obs_horizon=2, horizon=4, n_action_steps=2)
    return save_checkpoint(path, tiny_policy("mlp", cfg, ENV))


def _untrained_residual(base, env) -> ResidualPolicy:
    spaces = {**env.observation_space.spaces}
    schema = {k: FeatureSpec("float32", tuple(s.shape)) for k, s in spaces.items()}
    schema[BASE_ACTION_KEY] = FeatureSpec("float32", (7,))
    actor = SACActor(SACConfig(hidden_dims=(16,)), {k: s.shape for k, s in schema.items()}, 7)
    zero_init_mean(actor)
    from armgym.train.residual_ppo import _stats

    norm = _stats({k: np.zeros((2, *s.shape), np.float32) for k, s in schema.items()}, 7)
    res = LearnedPolicy("sac", actor.cfg, actor, norm, schema, 7, 10.0, ENV)
    return ResidualPolicy(base, res, 0.1, {"kind": "test"}, ENV)


def test_wrapper_adds_base_action_composes_clips_and_respects_chunks() -> None:
    base = CountingBase(horizon=3, value=0.75)
    env = ResidualWrapper(_env(), base, scale=0.5)
    obs, _ = env.reset(seed=0)
    assert env.observation_space[BASE_ACTION_KEY].shape == (7,)
    assert obs[BASE_ACTION_KEY][0] == pytest.approx(0.75)
    residual = np.full(7, 1.0, np.float32)
    seen = []
    for _ in range(6):
        obs, _, _, _, info = env.step(residual)
        seen.append(info["base_action"][0])
        expected = np.clip(info["base_action"] + 0.5 * residual, -1, 1)
        np.testing.assert_allclose(info["total_action"], expected)
        np.testing.assert_array_equal(info["executed_action"], residual)  # what a buffer stores
    # the 3 rows of chunk 0 (0.75 + row / 10), then of chunk 1 (0.85 + row / 10)
    np.testing.assert_allclose(seen, [0.75, 0.85, 0.95, 0.85, 0.95, 1.05], atol=1e-6)
    assert base.calls == 3  # reset + 6 steps = 7 base actions = 3 chunks of 3
    assert np.all(info["total_action"] == 1.0)  # 0.95 + 0.5 clipped to the bound
    with pytest.raises(ConfigError, match="finite"):
        env.step(np.full(7, np.nan, np.float32))


def test_base_that_does_not_fit_the_env_is_refused() -> None:
    base = CountingBase()
    base.metadata = PolicyMetadata(dict(STATE_SCHEMA), 4, 1, 10.0, "four")
    with pytest.raises(ConfigError, match="acts in 4 dims"):
        ResidualWrapper(_env(), base)
    base.metadata = PolicyMetadata(
        {"observation.images.front": FeatureSpec("uint8", (8, 8, 3))}, 7, 1, 10.0, "pixels"
    )
    with pytest.raises(ConfigError, match="does not produce"):
        ResidualWrapper(_env(), base)


def test_zero_init_residual_evaluates_exactly_as_the_base(tmp_path: Path) -> None:
    base = load_checkpoint(_base_ckpt(tmp_path / "base"))
    res = _untrained_residual(base, ResidualWrapper(_env(), base))
    r_base, _ = rollout(base, ENV, SEEDS)
    r_res, _ = rollout(res, ENV, SEEDS)
    assert [(r.ret, r.length) for r in r_res] == [(r.ret, r.length) for r in r_base]
    # and step by step through the wrapper: a zero residual executes the base's actions
    wrapped = ResidualWrapper(_env(), base.fork(SEEDS[0]))
    wrapped.reset(seed=SEEDS[0])
    session = res.fork(SEEDS[0])
    obs, _ = _env().reset(seed=SEEDS[0])
    _, _, _, _, info = wrapped.step(np.zeros(7, np.float32))
    np.testing.assert_array_equal(info["total_action"], session.infer(obs)["actions"][0])


def _train_cfg(base: Path, out: Path, **kw) -> ResidualTrainConfig:
    tiny = dict(
        base=str(base),
        out=out,
        steps=60,
        learning_starts=30,
        batch_size=16,
        eval_episodes=2,
        eval_num_envs=2,
        eval_every=0,
        checkpoint_every=30,
        log_every=10,
        progress=False,
        final_clips=0,
        net=SACConfig(hidden_dims=(16,)),
    )
    return ResidualTrainConfig(**{**tiny, **kw})  # type: ignore[arg-type]


def test_sac_residual_trains_saves_resumes_and_refuses_a_changed_base(tmp_path: Path) -> None:
    base = _base_ckpt(tmp_path / "base")
    out = tmp_path / "res"
    s = train(_train_cfg(base, out))
    assert s["algo"] == "sac" and s["steps"] == 60 and s["updates"] == 31
    config = json.loads((out / "config.json").read_text())
    assert config["policy"] == "residual" and config["residual"]["scale"] == 0.1
    assert config["residual"]["base"]["path"] == str(base.resolve())
    policy = load_checkpoint(out)
    assert isinstance(policy, ResidualPolicy) and policy.env["task"] == "PickCube"
    obs, _ = _env().reset(seed=3)
    a = policy.infer(obs)["actions"]
    assert a.shape == (1, 7) and np.all(np.abs(a) <= 1)
    # resume continues from step 60
    s = train(_train_cfg(base, out, steps=90, resume=True))
    assert s["steps"] == 90
    # tamper: the base's weights change -> loading and resuming are refused
    _base_ckpt(base, seed=1)
    with pytest.raises(CheckpointError, match="changed"):
        load_checkpoint(out)
    with pytest.raises(CheckpointError, match="changed"):
        train(_train_cfg(base, out, steps=120, resume=True))
    shutil.rmtree(base)
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(out)


def test_residual_over_a_base_that_no_longer_fits_is_refused(tmp_path: Path) -> None:
    base = _base_ckpt(tmp_path / "base")
    out = tmp_path / "res"
    train(_train_cfg(base, out, steps=31, learning_starts=30))
    # same sha in the reference, but the base now reads another observation layout
    config = json.loads((base / "config.json").read_text())
    config["schema"]["observation"]["observation.state"]["shape"] = [5]
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(out)


def test_ppo_residual_runs_saves_and_resumes(tmp_path: Path) -> None:
    base = _base_ckpt(tmp_path / "base")
    out = tmp_path / "ppo"
    ppo = PPOSettings(num_envs=2, rollout_steps=10, epochs=2, minibatches=2, hidden_dims=(16,))
    s = train(_train_cfg(base, out, algo="ppo", steps=40, ppo=ppo, checkpoint_every=20))
    assert s["steps"] == 40 and s["updates"] >= 2
    rows = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]
    assert any("policy_loss" in r for r in rows) and any("eval" in r for r in rows)
    assert isinstance(load_checkpoint(out), ResidualPolicy)
    s = train(_train_cfg(base, out, algo="ppo", steps=60, ppo=ppo, resume=True))
    assert s["steps"] == 60
    with pytest.raises(ConfigError, match="different settings"):
        train(_train_cfg(base, out, algo="ppo", steps=80, ppo=ppo, resume=True, scale=0.2))


def test_eval_cli_evaluates_a_residual_checkpoint(tmp_path: Path) -> None:
    base = _base_ckpt(tmp_path / "base")
    out = tmp_path / "res"
    train(_train_cfg(base, out, steps=31, learning_starts=30))
    rc = armgym_main(
        [
            "eval",
            "--checkpoint",
            str(out),
            "--episodes",
            "2",
            "--num-envs",
            "2",
            "--videos",
            "0",
            "--no-progress",
            "--out",
            str(tmp_path / "ev"),
        ]
    )
    assert rc == 0
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["policy"] == "residual" and report["episodes"] == 2


def test_train_residual_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def err(*args: str) -> str:
        assert armgym_main(["train", "residual", *args]) == 2
        return capsys.readouterr().err

    out = str(tmp_path / "o")
    assert "no such checkpoint folder" in err("--base", str(tmp_path / "nope"), "--out", out)
    assert "--scale must be > 0" in err("--base", "scripted:PickCube", "--out", out, "--scale", "0")
    assert "needs --task" in err("--base", "scripted:PickCube", "--out", out)
    base = _base_ckpt(tmp_path / "base")
    assert "acts in 7 dims" in err("--base", str(base), "--out", out, "--control", "ee_pos")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(checkpoint: Path, api_key: str) -> Iterator[str]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "armgym.cli",
        "serve",
        "--checkpoint",
        str(checkpoint),
        "--port",
        str(port),
        "--api-key",
        api_key,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.communicate(timeout=5)[0] if proc.poll() is not None else ""
                    pytest.fail(f"armgym serve did not come up:\n{out}")
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_residual_over_a_served_base_acts_as_over_the_local_base(tmp_path: Path) -> None:
    ckpt = _base_ckpt(tmp_path / "base")
    local = load_checkpoint(ckpt)
    with _serve(ckpt, "k3y") as url, WebsocketPolicyClient(url, api_key="k3y") as client:
        envs = [ResidualWrapper(_env(), b) for b in (local, client)]
        obs = [e.reset(seed=5)[0] for e in envs]
        rng = np.random.default_rng(0)
        for _ in range(12):
            np.testing.assert_allclose(obs[0][BASE_ACTION_KEY], obs[1][BASE_ACTION_KEY], atol=1e-5)
            r = rng.uniform(-1, 1, 7).astype(np.float32)
            obs = [e.step(r)[0] for e in envs]


def test_vector_wrapper_batches_base_chunks_and_restarts_them_per_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from armgym.envs.batched import BatchedEnv
    from armgym.policies.residual import ResidualVectorWrapper

    base = load_checkpoint(_base_ckpt(tmp_path / "base"))
    calls: list[int] = []
    inner = base.infer_sessions
    monkeypatch.setattr(
        base, "infer_sessions", lambda items: calls.append(len(items)) or inner(items)
    )
    vec = ResidualVectorWrapper(BatchedEnv("PickCube", 2, num_threads=1), base)
    single = ResidualWrapper(_env(), base)
    obs, _ = vec.reset(seed=[7, 8])
    ref, _ = single.reset(seed=8)
    np.testing.assert_allclose(obs[BASE_ACTION_KEY][1], ref[BASE_ACTION_KEY], atol=1e-5)
    calls.clear()
    for _ in range(4):  # n_action_steps = 2: one call for both envs every 2 steps
        obs, *_ = vec.step(np.zeros((2, 7), np.float32))
        ref, *_ = single.step(np.zeros(7, np.float32))
        np.testing.assert_allclose(obs[BASE_ACTION_KEY][1], ref[BASE_ACTION_KEY], atol=1e-5)
    assert calls.count(2) == 2 and calls.count(1) == 2  # the vector's calls, the single env's
    # episodes of 3 steps: the step after one ends is an autoreset that starts a new chunk
    counting = CountingBase(horizon=10)
    vec = ResidualVectorWrapper(
        BatchedEnv("PickCube", 2, num_threads=1, max_episode_steps=3), counting
    )
    vec.reset(seed=0)
    for _ in range(4):
        vec.step(np.zeros((2, 7), np.float32))
    # one chunk of 10 rows per episode: 2 episodes (steps 1-3, then the autoreset at 4)
    assert [(s.total, s.resets) for s in vec.streams.sessions] == [(2, 2), (2, 2)]


def test_serve_loads_a_residual_checkpoint_with_its_base(tmp_path: Path) -> None:
    out = tmp_path / "res"
    train(_train_cfg(_base_ckpt(tmp_path / "base"), out, steps=31, learning_starts=30))
    obs, _ = _env().reset(seed=4)
    local = load_checkpoint(out).infer(obs)["actions"]
    with _serve(out, "k3y") as url, WebsocketPolicyClient(url, api_key="k3y") as client:
        assert client.metadata.name == "residual"
        np.testing.assert_allclose(client.infer(obs)["actions"], local, atol=1e-5)


def test_gae_bootstraps_truncations_and_cuts_at_episode_ends() -> None:
    from armgym.train.residual_ppo import gae

    rew = np.array([[1.0], [1.0], [1.0]], np.float32)
    values = np.array([[0.5], [0.5], [0.5], [2.0]], np.float32)
    term = np.array([[0.0], [1.0], [0.0]], np.float32)  # episode 1 ends (terminal) at t=1
    adv = gae(rew, term, term, values, gamma=0.5, lam=1.0)
    # t=2: 1 + 0.5·2 - 0.5 = 1.5; t=1: terminal, no bootstrap: 1 - 0.5; t=0: 1 + 0.25 - 0.5 + 0.5·0.5
    np.testing.assert_allclose(adv[:, 0], [1.0, 0.5, 1.5])
    trunc = gae(rew, np.zeros_like(term), term, values, gamma=0.5, lam=1.0)
    np.testing.assert_allclose(trunc[1, 0], 1 + 0.5 * 0.5 - 0.5)  # truncated: bootstraps V


def test_cli_trains_over_a_scripted_base_and_eval_reopens_it(tmp_path: Path) -> None:
    out = tmp_path / "res"
    args = [
        "train",
        "residual",
        "--base",
        "scripted:PickCube",
        "--task",
        "PickCube",
        "--steps",
        "40",
        "--learning-starts",
        "30",
        "--batch-size",
        "16",
        "--eval-episodes",
        "2",
        "--eval-num-envs",
        "2",
        "--out",
        str(out),
        "--no-progress",
        "--net.hidden-dims",
        "16",
    ]
    assert armgym_main(args) == 0
    ref = json.loads((out / "config.json").read_text())["residual"]["base"]
    assert ref == {"kind": "scripted", "task": "PickCube"}
    assert (
        armgym_main(
            [
                "eval",
                "--checkpoint",
                str(out),
                "--episodes",
                "2",
                "--num-envs",
                "2",
                "--videos",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    report = json.loads((out / "eval" / "report.json").read_text())
    assert report["policy"] == "residual" and report["successes"] >= 1  # expert + tiny residual


def test_residual_toward_reaches_the_target_within_scale_and_clips_beyond() -> None:
    env = ResidualWrapper(_env(), CountingBase(horizon=1, value=0.2), scale=0.1)
    obs, _ = env.reset(seed=1)
    base = obs[BASE_ACTION_KEY]
    near = base + np.float32(0.05)
    residual = env.residual_toward(near, obs)
    np.testing.assert_allclose(residual, 0.5, atol=1e-5)
    _, _, _, _, info = env.step(residual)
    np.testing.assert_allclose(info["total_action"], near, atol=1e-6)
    far = base - np.float32(0.5)  # 5 scales away: the residual saturates at -1
    np.testing.assert_array_equal(env.residual_toward(far, obs), -1.0)


def test_progressive_exploration_ramps_from_the_base_to_the_sampled_residual() -> None:
    from armgym.train.residual import progressive_exploration

    explore, rng, r = progressive_exploration(1000), np.random.default_rng(0), np.ones(7)
    assert not explore(0, r, rng).any()  # step 0: the base alone
    assert (explore(1000, r, rng) == 1).all() and (explore(5000, r, rng) == 1).all()
    taken = np.mean([explore(500, r, rng).any() for _ in range(2000)])
    assert 0.45 < taken < 0.55


def test_residual_demos_fill_the_demo_buffer_with_successful_expert_residuals(
    tmp_path: Path,
) -> None:
    # scale 2 spans the whole action range: the residual toward the expert is exact
    s = train(_train_cfg(_base_ckpt(tmp_path / "base"), tmp_path / "res", demos=2, scale=2.0))
    assert s["demos"]["source"] == "scripted:2" and s["demos"]["episodes"] == 2
    assert s["demos"]["transitions"] > 20
    config = json.loads((tmp_path / "res" / "train_state.json").read_text())["config"]
    assert config["demos"] == "2" and config["offline_ratio"] == 0.5
    with pytest.raises(ConfigError, match="--demos"):
        _train_cfg(tmp_path / "base", tmp_path / "x", demos=-1)


def test_sac_residual_runs_are_reproducible(tmp_path: Path) -> None:
    """Same seed, same run: the first steps' random residuals come from the wrapper's own
    action space, which must be seeded like the env's (it was not: runs diverged)."""
    base = _base_ckpt(tmp_path / "base")
    weights = []
    for name in ("a", "b"):
        train(_train_cfg(base, tmp_path / name, steps=40, learning_starts=30))
        weights.append((tmp_path / name / "model.safetensors").read_bytes())
    assert weights[0] == weights[1]


def test_the_buffer_stores_residuals_and_a_takeover_becomes_the_residual_toward_it() -> None:
    """Regression: the SAC loop stores ``info["executed_action"]``; from a residual env that
    must be the residual (the actor's space), not the composed arm action."""
    from armgym.rl import ReplayBuffer
    from armgym.teleop import InterventionWrapper, ScriptedEvents
    from armgym.teleop.keyboard import KeyboardTeleop
    from armgym.train.intervention import add_transition

    env = ResidualWrapper(_env(), CountingBase(horizon=1, value=0.25), scale=0.5)
    online, offline = ReplayBuffer.for_env(env, 8), ReplayBuffer.for_env(env, 8)
    obs, _ = env.reset(seed=0)
    r = np.full(7, 0.3, np.float32)
    nxt, rew, term, trunc, info = env.step(r)
    assert not add_transition(online, offline, obs, r, rew, term, trunc, nxt, info)
    np.testing.assert_allclose(online.action[0], r)
    np.testing.assert_allclose(info["total_action"], np.clip(obs[BASE_ACTION_KEY] + 0.15, -1, 1))
    # a person takes over ("t") and drives +x ("w"): the arm executes the person's action
    device = KeyboardTeleop(ScriptedEvents([["t"], ["w"]], []), hold_s=0.0)
    hil = InterventionWrapper(ResidualWrapper(_env(), CountingBase(1, 0.25), 1.0), device)
    hil.reset(seed=0)
    obs = hil.step(np.zeros(7, np.float32))[0]
    obs2, rew, term, trunc, info = hil.step(np.zeros(7, np.float32))
    assert info["intervention"]
    person = np.array([1, 0, 0, 0, 0, 0, 1], np.float32)  # +x, gripper open
    np.testing.assert_allclose(info["total_action"], person, atol=1e-6)  # within scale: exact
    np.testing.assert_allclose(info["executed_action"], person - info["base_action"], atol=1e-6)
    assert add_transition(online, offline, obs, np.zeros(7), rew, term, trunc, obs2, info)
    np.testing.assert_allclose(offline.action[0], info["executed_action"])  # demo buffer too
    # beyond the residual's reach the arm still executes the person's action (the base is
    # overridden); the stored residual is the saturated one toward it
    device = KeyboardTeleop(ScriptedEvents([["t"], ["w"]], []), hold_s=0.0)
    hil = InterventionWrapper(ResidualWrapper(_env(), CountingBase(1, 0.25), 0.1), device)
    hil.reset(seed=0)
    hil.step(np.zeros(7, np.float32))
    info = hil.step(np.zeros(7, np.float32))[-1]
    np.testing.assert_allclose(info["total_action"], person, atol=1e-6)
    expect = np.clip((person - info["base_action"]) / 0.1, -1, 1)
    np.testing.assert_allclose(info["executed_action"], expect, atol=1e-6)
    assert np.abs(info["executed_action"]).max() == 1.0  # saturated
    with pytest.raises(ConfigError, match="device action"):
        hil.env.step_device(np.full(3, np.nan, np.float32))


def test_interventions_over_a_residual_are_sampled_from_the_offline_buffer(tmp_path: Path) -> None:
    """Regression: without --demos the offline buffer was never sampled, so a person's
    takeovers over a residual reached the learner only as online transitions."""
    from armgym.train.residual import sac_config

    env = {"task": "PegInsert", "control": "ee_delta"}
    plain = sac_config(_train_cfg(tmp_path, tmp_path / "a"), env)
    hil = sac_config(_train_cfg(tmp_path, tmp_path / "b", intervene="scripted"), env)
    demos = sac_config(_train_cfg(tmp_path, tmp_path / "c", demos=5), env)
    assert plain.offline_ratio == 0.0
    assert hil.offline_ratio == demos.offline_ratio == 0.5


def test_sac_residual_with_the_scripted_human_logs_takeovers(tmp_path: Path) -> None:
    from armgym.teleop.scripted_human import ScriptedHumanConfig

    out = tmp_path / "res"
    human = ScriptedHumanConfig(stall_steps=5, min_hold=5)
    train(_train_cfg(_base_ckpt(tmp_path / "base"), out, steps=210, intervene="scripted",
                     human=human, scale=0.5))  # fmt: skip
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    eps = [r["episode"] for r in rows if "intervention_rate" in r.get("episode", {})]
    assert eps and sum(e["interventions"] for e in eps) > 0  # the untrained residual stalls
    with pytest.raises(ConfigError, match="--algo sac"):
        _train_cfg(tmp_path / "base", out, algo="ppo", intervene="scripted")


def test_a_residual_trained_with_features_saves_reloads_and_recomputes_them(
    tmp_path: Path,
) -> None:
    from armgym.policies.residual import FEATURES_KEY

    out = tmp_path / "res"
    train(_train_cfg(_base_ckpt(tmp_path / "base"), out, features=True, steps=40))
    config = json.loads((out / "config.json").read_text())
    assert config["residual"]["features"] is True
    assert config["schema"]["observation"][FEATURES_KEY]["shape"] == [8]
    policy = load_checkpoint(out)
    assert isinstance(policy, ResidualPolicy) and policy.features is not None
    assert FEATURES_KEY not in policy.metadata.observation  # the env need not produce it
    obs, _ = _env().reset(seed=2)
    a = policy.fork(2).infer(obs)["actions"]
    assert a.shape == (1, 7) and np.isfinite(a).all()
    # the features change what the actor sees: zeroing them changes its output
    session = policy.residual.fork(0)
    frame = {**obs, BASE_ACTION_KEY: np.zeros(7, np.float32)}
    with_f = session.infer({**frame, FEATURES_KEY: policy.features(obs)})["actions"]
    no_f = session.infer({**frame, FEATURES_KEY: np.zeros(8, np.float32)})["actions"]
    assert not np.allclose(with_f, no_f)
