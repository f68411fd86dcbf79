"""A learned success classifier: P(success | camera images [+ robot state]) of one frame.

The reward of HIL-SERL: trained by ``armgym train reward-classifier`` on recorded episodes,
applied to an env by :class:`armgym.rl.reward_classifier.RewardClassifierWrapper` (reward 1
and the end of the episode when ``P >= threshold``).

Input (one frame, :meth:`RewardClassifier.prob`): ``observation.images.<cam>`` uint8
[H, W, 3] for each camera the classifier was trained on, plus ``observation.state``
float32[D] when it uses the state. Batched input of :meth:`RewardClassifierNet.forward`:
images float32[B, 3, H, W] in [0, 1], state float32[B, D] (raw; the net normalises it with
the mean/std stored in its buffers). Output: logits float32[B].

Checkpoint folder (:data:`CHECKPOINT`, format ``armgym.reward_classifier``): model.safetensors
+ config.json (classifier settings, input schema, state statistics, threshold, the env the
data came from); the weights' sha256 is checked before loading, nothing is unpickled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from armgym.errors import CheckpointError
from armgym.policies.checkpoint import CheckpointFormat, config_from_dict
from armgym.policies.encoders import IMAGE_PREFIX, EncoderConfig, ObsEncoder

STATE_KEY = "observation.state"

CHECKPOINT = CheckpointFormat("armgym.reward_classifier", 1, what="reward classifier checkpoint")


@dataclass(frozen=True)
class RewardClassifierConfig:
    """Reward classifier network."""

    hidden_dim: int = 256
    """Width of the MLP head on the concatenated camera (+ state) features."""
    dropout: float = 0.1
    """Dropout in the head while training."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Conv encoder, one per camera (spatial-softmax keypoints; random crops in training)."""


class RewardClassifierNet(nn.Module):
    """Images (+ state) of a batch of frames -> success logits float32[B] (module docstring).

    Buffers ``state_mean`` / ``state_std`` float32[D]: normalisation of the raw state.

    Args:
        cfg: network settings.
        image_shapes: ``{observation.images.<cam>: (H, W, 3)}``.
        state_dim: length of ``observation.state`` (0: images only).
    """

    def __init__(self, cfg: RewardClassifierConfig, image_shapes: Mapping[str, tuple[int, ...]],
                 state_dim: int = 0):  # fmt: skip
        super().__init__()
        self.image_keys = sorted(image_shapes)
        self.state_dim = state_dim
        shapes: dict[str, tuple[int, ...]] = {k: (3, *image_shapes[k][:2]) for k in self.image_keys}
        if state_dim:
            shapes[STATE_KEY] = (state_dim,)
        self.encoder = ObsEncoder(shapes, 1, cfg.encoder)
        self.head = nn.Sequential(
            nn.Linear(self.encoder.out_dim, cfg.hidden_dim),
            nn.LayerNorm(cfg.hidden_dim),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden_dim, 1),
        )
        self.state_mean: torch.Tensor
        self.state_std: torch.Tensor
        self.register_buffer("state_mean", torch.zeros(state_dim))
        self.register_buffer("state_std", torch.ones(state_dim))

    def forward(self, batch: Mapping[str, torch.Tensor],
                generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        obs = {k: batch[k][:, None] for k in self.image_keys}  # [B, 1, 3, H, W]
        if self.state_dim:
            state = (batch[STATE_KEY].float() - self.state_mean) / self.state_std
            obs[STATE_KEY] = state[:, None]
        return self.head(self.encoder(obs, generator)).squeeze(-1)


def to_model_images(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float32 [B, 3, H, W] in [0, 1]."""
    x = torch.as_tensor(frames)
    return x.permute(0, 3, 1, 2).float().div_(255.0)


class RewardClassifier:
    """A trained classifier with its decision threshold and input schema.

    Attributes:
        net: the network (kept in eval mode: centre crops, no dropout).
        threshold: P(success) at or above which a frame counts as a success.
        image_shapes: ``{observation.images.<cam>: (H, W, 3)}`` the net was trained on.
        state_dim: length of ``observation.state`` it reads (0: none).
        env: the env config (``EnvConfig.to_dict()``) of the training data, or {}.
    """

    def __init__(self, net: RewardClassifierNet, cfg: RewardClassifierConfig, threshold: float,
                 image_shapes: Mapping[str, tuple[int, ...]], env: Mapping[str, Any] | None = None):  # fmt: skip
        self.net = net.eval()
        self.cfg = cfg
        self.threshold = float(threshold)
        self.image_shapes = {k: tuple(int(v) for v in s) for k, s in image_shapes.items()}
        self.state_dim = net.state_dim
        self.env = dict(env or {})

    @property
    def cameras(self) -> list[str]:
        return [k[len(IMAGE_PREFIX) :] for k in sorted(self.image_shapes)]

    @torch.no_grad()
    def probs(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """P(success) float32[B] of a batch: images uint8 [B, H, W, 3] (+ state [B, D])."""
        batch = {k: to_model_images(obs[k]) for k in self.image_shapes}
        if self.state_dim:
            batch[STATE_KEY] = torch.as_tensor(np.asarray(obs[STATE_KEY], np.float32))
        return torch.sigmoid(self.net(batch)).numpy()

    def prob(self, obs: Mapping[str, np.ndarray]) -> float:
        """P(success) of one frame (images uint8 [H, W, 3], state float32[D])."""
        keys = [*self.image_shapes, *([STATE_KEY] if self.state_dim else [])]
        return float(self.probs({k: np.asarray(obs[k])[None] for k in keys})[0])

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.net.state_dict())


def save_reward_classifier(path: str | Path, clf: RewardClassifier,
                           extra: Mapping[str, Any] | None = None) -> Path:  # fmt: skip
    """Write ``clf`` as a checkpoint folder (weights, then config.json); returns the folder."""
    config = {
        "classifier": dataclasses.asdict(clf.cfg),
        "image_shapes": {k: list(s) for k, s in clf.image_shapes.items()},
        "state_dim": clf.state_dim,
        "threshold": clf.threshold,
        "env": clf.env,
        **dict(extra or {}),
    }
    return CHECKPOINT.save(path, clf.state_dict(), config)


def load_reward_classifier(path: str | Path) -> RewardClassifier:
    """Load a checkpoint written by :func:`save_reward_classifier`.

    Raises:
        CheckpointError: missing/corrupt files, another checkpoint kind, weights whose
            sha256 differs from config.json (tampered or damaged), or a shape mismatch.
    """
    if not Path(path).is_dir():
        raise CheckpointError(
            f"reward classifier {str(path)!r} is not a folder; pass the --out folder of "
            "`armgym train reward-classifier`"
        )
    config = CHECKPOINT.read_config(path)
    try:
        cfg = config_from_dict(RewardClassifierConfig, config["classifier"])
        shapes = {k: tuple(v) for k, v in config["image_shapes"].items()}
        net = RewardClassifierNet(cfg, shapes, int(config["state_dim"]))
        threshold = float(config["threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config.json is incomplete or malformed ({exc})") from None
    tensors = CHECKPOINT.load_weights(path, config)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored config ({exc})") from None
    return RewardClassifier(net, cfg, threshold, shapes, config.get("env"))
