"""Behaviour cloning (MLP with action chunking, or Diffusion Policy) from a LeRobot dataset.

One loop, top to bottom (cleanrl style)::

    armgym train bc --dataset DIR --policy diffusion --steps 3000 --batch-size 64 --out CK

Data: ``armgym.data.torch_dataset.HorizonDataset`` windows (obs frames t-To+1..t, actions
t..t+H-1, ``action_is_pad`` past the episode end). Normalisation: observations mean/std,
actions min/max -> [-1, 1], computed over the whole dataset and stored in the checkpoint.
Optimiser: AdamW, linear warm-up then cosine decay; an EMA copy of the weights (Chi et
al.'s schedule) is what gets saved and evaluated.

Determinism: weights from ``torch.manual_seed(seed)``; the batch of step k is slice k of a
per-epoch permutation drawn from ``numpy.random.default_rng([seed, epoch])``; the noise,
diffusion timesteps and crops of step k come from a ``torch.Generator`` seeded with
``(seed, k)``. So a run is a pure function of (config, dataset), and ``--resume`` after an
interruption ends with the same weights as an uninterrupted run (tested).

Output folder ``--out``: ``model.safetensors`` + ``config.json`` (a checkpoint
``armgym eval`` / ``armgym serve`` load), ``train_state.safetensors`` + ``train_state.json``
(raw weights, optimiser state, step: what ``--resume`` needs), ``log.jsonl`` (one line per
step: loss, lr, samples/s; plus eval lines) and the same scalars for TensorBoard in ``tb/``
when tensorboard is installed (:mod:`armgym.train.logger`), and ``index.html`` (the run
report with its learning curve, :mod:`armgym.viz.run_report`).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import load as st_load

from armgym.contracts.policy import FeatureSpec
from armgym.data.reader import LeRobotReader
from armgym.data.torch_dataset import HorizonDataset
from armgym.errors import ConfigError, DatasetError
from armgym.policies.checkpoint import WEIGHTS_FILE
from armgym.policies.diffusion import DiffusionConfig
from armgym.policies.encoders import IMAGE_PREFIX
from armgym.policies.learned import (
    ACTION_KEY,
    LearnedPolicy,
    build_policy,
    save_checkpoint,
)
from armgym.policies.mlp import MLPConfig
from armgym.policies.normalize import Normalizer, compute_stats
from armgym.progress import progress
from armgym.train.logger import ScalarLogger
from armgym.train.state import (
    TRAIN_STATE,
    resume_train_state,
    save_train_state,
    start_run,
    to_jsonable,
)
from armgym.viz.run_report import RunPage, write_run_page

STATE_KEYS = {
    "state": ("observation.state", "observation.environment_state"),
    "robot": ("observation.state",),
    "pixels": ("observation.state",),
    "both": ("observation.state", "observation.environment_state"),
}
DEFAULT_LR = {"diffusion": 5e-4, "mlp": 1e-3}


@dataclass(frozen=True)
class BCConfig:
    """Train a behaviour-cloning policy on a LeRobot dataset."""

    dataset: Path
    """LeRobot dataset folder (e.g. written by `armgym collect`)."""
    out: Path
    """Output/checkpoint folder (model.safetensors, config.json, train_state.*, log.jsonl)."""
    policy: Literal["diffusion", "mlp"] = "diffusion"
    """Policy kind."""
    obs: Literal["state", "robot", "pixels", "both"] = "state"
    """Observations: state (robot + object state) | robot (robot state only) | pixels | both."""
    cameras: tuple[str, ...] = ("front",)
    """Cameras used with --obs pixels/both (dataset keys observation.images.<cam>)."""
    steps: int = 3000
    """Gradient steps in total (a resumed run continues up to this)."""
    batch_size: int = 64
    """Samples per step."""
    lr: float | None = None
    """Peak learning rate (default: 5e-4 diffusion, 1e-3 mlp)."""
    weight_decay: float = 1e-6
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear LR warm-up, then cosine decay to 0 at --steps."""
    grad_clip: float = 1.0
    """Max gradient norm (0 = off)."""
    ema_power: float = 0.75
    """EMA decay 1 - (1 + step)^-power, capped at 0.9999 (0 = no EMA)."""
    seed: int = 0
    """Seed of weights, data order, noise."""
    resume: bool = False
    """Continue the run in --out from its train_state."""
    overwrite: bool = False
    """Start afresh even if --out already holds a run."""
    save_every: int = 500
    """Write the checkpoint every this many steps (and at the end)."""
    eval_every: int = 0
    """Evaluate the EMA policy every this many steps (0 = never)."""
    eval_episodes: int = 10
    """Episodes per periodic evaluation."""
    eval_num_envs: int = 4
    """Parallel envs per periodic evaluation."""
    eval_seed: int = 1_000_000
    """First seed of periodic evaluations (keep apart from the dataset's seeds)."""
    task: str = "PickCube"
    """Task to evaluate on when the dataset has no meta/armgym.json env config."""
    num_threads: int = 1
    """torch CPU threads (1 is fastest for these sizes, and much faster on a busy machine)."""
    progress: bool = True
    """Show a progress bar."""
    mlp: MLPConfig = field(default_factory=MLPConfig)
    """MLP policy settings (--policy mlp)."""
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    """Diffusion policy settings (--policy diffusion)."""

    @property
    def policy_config(self) -> MLPConfig | DiffusionConfig:
        return self.diffusion if self.policy == "diffusion" else self.mlp


