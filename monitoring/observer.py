"""The campaign driver's Prometheus observer: turns driver events into metrics.

The driver calls these hooks from its own thread; each costs a few microseconds (label
children are cached). Studies are never labels: a result's region, outcome and timings are
read, its pseudonyms are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time

from jobs.errors import BadInput, PermanentError, RetryableError
from jobs.records import StudyResult
from monitoring.live import LiveState
from monitoring.metrics import Metrics

__all__ = ["PrometheusObserver", "deadline_timestamp", "error_kind"]

_STUDY_STAGES = ("load", "infer", "postprocess")


def error_kind(error: BaseException | str) -> str:
    """A bounded label for a shard failure: retryable, permanent, bad_input, timeout, other."""
    if isinstance(error, str):
        return error if error in ("retryable", "permanent", "bad_input", "timeout") else "other"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, BadInput):
        return "bad_input"
    if isinstance(error, RetryableError):
        return "retryable"
    if isinstance(error, PermanentError):
        return "permanent"
    return "other"


def deadline_timestamp(deadline: date | datetime | float | None) -> float | None:
    """Unix seconds of a spec deadline; a bare date means the end of that day, UTC."""
    if deadline is None:
        return None
    if isinstance(deadline, datetime):
        aware = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
        return aware.timestamp()
    if isinstance(deadline, date):
        return datetime.combine(deadline, time.max, tzinfo=UTC).timestamp()
    return float(deadline)


class PrometheusObserver:
    """Feeds `metrics` (process histograms and counters) and `live` (running shards, pace).

    One observer serves any number of campaigns; every hook names its campaign.
    """

    def __init__(self, metrics: Metrics, live: LiveState) -> None:
        self.metrics = metrics
        self.live = live

    def on_campaign_started(
        self,
        campaign: str,
        *,
        regions: tuple[str, ...] = (),
        model: str = "",
        model_version: str = "",
        deadline: date | datetime | float | None = None,
        triton_urls: tuple[str, ...] = (),
    ) -> None:
        """Declare the campaign's label values at zero and record its model and deadline."""
        self.metrics.init_campaign(campaign, tuple(regions))
        if model:
            self.metrics.set_model(campaign, model, model_version)
        self.live.set_deadline(campaign, deadline_timestamp(deadline))
        for url in triton_urls:
            self.metrics.init_server(url)

    def on_shard_started(self, campaign: str, region: str, shard_id: str, studies: int) -> None:
        self.live.shard_started(campaign, region, shard_id, studies)

    def on_study_done(
        self,
        campaign: str,
        result: StudyResult,
        timings: Mapping[str, float] | None = None,
        shard_id: str | None = None,
    ) -> None:
        """A study finished its stages. `timings` defaults to the result's own; its "total"
        (end-to-end seconds), when absent, is the sum of the stages."""
        stages = timings if timings is not None else result.timings
        total = 0.0
        for stage in _STUDY_STAGES:
            seconds = stages.get(stage)
            if seconds is not None and seconds >= 0:
                self.metrics.stage_duration.labels(campaign, stage).observe(seconds)
                total += seconds
        end_to_end = stages.get("total", total)
        if end_to_end > 0:
            self.metrics.study_duration.labels(campaign, result.region).observe(end_to_end)
        self.metrics.studies_processed.labels(campaign, result.region).inc()
        self.live.study_done(campaign, shard_id)

    def on_shard_committed(
        self, campaign: str, region: str, shard_id: str, commit_seconds: float
    ) -> None:
        self.metrics.stage_duration.labels(campaign, "commit").observe(max(commit_seconds, 0.0))
        self.live.shard_finished(campaign, shard_id)

    def on_shard_failed(
        self, campaign: str, region: str, shard_id: str, error: BaseException | str
    ) -> None:
        """The shard's attempt failed (it may be retried: the driver calls started again)."""
        self.metrics.shard_failures.labels(campaign, region, error_kind(error)).inc()
        self.live.shard_finished(campaign, shard_id)

    def on_triton_request(self, server: str, outcome: str, seconds: float) -> None:
        """The Triton client's per-request hook."""
        self.metrics.observe_triton(server, outcome, seconds)
