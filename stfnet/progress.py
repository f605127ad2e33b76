"""Progress of long work: a bar on a terminal, a line every ``LINE_SECONDS`` otherwise (logs, nohup, CI).

    for frame in progress(source, total=n, desc="replay", unit="frame"):
        ...

tqdm alone prints nothing when its output is not a terminal (``disable=None``) or fills logs with carriage
returns; a job under ``nohup`` then shows no sign of life for as long as it runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm

LINE_SECONDS = 30.0


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str, unit: str,
             enabled: bool | None = None, leave: bool = True, file: TextIO | None = None) -> Any:
    """A tqdm bar on a terminal, else ``LineProgress``. ``enabled``: None decides by the terminal, True always
    shows a bar, False shows nothing. The result iterates over ``iterable`` and has ``update``,
    ``set_postfix`` and ``close``, as a tqdm bar does."""
    file = file or sys.stderr
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if enabled is None and not _is_terminal(file):
        return LineProgress(iterable, total=total, desc=desc, unit=unit, file=file)
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=file, disable=enabled is False)


def _is_terminal(file: TextIO) -> bool:
    try:
        return file.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


class LineProgress:
    """Prints ``desc: 1200/5400 frames (22%), 12.3 frames/s`` at most every ``every`` seconds, and once at the
    end if it printed before."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None, desc: str, unit: str,
                 file: TextIO, every: float = LINE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.iterable, self.total, self.desc, self.unit, self.file = iterable, total, desc, unit, file
        self.every, self.clock = every, clock
        self.n = 0
        self.postfix = ""
        self.started = self.last = clock()
        self.printed = self.closed = False

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in () if self.iterable is None else self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if not self.closed and now - self.last >= self.every:
            self.last = now
            self._print(now)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        if self.printed and not self.closed:  # the final count, when a reader has seen earlier ones
            self._print(self.clock())
        self.closed = True

    def line(self, now: float) -> str:
        units = _plural(self.unit)
        done = f"{self.n}/{self.total} {units} ({self.n / self.total:.0%})" if self.total else f"{self.n} {units}"
        rate = self.n / max(now - self.started, 1e-9)
        return f"{self.desc}: {done}, {rate:.1f} {units}/s" + (f", {self.postfix}" if self.postfix else "")

    def _print(self, now: float) -> None:
        print(self.line(now), file=self.file, flush=True)
        self.printed = True


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")
