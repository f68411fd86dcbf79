"""Fill a :class:`ReplayBuffer` with demonstrations: a LeRobot dataset on disk or scripted runs.

A dataset frame ``t`` holds the observation seen, the action sent and ``next.reward`` /
``next.done`` / ``next.success`` (armgym's recorder, LeRobot v2.1 and v3.0 alike); the
next observation of frame ``t`` is frame ``t + 1``. The last frame of an episode becomes a
terminal transition when it succeeded, and is dropped otherwise (its next observation was
never recorded). ``complementary_info.is_intervention`` / ``complementary_info.policy_action``
(human-in-the-loop data) go to the buffer's extras of the same name when both have them.

Rewards: ``sparse`` = ``next.success`` (what the RL env gives with ``reward="sparse"``);
``dense`` recomputes the env's current dense reward from the recorded observations with the
task's own (observation-only) scoring when ``observation.environment_state`` is recorded,
so demos recorded under an older reward scheme still agree with the env.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from armgym.errors import ConfigError, DatasetError
from armgym.rl.buffer import ReplayBuffer

INTERVENTION = "complementary_info.is_intervention"
POLICY_ACTION = "complementary_info.policy_action"
#: buffer extras name for each dataset column
EXTRA_COLUMNS = {"is_intervention": INTERVENTION, "policy_action": POLICY_ACTION}


def check_dataset_matches(reader: Any, buffer: ReplayBuffer) -> None:
    """Raise :class:`DatasetError` naming every observation/action shape that differs."""
    feats, problems = reader.features, []
    for key, (shape, _dtype) in buffer.obs_schema.items():
        if key not in feats:
            problems.append(f"{key}: missing (the env observes it)")
        elif tuple(feats[key]["shape"]) != shape:
            problems.append(f"{key}: dataset {tuple(feats[key]['shape'])}, env {shape}")
    a_shape = tuple(feats.get("action", {}).get("shape", ()))
    if a_shape != (buffer.action_dim,):
        problems.append(f"action: dataset {a_shape}, env ({buffer.action_dim},)")
    if problems:
        raise DatasetError(
            f"{reader.root}: the dataset does not match the env: {'; '.join(problems)}. Record "
            "demos with the same robot, control mode, obs mode and image size (see "
            "meta/armgym.json), or pass --demos N for N scripted demos."
        )


def fill_from_dataset(
    buffer: ReplayBuffer,
    path: str | Path,
    *,
    reward: str = "sparse",
    task: Any = None,
    n_arm: int = 0,
    max_episodes: int | None = None,
) -> dict[str, int]:
    """Add every episode of the dataset at ``path``; return ``{"episodes", "transitions"}``.

    ``task`` / ``n_arm`` (the env's task and arm joint count) are needed for
    ``reward="dense"``.
    """
    from armgym.contracts.observation import robot_obs_from_env_obs
    from armgym.data.reader import LeRobotReader

    reader = LeRobotReader(path)
    check_dataset_matches(reader, buffer)
    if reward == "dense" and (
        task is None or "observation.environment_state" not in reader.features
    ):
        raise ConfigError(
            "dense demo rewards are recomputed from observation.environment_state with the "
            "task; record demos with obs='state' or 'both', or use reward='sparse'"
        )
    extras = {k: c for k, c in EXTRA_COLUMNS.items() if k in buffer.extras and c in reader.features}
    keys = [*buffer.obs, "action", "next.success", *extras.values()]
    added = 0
    n_eps = reader.num_episodes if max_episodes is None else min(max_episodes, reader.num_episodes)
    for k in range(n_eps):
        ep = reader.episode(k, keys=keys)
        success = np.asarray(ep["next.success"]).reshape(-1).astype(bool)
        length = len(success)
        for t in range(length):
            last = t == length - 1
            if last and not success[t]:
                break
            obs = {key: ep[key][t] for key in buffer.obs}
            nxt = obs if last else {key: ep[key][t + 1] for key in buffer.obs}
            if reward == "dense":
                r = task.evaluate(robot_obs_from_env_obs(nxt, n_arm)).reward
            else:
                r = float(success[t])
            done = bool(success[t])
            more = {
                name: np.asarray(ep[col][t]).reshape(buffer.extras[name].shape[1:])
                for name, col in extras.items()
            }
            buffer.add(obs, ep["action"][t], r, done, False, nxt, **more)
            added += 1
            if done:
                break
    return {"episodes": n_eps, "transitions": added}


def fill_from_scripted(
    buffer: ReplayBuffer,
    env: Any,
    n_episodes: int,
    seed: int = 0,
    max_tries: int = 3,
    to_action: Callable[[np.ndarray, Mapping[str, np.ndarray]], np.ndarray] | None = None,
    expert: str = "scripted",
) -> dict[str, int]:
    """Run the task's scripted expert until ``n_episodes`` succeeded; add those episodes.

    The expert reads the privileged robot observation, so demos fill pixel buffers too.
    ``to_action(expert_action, obs)`` maps the expert's action (the unwrapped env's action
    space) to the action ``env`` takes and the buffer stores (residual RL: the residual
    toward the expert, :meth:`~armgym.policies.residual.ResidualWrapper.residual_toward`);
    ``None`` stores the expert's action. ``expert``: ``scripted`` (the task's
    ``make_expert``) or ``reactive`` (its stateless ``make_reactive_expert``).

    Failed expert episodes are not added. Seeds ``seed, seed + 1, …`` (at most
    ``max_tries · n_episodes`` episodes). Returns ``{"episodes", "transitions", "tried"}``.
    """
    from armgym.policies.scripted import SCRIPTED_CONTROLS, expert_action, make_demo_expert

    base = env.unwrapped  # the expert reads the robot observation: any obs mode works
    control = getattr(base.robot, "control", "ee_delta")
    if control not in SCRIPTED_CONTROLS:
        raise ConfigError(
            f"scripted demos need control ee_delta or ee_pos, not {control!r}; "
            "pass a recorded dataset as demos instead"
        )
    policy = make_demo_expert(base.task, expert)
    kept = added = tried = 0
    while kept < n_episodes and tried < max_tries * max(n_episodes, 1):
        obs, _ = env.reset(seed=seed + tried)
        policy.reset()
        tried += 1
        steps: list[tuple[Mapping[str, np.ndarray], np.ndarray, float, bool, bool, Any]] = []
        done = False
        while not done:
            action = expert_action(policy(base.robot_obs), control)
            if to_action is not None:
                action = to_action(action, obs)
            nxt, r, term, trunc, info = env.step(action)
            steps.append((obs, action, float(r), bool(term), bool(trunc), nxt))
            obs, done = nxt, term or trunc
        if info.get("is_success"):
            for s in steps:
                buffer.add(*s)
            kept, added = kept + 1, added + len(steps)
    if kept < n_episodes:
        raise ConfigError(
            f"the scripted expert succeeded in only {kept} of {tried} episodes; "
            "use a lower randomization level or fewer demos"
        )
    return {"episodes": kept, "transitions": added, "tried": tried}
