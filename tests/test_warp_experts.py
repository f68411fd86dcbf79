"""Each task's scripted expert, run batched on WarpBatchedEnv, meets the CPU bar.

The bar is the CPU env's (tests/test_tasks_experts.py): ≥ 95 % success at ``low``. Done on
Warp's CPU device for PickCube and Reach (20 worlds, seeds 0-19), the first episode of
each world. Push, Stack and PegInsert episodes are 150–200 control steps (~0.2 s each on
this device, 30–60 s per task even with 2 worlds): they are measured by ``benchmarks/warp_experts.py`` (results in
``benchmarks/results/warp_experts_cpu.json``), not in the suite.
"""

from __future__ import annotations

import mujoco_warp  # noqa: F401  (armgym[warp]: make test installs it)
import pytest

from armgym.envs.warp.experts import run_experts

WORLDS = {"PickCube": 20, "Reach": 20, "Push": 4, "Stack": 4, "PegInsert": 4}


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(WORLDS))
def test_scripted_expert_meets_the_bar_on_warp(task: str) -> None:
    n = WORLDS[task]
    run = run_experts(task, n)
    assert run.success.mean() >= 0.95, f"{task}: {run.success.sum()}/{n} episodes succeeded"
