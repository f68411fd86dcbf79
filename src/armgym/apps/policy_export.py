"""Exports in a generalist policy's own convention, for fine-tuning it on armgym data.

Each armgym episode is re-expressed through a mapping (``armgym.mappings``): images
prepared as the policy receives them, state vectors built from ``observation.state``, and
actions converted from armgym's normalised ``ee_delta`` back into the policy's units
(``ActionConverter.inverse``), so data collected in armgym trains the same policy that a
mapped ``armgym run`` drives.

* ``openvla`` (RLDS, for CogACT / OpenVLA fine-tuning): ``steps/observation/image``
  (front camera, uint8 224x224x3), ``steps/observation/wrist_image`` (if recorded),
  ``steps/observation/state`` (armgym's ``observation.state``), ``steps/action`` float32[7]
  = [dx, dy, dz [m], droll, dpitch, dyaw [rad, extrinsic x-y-z Euler], gripper (1 = open,
  0 = closed)] (the ``cogact`` mapping), ``steps/language_instruction``.
* ``libero`` (LeRobot, the keys openpi's ``convert_libero_data_to_lerobot.py`` writes):
  ``image``, ``wrist_image`` (uint8 224x224x3), ``state`` float32[8] = [eef pos, eef
  axis-angle, finger positions], ``actions`` float32[7] = LIBERO's delta convention (the
  ``libero`` mapping: x 0.05 m, x 0.5 rad, gripper -1 open / +1 close), task = instruction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from armgym.contracts.observation import IMAGE_PREFIX, STATE_KEY, image_key
from armgym.data import lerobot_format as fmt
from armgym.data.reader import LeRobotReader
from armgym.errors import DatasetError
from armgym.mappings import EnvFacts, MappedPolicy, Mapping, load_mapping
from armgym.mappings.spec import ImageSpec

#: openpi's LeRobot LIBERO keys, from the ``libero`` mapping's keys
LIBERO_KEYS = {"observation/image": "image", "observation/wrist_image": "wrist_image",
               "observation/state": "state"}  # fmt: skip


def dataset_facts(reader: LeRobotReader) -> EnvFacts:
    """Facts of the env a dataset was recorded in (builds it once from meta/armgym.json).

    Raises:
        DatasetError: no env config stored, or not recorded with ``ee_delta`` actions.
    """
    from armgym.envs import EnvConfig, make_env

    stored = reader.env_config()
    if stored is None:
        raise DatasetError(f"{reader.root}: no meta/armgym.json; cannot tell the action units")
    cfg = EnvConfig.from_dict({**stored, "obs": "state", "robot_server": None})
    if cfg.control != "ee_delta":
        raise DatasetError(f"{reader.root}: recorded with control {cfg.control!r}; policy "
                           "exports need ee_delta (end-effector delta) actions")  # fmt: skip
    env = make_env(cfg)
    try:
        facts = EnvFacts.of(env)
    finally:
        env.close()
    return facts


class EpisodeMapper:
    """One recorded episode -> per-step policy inputs and policy-convention actions."""

    def __init__(self, reader: LeRobotReader, mapping: Mapping):
        cams = {k.removeprefix(IMAGE_PREFIX) for k in reader.video_keys}
        images = tuple(i for i in mapping.images if i.camera in cams)
        if len(images) < len(mapping.images) and not any(i.camera == "front" for i in images):
            raise DatasetError(f"{reader.root}: has cameras {sorted(cams) or 'none'}; the "
                               f"{mapping.name} export needs {[i.camera for i in mapping.images]}"
                               " (record with --obs pixels or both)")  # fmt: skip
        self.mapping = replace(mapping, images=images)
        self.facts = dataset_facts(reader)
        self.policy = MappedPolicy(self.mapping, self.facts, inner=None)

    def frames(self, ep: dict[str, Any]) -> Iterator[tuple[dict[str, Any], np.ndarray, str]]:
        """(policy input, policy-convention action, instruction) per step."""
        actions = self.policy.convert.inverse(ep["action"])
        tasks = ep.get("task") or [""] * len(actions)
        for t in range(len(actions)):
            obs: dict[str, Any] = {STATE_KEY: ep[STATE_KEY][t], "task": tasks[t] or "do the task"}
            for img in self.mapping.images:
                obs[image_key(img.camera)] = ep[image_key(img.camera)][t]
            yield self.policy.policy_input(obs), actions[t], tasks[t]


def openvla_mapping(reader: LeRobotReader) -> Mapping:
    """The ``cogact`` mapping, plus the wrist camera as ``wrist_image`` when recorded."""
    base = load_mapping("cogact")
    if image_key("wrist") in reader.video_keys:
        wrist = ImageSpec(("wrist_image",), "wrist", base.images[0].size)
        base = replace(base, images=(*base.images, wrist))
    return base


def openvla_episode(mapper: EpisodeMapper, ep: dict[str, Any]) -> dict[str, Any]:
    """An episode as ``rlds.episode_example`` takes it, in OpenVLA's layout (module doc)."""
    rows = list(mapper.frames(ep))
    out: dict[str, Any] = {
        "action": np.stack([a for _, a, _ in rows]),
        "task": [t for _, _, t in rows],
        STATE_KEY: ep[STATE_KEY],
    }
    for key in ("next.success", "next.reward"):
        if key in ep:
            out[key] = ep[key]
    for img in mapper.mapping.images:
        out[f"observation.images.{img.key[0]}"] = np.stack([p[img.key[0]] for p, _, _ in rows])
    return out


def export_libero_lerobot(reader: LeRobotReader, out: Path, *, overwrite: bool = False) -> Path:
    """Write ``reader``'s episodes as a LeRobot dataset with openpi's LIBERO keys at ``out``."""
    from armgym.data.writer import LeRobotWriter

    mapper = EpisodeMapper(reader, load_mapping("libero"))
    if len(mapper.mapping.images) < 2:
        raise DatasetError(f"{reader.root}: the libero export needs the front and wrist cameras")
    features: dict[str, Any] = {
        "image": fmt.video_feature(224, 224, reader.fps),
        "wrist_image": fmt.video_feature(224, 224, reader.fps),
        "state": fmt.vector_feature(8),
        "actions": fmt.vector_feature(7, fmt.ACTION_NAMES),
    }
    writer = LeRobotWriter(out, features, reader.fps, robot_type="panda", overwrite=overwrite)
    try:
        for k in range(reader.num_episodes):
            for inp, action, task in mapper.frames(reader.episode(k)):
                frame = {
                    LIBERO_KEYS[key]: value for key, value in inp.items() if key in LIBERO_KEYS
                }
                writer.add_frame({**frame, "actions": action}, task=task)
            writer.save_episode()
    finally:
        writer.close()
    return out
