"""Cameras for real arms: OpenCV captures read on a background thread.

``OpenCVCamera`` keeps only the newest frame (RGB uint8[H, W, 3], resized to ``shape``);
``read`` returns it if it is at most ``max_age_s`` old, waits that long for one
otherwise, and then raises :class:`~armgym.errors.HardwareError` — a policy never acts on
a stale image. A capture that fails (cable pulled, end of a recorded file) is released
and reopened every ``reconnect_s``; a recorded video therefore plays in a loop at
``fps``, which is how the tests drive it.

The sim names images ``images.<camera>``; ``RealRobot`` does the same with the names of
its ``cameras`` mapping, so a policy trained in sim finds its keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from armgym.errors import ConfigError, HardwareError


@dataclass(frozen=True)
class CameraConfig:
    """One OpenCV camera.

    Attributes:
        source: device index (``"0"``), device path (``/dev/video0``), video file or URL.
        shape: (height, width) of the frames handed out [px] (resized if needed).
        fps: frames per second asked of the device; also the playback rate of files.
        max_age_s: the oldest frame ``read`` may return [s].
        reconnect_s: wait between attempts to reopen a failed capture [s].
    """

    source: str
    shape: tuple[int, int] = (128, 128)
    fps: float = 30.0
    max_age_s: float = 0.5
    reconnect_s: float = 0.5

    def __post_init__(self) -> None:
        if min(self.shape) <= 0 or self.fps <= 0 or self.max_age_s <= 0:
            raise ConfigError(f"camera {self.source!r}: shape, fps and max_age_s must be > 0")


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("OpenCV cameras need opencv: pip install 'armgym[real]'") from e
    return cv2


def _open_capture(source: str) -> Any:
    cv2 = _cv2()
    return cv2.VideoCapture(int(source) if source.isdigit() else source)


class OpenCVCamera:
    """The newest frame of an OpenCV capture, read on a daemon thread.

    Args:
        cfg: source, size, rate and staleness limit.
        open_capture: ``source -> capture`` with ``isOpened() / read() / release()``
            (``cv2.VideoCapture`` by default; tests may pass a scripted source).
    """

    def __init__(self, cfg: CameraConfig, open_capture: Callable[[str], Any] = _open_capture):
        self.cfg, self._open = cfg, open_capture
        self.shape = (int(cfg.shape[0]), int(cfg.shape[1]))
        self.frames = 0  # frames received
        self.reconnects = 0  # captures reopened after a failure
        self._latest: tuple[float, np.ndarray] | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{cfg.source}", daemon=True)
        self._thread.start()

    def _convert(self, frame: np.ndarray) -> np.ndarray:
        cv2 = _cv2()
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
        else:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        h, w = self.shape
        if frame.shape[:2] != (h, w):
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def _run(self) -> None:
        cap: Any = None
        period = 1.0 / self.cfg.fps
        next_t = time.monotonic()
        while not self._stop.is_set():
            if cap is None:
                try:
                    cap = self._open(self.cfg.source)
                except Exception:
                    cap = None
                if cap is None or not cap.isOpened():
                    cap = None
                    self._stop.wait(self.cfg.reconnect_s)
                    continue
            ok, frame = cap.read()
            if not ok or frame is None:
                cap.release()
                cap = None
                self.reconnects += 1
                self._stop.wait(self.cfg.reconnect_s)
                continue
            rgb = self._convert(frame)
            with self._cond:
                self._latest = (time.monotonic(), rgb)
                self.frames += 1
                self._cond.notify_all()
            next_t = max(next_t + period, time.monotonic() - period)
            self._stop.wait(max(0.0, next_t - time.monotonic()))
        if cap is not None:
            cap.release()

    def read(self) -> np.ndarray:
        """The newest frame, RGB uint8[H, W, 3], at most ``max_age_s`` old."""
        deadline = time.monotonic() + self.cfg.max_age_s
        with self._cond:
            while True:
                now = time.monotonic()
                if self._latest is not None and now - self._latest[0] <= self.cfg.max_age_s:
                    return self._latest[1]
                if now >= deadline or self._stop.is_set():
                    break
                self._cond.wait(deadline - now)
        age = "no frame yet" if self._latest is None else (
            f"the newest frame is {time.monotonic() - self._latest[0]:.2f} s old"
        )  # fmt: skip
        raise HardwareError(
            f"camera {self.cfg.source!r}: {age} (limit {self.cfg.max_age_s} s); check its "
            f"cable and that no other program holds it (reconnecting every "
            f"{self.cfg.reconnect_s} s)"
        )

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
