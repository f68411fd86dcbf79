"""OpenCV cameras: recorded frames from a video file, staleness and reconnection."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from armgym.errors import HardwareError
from armgym.robots.real.cameras import CameraConfig, OpenCVCamera
from tests._real import wait_for

cv2 = pytest.importorskip("cv2")


def _write_video(path, frames):
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(f)
    out.release()


def test_recorded_video_frames_come_out_rgb_and_resized(tmp_path):
    red_bgr = np.zeros((48, 64, 3), np.uint8)
    red_bgr[..., 2] = 255
    path = tmp_path / "front.avi"
    _write_video(path, [red_bgr] * 10)
    cam = OpenCVCamera(CameraConfig(str(path), shape=(24, 32), fps=100.0, max_age_s=1.0))
    try:
        frame = cam.read()
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
        assert frame[..., 0].mean() > 200 and frame[..., 2].mean() < 50  # RGB, not BGR
        # the file ends: the capture is reopened and plays again
        wait_for(lambda: cam.reconnects >= 1 and cam.frames > 10, what="a reconnect")
        assert cam.read().shape == (24, 32, 3)
    finally:
        cam.close()


class ScriptedCapture:
    """A capture that yields frames while ``live`` is set, then fails like a pulled cable."""

    def __init__(self, live: threading.Event):
        self.live = live

    def isOpened(self) -> bool:
        return self.live.is_set()

    def read(self):
        if not self.live.is_set():
            return False, None
        return True, np.full((8, 8, 3), 77, np.uint8)

    def release(self) -> None:
        pass


def test_stale_frames_are_refused_and_the_camera_reconnects():
    live = threading.Event()
    live.set()
    cfg = CameraConfig("fake", shape=(8, 8), fps=50.0, max_age_s=0.2, reconnect_s=0.05)
    cam = OpenCVCamera(cfg, open_capture=lambda src: ScriptedCapture(live))
    try:
        assert int(cam.read()[0, 0, 0]) == 77
        live.clear()  # cable pulled
        wait_for(lambda: cam.reconnects >= 1, what="the failure to be seen")
        wait_for(lambda: not _fresh(cam), what="the last frame to age past max_age_s")
        with pytest.raises(HardwareError, match=r"camera 'fake': the newest frame is .* old"):
            cam.read()
        live.set()  # plugged back in
        wait_for(lambda: cam.frames > 0 and _fresh(cam), what="frames to resume")
    finally:
        cam.close()


def _fresh(cam: OpenCVCamera) -> bool:
    try:
        cam.read()
    except HardwareError:
        return False
    return True


def test_a_camera_that_never_opens_says_so():
    cam = OpenCVCamera(CameraConfig("/dev/video-armgym-none", max_age_s=0.1))
    try:
        with pytest.raises(HardwareError, match="no frame yet"):
            cam.read()
    finally:
        cam.close()


def test_realsense_recording_plays_through_pyrealsense2(tmp_path):
    pytest.importorskip("pyrealsense2")
    from armgym.robots.real.sim.realsense_recording import record_color

    frames = [np.zeros((48, 64, 3), np.uint8) for _ in range(12)]
    for i, f in enumerate(frames):
        f[..., 0], f[..., 1] = 250, 10 * i  # red, green rising: RGB order and frame order
    path = record_color(tmp_path / "d435.db3", frames, fps=30)
    cfg = CameraConfig(f"realsense:{path}", shape=(24, 32), max_age_s=2.0, reconnect_s=0.1)
    cam = OpenCVCamera(cfg)
    try:
        frame = cam.read()
        assert frame.shape == (24, 32, 3) and frame.dtype == np.uint8
        assert frame[..., 0].mean() > 240 and frame[..., 2].mean() < 5  # RGB kept
        # the recording ends: the pipeline stops, is reopened and plays again
        wait_for(lambda: cam.reconnects >= 1 and cam.frames > len(frames), what="a replay")
        assert cam.read()[..., 0].mean() > 240
    finally:
        cam.close()


def test_realsense_without_a_device_says_so(tmp_path):
    pytest.importorskip("pyrealsense2")
    cam = OpenCVCamera(CameraConfig("realsense:" + str(tmp_path / "none.db3"), max_age_s=0.3))
    try:
        with pytest.raises(
            HardwareError, match=r"realsense:.*no frame yet.*opening it failed with RuntimeError"
        ):
            cam.read()
    finally:
        cam.close()
