"""Every task has paraphrased instructions, picked per episode by seed and reported."""

from __future__ import annotations

import gymnasium as gym
import pytest

import armgym  # noqa: F401
from armgym.envs.language import TASK_KEY, InstructionWrapper
from armgym.errors import UnknownNameError
from armgym.tasks import TASKS
from armgym.tasks.language import instruction_for, instructions


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_has_paraphrases(name: str) -> None:
    texts = instructions(name)
    assert len(set(texts)) >= 3 and texts[0] == TASKS.get(name).instruction
    picks = [instruction_for(name, s) for s in range(40)]
    assert picks == [instruction_for(name, s) for s in range(40)]  # seed-exact
    assert set(picks) == set(texts)  # every paraphrase gets used
    assert instruction_for(name, None) == texts[0]


def test_unknown_task_names_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="PickCube"):
        instructions("PickCub")


def test_wrapper_reports_and_carries_the_instruction() -> None:
    env = InstructionWrapper(gym.make("armgym/Push-v0"), in_obs=True)
    try:
        assert TASK_KEY in env.observation_space.spaces
        obs, info = env.reset(seed=11)
        assert obs[TASK_KEY] == info["instruction"] == instruction_for("Push", 11)
        obs, _, _, _, info = env.step(env.action_space.sample() * 0)
        assert obs[TASK_KEY] == info["instruction"] == instruction_for("Push", 11)
        assert env.observation_space[TASK_KEY].contains(obs[TASK_KEY])
    finally:
        env.close()
    fixed = InstructionWrapper(gym.make("armgym/Push-v0"), prompt="shove it")
    try:
        obs, info = fixed.reset(seed=11)
        assert info["instruction"] == "shove it" and TASK_KEY not in obs
    finally:
        fixed.close()
