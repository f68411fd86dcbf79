"""Train a reward classifier P(success | images [+ state]) on recorded episodes.

::

    armgym collect --out ok --source scripted --obs pixels --no-terminate-on-success ...
    armgym collect --out fail --source scripted --action-noise 0.6 --obs pixels ...
    armgym train reward-classifier --dataset ok --dataset fail --out runs/clf

Labels: the success of the state each frame's images show, from the dataset's
``next.success`` column (:func:`armgym.train.classifier_metrics.state_labels`; armgym's
recorder stores no separate "success key", a person's ``episode_success`` key ends the
episode and is folded into the episode's ``armgym/success`` only).

Episodes (never frames) are split into train / validation / test, stratified by whether
an episode holds a success frame. Training: binary cross-entropy on class-balanced batches
(half success frames) with random crops (the encoder's), AdamW. Afterwards the threshold is
chosen on the validation episodes (the lowest one reaching ``--target-precision``, i.e.
the highest recall at that precision) and accuracy / precision / recall are measured on the
held-out test episodes.

Output folder ``--out``: ``model.safetensors`` + ``config.json`` (the classifier,
:mod:`armgym.policies.reward_classifier`, what ``armgym train sac --reward-classifier``
loads), ``report.json`` (splits, threshold, metrics), ``log.jsonl``,
``train_state.safetensors`` + ``.json`` (``--resume``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
import tyro

from armgym.atomic import write_json_atomic
from armgym.data.reader import LeRobotReader
from armgym.errors import ConfigError, DatasetError, UnknownNameError
from armgym.policies.encoders import IMAGE_PREFIX
from armgym.policies.reward_classifier import (
    STATE_KEY,
    RewardClassifier,
    RewardClassifierConfig,
    RewardClassifierNet,
    save_reward_classifier,
    to_model_images,
)
from armgym.progress import progress
from armgym.train import classifier_metrics as cm
from armgym.train.logger import ScalarLogger
from armgym.train.state import resume_train_state, save_train_state, start_run, to_jsonable

REPORT_FILE = "report.json"


@dataclass(frozen=True)
class RewardClassifierTrainConfig:
    """Train a success classifier (the reward of `train sac --reward-classifier`)."""

    dataset: Annotated[tuple[Path, ...], tyro.conf.UseAppendAction]
    """LeRobot dataset folder with camera images and next.success (repeat for more)."""
    out: Path
    """Output folder (checkpoint, report.json, log.jsonl, train_state.*)."""
    cameras: tuple[str, ...] = ("front", "wrist")
    """Cameras to classify (dataset keys observation.images.<cam>)."""
    use_state: bool = False
    """Also read observation.state (robot joints, tool pose, gripper)."""
    steps: int = 1000
    """Gradient steps."""
    batch_size: int = 64
    """Frames per step (half success frames, half not)."""
    lr: float = 3e-4
    """AdamW learning rate."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    val_fraction: float = 0.2
    """Fraction of episodes (of each class) held out to choose the threshold."""
    test_fraction: float = 0.2
    """Fraction of episodes (of each class) held out to measure the report's metrics."""
    target_precision: float = 0.99
    """Precision the threshold is chosen to reach on the validation episodes."""
    seed: int = 0
    """Seed of the split, weights, batches and crops."""
    save_every: int = 500
    """Write the checkpoint and train state every this many steps."""
    resume: bool = False
    """Continue the run in --out from its train_state."""
    overwrite: bool = False
    """Start afresh even if --out already holds a run."""
    num_threads: int = 1
    """torch CPU threads."""
    progress: bool = True
    """Show a progress bar."""
    net: RewardClassifierConfig = field(default_factory=RewardClassifierConfig)
    """Network settings."""

    def __post_init__(self) -> None:
        if not self.dataset:
            raise ConfigError("pass at least one --dataset")
        if not self.cameras:
            raise ConfigError("pass at least one camera (--cameras front wrist)")
        if self.steps < 1 or self.batch_size < 2:
            raise ConfigError("--steps must be >= 1 and --batch-size >= 2")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1):
            raise ConfigError("--val-fraction and --test-fraction must be in (0, 1)")
        if not 0 < self.target_precision <= 1:
            raise ConfigError("--target-precision must be in (0, 1]")


