"""A live per-region progress display on stderr for `lungscreen campaign run` and `demo`.

Drawn with rich only when stderr is a terminal; otherwise the driver's one INFO line per
shard is the progress report. It is a CampaignObserver, fed by the driver; it shows counts
only. While it is live, log records go through the same console, above the bars, so a log
line never leaves a stale bar behind.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from kernel.observer import NullObserver, ShardInfo
from kernel.records import Outcome, StudyResult

__all__ = ["ProgressBar"]


class ProgressBar(NullObserver):
    """Per region: committed studies over planned, percentage, elapsed time, time left, and
    how many were not screened (quarantined or opted out)."""

    def __init__(self, stream: TextIO | None = None, *, terminal: bool | None = None) -> None:
        self._console = Console(file=stream or sys.stderr, force_terminal=terminal,
                                highlight=False)
        self._progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("left"),
            TimeRemainingColumn(), TextColumn("not screened {task.fields[bad]}"),
            console=self._console, refresh_per_second=5, transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._bad: dict[str, int] = {}
        self._lock = threading.Lock()
        self._handler: RichHandler | None = None
        self._replaced: list[logging.Handler] = []

    @staticmethod
    def wanted(stream: TextIO | None = None) -> bool:
        """True when `stream` (default stderr) is a terminal."""
        s = stream or sys.stderr
        return bool(getattr(s, "isatty", lambda: False)())

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        with self._lock:
            for region in sorted(total_by_region):
                self._tasks[region] = self._progress.add_task(
                    region, total=total_by_region[region],
                    completed=done_by_region.get(region, 0), bad=0)
            self._route_logs()
            self._progress.start()

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        with self._lock:
            task = self._tasks.get(shard.region)
            if task is None:
                return
            bad = self._bad.get(shard.region, 0) + sum(
                1 for r in results if r.outcome is not Outcome.SCREENED)
            self._bad[shard.region] = bad
            self._progress.update(task, advance=len(results), bad=bad)

    def on_finished(self, campaign_id: str, state: str) -> None:
        with self._lock:
            self._progress.refresh()
            self._progress.stop()
            self._restore_logs()

    def _route_logs(self) -> None:
        """Swap the root logger's stream handlers for one that prints through the console."""
        root = logging.getLogger()
        self._replaced = [h for h in root.handlers if type(h) is logging.StreamHandler]
        self._handler = RichHandler(console=self._console, show_path=False,
                                    rich_tracebacks=False, markup=False)
        level = min((h.level for h in self._replaced), default=logging.NOTSET)
        self._handler.setLevel(level)
        for h in self._replaced:
            root.removeHandler(h)
        root.addHandler(self._handler)

    def _restore_logs(self) -> None:
        root = logging.getLogger()
        if self._handler is not None:
            root.removeHandler(self._handler)
            self._handler = None
        for h in self._replaced:
            root.addHandler(h)
        self._replaced = []
