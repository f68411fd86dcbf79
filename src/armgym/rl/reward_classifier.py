"""``RewardClassifierWrapper``: the env's reward and success replaced by a learned classifier.

HIL-SERL's reward: the learner sees a sparse reward from a success classifier trained on a
few labelled episodes (``armgym train reward-classifier``), never the simulator's::

    env = make_classified_env(EnvConfig(task="PickCube", obs="pixels", image_size=(84, 84)),
                              "runs/clf")

On each ``step`` the classifier scores the new observation; with ``P >= threshold`` the
reward is 1 and the episode terminates, else the reward is 0 (the env's reward is dropped).
``info["is_success"]`` becomes the classifier's verdict; the task's own check moves to
``info["task_success"]`` (``armgym.contracts.info.TASK_SUCCESS``) for logging and
evaluation, and ``info["reward_prob"]`` holds P. The env below must not end episodes at
its own success (that would leak it through ``terminated``): build it with
``terminate_on_success=False`` (:func:`make_classified_env` does).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym

from armgym.contracts.info import REWARD_PROB, TASK_SUCCESS
from armgym.envs import EnvConfig, make_env
from armgym.errors import ConfigError
from armgym.policies.reward_classifier import (
    STATE_KEY,
    RewardClassifier,
    load_reward_classifier,
)


def check_schema(space: gym.spaces.Dict, clf: RewardClassifier) -> None:
    """ConfigError unless ``space`` holds the cameras, image sizes and state ``clf`` reads."""
    env_cams = sorted(k.split(".")[-1] for k in space.spaces if k.startswith("observation.images."))
    for key, shape in clf.image_shapes.items():
        cam = key.split(".")[-1]
        if key not in space.spaces:
            raise ConfigError(
                f"the reward classifier reads camera {cam!r} but the env renders "
                f"{env_cams or 'no cameras'}; use --obs pixels (or both) with --cameras "
                f"{' '.join(clf.cameras)}"
            )
        got = tuple(space.spaces[key].shape or ())
        if got != shape:
            raise ConfigError(
                f"the reward classifier was trained on {shape[0]}x{shape[1]} images of "
                f"{cam!r}; the env renders {got[0]}x{got[1]}: pass --image-size {shape[0]} "
                "(or re-train the classifier at this size)"
            )
    if clf.state_dim:
        got_state = space.spaces.get(STATE_KEY)
        if got_state is None or tuple(got_state.shape or ()) != (clf.state_dim,):
            raise ConfigError(
                f"the reward classifier reads {STATE_KEY} of length {clf.state_dim}; the env's "
                f"is {None if got_state is None else got_state.shape}: use the same robot"
            )


def check_task(env: gym.Env[Any, Any], clf: RewardClassifier) -> None:
    """ConfigError when ``clf`` was trained on another task or robot than ``env`` runs."""
    base = env.unwrapped
    here = {
        "task": getattr(getattr(base, "task", None), "name", None),
        "robot": getattr(getattr(base, "robot", None), "robot_name", None),
    }
    for key, value in here.items():
        trained = clf.env.get(key)
        if trained and value and str(trained).lower() != str(value).lower():
            raise ConfigError(
                f"the reward classifier was trained on {key} {trained!r}, the env runs "
                f"{value!r}; train one on episodes of this {key}"
            )


class RewardClassifierWrapper(gym.Wrapper[Any, Any, Any, Any]):
    """Reward 1 and ``terminated`` when ``P(success | obs) >= threshold``, else reward 0.

    Args:
        env: an armgym env with the classifier's cameras at its image size, built with
            ``terminate_on_success=False``.
        classifier: a :class:`RewardClassifier` or its checkpoint folder.
    """

    def __init__(self, env: gym.Env[Any, Any], classifier: RewardClassifier | str | Path):
        super().__init__(env)
        clf = classifier
        self.classifier = clf if isinstance(clf, RewardClassifier) else load_reward_classifier(clf)
        if getattr(env.unwrapped, "terminate_on_success", False):
            raise ConfigError(
                "the env ends episodes at its own success, which the learner would see; "
                "build it with terminate_on_success=False (make_classified_env does)"
            )
        check_task(env, self.classifier)
        if not isinstance(env.observation_space, gym.spaces.Dict):
            raise ConfigError("RewardClassifierWrapper needs an env with a Dict observation space")
        check_schema(env.observation_space, self.classifier)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:  # fmt: skip
        obs, info = self.env.reset(seed=seed, options=options)
        info[TASK_SUCCESS] = bool(info.pop("is_success", False))
        info["is_success"] = False
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, _, terminated, truncated, info = self.env.step(action)
        p = self.classifier.prob(obs)
        success = p >= self.classifier.threshold
        info[TASK_SUCCESS] = bool(info.pop("is_success", False))
        info["is_success"] = bool(success)
        info[REWARD_PROB] = p
        return obs, float(success), bool(terminated or success), bool(truncated), info


def make_classified_env(cfg: EnvConfig, classifier: RewardClassifier | str | Path,
                        **make_kwargs: Any) -> gym.Env[Any, Any]:  # fmt: skip
    """``make_env(cfg)`` without ending at the task's success, wrapped by the classifier.

    The classifier is loaded before the env is built (a bad checkpoint fails fast); a
    camera / image-size mismatch closes the env and raises ConfigError; ``make_kwargs``
    go to :func:`armgym.envs.make_env`.
    """
    clf = (
        classifier
        if isinstance(classifier, RewardClassifier)
        else load_reward_classifier(classifier)
    )
    env = make_env(dataclasses.replace(cfg, terminate_on_success=False), **make_kwargs)
    try:
        return RewardClassifierWrapper(env, clf)
    except Exception:
        env.close()
        raise
