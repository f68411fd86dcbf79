"""``armgym train sac`` with tiny budgets: the loop, checkpoints, resume, and bad input."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from armgym.errors import ConfigError, DatasetError, TrainingError, UnknownNameError
from armgym.policies import load_checkpoint
from armgym.policies.sac import CriticEnsemble, SACActor, SACConfig, random_shift
from armgym.rl import ReplayBuffer
from armgym.train.sac import SACTrainConfig, train

TINY = dict(
    task="Reach",
    demos="1",
    learning_starts=40,
    batch_size=16,
    eval_episodes=2,
    eval_num_envs=2,
    eval_every=0,
    checkpoint_every=50,
    log_every=10,
    progress=False,
    final_clips=0,
    net=SACConfig(hidden_dims=(32, 32)),
)


def _cfg(out: Path, **kw) -> SACTrainConfig:
    return SACTrainConfig(out=out, **{**TINY, "steps": 100, **kw})  # type: ignore[arg-type]


def _log(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if ln]


def test_tanh_gaussian_log_prob_matches_torch_distributions() -> None:
    torch.manual_seed(0)  # unseeded, a sample at |a| ~ 1 made the clamped reference drift
    actor = SACActor(SACConfig(hidden_dims=(16,)), {"observation.state": (5,)}, 3)
    feat = torch.randn(64, 5)
    a, logp = actor.sample(feat, torch.Generator().manual_seed(0))
    mean, log_std = actor(feat)
    base = torch.distributions.Normal(mean, log_std.exp())
    dist = torch.distributions.TransformedDistribution(
        base, [torch.distributions.TanhTransform(cache_size=1)]
    )
    a_safe = a.clamp(-1 + 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(logp.detach(), dist.log_prob(a_safe).sum(-1).detach(), atol=2e-2)
    assert a.abs().max() <= 1.0


def test_redq_subset_and_random_shift() -> None:
    cfg = SACConfig(hidden_dims=(8,), n_critics=5, critic_subset=2)
    critic = CriticEnsemble(cfg, 4, 2)
    q = critic(torch.randn(7, 4), torch.randn(7, 2))
    assert q.shape == (5, 7)
    low = critic.target_min(torch.randn(7, 4), torch.randn(7, 2), torch.Generator())
    assert low.shape == (7,)
    with pytest.raises(ConfigError):
        SACConfig(n_critics=2, critic_subset=3)
    img = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    shifted = random_shift(img, 2, torch.Generator().manual_seed(1))
    assert shifted.shape == img.shape and not torch.equal(shifted, img)


def test_loop_runs_and_checkpoint_is_a_policy_eval_accepts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    s = train(_cfg(out, final_clips=2))
    assert s["steps"] == 100 and s["updates"] == 61 and s["demos"]["episodes"] == 1
    rows = _log(out)
    assert any("critic_loss" in r for r in rows) and any("episode" in r for r in rows)
    ev = [r for r in rows if "eval" in r][-1]["eval"]
    assert ev["episodes"] == 2 and 0.0 <= ev["success_ci95"][0] <= ev["success_ci95"][1] <= 1
    assert (out / "curve.png").stat().st_size > 0
    # the same rows as TensorBoard scalars (ScalarLogger, as train bc writes them)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/critic_loss", "eval/success_rate", "episode/return"} <= tags
    page = (out / "index.html").read_text()  # the eval / demo layout: curve + clip grid
    assert "SAC training · Reach" in page and "<svg" in page and "nan" not in page.lower()
    clips = sorted((out / "eval" / "videos").glob("*.mp4"))
    assert len(clips) == 2 and all(c.stat().st_size > 0 for c in clips)
    assert page.count("<video") == 2
    policy = load_checkpoint(out)
    assert policy.kind == "sac" and policy.env["control"] == "ee_pos"
    obs = {
        "observation.state": np.zeros(22, np.float32),
        "observation.environment_state": np.zeros(3, np.float32),
    }
    act = policy.infer(obs)["actions"]
    assert act.shape == (1, 4) and np.all(np.abs(act) <= 1)
    from armgym.eval.cli import EvalConfig, evaluate

    rep = evaluate(EvalConfig(checkpoint=out, episodes=2, num_envs=1, videos=0, progress=False))
    assert rep["episodes"] == 2


def test_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(out, steps=50))
    state = json.loads((out / "train_state.json").read_text())
    assert state["step"] == 50
    buf = ReplayBuffer.load(out / "buffer")
    assert len(buf) == 50
    with pytest.raises(ConfigError, match="--resume"):
        train(_cfg(out, steps=100))
    with pytest.raises(ConfigError, match="gamma"):
        train(_cfg(out, steps=100, resume=True, gamma=0.9))
    s = train(_cfg(out, steps=100, resume=True))
    assert json.loads((out / "train_state.json").read_text())["step"] == 100
    assert s["updates"] == 61  # 11 before the interruption + 50 after: none lost or repeated
    steps = [r["step"] for r in _log(out) if "critic_loss" in r]
    assert steps == sorted(steps) and steps[-1] == 100
    assert len(ReplayBuffer.load(out / "buffer")) == 100


def test_unknown_task_and_mismatched_dataset_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="PickCube"):
        train(_cfg(tmp_path / "a", task="PickCub"))
    with pytest.raises(ConfigError, match="no such dataset"):
        train(_cfg(tmp_path / "b", demos=str(tmp_path / "missing")))
    from armgym.apps.collect import CollectConfig, collect

    data = tmp_path / "demos"  # recorded in ee_delta (7-dim actions): does not fit ee_pos
    collect(CollectConfig(out=data, task="Reach", episodes=1, obs="state", progress=False))
    with pytest.raises(DatasetError, match=r"action: dataset \(7,\), env \(4,\)"):
        train(_cfg(tmp_path / "c", demos=str(data)))


def test_nan_loss_and_full_disk_keep_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    train(_cfg(out, steps=50))
    sha = json.loads((out / "config.json").read_text())["weights_sha256"]

    def full_disk(self, directory):  # the buffer is the largest file of a save
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ReplayBuffer, "save", full_disk)
    with pytest.raises(TrainingError, match="intact"):
        train(_cfg(out, steps=100, resume=True))
    monkeypatch.undo()
    assert json.loads((out / "train_state.json").read_text())["step"] == 50
    assert json.loads((out / "config.json").read_text())["weights_sha256"] == sha
    assert not (out / ".staging").exists()
    load_checkpoint(out)  # still loads (sha256 verified)

    real = CriticEnsemble.forward
    monkeypatch.setattr(CriticEnsemble, "forward", lambda self, f, a: real(self, f, a) * np.nan)
    with pytest.raises(TrainingError, match="non-finite loss"):
        train(_cfg(out, steps=100, resume=True))
    assert json.loads((out / "train_state.json").read_text())["step"] == 50


def test_pixels_with_a_shared_encoder(tmp_path: Path) -> None:
    out = tmp_path / "px"
    cfg = _cfg(
        out,
        obs="pixels",
        cameras=("front",),
        image_size=32,
        steps=45,
        batch_size=4,
        eval_episodes=1,
        eval_num_envs=1,
    )
    train(cfg)
    policy = load_checkpoint(out)
    assert "observation.images.front" in policy.schema
    weights = [k for k in json.loads((out / "config.json").read_text())["schema"]["observation"]]
    assert "observation.images.front" in weights


def test_normaliser_floor_and_clip_bound_features_the_demos_never_varied() -> None:
    """A feature nearly constant in the demos (std 1e-3) must not map a small real change to
    hundreds of stds: the SAC normaliser floors the std and clamps the result."""
    from armgym.policies.normalize import Normalizer
    from armgym.train.sac_utils import make_normalizer

    rng = np.random.default_rng(0)
    buf = ReplayBuffer({"observation.state": ((2,), "float32")}, action_dim=1, capacity=64)
    for _ in range(50):
        o = {"observation.state": np.array([rng.normal(0, 1), 1.0 + rng.normal(0, 2e-3)], "f4")}
        buf.add(o, np.zeros(1, "f4"), 0.0, False, False, o)
    raw = make_normalizer(buf, 1)
    floored = make_normalizer(buf, 1, std_floor=0.05, clip=10.0)
    moved = torch.tensor([[0.0, 1.3]])  # the "constant" feature moves by 0.3
    assert raw.normalize("observation.state", moved)[0, 1] > 50
    y = floored.normalize("observation.state", moved)
    assert 5.0 < y[0, 1] <= 6.5 and abs(y[0, 0]) < 1
    far = floored.normalize("observation.state", torch.tensor([[100.0, 5.0]]))
    assert torch.allclose(far, torch.tensor([[10.0, 10.0]]))
    # the clip travels with the checkpoint's JSON stats
    again = Normalizer(floored.to_json())
    assert torch.equal(again.normalize("observation.state", moved), y)


def test_q_filtered_bc_only_pulls_where_the_demo_action_is_rated_higher() -> None:
    from armgym.train.sac import q_filtered_bc

    torch.manual_seed(0)
    cfg = SACConfig(hidden_dims=(16,))
    actor = SACActor(cfg, {"observation.state": (3,)}, 2)
    critic = CriticEnsemble(cfg, actor.encoder.out_dim, 2)
    feat = torch.randn(6, actor.encoder.out_dim)
    action = torch.rand(6, 2) * 2 - 1
    demo = np.array([False, False, False, True, True, True])
    q_demo = critic(feat, action).mean(0).detach()
    low = q_filtered_bc(actor, critic, feat, action, q_demo + 1.0, {"demo": demo})
    high = q_filtered_bc(actor, critic, feat, action, q_demo - 1.0, {"demo": demo})
    assert low.item() == 0.0  # the policy is rated higher everywhere: no pull
    mean, _ = actor(feat[3:])
    expected = (torch.tanh(mean) - action[3:]).pow(2).sum(-1).mean()
    assert torch.allclose(high, expected)
    high.backward()
    # unfiltered (--no-bc-filter): every demo row pulls, however the critics rate it
    plain = q_filtered_bc(actor, critic, feat, action, q_demo + 1.0, {"demo": demo}, False)
    assert torch.allclose(plain, expected)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.net.parameters())


def test_action_l2_pulls_the_actor_toward_zero_action(tmp_path: Path) -> None:
    """The penalty makes the actor's mean shrink faster than the critic alone does."""
    from types import SimpleNamespace

    from gymnasium import spaces

    from armgym.train.sac import build_nets, update
    from armgym.train.sac_utils import Prep, make_normalizer

    obs = {"observation.state": np.random.default_rng(0).normal(size=(32, 3)).astype("f4")}
    buf = ReplayBuffer({"observation.state": ((3,), "float32")}, action_dim=2, capacity=64)
    for row in obs["observation.state"]:
        o = {"observation.state": row}
        buf.add(o, np.zeros(2, "f4"), 0.0, False, False, o)
    prep = Prep(make_normalizer(buf, 2), 0)
    state = spaces.Box(-np.inf, np.inf, (3,), np.float32)
    env = SimpleNamespace(
        action_space=spaces.Box(-1, 1, (2,), np.float32),
        observation_space=spaces.Dict({"observation.state": state}),
    )
    batch = {"obs": obs, "next_obs": obs, "action": np.zeros((32, 2), "f4"),
             "reward": np.zeros(32, "f4"), "terminated": np.zeros(32, bool)}  # fmt: skip

    def mean_after(l2: float) -> float:
        torch.manual_seed(0)
        cfg = SACTrainConfig(out=tmp_path, **{**TINY, "action_l2": l2, "lr": 3e-3})  # type: ignore[arg-type]
        nets, opts = build_nets(cfg, env)
        with torch.no_grad():
            nets["actor"].net[-1].bias[:2] = 1.0  # start far from 0
        gen = torch.Generator().manual_seed(0)
        for _ in range(30):
            update(cfg, nets, opts, batch, prep, gen)
        mean, _ = nets["actor"](nets["actor"].features(prep(obs, None)))
        return float(torch.tanh(mean).abs().mean().detach())

    assert mean_after(10.0) < mean_after(0.0) - 0.2


