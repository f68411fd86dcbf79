"""``InstructionWrapper``: each episode gets a language instruction, picked by its seed.

At every ``reset(seed=s)`` the wrapper picks a paraphrase of the task's instruction
(:func:`armgym.tasks.language.instruction_for`; a fixed ``prompt`` overrides it) and
reports it as ``info["instruction"]`` on reset and on every step, where the recorder takes
it as the episode's task. With ``in_obs=True`` the observation also carries it as
``obs["task"]`` (a ``gymnasium.spaces.Text``), LeRobot's name for the instruction, so any
policy that reads observations receives it.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym

from armgym.contracts.info import INSTRUCTION
from armgym.tasks.language import instruction_for

#: observation key of the instruction (LeRobot's ``task``)
TASK_KEY = "task"


class InstructionWrapper(gym.Wrapper):
    """Pick and report a per-episode instruction (see the module docstring)."""

    def __init__(self, env: gym.Env, *, prompt: str | None = None, in_obs: bool = False):
        super().__init__(env)
        self.prompt, self.in_obs = prompt, in_obs
        self.task_name = str(env.unwrapped.task.name)  # type: ignore[attr-defined]
        self.instruction = prompt or instruction_for(self.task_name, None)
        if in_obs:
            spaces = dict(env.observation_space.spaces)  # type: ignore[attr-defined]
            spaces[TASK_KEY] = gym.spaces.Text(
                max_length=512, min_length=0, charset=string.printable
            )
            self.observation_space = gym.spaces.Dict(spaces)

    def _obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {**obs, TASK_KEY: self.instruction} if self.in_obs else obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        self.instruction = self.prompt or instruction_for(self.task_name, seed)
        return self._obs(obs), {**info, INSTRUCTION: self.instruction}

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return (
            self._obs(obs),
            reward,
            terminated,
            truncated,
            {**info, INSTRUCTION: self.instruction},
        )
