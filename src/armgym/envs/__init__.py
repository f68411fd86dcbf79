"""armgym.envs: ``ManipulationEnv``, its config, the one factory and the batched env.

from armgym.envs import EnvConfig, make_env
env = make_env(EnvConfig(task="PickCube", robot="panda", obs="state"))
"""

from armgym.envs.config import EnvConfig
from armgym.envs.factory import build_env, env_id, make_env

__all__ = ["EnvConfig", "build_env", "env_id", "make_env"]
