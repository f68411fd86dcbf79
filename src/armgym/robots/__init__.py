"""Robots: the ``Robot`` protocol, ``RobotSpec`` records and the robot registry.

``armgym.robots.sim.SimRobot`` (MuJoCo) and ``armgym.robots.remote.RemoteRobot`` (over
websockets) implement the protocol.
"""

from armgym.robots.base import Obs, Robot, RobotSpec
from armgym.robots.specs import ROBOTS

__all__ = ["ROBOTS", "Obs", "Robot", "RobotSpec"]
