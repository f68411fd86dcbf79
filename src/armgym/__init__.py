"""armgym: learn robot-arm manipulation end to end, pip-installed, offline, on a CPU.

``import armgym`` registers the environments ``armgym/<Task>-v0`` with gymnasium::

    import gymnasium as gym, armgym
    env = gym.make("armgym/PickCube-v0", robot="panda", control="ee_delta", obs="state")
"""

from __future__ import annotations

import os
import sys

# Offscreen rendering without a display: EGL (software llvmpipe on a CPU machine).
if (
    "MUJOCO_GL" not in os.environ
    and not os.environ.get("DISPLAY")
    and sys.platform.startswith("linux")
):
    os.environ["MUJOCO_GL"] = "egl"

from armgym.envs import EnvConfig, make_env
from armgym.envs.registration import env_ids, register_all
from armgym.robots.specs import ROBOTS
from armgym.tasks import TASKS

register_all()

__version__ = "0.1.0"
__all__ = ["ROBOTS", "TASKS", "EnvConfig", "__version__", "env_ids", "make_env"]
