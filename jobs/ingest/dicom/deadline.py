"""A CPU-time deadline for parsing one file, without a process per file.

`cpu_deadline(seconds)` arms ITIMER_VIRTUAL (CPU time of this process, delivered as
SIGVTALRM) and raises `ParseTimeout` in the code it guards when the budget is spent. It
works in a process's main thread (where Python runs signal handlers); elsewhere it guards
nothing and the byte caps in jobs.ingest.dicom.headers are the only bound. SIGALRM is left alone
(pytest-timeout and others use it).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["ParseTimeout", "cpu_deadline"]


class ParseTimeout(BaseException):
    """The guarded code ran out of CPU time. A BaseException, so that the parser's own
    `except Exception` clauses cannot swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise ParseTimeout


@contextmanager
def cpu_deadline(seconds: float) -> Iterator[None]:
    """Raise ParseTimeout inside the block after `seconds` of CPU time (main thread only)."""
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    previous = signal.signal(signal.SIGVTALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
