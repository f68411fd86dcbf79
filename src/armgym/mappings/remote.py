"""A served generalist policy behind a mapping: the env it needs and the mapped client.

    env_cfg = mapped_env_config(mapping, task="PickCube", robot="panda")
    policy = connect_mapped("ws://gpu:8000", mapping, EnvFacts.of(env))  # checked, mapped

Used by ``armgym run`` (one env) and ``armgym eval`` (one copy, hence one connection, per
vector-env slot).
"""

from __future__ import annotations

from typing import Any

from armgym.envs.config import EnvConfig
from armgym.mappings.policy import EnvFacts, MappedPolicy, check_mapping
from armgym.mappings.spec import Mapping
from armgym.serve.policy_client import WebsocketPolicyClient


def mapped_env_config(mapping: Mapping | None, *, control: str | None = None,
                      obs: str = "state", **kw: Any) -> EnvConfig:  # fmt: skip
    """The env a mapping needs: its control mode (unless ``control``), and when it reads
    images, ``pixels`` observations (``both`` stays) with its cameras at the size of its
    first image. ``kw``: the other :class:`EnvConfig` fields (task, robot ...)."""
    kw["control"] = control or (mapping.control if mapping else "") or "ee_delta"
    kw["obs"] = obs
    if mapping is not None and mapping.images:
        kw["obs"] = "pixels" if obs == "state" else obs
        kw["cameras"] = tuple(dict.fromkeys(i.camera for i in mapping.images))
        kw["image_size"] = mapping.images[0].size
    return EnvConfig(**kw)


def connect_mapped(url: str, mapping: Mapping, facts: EnvFacts, *, api_key: str | None = None,
                   request_timeout: float = 10.0, prompt: str | None = None) -> MappedPolicy:  # fmt: skip
    """Connect to ``url``, check ``mapping`` against the env and the server's announced
    keys (before any observation is sent) and return the mapped policy; copies reconnect.

    Raises:
        ConfigError: the mapping does not fit (every mismatch named).
    """

    def connect() -> WebsocketPolicyClient:
        return WebsocketPolicyClient(url, api_key=api_key, request_timeout=request_timeout,
                                     filter_keys=mapping.passthrough)  # fmt: skip

    client = connect()
    try:
        keys = () if mapping.passthrough else tuple(client.metadata.observation)
        check_mapping(mapping, facts, keys)
    except BaseException:
        client.close()
        raise
    return MappedPolicy(mapping, facts, client, prompt=prompt, reconnect=connect)
