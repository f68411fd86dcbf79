"""MuJoCo Warp backend: N worlds of one armgym scene on one device (see ``docs/warp.md``).

``WarpBatchedEnv`` needs the optional extra ``armgym[warp]`` (mujoco-warp, warp-lang) and
torch; importing this package without them works, creating an env raises
:class:`WarpUnavailableError` saying what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from armgym.envs.warp.backend import WarpUnavailableError, require_warp, resolve_device

if TYPE_CHECKING:
    from armgym.envs.warp.env import WarpBatchedEnv, make_warp_env

__all__ = [
    "WarpBatchedEnv",
    "WarpUnavailableError",
    "make_warp_env",
    "require_warp",
    "resolve_device",
]


def __getattr__(name: str) -> Any:
    if name in ("WarpBatchedEnv", "make_warp_env"):
        try:
            from armgym.envs.warp import env
        except ImportError as exc:  # torch (the tensors' library) is missing
            raise WarpUnavailableError(
                f"the warp backend needs torch ({exc}); pip install 'armgym[train,warp]'"
            ) from None
        return getattr(env, name)
    raise AttributeError(name)
