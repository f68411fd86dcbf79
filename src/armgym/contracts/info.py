"""The ``info`` keys armgym's behaviour wrappers write on each ``env.step``.

Behaviours (a person taking over from a policy, the viewer window, video) are gymnasium
wrappers that speak through ``info``, so the recorder, a replay buffer and the evaluator
all see the same transition:

=====================  ===============  =====================================================
``intervention``       bool             a person's teleop device acted this step
``policy_action``      float32[A]       what the agent passed to ``step`` (also when a person
                                        overrode it)
``executed_action``    float32[A]       the action actually executed, in the action space of
                                        the wrapper that reports it (record this as the
                                        transition's action; a residual env reports the
                                        residual, and the composed action separately)
``teleop_events``      frozenset[str]   one-shot device events (``episode_success``,
                                        ``episode_failure``, ``rerecord``, ``stop``)
``video_path``         str              the episode's mp4, on the step that ends it
``instruction``        str              the episode's language instruction (reset and step;
                                        the recorder stores it as the episode's task)
``task_success``       bool             the task's own success check, moved here by a reward
                                        classifier (``is_success`` is then the classifier's
                                        verdict); for logging and evaluation, not learning
``reward_prob``        float            the reward classifier's P(success) of the new frame
=====================  ===============  =====================================================
"""

from __future__ import annotations

INTERVENTION = "intervention"
POLICY_ACTION = "policy_action"
EXECUTED_ACTION = "executed_action"
TELEOP_EVENTS = "teleop_events"
VIDEO_PATH = "video_path"
INSTRUCTION = "instruction"
TASK_SUCCESS = "task_success"
REWARD_PROB = "reward_prob"

#: Events that end the episode being recorded.
ENDING_EVENTS = frozenset({"episode_success", "episode_failure", "rerecord", "stop"})
