"""armgym.policies: the ``Policy`` protocol, scripted experts and learned policies.

Learned policies (one file each, torch needed) are registered here by module path so that
``import armgym.policies`` stays torch-free:

====================  =======================================  ==========================
kind                  module                                   config / model
====================  =======================================  ==========================
``mlp``               :mod:`armgym.policies.mlp`               ``MLPConfig`` / ``MLPModel``
``diffusion``         :mod:`armgym.policies.diffusion`         ``DiffusionConfig`` /
                                                               ``DiffusionModel``
``sac``               :mod:`armgym.policies.sac`               ``SACConfig`` / ``SACActor``
====================  =======================================  ==========================

A ``residual`` checkpoint (:mod:`armgym.policies.residual_policy`) is a ``sac`` actor
over the observation + the action of a frozen base policy it names (path + sha256);
:func:`load_checkpoint` loads both. The env wrappers that train one are
:mod:`armgym.policies.residual`.

Each module exposes ``KIND``, ``CONFIG`` (frozen dataclass) and ``MODEL`` (``nn.Module`` with
``compute_loss(batch, generator)`` and ``predict(obs, generators)``).
:func:`load_checkpoint` turns a checkpoint folder into a :class:`Policy`
(:class:`~armgym.policies.learned.LearnedPolicy`, a :class:`SessionPolicy`). Generic
checkpoint folders (any model: SAC actors, residual policies, reward classifiers) are
:class:`~armgym.policies.checkpoint.CheckpointFormat`; running chunks and observation
histories in an env loop is :class:`~armgym.policies.runner.ChunkRunner`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from armgym.contracts.policy import (
    BatchPolicy,
    FeatureSpec,
    Policy,
    PolicyMetadata,
    SessionPolicy,
)
from armgym.registry import Registry

if TYPE_CHECKING:
    from armgym.policies.learned import LearnedPolicy
    from armgym.policies.residual_policy import BaseOpener, ResidualPolicy

LEARNED: Registry[str] = Registry("policy kind")
LEARNED.register("diffusion", "armgym.policies.diffusion")
LEARNED.register("mlp", "armgym.policies.mlp")
LEARNED.register("sac", "armgym.policies.sac")


def policy_module(kind: str) -> ModuleType:
    """The module of learned policy ``kind`` (``UnknownNameError`` suggests the closest)."""
    return importlib.import_module(LEARNED.get(kind))


def load_checkpoint(
    path: str | Path, *, seed: int = 0, opener: BaseOpener | None = None
) -> LearnedPolicy | ResidualPolicy:
    """Load a checkpoint folder written by ``armgym train`` (see :mod:`.checkpoint`); a
    ``residual`` one with its base (``opener``: see :mod:`.residual_policy`)."""
    from armgym.policies.learned import load_checkpoint as _load

    return _load(path, seed=seed, opener=opener)


__all__ = [
    "LEARNED",
    "BatchPolicy",
    "FeatureSpec",
    "Policy",
    "PolicyMetadata",
    "SessionPolicy",
    "load_checkpoint",
    "policy_module",
]