@dataclass
class Frames:
    """Every frame of the datasets: images uint8[N, H, W, 3] per key, state float32[N, D]
    (or None), labels bool[N], episode id int[N]; ``episodes`` describes each id."""

    images: dict[str, np.ndarray]
    state: np.ndarray | None
    labels: np.ndarray
    episode: np.ndarray
    episodes: list[dict[str, Any]]
    env: dict[str, Any]

    def batch(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        out = {k: to_model_images(v[idx]) for k, v in self.images.items()}
        if self.state is not None:
            out[STATE_KEY] = torch.from_numpy(self.state[idx])
        return out


def load_frames(cfg: RewardClassifierTrainConfig) -> Frames:
    """Decode every episode of ``cfg.dataset`` into memory (uint8: frames x cameras x H x W x
    3 bytes, e.g. 100 MB for 40 episodes of 60 frames from two 84² cameras);
    DatasetError / UnknownNameError on bad input."""
    keys = [IMAGE_PREFIX + c for c in cfg.cameras]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in [*keys, STATE_KEY, "labels"]}
    episodes: list[dict[str, Any]] = []
    env: dict[str, Any] = {}
    shapes: dict[str, list[int]] = {}
    for path in cfg.dataset:
        reader = LeRobotReader(path)
        check_dataset(reader, cfg, keys, shapes)
        env = env or (reader.env_config() or {})
        bar = progress(range(reader.num_episodes), desc=f"read {Path(path).name}", unit="ep",
                       disable=not cfg.progress)  # fmt: skip
        for k in bar:
            ep = reader.episode(k, [STATE_KEY, "next.success", *keys])
            labels = cm.state_labels(ep["next.success"])
            for key in keys:
                parts[key].append(ep[key])
            parts[STATE_KEY].append(np.asarray(ep[STATE_KEY], np.float32))
            parts["labels"].append(labels)
            seed = int(reader.episodes[k].extras.get("armgym/seed", -1))
            episodes.append({"dataset": str(path), "episode": k, "seed": seed,
                             "frames": len(labels), "success_frames": int(labels.sum())})  # fmt: skip
    labels = np.concatenate(parts["labels"])
    if not labels.any() or labels.all():
        raise DatasetError(
            f"{list(map(str, cfg.dataset))}: no frame shows "
            + (
                "a success; record successful episodes with `armgym collect "
                "--no-terminate-on-success` (an episode that ends at success has no "
                "frame of the success state)"
                if not labels.any()
                else "a failure; add failed episodes (e.g. `armgym collect --action-noise 0.6`)"
            )
        )
    lengths = [e["frames"] for e in episodes]
    return Frames(
        images={k: np.concatenate(parts[k]) for k in keys},
        state=np.concatenate(parts[STATE_KEY]) if cfg.use_state else None,
        labels=labels,
        episode=np.repeat(np.arange(len(episodes)), lengths),
        episodes=episodes,
        env=env,
    )


def check_dataset(reader: LeRobotReader, cfg: RewardClassifierTrainConfig, keys: list[str],
                  shapes: dict[str, list[int]]) -> None:  # fmt: skip
    """Clear errors for a dataset without images, cameras, labels or with other image sizes."""
    cams = [k[len(IMAGE_PREFIX) :] for k in reader.features if k.startswith(IMAGE_PREFIX)]
    if not cams:
        raise DatasetError(
            f"{reader.root}: the dataset has no camera images; a reward classifier "
            "reads images: record with `armgym collect --obs pixels` (or both)"
        )
    for cam in cfg.cameras:
        if cam not in cams:
            raise UnknownNameError(f"camera of {reader.root}", cam, cams)
    need = ["next.success", *([STATE_KEY] if cfg.use_state else [])]
    for key in need:
        if key not in reader.features:
            raise DatasetError(f"{reader.root}: no {key!r} column; record it with `armgym collect`")
    for key in keys:
        shape = list(reader.features[key]["shape"])
        if shapes.setdefault(key, shape) != shape:
            raise DatasetError(
                f"{reader.root}: {key} is {shape}, another --dataset has {shapes[key]}; "
                "record every dataset at the same --image-size"
            )


