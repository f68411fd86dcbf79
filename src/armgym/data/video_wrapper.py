"""``RecordEpisodeVideo``: a gymnasium wrapper that writes each episode's camera to an mp4.

Frames come from the observation key ``camera`` (``observation.images.<name>``,
uint8[H, W, 3]), so nothing extra is rendered. Episode ``n`` (counted from 0 at the first
reset) goes to ``<folder>/episode_<n>.mp4``, frame ``i`` at ``i / fps`` s; the step that
ends the episode (terminated or truncated) puts the file's path in
``info["video_path"]`` (``armgym.contracts.info``). An episode left unfinished is closed
at the next reset or at ``close()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from armgym.contracts.info import VIDEO_PATH
from armgym.data.video import VideoEncoder
from armgym.errors import ConfigError


class RecordEpisodeVideo(gym.Wrapper):
    """Record observation ``camera`` of every episode to ``folder`` with ``codec``."""

    def __init__(
        self, env: gym.Env, folder: Path, camera: str = "", *, codec: str = "libx264"
    ) -> None:
        super().__init__(env)
        spaces = getattr(env.observation_space, "spaces", {})
        images = [k for k, s in spaces.items() if s.dtype == np.uint8 and len(s.shape) == 3]
        key = camera or (images[0] if images else "")
        if key not in images:
            raise ConfigError(
                f"RecordEpisodeVideo needs an image observation; {key or 'none'!r} is not one of "
                f"{images or 'the env observations (make the env with obs=pixels or both)'}"
            )
        self.key, self.folder, self.codec = key, Path(folder), codec
        self.fps = float(env.unwrapped.metadata.get("render_fps", 10))
        self.episode = -1
        self._encoder: VideoEncoder | None = None

    def _start(self, frame: np.ndarray) -> None:
        self._finish()
        self.episode += 1
        path = self.folder / f"episode_{self.episode}.mp4"
        h, w = frame.shape[:2]
        self._encoder = VideoEncoder(path, h, w, self.fps, codec=self.codec)
        self._encoder.add(frame)

    def _finish(self) -> str | None:
        """Close the episode's file; its path (None when none was open)."""
        if self._encoder is None:
            return None
        self._encoder.close()
        path, self._encoder = str(self._encoder.path), None
        return path

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._start(np.asarray(obs[self.key]))
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._encoder is not None:
            self._encoder.add(np.asarray(obs[self.key]))
            if terminated or truncated:
                info = {**info, VIDEO_PATH: self._finish()}
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self._finish()
        super().close()
