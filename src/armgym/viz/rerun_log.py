"""rerun recordings (``.rrd``) of datasets and live envs: cameras, joint states, the
end-effector trajectory, actions, rewards — what ``armgym view --rerun``, ``armgym collect
--rerun`` and ``armgym show --rerun`` write (:func:`log_dataset`; :class:`EpisodeRecording`
for an env stepped live). Open one with ``rerun FILE.rrd`` (``pip install armgym[viz]``).

Entities (every vector dimension named as in the dataset's ``info.json``):

===================================  ==========================================
``cameras/<camera>``                 image per frame (uint8 RGB)
``state/<group>/<name>``             ``observation.state`` scalars (``state/joint_pos/joint1`` [rad] …)
``object/<name>``                    ``observation.environment_state`` scalars
``action/<name>``                    ``action`` scalars (``action/dx`` …)
``reward``, ``success``, ``episode`` scalars
``world/ee``                         end-effector position (Points3D) per frame [m, robot base frame]
``world/ee_trajectory/episode_<i>``  the whole episode's EE path (LineStrips3D)
===================================  ==========================================

Timelines: ``index`` (the dataset's global frame index, episodes one after another),
``frame_index`` (per episode) and ``time`` (``index / fps`` seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from armgym.errors import ConfigError

SCALAR_ROOTS = {
    "observation.state": "state",
    "observation.environment_state": "object",
    "action": "action",
}


def require_rerun() -> None:
    """Raise :class:`ConfigError` (saying what to install) when rerun-sdk is missing."""
    _rerun()


def _rerun() -> Any:
    try:
        import rerun as rr
    except ImportError as exc:
        raise ConfigError(
            "--rerun needs the rerun SDK: pip install 'armgym[viz]' (or rerun-sdk)"
        ) from exc
    return rr


def grpc_url(target: str) -> str:
    """A running rerun viewer's address: a port (``9876``) or ``host:port`` ->
    ``rerun+http://HOST:PORT/proxy``; a ``rerun+http(s)://…`` / ``rerun://…`` URL as given."""
    target = str(target).strip()
    if target.startswith(("rerun://", "rerun+http://", "rerun+https://")):
        return target
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        raise ConfigError(
            f"--rerun-connect {target!r}: give the port of a running `rerun` (e.g. 9876), "
            "host:port, or a rerun+http://HOST:PORT/proxy URL"
        )
    return f"rerun+http://{host or '127.0.0.1'}:{port}/proxy"


def open_stream(recording_id: str, path: Path | None, connect: str | None = None) -> Any:
    """A rerun ``RecordingStream`` that saves to ``path`` or, with ``connect``, streams to
    the running viewer there (:func:`grpc_url`)."""
    rr = _rerun()
    rec = rr.RecordingStream("armgym", recording_id=recording_id)
    if connect is not None:
        rec.connect_grpc(grpc_url(connect))
    elif path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        rec.save(str(path))
    else:
        raise ConfigError("a rerun recording needs a file or --rerun-connect")
    return rec


def _entity(root: str, name: str) -> str:
    """``state`` + ``joint_pos.joint1`` -> ``state/joint_pos/joint1``."""
    return f"{root}/{name.replace('.', '/')}"


def log_episode(
    rec: Any,
    ep: Mapping[str, Any],
    names: Mapping[str, list[str] | None],
    *,
    fps: float,
    episode: int,
    start_index: int,
) -> None:
    """Log one episode (``ep``: key -> [T, ...] arrays, as ``LeRobotReader.episode``)."""
    rr = _rerun()
    length = len(next(iter(v for v in ep.values() if hasattr(v, "__len__"))))
    index = np.arange(start_index, start_index + length)
    times = [
        rr.TimeColumn("index", sequence=index),
        rr.TimeColumn("frame_index", sequence=np.arange(length)),
        rr.TimeColumn("time", duration=index / fps),
    ]
    scalars: dict[str, np.ndarray] = {"episode": np.full(length, float(episode))}
    for key, root in SCALAR_ROOTS.items():
        if key not in ep:
            continue
        values = np.asarray(ep[key], np.float64).reshape(length, -1)
        labels = names.get(key) or [f"s{i}" for i in range(values.shape[1])]
        scalars.update({_entity(root, n): values[:, i] for i, n in enumerate(labels)})
    for key, path in (("next.reward", "reward"), ("next.success", "success")):
        if key in ep:
            scalars[path] = np.asarray(ep[key], np.float64).reshape(-1)
    for path, column in scalars.items():
        rec.send_columns(path, indexes=times, columns=rr.Scalars.columns(scalars=column))
    ee = _ee_positions(ep, names.get("observation.state"))
    if ee is not None:
        rec.send_columns("world/ee", indexes=times, columns=rr.Points3D.columns(positions=ee))
        rec.log(f"world/ee_trajectory/episode_{episode}", rr.LineStrips3D([ee]), static=True)
    for key, frames in ep.items():
        if key.startswith("observation.images."):
            cam = key.removeprefix("observation.images.")
            for i, frame in enumerate(frames):
                rec.set_time("index", sequence=int(index[i]))
                rec.set_time("frame_index", sequence=i)
                rec.set_time("time", duration=float(index[i]) / fps)
                rec.log(f"cameras/{cam}", rr.Image(np.asarray(frame)))


