"""The campaign driver: runs planned shards on an executor and commits each one.

The driver is the only writer of the results store: when a shard's outcome comes back, its
results and its ledger mark are committed together through `commit` (one transaction,
idempotent in the store), so a crash leaves every shard wholly committed or not at all.

Scheduling rules:
- at most `max_shards_in_flight` shards submitted at once; every wait has a timeout;
- a shard past its deadline is cancelled and resubmitted;
- the backend unavailable (RetryableError): the shard goes back to the queue and the driver
  pauses all submissions with exponential backoff (reset on the next success); if nothing
  commits for `stall_timeout_s` the run stops as `failed` (resumable), never quarantining;
- a worker or node lost (WorkerLost, after Ray's own retries): resubmitted up to
  `max_attempts` times; then the shard is split into single-study parts, and a study whose
  part still cannot finish is quarantined `inference_failed`. The parts commit together
  under the original shard id;
- a shard whose studies were all decided at planning (opted out, selection quarantine)
  commits without running;
- `is_cancelled()` (polled every few seconds) stops new submissions; in-flight shards
  finish and commit, then the run ends as `cancelled`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from jobs.run.backends import BackendConfig
from jobs.run.executor import Executor, TaskHandle, WorkerLost
from jobs.run.shardwork import ShardWork
from jobs.run.worker import planned_result
from kernel.errors import RetryableError
from kernel.observer import CampaignObserver, CompositeObserver, NullObserver
from kernel.reasons import Reason
from kernel.records import Outcome, StudyResult

__all__ = ["CommitFn", "DriveReport", "Driver", "DriverSettings", "Placement"]

log = logging.getLogger("jobs")

CommitFn = Callable[[ShardWork, tuple[StudyResult, ...]], None]


@dataclass(frozen=True)
class DriverSettings:
    """Scheduling knobs (validated by the spec; defaults fit a small cluster)."""

    max_shards_in_flight: int = 4
    study_deadline_s: float = 300.0  # a shard's deadline: this per study to run, plus 60 s
    max_attempts: int = 2  # driver resubmissions after a lost worker, before isolating
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    stall_timeout_s: float = 1800.0
    poll_s: float = 1.0
    cancel_check_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_shards_in_flight < 1:
            raise ValueError(
                f"max_shards_in_flight ({self.max_shards_in_flight}) must be at least 1"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts ({self.max_attempts}) must be at least 1")


@dataclass(frozen=True)
class Placement:
    """Where a shard (or part) ran: kept in driver memory only, never stored."""

    node_id: str
    node_resources: dict[str, float]
    pid: int


@dataclass
class DriveReport:
    """What a run did. `state`: completed, cancelled or failed."""

    state: str = "completed"
    shards_committed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    placements: dict[str, list[Placement]] = field(default_factory=dict)
    wall_s: float = 0.0


@dataclass
class _Job:
    """A shard, or a single-study part of one, waiting for or being run."""

    work: ShardWork
    parent: str
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class _Assembly:
    """A shard split into parts; it commits when every part has its result."""

    work: ShardWork
    parts_left: int
    results: dict[str, StudyResult] = field(default_factory=dict)


class Driver:
    """Runs shards to completion; see the module doc for the rules."""

    def __init__(
        self,
        executor: Executor,
        commit: CommitFn,
        backend: BackendConfig,
        settings: DriverSettings | None = None,
        observer: CampaignObserver | None = None,
        is_cancelled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._executor = executor
        self._commit = commit
        self._backend = backend
        self._settings = settings = settings or DriverSettings()
        self._observer: CampaignObserver = (
            CompositeObserver([observer]) if observer is not None else NullObserver()
        )
        self._is_cancelled = is_cancelled
        self._clock = clock
        self._queue: deque[_Job] = deque()
        self._in_flight: dict[int, tuple[TaskHandle, _Job, float]] = {}
        self._assemblies: dict[str, _Assembly] = {}
        self._pause_until = 0.0
        self._backoff = settings.backoff_initial_s
        self._last_progress = clock()
        self.report = DriveReport()

    # -- the loop ---------------------------------------------------------------------------

    def run(self, shards: Iterable[ShardWork]) -> DriveReport:
        """Run every shard of `shards` (an iterator is consumed lazily) and return the report.

        Raises RetryableError when the backend stayed unavailable past `stall_timeout_s`
        (in-flight shards are committed first; the campaign can be resumed).
        """
        start = self._clock()
        source: Iterator[ShardWork] | None = iter(shards)
        cancelled = False
        next_cancel_check = start
        s = self._settings
        try:
            while True:
                now = self._clock()
                if not cancelled and now >= next_cancel_check:
                    cancelled = bool(self._is_cancelled())
                    next_cancel_check = now + s.cancel_check_s
                    if cancelled:
                        log.info("campaign cancelled: finishing %d shard(s) in flight",
                                 len(self._in_flight))
                if not cancelled:
                    source = self._fill(source, now)
                if not self._in_flight:
                    if cancelled or (source is None and not self._queue):
                        break
                    self._check_stall(now)
                    time.sleep(min(s.poll_s, max(0.05, self._next_due(now) - now)))
                    continue
                handles = [h for h, _, _ in self._in_flight.values()]
                for handle in self._executor.wait(handles, timeout_s=s.poll_s):
                    self._finish(handle)
                self._expire(self._clock())
                self._check_stall(self._clock())
        except BaseException:
            self.report.state = "failed"
            for handle, _, _ in list(self._in_flight.values()):
                self._executor.cancel(handle)
            raise
        finally:
            self.report.wall_s = self._clock() - start
        self.report.state = "cancelled" if cancelled else "completed"
        return self.report

    def _next_due(self, now: float) -> float:
        """When the next queued job may be submitted (now + poll when nothing is queued)."""
        if not self._queue:
            return now + self._settings.poll_s
        return max(now, min(j.not_before for j in self._queue), self._pause_until)

    def _fill(self, source: Iterator[ShardWork] | None, now: float) -> Iterator[ShardWork] | None:
        """Submit until the in-flight bound is reached; returns the source (None: drained)."""
        while len(self._in_flight) < self._settings.max_shards_in_flight:
            job = self._take_due(now)
            if job is None:
                if source is None or now < self._pause_until:
                    return source
                work = next(source, None)
                if work is None:
                    return None
                if not work.needs_worker:
                    self._commit_shard(work, tuple(
                        planned_result(st.record, st.planned, self._backend)
                        for st in work.studies if st.planned is not None
                    ))
                    continue
                job = _Job(work=work, parent=work.shard_id)
            self._submit(job, now)
        return source

    def _take_due(self, now: float) -> _Job | None:
        if now < self._pause_until:
            return None
        for job in self._queue:
            if job.not_before <= now:
                self._queue.remove(job)
                return job
        return None

    def _submit(self, job: _Job, now: float) -> None:
        job.attempts += 1
        handle = self._executor.submit(job.work, job.attempts)
        todo = sum(1 for st in job.work.studies if st.planned is None)
        deadline = now + 60.0 + self._settings.study_deadline_s * todo
        self._in_flight[handle.key] = (handle, job, deadline)
        self._observer.on_shard_started(job.work, job.attempts)

    # -- outcomes ---------------------------------------------------------------------------

    def _finish(self, handle: TaskHandle) -> None:
        _, job, _ = self._in_flight.pop(handle.key)
        try:
            outcome = self._executor.outcome(handle)
        except WorkerLost as exc:
            log.warning("%s (attempt %d)", exc, job.attempts)
            self._lost(job, "worker_lost")
            return
        except RetryableError as exc:
            self._unavailable(job, str(exc))
            return
        except Exception as exc:  # a bug in the worker: bounded like a lost worker
            log.error("shard %s raised %s in the worker", job.work.shard_id, type(exc).__name__)
            self._lost(job, "worker_error")
            return
        self._backoff = self._settings.backoff_initial_s
        self._last_progress = self._clock()
        self.report.placements.setdefault(job.parent, []).append(
            Placement(outcome.node_id, dict(outcome.node_resources), outcome.pid)
        )
        for server, request_outcome, seconds in outcome.backend_requests:
            self._observer.on_triton_request(server, request_outcome, seconds)
        self._deliver(job, outcome.results)

    def _deliver(self, job: _Job, results: tuple[StudyResult, ...]) -> None:
        if job.parent == job.work.shard_id:
            self._commit_shard(job.work, results)
            return
        assembly = self._assemblies[job.parent]
        for r in results:
            assembly.results[r.study_pid] = r
        assembly.parts_left -= 1
        if assembly.parts_left == 0:
            del self._assemblies[job.parent]
            ordered = tuple(assembly.results[st.record.study_pid]
                            for st in assembly.work.studies)
            self._commit_shard(assembly.work, ordered)

    def _unavailable(self, job: _Job, why: str) -> None:
        job.attempts -= 1  # an outage is not the shard's fault
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self._settings.backoff_max_s)
        self._pause_until = max(self._pause_until, self._clock() + delay)
        self._queue.appendleft(job)
        self.report.retries["backend_unavailable"] += 1
        log.warning("inference backend unavailable (%s); pausing %.0f s", why, delay)
        self._observer.on_shard_retry(job.work, "backend_unavailable", delay)

    def _lost(self, job: _Job, kind: str) -> None:
        self.report.retries[kind] += 1
        if job.attempts < self._settings.max_attempts:
            delay = self._settings.backoff_initial_s
            job.not_before = self._clock() + delay
            self._queue.append(job)
            self._observer.on_shard_retry(job.work, kind, delay)
            return
        todo = [st for st in job.work.studies if st.planned is None]
        if len(todo) > 1:
            self._split(job)
            return
        # one study whose worker dies (or times out) every time: quarantine it
        results = tuple(
            planned_result(st.record, st.planned, self._backend) if st.planned is not None
            else planned_result(st.record, Reason.INFERENCE_FAILED, self._backend)
            for st in job.work.studies
        )
        log.warning("shard %s: a study failed on every attempt; quarantined", job.parent)
        self._deliver(job, results)

    def _split(self, job: _Job) -> None:
        log.warning("shard %s failed %d times; running its studies one by one",
                    job.work.shard_id, job.attempts)
        parts = [
            dataclasses.replace(job.work, shard_id=f"{job.work.shard_id}/{i}", studies=(st,))
            for i, st in enumerate(job.work.studies)
        ]
        if job.parent == job.work.shard_id:
            self._assemblies[job.parent] = _Assembly(work=job.work, parts_left=len(parts))
        else:  # a part of a part cannot happen: parts hold one study
            raise AssertionError("split of a single-study part")
        for part in parts:
            if part.needs_worker:
                self._queue.append(_Job(work=part, parent=job.parent))
            else:
                self._deliver(_Job(work=part, parent=job.parent), tuple(
                    planned_result(st.record, st.planned, self._backend)
                    for st in part.studies if st.planned is not None
                ))

    def _expire(self, now: float) -> None:
        for key, (handle, job, deadline) in list(self._in_flight.items()):
            if now > deadline:
                log.warning("shard %s passed its deadline; cancelling", job.work.shard_id)
                self._executor.cancel(handle)
                del self._in_flight[key]
                self._lost(job, "deadline")

    def _check_stall(self, now: float) -> None:
        if now < self._pause_until and now - self._last_progress > self._settings.stall_timeout_s:
            raise RetryableError(
                f"the inference backend has been unavailable for over "
                f"{self._settings.stall_timeout_s:.0f} s; nothing was quarantined for it. "
                "Check the Triton servers, then resume the campaign"
            )

    def _commit_shard(self, work: ShardWork, results: tuple[StudyResult, ...]) -> None:
        for r in results:
            self._observer.on_study_done(r)
            if r.outcome is not Outcome.SCREENED:
                self._observer.on_quarantine(r)
        start = time.perf_counter()
        self._commit(work, results)
        commit_s = time.perf_counter() - start
        self._last_progress = self._clock()
        self.report.shards_committed += 1
        counts = Counter(r.outcome.value for r in results)
        self.report.outcomes.update(counts)
        self._observer.on_shard_committed(work, results, commit_s)
        log.info(
            "shard %s (%s): %d screened, %d quarantined, %d opted out; committed in %.3f s",
            work.shard_id, work.region, counts[Outcome.SCREENED.value],
            counts[Outcome.QUARANTINED.value], counts[Outcome.OPTED_OUT.value], commit_s,
        )
