"""Any MJCF arm from one spec: load a spec file, check it against its MJCF, register it.

A spec file is TOML whose keys are the :class:`~armgym.robots.base.RobotSpec` fields
(lists become tuples; ``mjcf`` relative to the spec file's folder)::

    name = "my_arm"
    mjcf = "my_arm.xml"
    arm_joints = ["j1", "j2", "j3", "j4", "j5", "j6"]
    arm_actuators = ["a1", "a2", "a3", "a4", "a5", "a6"]
    gripper_actuator = "grip"
    gripper_joints = ["finger_l", "finger_r"]
    gripper_range = [0.0, 0.04]
    ee_site = "tcp"
    home_qpos = [0.0, -0.5, 0.0, -2.0, 0.0, 1.5]

The built-in arms are such files (``armgym/robots/assets/*.toml``). Use one with
``gym.make("armgym/PickCube-v0", robot="path/to/spec.toml")`` or
``armgym.robots.register("path/to/spec.toml")``.
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
from pathlib import Path
from typing import Any

import mujoco

from armgym.errors import ConfigError
from armgym.robots.base import RobotSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_TUPLE_FIELDS = {
    f.name for f in dataclasses.fields(RobotSpec) if str(f.type).startswith(("tuple", "float |"))
}


def spec_from_dict(data: dict[str, Any], *, base_dir: Path | None = None) -> RobotSpec:
    """A ``RobotSpec`` from a mapping of its field names (as read from TOML or JSON).

    Raises:
        ConfigError: an unknown key (names the closest field) or a missing required one.
    """
    fields = {f.name for f in dataclasses.fields(RobotSpec)}
    unknown = sorted(set(data) - fields)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(fields), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"robot spec: unknown key {unknown[0]!r}.{hint}")
    kwargs = {
        k: tuple(v) if isinstance(v, list) and k in _TUPLE_FIELDS else v for k, v in data.items()
    }
    for key in ("mjcf", "mesh_dir"):  # relative to the spec file's folder
        value = kwargs.get(key)
        if (
            isinstance(value, str)
            and value
            and base_dir is not None
            and not Path(value).is_absolute()
        ):
            kwargs[key] = str((base_dir / value).resolve())
    try:
        return RobotSpec(**kwargs)  # type: ignore[arg-type]
    except TypeError as exc:  # a required field is missing
        raise ConfigError(f"robot spec {data.get('name', '?')!r}: {exc}") from None


def load_spec_file(path: str | Path) -> RobotSpec:
    """Read a TOML robot spec; its ``mjcf`` resolves against the file's folder.

    Raises:
        ConfigError: the file is missing, not TOML, or not a valid spec.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"robot spec file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"robot spec file {str(path)!r} is not valid TOML: {exc}") from None
    return spec_from_dict(data, base_dir=path.parent.resolve())


def _check_names(model: mujoco.MjModel, spec: RobotSpec, kind: str, obj: Any, names: Any) -> None:
    for name in names:
        if mujoco.mj_name2id(model, obj, name) < 0:
            count = {"joint": model.njnt, "actuator": model.nu, "site": model.nsite}.get(kind)
            getter = {"joint": model.joint, "actuator": model.actuator, "site": model.site}
            valid = [getter[kind](i).name for i in range(count)] if count else []
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.0)
            hint = f" Closest {kind}: {close[0]!r}." if close else ""
            raise ConfigError(
                f"robot {spec.name!r}: {kind} {name!r} not found in {spec.mjcf}.{hint} "
                "Fix the name in the robot spec."
            )


def validate_spec(spec: RobotSpec, model: mujoco.MjModel) -> None:
    """Check every element ``spec`` names against the compiled arm ``model``.

    ``model`` is the arm as the scene builds it (armgym actuators and TCP site added).

    Raises:
        ConfigError: naming the first missing joint / actuator / site, the closest name in
            the MJCF, or a home pose outside the joint limits.
    """
    obj = mujoco.mjtObj
    _check_names(model, spec, "joint", obj.mjOBJ_JOINT, (*spec.arm_joints, *spec.gripper_joints))
    _check_names(
        model, spec, "actuator", obj.mjOBJ_ACTUATOR, (*spec.arm_actuators, spec.gripper_actuator)
    )
    _check_names(model, spec, "site", obj.mjOBJ_SITE, (spec.ee_site,))
    if not spec.gripper_joints:
        raise ConfigError(f"robot {spec.name!r}: gripper_joints is empty; name the finger joint(s)")
    for joint, q in zip(spec.arm_joints, spec.home_qpos, strict=True):
        jnt = model.joint(joint)
        lo, hi = jnt.range
        if jnt.limited and not lo <= q <= hi:
            raise ConfigError(
                f"robot {spec.name!r}: home_qpos {joint}={q} is outside its range [{lo}, {hi}]"
            )


def load_and_check(spec: RobotSpec) -> RobotSpec:
    """Build ``spec``'s arm (as the scene does) and :func:`validate_spec` it; returns ``spec``.

    Raises:
        ConfigError: the MJCF is missing or does not compile, or a named element is missing.
    """
    from armgym.robots.scene import load_arm

    try:
        model = load_arm(spec).compile()
    except ValueError as exc:  # mujoco reports compile errors as ValueError
        raise ConfigError(f"robot {spec.name!r}: {spec.mjcf} does not compile: {exc}") from None
    validate_spec(spec, model)
    return spec
