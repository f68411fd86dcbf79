"""Compare the sim model with a connected arm: joints at home, forward kinematics of both.

:func:`check_robot` reads the arm (optionally after ``reset()`` moved it home) and
reports, per joint, the measured angle, the home angle and the model's / device's range;
the TCP pose the sim model computes from the measured joints; and, for drivers whose
device computes its own pose (:class:`~armgym.robots.real.driver.PoseReporter`), the
difference between the two forward kinematics. Large differences mean a calibration
offset, a flipped joint direction or a model that does not match the arm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from armgym.robots.real.driver import PoseReporter
from armgym.robots.real.robot import RealRobot


def _angle_between(q1: np.ndarray, q2: np.ndarray) -> float:
    return float(2.0 * np.arccos(np.clip(abs(float(q1 @ q2)), 0.0, 1.0)))


def check_robot(
    robot: RealRobot, *, move_home: bool = False, tolerance: float = 0.05
) -> dict[str, Any]:
    """A JSON-able report; ``ok`` is False if a joint is more than ``tolerance`` [rad] off
    home (only judged after ``move_home``) or the two FKs differ by > 1 cm / 0.05 rad."""
    if move_home:
        robot.reset()
    reading = robot.driver.read()
    kin, spec = robot.safety.kin, robot.spec
    home = np.asarray(spec.home_qpos)
    pos, quat = kin.fk(reading.q)
    home_pos, _ = kin.fk(home)
    err = reading.q - home
    joints = [
        {
            "name": name,
            "measured": float(q),
            "home": float(h),
            "error": float(e),
            "model_range": [float(kin.q_low[i]), float(kin.q_high[i])],
            "allowed_range": [float(robot.safety.q_low[i]), float(robot.safety.q_high[i])],
        }
        for i, (name, q, h, e) in enumerate(zip(spec.arm_joints, reading.q, home, err, strict=True))
    ]
    report: dict[str, Any] = {
        "robot": spec.name,
        "driver": type(robot.driver).__name__,
        "moved_home": move_home,
        "joints": joints,
        "gripper": reading.gripper,
        "sim_tcp": {"pos": pos.tolist(), "quat": quat.tolist()},
        "tcp_offset_from_home_m": float(np.linalg.norm(pos - home_pos)),
    }
    ok = not move_home or bool(np.max(np.abs(err)) <= tolerance)
    if isinstance(robot.driver, PoseReporter):
        dpos, dquat = robot.driver.device_pose()
        dp, dr = float(np.linalg.norm(dpos - pos)), _angle_between(dquat, quat)
        report["device_tcp"] = {"pos": dpos.tolist(), "quat": dquat.tolist()}
        report["fk_difference"] = {"position_m": dp, "rotation_rad": dr}
        ok = ok and dp <= 0.01 and dr <= 0.05
    report["ok"] = ok
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as a table for a terminal."""
    lines = [f"{report['robot']} via {report['driver']}"
             f"{' (moved home)' if report['moved_home'] else ''}"]  # fmt: skip
    lines.append(f"{'joint':<14}{'measured':>10}{'home':>10}{'error':>10}   allowed range")
    for j in report["joints"]:
        lo, hi = j["allowed_range"]
        lines.append(f"{j['name']:<14}{j['measured']:>10.3f}{j['home']:>10.3f}"
                     f"{j['error']:>10.3f}   [{lo:.2f}, {hi:.2f}]")  # fmt: skip
    p = report["sim_tcp"]["pos"]
    lines.append(f"sim FK TCP: ({p[0]:.3f}, {p[1]:.3f}, {p[2]:.3f}) m, "
                 f"{report['tcp_offset_from_home_m'] * 1000:.1f} mm from the home TCP")  # fmt: skip
    if "fk_difference" in report:
        d = report["fk_difference"]
        lines.append(f"device FK vs sim FK: {d['position_m'] * 1000:.1f} mm, "
                     f"{np.degrees(d['rotation_rad']):.2f} deg")  # fmt: skip
    lines.append("OK" if report["ok"] else "MISMATCH: check calibration / joint directions")
    return "\n".join(lines)
