"""Helpers of ``armgym train sac`` (kept out of the loop in :mod:`armgym.train.sac`).

Env and demo setup, observation preprocessing, the RLPD batch mix, evaluation with Wilson
intervals through :mod:`armgym.eval`, all-or-nothing saves and ``--resume``, the curve PNG.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from armgym.contracts.policy import FeatureSpec
from armgym.errors import CheckpointError, ConfigError, TrainingError
from armgym.policies.checkpoint import CONFIG_FILE
from armgym.policies.learned import LearnedPolicy, save_checkpoint
from armgym.policies.normalize import Normalizer, compute_stats
from armgym.policies.sac import random_shift
from armgym.rl import ReplayBuffer, fill_from_dataset, fill_from_scripted, run_state

if TYPE_CHECKING:
    from armgym.train.sac import SACTrainConfig

LOG = "log.jsonl"
#: settings that may differ between a run and its --resume
RESUMABLE = {
    "backend",  # the same scene on either backend (parity-tested), so a run may switch
    "steps",
    "resume",
    "overwrite",
    "progress",
    "eval_every",
    "eval_episodes",
    "eval_num_envs",
    "checkpoint_every",
    "log_every",
    "final_clips",
    # the actor/learner layout may change between a run and its --resume
    "actors",
    "push_every",
    "ray_address",
    "actor_cpus",
    "actor_timeout_s",
    "learner_timeout_s",
    "actor_queue",
    "actor_max_hz",
}
#: first seed of scripted demo episodes (training episodes and evaluation use others)
DEMO_SEED = 2_000_000


@dataclass(frozen=True)
class SACHooks:
    """What a loop built on SAC's (residual RL) changes at the loop's edges.

    Attributes:
        make_env: builds the training env from the config (e.g. wraps :func:`make_env`).
        init_actor: called once on the fresh actor (e.g. zero its mean layer).
        wrap_policy: turns the SAC actor's policy into the one evaluated and saved (it
            must have ``.env`` and ``.save(path, extra)``).
        demo_action: ``(expert action, obs) -> the agent's action`` for scripted demos
            (residual RL: the residual toward the expert); ``None``: the expert's action.
        explore: ``(env step, sampled action, rng) -> the action taken`` in training
            episodes (residual RL: progressive exploration); ``None``: the sample.
    """

    make_env: Callable[[SACTrainConfig], Any]
    init_actor: Callable[[Any], None]
    wrap_policy: Callable[[LearnedPolicy], Any]
    demo_action: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray] | None = None
    explore: Callable[[int, np.ndarray, np.random.Generator], np.ndarray] | None = None


def train_seed(cfg: SACTrainConfig, episode: int) -> int:
    """Reset seed of training episode ``episode``: ``(seed + 1) · 10⁷ + episode``, apart
    from the demo seeds (``DEMO_SEED`` …) and the default evaluation seeds (10⁶ …)."""
    return (cfg.seed + 1) * 10_000_000 + episode


def actor_seed(cfg: SACTrainConfig, actor_id: int, episode: int) -> int:
    """Reset seed of episode ``episode`` of asynchronous actor ``actor_id`` (0, 1, … over the
    run, replacements included): ``train_seed(cfg, 10⁵ · (actor_id + 1) + episode)``, so
    actors never share a seed with each other or with the single-process loop's first
    10⁵ episodes."""
    return train_seed(cfg, 100_000 * (actor_id + 1) + episode)


def env_kwargs(cfg: SACTrainConfig) -> dict[str, Any]:
    """``{"task", **gymnasium.make kwargs}`` of the training env (stored in the checkpoint)."""
    from armgym.tasks import TASKS

    kw: dict[str, Any] = {
        "task": TASKS.get(cfg.task).name,  # UnknownNameError names the closest task
        "robot": cfg.robot,
        "control": cfg.control,
        "obs": cfg.obs,
        "randomization": cfg.randomization,
        "reward": cfg.reward,
    }
    if cfg.obs != "state":
        kw |= {"cameras": tuple(cfg.cameras), "image_size": (cfg.image_size, cfg.image_size)}
    return kw


def make_env(cfg: SACTrainConfig) -> Any:
    """The training env, built by the one env factory from :func:`env_kwargs`."""
    from armgym.envs import EnvConfig
    from armgym.envs import make_env as make_armgym_env

    env_cfg = EnvConfig.from_dict(env_kwargs(cfg))
    if cfg.reward_classifier is not None:  # training env only; evaluation scores the task
        from armgym.rl.reward_classifier import make_classified_env

        env = make_classified_env(env_cfg, cfg.reward_classifier)
    else:
        env = make_armgym_env(env_cfg)
    env.action_space.seed(cfg.seed)
    return env


def fill_demos(
    cfg: SACTrainConfig, env: Any, offline: ReplayBuffer, hooks: SACHooks | None = None
) -> dict[str, Any]:
    """Fill the demo buffer from ``--demos`` (N scripted episodes or a dataset folder);
    ``hooks.demo_action`` maps the expert's actions to the agent's (residual RL)."""
    demos = str(cfg.demos).strip()
    if demos in ("", "0"):
        return {"source": None, "episodes": 0, "transitions": 0}
    to_action = hooks.demo_action if hooks else None
    if demos.isdigit():
        seed = DEMO_SEED + 1000 * cfg.seed
        info = fill_from_scripted(
            offline, env, int(demos), seed=seed, to_action=to_action, expert=cfg.demo_expert
        )
        return {"source": f"{cfg.demo_expert}:{demos}", **info}
    if to_action is not None:
        raise ConfigError("residual demos are scripted episodes: pass --demos N (a number)")
    path = Path(demos)
    if not path.exists():
        raise ConfigError(
            f"--demos {demos!r}: no such dataset folder; pass a LeRobot dataset path, "
            "a number of scripted demos (e.g. 20) or 0"
        )
    base = env.unwrapped
    info = fill_from_dataset(offline, path, reward=cfg.reward, task=base.task, n_arm=base.n_arm)
    return {"source": str(path), **info}


def make_normalizer(
    buffer: ReplayBuffer, action_dim: int, std_floor: float = 0.0, clip: float = 0.0
) -> Normalizer:
    """Mean/std of every vector observation key over the buffer; actions pass through.

    Stds below ``std_floor`` are raised to it and normalised values are clamped to
    ``±clip`` (0: off for either): a feature nearly constant in 20 demos (a cube's
    orientation) would otherwise map a small real change to hundreds of stds.
    """
    n = buffer.filled
    stats: dict[str, dict[str, Any]] = {}
    for k, v in buffer.obs.items():
        if v.dtype == np.uint8:
            continue
        s = compute_stats(v[:n], "mean_std")
        s["std"] = [max(x, std_floor) for x in s["std"]]
        stats[k] = {"mode": "mean_std", **s, **({"clip": clip} if clip > 0 else {})}
    stats["action"] = {"mode": "min_max", "min": [-1.0] * action_dim, "max": [1.0] * action_dim}
    return Normalizer(stats)


def run_normalizer(cfg: SACTrainConfig, online: ReplayBuffer, offline: ReplayBuffer) -> Normalizer:
    """The run's normaliser: stats of the demo buffer, else of the online buffer, with the
    config's std floor and clamp (the single-process loop and the async learner alike)."""
    source = offline if len(offline) else online
    return make_normalizer(source, source.action_dim, cfg.obs_std_floor, cfg.obs_clip)


