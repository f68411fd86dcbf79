"""Residual PPO (``armgym train residual --algo ppo``), one loop top to bottom.

ResiP's recipe (Ankile et al. 2024): ``--ppo.num-envs`` envs on one ``BatchedEnv``
(``--backend warp``: one ``WarpBatchedEnv`` seen through its numpy view
:class:`~armgym.envs.warp.host.HostVectorEnv`) behind :class:`~armgym.policies.residual.ResidualVectorWrapper` (the base
chunks of all envs come from one batched call), one big batch of ``num_envs ×
rollout_steps`` transitions per rollout, GAE(γ, λ), clipped PPO over ``epochs`` passes of
``minibatches`` minibatches with early stop once the approximate KL passes
``target_kl``, rewards divided by a running std of the discounted return (running reward
normalisation), and a fixed log-std: the residual is ``tanh(u)``, ``u ~ N(mean, e^log_std)``
(the tanh Jacobian cancels in the PPO ratio, so the log-prob of ``u`` is used).

The actor is the SAC actor class (its mean layer zeroed, its log-std head unused), so the
checkpoint is the same ``residual`` checkpoint ``--algo sac`` writes. Observation
normalisation: mean/std of the first rollout (the zero-initialised actor's mean does not
depend on the input, so that rollout needs none), then frozen and saved with the policy.
Resuming restores weights, optimisers, the reward statistics and the RNGs; the envs start
new episodes.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from armgym.contracts.policy import FeatureSpec, Policy
from armgym.errors import CheckpointError, ConfigError, TrainingError
from armgym.policies.checkpoint import CONFIG_FILE
from armgym.policies.encoders import ObsEncoder
from armgym.policies.learned import LearnedPolicy
from armgym.policies.normalize import Normalizer
from armgym.policies.residual import ResidualVectorWrapper, TaskFeatures, zero_init_mean
from armgym.policies.residual_policy import ResidualPolicy
from armgym.policies.sac import SACActor, SACConfig, mlp
from armgym.progress import progress
from armgym.rl import run_state
from armgym.train.logger import ScalarLogger
from armgym.train.run_page import finish_page
from armgym.train.sac_utils import LOG, RESUMABLE, Prep, config_json, plot_curves

if TYPE_CHECKING:
    from armgym.train.residual import ResidualTrainConfig


class ValueNet(nn.Module):
    """obs dict (model layout, [B, 1, ...]) -> V float[B]."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], hidden: tuple[int, ...]):
        super().__init__()
        self.encoder = ObsEncoder(shapes, 1, SACConfig().encoder)
        self.head = mlp(self.encoder.out_dim, hidden, 1)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.encoder(obs)).squeeze(-1)


class RunningStd:
    """Running variance of the discounted return (reward normalisation, as gymnasium's
    ``NormalizeReward``): ``r / sqrt(var + eps)``."""

    def __init__(self, n: int, gamma: float):
        self.gamma, self.ret = gamma, np.zeros(n)
        self.count, self.mean, self.var = 1e-4, 0.0, 1.0

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret = self.ret * self.gamma + reward
        b_mean, b_var, b = float(self.ret.mean()), float(self.ret.var()), len(self.ret)
        delta, total = b_mean - self.mean, self.count + b
        m2 = self.var * self.count + b_var * b + delta**2 * self.count * b / total
        self.mean, self.var, self.count = self.mean + delta * b / total, m2 / total, total
        self.ret[done] = 0.0
        return (reward / math.sqrt(self.var + 1e-8)).astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "var": self.var, "ret": self.ret.tolist()}

    def load(self, s: Mapping[str, Any]) -> None:
        self.count, self.mean, self.var = s["count"], s["mean"], s["var"]
        self.ret = np.asarray(s["ret"], np.float64)


def _stats(obs: Mapping[str, np.ndarray], action_dim: int) -> Normalizer:
    stats: dict[str, dict[str, Any]] = {}
    for k, v in obs.items():
        if v.dtype != np.uint8:
            flat = v.reshape(-1, v.shape[-1]).astype(np.float64)
            stats[k] = {
                "mode": "mean_std",
                "mean": flat.mean(0).tolist(),
                "std": np.maximum(flat.std(0), 1e-2).tolist(),
            }
    stats["action"] = {"mode": "min_max", "min": [-1.0] * action_dim, "max": [1.0] * action_dim}
    return Normalizer(stats)


