"""Cameras for real arms: OpenCV and RealSense captures read on a background thread.

``OpenCVCamera`` keeps only the newest frame (RGB uint8[H, W, 3], resized to ``shape``);
``read`` returns it if it is at most ``max_age_s`` old, waits that long for one
otherwise, and then raises :class:`~armgym.errors.HardwareError` — a policy never acts on
a stale image. A capture that fails (cable pulled, end of a recorded file) is released
and reopened every ``reconnect_s``; a recorded video therefore plays in a loop at
``fps``, which is how the tests drive it.

A source ``realsense:`` (the first Intel RealSense found), ``realsense:<serial>`` or
``realsense:<recording>`` (a ``.bag`` / ``.db3`` file recorded by librealsense) opens the
colour stream through pyrealsense2 (:class:`RealSenseCapture`) behind the same thread,
staleness limit and reconnection; everything else goes to ``cv2.VideoCapture``.

The sim names images ``images.<camera>``; ``RealRobot`` does the same with the names of
its ``cameras`` mapping, so a policy trained in sim finds its keys.
"""

from __future__ import annotations

import functools
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
        source: device index (``"0"``), device path (``/dev/video0``), video file or URL;
            or ``realsense:``, ``realsense:<serial>``, ``realsense:<file.bag|file.db3>``.
        shape: (height, width) of the frames handed out [px] (resized if needed).
        fps: frames per second asked of the device; also the playback rate of files.
        max_age_s: the oldest frame ``read`` may return [s].
        reconnect_s: wait between attempts to reopen a failed capture [s].
    """

    source: str
    """``0`` / ``/dev/video0`` / a file / a URL (OpenCV), or ``realsense:[serial|file]``."""
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


REALSENSE = "realsense:"


def _realsense() -> Any:
    try:
        import pyrealsense2 as rs
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("RealSense cameras need pyrealsense2: pip install 'armgym[real]'") from e
    return rs


class RealSenseCapture:
    """The colour stream of a RealSense camera or recording, shaped like a
    ``cv2.VideoCapture`` (``isOpened`` / ``read`` -> (ok, BGR uint8[H, W, 3]) / ``release``).

    Args:
        target: ``""`` (the first device), a device serial number, or the path of a
            recording (``.bag``, or ``.db3`` from librealsense >= 2.56). A recording plays
            once in real time; at its end ``read`` fails and the camera reopens it.
        fps: colour rate asked of a live device [Hz].
        timeout_s: longest wait for one frame [s].
    """

    def __init__(self, target: str, fps: float = 30.0, timeout_s: float = 1.0):
        rs = self._rs = _realsense()
        self.timeout_ms = int(timeout_s * 1000)
        self.pipeline = rs.pipeline()
        config = rs.config()
        if target.endswith((".bag", ".db3")):
            config.enable_device_from_file(target, repeat_playback=False)
            config.enable_stream(rs.stream.color)
        else:
            if target:
                config.enable_device(target)
            config.enable_stream(rs.stream.color, rs.format.bgr8, int(fps))
        self.pipeline.start(config)  # raises RuntimeError: caught by the camera thread
        self._open = True

    def isOpened(self) -> bool:  # cv2.VideoCapture's name
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, frames = self.pipeline.try_wait_for_frames(self.timeout_ms)
        color = frames.get_color_frame() if ok else None
        if not color:
            return False, None
        image = np.asanyarray(color.get_data())
        fmt = color.get_profile().format()
        if fmt == self._rs.format.rgb8:  # recordings keep the format they were made in
            image = image[..., ::-1]
        elif fmt not in (self._rs.format.bgr8, self._rs.format.y8):
            raise HardwareError(f"RealSense colour format {fmt} is not supported: use rgb8 or bgr8")
        return True, np.ascontiguousarray(image)

    def release(self) -> None:
        if self._open:
            self._open = False
            self.pipeline.stop()


def _open_capture(source: str, fps: float = 30.0) -> Any:
    if source.startswith(REALSENSE):
        return RealSenseCapture(source[len(REALSENSE) :], fps=fps)
    cv2 = _cv2()
    return cv2.VideoCapture(int(source) if source.isdigit() else source)


class OpenCVCamera:
    """The newest frame of an OpenCV (or RealSense) capture, read on a daemon thread.

    Args:
        cfg: source, size, rate and staleness limit.
        open_capture: ``source -> capture`` with ``isOpened() / read() / release()``
            (``cv2.VideoCapture`` or :class:`RealSenseCapture` by default; tests may pass
            a scripted source).
    """

    def __init__(self, cfg: CameraConfig, open_capture: Callable[[str], Any] | None = None):
        self.cfg = cfg
        self._open = open_capture or functools.partial(_open_capture, fps=cfg.fps)
        self.shape = (int(cfg.shape[0]), int(cfg.shape[1]))
        self.frames = 0  # frames received
        self.reconnects = 0  # captures reopened after a failure
        self.last_error = ""  # why the capture last failed to open
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
                except Exception as e:  # no device, a missing file, a missing package
                    self.last_error = f"{type(e).__name__}: {e}"
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
            + (f"; opening it failed with {self.last_error}" if self.last_error else "")
        )

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=2.0)
