"""Datasets: LeRobot v3.0 recording (crash-safe, with stats and timing), reading (v3.0 and
v2.1), a torch Dataset with horizons, RLDS export, replay and an HTML viewer.

Names below are imported lazily so ``import armgym.data`` stays cheap::

    from armgym.data import LeRobotWriter, LeRobotReader, HorizonDataset
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LeRobotWriter": "armgym.data.writer",
    "recover": "armgym.data.writer",
    "LeRobotReader": "armgym.data.reader",
    "EpisodeInfo": "armgym.data.reader",
    "open_dataset": "armgym.data.reader",
    "HorizonDataset": "armgym.data.torch_dataset",
    "EpisodeRecorder": "armgym.data.recorder",
    "RateTimer": "armgym.data.recorder",
    "env_features": "armgym.data.recorder",
    "intervention_features": "armgym.data.recorder",
    "RecordEpisodeVideo": "armgym.data.video_wrapper",
    "vector_feature": "armgym.data.lerobot_format",
    "video_feature": "armgym.data.lerobot_format",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'armgym.data' has no attribute {name!r}")
