"""The campaign driver's Prometheus observer: turns driver events into metrics.

Implements `kernel.observer.CampaignObserver`. The driver calls these hooks from its own
thread; each costs microseconds. Studies are never labels: a result's region and timings
are read, its pseudonyms are not. Outcome and quarantine counts are not counted here at
all: the collector reads them from the store (exact across restarts), and Lung-RADS
categories are not ops metrics anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from prometheus_client import Counter, Histogram

from kernel.observer import NullObserver, ShardInfo
from kernel.records import StudyResult
from monitoring.live import LiveState
from monitoring.metrics import SHARD_ERRORS, Metrics

__all__ = ["PrometheusObserver", "deadline_timestamp"]

_STUDY_STAGES = ("load", "infer", "postprocess")


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


class PrometheusObserver(NullObserver):
    """The driver's `CampaignObserver` for one campaign: feeds `metrics` (process histograms
    and counters) and `live` (running shards, studies in flight, pace).

    Built by whoever wires the campaign, with the facts the driver does not pass: the
    model, the spec's deadline, the Triton URLs (their label children start at zero).
    """

    def __init__(
        self,
        metrics: Metrics,
        live: LiveState,
        campaign_id: str,
        *,
        model: str = "",
        model_version: str = "",
        deadline: date | datetime | float | None = None,
        triton_urls: tuple[str, ...] = (),
    ) -> None:
        self.metrics = metrics
        self.live = live
        self.campaign = campaign_id
        # label children cached: these hooks run once per study
        self._stage_children: dict[str, Histogram] = {}
        self._region_children: dict[str, tuple[Histogram, Counter]] = {}
        metrics.init_campaign(campaign_id)
        if model:
            metrics.set_model(campaign_id, model, model_version)
        live.set_deadline(campaign_id, deadline_timestamp(deadline))
        for url in triton_urls:
            metrics.init_server(url)

    def on_plan(self, campaign_id: str, total_by_region: dict[str, int],
                done_by_region: dict[str, int]) -> None:
        self.metrics.init_campaign(self.campaign, tuple(sorted(total_by_region)))

    def on_shard_started(self, shard: ShardInfo, attempt: int) -> None:
        studies = getattr(shard, "studies", ())
        todo = sum(1 for s in studies if getattr(s, "planned", None) is None)
        self.live.shard_started(self.campaign, shard.region, shard.shard_id, todo)

    def on_shard_retry(self, shard: ShardInfo, kind: str, delay_s: float) -> None:
        """The attempt failed; kind is the driver's bounded word (worker_lost, deadline...)."""
        self.metrics.shard_failures.labels(self.campaign, shard.region, _retry_kind(kind)).inc()
        self.live.shard_finished(self.campaign, shard.shard_id)

    def on_study_done(self, result: StudyResult) -> None:
        """Stage timings from result.timings; the study's end-to-end time is their sum
        (or timings["total"] when the worker measured it). Planned results have none."""
        stages = result.timings
        total = 0.0
        for stage in _STUDY_STAGES:
            seconds = stages.get(stage)
            if seconds is not None and seconds >= 0:
                self._stage(stage).observe(seconds)
                total += seconds
        study, processed = self._region(result.region)
        end_to_end = stages.get("total", total)
        if end_to_end > 0:
            study.observe(end_to_end)
        processed.inc()
        self.live.study_done(self.campaign, None)

    def _stage(self, stage: str) -> Histogram:
        child = self._stage_children.get(stage)
        if child is None:
            child = self._stage_children[stage] = self.metrics.stage_duration.labels(
                self.campaign, stage)
        return child

    def _region(self, region: str) -> tuple[Histogram, Counter]:
        children = self._region_children.get(region)
        if children is None:
            children = self._region_children[region] = (
                self.metrics.study_duration.labels(self.campaign, region),
                self.metrics.studies_processed.labels(self.campaign, region),
            )
        return children

    def on_shard_committed(self, shard: ShardInfo, results: Sequence[StudyResult],
                           commit_s: float) -> None:
        self._stage("commit").observe(max(commit_s, 0.0))
        # a shard split into single-study parts ran as "<id>/<i>": those are done too
        self.live.shard_finished(self.campaign, shard.shard_id, with_parts=True)

    def on_finished(self, campaign_id: str, state: str) -> None:
        self.live.campaign_stopped(self.campaign)

    def on_triton_request(self, server: str, outcome: str, seconds: float) -> None:
        """The Triton client's per-attempt hook (`TritonBackend(on_request=...)`)."""
        self.metrics.observe_triton(server, outcome, seconds)


def _retry_kind(kind: str) -> str:
    return kind if kind in SHARD_ERRORS else "other"
