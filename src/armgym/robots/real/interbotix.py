"""WidowX 250 / ViperX 300 (Interbotix ``xs_sdk``, ROS 2) via roslibpy over rosbridge.

rclpy is not on PyPI, so armgym talks to the arm's ROS graph through ``rosbridge_server``
(``ros2 launch rosbridge_server rosbridge_websocket_launch.xml``) next to
``ros2 launch interbotix_xsarm_control xsarm_control.launch.py robot_model:=wx250s``.
It uses xs_sdk's own interface of the arm ``/<robot_name>``:

=====================================  ==============================================
``joint_states``                       ``sensor_msgs/msg/JointState``, read
``commands/joint_group``               ``JointGroupCommand {name: "arm", cmd: [rad]}``
``commands/joint_single``              ``JointSingleCommand {name: "gripper", cmd}``
``get_robot_info``                     joint names and limits of the ``arm`` group
``set_operating_modes``                ``position`` mode, ``time`` profile
``torque_enable``                      torque on at connect (off at close if asked)
=====================================  ==============================================

The gripper runs in xs_sdk's default ``pwm`` mode as Interbotix's own Python API drives
it: +``gripper_pwm`` opens, -``gripper_pwm`` closes (binary, sent on change); its opening
is read from ``left_finger`` [m] over ``finger_range``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.errors import ConfigError, HardwareError
from armgym.robots.base import RobotSpec
from armgym.robots.real.driver import JointReading

_MSG = "interbotix_xs_msgs/msg/"
_SRV = "interbotix_xs_msgs/srv/"


@dataclass(frozen=True)
class InterbotixConfig:
    """An Interbotix arm behind rosbridge.

    Attributes:
        robot_name: xs_sdk namespace (``wx250s``, ``vx300s``).
        host: rosbridge host.
        port: rosbridge websocket port.
        timeout_s: connection and service-call timeout [s].
        max_state_age_s: the oldest joint state ``read`` accepts [s].
        moving_time_s: xs_sdk ``time`` profile: time to reach each goal [s].
        gripper_pwm: PWM of the gripper motor when opening / closing.
        finger_range: (closed, open) ``left_finger`` position [m].
        torque_off_on_close: switch torque off at close (the arm then drops).
    """

    robot_name: str = "wx250s"
    host: str = "127.0.0.1"
    port: int = 9090
    timeout_s: float = 5.0
    max_state_age_s: float = 0.5
    moving_time_s: float = 0.2
    gripper_pwm: float = 250.0
    finger_range: tuple[float, float] = (0.015, 0.037)
    torque_off_on_close: bool = False


def _roslibpy() -> Any:
    try:
        import roslibpy
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("the Interbotix driver needs roslibpy: pip install 'armgym[real]'") from e
    return roslibpy


class InterbotixArm:
    """An xs_sdk arm whose joints are ``spec.arm_joints`` (names checked at connect)."""

    def __init__(self, cfg: InterbotixConfig, spec: RobotSpec):
        self.cfg, self.joints = cfg, tuple(spec.arm_joints)
        self.n_joints = len(self.joints)
        rl = self.rl = _roslibpy()
        self.ros = rl.Ros(host=cfg.host, port=cfg.port)
        try:
            self.ros.run(timeout=cfg.timeout_s)
        except Exception as e:
            self.ros.close()
            raise HardwareError(
                f"no rosbridge at ws://{cfg.host}:{cfg.port} ({e}); start rosbridge_server "
                "beside xsarm_control on the robot computer"
            ) from e
        ns = f"/{cfg.robot_name}"
        self._latest: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self._states = rl.Topic(self.ros, f"{ns}/joint_states", "sensor_msgs/msg/JointState")
        self._group = rl.Topic(self.ros, f"{ns}/commands/joint_group", _MSG + "JointGroupCommand")
        self._single = rl.Topic(
            self.ros, f"{ns}/commands/joint_single", _MSG + "JointSingleCommand"
        )
        self._gripper_open: bool | None = None
        try:
            self._connect(ns)
        except BaseException:
            self.ros.close()
            raise

    def _call(self, name: str, srv_type: str, args: dict[str, Any]) -> dict[str, Any]:
        service = self.rl.Service(self.ros, f"/{self.cfg.robot_name}/{name}", _SRV + srv_type)
        try:
            return dict(service.call(self.rl.ServiceRequest(args), timeout=self.cfg.timeout_s))
        except Exception as e:
            raise HardwareError(
                f"service /{self.cfg.robot_name}/{name} failed ({e}); is xsarm_control running "
                f"with robot_name:={self.cfg.robot_name}?"
            ) from e

    def _connect(self, ns: str) -> None:
        info = self._call("get_robot_info", "RobotInfo", {"cmd_type": "group", "name": "arm"})
        names = tuple(info.get("joint_names", ()))
        if names != self.joints:
            raise HardwareError(
                f"{ns} arm joints are {list(names)}, expected {list(self.joints)}: wrong "
                "--robot for this arm (widowx250 = wx250s, vx300 = vx300s)?"
            )
        self.info = info
        self._call("set_operating_modes", "OperatingModes", {
            "cmd_type": "group", "name": "arm", "mode": "position", "profile_type": "time",
            "profile_velocity": int(1000 * self.cfg.moving_time_s),
            "profile_acceleration": int(500 * self.cfg.moving_time_s),
        })  # fmt: skip
        self._states.subscribe(self._on_state)
        self._group.advertise()
        self._single.advertise()
        self._call(
            "torque_enable", "TorqueEnable", {"cmd_type": "group", "name": "all", "enable": True}
        )
        deadline = time.monotonic() + self.cfg.timeout_s
        while self._latest is None:
            if time.monotonic() > deadline:
                raise HardwareError(f"no {ns}/joint_states within {self.cfg.timeout_s} s")
            time.sleep(0.01)

    def _on_state(self, msg: dict[str, Any]) -> None:
        with self._lock:
            self._latest = (time.monotonic(), msg)

    def device_range(self) -> tuple[np.ndarray, np.ndarray]:
        """The arm's joint limits from ``get_robot_info`` (low, high) [rad]."""
        return (np.asarray(self.info["joint_lower_limits"], float),
                np.asarray(self.info["joint_upper_limits"], float))  # fmt: skip

    # -- ArmDriver --------------------------------------------------------------------------
    def read(self) -> JointReading:
        with self._lock:
            latest = self._latest
        age = time.monotonic() - latest[0] if latest else float("inf")
        if latest is None or age > self.cfg.max_state_age_s:
            raise HardwareError(
                f"/{self.cfg.robot_name}/joint_states is {age:.2f} s old (limit "
                f"{self.cfg.max_state_age_s} s): has xs_sdk or rosbridge stopped?"
            )
        msg = latest[1]
        index = {n: i for i, n in enumerate(msg["name"])}
        try:
            q = np.array([msg["position"][index[j]] for j in self.joints])
            qvel = np.array([msg["velocity"][index[j]] for j in self.joints]) if msg.get(
                "velocity") else None  # fmt: skip
        except KeyError as e:
            raise HardwareError(f"joint_states lacks joint {e}; wrong robot_name?") from e
        lo, hi = self.cfg.finger_range
        finger = msg["position"][index["left_finger"]] if "left_finger" in index else hi
        return JointReading(q=q, gripper=float(np.clip((finger - lo) / (hi - lo), 0, 1)), qvel=qvel)

    def command(self, q: np.ndarray, gripper: float) -> None:
        self._group.publish(self.rl.Message({"name": "arm", "cmd": [float(v) for v in q]}))
        want_open = gripper > 0.5
        if want_open != self._gripper_open:
            pwm = self.cfg.gripper_pwm * (1.0 if want_open else -1.0)
            self._single.publish(self.rl.Message({"name": "gripper", "cmd": pwm}))
            self._gripper_open = want_open

    def hold(self) -> None:
        q = self.read().q
        self._group.publish(self.rl.Message({"name": "arm", "cmd": [float(v) for v in q]}))

    def recover(self) -> None:
        """Torque back on for every motor (xs_sdk may have disabled it after an error)."""
        self.hold()
        self._call(
            "torque_enable", "TorqueEnable", {"cmd_type": "group", "name": "all", "enable": True}
        )

    def close(self) -> None:
        try:
            self.hold()
            if self.cfg.torque_off_on_close:
                self._call("torque_enable", "TorqueEnable",
                           {"cmd_type": "group", "name": "all", "enable": False})  # fmt: skip
        finally:
            self._states.unsubscribe()
            self.ros.close()
