"""``LeRobotWriter``: record episodes into a LeRobot v3.0 dataset, crash-safely.

Every finished episode is committed on its own: its data parquet, its videos and its
``meta/episodes`` row go to per-episode files (``file_index = episode_index mod
chunks_size``), each written to a temp name, fsync'd and atomically renamed; then
``meta/tasks.parquet``, ``meta/stats.json`` and finally ``meta/info.json`` (the commit
point) are replaced atomically. The folder is a valid dataset after every episode, so a
process killed in episode 3 leaves episodes 0-1 readable; the next ``LeRobotWriter`` on the
folder drops whatever episode 3 left behind (files with an index >= ``total_episodes``,
``*.tmp``, ``*.partial``) and appends after episode 1.

Usage::

    with LeRobotWriter(root, features, fps=10) as w:
        for t in range(T):
            w.add_frame({"observation.state": s, "action": a, "observation.images.front": img},
                        task="pick up the cube")
        w.save_episode()
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from armgym.data import _io
from armgym.data import lerobot_format as fmt
from armgym.data import stats as st
from armgym.data.episodes_table import episode_row, episode_table
from armgym.data.video import CODECS, VideoEncoder
from armgym.errors import DatasetError

PARTIAL_SUFFIX = ".partial"
_FILE_RE = re.compile(r"chunk-(\d+)/file-(\d+)\.(parquet|mp4)$")


class LeRobotWriter:
    """Append episodes to a LeRobot v3.0 dataset folder.

    Args:
        root: dataset folder (created if absent; appended to if it holds a dataset).
        features: ``{key: feature}`` for the recorded keys (see ``lerobot_format``); the
            bookkeeping columns (timestamp, index, ...) are added automatically.
        fps: control / frame rate in Hz; frame ``i`` gets ``timestamp = i / fps`` seconds.
        robot_type: free text stored in info.json.
        vcodec: PyAV encoder for video features (``libsvtav1`` = lerobot's AV1, ``libx264``).
        overwrite: delete an existing dataset at ``root`` instead of appending to it.
        env_config: ``gymnasium.make`` arguments of the recording env, saved to
            ``meta/armgym.json`` (lerobot ignores it) so ``armgym replay`` can rebuild it.
    """

    def __init__(
        self,
        root: str | Path,
        features: Mapping[str, Mapping[str, Any]],
        fps: float,
        *,
        robot_type: str | None = None,
        vcodec: str = "libsvtav1",
        overwrite: bool = False,
        chunks_size: int = fmt.DEFAULT_CHUNKS_SIZE,
        env_config: Mapping[str, Any] | None = None,
    ):
        if vcodec not in CODECS:
            raise DatasetError(f"unknown video codec {vcodec!r}; use one of {sorted(CODECS)}.")
        self.root = Path(root)
        self.fps, self.vcodec = float(fps), vcodec
        codec_name = CODECS[vcodec][0]
        feats = {
            k: (
                {**f, "info": {**f.get("info", {}), "video.codec": codec_name}}
                if fmt.is_video(f)
                else f
            )
            for k, f in features.items()
        }
        self.features = fmt.with_default_features(feats)
        self.user_keys = [k for k in self.features if k not in fmt.DEFAULT_FEATURES]
        self.video_keys = [k for k in self.user_keys if fmt.is_video(self.features[k])]
        if overwrite and (self.root / fmt.INFO_PATH).exists():
            _remove_dataset(self.root)
        self.tasks: list[str] = []
        self.episode_stats = st.RunningStats()
        self.total_episodes = self.total_frames = 0
        self.chunks_size = chunks_size
        if (self.root / fmt.INFO_PATH).exists():
            self._open_existing(robot_type)
        else:
            self.info = fmt.make_info(
                self.features, self.fps, robot_type=robot_type, chunks_size=chunks_size
            )
            _io.write_json_atomic(self.root / fmt.INFO_PATH, self.info)
        if env_config is not None:
            _io.write_json_atomic(self.root / fmt.ARMGYM_META_PATH, {"env": dict(env_config)})
        self.recovered_files = drop_uncommitted(self.root, self.total_episodes, self.chunks_size)
        self._reset_buffers()

    # ------------------------------------------------------------------ recording
    @property
    def num_frames(self) -> int:
        """Frames in the episode being recorded."""
        return len(self._task_index)

    def add_frame(self, frame: Mapping[str, Any], task: str) -> None:
        """Add one frame: ``frame[key]`` for every recorded feature (vectors ``[D]``,
        images ``uint8[H, W, 3]``); ``task`` is the language instruction."""
        missing = [k for k in self.user_keys if k not in frame]
        if missing:
            raise DatasetError(f"{self.root}: frame lacks features {missing} declared at creation.")
        for key in self.user_keys:
            feat = self.features[key]
            if key in self.video_keys:
                self._add_image(key, np.asarray(frame[key]))
                continue
            value = np.array(frame[key], dtype=feat["dtype"], copy=True).reshape(-1)  # own it
            if value.shape[0] != feat["shape"][0]:
                raise DatasetError(
                    f"{self.root}: feature {key!r} expects shape {feat['shape']}, "
                    f"got {list(np.shape(frame[key]))}."
                )
            self._columns[key].append(value)
        if task not in self.tasks:
            self.tasks.append(task)
        self._task_index.append(self.tasks.index(task))

    def _add_image(self, key: str, image: np.ndarray) -> None:
        enc = self._encoders.get(key)
        if enc is None:
            h, w, _ = self.features[key]["shape"]
            path = self._video_path(key, self.total_episodes)
            enc = VideoEncoder(
                path.with_name(path.name + PARTIAL_SUFFIX), h, w, self.fps, self.vcodec
            )
            self._encoders[key] = enc
        enc.add(image)
        self._image_samples[key].append(st.image_sample(image))

    def discard_episode(self) -> None:
        """Drop the episode being recorded (nothing of it reaches the dataset)."""
        for enc in self._encoders.values():
            enc.close()
            enc.path.unlink(missing_ok=True)
        self.tasks = self.tasks[: self._tasks_committed]
        self._reset_buffers()

    def save_episode(self, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Commit the recorded frames as the next episode; returns its meta row.

        ``extras`` fills the ``armgym/*`` episode columns (success, return, seed, timing).
        """
        n = self.num_frames
        if n == 0:
            raise DatasetError(f"{self.root}: save_episode() called with no frames recorded.")
        ep = self.total_episodes
        columns = self._episode_columns(ep, n)
        ep_stats = {k: st.vector_stats(columns[k]) for k in columns}
        for key in self.video_keys:
            enc = self._encoders[key]
            enc.close()
            if enc.count != n:
                raise DatasetError(f"{enc.path}: {enc.count} video frames for {n} data frames.")
            _io.commit(enc.path, self._video_path(key, ep))
            ep_stats[key] = st.episode_image_stats(self._image_samples[key])
        chunk, file = fmt.chunk_file(ep, self.chunks_size)
        data_path = self.root / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
        _io.write_parquet_atomic(data_path, fmt.frame_columns(self.features, columns))
        row = self._episode_row(ep, n, columns["task_index"], ep_stats, extras or {})
        ep_path = self.root / fmt.EPISODES_PATH.format(chunk_index=chunk, file_index=file)
        _io.write_parquet_atomic(ep_path, episode_table([row], self.features))
        if len(self.tasks) != self._tasks_committed:
            _io.write_parquet_atomic(self.root / fmt.TASKS_PATH, fmt.tasks_table(self.tasks))
        self.episode_stats.add_episode(ep_stats)
        _io.write_json_atomic(self.root / fmt.STATS_PATH, st.to_json(self.episode_stats.value))
        self.total_episodes, self.total_frames = ep + 1, self.total_frames + n
        self._write_info()  # commit point
        self._reset_buffers()
        return row

    def close(self) -> None:
        """Discard an unfinished episode and release encoders. The dataset stays valid."""
        if self._encoders or self.num_frames:
            self.discard_episode()

    def __enter__(self) -> LeRobotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _reset_buffers(self) -> None:
        self._columns: dict[str, list[np.ndarray]] = {
            k: [] for k in self.user_keys if k not in self.video_keys
        }
        self._task_index: list[int] = []
        self._encoders: dict[str, VideoEncoder] = {}
        self._image_samples: dict[str, list[np.ndarray]] = {k: [] for k in self.video_keys}
        self._tasks_committed = len(self.tasks)

    def _video_path(self, key: str, ep: int) -> Path:
        chunk, file = fmt.chunk_file(ep, self.chunks_size)
        return self.root / fmt.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)

    def _episode_columns(self, ep: int, n: int) -> dict[str, np.ndarray]:
        cols = {k: np.stack(v) for k, v in self._columns.items()}
        frame_index = np.arange(n, dtype=np.int64)
        cols["timestamp"] = (frame_index / self.fps).astype(np.float32)
        cols["frame_index"] = frame_index
        cols["episode_index"] = np.full(n, ep, dtype=np.int64)
        cols["index"] = self.total_frames + frame_index
        cols["task_index"] = np.asarray(self._task_index, dtype=np.int64)
        return cols

    def _episode_row(
        self,
        ep: int,
        n: int,
        task_index: np.ndarray,
        ep_stats: Mapping[str, st.Stats],
        extras: Mapping[str, Any],
    ) -> dict:
        chunk, file = fmt.chunk_file(ep, self.chunks_size)
        used = sorted(set(task_index.tolist()))
        return episode_row(
            ep,
            n,
            [self.tasks[i] for i in used],
            self.total_frames,
            self.features,
            ep_stats,
            extras,
            fps=self.fps,
            location=(chunk, file),
        )

    def _write_info(self) -> None:
        self.info.update(
            total_episodes=self.total_episodes,
            total_frames=self.total_frames,
            total_tasks=len(self.tasks),
            splits={"train": f"0:{self.total_episodes}"},
        )
        _io.write_json_atomic(self.root / fmt.INFO_PATH, self.info)

    def _open_existing(self, robot_type: str | None) -> None:
        info = fmt.load_info(self.root)
        path = self.root / fmt.INFO_PATH
        if info["codebase_version"] != fmt.CODEBASE_VERSION:
            raise DatasetError(
                f"{path}: can only append to {fmt.CODEBASE_VERSION} datasets, "
                f"this is {info['codebase_version']}; use a new --out folder."
            )
        old = {k: (f["dtype"], list(f["shape"])) for k, f in info["features"].items()}
        new = {k: (f["dtype"], list(f["shape"])) for k, f in self.features.items()}
        if old != new or float(info["fps"]) != self.fps:
            raise DatasetError(
                f"{path}: existing dataset has fps={info['fps']} and features "
                f"{old}; this recording has fps={self.fps} and {new}. Use a "
                "new --out folder (or overwrite=True)."
            )
        self.info, self.chunks_size = info, int(info.get("chunks_size", self.chunks_size))
        self.total_episodes = int(info["total_episodes"])
        self.total_frames = int(info["total_frames"])
        n_tasks = int(info.get("total_tasks", 0))
        if n_tasks:
            tasks = _read_parquet(self.root / fmt.TASKS_PATH)
            self.tasks = [str(t) for t in tasks.column("__index_level_0__").to_pylist()][:n_tasks]
        for ep in range(self.total_episodes):
            self.episode_stats.add_episode(self._committed_episode_stats(ep))

    def _committed_episode_stats(self, ep: int) -> dict[str, st.Stats]:
        chunk, file = fmt.chunk_file(ep, self.chunks_size)
        path = self.root / fmt.EPISODES_PATH.format(chunk_index=chunk, file_index=file)
        table = _read_parquet(path)
        row = table.slice(0, 1).to_pylist()[0] if table.num_rows == 1 else None
        if row is None or row.get("episode_index") != ep:
            raise DatasetError(
                f"{path}: expected one row for episode {ep}; appending is only "
                "supported to datasets armgym wrote (one file per episode)."
            )
        out: dict[str, st.Stats] = {}
        for key in self.features:
            out[key] = {
                sk: np.asarray(row[f"stats/{key}/{sk}"])
                for sk in st.STAT_KEYS
                if f"stats/{key}/{sk}" in row
            }
        return out


