"""Read LeRobot datasets (format v3.0, and v2.1/v2.0) into numpy, without lerobot.

``LeRobotReader(root)`` exposes ``info``, ``fps``, ``features``, ``tasks`` (task strings by
task_index), ``episodes`` (``EpisodeInfo`` boundaries) and:

* ``episode(k)`` -> ``{key: array}``: vectors ``[T, D]`` (scalars ``[T]``), videos decoded
  to ``uint8[T, H, W, 3]``, plus ``"task"`` (list of T strings);
* ``columns()`` -> every non-video column over the whole dataset, in ``index`` order.

Anything malformed raises ``DatasetError`` naming the offending file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from armgym.data import lerobot_format as fmt
from armgym.data.video import decode_segment
from armgym.errors import DatasetError


@dataclass(frozen=True)
class EpisodeInfo:
    """One episode: frames ``from_index <= index < to_index`` of the dataset.

    ``videos[key] = (mp4 path, from_timestamp seconds)``; ``extras`` holds the remaining
    episode metadata columns (armgym's timing/success columns where present).
    """

    index: int
    length: int
    tasks: list[str]
    from_index: int
    to_index: int
    data_file: Path
    videos: dict[str, tuple[Path, float]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


def read_table(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """pq.read_table with a DatasetError that names the file."""
    if not path.is_file():
        raise DatasetError(
            f"{path}: file missing; the dataset is incomplete (restore the file or re-record)."
        )
    try:
        return pq.read_table(path, columns=list(columns) if columns else None)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(
            f"{path}: unreadable parquet ({exc}); the file is truncated or "
            "corrupt, restore or re-record it."
        ) from exc


def column_to_numpy(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Arrow column -> numpy: scalars [N], (fixed-size) lists [N, D]."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if (
        pa.types.is_list(col.type)
        or pa.types.is_fixed_size_list(col.type)
        or pa.types.is_large_list(col.type)
    ):
        n = len(col)
        flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
        return flat.reshape(n, -1) if n else flat.reshape(0, 0)
    return col.to_numpy(zero_copy_only=False)


class LeRobotReader:
    """Open a LeRobot dataset folder (v3.0 or v2.1) for reading. See module docstring."""

    def __init__(self, root: str | Path):
        self.root = fmt.find_dataset_root(root)
        self.info = fmt.load_info(self.root)
        self.version: str = self.info["codebase_version"]
        self.fps = float(self.info["fps"])
        self.features: dict[str, dict] = self.info["features"]
        self.video_keys = [k for k, f in self.features.items() if fmt.is_video(f)]
        self.vector_keys = [k for k in self.features if k not in self.video_keys]
        if self.version == "v3.0":
            self.tasks = self._v3_tasks()
            self.episodes = self._v3_episodes()
        else:
            self.tasks = self._v2_tasks()
            self.episodes = self._v2_episodes()
        if len(self.episodes) != int(self.info["total_episodes"]):
            raise DatasetError(
                f"{self.root / fmt.INFO_PATH}: total_episodes="
                f"{self.info['total_episodes']} but {len(self.episodes)} episodes "
                "are listed; the metadata is inconsistent."
            )
        self._read_data = lru_cache(maxsize=2)(self._read_data_uncached)

    # ------------------------------------------------------------------ public API
    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_frames(self) -> int:
        return sum(e.length for e in self.episodes)

    def names(self, key: str) -> list[str] | None:
        """Per-dimension names of vector feature ``key`` from info.json (LeRobot's ``names``),
        or None when the dataset did not name it (or names ``s0 …`` placeholders)."""
        if key not in self.features:
            raise DatasetError(
                f"{self.root}: no feature {key!r}; features are {sorted(self.features)}"
            )
        names = fmt.feature_names(self.features[key])
        if names is None or names == fmt.generic_names(len(names)):
            return None
        return names

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """meta/stats.json as numpy arrays ({} when absent)."""
        path = self.root / fmt.STATS_PATH
        if not path.is_file():
            return {}
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc}).") from exc
        return {k: {sk: np.asarray(v) for sk, v in s.items()} for k, s in raw.items()}

    def episode(
        self, k: int, keys: Sequence[str] | None = None, decode_videos: bool = True
    ) -> dict[str, Any]:
        """Frames of episode ``k``: ``{key: [T, ...] array}`` plus ``"task"`` (T strings)."""
        ep = self.episode_info(k)
        table = self._read_data(ep.data_file)
        ep_col = column_to_numpy(table.column("episode_index"))
        rows = np.flatnonzero(ep_col == ep.index)
        if len(rows) != ep.length:
            raise DatasetError(
                f"{ep.data_file}: episode {ep.index} has {len(rows)} rows, "
                f"metadata says {ep.length}; the dataset is inconsistent."
            )
        sub = table.take(pa.array(rows))
        order = np.argsort(column_to_numpy(sub.column("frame_index")), kind="stable")
        wanted = [c for c in (keys or self.vector_keys) if c in self.vector_keys]
        out: dict[str, Any] = {}
        for key in wanted:
            if key not in sub.column_names:
                raise DatasetError(
                    f"{ep.data_file}: column {key!r} listed in meta/info.json is missing."
                )
            out[key] = column_to_numpy(sub.column(key))[order]
        if "task_index" in sub.column_names:
            out["task"] = [
                self.tasks[int(i)] for i in column_to_numpy(sub.column("task_index"))[order]
            ]
        if decode_videos:
            for key in self.video_keys:
                if keys is None or key in keys:
                    out[key] = self.video(key, k)
        return out

    def video(self, key: str, k: int) -> np.ndarray:
        """Decoded frames of video ``key`` for episode ``k``: uint8 [T, H, W, 3]."""
        ep = self.episode_info(k)
        if key not in ep.videos:
            raise DatasetError(f"{self.root}: episode {k} has no video {key!r}.")
        path, from_ts = ep.videos[key]
        return decode_segment(path, from_ts, ep.length, self.fps)

    def columns(self, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Non-video columns over all frames, ordered by ``index``: ``{key: [N, ...]}``."""
        files = list(dict.fromkeys(e.data_file for e in self.episodes))
        tables = [self._read_data(f) for f in files]
        wanted = list(keys or self.vector_keys)
        out = {
            k: np.concatenate([column_to_numpy(t.column(k)) for t in tables])
            if tables
            else np.zeros(0)
            for k in wanted
        }
        if tables and "index" in tables[0].column_names:
            order = np.argsort(
                np.concatenate([column_to_numpy(t.column("index")) for t in tables]), kind="stable"
            )
            out = {k: v[order] for k, v in out.items()}
        return out

    def env_config(self) -> dict[str, Any] | None:
        """The env the data was recorded in (``meta/armgym.json``), or None if absent.

        Raises:
            DatasetError: the file exists but is not ``{"env": {...}}`` JSON.
        """
        path = self.root / fmt.ARMGYM_META_PATH
        if not path.is_file():
            return None
        try:
            return dict(json.loads(path.read_text())["env"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f'{path}: malformed ({exc}); expected {{"env": {{...}}}}.') from None

    def episode_info(self, k: int) -> EpisodeInfo:
        if not 0 <= k < len(self.episodes):
            raise DatasetError(
                f"{self.root}: episode {k} out of range (dataset has {len(self.episodes)})."
            )
        return self.episodes[k]

    # ------------------------------------------------------------------ v3.0
    def _read_data_uncached(self, path: Path) -> pa.Table:
        return read_table(path)

    def _v3_tasks(self) -> list[str]:
        path = self.root / fmt.TASKS_PATH
        if not path.is_file() and int(self.info["total_episodes"]) == 0:
            return []
        table = read_table(path)
        name_col = "__index_level_0__" if "__index_level_0__" in table.column_names else "task"
        if name_col not in table.column_names or "task_index" not in table.column_names:
            raise DatasetError(f"{path}: expected columns task_index and the task string.")
        pairs = sorted(
            zip(
                table.column("task_index").to_pylist(),
                table.column(name_col).to_pylist(),
                strict=True,
            )
        )
        return [str(t) for _, t in pairs]

    def _v3_episodes(self) -> list[EpisodeInfo]:
        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files and int(self.info["total_episodes"]) > 0:
            raise DatasetError(f"{self.root / 'meta' / 'episodes'}: no episode metadata files.")
        rows: list[dict[str, Any]] = []
        for path in files:
            try:
                schema = pq.read_schema(path)
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(
                    f"{path}: unreadable episode metadata ({exc}); the file is "
                    "truncated or corrupt, restore or re-record it."
                ) from exc
            names = [n for n in schema.names if not n.startswith("stats/")]
            rows.extend(read_table(path, names).to_pylist())
        # info.json is the commit point: rows past total_episodes belong to an episode whose
        # writer died before committing it (armgym.data.writer.recover deletes them).
        committed = int(self.info["total_episodes"])
        rows = sorted(
            (r for r in rows if r["episode_index"] < committed), key=lambda r: r["episode_index"]
        )
        return [self._v3_episode(r) for r in rows]

    def _v3_episode(self, r: dict[str, Any]) -> EpisodeInfo:
        data_file = self.root / self.info["data_path"].format(
            chunk_index=r["data/chunk_index"], file_index=r["data/file_index"]
        )
        videos = {}
        for key in self.video_keys:
            path = self.root / self.info["video_path"].format(
                video_key=key,
                chunk_index=r[f"videos/{key}/chunk_index"],
                file_index=r[f"videos/{key}/file_index"],
            )
            videos[key] = (path, float(r[f"videos/{key}/from_timestamp"]))
        extras = {k: v for k, v in r.items() if k.startswith("armgym/")}
        return EpisodeInfo(
            index=int(r["episode_index"]),
            length=int(r["length"]),
            tasks=list(r.get("tasks") or []),
            from_index=int(r["dataset_from_index"]),
            to_index=int(r["dataset_to_index"]),
            data_file=data_file,
            videos=videos,
            extras=extras,
        )

    # ------------------------------------------------------------------ v2.1
    def _jsonl(self, name: str) -> list[dict[str, Any]]:
        path = self.root / "meta" / name
        if not path.is_file():
            raise DatasetError(f"{path}: missing; a {self.version} dataset needs it.")
        try:
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON lines ({exc}).") from exc

    def _v2_tasks(self) -> list[str]:
        rows = sorted(self._jsonl("tasks.jsonl"), key=lambda r: r["task_index"])
        return [str(r["task"]) for r in rows]

    def _v2_episodes(self) -> list[EpisodeInfo]:
        chunks = int(self.info.get("chunks_size", fmt.DEFAULT_CHUNKS_SIZE))
        out, start = [], 0
        for r in sorted(self._jsonl("episodes.jsonl"), key=lambda r: r["episode_index"]):
            ep, n = int(r["episode_index"]), int(r["length"])
            chunk = ep // chunks
            data_file = self.root / self.info["data_path"].format(
                episode_chunk=chunk, episode_index=ep
            )
            videos = {
                key: (
                    self.root
                    / self.info["video_path"].format(
                        episode_chunk=chunk, video_key=key, episode_index=ep
                    ),
                    0.0,
                )
                for key in self.video_keys
            }
            out.append(
                EpisodeInfo(
                    index=ep,
                    length=n,
                    tasks=list(r.get("tasks") or []),
                    from_index=start,
                    to_index=start + n,
                    data_file=data_file,
                    videos=videos,
                )
            )
            start += n
        return out


def open_dataset(root: str | Path) -> LeRobotReader:
    """Open a LeRobot dataset (v3.0 / v2.1) for reading."""
    return LeRobotReader(root)
