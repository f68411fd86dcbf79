"""SAC networks: a tanh-Gaussian actor (the policy kind ``sac``) and a LayerNorm critic ensemble.

The actor is what a checkpoint holds: :class:`SACActor` follows the learned-policy model
contract of :mod:`armgym.policies.checkpoint` (``predict(obs, generators) -> [B, 1, A]``,
the deterministic action ``tanh(mean)``), so ``armgym eval`` / ``serve`` / ``run`` load a
SAC checkpoint like any other. Observations reach it as the checkpoint feeds every model:
vector keys normalised with the stored mean/std, images float [B, 1, 3, H, W] in [0, 1].

Observation encoder: :class:`~armgym.policies.encoders.ObsEncoder` (vectors concatenated,
one small conv net with spatial-softmax keypoints per camera). For pixels the encoder is
shared: the critics read the actor's encoder, it is trained through the critic loss only
(the actor loss sees detached features, as in DrQ / SERL), and augmentation is DrQ's random
shift (:func:`random_shift`), applied in training only.

Shapes: F = encoder features, A = action dim, E = ensemble size, B = batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from armgym.errors import ConfigError
from armgym.policies.encoders import EncoderConfig, ObsEncoder

KIND = "sac"


@dataclass(frozen=True)
class SACConfig:
    """SAC actor / critic networks (the ``policy_config`` of a SAC checkpoint)."""

    hidden_dims: tuple[int, ...] = (256, 256)
    """Widths of the hidden layers of the actor and of each critic."""
    n_critics: int = 2
    """Critic ensemble size E."""
    critic_subset: int = 0
    """REDQ: the target takes the min over this many random critics (0 = all E)."""
    critic_layernorm: bool = True
    """LayerNorm after each hidden layer of the critics (RLPD)."""
    log_std_min: float = -5.0
    """Lower bound of the actor's log standard deviation."""
    log_std_max: float = 2.0
    """Upper bound of the actor's log standard deviation."""
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(
            channels=(16, 32, 32), crop_ratio=1.0, activation="relu"
        )
    )
    """Image encoder (pixel observations only; augmentation is the random shift). Narrower
    than BC's and with ReLU: 4.5 updates/s at batch 128 on one CPU thread, against 0.55 with
    BC's encoder at batch 256 (benchmarks/rl_update_speed.py)."""
    obs_horizon: int = 1
    """Observation frames (always 1 for SAC; the checkpoint contract needs the field)."""
    horizon: int = 1
    """Actions per inference (always 1)."""
    n_action_steps: int = 1
    """Actions executed per inference (always 1)."""

    def __post_init__(self) -> None:
        if self.n_critics < 1 or not 0 <= self.critic_subset <= self.n_critics:
            raise ConfigError(
                f"need n_critics >= 1 and 0 <= critic_subset <= n_critics; got "
                f"{self.n_critics}, {self.critic_subset}"
            )
        if (self.obs_horizon, self.horizon, self.n_action_steps) != (1, 1, 1):
            raise ConfigError("SAC acts on one frame, one action at a time: keep horizons at 1")


def mlp(d_in: int, hidden: Sequence[int], d_out: int, layernorm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), *([nn.LayerNorm(h)] if layernorm else []), nn.ReLU()]
        d_in = h
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None) -> torch.Tensor:
    """DrQ augmentation: pad by ``pad`` px (edge replicate), crop back at a random offset.

    ``images``: float [N, 3, H, W]; each sample gets its own integer shift in [-pad, pad].
    """
    n, _, h, w = images.shape
    x = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    tops = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    lefts = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (tops[:, None] + torch.arange(h)[None])[:, None, :, None]
    cols = (lefts[:, None] + torch.arange(w)[None])[:, None, None, :]
    idx = torch.arange(n)[:, None, None, None]
    ch = torch.arange(x.shape[1])[None, :, None, None]
    return x[idx, ch, rows, cols]


class SACActor(nn.Module):
    """obs dict -> tanh-squashed Gaussian over actions in [-1, 1]^A.

    ``features(obs)`` -> float[B, F]; ``forward(feat)`` -> (mean, log_std) float[B, A];
    ``sample(feat, generator)`` -> (action [B, A], log_prob [B]); ``predict`` is the
    deterministic checkpoint entry point.
    """

    def __init__(self, cfg: SACConfig, obs_shapes: Mapping[str, tuple[int, ...]], action_dim: int):
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.encoder = ObsEncoder(obs_shapes, 1, cfg.encoder)
        self.net = mlp(self.encoder.out_dim, cfg.hidden_dims, 2 * action_dim)

    def features(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(obs)

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(feat).chunk(2, dim=-1)
        lo, hi = self.cfg.log_std_min, self.cfg.log_std_max
        return mean, lo + 0.5 * (hi - lo) * (torch.tanh(log_std) + 1.0)

    def sample(
        self, feat: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self(feat)
        std = log_std.exp()
        noise = torch.randn(mean.shape, generator=generator)
        u = mean + std * noise
        action = torch.tanh(u)
        # log N(u; mean, std) - sum log(1 - tanh(u)^2), the latter in a stable form
        logp = (-0.5 * noise.pow(2) - log_std - 0.5 * torch.log(torch.tensor(2 * torch.pi))).sum(-1)
        logp = logp - (2.0 * (torch.log(torch.tensor(2.0)) - u - F.softplus(-2.0 * u))).sum(-1)
        return action, logp

    def predict(
        self, obs: Mapping[str, torch.Tensor], generators: Sequence[torch.Generator] | None = None
    ) -> torch.Tensor:
        """Deterministic action tanh(mean): float[B, 1, A] (the checkpoint's ``infer``)."""
        mean, _ = self(self.features(obs))
        return torch.tanh(mean)[:, None, :]


class CriticEnsemble(nn.Module):
    """E Q-networks: (features [B, F], action [B, A]) -> Q float[E, B]."""

    def __init__(self, cfg: SACConfig, feat_dim: int, action_dim: int):
        super().__init__()
        self.cfg = cfg
        self.qs = nn.ModuleList(
            mlp(feat_dim + action_dim, cfg.hidden_dims, 1, cfg.critic_layernorm)
            for _ in range(cfg.n_critics)
        )

    def forward(self, feat: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([feat, action], dim=-1)
        return torch.stack([q(x).squeeze(-1) for q in self.qs])

    def target_min(
        self, feat: torch.Tensor, action: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Min over all critics, or over a random subset of ``critic_subset`` (REDQ): [B]."""
        q = self(feat, action)
        k = self.cfg.critic_subset
        if 0 < k < len(self.qs):
            q = q[torch.randperm(len(self.qs), generator=generator)[:k]]
        return q.min(0).values


CONFIG = SACConfig
MODEL = SACActor
