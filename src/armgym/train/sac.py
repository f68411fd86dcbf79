"""SAC with RLPD: online RL seeded with demonstrations, one loop top to bottom (cleanrl style).

    armgym train sac --task PickCube --robot panda --obs state --demos 20 --steps 30000 --out runs/sac

Algorithm (Haarnoja et al. 2018 + RLPD, Ball et al. 2023): a tanh-Gaussian actor, an
ensemble of E LayerNorm critics with Polyak-averaged targets (optionally REDQ's min over a
random subset), a learned temperature (init 1e-2, target entropy −|A|/2), ``utd`` gradient
updates per env step, and every batch drawn ``offline_ratio`` from the demo buffer and the
rest from the online buffer. Observations are normalised with mean/std from the demos (or
the first ``learning_starts`` random steps) — stored in the checkpoint; pixels go through a
conv encoder shared by actor and critics, trained by the critic, with DrQ random shifts.

Outputs in ``--out``: ``model.safetensors`` + ``config.json`` (a ``sac`` policy checkpoint
that ``armgym eval`` / ``serve`` / ``run`` load), ``train_state.*`` + ``buffer/`` (what
``--resume`` needs), ``log.jsonl`` (losses every ``log_every`` env steps, episode returns,
eval lines with Wilson 95 % intervals), ``curve.png`` (success vs env steps and vs wall
time). Saves are all-or-nothing (:mod:`armgym.rl.run_state`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from armgym.errors import ConfigError, TrainingError
from armgym.policies.sac import CriticEnsemble, SACActor, SACConfig
from armgym.progress import progress
from armgym.rl import ReplayBuffer
from armgym.teleop.scripted_human import ScriptedHumanConfig
from armgym.train import intervention as hil
from armgym.train.logger import ScalarLogger
from armgym.train.pretrained_encoder import load_frozen, with_encoder_from
from armgym.train.run_page import finish_page
from armgym.train.sac_utils import (
    Prep,
    SACHooks,
    evaluate,
    fill_demos,
    make_env,
    mixed_batch,
    plot_curves,
    polyak,
    prepare_out,
    run_normalizer,
    save_run,
    train_seed,
)


@dataclass(frozen=True)
class SACTrainConfig:
    """Train a SAC/RLPD policy online in an armgym env, seeded with demonstrations."""

    out: Path
    """Run folder (checkpoint, train state, buffer, log.jsonl, curve.png)."""
    task: str = "PickCube"
    """Task name (see `armgym envs`)."""
    robot: str = "panda"
    """Robot name."""
    obs: Literal["state", "pixels", "both"] = "state"
    """Observations: state | pixels (robot state + cameras) | both."""
    control: str = "ee_pos"
    """Control mode (ee_pos: xyz + gripper, the RL action space)."""
    reward: Literal["dense", "sparse"] = "sparse"
    """Env reward the learner sees."""
    randomization: str = "low"
    """Initial-state randomisation: low | med | high."""
    cameras: tuple[str, ...] = ("front", "wrist")
    """Cameras for --obs pixels/both."""
    image_size: int = 84
    """Camera height and width [px]."""
    demos: str = "20"
    """Demonstrations: N (scripted expert episodes), a LeRobot dataset folder, or 0 for none."""
    demo_expert: Literal["scripted", "reactive"] = "scripted"
    """Expert of scripted demos: scripted (the task's phase-based expert) | reactive (its
    stateless one, a function of the observation alone; PegInsert)."""
    reward_classifier: Path | None = None
    """Checkpoint of `armgym train reward-classifier`: the training env's reward and episode
    end come from it (the task's success is hidden from the learner; evaluation keeps it)."""
    steps: int = 30_000
    """Env steps to train for."""
    seed: int = 0
    """Seed of weights, exploration and training episodes."""
    batch_size: int = 256
    """Transitions per gradient update."""
    utd: int = 1
    """Gradient updates per env step (update-to-data ratio)."""
    offline_ratio: float = 0.5
    """Fraction of each batch from the demo buffer (RLPD: 0.5); 0 without demos."""
    gamma: float = 0.99
    """Discount."""
    n_step: int = 1
    """n-step returns in the critic target (cut at episode ends); 1: one-step SAC."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    lr: float = 3e-4
    """Adam learning rate (actor, critics, temperature)."""
    init_temperature: float = 1e-2
    """Initial entropy temperature alpha."""
    target_entropy: float | None = None
    """Target entropy (default −|A|/2)."""
    bc_weight: float = 0.0
    """Weight of a Q-filtered behaviour-cloning term on the demo rows of each batch (Nair et
    al. 2018): ``‖tanh(mean(s)) − a_demo‖²`` where the critics rate the demo action above
    the policy's; 0 turns it off (plain RLPD)."""
    bc_filter: bool = True
    """Q-filter the BC term (above); --no-bc-filter clones every demo row (TD3+BC's plain
    term), which holds the policy at the demos where an early, wrong critic would switch
    the filtered term off."""
    action_l2: float = 0.0
    """Weight of ``‖a‖²`` (the sampled action, in [-1, 1]^A) in the actor loss; residual
    RL uses it to keep the residual near 0 — the policy near its base — unless the
    critics pay for a correction. 0: off (plain SAC)."""
    learning_starts: int = 1000
    """Env steps before updates start (uniform random actions when there are no demos)."""
    obs_std_floor: float = 0.05
    """Lower bound of the stds that normalise vector observations (0: none). 20 demos
    show some features nearly constant (a resting cube's orientation, std ~1e-3): without
    a floor a small real change maps to hundreds of stds and the policy collapses."""
    obs_clip: float = 10.0
    """Clamp normalised vector observations to ±this (0: no clamp)."""
    buffer_capacity: int = 1_000_000
    """Online replay buffer slots."""
    shift_pad: int = 4
    """DrQ random-shift padding [px] for images."""
    eval_every: int = 2500
    """Evaluate every this many env steps (0: only at the end)."""
    eval_episodes: int = 50
    """Episodes per evaluation (seeds eval_seed + i, never used in training)."""
    eval_seed: int = 1_000_000
    """First evaluation seed."""
    eval_num_envs: int = 4
    """Parallel envs for evaluation."""
    final_clips: int = 4
    """At the end, evaluate the saved policy on this many more episodes (seeds eval_seed …)
    and show them as clips on the run's index.html (0: the page without clips)."""
    checkpoint_every: int = 5000
    """Save checkpoint + train state + buffer every this many env steps."""
    log_every: int = 250
    """Log losses every this many env steps."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint."""
    overwrite: bool = False
    """Delete the run in --out and start afresh."""
    progress: bool = True
    """Show a progress bar."""
    actors: int = 0
    """Env actors: 0 = one process (env step, then updates, in turn); N >= 1 = N
    asynchronous actors on Ray streaming transitions to this learner (see sac_async)."""
    push_every: int = 50
    """With --actors: push the actor weights to the actors every this many updates."""
    ray_address: str = "local"
    """With --actors: local (a private Ray on this machine) or a cluster (auto, HOST:PORT)."""
    actor_cpus: float = 1.0
    """With --actors: CPUs Ray reserves for each actor."""
    actor_timeout_s: float = 30.0
    """With --actors: an actor that leaves a pull unanswered this long is killed and replaced."""
    learner_timeout_s: float = 120.0
    """With --actors: an actor that hears nothing from the learner this long exits."""
    actor_queue: int = 10_000
    """With --actors: transitions an actor holds for the learner; older ones are dropped."""
    actor_max_hz: float = 0.0
    """With --actors: cap on each actor's env steps/s (a real robot's rate); 0: no cap."""
    net: SACConfig = field(default_factory=SACConfig)
    """Actor / critic networks."""
    intervene: str = ""
    """Who may take over the training env (never the eval env): keyboard | spacemouse |
    gamepad | scripted (the task's expert, by the rule of --human.*); "" for nobody."""
    human: ScriptedHumanConfig = field(default_factory=ScriptedHumanConfig)
    """When the scripted human (--intervene scripted) takes over and hands back."""
    encoder_from: Path | None = None
    """Pixels: a pixel policy checkpoint (e.g. `armgym train bc --obs pixels` on the demos)
    whose image encoders SAC copies and freezes, as HIL-SERL freezes a pretrained backbone;
    its encoder settings replace --net.encoder.* (see armgym.train.pretrained_encoder)."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.utd < 1 or self.n_step < 1:
            raise ConfigError("--steps, --batch-size, --utd and --n-step must be >= 1")
        if not 0.0 <= self.offline_ratio < 1.0:
            raise ConfigError(f"--offline-ratio must be in [0, 1), got {self.offline_ratio}")
        hil.check_intervene(self.intervene)
        if self.encoder_from is not None and self.obs == "state":
            raise ConfigError("--encoder-from needs image observations: add --obs pixels")

        if self.actors < 0 or self.push_every < 1 or self.actor_queue < 1:
            raise ConfigError("--actors must be >= 0, --push-every and --actor-queue >= 1")
        if min(self.actor_timeout_s, self.learner_timeout_s, self.actor_cpus) <= 0:
            raise ConfigError("--actor-timeout-s, --learner-timeout-s and --actor-cpus must be > 0")


def q_filtered_bc(
    actor: SACActor,
    critic: CriticEnsemble,
    feat: torch.Tensor,
    action: torch.Tensor,
    q_pi: torch.Tensor,
    batch: dict[str, Any],
    q_filter: bool = True,
) -> torch.Tensor:
    """Mean over the demo rows of ``‖tanh(mean(s)) − a‖²`` kept where ``Q(s, a) > Q(s, π)``
    (every demo row with ``q_filter=False``).

    ``feat`` [B, F] (detached), ``action`` [B, A] the stored actions, ``q_pi`` [B] the
    ensemble-mean value of the sampled policy action; ``batch["demo"]`` bool [B].
    """
    rows = torch.as_tensor(batch["demo"])
    with torch.no_grad():
        keep = (
            (critic(feat[rows], action[rows]).mean(0) > q_pi[rows]).float()
            if q_filter
            else torch.ones(int(rows.sum()))
        )
    mean, _ = actor(feat[rows])
    return (keep * (torch.tanh(mean) - action[rows]).pow(2).sum(-1)).mean()


def update(
    cfg: SACTrainConfig,
    nets: dict[str, Any],
    opts: Mapping[str, torch.optim.Optimizer],
    batch: dict[str, Any],
    prep: Prep,
    gen: torch.Generator,
) -> dict[str, float]:
    """One SAC gradient step on critics, actor and temperature; returns the losses."""
    actor, critic, critic_t, enc_t = nets["actor"], nets["critic"], nets["critic_t"], nets["enc_t"]
    log_alpha: torch.Tensor = nets["log_alpha"]
    obs, nxt = prep(batch["obs"], gen), prep(batch["next_obs"], gen)
    action = torch.as_tensor(batch["action"])
    reward = torch.as_tensor(batch["reward"])
    not_done = 1.0 - torch.as_tensor(batch["terminated"], dtype=torch.float32)
    alpha = log_alpha.exp().detach()
    with torch.no_grad():
        raw_next = actor.encoder.image_features(nxt)
        a_next, logp_next = actor.sample(actor.encoder.combine(nxt, raw_next), gen)
        # frozen convs (--encoder-from) are the same in the target: run them once
        feat_t = enc_t.combine(nxt, raw_next) if nets["frozen_images"] else enc_t(nxt)
        q_next = critic_t.target_min(feat_t, a_next, gen) - alpha * logp_next
        discount = torch.as_tensor(batch["discount"]) if "discount" in batch else cfg.gamma
        target = reward + discount * not_done * q_next
    feat = actor.features(obs)  # the encoder learns through the critic loss only
    critic_loss = (critic(feat, action) - target).pow(2).mean(1).sum()
    opts["critic"].zero_grad(set_to_none=True)
    critic_loss.backward()
    opts["critic"].step()

    feat = feat.detach()
    a_pi, logp = actor.sample(feat, gen)
    q_pi = critic(feat, a_pi).mean(0)
    actor_loss = (alpha * logp - q_pi).mean()
    if cfg.action_l2 > 0:
        actor_loss = actor_loss + cfg.action_l2 * a_pi.pow(2).sum(-1).mean()
    if cfg.bc_weight > 0 and "demo" in batch and batch["demo"].any():
        actor_loss = actor_loss + cfg.bc_weight * q_filtered_bc(
            actor, critic, feat, action, q_pi, batch, cfg.bc_filter
        )
    opts["actor"].zero_grad(set_to_none=True)
    actor_loss.backward()
    opts["actor"].step()

    alpha_loss = -(log_alpha * (logp.detach() + nets["target_entropy"])).mean()
    opts["alpha"].zero_grad(set_to_none=True)
    alpha_loss.backward()
    opts["alpha"].step()
    polyak(critic_t, critic, cfg.tau)
    polyak(enc_t, actor.encoder, cfg.tau)
    losses = {
        "critic_loss": critic_loss.item(),
        "actor_loss": actor_loss.item(),
        "alpha": alpha.item(),
        "entropy": -logp.detach().mean().item(),
    }
    if not all(math.isfinite(v) for v in losses.values()):
        raise TrainingError(
            f"non-finite loss {losses}; the last good checkpoint in {cfg.out} is intact. "
            "Lower --lr, check the reward scale, or --resume from it"
        )
    return losses


def build_nets(
    cfg: SACTrainConfig, env: Any, hooks: SACHooks | None = None
) -> tuple[dict[str, Any], dict[str, torch.optim.Optimizer]]:
    """Actor, critic ensemble, their targets, temperature and optimisers for ``env``'s
    spaces; ``hooks.init_actor`` (residual RL) adjusts the fresh actor."""
    action_dim = int(env.action_space.shape[0])
    shapes = {k: tuple(sp.shape) for k, sp in env.observation_space.spaces.items()}
    model_shapes = {k: (s[2], s[0], s[1]) if len(s) == 3 else s for k, s in shapes.items()}
    actor = SACActor(cfg.net, model_shapes, action_dim)
    if cfg.encoder_from is not None:  # frozen: trained by neither loss, run forward only
        load_frozen(actor.encoder, cfg.encoder_from)
    if hooks:
        hooks.init_actor(actor)
    critic = CriticEnsemble(cfg.net, actor.encoder.out_dim, action_dim)
    nets: dict[str, Any] = {
        "actor": actor,
        "critic": critic,
        "critic_t": copy.deepcopy(critic).requires_grad_(False),
        "enc_t": copy.deepcopy(actor.encoder).requires_grad_(False),
        "log_alpha": torch.tensor(math.log(cfg.init_temperature), requires_grad=True),
        "target_entropy": -action_dim / 2 if cfg.target_entropy is None else cfg.target_entropy,
        "frozen_images": cfg.encoder_from is not None,
    }
    opts: dict[str, torch.optim.Optimizer] = {
        "actor": torch.optim.Adam(actor.net.parameters(), lr=cfg.lr),
        "critic": torch.optim.Adam(
            [*critic.parameters(), *(p for p in actor.encoder.parameters() if p.requires_grad)],
            lr=cfg.lr,
        ),
        "alpha": torch.optim.Adam([nets["log_alpha"]], lr=cfg.lr),
    }
    return nets, opts


def train(cfg: SACTrainConfig, hooks: SACHooks | None = None) -> dict[str, Any]:
    """Run SAC/RLPD as configured; return a summary (final eval, wall time, paths).

    ``--actors N`` (N >= 1) hands over to the asynchronous actor/learner of
    :mod:`armgym.train.sac_async`; N = 0 is the single-process loop below. ``hooks``
    (residual RL, :mod:`armgym.train.residual`): another env, actor init, and the policy
    evaluated and saved; ``None`` = plain SAC.
    """
    cfg = with_encoder_from(cfg)  # --encoder-from: its encoder settings are the net's
    if cfg.actors > 0:
        if hooks is not None:
            raise ConfigError("--actors is not supported for residual RL yet; use --actors 0")
        from armgym.train.sac_async import train_async

        return train_async(cfg)
    out = Path(cfg.out)
    env = hooks.make_env(cfg) if hooks else make_env(cfg)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    online = ReplayBuffer.for_env(env, cfg.buffer_capacity, hil.EXTRAS, seed=cfg.seed)
    offline = ReplayBuffer.for_env(env, cfg.buffer_capacity, seed=cfg.seed + 1)
    demo_info = fill_demos(cfg, env, offline, hooks)
    env = hil.wrap_env(cfg, env)  # human in the loop: the training env only
    env.action_space.seed(cfg.seed)  # the outermost space: a wrapper (residual) has its own

    # -- networks (normalisation stats: demos, else the first random steps) --------------
    nets, opts = build_nets(cfg, env, hooks)
    actor = nets["actor"]
    start, elapsed, counters, normalizer, online = prepare_out(cfg, nets, opts, online, gen, rng)
    hil.restore_interventions(online, offline)  # --resume: a person's steps back to offline
    log = ScalarLogger(out)  # log.jsonl (+ TensorBoard scalars when installed)
    if normalizer is None and len(offline):
        normalizer = run_normalizer(cfg, online, offline)

    # -- the loop ------------------------------------------------------------------------
    obs, _ = env.reset(seed=train_seed(cfg, counters["episodes"]))
    ep_ret, ep_len = 0.0, 0
    ep_hil = hil.EpisodeInterventions()
    t0 = time.perf_counter() - elapsed
    bar = progress(
        range(start, cfg.steps),
        initial=start,
        total=cfg.steps,
        desc="sac",
        disable=not cfg.progress,
    )
    losses: dict[str, float] = {}
    prep: Prep | None = Prep(normalizer, cfg.shift_pad) if normalizer else None
    for step in bar:
        if prep is None or (step < cfg.learning_starts and not len(offline)):
            action = env.action_space.sample()
        else:
            with torch.no_grad():
                feat = actor.features(prep({k: v[None] for k, v in obs.items()}, None))
                action = actor.sample(feat, gen)[0][0].numpy()
        if hooks and hooks.explore:
            action = hooks.explore(step, action, rng)
        nxt, reward, term, trunc, info = env.step(action)
        # the executed action; a person's steps go to the offline buffer too (HIL-SERL)
        hil.add_transition(online, offline, obs, action, float(reward), term, trunc, nxt, info)
        ep_hil.add(info)
        obs, ep_ret, ep_len = nxt, ep_ret + float(reward), ep_len + 1
        if term or trunc:
            counters["episodes"] += 1
            success = bool(info.get("is_success"))
            episode = {"return": ep_ret, "length": ep_len, "success": success, **ep_hil.pop()}
            log.log(step + 1, {"episode": episode})
            obs, _ = env.reset(seed=train_seed(cfg, counters["episodes"]))
            ep_ret, ep_len = 0.0, 0
        if prep is None and step + 1 >= min(cfg.learning_starts, cfg.steps):
            normalizer = run_normalizer(cfg, online, offline)
            prep = Prep(normalizer, cfg.shift_pad)
        if prep is not None and step + 1 >= cfg.learning_starts:
            for _ in range(cfg.utd):
                batch = mixed_batch(online, offline, cfg.batch_size, cfg.offline_ratio,
                                    cfg.n_step, cfg.gamma)  # fmt: skip
                losses = update(cfg, nets, opts, batch, prep, gen)
                counters["updates"] += 1
        done = step + 1
        if losses and done % cfg.log_every == 0:
            log.log(done, {"wall_s": time.perf_counter() - t0, **losses})
            bar.set_postfix(critic=f"{losses['critic_loss']:.3g}", alpha=f"{losses['alpha']:.3g}")
        last = done == cfg.steps
        if normalizer and ((cfg.eval_every and done % cfg.eval_every == 0) or last):
            ev = evaluate(cfg, actor, normalizer, env, hooks)
            hil.report_evaluation(env, ev["success_rate"])
            log.log(done, {"wall_s": time.perf_counter() - t0, "eval": ev})
            bar.write(f"step {done}: success {ev['success_rate']:.2f} {ev['success_ci95']}")
        if normalizer and (done % cfg.checkpoint_every == 0 or last):
            elapsed = time.perf_counter() - t0
            save_run(cfg, nets, opts, online, normalizer, done, elapsed, counters, gen, rng, env,
                     hooks)  # fmt: skip
    bar.close()
    env.close()
    log.close()
    png = plot_curves(out)
    facts = [("env", f"{cfg.task} · {cfg.robot} · {cfg.obs} · {cfg.reward} reward"),
             ("env steps", str(cfg.steps)), ("updates", str(counters["updates"])),
             ("training episodes", str(counters["episodes"])),
             ("demos", str(demo_info.get("episodes", 0)))]  # fmt: skip
    title = "Residual SAC training" if hooks else "SAC training"
    finish_page(out, f"{title} · {cfg.task}", facts, clips=cfg.final_clips, seed=cfg.eval_seed)
    return {
        "out": str(out),
        "steps": cfg.steps,
        "updates": counters["updates"],
        "episodes": counters["episodes"],
        "demos": demo_info,
        "wall_s": time.perf_counter() - t0,
        "curve": str(png) if png else None,
    }
