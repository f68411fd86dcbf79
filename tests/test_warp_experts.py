"""Each task's scripted expert, run batched on WarpBatchedEnv, meets the CPU bar.

The bar is the CPU env's (tests/test_tasks_experts.py): ≥ 95 % success at ``low``. Here on
Warp's CPU device for PickCube and Reach (20 worlds, seeds 0-19, the first episode of each
world); Push, Stack and PegInsert (longer episodes) are measured the same way by
``benchmarks/warp_experts.py``.
"""

from __future__ import annotations

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import pytest

from armgym.envs.warp import WarpBatchedEnv
from armgym.envs.warp.experts import run_experts

WORLDS = 20


@pytest.mark.slow
@pytest.mark.parametrize("task", ["PickCube", "Reach"])
def test_scripted_expert_meets_the_bar_on_warp(task: str) -> None:
    env = WarpBatchedEnv(task, WORLDS, device="cpu", randomization="low")
    try:
        success = run_experts(env)["success"]
    finally:
        env.close()
    assert success.mean() >= 0.95, f"{task}: {success.sum()}/{WORLDS} episodes succeeded"