def _ee_positions(ep: Mapping[str, Any], names: list[str] | None) -> np.ndarray | None:
    if not names or "observation.state" not in ep or "ee_pos.x" not in names:
        return None
    i = names.index("ee_pos.x")
    return np.asarray(ep["observation.state"], np.float64)[:, i : i + 3]


def log_dataset(
    reader: Any,
    path: Path,
    max_episodes: int | None = None,
    first_episode: int = 0,
    connect: str | None = None,
) -> Path | str:
    """Write episodes ``first_episode …`` (at most ``max_episodes``) of a ``LeRobotReader``
    to the rerun recording ``path`` (or stream them to the viewer at ``connect``); return
    where they went."""
    path = Path(path)
    rec = open_stream(f"armgym:{reader.root.name}", path, connect)
    names = {k: reader.names(k) for k in SCALAR_ROOTS if k in reader.features}
    episodes = reader.episodes[first_episode:]
    for info in episodes[:max_episodes] if max_episodes is not None else episodes:
        ep = reader.episode(info.index)
        log_episode(rec, ep, names, fps=reader.fps, episode=info.index,
                    start_index=info.from_index)  # fmt: skip
    rec.flush()
    rec.disconnect()
    return grpc_url(connect) if connect is not None else path


class EpisodeRecording:
    """A rerun recording of a live env, written an episode at a time with the same
    entities as a dataset's (:func:`log_episode`).

    Args:
        path: the ``.rrd`` file (parent folders are created), or None with ``connect``.
        names: feature key -> dimension names (the env's ``feature_names()``).
        fps: control rate [Hz] (the ``time`` timeline).
        connect: stream to the running rerun viewer there instead (:func:`grpc_url`).

    ``add(obs, action, reward, success)`` after each env step (``obs`` the observation the
    action was taken in, LeRobot keys); ``end_episode()`` writes the buffered steps;
    ``close()`` ends the last episode and closes the file.
    """

    def __init__(
        self,
        path: Path | None,
        names: Mapping[str, list[str]],
        fps: float,
        connect: str | None = None,
    ):
        self.where: Path | str = grpc_url(connect) if connect is not None else Path(str(path))
        self.rec = open_stream(f"armgym:live:{id(self)}", path, connect)
        self.names: dict[str, list[str] | None] = {k: list(v) for k, v in names.items()}
        self.fps, self.episode, self.index = float(fps), 0, 0
        self.steps: dict[str, list[Any]] = {}

    def add(self, obs: Mapping[str, Any], action: Any, reward: float, success: bool) -> None:
        """Buffer one step of the current episode."""
        row = {
            k: v for k, v in obs.items() if k in SCALAR_ROOTS or k.startswith("observation.images.")
        }
        row |= {"action": action, "next.reward": reward, "next.success": float(success)}
        for key, value in row.items():
            self.steps.setdefault(key, []).append(np.asarray(value))

    def end_episode(self) -> None:
        """Write the buffered episode (if any) and start the next."""
        if not self.steps:
            return
        ep = {k: np.stack(v) for k, v in self.steps.items()}
        log_episode(self.rec, ep, self.names, fps=self.fps, episode=self.episode,
                    start_index=self.index)  # fmt: skip
        self.index += len(ep["action"])
        self.episode, self.steps = self.episode + 1, {}

    def close(self) -> Path | str:
        """Write the last episode, flush and close; return the file (or the viewer's URL)."""
        self.end_episode()
        self.rec.flush()
        self.rec.disconnect()
        return self.where
