"""Progress on stderr for `lungscreen campaign run` and `demo`.

On a terminal, `ProgressBar`: a live bar per region, drawn with rich. Otherwise the driver's
one INFO line per shard is the report, and `Heartbeat` says what is happening while no shard
has finished (the first ones wait for the model's warm-up): a line at the plan, then one
every `interval_s` without a commit. Both are CampaignObservers, fed by the driver; they show
counts only. While the bars are live, log records go through the same console, above them,
so a log line never leaves a stale bar behind.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from kernel.observer import NullObserver, ShardInfo
from kernel.records import Outcome, StudyResult

__all__ = ["Heartbeat", "ProgressBar", "TimeLeft"]

log = logging.getLogger("jobs")


class TimeLeft(ProgressColumn):
    """Time left at the region's own average pace so far (elapsed / done x left): rich's
    estimate needs several updates inside 30 s and stays "-:--:--" when shards finish less
    often than that."""

    def render(self, task: Task) -> Text:
        if task.finished or (task.total is not None and task.completed >= task.total):
            return Text("done", style="progress.remaining")
        if not task.completed or not task.elapsed or task.total is None:
            return Text("measuring", style="progress.remaining")
        left = int(task.elapsed * (task.total - task.completed) / task.completed)
        return Text(f"{left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}",
                    style="progress.remaining")


class ProgressBar(NullObserver):
    """Per region: committed studies over planned, percentage, elapsed time, time left, and
    how many were not screened (quarantined or opted out)."""

    def __init__(self, stream: TextIO | None = None, *, terminal: bool | None = None) -> None:
        self._console = Console(file=stream or sys.stderr, force_terminal=terminal,
                                highlight=False)
        self._progress = Progress(
            TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("left"),
            TimeLeft(), TextColumn("not screened {task.fields[bad]}"),
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


class Heartbeat(NullObserver):
    """Without a terminal: what the campaign is doing while no shard has finished."""

    def __init__(self, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._planned = self._done = self._started = 0
        self._last = clock()
        self._thread: threading.Thread | None = None

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        with self._lock:
            self._planned = sum(total_by_region.values())
            self._done = sum(done_by_region.values())
            self._last = self._clock()
        log.info("screening %d studies over %d regions (%d done before); a line per shard "
                 "as it commits, the first after the model has warmed up",
                 self._planned - self._done, len(total_by_region), self._done)
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def on_shard_started(self, shard: ShardInfo, attempt: int) -> None:
        with self._lock:
            self._started += 1

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        with self._lock:
            self._done += len(results)
            self._last = self._clock()

    def on_finished(self, campaign_id: str, state: str) -> None:
        self._finished.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def beat(self) -> bool:
        """Log a line if no shard has committed for `interval_s`; whether it did."""
        with self._lock:
            quiet = self._clock() - self._last >= self._interval_s
            done, planned, started = self._done, self._planned, self._started
        if quiet:
            log.info("screening: %d/%d studies done, %d shards started; waiting for "
                     "results", done, planned, started)
        return quiet

    def _beat(self) -> None:
        while not self._finished.wait(self._interval_s):
            self.beat()
