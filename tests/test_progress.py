"""Progress: a line every 30 s (of a clock the test controls) when the output is not a terminal."""

from __future__ import annotations

import io

from stfnet.progress import LineProgress, progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_every_period_with_count_share_and_rate():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(total=5400, desc="replay", unit="frame", file=out, every=30.0, clock=clock)
    for _ in range(959):
        clock.now += 1 / 32  # exact in binary, so the 960th update lands on 30 s exactly
        bar.update()
    assert out.getvalue() == ""  # 29.97 s: nothing yet
    clock.now += 1 / 32
    bar.update()
    assert out.getvalue() == "replay: 960/5400 frames (18%), 32.0 frames/s\n"
    bar.set_postfix(loss="0.512")
    clock.now += 30
    bar.update()
    bar.close()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[1] == "replay: 961/5400 frames (18%), 16.0 frames/s, loss=0.512" and len(lines) == 3


def test_a_short_job_prints_nothing_and_iteration_counts_every_item():
    out = io.StringIO()
    assert list(progress(range(7), desc="convert", unit="file", file=out)) == list(range(7))
    assert out.getvalue() == ""  # not a terminal, and done before the first period


def test_without_total_the_line_has_the_count_only():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(total=None, desc="extract", unit="video", file=out, every=30.0, clock=clock)
    clock.now = 40.0
    bar.update(2)
    assert out.getvalue() == "extract: 2 videos, 0.1 videos/s\n"


def test_disabled_progress_prints_nothing_even_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    assert list(progress(range(3), desc="x", unit="it", enabled=False, file=out)) == [0, 1, 2]
    assert out.getvalue() == ""
