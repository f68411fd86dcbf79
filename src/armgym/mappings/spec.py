"""Declarative observation/action mappings between an armgym env and a served policy.

A mapping is a small TOML (or JSON) file, one per policy family; presets ship in
``armgym/mappings/presets/`` (``libero``, ``droid``, ``aloha``, ``cogact``, ``armgym``) and
``load_mapping(name_or_path)`` reads either. Layout (every key is checked; an unknown one
raises :class:`~armgym.errors.UnknownNameError` naming the closest valid one)::

    name = "libero"
    control = "ee_delta"          # env control mode the actions are converted to ("" = any)
    arm_joints = 0                # required number of arm joints (0 = any)
    prompt = "prompt"             # observation key of the text prompt ("" = none)

    [[images]]                    # one per camera the policy reads
    key = "observation/image"     # or a list for a nested key: ["images", "cam_high"]
    camera = "front"              # armgym camera
    size = [224, 224]             # (height, width) [px] the policy takes
    resize = "pad"                # pad (keep aspect, zero-pad) | crop (centre) | stretch
    layout = "hwc"                # hwc | chw, uint8
    rotate = 0                    # counter-clockwise quarter turns x 90 [deg]: 0 90 180 270
    flip = ""                     # "" | "horizontal" | "vertical"

    [[state]]                     # one per state vector the policy reads, float32
    key = "observation/state"
    fields = ["ee_pos", "ee_axis_angle", "gripper_fingers"]   # see STATE_FIELDS
    pad_to = 0                    # zero-pad to this length (0 = no padding)

    [action]
    key = "actions"               # answer key: float32[H, D] (or [D])
    execute_steps = 5             # rows of each chunk executed before re-querying (0 = all)
    [[action.parts]]              # consecutive slices of the policy's action row, in order
    kind = "position_delta"       # see ACTION_KINDS
    size = 3
    scale = 0.05                  # policy unit -> SI unit (m, rad, rad/s); float or list

The seed's ``mapping_function(action, scale)`` is the per-part ``scale``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from armgym.errors import ConfigError, UnknownNameError
from armgym.registry import check_choice

#: State fields a mapping can ask for (robot base frame, SI units), with their sizes
#: (``None``: the arm's joint count).
STATE_FIELDS: dict[str, int | None] = {
    "joint_pos": None,  # arm joint positions [rad]
    "joint_vel": None,  # arm joint velocities [rad/s]
    "ee_pos": 3,  # tool centre point [m]
    "ee_quat_wxyz": 4,
    "ee_quat_xyzw": 4,
    "ee_axis_angle": 3,  # rotation vector [rad]
    "ee_euler_xyz": 3,  # extrinsic roll, pitch, yaw [rad]: R = Rz(yaw) Ry(pitch) Rx(roll)
    "gripper_open": 1,  # 1 = fully open, 0 = closed
    "gripper_closed": 1,  # 0 = fully open, 1 = closed (DROID's gripper_position)
    "gripper_fingers": 2,  # Panda-style finger joint positions [m]: (+w/2, -w/2), w <= 0.08
}

#: Action part kinds: what a slice of the policy's action row means.
ACTION_KINDS = (
    "position_delta",  # Δ tool position [m after scale], robot base frame -> ee_delta
    "rotation_delta",  # Δ tool orientation (``rotation``), base frame -> ee_delta
    "gripper",  # gripper command between ``open`` and ``closed`` values
    "joint_position",  # absolute arm joint targets [rad] -> joint_pos
    "joint_velocity",  # arm joint velocities [rad/s] -> joint_delta (x 1 / control rate)
    "joint_delta",  # arm joint increments [rad] -> joint_delta
    "native",  # armgym's own normalised action entries, passed through
    "ignore",  # dropped (e.g. the second arm of a bimanual policy)
)
ROTATIONS = ("euler_xyz", "axis_angle", "quat_xyzw", "quat_wxyz")
ROTATION_SIZES = {"euler_xyz": 3, "axis_angle": 3, "quat_xyzw": 4, "quat_wxyz": 4}
RESIZE_MODES = ("pad", "crop", "stretch")
LAYOUTS = ("hwc", "chw")
FLIPS = ("", "horizontal", "vertical")
PRESETS = ("libero", "droid", "aloha", "cogact", "armgym")

Key = tuple[str, ...]


def _key(value: Any, where: str) -> Key:
    parts = [value] if isinstance(value, str) else value
    if (
        not isinstance(parts, list | tuple)
        or not parts
        or not all(isinstance(p, str) and p for p in parts)
    ):
        raise ConfigError(f"{where}: key must be a non-empty string or list of strings")
    return tuple(parts)


def _fields(data: MappingABC[str, Any], where: str, valid: set[str]) -> dict[str, Any]:
    if not isinstance(data, MappingABC):
        raise ConfigError(f"{where} must be a table, got {type(data).__name__}")
    for k in data:
        if k not in valid:
            raise UnknownNameError(f"key in {where}", str(k), valid)
    return dict(data)


@dataclass(frozen=True)
class ImageSpec:
    """One camera image the policy reads: uint8, ``size`` = (height, width) [px]."""

    key: Key
    camera: str
    size: tuple[int, int] = (224, 224)
    resize: str = "pad"
    layout: str = "hwc"
    rotate: int = 0
    flip: str = ""

    @classmethod
    def parse(cls, data: Any, where: str) -> ImageSpec:
        kw = _fields(data, where, {"key", "camera", "size", "resize", "layout", "rotate", "flip"})
        size = tuple(kw.get("size", (224, 224)))
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ConfigError(f"{where}: size must be [height, width] in pixels, got {size!r}")
        rotate = kw.get("rotate", 0)
        if rotate not in (0, 90, 180, 270):
            raise ConfigError(f"{where}: rotate must be 0, 90, 180 or 270, got {rotate!r}")
        return cls(
            key=_key(kw.get("key"), where),
            camera=str(kw.get("camera", "front")),
            size=(int(size[0]), int(size[1])),
            resize=check_choice(f"{where} resize", kw.get("resize", "pad"), RESIZE_MODES),
            layout=check_choice(f"{where} layout", kw.get("layout", "hwc"), LAYOUTS),
            rotate=int(rotate),
            flip=check_choice(f"{where} flip", kw.get("flip", ""), FLIPS),
        )


@dataclass(frozen=True)
class StateSpec:
    """One float32 state vector: ``fields`` concatenated, zero-padded to ``pad_to``."""

    key: Key
    fields: tuple[str, ...]
    pad_to: int = 0

    @classmethod
    def parse(cls, data: Any, where: str) -> StateSpec:
        kw = _fields(data, where, {"key", "fields", "pad_to"})
        names = kw.get("fields") or []
        for name in names:
            if name not in STATE_FIELDS:
                raise UnknownNameError(f"state field in {where}", str(name), STATE_FIELDS)
        if not names:
            raise ConfigError(f"{where}: fields must list at least one of {list(STATE_FIELDS)}")
        return cls(_key(kw.get("key"), where), tuple(names), int(kw.get("pad_to", 0)))


@dataclass(frozen=True)
class ActionPart:
    """A slice of the policy's action row (``size`` entries) and what it means."""

    kind: str
    size: int = 0
    scale: tuple[float, ...] = (1.0,)
    rotation: str = "axis_angle"
    open: float = 1.0
    closed: float = -1.0
    binarize: bool = False

    @classmethod
    def parse(cls, data: Any, where: str) -> ActionPart:
        valid = {"kind", "size", "scale", "rotation", "open", "closed", "binarize"}
        kw = _fields(data, where, valid)
        kind = check_choice(f"{where} kind", str(kw.get("kind", "")), ACTION_KINDS)
        rotation = check_choice(f"{where} rotation", kw.get("rotation", "axis_angle"), ROTATIONS)
        default = {"position_delta": 3, "rotation_delta": ROTATION_SIZES[rotation], "gripper": 1}
        size = int(kw.get("size", default.get(kind, 0)))
        if kind == "rotation_delta" and size != ROTATION_SIZES[rotation]:
            raise ConfigError(f"{where}: a {rotation} rotation has {ROTATION_SIZES[rotation]} "
                              f"entries, size says {size}")  # fmt: skip
        raw = kw.get("scale", 1.0)
        scale = tuple(float(s) for s in (raw if isinstance(raw, list | tuple) else [raw]))
        if len(scale) not in (1, size) and size:
            raise ConfigError(f"{where}: scale has {len(scale)} entries, size is {size}")
        part = cls(kind, size, scale, rotation, float(kw.get("open", 1.0)),
                   float(kw.get("closed", -1.0)), bool(kw.get("binarize", False)))  # fmt: skip
        if kind == "gripper" and part.open == part.closed:
            raise ConfigError(f"{where}: gripper open and closed values must differ")
        return part


