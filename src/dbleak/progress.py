"""What a long run shows on standard error: a progress bar on a terminal, and ``-v`` phase times."""

from __future__ import annotations

import time
from typing import TextIO

from dbleak.api import PathResult, RunObserver

# "More than a few hundred files": below this a run ends before a bar would help.
PROGRESS_MIN_FILES = 300
_REDRAW_SECONDS = 0.1
_WIDTH = 30


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes}m{rest:02d}s"


class TerminalObserver(RunObserver):
    """Draws ``files done/total``, the rate and the time left on ``stream`` (a terminal) when
    ``progress`` and the run is long; prints each phase's time when ``verbose``."""

    def __init__(self, stream: TextIO, progress: bool, verbose: bool) -> None:
        self._stream = stream
        self._progress = progress
        self._verbose = verbose
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._drawn_at = 0.0
        self._drawing = False

    def files_found(self, count: int) -> None:
        self._total = count
        self._started = time.perf_counter()
        self._drawing = self._progress and count > PROGRESS_MIN_FILES
        if self._drawing:
            self._draw(time.perf_counter())

    def file_done(self, result: PathResult) -> None:
        self._done += 1
        if not self._drawing:
            return
        now = time.perf_counter()
        if now - self._drawn_at >= _REDRAW_SECONDS or self._done == self._total:
            self._draw(now)
        if self._done == self._total:
            self._clear()

    def phase_done(self, phase: str, seconds: float, detail: str = "") -> None:
        if not self._verbose:
            return
        if self._drawing and self._done < self._total:
            self._clear()
        suffix = f" ({detail})" if detail else ""
        self._stream.write(f"dbleak: {phase}: {_duration(seconds)}{suffix}\n")
        self._stream.flush()
        if self._drawing and self._done < self._total:
            self._draw(time.perf_counter())

    def line(self, now: float) -> str:
        """The bar as drawn at ``now``."""
        total = max(self._total, 1)
        filled = _WIDTH * self._done // total
        elapsed = max(now - self._started, 1e-9)
        rate = self._done / elapsed
        if self._done and rate > 0:
            left = f"{_duration((self._total - self._done) / rate)} left"
        else:
            left = "estimating"
        return (f"[{'#' * filled}{'.' * (_WIDTH - filled)}] {self._done}/{self._total} files"
                f"  {rate:.0f} files/s  {left}")

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        self._stream.write("\r" + self.line(now) + "\x1b[K")
        self._stream.flush()

    def _clear(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()
