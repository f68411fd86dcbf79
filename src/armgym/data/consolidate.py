"""``armgym consolidate``: pack a recorded dataset into a few large files (LeRobot v3.0).

The recorder commits every episode as its own ``data/``, ``videos/<camera>/`` and
``meta/episodes/`` files: appending an episode is a handful of atomic renames, so a crash
never damages what was recorded. That is a valid v3.0 dataset, but 10,000 episodes with
two cameras are 40,000 small files, slow to list, copy and upload. LeRobot packs episodes
into files of up to ``data_files_size_in_mb`` / ``video_files_size_in_mb``; this command
does the same once collection is done:

* data: consecutive episodes' rows concatenated into parquet files of at most
  ``--data-file-mb`` (on-disk size of the source files);
* videos: each camera's episodes *remuxed* into mp4 files of at most ``--video-file-mb``
  (compressed packets copied with shifted timestamps, no re-encoding: decoded frames are
  bit-identical); each episode's ``from_timestamp`` / ``to_timestamp`` say where it lies;
* ``meta/episodes``: one parquet file with every episode row (statistics included);
* ``info.json`` (with the size limits), ``stats.json``, ``tasks.parquet`` and armgym's
  ``armgym.json`` copied.

A LeRobot **v2.1** (or v2.0) dataset, one file per episode by construction, is converted
to v3.0 on the way: tasks go to ``tasks.parquet``, and the per-episode statistics are
recomputed as armgym's recorder computes them (vectors from the data, images from up to
64 decoded frames per episode), then aggregated into ``stats.json``.

The source is read, never modified. The output is built in ``<out>.partial`` and renamed
to ``<out>`` when complete, so an interrupted run leaves no half dataset behind. A packed
dataset can be read (armgym, lerobot) but not appended to: collect more into a new folder.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tyro

from armgym.data import _io
from armgym.data import lerobot_format as fmt
from armgym.data import stats as st
from armgym.data.episodes_table import episode_row, episode_table
from armgym.data.reader import LeRobotReader, read_table
from armgym.errors import DatasetError
from armgym.progress import progress as progress_bar

MB = 2**20


@dataclass(frozen=True)
class ConsolidateConfig:
    """Pack a dataset's episodes into a few large files (a new v3.0 dataset folder);
    converts v2.1 datasets to v3.0 on the way."""

    src: tyro.conf.Positional[Path]
    """Dataset folder: v3.0 as armgym records it (one file per episode), or v2.1 / v2.0."""
    out: Path
    """Folder for the packed dataset (must not exist, unless --overwrite)."""
    data_file_mb: float = 100.0
    """Largest data parquet file [MiB] (lerobot's default: 100)."""
    video_file_mb: float = 200.0
    """Largest mp4 file per camera [MiB] (lerobot 0.4.4 writes 200)."""
    overwrite: bool = False
    """Replace an existing --out folder."""
    progress: bool = True
    """Show a progress bar."""


def _groups(sizes: list[int], limit: float) -> list[list[int]]:
    """Split episode positions into consecutive groups whose sizes sum to <= ``limit``
    (an episode larger than the limit gets a group of its own)."""
    groups: list[list[int]] = []
    total = 0.0
    for i, size in enumerate(sizes):
        if not groups or (total + size > limit and groups[-1]):
            groups.append([])
            total = 0.0
        groups[-1].append(i)
        total += size
    return groups


def _remux(sources: list[Path], lengths: list[int], fps: float, dest: Path) -> list[float]:
    """Concatenate single-episode mp4 files into ``dest`` without re-encoding.

    Episode ``i`` starts at ``sum(lengths[:i]) / fps`` seconds; returns those start times.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + _io.TMP_SUFFIX)
    starts: list[float] = []
    offset_s, last_dts = 0.0, None
    with av.open(str(tmp), "w", format="mp4") as out:
        out_stream: Any = None
        for path, length in zip(sources, lengths, strict=True):
            try:
                with av.open(str(path)) as src:
                    stream = src.streams.video[0]
                    if out_stream is None:
                        out_stream = out.add_stream_from_template(stream, opaque=True)
                    assert stream.time_base is not None
                    shift = round(offset_s / stream.time_base)
                    starts.append(offset_s)
                    for packet in src.demux(stream):
                        if packet.dts is None:  # the demuxer's end-of-stream marker
                            continue
                        packet.dts += shift
                        if packet.pts is not None:
                            packet.pts += shift
                        if last_dts is not None and packet.dts <= last_dts:
                            raise DatasetError(
                                f"{path}: its timestamps overlap the previous episode's "
                                "in the packed file; was it recorded at another fps?"
                            )
                        last_dts = packet.dts
                        packet.stream = out_stream
                        out.mux(packet)
            except (av.error.FFmpegError, IndexError) as exc:
                raise DatasetError(
                    f"{path}: cannot read video ({exc}); restore or re-record the episode."
                ) from exc
            offset_s += length / fps
    _io.commit(tmp, dest)
    return starts


def _episode_rows(root: Path, total: int) -> list[dict[str, Any]]:
    """Every committed row of ``meta/episodes`` (statistics included), by episode index."""
    rows: list[dict[str, Any]] = []
    for path in sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet")):
        rows.extend(read_table(path).to_pylist())
    return sorted((r for r in rows if r["episode_index"] < total), key=lambda r: r["episode_index"])


def _v2_rows(
    reader: LeRobotReader, progress: bool
) -> tuple[list[dict[str, Any]], list[dict[str, st.Stats]]]:
    """v3.0 episode rows of a v2.x dataset, with recomputed per-episode statistics."""
    rows, per_episode = [], []
    for k in progress_bar(range(reader.num_episodes), desc="statistics", disable=not progress):
        e = reader.episode_info(k)
        cols = reader.episode(k, decode_videos=False)
        ep_stats = {key: st.vector_stats(np.asarray(cols[key])) for key in reader.vector_keys}
        for key in reader.video_keys:
            frames = reader.video(key, k)
            ep_stats[key] = st.episode_image_stats([st.image_sample(f) for f in frames])
        row = episode_row(
            e.index, e.length, e.tasks, e.from_index, reader.features, ep_stats, {},
            fps=reader.fps, location=(0, 0),
        )  # fmt: skip
        rows.append(row)
        per_episode.append(ep_stats)
    return rows, per_episode


def _check(cfg: ConsolidateConfig, reader: LeRobotReader) -> Path:
    """Validate sizes, ``--out`` and the source layout (one file per episode); ``--out``."""
    if cfg.data_file_mb <= 0 or cfg.video_file_mb <= 0:
        raise DatasetError("--data-file-mb and --video-file-mb must be > 0.")
    src, out = reader.root, Path(cfg.out)
    if out.resolve() == src.resolve():
        raise DatasetError(f"--out {out} is the source; write the packed copy elsewhere.")
    if out.exists() and not cfg.overwrite:
        raise DatasetError(f"{out} exists; choose a new --out folder or pass --overwrite.")
    episodes = reader.episodes
    for key, files in [("data", [e.data_file for e in episodes])] + [
        (key, [e.videos[key][0] for e in episodes]) for key in reader.video_keys
    ]:
        if len(set(files)) != len(files):
            raise DatasetError(
                f"{src}: several episodes share a {key} file; the dataset is already packed "
                "(consolidate reads datasets with one file per episode, as armgym records)."
            )
    return out


def _pack_data(
    reader: LeRobotReader, rows: list[dict[str, Any]], stage: Path, limit_mb: float, bar: Any
) -> int:
    """Concatenate consecutive episodes' rows into parquet files of <= ``limit_mb``; count."""
    episodes, chunks, n_files = reader.episodes, _chunks_size(reader), 0
    sizes = [e.data_file.stat().st_size for e in episodes]
    for file_no, group in enumerate(_groups(sizes, limit_mb * MB)):
        chunk, file = divmod(file_no, chunks)
        tables = []
        for i in group:
            table = read_table(episodes[i].data_file)
            tables.append(table.filter(pc.equal(table["episode_index"], episodes[i].index)))
            rows[i].update({"data/chunk_index": chunk, "data/file_index": file})
        path = stage / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
        _io.write_parquet_atomic(path, pa.concat_tables(tables))
        n_files += 1
        bar.update(len(group))
    return n_files


def _pack_videos(
    reader: LeRobotReader, rows: list[dict[str, Any]], stage: Path, limit_mb: float, bar: Any
) -> int:
    """Remux each camera's episodes into mp4 files of <= ``limit_mb``; the files written."""
    episodes, chunks, n_files = reader.episodes, _chunks_size(reader), 0
    for key in reader.video_keys:
        sources = [e.videos[key][0] for e in episodes]
        for path in sources:
            if not path.is_file():
                raise DatasetError(f"{path}: video file missing; restore or re-record it.")
        sizes = [p.stat().st_size for p in sources]
        for file_no, group in enumerate(_groups(sizes, limit_mb * MB)):
            chunk, file = divmod(file_no, chunks)
            dest = stage / fmt.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
            lengths = [episodes[i].length for i in group]
            starts = _remux([sources[i] for i in group], lengths, reader.fps, dest)
            for i, start, length in zip(group, starts, lengths, strict=True):
                rows[i].update(
                    {
                        f"videos/{key}/chunk_index": chunk,
                        f"videos/{key}/file_index": file,
                        f"videos/{key}/from_timestamp": start,
                        f"videos/{key}/to_timestamp": start + length / reader.fps,
                    }
                )
            n_files += 1
            bar.update(len(group))
    return n_files


def _write_meta(
    cfg: ConsolidateConfig,
    reader: LeRobotReader,
    rows: list[dict[str, Any]],
    per_episode: list[dict[str, st.Stats]] | None,
    stage: Path,
) -> None:
    """Episode rows, stats, tasks, the armgym sidecar and (last) ``meta/info.json``.

    ``per_episode``: recomputed statistics of a v2.x source being converted, else None
    (stats and tasks are copied from the v3.0 source).
    """
    for row in rows:
        row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = 0, 0
    ep_path = stage / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)
    _io.write_parquet_atomic(ep_path, episode_table(rows, reader.features))
    copied = [fmt.ARMGYM_META_PATH]
    if per_episode is not None:
        stats = st.to_json(st.aggregate_all(per_episode))
        _io.write_json_atomic(stage / fmt.STATS_PATH, stats)
        _io.write_parquet_atomic(stage / fmt.TASKS_PATH, fmt.tasks_table(reader.tasks))
        info = fmt.make_info(
            reader.features,
            reader.fps,
            robot_type=reader.info.get("robot_type"),
            total_episodes=len(reader.episodes),
            total_frames=reader.num_frames,
            total_tasks=len(reader.tasks),
            chunks_size=_chunks_size(reader),
        )
    else:
        copied += [fmt.STATS_PATH, fmt.TASKS_PATH]
        info = dict(reader.info)
    for name in copied:
        if (reader.root / name).is_file():
            _io.write_bytes_atomic(stage / name, (reader.root / name).read_bytes())
    info.update(data_files_size_in_mb=cfg.data_file_mb, video_files_size_in_mb=cfg.video_file_mb)
    _io.write_json_atomic(stage / fmt.INFO_PATH, info)


