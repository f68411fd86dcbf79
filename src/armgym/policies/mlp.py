"""MLP behaviour cloning with action chunking.

From the last ``obs_horizon`` observations (frames t-To+1 .. t, encoded by
:class:`ObsEncoder`) an MLP regresses the chunk of ``horizon`` normalised actions
t .. t+H-1; the policy executes its first ``n_action_steps`` rows, then re-plans (receding
horizon), exactly like the diffusion policy, so both train on the same windows
(``armgym.data.torch_dataset.HorizonDataset``).

Size (state obs, PickCube, defaults): input 2 x 29 = 58, hidden 3 x 512, output
16 x 7 = 112 -> ~0.62 M parameters; one forward at batch 1 is ~0.1 ms on one CPU core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from armgym.errors import ConfigError
from armgym.policies.encoders import EncoderConfig, ObsEncoder

KIND = "mlp"


@dataclass(frozen=True)
class MLPConfig:
    """MLP BC policy (action chunking)."""

    obs_horizon: int = 2
    """Observation frames the policy conditions on (To)."""
    horizon: int = 16
    """Actions predicted per inference (prediction horizon)."""
    n_action_steps: int = 8
    """Actions executed per inference (receding horizon, Ta)."""
    hidden_dims: tuple[int, ...] = (512, 512, 512)
    """Widths of the hidden layers."""
    dropout: float = 0.0
    """Dropout after each hidden layer."""
    loss: str = "l1"
    """Regression loss on normalised actions: l1 | mse."""
    mask_padding: bool = False
    """Exclude padded action rows (past the episode end: the last action repeated) from the loss."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Image encoder (pixel observations only)."""

    def __post_init__(self) -> None:
        check_horizons(self.obs_horizon, self.horizon, self.n_action_steps)
        if self.loss not in ("l1", "mse"):
            raise ConfigError(f"loss must be 'l1' or 'mse', got {self.loss!r}")


def check_horizons(obs_horizon: int, horizon: int, n_action_steps: int) -> None:
    """Raise ConfigError unless To >= 1 and 1 <= Ta <= H."""
    if obs_horizon < 1 or not 1 <= n_action_steps <= horizon:
        raise ConfigError(
            f"need obs_horizon >= 1 and 1 <= n_action_steps <= horizon; got obs_horizon="
            f"{obs_horizon}, n_action_steps={n_action_steps}, horizon={horizon}"
        )


class MLPModel(nn.Module):
    """obs [B, To, ...] -> normalised action chunk float32[B, horizon, action_dim]."""

    def __init__(self, cfg: MLPConfig, obs_shapes: Mapping[str, tuple[int, ...]], action_dim: int):
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.encoder = ObsEncoder(obs_shapes, cfg.obs_horizon, cfg.encoder)
        layers: list[nn.Module] = []
        d = self.encoder.out_dim
        for h in cfg.hidden_dims:
            layers += [nn.Linear(d, h), nn.Mish()]
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            d = h
        layers.append(nn.Linear(d, cfg.horizon * action_dim))
        self.net = nn.Sequential(*layers)

    def forward(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        out = self.net(self.encoder(obs, generator))
        return out.view(-1, self.cfg.horizon, self.action_dim)

    def compute_loss(
        self, batch: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Mean loss over non-padded rows. ``batch["action"]`` float32[B, H, A] (normalised),
        ``batch["action_is_pad"]`` bool[B, H], the rest observations."""
        pred = self(batch, generator)
        fn = F.l1_loss if self.cfg.loss == "l1" else F.mse_loss
        err = fn(pred, batch["action"], reduction="none")
        if not self.cfg.mask_padding:
            return err.mean()
        valid = (~batch["action_is_pad"]).unsqueeze(-1).to(err.dtype)
        return (err * valid).sum() / (valid.sum() * self.action_dim).clamp(min=1.0)

    @torch.no_grad()
    def predict(
        self, obs: Mapping[str, torch.Tensor], generators: Sequence[torch.Generator] | None = None
    ) -> torch.Tensor:
        """Deterministic chunk [B, horizon, A] (``generators`` unused; kept for the API)."""
        return self(obs)


CONFIG, MODEL = MLPConfig, MLPModel
