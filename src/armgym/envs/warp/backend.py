"""Import MuJoCo Warp once, with armgym's kernel cache, and pick the device.

Warp compiles each kernel the first time it meets it (about a minute for armgym's scenes
on a 2-core CPU) and keeps the binaries in a cache. armgym keeps its own cache under
``~/.cache/armgym/warp`` (override with ``ARMGYM_WARP_CACHE``), so a second process, or a
CI run that keeps that folder, loads them in about a second.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from armgym.errors import ConfigError

CACHE_ENV = "ARMGYM_WARP_CACHE"
INSTALL_HINT = "pip install 'armgym[warp]' (mujoco-warp 4.0 and warp-lang 1.19)"


class WarpUnavailableError(ConfigError):
    """MuJoCo Warp, torch or the requested device is not available here."""


def cache_dir() -> Path:
    """Warp's kernel cache folder used by armgym."""
    return Path(os.environ.get(CACHE_ENV, "~/.cache/armgym/warp")).expanduser()


def require_warp() -> tuple[ModuleType, ModuleType]:
    """``(warp, mujoco_warp)``, initialised with armgym's kernel cache.

    Raises:
        WarpUnavailableError: a package is missing; the message says what to install.
    """
    try:
        import warp as wp
    except ImportError as exc:
        raise WarpUnavailableError(
            f"the warp backend needs NVIDIA Warp, which is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    try:
        import mujoco_warp as mjw
    except ImportError as exc:
        raise WarpUnavailableError(
            f"the warp backend needs MuJoCo Warp, which is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    try:
        import torch  # noqa: F401
    except ImportError:
        raise WarpUnavailableError(
            "the warp backend returns torch tensors; pip install 'armgym[train,warp]'"
        ) from None
    if not getattr(require_warp, "_initialised", False):
        wp.config.kernel_cache_dir = str(cache_dir())
        wp.config.log_level = wp.LOG_WARNING  # no per-module "load took" lines
        wp.init()
        require_warp._initialised = True  # type: ignore[attr-defined]
    return wp, mjw


def resolve_device(device: str | None) -> str:
    """Warp device name for ``device``: ``None``/``"auto"`` = first CUDA GPU, else ``cpu``.

    Raises:
        WarpUnavailableError: a CUDA device was asked for and Warp sees none.
    """
    wp, _ = require_warp()
    n_cuda = wp.get_cuda_device_count()
    if device in (None, "auto"):
        return "cuda:0" if n_cuda else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= n_cuda:
            raise WarpUnavailableError(
                f"device {device!r} asked for, but Warp sees {n_cuda} CUDA device(s) (no "
                "NVIDIA driver or GPU here?); use device='cpu' for Warp's CPU device, or run "
                "on a machine with an NVIDIA GPU and driver"
            )
        return f"cuda:{index}"
    raise WarpUnavailableError(f"unknown warp device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'")
