"""Shared test setup: offscreen rendering, fixtures path."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

REPO = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    """``shared/fixtures`` beside the repo (CI) or ``$ARMGYM_FIXTURES``."""
    env = os.environ.get("ARMGYM_FIXTURES")
    if env:
        return Path(env)
    for parent in [REPO, *REPO.parents]:
        cand = parent / "shared" / "fixtures"
        if cand.is_dir():
            return cand
    raise FileNotFoundError("shared/fixtures not found beside the repo; set ARMGYM_FIXTURES")


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    return fixtures_dir()
