"""armgym.progress: whole lines at most every interval on a non-terminal stream."""

from __future__ import annotations

import io

import pytest

from armgym.progress import LineProgress, progress


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_non_tty_prints_one_line_per_interval() -> None:
    stream, clock = io.StringIO(), FakeClock()
    bar = LineProgress(total=1000, desc="train", unit="step", file=stream, interval_s=5.0,
                       clock=clock)  # fmt: skip
    for i in range(1000):
        clock.t += 0.125  # 125 s in all -> a line every 5 s (40 updates)
        bar.update(1)
        if i == 500:
            bar.set_postfix(loss="0.1234")
    bar.close()
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert len(lines) == 25, lines  # 125 s / 5 s; the last update printed, close adds none
    assert lines[0].startswith("train:") and "40/1000" in lines[0]
    assert "1000/1000" in lines[-1] and "loss=0.1234" in lines[-1]


def test_close_prints_the_final_state_once_and_iterables_work() -> None:
    stream, clock = io.StringIO(), FakeClock()
    items = list(LineProgress(range(7), desc="stats", file=stream, clock=clock))
    assert items == list(range(7))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "7/7" in lines[0]


def test_progress_picks_lines_for_a_non_tty_and_honours_disable() -> None:
    stream = io.StringIO()
    bar = progress(total=3, desc="eval", unit="ep", file=stream)
    assert isinstance(bar, LineProgress)
    bar.update(3)
    bar.write("step 3: success 1.00")
    bar.close()
    assert stream.getvalue().splitlines()[0] == "step 3: success 1.00"
    quiet = io.StringIO()
    with progress(total=3, file=quiet, disable=True) as off:
        off.update(3)
    assert quiet.getvalue() == ""


def test_iterating_without_an_iterable_is_an_error() -> None:
    with pytest.raises(TypeError, match="without an iterable"):
        iter(LineProgress(file=io.StringIO())).__next__()
