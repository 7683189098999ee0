"""Store-derived campaign metrics, computed on each scrape (prometheus custom collector).

`CampaignCollector` asks a progress source (normally the results store) for every watched
campaign's committed counts and joins them with the driver's live state (shards running,
studies in flight, recent throughput). Counters here are exact across driver restarts
because the store, not process memory, holds them.

The scrape is unauthenticated, so it carries ops figures only, never a small clinical count
(DESIGN.md, Privacy): studies per region by outcome `screened` or `quarantined` (throughput
and error rate, both exported at zero so rate() works from the first scrape); opt-outs are
folded out of the ops counts altogether (not a study ops runs: neither in `studies` nor in
`studies_planned`, so no series moves with one); quarantine reasons per campaign, never per
region, and only those counted at least `kernel.defaults.MIN_CELL` times (`opted_out`
never). No Lung-RADS family: the clinical mix is the analysts' released tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from kernel.defaults import MIN_CELL
from kernel.progress import CampaignProgress, RegionProgress
from kernel.reasons import Reason
from kernel.records import Outcome
from monitoring.live import LiveState

__all__ = ["CampaignCollector", "ProgressSource", "ops_planned", "quarantine_reasons"]

log = logging.getLogger("monitoring")

# Returns the progress of the campaigns to export (each call reads the store afresh).
ProgressSource = Callable[[], Iterable[CampaignProgress]]

# The outcomes ops see; any other (opted_out, or one this build does not know) is folded out.
_OUTCOMES = (Outcome.SCREENED.value, Outcome.QUARANTINED.value)
# Never exported, whatever its count: a person's choice, not a fault.
_PRIVATE_REASONS = frozenset({Reason.OPTED_OUT.value})


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
            "Studies with a committed result, by outcome screened or quarantined (from the "
            "results store; opt-outs are not counted).",
            labels=["campaign", "region", "outcome"],
        )
        quarantines = CounterMetricFamily(
            "lungscreen_quarantines",
            f"Studies quarantined, by reason code, per campaign (from the results store); "
            f"a reason counted fewer than {MIN_CELL} times is not exported.",
            labels=["campaign", "reason"],
        )
        planned = GaugeMetricFamily(
            "lungscreen_studies_planned",
            "Studies planned for the campaign (the ledger's manifest, opt-outs not counted).",
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
            self._add_campaign(c, studies, planned, shards)
            for reason, count in quarantine_reasons(c):
                quarantines.add_metric([c.campaign, reason], count)
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
        yield from (studies, quarantines, planned, shards, in_flight, throughput)
        yield from (eta, remaining, deadline, required)

    def _add_campaign(
        self,
        c: CampaignProgress,
        studies: CounterMetricFamily,
        planned: GaugeMetricFamily,
        shards: GaugeMetricFamily,
    ) -> None:
        running = self._live.running_shards(c.campaign) if self._live is not None else {}
        for r in c.regions:
            for outcome in _OUTCOMES:
                studies.add_metric([c.campaign, r.region, outcome], r.outcomes.get(outcome, 0))
            planned.add_metric([c.campaign, r.region], ops_planned(r))
            run = min(running.get(r.region, 0), max(r.shards_planned - r.shards_done, 0))
            pending = max(r.shards_planned - r.shards_done - run, 0)
            shards.add_metric([c.campaign, r.region, "pending"], pending)
            shards.add_metric([c.campaign, r.region, "running"], run)
            shards.add_metric([c.campaign, r.region, "done"], r.shards_done)


def ops_planned(region: RegionProgress) -> int:
    """The region's planned studies less those folded out of the ops counts (opt-outs, any
    outcome ops do not see), so that neither `studies` nor `studies_planned` moves with one;
    planned minus done (the remaining work) is unchanged."""
    folded = sum(n for o, n in region.outcomes.items() if o not in _OUTCOMES)
    return max(region.studies_planned - folded, 0)


def quarantine_reasons(campaign: CampaignProgress) -> list[tuple[str, int]]:
    """(reason, count) over the campaign's regions, in reason order: only the reasons counted
    at least MIN_CELL times, `opted_out` never (the deployment floor for the open scrape)."""
    totals: dict[str, int] = {}
    for r in campaign.regions:
        for reason, n in r.quarantines.items():
            totals[reason] = totals.get(reason, 0) + n
    return [(reason, n) for reason, n in sorted(totals.items())
            if reason not in _PRIVATE_REASONS and n >= MIN_CELL]
