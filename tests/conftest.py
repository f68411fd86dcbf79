"""Shared test setup: offscreen rendering, the path of the fixtures in tests/fixtures."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def fixtures_dir() -> Path:
    """The repository's ``tests/fixtures`` (or ``$ARMGYM_FIXTURES`` when set)."""
    env = os.environ.get("ARMGYM_FIXTURES")
    return Path(env) if env else FIXTURES


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """Folder holding ``lerobot_v30_sample`` (see tests/fixtures/README.md)."""
    return fixtures_dir()
