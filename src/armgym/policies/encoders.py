"""Observation encoders shared by the learned policies: vectors pass through, images go
through a small conv net trained from scratch (no pretrained weights offline).

Input batch layout (what :class:`ObsEncoder.forward` takes):

* vector keys (``observation.state``, ``observation.environment_state``): float32[B, To, D],
  already normalised;
* image keys (``observation.images.<cam>``): float32[B, To, 3, H, W] in [0, 1] (the layout
  of ``armgym.data.torch_dataset.HorizonDataset``; uint8 [.., H, W, 3] env frames are
  converted by the policy).

Output: float32[B, To * F] with ``F = sum(D) + n_cameras * image_feature_dim``, the global
conditioning vector of the diffusion U-Net / the input of the MLP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

IMAGE_PREFIX = "observation.images."


def is_image_key(key: str) -> bool:
    return key.startswith(IMAGE_PREFIX)


@dataclass(frozen=True)
class EncoderConfig:
    """Image encoder (ignored for state-only policies)."""

    channels: tuple[int, ...] = (32, 64, 64)
    """Output channels of the stride-2 3x3 conv layers."""
    image_feature_dim: int = 64
    """Features per camera after spatial-softmax keypoints and a linear layer."""
    crop_ratio: float = 0.9
    """Random crop (training) / centre crop (inference) to this fraction of H and W; 1 = off."""
    activation: Literal["mish", "relu"] = "mish"
    """Nonlinearity after each conv (Mish: diffusion-policy style; ReLU: DrQ style, ~3× cheaper
    on a CPU)."""
    bottleneck: bool = False
    """Pass each camera's features through a Linear + LayerNorm + tanh (HIL-SERL's bottleneck
    over its frozen backbone, DrQ-v2's trunk): features on the scale of the normalised state
    whatever scale the convs leave them at. SAC turns it on over a frozen encoder
    (``--encoder-from``), where it is the only trainable part of the image path."""


class SpatialSoftmax(nn.Module):
    """Expected 2-D keypoint of each channel: [N, C, H, W] -> [N, 2C] (Levine et al. 2016)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        attn = torch.softmax(x.flatten(2), dim=-1).view(n, c, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device)
        ey = (attn.sum(3) * ys).sum(-1)
        ex = (attn.sum(2) * xs).sum(-1)
        return torch.cat([ex, ey], dim=-1)


class ImageEncoder(nn.Module):
    """float32[N, 3, H, W] in [0, 1] -> float32[N, image_feature_dim]; crops as configured."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in cfg.channels:
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                nn.GroupNorm(min(8, c_out), c_out),
                nn.Mish() if cfg.activation == "mish" else nn.ReLU(),
            ]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, c_in, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.pool = SpatialSoftmax()
        self.out = nn.Linear(2 * c_in, cfg.image_feature_dim)

    def crop(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Random crop when training (per-sample offsets from ``generator``), else centre."""
        n, _, h, w = x.shape
        ch, cw = max(1, round(h * self.cfg.crop_ratio)), max(1, round(w * self.cfg.crop_ratio))
        if (ch, cw) == (h, w):
            return x
        if not self.training:
            top, left = (h - ch) // 2, (w - cw) // 2
            return x[:, :, top : top + ch, left : left + cw]
        tops = torch.randint(0, h - ch + 1, (n,), generator=generator)
        lefts = torch.randint(0, w - cw + 1, (n,), generator=generator)
        rows = tops[:, None] + torch.arange(ch)[None]  # [N, ch]
        cols = lefts[:, None] + torch.arange(cw)[None]  # [N, cw]
        idx = torch.arange(n)[:, None, None]
        return x.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)

    def forward(
        self, images: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        x = self.crop(images.float() - 0.5, generator)
        return self.out(self.pool(self.net(x)))


class ObsEncoder(nn.Module):
    """Observation dict -> flat conditioning vector (see module docstring for shapes).

    Args:
        obs_shapes: ``{key: shape}`` of one frame, e.g. ``{"observation.state": (22,)}``;
            image keys ``(3, H, W)``.
        obs_horizon: frames ``To`` per sample.
        cfg: image encoder settings.
    """

    def __init__(
        self, obs_shapes: Mapping[str, tuple[int, ...]], obs_horizon: int, cfg: EncoderConfig
    ):
        super().__init__()
        self.vector_keys = sorted(k for k in obs_shapes if not is_image_key(k))
        self.image_keys = sorted(k for k in obs_shapes if is_image_key(k))
        self.obs_horizon = obs_horizon
        self.images = nn.ModuleDict(
            {k.replace(".", "_"): ImageEncoder(cfg) for k in self.image_keys}
        )
        dim = cfg.image_feature_dim
        self.bottleneck = nn.ModuleDict(
            {
                k.replace(".", "_"): nn.Sequential(
                    nn.Linear(dim, dim), nn.LayerNorm(dim), nn.Tanh()
                )
                for k in (self.image_keys if cfg.bottleneck else [])
            }
        )
        per_frame = sum(int(obs_shapes[k][0]) for k in self.vector_keys)
        per_frame += len(self.image_keys) * cfg.image_feature_dim
        self.out_dim = per_frame * obs_horizon

    def image_features(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Each camera's conv features before the bottleneck: ``{name: float[B, To, F_img]}``
        (SAC computes them once for two encoders that share frozen convs)."""
        feats = {}
        for key in self.image_keys:
            img = obs[key]
            b, t = img.shape[:2]
            name = key.replace(".", "_")
            feats[name] = self.images[name](img.flatten(0, 1), generator).view(b, t, -1)
        return feats

    def combine(
        self, obs: Mapping[str, torch.Tensor], feats: Mapping[str, torch.Tensor]
    ) -> torch.Tensor:
        """Vectors of ``obs`` + the bottlenecked ``feats`` -> float[B, To * F]."""
        parts = [obs[k].float() for k in self.vector_keys]
        for name, feat in feats.items():
            parts.append(self.bottleneck[name](feat) if name in self.bottleneck else feat)
        return torch.cat(parts, dim=-1).flatten(1)

    def forward(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.combine(obs, self.image_features(obs, generator))
