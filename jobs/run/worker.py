"""The shard worker: a stateless function that screens the studies of one shard.

`run_shard(work, config, policy, backends=...)` runs inside a Ray task (see jobs.run.executor)
or as a plain call in-process; it knows nothing of Ray. For each study: load the selected
series into an HU volume (CPU), run the model through the InferenceBackend the worker's
`WorkerBackends` builds from the config (jobs.run.backends: Triton, or the in-process
model), read the screen against the person's prior (jobs.rounds) and categorise with
Lung-RADS. While one study is
at the backend, the next one is loaded in a thread so CPU decode and inference overlap.

Failures, per study:
- a volume that will not load (decoder error, corrupt pixels) or a model that rejects it
  (BadInput, PermanentError) is tried `policy.poison_attempts` times, then the study is
  quarantined (`decode_failed` / `inference_failed`) and the shard goes on;
- an unavailable backend (RetryableError) is retried with backoff for
  `policy.retryable_window_s`, then the error leaves the task: the driver backs off and
  resubmits the shard. Healthy studies are never quarantined for an outage.

The worker writes nothing: results go back to the driver, the only writer of the store.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from jobs.ingest.privacy import unscreened_result
from jobs.ingest.privacy.seal import SealedSelection
from jobs.ingest.selection import Selected
from jobs.ingest.volume import load_volume
from jobs.rounds import lung_box, read_round
from jobs.rounds.registered import register_prior
from jobs.run.backends import BackendConfig, WorkerBackends
from jobs.run.shardwork import ShardOutcome, ShardWork, StudyWork, WorkerPolicy
from kernel.contract import InferenceBackend, Nodule, nodules_from_array
from kernel.errors import LUNGS_NOT_COVERED_PREFIX, BadInput, PermanentError, RetryableError
from kernel.lungrads import Category
from kernel.reasons import Reason
from kernel.records import Outcome, StudyRecord, StudyResult
from kernel.rounds import RoundReading

__all__ = ["LoadedVolume", "load_study", "planned_result", "run_shard"]

log = logging.getLogger("jobs")

@dataclass(frozen=True)
class LoadedVolume:
    hu: npt.NDArray[np.int16]
    spacing: tuple[float, float, float]


def load_study(locator: object) -> LoadedVolume:
    """Load the series a locator points at: a `jobs.ingest.selection.Selected` (or one
    sealed for the trip, opened with this node's key), read from the source it was
    discovered in (jobs.ingest.volume's loader)."""
    if isinstance(locator, SealedSelection):
        locator = locator.open()
    if not isinstance(locator, Selected):
        raise BadInput(f"a study locator must be a selected series, not {type(locator).__name__}")
    volume = load_volume(locator.series.source, locator)
    spacing = tuple(float(s) for s in volume.spacing)
    return LoadedVolume(hu=volume.hu, spacing=(spacing[0], spacing[1], spacing[2]))


def planned_result(record: StudyRecord, reason: Reason, config: BackendConfig) -> StudyResult:
    """The result of a study whose outcome planning decided (opted out or quarantined)."""
    return unscreened_result(record, reason, model_name=config.model_name,
                             model_version=config.model_version)


def _result(
    record: StudyRecord, config: BackendConfig, *, outcome: Outcome, timings: dict[str, float],
    reason: Reason | None = None, category: Category | None = None,
    nodules: tuple[Nodule, ...] = (), reading: RoundReading | None = None,
) -> StudyResult:
    return StudyResult.from_record(record, outcome=outcome, model_name=config.model_name,
                                   model_version=config.model_version, category=category,
                                   reason=reason, nodules=nodules, timings=timings,
                                   reading=reading)


@dataclass(frozen=True)
class _Loaded:
    volume: LoadedVolume | None
    seconds: float
    error: BaseException | None = None  # a RetryableError to re-raise in the main thread


def _load_with_retries(
    locator: object, loader: Callable[[object], LoadedVolume], attempts: int
) -> _Loaded:
    start = time.perf_counter()
    for attempt in range(1, attempts + 1):
        try:
            return _Loaded(loader(locator), time.perf_counter() - start)
        except RetryableError as exc:
            return _Loaded(None, time.perf_counter() - start, exc)
        except Exception as exc:  # a decoder may raise anything on garbage
            log.debug("load attempt %d/%d failed: %s", attempt, attempts, type(exc).__name__)
    return _Loaded(None, time.perf_counter() - start)


def _lungs_not_covered(exc: BaseException) -> bool:
    """The model's "lungs not covered" answer (kernel.errors.LungsNotCovered), in process
    or as the message a server relays."""
    reason = getattr(exc, "reason", None)
    return reason == Reason.INCOMPLETE_LUNG_COVERAGE or LUNGS_NOT_COVERED_PREFIX in str(exc)


class _NotCovered:
    """The model says the volume does not cover the lungs: Lung-RADS category 0."""


def _infer_with_retries(
    backend: InferenceBackend, volume: LoadedVolume, policy: WorkerPolicy
) -> npt.NDArray[np.float32] | _NotCovered | None:
    """The NODULES array, _NotCovered, or None when the model fails on this volume every
    time."""
    failures = 0
    deadline = time.monotonic() + policy.retryable_window_s
    delay = 0.5
    while True:
        try:
            return backend.infer(volume.hu, volume.spacing)
        except RetryableError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        except (BadInput, PermanentError) as exc:
            if _lungs_not_covered(exc):
                return _NotCovered()
            failures += 1
            log.debug("inference attempt %d failed: %s", failures, type(exc).__name__)
            if failures >= policy.poison_attempts:
                return None


def _screen(
    study: StudyWork, loaded: _Loaded, config: BackendConfig, policy: WorkerPolicy,
    backends: WorkerBackends, loader: Callable[[object], LoadedVolume] = load_study,
) -> StudyResult:
    timings = {"load": loaded.seconds}
    if loaded.volume is None:
        return _result(study.record, config, outcome=Outcome.QUARANTINED,
                       reason=Reason.DECODE_FAILED, timings=timings)
    backend = backends.get(config)  # built on first use: a shard of garbage needs none
    start = time.perf_counter()
    rows = _infer_with_retries(backend, loaded.volume, policy)
    timings["infer"] = time.perf_counter() - start
    if rows is None:
        return _result(study.record, config, outcome=Outcome.QUARANTINED,
                       reason=Reason.INFERENCE_FAILED, timings=timings)
    start = time.perf_counter()
    if isinstance(rows, _NotCovered):
        reading, category = _read(study, (), loaded.volume, timings, lungs_covered=False)
        timings["postprocess"] = time.perf_counter() - start
        return _result(study.record, config, outcome=Outcome.SCREENED, category=category,
                       timings=timings, reading=reading)
    try:
        nodules = nodules_from_array(rows)
    except ValueError:
        timings["postprocess"] = time.perf_counter() - start
        return _result(study.record, config, outcome=Outcome.QUARANTINED,
                       reason=Reason.INFERENCE_FAILED, timings=timings)
    timings["postprocess"] = time.perf_counter() - start
    reading, category = _read(study, nodules, loaded.volume, timings, loader=loader)
    reason = Reason.PRIOR_NOT_FOUND if reading.prior_missing else None
    return _result(study.record, config, outcome=Outcome.SCREENED, category=category,
                   nodules=nodules, timings=timings, reading=reading, reason=reason)


def _read(study: StudyWork, nodules: tuple[Nodule, ...], volume: LoadedVolume,
          timings: dict[str, float], *, lungs_covered: bool = True,
          loader: Callable[[object], LoadedVolume] = load_study,
          ) -> tuple[RoundReading, Category]:
    """The screen read against the person's prior (jobs.rounds), timed as "compare": the
    lungs' box on a coarse grid, where the prior's pixels are at hand its volume loaded and
    registered, the match, the rules. No second model pass."""
    start = time.perf_counter()
    box = lung_box(volume.hu, volume.spacing) if lungs_covered else None
    pixels = None
    if study.prior is not None and study.prior_locator is not None and lungs_covered:
        locator = study.prior_locator

        def load_prior() -> tuple[npt.NDArray[np.int16], tuple[float, float, float]]:
            prior = loader(locator)
            return prior.hu, prior.spacing

        pixels = register_prior(study.prior, volume.hu, volume.spacing, load_prior)
    out = read_round(nodules, volume.spacing, box, study.prior,
                     exam_day=study.record.exam_day,
                     screening_round=study.record.screening_round, lungs_covered=lungs_covered,
                     prior_mm=None if pixels is None else pixels.centres,
                     beside=None if pixels is None else pixels.beside.pair)
    timings["compare"] = time.perf_counter() - start
    return out


def run_shard(
    work: ShardWork,
    backend_config: BackendConfig,
    policy: WorkerPolicy | None = None,
    *,
    backends: WorkerBackends,
    loader: Callable[[object], LoadedVolume] = load_study,
) -> ShardOutcome:
    """Screen every study of `work`; one result per study, in the shard's order. The
    outcome names no node: the executor that ran it adds its placement.

    Raises RetryableError when the backend stays unavailable past the policy's window.
    """
    policy = policy or WorkerPolicy()
    start = time.perf_counter()
    results: list[StudyResult] = []
    todo = [s for s in work.studies if s.planned is None]
    attempts = max(1, policy.poison_attempts)

    def load(study: StudyWork) -> _Loaded:
        return _load_with_retries(study.locator, loader, attempts)

    by_pid: dict[str, StudyResult] = {}
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
    try:
        pending: Future[_Loaded] | None = None
        for i, study in enumerate(todo):
            if policy.prefetch:
                loaded = pending.result() if pending is not None else load(study)
                pending = pool.submit(load, todo[i + 1]) if i + 1 < len(todo) else None
            else:
                loaded = load(study)
            if loaded.error is not None:
                raise loaded.error
            by_pid[study.record.study_pid] = _screen(study, loaded, backend_config, policy,
                                                     backends, loader)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for study in work.studies:
        if study.planned is not None:
            results.append(planned_result(study.record, study.planned, backend_config))
        else:
            results.append(by_pid[study.record.study_pid])
    return ShardOutcome(
        shard_id=work.shard_id,
        results=tuple(results),
        pid=os.getpid(),
        wall_s=time.perf_counter() - start,
        backend_requests=backends.drain_requests(),
    )
