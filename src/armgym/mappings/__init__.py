"""Declarative observation/action mappings between armgym envs and served generalist policies.

Presets (``PRESETS``): ``libero``, ``droid``, ``aloha`` (the schemas openpi's examples
send), ``cogact`` (CogACT/OpenVLA-style ``{image, prompt}`` -> 7-d delta) and ``armgym``
(native). See :mod:`armgym.mappings.spec` for the file layout and ``docs/generalist-policies.md``.
"""

from armgym.mappings.policy import ActionConverter, EnvFacts, MappedPolicy, check_mapping
from armgym.mappings.spec import PRESETS, Mapping, load_mapping

__all__ = [
    "PRESETS",
    "ActionConverter",
    "EnvFacts",
    "MappedPolicy",
    "Mapping",
    "check_mapping",
    "load_mapping",
]
