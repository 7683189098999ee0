"""This process's resident memory, sampled from /proc/self/statm in a background thread.

    with RssSampler(interval_s=0.25) as rss:
        work()
    rss.peak_mb, rss.first_mb, rss.last_mb

Used by `lungscreen bench scale` for the driver's peak RSS over a run (ru_maxrss would
include whatever the process held before the run). Linux only (elsewhere every figure is 0).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.cpu_sampler import PeriodicSampler

__all__ = ["RssSampler"]

_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss_bytes() -> int:
    try:
        return int(_STATM.read_text(encoding="ascii").split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class RssSampler(PeriodicSampler):
    """Samples this process's RSS every `interval_s` while running (see the module doc)."""

    def __init__(self, interval_s: float = 0.25) -> None:
        super().__init__(interval_s, "rss-sampler")
        self.samples: list[int] = []

    def _sample(self) -> None:
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
