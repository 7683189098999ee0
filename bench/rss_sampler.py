"""This process's resident memory, sampled from /proc/self/statm in a background thread.

    with RssSampler(interval_s=0.25) as rss:
        work()
    rss.peak_mb, rss.first_mb, rss.last_mb

Used by `lungscreen bench scale` for the driver's peak RSS over a run (ru_maxrss would
include whatever the process held before the run). Linux only (elsewhere every figure is 0).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["RssSampler"]

_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    try:
        return int(_STATM.read_text(encoding="ascii").split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class RssSampler:
    """Samples this process's RSS every `interval_s` while running (see the module doc)."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.samples.append(_rss_bytes())

    def __enter__(self) -> RssSampler:
        self.samples.append(_rss_bytes())
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append(_rss_bytes())

    @property
    def peak_mb(self) -> float:
        return max(self.samples, default=0) / 2**20

    @property
    def first_mb(self) -> float:
        return self.samples[0] / 2**20 if self.samples else 0.0

    @property
    def last_mb(self) -> float:
        return self.samples[-1] / 2**20 if self.samples else 0.0