def test_n_step_returns_sum_discounted_rewards_and_stop_at_episode_ends() -> None:
    buf = ReplayBuffer({"observation.state": ((1,), "float32")}, action_dim=1, capacity=64)

    def o(x: float) -> dict[str, np.ndarray]:
        return {"observation.state": np.array([x], "f4")}

    # episode A: 0 -> 1 -> 2 -> 3 (terminal, reward 1); episode B: 10 -> 11 (truncated)
    for t, (r, term) in enumerate([(0.0, False), (0.0, False), (1.0, True)]):
        buf.add(o(t), np.zeros(1, "f4"), r, term, False, o(t + 1))
    buf.add(o(10), np.zeros(1, "f4"), 0.5, False, True, o(11))
    b = buf.sample(400, n_step=3, gamma=0.5)
    start, nxt = b["obs"]["observation.state"][:, 0], b["next_obs"]["observation.state"][:, 0]
    expect = {  # start: (return, next frame, discount, terminated)
        0.0: (0.25, 3.0, 0.125, True),
        1.0: (0.5, 3.0, 0.25, True),
        2.0: (1.0, 3.0, 0.5, True),
        10.0: (0.5, 11.0, 0.5, False),  # truncated: bootstrap from 11, one step
    }
    assert set(start.tolist()) == set(expect)
    for s0, (ret, last, disc, term) in expect.items():
        rows = start == s0
        assert np.allclose(b["reward"][rows], ret) and np.all(nxt[rows] == last)
        assert np.allclose(b["discount"][rows], disc) and np.all(b["terminated"][rows] == term)
    one = buf.sample(50, gamma=0.5)  # n = 1: the stored transition, discount gamma
    assert np.allclose(one["discount"], 0.5)
    assert np.all(one["next_obs"]["observation.state"] == one["obs"]["observation.state"] + 1)
    with pytest.raises(ConfigError, match="n_step"):
        buf.sample(4, n_step=0)


