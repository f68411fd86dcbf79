"""Policies ``armgym serve`` can serve without training: scripted experts, random, checkpoints.

``--policy`` specs:

* ``scripted:<Task>[:<robot>]``: the task's scripted expert (:class:`ScriptedPolicy`),
  one fresh expert per connection; robot defaults to ``panda``.
* ``random:<env id>``: uniform actions in the env's action space, with the env's
  observation schema (e.g. ``random:armgym/PickCube-v0``); ``horizon=<H>`` may follow
  after a comma to serve chunks (``random:armgym/PickCube-v0,horizon=8``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from armgym.contracts.policy import Policy
from armgym.errors import CheckpointError, ConfigError, UnknownNameError
from armgym.policies.random_policy import RandomPolicy, metadata_for_env

KINDS = ("scripted", "random")

__all__ = ["KINDS", "RandomPolicy", "factory_for", "load_checkpoint_policy", "metadata_for_env"]


def _random_factory(arg: str) -> Callable[[], Policy]:
    import gymnasium as gym

    env_id, _, opts = arg.partition(",")
    horizon = 1
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key != "horizon" or not value.isdigit() or int(value) < 1:
            raise ConfigError(f"random policy option {opt!r}: only horizon=<int >= 1> is known")
        horizon = int(value)
    import armgym.envs  # noqa: F401  (registers armgym/<Task>-v0)

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
    from armgym.eval.bases import open_base
    from armgym.policies import load_checkpoint

    policy: Policy = load_checkpoint(path, opener=open_base)
    return policy
