"""Per-server request counters for the Triton client, with no metrics library in sight.

`TritonBackend(..., on_request=hook)` calls `hook(server, outcome, seconds)` once per attempt
(a retried request reports each attempt). `RequestCounters` is a ready-made thread-safe hook;
the monitoring package can pass its own callable that feeds Prometheus instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["OnRequest", "Outcome", "RequestCounters", "ServerStats"]


class Outcome(StrEnum):
    """How one attempt against one server ended (a bounded label set)."""

    OK = "ok"
    RETRYABLE = "retryable"  # unavailable, overloaded or timed out; retried if attempts remain
    BAD_INPUT = "bad_input"
    PERMANENT = "permanent"


OnRequest = Callable[[str, Outcome, float], None]
"""hook(server_url, outcome, seconds): called after every attempt."""


@dataclass(frozen=True)
class ServerStats:
    """Totals for one server."""

    requests: int
    ok: int
    retryable: int
    bad_input: int
    permanent: int
    seconds_total: float
    seconds_max: float


class RequestCounters:
    """Thread-safe per-server counts of attempts by outcome, and their latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[Outcome, int]] = {}
        self._seconds: dict[str, list[float]] = {}

    def __call__(self, server: str, outcome: Outcome, seconds: float) -> None:
        with self._lock:
            counts = self._counts.setdefault(server, dict.fromkeys(Outcome, 0))
            counts[outcome] += 1
            total_max = self._seconds.setdefault(server, [0.0, 0.0])
            total_max[0] += seconds
            total_max[1] = max(total_max[1], seconds)

    def snapshot(self) -> dict[str, ServerStats]:
        """Totals per server URL so far."""
        with self._lock:
            return {
                server: ServerStats(
                    requests=sum(counts.values()),
                    ok=counts[Outcome.OK],
                    retryable=counts[Outcome.RETRYABLE],
                    bad_input=counts[Outcome.BAD_INPUT],
                    permanent=counts[Outcome.PERMANENT],
                    seconds_total=self._seconds[server][0],
                    seconds_max=self._seconds[server][1],
                )
                for server, counts in self._counts.items()
            }
