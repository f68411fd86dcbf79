"""Language instructions of every task: several paraphrases, one picked per episode by seed.

The first paraphrase of each task is its ``Task.instruction``. ``instruction_for(task,
seed)`` is deterministic in the seed (a generalist policy is evaluated on the same prompt
for the same episode), and ``seed=None`` gives the canonical first one.
"""

from __future__ import annotations

import numpy as np

from armgym.errors import UnknownNameError

#: task name -> paraphrases (the first = ``Task.instruction``)
INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "PickCube": (
        "pick up the cube",
        "pick up the red cube",
        "grasp the cube and lift it",
        "lift the cube off the table",
    ),
    "Reach": (
        "move the gripper to the target",
        "reach the target",
        "move your hand to the green marker",
        "bring the gripper to the goal position",
    ),
    "Push": (
        "push the cube to the target",
        "slide the cube onto the target",
        "push the block to the goal",
        "move the cube to the marked spot by pushing it",
    ),
    "Stack": (
        "stack the red cube on the green cube",
        "put the red cube on top of the green cube",
        "place the red block on the green block",
        "pick up the red cube and stack it on the green one",
    ),
    "PegInsert": (
        "insert the peg into the hole",
        "put the peg in the hole",
        "pick up the peg and insert it into the hole",
        "fit the peg into the hole",
    ),
}


def instructions(task: str) -> tuple[str, ...]:
    """The paraphrases of ``task`` (case-insensitive name).

    Raises:
        UnknownNameError: no instructions for that task (names the closest one).
    """
    for name, texts in INSTRUCTIONS.items():
        if name.lower() == task.lower():
            return texts
    raise UnknownNameError("task with instructions", task, INSTRUCTIONS)


def instruction_for(task: str, seed: int | None) -> str:
    """One paraphrase of ``task`` picked by ``seed`` (``None``: the canonical first one)."""
    texts = instructions(task)
    if seed is None:
        return texts[0]
    return texts[int(np.random.default_rng([int(seed), 7919]).integers(len(texts)))]