def train(cfg: RewardClassifierTrainConfig) -> dict[str, Any]:
    """Train, choose the threshold, write checkpoint + report; returns the report."""
    torch.set_num_threads(cfg.num_threads)
    out = Path(cfg.out)
    resume = start_run(out, resume=cfg.resume, overwrite=cfg.overwrite)
    data = load_frames(cfg)
    has_pos = np.array([e["success_frames"] > 0 for e in data.episodes])
    split = cm.split_episodes(has_pos, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    train_idx = np.flatnonzero(np.isin(data.episode, split.train))
    pos = train_idx[data.labels[train_idx]]
    neg = train_idx[~data.labels[train_idx]]

    torch.manual_seed(cfg.seed)
    shapes = {k: tuple(v.shape[1:]) for k, v in data.images.items()}
    state_dim = 0 if data.state is None else int(data.state.shape[1])
    net = RewardClassifierNet(cfg.net, shapes, state_dim)
    if data.state is not None:
        net.state_mean.copy_(torch.from_numpy(data.state[train_idx].mean(0)))
        net.state_std.copy_(torch.from_numpy(data.state[train_idx].std(0) + 1e-6))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, elapsed = 0, 0.0
    if resume:
        start, elapsed = resume_train_state(out, net, opt, to_jsonable(cfg), RESUMABLE)
    clf = RewardClassifier(net, cfg.net, 0.5, shapes, data.env)
    extra = {"train": {"datasets": [str(d) for d in cfg.dataset], "cameras": list(cfg.cameras)}}

    log = ScalarLogger(out)
    bar = progress(total=cfg.steps, initial=start, desc="train reward-classifier", unit="step",
                   disable=not cfg.progress)  # fmt: skip
    t0 = time.perf_counter() - elapsed
    try:
        for step in range(start, cfg.steps):
            rng = np.random.default_rng([cfg.seed, step])
            half = cfg.batch_size // 2
            idx = np.concatenate([rng.choice(pos, half), rng.choice(neg, cfg.batch_size - half)])
            target = torch.from_numpy(data.labels[idx].astype(np.float32))
            gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            net.train()
            logits = net(data.batch(idx), gen)
            loss = F.binary_cross_entropy_with_logits(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done = step + 1
            acc = float(((logits.detach() > 0) == target.bool()).float().mean())
            log.log(done, {"loss": float(loss.detach()), "batch_accuracy": acc,
                           "time_s": round(time.perf_counter() - t0, 3)})  # fmt: skip
            bar.update(1)
            if done % 10 == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", acc=f"{acc:.2f}")
            if done % cfg.save_every == 0 or done == cfg.steps:
                log.flush()
                save_reward_classifier(out, clf, extra)
                save_train_state(out, net, opt, done, time.perf_counter() - t0, to_jsonable(cfg))
    finally:
        bar.close()
        log.close()
    net.eval()
    report = evaluate(cfg, clf, data, split)
    report["wall_s"] = round(time.perf_counter() - t0, 2)
    save_reward_classifier(out, clf, {**extra, "report": REPORT_FILE})
    write_json_atomic(out / REPORT_FILE, report, indent=2)
    return {**report, "out": str(out)}


def predict(clf: RewardClassifier, data: Frames, idx: np.ndarray, chunk: int = 256) -> np.ndarray:
    """P(success) float32[len(idx)] of frames ``idx`` (eval mode, in chunks)."""
    out = [np.zeros(0, np.float32)]
    with torch.no_grad():
        for s in range(0, len(idx), chunk):
            out.append(torch.sigmoid(clf.net(data.batch(idx[s : s + chunk]))).numpy())
    return np.concatenate(out)


def evaluate(cfg: RewardClassifierTrainConfig, clf: RewardClassifier, data: Frames,
             split: cm.EpisodeSplit) -> dict[str, Any]:  # fmt: skip
    """Choose the threshold on validation episodes (sets ``clf.threshold``); measure on test."""
    val = np.flatnonzero(np.isin(data.episode, split.val))
    test = np.flatnonzero(np.isin(data.episode, split.test))
    p_val, p_test = predict(clf, data, val), predict(clf, data, test)
    threshold, met = cm.choose_threshold(p_val, data.labels[val], cfg.target_precision)
    clf.threshold = threshold
    splits = {
        name: {"episodes": ids, "frames": int(np.isin(data.episode, ids).sum()),
               "success_frames": int(data.labels[np.isin(data.episode, ids)].sum())}
        for name, ids in split.as_dict().items()
    }  # fmt: skip
    return {
        "label": "success of the state each frame shows: next.success of the previous frame",
        "datasets": [str(d) for d in cfg.dataset],
        "cameras": list(cfg.cameras),
        "use_state": cfg.use_state,
        "steps": cfg.steps,
        "episodes": data.episodes,
        "splits": splits,
        "threshold": threshold,
        "target_precision": cfg.target_precision,
        "target_precision_met_on_val": met,
        "val": cm.binary_metrics(p_val, data.labels[val], threshold),
        "test": {
            **cm.binary_metrics(p_test, data.labels[test], threshold),
            **cm.episode_agreement(p_test, data.labels[test], data.episode[test], threshold),
        },
    }


#: settings that may change between a run and its --resume
RESUMABLE = {"out", "steps", "resume", "overwrite", "save_every", "progress", "num_threads"}

__all__ = ["REPORT_FILE", "RewardClassifierTrainConfig", "load_frames", "train"]
