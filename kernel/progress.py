"""A campaign's progress as the results store knows it: the one shape monitoring reads.

The store is the only durable truth about a campaign, so everything that must stay right
across a driver restart (studies by outcome, quarantines by reason, Lung-RADS counts, shards
done) is read from it into these records, on each scrape or refresh. Nothing here holds a
study, patient or pseudonym: only campaign, region, outcome, reason and category counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["CampaignProgress", "RegionProgress"]


def _frozen(counts: Mapping[str, int] | None) -> Mapping[str, int]:
    return MappingProxyType({str(k): int(v) for k, v in (counts or {}).items()})


@dataclass(frozen=True)
class RegionProgress:
    """Committed counts for one region of one campaign.

    `outcomes` maps an outcome (screened, quarantined, opted_out) to its study count,
    `quarantines` a reason code to its count, `categories` a Lung-RADS category to its count.
    """

    region: str
    studies_planned: int
    shards_planned: int
    shards_done: int
    outcomes: Mapping[str, int] = field(default_factory=dict)
    quarantines: Mapping[str, int] = field(default_factory=dict)
    categories: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("outcomes", "quarantines", "categories"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def studies_done(self) -> int:
        """Studies with a committed result, whatever the outcome."""
        return sum(self.outcomes.values())

    @property
    def studies_remaining(self) -> int:
        return max(self.studies_planned - self.studies_done, 0)


@dataclass(frozen=True)
class CampaignProgress:
    """One campaign: its regions' progress plus its life-cycle facts.

    Times are Unix seconds. `deadline` comes from the spec (None when it sets none);
    `started_at` / `updated_at` are the first and latest commit times when the store keeps
    them, which lets a reader that was not watching estimate an average throughput.
    """

    campaign: str
    regions: tuple[RegionProgress, ...]
    state: str = "unknown"
    deadline: float | None = None
    started_at: float | None = None
    updated_at: float | None = None

    def __post_init__(self) -> None:
        ordered: Iterable[RegionProgress] = sorted(self.regions, key=lambda r: r.region)
        object.__setattr__(self, "regions", tuple(ordered))

    @property
    def studies_planned(self) -> int:
        return sum(r.studies_planned for r in self.regions)

    @property
    def studies_done(self) -> int:
        return sum(r.studies_done for r in self.regions)

    @property
    def studies_remaining(self) -> int:
        return sum(r.studies_remaining for r in self.regions)

    @property
    def shards_planned(self) -> int:
        return sum(r.shards_planned for r in self.regions)

    @property
    def shards_done(self) -> int:
        return sum(r.shards_done for r in self.regions)

    def average_throughput(self) -> float | None:
        """Studies per second between the first and the latest commit, if the store says."""
        if self.started_at is None or self.updated_at is None:
            return None
        span = self.updated_at - self.started_at
        if span <= 0 or self.studies_done == 0:
            return None
        return self.studies_done / span