@dataclass(frozen=True)
class ActionSpec:
    """How the policy's answer becomes env actions."""

    key: str = "actions"
    execute_steps: int = 0
    parts: tuple[ActionPart, ...] = (ActionPart("native"),)

    @property
    def dim(self) -> int:
        """Entries of one policy action row (0: whatever the env's action size is)."""
        return 0 if any(p.size == 0 for p in self.parts) else sum(p.size for p in self.parts)

    @classmethod
    def parse(cls, data: Any, where: str) -> ActionSpec:
        kw = _fields(data, where, {"key", "execute_steps", "parts"})
        parts = tuple(
            ActionPart.parse(p, f"{where}.parts[{i}]") for i, p in enumerate(kw.get("parts", []))
        ) or (ActionPart("native"),)
        if sum(p.size == 0 for p in parts) > (1 if len(parts) == 1 else 0):
            raise ConfigError(f"{where}: only a single 'native' part may leave its size out")
        steps = int(kw.get("execute_steps", 0))
        if steps < 0:
            raise ConfigError(f"{where}: execute_steps must be >= 0 (0 = whole chunk)")
        return cls(str(kw.get("key", "actions")), steps, parts)


@dataclass(frozen=True)
class Mapping:
    """An observation + action mapping (see the module docstring for the file layout)."""

    name: str
    control: str = ""
    arm_joints: int = 0
    prompt: str = ""
    images: tuple[ImageSpec, ...] = ()
    state: tuple[StateSpec, ...] = ()
    passthrough: bool = False
    action: ActionSpec = field(default_factory=ActionSpec)
    description: str = ""

    @classmethod
    def from_dict(cls, data: Any, source: str = "mapping") -> Mapping:
        valid = {"name", "control", "arm_joints", "prompt", "images", "state", "passthrough",
                 "action", "description"}  # fmt: skip
        kw = _fields(data, source, valid)
        control = str(kw.get("control", ""))
        if control:
            from armgym.robots.controllers import CONTROL_MODES

            check_choice(f"{source} control", control, CONTROL_MODES)
        return cls(
            name=str(kw.get("name", Path(source).stem)),
            control=control,
            arm_joints=int(kw.get("arm_joints", 0)),
            prompt=str(kw.get("prompt", "")),
            images=tuple(
                ImageSpec.parse(d, f"{source} images[{i}]")
                for i, d in enumerate(kw.get("images", []))
            ),
            state=tuple(
                StateSpec.parse(d, f"{source} state[{i}]")
                for i, d in enumerate(kw.get("state", []))
            ),
            passthrough=bool(kw.get("passthrough", False)),
            action=ActionSpec.parse(kw.get("action", {}), f"{source} action"),
            description=str(kw.get("description", "")),
        )


def _parse_text(text: str, source: str) -> Any:
    if source.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def load_mapping(name_or_path: str | Path) -> Mapping:
    """A preset by name (``PRESETS``) or a user's ``.toml`` / ``.json`` file.

    Raises:
        UnknownNameError: neither a preset nor an existing file (names the closest preset).
        ConfigError: the file does not parse or a value is out of range.
    """
    text_name = str(name_or_path)
    path = Path(text_name)
    if path.suffix in (".toml", ".json") and path.is_file():
        return Mapping.from_dict(_parse_text(path.read_text(), str(path)), str(path))
    if path.suffix in (".toml", ".json"):
        raise ConfigError(f"mapping file {path} does not exist; give a preset ({', '.join(PRESETS)}) "
                          "or the path of a .toml/.json mapping")  # fmt: skip
    name = text_name.lower()
    if name not in PRESETS:
        raise UnknownNameError("mapping preset", text_name, PRESETS)
    text = resources.files("armgym.mappings.presets").joinpath(f"{name}.toml").read_text()
    return Mapping.from_dict(_parse_text(text, f"{name}.toml"), f"preset {name}")