def _sessions(ref: Mapping[str, Any], n: int, api_key: str | None) -> list[Policy] | None:
    """One connection per env for a served base (a connection is not copyable)."""
    if ref["kind"] != "remote":
        return None
    from armgym.eval.bases import open_base

    return [open_base(ref, {}, api_key=api_key) for _ in range(n)]


def _open_run(
    cfg: ResidualTrainConfig,
    modules: Mapping[str, Any],
    opts: Mapping[str, torch.optim.Optimizer],
    gen: torch.Generator,
    rew_norm: RunningStd,
    iters: int,
) -> tuple[int, dict[str, int], Normalizer | None, float]:
    """A fresh run folder, or with --resume the restored state:
    ``(iteration, counters, observation normaliser or None, elapsed seconds)``."""
    out = Path(cfg.out)
    if not cfg.resume:
        if (out / f"{run_state.STATE}.json").exists() and not cfg.overwrite:
            raise ConfigError(
                f"{out} already holds a run; pass --resume, --overwrite or another --out"
            )
        if cfg.overwrite:
            shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / LOG).write_text("")
        return 0, {"episodes": 0, "updates": 0}, None, 0.0
    tensors, meta = run_state.read_state(out)
    now, old = config_json(cfg), meta["config"]
    diff = sorted(
        k for k in now.keys() | old.keys() if k not in RESUMABLE and now.get(k) != old.get(k)
    )
    if diff:
        raise ConfigError(f"--resume with different settings {diff} than the run in {out}")
    run_state.load_state_tensors(tensors, modules, opts)
    gen.set_state(tensors["gen_state"])
    rew_norm.load(meta["reward_norm"])
    start, step = int(meta["iteration"]), int(meta["step"])
    if start >= iters:
        raise CheckpointError(f"{out} is already at {step} env steps; raise --steps")
    lines = (out / LOG).read_text().splitlines()
    kept = [ln for ln in lines if ln and int(json.loads(ln)["step"]) <= step]
    (out / LOG).write_text("".join(ln + "\n" for ln in kept))
    normalizer = Normalizer(json.loads((out / CONFIG_FILE).read_text())["normalization"])
    return start, dict(meta["counters"]), normalizer, float(meta["elapsed_s"])


def gae(
    rew: np.ndarray,
    term: np.ndarray,
    done: np.ndarray,
    values: np.ndarray,
    gamma: float,
    lam: float,
) -> np.ndarray:
    """Generalised advantage estimates float32[T, N] from rewards/term/done [T, N] and
    values [T + 1, N] (the last row: the observation after the rollout). A truncated
    step bootstraps from the value of its final observation (``NEXT_STEP`` autoreset
    returns it); the chain is cut at every episode end."""
    adv, last = np.zeros_like(rew, dtype=np.float32), np.zeros(rew.shape[1], np.float32)
    for t in reversed(range(len(rew))):
        delta = rew[t] + gamma * (1 - term[t]) * values[t + 1] - values[t]
        last = delta + gamma * lam * (1 - done[t]) * last
        adv[t] = last
    return adv


def gauss_logp(u: torch.Tensor, mean: torch.Tensor, log_std: float) -> torch.Tensor:
    """log N(u; mean, e^log_std) summed over the action dims: [B]."""
    z = (u - mean) / math.exp(log_std)
    return (-0.5 * z.pow(2)).sum(-1) - u.shape[-1] * (log_std + 0.5 * math.log(2 * math.pi))


