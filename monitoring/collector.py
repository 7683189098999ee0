"""Store-derived campaign metrics, computed on each scrape (prometheus custom collector).

`CampaignCollector` asks a progress source (normally the results store) for every watched
campaign's committed counts and joins them with the driver's live state (shards running,
studies in flight, recent throughput). Counters here are exact across driver restarts
because the store, not process memory, holds them. Known label values (every outcome,
quarantine reason and Lung-RADS category of each region) are exported at zero, so rate()
and increase() work from the first scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from kernel.lungrads import Category
from kernel.progress import CampaignProgress
from kernel.reasons import Reason
from kernel.records import Outcome
from monitoring.live import LiveState

__all__ = ["CampaignCollector", "ProgressSource"]

log = logging.getLogger("monitoring")

# Returns the progress of the campaigns to export (each call reads the store afresh).
ProgressSource = Callable[[], Iterable[CampaignProgress]]

_OUTCOMES = tuple(o.value for o in Outcome)
_REASONS = tuple(r.value for r in Reason)
_CATEGORIES = tuple(c.value for c in Category)


class CampaignCollector(Collector):
    """Yields the store-derived metric families; register it on the exporter's registry.

    `source` returns the campaigns to export; `live` is the driver's LiveState (None in a
    process that runs no campaign); `clock` gives Unix seconds (for the required rate).
    """

    def __init__(
        self,
        source: ProgressSource,
        live: LiveState | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._live = live
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Registration must not touch the store; names are checked by the tests instead.
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            campaigns = list(self._source())
        except Exception:  # a scrape must not crash on a store hiccup; say so and carry on
            log.warning("progress source failed during a scrape", exc_info=True)
            campaigns = []
        yield from self._families(campaigns)

    def _families(self, campaigns: list[CampaignProgress]) -> Iterator[Metric]:
        studies = CounterMetricFamily(
            "lungscreen_studies",
            "Studies with a committed result, by outcome (from the results store).",
            labels=["campaign", "region", "outcome"],
        )
        quarantines = CounterMetricFamily(
            "lungscreen_quarantines",
            "Studies quarantined, by reason code (from the results store).",
            labels=["campaign", "region", "reason"],
        )
        lungrads = CounterMetricFamily(
            "lungscreen_lungrads",
            "Screened studies by Lung-RADS v2022 category (from the results store).",
            labels=["campaign", "region", "category"],
        )
        planned = GaugeMetricFamily(
            "lungscreen_studies_planned",
            "Studies planned for the campaign (the ledger's manifest).",
            labels=["campaign", "region"],
        )
        shards = GaugeMetricFamily(
            "lungscreen_shards",
            "Shards by state: pending (not started), running (held by a worker), done.",
            labels=["campaign", "region", "state"],
        )
        in_flight = GaugeMetricFamily(
            "lungscreen_studies_in_flight",
            "Studies of running shards that have not finished their stages yet.",
            labels=["campaign"],
        )
        throughput = GaugeMetricFamily(
            "lungscreen_throughput_studies_per_second",
            "Studies finished per second over the driver's recent window.",
            labels=["campaign"],
        )
        eta = GaugeMetricFamily(
            "lungscreen_campaign_eta_seconds",
            "Estimated seconds to completion at the current throughput.",
            labels=["campaign"],
        )
        remaining = GaugeMetricFamily(
            "lungscreen_campaign_studies_remaining",
            "Planned studies without a committed result yet.",
            labels=["campaign"],
        )
        deadline = GaugeMetricFamily(
            "lungscreen_campaign_deadline_timestamp_seconds",
            "The campaign's deadline from its spec (absent when it sets none).",
            labels=["campaign"],
        )
        required = GaugeMetricFamily(
            "lungscreen_campaign_required_throughput_studies_per_second",
            "Studies per second needed from now to finish by the deadline.",
            labels=["campaign"],
        )
        for c in campaigns:
            self._add_campaign(c, studies, quarantines, lungrads, planned, shards)
            rate = self._live.throughput(c.campaign) if self._live is not None else 0.0
            flight = self._live.in_flight(c.campaign) if self._live is not None else 0
            in_flight.add_metric([c.campaign], flight)
            throughput.add_metric([c.campaign], rate)
            remaining.add_metric([c.campaign], c.studies_remaining)
            if c.studies_remaining == 0:
                eta.add_metric([c.campaign], 0.0)
            elif rate > 0:
                eta.add_metric([c.campaign], c.studies_remaining / rate)
            due = c.deadline
            if due is None and self._live is not None:
                due = self._live.deadline(c.campaign)
            if due is not None:
                deadline.add_metric([c.campaign], due)
                left_s = max(due - self._clock(), 1.0)
                required.add_metric([c.campaign], c.studies_remaining / left_s)
        yield from (studies, quarantines, lungrads, planned, shards, in_flight, throughput)
        yield from (eta, remaining, deadline, required)

    def _add_campaign(
        self,
        c: CampaignProgress,
        studies: CounterMetricFamily,
        quarantines: CounterMetricFamily,
        lungrads: CounterMetricFamily,
        planned: GaugeMetricFamily,
        shards: GaugeMetricFamily,
    ) -> None:
        running = self._live.running_shards(c.campaign) if self._live is not None else {}
        for r in c.regions:
            for outcome in _known(_OUTCOMES, r.outcomes):
                studies.add_metric([c.campaign, r.region, outcome], r.outcomes.get(outcome, 0))
            for reason in _known(_REASONS, r.quarantines):
                quarantines.add_metric(
                    [c.campaign, r.region, reason], r.quarantines.get(reason, 0)
                )
            for category in _known(_CATEGORIES, r.categories):
                lungrads.add_metric(
                    [c.campaign, r.region, category], r.categories.get(category, 0)
                )
            planned.add_metric([c.campaign, r.region], r.studies_planned)
            run = min(running.get(r.region, 0), max(r.shards_planned - r.shards_done, 0))
            pending = max(r.shards_planned - r.shards_done - run, 0)
            shards.add_metric([c.campaign, r.region, "pending"], pending)
            shards.add_metric([c.campaign, r.region, "running"], run)
            shards.add_metric([c.campaign, r.region, "done"], r.shards_done)


def _known(known: tuple[str, ...], seen: Iterable[str]) -> list[str]:
    """The known label values, plus any the store reports that this build does not know."""
    extra = sorted(set(seen) - set(known))
    return [*known, *extra]