class Prep:
    """numpy obs batch ``{key: [B, ...]}`` -> model input ``{key: [B, 1, ...]}``.

    Vectors are normalised; images uint8 [B, H, W, 3] become float [B, 1, 3, H, W] in
    [0, 1], randomly shifted (DrQ) when a generator is given (training).
    """

    def __init__(self, normalizer: Normalizer, shift_pad: int):
        self.normalizer, self.pad = normalizer, shift_pad

    def __call__(
        self, obs: Mapping[str, np.ndarray], gen: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        out = {}
        for k, v in obs.items():
            x = torch.as_tensor(np.ascontiguousarray(v))
            if x.dtype == torch.uint8:
                img = x.permute(0, 3, 1, 2).float() / 255.0
                if gen is not None and self.pad > 0:
                    img = random_shift(img, self.pad, gen)
                out[k] = img[:, None]
            else:
                out[k] = self.normalizer.normalize(k, x.float())[:, None]
        return out


def mixed_batch(
    online: ReplayBuffer,
    offline: ReplayBuffer,
    batch_size: int,
    ratio: float,
    n_step: int = 1,
    gamma: float = 0.99,
) -> dict[str, Any]:
    """RLPD: ``round(ratio · B)`` transitions from ``offline``, the rest from ``online``
    (``n_step``-step returns, :meth:`ReplayBuffer.sample`).

    ``batch["demo"]`` (bool [B]) marks the rows drawn from ``offline``.
    """
    n_off = round(ratio * batch_size) if len(offline) else 0
    if n_off == 0 or len(online) == 0:
        only_demos = len(online) == 0
        batch = (offline if only_demos else online).sample(batch_size, n_step, gamma)
        return {**batch, "demo": np.full(batch_size, only_demos)}
    a = online.sample(batch_size - n_off, n_step, gamma)
    b = offline.sample(n_off, n_step, gamma)
    demo = np.arange(batch_size) >= batch_size - n_off

    def cat(x: Any, y: Any) -> Any:
        if isinstance(x, dict):
            return {k: cat(x[k], y[k]) for k in x}
        return np.concatenate([x, y])

    keys = ("obs", "next_obs", "action", "reward", "terminated", "discount")
    return {**{k: cat(a[k], b[k]) for k in keys}, "demo": demo}


@torch.no_grad()
def polyak(target: torch.nn.Module, source: torch.nn.Module, tau: float) -> None:
    for pt, ps in zip(target.parameters(), source.parameters(), strict=True):
        pt.lerp_(ps, tau)


def as_policy(cfg: SACTrainConfig, actor: Any, normalizer: Normalizer, env: Any,
              hooks: SACHooks | None = None) -> Any:  # fmt: skip
    """The actor behind the Policy protocol, as the checkpoint stores it (a
    :class:`LearnedPolicy`, or what ``hooks.wrap_policy`` makes of it)."""
    schema = {
        k: FeatureSpec(np.dtype(sp.dtype).name, tuple(sp.shape))
        for k, sp in env.observation_space.spaces.items()
    }
    fps = float(env.unwrapped.metadata.get("render_fps", 10))
    a_dim = int(env.action_space.shape[0])
    policy = LearnedPolicy("sac", cfg.net, actor, normalizer, schema, a_dim, fps, env_kwargs(cfg))
    return hooks.wrap_policy(policy) if hooks else policy


def evaluate(cfg: SACTrainConfig, actor: Any, normalizer: Normalizer, env: Any,
             hooks: SACHooks | None = None) -> dict[str, Any]:  # fmt: skip
    """Deterministic policy on seeds ``eval_seed + i``: success rate with Wilson 95 % CI."""
    import time

    from armgym.eval.report import summarize
    from armgym.eval.rollout import RolloutConfig, rollout

    policy = as_policy(cfg, actor, normalizer, env, hooks)
    seeds = [cfg.eval_seed + i for i in range(cfg.eval_episodes)]
    t0 = time.perf_counter()
    results, _ = rollout(policy, policy.env, seeds, RolloutConfig(num_envs=cfg.eval_num_envs))
    actor.train()
    s = summarize(results)
    keys = ("success_rate", "success_ci95", "mean_return", "mean_length", "episodes")
    return {**{k: s[k] for k in keys}, "wall_s": time.perf_counter() - t0}


def config_json(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


# ---------------------------------------------------------------------------- run state
def _modules(nets: Mapping[str, Any]) -> dict[str, Any]:
    return {k: nets[k] for k in ("actor", "critic", "critic_t", "enc_t", "log_alpha")}


def save_run(
    cfg: SACTrainConfig,
    nets: Mapping[str, Any],
    opts: Mapping[str, torch.optim.Optimizer],
    online: ReplayBuffer,
    normalizer: Normalizer,
    step: int,
    elapsed: float,
    counters: Mapping[str, int],
    gen: torch.Generator,
    rng: np.random.Generator,
    env: Any,
    hooks: SACHooks | None = None,
) -> None:
    """Checkpoint + train state + online buffer, all or nothing (see ``run_state.commit``)."""
    out = Path(cfg.out)
    try:
        st = run_state.stage(out)
        policy = as_policy(cfg, nets["actor"], normalizer, env, hooks)
        if isinstance(policy, LearnedPolicy):
            save_checkpoint(st, policy, {"algorithm": "sac", "step": step})
        else:
            policy.save(st, {"algorithm": "sac", "step": step})
        tensors = run_state.state_tensors(_modules(nets), opts)
        tensors["gen_state"] = gen.get_state()
        meta = {
            "step": step,
            "elapsed_s": elapsed,
            "counters": dict(counters),
            "rng": rng.bit_generator.state,
            "config": config_json(cfg),
        }
        run_state.write_state(st, tensors, meta)
        online.save(st / run_state.BUFFER)
    except OSError as exc:
        shutil.rmtree(out / run_state.STAGING, ignore_errors=True)
        raise TrainingError(
            f"saving the step-{step} checkpoint in {out} failed ({exc}); the previous "
            "checkpoint there is intact. Free disk space and --resume"
        ) from exc
    run_state.commit(out)


def prepare_out(
    cfg: SACTrainConfig,
    nets: Mapping[str, Any],
    opts: Mapping[str, torch.optim.Optimizer],
    online: ReplayBuffer,
    gen: torch.Generator,
    rng: np.random.Generator,
) -> tuple[int, float, dict[str, int], Normalizer | None, ReplayBuffer]:
    """A fresh run folder, or with --resume the restored state:
    ``(step, elapsed_s, counters, normalizer or None, online buffer)``."""
    out = Path(cfg.out)
    run_state.recover(out)
    has_run = (out / f"{run_state.STATE}.json").exists()
    if cfg.resume and not has_run:
        print(f"--resume: {out} holds no committed checkpoint yet; starting afresh there")
    if not (cfg.resume and has_run):
        if has_run and not cfg.overwrite:
            raise ConfigError(
                f"{out} already holds a training run; pass --resume to continue it, "
                "--overwrite to start afresh, or another --out"
            )
        if cfg.overwrite:
            shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / LOG).write_text("")
        return 0, 0.0, {"episodes": 0, "updates": 0}, None, online
    tensors, meta = run_state.read_state(out)
    now = {k: v for k, v in config_json(cfg).items() if k not in RESUMABLE}
    old = {k: v for k, v in meta["config"].items() if k not in RESUMABLE}
    for f in dataclasses.fields(cfg):  # a setting added since the run: its default = before
        if f.name in now and f.name not in old and f.default is not dataclasses.MISSING:
            old[f.name] = json.loads(json.dumps(f.default, default=str))
    if now != old:
        diff = sorted(k for k in now.keys() | old.keys() if now.get(k) != old.get(k))
        raise ConfigError(f"--resume with different settings {diff} than the run in {out}")
    run_state.load_state_tensors(tensors, _modules(nets), opts)
    gen.set_state(tensors["gen_state"])
    rng.bit_generator.state = meta["rng"]
    step = int(meta["step"])
    normalizer = Normalizer(json.loads((out / CONFIG_FILE).read_text())["normalization"])
    online = ReplayBuffer.load(out / run_state.BUFFER)
    kept = [json.dumps(r) for r in read_log(out) if r.get("step", 0) <= step]
    (out / LOG).write_text("".join(ln + "\n" for ln in kept))
    if step >= cfg.steps:
        raise CheckpointError(f"{out} is already at step {step}; raise --steps to train more")
    return step, float(meta["elapsed_s"]), dict(meta["counters"]), normalizer, online


def read_log(out: Path) -> list[dict[str, Any]]:
    """The rows of ``log.jsonl``; a line cut short by a crash mid-write is skipped."""
    path = Path(out) / LOG
    rows = []
    for ln in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(ln))
        except json.JSONDecodeError:
            continue
    return rows


