"""Human interventions: a policy acts until the person at a teleop device takes over.

``InterventionActor(act, device)`` is an ``act(obs) -> action`` callable for the recorder
(``armgym collect --source policy:CK --intervene keyboard``). Each step it asks the policy
for an action *and* polls the device; while the device's intervention toggle is on the
device's action is executed, otherwise the policy's. The policy starts in control (the
toggle is switched off at construction).

Every frame records what HIL-SERL / RLPD-style learners need, under the feature names
LeRobot's human-in-the-loop recordings use:

=======================================  =========  ========================================
``complementary_info.is_intervention``   float32[1]  1.0 while the human acts, else 0.0
``complementary_info.policy_action``     float32[7]  what the policy proposed (also when
                                                      overridden)
=======================================  =========  ========================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from armgym.teleop.base import TeleopDevice

IS_INTERVENTION = "complementary_info.is_intervention"
POLICY_ACTION = "complementary_info.policy_action"


def intervention_features(action_dim: int) -> dict[str, dict[str, Any]]:
    """LeRobot feature specs of the two per-frame intervention columns."""
    return {
        IS_INTERVENTION: {"dtype": "float32", "shape": [1], "names": ["is_intervention"]},
        POLICY_ACTION: {"dtype": "float32", "shape": [action_dim], "names": None},
    }


class InterventionActor:
    """Execute ``act``'s actions unless the human at ``device`` has taken over.

    Attributes after each call: ``intervention`` (human in control this step), ``events``
    (the device's one-shot events), ``policy_action`` (float32[A]); ``interventions``
    counts the steps the human acted since ``reset``.
    """

    def __init__(self, act: Callable[[Mapping[str, np.ndarray]], Any], device: TeleopDevice):
        if not hasattr(device, "intervention"):
            raise TypeError(f"{type(device).__name__} has no intervention toggle")
        self.act, self.device = act, device
        device.intervention = False  # the policy starts in control
        self.intervention = False
        self.events: frozenset[str] = frozenset()
        self.policy_action = np.zeros(0, np.float32)
        self.interventions = 0

    def reset(self) -> None:
        reset = getattr(self.act, "reset", None)
        if reset is not None:
            reset()
        self.events = frozenset()
        self.interventions = 0

    def __call__(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        # the policy is queried every step, so a chunked policy keeps its own pace
        self.policy_action = np.asarray(self.act(obs), dtype=np.float32).reshape(-1)
        cmd = self.device.poll()
        self.intervention, self.events = bool(cmd.intervention), cmd.events
        self.interventions += int(self.intervention)
        if self.intervention:
            return np.asarray(cmd.action, dtype=np.float32)
        return self.policy_action

    def frame_extras(self) -> dict[str, np.ndarray]:
        """The per-frame intervention columns of the step just taken."""
        return {
            IS_INTERVENTION: np.array([float(self.intervention)], np.float32),
            POLICY_ACTION: self.policy_action,
        }
