"""MuJoCo Warp backend: N worlds of one armgym scene on one device (see ``docs/warp.md``).

``WarpBatchedEnv`` needs the optional extra ``armgym[warp]`` (mujoco-warp, warp-lang) and
torch; importing this package without them works, creating an env raises
:class:`WarpUnavailableError` saying what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from armgym.envs.warp.backend import WarpUnavailableError, require_warp, resolve_device

if TYPE_CHECKING:
    from armgym.envs.warp.env import WarpBatchedEnv, WarpEnvConfig

__all__ = [
    "WarpBatchedEnv",
    "WarpEnvConfig",
    "WarpUnavailableError",
    "require_warp",
    "resolve_device",
]


def __getattr__(name: str) -> Any:
    if name in ("WarpBatchedEnv", "WarpEnvConfig"):
        from armgym.envs.warp import env

        return getattr(env, name)
    raise AttributeError(name)
