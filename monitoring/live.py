"""What only the running driver knows: shards running now, studies in flight, recent pace.

This state lives in process memory and is meant to: it describes the present, so after a
driver restart it starts again from empty, which is the truth (nothing runs until the resumed
driver starts shards). Thread-safe: the driver's callbacks and scrapes run on other threads.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_WINDOW_S", "LiveState", "RunningShard"]

DEFAULT_WINDOW_S = 300.0


@dataclass
class RunningShard:
    """A shard a worker holds now, and how many of its studies are still unfinished."""

    campaign: str
    region: str
    studies_left: int


class LiveState:
    """Running shards, studies in flight and a sliding-window throughput per campaign.

    `window_s` is the throughput window; `clock` a monotonic clock in seconds (tests pass
    their own).
    """

    def __init__(
        self, window_s: float = DEFAULT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"throughput window must be > 0 s, got {window_s}")
        self._window = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str], RunningShard] = {}
        self._done_times: dict[str, deque[float]] = {}
        self._first_seen: dict[str, float] = {}
        self._deadlines: dict[str, float] = {}

    @property
    def window_s(self) -> float:
        return self._window

    def shard_started(self, campaign: str, region: str, shard_id: str, studies: int) -> None:
        with self._lock:
            self._first_seen.setdefault(campaign, self._clock())
            self._running[(campaign, shard_id)] = RunningShard(campaign, region, max(studies, 0))

    def study_done(self, campaign: str, shard_id: str | None) -> None:
        """One study finished its stages (committed later with its shard)."""
        now = self._clock()
        with self._lock:
            self._first_seen.setdefault(campaign, now)
            times = self._done_times.setdefault(campaign, deque())
            times.append(now)
            self._trim(times, now)
            shard = self._running.get((campaign, shard_id)) if shard_id is not None else None
            if shard is not None and shard.studies_left > 0:
                shard.studies_left -= 1

    def shard_finished(self, campaign: str, shard_id: str, *, with_parts: bool = False) -> None:
        """The shard committed, failed or was given up: it no longer runs here.
        `with_parts`: also its single-study parts (ids "<shard_id>/<i>")."""
        with self._lock:
            self._running.pop((campaign, shard_id), None)
            if with_parts:
                prefix = f"{shard_id}/"
                for key in [k for k in self._running if k[0] == campaign
                            and k[1].startswith(prefix)]:
                    del self._running[key]

    def campaign_stopped(self, campaign: str) -> None:
        """The driver stopped the campaign: nothing of it runs any more."""
        with self._lock:
            for key in [k for k in self._running if k[0] == campaign]:
                del self._running[key]

    def set_deadline(self, campaign: str, deadline_ts: float | None) -> None:
        with self._lock:
            if deadline_ts is None:
                self._deadlines.pop(campaign, None)
            else:
                self._deadlines[campaign] = deadline_ts

    def deadline(self, campaign: str) -> float | None:
        with self._lock:
            return self._deadlines.get(campaign)

    def campaigns(self) -> list[str]:
        """Campaigns this process has seen, sorted."""
        with self._lock:
            seen = set(self._first_seen) | {c for c, _ in self._running} | set(self._deadlines)
        return sorted(seen)

    def running_shards(self, campaign: str) -> dict[str, int]:
        """Region -> number of shards of `campaign` running now."""
        with self._lock:
            counts: dict[str, int] = {}
            for shard in self._running.values():
                if shard.campaign == campaign:
                    counts[shard.region] = counts.get(shard.region, 0) + 1
            return counts

    def in_flight(self, campaign: str) -> int:
        """Studies of running shards that have not finished yet."""
        with self._lock:
            return sum(s.studies_left for s in self._running.values() if s.campaign == campaign)

    def throughput(self, campaign: str) -> float:
        """Studies per second over the last window (or since first seen, if shorter)."""
        now = self._clock()
        with self._lock:
            times = self._done_times.get(campaign)
            if not times:
                return 0.0
            self._trim(times, now)
            span = min(self._window, now - self._first_seen.get(campaign, now))
            return len(times) / span if span > 0 else 0.0

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] < now - self._window:
            times.popleft()
