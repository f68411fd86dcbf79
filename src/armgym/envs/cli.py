"""``armgym envs``: list env ids, robots, tasks and the options they take."""

from __future__ import annotations

import json
from dataclasses import dataclass

import tyro

from armgym.envs.manipulation import OBS_MODES, REWARD_MODES
from armgym.envs.registration import env_ids
from armgym.robots.controllers import CONTROL_MODES
from armgym.robots.specs import ROBOTS
from armgym.tasks import RANDOMIZATION_LEVELS, TASKS


@dataclass(frozen=True)
class EnvsConfig:
    """List what ``gymnasium.make("armgym/<Task>-v0", ...)`` accepts."""

    json: bool = False
    """Print machine-readable JSON instead of a table."""


def catalogue() -> dict[str, object]:
    """Env ids, robots, tasks and option values as plain data."""
    return {
        "env_ids": env_ids(),
        "robots": {n: ROBOTS.get(n).description for n in ROBOTS},
        "tasks": {
            n: {
                "instruction": TASKS.get(n).instruction,
                "max_episode_steps": TASKS.get(n).max_episode_steps,
                "object_state": TASKS.get(n).object_state_doc,
            }
            for n in TASKS
        },
        "control": list(CONTROL_MODES),
        "obs": list(OBS_MODES),
        "randomization": list(RANDOMIZATION_LEVELS),
        "reward": list(REWARD_MODES),
    }


def main(argv: list[str]) -> int:
    cfg = tyro.cli(EnvsConfig, args=argv, prog="armgym envs")
    cat = catalogue()
    if cfg.json:
        print(json.dumps(cat, indent=2))
        return 0
    print("env ids:      " + ", ".join(cat["env_ids"]))  # type: ignore[arg-type]
    print("robots:")
    for name, desc in cat["robots"].items():  # type: ignore[attr-defined]
        print(f"  {name:<11} {desc}")
    print("tasks:")
    for name, info in cat["tasks"].items():  # type: ignore[attr-defined]
        print(f"  {name:<11} {info['instruction']!r}, {info['max_episode_steps']} steps")
    for key in ("control", "obs", "randomization", "reward"):
        print(f"{key + ':':<13} " + ", ".join(cat[key]))  # type: ignore[arg-type]
    return 0