def train(cfg: BCConfig) -> dict[str, Any]:
    """Run BC training as ``cfg`` says; returns a summary (steps, final loss, wall time)."""
    if cfg.steps < 1 or cfg.batch_size < 1:
        raise ConfigError("--steps and --batch-size must be >= 1")
    torch.set_num_threads(cfg.num_threads)
    out = Path(cfg.out)
    d = load_data(cfg)

    # ---- model, EMA copy (what is saved), optimiser -------------------------------------
    torch.manual_seed(cfg.seed)
    policy = build_policy(
        cfg.policy, cfg.policy_config, d.schema, d.action_dim, d.normalizer, d.fps, d.env
    )
    model = policy.model  # trained weights; policy.model becomes the EMA copy below
    policy.model = ema = copy.deepcopy(model).requires_grad_(False)
    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.policy]
    opt = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.95, 0.999), weight_decay=cfg.weight_decay
    )
    start, elapsed = prepare_out(cfg, out, model, ema, opt)
    n_params = sum(p.numel() for p in model.parameters())
    extra = {"train": {**d.info, "policy_params": n_params, "config": to_jsonable(cfg)}}

    # ---- loop -------------------------------------------------------------------------
    log = ScalarLogger(out)  # log.jsonl + TensorBoard scalars (when installed)
    bar = progress(total=cfg.steps, initial=start, desc=f"train {cfg.policy}", unit="step",
                   disable=not cfg.progress)  # fmt: skip
    t0, eval_s, loss_value = time.perf_counter() - elapsed, 0.0, float("nan")
    try:
        for step in range(start, cfg.steps):
            idx = batch_indices(len(d.windows), cfg.batch_size, cfg.seed, step)
            batch = collate(d.windows, idx, d.normalizer)
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            step_lr = lr * lr_factor(step, cfg.warmup_steps, cfg.steps)
            for group in opt.param_groups:
                group["lr"] = step_lr
            model.train()
            loss = model.compute_loss(batch, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            ema_update(ema, model, ema_decay(step, cfg.ema_power))
            loss_value, done = float(loss.detach()), step + 1
            now = time.perf_counter() - t0
            rate = cfg.batch_size * (done - start) / max(now - elapsed, 1e-9)
            row = {"loss": loss_value, "lr": step_lr, "time_s": round(now, 3),
                   "samples_per_s": round(rate, 1)}  # fmt: skip
            log.log(done, row)
            bar.update(1)
            if done % 10 == 0 or done == cfg.steps:
                bar.set_postfix(loss=f"{loss_value:.4f}")
            if done % cfg.save_every == 0 or done == cfg.steps:
                log.flush()
                save_run(out, policy, model, opt, done, time.perf_counter() - t0, cfg, extra)
            if cfg.eval_every and done % cfg.eval_every == 0:
                result = periodic_eval(policy, cfg)
                eval_s += result["wall_s"]
                log.log(done, {"eval": result})
                log.flush()
                bar.write(f"step {done}: success {result['success_rate']:.2f} "
                          f"({result['episodes']} episodes)")  # fmt: skip
    finally:
        bar.close()
        log.close()
    wall = time.perf_counter() - t0
    train_s = max(wall - elapsed - eval_s, 1e-9)
    write_run_page(out, RunPage(f"BC {cfg.policy} training · {cfg.dataset}", log=out / "log.jsonl",
                                facts=[("steps", str(cfg.steps)), ("final loss", f"{loss_value:.4g}"),
                                       ("parameters", f"{n_params:,}")]))  # fmt: skip
    return {"out": str(out), "steps": cfg.steps, "final_loss": loss_value, "wall_s": wall,
            "eval_s": eval_s, "policy": cfg.policy, "policy_params": n_params,
            "samples_per_s": (cfg.steps - start) * cfg.batch_size / train_s}  # fmt: skip


@dataclass
class TrainData:
    """What training needs from the dataset."""

    windows: HorizonDataset
    normalizer: Normalizer
    schema: dict[str, FeatureSpec]
    action_dim: int
    fps: float
    env: dict[str, Any]
    info: dict[str, Any]


def load_data(cfg: BCConfig) -> TrainData:
    """Windows, observation schema, normalisation stats and env config of ``cfg.dataset``."""
    pcfg = cfg.policy_config
    state_keys = list(STATE_KEYS[cfg.obs])
    image_keys = [f"{IMAGE_PREFIX}{c}" for c in cfg.cameras] if uses_cameras(cfg) else []
    reader = LeRobotReader(cfg.dataset)
    check_features(reader, [*state_keys, *image_keys, ACTION_KEY])
    windows = HorizonDataset(reader, obs_horizon=pcfg.obs_horizon, action_horizon=pcfg.horizon,
                             state_keys=state_keys, image_keys=image_keys)  # fmt: skip
    columns = reader.columns([*state_keys, ACTION_KEY])
    stats = {k: {"mode": "mean_std", **compute_stats(columns[k], "mean_std")} for k in state_keys}
    stats[ACTION_KEY] = {"mode": "min_max", **compute_stats(columns[ACTION_KEY], "min_max")}
    schema = {k: FeatureSpec("float32", tuple(reader.features[k]["shape"])) for k in state_keys}
    schema |= {k: FeatureSpec("uint8", tuple(reader.features[k]["shape"])) for k in image_keys}
    info = {"dataset": str(cfg.dataset), "episodes": reader.num_episodes,
            "frames": len(windows), "seeds": dataset_seeds(reader)}  # fmt: skip
    return TrainData(windows, Normalizer(stats), schema,
                     int(reader.features[ACTION_KEY]["shape"][0]), reader.fps,
                     env_config(reader, cfg), info)  # fmt: skip


# ---------------------------------------------------------------------------- helpers
def uses_cameras(cfg: BCConfig) -> bool:
    """True for the observation modes that read camera images (pixels, both)."""
    return cfg.obs in ("pixels", "both")


def check_features(reader: LeRobotReader, keys: list[str]) -> None:
    missing = [k for k in keys if k not in reader.features]
    if missing:
        raise DatasetError(
            f"{reader.root}: dataset lacks {missing}; it has "
            f"{sorted(reader.features)}. Record it with the matching "
            "`armgym collect --obs` or pick another --obs / --cameras."
        )


def env_config(reader: LeRobotReader, cfg: BCConfig) -> dict[str, Any]:
    """The env the policy is for: the dataset's meta/armgym.json, obs mode set to ``cfg.obs``
    (``robot`` -> the env's ``state`` mode, whose ``observation.state`` the policy reads)."""
    env: dict[str, Any] = reader.env_config() or {"task": cfg.task}
    env["obs"] = "state" if cfg.obs == "robot" else cfg.obs
    if uses_cameras(cfg):
        env["cameras"] = list(cfg.cameras)
        h, w = reader.features[f"{IMAGE_PREFIX}{cfg.cameras[0]}"]["shape"][:2]
        env["image_size"] = [int(h), int(w)]
    else:
        env.pop("cameras", None)
        env.pop("image_size", None)
    return env


def dataset_seeds(reader: LeRobotReader) -> list[int]:
    """Reset seeds of the dataset's episodes (armgym/seed column; -1 = unknown)."""
    return [int(e.extras.get("armgym/seed", -1)) for e in reader.episodes]


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """Indices of step ``step``: consecutive slices of per-epoch permutations of range(n)."""
    out: list[np.ndarray] = []
    pos, need = step * batch_size, batch_size
    while need:
        epoch, offset = divmod(pos, n)
        take = np.random.default_rng([seed, epoch]).permutation(n)[offset : offset + need]
        out.append(take)
        pos, need = pos + len(take), need - len(take)
    return np.concatenate(out)


def collate(
    data: HorizonDataset, idx: np.ndarray, normalizer: Normalizer
) -> dict[str, torch.Tensor]:
    """Stack items ``idx`` -> {key: [B, ...]}; vectors and ``action`` normalised."""
    items = [data.numpy_item(int(i)) for i in idx]
    batch: dict[str, torch.Tensor] = {}
    for key in [*data.state_keys, *data.image_keys, ACTION_KEY, "action_is_pad"]:
        x = torch.from_numpy(np.stack([it[key] for it in items]))
        batch[key] = normalizer.normalize(key, x) if key in normalizer else x
    return batch


def lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def ema_decay(step: int, power: float) -> float:
    return 0.0 if power <= 0 else min(0.9999, max(0.0, 1 - (1 + step) ** -power))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)


