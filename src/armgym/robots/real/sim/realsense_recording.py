"""RealSense recordings made without a camera: librealsense's own recorder on a
``software_device``.

``record_color(path, frames, fps)`` writes what a RealSense colour stream would have
recorded (``rs.recorder``; librealsense 2.56+ writes rosbag2 ``.db3``, older versions
ROS 1 ``.bag``), so :class:`~armgym.robots.real.cameras.RealSenseCapture` is tested on the
real pyrealsense2 playback path — the same calls a ``.bag`` from a RealSense Viewer session
goes through.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from armgym.robots.real.cameras import _realsense


def _color_profile(rs: Any, sensor: Any, width: int, height: int, fps: int) -> Any:
    intr = rs.intrinsics()
    intr.width, intr.height = width, height
    intr.fx = intr.fy = float(width)
    intr.ppx, intr.ppy = width / 2, height / 2
    intr.model = rs.distortion.none
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = rs.stream.color, 0, 0
    stream.width, stream.height, stream.fps, stream.bpp = width, height, fps, 3
    stream.fmt, stream.intrinsics = rs.format.rgb8, intr
    return sensor.add_video_stream(stream)


def record_color(path: str | Path, frames: Sequence[np.ndarray], fps: int = 30) -> Path:
    """Record ``frames`` (RGB uint8[H, W, 3], all one size) as a RealSense colour stream
    at ``fps`` [Hz] to ``path`` (``.db3`` for librealsense >= 2.56). Returns the path."""
    rs = _realsense()
    height, width = frames[0].shape[:2]
    device = rs.software_device()
    sensor = device.add_sensor("Color")
    profile = _color_profile(rs, sensor, width, height, fps)
    recorder = rs.recorder(str(path), device)
    queue = rs.frame_queue(len(frames) + 1)
    sensor.open(profile)
    sensor.start(queue)
    for i, image in enumerate(frames):
        frame = rs.software_video_frame()
        frame.pixels = np.ascontiguousarray(image, dtype=np.uint8).tobytes()
        frame.bpp, frame.stride = 3, width * 3
        frame.timestamp, frame.frame_number = i * 1000.0 / fps, i
        frame.domain = rs.timestamp_domain.hardware_clock
        frame.profile = profile.as_video_stream_profile()
        sensor.on_video_frame(frame)
        time.sleep(1.0 / fps)  # the recorder stamps frames by arrival
    sensor.stop()
    sensor.close()
    del recorder  # closes the file
    return Path(path)