def train_ppo(
    cfg: ResidualTrainConfig, base: Policy, ref: dict[str, Any], env: dict[str, Any]
) -> dict[str, Any]:
    """Residual PPO as configured; returns a summary (steps, updates, wall time, paths)."""
    from armgym.eval.report import summarize
    from armgym.eval.rollout import RolloutConfig, make_vector_env, rollout

    p, out = cfg.ppo, Path(cfg.out)
    n, T = p.num_envs, p.rollout_steps
    iters = math.ceil(cfg.steps / (n * T))
    sessions = _sessions(ref, n, cfg.api_key)
    envs = make_vector_env(env, n, "warp" if cfg.backend == "warp" else "batched")
    features = TaskFeatures.for_env(env, envs.single_observation_space) if cfg.features else None
    vec = ResidualVectorWrapper(envs, base, cfg.scale, sessions, features)
    spaces = vec.single_observation_space.spaces  # type: ignore[attr-defined]
    A = int(vec.single_action_space.shape[0])  # type: ignore[index]
    shapes = {
        k: (s.shape[2], s.shape[0], s.shape[1]) if len(s.shape) == 3 else tuple(s.shape)
        for k, s in spaces.items()
    }
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = SACConfig(hidden_dims=p.hidden_dims)
    actor, critic = SACActor(net, shapes, A), ValueNet(shapes, p.hidden_dims)
    zero_init_mean(actor)
    opts = {
        "actor": torch.optim.Adam(actor.parameters(), lr=p.lr_actor),
        "critic": torch.optim.Adam(critic.parameters(), lr=p.lr_critic),
    }
    modules: dict[str, Any] = {"actor": actor, "critic": critic}
    rew_norm, std = RunningStd(n, p.gamma), math.exp(p.log_std)
    schema = {k: FeatureSpec(np.dtype(s.dtype).name, tuple(s.shape)) for k, s in spaces.items()}
    fps = float(vec.env.metadata.get("render_fps", 10))

    def as_policy(normalizer: Normalizer) -> ResidualPolicy:
        res = LearnedPolicy("sac", net, actor, normalizer, schema, A, fps, env)
        return ResidualPolicy(base, res, cfg.scale, ref, env, cfg.seed)

    start, counters, normalizer, elapsed = _open_run(cfg, modules, opts, gen, rew_norm, iters)
    log = ScalarLogger(out)  # log.jsonl (+ TensorBoard scalars when installed)

    # -- the loop: rollout, GAE, PPO epochs, log / eval / save ---------------------------
    seed0 = (cfg.seed + 1) * 10_000_000 + 1000 * start
    obs, _ = vec.reset(seed=[seed0 + i for i in range(n)])
    prev_done = np.zeros(n, bool)
    ep_ret, t0 = np.zeros(n), time.perf_counter() - elapsed
    bar = progress(
        range(start, iters), initial=start, total=iters, desc="ppo", disable=not cfg.progress
    )
    for it in bar:
        buf_obs: list[dict[str, np.ndarray]] = []
        buf = {
            k: np.zeros((T, n, *s), np.float32)
            for k, s in (
                ("u", (A,)),
                ("logp", ()),
                ("rew", ()),
                ("term", ()),
                ("done", ()),
                ("valid", ()),
            )
        }
        for t in range(T):
            buf_obs.append(obs)
            with torch.no_grad():
                x = Prep(normalizer, 0)(obs, None) if normalizer else None
                mean = actor(actor.features(x))[0] if x is not None else torch.zeros(n, A)
                u = mean + std * torch.randn(mean.shape, generator=gen)
            logp = gauss_logp(u, mean, p.log_std)
            obs, reward, term, trunc, info = vec.step(torch.tanh(u).numpy())
            done = np.logical_or(term, trunc)
            buf["u"][t], buf["logp"][t], buf["valid"][t] = u.numpy(), logp.numpy(), ~prev_done
            buf["rew"][t], buf["term"][t], buf["done"][t] = rew_norm(reward, done), term, done
            ep_ret += np.where(prev_done, 0.0, reward)
            for i in np.flatnonzero(done & ~prev_done):
                counters["episodes"] += 1
                episode = {"return": float(ep_ret[i]), "success": bool(info["is_success"][i])}
                log.log(it * n * T + (t + 1) * n, {"episode": episode})
                ep_ret[i] = 0.0
            prev_done = done
        stacked = {k: np.stack([o[k] for o in [*buf_obs, obs]]) for k in obs}  # [T+1, n, ...]
        if normalizer is None:
            normalizer = _stats({k: v[:T] for k, v in stacked.items()}, A)
        prep = Prep(normalizer, 0)
        flat = prep({k: v.reshape(-1, *v.shape[2:]) for k, v in stacked.items()}, None)
        with torch.no_grad():
            values = critic(flat).view(T + 1, n).numpy()
        adv = gae(buf["rew"], buf["term"], buf["done"], values, p.gamma, p.gae_lambda)
        returns = adv + values[:T]
        idx = np.flatnonzero(buf["valid"].reshape(-1))
        b_obs = {k: v[: T * n][idx] for k, v in flat.items()}
        b_u = torch.as_tensor(buf["u"].reshape(T * n, A)[idx])
        b_logp, b_adv = (
            torch.as_tensor(buf["logp"].reshape(-1)[idx]),
            torch.as_tensor(adv.reshape(-1)[idx]),
        )
        b_ret = torch.as_tensor(returns.reshape(-1)[idx])
        b_adv = (b_adv - b_adv.mean()) / (b_adv.std() + 1e-8)
        kl, losses = 0.0, {}
        for _epoch in range(p.epochs):
            perm = torch.randperm(len(idx), generator=gen)
            for mb in perm.chunk(p.minibatches):
                o = {k: v[mb] for k, v in b_obs.items()}
                mean = actor(actor.features(o))[0]
                log_ratio = gauss_logp(b_u[mb], mean, p.log_std) - b_logp[mb]
                ratio = log_ratio.exp()
                pg = -torch.min(
                    ratio * b_adv[mb], ratio.clamp(1 - p.clip, 1 + p.clip) * b_adv[mb]
                ).mean()
                v_loss = (critic(o) - b_ret[mb]).pow(2).mean()
                loss = pg + p.value_coef * v_loss
                for opt in opts.values():
                    opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(
                    [*actor.parameters(), *critic.parameters()], p.max_grad_norm
                )
                for opt in opts.values():
                    opt.step()
                counters["updates"] += 1
                with torch.no_grad():
                    kl = float(((ratio - 1) - log_ratio).mean())
                losses = {"policy_loss": pg.item(), "value_loss": v_loss.item(), "approx_kl": kl}
            if kl > p.target_kl:
                break
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingError(
                f"non-finite PPO loss {losses}; the last checkpoint in {out} is "
                "intact: lower --ppo.lr-actor / --ppo.lr-critic and --resume"
            )
        done_steps, prev_steps = (it + 1) * n * T, it * n * T
        wall = time.perf_counter() - t0
        log.log(done_steps, {"wall_s": wall, **losses})
        last_it = it + 1 == iters
        if last_it or (
            cfg.eval_every and done_steps // cfg.eval_every > prev_steps // cfg.eval_every
        ):
            seeds = [cfg.eval_seed + i for i in range(cfg.eval_episodes)]
            results, _ = rollout(
                as_policy(normalizer), env, seeds, RolloutConfig(num_envs=cfg.eval_num_envs)
            )
            s = summarize(results)
            ev = {k: s[k] for k in ("success_rate", "success_ci95", "mean_return", "episodes")}
            log.log(done_steps, {"wall_s": time.perf_counter() - t0, "eval": ev})
            bar.write(f"step {done_steps}: success {ev['success_rate']:.2f} {ev['success_ci95']}")
        if last_it or done_steps // cfg.checkpoint_every > prev_steps // cfg.checkpoint_every:
            st = run_state.stage(out)
            as_policy(normalizer).save(st, {"algorithm": "residual_ppo", "step": done_steps})
            tensors = run_state.state_tensors(modules, opts)
            tensors["gen_state"] = gen.get_state()
            meta = {
                "iteration": it + 1,
                "step": done_steps,
                "elapsed_s": time.perf_counter() - t0,
                "counters": counters,
                "reward_norm": rew_norm.state(),
                "config": config_json(cfg),
            }
            run_state.write_state(st, tensors, meta)
            run_state.commit(out)
    bar.close()
    vec.close()
    log.close()
    png = plot_curves(out)
    facts = [("env", f"{env['task']} · {cfg.reward} reward"), ("base", str(ref)),
             ("env steps", str(iters * n * T)), ("updates", str(counters["updates"]))]  # fmt: skip
    finish_page(out, f"Residual PPO training · {env['task']}", facts, clips=cfg.final_clips,
                seed=cfg.eval_seed, api_key=cfg.api_key)  # fmt: skip
    return {
        "out": str(out),
        "steps": iters * n * T,
        "updates": counters["updates"],
        "episodes": counters["episodes"],
        "wall_s": time.perf_counter() - t0,
        "curve": str(png) if png else None,
    }