def drop_uncommitted(root: Path, total_episodes: int, chunks_size: int) -> list[Path]:
    """Delete what an interrupted episode left in ``root``: ``*.tmp`` / ``*.partial`` files
    and per-episode files whose episode index is >= ``total_episodes`` (info.json's count,
    the commit point). Returns the deleted paths."""
    dropped: list[Path] = []
    for sub in ("data", "videos", "meta/episodes", "meta"):
        base = root / sub
        if not base.is_dir():
            continue
        for path in base.rglob("*") if sub != "meta" else base.glob("*"):
            if not path.is_file():
                continue
            if path.name.endswith((_io.TMP_SUFFIX, PARTIAL_SUFFIX)):
                dropped.append(path)
                continue
            m = _FILE_RE.search(path.as_posix())
            if m and sub != "meta":
                ep = int(m.group(1)) * chunks_size + int(m.group(2))
                if ep >= total_episodes:
                    dropped.append(path)
    for path in dropped:
        path.unlink(missing_ok=True)
    return dropped


def recover(root: str | Path) -> list[Path]:
    """Make a dataset armgym was writing when it died consistent again (also for lerobot,
    which reads every file under data/ and meta/episodes/). Returns the deleted files."""
    info = fmt.load_info(Path(root))
    return drop_uncommitted(
        Path(root),
        int(info["total_episodes"]),
        int(info.get("chunks_size", fmt.DEFAULT_CHUNKS_SIZE)),
    )


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(
            f"{path}: unreadable parquet ({exc}); the file is truncated or corrupt."
        ) from exc


def _remove_dataset(root: Path) -> None:
    import shutil

    for sub in ("meta", "data", "videos"):
        shutil.rmtree(root / sub, ignore_errors=True)
