"""Diffusion Policy (Chi et al. 2023), CNN variant, sized for a laptop CPU.

* Denoiser: 1-D temporal U-Net over the action chunk [B, A, H] (``ConditionalUnet1D``):
  residual blocks of Conv1d(k=5) - GroupNorm - Mish, FiLM-conditioned (per-channel scale
  and bias) on ``[diffusion-step embedding, encoded obs of the last To frames]``.
* Training: DDPM, ``num_train_timesteps = 100``, squared-cosine beta schedule
  (``squaredcos_cap_v2``), epsilon prediction, MSE.
* Sampling: DDIM (eta = 0) with ``num_inference_steps`` (default 10) steps, x0 clipped to
  [-1, 1]; the only randomness is the initial noise, drawn per batch row from that row's
  ``torch.Generator`` so a rollout is reproducible whatever else is in the batch.
* Horizons: obs To = 2 (frames t-1, t), prediction H = 16 (actions t .. t+15), executed
  Ta = 8 (actions t .. t+7), then re-plan (receding horizon).

Size (state obs, PickCube, ``down_dims = (64, 128, 256)``): ~4.0 M parameters; cond dim
128 + 2 x 29. See docs/training.md for measured train/inference cost.
"""

from __future__ import annotations

import itertools
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from armgym.errors import ConfigError
from armgym.policies.encoders import EncoderConfig, ObsEncoder
from armgym.policies.mlp import check_horizons

KIND = "diffusion"


@dataclass(frozen=True)
class DiffusionConfig:
    """Diffusion Policy (U-Net, DDPM train / DDIM sample)."""

    obs_horizon: int = 2
    """Observation frames the policy conditions on (To)."""
    horizon: int = 16
    """Actions denoised per inference (prediction horizon H; divisible by 2^(levels-1))."""
    n_action_steps: int = 8
    """Actions executed per inference (receding horizon, Ta)."""
    down_dims: tuple[int, ...] = (64, 128, 256)
    """U-Net channels per level (Chi et al. use 256/512/1024 on a GPU)."""
    kernel_size: int = 5
    """Temporal conv kernel."""
    n_groups: int = 8
    """GroupNorm groups."""
    step_embed_dim: int = 128
    """Sinusoidal diffusion-step embedding size."""
    num_train_timesteps: int = 100
    """DDPM noise levels used in training."""
    num_inference_steps: int = 10
    """DDIM denoising steps at inference (must divide into num_train_timesteps)."""
    clip_sample: float = 1.0
    """Clip predicted x0 to [-clip, clip] while sampling (actions are min-max normalised)."""
    mask_padding: bool = False
    """Exclude padded action rows (past episode end) from the loss (Chi et al.: no)."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Image encoder (pixel observations only)."""

    def __post_init__(self) -> None:
        check_horizons(self.obs_horizon, self.horizon, self.n_action_steps)
        div = 2 ** (len(self.down_dims) - 1)
        if self.horizon % div:
            raise ConfigError(
                f"horizon {self.horizon} must be divisible by {div} for "
                f"{len(self.down_dims)} U-Net levels"
            )
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ConfigError("need 1 <= num_inference_steps <= num_train_timesteps")


def squaredcos_betas(n: int, max_beta: float = 0.999) -> torch.Tensor:
    """Betas float64[n] of the cosine schedule (Nichol & Dhariwal; diffusers squaredcos_cap_v2)."""

    def abar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return torch.tensor(
        [min(1 - abar((i + 1) / n) / abar(i / n), max_beta) for i in range(n)], dtype=torch.float64
    )


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        x = t.float()[:, None] * freqs[None]
        return torch.cat([x.sin(), x.cos()], dim=-1)


def conv_block(c_in: int, c_out: int, k: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.GroupNorm(groups, c_out), nn.Mish()
    )


class CondResBlock1D(nn.Module):
    """[B, C_in, T] x cond [B, D] -> [B, C_out, T]; FiLM after the first conv block."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, k: int, groups: int):
        super().__init__()
        self.block1, self.block2 = (
            conv_block(c_in, c_out, k, groups),
            conv_block(c_out, c_out, k, groups),
        )
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, bias = self.film(cond).unsqueeze(-1).chunk(2, dim=1)
        out = self.block1(x) * scale + bias
        return self.block2(out) + self.residual(x)


class UNetLevel(nn.Module):
    """Two conditional residual blocks, then ``resample`` (down/up conv or identity)."""

    def __init__(
        self, c_in: int, c_out: int, cond_dim: int, k: int, groups: int, resample: nn.Module
    ):
        super().__init__()
        self.res1 = CondResBlock1D(c_in, c_out, cond_dim, k, groups)
        self.res2 = CondResBlock1D(c_out, c_out, cond_dim, k, groups)
        self.resample = resample

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Output before ``resample`` (the skip connection of a down level)."""
        return self.res2(self.res1(x, cond), cond)