def periodic_eval(policy: LearnedPolicy, cfg: BCConfig) -> dict[str, Any]:
    from armgym.eval.report import summarize
    from armgym.eval.rollout import RolloutConfig, rollout

    seeds = [cfg.eval_seed + i for i in range(cfg.eval_episodes)]
    t0 = time.perf_counter()
    results, _ = rollout(policy, policy.env, seeds, RolloutConfig(num_envs=cfg.eval_num_envs))
    s = summarize(results)
    keys = ("success_rate", "success_ci95", "mean_return", "mean_length", "episodes")
    return {**{k: s[k] for k in keys}, "wall_s": time.perf_counter() - t0}


# ---------------------------------------------------------------------------- run state
def save_run(
    out: Path,
    policy: LearnedPolicy,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    step: int,
    elapsed: float,
    cfg: BCConfig,
    extra: dict[str, Any],
) -> None:
    """Checkpoint (EMA weights) + train state (raw weights, AdamW moments, step)."""
    save_checkpoint(out, policy, {**extra, "step": step})
    save_train_state(out, model, opt, step, elapsed, to_jsonable(cfg))


def prepare_out(
    cfg: BCConfig,
    out: Path,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    opt: torch.optim.Optimizer,
) -> tuple[int, float]:
    """Fresh run (returns step 0) or, with --resume, restore state; returns (step, elapsed)."""
    if not start_run(out, resume=cfg.resume, overwrite=cfg.overwrite):
        return 0, 0.0
    step, elapsed = resume_train_state(out, model, opt, to_jsonable(cfg), RESUMABLE)
    ema.load_state_dict(st_load((out / WEIGHTS_FILE).read_bytes()))
    return step, elapsed


#: settings that may change between a run and its --resume
RESUMABLE = {
    "steps",
    "resume",
    "overwrite",
    "save_every",
    "eval_every",
    "eval_episodes",
    "eval_num_envs",
    "progress",
    "num_threads",
}

__all__ = ["RESUMABLE", "TRAIN_STATE", "BCConfig", "to_jsonable", "train"]
