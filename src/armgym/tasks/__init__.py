"""Tasks, one file each, and the task registry."""

from __future__ import annotations

from armgym.registry import Registry
from armgym.tasks.base import RANDOMIZATION_LEVELS, Task, TaskResult
from armgym.tasks.peg_insert import PegInsert
from armgym.tasks.pick_cube import PickCube
from armgym.tasks.push import Push
from armgym.tasks.reach import Reach
from armgym.tasks.stack import Stack

TASKS: Registry[type[Task]] = Registry("task")
for _task in (PickCube, Reach, Push, Stack, PegInsert):
    TASKS.register(_task.name, _task)

__all__ = ["RANDOMIZATION_LEVELS", "TASKS", "Task", "TaskResult"]
