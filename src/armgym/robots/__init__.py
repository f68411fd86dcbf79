"""Robots: ``RobotSpec`` records, the robot registry, the sim and remote robots.

``armgym.robots.sim.SimRobot`` (MuJoCo) and ``armgym.robots.remote.RemoteRobot`` (over
websockets) implement :class:`armgym.contracts.robot.Robot` (re-exported here).
"""

from armgym.contracts.observation import Obs
from armgym.contracts.robot import Robot
from armgym.robots.base import RobotSpec
from armgym.robots.specs import ROBOTS

__all__ = ["ROBOTS", "Obs", "Robot", "RobotSpec"]
