"""A live per-region progress bar on stderr for `lungscreen campaign run` and `demo`.

Drawn only when stderr is a terminal; otherwise the driver's one INFO line per shard is the
progress report. It is a CampaignObserver, fed by the driver; it shows counts only.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from kernel.observer import NullObserver, ShardInfo
from kernel.records import Outcome, StudyResult

__all__ = ["ProgressBar"]

_WIDTH = 28


class ProgressBar(NullObserver):
    """Per region: a bar of committed studies over planned, with screened / quarantined /
    opted-out counts and the overall rate. Redraws at most every `min_interval_s`."""

    def __init__(self, stream: TextIO | None = None, min_interval_s: float = 0.2) -> None:
        self._stream = stream or sys.stderr
        self._min_interval = min_interval_s
        self._total: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._bad: dict[str, int] = {}
        self._start = time.monotonic()
        self._studies = 0
        self._drawn_lines = 0
        self._last = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def wanted(stream: TextIO | None = None) -> bool:
        """True when `stream` (default stderr) is a terminal."""
        s = stream or sys.stderr
        return bool(getattr(s, "isatty", lambda: False)())

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        self._total = dict(total_by_region)
        self._done = {r: done_by_region.get(r, 0) for r in total_by_region}
        self._bad = dict.fromkeys(total_by_region, 0)
        self._draw(force=True)

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        region = shard.region
        self._done[region] = self._done.get(region, 0) + len(results)
        self._bad[region] = self._bad.get(region, 0) + sum(
            1 for r in results if r.outcome is not Outcome.SCREENED
        )
        self._studies += len(results)
        self._draw()

    def on_finished(self, campaign_id: str, state: str) -> None:
        self._draw(force=True)
        self._stream.write("\n")
        self._stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self._min_interval:
                return
            self._last = now
            rate = self._studies / max(now - self._start, 1e-6)
            lines = []
            for region in sorted(self._total):
                total, done = self._total[region], self._done.get(region, 0)
                filled = int(_WIDTH * done / total) if total else _WIDTH
                bar = "#" * filled + "." * (_WIDTH - filled)
                lines.append(
                    f"{region:<12} [{bar}] {done:>6}/{total:<6} "
                    f"not screened {self._bad.get(region, 0):>4}"
                )
            lines.append(f"{'':<12} {rate:.2f} studies/s")
            out = ""
            if self._drawn_lines:
                out += f"\x1b[{self._drawn_lines}F"  # back to the first line of the block
            out += "".join(f"\x1b[2K{line}\n" for line in lines)
            self._drawn_lines = len(lines)
            self._stream.write(out)
            self._stream.flush()