class ConditionalUnet1D(nn.Module):
    """eps_theta(x_t [B, A, H], t [B], global_cond [B, G]) -> [B, A, H]."""

    def __init__(self, action_dim: int, global_cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        k, g, dsed = cfg.kernel_size, cfg.n_groups, cfg.step_embed_dim
        self.step_encoder = nn.Sequential(
            SinusoidalPosEmb(dsed), nn.Linear(dsed, 4 * dsed), nn.Mish(), nn.Linear(4 * dsed, dsed)
        )
        cond_dim = dsed + global_cond_dim
        pairs = list(itertools.pairwise([action_dim, *cfg.down_dims]))
        self.down = nn.ModuleList(
            UNetLevel(
                c_in,
                c_out,
                cond_dim,
                k,
                g,
                nn.Conv1d(c_out, c_out, 3, 2, 1) if i < len(pairs) - 1 else nn.Identity(),
            )
            for i, (c_in, c_out) in enumerate(pairs)
        )
        mid = cfg.down_dims[-1]
        self.mid = UNetLevel(mid, mid, cond_dim, k, g, nn.Identity())
        # as Chi et al.: every up level upsamples (the first level's skip is unused)
        self.up = nn.ModuleList(
            UNetLevel(2 * c_in, c_out, cond_dim, k, g, nn.ConvTranspose1d(c_out, c_out, 4, 2, 1))
            for c_out, c_in in reversed(pairs[1:])
        )
        d0 = cfg.down_dims[0]
        self.final = nn.Sequential(conv_block(d0, d0, k, g), nn.Conv1d(d0, action_dim, 1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, global_cond: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([self.step_encoder(t), global_cond], dim=-1)
        skips = []
        for level in typing.cast(list[UNetLevel], self.down):
            x = level(x, cond)
            skips.append(x)
            x = level.resample(x)
        x = self.mid(x, cond)
        for level in typing.cast(list[UNetLevel], self.up):
            x = level.resample(level(torch.cat([x, skips.pop()], dim=1), cond))
        return self.final(x)


class DiffusionModel(nn.Module):
    """Observation encoder + U-Net + DDPM/DDIM noise schedule."""

    def __init__(
        self, cfg: DiffusionConfig, obs_shapes: Mapping[str, tuple[int, ...]], action_dim: int
    ):
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.encoder = ObsEncoder(obs_shapes, cfg.obs_horizon, cfg.encoder)
        self.unet = ConditionalUnet1D(action_dim, self.encoder.out_dim, cfg)
        betas = squaredcos_betas(cfg.num_train_timesteps)
        self.alphas_cumprod: torch.Tensor
        self.register_buffer(
            "alphas_cumprod", torch.cumprod(1.0 - betas, 0).float(), persistent=False
        )

    def compute_loss(
        self, batch: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """DDPM epsilon-prediction MSE. ``batch["action"]`` float32[B, H, A] in [-1, 1],
        ``batch["action_is_pad"]`` bool[B, H]; observation keys as :class:`ObsEncoder` takes."""
        x0 = batch["action"].transpose(1, 2)  # [B, A, H]
        b = x0.shape[0]
        cond = self.encoder(batch, generator)
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, self.cfg.num_train_timesteps, (b,), generator=generator)
        abar = self.alphas_cumprod[t].view(b, 1, 1)
        noisy = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        err = F.mse_loss(self.unet(noisy, t, cond), noise, reduction="none")
        if not self.cfg.mask_padding:
            return err.mean()
        valid = (~batch["action_is_pad"]).unsqueeze(1).to(err.dtype)  # [B, 1, H]
        return (err * valid).sum() / (valid.sum() * self.action_dim).clamp(min=1.0)

    @torch.no_grad()
    def predict(
        self, obs: Mapping[str, torch.Tensor], generators: Sequence[torch.Generator] | None = None
    ) -> torch.Tensor:
        """DDIM-sample a normalised chunk float32[B, H, A]; row i's noise from generators[i]."""
        cond = self.encoder(obs)
        b, shape = cond.shape[0], (self.action_dim, self.cfg.horizon)
        if generators is None:
            x = torch.randn((b, *shape))
        else:
            x = torch.stack([torch.randn(shape, generator=g) for g in generators])
        n_train, n_inf = self.cfg.num_train_timesteps, self.cfg.num_inference_steps
        ratio = n_train // n_inf
        clip = self.cfg.clip_sample
        for t in range(ratio * (n_inf - 1), -1, -ratio):  # e.g. 90, 80, ..., 0
            eps = self.unet(x, torch.full((b,), t, dtype=torch.long), cond)
            a_t = self.alphas_cumprod[t]
            a_prev = self.alphas_cumprod[t - ratio] if t - ratio >= 0 else torch.tensor(1.0)
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            if clip:
                x0 = x0.clamp(-clip, clip)
                eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x.transpose(1, 2)


CONFIG, MODEL = DiffusionConfig, DiffusionModel
