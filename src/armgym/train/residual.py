"""``armgym train residual``: residual RL over a frozen base policy (SAC or PPO).

    armgym train residual --base runs/bc-peg --task PegInsert --randomization med \\
        --algo sac --steps 100000 --out runs/res

The base (a checkpoint folder, ``ws://host:port`` of ``armgym serve``, or
``scripted:<Task>``) is frozen; the agent learns a residual ``r`` in [-1, 1]^A and the env
executes ``clip(base + scale · r)`` (:mod:`armgym.policies.residual`). The residual actor
reads the observation plus ``observation.base_action`` and its mean layer starts at zero,
so training starts exactly at the base policy.

* ``--algo sac`` (the main path; Policy Decorator, ResFiT): armgym's SAC
  (:mod:`armgym.train.sac`, its update, loop, buffers, saves and evaluation, unchanged) on
  the wrapped env. Its critics see ``(obs, base action)`` and the residual, which carries
  the same information as ``(obs, base action, total action)`` because the total is a
  function of the two.
* ``--algo ppo``: residual PPO as ResiP does it (:mod:`armgym.train.residual_ppo`).

Outputs in ``--out`` as ``train sac`` writes them; the checkpoint is a ``residual`` one
that names its base (path + sha256) and that ``armgym eval`` / ``serve`` / ``run`` load.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from armgym.contracts.policy import Policy
from armgym.errors import CheckpointError, ConfigError
from armgym.policies.checkpoint import CONFIG_FILE
from armgym.policies.residual import (
    DEFAULT_SCALE,
    ResidualWrapper,
    TaskFeatures,
    zero_init_mean,
)
from armgym.policies.sac import SACConfig
from armgym.teleop.scripted_human import ScriptedHumanConfig


@dataclass(frozen=True)
class PPOSettings:
    """Residual PPO (``--algo ppo``; ResiP's recipe)."""

    num_envs: int = 8
    """Parallel envs (one BatchedEnv); ResiP: 1024 on a GPU."""
    rollout_steps: int = 200
    """Env steps per env per rollout (one big batch of num_envs × rollout_steps)."""
    epochs: int = 10
    """Passes over each rollout batch (cut short by --ppo.target-kl)."""
    minibatches: int = 4
    """Minibatches per epoch."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """PPO ratio clip."""
    target_kl: float = 0.1
    """Stop an update's epochs once the approximate KL exceeds this."""
    log_std: float = -1.0
    """Fixed log standard deviation of the (pre-tanh) residual Gaussian."""
    lr_actor: float = 3e-4
    """Actor learning rate."""
    lr_critic: float = 1e-3
    """Critic learning rate."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    hidden_dims: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and the critic."""

    def __post_init__(self) -> None:
        if min(self.num_envs, self.rollout_steps, self.epochs, self.minibatches) < 1:
            raise ConfigError("--ppo.num-envs/rollout-steps/epochs/minibatches must be >= 1")


@dataclass(frozen=True)
class ResidualTrainConfig:
    """Train a residual policy over a frozen base with SAC or PPO."""

    base: str
    """Frozen base: a checkpoint folder, ws://host:port (served), or scripted:<Task>."""
    out: Path
    """Run folder (residual checkpoint, train state, log.jsonl, curve.png)."""
    algo: Literal["sac", "ppo"] = "sac"
    """sac (off-policy, the main path) | ppo (ResiP's on-policy recipe)."""
    backend: Literal["cpu", "warp"] = "cpu"
    """PPO's training envs: cpu (one BatchedEnv) | warp (all envs as worlds of one MuJoCo
    Warp model on the GPU, else Warp's CPU device; armgym[warp], state observations). The
    evaluations run the CPU env either way."""
    task: str | None = None
    """Task (default: the base checkpoint's; required for a served base)."""
    robot: str | None = None
    """Robot (default: the base checkpoint's, else panda)."""
    control: str | None = None
    """Control mode (default: the base checkpoint's, else ee_delta)."""
    randomization: str | None = None
    """Initial-state randomisation low | med | high (default: the base checkpoint's)."""
    reward: Literal["dense", "sparse"] = "dense"
    """Env reward the learner sees (dense: the task's staged shaping, never positive)."""
    scale: float = DEFAULT_SCALE
    """Residual scale: executed = clip(base + scale · residual), normalised action units."""
    features: bool = False
    """Add the task's goal-relative features (tool → object → goal offsets, raw and
    squashed at 5 mm; ``Task.relative_features``) to the residual's observation as
    ``observation.task_features``; the saved policy recomputes them."""
    steps: int = 100_000
    """Env steps to train for (all envs together)."""
    seed: int = 0
    """Seed of weights, exploration and training episodes."""
    api_key: str | None = None
    """API key of a served base."""
    batch_size: int = 256
    """SAC: transitions per gradient update."""
    utd: int = 1
    """SAC: gradient updates per env step."""
    n_step: int = 1
    """SAC: n-step returns in the critic target (cut at episode ends)."""
    gamma: float = 0.99
    """SAC: discount."""
    lr: float = 3e-4
    """SAC: Adam learning rate."""
    learning_starts: int = 1000
    """SAC: env steps (base + uniform residual noise) before updates start (none with demos)."""
    demos: int = 0
    """SAC: scripted expert episodes expressed as residuals toward the expert's action
    (``clip((a_expert − a_base) / scale)``; only episodes that still succeed are kept) in
    RLPD's demo buffer, half of every batch (--offline-ratio); 0: none."""
    demo_expert: Literal["scripted", "reactive"] = "scripted"
    """SAC: expert of the residual demos: scripted (the task's phase-based expert) |
    reactive (its stateless one, a function of the observation alone; PegInsert)."""
    offline_ratio: float = 0.5
    """SAC: fraction of each batch from the residual demos (with --demos)."""
    action_l2: float = 0.0
    """SAC: weight of ‖residual‖² in the actor loss (keeps the policy near its base unless
    the critics pay for a correction; 0: off)."""
    bc_weight: float = 0.0
    """SAC: weight of the Q-filtered BC term pulling the residual toward the demos'
    residuals where the critics rate them higher (with --demos; 0: off)."""
    bc_filter: bool = True
    """SAC: Q-filter the BC term; --no-bc-filter clones every demo row (TD3+BC's term)."""
    explore_ramp: int = 0
    """SAC: progressive exploration (Policy Decorator): a training step takes the sampled
    residual with probability min(1, step / explore_ramp) and the base alone otherwise,
    so early episodes keep the base's successes; 0: always the sampled residual."""
    buffer_capacity: int = 1_000_000
    """SAC: replay buffer slots."""
    intervene: str = ""
    """SAC: who may take over while training (keyboard | spacemouse | gamepad | scripted: the
    task's expert by the rule of --human.*; "" for nobody). What they do is executed as is
    (the residual toward it is stored) and their transitions go to both buffers (HIL-SERL)."""
    human: ScriptedHumanConfig = field(default_factory=ScriptedHumanConfig)
    """SAC: when the scripted human (--intervene scripted) takes over and hands back."""
    net: SACConfig = field(default_factory=SACConfig)
    """Residual actor (and SAC critic) networks."""
    ppo: PPOSettings = field(default_factory=PPOSettings)
    """PPO settings (--algo ppo)."""
    eval_every: int = 5000
    """Evaluate every this many env steps (0: only at the end)."""
    eval_episodes: int = 50
    """Episodes per evaluation (seeds eval_seed + i, never used in training)."""
    eval_seed: int = 1_000_000
    """First evaluation seed."""
    eval_num_envs: int = 4
    """Parallel envs for evaluation."""
    final_clips: int = 4
    """At the end, this many more evaluation episodes as clips on the run's index.html."""
    checkpoint_every: int = 10_000
    """Save checkpoint + train state every this many env steps."""
    log_every: int = 500
    """Log losses every this many env steps."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint (the base must be unchanged)."""
    overwrite: bool = False
    """Delete the run in --out and start afresh."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")
        if not self.scale > 0:
            raise ConfigError(f"--scale must be > 0, got {self.scale}")
        if self.demos < 0 or self.explore_ramp < 0:
            raise ConfigError("--demos and --explore-ramp must be >= 0")
        if self.backend == "warp" and self.algo != "ppo":
            raise ConfigError("--backend warp trains with --algo ppo only; drop --backend")
        if self.intervene and self.algo == "ppo":
            raise ConfigError("--intervene works with --algo sac (HIL-SERL is off-policy)")


def base_env(cfg: ResidualTrainConfig, ref: dict[str, Any], base: Policy) -> dict[str, Any]:
    """``{"task", **make kwargs}`` of the training env: the base checkpoint's env with the
    options given on the command line."""
    env = dict(base.metadata.extra.get("env") or {})  # a checkpoint's (or server's) env
    given = {
        "task": cfg.task,
        "robot": cfg.robot,
        "control": cfg.control,
        "randomization": cfg.randomization,
    }
    env |= {k: v for k, v in given.items() if v is not None}
    if "task" not in env:
        raise ConfigError(f"--base {cfg.base}: give --task (a {ref['kind']} base names none)")
    env.setdefault("control", base.metadata.extra.get("control", "ee_delta"))
    env["reward"] = cfg.reward
    return env


def open_training_base(cfg: ResidualTrainConfig) -> tuple[Policy, dict[str, Any], dict[str, Any]]:
    """(base policy, its reference, the env dict) for ``cfg``; checks a resumed run's base."""
    from armgym.eval.bases import open_base, reference_of

    ref = reference_of(cfg.base)
    if ref["kind"] == "scripted":
        if cfg.task is None:
            raise ConfigError("a scripted base needs --task (e.g. --base scripted:PegInsert)")
        probe: dict[str, Any] = {"task": cfg.task, "control": cfg.control or "ee_delta"}
        probe |= {
            k: v
            for k, v in (("robot", cfg.robot), ("randomization", cfg.randomization))
            if v is not None
        }
        base = open_base(ref, probe, seed=cfg.seed)
    else:
        base = open_base(ref, {}, api_key=cfg.api_key, seed=cfg.seed)
    if cfg.resume:
        check_resumed_base(Path(cfg.out), ref)
    return base, ref, base_env(cfg, ref, base)


def check_resumed_base(out: Path, ref: dict[str, Any]) -> None:
    """CheckpointError if the run in ``out`` was trained over another (or changed) base."""
    file = out / CONFIG_FILE
    if not file.is_file():
        return  # nothing saved yet: the SAC / PPO loop reports what --resume lacks
    old = json.loads(file.read_text()).get("residual", {}).get("base", {})
    keys = ("kind", "path", "weights_sha256", "url", "task")
    if any(old.get(k) != ref.get(k) for k in keys):
        raise CheckpointError(
            f"{out} was trained over base {old}, not {ref} (or the base's weights changed); "
            "resume with the original base or start a new --out"
        )


def sac_config(cfg: ResidualTrainConfig, env: dict[str, Any]) -> Any:
    """The :class:`~armgym.train.sac.SACTrainConfig` of the residual run.

    The offline buffer is sampled (``offline_ratio``) when it can fill: with ``--demos`` or
    with ``--intervene`` (a person's steps go there, HIL-SERL); else every batch is online.
    """
    from armgym.train.sac import SACTrainConfig

    kw: dict[str, Any] = {}
    if env.get("obs", "state") != "state":
        kw["cameras"] = tuple(env.get("cameras", ("front", "wrist")))
        kw["image_size"] = int(next(iter(env.get("image_size", (84, 84)))))
    return SACTrainConfig(
        out=cfg.out,
        task=env["task"],
        robot=env.get("robot", "panda"),
        obs=env.get("obs", "state"),
        control=env["control"],
        reward=cfg.reward,
        randomization=env.get("randomization", "low"),
        demos=str(cfg.demos),
        demo_expert=cfg.demo_expert,
        offline_ratio=cfg.offline_ratio if (cfg.demos or cfg.intervene) else 0.0,
        bc_weight=cfg.bc_weight,
        bc_filter=cfg.bc_filter,
        action_l2=cfg.action_l2,
        intervene=cfg.intervene,
        human=cfg.human,
        steps=cfg.steps,
        seed=cfg.seed,
        batch_size=cfg.batch_size,
        utd=cfg.utd,
        n_step=cfg.n_step,
        gamma=cfg.gamma,
        lr=cfg.lr,
        learning_starts=cfg.learning_starts,
        buffer_capacity=cfg.buffer_capacity,
        eval_every=cfg.eval_every,
        eval_episodes=cfg.eval_episodes,
        eval_seed=cfg.eval_seed,
        eval_num_envs=cfg.eval_num_envs,
        final_clips=cfg.final_clips,
        checkpoint_every=cfg.checkpoint_every,
        log_every=cfg.log_every,
        resume=cfg.resume,
        overwrite=cfg.overwrite,
        progress=cfg.progress,
        net=cfg.net,
        **kw,
    )


def train(cfg: ResidualTrainConfig) -> dict[str, Any]:
    """Train the residual as configured; return the loop's summary (+ base, algo)."""
    base, ref, env = open_training_base(cfg)
    if cfg.algo == "ppo":
        from armgym.train.residual_ppo import train_ppo

        summary = train_ppo(cfg, base, ref, env)
    else:
        from armgym.policies.residual_policy import ResidualPolicy
        from armgym.train.sac import train as train_sac
        from armgym.train.sac_utils import SACHooks, make_env

        def wrap(policy: Any) -> ResidualPolicy:
            return ResidualPolicy(base, policy, cfg.scale, ref, policy.env, cfg.seed)

        wrapped: list[ResidualWrapper] = []

        def build(c: Any) -> ResidualWrapper:
            e = make_env(c)
            features = TaskFeatures.for_env(env, e.observation_space) if cfg.features else None
            wrapped.append(ResidualWrapper(e, base, cfg.scale, features))
            return wrapped[-1]

        hooks = SACHooks(
            make_env=build,
            init_actor=zero_init_mean,
            wrap_policy=wrap,
            demo_action=lambda a, obs: wrapped[-1].residual_toward(a, obs),
            explore=progressive_exploration(cfg.explore_ramp) if cfg.explore_ramp else None,
        )
        summary = train_sac(sac_config(cfg, env), hooks)
    close = getattr(base, "close", None)  # a served base's connection
    if callable(close):
        close()
    return {**summary, "algo": cfg.algo, "base": ref, "config": _jsonable(cfg)}


def progressive_exploration(ramp: int) -> Any:
    """``explore(step, residual, rng)``: the sampled residual with probability
    ``min(1, step / ramp)``, else zeros (the base acts alone; Policy Decorator's schedule)."""

    def explore(step: int, residual: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < min(1.0, step / ramp):
            return residual
        return np.zeros_like(residual)

    return explore


def _jsonable(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


__all__ = ["PPOSettings", "ResidualTrainConfig", "train"]