def test_encoder_from_a_bc_checkpoint_is_copied_frozen_and_saved(tmp_path: Path) -> None:
    """--encoder-from: SAC's image encoder is the BC policy's, unchanged by training, and the
    SAC checkpoint carries it (and its settings)."""
    from safetensors.torch import load_file

    from armgym.apps.collect import CollectConfig, collect
    from armgym.errors import CheckpointError
    from armgym.policies.encoders import EncoderConfig
    from armgym.policies.mlp import MLPConfig
    from armgym.train.bc import BCConfig
    from armgym.train.bc import train as train_bc

    data, bc_out = tmp_path / "pix", tmp_path / "bc"
    collect(CollectConfig(out=data, task="Reach", episodes=2, obs="pixels", cameras=("front",),
                          image_size=32, sim_state=False, vcodec="libx264", progress=False))  # fmt: skip
    enc = EncoderConfig(channels=(8, 8), image_feature_dim=16, crop_ratio=0.9, activation="relu")
    train_bc(BCConfig(dataset=data, out=bc_out, policy="mlp", obs="pixels", cameras=("front",),
                      steps=3, batch_size=4, progress=False,
                      mlp=MLPConfig(hidden_dims=(16,), encoder=enc)))  # fmt: skip
    pix = dict(obs="pixels", cameras=("front",), image_size=32, batch_size=4, eval_episodes=1,
               eval_num_envs=1)  # fmt: skip
    out = tmp_path / "sac"
    train(_cfg(out, steps=45, encoder_from=bc_out, **pix))
    prefix = "encoder.images."
    bc_w, sac_w = load_file(bc_out / "model.safetensors"), load_file(out / "model.safetensors")
    copied = [k for k in bc_w if k.startswith(prefix)]
    assert copied and all(torch.equal(bc_w[k], sac_w[k]) for k in copied)  # frozen
    saved = json.loads((out / "config.json").read_text())["policy_config"]["encoder"]
    assert saved["channels"] == [8, 8] and saved["image_feature_dim"] == 16
    # the trainable bottleneck over the frozen features is saved with them, and trained
    assert saved["bottleneck"] is True
    assert {"encoder.bottleneck.observation_images_front.1.weight"} <= set(sac_w)
    assert not torch.equal(sac_w["encoder.bottleneck.observation_images_front.1.weight"],
                           torch.ones(16))  # LayerNorm gain moved from its init  # fmt: skip
    assert load_checkpoint(out).schema["observation.images.front"].shape == (32, 32, 3)

    with pytest.raises(ConfigError, match="--obs pixels"):
        _cfg(tmp_path / "s", encoder_from=bc_out)
    with pytest.raises(ConfigError, match=r"camera\(s\) \['observation_images_wrist'\]"):
        train(_cfg(tmp_path / "w", steps=45, encoder_from=bc_out,
                   **{**pix, "cameras": ("front", "wrist")}))  # fmt: skip
    from armgym.policies.encoders import ObsEncoder
    from armgym.train.pretrained_encoder import load_frozen

    other = ObsEncoder({"observation.images.front": (3, 32, 32)}, 1, EncoderConfig(channels=(4, 4)))
    with pytest.raises(
        ConfigError, match=r"net\.0\.weight is \(8, 3, 3, 3\), SAC's is \(4, 3, 3, 3\)"
    ):
        load_frozen(other, bc_out)
    assert all(p.requires_grad for p in other.parameters())  # nothing frozen on a refusal
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        train(_cfg(tmp_path / "m", steps=45, encoder_from=tmp_path / "nowhere", **pix))
