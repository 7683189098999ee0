"""The cells a measurement counts: the geography tree and the demographic x outcome cells
measured whole at every node of it.

The demographic and outcome codes are fixed lists (every age band, sex code, Lung-RADS
category, quarantine reason), never read from the data, so which cells exist says nothing
about anyone. The geography is the campaign's declared one (its regions, each with the
sites its spec declares and `other`), never read from the results; site codes are
facilities, public, and each increment records the tree it was measured over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.ingest.privacy.age import AGE_BANDS, UNKNOWN
from jobs.ingest.privacy.minimise import SEX_CODES
from jobs.report.aggregate import CATEGORY_MEASURES, OPTED_OUT, reason_measure
from kernel.lungrads import POSITIVE_CATEGORIES
from kernel.reasons import Reason
from kernel.records import Outcome

__all__ = ["CAMPAIGN", "CELL_DIMENSIONS", "LEVELS", "MISSING_CATEGORY", "OUTCOMES",
           "POSITIVE_OUTCOMES", "REGION", "SITE", "UNSPECIFIED_REASON", "Domain", "GeoNode",
           "outcome_of"]

CAMPAIGN, REGION, SITE = "campaign", "region", "site"
LEVELS = (CAMPAIGN, REGION, SITE)
"""The geography tree, top down; a person counts once at each level."""
CELL_DIMENSIONS = ("region", "site", "age_band", "sex")
"""A base cell's key: the dimensions the release measures, and so the ones its tables group
by (the report's kernel.records.DIMENSIONS may be more)."""

MISSING_CATEGORY = "category.missing"  # screened, no category (a broken model): still counted
UNSPECIFIED_REASON = reason_measure("unspecified")
OUTCOMES: tuple[str, ...] = (
    *CATEGORY_MEASURES, MISSING_CATEGORY,
    *(reason_measure(r.value) for r in Reason), UNSPECIFIED_REASON, OPTED_OUT)
"""Every outcome a result can have, as the report's measure names."""
POSITIVE_OUTCOMES = frozenset(f"category.{c.value}" for c in POSITIVE_CATEGORIES)


def outcome_of(outcome: str, category: str | None, reason: str | None) -> str:
    """The outcome cell of a stored result (its outcome, category and reason codes)."""
    if outcome == Outcome.OPTED_OUT.value:
        return OPTED_OUT
    if outcome == Outcome.QUARANTINED.value:
        return reason_measure(reason) if reason else UNSPECIFIED_REASON
    return f"category.{category}" if category else MISSING_CATEGORY


@dataclass(frozen=True)
class GeoNode:
    """A node of the geography tree: the campaign, a region, or a site of a region."""

    level: str
    region: str
    site: str
    parent: int  # index of the parent node; -1 for the campaign


@dataclass(frozen=True)
class Domain:
    """The measured cells: geography nodes x age bands x sexes x outcomes."""

    regions: tuple[tuple[str, tuple[str, ...]], ...]
    """Each region with its sites, sorted."""
    age_bands: tuple[str, ...] = AGE_BANDS
    sexes: tuple[str, ...] = SEX_CODES
    outcomes: tuple[str, ...] = OUTCOMES

    @classmethod
    def over(cls, sites: Mapping[str, set[str] | frozenset[str] | list[str]]) -> Domain:
        """The domain over `sites` (region -> its site codes)."""
        return cls(tuple((r, tuple(sorted(set(s)))) for r, s in sorted(sites.items())))

    @property
    def nodes(self) -> tuple[GeoNode, ...]:
        """The tree, parents before children: campaign, regions, then every region's sites."""
        out = [GeoNode(CAMPAIGN, "", "", -1)]
        out += [GeoNode(REGION, region, "", 0) for region, _ in self.regions]
        for i, (region, sites) in enumerate(self.regions):
            out += [GeoNode(SITE, region, site, 1 + i) for site in sites]
        return tuple(out)

    @property
    def demographic_cells(self) -> int:
        """Cells per geography node."""
        return len(self.age_bands) * len(self.sexes) * len(self.outcomes)

    def demographic(self, index: int) -> tuple[str, str, str]:
        """(age band, sex, outcome) of a cell index within a node."""
        rest, o = divmod(index, len(self.outcomes))
        a, s = divmod(rest, len(self.sexes))
        return self.age_bands[a], self.sexes[s], self.outcomes[o]

    def cell_index(self, age_band: str, sex: str, outcome: str) -> int:
        """The index of a cell within a node. Codes outside the domain read as unknown
        (ValueError for an unknown outcome)."""
        a = self.age_bands.index(age_band if age_band in self.age_bands else UNKNOWN)
        s = self.sexes.index(sex if sex in self.sexes else UNKNOWN)
        return (a * len(self.sexes) + s) * len(self.outcomes) + self.outcomes.index(outcome)

    def in_domain(self, age_band: str, sex: str) -> bool:
        """Whether both codes are in the domain (otherwise they count as unknown)."""
        return age_band in self.age_bands and sex in self.sexes

    def to_json(self) -> dict[str, Any]:
        """What the measurement record keeps (codes only)."""
        return {"regions": {r: list(s) for r, s in self.regions},
                "age_bands": list(self.age_bands), "sexes": list(self.sexes),
                "outcomes": list(self.outcomes)}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Domain:
        return cls(tuple((r, tuple(s)) for r, s in sorted(doc["regions"].items())),
                   tuple(doc["age_bands"]), tuple(doc["sexes"]), tuple(doc["outcomes"]))
