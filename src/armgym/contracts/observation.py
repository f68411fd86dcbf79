"""The observation layout contract: what an env observation holds and how it is packed.

Numpy only, so every layer (robots, tasks, envs, policies, data, serve) may import it.

Robot-level observation dict (what a :class:`~armgym.contracts.robot.Robot` returns and
tasks and experts read; float32, robot base frame, metres, radians, quaternions w-x-y-z):

====================  ===========  ===================================================
key                   shape        meaning
====================  ===========  ===================================================
``joint_pos``         (n_arm,)     arm joint positions [rad]
``joint_vel``         (n_arm,)     arm joint velocities [rad/s]
``ee_pos``            (3,)         end-effector (tool centre point) position [m]
``ee_quat``           (4,)         end-effector orientation, w-x-y-z
``gripper``           (1,)         gripper opening, 0 = closed, 1 = fully open
``object_state``      (n_obj,)     task objects (layout given by the task), privileged
``images.<camera>``   (H, W, 3)    uint8 RGB, only for cameras that were asked for
====================  ===========  ===================================================

Env-level observation (keys named as LeRobot dataset features):

* ``observation.state`` (``STATE_KEY``) = the ``STATE_FIELDS`` concatenated in order,
  float32[2 n_arm + 8];
* ``observation.environment_state`` (``ENV_STATE_KEY``) = ``object_state``, float32[K];
* ``observation.images.<camera>`` (``image_key(camera)``) = ``images.<camera>``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: robot-level observation dict
Obs = dict[str, np.ndarray]

#: robot observation keys packed into ``observation.state``, in order
STATE_FIELDS = ("joint_pos", "joint_vel", "ee_pos", "ee_quat", "gripper")
STATE_KEY = "observation.state"
ENV_STATE_KEY = "observation.environment_state"
IMAGE_PREFIX = "observation.images."
#: robot-level key of the task's object state
OBJECT_STATE = "object_state"


def state_size(n_arm: int) -> int:
    """Length of ``observation.state`` for an arm with ``n_arm`` joints: 2 n_arm + 8."""
    return 2 * n_arm + 8


def n_arm_of_state(size: int) -> int:
    """Inverse of :func:`state_size`: the arm's joint count for an ``observation.state``
    of ``size`` entries."""
    return (int(size) - 8) // 2


def field_sizes(n_arm: int) -> tuple[int, ...]:
    """Sizes of the ``STATE_FIELDS`` for an arm with ``n_arm`` joints."""
    return (n_arm, n_arm, 3, 4, 1)


def image_key(camera: str) -> str:
    """Env observation key of ``camera``'s image: ``observation.images.<camera>``."""
    return IMAGE_PREFIX + camera


def pack_state(robot_obs: Obs) -> np.ndarray:
    """Robot observation -> ``observation.state`` float32[2 n_arm + 8]."""
    return np.concatenate([robot_obs[k] for k in STATE_FIELDS]).astype(np.float32)


def split_state(state: np.ndarray, n_arm: int) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack_state`: float32[..., 2n + 8] -> named fields (views)."""
    out, i = {}, 0
    for name, size in zip(STATE_FIELDS, field_sizes(n_arm), strict=True):
        out[name] = state[..., i : i + size]
        i += size
    return out


def robot_obs_from_env_obs(obs: Mapping[str, np.ndarray], n_arm: int) -> Obs:
    """Rebuild the robot-level observation dict (what tasks and experts read) from env keys."""
    out = split_state(np.asarray(obs[STATE_KEY]), n_arm)
    if ENV_STATE_KEY in obs:
        out[OBJECT_STATE] = np.asarray(obs[ENV_STATE_KEY])
    return out
