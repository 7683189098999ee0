"""Machine-wide CPU utilisation, sampled from /proc/stat in a background thread.

    with CpuSampler(interval_s=0.25) as cpu:
        work()
    cpu.busy_fraction(trim=0.1)   # busy share of all cores, first and last 10 % dropped

Busy = 1 - (idle + iowait) / total jiffies between two samples, over every core. Used by
`lungscreen bench`; Linux only (elsewhere every figure is None).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["CpuSampler", "PeriodicSampler"]

_STAT = Path("/proc/stat")


def _read() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, or None without /proc/stat."""
    try:
        first = _STAT.read_text(encoding="ascii").splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [int(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    # guest time is already counted in user/nice
    total = sum(values[:8])
    return total - idle, total


class PeriodicSampler(ABC):
    """Calls `_sample` on entry, every `interval_s` in a background thread, and on exit;
    subclasses say what a sample is and keep them in `samples`."""

    def __init__(self, interval_s: float = 0.25, name: str = "sampler") -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    @abstractmethod
    def _sample(self) -> None:
        """Take one sample (and keep it)."""

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sample()


class CpuSampler(PeriodicSampler):
    """Samples /proc/stat every `interval_s` while running (see the module doc)."""

    def __init__(self, interval_s: float = 0.25) -> None:
        super().__init__(interval_s, "cpu-sampler")
        self.samples: list[tuple[float, int, int]] = []

    def _sample(self) -> None:
        got = _read()
        if got is not None:
            self.samples.append((time.monotonic(), got[0], got[1]))

    def busy_fraction(self, trim: float = 0.0) -> float | None:
        """Busy share of all cores over the run, dropping `trim` of its duration at each
        end (ramp-up and drain), or None without enough samples."""
        if len(self.samples) < 2:
            return None
        t0, t1 = self.samples[0][0], self.samples[-1][0]
        lo, hi = t0 + trim * (t1 - t0), t1 - trim * (t1 - t0)
        window = [s for s in self.samples if lo <= s[0] <= hi]
        if len(window) < 2:
            window = [self.samples[0], self.samples[-1]]
        busy = window[-1][1] - window[0][1]
        total = window[-1][2] - window[0][2]
        return busy / total if total > 0 else None
