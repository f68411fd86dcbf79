"""The numeric pieces of a mapping: rotations, image preparation, state fields, actions.

Rotations are 3x3 matrices in the robot base frame. Euler angles are extrinsic x-y-z
(roll, pitch, yaw): ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``; rotation vectors (axis-angle)
are ``angle * unit_axis`` [rad]; quaternions are unit, in the order the name says.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from armgym.mappings.spec import ImageSpec


# ----------------------------------------------------------------------------- rotations
def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def rotvec_to_mat(v: np.ndarray) -> np.ndarray:
    """Rotation vector [rad] -> 3x3 matrix (Rodrigues)."""
    v = np.asarray(v, np.float64)
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        return np.eye(3) + _skew(v)
    k = _skew(v / angle)
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def mat_to_quat_wxyz(r: np.ndarray) -> np.ndarray:
    """3x3 rotation -> unit quaternion w-x-y-z with w >= 0."""
    r = np.asarray(r, np.float64)
    t = np.trace(r)
    if t > 0:
        s = 2.0 * np.sqrt(t + 1.0)
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0] * 4
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i], q[1 + j], q[1 + k] = 0.25 * s, (r[j, i] + r[i, j]) / s, (r[k, i] + r[i, k]) / s
    quat = np.asarray(q)
    return quat * (1.0 if quat[0] >= 0 else -1.0) / np.linalg.norm(quat)


def quat_wxyz_to_mat(q: np.ndarray) -> np.ndarray:
    """Quaternion w-x-y-z (normalised here) -> 3x3 rotation."""
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def mat_to_rotvec(r: np.ndarray) -> np.ndarray:
    """3x3 rotation -> rotation vector [rad], angle in [0, pi]."""
    q = mat_to_quat_wxyz(r)
    s = float(np.linalg.norm(q[1:]))
    if s < 1e-12:
        return np.zeros(3)
    return q[1:] / s * 2.0 * np.arctan2(s, q[0])


def euler_xyz_to_mat(e: np.ndarray) -> np.ndarray:
    """Extrinsic roll-pitch-yaw [rad] -> ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``."""
    roll, pitch, yaw = np.asarray(e, np.float64)
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))  # fmt: skip
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def mat_to_euler_xyz(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_xyz_to_mat` (pitch in [-pi/2, pi/2])."""
    pitch = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    return np.array([np.arctan2(r[2, 1], r[2, 2]), pitch, np.arctan2(r[1, 0], r[0, 0])])


def rotation_to_mat(values: np.ndarray, rotation: str) -> np.ndarray:
    """``values`` in representation ``rotation`` (``spec.ROTATIONS``) -> 3x3 matrix."""
    if rotation == "euler_xyz":
        return euler_xyz_to_mat(values)
    if rotation == "axis_angle":
        return rotvec_to_mat(values)
    if rotation == "quat_xyzw":
        return quat_wxyz_to_mat(np.roll(values, 1))
    return quat_wxyz_to_mat(values)


def mat_to_rotation(r: np.ndarray, rotation: str) -> np.ndarray:
    """Inverse of :func:`rotation_to_mat`."""
    if rotation == "euler_xyz":
        return mat_to_euler_xyz(r)
    if rotation == "axis_angle":
        return mat_to_rotvec(r)
    q = mat_to_quat_wxyz(r)
    return np.roll(q, -1) if rotation == "quat_xyzw" else q


# ----------------------------------------------------------------------------- images
def prepare_image(image: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """uint8[H, W, 3] camera image -> what the policy takes: ``spec.size``, layout, turns.

    ``pad`` resizes keeping the aspect ratio and zero-pads to ``size`` centred (openpi's
    ``resize_with_pad``); ``crop`` centre-crops to the aspect ratio, then resizes;
    ``stretch`` resizes. Rotation (counter-clockwise) and flip come first.
    """
    img = np.asarray(image)
    if spec.rotate:
        img = np.rot90(img, spec.rotate // 90)
    if spec.flip == "horizontal":
        img = img[:, ::-1]
    elif spec.flip == "vertical":
        img = img[::-1]
    h, w = spec.size
    if img.shape[:2] != (h, w):
        img = _resize(np.ascontiguousarray(img), h, w, spec.resize)
    if spec.layout == "chw":
        img = img.transpose(2, 0, 1)
    return np.ascontiguousarray(img, dtype=np.uint8)


def _resize(img: np.ndarray, h: int, w: int, mode: str) -> np.ndarray:
    ih, iw = img.shape[:2]
    if mode == "stretch":
        return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    if mode == "crop":
        scale = max(h / ih, w / iw)
        ch, cw = round(h / scale), round(w / scale)
        top, left = (ih - ch) // 2, (iw - cw) // 2
        crop = img[top : top + ch, left : left + cw]
        return np.asarray(
            Image.fromarray(np.ascontiguousarray(crop)).resize((w, h), Image.Resampling.BILINEAR)
        )
    scale = min(h / ih, w / iw)
    rh, rw = max(1, round(ih * scale)), max(1, round(iw * scale))
    small = np.asarray(Image.fromarray(img).resize((rw, rh), Image.Resampling.BILINEAR))
    out = np.zeros((h, w, img.shape[2]), np.uint8)
    top, left = (h - rh) // 2, (w - rw) // 2
    out[top : top + rh, left : left + rw] = small
    return out


# ----------------------------------------------------------------------------- state
#: finger travel of a Panda-style gripper [m] per finger (``gripper_fingers``)
FINGER_TRAVEL = 0.04


def state_field(name: str, robot_obs: dict[str, np.ndarray]) -> np.ndarray:
    """One ``spec.STATE_FIELDS`` entry of a robot observation (float64)."""
    quat = np.asarray(robot_obs["ee_quat"], np.float64)
    grip = float(np.asarray(robot_obs["gripper"]).reshape(-1)[0])
    if name in ("joint_pos", "joint_vel", "ee_pos"):
        return np.asarray(robot_obs[name], np.float64)
    if name == "ee_quat_wxyz":
        return quat
    if name == "ee_quat_xyzw":
        return np.roll(quat, -1)
    if name == "ee_axis_angle":
        return mat_to_rotvec(quat_wxyz_to_mat(quat))
    if name == "ee_euler_xyz":
        return mat_to_euler_xyz(quat_wxyz_to_mat(quat))
    if name == "gripper_open":
        return np.array([grip])
    if name == "gripper_closed":
        return np.array([1.0 - grip])
    return np.array([grip * FINGER_TRAVEL, -grip * FINGER_TRAVEL])  # gripper_fingers
