"""Read a campaign's progress from the results store (the `ProgressSource` for metrics and
the data of `lungscreen status`): the adapter between the store and monitoring, outside the
store package so the store imports nothing of monitoring.

Three cheap queries per campaign: the ledger's per-region shard counts
(`ResultsStore.progress`), one GROUP BY over results (`outcome_counts`), and the first and
latest shard commit times (`commit_span`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from jobs.store import ResultsStore
from kernel.progress import CampaignProgress, RegionProgress
from monitoring.collector import ProgressSource

__all__ = ["campaign_progress", "store_source"]


def campaign_progress(
    store: ResultsStore, campaign_id: str, deadline: float | None = None
) -> CampaignProgress:
    """The campaign's committed counts per region. BadInput (from the store) if unknown."""
    camp = store.campaign(campaign_id)
    ledger = store.progress(campaign_id)
    outcomes: dict[str, dict[str, int]] = defaultdict(dict)
    reasons: dict[str, dict[str, int]] = defaultdict(dict)
    categories: dict[str, dict[str, int]] = defaultdict(dict)
    for cell in store.outcome_counts(campaign_id):
        _add(outcomes[cell.region], cell.outcome, cell.count)
        if cell.reason:
            _add(reasons[cell.region], cell.reason, cell.count)
        if cell.category:
            _add(categories[cell.region], cell.category, cell.count)
    regions = []
    for name in sorted(set(ledger) | set(outcomes)):
        led = ledger.get(name)
        regions.append(RegionProgress(
            region=name,
            # studies settled before the run (opted out, quarantined at selection) have
            # results but no shard: they are part of the plan all the same
            studies_planned=(led.studies_planned + led.studies_settled_early) if led else 0,
            shards_planned=led.shards_planned if led else 0,
            shards_done=led.shards_done if led else 0,
            outcomes=outcomes.get(name, {}),
            quarantines=reasons.get(name, {}),
            categories=categories.get(name, {}),
        ))
    first, last = store.commit_span(campaign_id)
    return CampaignProgress(
        campaign=campaign_id,
        regions=tuple(regions),
        state=camp.state.value if camp is not None else "unknown",
        deadline=deadline,
        started_at=_ts(first),
        updated_at=_ts(last),
    )


def store_source(
    store: ResultsStore,
    campaign_ids: Callable[[], Iterable[str]] | Iterable[str] | None = None,
    deadlines: Mapping[str, float] | None = None,
) -> ProgressSource:
    """A ProgressSource over `store`: the given campaigns (a list, or a callable returning
    the ids to watch now), or every campaign in the store when None."""
    due = dict(deadlines or {})
    fixed = None if campaign_ids is None or callable(campaign_ids) else tuple(campaign_ids)

    def ids() -> Iterable[str]:
        if fixed is not None:
            return fixed
        if callable(campaign_ids):
            return tuple(campaign_ids())
        return tuple(c.id for c in store.campaigns())

    def source() -> list[CampaignProgress]:
        return [campaign_progress(store, cid, due.get(cid)) for cid in ids()]

    return source


def _add(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def _ts(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None
