"""armgym reads what the real lerobot 0.4.4 wrote (tests/fixtures/lerobot_v30_sample)."""

from __future__ import annotations

import numpy as np
import pytest

from armgym.data.reader import LeRobotReader
from armgym.data.testing import FIXTURE_NAME, fixtures_dir, pattern_frame

FIX = fixtures_dir()


def test_fixture_is_present() -> None:
    assert FIX is not None and (FIX / FIXTURE_NAME).is_dir(), (
        "tests/fixtures/lerobot_v30_sample not found in the checkout; set ARMGYM_FIXTURES"
    )


@pytest.fixture(scope="module")
def reader() -> LeRobotReader:
    assert FIX is not None
    return LeRobotReader(FIX / FIXTURE_NAME)


def test_metadata(reader: LeRobotReader) -> None:
    assert reader.version == "v3.0"
    assert reader.fps == 10
    assert reader.num_episodes == 3 and reader.num_frames == 36
    assert reader.tasks == ["pick up the cube", "push the cube"]
    assert [e.tasks for e in reader.episodes] == [
        ["pick up the cube"],
        ["push the cube"],
        ["pick up the cube"],
    ]
    assert [(e.from_index, e.to_index, e.length) for e in reader.episodes] == [
        (0, 12, 12),
        (12, 24, 12),
        (24, 36, 12),
    ]
    assert reader.video_keys == ["observation.images.front"]


@pytest.mark.parametrize("k", [0, 1, 2])
def test_episode_frames(reader: LeRobotReader, k: int) -> None:
    ep = reader.episode(k)
    assert ep["observation.state"].shape == (12, 8) and ep["observation.state"].dtype == np.float32
    assert ep["action"].shape == (12, 7)
    np.testing.assert_allclose(ep["timestamp"], np.arange(12) / 10, atol=1e-6)
    np.testing.assert_array_equal(ep["frame_index"], np.arange(12))
    np.testing.assert_array_equal(ep["episode_index"], np.full(12, k))
    assert ep["task"] == [reader.tasks[1 if k == 1 else 0]] * 12
    video = ep["observation.images.front"]
    assert video.shape == (12, 64, 64, 3) and video.dtype == np.uint8
    for i in range(12):
        err = np.abs(video[i].astype(int) - pattern_frame(k, i).astype(int))
        assert err.mean() < 2.0, (k, i, err.mean())
        # the channel that encodes the episode is the brightest outside the box
        assert int(np.argmax(video[i, 60, 60])) == k or i == 0


def test_columns_and_stats(reader: LeRobotReader) -> None:
    cols = reader.columns()
    np.testing.assert_array_equal(cols["index"], np.arange(36))
    stats = reader.stats
    np.testing.assert_allclose(stats["action"]["mean"], cols["action"].mean(0), atol=1e-5)
    np.testing.assert_allclose(
        stats["observation.state"]["max"], cols["observation.state"].max(0), atol=1e-6
    )
    assert np.asarray(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)