def _chunks_size(reader: LeRobotReader) -> int:
    return int(reader.info.get("chunks_size", fmt.DEFAULT_CHUNKS_SIZE))


def _total_bytes(root: Path) -> int:
    return int(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()))


def consolidate(cfg: ConsolidateConfig) -> dict[str, Any]:
    """Write the packed copy of ``cfg.src`` to ``cfg.out``; return a summary.

    Everything is written under ``<out>.partial`` and renamed to ``--out`` at the end, so an
    interrupted run leaves no half-packed dataset behind.
    """
    t0 = time.perf_counter()
    reader = LeRobotReader(cfg.src)
    out, episodes = _check(cfg, reader), reader.episodes
    per_episode: list[dict[str, st.Stats]] | None = None
    if reader.version != fmt.CODEBASE_VERSION:  # v2.x -> v3.0
        rows, per_episode = _v2_rows(reader, cfg.progress)
    else:
        rows = _episode_rows(reader.root, len(episodes))
        if [r["episode_index"] for r in rows] != [e.index for e in episodes]:
            raise DatasetError(f"{reader.root / 'meta' / 'episodes'}: rows do not match info.json.")
    stage = out.with_name(out.name + ".partial")
    shutil.rmtree(stage, ignore_errors=True)
    files_before = len(episodes) * (1 + len(reader.video_keys))
    bar = progress_bar(
        total=files_before,
        desc="consolidate",
        unit="ep",
        disable=not cfg.progress,
    )
    try:
        n_files = _pack_data(reader, rows, stage, cfg.data_file_mb, bar)
        n_files += _pack_videos(reader, rows, stage, cfg.video_file_mb, bar)
        _write_meta(cfg, reader, rows, per_episode, stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        bar.close()
    if out.exists():
        shutil.rmtree(out)
    stage.rename(out)
    _io.fsync_dir(out.parent)
    return {
        "src": str(reader.root),
        "out": str(out),
        "episodes": len(episodes),
        "frames": reader.num_frames,
        "files_before": files_before,
        "files_after": n_files,
        "bytes_before": _total_bytes(reader.root),
        "bytes_after": _total_bytes(out),
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(
        ConsolidateConfig, args=sys.argv[1:] if argv is None else argv, prog="armgym consolidate"
    )
    s = consolidate(cfg)
    print(
        f"packed {s['episodes']} episodes ({s['frames']} frames) from {s['files_before']} "
        f"data/video files into {s['files_after']} (+ metadata) at {s['out']}; "
        f"{s['bytes_before'] / MB:.1f} -> {s['bytes_after'] / MB:.1f} MiB; {s['wall_s']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
