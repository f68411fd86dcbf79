"""mp4 video streams via PyAV: a streaming encoder and a frame-accurate segment decoder.

Frames are ``uint8[H, W, 3]`` RGB. Frame ``i`` of a file has presentation time ``i / fps``
seconds, as lerobot's encoder produces, so an episode stored from ``from_timestamp`` is the
frames whose time lies in ``[from_timestamp, to_timestamp)``.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np

from armgym.errors import DatasetError

#: PyAV codec name -> (info.json "video.codec", encoder options). g=2 keeps seeks cheap, as
#: lerobot does; crf trades size for fidelity.
CODECS: dict[str, tuple[str, dict[str, str]]] = {
    "libsvtav1": ("av1", {"g": "2", "crf": "30", "preset": "12"}),
    "libx264": ("h264", {"g": "2", "crf": "18", "preset": "veryfast", "tune": "zerolatency"}),
}
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints a banner per stream otherwise


class VideoEncoder:
    """Encode frames to ``path`` as they arrive (no episode-sized buffer in memory).

    Args:
        path: output mp4 file (written in place; the writer renames it when the episode
            is committed).
        height, width: frame size in pixels (even numbers for yuv420p).
        fps: frames per second (presentation time of frame i is i / fps).
        codec: a key of ``CODECS``.
    """

    def __init__(self, path: Path, height: int, width: int, fps: float, codec: str = "libsvtav1"):
        if codec not in CODECS:
            raise DatasetError(f"unknown video codec {codec!r}; use one of {sorted(CODECS)}.")
        if height % 2 or width % 2:
            raise DatasetError(
                f"video size {height}x{width} must be even for yuv420p; use an even --image-size."
            )
        self.path, self.count = path, 0
        self.shape = (height, width, 3)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(path), "w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream: Any = cast(
            Any, self._container.add_stream(codec, rate=rate, options=CODECS[codec][1])
        )
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = 1 / rate

    def add(self, frame: np.ndarray) -> None:
        """Encode one ``uint8[H, W, 3]`` frame."""
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise DatasetError(
                f"{self.path}: frame must be uint8{list(self.shape)}, got "
                f"{frame.dtype}{list(frame.shape)}."
            )
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self.count
        self._container.mux(self._stream.encode(vf))
        self.count += 1

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._container is not None:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None  # type: ignore[assignment]


def decode_segment(path: Path, from_ts: float, num_frames: int, fps: float) -> np.ndarray:
    """Decode ``num_frames`` frames starting at ``from_ts`` seconds: uint8 [N, H, W, 3].

    Raises DatasetError naming the file if it is missing, unreadable, or too short.
    """
    if not path.is_file():
        raise DatasetError(
            f"{path}: video file missing; re-record the episode or restore "
            "the file (the dataset's meta/episodes lists it)."
        )
    tol = 0.5 / fps
    out: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if from_ts > tol and stream.time_base is not None:
                container.seek(int(from_ts / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(out) / fps
                if t < from_ts - tol:
                    continue
                out.append(frame.to_ndarray(format="rgb24"))
                if len(out) == num_frames:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise DatasetError(
            f"{path}: cannot decode video ({exc}); the file is corrupt or "
            "truncated, re-record the episode."
        ) from exc
    if len(out) < num_frames:
        raise DatasetError(
            f"{path}: expected {num_frames} frames from t={from_ts:.3f}s, "
            f"decoded {len(out)}; the video is truncated."
        )
    return np.stack(out)
