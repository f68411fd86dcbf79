"""A frozen image encoder taken from a pixel policy checkpoint (``armgym train sac
--encoder-from CK``).

HIL-SERL trains its actor and critics on top of a frozen, pretrained image backbone (a
ResNet-10 from ImageNet); only the small heads learn online. armgym downloads no weights,
so the backbone comes from the task's own demonstrations instead: a pixel policy trained
with ``armgym train bc --obs pixels`` on them. Its per-camera encoders (stride-2 convs,
spatial-softmax keypoints, a linear layer: :class:`~armgym.policies.encoders.ImageEncoder`)
are copied into the SAC actor's :class:`~armgym.policies.encoders.ObsEncoder` and frozen:

* the critic loss no longer trains them, so an update runs them forward only (no conv
  backward pass, the largest cost of a pixel update);
* their settings (channels, feature size, activation, crop) replace ``--net.encoder.*``;
* a trainable bottleneck (Linear + LayerNorm + tanh per camera, as HIL-SERL puts over its
  frozen ResNet) follows them: BC left its features at its own scale (std ~0.03 across
  states, against ~1 for the normalised state), which SAC's fresh heads would all but
  ignore; the bottleneck learns through the critic loss like a trainable encoder;
* the SAC checkpoint holds the copied weights, so ``armgym eval`` / ``serve`` need nothing
  else. Vector observations and everything after the encoder are SAC's own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from armgym.errors import CheckpointError, ConfigError
from armgym.policies.checkpoint import CONFIG_FILE, config_from_dict
from armgym.policies.encoders import EncoderConfig, ObsEncoder
from armgym.policies.learned import POLICY_FORMAT, read_config
from armgym.policies.sac import SACConfig

if TYPE_CHECKING:
    from armgym.train.sac import SACTrainConfig

PREFIX = "encoder.images."
"""Key prefix of the per-camera image encoders in a policy's weights."""


def encoder_config_of(path: Path) -> EncoderConfig:
    """The :class:`EncoderConfig` of pixel checkpoint ``path`` (CheckpointError if it has
    none, or is no checkpoint)."""
    if not (Path(path) / CONFIG_FILE).is_file():
        raise CheckpointError(
            f"--encoder-from {path}: no {CONFIG_FILE} there; pass the folder of a pixel "
            "policy (armgym train bc --obs pixels --out FOLDER)"
        )
    enc = read_config(path).get("policy_config", {}).get("encoder")
    if not isinstance(enc, dict):
        raise CheckpointError(f"--encoder-from {path}: its policy has no image encoder")
    cfg: EncoderConfig = config_from_dict(EncoderConfig, enc)
    return cfg


def with_encoder_from(cfg: SACTrainConfig) -> SACTrainConfig:
    """``cfg`` with ``net.encoder`` set to that of ``cfg.encoder_from`` plus the trainable
    bottleneck (``cfg`` without)."""
    if cfg.encoder_from is None:
        return cfg
    enc = dataclasses.replace(encoder_config_of(cfg.encoder_from), bottleneck=True)
    net: SACConfig = dataclasses.replace(cfg.net, encoder=enc)
    return dataclasses.replace(cfg, net=net)


def load_frozen(encoder: ObsEncoder, path: Path) -> int:
    """Copy the image encoders of checkpoint ``path`` into ``encoder`` (same cameras, same
    image encoder settings, see :func:`with_encoder_from`) and freeze them; returns how many
    tensors were copied. A camera the checkpoint lacks, or a shape that differs, is a
    ConfigError that names them."""
    weights = POLICY_FORMAT.load_weights(path, read_config(path))  # sha256 checked
    own = encoder.images.state_dict()
    theirs = {k.removeprefix(PREFIX): v for k, v in weights.items() if k.startswith(PREFIX)}
    missing = sorted({k.split(".")[0] for k in own} - {k.split(".")[0] for k in theirs})
    if missing:
        have = sorted({k.split(".")[0] for k in theirs}) or ["none"]
        raise ConfigError(
            f"--encoder-from {path} has no encoder for camera(s) {missing} (it has "
            f"{have}); train it with the same --cameras"
        )
    for key, value in own.items():
        if theirs[key].shape != value.shape:
            raise ConfigError(
                f"--encoder-from {path}: {key} is {tuple(theirs[key].shape)}, SAC's is "
                f"{tuple(value.shape)}; build SAC's encoder with the checkpoint's settings "
                "(with_encoder_from)"
            )
    with torch.no_grad():
        encoder.images.load_state_dict({k: theirs[k] for k in own})
    encoder.images.requires_grad_(False)
    return len(own)
