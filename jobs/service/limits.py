"""Limits on the attacker, not the user.

- `FailedLogins`: failed sign-ins counted per client address as the server sees it (the
  peer, or the forwarded client only when the peer is a configured proxy: see
  `uvicorn_options`) and per presented token id. Past `limit` in `window_s` a failing
  request is answered 429 instead of 401; a valid token is always served, so others'
  failures never lock its holder out.
- `InFlight`: at most `limit` expensive requests (reports, recall) in flight per identity;
  one more is answered 429 with Retry-After at once, so one caller cannot hold the
  service's workers while others are still served.
- `RefusalSummary`: requests the limiter refused are not audited one row each; each window
  is summarised in one `rate_limited` event (how many, from how many addresses, when).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["Busy", "FailedLogins", "InFlight", "RefusalSummary", "uvicorn_options"]


class FailedLogins:
    """At most `limit` failed sign-ins per key (an address, a token id) in `window_s`."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] < now - self.window_s:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        """Whether any of `keys` reached the limit within the window."""
        now = time.monotonic()
        with self._lock:
            blocked = any(len(self._recent(k, now)) >= self.limit for k in keys)
            self._sweep(now)
            return blocked

    def failed(self, *keys: str) -> None:
        """Count one failed sign-in against each of `keys`."""
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def _sweep(self, now: float) -> None:  # forget quiet keys: a flood of ids holds no memory
        for k in [k for k, v in self._seen.items() if not v or v[-1] < now - self.window_s]:
            del self._seen[k]


class Busy(Exception):
    """An identity already has its limit of expensive requests in flight."""


class InFlight:
    """At most `limit` expensive requests in flight per identity (see the module doc)."""

    def __init__(self, limit: int = 2) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def hold(self, who: str) -> Iterator[None]:
        """One of `who`'s slots while the block runs; Busy when none is free."""
        with self._lock:
            if self._held.get(who, 0) >= self.limit:
                raise Busy(who)
            self._held[who] = self._held.get(who, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._held[who] -= 1
                if not self._held[who]:
                    del self._held[who]


class RefusalSummary:
    """Requests refused by the limiter, gathered per window of `window_s`."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._lock = threading.Lock()
        self._start = 0.0
        self._count = 0
        self._clients: set[str] = set()
        self._first: datetime | None = None
        self._last: datetime | None = None

    def refused(self, client: str) -> dict[str, Any] | None:
        """Count a refusal; the summary of the window it closed, if it closed one."""
        now = time.monotonic()
        with self._lock:
            done = self._close(now)
            if self._count == 0:
                self._start = now
            self._count += 1
            self._clients.add(client)
            self._last = datetime.now(UTC)
            self._first = self._first or self._last
            return done

    def due(self) -> dict[str, Any] | None:
        """The summary of a window that has ended, once; None when none has."""
        with self._lock:
            return self._close(time.monotonic())

    def flush(self) -> dict[str, Any] | None:
        """The summary of the open window, whether or not it ended (at shutdown)."""
        with self._lock:
            return self._close(None)

    def _close(self, now: float | None) -> dict[str, Any] | None:
        if self._count == 0 or (now is not None and now - self._start < self.window_s):
            return None
        assert self._first is not None and self._last is not None
        out = {"refused": self._count, "addresses": len(self._clients),
               "first": self._first.isoformat(timespec="seconds"),
               "last": self._last.isoformat(timespec="seconds"),
               "window_s": int(self.window_s)}
        self._count, self._clients, self._first, self._last = 0, set(), None, None
        return out


def uvicorn_options(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn.Config options for who the client is: the peer address, unless
    `forwarded_allow_ips` names the proxies (comma-separated addresses or networks)
    whose X-Forwarded-For is trusted. uvicorn's own default trusts loopback; this never
    trusts anyone unless told."""
    ips = (forwarded_allow_ips or "").strip()
    if not ips:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ips}
