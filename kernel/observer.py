"""Hooks the campaign driver calls as work progresses: metrics, progress bars, logs.

Implement `CampaignObserver` (subclass `NullObserver` to override only what you need) and
pass it to the driver. Callbacks run on the driver's thread, must be quick, and must not
raise (the driver logs and ignores an observer's exception). They receive PHI-free records
only: shard ids, region names, StudyResult (pseudonyms, never locators).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from kernel.records import StudyResult

__all__ = ["CampaignObserver", "CompositeObserver", "NullObserver", "ShardInfo"]

log = logging.getLogger("jobs")


class ShardInfo(Protocol):
    """What observers learn about a shard."""

    @property
    def shard_id(self) -> str: ...

    @property
    def region(self) -> str: ...


class CampaignObserver(Protocol):
    """Called by the driver; see the module doc for the rules."""

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        """Before running: studies per region in the plan, and those already committed."""

    def on_shard_started(self, shard: ShardInfo, attempt: int) -> None:
        """A shard was submitted (attempt 1, 2, ...)."""

    def on_shard_retry(self, shard: ShardInfo, kind: str, delay_s: float) -> None:
        """A shard failed and will be resubmitted after `delay_s`; kind is `backend_unavailable`,
        `worker_lost` or `deadline`."""

    def on_study_done(self, result: StudyResult) -> None:
        """One study finished (its shard is about to commit); timings in result.timings."""

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        """A shard's results and ledger mark are durable."""

    def on_quarantine(self, result: StudyResult) -> None:
        """A study was quarantined or opted out (also reported through on_study_done)."""

    def on_finished(self, campaign_id: str, state: str) -> None:
        """The driver stopped: state is `completed`, `cancelled` or `failed`."""

    def on_triton_request(self, server: str, outcome: str, seconds: float) -> None:
        """One inference attempt a worker's Triton client made (outcome: ok, retryable,
        bad_input, permanent), delivered with the worker's next shard outcome."""


class NullObserver:
    """An observer that does nothing; subclass it and override what you need."""

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        return None

    def on_shard_started(self, shard: ShardInfo, attempt: int) -> None:
        return None

    def on_shard_retry(self, shard: ShardInfo, kind: str, delay_s: float) -> None:
        return None

    def on_study_done(self, result: StudyResult) -> None:
        return None

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        return None

    def on_quarantine(self, result: StudyResult) -> None:
        return None

    def on_finished(self, campaign_id: str, state: str) -> None:
        return None

    def on_triton_request(self, server: str, outcome: str, seconds: float) -> None:
        return None


class CompositeObserver(NullObserver):
    """Fans every callback out to several observers; one failing never stops the others."""

    def __init__(self, observers: Iterable[CampaignObserver]) -> None:
        self._observers = tuple(observers)

    def _each(self, method: str, *args: object) -> None:
        for obs in self._observers:
            try:
                getattr(obs, method)(*args)
            except Exception:
                log.exception("observer %s.%s failed", type(obs).__name__, method)

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        self._each("on_plan", campaign_id, total_by_region, done_by_region)

    def on_shard_started(self, shard: ShardInfo, attempt: int) -> None:
        self._each("on_shard_started", shard, attempt)

    def on_shard_retry(self, shard: ShardInfo, kind: str, delay_s: float) -> None:
        self._each("on_shard_retry", shard, kind, delay_s)

    def on_study_done(self, result: StudyResult) -> None:
        self._each("on_study_done", result)

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        self._each("on_shard_committed", shard, results, commit_s)

    def on_quarantine(self, result: StudyResult) -> None:
        self._each("on_quarantine", result)

    def on_finished(self, campaign_id: str, state: str) -> None:
        self._each("on_finished", campaign_id, state)

    def on_triton_request(self, server: str, outcome: str, seconds: float) -> None:
        self._each("on_triton_request", server, outcome, seconds)
