"""Policies ``armgym serve`` can serve without training: scripted experts, random, checkpoints.

``--policy`` specs:

* ``scripted:<Task>[:<robot>]``: the task's scripted expert (:class:`ScriptedPolicy`),
  one fresh expert per connection; robot defaults to ``panda``.
* ``random:<env id>``: uniform actions in the env's action space, with the env's
  observation schema (e.g. ``random:armgym/PickCube-v0``); ``horizon=<H>`` may follow
  after a comma to serve chunks (``random:armgym/PickCube-v0,horizon=8``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from armgym.errors import CheckpointError, ConfigError, UnknownNameError
from armgym.contracts.policy import FeatureSpec, Policy, PolicyMetadata

KINDS = ("scripted", "random")


class RandomPolicy:
    """Uniform random actions float32[horizon, action_dim] in [low, high].

    Args:
        metadata: the schema to announce (observations are validated against it).
        low / high: action bounds, float32[action_dim] (default [-1, 1]).
        seed: generator seed (reset() does not reseed, so episodes differ).
    """

    def __init__(
        self,
        metadata: PolicyMetadata,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
        seed: int | None = None,
    ):
        self.metadata = metadata
        dim = metadata.action_dim
        self.low = np.full(dim, -1.0, np.float32) if low is None else np.asarray(low, np.float32)
        self.high = np.full(dim, 1.0, np.float32) if high is None else np.asarray(high, np.float32)
        self._rng = np.random.default_rng(seed)
        self._shape = (metadata.action_horizon, dim)

    def reset(self) -> None:
        pass

    def infer(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        u = self._rng.random(self._shape, dtype=np.float32)
        return {"actions": self.low + u * (self.high - self.low)}


def metadata_for_env(env: object, *, horizon: int = 1, name: str = "") -> PolicyMetadata:
    """Schema of a gymnasium env: each Box of its Dict observation space -> FeatureSpec."""
    import gymnasium as gym

    obs_space = getattr(env, "observation_space", None)
    act_space = getattr(env, "action_space", None)
    if not isinstance(obs_space, gym.spaces.Dict) or not isinstance(act_space, gym.spaces.Box):
        raise ConfigError("env needs a Dict observation space and a Box action space")
    features = {
        key: FeatureSpec(str(space.dtype), tuple(space.shape))
        for key, space in obs_space.spaces.items()
        if isinstance(space, gym.spaces.Box)
    }
    fps = float(getattr(env, "metadata", {}).get("render_fps", 0) or 0)
    return PolicyMetadata(
        observation=features,
        action_dim=int(act_space.shape[0]),
        action_horizon=horizon,
        fps=fps,
        name=name,
    )


def _random_factory(arg: str) -> Callable[[], Policy]:
    import gymnasium as gym

    env_id, _, opts = arg.partition(",")
    horizon = 1
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key != "horizon" or not value.isdigit() or int(value) < 1:
            raise ConfigError(f"random policy option {opt!r}: only horizon=<int >= 1> is known")
        horizon = int(value)
    _import_envs()
    env = gym.make(env_id)
    try:
        meta = metadata_for_env(env.unwrapped, horizon=horizon, name=f"random:{env_id}")
        low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
    finally:
        env.close()
    return lambda: RandomPolicy(meta, low, high)


def _scripted_factory(arg: str) -> Callable[[], Policy]:
    from armgym.policies.scripted import ScriptedPolicy
    from armgym.robots.specs import ROBOTS
    from armgym.tasks import TASKS

    task_name, _, robot_name = arg.partition(":")
    task_cls = TASKS.get(task_name)
    spec = ROBOTS.get(robot_name or "panda")

    def make() -> Policy:
        return ScriptedPolicy(task_cls(spec))

    return make


def _import_envs() -> None:
    """Register armgym's gymnasium ids (``armgym/<Task>-v0``) if the envs package does."""
    with contextlib.suppress(ImportError):
        import armgym.envs  # noqa: F401


def factory_for(spec: str) -> Callable[[], Policy]:
    """Factory building a fresh policy for a ``--policy`` spec (see module docstring)."""
    kind, sep, arg = spec.partition(":")
    if not sep or not arg:
        raise ConfigError(
            f"--policy {spec!r}: expected 'scripted:<Task>' or 'random:<env id>', "
            "e.g. scripted:PickCube"
        )
    if kind == "scripted":
        return _scripted_factory(arg)
    if kind == "random":
        return _random_factory(arg)
    raise UnknownNameError("policy kind", kind, KINDS)


def load_checkpoint_policy(path: Path) -> Policy:
    """Load a trained policy with ``armgym.policies.load_checkpoint`` (imported lazily)."""
    if not Path(path).exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        from armgym.policies import load_checkpoint  # type: ignore[attr-defined]
    except ImportError as exc:
        raise CheckpointError(
            "armgym.policies.load_checkpoint is not available in this install "
            f"({exc}); install armgym[train] or serve a built-in policy with --policy"
        ) from exc
    policy: Policy = load_checkpoint(path)
    return policy