def plot_curves(out: Path) -> Path | None:
    """``curve.png``: eval success (95 % CI) vs env steps and vs wall time, and with
    ``--intervene`` a third panel: the fraction of each episode's steps a person drove."""
    rows = read_log(out)
    evals = [r for r in rows if "eval" in r]
    if not evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sr = np.array([r["eval"]["success_rate"] for r in evals])
    lo = np.array([r["eval"]["success_ci95"][0] for r in evals])
    hi = np.array([r["eval"]["success_ci95"][1] for r in evals])
    from armgym.train.intervention import intervention_curve, plot_intervention_rate

    panels = 3 if len(intervention_curve(rows)[0]) else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), dpi=100, sharey=True)
    for ax, x, label in zip(
        axes[:2],
        (np.array([r["step"] for r in evals]), np.array([r["wall_s"] for r in evals]) / 60),
        ("env steps", "wall clock [min]"),
        strict=True,
    ):
        ax.plot(x, sr, "o-", color="tab:green")
        ax.fill_between(x, lo, hi, color="tab:green", alpha=0.15)
        ax.set(xlabel=label, ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("eval success (95 % Wilson CI)")
    if panels == 3:
        plot_intervention_rate(axes[2], rows)
        axes[2].set_title("interventions (training episodes)", fontsize=10)
    fig.suptitle(f"SAC/RLPD: {Path(out).name}")
    fig.tight_layout()
    png = Path(out) / "curve.png"
    fig.savefig(png)
    plt.close(fig)
    return png
