"""The robot registry: one ``RobotSpec`` record per arm, built-in or brought by the user.

Every arm comes in the same way, from one spec (see :mod:`armgym.robots.loader`):

- the four built-in primitive arms are spec files in ``assets/`` (``panda.toml`` ...);
- mesh variants (``panda-menagerie`` ...) are registered when their package is installed
  (:mod:`armgym.robots.mesh_models`); when it is not, asking for one says what to install;
- a user's arm: ``register(RobotSpec(...))``, ``register("path/to/spec.toml")``, or
  ``gym.make(..., robot="path/to/spec.toml")`` (loaded and checked on first use).
"""

from __future__ import annotations

from pathlib import Path

from armgym.errors import ConfigError
from armgym.registry import Registry
from armgym.robots.base import RobotSpec
from armgym.robots.loader import load_and_check, load_spec_file

ASSETS = Path(__file__).parent / "assets"
BUILTIN = ("panda", "widowx250", "so101", "vx300")


def _is_spec_path(name: str) -> bool:
    return name.lower().endswith(".toml")


class RobotRegistry(Registry[RobotSpec]):
    """Robot records by name; ``get`` also accepts a spec file path, and knows what is missing.

    ``missing`` maps a known-but-not-installed model name to the message saying what to
    install; ``get`` raises it as a :class:`ConfigError`.
    """

    def __init__(self) -> None:
        super().__init__("robot")
        self.missing: dict[str, str] = {}
        self._paths: dict[str, str] = {}

    def get(self, name: str) -> RobotSpec:
        if name.lower() in self.missing:
            raise ConfigError(self.missing[name.lower()])
        if _is_spec_path(name) and name.lower() not in self:
            key = str(Path(name).resolve())
            if key not in self._paths:
                spec = load_and_check(load_spec_file(name))
                if spec.name in self and super().get(spec.name) != spec:
                    raise ConfigError(
                        f"robot {spec.name!r} from {name} clashes with a registered robot of "
                        "that name; give the spec another name"
                    )
                if spec.name not in self:
                    self.register(spec.name, spec)
                self._paths[key] = spec.name
            return super().get(self._paths[key])
        return super().get(name)


ROBOTS = RobotRegistry()


def register(spec: RobotSpec | str | Path, *, check: bool = True) -> RobotSpec:
    """Register a robot from a ``RobotSpec`` or a TOML spec file; returns the spec.

    ``check`` builds the arm and validates every name the spec gives (see
    :func:`armgym.robots.loader.validate_spec`).

    Raises:
        ConfigError: bad spec file, a named element missing from the MJCF.
        ArmgymError: the name is already registered.
    """
    if not isinstance(spec, RobotSpec):
        spec = load_spec_file(spec)
    if check:
        load_and_check(spec)
    ROBOTS.register(spec.name, spec)
    return spec


def mjcf_path(spec: RobotSpec) -> Path:
    """Absolute path of a spec's MJCF file (relative paths resolve under ``assets/``)."""
    path = Path(spec.mjcf)
    return path if path.is_absolute() else ASSETS / path


for _name in BUILTIN:
    register(ASSETS / f"{_name}.toml", check=False)  # checked by tests/test_robots_models.py


def _register_mesh_variants() -> None:
    from armgym.robots.mesh_models import register_installed

    register_installed()


_register_mesh_variants()
